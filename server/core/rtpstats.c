/* Receiver and sender statistics for RTCP reports (RFC 3550 §6.4 and appendix A).
 * Per-packet code: no allocation, no locks, no logging. */
#include "tandem/rtpstats.h"

#include "tandem/err.h"
#include "tandem/rtp.h"

#include <string.h>

/* RFC 3550 A.1 */
#define SEQ_MOD (1u << 16)
#define MAX_DROPOUT 3000
#define MAX_MISORDER 100

/* Seconds between the NTP epoch (1900) and the Unix epoch (1970), RFC 5905 §6. */
#define NTP_UNIX_OFFSET 2208988800ull
/* Extrapolation of an RTP timestamp is capped: a stream silent for longer than this
 * gets no meaningful SR timestamp anyway, and the cap keeps the product in range. */
#define MAX_EXTRAPOLATE_US (3600LL * 1000000)

/* Microseconds to whole ticks of `rate`, modulo 2^32, without overflowing for any now. */
static uint32_t ticks(int64_t us, uint32_t rate)
{
    int64_t sec = us / 1000000, rem = us % 1000000;
    if (rem < 0) {
        rem += 1000000;
        sec -= 1;
    }
    return (uint32_t)((uint64_t)sec * rate + (uint64_t)rem * rate / 1000000);
}

void tdm_rtpstats_rx_init(struct tdm_rtpstats_rx *s, uint32_t ssrc, uint32_t clock_rate)
{
    memset(s, 0, sizeof *s);
    s->ssrc = ssrc;
    s->clock_rate = clock_rate;
}

static void init_seq(struct tdm_rtpstats_rx *s, uint16_t seq)
{
    s->base_seq = seq;
    s->max_seq = seq;
    s->bad_seq = SEQ_MOD + 1; /* so seq == bad_seq is false */
    s->cycles = 0;
    s->received = 0;
    s->received_prior = 0;
    s->expected_prior = 0;
    s->have_transit = false;
}

/* A.8: J += (|D| - J) / 16, kept as 16 * J in integers. */
static void update_jitter(struct tdm_rtpstats_rx *s, uint32_t rtp_ts, int64_t now_us)
{
    uint32_t transit = ticks(now_us, s->clock_rate) - rtp_ts;
    if (s->have_transit) {
        int64_t d = (int32_t)(transit - s->transit);
        if (d < 0)
            d = -d;
        int64_t j = (int64_t)s->jitter_q4 + d - (((int64_t)s->jitter_q4 + 8) >> 4);
        s->jitter_q4 = j < 0 ? 0 : j > UINT32_MAX ? UINT32_MAX : (uint32_t)j;
    }
    s->transit = transit;
    s->have_transit = true;
}

int tdm_rtpstats_rx_on_packet(struct tdm_rtpstats_rx *s, uint16_t seq, uint32_t rtp_ts,
                              int64_t now_us, size_t bytes)
{
    bool advanced = false;
    if (!s->started) {
        s->started = true;
        init_seq(s, seq);
        advanced = true;
    } else {
        uint16_t udelta = (uint16_t)(seq - s->max_seq);
        if (udelta < MAX_DROPOUT) {
            if (udelta != 0) {
                if (seq < s->max_seq)
                    s->cycles += SEQ_MOD;
                s->max_seq = seq;
                advanced = true;
            }
        } else if (udelta <= SEQ_MOD - MAX_MISORDER) {
            /* A very large jump: believe it only when the next packet follows it. */
            if (seq != s->bad_seq) {
                s->bad_seq = (seq + 1) & (SEQ_MOD - 1);
                return TDM_EAGAIN;
            }
            init_seq(s, seq);
            advanced = true;
        }
        /* else: duplicate or reordered, counted below as A.1 does */
    }
    s->received++;
    s->bytes += bytes;
    if (advanced && s->clock_rate)
        update_jitter(s, rtp_ts, now_us);
    return 0;
}

void tdm_rtpstats_rx_on_sr(struct tdm_rtpstats_rx *s, uint64_t ntp, int64_t now_us)
{
    s->have_sr = true;
    s->lsr = tdm_rtpstats_ntp_mid32(ntp);
    s->lsr_recv_us = now_us;
}

uint32_t tdm_rtpstats_rx_ext_highest(const struct tdm_rtpstats_rx *s)
{
    return s->cycles + s->max_seq;
}

static int64_t expected(const struct tdm_rtpstats_rx *s)
{
    return (int64_t)(uint32_t)(tdm_rtpstats_rx_ext_highest(s) - s->base_seq) + 1;
}

int64_t tdm_rtpstats_rx_lost(const struct tdm_rtpstats_rx *s)
{
    return s->started ? expected(s) - s->received : 0;
}

uint32_t tdm_rtpstats_rx_interval_expected(const struct tdm_rtpstats_rx *s)
{
    return s->started ? (uint32_t)expected(s) - s->expected_prior : 0;
}

uint32_t tdm_rtpstats_rx_jitter(const struct tdm_rtpstats_rx *s)
{
    return s->jitter_q4 >> 4;
}

