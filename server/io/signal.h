/* Signaling connections and the message handler table (docs/protocol.md). */
#ifndef TANDEM_IO_SIGNAL_H
#define TANDEM_IO_SIGNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "proto.h"
#include "tandem/invite.h"
#include "tandem/room.h"
#include "tandem/sfu.h"
#include "tandem/util.h"

struct lws;
struct tdm_app;
struct outmsg;
struct cl_pending;

/* A join that passed its checks: kept while its sender waits in a room's lobby. */
struct tdm_join_req {
    char room[TDM_ROOM_ID_MAX + 1];
    char name[TDM_NAME_MAX + 1];
    enum tdm_role role;
    struct tdm_invite inv;
    bool by_pass; /* came with a person pass: no use is counted, no new pass is made */
    uint8_t person[TDM_INVITE_ID_LEN]; /* the pass's person id, when by_pass */
    char lobby_id[TDM_PARTICIPANT_ID_LEN + 1];
};

/* One signaling WebSocket. Lives in lws's per-session memory; the control thread owns it. */
struct tdm_conn {
    struct lws *wsi;
    struct tdm_conn *prev, *next;
    uint32_t log_id;
    int64_t last_activity;
    /* receive: reassembly of fragments, bounded by limits.max_message_bytes */
    char *rx;
    size_t rx_len, rx_cap;
    bool rx_binary;
    /* rate limit */
    struct tdm_bucket bucket;
    int64_t flood_window_start;
    uint32_t dropped_in_window;
    int64_t last_rate_error;
    /* send queue, bounded */
    struct outmsg *outq_head, *outq_tail;
    uint32_t outq_msgs;
    size_t outq_bytes;
    int close_code; /* non-zero: close with this code once the queue is flushed */
    char close_reason[64];
    struct tdm_participant *participant; /* NULL until joined */
    struct tdm_join_req *lobby;          /* waiting to be admitted (owned), or NULL */
    uint64_t addr_key; /* salted hash of the peer address, for the per-address limit */
    bool addr_counted;
    struct tdm_invite inv; /* the invite this person joined with (expires_s 0: none) */
    bool linked;           /* in app->conns: opened and not yet closed */
    /* the person id of the pass this connection joined with or was given, if any */
    bool has_person;
    uint8_t person[TDM_INVITE_ID_LEN];
    /* a coordinator console (console.hello): its capability, checked again at every action */
    bool console;
    struct tdm_console_cap console_cap;
    /* a join waiting for Redis (cluster.h), or NULL */
    struct cl_pending *cluster_wait;
    /* resume (signal_resume.c): a ghost holds a participant whose socket went, with what
     * it was sent meanwhile, until its page resumes or the grace period ends; peer_closed:
     * the page said goodbye with a close frame (no grace); resume_tried: one try each */
    bool ghost;
    bool peer_closed;
    bool resume_tried;
};

enum { TDM_HANDLER_NEEDS_JOINED = 1 };

/* A handler validates its message into typed values before acting, and on refusal fills e
 * (the caller sends the error, with "ref"). */
typedef void (*tdm_handler_fn)(struct tdm_app *app, struct tdm_conn *c, json_t *msg, json_t *id,
                               struct tdm_proto_err *e);

struct tdm_handler {
    const char *type;
    unsigned flags;
    tdm_handler_fn fn;
};

const struct tdm_handler *tdm_signal_find_handler(const char *type);

/* Queues msg (takes the reference) for c; closes c if its queue is over its bound. */
int tdm_conn_send(struct tdm_conn *c, json_t *msg);
void tdm_conn_send_error(struct tdm_conn *c, const struct tdm_proto_err *e, json_t *id);
/* Closes c with a WebSocket close code once what is queued has been sent. */
void tdm_conn_close(struct tdm_conn *c, int code, const char *reason);

