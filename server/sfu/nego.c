/* Offer/answer in the SFU core (docs/protocol.md "Media"): the page's offers on its "pub"
 * connection are answered and become producers; the server's offers on the "sub" connection
 * carry one m-section per track of every other participant (core/subslots.c recycles them)
 * and the page's answers make the consumers live. SDP text is kept per participant only as
 * text; the 640 KiB models are the core's scratch, used within one
 * call here and never across an input. */
#include "sfu_internal.h"

#include "tandem/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SDP_TEXT_CAP (2 * TDM_SDP_MAX_BYTES)

static bool scratch(struct tdm_sfu *s)
{
    if (!s->sdp_a)
        s->sdp_a = tdm_sdp_new();
    if (!s->sdp_b)
        s->sdp_b = tdm_sdp_new();
    if (!s->nego)
        s->nego = calloc(1, sizeof *s->nego);
    if (!s->sdp_text)
        s->sdp_text = malloc(SDP_TEXT_CAP);
    if (!s->tracks)
        s->tracks = calloc(TDM_SUBSLOTS_MAX, sizeof *s->tracks);
    return s->sdp_a && s->sdp_b && s->nego && s->sdp_text && s->tracks;
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

static bool same_fingerprint(const struct tdm_sdp *d, const struct peer *p)
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

/* Whether producer pr still matches what the page sends in m-section nm: same mid and
 * payload type, the same role (the screen or not: screen is its mid, "" none), and the same
 * SSRC, or for simulcast the same rids (SSRCs are learnt). */
static bool still_sent(const struct prod *pr, const struct tdm_sdp_nego_media *nm,
                       const char *screen)
{
    if (!sends(nm) || strcmp(nm->mid, pr->mid) != 0 || nm->codecs[0].pt != pr->pt ||
        pr->screen != (strcmp(nm->mid, screen) == 0))
        return false;
    if (pr->n_layers || (pr->kind == TDM_SDP_VIDEO && nm->n_rids)) {
        if (!pr->n_layers || nm->n_rids < pr->n_layers)
            return false;
        for (uint8_t l = 0; l < pr->n_layers; l++)
            if (strcmp(nm->rids[l], pr->layers[l]->rid) != 0)
                return false;
        return true;
    }
    return (nm->n_ssrcs ? nm->ssrc[0] : 0) == pr->ssrc;
}

/* Producers follow the m-sections the page sends in: one per m-section, and one per further
 * simulcast layer (layers.c), replaced when its SSRC or rids change (replaceTrack keeps them;
 * a new sender does not) or when it becomes the screen or stops being it (its consumers then
 * carry the msid "screen"). */
static bool sync_producers(struct tdm_sfu *s, struct part *p, const struct tdm_sdp_nego *n,
                           const char *screen)
{
    bool changed = false;
    for (uint32_t k = p->n_prods; k-- > 0;) {
        if (k >= p->n_prods)
            continue; /* removing a track removed its layers too */
        struct prod *pr = p->prods[k];
        if (pr->base)
            continue; /* goes with its base */
        bool keep = false;
        for (size_t i = 0; i < n->n_media && !keep; i++)
            keep = still_sent(pr, &n->media[i], screen);
        if (!keep) {
            roster_remove_prod(s, pr);
            changed = true;
        }
    }
    for (size_t i = 0; i < n->n_media; i++) {
        const struct tdm_sdp_nego_media *nm = &n->media[i];
        bool have = false;
        for (uint32_t k = 0; k < p->n_prods && !have; k++)
            have = strcmp(p->prods[k]->mid, nm->mid) == 0;
        struct prod *pr = sends(nm) && !have ? roster_add_prod(s, p, nm, 0) : NULL;
        if (!pr)
            continue;
        changed = true;
        if (strcmp(nm->mid, screen) == 0) {
            pr->screen = true;
            roster_share_event(s, p, true);
        }
    }
    return changed;
}

static bool has_screen(const struct part *p)
{
    for (uint32_t k = 0; k < p->n_prods; k++)
        if (p->prods[k]->screen)
            return true;
    return false;
}

/* Why the screen a pub offer names (its mid) cannot be shared, or NULL; *code is the error's
 * code. The control thread checked the room's rules already; this checks the offer itself
 * and, again, that nobody else shares and that the coordinator did not stop p's video. */
static const char *screen_refused(const struct part *p, const struct tdm_sdp_nego *n,
                                  const char *screen, const char **code)
{
    const struct tdm_sdp_nego_media *nm = NULL;
    for (size_t i = 0; i < n->n_media && !nm; i++)
        if (strcmp(n->media[i].mid, screen) == 0)
            nm = &n->media[i];
    *code = "bad_field";
    if (!nm || !sends(nm) || nm->kind != TDM_SDP_VIDEO)
        return "screen: no video track this offer sends has that mid";
    *code = "forbidden";
    if (p->block_video)
        return "screen: the coordinator stopped this person's video";
    *code = "share_busy";
    for (uint32_t i = 0; i < p->room->n_parts; i++)
        if (p->room->parts[i] != p && has_screen(p->room->parts[i]))
            return "someone else is sharing a screen";
    return NULL;
}

static const enum tdm_sdp_codec_id relayed[] = {TDM_SDP_CODEC_OPUS, TDM_SDP_CODEC_VP8,
                                                TDM_SDP_CODEC_H264, TDM_SDP_CODEC_VP9};

/* The sub offers use the numbers the page's browser uses for each codec. A number once
 * chosen stays: the sub connection's m-sections and consumers were made with it, and a
 * page that received only (nego_on_receive_only) before it published already has them. */
static void remember_pts(struct part *p, const struct tdm_sdp *offer)
{
    for (size_t i = 0; i < sizeof relayed / sizeof relayed[0]; i++) {
        uint8_t pt;
        int16_t rtx;
        if (!p->pt_for[relayed[i]] && tdm_sdp_pick_pts(offer, relayed[i], &pt, &rtx) == 0)
            p->pt_for[relayed[i]] = pt;
    }
}

bool nego_pub_offer_restarts(struct tdm_sfu *s, const struct part *p, const struct tdm_sfu_cmd *c)
{
    char err[8];
    return p->pub && scratch(s) &&
           tdm_sdp_parse((const uint8_t *)c->sdp, c->sdp_len, s->sdp_a, err, sizeof err) == 0 &&
           !same_fingerprint(s->sdp_a, p->pub);
}

/* Parse, answer and write; on failure the page gets bad_field naming what was wrong. */
static int answer_offer(struct tdm_sfu *s, struct part *p, struct tdm_sfu_cmd *c, int64_t now)
{
    char err[160] = "";
    struct tdm_sdp *offer = s->sdp_a, *answer = s->sdp_b;
    int rc = tdm_sdp_parse((const uint8_t *)c->sdp, c->sdp_len, offer, err, sizeof err);
    if (rc == 0 && !offer->n_bundle)
        rc = tdm_seterr(err, sizeof err, TDM_EINVAL, "no BUNDLE group");
    if (rc != 0)
        goto bad;
    strip_twcc(offer);
    if (!p->pub && !(p->pub = peer_create(s, p, PEER_PUB, now))) {
        sfu_error(s, p->room->id, p->id, c->ref, "media_unavailable", NULL, "pub",
                  "the server has no room for another media connection");
        return TDM_EFULL;
    }
    const char *ufrag = tdm_sdp_media_ufrag(offer, offer->bundle[0]);
    if (p->pub->remote_ufrag[0] && strcmp(ufrag, p->pub->remote_ufrag) != 0)
        peer_restart_ice(s, p->pub, now);
    struct tdm_sdp_local l;
    peer_local(s, p->pub, &l);
    rc = tdm_sdp_answer(offer, &l, NULL, 0, answer, s->nego, err, sizeof err);
    if (rc == 0)
        rc = tdm_sdp_write(answer, s->sdp_text, SDP_TEXT_CAP, err, sizeof err);
    if (rc < 0)
        goto bad;
    rc = peer_set_remote(s, p->pub, s->nego, now);
    if (rc != 0) {
        snprintf(err, sizeof err, "ICE credentials or fingerprint not usable");
        goto bad;
    }
    remember_pts(p, offer);
    return 0;
bad:
    sfu_error(s, p->room->id, p->id, c->ref, "bad_field", "sdp", "pub", "sdp: %s", err);
    return rc < 0 ? rc : TDM_EINVAL;
}

void nego_on_pub_offer(struct tdm_sfu *s, struct tdm_sfu_cmd *c, int64_t now)
{
    struct room *r = roster_room(s, c->room, false);
    struct part *p = r ? roster_find(r, c->pid) : NULL;
    if (!p)
        return; /* left meanwhile */
    if (s->cfg.n_socks == 0 || !scratch(s)) {
        sfu_error(s, c->room, c->pid, c->ref, "media_unavailable", NULL, "pub",
                  "the server has no usable media address");
        goto refused;
    }
    if (answer_offer(s, p, c, now) != 0)
        goto refused;
    const char *code = NULL,
               *why = c->screen[0] ? screen_refused(p, s->nego, c->screen, &code) : NULL;
    if (why) {
        /* not answered: the page takes its offer back (rollback) and keeps what it had */
        sfu_error(s, c->room, c->pid, c->ref, code, strcmp(code, "bad_field") ? NULL : "screen",
                  "pub", "%s", why);
        goto refused;
    }
    struct tdm_sfu_event *rep = sfu_event_new(TDM_SFU_EV_ANSWER, c->room, c->pid);
    if (!rep)
        return;
    rep->ref = c->ref;
    c->ref = NULL;
    rep->sdp = strdup(s->sdp_text);
    sfu_event_push(s, rep);
    sync_producers(s, p, s->nego, c->screen);
    p->published = true;
    roster_subscribe_all(s, r);
    return;
refused:
    /* the control thread holds the share as asked until it hears how it ended */
    if (c->screen[0])
        roster_share_event(s, p, has_screen(p));
}

/* ---- receiving without publishing ---------------------------------------------------- */

/* A page that never offered on "pub" told us no payload types: as the offerer of "sub" the
 * server chooses them (RFC 3264 §5.1), dynamic (RFC 3551 §3) and distinct in the BUNDLE
 * group (the numbers browsers commonly use; a later pub offer does not change them). */
static uint8_t default_pt(enum tdm_sdp_codec_id id)
{
    switch (id) {
    case TDM_SDP_CODEC_OPUS: return 111;
    case TDM_SDP_CODEC_VP8: return 96;
    case TDM_SDP_CODEC_VP9: return 98;
    case TDM_SDP_CODEC_H264: return 102;
    default: return 0;
    }
}

void nego_on_receive_only(struct tdm_sfu *s, struct part *p, struct tdm_sfu_cmd *c)
{
    if (s->cfg.n_socks == 0) {
        sfu_error(s, c->room, c->pid, c->ref, "media_unavailable", NULL, "sub",
                  "the server has no usable media address");
        return;
    }
    for (size_t i = 0; i < sizeof relayed / sizeof relayed[0]; i++)
        if (!p->pt_for[relayed[i]])
            p->pt_for[relayed[i]] = default_pt(relayed[i]);
    p->recv_only = true;
    roster_subscribe_all(s, p->room);
}

/* ---- the server's "sub" offers ------------------------------------------------------- */

static void slot_track(const struct part *p, size_t i, struct tdm_sdp_track *t)
{
    memset(t, 0, sizeof *t);
    const struct cons *c = p->slot_cons[i];
    enum tdm_sdp_codec_id codec = p->slot_codec[i];
    t->kind = p->slots.s[i].kind;
    t->active = p->slots.s[i].key && c;
    snprintf(t->mid, sizeof t->mid, "%zu", i);
    t->n_codecs = 1;
    t->codecs[0].codec = codec;
    t->codecs[0].pt = p->pt_for[codec];
    t->codecs[0].rtx_pt = -1;
    /* transport-cc: the page reports every packet of the connection (downlink.c). */
    t->codecs[0].fb = TDM_SDP_FB_TRANSPORT_CC;
    if (t->kind == TDM_SDP_VIDEO)
        t->codecs[0].fb |=
            TDM_SDP_FB_NACK | TDM_SDP_FB_NACK_PLI | TDM_SDP_FB_CCM_FIR | TDM_SDP_FB_GOOG_REMB;
    if (p->mix_key && (int)i == p->mix_slot && p->slots.s[i].key == p->mix_key) {
        /* the mix (audiomix.c): "mix" is no participant id (those are 22 characters) */
        t->active = true;
        snprintf(t->stream_id, sizeof t->stream_id, "mix");
        snprintf(t->track_id, sizeof t->track_id, "mix");
        snprintf(t->cname, sizeof t->cname, "mix");
        t->ssrc = p->mix_ssrc;
        return;
    }
    if (!t->active)
        return;
    /* msid stream id = the publisher's participant id: the page maps tracks to people; the
     * one shared screen of the room is "screen" (no participant id is 6 characters long),
     * and the room's "share" message says whose it is. */
    snprintf(t->stream_id, sizeof t->stream_id, "%s",
             c->prod->screen ? "screen" : c->prod->owner->id);
    snprintf(t->track_id, sizeof t->track_id, "%s", c->prod->track_id);
    snprintf(t->cname, sizeof t->cname, "%s", c->prod->owner->id);
    t->ssrc = c->ssrc;
}

void nego_offer_sub(struct tdm_sfu *s, struct part *p, int64_t now)
{
    p->offer_wanted = false;
    if (!part_receives(p) || !tdm_subslots_want_offer(&p->slots) || !scratch(s))
        return;
    size_t n = 0;
    for (size_t i = 0; i < p->slots.n; i++)
        if (tdm_subslots_in_offer(&p->slots, i))
            slot_track(p, i, &s->tracks[n++]);
    if (n == 0)
        return; /* nothing to receive yet: the first sub offer waits for a track */
    if (!p->sub && !(p->sub = peer_create(s, p, PEER_SUB, now))) {
        p->sub_retry_us = now + SFU_SUB_RETRY_US; /* busy: offer again a little later */
        sfu_wake(s, p);
        return;
    }
    p->sub_retry_us = 0;
    char err[160] = "";
    const struct tdm_sdp *cur = NULL;
    if (p->sub_current && tdm_sdp_parse((const uint8_t *)p->sub_current, strlen(p->sub_current),
                                        s->sdp_a, err, sizeof err) == 0)
        cur = s->sdp_a;
    struct tdm_sdp_local l;
    peer_local(s, p->sub, &l);
    int rc = tdm_sdp_offer(cur, &l, s->tracks, n, s->sdp_b, err, sizeof err);
    if (rc == 0)
        rc = tdm_sdp_write(s->sdp_b, s->sdp_text, SDP_TEXT_CAP, err, sizeof err);
    if (rc < 0) {
        TDM_WARN("media w%u: could not make a sub offer: %s", s->cfg.index, err);
        return;
    }
    int64_t rev = tdm_subslots_offer(&p->slots);
    struct tdm_sfu_event *rep = sfu_event_new(TDM_SFU_EV_OFFER, p->room->id, p->id);
    char *text = strdup(s->sdp_text);
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
    sfu_event_push(s, rep);
}

/* ---- the page's "sub" answers -------------------------------------------------------- */

static int slot_of_mid(const char *mid)
{
    char *end;
    long v = strtol(mid, &end, 10);
    return *mid && !*end && v >= 0 && v < TDM_SUBSLOTS_MAX ? (int)v : -1;
}

static void apply_answer(struct part *p, const struct tdm_sdp_nego *n, int64_t now)
{
    for (size_t i = 0; i < n->n_media; i++) {
        const struct tdm_sdp_nego_media *nm = &n->media[i];
        if (!nm->rejected) /* one id per URI across the BUNDLE group */
            dl_enable(p->sub, nm->ext[TDM_SDP_EXT_TWCC], now);
        int sl = slot_of_mid(nm->mid);
        if (sl < 0 || (uint32_t)sl >= p->slots.n)
            continue;
        struct cons *c = p->slot_cons[sl];
        if (nm->rejected) {
            if (c)
                roster_drop_consumer(p, sl);
            if (tdm_subslots_reject(&p->slots, (size_t)sl) == p->mix_key && p->mix_key)
                p->mix_refused = true; /* amix_sync lets it go */
            continue;
        }
        if (c && tdm_fwd_extmap_build(&c->extmap, c->prod->ext, nm->ext) != 0)
            memset(&c->extmap, 0, sizeof c->extmap);
    }
}

void nego_on_sub_answer(struct tdm_sfu *s, struct tdm_sfu_cmd *c, int64_t now)
{
    struct room *r = roster_room(s, c->room, false);
    struct part *p = r ? roster_find(r, c->pid) : NULL;
    /* Stale revisions (an answer to an offer that was superseded) are ignored quietly. */
    if (!p || !p->sub || !p->sub_pending || !p->slots.pending || c->rev != p->slots.rev ||
        !scratch(s))
        return;
    char err[160] = "";
    int rc = tdm_sdp_parse((const uint8_t *)p->sub_pending, strlen(p->sub_pending), s->sdp_a, err,
                           sizeof err);
    if (rc == 0)
        rc = tdm_sdp_parse((const uint8_t *)c->sdp, c->sdp_len, s->sdp_b, err, sizeof err);
    if (rc == 0)
        rc = tdm_sdp_check_answer(s->sdp_a, s->sdp_b, s->nego, err, sizeof err);
    if (rc == 0)
        rc = peer_set_remote(s, p->sub, s->nego, now);
    if (rc == 0)
        rc = tdm_sdp_write(s->sdp_a, s->sdp_text, SDP_TEXT_CAP, err, sizeof err) < 0 ? -1 : 0;
    if (rc != 0) {
        sfu_error(s, c->room, c->pid, c->ref, "bad_field", "sdp", "sub", "sdp: %s",
                  err[0] ? err : "not acceptable");
        tdm_subslots_abandon(&p->slots);
        roster_mark_offer(s, p);
        return;
    }
    tdm_subslots_answered(&p->slots, c->rev);
    apply_answer(p, s->nego, now);
    free(p->sub_current);
    p->sub_current = strdup(s->sdp_text);
    free(p->sub_pending);
    p->sub_pending = NULL;
    roster_update_live(s, p, now);
    roster_mark_offer(s, p);
}

/* ---- a page back after a cut, and ICE restarts of "sub" ------------------------------ */

void nego_resend_sub(struct tdm_sfu *s, struct part *p)
{
    if (!p->sub_pending || !p->slots.pending)
        return;
    struct tdm_sfu_event *rep = sfu_event_new(TDM_SFU_EV_OFFER, p->room->id, p->id);
    if (!rep)
        return;
    rep->rev = p->slots.rev; /* the same offer: a page that has it ignores it */
    rep->sdp = strdup(p->sub_pending);
    sfu_event_push(s, rep);
}

void nego_restart_sub(struct tdm_sfu *s, struct part *p, int64_t now)
{
    if (!p->sub)
        return;
    peer_restart_ice(s, p->sub, now); /* RFC 8445 §9: new ufrag and pwd, same DTLS */
    /* An offer still waiting carries the old credentials: a newer one replaces it (the
     * page answers the newest; an answer to the old revision is stale). */
    if (p->slots.pending)
        tdm_subslots_abandon(&p->slots);
    else
        p->slots.dirty = true;
    roster_mark_offer(s, p);
}

void nego_free_scratch(struct tdm_sfu *s)
{
    tdm_sdp_free(s->sdp_a);
    tdm_sdp_free(s->sdp_b);
    free(s->nego);
    free(s->sdp_text);
    free(s->tracks);
    s->sdp_a = s->sdp_b = NULL;
    s->nego = NULL;
    s->sdp_text = NULL;
    s->tracks = NULL;
}
