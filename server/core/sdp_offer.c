/* Offer/answer, the offering side: the server's own offers to a subscriber (one sendonly
 * m-section per forwarded track, recycled through inactive when a participant leaves) and the
 * check of the browser's answer to them (RFC 3264 §5-§7, JSEP RFC 8829 §5.2.2 and §5.3). */
#include "sdp_internal.h"

#include <stdio.h>

/* One id per URI across the BUNDLE group (RFC 8843 §9.1.3 shares one RTP session), taken from
 * what `current` already uses; new ones from the one-byte range (RFC 8285 §4.2). */
struct ext_ids {
    uint16_t id[TDM_SDP_EXT_COUNT];
    uint8_t used[32];
};

static void ext_ids_from(struct ext_ids *x, const struct tdm_sdp *cur)
{
    memset(x, 0, sizeof *x);
    for (size_t i = 0; cur && i < cur->n_media; i++) {
        const struct tdm_sdp_media *m = &cur->media[i];
        for (size_t k = 0; k < m->n_extmaps; k++) {
            int e = tdm_sdp_ext_classify(m->extmaps[k].uri);
            tdm_sdp_setbit(x->used, m->extmaps[k].id & 0xff);
            if (e >= 0 && !x->id[e])
                x->id[e] = m->extmaps[k].id;
        }
    }
}

static void add_ext(struct tdm_sdp_media *m, struct ext_ids *x, enum tdm_sdp_ext_id e)
{
    for (unsigned id = 1; !x->id[e] && id <= 14; id++) {
        if (!tdm_sdp_bit(x->used, id)) {
            tdm_sdp_setbit(x->used, id);
            x->id[e] = (uint16_t)id;
        }
    }
    if (!x->id[e] || m->n_extmaps >= TDM_SDP_MAX_EXTMAPS)
        return; /* all fourteen one-byte ids taken: go without */
    for (size_t i = 0; i < m->n_extmaps; i++)
        if (m->extmaps[i].id == x->id[e])
            return; /* `current` gave two URIs one id: never write a duplicate */
    struct tdm_sdp_extmap *em = &m->extmaps[m->n_extmaps++];
    em->id = x->id[e];
    em->dir = TDM_SDP_DIR_NONE;
    snprintf(em->uri, sizeof em->uri, "%s", tdm_sdp_ext_uri(e));
}

/* A pt names one codec configuration in the whole BUNDLE group; Chromium refuses a "codec
 * collision" otherwise. Reuse what the offer already says for this pt. */
static int offer_codec(const struct tdm_sdp *offer, size_t mi, struct tdm_sdp_codec *c,
                       enum tdm_sdp_codec_id id, uint8_t pt, int apt)
{
    char fmtp[16];
    snprintf(fmtp, sizeof fmtp, "apt=%d", apt);
    tdm_sdp_set_codec(c, id, pt, id == TDM_SDP_CODEC_RTX ? fmtp : NULL);
    for (size_t i = 0; i < offer->n_media; i++) {
        if (i == mi || offer->media[i].rejected)
            continue;
        const struct tdm_sdp_codec *e = tdm_sdp_find_pt(&offer->media[i], pt);
        if (!e)
            continue;
        if (tdm_sdp_codec_classify(e) != id || (id == TDM_SDP_CODEC_RTX && tdm_sdp_apt(e) != apt))
            return TDM_EEXIST;
        memcpy(c->name, e->name, sizeof c->name);
        memcpy(c->fmtp, e->fmtp, sizeof c->fmtp);
        return 0;
    }
    return 0;
}

