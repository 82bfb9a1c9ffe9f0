/* libFuzzer target: sequences of watch-together operations applied to one state machine.
 *
 * Input: a series of steps, each decoded from the bytes with a bounded cursor (missing bytes
 * read as zero): an action byte (operation kind, an unknown kind, the max-wait tick or a
 * participant leaving), a time step, sender, role, a flags byte, and the values the flags ask
 * for (raw doubles for at/position/rate, or sane ones; a source from a table or raw bytes),
 * or a time.pong of raw values.
 *
 * Invariants checked after every step: a refused or no-op call leaves the state exactly as
 * it was; a change raises seq by exactly one; seq and the state's own time never go back;
 * the rate stays in range; positions are finite, >= 0 and capped, and never go back while
 * playing; held implies paused with a deadline; a loaded source passes the source check. */
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tandem/err.h"
#include "tandem/sync.h"

#define MAX_STEPS 256
#define SEC 1000000LL

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct cursor {
    const uint8_t *p;
    size_t n;
};

static uint8_t u8(struct cursor *c)
{
    if (c->n == 0)
        return 0;
    c->n--;
    return *c->p++;
}

static uint16_t u16(struct cursor *c)
{
    return (uint16_t)(u8(c) << 8 | u8(c));
}

static double f64(struct cursor *c)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = u8(c);
    double d;
    memcpy(&d, b, sizeof d);
    return d;
}

static const char *const ids[] = {"AAAAAAAAAAAAAAAAAAAAAA", "BBBBBBBBBBBBBBBBBBBBBB", "c", "bad id",
                                  NULL};
static const char *const sources[] = {"media:film.mp4", "https://films.example.org/a.mp4",
                                      "HTTPS://Films.Example.Org:443/b.webm",
                                      "https://evil.example/x.mp4", "media:../x"};
static const double rates[] = {0.25, 0.5, 1.0, 1.5, 2.0, 0.2, 3.0, -1.0};

static bool same_state(const struct tdm_sync_state *a, const struct tdm_sync_state *b)
{
    return a->seq == b->seq && a->loaded == b->loaded && strcmp(a->source, b->source) == 0 &&
           a->playing == b->playing && a->held == b->held && a->position_us == b->position_us &&
           a->rate == b->rate && a->time_us == b->time_us &&
           a->coordinators_only == b->coordinators_only && a->wait_for_all == b->wait_for_all &&
           a->n_waiting == b->n_waiting && a->cause == b->cause && strcmp(a->by, b->by) == 0;
}

static void check(const struct tdm_sync *s, const struct tdm_sync_state *before, int rc,
                  int64_t now)
{
    struct tdm_sync_state raw, at_now, later;
    tdm_sync_snapshot(s, 0, &raw); /* now 0 never projects: the stored state */
    if (rc <= 0 && !same_state(before, &raw))
        abort();
    if (rc == 1 && (raw.seq != before->seq + 1 || raw.cause == TDM_SYNC_CAUSE_NONE))
        abort();
    if (raw.time_us < before->time_us)
        abort();
    if (!(raw.rate >= TDM_SYNC_RATE_MIN && raw.rate <= TDM_SYNC_RATE_MAX))
        abort();
    if (raw.held && (raw.playing || tdm_sync_next_deadline(s) == INT64_MAX))
        abort();
    if (raw.n_waiting > TDM_SYNC_WAITING_MAX || raw.n_waiting != tdm_sync_waiting_count(s))
        abort();
    if (raw.loaded && tdm_sync_source_check(s, raw.source, strlen(raw.source), NULL, 0) != 0)
        abort();
    tdm_sync_snapshot(s, now, &at_now);
    tdm_sync_snapshot(s, now + 3600 * SEC, &later);
    const struct tdm_sync_state *all[] = {&raw, &at_now, &later};
    for (int i = 0; i < 3; i++)
        if (all[i]->position_us < 0 || all[i]->position_us > TDM_SYNC_POSITION_MAX_US)
            abort();
    if (later.position_us < at_now.position_us ||
        (!raw.playing && later.position_us != raw.position_us))
        abort();
}

