/* Offer/answer on a media worker (docs/protocol.md "Media"): the page's offers on its "pub"
 * connection are answered and become producers; the server's offers on the "sub" connection
 * carry one m-section per track of every other participant (core/subslots.c recycles them)
 * and the page's answers make the consumers live. SDP text is kept per participant only as
 * text; the 640 KiB models are per-worker scratch. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "media_internal.h"

#include "tandem/err.h"
#include "tandem/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SDP_TEXT_CAP (2 * TDM_SDP_MAX_BYTES)

static bool scratch(struct media_worker *w)
{
    if (!w->sdp_a)
        w->sdp_a = tdm_sdp_new();
    if (!w->sdp_b)
        w->sdp_b = tdm_sdp_new();
    if (!w->nego)
        w->nego = calloc(1, sizeof *w->nego);
    if (!w->sdp_text)
        w->sdp_text = malloc(SDP_TEXT_CAP);
    if (!w->tracks)
        w->tracks = calloc(TDM_SUBSLOTS_MAX, sizeof *w->tracks);
    return w->sdp_a && w->sdp_b && w->nego && w->sdp_text && w->tracks;
}

static struct tdm_media_reply *reply_new(enum tdm_media_reply_kind k, const char *room,
                                         const char *pid)
{
    struct tdm_media_reply *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->kind = k;
    snprintf(r->room, sizeof r->room, "%s", room);
    snprintf(r->pid, sizeof r->pid, "%s", pid);
    return r;
}

void mw_reply_error(struct media_worker *w, const char *room, const char *pid, const char *ref,
                    const char *code, const char *field, const char *pc, const char *fmt, ...)
{
    struct tdm_media_reply *r = reply_new(TDM_MEDIA_REPLY_ERROR, room, pid);
    if (!r)
        return;
    r->code = code;
    r->field = field;
    r->pc = pc;
    r->ref = ref ? strdup(ref) : NULL;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->message, sizeof r->message, fmt, ap);
    va_end(ap);
    tdm_media_reply_post(w->media, r);
}

/* ---- the page's "pub" offer --------------------------------------------------------- */

/* Without transport-wide feedback from us a browser would hold its send-side estimate at
 * the start rate; with REMB (which we send) and receiver reports it follows our estimate,
 * so transport-cc is not negotiated on "pub" (draft-holmer-rmcat-transport-wide-cc). */
static void strip_twcc(struct tdm_sdp *d)
{
    for (size_t i = 0; i < d->n_media; i++) {
        struct tdm_sdp_media *m = &d->media[i];
        size_t k = 0;
        for (size_t j = 0; j < m->n_extmaps; j++)
            if (tdm_sdp_ext_classify(m->extmaps[j].uri) != TDM_SDP_EXT_TWCC)
                m->extmaps[k++] = m->extmaps[j];
        m->n_extmaps = (uint8_t)k;
        for (size_t j = 0; j < m->n_codecs; j++)
            m->codecs[j].fb &= (uint16_t)~TDM_SDP_FB_TRANSPORT_CC;
    }
}

static bool same_fingerprint(const struct tdm_sdp *d, const struct mpeer *p)
{
    if (!d->n_bundle)
        return false;
    const struct tdm_sdp_fingerprint *f = tdm_sdp_media_fingerprint(d, d->bundle[0]);
    return f->len == p->remote_fp.len && memcmp(f->value, p->remote_fp.digest, f->len) == 0;
}

static bool sends(const struct tdm_sdp_nego_media *nm)
{
    return !nm->rejected && nm->n_codecs &&
           (nm->dir == TDM_SDP_RECVONLY || nm->dir == TDM_SDP_SENDRECV) &&
           (nm->kind == TDM_SDP_AUDIO || nm->kind == TDM_SDP_VIDEO);
}

/* Producers follow the m-sections the page sends in: one per m-section (no simulcast),
 * replaced when its SSRC changes (replaceTrack keeps it; a new sender does not). */
