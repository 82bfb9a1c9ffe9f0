/* Rooms on a media worker: participants, producers (incoming tracks) and consumers (a track
 * as one subscriber receives it), the fan-out of each RTP packet, and the per-room timer
 * work (feedback to publishers, keyframe requests). The hot path, mw_on_rtp, neither
 * allocates, locks nor logs. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "media_internal.h"
#include "metrics.h"

#include "tandem/err.h"
#include "tandem/rtp.h"
#include "tandem/util.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t rand32(void)
{
    uint32_t v = 0;
    if (RAND_bytes((unsigned char *)&v, sizeof v) != 1)
        v = (uint32_t)tdm_now_us();
    return v;
}

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

/* ---- rooms and participants ---------------------------------------------------------- */

struct mroom *mroom_get(struct media_worker *w, const char *id, bool create)
{
    struct mroom *r = g_hash_table_lookup(w->rooms, id);
    if (r || !create)
        return r;
    r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    snprintf(r->id, sizeof r->id, "%s", id);
    g_hash_table_insert(w->rooms, r->id, r);
    return r;
}

void mroom_free(struct media_worker *w, struct mroom *r)
{
    g_hash_table_remove(w->rooms, r->id);
    while (r->n_parts)
        mpart_remove(w, r->parts[r->n_parts - 1]);
    free(r->parts);
    free(r);
}

struct mpart *mpart_find(struct mroom *r, const char *pid)
{
    for (uint32_t i = 0; i < r->n_parts; i++)
        if (strcmp(r->parts[i]->id, pid) == 0)
            return r->parts[i];
    return NULL;
}

struct mpart *mpart_add(struct media_worker *w, struct mroom *r, const char *pid)
{
    (void)w;
    struct mpart *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->room = r;
    snprintf(p->id, sizeof p->id, "%s", pid);
    tdm_subslots_init(&p->slots);
    if (!ptr_push((void ***)&r->parts, &r->n_parts, &r->cap_parts, p)) {
        free(p);
        return NULL;
    }
    return p;
}

/* ---- consumers ----------------------------------------------------------------------- */

static uint32_t fresh_ssrc(const struct mpart *q)
{
    for (;;) {
        uint32_t s = rand32();
        bool used = s == 0 || (q->sub && s == q->sub->rtcp_ssrc);
        for (uint32_t i = 0; i < q->n_cons && !used; i++)
            used = q->cons[i]->ssrc == s;
        if (!used)
            return s;
    }
}

static void consumer_add(struct media_worker *w, struct mpart *q, struct mprod *pr)
{
    int slot = tdm_subslots_add(&q->slots, pr->key, pr->kind);
    if (slot < 0)
        return; /* TDM_EFULL: this subscriber already receives 64 tracks */
    struct mcons *c = calloc(1, sizeof *c);
    if (!c)
        goto fail;
    c->prod = pr;
    c->sub = q;
    c->slot = slot;
    c->ssrc = fresh_ssrc(q);
    c->pt = q->pt_for[pr->codec];
    tdm_seqmap_init(&c->seqmap, (uint16_t)rand32(), rand32());
    tdm_rtpstats_tx_init(&c->tx, c->ssrc, pr->clock);
    if (pr->kind == TDM_SDP_VIDEO) {
        c->hist = tdm_rtx_hist_create(MW_RTX_SLOTS, MW_RTX_SLOT_BYTES);
        if (!c->hist)
            goto fail;
        tdm_rtx_hist_set_limits(c->hist, 1000000, 20000);
    }
    if (!ptr_push((void ***)&pr->cons, &pr->n_cons, &pr->cap_cons, c))
        goto fail;
    if (!ptr_push((void ***)&q->cons, &q->n_cons, &q->cap_cons, c)) {
        ptr_remove((void **)pr->cons, &pr->n_cons, c);
        goto fail;
    }
    q->slot_cons[slot] = c;
    q->slot_codec[slot] = (uint8_t)pr->codec;
    (void)w;
    return;
fail:
    if (c)
        tdm_rtx_hist_destroy(c->hist);
    free(c);
    tdm_subslots_remove(&q->slots, pr->key);
}

