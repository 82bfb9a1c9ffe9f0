/* The SFU core's entry points (include/tandem/sfu.h): each input is dispatched downwards,
 * then settle() acts on what the lower layers left as data (connections that came up, sub
 * offers wanted, deadlines that may have moved). This is the only place sub offers are
 * made: once per input, and once more between the two steps of a pub offer from a new
 * connection. A time-out ticks only the participants and rooms that are due (the heap of
 * their deadlines, kept exact after every input: docs/architecture.md "Time-outs"). */
#include "sfu_internal.h"

#include "tandem/demux.h"
#include "tandem/err.h"

#include <stdlib.h>
#include <string.h>

int tdm_sfu_create(const struct tdm_sfu_config *cfg, struct tdm_sfu **out)
{
    *out = NULL;
    if (!cfg || !cfg->ssl_ctx || !cfg->rand32 || cfg->n_socks > TDM_SFU_MAX_SOCKS)
        return TDM_EINVAL;
    struct tdm_sfu *s = calloc(1, sizeof *s);
    if (!s)
        return TDM_ENOMEM;
    s->cfg = *cfg;
    s->next_key = 1;
    s->again_us = INT64_MAX;
    tdm_timerheap_init(&s->timers);
    s->cap_tx = cfg->tx_slots ? cfg->tx_slots : 1024;
    s->tx = malloc(s->cap_tx * sizeof *s->tx);
    s->ice = tdm_ice_table_create(cfg->max_sessions);
    if (!s->tx || !s->ice) {
        tdm_sfu_destroy(s);
        return TDM_ENOMEM;
    }
    tdm_ice_table_set_timeouts(s->ice, cfg->ice_timeout_us, cfg->consent_timeout_us);
    *out = s;
    return 0;
}

void tdm_sfu_destroy(struct tdm_sfu *s)
{
    if (!s)
        return;
    while (s->n_rooms)
        roster_free_room(s, s->rooms[s->n_rooms - 1], 0);
    free(s->rooms);
    struct tdm_sfu_event *e;
    while ((e = tdm_sfu_poll_event(s)))
        tdm_sfu_event_free(e);
    nego_free_scratch(s);
    tdm_ice_table_destroy(s->ice);
    tdm_timerheap_free(&s->timers);
    free(s->dirty);
    free(s->due);
    free(s->poll);
    free(s->tx);
    free(s);
}

/* ---- after every input --------------------------------------------------------------- */

/* A connection whose DTLS came up: a "sub" one makes its consumers live, a "pub" one
 * sends the keyframe requests that waited for its keys. */
static void on_connected(struct tdm_sfu *s, struct peer *p, int64_t now)
{
    if (p->kind == PEER_SUB) {
        roster_update_live(s, p->part, now);
        return;
    }
    for (uint32_t i = 0; i < p->part->n_prods; i++)
        if (p->part->prods[i]->kf_wanted)
            fb_want_keyframe(s, p->part->prods[i], now);
}

/* ---- deadlines ------------------------------------------------------------------------ */

static void take(int64_t x, int64_t *d, bool *poll)
{
    if (x == SFU_POLL)
        *poll = true;
    else if (x < *d)
        *d = x;
}

/* The earliest time anything of q is due (0: at once), from the deadline functions of its
 * parts, each of which says when its tick would next do something; *poll: some of it waits
 * for the next time-out (SFU_POLL). */
static int64_t part_deadline(const struct tdm_sfu *s, const struct part *q, bool *poll)
{
    int64_t d = INT64_MAX;
    if (q->pub)
        take(peer_deadline(s, q->pub), &d, poll);
    if (q->sub)
        take(peer_deadline(s, q->sub), &d, poll);
    if (q->sub_retry_us)
        take(q->sub_retry_us, &d, poll);
    take(dl_deadline(q->sub, s->timeout_us), &d, poll);
    for (uint32_t k = 0; k < q->n_prods; k++)
        take(fb_prod_deadline(q->prods[k]), &d, poll);
    take(alloc_deadline(q), &d, poll);
    take(quality_deadline(q), &d, poll);
    return d;
}

/* Deadlines that may have moved since the last input are recomputed: the heap is exact
 * again (later ones too, so nothing is ticked for nothing). One a running time-out took
 * out is put back after its tick. */
static void recompute(struct tdm_sfu *s)
{
    while (s->n_dirty) {
        struct sfu_timer *t = s->dirty[--s->n_dirty];
        t->dirty = false;
        if (t->due)
            continue;
        struct room *r = sfu_timer_room(t);
        bool poll = false;
        int64_t d = r ? amix_deadline(r) : part_deadline(s, sfu_timer_part(t), &poll);
        tdm_timerheap_set(&s->timers, &t->node, d);
        sfu_timer_poll(s, t, poll);
    }
}

