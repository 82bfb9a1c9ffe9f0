/* What each subscriber receives (docs/architecture.md "Allocation"): its downlink estimate
 * is spent audio first, then a shared screen, then the active speaker's video, then the
 * others by tile size; each video gets one simulcast layer (layers.c, core/layersel.c). A
 * thumbnail never gets the top layer, a hidden tile no video. When the estimate cannot
 * carry audio and the lowest layer of one picture, the subscriber goes audio only (it is
 * told, and told again when video comes back).
 *
 * The estimate is transport-cc's (downlink.c, core/gcc.c) when the page sends its feedback:
 * the allocation tells it what the subscriber would receive if its line allowed it, and its
 * probes find out whether it does. A layer flowing now is kept until its cost is a fifth
 * above the budget, an upgrade needs a tenth to spare, and after a picture went down none
 * goes up for DOWN_HOLD_US: switching costs keyframes, so the layers do not follow every
 * swing of the estimate. Audio only ends when a probe sent since it began came through at
 * what video needs.
 *
 * Without transport-cc feedback (a browser that does not send it): the subscriber's REMB
 * when it says the line is congested, and a loss-based estimate of its own (GCC's loss half,
 * draft-ietf-rmcat-gcc-02 §6) that grows only one upgrade ahead of what is actually sent, so
 * an upgrade is a bounded probe. An upgrade that meets losses within UP_FAIL_US failed: the
 * next one waits (HOLD_MIN_US, doubling to HOLD_MAX_US). While audio only, a short burst of
 * padding on a paused video stream (a probe) asks the line; video returns when a probe
 * comes through without loss. */
#include "sfu_internal.h"

#include "tandem/err.h"

#include <stdlib.h>
#include <string.h>

#define ALLOC_US 200000      /* allocation period */
#define RATE_US 500000       /* layer rates are measured over this */
#define ACTIVE_US 1000000    /* a layer that sent nothing for this long is off */
#define KEY_RETRY_US 1000000 /* a switch still waiting asks for its keyframe again */
#define UP_FAIL_US 3000000   /* losses this soon after an upgrade: it failed */
#define UP_GAP_US 1500000    /* upgrades one after the other, each seen in a report */
#define HOLD_MIN_US 8000000  /* after a failed upgrade, no other for this long */
#define HOLD_MAX_US 16000000
#define AO_ENTER_US 1000000    /* below the threshold this long: audio only */
#define DOWN_HOLD_US 3000000   /* transport-cc: after a picture went down, none goes up */
#define AO_EXIT_US 1000000     /* transport-cc: above it (and a quarter) this long: video */
#define PROBE_FIRST_US 4000000 /* the first probe after audio only began */
#define PROBE_MAX_US 6000000   /* video must come back within seconds of the line */
#define PROBE_LEN_US 600000
#define PROBE_PKT 255         /* padding bytes per probe packet (RFC 3550 §5.1: <= 255) */
#define AUDIO_GUESS_BPS 40000 /* an audio stream not measured yet */
#define LOSS_HIGH 26          /* 10 % of 256 */
#define LOSS_LOW 5            /* 2 % */

/* ---- inputs ------------------------------------------------------------------------ */

static void measure(struct prod *pr, int64_t now)
{
    if (pr->rate_us && now - pr->rate_us < RATE_US)
        return;
    if (pr->rate_us && now > pr->rate_us) {
        uint64_t b = (pr->rx.bytes - pr->rate_bytes) * 8000000u / (uint64_t)(now - pr->rate_us);
        pr->rate_bps = pr->rate_bps ? (pr->rate_bps + b) / 2 : b;
        if (pr->kind == TDM_SDP_AUDIO) /* a DTX pause keeps the voice's share */
            pr->voice_bps = tdm_fwd_voice_hold(pr->voice_bps, pr->rate_bps);
    }
    pr->rate_bytes = pr->rx.bytes;
    pr->rate_us = now;
}