/* A.3: loss over the interval since the previous report, as an 8-bit fraction. */
static uint8_t fraction_lost(struct tdm_rtpstats_rx *s)
{
    uint32_t exp = (uint32_t)expected(s);
    uint32_t exp_int = exp - s->expected_prior;
    uint32_t rec_int = s->received - s->received_prior;
    s->expected_prior = exp;
    s->received_prior = s->received;
    int64_t lost_int = (int64_t)exp_int - rec_int;
    if (exp_int == 0 || lost_int <= 0)
        return 0;
    int64_t f = (lost_int << 8) / exp_int;
    return f > 255 ? 255 : (uint8_t)f;
}

int tdm_rtpstats_rx_report(struct tdm_rtpstats_rx *s, int64_t now_us, struct tdm_rtcp_rb *rb)
{
    if (!s->started)
        return TDM_EAGAIN;
    memset(rb, 0, sizeof *rb);
    rb->ssrc = s->ssrc;
    rb->fraction_lost = fraction_lost(s);
    /* 24-bit signed field (§6.4.1): clamp. */
    int64_t lost = tdm_rtpstats_rx_lost(s);
    rb->cumulative_lost = (int32_t)(lost > 0x7fffff    ? 0x7fffff
                                    : lost < -0x800000 ? -0x800000
                                                       : lost);
    rb->ext_highest_seq = tdm_rtpstats_rx_ext_highest(s);
    rb->jitter = tdm_rtpstats_rx_jitter(s);
    if (s->have_sr) {
        int64_t d = now_us - s->lsr_recv_us;
        uint64_t dlsr = d <= 0 ? 0 : ((uint64_t)d << 16) / 1000000;
        rb->lsr = s->lsr;
        rb->dlsr = dlsr > UINT32_MAX ? UINT32_MAX : (uint32_t)dlsr;
    }
    return 0;
}

/* --- sender side --------------------------------------------------------------------- */

void tdm_rtpstats_tx_init(struct tdm_rtpstats_tx *s, uint32_t ssrc, uint32_t clock_rate)
{
    memset(s, 0, sizeof *s);
    s->ssrc = ssrc;
    s->clock_rate = clock_rate;
}

void tdm_rtpstats_tx_on_packet(struct tdm_rtpstats_tx *s, uint32_t rtp_ts, size_t payload_len,
                               int64_t now_us)
{
    s->packets++;
    s->octets += (uint32_t)payload_len;
    /* The newest timestamp and when it was first sent anchor the SR extrapolation. */
    if (!s->any || tdm_rtp_ts_newer(rtp_ts, s->last_ts)) {
        s->last_ts = rtp_ts;
        s->last_ts_us = now_us;
    }
    s->any = true;
}

int tdm_rtpstats_tx_sr(struct tdm_rtpstats_tx *s, int64_t wall_us, int64_t now_us,
                       struct tdm_rtcp_sr *sr)
{
    if (!s->any)
        return TDM_EAGAIN;
    int64_t el = now_us - s->last_ts_us;
    el = el < 0 ? 0 : el > MAX_EXTRAPOLATE_US ? MAX_EXTRAPOLATE_US : el;
    memset(sr, 0, sizeof *sr);
    sr->ssrc = s->ssrc;
    sr->ntp = tdm_rtpstats_ntp_from_wall_us(wall_us);
    sr->rtp_ts = s->last_ts + (uint32_t)(el * (int64_t)s->clock_rate / 1000000);
    sr->packet_count = s->packets;
    sr->octet_count = s->octets;
    s->sr_mid[s->sr_next] = tdm_rtpstats_ntp_mid32(sr->ntp);
    s->sr_us[s->sr_next] = now_us;
    s->sr_next = (s->sr_next + 1) % TDM_RTPSTATS_SR_MEMORY;
    return 0;
}

int tdm_rtpstats_tx_rtt(struct tdm_rtpstats_tx *s, const struct tdm_rtcp_rb *rb, int64_t now_us,
                        int64_t *rtt_us)
{
    if (rb->lsr == 0)
        return TDM_EAGAIN;
    for (unsigned i = 0; i < TDM_RTPSTATS_SR_MEMORY; i++) {
        if (s->sr_mid[i] != rb->lsr)
            continue;
        int64_t rtt = now_us - s->sr_us[i] - (int64_t)(((uint64_t)rb->dlsr * 1000000) >> 16);
        *rtt_us = rtt < 0 ? 0 : rtt;
        return 0;
    }
    return TDM_ENOTFOUND;
}

uint64_t tdm_rtpstats_ntp_from_wall_us(int64_t wall_us)
{
    int64_t sec = wall_us / 1000000, rem = wall_us % 1000000;
    if (rem < 0) {
        rem += 1000000;
        sec -= 1;
    }
    uint64_t frac = ((uint64_t)rem << 32) / 1000000;
    return (((uint64_t)sec + NTP_UNIX_OFFSET) << 32) | frac;
}

uint32_t tdm_rtpstats_ntp_mid32(uint64_t ntp)
{
    return (uint32_t)(ntp >> 16);
}
