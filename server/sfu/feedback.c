/* RTCP in the SFU core, in the fixed order of docs/architecture.md "Feedback":
 * - from subscribers: NACK answered from the producer's shared send history, rewritten as
 *   the consumer sent it (layers.c; RFC 4585 §6.2.1),
 *   PLI/FIR turned into a throttled keyframe request to the publisher (RFC 5104 §4.3.1),
 *   REMB remembered for the publisher's estimate, report blocks give the RTT;
 * - from publishers: SRs for LSR/DLSR in our receiver reports;
 * - to publishers: NACKs from the receive log, PLI/FIR, RR per producer and REMB;
 * - to subscribers: an SR per consumer (RFC 3550 §6.4.1).
 * Feedback goes out as reduced-size RTCP (RFC 5506; rtcp-rsize is negotiated). */
#include <stdio.h>
#include "sfu_internal.h"

#include "tandem/err.h"
#include "tandem/rtcp.h"

#include <string.h>

#define RTCP_BUDGET 1100 /* plain bytes per compound we build, well under the MTU */
#define MAX_NACKS 64

#define SFU_NACK_RETRY_MAX_US 100000

static void send_rtcp(struct tdm_sfu *s, struct peer *p, struct tdm_sfu_transmit *t, size_t len)
{
    int n = tdm_srtp_protect_rtcp(p->srtp, t->buf, len, TDM_SFU_TX_BUF);
    if (n > 0)
        peer_send(s, p, t, (size_t)n);
}

static struct cons *consumer_by_ssrc(struct part *q, uint32_t ssrc)
{
    for (uint32_t i = 0; i < q->n_cons; i++)
        if (q->cons[i]->ssrc == ssrc)
            return q->cons[i];
    return NULL;
}

static struct prod *producer_by_ssrc(struct part *o, uint32_t ssrc)
{
    for (uint32_t i = 0; i < o->n_prods; i++)
        if (o->prods[i]->ssrc == ssrc)
            return o->prods[i];
    return NULL;
}

/* ---- incoming ------------------------------------------------------------------------ */

static void answer_nack(struct tdm_sfu *s, struct peer *p, const struct tdm_rtcp_pkt *pk,
                        int64_t now)
{
    struct tdm_rtcp_fb fb;
    uint16_t seqs[MAX_NACKS];
    if (tdm_rtcp_parse_nack(pk, &fb) != 0)
        return;
    struct cons *c = consumer_by_ssrc(p->part, fb.media_ssrc);
    if (!c || !c->sent || !c->live)
        return;
    size_t n = tdm_rtcp_nack_expand(&fb, seqs, MAX_NACKS);
    bool missed = false;
    s->st.nacks_in += n;
    for (size_t i = 0; i < n; i++) {
        struct tdm_sfu_transmit *t = sfu_tx_slot(s);
        if (!t)
            break;
        int len = layers_resend(c, seqs[i], now, c->resend_min_us, t->buf, TDM_SFU_TX_BUF);
        if (len == TDM_ENOTFOUND)
            missed = true;
        if (len <= 0)
            continue;
        if (!tdm_fwd_budget_take(&c->resend, (size_t)len, c->rate_bps, now)) {
            s->st.resend_skipped++; /* the line is losing already: let the keyframe repair it */
            continue;
        }
        /* The original packet again (no RTX offered to subscribers): libsrtp's outbound
         * session allows the repeated index. A new transport-wide number, as any packet. */
        len = dl_stamp(p, t->buf, (size_t)len, 0, now);
        len = tdm_srtp_protect_rtp(p->srtp, t->buf, (size_t)len, TDM_SFU_TX_BUF);
        if (len > 0)
            peer_send(s, p, t, (size_t)len);
        s->st.resent++;
    }
    /* A packet we no longer hold (older than the history, or never sent on this line) will
     * not come: a keyframe repairs the picture now, instead of the browser's own request
     * seconds later. Not while we are still recovering packets from the publisher
     * ourselves: those are forwarded when they arrive. Throttled per producer. */
    struct prod *kp = layers_key_source(c);
    if (missed && c->prod->kind == TDM_SDP_VIDEO &&
        (!kp->nack || tdm_nack_rx_missing(kp->nack) == 0)) {
        s->st.nack_missed++;
        fb_want_keyframe(s, kp, now);
    }
}

