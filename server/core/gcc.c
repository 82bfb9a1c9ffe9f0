/* Send-side bandwidth estimation (include/tandem/gcc.h): delay-based trendline, overuse
 * detector with adaptive threshold, AIMD rate control, loss bound and probe clusters
 * (draft-ietf-rmcat-gcc-02 §5-§6). Per feedback, never per packet sent: no allocation. */
#include "tandem/gcc.h"

#include <math.h>
#include <string.h>

#define GROUP_US 5000  /* §5.2: a burst sent within 5 ms is one group */
#define SMOOTHING 0.9  /* of the accumulated delay */
#define TREND_GAIN 4.0 /* slope scale before the threshold */
#define THR_START 12.5 /* ms, §5.4 */
#define THR_MIN 6.0
#define THR_MAX 600.0
#define K_UP 0.0087 /* §5.4 threshold adaptation */
#define K_DOWN 0.039
#define OVERUSE_MS 10.0 /* §5.4: overuse must last this long */
#define BETA 0.85       /* §5.5 decrease factor */
#define ETA_PER_S 1.08  /* §5.5 multiplicative increase per second */
#define BUCKET_US 25000
#define LOSS_WINDOW_US 500000
#define LOSS_MIN_PKTS 30
#define PROBE_MIN_US 1000000
#define PROBE_MAX_US 4000000
#define PROBE_TIMEOUT_US 1500000
#define PROBE_AGAIN_US 500000  /* after a cluster that kept up: the next, from there */
#define PROBE_CHECK_US 2000000 /* losses this soon after a probe raised it: it lied */

enum { RC_HOLD, RC_INCREASE, RC_DECREASE };

void tdm_gcc_init(struct tdm_gcc *g, uint64_t start_bps, uint64_t min_bps, uint64_t max_bps,
                  int64_t now)
{
    memset(g, 0, sizeof *g);
    g->min_bps = min_bps;
    g->max_bps = max_bps;
    g->threshold = THR_START;
    g->time_over_ms = -1;
    g->thr_at_us = now;
    g->delay_bps = (double)start_bps;
    g->rc_state = RC_INCREASE;
    g->rc_at_us = now;
    g->cap_avg_kbps = -1;
    g->rtt_us = 200000;
    g->loss_bps = (double)max_bps;
    g->loss_at_us = now;
    g->probe_next_id = 1;
    g->probe_next_us = now;
    g->probe_backoff_us = PROBE_MIN_US;
    g->estimate_bps = start_bps;
}

void tdm_gcc_set_rtt(struct tdm_gcc *g, int64_t rtt_us)
{
    if (rtt_us > 0 && rtt_us < 10000000)
        g->rtt_us = rtt_us;
}

/* ---- the acknowledged rate --------------------------------------------------------------- */

static void rate_add(struct tdm_gcc *g, int64_t recv_us, uint32_t size)
{
    int64_t idx = recv_us / BUCKET_US;
    struct {
        int64_t *i;
        uint64_t *b;
    } k = {&g->bucket_idx[(uint64_t)idx % TDM_GCC_RATE_BUCKETS],
           &g->bucket_bytes[(uint64_t)idx % TDM_GCC_RATE_BUCKETS]};
    if (*k.i != idx) {
        *k.i = idx;
        *k.b = 0;
    }
    *k.b += size;
    if (!g->any_recv || recv_us < g->first_recv_us)
        g->first_recv_us = recv_us;
    if (!g->any_recv || recv_us > g->last_recv_us)
        g->last_recv_us = recv_us;
    g->any_recv = true;
}

static void rate_update(struct tdm_gcc *g)
{
    if (!g->any_recv)
        return;
    int64_t hi = g->last_recv_us / BUCKET_US, lo = hi - TDM_GCC_RATE_BUCKETS + 1;
    uint64_t bytes = 0;
    for (int i = 0; i < TDM_GCC_RATE_BUCKETS; i++)
        if (g->bucket_idx[i] >= lo && g->bucket_idx[i] <= hi)
            bytes += g->bucket_bytes[i];
    int64_t span = (int64_t)TDM_GCC_RATE_BUCKETS * BUCKET_US;
    int64_t seen = g->last_recv_us - g->first_recv_us + BUCKET_US;
    if (seen < span)
        span = seen < 100000 ? 100000 : seen; /* the first 100 ms say little */
    g->acked_bps = bytes * 8 * 1000000 / (uint64_t)span;
}

