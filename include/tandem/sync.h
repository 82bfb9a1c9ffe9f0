/* Watch-together: the per-room playback state machine, sans-IO. The io layer turns the
 * JSON of docs/protocol-sync-chat.md into a struct tdm_sync_op, calls tdm_sync_apply and
 * broadcasts tdm_sync_snapshot when the state changed. Not thread-safe: the control thread
 * owns each instance.
 *
 * Clock. Every time here is "server time": int64 microseconds on the one clock that
 * time.pong reports, so that pages can map it onto their own clock (web/js/, lowest-RTT sample).
 * It must never step back or jump, or holds and effective times would stretch: the io layer
 * should use tdm_now_us() plus the wall-clock offset taken once at start-up (it then reads
 * like Unix time, as server_time in welcome). Core never reads a clock; now_us is an
 * argument and must lie in [0, TDM_SYNC_TIME_MAX].
 *
 * State. (source, playing, position_us at time_us, rate, seq). While playing, the position
 * at server time t >= time_us is position_us + (t - time_us) * rate, capped at
 * TDM_SYNC_POSITION_MAX_US. time_us may be in the future: a change takes effect at an
 * "effective at" time clamped to [now + min_lead, now + max_lead] so that every page acts at
 * the same moment; until then pages keep doing what the previous state said. time_us never
 * decreases. seq increases by one on every change of anything in the snapshot.
 *
 * Ordering rule (stale operations). The server orders operations by arrival; the last one
 * accepted wins. An operation may name the seq of the state its sender saw (base_seq):
 *   - base_seq newer than the current seq: refused (TDM_EINVAL), it cannot be;
 *   - base_seq older than the seq at which the current source was loaded: refused with
 *     TDM_ESTATE ("conflict"), because the sender meant another film;
 *   - otherwise accepted and rebased on the current state: play, pause and rate carry no
 *     position, so they act on wherever the current state is at their effective time; seek
 *     and load are absolute, so the later one simply wins.
 * An accepted operation that changes nothing (play while playing) is not a change: seq stays.
 *
 * Buffering. Participants report waiting/ready. With wait_for_all on, a room that plays (or
 * is asked to play) while someone waits is "held": paused, with the intent to resume, until
 * everyone is ready, or until max_wait_us has passed since the hold began (tdm_sync_tick at
 * tdm_sync_next_deadline), after which it resumes anyway and those still waiting no longer
 * hold the room until they report ready and then waiting again. */
#ifndef TANDEM_SYNC_H
#define TANDEM_SYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tandem/room.h"

#define TDM_SYNC_SOURCE_MAX 1024    /* bytes, "media:<name>" or an https URL */
#define TDM_SYNC_MEDIA_NAME_MAX 255 /* bytes after "media:", one file name */
#define TDM_SYNC_ORIGIN_MAX 255     /* bytes of one allow-listed origin */
#define TDM_SYNC_RATE_MIN 0.25
#define TDM_SYNC_RATE_MAX 2.0
/* No film lasts a day: a larger position is a bug or an attack, and capping keeps every
 * product of position and rate far from int64 and double rounding trouble. */
#define TDM_SYNC_POSITION_MAX_US (86400LL * 1000000LL)
#define TDM_SYNC_TIME_MAX (1LL << 62)
#define TDM_SYNC_WAITING_MAX 64 /* participants tracked as waiting at once */

enum tdm_sync_op_kind {
    TDM_SYNC_OP_LOAD = 0,     /* source: new film, paused at 0, rate 1 */
    TDM_SYNC_OP_PLAY,         /* from the current position at the effective time */
    TDM_SYNC_OP_PAUSE,        /* at the current position at the effective time */
    TDM_SYNC_OP_SEEK,         /* position_s; playing/paused unchanged */
    TDM_SYNC_OP_RATE,         /* rate, from the effective time on */
    TDM_SYNC_OP_BUFFERING,    /* flag: true = the sender waits for data, false = ready */
    TDM_SYNC_OP_SET_CONTROL,  /* flag: true = only coordinators may control */
    TDM_SYNC_OP_SET_WAIT_ALL, /* flag: wait for everyone while someone buffers */
    TDM_SYNC_OP_COUNT_
};

/* One request, with values as they arrive on the wire (JSON numbers are doubles); every one
 * is validated here, so the io layer copies them without checks. Borrowed until return. */
struct tdm_sync_op {
    enum tdm_sync_op_kind kind;
    const char *sender; /* participant id, NUL-terminated, 1..TDM_PARTICIPANT_ID_LEN */
    enum tdm_role role; /* the sender's role (control policy) */
    bool has_base_seq;
    uint64_t base_seq; /* seq of the state the sender acted on */
    bool has_at;
    double at_ms;       /* requested effective time, server clock, milliseconds */
    const char *source; /* LOAD: not NUL-terminated */
    size_t source_len;
    double position_s; /* SEEK: seconds, 0..TDM_SYNC_POSITION_MAX_US/1e6 */
    double rate;       /* RATE: TDM_SYNC_RATE_MIN..MAX */
    bool flag;         /* BUFFERING, SET_CONTROL, SET_WAIT_ALL */
};

struct tdm_sync_config {
    /* https origins ("https://host" or "https://host:port", lowercase or not) that URL
     * sources may come from; copied at create. None: only media-folder sources. */
    const char *const *allowed_origins;
    size_t n_allowed_origins;
    int64_t min_lead_us;     /* default 100 ms */
    int64_t max_lead_us;     /* default 1000 ms */
    int64_t default_lead_us; /* when the op has no at: default 250 ms (then clamped) */
    int64_t max_wait_us;     /* wait-for-everyone bound, default 15 s */
    bool wait_for_all;       /* initial option, default false */
};