void mpart_drop_consumer(struct media_worker *w, struct mpart *q, int slot)
{
    (void)w;
    struct mcons *c = q->slot_cons[slot];
    if (!c)
        return;
    tdm_subslots_remove(&q->slots, c->prod->key);
    ptr_remove((void **)c->prod->cons, &c->prod->n_cons, c);
    ptr_remove((void **)q->cons, &q->n_cons, c);
    q->slot_cons[slot] = NULL;
    tdm_rtx_hist_destroy(c->hist);
    free(c);
}

/* Consumers start forwarding once the browser agreed to their m-section and the "sub"
 * connection has keys; a video consumer that starts asks its publisher for a keyframe so
 * the picture appears at once instead of at the next periodic keyframe. */
void mpart_update_live(struct media_worker *w, struct mpart *q, int64_t now)
{
    bool keys = q->sub && q->sub->srtp;
    for (uint32_t i = 0; i < q->slots.n; i++) {
        struct mcons *c = q->slot_cons[i];
        if (!c)
            continue;
        bool live = keys && tdm_subslots_live(&q->slots, i);
        if (live && !c->live)
            mprod_want_keyframe(w, c->prod, now);
        c->live = live;
    }
}

/* Moderation stopped this person's microphone or camera: their packets are dropped here
 * (the subscribers' numbering closes over them); a camera allowed again starts with a
 * keyframe. */
void mpart_block(struct media_worker *w, struct mpart *p, bool audio, bool video)
{
    bool was_video = p->block_video;
    p->block_audio = audio;
    p->block_video = video;
    for (uint32_t i = 0; was_video && !video && i < p->n_prods; i++)
        mprod_want_keyframe(w, p->prods[i], tdm_now_us());
}

/* The person turned others' video off to save data (or on again): nothing of it is sent to
 * them, and the publishers' estimate no longer counts their line; turned on again, each
 * picture starts with a keyframe. */
void mpart_receive_video(struct media_worker *w, struct mpart *p, bool on)
{
    bool was_off = p->no_video_in;
    p->no_video_in = !on;
    if (!was_off || !on)
        return;
    int64_t now = tdm_now_us();
    for (uint32_t i = 0; i < p->n_cons; i++)
        if (p->cons[i]->prod->kind == TDM_SDP_VIDEO)
            mprod_want_keyframe(w, p->cons[i]->prod, now);
}

/* ---- producers ----------------------------------------------------------------------- */

struct mprod *mprod_add(struct media_worker *w, struct mpart *owner,
                        const struct tdm_sdp_nego_media *nm, size_t ssrc_i)
{
    if (owner->n_prods >= MW_MAX_PRODS || !nm->n_codecs)
        return NULL;
    struct mprod *pr = calloc(1, sizeof *pr);
    if (!pr)
        return NULL;
    const struct tdm_sdp_nego_codec *nc = &nm->codecs[0];
    pr->key = w->next_key++;
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
    tdm_rtx_kf_throttle_init(&pr->kf, MW_KF_INTERVAL_US);
    if (pr->kind == TDM_SDP_VIDEO && (pr->fb & TDM_SDP_FB_NACK)) {
        pr->nack = tdm_nack_rx_create(NULL);
        if (!pr->nack) {
            free(pr);
            return NULL;
        }
    }
    owner->prods[owner->n_prods++] = pr;
    return pr;
}