/* The order every time-out ticks in: rooms as listed, each room's mix before its
 * participants as listed (the order of the days when each time-out ticked everyone). */
static uint64_t tick_order(struct sfu_timer *t)
{
    struct part *q = sfu_timer_part(t);
    if (!q)
        return (uint64_t)t->idx << 32;
    return (uint64_t)q->room->timer.idx << 32 | ((uint64_t)t->idx + 1);
}

/* Heapsort of what is due by tick_order: in place (qsort may allocate), O(n log n). */
static void sift(struct sfu_timer **v, uint32_t i, uint32_t n)
{
    for (uint32_t c; (c = 2 * i + 1) < n; i = c) {
        if (c + 1 < n && tick_order(v[c + 1]) > tick_order(v[c]))
            c++;
        if (tick_order(v[c]) <= tick_order(v[i]))
            return;
        struct sfu_timer *x = v[i];
        v[i] = v[c];
        v[c] = x;
    }
}

static void sort_due(struct sfu_timer **v, uint32_t n)
{
    for (uint32_t i = n / 2; i-- > 0;)
        sift(v, i, n);
    for (uint32_t k = n; k-- > 1;) {
        struct sfu_timer *x = v[0];
        v[0] = v[k];
        v[k] = x;
        sift(v, 0, k);
    }
}

static void settle(struct tdm_sfu *s, int64_t now)
{
    if (s->peers_connected) {
        s->peers_connected = false;
        for (uint32_t i = 0; i < s->n_rooms; i++) {
            struct room *r = s->rooms[i];
            for (uint32_t k = 0; k < r->n_parts; k++) {
                struct part *q = r->parts[k];
                if (q->pub && peer_take_connected(q->pub))
                    on_connected(s, q->pub, now);
                if (q->sub && peer_take_connected(q->sub))
                    on_connected(s, q->sub, now);
            }
        }
    }
    if (s->mix_check) { /* before the offers: a listener's mix m-section goes in them */
        s->mix_check = false;
        for (uint32_t i = 0; i < s->n_rooms; i++)
            if (s->rooms[i]->mix_check)
                amix_sync(s, s->rooms[i], now);
    }
    if (s->offers_wanted) {
        s->offers_wanted = false;
        for (uint32_t i = 0; i < s->n_rooms; i++) {
            struct room *r = s->rooms[i];
            for (uint32_t k = 0; k < r->n_parts; k++)
                if (r->parts[k]->offer_wanted)
                    nego_offer_sub(s, r->parts[k], now);
        }
    }
    recompute(s);
}

/* ---- datagrams ----------------------------------------------------------------------- */

int tdm_sfu_handle_datagram(struct tdm_sfu *s, const struct tdm_sfu_path *from, uint8_t *p,
                            size_t len, int64_t now)
{
    int flags = 0;
    enum tdm_demux_kind k = tdm_demux_classify(p, len);
    if (k == TDM_DEMUX_DROP || len > TDM_SFU_RX_MAX)
        return 0;
    if (k == TDM_DEMUX_STUN) {
        flags = peer_on_stun(s, from, p, len, now);
    } else {
        uint64_t sid, user;
        if (tdm_ice_lookup_addr(s->ice, &from->remote, &sid, &user) != 0)
            return 0; /* RFC 8445 §11: only from addresses that passed a connectivity check */
        struct peer *peer = (struct peer *)(uintptr_t)user;
        sfu_wake(s, peer->part); /* whatever it changes of its own deadlines */
        if (k == TDM_DEMUX_DTLS)
            peer_on_dtls(s, peer, from, p, len, now);
        else if (!peer->srtp)
            return 0;
        else if (k == TDM_DEMUX_RTP)
            fan_on_rtp(s, peer, p, len, now);
        else
            fb_on_rtcp(s, peer, p, len, now);
    }
    settle(s, now);
    return flags;
}

void tdm_sfu_handle_path_closed(struct tdm_sfu *s, uint64_t tcp)
{
    for (uint32_t i = 0; i < s->n_rooms; i++) {
        struct room *r = s->rooms[i];
        for (uint32_t k = 0; k < r->n_parts; k++) {
            peer_forget_tcp(r->parts[k]->pub, tcp);
            peer_forget_tcp(r->parts[k]->sub, tcp);
        }
    }
    recompute(s); /* (nothing moves a deadline here: kept exact all the same) */
}

/* ---- commands ------------------------------------------------------------------------ */