/* ---- delay: trendline and detector ------------------------------------------------------- */

static double slope(const struct tdm_gcc *g)
{
    double mx = 0, my = 0, num = 0, den = 0;
    for (int i = 0; i < TDM_GCC_TREND_WINDOW; i++) {
        mx += g->tx[i];
        my += g->ty[i];
    }
    mx /= TDM_GCC_TREND_WINDOW;
    my /= TDM_GCC_TREND_WINDOW;
    for (int i = 0; i < TDM_GCC_TREND_WINDOW; i++) {
        num += (g->tx[i] - mx) * (g->ty[i] - my);
        den += (g->tx[i] - mx) * (g->tx[i] - mx);
    }
    return den > 0 ? num / den : 0;
}

static void adapt_threshold(struct tdm_gcc *g, double m, int64_t now)
{
    double am = fabs(m);
    if (am > g->threshold + 15.0) { /* a spike (a route change): do not chase it */
        g->thr_at_us = now;
        return;
    }
    double dt_ms = (double)(now - g->thr_at_us) / 1000.0;
    if (dt_ms > 100)
        dt_ms = 100;
    if (dt_ms < 0)
        dt_ms = 0;
    g->threshold += (am < g->threshold ? K_DOWN : K_UP) * (am - g->threshold) * dt_ms;
    g->threshold = g->threshold < THR_MIN   ? THR_MIN
                   : g->threshold > THR_MAX ? THR_MAX
                                            : g->threshold;
    g->thr_at_us = now;
}

static void detect(struct tdm_gcc *g, double trend, double send_delta_ms, int64_t now)
{
    double m = (g->n_deltas < 60 ? g->n_deltas : 60) * trend * TREND_GAIN;
    if (m > g->threshold) {
        g->time_over_ms = g->time_over_ms < 0 ? send_delta_ms / 2 : g->time_over_ms + send_delta_ms;
        g->overuse_count++;
        if (g->time_over_ms > OVERUSE_MS && g->overuse_count > 1 && trend >= g->prev_trend) {
            g->time_over_ms = 0;
            g->overuse_count = 0;
            g->usage = TDM_GCC_OVERUSE;
        }
    } else if (m < -g->threshold) {
        g->time_over_ms = -1;
        g->overuse_count = 0;
        g->usage = TDM_GCC_UNDERUSE;
    } else {
        g->time_over_ms = -1;
        g->overuse_count = 0;
        g->usage = TDM_GCC_NORMAL;
    }
    g->prev_trend = trend;
    adapt_threshold(g, m, now);
}

static void trend_add(struct tdm_gcc *g, double recv_delta_ms, double send_delta_ms,
                      double arrival_ms, int64_t now)
{
    if (!g->have_first_arrival) {
        g->first_arrival_ms = arrival_ms;
        g->have_first_arrival = true;
    }
    if (g->n_deltas < 1000)
        g->n_deltas++;
    g->acc_ms += recv_delta_ms - send_delta_ms;
    g->smoothed_ms = SMOOTHING * g->smoothed_ms + (1 - SMOOTHING) * g->acc_ms;
    if (g->n_points == TDM_GCC_TREND_WINDOW) {
        memmove(g->tx, g->tx + 1, (TDM_GCC_TREND_WINDOW - 1) * sizeof g->tx[0]);
        memmove(g->ty, g->ty + 1, (TDM_GCC_TREND_WINDOW - 1) * sizeof g->ty[0]);
        g->n_points--;
    }
    g->tx[g->n_points] = arrival_ms - g->first_arrival_ms;
    g->ty[g->n_points] = g->smoothed_ms;
    g->n_points++;
    double trend = g->n_points == TDM_GCC_TREND_WINDOW ? slope(g) : g->prev_trend;
    detect(g, trend, send_delta_ms, now);
}

