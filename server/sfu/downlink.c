/* The downlink estimate of each subscriber (docs/architecture.md "Downlink estimate"): every
 * RTP packet the core sends on a "sub" connection (forwarded, resent, probe) gets the next
 * transport-wide sequence number (core/twcc.c) and is remembered with its send time and
 * size; the page's transport-cc feedback joins arrival times to them and feeds the
 * connection's estimator (core/gcc.c). When the estimate is below what the subscriber would
 * receive, short clusters of padding-only packets on a video consumer's SSRC probe for more
 * (libwebrtc sends the same when RTX is not negotiated). Stamping is on the hot path: no
 * allocation, no lock, no log. */
#include "sfu_internal.h"

#include "tandem/err.h"
#include "tandem/rtcp.h"
#include "tandem/twcc.h"

#include <stdlib.h>
#include <string.h>

#define FB_MAX 512          /* statuses one feedback may report (Chromium: ~100 ms of them) */
#define PROBE_PAD 255       /* padding bytes of a probe packet (the RTP maximum) */
#define PROBE_MIN_PKTS 5    /* a cluster long enough to measure */
#define PROBE_MAX_PKTS 30   /* and short enough never to crowd out media for long */
#define PROBE_SPAN_US 20000 /* a cluster's length at its rate */
#define RATE_SPAN_US 500000 /* the media rate sent, measured over this */
#define START_BPS 300000    /* a browser's start rate too */
#define MIN_BPS 30000
#define PROBE_RETRY_US 2000
#define PROBE_WAIT_US 100000
#define LOG_US 5000000
#define MAX_BPS 20000000
#define PAD_MAX_BPS 3000000 /* dl_pad's padding at most */
#define PAD_LOSS_PKTS 20    /* packets of a loss window that already say "a tenth lost" */

static size_t slot_of(uint16_t seq)
{
    return seq % SFU_TWCC_RING;
}

void dl_enable(struct peer *p, unsigned ext_id, int64_t now)
{
    if (!ext_id || ext_id > 255 || p->kind != PEER_SUB)
        return;
    if (!p->dl && !(p->dl = calloc(1, sizeof *p->dl)))
        return;
    if (p->dl->ext_id == ext_id)
        return;
    if (!p->dl->ext_id)
        tdm_gcc_init(&p->dl->gcc, START_BPS, MIN_BPS, MAX_BPS, now);
    p->dl->ext_id = (uint8_t)ext_id;
}

uint64_t dl_estimate(const struct peer *p)
{
    return p && p->dl && p->dl->feedbacks ? tdm_gcc_estimate(&p->dl->gcc) : 0;
}

int dl_stamp(struct peer *p, uint8_t *buf, size_t len, uint16_t probe, int64_t now)
{
    struct sfu_dl *d = p->dl;
    if (!d || !d->ext_id)
        return (int)len;
    int n = tdm_twcc_stamp(buf, len, TDM_SFU_TX_BUF - TDM_SRTP_MAX_TRAILER, d->ext_id, d->seq);
    if (n < 0)
        return (int)len; /* sent unnumbered: the estimator never hears of it */
    struct sfu_dl_sent *e = &d->ring[slot_of(d->seq)];
    *e = (struct sfu_dl_sent){.send_us = now,
                              .size = (uint16_t)(n + 10 < 0xffff ? n + 10 : 0xffff),
                              .seq = d->seq,
                              .probe = probe,
                              .flags = SFU_DL_USED};
    d->seq++;
    if (!probe)
        d->media_bytes += (uint64_t)n;
    return n;
}

/* ---- feedback ---------------------------------------------------------------------------- */

/* One reported packet joined with what we sent; false when we hold no such packet (older
 * than the ring, never sent) or it was reported received already. */
static bool join(struct sfu_dl *d, const struct tdm_twcc_status *st, struct tdm_gcc_pkt *out)
{
    struct sfu_dl_sent *e = &d->ring[slot_of(st->seq)];
    if (!(e->flags & SFU_DL_USED) || e->seq != st->seq || (e->flags & SFU_DL_ACKED) ||
        (!st->received && (e->flags & SFU_DL_REPORTED)))
        return false;
    e->flags |= (uint8_t)(SFU_DL_REPORTED | (st->received ? SFU_DL_ACKED : 0));
    *out = (struct tdm_gcc_pkt){.send_us = e->send_us,
                                .recv_us = st->arrival_us,
                                .size = e->size,
                                .received = st->received,
                                .probe = e->probe};
    return true;
}

