/* What each subscriber receives (docs/architecture.md "Allocation"): its downlink estimate
 * is spent audio first, then a shared screen, then the active speaker's video, then the
 * others by tile size; each video gets one simulcast layer (layers.c, core/layersel.c). A
 * thumbnail never gets the top layer, a hidden tile no video. A picture after the first that
 * the line cannot carry while it loses is paused (the page is told: media.paused) and comes
 * back only on proof. When the estimate cannot carry audio and the lowest layer of one
 * picture, the subscriber goes audio only (it is told, and told again when video comes
 * back, again only on proof).
 *
 * The estimate is transport-cc's (downlink.c, core/gcc.c) when the page sends its feedback:
 * the allocation tells it what the subscriber would receive if its line allowed it, and its
 * probes find out whether it does. A layer flowing now is kept until its cost is a fifth
 * above the budget; a picture goes down at once when it is, but up only after the estimate
 * paid the upgrade (with a tenth to spare) for a while and padding at that rate came
 * through (see "upgrades on transport-cc" below), and after a picture went down none goes
 * up for DOWN_HOLD_US: switching costs keyframes, so the layers do not follow every swing
 * of the estimate. Audio only ends when a probe sent since it began came through at what
 * video needs.
 *
 * Without transport-cc feedback (a browser that does not send it) the estimate is rrest.c's,
 * from receiver reports and REMB, with its padding probes. */
#include "sfu_internal.h"

#include "tandem/err.h"

#include <stdlib.h>
#include <string.h>

#define ALLOC_US 200000        /* allocation period */
#define RATE_US 500000         /* layer rates are measured over this */
#define ACTIVE_US 1000000      /* a layer that sent nothing for this long is off */
#define KEY_RETRY_US 1000000   /* a switch still waiting asks for its keyframe again */
#define AO_ENTER_US 1000000    /* below the threshold this long: audio only */
#define DOWN_HOLD_US 3000000   /* transport-cc: after a picture went down, none goes up */
#define AUDIO_GUESS_BPS 40000  /* an audio stream not measured yet */
#define UP_DWELL_US 1000000    /* transport-cc: the estimate pays an upgrade this long, */
#define UP_PROBE_US 1500000    /* then padding at its rate comes through this long */
#define UP_OK_US 1000000       /* a probe that came through allows upgrades this long */
#define UP_CARRIED_PCT 90      /* it came through: this much of its goal delivered, */
#define UP_LOST_PCT 3          /* and at most this much of what it sent lost */
#define UP_FAIL_US 4000000     /* a picture down this soon after an upgrade: it failed */
#define UP_BACK_MIN_US 3000000 /* after a failed probe or upgrade, none for this long, */
#define UP_BACK_MAX_US 5000000 /* growing up to this (back within 10 s of a lifted limit) */
#define UP_QUIET_US 1500000    /* the losses of a failed probe pass with its loss window */
#define AO_BACK_MIN_US 4000000 /* audio only: after a failed probe none for this long, */
#define AO_BACK_MAX_US 7000000 /* growing up to this (video back within 10 s of a lifted limit) */
#define TIGHT_US 1000000       /* the line loses a tenth this long: no layer kept on credit */
#define LOSSY_US 3000000       /* and as much this long after that: the loss is random, */
#define LOSSY_FOR_US 30000000  /* not congestion, for this long */
#define RETURN_MARGIN_10THS 4  /* a paused picture comes back with this much to spare */

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

/* ---- the allocation -------------------------------------------------------------- */