/* §5.2 grouping; a completed group against the one before gives one delay sample. */
static void group_add(struct tdm_gcc *g, const struct tdm_gcc_pkt *p, int64_t now)
{
    if (g->have_cur && p->send_us < g->cur_first_send)
        return; /* sent before this group: reordered, not a sample */
    if (g->have_cur && p->send_us - g->cur_first_send <= GROUP_US) {
        if (p->send_us > g->cur_last_send)
            g->cur_last_send = p->send_us;
        if (p->recv_us > g->cur_last_recv)
            g->cur_last_recv = p->recv_us;
        return;
    }
    if (g->have_cur) {
        if (g->have_prev) {
            double sd = (double)(g->cur_last_send - g->prev_last_send) / 1000.0;
            double rd = (double)(g->cur_last_recv - g->prev_last_recv) / 1000.0;
            trend_add(g, rd, sd, (double)g->cur_last_recv / 1000.0, now);
        }
        g->prev_last_send = g->cur_last_send;
        g->prev_last_recv = g->cur_last_recv;
        g->have_prev = true;
    }
    g->have_cur = true;
    g->cur_first_send = g->cur_last_send = p->send_us;
    g->cur_last_recv = p->recv_us;
}

/* ---- rate control ------------------------------------------------------------------------ */

static void remember_capacity(struct tdm_gcc *g, double kbps)
{
    if (g->cap_avg_kbps < 0) {
        g->cap_avg_kbps = kbps;
        g->cap_var = 0.4;
        return;
    }
    g->cap_avg_kbps = 0.95 * g->cap_avg_kbps + 0.05 * kbps;
    double norm = g->cap_avg_kbps > 1 ? g->cap_avg_kbps : 1;
    double e = g->cap_avg_kbps - kbps;
    g->cap_var = 0.95 * g->cap_var + 0.05 * e * e / norm;
    g->cap_var = g->cap_var < 0.4 ? 0.4 : g->cap_var > 2.5 ? 2.5 : g->cap_var;
}

static void increase(struct tdm_gcc *g, double acked, int64_t now)
{
    double dt = (double)(now - g->rc_at_us) / 1e6;
    dt = dt < 0 ? 0 : dt > 1 ? 1 : dt;
    double kbps = g->delay_bps / 1000.0, sd = sqrt(g->cap_var * g->cap_avg_kbps);
    if (g->cap_avg_kbps >= 0 && kbps > g->cap_avg_kbps + 3 * sd)
        g->cap_avg_kbps = -1; /* past what the link carried before: it changed */
    double next;
    if (g->cap_avg_kbps >= 0) { /* near the known capacity: about a packet per response */
        double resp_s = (double)(g->rtt_us + 100000) / 1e6;
        next = g->delay_bps + dt * 1200 * 8 / resp_s;
    } else {
        next = g->delay_bps * pow(ETA_PER_S, dt);
    }
    double limit = 1.5 * acked + 10000;
    if (acked > 0 && next > limit)
        next = g->delay_bps > limit ? g->delay_bps : limit;
    g->delay_bps = next;
}

static void rate_control(struct tdm_gcc *g, int64_t now)
{
    double acked = (double)g->acked_bps;
    switch (g->usage) {
    case TDM_GCC_OVERUSE:
        if (g->rc_state != RC_DECREASE || now - g->decreased_at_us > g->rtt_us + 100000) {
            double next = BETA * (acked > 0 ? acked : g->delay_bps);
            if (next < g->delay_bps)
                g->delay_bps = next;
            if (acked > 0)
                remember_capacity(g, acked / 1000.0);
            g->decreased_at_us = now;
        }
        g->rc_state = RC_DECREASE;
        break;
    case TDM_GCC_UNDERUSE: g->rc_state = RC_HOLD; break;
    case TDM_GCC_NORMAL:
        if (g->rc_state != RC_INCREASE)
            g->rc_state = RC_INCREASE;
        else
            increase(g, acked, now);
        /* What the link delivered without queueing or loss it carries. */
        if (g->last_loss < 0.02 && acked > g->delay_bps && now - g->decreased_at_us > 1000000)
            g->delay_bps = acked;
        break;
    }
    g->rc_at_us = now;
}

/* ---- loss -------------------------------------------------------------------------------- */