static void on_psfb(struct tdm_sfu *s, struct peer *p, const struct tdm_rtcp_pkt *pk, int64_t now)
{
    struct tdm_rtcp_fb fb;
    if (pk->count == TDM_RTCP_FMT_AFB) {
        struct tdm_rtcp_remb remb;
        if (tdm_rtcp_parse_remb(pk, &remb, NULL, 0) >= 0) {
            p->remb_bps = remb.bitrate;
            p->remb_us = now;
        }
        return;
    }
    uint32_t target = 0;
    if (pk->count == TDM_RTCP_FMT_PLI && tdm_rtcp_parse_pli(pk, &fb) == 0) {
        target = fb.media_ssrc;
    } else if (pk->count == TDM_RTCP_FMT_FIR && tdm_rtcp_parse_fir(pk, &fb) > 0) {
        uint8_t seq;
        tdm_rtcp_fir_entry(&fb, 0, &target, &seq);
    }
    struct cons *c = target ? consumer_by_ssrc(p->part, target) : NULL;
    s->st.plis_in += target != 0;
    if (c && c->live)
        fb_want_keyframe(s, layers_key_source(c), now);
}

/* The page's packets come to us the way ours go to it: the round trip of its sub connection
 * spaces the NACKs for what it publishes on a near line (a request per round trip and a
 * quarter, as samples vary), so a resend that was lost too is asked for again sooner. Never
 * more than 100 ms apart: on a far line a second request before the first could be
 * answered costs a few resends, while waiting a whole round trip costs frames (the
 * simulator's far_uplink_loss: 1.1 resends per loss instead of 2, but 3-27 frames given
 * up instead of 0-8). */
static void nack_rtt(struct part *o, int64_t rtt)
{
    int64_t every = rtt + rtt / 4 < SFU_NACK_RETRY_MAX_US ? rtt + rtt / 4 : SFU_NACK_RETRY_MAX_US;
    for (uint32_t i = 0; i < o->n_prods; i++)
        if (o->prods[i]->nack)
            tdm_nack_rx_set_rtt(o->prods[i]->nack, every);
}

static void on_report_blocks(struct tdm_sfu *s, struct peer *p, const struct tdm_rtcp_pkt *pk,
                             unsigned n, int64_t now)
{
    for (unsigned i = 0; i < n; i++) {
        struct tdm_rtcp_rb rb;
        if (tdm_rtcp_report_block(pk, i, &rb) != 0)
            continue;
        struct cons *c = consumer_by_ssrc(p->part, rb.ssrc);
        if (c) {
            s->st.loss_down_sum += rb.fraction_lost;
            s->st.loss_down_n++;
        }
        if (c && c->live && c->prod->kind == TDM_SDP_AUDIO) {
            /* of the time since its previous report: few packets in a DTX pause */
            c->voice_frac =
                c->voice_us ? tdm_fwd_voice_loss(rb.fraction_lost, rb.ext_highest_seq - c->voice_hi,
                                                 now - c->voice_us)
                            : rb.fraction_lost;
            c->voice_hi = rb.ext_highest_seq;
            c->voice_us = now;
        }
        if (c && c->sent && c->live) {
            c->loss_bps =
                tdm_fwd_loss_estimate(c->loss_bps, c->rate_bps, rb.fraction_lost, SFU_REMB_CAP_BPS);
            /* for the subscriber's estimate (alloc.c): the loss, and what was sent over
             * about the interval the report covers */
            if (c->rep_us && now > c->rep_us)
                c->rep_rate_bps = (uint64_t)(uint32_t)(c->tx.octets - c->rep_octets) * 8000000u /
                                  (uint64_t)(now - c->rep_us);
            c->rep_octets = c->tx.octets;
            c->rep_frac = rb.fraction_lost;
            c->rep_us = now;
        }
        int64_t rtt;
        if (c && tdm_rtpstats_tx_rtt(&c->tx, &rb, now, &rtt) == 0) {
            dl_set_rtt(p, rtt);
            nack_rtt(p->part, rtt);
            if (c->sent) {
                c->resend_min_us = rtt / 2 > 5000 ? rtt / 2 : 5000;
                c->rtt_us = rtt; /* a queue building up on the way (alloc.c) */
            }
        }
    }
}