static void decode_op(struct cursor *c, struct tdm_sync_op *op, uint8_t action, int64_t now,
                      uint64_t seq, char *srcbuf, size_t srccap)
{
    memset(op, 0, sizeof *op);
    op->kind = action < 8 ? (enum tdm_sync_op_kind)action : (enum tdm_sync_op_kind)(8 + u8(c));
    op->sender = ids[u8(c) % 5];
    op->role = (enum tdm_role)(u8(c) % 4);
    uint8_t f = u8(c);
    op->has_base_seq = f & 1;
    op->has_at = f & 2;
    op->flag = f & 4;
    uint8_t d = u8(c);
    op->base_seq = (d & 0x80) ? seq + (d & 3) : seq - (d % 4 > seq ? seq : d % 4);
    op->at_ms = (f & 0x10) ? f64(c) : (double)now / 1000.0 + (int16_t)u16(c);
    op->position_s = (f & 0x20) ? f64(c) : u16(c) * 0.5;
    op->rate = (f & 0x40) ? f64(c) : rates[u8(c) % 8];
    if (f & 0x80) { /* raw source bytes */
        size_t n = (size_t)u16(c) % (srccap + 1);
        for (size_t i = 0; i < n; i++)
            srcbuf[i] = (char)u8(c);
        op->source = srcbuf;
        op->source_len = n;
    } else {
        op->source = sources[u8(c) % 5];
        op->source_len = strlen(op->source);
    }
}

static int64_t step_time(struct cursor *c, int64_t now)
{
    uint8_t t = u8(c);
    int64_t d = (int64_t)(t & 0x3F) * 50000; /* 0..3.15 s */
    if (t & 0x40)
        d *= 400; /* up to ~21 min */
    if ((t & 0x80) && now > d)
        return now - d / 8; /* an io clock may step back a little */
    return now + d;
}

/* time.pong: the client's time comes back as sent, the server's in order. */
static void clock_step(struct cursor *c)
{
    struct tdm_sync_pong pong;
    double t1 = f64(c);
    int64_t recv = (int64_t)(u16(c)) * 1000, send = recv + u8(c);
    if (tdm_sync_time_pong(t1, recv, send, &pong, NULL, 0) == 0 &&
        (!(pong.t1_ms == t1) || pong.t3_ms < pong.t2_ms))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const origins[] = {"https://films.example.org"};
    struct cursor c = {data, size};
    struct tdm_sync_config cfg;
    tdm_sync_config_init(&cfg);
    cfg.allowed_origins = origins;
    cfg.n_allowed_origins = 1;
    cfg.wait_for_all = u8(&c) & 1;
    struct tdm_sync *s = NULL;
    if (tdm_sync_create(&cfg, &s, NULL, 0) != 0)
        abort();
    char srcbuf[TDM_SYNC_SOURCE_MAX + 8];
    int64_t now = 1700000000LL * SEC;
    for (int step = 0; step < MAX_STEPS && c.n > 0; step++) {
        uint8_t action = u8(&c) % 12;
        now = step_time(&c, now);
        struct tdm_sync_state before;
        tdm_sync_snapshot(s, 0, &before);
        int rc;
        char err[128];
        if (action == 11) {
            clock_step(&c);
            continue;
        }
        if (action == 9) {
            rc = tdm_sync_tick(s, now);
        } else if (action == 10) {
            rc = tdm_sync_participant_left(s, ids[u8(&c) % 5], now);
        } else {
            struct tdm_sync_op op;
            decode_op(&c, &op, action, now, before.seq, srcbuf, sizeof srcbuf);
            rc = tdm_sync_apply(s, &op, now, err, sizeof err);
            if (rc < 0 && rc != TDM_EINVAL && rc != TDM_EPERM && rc != TDM_ESTATE &&
                rc != TDM_EFULL)
                abort();
        }
        if (rc > 1)
            abort();
        check(s, &before, rc, now);
    }
    /* whatever happened, the max-wait bound lets a held room go on */
    if (tdm_sync_next_deadline(s) != INT64_MAX) {
        struct tdm_sync_state st;
        int64_t at = tdm_sync_next_deadline(s);
        if (tdm_sync_tick(s, at > now ? at : now) != 1)
            abort();
        tdm_sync_snapshot(s, 0, &st);
        if (st.held || !st.playing)
            abort();
    }
    tdm_sync_destroy(s);
    return 0;
}
