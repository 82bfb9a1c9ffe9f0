/* tandem-load: receiving. Loss from unique stamped packets, one-way delay from the stamp,
 * RFC 3550 jitter, receiver and sender reports, and the publisher's answers to the
 * server's NACK (resend from the history) and PLI/FIR (next picture a keyframe). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "load.h"
#include "tandem/rtcp.h"
#include "tandem/rtp.h"
#include "tandem/util.h"

#define SEEN_WINDOW 4096

void ld_stats_delay(struct ld_stats *st, int64_t us)
{
    if (us < 0)
        us = 0;
    int64_t fine_end = (int64_t)LD_HIST_FINE * LD_HIST_BIN_US;
    int64_t bin = us < fine_end ? us / LD_HIST_BIN_US : LD_HIST_FINE + (us - fine_end) / 1000;
    st->hist[bin < LD_HIST_BINS ? bin : LD_HIST_BINS]++;
    if (us > st->delay_max_us)
        st->delay_max_us = us;
    st->delay_n++;
}

/* Upper edge of the bin holding quantile q (nearest rank: the ceil(q * n)-th smallest
 * delay), in ms; the maximum when that is in the overflow bin. */
double ld_hist_quantile_ms(const struct ld_stats *s, double q)
{
    if (s->delay_n == 0)
        return 0;
    double r = ceil(q * (double)s->delay_n);
    uint64_t rank = r < 1 ? 1 : r > (double)s->delay_n ? s->delay_n : (uint64_t)r;
    uint64_t acc = 0;
    for (size_t i = 0; i < LD_HIST_BINS; i++) {
        acc += s->hist[i];
        if (acc >= rank)
            return i < LD_HIST_FINE ? (double)((i + 1) * LD_HIST_BIN_US) / 1000.0
                                    : (double)LD_HIST_FINE * LD_HIST_BIN_US / 1000.0 +
                                          (double)(i + 1 - LD_HIST_FINE);
    }
    return (double)s->delay_max_us / 1000.0;
}

static struct ld_rx *rx_for(struct ld_conn *c, uint32_t ssrc, uint8_t pt)
{
    for (int i = 0; i < c->nrx; i++)
        if (c->rx[i].ssrc == ssrc)
            return &c->rx[i];
    if (c->nrx >= LD_MAX_RX)
        return NULL;
    struct ld_rx *r = &c->rx[c->nrx++];
    memset(r, 0, sizeof *r);
    r->ssrc = ssrc;
    r->video = pt == c->video_pt;
    return r;
}

static bool seen_bit(struct ld_rx *r, int64_t ext, bool set)
{
    uint64_t idx = (uint64_t)ext % SEEN_WINDOW;
    bool was = (r->seen[idx / 64] >> (idx % 64)) & 1;
    if (set)
        r->seen[idx / 64] |= 1ull << (idx % 64);
    else
        r->seen[idx / 64] &= ~(1ull << (idx % 64));
    return was;
}

/* Unwraps seq; returns false for a duplicate or a packet older than the window. A packet
 * past a gap sets *gap_n to the number of sequence numbers missing before it (else 0);
 * *late is set for a packet below the highest seen (reordered or resent). */
static bool rx_seq(struct ld_rx *r, uint16_t seq, int64_t *gap_from, int *gap_n, bool *late)
{
    *gap_n = 0;
    *late = false;
    if (!r->started) {
        r->started = true;
        r->max_seq = seq;
        r->first_seq = seq;
        seen_bit(r, seq, true);
        return true;
    }
    int64_t ext = r->max_seq + (int16_t)(uint16_t)(seq - (uint16_t)r->max_seq);
    if (ext > r->max_seq) {
        for (int64_t s = r->max_seq + 1; s <= ext && s <= r->max_seq + SEEN_WINDOW; s++)
            seen_bit(r, s, false);
        *gap_from = r->max_seq + 1;
        *gap_n = ext - r->max_seq - 1 > 64 ? 64 : (int)(ext - r->max_seq - 1);
        r->max_seq = ext;
    } else if (ext <= r->max_seq - SEEN_WINDOW || ext < r->first_seq) {
        return false;
    } else {
        *late = true;
    }
    return !seen_bit(r, ext, true);
}

/* --nack: ask for what a gap lost, once (a browser asks again; once is enough on the links
 * this tool measures, and the count of late packets shows what came back). */
