/* The downlink estimate of a subscriber whose page sends no transport-cc feedback
 * (docs/architecture.md "Simulcast and allocation"), for alloc.c: the subscriber's REMB
 * when it says the line is congested, and a loss-based estimate of its own (GCC's loss
 * half, draft-ietf-rmcat-gcc-02 §6, with a round trip growing as the delay signal) from
 * the receiver reports on what it is sent. It grows only one upgrade ahead of what is
 * actually sent, so an upgrade is a bounded probe. An upgrade that meets losses within
 * UP_FAIL_US failed: the next one waits (HOLD_MIN_US, doubling to HOLD_MAX_US). Room is
 * learnt by padding probes on a video stream (RFC 3550 §5.1 padding-only packets): while
 * audio only, on a paused stream, and video returns when a probe comes through without
 * loss; otherwise on top of a flowing stream, before an upgrade. */
#include "sfu_internal.h"

#include "tandem/err.h"

#include <stdlib.h>
#include <string.h>

#define UP_FAIL_US 3000000  /* losses this soon after an upgrade: it failed */
#define UP_GAP_US 1500000   /* upgrades one after the other, each seen in a report */
#define HOLD_MIN_US 8000000 /* after a failed upgrade, no other for this long */
#define HOLD_MAX_US 16000000
#define PROBE_FIRST_US 4000000 /* the first probe after audio only began */
#define PROBE_MAX_US 6000000   /* video must come back within seconds of the line */
#define PROBE_LEN_US 600000
#define PROBE_PKT 255 /* padding bytes per probe packet (RFC 3550 §5.1: <= 255) */
#define LOSS_LOW 5    /* 2 % */

static uint64_t sent_rate(const struct part *q)
{
    uint64_t r = 0;
    for (uint32_t i = 0; i < q->n_cons; i++)
        if (q->cons[i]->live)
            r += q->cons[i]->rate_bps;
    return r;
}

/* The round trip grew this much over the smallest seen: a queue is building up on the way,
 * congestion before any loss (the delay half of GCC, coarsely, from receiver reports). */
#define QUEUE_US 80000
#define MIN_RTT_AGE_US 30000000 /* the smallest RTT is forgotten after this (a new path) */

/* The report blocks that came since the last look: their loss (weighted by each stream's
 * rate), the largest round trip, and what came through (sent over each report's interval,
 * less its losses; audio, not reported on, as sent). Returns how many there were. */
static unsigned fresh_reports(struct part *q, uint64_t *frac, int64_t *rtt, uint64_t *through)
{
    uint64_t w = 0, lost = 0;
    unsigned n = 0;
    *rtt = 0;
    *through = 0;
    for (uint32_t i = 0; i < q->n_cons; i++) {
        const struct cons *c = q->cons[i];
        if (!c->live)
            continue;
        if (!c->sent) {
            *through += c->rate_bps;
            continue;
        }
        if (c->rep_us <= q->est_us)
            continue;
        uint64_t cw = c->rep_rate_bps ? c->rep_rate_bps : 1;
        w += cw;
        lost += cw * c->rep_frac;
        *through += c->rep_rate_bps / 256 * (256u - c->rep_frac);
        if (c->rtt_us > *rtt)
            *rtt = c->rtt_us;
        n++;
    }
    *frac = n ? lost / w : 0;
    return w > n ? n : 0; /* streams that carried nothing say nothing of the line */
}

bool rr_queue_grew(struct part *q, int64_t rtt, int64_t now)
{
    if (!rtt)
        return false;
    if (!q->min_rtt_us || rtt < q->min_rtt_us || now - q->min_rtt_at_us > MIN_RTT_AGE_US) {
        q->min_rtt_us = rtt;
        q->min_rtt_at_us = now;
    }
    return rtt > q->min_rtt_us + QUEUE_US;
}

/* Losses or a growing queue: the estimate is cut (GCC's cut, and at most what came through);
 * right after an upgrade, the upgrade failed: back to what was carried before it, and the
 * next one waits twice as long. */
static void congested(struct part *q, uint64_t frac, uint64_t through, int64_t now)
{
    uint64_t was = q->est_bps;
    uint64_t base = was && was < q->alloc_bps ? was : q->alloc_bps;
    base = base / 512 * (512 - (frac > SFU_LOSS_HIGH ? frac : SFU_LOSS_HIGH));
    through = through / 100 * 95;
    q->est_bps = (through && through < base ? through : base) + 1;

    if (q->up_at_us && now - q->up_at_us < UP_FAIL_US) {
        if (q->good_bps && q->good_bps < q->est_bps)
            q->est_bps = q->good_bps; /* back to what worked before the upgrade */
        q->hold_us = q->hold_us ? q->hold_us * 2 : HOLD_MIN_US;
        if (q->hold_us > HOLD_MAX_US)
            q->hold_us = HOLD_MAX_US;
        q->up_at_us = 0;
    }
    int64_t hold = q->hold_us > HOLD_MIN_US ? q->hold_us : HOLD_MIN_US;
    if (q->hold_until_us < now + hold)
        q->hold_until_us = now + hold;
}