static int track_codecs(struct tdm_sdp *offer, size_t mi, const struct tdm_sdp_track *t)
{
    struct tdm_sdp_media *m = &offer->media[mi];
    m->n_codecs = 0;
    for (size_t i = 0; i < t->n_codecs; i++) {
        const struct tdm_sdp_track_codec *tc = &t->codecs[i];
        int rc = offer_codec(offer, mi, &m->codecs[m->n_codecs], tc->codec, tc->pt, -1);
        m->codecs[m->n_codecs++].fb = tc->fb;
        if (rc == 0 && tc->rtx_pt >= 0)
            rc = offer_codec(offer, mi, &m->codecs[m->n_codecs++], TDM_SDP_CODEC_RTX,
                             (uint8_t)tc->rtx_pt, tc->pt);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* The m-section of one forwarded track: sendonly with msid and SSRCs (RFC 8830, RFC 5576), or
 * inactive without them when the slot is recycled (JSEP §5.2.2: same mid, port kept). */
static int fill_track(struct tdm_sdp *offer, size_t mi, const struct tdm_sdp_track *t,
                      struct ext_ids *x)
{
    struct tdm_sdp_media *m = &offer->media[mi];
    char mid[TDM_SDP_MID_CAP];
    memcpy(mid, t->mid, sizeof mid);
    memset(m, 0, sizeof *m);
    memcpy(m->mid, mid, sizeof m->mid);
    m->kind = t->kind;
    m->port = 9;
    snprintf(m->proto, sizeof m->proto, "UDP/TLS/RTP/SAVPF");
    m->rtcp_mux = m->rtcp_rsize = true;
    m->setup = TDM_SDP_SETUP_ACTPASS;
    m->dir = t->active ? TDM_SDP_SENDONLY : TDM_SDP_INACTIVE;
    add_ext(m, x, TDM_SDP_EXT_MID);
    if (t->kind == TDM_SDP_AUDIO)
        add_ext(m, x, TDM_SDP_EXT_AUDIO_LEVEL);
    add_ext(m, x, TDM_SDP_EXT_ABS_SEND_TIME);
    add_ext(m, x, TDM_SDP_EXT_TWCC);
    int rc = track_codecs(offer, mi, t);
    if (rc == 0 && t->active)
        tdm_sdp_track_sender(m, t);
    return rc;
}

/* Sections carried over from `current` keep codecs, direction and senders; the transport
 * lines are the session's (credentials once, candidates on the tag) and setup is actpass
 * (RFC 5763 §5: an offerer says actpass; browsers answer active). */
static void carry_over(struct tdm_sdp *offer, const struct tdm_sdp *cur)
{
    offer->n_media = cur->n_media;
    for (size_t i = 0; i < cur->n_media; i++) {
        struct tdm_sdp_media *m = &offer->media[i];
        const struct tdm_sdp_media *c = &cur->media[i];
        if (c->rejected) {
            /* Only what an m-line needs: kind, proto, one format, mid (JSEP §5.2.2). */
            m->kind = c->kind;
            m->rejected = true;
            memcpy(m->kind_name, c->kind_name, sizeof m->kind_name);
            memcpy(m->proto, c->proto, sizeof m->proto);
            memcpy(m->fmt, c->fmt, sizeof m->fmt);
            memcpy(m->mid, c->mid, sizeof m->mid);
            m->n_codecs = c->n_codecs ? 1 : 0;
            m->codecs[0].pt = c->codecs[0].pt;
            continue;
        }
        *m = *c;
        m->ice_ufrag[0] = m->ice_pwd[0] = '\0';
        memset(&m->fingerprint, 0, sizeof m->fingerprint);
        m->end_of_candidates = false;
        m->bundle_only = false;
        m->setup = TDM_SDP_SETUP_ACTPASS;
    }
}

static int place_track(struct tdm_sdp *offer, const struct tdm_sdp_track *t, struct ext_ids *x,
                       char *err, size_t errlen)
{
    int i = tdm_sdp_find_mid(offer, t->mid);
    if (i >= 0 && offer->media[i].kind != t->kind)
        return tdm_seterr(err, errlen, TDM_EINVAL, "mid \"%s\" is not a %s m-section", t->mid,
                          t->kind == TDM_SDP_AUDIO ? "audio" : "video");
    /* JSEP §5.2.2: a rejected m-section is only reused with a new mid. */
    if (i >= 0 && offer->media[i].rejected)
        return tdm_seterr(err, errlen, TDM_EINVAL, "mid \"%s\" was rejected", t->mid);
    /* The lead's layout: forwarded tracks get sendonly m-sections of their own; taking over
     * one the server receives on would stop the browser's upload. */
    if (i >= 0 &&
        (offer->media[i].dir == TDM_SDP_RECVONLY || offer->media[i].dir == TDM_SDP_SENDRECV ||
         offer->media[i].dir == TDM_SDP_DIR_NONE))
        return tdm_seterr(err, errlen, TDM_EINVAL, "mid \"%s\" carries the browser's own track",
                          t->mid);
    if (i < 0) {
        if (offer->n_media >= TDM_SDP_MAX_MEDIA)
            return tdm_seterr(err, errlen, TDM_EFULL, "already %d m-sections", TDM_SDP_MAX_MEDIA);
        i = offer->n_media++;
    }
    if (fill_track(offer, (size_t)i, t, x) < 0)
        return tdm_seterr(err, errlen, TDM_EINVAL,
                          "track \"%s\": a payload type already names another codec", t->mid);
    return 0;
}

int tdm_sdp_offer(const struct tdm_sdp *current, const struct tdm_sdp_local *local,
                  const struct tdm_sdp_track *tracks, size_t n_tracks, struct tdm_sdp *offer,
                  char *err, size_t errlen)
{
    if (!local || !offer || (n_tracks && !tracks) || offer == current)
        return tdm_seterr(err, errlen, TDM_EINVAL, "missing argument");
    int rc = tdm_sdp_local_ok(local, err, errlen);
    for (size_t i = 0; rc == 0 && i < n_tracks; i++)
        rc = tdm_sdp_track_ok(&tracks[i], err, errlen);
    for (size_t i = 0; rc == 0 && i < n_tracks; i++)
        for (size_t k = 0; k < i; k++)
            if (strcmp(tracks[i].mid, tracks[k].mid) == 0)
                rc =
                    tdm_seterr(err, errlen, TDM_EINVAL, "two tracks for mid \"%s\"", tracks[i].mid);
    if (rc < 0)
        return rc;
    memset(offer, 0, sizeof *offer);
    tdm_sdp_local_session(offer, local);
    offer->extmap_allow_mixed = local->extmap_allow_mixed;
    struct ext_ids x;
    ext_ids_from(&x, current);
    if (current)
        carry_over(offer, current);
    for (size_t i = 0; i < n_tracks; i++)
        if ((rc = place_track(offer, &tracks[i], &x, err, errlen)) < 0)
            return rc;
    for (size_t i = 0; i < offer->n_media; i++)
        if (!offer->media[i].rejected)
            offer->bundle[offer->n_bundle++] = (uint8_t)i;
    tdm_sdp_local_cands(offer, local);
    return 0;
}

/* ---- the browser's answer ----------------------------------------------------------------- */

/* RFC 3264 §6.1: what an answer may say to each offered direction. */
static bool dir_allowed(enum tdm_sdp_dir offered, enum tdm_sdp_dir answered)
{
    switch (offered) {
    case TDM_SDP_SENDONLY: return answered == TDM_SDP_RECVONLY || answered == TDM_SDP_INACTIVE;
    case TDM_SDP_RECVONLY: return answered == TDM_SDP_SENDONLY || answered == TDM_SDP_INACTIVE;
    case TDM_SDP_INACTIVE: return answered == TDM_SDP_INACTIVE;
    default: return true;
    }
}

static int check_codecs(const struct tdm_sdp_media *om, const struct tdm_sdp_media *am, char *err,
                        size_t errlen)
{
    for (size_t k = 0; k < am->n_codecs; k++) {
        const struct tdm_sdp_codec *ac = &am->codecs[k];
        const struct tdm_sdp_codec *oc = tdm_sdp_find_pt(om, ac->pt);
        if (!oc)
            return tdm_seterr(err, errlen, TDM_EINVAL, "mid \"%s\": payload type %u not offered",
                              om->mid, ac->pt);
        if (ac->has_rtpmap && (strcasecmp(ac->name, oc->name) != 0 || ac->clock != oc->clock))
            return tdm_seterr(err, errlen, TDM_EINVAL,
                              "mid \"%s\": payload type %u changed meaning", om->mid, ac->pt);
    }
    return 0;
}

/* RFC 8285 §6: an answer uses the offered id for a URI. */
static int check_extmaps(const struct tdm_sdp_media *om, const struct tdm_sdp_media *am,
                         struct tdm_sdp_nego_media *nm, char *err, size_t errlen)
{
    for (size_t k = 0; k < am->n_extmaps; k++) {
        const struct tdm_sdp_extmap *e = &am->extmaps[k];
        int x = tdm_sdp_ext_classify(e->uri);
        if (x < 0)
            continue;
        bool offered = false;
        for (size_t j = 0; j < om->n_extmaps; j++)
            offered |= om->extmaps[j].id == e->id && strcmp(om->extmaps[j].uri, e->uri) == 0;
        if (!offered)
            return tdm_seterr(err, errlen, TDM_EINVAL, "mid \"%s\": extmap %u not offered", om->mid,
                              e->id);
        nm->ext[x] = (uint8_t)e->id;
    }
    return 0;
}

static int check_media(struct tdm_sdp *offer, const struct tdm_sdp *answer, size_t i,
                       struct tdm_sdp_nego_media *nm, char *err, size_t errlen)
{
    static const enum tdm_sdp_dir mirror[] = {TDM_SDP_SENDRECV, TDM_SDP_SENDRECV, TDM_SDP_RECVONLY,
                                              TDM_SDP_SENDONLY, TDM_SDP_INACTIVE};
    struct tdm_sdp_media *om = &offer->media[i];
    const struct tdm_sdp_media *am = &answer->media[i];
    if (am->kind != om->kind || (am->mid[0] && strcmp(am->mid, om->mid) != 0))
        return tdm_seterr(err, errlen, TDM_EINVAL, "m-section %zu: kind or mid differs", i + 1);
    memcpy(nm->mid, om->mid, sizeof nm->mid);
    nm->kind = om->kind;
    if (om->rejected || am->rejected) {
        /* Kept rejected in later offers (JSEP §5.2.2): the caller's offer becomes `current`. */
        om->rejected = nm->rejected = true;
        om->port = 0;
        return 0;
    }
    enum tdm_sdp_dir od = tdm_sdp_media_dir(offer, i), ad = tdm_sdp_media_dir(answer, i);
    if (!dir_allowed(od, ad))
        return tdm_seterr(err, errlen, TDM_EINVAL, "mid \"%s\": answered direction not allowed",
                          om->mid);
    int rc = check_codecs(om, am, err, errlen);
    if (rc == 0)
        rc = check_extmaps(om, am, nm, err, errlen);
    if (rc < 0)
        return rc;
    nm->dir = mirror[ad];
    tdm_sdp_nego_codecs(nm, am);
    if (ad == TDM_SDP_SENDONLY || ad == TDM_SDP_SENDRECV)
        tdm_sdp_nego_sender(nm, am);
    return 0;
}

int tdm_sdp_check_answer(struct tdm_sdp *offer, const struct tdm_sdp *answer,
                         struct tdm_sdp_nego *nego, char *err, size_t errlen)
{
    if (!offer || !answer || !nego || offer == answer)
        return tdm_seterr(err, errlen, TDM_EINVAL, "missing argument");
    memset(nego, 0, sizeof *nego);
    if (answer->n_media != offer->n_media)
        return tdm_seterr(err, errlen, TDM_EINVAL, "answer has %u m-sections, the offer %u",
                          answer->n_media, offer->n_media);
    int rc = tdm_sdp_remote_transport(answer, nego, false, err, errlen);
    nego->n_media = offer->n_media;
    for (size_t i = 0; rc == 0 && i < offer->n_media; i++)
        rc = check_media(offer, answer, i, &nego->media[i], err, errlen);
    return rc;
}
