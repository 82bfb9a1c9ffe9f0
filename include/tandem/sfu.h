/* The SFU core (docs/architecture.md "Media"): rooms, participants, their ICE-lite +
 * DTLS-SRTP connections, producers (incoming tracks), consumers (a track as one subscriber
 * receives it), the fan-out, feedback (NACK, PLI/FIR, REMB, receiver and sender reports, the
 * loss estimate, the resend budget) and the offer/answer of every connection.
 *
 * Sans-IO, in the shape of core/dtls.c: it is fed a datagram, a command or a time-out, each
 * with `now` (monotonic microseconds); afterwards the caller drains the datagrams to send
 * (tdm_sfu_transmits), the events for the control thread (tdm_sfu_poll_event) and reads the
 * next deadline (tdm_sfu_deadline). It opens no socket, reads no clock and draws randomness
 * only from the function in its config; it calls nothing above it. One instance per media
 * worker thread; not thread-safe. Sub offers are made at one point, at the end of each
 * input, so nothing that happens while handling an input can clobber another offer. */
#ifndef TANDEM_SFU_H
#define TANDEM_SFU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "tandem/addr.h"
#include "tandem/room.h"
#include "tandem/srtp.h"

#define TDM_SFU_MAX_SOCKS 8                          /* local media addresses */
#define TDM_SFU_TX_BUF (1500 + TDM_SRTP_MAX_TRAILER) /* one datagram to send */
#define TDM_SFU_RX_MAX 2048                          /* larger datagrams are dropped */

struct tdm_sfu;

struct tdm_sfu_config {
    unsigned index;   /* the worker's number, for log lines */
    SSL_CTX *ssl_ctx; /* the DTLS identity (borrowed; outlives the core) */
    uint8_t fingerprint[32];
    /* Local media addresses (with the port), in candidate order; tcp[i]: an ICE-TCP
     * listener exists on socks[i]. public_addr (family NONE: none) is offered first. */
    struct tdm_addr socks[TDM_SFU_MAX_SOCKS];
    bool tcp[TDM_SFU_MAX_SOCKS];
    unsigned n_socks;
    struct tdm_addr public_addr;
    bool ice_udp, ice_tcp; /* which candidates to offer */
    unsigned mix_speakers; /* the Opus mix: voices mixed at once (K), 1..8; 0: 3 */
    size_t max_sessions;   /* ICE sessions */
    uint32_t max_pending;  /* connections being set up at once (limits.max_pending_media) */
    int64_t ice_timeout_us, consent_timeout_us, dtls_timeout_us;
    size_t tx_slots; /* datagrams the transmit queue holds (0: 1024) */
    /* Wall clock = now + wall_offset_us (for the NTP time of sender reports). */
    int64_t wall_offset_us;
    /* Randomness for SSRCs, sequence numbers and report jitter (not for keys: DTLS and ICE
     * credentials use OpenSSL's generator). */
    uint32_t (*rand32)(void *ctx);
    void *rand_ctx;
};

/* Where a datagram came from or goes to: a local socket and a remote address, and for
 * ICE-TCP the connection (a non-zero id of the caller's; the remote address is then of
 * transport TCP). */
struct tdm_sfu_path {
    int sock;
    uint64_t tcp;
    struct tdm_addr remote;
};

struct tdm_sfu_transmit {
    struct tdm_sfu_path to;
    size_t len;
    uint8_t buf[TDM_SFU_TX_BUF];
};

/* Commands, from the control thread (docs/protocol.md "Media"). */
enum tdm_sfu_cmd_kind {
    TDM_SFU_CMD_JOIN,        /* a participant joined the room */
    TDM_SFU_CMD_LEAVE,       /* it left: release its connections, producers and consumers */
    TDM_SFU_CMD_PUB_OFFER,   /* the page's offer on its "pub" connection: sdp, ref */
    TDM_SFU_CMD_SUB_ANSWER,  /* the page's answer on its "sub" connection: sdp, rev */
    TDM_SFU_CMD_BLOCK,       /* moderation: forward none of its audio / video */
    TDM_SFU_CMD_RECEIVE,     /* the person wants others' video or not (data saver) */
    TDM_SFU_CMD_RESUME,      /* its page is back after a signaling cut: resend a pending offer */
    TDM_SFU_CMD_SUB_RESTART, /* its page asks for an ICE restart of "sub" (media.restart) */
    TDM_SFU_CMD_LAYOUT,      /* how big the page shows each participant's video: tiles */
    TDM_SFU_CMD_AUDIO_ONLY,  /* the person's choice about automatic audio only: ao_mode */
    TDM_SFU_CMD_RECV_ONLY    /* receive without publishing (media.receive_only): ref */
};

#define TDM_SFU_MID_MAX 32 /* a screen's mid in a pub offer (browsers use "0", "1", ...) */

