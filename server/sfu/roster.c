/* Rooms, participants, producers (incoming tracks) and consumers (a track as one subscriber
 * receives it) coming and going, and what a participant asks of its subscriptions
 * (moderation blocks, data saver). A change to somebody's subscriptions marks them
 * (offer_wanted); the offer itself is made by sfu.c after the input. */
#include "sfu_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A dense array of pointers: append, swap-remove. */
static bool ptr_push(void ***arr, uint32_t *n, uint32_t *cap, void *x)
{
    if (*n == *cap) {
        uint32_t nc = *cap ? *cap * 2 : 8;
        void **na = realloc(*arr, nc * sizeof *na);
        if (!na)
            return false;
        *arr = na;
        *cap = nc;
    }
    (*arr)[(*n)++] = x;
    return true;
}

static void ptr_remove(void **arr, uint32_t *n, void *x)
{
    for (uint32_t i = 0; i < *n; i++) {
        if (arr[i] == x) {
            arr[i] = arr[--*n];
            return;
        }
    }
}

/* Rooms and participants know their places (the time-outs' tick order, sfu.c). */
static void renumber_rooms(struct tdm_sfu *s)
{
    for (uint32_t i = 0; i < s->n_rooms; i++)
        s->rooms[i]->timer.idx = i;
}

static void renumber_parts(struct room *r)
{
    for (uint32_t i = 0; i < r->n_parts; i++)
        r->parts[i]->timer.idx = i;
}

/* ---- rooms and participants ---------------------------------------------------------- */

struct room *roster_room(struct tdm_sfu *s, const char *id, bool create)
{
    for (uint32_t i = 0; i < s->n_rooms; i++)
        if (strcmp(s->rooms[i]->id, id) == 0)
            return s->rooms[i];
    if (!create)
        return NULL;
    struct room *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    snprintf(r->id, sizeof r->id, "%s", id);
    if (!sfu_timer_add(s, &r->timer, true)) {
        free(r);
        return NULL;
    }
    if (!ptr_push((void ***)&s->rooms, &s->n_rooms, &s->cap_rooms, r)) {
        sfu_timer_remove(s, &r->timer);
        free(r);
        return NULL;
    }
    r->timer.idx = s->n_rooms - 1;
    s->st.rooms = s->n_rooms;
    return r;
}

void roster_free_room(struct tdm_sfu *s, struct room *r, int64_t now)
{
    ptr_remove((void **)s->rooms, &s->n_rooms, r);
    renumber_rooms(s);
    s->st.rooms = s->n_rooms;
    while (r->n_parts)
        roster_remove(s, r->parts[r->n_parts - 1], now);
    amix_room_free(s, r);
    sfu_timer_remove(s, &r->timer);
    free(r->parts);
    free(r);
}

struct part *roster_find(struct room *r, const char *pid)
{
    for (uint32_t i = 0; i < r->n_parts; i++)
        if (strcmp(r->parts[i]->id, pid) == 0)
            return r->parts[i];
    return NULL;
}

struct part *roster_add(struct tdm_sfu *s, struct room *r, const char *pid)
{
    struct part *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->room = r;
    snprintf(p->id, sizeof p->id, "%s", pid);
    tdm_subslots_init(&p->slots);
    if (!sfu_timer_add(s, &p->timer, false)) {
        free(p);
        return NULL;
    }
    if (!ptr_push((void ***)&r->parts, &r->n_parts, &r->cap_parts, p)) {
        sfu_timer_remove(s, &p->timer);
        free(p);
        return NULL;
    }
    p->timer.idx = r->n_parts - 1;
    s->st.participants++;
    quality_join(s, p);
    return p;
}

void roster_mark_offer(struct tdm_sfu *s, struct part *p)
{
    p->offer_wanted = true;
    s->offers_wanted = true;
    amix_mark(s, p->room); /* its tracks changed: who hears the mix may have too */
}

/* ---- consumers ----------------------------------------------------------------------- */

static uint32_t fresh_ssrc(struct tdm_sfu *s, const struct part *q)
{
    for (;;) {
        uint32_t v = sfu_rand32(s);
        bool used = v == 0 || (q->sub && v == q->sub->rtcp_ssrc);
        for (uint32_t i = 0; i < q->n_cons && !used; i++)
            used = q->cons[i]->ssrc == v;
        if (!used)
            return v;
    }
}