void fb_on_rtcp(struct tdm_sfu *s, struct peer *p, uint8_t *buf, size_t len, int64_t now)
{
    int n = tdm_srtp_unprotect_rtcp(p->srtp, buf, len);
    if (n < 0)
        return;
    struct tdm_rtcp_iter it;
    struct tdm_rtcp_pkt pk;
    tdm_rtcp_iter_init(&it, buf, (size_t)n);
    for (int guard = 0; guard < 64 && tdm_rtcp_iter_next(&it, &pk, NULL, 0) == 1; guard++) {
        if (pk.type == TDM_RTCP_SR) {
            struct tdm_rtcp_sr sr;
            if (tdm_rtcp_parse_sr(&pk, &sr) != 0)
                continue;
            struct prod *pr = p->kind == PEER_PUB ? producer_by_ssrc(p->part, sr.ssrc) : NULL;
            if (pr)
                tdm_rtpstats_rx_on_sr(&pr->rx, sr.ntp, now);
            if (p->kind == PEER_SUB)
                on_report_blocks(s, p, &pk, sr.nblocks, now);
        } else if (pk.type == TDM_RTCP_RR && p->kind == PEER_SUB) {
            uint32_t ssrc;
            int rc = tdm_rtcp_parse_rr(&pk, &ssrc);
            if (rc > 0)
                on_report_blocks(s, p, &pk, (unsigned)rc, now);
        } else if (pk.type == TDM_RTCP_RTPFB && pk.count == TDM_RTCP_FMT_NACK &&
                   p->kind == PEER_SUB) {
            answer_nack(s, p, &pk, now);
        } else if (pk.type == TDM_RTCP_RTPFB && pk.count == TDM_RTCP_FMT_TWCC &&
                   p->kind == PEER_SUB) {
            dl_on_feedback(s, p, &pk, now);
        } else if (pk.type == TDM_RTCP_PSFB && p->kind == PEER_SUB) {
            on_psfb(s, p, &pk, now);
        }
    }
}

/* ---- outgoing ------------------------------------------------------------------------ */

static void send_pli(struct tdm_sfu *s, struct prod *pr, int64_t now)
{
    (void)now;
    struct peer *pub = pr->owner->pub;
    if (!pub || !pub->srtp || !pr->ssrc)
        return;
    struct tdm_sfu_transmit *t = sfu_tx_slot(s);
    if (!t)
        return;
    int n;
    if (!(pr->fb & TDM_SDP_FB_NACK_PLI) && (pr->fb & TDM_SDP_FB_CCM_FIR))
        n = tdm_rtcp_build_fir(t->buf, RTCP_BUDGET, pub->rtcp_ssrc, pr->ssrc,
                               tdm_rtx_kf_throttle_next_fir_seq(&pr->kf));
    else
        n = tdm_rtcp_build_pli(t->buf, RTCP_BUDGET, pub->rtcp_ssrc, pr->ssrc);
    if (n > 0)
        send_rtcp(s, pub, t, (size_t)n);
    s->st.plis_out++;
}

static void send_nacks(struct tdm_sfu *s, struct prod *pr, int64_t now)
{
    uint16_t lost[MAX_NACKS];
    size_t n = tdm_nack_rx_collect(pr->nack, now, lost, MAX_NACKS);
    struct peer *pub = pr->owner->pub;
    if (!n || !pub || !pub->srtp)
        return;
    struct tdm_sfu_transmit *t = sfu_tx_slot(s);
    if (!t)
        return;
    int len = tdm_rtcp_build_nack(t->buf, RTCP_BUDGET, pub->rtcp_ssrc, pr->ssrc, lost, n);
    if (len > 0)
        send_rtcp(s, pub, t, (size_t)len);
    s->st.nacks_out += n;
}

