/* Per-consumer sequence-number and timestamp rewriting. Per-packet code: no allocation,
 * no locks, no logging. */
#include "tandem/seqmap.h"

#include "tandem/err.h"
#include "tandem/rtp.h"

#include <string.h>

/* A source paused longer than this resumes as if after this long: keeps the timestamp
 * jump far below 2^31 ticks, where receivers would take it for a step backwards. */
#define MAX_GAP_US (30LL * 60 * 1000000)

static bool seen_get(const struct tdm_seqmap *m, int64_t e)
{
    uint64_t i = (uint64_t)e % TDM_SEQMAP_WINDOW;
    return (m->seen[i / 64] >> (i % 64)) & 1u;
}

static void seen_put(struct tdm_seqmap *m, int64_t e, bool on)
{
    uint64_t i = (uint64_t)e % TDM_SEQMAP_WINDOW;
    uint64_t bit = (uint64_t)1 << (i % 64);
    if (on)
        m->seen[i / 64] |= bit;
    else
        m->seen[i / 64] &= ~bit;
}

void tdm_seqmap_init(struct tdm_seqmap *m, uint16_t out_seq_start, uint32_t out_ts_start)
{
    memset(m, 0, sizeof *m);
    m->next_seq = out_seq_start;
    m->next_ts = out_ts_start;
}

void tdm_seqmap_switch(struct tdm_seqmap *m, uint32_t ssrc)
{
    m->switch_armed = true;
    m->switch_ssrc = ssrc;
}

/* Place a 16-bit seq of the current source within half the range of the highest. */
static int64_t extend(const struct tdm_seqmap *m, uint16_t seq)
{
    uint16_t hi16 = (uint16_t)m->in_hi;
    if (tdm_rtp_seq_newer(seq, hi16))
        return m->in_hi + (uint16_t)(seq - hi16);
    return m->in_hi - (uint16_t)(hi16 - seq);
}

static int classify(const struct tdm_seqmap *m, uint16_t seq, int64_t *e)
{
    *e = extend(m, seq);
    if (*e < m->in_first || *e <= m->floor || *e <= m->in_hi - TDM_SEQMAP_WINDOW)
        return TDM_SEQMAP_OLD;
    if (*e <= m->in_hi && seen_get(m, *e))
        return TDM_SEQMAP_DUP;
    return TDM_SEQMAP_FORWARD;
}

static void advance(struct tdm_seqmap *m, int64_t e)
{
    if (e - m->in_hi >= TDM_SEQMAP_WINDOW) {
        memset(m->seen, 0, sizeof m->seen);
    } else {
        for (int64_t i = m->in_hi + 1; i <= e; i++)
            seen_put(m, i, false);
    }
    m->in_hi = e;
}

/* seq_off already counts every drop; a packet below a drop run was numbered before it. */
static int64_t out_for(const struct tdm_seqmap *m, int64_t e)
{
    int64_t o = e + m->seq_off;
    for (unsigned i = 0; i < m->ndrops; i++)
        if (m->drop_lo[i] > e)
            o += m->drop_hi[i] - m->drop_lo[i] + 1;
    return o;
}

static void start_source(struct tdm_seqmap *m, uint32_t ssrc, uint16_t seq, uint32_t ts,
                         int64_t now_us, uint32_t clock_rate)
{
    int64_t out;
    uint32_t new_ts;
    if (m->started) {
        out = m->out_hi + 1;
        int64_t el = now_us - m->out_ts_hi_us;
        el = el < 0 ? 0 : el > MAX_GAP_US ? MAX_GAP_US : el;
        uint32_t dts = (uint32_t)(el * (int64_t)clock_rate / 1000000);
        new_ts = m->out_ts_hi + (dts ? dts : 1); /* a new frame needs a new timestamp */
    } else {
        out = m->next_seq;
        new_ts = m->next_ts;
    }
    m->started = true;
    m->switch_armed = false;
    m->src_ssrc = ssrc;
    m->in_first = m->in_hi = seq;
    m->floor = m->in_first - 1;
    m->seq_off = out - m->in_first;
    m->ts_off = new_ts - ts;
    m->out_hi = out;
    m->out_ts_hi = new_ts;
    m->out_ts_hi_us = now_us;
    m->ndrops = 0;
    memset(m->seen, 0, sizeof m->seen);
    seen_put(m, m->in_first, true);
}