void tdm_sfu_handle_command(struct tdm_sfu *s, struct tdm_sfu_cmd *c, int64_t now)
{
    struct room *r = roster_room(s, c->room, c->kind == TDM_SFU_CMD_JOIN);
    struct part *p = r ? roster_find(r, c->pid) : NULL;
    if (p && c->kind != TDM_SFU_CMD_LEAVE)
        sfu_wake(s, p); /* whatever the command changes of its own deadlines */
    switch (c->kind) {
    case TDM_SFU_CMD_JOIN:
        if (r && !p)
            roster_add(s, r, c->pid);
        break;
    case TDM_SFU_CMD_LEAVE:
        if (p)
            roster_remove(s, p, now);
        if (r && r->n_parts == 0)
            roster_free_room(s, r, now);
        break;
    case TDM_SFU_CMD_PUB_OFFER:
        if (p && nego_pub_offer_restarts(s, p, c)) {
            /* A new RTCPeerConnection: start afresh, in a step of its own. The others'
             * offers without this person's tracks go out first (their freed m-sections
             * can then be recycled), and the offer is answered afterwards from a scratch
             * nobody else writes in the meantime (71078ed: a page once got the answer to
             * somebody else's offer when the reset made them inside the answering). */
            roster_reset_media(s, p, now);
            settle(s, now);
        }
        nego_on_pub_offer(s, c, now);
        break;
    case TDM_SFU_CMD_SUB_ANSWER: nego_on_sub_answer(s, c, now); break;
    case TDM_SFU_CMD_BLOCK:
        if (p)
            roster_block(s, p, c->block_audio, c->block_video, now);
        break;
    case TDM_SFU_CMD_RECEIVE:
        if (p)
            roster_receive_video(s, p, c->receive_video, now);
        break;
    case TDM_SFU_CMD_RESUME:
        if (p)
            nego_resend_sub(s, p);
        break;
    case TDM_SFU_CMD_SUB_RESTART:
        if (p)
            nego_restart_sub(s, p, now);
        break;
    case TDM_SFU_CMD_LAYOUT:
        if (p)
            alloc_set_layout(s, p, c, now);
        break;
    case TDM_SFU_CMD_AUDIO_ONLY:
        if (p)
            alloc_set_mode(s, p, c->ao_mode, now);
        break;
    case TDM_SFU_CMD_RECV_ONLY:
        if (p && (p->pub || p->sub || part_receives(p))) {
            /* A new pair of the page's connections, as a pub offer with another certificate
             * (above): what it had is released first, in a step of its own. */
            roster_reset_media(s, p, now);
            settle(s, now);
        }
        if (p)
            nego_on_receive_only(s, p, c);
        break;
    }
    settle(s, now);
}

/* ---- time-outs ----------------------------------------------------------------------- */

static void expire_ice(struct tdm_sfu *s, int64_t now)
{
    struct tdm_ice_expired ex[32];
    int64_t ice_next = INT64_MAX;
    size_t n;
    do {
        n = tdm_ice_tick(s->ice, now, ex, 32, &ice_next);
        for (size_t i = 0; i < n; i++) {
            struct peer *p = (struct peer *)(uintptr_t)ex[i].user;
            if (!p)
                continue;
            p->failed = true;
            p->fail_why = ex[i].reason == TDM_ICE_EXPIRED_CONNECT ? "ICE never connected"
                                                                  : "ICE consent expired";
            sfu_wake(s, p->part); /* due at once: release_failed */
        }
    } while (n == 32);
}

/* A failed connection releases the participant's media; the page is told to start over. */
static bool release_failed(struct tdm_sfu *s, struct part *q, int64_t now)
{
    struct peer *bad = q->pub && q->pub->failed ? q->pub : q->sub && q->sub->failed ? q->sub : NULL;
    if (!bad)
        return false;
    const char *pc = bad->kind == PEER_PUB ? "pub" : "sub", *why = bad->fail_why;
    TDM_INFO("media w%u: a %s connection failed (%s): media released", s->cfg.index, pc, why);
    roster_reset_media(s, q, now);
    sfu_error(s, q->room->id, q->id, NULL, "media_unavailable", NULL, pc,
              "the media connection was lost (%s): close both connections and send a new pub "
              "offer",
              why ? why : "failed");
    return true;
}

static void part_tick(struct tdm_sfu *s, struct part *q, int64_t now)
{
    if (q->pub)
        peer_tick(s, q->pub, now);
    if (q->sub)
        peer_tick(s, q->sub, now);
    if (release_failed(s, q, now))
        return;
    if (q->pub)
        fb_reports(s, q->pub, now);
    if (q->sub)
        fb_reports(s, q->sub, now);
    if (q->sub)
        dl_tick(s, q->sub, now);
    for (uint32_t k = 0; k < q->n_prods; k++)
        fb_prod_tick(s, q->prods[k], now);
    alloc_tick(s, q, now);
    quality_tick(s, q, now);
    if (q->sub_retry_us && q->sub_retry_us <= now) {
        q->sub_retry_us = 0;
        roster_mark_offer(s, q);
    }
}