void rr_update(struct part *q, int64_t now)
{
    uint64_t frac, through;
    int64_t rtt;
    if (!fresh_reports(q, &frac, &rtt, &through))
        return;
    q->est_us = now;
    if (q->probe_until_us)
        return; /* the probe's own losses are its verdict (probe()), not congestion */
    uint64_t rate = sent_rate(q);
    bool queue = rr_queue_grew(q, rtt, now);
    if ((frac > SFU_LOSS_HIGH || queue) && (rate || q->est_bps)) {
        congested(q, frac, through, now);
    } else if (frac < LOSS_LOW && q->est_bps && !q->audio_only) {
        if (q->up_at_us && now - q->up_at_us >= UP_FAIL_US) {
            q->up_at_us = 0; /* the last upgrade held: the next may come sooner */
            q->hold_us /= 2;
        }
        if (!q->step_bps)
            q->est_bps = 0; /* every picture at its best: no limit known */
    }
}

uint64_t rr_estimate(const struct part *q, int64_t now)
{
    uint64_t e = q->est_bps ? q->est_bps : UINT64_MAX;
    const struct peer *p = q->sub;
    /* A REMB counts when it says the line is congested (below what it receives, as
     * tdm_fwd_remb_target reads it); otherwise it only has not climbed yet. */
    if (p && p->remb_bps && now - p->remb_us < SFU_REMB_MAX_AGE_US) {
        uint64_t r = sent_rate(q);
        if (r && p->remb_bps < r / 20 * 19 && p->remb_bps < e)
            e = p->remb_bps;
    }
    return e;
}

/* ---- padding probes ---------------------------------------------------------------- */

static struct cons *cons_by_ssrc(struct part *q, uint32_t ssrc)
{
    for (uint32_t i = 0; ssrc && i < q->n_cons; i++)
        if (q->cons[i]->ssrc == ssrc)
            return q->cons[i];
    return NULL;
}

/* A paused video stream of q that has sent before: padding there keeps its numbering. */
static struct cons *probe_target(struct part *q)
{
    for (uint32_t i = 0; i < q->n_cons; i++) {
        struct cons *c = q->cons[i];
        if (c->live && c->sent && c->sel.seq.started)
            return c;
    }
    return NULL;
}

/* Padding-only packets (RFC 3550 §5.1: P bit, the last byte counts the padding) at
 * probe_bps since the last ones. */
static void send_padding(struct tdm_sfu *s, struct part *q, struct cons *c, int64_t now)
{
    const size_t len = TDM_RTP_HEADER_MIN + PROBE_PKT;
    uint64_t due = q->probe_bps * (uint64_t)(now - q->probe_sent_us) / 8000000u;
    for (int k = 0; k < 8 && due >= len; k++, due -= len) {
        uint16_t seq;
        uint32_t ts;
        struct tdm_sfu_transmit *t = sfu_tx_slot(s);
        if (!t || tdm_seqmap_pad(&c->sel.seq, &seq, &ts) != 0)
            break;
        uint8_t *b = t->buf;
        tdm_rtp_write_header(b, c->pt, false, seq, ts, c->ssrc, PROBE_PKT);
        int n = tdm_srtp_protect_rtp(c->sub->sub->srtp, b, len, TDM_SFU_TX_BUF);
        if (n > 0)
            peer_send(s, c->sub->sub, t, (size_t)n);
        q->probe_sent_us += (int64_t)(len * 8000000u / (q->probe_bps ? q->probe_bps : 1));
    }
    if (q->probe_sent_us < now - 100000)
        q->probe_sent_us = now; /* could not send: no backlog, and no deadline in the past */
}

/* A flowing video stream of q, for a probe on top of what it carries. */
static struct cons *flowing(struct part *q)
{
    for (uint32_t i = 0; i < q->n_cons; i++) {
        struct cons *c = q->cons[i];
        if (c->live && c->sent && c->sel.cur != TDM_LAYERSEL_NONE && c->sel.seq.started)
            return c;
    }
    return NULL;
}

/* The running probe: padding until probe_until_us, then its verdict from the next report of
 * its stream: through without loss and with no queue built up meanwhile (a short probe can
 * hide in a router's buffer: the round trip shows it). 1: came through (the next may follow
 * at once, twice as large); -1: failed (the next waits longer); 0: not known yet. */