static bool layer_active(const struct prod *lp, int64_t now)
{
    return lp->ssrc && lp->last_rtp_us && now - lp->last_rtp_us < ACTIVE_US;
}

static uint64_t layer_cost(const struct prod *lp)
{
    return lp->rate_bps ? lp->rate_bps : 1;
}

/* The page's tile for c's publisher (for a shared screen, the tile "screen"), or NULL when
 * the page said nothing of it. */
static const struct tdm_sfu_tile *tile_of(const struct part *q, const struct cons *c)
{
    const char *id = c->prod->screen ? "screen" : c->prod->owner->id;
    for (uint8_t i = 0; i < q->n_tiles; i++)
        if (strcmp(q->tiles[i].pid, id) == 0)
            return &q->tiles[i];
    return NULL;
}

/* The highest layer a tile of this size may get (docs/protocol.md "media.layout"): the
 * layers are 1/4, 1/2 and all of the publisher's resolution, for a camera of up to 720p. */
static int tile_max_layer(const struct tdm_sfu_tile *t, int n_layers)
{
    int m = n_layers - 1;
    if (t && t->height) {
        int by = t->height <= 180 ? 0 : t->height <= 360 ? 1 : 2;
        if (n_layers > 1 && by >= n_layers - 1 && t->height <= 360)
            by = n_layers - 2; /* a thumbnail never gets the top layer */
        if (by < m)
            m = by;
    }
    return m;
}

/* ---- the estimate ----------------------------------------------------------------- */

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

static bool queue_grew(struct part *q, int64_t rtt, int64_t now)
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
    base = base / 512 * (512 - (frac > LOSS_HIGH ? frac : LOSS_HIGH));
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