/* What changed last, for the pages' "Jan paused" line. */
enum tdm_sync_cause {
    TDM_SYNC_CAUSE_NONE = 0, /* nothing loaded yet */
    TDM_SYNC_CAUSE_LOAD,
    TDM_SYNC_CAUSE_PLAY,
    TDM_SYNC_CAUSE_PAUSE,
    TDM_SYNC_CAUSE_SEEK,
    TDM_SYNC_CAUSE_RATE,
    TDM_SYNC_CAUSE_BUFFERING, /* the waiting set changed */
    TDM_SYNC_CAUSE_CONTROL,
    TDM_SYNC_CAUSE_WAIT_ALL,
    TDM_SYNC_CAUSE_HOLD,   /* wait-for-everyone paused the room */
    TDM_SYNC_CAUSE_RESUME, /* everyone ready (or max wait passed): playing again */
    TDM_SYNC_CAUSE_LEFT,   /* a waiting participant left */
};

struct tdm_sync_state {
    uint64_t seq;
    bool loaded;
    char source[TDM_SYNC_SOURCE_MAX + 1]; /* "" until loaded */
    bool playing;
    bool held;           /* paused by wait-for-everyone; will resume by itself */
    int64_t position_us; /* at time_us */
    double rate;
    int64_t time_us; /* server time at which position_us is (or becomes) true */
    bool coordinators_only;
    bool wait_for_all;
    size_t n_waiting; /* see tdm_sync_waiting_id */
    enum tdm_sync_cause cause;
    char by[TDM_PARTICIPANT_ID_LEN + 1]; /* who caused it; "" for the server itself */
};

struct tdm_sync;

/* Defaults as documented in struct tdm_sync_config. */
void tdm_sync_config_init(struct tdm_sync_config *cfg);

/* Validates cfg (leads 0 <= min <= max <= 60 s, origins well-formed https origins) and
 * returns 0 with *out, or TDM_EINVAL (err says which) / TDM_ENOMEM. */
int tdm_sync_create(const struct tdm_sync_config *cfg, struct tdm_sync **out, char *err,
                    size_t errlen);
void tdm_sync_destroy(struct tdm_sync *s);

/* Checks a source: "media:<name>" with name 1..TDM_SYNC_MEDIA_NAME_MAX bytes of
 * [A-Za-z0-9._ -], not starting with '.' or ' ', without ".." (a file directly in the media
 * folder: no '/', no traversal); or "https://" URL of printable ASCII without white space,
 * backslash, quotes or angle brackets, no user info, whose origin is allow-listed.
 * Returns 0 or TDM_EINVAL / TDM_EPERM (well-formed URL, origin not allowed). */
int tdm_sync_source_check(const struct tdm_sync *s, const char *src, size_t len, char *err,
                          size_t errlen);

/* Applies op at server time now_us. Returns 1 when the state changed (broadcast the
 * snapshot), 0 when accepted without change (answer the sender with the snapshot), or
 * TDM_EINVAL (bad value, unknown kind, no source loaded yet), TDM_EPERM (control is
 * restricted to coordinators, or a URL's origin is not allowed), TDM_ESTATE (stale op from before
 * the current load), TDM_EFULL (TDM_SYNC_WAITING_MAX participants already waiting). err gets
 * "field: reason". */
int tdm_sync_apply(struct tdm_sync *s, const struct tdm_sync_op *op, int64_t now_us, char *err,
                   size_t errlen);

/* A participant left the room: it no longer holds the room. Returns 1 when the state
 * changed, 0 otherwise. */
int tdm_sync_participant_left(struct tdm_sync *s, const char *participant_id, int64_t now_us);

/* Runs the max-wait bound. Returns 1 when the state changed, else 0. Call at (or after)
 * tdm_sync_next_deadline. */
int tdm_sync_tick(struct tdm_sync *s, int64_t now_us);
/* Server time at which tdm_sync_tick has work, or INT64_MAX. */
int64_t tdm_sync_next_deadline(const struct tdm_sync *s);

/* The state for a broadcast or a late joiner: when time_us has passed, projected to now_us
 * (position advanced while playing, time_us = now_us); a pending future state is returned
 * as is so the page schedules it. */
void tdm_sync_snapshot(const struct tdm_sync *s, int64_t now_us, struct tdm_sync_state *out);

/* Participants currently reported waiting, in order of report. The pointer is borrowed
 * from s until the next call that modifies s. NULL when i >= count. */
size_t tdm_sync_waiting_count(const struct tdm_sync *s);
const char *tdm_sync_waiting_id(const struct tdm_sync *s, size_t i);

/* "load", "play", ... for logs and the wire's "cause" field. Never NULL. */
const char *tdm_sync_cause_name(enum tdm_sync_cause cause);

/* Clock sync (NTP-style, RFC 5905 section 8): the page sends time.ping with t1, its clock
 * when sent; the server answers t2 (receive) and t3 (send) on its clock; the page notes t4
 * on arrival. Validates the client's t1 (finite, |t1| <= 2^53 so it survives JSON) and
 * recv_us <= send_us. Returns 0 or TDM_EINVAL. */
struct tdm_sync_pong {
    double t1_ms; /* echoed */
    double t2_ms; /* server receive time */
    double t3_ms; /* server send time */
};
int tdm_sync_time_pong(double t1_ms, int64_t recv_us, int64_t send_us, struct tdm_sync_pong *out,
                       char *err, size_t errlen);

#endif