static void rx_nack(struct ld_conn *c, const struct ld_rx *r, int64_t from, int n)
{
    uint16_t lost[64];
    for (int i = 0; i < n; i++)
        lost[i] = (uint16_t)(from + i);
    uint8_t b[LD_PKT_MAX + TDM_SRTP_MAX_TRAILER];
    int len = tdm_rtcp_build_nack(b, LD_PKT_MAX, c->p->audio.ssrc ^ 0x5a5a5a5au, r->ssrc, lost,
                                  (size_t)n);
    if (len > 0)
        ld_conn_send_rtcp(c, b, (size_t)len);
    g_mutex_lock(&c->p->sh->lock);
    c->p->sh->st.nacks_out += (uint64_t)n;
    g_mutex_unlock(&c->p->sh->lock);
}

static void rx_jitter(struct ld_rx *r, uint32_t ts, int64_t now)
{
    double clock = r->video ? 90000.0 : 48000.0;
    int64_t arrival = (int64_t)((double)now * clock / 1e6);
    int64_t transit = arrival - (int64_t)ts;
    if (r->received > 1) {
        int64_t d = transit - r->transit_prev;
        if (d < 0)
            d = -d;
        if (d < (int64_t)clock) /* ignore the jump of a wrapped or reset timestamp */
            r->jitter += ((double)d - r->jitter) / 16.0;
    }
    r->transit_prev = transit;
}

void ld_media_on_rtp(struct ld_conn *c, uint8_t *pkt, size_t len, int64_t now)
{
    struct tdm_rtp_view v;
    char err[64];
    struct ld_stats *st = &c->p->sh->st;
    if (tdm_rtp_parse(&v, pkt, len, err, sizeof err) != 0 || !c->is_sub)
        return;
    struct ld_rx *r = rx_for(c, v.ssrc, v.pt);
    if (!r)
        return;
    int64_t gap_from = 0;
    int gap_n = 0;
    bool late = false;
    bool fresh = rx_seq(r, v.seq, &gap_from, &gap_n, &late);
    if (gap_n > 0 && r->video && c->p->sh->g->o.nack)
        rx_nack(c, r, gap_from, gap_n);
    if (fresh) {
        r->received++;
        rx_jitter(r, v.ts, now);
    }
    const uint8_t *s = pkt + v.payload_off + v.payload_len - LD_STAMP_LEN;
    bool stamped = v.payload_len >= LD_STAMP_LEN && s[0] == 'T' && s[1] == 'L';
    int64_t sent = 0;
    for (int i = 0; stamped && i < 8; i++)
        sent = (int64_t)((uint64_t)sent << 8 | s[8 + i]);
    g_mutex_lock(&c->p->sh->lock);
    st->recv_pkts++;
    st->recv_bytes += len;
    st->late_pkts += fresh && late;
    if (!fresh)
        st->dup_pkts++;
    else if (!stamped)
        st->bad_pkts++;
    else if (s[2] & 1) {
        st->m_recv_bytes += len;
        if (s[3])
            st->m_recv_video++;
        else
            st->m_recv_audio++;
        ld_stats_delay(st, now - sent);
    }
    g_mutex_unlock(&c->p->sh->lock);
}

static void on_nack(struct ld_part *p, const struct tdm_rtcp_pkt *pkt)
{
    struct tdm_rtcp_fb fb;
    uint16_t seqs[256];
    if (tdm_rtcp_parse_nack(pkt, &fb) != 0 || fb.media_ssrc != p->video.ssrc || !p->rtx)
        return;
    size_t n = tdm_rtcp_nack_expand(&fb, seqs, 256);
    size_t resent = 0;
    for (size_t i = 0; i < n; i++) {
        struct ld_rtx_slot *s = &p->rtx[seqs[i] % LD_RTX_SLOTS];
        if (!s->used || s->seq != seqs[i])
            continue;
        uint8_t b[LD_PKT_MAX + TDM_SRTP_MAX_TRAILER];
        memcpy(b, s->pkt, s->len);
        if (ld_conn_send_rtp(&p->pub, b, s->len) == 0)
            resent++;
    }
    g_mutex_lock(&p->sh->lock);
    p->sh->st.nacks_in += n;
    p->sh->st.resent += resent;
    g_mutex_unlock(&p->sh->lock);
}