static void loss_update(struct tdm_gcc *g, int64_t now)
{
    if (g->loss_total < LOSS_MIN_PKTS || now - g->loss_at_us < LOSS_WINDOW_US)
        return;
    double loss = (double)g->loss_lost / g->loss_total;
    double acked = (double)g->acked_bps;
    if (loss > 0.10 && now < g->probe_check_until_us) {
        /* A probe said "room" and the line loses a tenth right after: a policer let the short
         * cluster through on its burst allowance. Back to the estimate before it, and the
         * next probe waits as after a failed one. */
        if (g->delay_bps > g->probe_prev_bps)
            g->delay_bps = g->probe_prev_bps;
        if (g->loss_bps > g->probe_prev_bps)
            g->loss_bps = g->probe_prev_bps;
        g->probe_check_until_us = 0;
        /* the next clusters at once longer than such a burst (a policer's allowance is
         * commonly a quarter of a second of its rate), and not before PROBE_MAX_US */
        g->probe_lies = TDM_GCC_MAX_LIES;
        g->probe_backoff_us = g->probe_backoff_us * 2 > 2 * PROBE_MAX_US ? 2 * PROBE_MAX_US
                              : g->probe_backoff_us * 2 < PROBE_MAX_US   ? PROBE_MAX_US
                                                                         : g->probe_backoff_us * 2;
        g->probe_next_us = now + g->probe_backoff_us;
    }
    if (loss > 0.10) {
        double base = g->loss_bps < g->delay_bps ? g->loss_bps : g->delay_bps;
        g->loss_bps = (base > acked ? base : acked) * (1 - loss / 2);
        /* A quarter lost or more: the line is full, what came through is what it carries
         * (a policer drops without queueing, so the delay never tells). */
        if (loss > 0.25 && acked > 0 && acked < g->loss_bps)
            g->loss_bps = acked;
    } else if (loss < 0.02) {
        if (g->probe_check_until_us && now >= g->probe_check_until_us) {
            g->probe_check_until_us = 0; /* the probe's result held: probes may come quickly */
            g->probe_backoff_us = PROBE_MIN_US;
            if (g->probe_lies)
                g->probe_lies--;
        }
        /* up by a step, not at once to the delay-based rate: a policer shows no delay, only
         * loss once its rate is passed, so a jump would run into it again at once */
        g->loss_bps = g->loss_bps * ETA_PER_S;
        if (g->loss_bps > (double)g->max_bps)
            g->loss_bps = (double)g->max_bps;
    }
    g->last_loss = loss;
    g->loss_lost = g->loss_total = 0;
    g->loss_at_us = now;
}

/* ---- probes ------------------------------------------------------------------------------ */

/* A cluster's rate: twice the estimate, within 1.5 times the want and the maximum; 0 when
 * no cluster is to start (one under way, or the estimate near the want). */
static uint64_t probe_rate(const struct tdm_gcc *g, uint64_t want_bps)
{
    if (g->probe_id || (double)g->estimate_bps >= 0.9 * (double)want_bps)
        return 0;
    uint64_t rate = 2 * g->estimate_bps;
    if (rate > want_bps * 3 / 2)
        rate = want_bps * 3 / 2;
    if (rate > g->max_bps)
        rate = g->max_bps;
    return rate > g->estimate_bps ? rate : 0;
}

int64_t tdm_gcc_probe_due(const struct tdm_gcc *g, uint64_t want_bps)
{
    return probe_rate(g, want_bps) ? g->probe_next_us : INT64_MAX;
}

bool tdm_gcc_probe_start(struct tdm_gcc *g, uint64_t want_bps, int64_t now, uint16_t *id,
                         uint64_t *bps)
{
    uint64_t rate = probe_rate(g, want_bps);
    if (!rate || now < g->probe_next_us)
        return false;
    g->probe_id = g->probe_next_id++;
    if (g->probe_next_id == 0)
        g->probe_next_id = 1;
    g->probe_bps = rate;
    g->probe_planned = g->probe_rx = g->probe_lost = 0;
    g->probe_bytes = 0;
    g->probe_started_us = now;
    *id = g->probe_id;
    *bps = rate;
    return true;
}

void tdm_gcc_probe_sent(struct tdm_gcc *g, uint16_t id, uint32_t packets)
{
    if (id && id == g->probe_id)
        g->probe_planned = packets;
}