static void consumer_add(struct tdm_sfu *s, struct part *q, struct prod *pr)
{
    int slot = tdm_subslots_add(&q->slots, pr->key, pr->kind);
    if (slot < 0)
        return; /* TDM_EFULL: this subscriber already receives 64 tracks */
    struct cons *c = calloc(1, sizeof *c);
    if (!c)
        goto fail;
    c->prod = pr;
    c->sub = q;
    c->slot = slot;
    c->ssrc = fresh_ssrc(s, q);
    c->pt = q->pt_for[pr->codec];
    tdm_rtpstats_tx_init(&c->tx, c->ssrc, pr->clock);
    if (!layers_cons_init(s, c))
        goto fail;
    if (!ptr_push((void ***)&pr->cons, &pr->n_cons, &pr->cap_cons, c))
        goto fail;
    if (!ptr_push((void ***)&q->cons, &q->n_cons, &q->cap_cons, c)) {
        ptr_remove((void **)pr->cons, &pr->n_cons, c);
        goto fail;
    }
    q->slot_cons[slot] = c;
    q->slot_codec[slot] = (uint8_t)pr->codec;
    return;
fail:
    if (c)
        layers_cons_free(c);
    free(c);
    tdm_subslots_remove(&q->slots, pr->key);
}

void roster_drop_consumer(struct part *q, int slot)
{
    struct cons *c = q->slot_cons[slot];
    if (!c)
        return;
    tdm_subslots_remove(&q->slots, c->prod->key);
    ptr_remove((void **)c->prod->cons, &c->prod->n_cons, c);
    ptr_remove((void **)q->cons, &q->n_cons, c);
    q->slot_cons[slot] = NULL;
    layers_cons_free(c);
    free(c);
}

/* Consumers start forwarding once the browser agreed to their m-section and the "sub"
 * connection has keys; a video consumer that starts asks its publisher for a keyframe so
 * the picture appears at once instead of at the next periodic keyframe. */
void roster_update_live(struct tdm_sfu *s, struct part *q, int64_t now)
{
    bool keys = q->sub && q->sub->srtp;
    for (uint32_t i = 0; i < q->slots.n; i++) {
        struct cons *c = q->slot_cons[i];
        if (!c)
            continue;
        bool live = keys && tdm_subslots_live(&q->slots, i);
        if (live && !c->live)
            fb_want_keyframe(s, layers_key_source(c), now);
        c->live = live;
    }
    amix_mark(s, q->room); /* the mix's m-section may be live now */
}

/* Moderation stopped this person's microphone or camera: their packets are dropped by the
 * fan-out (the subscribers' numbering closes over them); a camera allowed again starts
 * with a keyframe. */
void roster_block(struct tdm_sfu *s, struct part *p, bool audio, bool video, int64_t now)
{
    bool was_video = p->block_video;
    p->block_audio = audio;
    p->block_video = video;
    for (uint32_t i = 0; was_video && !video && i < p->n_prods; i++)
        fb_want_keyframe(s, p->prods[i], now);
    /* A coordinator stopped this person's video: a shared screen ends too (the others are
     * told; its packets find no producer until the page offers again). */
    for (uint32_t i = p->n_prods; video && i-- > 0;)
        if (p->prods[i]->screen) {
            roster_remove_prod(s, p->prods[i]);
            break;
        }
}

/* The person turned others' video off to save data (or on again): nothing of it is sent to
 * them, and the publishers' estimate no longer counts their line; turned on again, each
 * picture starts with a keyframe. */
void roster_receive_video(struct tdm_sfu *s, struct part *p, bool on, int64_t now)
{
    bool was_off = p->no_video_in;
    p->no_video_in = !on;
    amix_mark(s, p->room);
    if (!was_off || !on)
        return;
    for (uint32_t i = 0; i < p->n_cons; i++)
        if (p->cons[i]->prod->kind == TDM_SDP_VIDEO)
            fb_want_keyframe(s, layers_key_source(p->cons[i]), now);
}

/* ---- producers ----------------------------------------------------------------------- */