#define TDM_SFU_MAX_TILES 64 /* docs/protocol.md "media.layout" */

/* One participant's video as the page shows it: its size in device pixels, 0 when unknown;
 * visible false when it is hidden (behind the chat sheet, a minimised tile). */
struct tdm_sfu_tile {
    char pid[TDM_PARTICIPANT_ID_LEN + 1];
    uint16_t width, height;
    bool visible;
};

/* Automatic audio only (docs/protocol.md "media.audio_only"). */
enum tdm_sfu_ao_mode { TDM_SFU_AO_AUTO = 0, TDM_SFU_AO_VIDEO = 1, TDM_SFU_AO_AUDIO = -1 };

struct tdm_sfu_cmd {
    enum tdm_sfu_cmd_kind kind;
    char room[TDM_ROOM_ID_MAX + 1];
    char pid[TDM_PARTICIPANT_ID_LEN + 1];
    int64_t rev;
    char *ref; /* the message's "id" as JSON text (owned), or NULL */
    char *sdp; /* owned, NUL-terminated */
    size_t sdp_len;
    bool block_audio, block_video;
    bool receive_video;         /* TDM_SFU_CMD_RECEIVE */
    struct tdm_sfu_tile *tiles; /* TDM_SFU_CMD_LAYOUT: owned, n_tiles <= TDM_SFU_MAX_TILES */
    uint8_t n_tiles;
    int8_t ao_mode; /* TDM_SFU_CMD_AUDIO_ONLY: enum tdm_sfu_ao_mode */
    /* TDM_SFU_CMD_PUB_OFFER: the mid of the m-section that carries the person's screen,
     * "" when the offer shares none (docs/protocol.md "Screen sharing") */
    char screen[TDM_SFU_MID_MAX + 1];
};

/* A person's connection as the room is told (server/sfu/quality.c). */
enum tdm_sfu_quality { TDM_SFU_Q_GOOD, TDM_SFU_Q_FAIR, TDM_SFU_Q_POOR, TDM_SFU_Q_N };

/* Events, for the control thread: what to send to participant pid of room. */
enum tdm_sfu_event_kind {
    TDM_SFU_EV_ANSWER,     /* {"type":"answer","pc":"pub","sdp","ref"} */
    TDM_SFU_EV_OFFER,      /* {"type":"offer","pc":"sub","sdp","rev"} */
    TDM_SFU_EV_ERROR,      /* {"type":"error","code",...,"ref"?} */
    TDM_SFU_EV_SPEAKER,    /* {"type":"media.speaker","participant":subject} ("" none) */
    TDM_SFU_EV_AUDIO_ONLY, /* {"type":"media.audio_only","on":on,"auto":true} */
    TDM_SFU_EV_QUALITY,    /* {"type":"media.quality","participant":subject,"level":...} */
    TDM_SFU_EV_SHARE,      /* for the control thread: pid's screen track came (on) or went */
    TDM_SFU_EV_PAUSED      /* {"type":"media.paused","participant":subject,"on":on,"screen"} */
};

struct tdm_sfu_event {
    enum tdm_sfu_event_kind kind;
    char room[TDM_ROOM_ID_MAX + 1];
    char pid[TDM_PARTICIPANT_ID_LEN + 1];
    int64_t rev;
    char *ref;         /* owned, or NULL */
    char *sdp;         /* owned, or NULL */
    const char *code;  /* static string from docs/protocol.md */
    const char *field; /* static, or NULL */
    const char *pc;    /* "pub", "sub" or NULL: which connection an error is about */
    char message[160];
    struct tdm_sfu_event *next;               /* the core's queue; NULL once polled */
    char subject[TDM_PARTICIPANT_ID_LEN + 1]; /* TDM_SFU_EV_SPEAKER: who speaks */
    bool on;       /* TDM_SFU_EV_AUDIO_ONLY, TDM_SFU_EV_SHARE, TDM_SFU_EV_PAUSED */
    bool screen;   /* TDM_SFU_EV_PAUSED: the picture is subject's shared screen */
    uint8_t level; /* TDM_SFU_EV_QUALITY: enum tdm_sfu_quality */
};