static void probe_pkt(struct tdm_gcc *g, const struct tdm_gcc_pkt *p)
{
    if (!p->received) {
        g->probe_lost++;
        return;
    }
    if (g->probe_rx == 0) {
        g->probe_send_lo = g->probe_send_hi = p->send_us;
        g->probe_recv_lo = g->probe_recv_hi = p->recv_us;
    }
    g->probe_send_lo = p->send_us < g->probe_send_lo ? p->send_us : g->probe_send_lo;
    g->probe_send_hi = p->send_us > g->probe_send_hi ? p->send_us : g->probe_send_hi;
    g->probe_recv_lo = p->recv_us < g->probe_recv_lo ? p->recv_us : g->probe_recv_lo;
    g->probe_recv_hi = p->recv_us > g->probe_recv_hi ? p->recv_us : g->probe_recv_hi;
    g->probe_rx++;
    g->probe_bytes += p->size;
}

/* A cluster whose packets all came back: its rate is what the link carried, when the
 * receive spacing kept up with the send spacing. */
static void probe_finish(struct tdm_gcc *g, int64_t now)
{
    bool done = g->probe_planned && g->probe_rx + g->probe_lost >= g->probe_planned;
    if (!done && now - g->probe_started_us < PROBE_TIMEOUT_US)
        return;
    double result = 0;
    if (done && g->probe_rx >= 4 && g->probe_lost * 10 <= g->probe_planned) {
        double bytes = (double)g->probe_bytes * (g->probe_rx - 1) / g->probe_rx;
        double s_us = (double)(g->probe_send_hi - g->probe_send_lo);
        double r_us = (double)(g->probe_recv_hi - g->probe_recv_lo);
        double send = s_us > 0 ? bytes * 8e6 / s_us : (double)g->probe_bps;
        double recv = r_us > 0 ? bytes * 8e6 / r_us : (double)g->probe_bps;
        result = recv < 0.9 * send ? 0.95 * recv : (send < recv ? send : recv);
        if (result > (double)g->probe_bps)
            result = (double)g->probe_bps;
    }
    g->probe_id = 0;
    if (result > 1.1 * (double)g->estimate_bps && g->usage != TDM_GCC_OVERUSE) {
        g->probe_result_bps = (uint64_t)result;
        if (!g->probe_check_until_us) /* the estimate before a chain of probes */
            g->probe_prev_bps = (double)g->estimate_bps;
        g->probe_check_until_us = now + PROBE_CHECK_US;
        g->probe_result_us = now;
        if (result > g->delay_bps)
            g->delay_bps = result;
        if (result > g->loss_bps)
            g->loss_bps = result;
        g->cap_avg_kbps = -1;
        /* the backoff is kept until the result held (a policer's burst can fool a cluster) */
        g->probe_next_us = now + PROBE_AGAIN_US;
    } else {
        g->probe_next_us = now + g->probe_backoff_us;
        g->probe_backoff_us *= 2;
        if (g->probe_backoff_us > PROBE_MAX_US)
            g->probe_backoff_us = PROBE_MAX_US;
    }
}

/* ---- feedback ---------------------------------------------------------------------------- */

void tdm_gcc_on_feedback(struct tdm_gcc *g, const struct tdm_gcc_pkt *p, size_t n, int64_t now)
{
    for (size_t i = 0; i < n; i++) {
        g->loss_total++;
        g->reported++;
        g->reported_lost += !p[i].received;
        if (p[i].probe && p[i].probe == g->probe_id)
            probe_pkt(g, &p[i]);
        if (!p[i].received) {
            g->loss_lost++;
            continue;
        }
        rate_add(g, p[i].recv_us, p[i].size);
        group_add(g, &p[i], now);
    }
    bool any = false;
    for (size_t i = 0; i < n && !any; i++)
        any = p[i].received;
    if (any) {
        rate_update(g);
        loss_update(g, now);
        rate_control(g, now);
    }
    if (g->probe_id)
        probe_finish(g, now);
    double est = g->delay_bps < g->loss_bps ? g->delay_bps : g->loss_bps;
    if (g->delay_bps > (double)g->max_bps)
        g->delay_bps = (double)g->max_bps;
    if (g->delay_bps < (double)g->min_bps)
        g->delay_bps = (double)g->min_bps;
    est = est < (double)g->min_bps   ? (double)g->min_bps
          : est > (double)g->max_bps ? (double)g->max_bps
                                     : est;
    g->estimate_bps = (uint64_t)est;
}