/* The connection life cycle apart from the socket. The lws callback calls these with its
 * wsi; an in-process driver (tests/fuzz/room_harness.c) calls them with wsi NULL, which means
 * "no socket": nothing is woken, and the driver takes what is queued with tdm_conn_drain and
 * calls tdm_conn_closed itself once close_code is set (as lws would after the flush).
 * tdm_conn_open: c (the caller's memory) is zeroed and linked into app->conns.
 * tdm_conn_handle: one complete text message (rate limits are the socket side's job).
 * tdm_conn_closed: leaves the room or lobby, frees the queue, unlinks c; once only.
 * tdm_conn_drain: hands each queued message to fn (borrowed until fn returns) and frees it. */
void tdm_conn_open(struct tdm_app *app, struct tdm_conn *c, struct lws *wsi);
void tdm_conn_handle(struct tdm_app *app, struct tdm_conn *c, const char *buf, size_t len);
void tdm_conn_closed(struct tdm_app *app, struct tdm_conn *c);
void tdm_conn_drain(struct tdm_conn *c, void (*fn)(void *ud, const char *text, size_t len),
                    void *ud);

/* Sends msg to every participant of room except `except` (may be NULL). Takes msg. */
void tdm_room_broadcast(struct tdm_room *room, const struct tdm_participant *except, json_t *msg);
/* Removes c's participant from its room and tells the others; c->participant is NULL
 * afterwards (and the room may be gone): a handler must not read either after calling it. */
void tdm_signal_leave_room(struct tdm_app *app, struct tdm_conn *c, const char *reason);
json_t *tdm_participant_json(const struct tdm_participant *p);

/* The welcome message of participant p (joined or resumed), with ref id when given. */
json_t *tdm_welcome_json(struct tdm_app *app, const struct tdm_participant *p, json_t *id);

/* Resuming after a cut (signal_resume.c, docs/protocol.md "Resuming after a cut").
 * tdm_away_start/stop: the token table (stop: every participant still away leaves).
 * tdm_away_begin: c's socket went while joined: returns true when a ghost now holds the
 * participant (c->participant is NULL then), false when it must leave as before.
 * tdm_away_add_token: a fresh resume token for p into msg ("resume"), when resume is on.
 * tdm_away_expire: participants whose grace ended leave; dead ghosts are freed (the timer
 * calls it; in-process drivers call it with their own now). */
int tdm_away_start(struct tdm_app *app);
void tdm_away_stop(struct tdm_app *app);
bool tdm_away_begin(struct tdm_app *app, struct tdm_conn *c);
void tdm_away_add_token(struct tdm_app *app, const struct tdm_participant *p, json_t *msg);
void tdm_away_expire(struct tdm_app *app, int64_t now);
/* A ghost's participant left (mod.remove, mod.end, a pass holder's new join): it is freed
 * at the next sweep, as callers may still close it. */
void tdm_away_ghost_left(struct tdm_app *app, struct tdm_conn *ghost);
void tdm_on_resume(struct tdm_app *app, struct tdm_conn *c, json_t *msg, json_t *id,
                   struct tdm_proto_err *e);
/* Queue plumbing for resume (signal.c): moves src's queued messages behind dst's (dst's
 * bounds apply: over them, the rest is dropped and false returned); frees c's queue. */
bool tdm_conn_take_queue(struct tdm_conn *dst, struct tdm_conn *src);
void tdm_conn_free_queue(struct tdm_conn *c);

/* Handlers (handlers.c holds the table). */
void tdm_on_join(struct tdm_app *app, struct tdm_conn *c, json_t *msg, json_t *id,
                 struct tdm_proto_err *e);
void tdm_on_leave(struct tdm_app *app, struct tdm_conn *c, json_t *msg, json_t *id,
                  struct tdm_proto_err *e);
void tdm_on_ping(struct tdm_app *app, struct tdm_conn *c, json_t *msg, json_t *id,
                 struct tdm_proto_err *e);
/* ice.servers: fresh TURN credentials for a joined participant (ice_servers.c). */
void tdm_on_ice_servers(struct tdm_app *app, struct tdm_conn *c, json_t *msg, json_t *id,
                        struct tdm_proto_err *e);
