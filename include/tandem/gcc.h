/* A send-side bandwidth estimator for one transport, fed with transport-wide feedback
 * (what was sent when, what arrived when): Google congestion control as
 * draft-ietf-rmcat-gcc-02 describes it, in the send-side form of libwebrtc's goog_cc, written
 * afresh for the SFU's downlinks.
 *
 * - Delay-based (§5): packets sent within 5 ms form a group; per pair of groups the
 *   inter-arrival minus inter-departure time is the delay variation, accumulated, smoothed
 *   and fitted with a least-squares line over the last 20 groups (a "trendline"); its slope,
 *   scaled, is compared with an adaptive threshold (§5.4): above it for 10 ms is overuse,
 *   below its negative is underuse. The rate controller (§5.5) decreases to 0.85 times the
 *   rate that was acknowledged on overuse, holds on underuse and otherwise increases: 8 % a
 *   second far from the link's last known capacity, about a packet per response time near
 *   it, never past 1.5 times the acknowledged rate. Where it departs from the draft: a rate
 *   the link delivered cleanly (no overuse, loss under 2 %) is never estimated below.
 * - Loss-based (§6), over windows of at least 500 ms and 30 packets: loss over 10 % bounds
 *   the estimate to (1 - loss / 2) times the larger of the bound and the acknowledged rate
 *   (so a sender that does not follow the estimate does not drive it to the floor), and
 *   over 25 % to the acknowledged rate at most (a full line: a policer drops without
 *   queueing, so only the loss tells); under 2 % lifts the bound, in between holds it.
 * - Probing: when the sender wants more than the estimate, it asks for a cluster of padding
 *   at twice the estimate (tdm_gcc_probe_start); the cluster's receive rate, when it kept
 *   up, raises the estimate at once, which is how a link recovers in seconds instead of
 *   minutes of 8 % steps. Failed probes back off (1 s doubling to 4 s). A policer lets a
 *   short cluster through on its burst allowance: when a tenth is lost within 2 s of probes
 *   raising the estimate, it goes back to where it was before them, the next probe waits
 *   4 s, doubling to 8 s, and clusters are 8 times as long (probe_lies), shrinking again
 *   as results hold.
 *
 * The struct is embedded by value (no allocation); time is an argument (µs). Not a parser:
 * the caller hands in checked feedback (core/twcc.c). */
#ifndef TANDEM_GCC_H
#define TANDEM_GCC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TDM_GCC_TREND_WINDOW 20
#define TDM_GCC_RATE_BUCKETS 20 /* of 25 ms: the acknowledged rate over 500 ms */
#define TDM_GCC_MAX_LIES 3      /* probe clusters grow to 2^3 times their length */

/* One packet a feedback reports, joined with what the sender remembered of it. */
struct tdm_gcc_pkt {
    int64_t send_us; /* the sender's clock */
    int64_t recv_us; /* the receiver's clock; only when received */
    uint32_t size;   /* bytes on the wire */
    bool received;
    uint16_t probe; /* probe cluster id, 0: media */
};

enum tdm_gcc_usage { TDM_GCC_NORMAL, TDM_GCC_OVERUSE, TDM_GCC_UNDERUSE };

struct tdm_gcc {
    uint64_t min_bps, max_bps;
    /* arrival groups */
    bool have_cur, have_prev;
    int64_t cur_first_send, cur_last_send, cur_last_recv;
    int64_t prev_last_send, prev_last_recv;
    /* trendline */
    double acc_ms, smoothed_ms, first_arrival_ms, prev_trend;
    bool have_first_arrival;
    double tx[TDM_GCC_TREND_WINDOW], ty[TDM_GCC_TREND_WINDOW];
    uint32_t n_points, n_deltas;
    /* overuse detector */
    double threshold, time_over_ms;
    int overuse_count;
    int64_t thr_at_us;
    enum tdm_gcc_usage usage;
    /* rate control */
    int rc_state; /* hold, increase, decrease */
    double delay_bps;
    int64_t rc_at_us, decreased_at_us;
    double cap_avg_kbps, cap_var; /* the link capacity seen at decreases, -1: unknown */
    int64_t rtt_us;
    /* acknowledged rate */
    uint64_t bucket_bytes[TDM_GCC_RATE_BUCKETS];
    int64_t bucket_idx[TDM_GCC_RATE_BUCKETS];
    int64_t first_recv_us, last_recv_us;
    bool any_recv;
    /* loss */
    uint32_t loss_lost, loss_total;
    int64_t loss_at_us;
    uint64_t reported, reported_lost; /* every packet feedback told of since the start */
    double loss_bps, last_loss;
    /* probing */
    uint16_t probe_id, probe_next_id;
    uint32_t probe_planned, probe_rx, probe_lost;
    uint64_t probe_bps, probe_bytes;
    int64_t probe_started_us, probe_send_lo, probe_send_hi, probe_recv_lo, probe_recv_hi;
    int64_t probe_next_us, probe_backoff_us;
    uint64_t probe_result_bps;    /* the last successful cluster's rate */
    int64_t probe_result_us;      /* when it was measured */
    double probe_prev_bps;        /* the estimate before it */
    int64_t probe_check_until_us; /* losses before this: the result was a policer's burst */
    uint8_t probe_lies; /* results a policer's burst faked lately: longer clusters (x 2^n) */
    /* output */
    uint64_t estimate_bps, acked_bps;
};

void tdm_gcc_init(struct tdm_gcc *g, uint64_t start_bps, uint64_t min_bps, uint64_t max_bps,
                  int64_t now);
/* The round-trip time, when known (the additive increase and decrease spacing use it). */
void tdm_gcc_set_rtt(struct tdm_gcc *g, int64_t rtt_us);
/* One feedback's packets, in sequence order. */
void tdm_gcc_on_feedback(struct tdm_gcc *g, const struct tdm_gcc_pkt *p, size_t n, int64_t now);
/* Whether a probe cluster should start now: want_bps is what the sender would send if the
 * link allowed it. Fills the cluster id (never 0) and its rate. */
bool tdm_gcc_probe_start(struct tdm_gcc *g, uint64_t want_bps, int64_t now, uint16_t *id,
                         uint64_t *bps);
/* When tdm_gcc_probe_start with want_bps would next start a cluster, as things stand (a
 * time in the past: at once); INT64_MAX while it would not (a cluster under way, or the
 * estimate near want_bps): then only feedback or another want changes that. */
int64_t tdm_gcc_probe_due(const struct tdm_gcc *g, uint64_t want_bps);
/* The sender finished cluster id after `packets` packets. */
void tdm_gcc_probe_sent(struct tdm_gcc *g, uint16_t id, uint32_t packets);

static inline uint64_t tdm_gcc_estimate(const struct tdm_gcc *g)
{
    return g->estimate_bps;
}

#endif
