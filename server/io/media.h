/* Media workers as the control thread sees them (docs/architecture.md, "Media").
 *
 * tdm_media_start makes the process-wide DTLS identity and starts media.workers threads,
 * each with its own GMainContext, one UDP socket per media address on port
 * media.port_base + its index, an ICE-lite table and the rooms pinned to it.
 *
 * The control thread and the workers talk only by messages that carry ids (room id and
 * participant id strings) and copied text, never pointers to each other's state: a command
 * goes to a worker's context, a reply comes back to the control thread's default context,
 * each as an idle source at G_PRIORITY_DEFAULT attached to the other side's GMainContext
 * (what g_main_context_invoke_full does, without its shortcut of running the function on
 * the calling thread when that thread could acquire the context: during start-up and
 * shutdown that would run worker code on the control thread or the reverse). */
#ifndef TANDEM_IO_MEDIA_H
#define TANDEM_IO_MEDIA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tandem/room.h"

struct tdm_app;
struct tdm_media;

/* Control thread -> worker. */
enum tdm_media_cmd_kind {
    TDM_MEDIA_CMD_JOIN,       /* a participant joined the room */
    TDM_MEDIA_CMD_LEAVE,      /* it left: release its peers, producers and consumers */
    TDM_MEDIA_CMD_PUB_OFFER,  /* the page's offer on its "pub" connection: sdp, ref */
    TDM_MEDIA_CMD_SUB_ANSWER, /* the page's answer on its "sub" connection: sdp, rev */
    TDM_MEDIA_CMD_BLOCK,      /* moderation: forward none of its audio / video */
    TDM_MEDIA_CMD_RECEIVE     /* the person wants others' video or not (data saver) */
};

struct tdm_media_cmd {
    enum tdm_media_cmd_kind kind;
    char room[TDM_ROOM_ID_MAX + 1];
    char pid[TDM_PARTICIPANT_ID_LEN + 1];
    int64_t rev;
    char *ref; /* the message's "id" as JSON text (owned), or NULL */
    char *sdp; /* owned, NUL-terminated */
    size_t sdp_len;
    bool block_audio, block_video;
    bool receive_video; /* TDM_MEDIA_CMD_RECEIVE */
};

/* Worker -> control thread: what to send to participant pid of room. */
enum tdm_media_reply_kind {
    TDM_MEDIA_REPLY_ANSWER, /* {"type":"answer","pc":"pub","sdp","ref"} */
    TDM_MEDIA_REPLY_OFFER,  /* {"type":"offer","pc":"sub","sdp","rev"} */
    TDM_MEDIA_REPLY_ERROR   /* {"type":"error","code",...,"ref"?} */
};

struct tdm_media_reply {
    enum tdm_media_reply_kind kind;
    char room[TDM_ROOM_ID_MAX + 1];
    char pid[TDM_PARTICIPANT_ID_LEN + 1];
    int64_t rev;
    char *ref;         /* owned, or NULL */
    char *sdp;         /* owned, or NULL */
    const char *code;  /* static string from docs/protocol.md */
    const char *field; /* static, or NULL */
    const char *pc;    /* "pub", "sub" or NULL: which connection an error is about */
    char message[160];
};

/* Start the workers (after the config is validated, before pages can connect). Returns 0
 * and *out, or a TDM_E* code after logging why. A worker that could bind none of its
 * sockets still runs; its rooms get media_unavailable. */
int tdm_media_start(struct tdm_app *app, struct tdm_media **out);
/* Stop and join every worker, free everything, and drop replies still on their way.
 * Call before lws_context_destroy. NULL is fine. */
void tdm_media_stop(struct tdm_media *m);

/* The worker for a new room: the one with the fewest rooms. Returns its index. */
unsigned tdm_media_pin_room(struct tdm_media *m);
/* A room pinned to worker w closed (its last participant left). */
void tdm_media_unpin_room(struct tdm_media *m, unsigned w);
/* Whether worker w has at least one socket (media can flow through it). */
bool tdm_media_worker_usable(const struct tdm_media *m, unsigned w);

/* Send cmd to worker w; takes ownership of cmd (and its strings) in every case. */
void tdm_media_post(struct tdm_media *m, unsigned w, struct tdm_media_cmd *cmd);
void tdm_media_cmd_free(struct tdm_media_cmd *cmd);

/* Worker side: hand a reply to the control thread (takes ownership). */
void tdm_media_reply_post(struct tdm_media *m, struct tdm_media_reply *r);
void tdm_media_reply_free(struct tdm_media_reply *r);

/* Control thread side, in signal_media.c: tell the worker what moderation stopped for p
 * (p->muted_audio / muted_video); installed as app->media_block. */
void tdm_media_block(struct tdm_app *app, struct tdm_participant *p);

/* Control thread side, in signal_media.c: act on a reply (look the participant up by room
 * and participant id; drop it quietly when that participant has left). Does not free r. */
void tdm_media_deliver(struct tdm_app *app, const struct tdm_media_reply *r);

#endif