static bool sync_producers(struct media_worker *w, struct mpart *p, const struct tdm_sdp_nego *n)
{
    bool changed = false;
    for (uint32_t k = p->n_prods; k-- > 0;) {
        struct mprod *pr = p->prods[k];
        bool keep = false;
        for (size_t i = 0; i < n->n_media && !keep; i++) {
            const struct tdm_sdp_nego_media *nm = &n->media[i];
            keep = sends(nm) && strcmp(nm->mid, pr->mid) == 0 &&
                   (nm->n_ssrcs ? nm->ssrc[0] : 0) == pr->ssrc && nm->codecs[0].pt == pr->pt;
        }
        if (!keep) {
            mprod_remove(w, pr);
            changed = true;
        }
    }
    for (size_t i = 0; i < n->n_media; i++) {
        const struct tdm_sdp_nego_media *nm = &n->media[i];
        bool have = false;
        for (uint32_t k = 0; k < p->n_prods && !have; k++)
            have = strcmp(p->prods[k]->mid, nm->mid) == 0;
        if (sends(nm) && !have && mprod_add(w, p, nm, 0))
            changed = true;
    }
    return changed;
}

static void remember_pts(struct mpart *p, const struct tdm_sdp *offer)
{
    static const enum tdm_sdp_codec_id ids[] = {TDM_SDP_CODEC_OPUS, TDM_SDP_CODEC_VP8,
                                                TDM_SDP_CODEC_H264, TDM_SDP_CODEC_VP9};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        uint8_t pt;
        int16_t rtx;
        if (tdm_sdp_pick_pts(offer, ids[i], &pt, &rtx) == 0)
            p->pt_for[ids[i]] = pt;
    }
}

/* Parse, answer and write; on failure the page gets bad_field naming what was wrong. */
static int answer_offer(struct media_worker *w, struct mpart *p, struct tdm_media_cmd *c,
                        int64_t now)
{
    char err[160] = "";
    struct tdm_sdp *offer = w->sdp_a, *answer = w->sdp_b;
    int rc = tdm_sdp_parse((const uint8_t *)c->sdp, c->sdp_len, offer, err, sizeof err);
    if (rc == 0 && !offer->n_bundle)
        rc = tdm_seterr(err, sizeof err, TDM_EINVAL, "no BUNDLE group");
    if (rc != 0)
        goto bad;
    strip_twcc(offer);
    if (p->pub && !same_fingerprint(offer, p->pub)) {
        /* A new RTCPeerConnection: start afresh. The reset offers the others new sub
         * descriptions without this person's tracks, in the same per-worker scratch
         * (sdp_a holds one of their current descriptions afterwards), so the page's offer
         * is parsed again: without that the page got an answer to somebody else's offer. */
        mpart_reset_media(w, p);
        rc = tdm_sdp_parse((const uint8_t *)c->sdp, c->sdp_len, offer, err, sizeof err);
        if (rc != 0)
            goto bad;
        strip_twcc(offer);
    }
    if (!p->pub && !(p->pub = mpeer_create(w, p, MPEER_PUB, now))) {
        mw_reply_error(w, p->room->id, p->id, c->ref, "media_unavailable", NULL, "pub",
                       "the server has no room for another media connection");
        return TDM_EFULL;
    }
    const char *ufrag = tdm_sdp_media_ufrag(offer, offer->bundle[0]);
    if (p->pub->remote_ufrag[0] && strcmp(ufrag, p->pub->remote_ufrag) != 0) {
        tdm_ice_session_restart(w->ice, p->pub->ice_id, now); /* RFC 8445 §9 */
        mw_due(w, now + w->media->ice_timeout_us);
    }
    struct tdm_sdp_local l;
    mpeer_local(w, p->pub, &l);
    rc = tdm_sdp_answer(offer, &l, NULL, 0, answer, w->nego, err, sizeof err);
    if (rc == 0)
        rc = tdm_sdp_write(answer, w->sdp_text, SDP_TEXT_CAP, err, sizeof err);
    if (rc < 0)
        goto bad;
    rc = mpeer_set_remote(w, p->pub, w->nego, now);
    if (rc != 0) {
        snprintf(err, sizeof err, "ICE credentials or fingerprint not usable");
        goto bad;
    }
    remember_pts(p, offer);
    return 0;
bad:
    mw_reply_error(w, p->room->id, p->id, c->ref, "bad_field", "sdp", "pub", "sdp: %s", err);
    return rc < 0 ? rc : TDM_EINVAL;
}