static int probe_verdict(struct tdm_sfu *s, struct part *q, int64_t now)
{
    struct cons *c = cons_by_ssrc(q, q->probe_ssrc);
    if (now < q->probe_until_us) {
        if (c)
            send_padding(s, q, c, now);
        return 0;
    }
    bool reported = c && c->rep_us > q->probe_until_us;
    if (c && !reported && now - q->probe_until_us < 3 * SFU_RTCP_INTERVAL_US)
        return 0;
    q->probe_until_us = 0;
    bool clean = reported && c->rep_frac < LOSS_LOW &&
                 (!c->rtt_us || !q->min_rtt_us || c->rtt_us <= q->min_rtt_us + QUEUE_US);
    if (!clean) {
        q->probe_streak = 0;
        q->probe_hold_us = q->probe_hold_us * 2 > PROBE_MAX_US ? PROBE_MAX_US
                           : q->probe_hold_us < PROBE_FIRST_US ? PROBE_FIRST_US
                                                               : q->probe_hold_us * 2;
        q->probe_at_us = now + q->probe_hold_us;
        return -1;
    }
    if (q->probe_streak < 4)
        q->probe_streak++;
    q->probe_hold_us = 0;
    q->probe_at_us = now;
    return 1;
}

static void probe_start(struct part *q, struct cons *c, uint64_t bps, int64_t now)
{
    q->probe_ssrc = c->ssrc;
    q->probe_bps = bps;
    q->probe_until_us = now + PROBE_LEN_US;
    q->probe_sent_us = now;
}

bool rr_probe(struct tdm_sfu *s, struct part *q, uint64_t need, uint64_t audio, int64_t now)
{
    if (q->probe_until_us) {
        if (probe_verdict(s, q, now) <= 0)
            return false;
        q->hold_until_us = now;
        if (q->audio_only) {
            q->est_bps = need + need / 4;
            return true;
        }
        q->est_bps = q->alloc_bps + q->probe_bps;
        return false;
    }
    if (now < q->probe_at_us)
        return false;
    if (q->audio_only) {
        struct cons *c = need ? probe_target(q) : NULL;
        if (need && !c) { /* nothing to pad (no picture was ever sent here): try it */
            q->est_bps = need + need / 4;
            return true;
        }
        if (c)
            probe_start(q, c, need + need / 4 > audio + 16000 ? need + need / 4 - audio : 16000,
                        now);
        return false;
    }
    if (!q->est_bps || !q->step_bps || now < q->hold_until_us ||
        q->est_bps >= q->alloc_bps + q->step_bps)
        return false; /* no limit known, nothing to gain, just congested, or it pays already */
    struct cons *c = flowing(q);
    /* twice the size after two that came through: the climb back after a cap is lifted */
    uint64_t bps = (q->step_bps + q->step_bps / 4) << (q->probe_streak > 1 ? 1 : 0);
    if (c)
        probe_start(q, c, bps < 4 * q->alloc_bps ? bps : 4 * q->alloc_bps, now);
    return false;
}

void rr_audio_only_began(struct part *q, int64_t now)
{
    q->probe_hold_us = PROBE_FIRST_US;
    q->probe_at_us = now + q->probe_hold_us;
    q->probe_ssrc = 0;
}

void rr_upgraded(struct part *q, int64_t now)
{
    if (!q->up_at_us || now - q->up_at_us >= UP_FAIL_US)
        q->good_bps = q->alloc_bps; /* confirmed: what flowed before this one */
    q->up_at_us = now;
}

bool rr_upgrade_settling(const struct part *q, int64_t now)
{
    return q->up_at_us && now - q->up_at_us < UP_GAP_US;
}

void rr_pad(struct tdm_sfu *s, struct part *q, int64_t now)
{
    if (!q->probe_until_us || now >= q->probe_until_us)
        return;
    struct cons *c = cons_by_ssrc(q, q->probe_ssrc);
    if (c)
        send_padding(s, q, c, now);
    else
        q->probe_sent_us = q->probe_until_us; /* its stream went away */
}

int64_t rr_deadline(const struct part *q, int64_t d)
{
    if (q->probe_until_us && q->probe_sent_us < q->probe_until_us && q->probe_bps) {
        int64_t x = q->probe_sent_us +
                    (int64_t)((TDM_RTP_HEADER_MIN + PROBE_PKT) * 8000000u / q->probe_bps) +
                    1000; /* whole packets: never a deadline that sends nothing */
        if (x < d && x < q->probe_until_us)
            d = x;
    }
    return d;
}