/* Fold the report blocks that came since the last time into the estimate. */
static void update_estimate(struct part *q, int64_t now)
{
    uint64_t frac, through;
    int64_t rtt;
    if (!fresh_reports(q, &frac, &rtt, &through))
        return;
    q->est_us = now;
    if (q->probe_until_us)
        return; /* the probe's own losses are its verdict (probe()), not congestion */
    uint64_t rate = sent_rate(q);
    bool queue = queue_grew(q, rtt, now);
    if ((frac > LOSS_HIGH || queue) && (rate || q->est_bps)) {
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

/* What may be spent on q's line: UINT64_MAX when nothing limits it. */
static uint64_t estimate(const struct part *q, int64_t now)
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

/* ---- the allocation -------------------------------------------------------------- */

struct want {
    struct cons *c;
    const struct tdm_sfu_tile *t;
    int max, base, layer;
    uint64_t area;
    bool speaker, screen;
};

/* A shared screen first (its text must stay readable), the active speaker, tile areas. */
static int by_priority(const void *a, const void *b)
{
    const struct want *x = a, *y = b;
    if (x->screen != y->screen)
        return x->screen ? -1 : 1;
    if (x->speaker != y->speaker)
        return x->speaker ? -1 : 1;
    if (x->area != y->area)
        return x->area > y->area ? -1 : 1;
    return x->c->slot - y->c->slot;
}

/* The cheapest active layer from `from` up to max (inclusive), or -1. */
static int next_active(const struct cons *c, int from, int max, int64_t now)
{
    for (int l = from < 0 ? 0 : from; l <= max; l++)
        if (layer_active(layers_at(c->prod, l), now))
            return l;
    return -1;
}

static uint64_t cost_of(const struct want *w, int layer)
{
    if (layer < 0)
        return 0;
    uint64_t c = layer_cost(layers_at(w->c->prod, layer));
    return layer > w->base ? c + c / 10 : c; /* an upgrade needs a margin */
}

static void set_target(struct tdm_sfu *s, struct part *q, struct cons *c, int layer, int64_t now)
{
    int was = c->sel.target;
    if (layer != was) {
        if (layer > c->sel.cur && c->sel.cur != TDM_LAYERSEL_NONE) {
            if (!q->up_at_us || now - q->up_at_us >= UP_FAIL_US)
                q->good_bps = q->alloc_bps; /* confirmed: what flowed before this one */
            q->up_at_us = now;
        }
        tdm_layersel_set_target(&c->sel, layer);
        if (layer != TDM_LAYERSEL_NONE)
            s->st.layer_switches++;
    }
    if (tdm_layersel_waiting(&c->sel) && (layer != was || now - c->key_asked_us >= KEY_RETRY_US)) {
        c->key_asked_us = now;
        fb_want_keyframe(s, layers_at(c->prod, layer), now);
    }
}

/* Fill ws with q's live video consumers; returns the count. Audio is charged to *budget. */
static size_t collect(struct part *q, struct want *ws, uint64_t *budget, int64_t now)
{
    size_t n = 0;
    const char *speaker = q->room->speaker;
    for (uint32_t i = 0; i < q->n_cons; i++) {
        struct cons *c = q->cons[i];
        if (!c->live)
            continue;
        if (c->prod->kind != TDM_SDP_VIDEO) {
            uint64_t a = c->prod->voice_bps ? c->prod->voice_bps : AUDIO_GUESS_BPS;
            *budget -= a < *budget ? a : *budget;
            continue;
        }
        struct want *w = &ws[n++];
        *w = (struct want){.c = c, .t = tile_of(q, c), .layer = TDM_LAYERSEL_NONE};
        int nl = c->prod->n_layers ? c->prod->n_layers : 1;
        w->max = tile_max_layer(w->t, nl);
        w->base = c->sel.cur != TDM_LAYERSEL_NONE ? c->sel.cur : c->sel.target;
        w->area = w->t && w->t->width ? (uint64_t)w->t->width * w->t->height : UINT32_MAX;
        w->speaker = speaker[0] && strcmp(speaker, c->prod->owner->id) == 0;
        w->screen = c->prod->screen;
        if ((w->t && !w->t->visible) || q->no_video_in || q->audio_only ||
            q->ao_mode == TDM_SFU_AO_AUDIO)
            w->max = -1;
    }
    (void)now;
    return n;
}

/* Pass 1 gives each picture its lowest layer, in priority order, while the budget lasts (or
 * whatever the budget, with floor);
 * pass 2 raises each, in the same order, as far as its tile allows and the budget pays.
 * *step: what the cheapest further upgrade would add (0: every picture is at its best). */
static void spend(struct want *ws, size_t n, uint64_t budget, uint64_t *step, int64_t now,
                  bool hold, bool floor)
{
    *step = 0;
    for (size_t i = 0; i < n; i++) {
        struct want *w = &ws[i];
        bool simulcast = w->c->prod->n_layers > 1;
        int l = w->max < 0 ? -1 : simulcast ? next_active(w->c, 0, w->max, now) : 0;
        /* A picture that is flowing stops only when clearly unaffordable (hysteresis:
         * the report after a cut still counts the switches' keyframes). */
        uint64_t c0 = l >= 0 ? cost_of(w, l) : 0;
        if (w->c->sel.cur != TDM_LAYERSEL_NONE)
            c0 = c0 / 10 * 7;
        if (l >= 0 && (c0 <= budget || !simulcast || floor)) {
            w->layer = l;
            budget -= c0 < budget ? c0 : budget;
        }
    }
    for (size_t i = 0; i < n; i++) {
        struct want *w = &ws[i];
        int from = w->layer;
        if (from < 0)
            continue;
        for (int l = w->max; l > from; l--) {
            if (!layer_active(layers_at(w->c->prod, l), now))
                continue;
            /* the layer flowing now is kept until clearly unaffordable (a fifth below its
             * cost, with the upgrade margin a band of about 30 %): no flapping on an estimate
             * that swings as the line's queue fills and drains */
            uint64_t cl = l == w->base ? cost_of(w, l) / 5 * 4 : cost_of(w, l);
            uint64_t extra = cl > cost_of(w, from) ? cl - cost_of(w, from) : 0;
            if ((hold && l > w->base) || w->layer != from)
                continue; /* one upgrade per picture and allocation */
            if (extra <= budget) {
                budget -= extra;
                w->layer = l;
            }
        }
    }
    for (size_t i = 0; i < n; i++) { /* what the cheapest further upgrade would add */
        const struct want *w = &ws[i];
        int next = w->max < 0 ? -1 : next_active(w->c, w->layer + 1, w->max, now);
        uint64_t nx = next < 0 ? 0 : cost_of(w, next) - cost_of(w, w->layer);
        if (nx && (!*step || nx < *step))
            *step = nx;
    }
}

/* The lowest a picture can cost here, with the audio: below it, audio only. */
static uint64_t threshold(const struct want *ws, size_t n, uint64_t audio, int64_t now)
{
    uint64_t low = 0;
    for (size_t i = 0; i < n; i++) {
        if (ws[i].t && !ws[i].t->visible)
            continue;
        /* Without simulcast the publisher's own rate follows this line (REMB): only
         * simulcast pictures can be dropped for the others' sake. */
        if (ws[i].c->prod->n_layers < 2)
            continue;
        int l = next_active(ws[i].c, 0, 0, now);
        uint64_t c = l == 0 ? layer_cost(layers_at(ws[i].c->prod, 0)) : 0;
        if (c && (!low || c < low))
            low = c;
    }
    return low ? audio + low : 0;
}

static void tell_audio_only(struct tdm_sfu *s, struct part *q, bool on, int64_t now)
{
    q->audio_only = on;
    q->ao_on_us = on ? now : q->ao_on_us;
    amix_mark(s, q->room);
    if (on)
        s->st.audio_only_on++;
    else
        s->st.audio_only_off++;
    struct tdm_sfu_event *e = sfu_event_new(TDM_SFU_EV_AUDIO_ONLY, q->room->id, q->id);
    if (!e)
        return;
    e->on = on;
    sfu_event_push(s, e);
}

/* Automatic audio only, with hysteresis: on after AO_ENTER_US below the threshold; off only
 * when a probe came through (below) or the person asked for video. */
/* With transport-cc, the line itself must show trouble before the pictures are stopped:
 * packets lost (its feedback, or a report block: a tenth) or a queue building up (a round
 * trip 80 ms over the smallest lately). A low estimate alone can be a busy phone's late
 * feedback, not a thin line. */
static bool line_hurts(struct part *q, int64_t now)
{
    const struct sfu_dl *d = q->sub ? q->sub->dl : NULL;
    if (d && d->gcc.last_loss > 0.10)
        return true;
    for (uint32_t i = 0; i < q->n_cons; i++) {
        const struct cons *c = q->cons[i];
        if (!c->live || !c->rep_us || now - c->rep_us > 3 * SFU_RTCP_INTERVAL_US)
            continue;
        if (c->rep_frac > LOSS_HIGH || queue_grew(q, c->rtt_us, now))
            return true;
    }
    return false;
}

static void audio_only_check(struct tdm_sfu *s, struct part *q, uint64_t est, uint64_t need,
                             bool twcc, int64_t now)
{
    if (q->ao_mode == TDM_SFU_AO_VIDEO || !need) {
        q->ao_low_since = 0;
        if (q->audio_only)
            tell_audio_only(s, q, false, now);
        return;
    }
    if (q->audio_only || est >= need || (twcc && !line_hurts(q, now))) {
        q->ao_low_since = 0;
        return;
    }
    if (!q->ao_low_since)
        q->ao_low_since = now;
    if (now - q->ao_low_since < AO_ENTER_US)
        return;
    tell_audio_only(s, q, true, now);
    q->probe_hold_us = PROBE_FIRST_US;
    q->probe_at_us = now + q->probe_hold_us;
    q->probe_ssrc = 0;
}

/* ---- probing while audio only --------------------------------------------------------- */

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

/* Room is learnt by probing, never by sending more pictures on a hunch: while audio only, at
 * what audio and the lowest picture need (video returns when it comes through); otherwise,
 * when the estimate does not pay the next upgrade, at that upgrade's cost, doubling after
 * each probe that came through. */
static void probe(struct tdm_sfu *s, struct part *q, uint64_t need, uint64_t audio, int64_t now)
{
    if (q->probe_until_us) {
        if (probe_verdict(s, q, now) <= 0)
            return;
        q->hold_until_us = now;
        if (q->audio_only) {
            q->est_bps = need + need / 4;
            tell_audio_only(s, q, false, now);
        } else {
            q->est_bps = q->alloc_bps + q->probe_bps;
        }
        return;
    }
    if (now < q->probe_at_us)
        return;
    if (q->audio_only) {
        struct cons *c = need ? probe_target(q) : NULL;
        if (need && !c) { /* nothing to pad (no picture was ever sent here): try it */
            q->est_bps = need + need / 4;
            tell_audio_only(s, q, false, now);
        } else if (c) {
            probe_start(q, c, need + need / 4 > audio + 16000 ? need + need / 4 - audio : 16000,
                        now);
        }
        return;
    }
    if (!q->est_bps || !q->step_bps || now < q->hold_until_us ||
        q->est_bps >= q->alloc_bps + q->step_bps)
        return; /* no limit known, nothing to gain, just congested, or it pays already */
    struct cons *c = flowing(q);
    /* twice the size after two that came through: the climb back after a cap is lifted */
    uint64_t bps = (q->step_bps + q->step_bps / 4) << (q->probe_streak > 1 ? 1 : 0);
    if (c)
        probe_start(q, c, bps < 4 * q->alloc_bps ? bps : 4 * q->alloc_bps, now);
}

/* ---- entry points --------------------------------------------------------------------- */

/* What q would receive if its line allowed it: audio and each picture at the best layer its
 * tile takes (audio only: what ends it, with the margin). Probes of the transport-cc
 * estimator go out while its estimate is below this. */
static uint64_t wish(const struct part *q, const struct want *ws, size_t n, uint64_t audio,
                     uint64_t need, int64_t now)
{
    if (q->audio_only)
        return 2 * need; /* probes go up to 1.5 times this, past what ends it */
    uint64_t w = audio;
    for (size_t i = 0; i < n; i++) {
        int best = -1;
        for (int l = ws[i].max; l >= 0 && best < 0; l--)
            if (layer_active(layers_at(ws[i].c->prod, l), now))
                best = l;
        /* one stream whose rate its publisher sets by what its subscribers can take: what
         * it may send at most */
        bool single = ws[i].c->prod->n_layers < 2 && best >= 0;
        w += single ? SFU_REMB_CAP_BPS : cost_of(&ws[i], best);
    }
    return w;
}

/* With a transport-cc estimate, audio only ends when a probe sent since it began came
 * through at what audio and the lowest picture need, with a quarter to spare, and the
 * estimate has stayed there for AO_EXIT_US (the estimate alone may drift up to half as much
 * again as the audio it carries: no proof of room). The probes go out as soon as the line
 * may have room again (downlink.c). */
static void ao_exit_check(struct tdm_sfu *s, struct part *q, uint64_t est, uint64_t need,
                          int64_t now)
{
    uint64_t exit = need + need / 4;
    if (!q->audio_only || est < exit || dl_probed(q->sub, q->ao_on_us) < exit) {
        q->ao_high_since = 0;
        return;
    }
    if (!q->ao_high_since)
        q->ao_high_since = now;
    if (now - q->ao_high_since >= AO_EXIT_US) {
        q->ao_high_since = 0;
        tell_audio_only(s, q, false, now);
    }
}

static void allocate(struct tdm_sfu *s, struct part *q, int64_t now)
{
    /* transport-cc's estimate when the page sends its feedback; else the older one here */
    uint64_t twcc = dl_estimate(q->sub);
    if (!twcc)
        update_estimate(q, now);
    uint64_t est = twcc ? twcc : estimate(q, now), budget = est;
    struct want ws[TDM_SUBSLOTS_MAX];
    size_t n = collect(q, ws, &budget, now);
    uint64_t audio = est == UINT64_MAX ? 0 : est - budget;
    qsort(ws, n, sizeof ws[0], by_priority);
    uint64_t need = threshold(ws, n, audio, now);
    bool was = q->audio_only;
    audio_only_check(s, q, est, need, twcc != 0, now);
    if (twcc)
        ao_exit_check(s, q, est, need, now);
    else
        probe(s, q, need, audio, now);
    if (was != q->audio_only) /* the tiles' maximum changed */
        n = collect(q, ws, &(uint64_t){budget}, now), qsort(ws, n, sizeof ws[0], by_priority);
    bool hold = twcc ? now < q->hold_until_us
                     : now < q->hold_until_us || (q->up_at_us && now - q->up_at_us < UP_GAP_US);
    /* a low estimate on a line that shows no trouble still gets every picture's lowest
     * layer (line_hurts) */
    spend(ws, n, budget, &q->step_bps, now, hold, twcc && !line_hurts(q, now));
    for (size_t i = 0; twcc && i < n; i++)
        if (ws[i].layer < ws[i].base && ws[i].base != TDM_LAYERSEL_NONE && !q->audio_only)
            q->hold_until_us = now + DOWN_HOLD_US; /* the line shrank: no flapping back up */
    dl_set_want(q->sub, wish(q, ws, n, audio, need, now));
    q->alloc_bps = audio;
    for (size_t i = 0; i < n; i++) {
        set_target(s, q, ws[i].c, ws[i].layer, now);
        if (ws[i].layer >= 0)
            q->alloc_bps += layer_cost(layers_at(ws[i].c->prod, ws[i].layer));
    }
}

void alloc_tick(struct tdm_sfu *s, struct part *q, int64_t now)
{
    bool probing = q->probe_until_us && now < q->probe_until_us;
    if (now < q->next_alloc_us) {
        struct cons *c = probing ? cons_by_ssrc(q, q->probe_ssrc) : NULL;
        if (c)
            send_padding(s, q, c, now);
        else if (probing)
            q->probe_sent_us = q->probe_until_us; /* its stream went away */
        return;
    }
    q->next_alloc_us = now + ALLOC_US;
    for (uint32_t k = 0; k < q->n_prods; k++)
        measure(q->prods[k], now);
    speaker_tick(s, q->room, now);
    if (q->sub && q->sub->srtp)
        allocate(s, q, now);
}

int64_t alloc_deadline(const struct part *q)
{
    int64_t d = q->next_alloc_us;
    if (q->probe_until_us && q->probe_sent_us < q->probe_until_us && q->probe_bps) {
        int64_t x = q->probe_sent_us +
                    (int64_t)((TDM_RTP_HEADER_MIN + PROBE_PKT) * 8000000u / q->probe_bps) +
                    1000; /* whole packets: never a deadline that sends nothing */
        if (x < d && x < q->probe_until_us)
            d = x;
    }
    return d;
}

void alloc_set_layout(struct tdm_sfu *s, struct part *q, struct tdm_sfu_cmd *c, int64_t now)
{
    free(q->tiles);
    q->tiles = c->tiles;
    q->n_tiles = c->tiles ? c->n_tiles : 0;
    c->tiles = NULL;
    q->next_alloc_us = now; /* a tile grew or hid: act on it now */
    sfu_due(s, now);
}

void alloc_set_mode(struct tdm_sfu *s, struct part *q, int8_t mode, int64_t now)
{
    q->ao_mode = mode;
    amix_mark(s, q->room);
    if (mode == TDM_SFU_AO_VIDEO && q->audio_only)
        tell_audio_only(s, q, false, now); /* the person asked for video: a hold, no probe */
    q->ao_low_since = 0;
    q->probe_until_us = 0;
    q->next_alloc_us = now;
    sfu_due(s, now);
}