/* Joining (signal_room.c) and the lobby and moderation (moderation.c). tdm_join_routed: a
 * join whose room is held here (or that needs no routing: one process alone) goes on into
 * the room, its lobby or a refusal sent to c with id; used_shared: it took a use of its link
 * in the shared ledger, given back if it is refused here. */
void tdm_join_routed(struct tdm_app *app, struct tdm_conn *c, const struct tdm_join_req *req,
                     json_t *id, bool used_shared);
int tdm_join_finish(struct tdm_app *app, struct tdm_conn *c, const struct tdm_join_req *req,
                    json_t *id, struct tdm_proto_err *e);
void tdm_lobby_enter(struct tdm_app *app, struct tdm_conn *c, const struct tdm_join_req *req,
                     json_t *id, struct tdm_proto_err *e);
bool tdm_lobby_may_admit(const struct tdm_participant *p);
/* Tells `to` (an admitter that just joined) about everyone waiting for its room. */
void tdm_lobby_announce_all(struct tdm_app *app, struct tdm_conn *to);
/* room_id has just closed (its last participant left): everyone still waiting for it is
 * sent away with not_admitted, as nobody is left to let them in. */
void tdm_lobby_room_closed(struct tdm_app *app, const char *room_id);
/* A waiting connection closes: forget it and tell the admitters. */
void tdm_lobby_leave(struct tdm_app *app, struct tdm_conn *c);
void tdm_on_mod_lock(struct tdm_app *app, struct tdm_conn *c, json_t *msg, json_t *id,
                     struct tdm_proto_err *e);
void tdm_on_mod_lobby(struct tdm_app *app, struct tdm_conn *c, json_t *msg, json_t *id,
                      struct tdm_proto_err *e);
void tdm_on_mod_admit(struct tdm_app *app, struct tdm_conn *c, json_t *msg, json_t *id,
                      struct tdm_proto_err *e);
void tdm_on_mod_deny(struct tdm_app *app, struct tdm_conn *c, json_t *msg, json_t *id,
                     struct tdm_proto_err *e);
void tdm_on_mod_remove(struct tdm_app *app, struct tdm_conn *c, json_t *msg, json_t *id,
                       struct tdm_proto_err *e);
/* signal_aids.c: raise hand, conversation cards, the next call, the check-in */
void tdm_on_hand_raise(struct tdm_app *app, struct tdm_conn *c, json_t *msg, json_t *id,
                       struct tdm_proto_err *e);
void tdm_on_hand_lower(struct tdm_app *app, struct tdm_conn *c, json_t *msg, json_t *id,
                       struct tdm_proto_err *e);
void tdm_on_card_show(struct tdm_app *app, struct tdm_conn *c, json_t *msg, json_t *id,
                      struct tdm_proto_err *e);
void tdm_on_card_hide(struct tdm_app *app, struct tdm_conn *c, json_t *msg, json_t *id,
                      struct tdm_proto_err *e);
void tdm_on_plan_propose(struct tdm_app *app, struct tdm_conn *c, json_t *msg, json_t *id,
                         struct tdm_proto_err *e);
void tdm_on_plan_answer(struct tdm_app *app, struct tdm_conn *c, json_t *msg, json_t *id,
                        struct tdm_proto_err *e);
void tdm_on_checkin(struct tdm_app *app, struct tdm_conn *c, json_t *msg, json_t *id,
                    struct tdm_proto_err *e);
/* Adds the check-in token to p's welcome. */
void tdm_aids_welcome(struct tdm_app *app, struct tdm_participant *p, json_t *welcome);
/* After p's welcome: what of the aids a late joiner needs (the card on screen). */
void tdm_aids_joined(struct tdm_app *app, struct tdm_participant *p);
void tdm_on_mod_mute(struct tdm_app *app, struct tdm_conn *c, json_t *msg, json_t *id,
                     struct tdm_proto_err *e);
