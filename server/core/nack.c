/* Receive log and NACK generation for one incoming stream. The missing numbers live in a
 * ring kept in ascending order (new gaps are always above everything in it); entries that
 * are recovered or given up become tombstones and leave from the head. Per-packet calls
 * do not allocate, lock or log. */
#include "tandem/nack.h"

#include "tandem/rtp.h"

#include <stdlib.h>

#define MIN_RETRY_US 5000

struct miss {
    int64_t ext;      /* extended sequence number */
    int64_t first_us; /* when the gap was seen */
    int64_t sent_us;  /* last NACK, valid when retries > 0 */
    uint16_t retries;
    bool done;
};

struct tdm_nack_rx {
    struct tdm_nack_rx_cfg cfg;
    bool started;
    bool want_keyframe;
    int64_t hi; /* highest extended seq received */
    int64_t rtt_us;
    size_t head, count, live;
    struct miss *ring; /* cfg.max_missing entries */
};

void tdm_nack_rx_cfg_default(struct tdm_nack_rx_cfg *cfg)
{
    cfg->max_missing = 512;
    cfg->max_gap = 512;
    cfg->max_retries = 10;
    cfg->max_age_us = 1000000;
    cfg->min_wait_us = 5000;
    cfg->retry_interval_us = 100000;
}

struct tdm_nack_rx *tdm_nack_rx_create(const struct tdm_nack_rx_cfg *cfg)
{
    struct tdm_nack_rx_cfg c;
    if (cfg)
        c = *cfg;
    else
        tdm_nack_rx_cfg_default(&c);
    if (c.max_missing == 0 || c.max_retries == 0 || c.max_missing > (1u << 20))
        return NULL;
    struct tdm_nack_rx *rx = calloc(1, sizeof *rx);
    if (!rx)
        return NULL;
    rx->ring = calloc(c.max_missing, sizeof *rx->ring);
    if (!rx->ring) {
        free(rx);
        return NULL;
    }
    rx->cfg = c;
    return rx;
}

void tdm_nack_rx_destroy(struct tdm_nack_rx *rx)
{
    if (!rx)
        return;
    free(rx->ring);
    free(rx);
}

void tdm_nack_rx_set_rtt(struct tdm_nack_rx *rx, int64_t rtt_us)
{
    rx->rtt_us = rtt_us > 0 ? rtt_us : 0;
}

static struct miss *at(const struct tdm_nack_rx *rx, size_t i)
{
    return &rx->ring[(rx->head + i) % rx->cfg.max_missing];
}

static void clear(struct tdm_nack_rx *rx)
{
    rx->head = rx->count = rx->live = 0;
}

static void retire(struct tdm_nack_rx *rx, struct miss *m)
{
    m->done = true;
    rx->live--;
}

static void pop_tombstones(struct tdm_nack_rx *rx)
{
    while (rx->count && at(rx, 0)->done) {
        rx->head = (rx->head + 1) % rx->cfg.max_missing;
        rx->count--;
    }
}

/* Appends a new missing number; returns true when that pushed out a live one. */
static bool push(struct tdm_nack_rx *rx, int64_t ext, int64_t now_us)
{
    bool lost = false;
    if (rx->count == rx->cfg.max_missing) {
        if (!at(rx, 0)->done) {
            retire(rx, at(rx, 0));
            lost = true;
        }
        rx->head = (rx->head + 1) % rx->cfg.max_missing;
        rx->count--;
    }
    struct miss *m = at(rx, rx->count);
    *m = (struct miss){.ext = ext, .first_us = now_us};
    rx->count++;
    rx->live++;
    return lost;
}