void mw_on_pub_offer(struct media_worker *w, struct tdm_media_cmd *c)
{
    struct mroom *r = mroom_get(w, c->room, false);
    struct mpart *p = r ? mpart_find(r, c->pid) : NULL;
    if (!p)
        return; /* left meanwhile */
    if (w->n_socks == 0 || !scratch(w)) {
        mw_reply_error(w, c->room, c->pid, c->ref, "media_unavailable", NULL, "pub",
                       "the server has no usable media address");
        return;
    }
    int64_t now = tdm_now_us();
    if (answer_offer(w, p, c, now) != 0)
        return;
    struct tdm_media_reply *rep = reply_new(TDM_MEDIA_REPLY_ANSWER, c->room, c->pid);
    if (!rep)
        return;
    rep->ref = c->ref;
    c->ref = NULL;
    rep->sdp = strdup(w->sdp_text);
    tdm_media_reply_post(w->media, rep);
    sync_producers(w, p, w->nego);
    p->published = true;
    mroom_subscribe_all(w, r);
}

/* ---- the server's "sub" offers ------------------------------------------------------- */

static void slot_track(const struct mpart *p, size_t i, struct tdm_sdp_track *t)
{
    memset(t, 0, sizeof *t);
    const struct mcons *c = p->slot_cons[i];
    enum tdm_sdp_codec_id codec = p->slot_codec[i];
    t->kind = p->slots.s[i].kind;
    t->active = p->slots.s[i].key && c;
    snprintf(t->mid, sizeof t->mid, "%zu", i);
    t->n_codecs = 1;
    t->codecs[0].codec = codec;
    t->codecs[0].pt = p->pt_for[codec];
    t->codecs[0].rtx_pt = -1;
    if (t->kind == TDM_SDP_VIDEO)
        t->codecs[0].fb =
            TDM_SDP_FB_NACK | TDM_SDP_FB_NACK_PLI | TDM_SDP_FB_CCM_FIR | TDM_SDP_FB_GOOG_REMB;
    if (!t->active)
        return;
    /* msid stream id = the publisher's participant id: the page maps tracks to people. */
    snprintf(t->stream_id, sizeof t->stream_id, "%s", c->prod->owner->id);
    snprintf(t->track_id, sizeof t->track_id, "%s", c->prod->track_id);
    snprintf(t->cname, sizeof t->cname, "%s", c->prod->owner->id);
    t->ssrc = c->ssrc;
}

void mpart_offer_sub(struct media_worker *w, struct mpart *p)
{
    if (w->tearing_down || !p->published || !tdm_subslots_want_offer(&p->slots) || !scratch(w))
        return;
    size_t n = 0;
    for (size_t i = 0; i < p->slots.n; i++)
        if (tdm_subslots_in_offer(&p->slots, i))
            slot_track(p, i, &w->tracks[n++]);
    if (n == 0)
        return; /* nothing to receive yet: the first sub offer waits for a track */
    int64_t now = tdm_now_us();
    if (!p->sub && !(p->sub = mpeer_create(w, p, MPEER_SUB, now))) {
        p->sub_retry_us = now + MW_SUB_RETRY_US; /* busy: offer again a little later */
        mw_due(w, p->sub_retry_us);
        return;
    }
    p->sub_retry_us = 0;
    char err[160] = "";
    const struct tdm_sdp *cur = NULL;
    if (p->sub_current && tdm_sdp_parse((const uint8_t *)p->sub_current, strlen(p->sub_current),
                                        w->sdp_a, err, sizeof err) == 0)
        cur = w->sdp_a;
    struct tdm_sdp_local l;
    mpeer_local(w, p->sub, &l);
    int rc = tdm_sdp_offer(cur, &l, w->tracks, n, w->sdp_b, err, sizeof err);
    if (rc == 0)
        rc = tdm_sdp_write(w->sdp_b, w->sdp_text, SDP_TEXT_CAP, err, sizeof err);
    if (rc < 0) {
        TDM_WARN("media w%u: could not make a sub offer: %s", w->index, err);
        return;
    }
    int64_t rev = tdm_subslots_offer(&p->slots);
    struct tdm_media_reply *rep = reply_new(TDM_MEDIA_REPLY_OFFER, p->room->id, p->id);
    char *text = strdup(w->sdp_text);
    if (!rep || !text) {
        free(rep);
        free(text);
        tdm_subslots_abandon(&p->slots);
        return;
    }
    free(p->sub_pending);
    p->sub_pending = text;
    rep->rev = rev;
    rep->sdp = strdup(text);
    tdm_media_reply_post(w->media, rep);
}