void mprod_remove(struct media_worker *w, struct mprod *pr)
{
    while (pr->n_cons) {
        struct mcons *c = pr->cons[pr->n_cons - 1];
        mpart_drop_consumer(w, c->sub, c->slot);
    }
    struct mpart *o = pr->owner;
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

void mprod_want_keyframe(struct media_worker *w, struct mprod *pr, int64_t now)
{
    if (pr->kind != TDM_SDP_VIDEO)
        return;
    struct mpeer *pub = pr->owner->pub;
    if (!pub || !pub->srtp) {
        pr->kf_wanted = true;
        return;
    }
    pr->kf_wanted = false;
    if (tdm_rtx_kf_throttle_request(&pr->kf, now))
        mrtcp_send_pli(w, pr, now);
    else
        mw_due(w, tdm_rtx_kf_throttle_deadline(&pr->kf));
}

/* Every published participant receives every producer of the others. */
void mroom_subscribe_all(struct media_worker *w, struct mroom *r)
{
    for (uint32_t i = 0; i < r->n_parts; i++) {
        struct mpart *q = r->parts[i];
        if (!q->published)
            continue;
        for (uint32_t j = 0; j < r->n_parts; j++) {
            struct mpart *o = r->parts[j];
            for (uint32_t k = 0; o != q && k < o->n_prods; k++)
                if (tdm_subslots_find(&q->slots, o->prods[k]->key) < 0)
                    consumer_add(w, q, o->prods[k]);
        }
    }
    for (uint32_t i = 0; i < r->n_parts; i++)
        mpart_offer_sub(w, r->parts[i]);
}

/* Release the participant's connections, producers and consumers (it left, or its media
 * failed); the others' subscriptions follow. The revision counter keeps increasing. */
void mpart_reset_media(struct media_worker *w, struct mpart *p)
{
    while (p->n_prods)
        mprod_remove(w, p->prods[p->n_prods - 1]);
    for (uint32_t i = 0; i < p->slots.n; i++)
        mpart_drop_consumer(w, p, (int)i);
    int64_t rev = p->slots.rev;
    tdm_subslots_init(&p->slots);
    p->slots.rev = rev;
    free(p->sub_current);
    free(p->sub_pending);
    p->sub_current = p->sub_pending = NULL;
    mpeer_destroy(w, p->pub);
    mpeer_destroy(w, p->sub);
    p->pub = p->sub = NULL;
    p->published = false;
    for (uint32_t i = 0; i < p->room->n_parts; i++)
        if (p->room->parts[i] != p)
            mpart_offer_sub(w, p->room->parts[i]);
}

void mpart_remove(struct media_worker *w, struct mpart *p)
{
    mpart_reset_media(w, p);
    ptr_remove((void **)p->room->parts, &p->room->n_parts, p);
    free(p->cons);
    free(p);
}

/* ---- the hot path -------------------------------------------------------------------- */

static bool is_keyframe(const struct mprod *pr, const uint8_t *p, size_t len)
{
    switch (pr->codec) {
    case TDM_SDP_CODEC_VP8: return tdm_rtp_vp8_is_keyframe(p, len);
    case TDM_SDP_CODEC_VP9: return tdm_rtp_vp9_is_keyframe(p, len);
    case TDM_SDP_CODEC_H264: return tdm_rtp_h264_is_keyframe(p, len);
    default: return false;
    }
}

/* A browser that signals no SSRC (rid simulcast, or a future one) is found by the mid
 * header extension of its first packet (RFC 8843 §9.2). */
static struct mprod *bind_by_mid(struct mpart *o, const struct tdm_rtp_view *v)
{
    for (uint32_t i = 0; i < o->n_prods; i++) {
        struct mprod *pr = o->prods[i];
        char mid[TDM_SDP_MID_CAP];
        if (pr->ssrc || !pr->ext[TDM_SDP_EXT_MID])
            continue;
        if (tdm_rtp_ext_mid(v, pr->ext[TDM_SDP_EXT_MID], mid, sizeof mid) > 0 &&
            strcmp(mid, pr->mid) == 0) {
            pr->ssrc = v->ssrc;
            tdm_rtpstats_rx_init(&pr->rx, pr->ssrc, pr->clock);
            return pr;
        }
    }
    return NULL;
}

/* The producer of a packet, unwrapping RFC 4588 retransmissions into the original packet
 * in place. NULL: not forwarded (unknown SSRC, or an RTX padding probe). */
static struct mprod *producer_of(struct mpart *o, uint8_t *buf, size_t *len, struct tdm_rtp_view *v)
{
    for (uint32_t i = 0; i < o->n_prods; i++) {
        struct mprod *pr = o->prods[i];
        if (v->ssrc == pr->ssrc)
            return pr;
        if (!pr->rtx_ssrc || v->ssrc != pr->rtx_ssrc || pr->rtx_pt < 0)
            continue;
        if (v->payload_len < 2)
            return NULL; /* bandwidth probe: padding only */
        int n = tdm_rtx_unwrap(buf, *len, pr->pt, pr->ssrc);
        if (n < 0 || tdm_rtp_parse(v, buf, (size_t)n, NULL, 0) != 0)
            return NULL;
        *len = (size_t)n;
        return pr;
    }
    return bind_by_mid(o, v);
}

static void fan_out(struct media_worker *w, struct mprod *pr, const struct tdm_rtp_view *v,
                    int64_t now)
{
    bool video = pr->kind == TDM_SDP_VIDEO;
    for (uint32_t i = 0; i < pr->n_cons; i++) {
        struct mcons *c = pr->cons[i];
        if (!c->live)
            continue;
        if (video && c->sub->no_video_in) { /* its numbering closes over what it skips */
            tdm_seqmap_drop(&c->seqmap, v->ssrc, v->seq);
            continue;
        }
        struct mpeer *sp = c->sub->sub;
        struct tdm_fwd_out o = {.ssrc = c->ssrc, .pt = c->pt, .extmap = &c->extmap};
        if (tdm_seqmap_map(&c->seqmap, v->ssrc, v->seq, v->ts, now, pr->clock, &o.seq, &o.ts) !=
            TDM_SEQMAP_FORWARD)
            continue;
        struct mw_tx *t = mw_tx_slot(w);
        int n = tdm_fwd_rewrite(t->buf, MW_TX_BUF, v, &o);
        if (n < 0) {
            w->fwd_errors++; /* numbered but not sent: the subscriber sees a loss */
            continue;
        }
        if (c->hist)
            tdm_rtx_hist_put(c->hist, t->buf, (size_t)n, now);
        tdm_rtpstats_tx_on_packet(&c->tx, o.ts, v->payload_len, now);
        n = tdm_srtp_protect_rtp(sp->srtp, t->buf, (size_t)n, MW_TX_BUF);
        if (n < 0) {
            w->fwd_errors++;
            continue;
        }
        mw_send_to_peer(w, sp, t, (size_t)n);
        w->rtp_out++;
        tdm_mx_add(&tdm_mx_worker(w->index)->fwd_packets, 1);
        tdm_mx_add(&tdm_mx_worker(w->index)->fwd_bytes, (uint64_t)n);
    }
}

static void drop_for_consumers(struct mprod *pr, const struct tdm_rtp_view *v)
{
    for (uint32_t i = 0; i < pr->n_cons; i++)
        tdm_seqmap_drop(&pr->cons[i]->seqmap, v->ssrc, v->seq);
}

void mw_on_rtp(struct media_worker *w, struct mpeer *p, uint8_t *buf, size_t len, int64_t now)
{
    int n = tdm_srtp_unprotect_rtp(p->srtp, buf, len);
    if (n < 0 || p->kind != MPEER_PUB)
        return;
    len = (size_t)n;
    struct tdm_rtp_view v;
    if (tdm_rtp_parse(&v, buf, len, NULL, 0) != 0)
        return;
    struct mprod *pr = producer_of(p->part, buf, &len, &v);
    if (!pr)
        return;
    w->rtp_in++;
    tdm_mx_add(&tdm_mx_worker(w->index)->rtp_in, 1);
    tdm_rtpstats_rx_on_packet(&pr->rx, v.seq, v.ts, now, len);
    if (pr->nack) {
        if (tdm_nack_rx_on_packet(pr->nack, v.seq, now) & TDM_NACK_RX_KEYFRAME)
            mprod_want_keyframe(w, pr, now);
        mw_due(w, tdm_nack_rx_next_deadline(pr->nack));
    }
    /* Padding-only packets and other payload types (a codec the subscribers were not
     * offered) are not forwarded; the subscribers' numbering closes over them. */
    bool blocked = pr->kind == TDM_SDP_AUDIO ? p->part->block_audio : p->part->block_video;
    if (v.payload_len == 0 || v.pt != pr->pt || blocked) {
        drop_for_consumers(pr, &v);
        return;
    }
    if (pr->kind == TDM_SDP_VIDEO && is_keyframe(pr, buf + v.payload_off, v.payload_len)) {
        tdm_rtx_kf_throttle_on_keyframe(&pr->kf);
        if (pr->nack)
            tdm_nack_rx_on_keyframe(pr->nack, v.seq);
    }
    fan_out(w, pr, &v, now);
}

/* ---- timer work ---------------------------------------------------------------------- */

static void prod_tick(struct media_worker *w, struct mprod *pr, int64_t now)
{
    if (pr->nack && tdm_nack_rx_next_deadline(pr->nack) <= now)
        mrtcp_send_nacks(w, pr, now);
    if (pr->nack && tdm_nack_rx_take_keyframe(pr->nack))
        mprod_want_keyframe(w, pr, now);
    if (pr->owner->pub && pr->owner->pub->srtp && tdm_rtx_kf_throttle_poll(&pr->kf, now))
        mrtcp_send_pli(w, pr, now);
}

void mroom_tick(struct media_worker *w, struct mroom *r, int64_t now)
{
    for (uint32_t i = 0; i < r->n_parts; i++) {
        struct mpart *q = r->parts[i];
        if (q->pub)
            mpeer_tick(w, q->pub, now);
        if (q->sub)
            mpeer_tick(w, q->sub, now);
        struct mpeer *bad = q->pub && q->pub->failed   ? q->pub
                            : q->sub && q->sub->failed ? q->sub
                                                       : NULL;
        if (bad) {
            const char *pc = bad->kind == MPEER_PUB ? "pub" : "sub", *why = bad->fail_why;
            TDM_INFO("media w%u: a %s connection failed (%s): media released", w->index, pc, why);
            mpart_reset_media(w, q);
            mw_reply_error(w, r->id, q->id, NULL, "media_unavailable", NULL, pc,
                           "the media connection was lost (%s): close both connections and "
                           "send a new pub offer",
                           why ? why : "failed");
            continue;
        }
        for (uint32_t k = 0; k < q->n_prods; k++)
            prod_tick(w, q->prods[k], now);
        if (q->sub_retry_us && q->sub_retry_us <= now) {
            q->sub_retry_us = 0;
            mpart_offer_sub(w, q);
        }
    }
}

int64_t mroom_deadline(const struct media_worker *w, const struct mroom *r)
{
    int64_t d = INT64_MAX;
    for (uint32_t i = 0; i < r->n_parts; i++) {
        const struct mpart *q = r->parts[i];
        int64_t x;
        if (q->pub && (x = mpeer_deadline(w, q->pub)) < d)
            d = x;
        if (q->sub && (x = mpeer_deadline(w, q->sub)) < d)
            d = x;
        if ((q->pub && q->pub->failed) || (q->sub && q->sub->failed))
            d = 0;
        if (q->sub_retry_us && q->sub_retry_us < d)
            d = q->sub_retry_us;
        for (uint32_t k = 0; k < q->n_prods; k++) {
            const struct mprod *pr = q->prods[k];
            if (pr->nack && (x = tdm_nack_rx_next_deadline(pr->nack)) < d)
                d = x;
            if ((x = tdm_rtx_kf_throttle_deadline(&pr->kf)) < d)
                d = x;
        }
    }
    return d;
}