void dl_on_feedback(struct tdm_sfu *s, struct peer *p, const struct tdm_rtcp_pkt *pkt, int64_t now)
{
    struct sfu_dl *d = p->dl;
    struct tdm_rtcp_twcc tw;
    struct tdm_rtcp_twcc_status raw[FB_MAX];
    struct tdm_twcc_status st[FB_MAX];
    struct tdm_gcc_pkt g[FB_MAX];
    if (!d || !d->ext_id)
        return;
    if (tdm_rtcp_parse_twcc(pkt, &tw, raw, FB_MAX) != 0) {
        s->st.twcc_bad++;
        return;
    }
    /* More than FB_MAX statuses (a browser reports ~100 ms at a time): the first FB_MAX. */
    size_t n = tw.status_count < FB_MAX ? tw.status_count : FB_MAX, k = 0;
    tdm_twcc_arrivals(&tw, raw, n, st);
    for (size_t i = 0; i < n; i++)
        k += join(d, &st[i], &g[k]);
    tdm_gcc_on_feedback(&d->gcc, g, k, now);
    if (d->pad_until_us > now && dl_short_of(p, 0, 0) && p->part) {
        /* the allocation's probe (dl_pad) costs the line packets: stop it at once, and let
         * the allocation hear of it now rather than at its next period */
        d->pad_until_us = 0;
        p->part->next_alloc_us = now;
        sfu_wake(s, p->part);
    }
    d->feedbacks++;
    s->st.twcc_feedback++;
    dl_uncount(&s->st, d);
    d->counted = true;
    d->counted_bps = tdm_gcc_estimate(&d->gcc);
    s->st.est_subs++;
    s->st.est_sum_bps += d->counted_bps;
    s->st.est_weak += d->counted_bps < SFU_EST_WEAK_BPS;
}

uint64_t dl_probed(const struct peer *p, int64_t since)
{
    const struct tdm_gcc *g = p && p->dl ? &p->dl->gcc : NULL;
    return g && g->probe_result_us > since ? g->probe_result_bps : 0;
}

void dl_set_want(struct peer *p, uint64_t bps)
{
    if (p && p->dl)
        p->dl->want_bps = bps;
}

void dl_pad(struct peer *p, uint64_t bps, int64_t until, int64_t now)
{
    struct sfu_dl *d = p ? p->dl : NULL;
    if (!d)
        return;
    d->pad_bps = bps < PAD_MAX_BPS ? bps : PAD_MAX_BPS;
    d->pad_until_us = bps ? until : 0;
    d->pad_next_us = now;
}

bool dl_short_of(const struct peer *p, uint64_t goal, uint64_t carried)
{
    const struct tdm_gcc *g = p && p->dl ? &p->dl->gcc : NULL;
    if (!g)
        return true;
    /* the loss window under way counts as soon as it has some packets: a policer past its
     * burst drops most of what a probe adds, and each packet lost there is one of a picture
     * or a voice */
    bool losing = g->loss_total >= PAD_LOSS_PKTS && g->loss_lost * 10 > g->loss_total;
    return tdm_gcc_estimate(g) < goal || g->last_loss > 0.10 || losing || g->acked_bps < carried;
}

void dl_set_rtt(struct peer *p, int64_t rtt_us)
{
    if (p && p->dl)
        tdm_gcc_set_rtt(&p->dl->gcc, rtt_us);
}

/* ---- probes ------------------------------------------------------------------------------ */

/* A video consumer that can take a pad now: live, its last packet ended a frame, and its
 * publisher has nothing outstanding that could still arrive under an older number. */
static struct cons *pad_consumer(struct part *q)
{
    for (uint32_t i = 0; i < q->n_cons; i++) {
        struct cons *c = q->cons[i];
        if (!c->live || c->prod->kind != TDM_SDP_VIDEO || !c->dl_marker || q->no_video_in ||
            !c->sel.seq.started)
            continue;
        /* the layer it forwards now (a paused stream has nothing outstanding) */
        const struct prod *lp =
            c->sel.cur != TDM_LAYERSEL_NONE ? layers_at(c->prod, c->sel.cur) : NULL;
        if (!lp || !lp->nack || tdm_nack_rx_missing(lp->nack) == 0)
            return c;
    }
    return NULL;
}

static bool send_pad(struct tdm_sfu *s, struct peer *p, uint16_t probe, int64_t now)
{
    struct cons *c = pad_consumer(p->part);
    struct tdm_sfu_transmit *t = c ? sfu_tx_slot(s) : NULL;
    uint16_t seq;
    uint32_t ts;
    if (!t || tdm_seqmap_pad(&c->sel.seq, &seq, &ts) != 0)
        return false;
    uint8_t *b = t->buf;
    size_t len = tdm_rtp_write_header(b, c->pt, false, seq, ts, c->ssrc, PROBE_PAD);
    /* A pad NACKed is not resent: the record of its slot is of another number. */
    int n = dl_stamp(p, b, len, probe, now);
    n = tdm_srtp_protect_rtp(p->srtp, b, (size_t)n, TDM_SFU_TX_BUF);
    if (n < 0)
        return false;
    peer_send(s, p, t, (size_t)n);
    s->st.probes_sent++;
    return true;
}