void tdm_on_mod_end(struct tdm_app *app, struct tdm_conn *c, json_t *msg, json_t *id,
                    struct tdm_proto_err *e);

/* The connection in room that holds the person pass req came with, or NULL. */
struct tdm_conn *tdm_pass_holder(struct tdm_room *room, const struct tdm_join_req *req);

/* Invites (invites.c). */
/* Checks a join's token (or its absence) without using it up; *role becomes the token's. */
int tdm_invites_check_join(struct tdm_app *app, const char *room, const char *token,
                           size_t token_len, struct tdm_invite *inv, enum tdm_role *role,
                           struct tdm_proto_err *e);
/* The ledger's verdict on an invite checked before (revoked meanwhile? used up meanwhile,
 * e.g. by someone else waiting in the lobby with the same single-use link?), as
 * tdm_invites_check_join gives it. Expiry is not looked at again: who waits in the lobby
 * past the link's end still gets in. counted: the person holds a pass (their use is one of
 * those that filled the link), so only a withdrawal refuses them. */
int tdm_invites_recheck(struct tdm_app *app, const struct tdm_invite *inv, bool counted,
                        struct tdm_proto_err *e);
/* Records one use of the token after the join succeeded. */
int tdm_invites_consume(struct tdm_app *app, const struct tdm_invite *inv);
/* Checks a person pass (tandem/invite.h) for room, as tdm_invites_check_join does a token:
 * the same error codes; a pass whose link was withdrawn is refused (invite_revoked), one whose
 * link is used up is not (its holder was counted). */
int tdm_invites_check_pass(struct tdm_app *app, const char *room, const char *text, size_t len,
                           struct tdm_pass *pass, enum tdm_role *role, struct tdm_proto_err *e);
/* Someone taken out of the call (mod.remove): their person pass stops working until it
 * would have expired; it is then answered invite_used (their use of the link is spent). The
 * ledger keeps the random person id as it keeps a withdrawn link's id. */
void tdm_invites_shut_out(struct tdm_app *app, const struct tdm_conn *c);
/* A new pass for someone who just used a limited link, as text (TDM_INVITE_TOKEN_MAX + 1
 * bytes), and its person id. Returns 0, or TDM_ECRYPTO (then the person has no pass). */
int tdm_invites_make_pass(struct tdm_app *app, const struct tdm_invite *inv, char *out, size_t cap,
                          uint8_t person[TDM_INVITE_ID_LEN]);
/* Withdraws the invite someone joined with (mod.remove with withdraw_link). Returns 0,
 * TDM_ENOTFOUND when they joined without one, or TDM_EFULL when the ledger is full. */
int tdm_invites_withdraw(struct tdm_app *app, const struct tdm_invite *inv);
/* Withdraws id until expires_s, in memory and in the journal. Returns 0 or TDM_EFULL. */
int tdm_invites_withdraw_id(struct tdm_app *app, const uint8_t id[TDM_INVITE_ID_LEN],
                            int64_t expires_s);
/* A withdrawal made on another node (cluster.h): into this node's ledger and journal, so
 * that console links and passes are refused here too. Returns 0 or TDM_EFULL. */
int tdm_invites_learn_withdrawal(struct tdm_app *app, const uint8_t id[TDM_INVITE_ID_LEN],
                                 int64_t expires_s);
/* Makes a link for room from msg's role, expires_s? and uses? (validated; e filled on a
 * refusal) and notes it in the ledger. Returns the "invite" message (url when
 * server.public_url is set), or NULL. */
json_t *tdm_invites_make_link(struct tdm_app *app, const char *room, json_t *msg,
                              struct tdm_proto_err *e);
int tdm_invites_parse_duration(const char *s, int64_t *out_s);
/* The coordinator console (console.c). */
void tdm_on_console_hello(struct tdm_app *app, struct tdm_conn *c, json_t *msg, json_t *id,
                          struct tdm_proto_err *e);
void tdm_on_console_room_create(struct tdm_app *app, struct tdm_conn *c, json_t *msg, json_t *id,
                                struct tdm_proto_err *e);