struct want {
    struct cons *c;
    const struct tdm_sfu_tile *t;
    int max, base, layer;
    int top; /* the highest of the layer flowing and the one switched to (a pending upgrade) */
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
        if (layer > c->sel.cur && c->sel.cur != TDM_LAYERSEL_NONE)
            rr_upgraded(q, now);
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
    bool twcc = dl_estimate(q->sub) != 0;
    for (uint32_t i = 0; i < q->n_cons; i++) {
        struct cons *c = q->cons[i];
        if (!c->live)
            continue;
        if (c->prod->kind != TDM_SDP_VIDEO) {
            uint64_t r = c->prod->rate_bps;
            uint64_t a = r ? tdm_fwd_voice_charge(c->prod->voice_bps, r) : AUDIO_GUESS_BPS;
            *budget -= a < *budget ? a : *budget;
            continue;
        }
        struct want *w = &ws[n++];
        *w = (struct want){.c = c, .t = tile_of(q, c), .layer = TDM_LAYERSEL_NONE};
        int nl = c->prod->n_layers ? c->prod->n_layers : 1;
        w->max = tile_max_layer(w->t, nl);
        w->base = c->sel.cur != TDM_LAYERSEL_NONE ? c->sel.cur : c->sel.target;
        /* transport-cc: a hold keeps a pending upgrade (up_allowed verified it) */
        w->top = twcc && c->sel.target > w->base ? c->sel.target : w->base;
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

#define SPEND_HOLD 1  /* no picture goes up */
#define SPEND_FLOOR 2 /* every picture gets its lowest layer, whatever the budget */
#define SPEND_TIGHT 4 /* the line keeps losing: no picture keeps a layer it cannot pay */

/* Pass 1 gives each picture its lowest layer, in priority order, while the budget lasts (or
 * whatever the budget, with SPEND_FLOOR);
 * pass 2 raises each, in the same order, as far as its tile allows and the budget pays.
 * *step: what the cheapest further upgrade would add (0: every picture is at its best). */
static void spend(struct want *ws, size_t n, uint64_t budget, uint64_t *step, int64_t now,
                  unsigned how)
{
    bool hold = how & SPEND_HOLD, floor = how & SPEND_FLOOR, tight = how & SPEND_TIGHT;
    /* (tight: stopping a picture altogether is audio only's business, audio_only_check) */
    *step = 0;
    for (size_t i = 0; i < n; i++)
        ws[i].layer = TDM_LAYERSEL_NONE;
    bool first = true; /* the first picture wanted is kept: below it, audio only decides */
    for (size_t i = 0; i < n; i++) {
        struct want *w = &ws[i];
        bool simulcast = w->c->prod->n_layers > 1;
        int l = w->max < 0 ? -1 : simulcast ? next_active(w->c, 0, w->max, now) : 0;
        bool keep = first && l >= 0;
        first &= l < 0;
        if (hold && w->c->line_off && !keep)
            l = -1;
        /* A picture that is flowing stops only when clearly unaffordable (hysteresis:
         * the report after a cut still counts the switches' keyframes). */
        uint64_t c0 = l >= 0 ? cost_of(w, l) : 0;
        if (w->c->sel.cur != TDM_LAYERSEL_NONE)
            c0 = c0 / 10 * 7;
        else if (w->c->line_off)
            c0 += c0 / 10 * RETURN_MARGIN_10THS; /* its keyframe, and the others' */
        /* a picture the line could not carry comes back only when it is paid (and probed,
         * up_allowed): not on the floor, or it would go on and off with the line's loss */
        if (l >= 0 && (c0 <= budget || !simulcast || keep || (floor && !w->c->line_off))) {
            w->layer = l;
            budget -= c0 < budget ? c0 : budget;
        }
    }
    /* A picture that gets nothing comes back before any picture after it goes above its
     * lowest layer: what they would take is what it needs. */
    size_t upto = n;
    for (size_t i = 0; i < n && upto == n; i++)
        if (ws[i].layer < 0 && ws[i].max >= 0 && next_active(ws[i].c, 0, ws[i].max, now) >= 0)
            upto = i;
    for (size_t i = 0; i < upto; i++) {
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
            uint64_t cl = l == w->base && !tight ? cost_of(w, l) / 5 * 4 : cost_of(w, l);
            uint64_t extra = cl > cost_of(w, from) ? cl - cost_of(w, from) : 0;
            if ((hold && l > w->top) || w->layer != from)
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

/* A picture stopped for q's line, or back (docs/protocol.md "media.paused"): the page shows
 * the person's name instead of a frozen picture. */
static void tell_paused(struct tdm_sfu *s, struct part *q, struct cons *c, bool on)
{
    c->line_off = on;
    struct tdm_sfu_event *e = sfu_event_new(TDM_SFU_EV_PAUSED, q->room->id, q->id);
    if (!e)
        return;
    memcpy(e->subject, c->prod->owner->id, sizeof e->subject);
    e->on = on;
    e->screen = c->prod->screen;
    sfu_event_push(s, e);
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
        if (c->rep_frac > SFU_LOSS_HIGH || rr_queue_grew(q, c->rtt_us, now))
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
    rr_audio_only_began(q, now);
}

/* ---- upgrades on transport-cc ------------------------------------------------------- */

/* An estimate above what is sent has not been tested: GCC lets it grow to 1.5 times what
 * was delivered, and a policer lets a probe cluster of tens of milliseconds through on its
 * burst. Spent on pictures at once, it ran into the line's limit a few seconds later, and
 * the pictures went down again: 7 to 9 switches a picture in 35 s in browsers, each a
 * keyframe and a visible jump. So, as the best SFUs do, down at once, but up only when the
 * estimate has paid the upgrade for UP_DWELL_US and then padding on top of the media at the
 * rate the upgrade needs (with a tenth to spare) came through for UP_PROBE_US without loss,
 * queue or a lower delivered rate (longer than a policer's burst lasts at that excess); a
 * failed probe, or an upgrade that a picture's going down follows within UP_FAIL_US, holds
 * further upgrades UP_BACK_MIN_US, growing to UP_BACK_MAX_US. A line that loses a tenth for
 * TIGHT_US keeps no layer on credit (allocate, SPEND_TIGHT), unless the loss stayed while the
 * pictures came down (random loss: LOSSY_US, LOSSY_FOR_US). */

static void up_failed(struct part *q, int64_t now)
{
    /* audio only: a failed probe costs the voice, the only thing this line carries */
    int64_t lo = q->audio_only ? AO_BACK_MIN_US : UP_BACK_MIN_US;
    int64_t hi = q->audio_only ? AO_BACK_MAX_US : UP_BACK_MAX_US;
    q->up_back_us = q->up_back_us < lo ? lo : q->up_back_us * 2 > hi ? hi : q->up_back_us * 2;
    if (q->hold_until_us < now + q->up_back_us)
        q->hold_until_us = now + q->up_back_us;
    q->up_ok_until_us = 0;
}

static void up_stop(struct part *q, int64_t now)
{
    if (q->up_probe_until_us)
        dl_pad(q->sub, 0, 0, now);
    q->up_probe_until_us = 0;
    q->up_since_us = 0;
}

/* The running probe's verdict: the estimator shows trouble (at once) or nothing did (at its
 * end). */
static void up_probe_check(struct part *q, int64_t now)
{
    if (!q->up_probe_until_us)
        return;
    bool at_end = now >= q->up_probe_until_us;
    uint64_t carried = at_end ? q->up_goal_bps / 100 * UP_CARRIED_PCT : 0;
    /* the estimate need only reach the goal by the end: it rises as the padding comes */
    bool short_of = dl_short_of(q->sub, at_end ? q->up_goal_bps : 0, carried);
    const struct tdm_gcc *g = &q->sub->dl->gcc;
    uint64_t told = g->reported - q->up_reported, lost = g->reported_lost - q->up_reported_lost;
    if (at_end && lost * 100 > told * UP_LOST_PCT)
        short_of = true; /* a policer at the edge passes most of it: most is not enough */
    if (!short_of && !at_end)
        return;
    up_stop(q, now);
    if (short_of) {
        up_failed(q, now);
        q->up_quiet_until_us = now + UP_QUIET_US; /* its own losses are no news */
    } else {
        q->up_ok_until_us = now + UP_OK_US;
        q->up_back_us = 0;
    }
}

/* Padding on top of what is sent (sent) up to goal and a tenth, for UP_PROBE_US: its verdict
 * is up_probe_check's. */
static void up_start(struct part *q, uint64_t goal, uint64_t sent, int64_t now)
{
    uint64_t on = goal + goal / 10;
    q->up_goal_bps = goal;
    q->up_probe_until_us = now + UP_PROBE_US;
    q->up_reported = q->sub->dl->gcc.reported;
    q->up_reported_lost = q->sub->dl->gcc.reported_lost;
    dl_pad(q->sub, on > sent + 16000 ? on - sent : 16000, q->up_probe_until_us, now);
}

/* Up to this layer w is no upgrade: what it has (or is switching to), or where a picture
 * that was off starts. */
static int floor_layer(const struct want *w, int64_t now)
{
    if (w->top != TDM_LAYERSEL_NONE || w->c->line_off)
        return w->top;
    return w->c->prod->n_layers > 1 ? next_active(w->c, 0, w->max, now) : 0;
}

/* Whether the allocation in ws (audio: what the audio costs) may stand: it raises no
 * picture, or a probe verified what it costs. Otherwise it starts the dwell, then the probe. */
static bool up_allowed(struct part *q, const struct want *ws, size_t n, uint64_t audio, int64_t now)
{
    uint64_t goal = audio;
    bool up = false;
    for (size_t i = 0; i < n; i++) {
        if (ws[i].layer < 0)
            continue;
        uint64_t c = layer_cost(layers_at(ws[i].c->prod, ws[i].layer));
        goal += ws[i].c->line_off ? c + c / 10 * RETURN_MARGIN_10THS : c;
        up |= ws[i].layer > floor_layer(&ws[i], now);
    }
    if (!up) {
        if (!q->up_probe_until_us)
            q->up_since_us = 0;
        return true;
    }
    if (goal <= q->alloc_bps)
        return true; /* no more than flows now: another order of the same (a new speaker) */
    if (q->up_ok_until_us > now && goal <= q->up_goal_bps + q->up_goal_bps / 10)
        return true; /* the probe carried this much */
    if (q->up_probe_until_us)
        return false; /* its verdict comes (up_probe_check) */
    if (!q->up_since_us)
        q->up_since_us = now;
    if (now - q->up_since_us < UP_DWELL_US)
        return false;
    up_start(q, goal, q->alloc_bps, now);
    return false;
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

/* With a transport-cc estimate, audio only ends when a probe of the estimator sent since it
 * began came through at what audio and the lowest picture need, with a quarter to spare,
 * the estimate is there too (it alone may drift up to half as much again as the audio it
 * carries: no proof of room), and then padding at that rate came through for UP_PROBE_US as
 * for an upgrade (up_probe_check): a policer's burst lets the estimator's short probes
 * through at any rate, and audio only went off and on again behind one. The estimator's
 * probes go out as soon as the line may have room again (downlink.c). */
static void ao_exit_check(struct tdm_sfu *s, struct part *q, uint64_t est, uint64_t need,
                          int64_t now)
{
    uint64_t exit = need + need / 4;
    if (!q->audio_only || est < exit || dl_probed(q->sub, q->ao_on_us) < exit)
        return;
    if (q->up_ok_until_us > now && q->up_goal_bps >= exit)
        tell_audio_only(s, q, false, now);
    else if (!q->up_probe_until_us && now >= q->hold_until_us)
        up_start(q, exit, q->sub->dl->media_bps, now);
}

static void allocate(struct tdm_sfu *s, struct part *q, int64_t now)
{
    /* transport-cc's estimate when the page sends its feedback; else the older one here */
    uint64_t twcc = dl_estimate(q->sub);
    if (!twcc)
        rr_update(q, now);
    uint64_t est = twcc ? twcc : rr_estimate(q, now), budget = est;
    struct want ws[TDM_SUBSLOTS_MAX];
    size_t n = collect(q, ws, &budget, now);
    uint64_t audio = est == UINT64_MAX ? 0 : est - budget;
    qsort(ws, n, sizeof ws[0], by_priority);
    uint64_t need = threshold(ws, n, audio, now);
    bool was = q->audio_only;
    audio_only_check(s, q, est, need, twcc != 0, now);
    if (twcc)
        ao_exit_check(s, q, est, need, now);
    else if (rr_probe(s, q, need, audio, now))
        tell_audio_only(s, q, false, now); /* a probe came through */
    if (was != q->audio_only)              /* the tiles' maximum changed */
        n = collect(q, ws, &(uint64_t){budget}, now), qsort(ws, n, sizeof ws[0], by_priority);
    if (twcc)
        up_probe_check(q, now);
    bool hold = now < q->hold_until_us || (!twcc && rr_upgrade_settling(q, now));
    /* a low estimate on a line that shows no trouble still gets every picture's lowest
     * layer (line_hurts) */
    bool hurts = twcc && line_hurts(q, now);
    bool own_loss = now < q->up_quiet_until_us; /* a failed probe's: no news of the line */
    /* "video" (the person's tap): every picture at least at its lowest layer, whatever the
     * line */
    bool insist = q->ao_mode == TDM_SFU_AO_VIDEO;
    unsigned how =
        (hold ? SPEND_HOLD : 0) | ((twcc && (!hurts || own_loss)) || insist ? SPEND_FLOOR : 0);
    for (size_t i = 0; insist && i < n; i++)
        if (ws[i].c->line_off)
            tell_paused(s, q, ws[i].c, false);
    if (!hurts || own_loss)
        q->hurt_since_us = 0;
    else if (!q->hurt_since_us)
        q->hurt_since_us = now;
    if (q->hurt_since_us && now - q->hurt_since_us >= TIGHT_US + LOSSY_US) {
        /* pictures came down and the line loses as much: random loss, not a full line */
        q->lossy_until_us = now + LOSSY_FOR_US;
        q->hurt_since_us = 0;
    }
    if (q->hurt_since_us && now - q->hurt_since_us >= TIGHT_US && now >= q->lossy_until_us) {
        /* what is sent costs more on the line than the layers' rates say (headers, resends,
         * keyframes asked for): the estimate, in the layers' terms */
        uint64_t sent = q->sub->dl->media_bps;
        uint64_t k = sent > q->alloc_bps && q->alloc_bps ? q->alloc_bps * 1000 / sent : 1000;
        budget = budget / 1000 * (k < 750 ? 750 : k);
        how |= SPEND_TIGHT;
    }
    spend(ws, n, budget, &q->step_bps, now, how);
    if (twcc && !hold && !up_allowed(q, ws, n, audio, now))
        spend(ws, n, budget, &q->step_bps, now, how | SPEND_HOLD);
    bool down = false;
    for (size_t i = 0; twcc && i < n; i++)
        down |= ws[i].layer < ws[i].base && ws[i].base != TDM_LAYERSEL_NONE &&
                ws[i].max >= ws[i].base && !q->audio_only; /* the line, not the tile */
    if (down && q->up_at_us && now - q->up_at_us < UP_FAIL_US) {
        up_failed(q, now); /* the last upgrade was too much */
        q->up_at_us = 0;
    } else if (down && q->hold_until_us < now + DOWN_HOLD_US) {
        q->hold_until_us = now + DOWN_HOLD_US; /* the line shrank: no flapping back up */
    }
    if (down) {
        up_stop(q, now);
        q->up_ok_until_us = 0;
    }
    dl_set_want(q->sub, wish(q, ws, n, audio, need, now));
    q->alloc_bps = audio;
    for (size_t i = 0; i < n; i++) {
        /* stopped by the line, not by its tile, audio only or its publisher */
        int nl = ws[i].c->prod->n_layers ? ws[i].c->prod->n_layers : 1;
        bool off = ws[i].layer < 0 && ws[i].max >= 0 && !q->audio_only &&
                   next_active(ws[i].c, 0, nl - 1, now) >= 0;
        if (off != ws[i].c->line_off)
            tell_paused(s, q, ws[i].c, off);
        set_target(s, q, ws[i].c, ws[i].layer, now);
        if (ws[i].layer >= 0)
            q->alloc_bps += layer_cost(layers_at(ws[i].c->prod, ws[i].layer));
    }
}

void alloc_tick(struct tdm_sfu *s, struct part *q, int64_t now)
{
    if (now < q->next_alloc_us) {
        rr_pad(s, q, now);
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
    if (!q->next_alloc_us)
        return SFU_POLL; /* the allocation's clock starts at the first time-out */
    return rr_deadline(q, q->next_alloc_us);
}

void alloc_set_layout(struct tdm_sfu *s, struct part *q, struct tdm_sfu_cmd *c, int64_t now)
{
    free(q->tiles);
    q->tiles = c->tiles;
    q->n_tiles = c->tiles ? c->n_tiles : 0;
    c->tiles = NULL;
    q->next_alloc_us = now; /* a tile grew or hid: act on it now */
    sfu_wake(s, q);
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
    sfu_wake(s, q);
}