struct prod *roster_add_prod(struct tdm_sfu *s, struct part *owner,
                             const struct tdm_sdp_nego_media *nm, size_t ssrc_i)
{
    if (owner->n_prods >= SFU_MAX_PRODS || !nm->n_codecs)
        return NULL;
    struct prod *pr = calloc(1, sizeof *pr);
    if (!pr)
        return NULL;
    const struct tdm_sdp_nego_codec *nc = &nm->codecs[0];
    pr->key = s->next_key++;
    pr->owner = owner;
    pr->kind = nm->kind;
    pr->codec = nc->codec;
    pr->pt = nc->pt;
    pr->rtx_pt = nc->rtx_pt;
    pr->clock = nc->clock ? nc->clock : 90000;
    pr->fb = nc->fb;
    pr->ssrc = ssrc_i < nm->n_ssrcs ? nm->ssrc[ssrc_i] : 0;
    pr->rtx_ssrc = ssrc_i < nm->n_ssrcs ? nm->rtx_ssrc[ssrc_i] : 0;
    memcpy(pr->ext, nm->ext, sizeof pr->ext);
    memcpy(pr->mid, nm->mid, sizeof pr->mid);
    snprintf(pr->track_id, sizeof pr->track_id, "%c%llu", nm->kind == TDM_SDP_AUDIO ? 'a' : 'v',
             (unsigned long long)pr->key);
    tdm_rtpstats_rx_init(&pr->rx, pr->ssrc, pr->clock);
    tdm_rtx_kf_throttle_init(&pr->kf, SFU_KF_INTERVAL_US);
    if (pr->kind == TDM_SDP_VIDEO && (pr->fb & TDM_SDP_FB_NACK)) {
        pr->nack = tdm_nack_rx_create(NULL);
        if (!pr->nack || !layers_hist_init(pr)) {
            tdm_nack_rx_destroy(pr->nack);
            free(pr);
            return NULL;
        }
    }
    owner->prods[owner->n_prods++] = pr;
    sfu_wake(s, owner); /* its NACKs and keyframe requests */
    if (!layers_make(s, pr, nm)) {
        roster_remove_prod(s, pr);
        return NULL;
    }
    return pr;
}

void roster_share_event(struct tdm_sfu *s, const struct part *p, bool on)
{
    struct tdm_sfu_event *e = sfu_event_new(TDM_SFU_EV_SHARE, p->room->id, p->id);
    if (!e)
        return;
    e->on = on;
    sfu_event_push(s, e);
}

void roster_remove_prod(struct tdm_sfu *s, struct prod *pr)
{
    if (pr->base) /* a layer goes with its track */
        pr = pr->base;
    if (pr->screen) /* the share ends with its track: the control thread tells the room */
        roster_share_event(s, pr->owner, false);
    amix_forget_prod(pr);
    layers_free(pr);
    while (pr->n_cons) {
        struct cons *c = pr->cons[pr->n_cons - 1];
        roster_mark_offer(s, c->sub);
        roster_drop_consumer(c->sub, c->slot);
    }
    struct part *o = pr->owner;
    sfu_wake(s, o);
    for (uint32_t i = 0; i < o->n_prods; i++) {
        if (o->prods[i] == pr) {
            o->prods[i] = o->prods[--o->n_prods];
            break;
        }
    }
    tdm_nack_rx_destroy(pr->nack);
    free(pr->cons);
    free(pr);
}

void roster_subscribe_all(struct tdm_sfu *s, struct room *r)
{
    for (uint32_t i = 0; i < r->n_parts; i++) {
        struct part *q = r->parts[i];
        if (!part_receives(q))
            continue;
        for (uint32_t j = 0; j < r->n_parts; j++) {
            struct part *o = r->parts[j];
            for (uint32_t k = 0; o != q && k < o->n_prods; k++)
                if (!o->prods[k]->base && tdm_subslots_find(&q->slots, o->prods[k]->key) < 0)
                    consumer_add(s, q, o->prods[k]);
        }
    }
    for (uint32_t i = 0; i < r->n_parts; i++)
        roster_mark_offer(s, r->parts[i]);
}

/* Release the participant's connections, producers and consumers (it left, or its media
 * failed); the others' subscriptions follow. The revision counter keeps increasing. */
void roster_reset_media(struct tdm_sfu *s, struct part *p, int64_t now)
{
    while (p->n_prods)
        roster_remove_prod(s, p->prods[p->n_prods - 1]);
    for (uint32_t i = 0; i < p->slots.n; i++)
        roster_drop_consumer(p, (int)i);
    amix_part_reset(s, p);
    int64_t rev = p->slots.rev;
    tdm_subslots_init(&p->slots);
    p->slots.rev = rev;
    free(p->sub_current);
    free(p->sub_pending);
    p->sub_current = p->sub_pending = NULL;
    peer_destroy(s, p->pub, now);
    peer_destroy(s, p->sub, now);
    p->pub = p->sub = NULL;
    p->published = p->recv_only = false;
    p->offer_wanted = false;
    p->sub_retry_us = 0;
    sfu_wake(s, p);
}

void roster_remove(struct tdm_sfu *s, struct part *p, int64_t now)
{
    roster_reset_media(s, p, now);
    ptr_remove((void **)p->room->parts, &p->room->n_parts, p);
    renumber_parts(p->room);
    s->st.participants--;
    quality_leave(s, p);
    sfu_timer_remove(s, &p->timer);
    free(p->cons);
    free(p->tiles);
    free(p);
}