/* The estimate a publisher gets: its subscribers' REMB shares, capped (forward.h). */
static uint64_t remb_for(const struct part *o, int64_t now)
{
    struct tdm_fwd_remb_in in[64];
    size_t n = 0;
    uint64_t limit = UINT64_MAX;
    bool simulcast = false;
    for (uint32_t k = 0; k < o->n_prods; k++) {
        const struct prod *pr = o->prods[k];
        /* Simulcast: a weak subscriber gets a lower layer (alloc.c); it does not hold the
         * publisher down. */
        simulcast |= pr->n_layers > 1;
        if (pr->n_layers > 1 || pr->base)
            continue;
        for (uint32_t i = 0; pr->kind == TDM_SDP_VIDEO && i < pr->n_cons && n < 64; i++) {
            const struct part *q = pr->cons[i]->sub;
            /* its transport-cc estimate, else the REMB its browser sends instead */
            uint64_t est = dl_estimate(q->sub);
            if (!est && q->sub && q->sub->remb_bps && now - q->sub->remb_us <= SFU_REMB_MAX_AGE_US)
                est = q->sub->remb_bps;
            if (!est || q->no_video_in)
                continue;
            uint32_t videos = 0;
            for (uint32_t j = 0; j < q->n_cons; j++)
                videos += q->cons[j]->prod->kind == TDM_SDP_VIDEO;
            in[n++] = (struct tdm_fwd_remb_in){est, videos, pr->cons[i]->rate_bps};
        }
        /* What the subscribers' losses say of their lines (a REMB-less browser too): a
         * hard limit, so that the publisher climbs back slowly instead of jumping to the
         * cap and losing again. */
        for (uint32_t i = 0; pr->kind == TDM_SDP_VIDEO && i < pr->n_cons; i++) {
            const struct cons *c = pr->cons[i];
            if (c->loss_bps && c->live && !c->sub->no_video_in && c->loss_bps < limit)
                limit = c->loss_bps;
        }
    }
    uint64_t target = tdm_fwd_remb_target(in, n, SFU_REMB_FLOOR_BPS,
                                          simulcast ? SFU_REMB_SIMULCAST_BPS : SFU_REMB_CAP_BPS);
    if (limit < target)
        target = limit > SFU_REMB_FLOOR_BPS ? limit : SFU_REMB_FLOOR_BPS;
    return target;
}

/* The worst loss an audio producer's listeners reported lately (each listener's report
 * counts what was lost before the server too), or its uplink's: what its Opus encoder must
 * protect against (forward.h tdm_fwd_audio_loss). Mix listeners hear our own encoder. */
static uint8_t audio_worst_loss(const struct prod *pr, uint8_t up, int64_t now)
{
    uint8_t worst = up;
    for (uint32_t i = 0; i < pr->n_cons; i++) {
        const struct cons *c = pr->cons[i];
        if (c->live && !c->sub->mix_live && c->voice_us &&
            now - c->voice_us <= SFU_AUDIO_REPORT_AGE_US && c->voice_frac > worst)
            worst = c->voice_frac;
    }
    return worst;
}

static void publisher_reports(struct tdm_sfu *s, struct peer *p, int64_t now)
{
    struct tdm_rtcp_rb rb[TDM_RTCP_MAX_BLOCKS];
    uint32_t video[SFU_MAX_PRODS];
    size_t nrb = 0, nv = 0;
    for (uint32_t k = 0; k < p->part->n_prods; k++) {
        struct prod *pr = p->part->prods[k];
        uint32_t expected = tdm_rtpstats_rx_interval_expected(&pr->rx);
        if (nrb < TDM_RTCP_MAX_BLOCKS && tdm_rtpstats_rx_report(&pr->rx, now, &rb[nrb]) == 0) {
            /* our own reading of a voice's loss: one of a DTX pause's few packets is no 20 % */
            uint8_t frac = rb[nrb].fraction_lost;
            if (pr->kind == TDM_SDP_AUDIO && pr->rr_us)
                frac = tdm_fwd_voice_loss(frac, expected, now - pr->rr_us);
            pr->rr_us = now;
            quality_note_uplink(p->part, frac, now);
            s->st.loss_up_sum += frac;
            s->st.loss_up_n++;
            if (pr->kind == TDM_SDP_AUDIO) {
                uint8_t worst = audio_worst_loss(pr, frac, now);
                pr->told_loss = tdm_fwd_audio_loss(pr->told_loss, worst);
                rb[nrb].fraction_lost = pr->told_loss; /* the cumulative count stays true */
            }
            nrb++;
        }
        if (pr->kind == TDM_SDP_VIDEO && pr->ssrc)
            video[nv++] = pr->ssrc;
    }
    struct tdm_sfu_transmit *t = sfu_tx_slot(s);
    if (!t)
        return;
    int a = tdm_rtcp_build_rr(t->buf, RTCP_BUDGET, p->rtcp_ssrc, rb, nrb);
    if (a < 0)
        return;
    int b = 0;
    if (nv)
        b = tdm_rtcp_build_remb(t->buf + a, RTCP_BUDGET - (size_t)a, p->rtcp_ssrc,
                                remb_for(p->part, now), video, nv);
    send_rtcp(s, p, t, (size_t)a + (size_t)(b > 0 ? b : 0));
}