/* What the subscriber would receive if its line allowed it: probes go out below that. */
static uint64_t want_of(const struct sfu_dl *d)
{
    return d->want_bps ? d->want_bps : d->media_bps;
}

static void media_rate(struct sfu_dl *d, int64_t now)
{
    if (!d->rate_at_us) {
        d->rate_at_us = now;
        d->media_bytes = 0;
        return;
    }
    if (now - d->rate_at_us < RATE_SPAN_US)
        return;
    d->media_bps = d->media_bytes * 8 * 1000000 / (uint64_t)(now - d->rate_at_us);
    d->media_bytes = 0;
    d->rate_at_us = now;
}

void dl_tick(struct tdm_sfu *s, struct peer *p, int64_t now)
{
    struct sfu_dl *d = p->dl;
    if (!d || !d->ext_id || !p->srtp)
        return;
    d->tick_us = now;
    media_rate(d, now);
    if (d->feedbacks && now - d->log_us >= LOG_US) {
        d->log_us = now;
        TDM_DEBUG("media w%u: a downlink estimate %llu kbit/s (delivered %llu, sent %llu, "
                  "%llu feedbacks)",
                  s->cfg.index, (unsigned long long)tdm_gcc_estimate(&d->gcc) / 1000,
                  (unsigned long long)d->gcc.acked_bps / 1000,
                  (unsigned long long)d->media_bps / 1000, (unsigned long long)d->feedbacks);
    }
    uint64_t want = want_of(d);
    if (!d->probe_left && d->feedbacks &&
        tdm_gcc_probe_start(&d->gcc, want, now, &d->probe_id, &d->probe_bps)) {
        /* longer clusters on a line whose policer faked a result lately (core/gcc.h) */
        unsigned x = 1u << d->gcc.probe_lies;
        uint64_t pkts = d->probe_bps * PROBE_SPAN_US * x / 8000000 / (12 + PROBE_PAD);
        d->probe_left = (uint16_t)(pkts < PROBE_MIN_PKTS       ? PROBE_MIN_PKTS
                                   : pkts > PROBE_MAX_PKTS * x ? PROBE_MAX_PKTS * x
                                                               : pkts);
        d->probe_sent = 0;
        d->probe_next_us = d->probe_start_us = now;
    }
    while (d->probe_left && d->probe_next_us <= now) {
        if (!send_pad(s, p, d->probe_id, now)) {
            /* No consumer can take a pad now (a frame is under way): a little later, or the
             * cluster ends short. */
            d->probe_next_us = now + PROBE_RETRY_US;
            if (now - d->probe_start_us > PROBE_WAIT_US)
                d->probe_left = 0;
            break;
        }
        d->probe_sent++;
        d->probe_left--;
        d->probe_next_us += (int64_t)((12 + PROBE_PAD) * 8 * 1000000ULL / d->probe_bps);
    }
    if (d->probe_id && !d->probe_left) {
        tdm_gcc_probe_sent(&d->gcc, d->probe_id, d->probe_sent);
        d->probe_id = 0;
    }
    /* dl_pad: numbered as media (no cluster), so its losses and what it carried count in the
     * estimator's loss window and acknowledged rate */
    for (int k = 0; k < 16 && d->pad_until_us > now && d->pad_next_us <= now; k++) {
        if (!send_pad(s, p, 0, now)) {
            d->pad_next_us = now + PROBE_RETRY_US; /* a frame is under way */
            break;
        }
        d->pad_next_us += (int64_t)((12 + PROBE_PAD) * 8 * 1000000ULL / d->pad_bps);
        if (d->pad_next_us < now - PROBE_WAIT_US)
            d->pad_next_us = now; /* no backlog after a pause */
    }
}

int64_t dl_deadline(const struct peer *p, int64_t last_timeout)
{
    const struct sfu_dl *d = p ? p->dl : NULL;
    if (!d || !d->ext_id || !p->srtp)
        return INT64_MAX;
    if (!d->rate_at_us)
        return SFU_POLL; /* the media rate's clock starts at the first time-out */
    if (d->probe_left)
        return d->probe_next_us;
    int64_t next = d->rate_at_us + RATE_SPAN_US;
    if (d->pad_until_us > d->tick_us && d->pad_next_us < next)
        next = d->pad_next_us > d->tick_us ? d->pad_next_us : d->tick_us + 1;
    /* The next cluster when dl_tick would start it: at its time, or when a time-out has come
     * since that time without starting it (feedback lowered the estimate, the allocation
     * raised its want after it) at the next time-out. */
    int64_t probe = d->feedbacks ? tdm_gcc_probe_due(&d->gcc, want_of(d)) : INT64_MAX;
    if (probe != INT64_MAX && probe <= last_timeout)
        return SFU_POLL;
    return probe < next ? probe : next;
}