/* ---- the page's "sub" answers -------------------------------------------------------- */

static int slot_of_mid(const char *mid)
{
    char *end;
    long v = strtol(mid, &end, 10);
    return *mid && !*end && v >= 0 && v < TDM_SUBSLOTS_MAX ? (int)v : -1;
}

static void apply_answer(struct media_worker *w, struct mpart *p, const struct tdm_sdp_nego *n)
{
    for (size_t i = 0; i < n->n_media; i++) {
        const struct tdm_sdp_nego_media *nm = &n->media[i];
        int s = slot_of_mid(nm->mid);
        if (s < 0 || (uint32_t)s >= p->slots.n)
            continue;
        struct mcons *c = p->slot_cons[s];
        if (nm->rejected) {
            if (c)
                mpart_drop_consumer(w, p, s);
            tdm_subslots_reject(&p->slots, (size_t)s);
            continue;
        }
        if (c && tdm_fwd_extmap_build(&c->extmap, c->prod->ext, nm->ext) != 0)
            memset(&c->extmap, 0, sizeof c->extmap);
    }
}

void mw_on_sub_answer(struct media_worker *w, struct tdm_media_cmd *c)
{
    struct mroom *r = mroom_get(w, c->room, false);
    struct mpart *p = r ? mpart_find(r, c->pid) : NULL;
    /* Stale revisions (an answer to an offer that was superseded) are ignored quietly. */
    if (!p || !p->sub || !p->sub_pending || !p->slots.pending || c->rev != p->slots.rev ||
        !scratch(w))
        return;
    char err[160] = "";
    int64_t now = tdm_now_us();
    int rc = tdm_sdp_parse((const uint8_t *)p->sub_pending, strlen(p->sub_pending), w->sdp_a, err,
                           sizeof err);
    if (rc == 0)
        rc = tdm_sdp_parse((const uint8_t *)c->sdp, c->sdp_len, w->sdp_b, err, sizeof err);
    if (rc == 0)
        rc = tdm_sdp_check_answer(w->sdp_a, w->sdp_b, w->nego, err, sizeof err);
    if (rc == 0)
        rc = mpeer_set_remote(w, p->sub, w->nego, now);
    if (rc == 0)
        rc = tdm_sdp_write(w->sdp_a, w->sdp_text, SDP_TEXT_CAP, err, sizeof err) < 0 ? -1 : 0;
    if (rc != 0) {
        mw_reply_error(w, c->room, c->pid, c->ref, "bad_field", "sdp", "sub", "sdp: %s",
                       err[0] ? err : "not acceptable");
        tdm_subslots_abandon(&p->slots);
        mpart_offer_sub(w, p);
        return;
    }
    tdm_subslots_answered(&p->slots, c->rev);
    apply_answer(w, p, w->nego);
    free(p->sub_current);
    p->sub_current = strdup(w->sdp_text);
    free(p->sub_pending);
    p->sub_pending = NULL;
    mpart_update_live(w, p, now);
    mpart_offer_sub(w, p);
}