int tdm_seqmap_map(struct tdm_seqmap *m, uint32_t ssrc, uint16_t seq, uint32_t ts, int64_t now_us,
                   uint32_t clock_rate, uint16_t *out_seq, uint32_t *out_ts)
{
    if (clock_rate == 0)
        return TDM_EINVAL;
    if (!m->started || (m->switch_armed && ssrc == m->switch_ssrc)) {
        start_source(m, ssrc, seq, ts, now_us, clock_rate);
        *out_seq = (uint16_t)m->out_hi;
        *out_ts = m->out_ts_hi;
        return TDM_SEQMAP_FORWARD;
    }
    if (ssrc != m->src_ssrc)
        return TDM_SEQMAP_OTHER;
    int64_t e;
    int r = classify(m, seq, &e);
    if (r != TDM_SEQMAP_FORWARD)
        return r;
    if (e > m->in_hi)
        advance(m, e);
    seen_put(m, e, true);
    int64_t o = out_for(m, e);
    if (o > m->out_hi)
        m->out_hi = o;
    uint32_t ots = ts + m->ts_off;
    if (tdm_rtp_ts_newer(ots, m->out_ts_hi)) {
        m->out_ts_hi = ots;
        m->out_ts_hi_us = now_us;
    }
    *out_seq = (uint16_t)o;
    *out_ts = ots;
    return TDM_SEQMAP_FORWARD;
}

static void remember_drop(struct tdm_seqmap *m, int64_t e)
{
    if (m->ndrops && m->drop_hi[m->ndrops - 1] == e - 1) {
        m->drop_hi[m->ndrops - 1] = e;
        return;
    }
    if (m->ndrops == TDM_SEQMAP_MAX_DROPS) {
        /* Forget the oldest run; packets at or below it can no longer be numbered
         * correctly, so they become too old. */
        if (m->drop_hi[0] > m->floor)
            m->floor = m->drop_hi[0];
        memmove(m->drop_lo, m->drop_lo + 1, (TDM_SEQMAP_MAX_DROPS - 1) * sizeof m->drop_lo[0]);
        memmove(m->drop_hi, m->drop_hi + 1, (TDM_SEQMAP_MAX_DROPS - 1) * sizeof m->drop_hi[0]);
        m->ndrops--;
    }
    m->drop_lo[m->ndrops] = e;
    m->drop_hi[m->ndrops] = e;
    m->ndrops++;
}

int tdm_seqmap_drop(struct tdm_seqmap *m, uint32_t ssrc, uint16_t seq)
{
    if (!m->started || ssrc != m->src_ssrc)
        return TDM_SEQMAP_OTHER;
    int64_t e;
    int r = classify(m, seq, &e);
    if (r != TDM_SEQMAP_FORWARD)
        return r;
    if (e > m->in_hi) {
        advance(m, e);
        remember_drop(m, e);
        m->seq_off--;
    }
    seen_put(m, e, true);
    return TDM_SEQMAP_FORWARD;
}

int tdm_seqmap_pad(struct tdm_seqmap *m, uint16_t *out_seq, uint32_t *out_ts)
{
    if (!m->started || m->switch_armed || out_for(m, m->in_hi) != m->out_hi)
        return TDM_ESTATE;
    m->floor = m->in_hi; /* what is older was numbered before the pad: it would collide */
    m->seq_off++;
    m->out_hi++;
    *out_seq = (uint16_t)m->out_hi;
    *out_ts = m->out_ts_hi;
    return 0;
}