static void subscriber_reports(struct tdm_sfu *s, struct peer *p, int64_t now)
{
    int64_t wall = now + s->cfg.wall_offset_us;
    struct tdm_sfu_transmit *t = NULL;
    size_t len = 0;
    for (uint32_t i = 0; i < p->part->n_cons; i++) {
        struct cons *c = p->part->cons[i];
        struct tdm_rtcp_sr sr;
        if (c->rate_us && now > c->rate_us)
            c->rate_bps = (uint64_t)(uint32_t)(c->tx.octets - c->rate_octets) * 8000000u /
                          (uint64_t)(now - c->rate_us);
        c->rate_octets = c->tx.octets;
        c->rate_us = now;
        if (!c->live || tdm_rtpstats_tx_sr(&c->tx, wall, now, &sr) != 0)
            continue;
        if (!t && !(t = sfu_tx_slot(s)))
            return;
        int n = tdm_rtcp_build_sr(t->buf + len, RTCP_BUDGET - len, &sr, NULL, 0);
        if (n < 0) {
            send_rtcp(s, p, t, len);
            len = 0;
            if (!(t = sfu_tx_slot(s)))
                return;
            n = tdm_rtcp_build_sr(t->buf, RTCP_BUDGET, &sr, NULL, 0);
            if (n < 0)
                return;
        }
        len += (size_t)n;
    }
    /* the mix (audiomix.c): one more SR; with up to 64 consumers a report of its own */
    struct tdm_rtcp_sr sr;
    if (p->part->mix_live && tdm_rtpstats_tx_sr(&p->part->mix_tx, wall, now, &sr) == 0) {
        if (t && len)
            send_rtcp(s, p, t, len);
        len = 0;
        if ((t = sfu_tx_slot(s))) {
            int n = tdm_rtcp_build_sr(t->buf, RTCP_BUDGET, &sr, NULL, 0);
            len = n > 0 ? (size_t)n : 0;
        }
    }
    if (t && len)
        send_rtcp(s, p, t, len);
}

void fb_reports(struct tdm_sfu *s, struct peer *p, int64_t now)
{
    if (!p->srtp || p->next_rtcp_us > now)
        return;
    if (p->kind == PEER_PUB)
        publisher_reports(s, p, now);
    else
        subscriber_reports(s, p, now);
    /* RFC 3550 §6.3.1: randomised to 0.5..1.5 of the interval. */
    p->next_rtcp_us = now + SFU_RTCP_INTERVAL_US / 2 + sfu_rand32(s) % SFU_RTCP_INTERVAL_US;
    sfu_wake(s, p->part);
}

void fb_want_keyframe(struct tdm_sfu *s, struct prod *pr, int64_t now)
{
    if (pr->kind != TDM_SDP_VIDEO)
        return;
    struct peer *pub = pr->owner->pub;
    if (!pub || !pub->srtp) {
        pr->kf_wanted = true;
        return;
    }
    pr->kf_wanted = false;
    if (tdm_rtx_kf_throttle_request(&pr->kf, now))
        send_pli(s, pr, now);
    /* Throttled, the request waits in the publisher's deadlines: anyone's input can bring
     * them closer (a subscriber's PLI or NACK, another's allocation or connection). */
    sfu_wake(s, pr->owner);
}

void fb_prod_tick(struct tdm_sfu *s, struct prod *pr, int64_t now)
{
    if (pr->nack && tdm_nack_rx_next_deadline(pr->nack) <= now)
        send_nacks(s, pr, now);
    if (pr->nack && tdm_nack_rx_take_keyframe(pr->nack))
        fb_want_keyframe(s, pr, now);
    if (pr->owner->pub && pr->owner->pub->srtp && tdm_rtx_kf_throttle_poll(&pr->kf, now))
        send_pli(s, pr, now);
}

int64_t fb_prod_deadline(const struct prod *pr)
{
    if (pr->nack && tdm_nack_rx_keyframe_wanted(pr->nack))
        return SFU_POLL; /* a loss beyond repair: the next time-out asks for a keyframe */
    int64_t d = tdm_rtx_kf_throttle_deadline(&pr->kf), x;
    if (pr->nack && (x = tdm_nack_rx_next_deadline(pr->nack)) < d)
        d = x;
    return d;
}