/* Binary search over the ascending ring; NULL when absent. */
static struct miss *find(const struct tdm_nack_rx *rx, int64_t ext)
{
    size_t lo = 0, hi = rx->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        struct miss *m = at(rx, mid);
        if (m->ext == ext)
            return m;
        if (m->ext < ext)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

int tdm_nack_rx_on_packet(struct tdm_nack_rx *rx, uint16_t seq, int64_t now_us)
{
    if (!rx->started) {
        rx->started = true;
        rx->hi = seq;
        return 0;
    }
    uint16_t hi16 = (uint16_t)rx->hi;
    if (!tdm_rtp_seq_newer(seq, hi16)) {
        struct miss *m = find(rx, rx->hi - (uint16_t)(hi16 - seq));
        if (!m || m->done)
            return 0;
        retire(rx, m);
        pop_tombstones(rx);
        return TDM_NACK_RX_RECOVERED;
    }
    int64_t e = rx->hi + (uint16_t)(seq - hi16);
    int64_t gap = e - rx->hi - 1;
    int flags = 0;
    if (gap > (int64_t)rx->cfg.max_gap) {
        clear(rx);
        flags = TDM_NACK_RX_KEYFRAME;
    } else {
        /* Numbers that would be pushed out by the same gap are not worth entering. */
        int64_t from = rx->hi + 1;
        if (gap > (int64_t)rx->cfg.max_missing) {
            from = e - (int64_t)rx->cfg.max_missing;
            flags = TDM_NACK_RX_KEYFRAME;
        }
        for (int64_t x = from; x < e; x++)
            if (push(rx, x, now_us))
                flags = TDM_NACK_RX_KEYFRAME; /* the oldest was abandoned */
    }
    if (flags)
        rx->want_keyframe = true;
    rx->hi = e;
    return flags;
}

void tdm_nack_rx_on_keyframe(struct tdm_nack_rx *rx, uint16_t seq)
{
    if (!rx->started)
        return;
    uint16_t hi16 = (uint16_t)rx->hi;
    int64_t e = tdm_rtp_seq_newer(seq, hi16) ? rx->hi + (uint16_t)(seq - hi16)
                                             : rx->hi - (uint16_t)(hi16 - seq);
    for (size_t i = 0; i < rx->count && at(rx, i)->ext < e; i++)
        if (!at(rx, i)->done)
            retire(rx, at(rx, i));
    pop_tombstones(rx);
}

static int64_t interval(const struct tdm_nack_rx *rx)
{
    if (rx->rtt_us > 0)
        return rx->rtt_us > MIN_RETRY_US ? rx->rtt_us : MIN_RETRY_US;
    return rx->cfg.retry_interval_us;
}

static int64_t due_at(const struct tdm_nack_rx *rx, const struct miss *m)
{
    return m->retries == 0 ? m->first_us + rx->cfg.min_wait_us : m->sent_us + interval(rx);
}

size_t tdm_nack_rx_collect(struct tdm_nack_rx *rx, int64_t now_us, uint16_t *out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < rx->count; i++) {
        struct miss *m = at(rx, i);
        if (m->done)
            continue;
        if (now_us - m->first_us > rx->cfg.max_age_us ||
            (m->retries >= rx->cfg.max_retries && now_us >= due_at(rx, m))) {
            retire(rx, m);
            rx->want_keyframe = true;
            continue;
        }
        if (n < max && now_us >= due_at(rx, m)) {
            out[n++] = (uint16_t)m->ext;
            m->retries++;
            m->sent_us = now_us;
        }
    }
    pop_tombstones(rx);
    return n;
}

int64_t tdm_nack_rx_next_deadline(const struct tdm_nack_rx *rx)
{
    int64_t best = INT64_MAX;
    for (size_t i = 0; i < rx->count; i++) {
        const struct miss *m = at(rx, i);
        if (m->done)
            continue;
        int64_t d = due_at(rx, m);
        int64_t expire = m->first_us + rx->cfg.max_age_us + 1;
        if (expire < d)
            d = expire;
        if (d < best)
            best = d;
    }
    return best;
}

size_t tdm_nack_rx_missing(const struct tdm_nack_rx *rx)
{
    return rx->live;
}

bool tdm_nack_rx_keyframe_wanted(const struct tdm_nack_rx *rx)
{
    return rx->want_keyframe;
}

bool tdm_nack_rx_take_keyframe(struct tdm_nack_rx *rx)
{
    bool w = rx->want_keyframe;
    rx->want_keyframe = false;
    return w;
}