void tdm_on_console_link_create(struct tdm_app *app, struct tdm_conn *c, json_t *msg, json_t *id,
                                struct tdm_proto_err *e);
void tdm_on_console_links(struct tdm_app *app, struct tdm_conn *c, json_t *msg, json_t *id,
                          struct tdm_proto_err *e);
void tdm_on_console_link_revoke(struct tdm_app *app, struct tdm_conn *c, json_t *msg, json_t *id,
                                struct tdm_proto_err *e);
void tdm_on_console_rooms(struct tdm_app *app, struct tdm_conn *c, json_t *msg, json_t *id,
                          struct tdm_proto_err *e);
void tdm_on_invite_create(struct tdm_app *app, struct tdm_conn *c, json_t *msg, json_t *id,
                          struct tdm_proto_err *e);
void tdm_on_invite_check(struct tdm_app *app, struct tdm_conn *c, json_t *msg, json_t *id,
                         struct tdm_proto_err *e);
void tdm_on_invite_revoke(struct tdm_app *app, struct tdm_conn *c, json_t *msg, json_t *id,
                          struct tdm_proto_err *e);
/* Media (signal_media.c). */
void tdm_media_on_offer(struct tdm_app *app, struct tdm_conn *c, json_t *msg, json_t *id,
                        struct tdm_proto_err *e);
void tdm_media_on_answer(struct tdm_app *app, struct tdm_conn *c, json_t *msg, json_t *id,
                         struct tdm_proto_err *e);
void tdm_media_on_candidate(struct tdm_app *app, struct tdm_conn *c, json_t *msg, json_t *id,
                            struct tdm_proto_err *e);
void tdm_media_on_state(struct tdm_app *app, struct tdm_conn *c, json_t *msg, json_t *id,
                        struct tdm_proto_err *e);
/* "media.layout" {tiles: [{participant, width, height, visible}]}: how big the page shows
 * each participant's video (the server's layer allocation). */
void tdm_media_on_layout(struct tdm_app *app, struct tdm_conn *c, json_t *msg, json_t *id,
                         struct tdm_proto_err *e);
/* "media.audio_only" {mode: "auto" | "video" | "audio"}: the person's choice. */
void tdm_media_on_audio_only(struct tdm_app *app, struct tdm_conn *c, json_t *msg, json_t *id,
                             struct tdm_proto_err *e);
/* "media.receive_only": receive the others without a pub connection (sub offers follow). */
void tdm_media_on_receive_only(struct tdm_app *app, struct tdm_conn *c, json_t *msg, json_t *id,
                               struct tdm_proto_err *e);
/* "media.receive" {video: bool}: the data saver (no video of others is sent). */
void tdm_media_on_receive(struct tdm_app *app, struct tdm_conn *c, json_t *msg, json_t *id,
                          struct tdm_proto_err *e);
/* Room membership changes the media side must follow (signal_media.c). Called after the
 * participant was added / before it is removed. */
void tdm_media_participant_joined(struct tdm_app *app, struct tdm_participant *p);
/* Tell the worker what moderation stopped for p (p->muted_audio / muted_video); app.c
 * installs it as app->media_block. */
void tdm_media_block(struct tdm_app *app, struct tdm_participant *p);
/* An event of a media worker, on the control thread (ctx: the app; tdm_media_deliver_fn):
 * sent to the participant it names, dropped quietly when that participant has left. */
void tdm_media_deliver(void *ctx, const struct tdm_sfu_event *r);
void tdm_media_participant_leaving(struct tdm_app *app, struct tdm_participant *p);
/* p's page resumed after a cut: an offer it may have missed is sent again. */
void tdm_media_resumed(struct tdm_app *app, struct tdm_participant *p);
/* "media.restart" {pc: "sub"}: the page asks for an ICE restart of its sub connection. */
void tdm_media_on_restart(struct tdm_app *app, struct tdm_conn *c, json_t *msg, json_t *id,
                          struct tdm_proto_err *e);

#endif