/* Counters since creation (read by the owner thread, or copied out for others). */
struct tdm_sfu_stats {
    uint64_t rtp_in, rtp_out, nacks_out, resent, plis_out;
    uint64_t tx_full;                /* datagrams dropped: the transmit queue was full */
    uint64_t refused_pending;        /* connections refused: max_pending were being set up */
    uint64_t resend_skipped;         /* NACKed packets not resent: over the line's budget */
    uint64_t nack_missed;            /* subscriber NACKs for packets not held: a keyframe asked */
    uint64_t fwd_errors;             /* packets numbered for a subscriber but not sent */
    uint64_t dtls_dropped;           /* invalid DTLS datagrams discarded */
    uint64_t fwd_bytes;              /* of rtp_out, on the wire (SRTP) */
    uint64_t nacks_in, plis_in;      /* packets NACKed by subscribers; their PLI/FIR */
    uint64_t loss_up_sum, loss_up_n; /* fraction lost (1/256) in our reports to publishers */
    uint64_t loss_down_sum, loss_down_n; /* fraction lost (1/256) in subscribers' reports */
    uint32_t rooms, participants, pending, peers;
    uint64_t layer_switches;                /* simulcast: a subscriber moved to another layer */
    uint64_t audio_only_on, audio_only_off; /* automatic audio only began / ended */
    uint64_t quality_changes[TDM_SFU_Q_N];  /* a person's connection was announced at a level */
    uint32_t quality_now[TDM_SFU_Q_N];      /* participants at each level now */
    uint64_t twcc_feedback;                 /* transport-cc feedback packets from subscribers */
    uint64_t twcc_bad;                      /* of those, malformed (dropped) */
    uint64_t probes_sent;                   /* padding packets sent to probe downlinks */
    /* Downlink estimates (transport-cc) now: sub connections with one, their sum (bit/s),
     * and how many are under 300 kbit/s (a weak downlink). */
    uint32_t est_subs, est_weak;
    uint64_t est_sum_bps;
    /* The Opus mix (audiomix.c): rooms with a mixer and people hearing one now; mixed
     * packets sent; speakers' packets (20 ms from browsers) the mixers decoded, rebuilt from
     * in-band FEC or concealed, and passed over undecoded (not among the voices mixed); the
     * time from a packet's arrival to its playout in the mix, summed over mix_frames. */
    uint32_t mix_rooms, mix_listeners;
    uint64_t mix_packets, mix_frames, mix_frames_fec, mix_frames_plc, mix_frames_skipped,
        mix_delay_sum_us;
};

/* One participant's figures (tdm_sfu_part_stats). */
struct tdm_sfu_part_stats {
    uint64_t est_bps;   /* downlink estimate from transport-cc, 0: none yet */
    uint64_t acked_bps; /* what its link delivered lately, per the same feedback */
    uint64_t remb_bps;  /* its browser's latest REMB for the sub connection, 0: none */
    uint64_t feedbacks; /* transport-cc feedback packets received from it */
};

int tdm_sfu_create(const struct tdm_sfu_config *cfg, struct tdm_sfu **out);
/* Frees everything, queued output included. NULL is fine. */
void tdm_sfu_destroy(struct tdm_sfu *s);

/* Input. handle_datagram may rewrite p in place (SRTP, RTX unwrapping). Its return is a
 * set of TDM_SFU_RX_* flags. */
#define TDM_SFU_RX_CHECKED 1 /* a valid ICE connectivity check came on this path */
int tdm_sfu_handle_datagram(struct tdm_sfu *s, const struct tdm_sfu_path *from, uint8_t *p,
                            size_t len, int64_t now);
/* Borrows c (its strings may be taken: ref is moved into an answer). */
void tdm_sfu_handle_command(struct tdm_sfu *s, struct tdm_sfu_cmd *c, int64_t now);
void tdm_sfu_handle_timeout(struct tdm_sfu *s, int64_t now);
/* The caller closed ICE-TCP connection tcp: connections using it lose their destination
 * until a new check gives them one. */
void tdm_sfu_handle_path_closed(struct tdm_sfu *s, uint64_t tcp);

/* Output. The datagrams queued so far (valid until tdm_sfu_transmits_done); drain after
 * every input, or when tdm_sfu_tx_room is small. */
struct tdm_sfu_transmit *tdm_sfu_transmits(struct tdm_sfu *s, size_t *n);
void tdm_sfu_transmits_done(struct tdm_sfu *s);
size_t tdm_sfu_tx_room(const struct tdm_sfu *s);
/* The next event (the caller owns it: tdm_sfu_event_free), or NULL. */
struct tdm_sfu_event *tdm_sfu_poll_event(struct tdm_sfu *s);
void tdm_sfu_event_free(struct tdm_sfu_event *e);
/* When tdm_sfu_handle_timeout wants to run next (INT64_MAX: nothing is due). */
int64_t tdm_sfu_deadline(const struct tdm_sfu *s);

void tdm_sfu_get_stats(const struct tdm_sfu *s, struct tdm_sfu_stats *out);
/* Participant pid of room: 0, or TDM_ENOTFOUND. */
int tdm_sfu_part_stats(const struct tdm_sfu *s, const char *room, const char *pid,
                       struct tdm_sfu_part_stats *out);
void tdm_sfu_cmd_free(struct tdm_sfu_cmd *c);

#endif