void tdm_sfu_handle_timeout(struct tdm_sfu *s, int64_t now)
{
    s->timeout_us = now;
    s->again_us = INT64_MAX;
    expire_ice(s, now); /* O(1) until something in the ICE table can expire */
    recompute(s);
    /* What is due leaves the heap first, with what waits for any time-out: a tick that
     * moves another's deadline to now has it ticked by the next call (the caller calls again
     * while tdm_sfu_deadline <= now), so a time-out ends however deadlines move. */
    uint32_t n = 0;
    struct tdm_timer *x;
    while ((x = tdm_timerheap_pop_due(&s->timers, now))) {
        struct sfu_timer *t = (struct sfu_timer *)x;
        t->due = true;
        s->due[n++] = t;
    }
    for (uint32_t i = 0; i < s->n_poll; i++)
        if (!s->poll[i]->due) {
            s->poll[i]->due = true;
            s->due[n++] = s->poll[i];
        }
    sort_due(s->due, n);
    for (uint32_t i = 0; i < n; i++) {
        struct sfu_timer *t = s->due[i];
        struct room *r = sfu_timer_room(t);
        struct part *q = sfu_timer_part(t);
        /* Each piece of work needs a few datagrams: when the queue is nearly full the rest
         * stays due, for the next call right after the caller drained it. */
        if (tdm_sfu_tx_room(s) < SFU_TICK_RESERVE)
            s->again_us = now; /* (one waiting for any time-out too) */
        else if (r)
            amix_tick(s, r, now);
        else
            part_tick(s, q, now);
        t->due = false;
        sfu_wake_room(s, r); /* back in the heap at its next deadline */
        sfu_wake(s, q);
    }
    settle(s, now);
}

/* ---- output -------------------------------------------------------------------------- */

struct tdm_sfu_transmit *tdm_sfu_transmits(struct tdm_sfu *s, size_t *n)
{
    *n = s->n_tx;
    return s->tx;
}

void tdm_sfu_transmits_done(struct tdm_sfu *s)
{
    s->n_tx = 0;
}

size_t tdm_sfu_tx_room(const struct tdm_sfu *s)
{
    return s->cap_tx - s->n_tx;
}

struct tdm_sfu_event *tdm_sfu_poll_event(struct tdm_sfu *s)
{
    struct tdm_sfu_event *e = s->ev_head;
    if (!e)
        return NULL;
    s->ev_head = e->next;
    if (!s->ev_head)
        s->ev_tail = NULL;
    e->next = NULL;
    return e;
}

void tdm_sfu_event_free(struct tdm_sfu_event *e)
{
    if (!e)
        return;
    free(e->ref);
    free(e->sdp);
    free(e);
}

void tdm_sfu_cmd_free(struct tdm_sfu_cmd *c)
{
    if (!c)
        return;
    free(c->ref);
    free(c->sdp);
    free(c->tiles);
    free(c);
}

int64_t tdm_sfu_deadline(const struct tdm_sfu *s)
{
    /* (the ICE table's INT64_MIN, "scan at the next tick" after its time-outs were set,
     * waits for the next time-out like SFU_POLL) */
    int64_t d = tdm_timerheap_next(&s->timers), ice = tdm_ice_deadline(s->ice);
    if (ice < d && ice != INT64_MIN)
        d = ice;
    return s->again_us < d ? s->again_us : d;
}

void tdm_sfu_get_stats(const struct tdm_sfu *s, struct tdm_sfu_stats *out)
{
    *out = s->st;
}

int tdm_sfu_part_stats(const struct tdm_sfu *s, const char *room, const char *pid,
                       struct tdm_sfu_part_stats *out)
{
    memset(out, 0, sizeof *out);
    const struct part *p = NULL;
    for (uint32_t i = 0; i < s->n_rooms && !p; i++)
        if (strcmp(s->rooms[i]->id, room) == 0)
            p = roster_find((struct room *)s->rooms[i], pid);
    if (!p)
        return TDM_ENOTFOUND;
    if (p->sub) {
        out->est_bps = dl_estimate(p->sub);
        out->remb_bps = p->sub->remb_bps;
        out->acked_bps = p->sub->dl ? p->sub->dl->gcc.acked_bps : 0;
        out->feedbacks = p->sub->dl ? p->sub->dl->feedbacks : 0;
    }
    return 0;
}