void ld_media_on_rtcp(struct ld_conn *c, const uint8_t *buf, size_t len, int64_t now)
{
    struct tdm_rtcp_iter it;
    struct tdm_rtcp_pkt pkt;
    char err[64];
    struct ld_part *p = c->p;
    unsigned plis = 0;
    tdm_rtcp_iter_init(&it, buf, len);
    while (tdm_rtcp_iter_next(&it, &pkt, err, sizeof err) == 1) {
        struct tdm_rtcp_fb fb;
        if (pkt.type == TDM_RTCP_RTPFB && pkt.count == TDM_RTCP_FMT_NACK && !c->is_sub) {
            on_nack(p, &pkt);
        } else if (pkt.type == TDM_RTCP_PSFB && !c->is_sub &&
                   (pkt.count == TDM_RTCP_FMT_PLI || pkt.count == TDM_RTCP_FMT_FIR) &&
                   tdm_rtcp_parse_fb(&pkt, &fb) == 0) {
            p->video.want_key = true;
            plis++;
        } else if (pkt.type == TDM_RTCP_SR && c->is_sub) {
            struct tdm_rtcp_sr sr;
            if (tdm_rtcp_parse_sr(&pkt, &sr) != 0)
                continue;
            for (int i = 0; i < c->nrx; i++)
                if (c->rx[i].ssrc == sr.ssrc) {
                    c->rx[i].lsr = (uint32_t)(sr.ntp >> 16);
                    c->rx[i].lsr_at_us = now;
                }
        }
    }
    g_mutex_lock(&p->sh->lock);
    p->sh->st.rtcp_in++;
    p->sh->st.plis_in += plis;
    g_mutex_unlock(&p->sh->lock);
}

static uint64_t ntp_now(void)
{
    int64_t w = tdm_wall_us();
    uint64_t sec = (uint64_t)(w / 1000000) + 2208988800ull;
    uint64_t frac = ((uint64_t)(w % 1000000) << 32) / 1000000;
    return sec << 32 | frac;
}

static void sender_reports(struct ld_part *p, int64_t now)
{
    uint8_t b[LD_PKT_MAX + TDM_SRTP_MAX_TRAILER];
    struct ld_track *tr[2] = {&p->audio, &p->video};
    for (int i = 0; i < (p->sh->g->o.audio_only ? 1 : 2); i++) {
        double clock = i ? 90000.0 : 48000.0;
        int64_t ms = (now - p->join_at_us) / 1000;
        struct tdm_rtcp_sr sr = {.ssrc = tr[i]->ssrc,
                                 .ntp = ntp_now(),
                                 .rtp_ts = tr[i]->ts_base + (uint32_t)((double)ms * clock / 1000),
                                 .packet_count = tr[i]->packets,
                                 .octet_count = tr[i]->octets};
        int n = tdm_rtcp_build_sr(b, LD_PKT_MAX, &sr, NULL, 0);
        if (n > 0)
            ld_conn_send_rtcp(&p->pub, b, (size_t)n);
    }
}

static void receiver_report(struct ld_part *p, int64_t now)
{
    struct ld_conn *c = &p->sub;
    struct tdm_rtcp_rb rb[TDM_RTCP_MAX_BLOCKS];
    size_t n = 0;
    for (int i = 0; i < c->nrx && n < TDM_RTCP_MAX_BLOCKS; i++) {
        struct ld_rx *r = &c->rx[i];
        if (!r->started)
            continue;
        uint32_t expected = (uint32_t)(r->max_seq - r->first_seq + 1);
        uint32_t exp_int = expected - r->expected_prior, rec_int = r->received - r->received_prior;
        int64_t lost_int = (int64_t)exp_int - rec_int;
        r->expected_prior = expected;
        r->received_prior = r->received;
        int64_t cum = (int64_t)expected - r->received;
        rb[n++] = (struct tdm_rtcp_rb){
            .ssrc = r->ssrc,
            .fraction_lost = exp_int && lost_int > 0 ? (uint8_t)((lost_int << 8) / exp_int) : 0,
            .cumulative_lost = (int32_t)(cum > 0x7fffff ? 0x7fffff : cum),
            .ext_highest_seq = (uint32_t)r->max_seq,
            .jitter = (uint32_t)r->jitter,
            .lsr = r->lsr,
            .dlsr = r->lsr ? (uint32_t)((now - r->lsr_at_us) * 65536 / 1000000) : 0,
        };
    }
    uint8_t b[LD_PKT_MAX + TDM_SRTP_MAX_TRAILER];
    int len = tdm_rtcp_build_rr(b, LD_PKT_MAX, p->audio.ssrc ^ 0x5a5a5a5au, rb, n);
    if (len > 0)
        ld_conn_send_rtcp(c, b, (size_t)len);
}

/* About once a second: sender reports on pub, receiver reports on sub (RFC 3550 6.4). */
void ld_part_reports(struct ld_part *p, int64_t now)
{
    if (now < p->next_report_us)
        return;
    p->next_report_us = now + 900000 + g_random_int_range(0, 200000);
    if (p->sends && ld_conn_ready(&p->pub))
        sender_reports(p, now);
    if (ld_conn_ready(&p->sub))
        receiver_report(p, now);
}
