/* Offer/answer, the answering side: what the server accepts from a browser's offer (RFC 3264
 * §6, JSEP RFC 8829 §5.3), plus the pieces shared with the server's own offers (sdp_offer.c):
 * codec descriptions, the session's transport lines, and the report of what was agreed. */
#include "sdp_internal.h"

#include <stdio.h>
#include <stdlib.h>

/* ---- shared with sdp_offer.c -------------------------------------------------------------- */

int tdm_sdp_apt(const struct tdm_sdp_codec *c)
{
    char v[8], *end;
    if (tdm_sdp_fmtp_param(c->fmtp, "apt", v, sizeof v) <= 0)
        return -1;
    long x = strtol(v, &end, 10);
    return *end || x < 0 || x > 127 ? -1 : (int)x;
}

int tdm_sdp_rtx_for(const struct tdm_sdp_media *m, uint8_t pt)
{
    for (size_t i = 0; i < m->n_codecs; i++)
        if (tdm_sdp_codec_classify(&m->codecs[i]) == TDM_SDP_CODEC_RTX &&
            tdm_sdp_apt(&m->codecs[i]) == pt)
            return m->codecs[i].pt;
    return -1;
}

/* The rtpmap and default fmtp of a relayable codec; fmtp may be NULL for the default. */
void tdm_sdp_set_codec(struct tdm_sdp_codec *c, enum tdm_sdp_codec_id id, uint8_t pt,
                       const char *fmtp)
{
    static const struct {
        const char *name, *fmtp;
        uint32_t clock;
        uint8_t channels;
    } t[] = {
        [TDM_SDP_CODEC_OTHER] = {"", "", 90000, 0},
        /* RFC 7587 §7: FEC asked for; 10 ms minimum as browsers use. Our offers are on "sub",
         * where the page sends nothing: DTX is asked for in answers only. */
        [TDM_SDP_CODEC_OPUS] = {"opus", "minptime=10;useinbandfec=1", 48000, 2},
        [TDM_SDP_CODEC_VP8] = {"VP8", "", 90000, 0},
        [TDM_SDP_CODEC_H264] = {"H264",
                                "level-asymmetry-allowed=1;packetization-mode=1;"
                                "profile-level-id=42e01f",
                                90000, 0},
        [TDM_SDP_CODEC_VP9] = {"VP9", "profile-id=0", 90000, 0},
        [TDM_SDP_CODEC_RTX] = {"rtx", "", 90000, 0},
    };
    memset(c, 0, sizeof *c);
    c->pt = pt;
    c->has_rtpmap = true;
    snprintf(c->name, sizeof c->name, "%s", t[id].name);
    snprintf(c->fmtp, sizeof c->fmtp, "%s", fmtp ? fmtp : t[id].fmtp);
    c->clock = t[id].clock;
    c->channels = t[id].channels;
}

static bool str_class(const char *s, size_t cap, size_t min, bool (*cls)(unsigned char))
{
    size_t n = strnlen(s, cap);
    if (n == cap || n < min)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!cls((unsigned char)s[i]))
            return false;
    return true;
}

int tdm_sdp_local_ok(const struct tdm_sdp_local *l, char *err, size_t errlen)
{
    if (!str_class(l->ice_ufrag, TDM_SDP_ICE_CAP, 4, tdm_sdp_is_ice) ||
        !str_class(l->ice_pwd, TDM_SDP_ICE_CAP, 22, tdm_sdp_is_ice))
        return tdm_seterr(err, errlen, TDM_EINVAL, "local ICE ufrag/pwd: 4+/22+ ice-chars");
    if (l->n_codec_pref > 4 || l->n_cands > 8)
        return tdm_seterr(err, errlen, TDM_EINVAL, "local codec or candidate count over bound");
    for (size_t i = 0; i < l->n_cands; i++)
        if (!str_class(l->cands[i].foundation, TDM_SDP_FOUNDATION_CAP, 1, tdm_sdp_is_ice) ||
            !str_class(l->cands[i].address, TDM_SDP_ADDR_CAP, 1, tdm_sdp_is_addr) ||
            !l->cands[i].component)
            return tdm_seterr(err, errlen, TDM_EINVAL, "local candidate %zu is malformed", i);
    return 0;
}

/* ICE-lite (RFC 8839 §2.5): the server gathers nothing and never checks; its candidates and
 * credentials go at session level once, the candidates in the BUNDLE tag's m-section. */
void tdm_sdp_local_session(struct tdm_sdp *d, const struct tdm_sdp_local *l)
{
    d->sess_id = l->sess_id;
    d->sess_version = l->sess_version;
    d->ice_lite = true;
    d->msid_semantic = true;
    memcpy(d->ice_ufrag, l->ice_ufrag, sizeof d->ice_ufrag);
    memcpy(d->ice_pwd, l->ice_pwd, sizeof d->ice_pwd);
    d->fingerprint.hash = TDM_SDP_SHA256;
    d->fingerprint.len = 32;
    memcpy(d->fingerprint.value, l->fingerprint, 32);
}

void tdm_sdp_local_cands(struct tdm_sdp *d, const struct tdm_sdp_local *l)
{
    if (!d->n_bundle)
        return;
    for (size_t i = 0; i < l->n_cands && i < TDM_SDP_MAX_CANDIDATES; i++) {
        d->cands[d->n_cands] = l->cands[i];
        d->cands[d->n_cands++].media = d->bundle[0];
    }
    d->media[d->bundle[0]].end_of_candidates = true;
}

/* The codecs agreed in m (whichever side wrote it: the pts are the same on both sides). */
void tdm_sdp_nego_codecs(struct tdm_sdp_nego_media *nm, const struct tdm_sdp_media *m)
{
    nm->n_codecs = 0;
    for (size_t i = 0; i < m->n_codecs && nm->n_codecs < 8; i++) {
        const struct tdm_sdp_codec *c = &m->codecs[i];
        enum tdm_sdp_codec_id id = tdm_sdp_codec_classify(c);
        if (id == TDM_SDP_CODEC_OTHER || id == TDM_SDP_CODEC_RTX)
            continue;
        nm->codecs[nm->n_codecs++] = (struct tdm_sdp_nego_codec){
            .codec = id,
            .pt = c->pt,
            .rtx_pt = (int16_t)tdm_sdp_rtx_for(m, c->pt),
            .channels = c->channels,
            .fb = c->fb,
            .clock = c->clock,
        };
    }
}

static uint32_t fid_partner(const struct tdm_sdp_media *m, uint32_t ssrc)
{
    for (size_t g = 0; g < m->n_groups; g++)
        if (m->groups[g].sem == TDM_SDP_GROUP_FID && m->groups[g].ssrcs[0] == ssrc)
            return m->groups[g].ssrcs[1];
    return 0;
}

static bool is_secondary(const struct tdm_sdp_media *m, uint32_t ssrc)
{
    for (size_t g = 0; g < m->n_groups; g++)
        if (m->groups[g].sem != TDM_SDP_GROUP_SIM && m->groups[g].ssrcs[1] == ssrc)
            return true;
    return false;
}

/* What the browser sends in m: media SSRCs in SIM order when a SIM group is given (RFC 5576
 * §4.2), each with its RTX partner from FID (RFC 4588 §8.2); msid and cname. */
void tdm_sdp_nego_sender(struct tdm_sdp_nego_media *nm, const struct tdm_sdp_media *m)
{
    const struct tdm_sdp_ssrc_group *sim = NULL;
    for (size_t g = 0; g < m->n_groups && !sim; g++)
        if (m->groups[g].sem == TDM_SDP_GROUP_SIM)
            sim = &m->groups[g];
    nm->n_ssrcs = 0;
    size_t n = sim ? sim->n : m->n_ssrcs;
    for (size_t i = 0; i < n && nm->n_ssrcs < TDM_SDP_MAX_SSRCS; i++) {
        uint32_t ssrc = sim ? sim->ssrcs[i] : m->ssrcs[i].ssrc;
        if (!sim && is_secondary(m, ssrc))
            continue;
        nm->ssrc[nm->n_ssrcs] = ssrc;
        nm->rtx_ssrc[nm->n_ssrcs++] = fid_partner(m, ssrc);
    }
    memcpy(nm->msid_stream, m->msid_stream, sizeof nm->msid_stream);
    memcpy(nm->msid_track, m->msid_track, sizeof nm->msid_track);
    nm->cname[0] = '\0';
    for (size_t i = 0; i < m->n_ssrcs && !nm->cname[0]; i++)
        memcpy(nm->cname, m->ssrcs[i].cname, sizeof nm->cname);
}

/* RFC 5763 §5: the answerer picks active or passive; an absent a=setup means active. The
 * server prefers to be the DTLS server (passive), so only a passive offer makes it a client. */
int tdm_sdp_remote_transport(const struct tdm_sdp *d, struct tdm_sdp_nego *n, bool d_is_offer,
                             char *err, size_t errlen)
{
    if (!d->n_bundle)
        return 0;
    size_t tag = d->bundle[0];
    snprintf(n->remote_ufrag, sizeof n->remote_ufrag, "%s", tdm_sdp_media_ufrag(d, tag));
    snprintf(n->remote_pwd, sizeof n->remote_pwd, "%s", tdm_sdp_media_pwd(d, tag));
    n->remote_fingerprint = *tdm_sdp_media_fingerprint(d, tag);
    memcpy(n->bundle_mid, d->media[tag].mid, sizeof n->bundle_mid);
    enum tdm_sdp_setup s = tdm_sdp_media_setup(d, tag);
    n->remote_setup = s;
    if (s == TDM_SDP_SETUP_HOLDCONN || (s == TDM_SDP_SETUP_ACTPASS && !d_is_offer))
        return tdm_seterr(err, errlen, TDM_EUNSUPP, "a=setup:%s is not usable here",
                          s == TDM_SDP_SETUP_HOLDCONN ? "holdconn" : "actpass");
    n->dtls_server = s != TDM_SDP_SETUP_PASSIVE;
    return 0;
}

/* ---- the answer --------------------------------------------------------------------------- */

static bool dtls_srtp(const struct tdm_sdp_media *m)
{
    /* JSEP §5.1.2: UDP/TLS/RTP/SAVPF, or TCP/DTLS/RTP/SAVPF for ICE-TCP. */
    return strcmp(m->proto, "UDP/TLS/RTP/SAVPF") == 0 ||
           strcmp(m->proto, "TCP/DTLS/RTP/SAVPF") == 0;
}

static const struct tdm_sdp_track *track_for(const struct tdm_sdp_track *t, size_t n,
                                             const char *mid)
{
    for (size_t i = 0; i < n; i++)
        if (strncmp(t[i].mid, mid, TDM_SDP_MID_CAP) == 0)
            return &t[i];
    return NULL;
}

/* The answer's fmtp: ours, except what the offer's value decides (RFC 7587 §7, RFC 6184 §8.2.2:
 * the answer keeps the offered profile-level-id). Opus: useinbandfec and usedtx are what we
 * want to receive (§7.1: the receiver's preference, which Chromium and Firefox apply to their
 * encoder), whatever the offer says: FEC for lossy lines, and DTX so that a microphone in
 * silence sends a packet every 400 ms instead of 50 a second (docs/architecture.md "Opus"). */
static void answer_fmtp(const struct tdm_sdp_codec *oc, enum tdm_sdp_codec_id id, char *out)
{
    char v[16];
    if (id == TDM_SDP_CODEC_OPUS) {
        long minptime = 10;
        if (tdm_sdp_fmtp_param(oc->fmtp, "minptime", v, sizeof v) > 0)
            minptime = strtol(v, NULL, 10);
        snprintf(out, TDM_SDP_FMTP_CAP, "minptime=%ld;useinbandfec=1;usedtx=1",
                 minptime >= 3 && minptime <= 120 ? minptime : 10);
    } else if (id == TDM_SDP_CODEC_H264) {
        tdm_sdp_fmtp_param(oc->fmtp, "profile-level-id", v, sizeof v);
        snprintf(out, TDM_SDP_FMTP_CAP,
                 "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=%s", v);
    } else if (id == TDM_SDP_CODEC_RTX) {
        snprintf(out, TDM_SDP_FMTP_CAP, "apt=%d", tdm_sdp_apt(oc));
    } else {
        out[0] = '\0';
        if (id == TDM_SDP_CODEC_VP9)
            snprintf(out, TDM_SDP_FMTP_CAP, "profile-id=0");
    }
}

static void add_answer_codec(struct tdm_sdp_media *am, const struct tdm_sdp_codec *oc,
                             enum tdm_sdp_codec_id id)
{
    char fmtp[TDM_SDP_FMTP_CAP];
    if (am->n_codecs >= TDM_SDP_MAX_CODECS)
        return;
    answer_fmtp(oc, id, fmtp);
    struct tdm_sdp_codec *c = &am->codecs[am->n_codecs++];
    tdm_sdp_set_codec(c, id, oc->pt, fmtp);
    memcpy(c->name, oc->name, sizeof c->name); /* the offer's spelling */
    if (id != TDM_SDP_CODEC_RTX)
        c->fb = oc->fb; /* the five rtcp-fb values the server handles, as offered */
}

static bool wanted(const struct tdm_sdp_track *t, enum tdm_sdp_codec_id id)
{
    if (!t)
        return true;
    for (size_t i = 0; i < t->n_codecs && i < 4; i++)
        if (t->codecs[i].codec == id)
            return true;
    return false;
}

/* Audio: Opus only. Video: the server's preference order, each codec the offer has, then RTX
 * for each chosen one. With a track, only what that track carries. */
static void choose_codecs(struct tdm_sdp_media *am, const struct tdm_sdp_media *om,
                          const struct tdm_sdp_local *l, const struct tdm_sdp_track *t)
{
    enum tdm_sdp_codec_id prefs[4] = {TDM_SDP_CODEC_OPUS};
    size_t np = 1;
    if (om->kind == TDM_SDP_VIDEO)
        for (np = 0; np < l->n_codec_pref && np < 4; np++)
            prefs[np] = l->codec_pref[np];
    for (size_t p = 0; p < np; p++) {
        /* Opus never in video, video codecs never in audio. */
        if ((prefs[p] == TDM_SDP_CODEC_OPUS) != (om->kind == TDM_SDP_AUDIO) || !wanted(t, prefs[p]))
            continue;
        for (size_t i = 0; i < om->n_codecs; i++)
            if (tdm_sdp_codec_classify(&om->codecs[i]) == prefs[p])
                add_answer_codec(am, &om->codecs[i], prefs[p]);
    }
    size_t chosen = am->n_codecs;
    for (size_t k = 0; l->rtx && om->kind == TDM_SDP_VIDEO && k < chosen; k++) {
        int rtx = tdm_sdp_rtx_for(om, am->codecs[k].pt);
        if (rtx >= 0)
            add_answer_codec(am, tdm_sdp_find_pt(om, (uint8_t)rtx), TDM_SDP_CODEC_RTX);
    }
}

/* RFC 8853 §5.3: the browser sends rid simulcast; the answer receives the same rids (the
 * first TDM_SDP_MAX_SIMULCAST: an answerer may remove streams, §5.3.2). Needs the
 * rid extension, else the server could not tell the layers apart. */
static bool simulcast_ok(const struct tdm_sdp_media *om, const struct tdm_sdp_local *l)
{
    bool rid_ext = false, any = false;
    for (size_t i = 0; i < om->n_extmaps; i++)
        rid_ext |= tdm_sdp_ext_classify(om->extmaps[i].uri) == TDM_SDP_EXT_RID;
    for (size_t i = 0; i < om->n_rids; i++)
        any |= om->rids[i].send && om->rids[i].simulcast;
    return l->simulcast && rid_ext && any;
}

static void answer_simulcast(struct tdm_sdp_media *am, const struct tdm_sdp_media *om,
                             struct tdm_sdp_nego_media *nm)
{
    for (size_t i = 0; i < om->n_rids && am->n_rids < TDM_SDP_MAX_SIMULCAST; i++) {
        if (!om->rids[i].send || !om->rids[i].simulcast)
            continue;
        struct tdm_sdp_rid *r = &am->rids[am->n_rids++];
        *r = om->rids[i];
        r->send = false;
        memcpy(nm->rids[nm->n_rids++], r->id, TDM_SDP_RID_CAP);
    }
}

/* RFC 8285 §6: the answer keeps the offered ids; a direction is mirrored. */
static void answer_extmaps(struct tdm_sdp_media *am, const struct tdm_sdp_media *om, bool sim,
                           struct tdm_sdp_nego_media *nm)
{
    static const enum tdm_sdp_dir mirror[] = {TDM_SDP_DIR_NONE, TDM_SDP_DIR_NONE, TDM_SDP_RECVONLY,
                                              TDM_SDP_SENDONLY, TDM_SDP_INACTIVE};
    for (size_t i = 0; i < om->n_extmaps && am->n_extmaps < TDM_SDP_MAX_EXTMAPS; i++) {
        const struct tdm_sdp_extmap *e = &om->extmaps[i];
        int x = tdm_sdp_ext_classify(e->uri);
        if (x < 0 || e->dir == TDM_SDP_INACTIVE ||
            ((x == TDM_SDP_EXT_RID || x == TDM_SDP_EXT_RRID) && !sim) ||
            (x == TDM_SDP_EXT_AUDIO_LEVEL && om->kind != TDM_SDP_AUDIO))
            continue;
        am->extmaps[am->n_extmaps] = *e;
        am->extmaps[am->n_extmaps++].dir = mirror[e->dir];
        nm->ext[x] = (uint8_t)e->id;
    }
}

/* The server's direction for one m-section (RFC 3264 §6.1): it receives what the browser
 * sends, and sends only where it has a live track for that mid. */
static enum tdm_sdp_dir answer_dir(enum tdm_sdp_dir offered, bool have_track)
{
    bool b_sends = offered == TDM_SDP_SENDRECV || offered == TDM_SDP_SENDONLY;
    bool s_sends = have_track && (offered == TDM_SDP_SENDRECV || offered == TDM_SDP_RECVONLY);
    if (s_sends)
        return b_sends ? TDM_SDP_SENDRECV : TDM_SDP_SENDONLY;
    return b_sends ? TDM_SDP_RECVONLY : TDM_SDP_INACTIVE;
}

/* msid, SSRC (+ RTX SSRC in an FID group when RTX is in m) of a track the server sends. */
void tdm_sdp_track_sender(struct tdm_sdp_media *m, const struct tdm_sdp_track *t)
{
    bool rtx = false;
    for (size_t i = 0; i < m->n_codecs; i++)
        rtx |= tdm_sdp_codec_classify(&m->codecs[i]) == TDM_SDP_CODEC_RTX;
    memcpy(m->msid_stream, t->stream_id, sizeof m->msid_stream);
    memcpy(m->msid_track, t->track_id, sizeof m->msid_track);
    m->ssrcs[0].ssrc = t->ssrc;
    memcpy(m->ssrcs[0].cname, t->cname, sizeof m->ssrcs[0].cname);
    m->n_ssrcs = 1;
    if (rtx && t->rtx_ssrc) {
        m->ssrcs[1].ssrc = t->rtx_ssrc;
        memcpy(m->ssrcs[1].cname, t->cname, sizeof m->ssrcs[1].cname);
        m->n_ssrcs = 2;
        m->groups[0] = (struct tdm_sdp_ssrc_group){TDM_SDP_GROUP_FID, 2, {t->ssrc, t->rtx_ssrc}};
        m->n_groups = 1;
    }
}

static bool is_kind_codec(enum tdm_sdp_kind k, enum tdm_sdp_codec_id c)
{
    if (k == TDM_SDP_AUDIO)
        return c == TDM_SDP_CODEC_OPUS;
    return c == TDM_SDP_CODEC_VP8 || c == TDM_SDP_CODEC_H264 || c == TDM_SDP_CODEC_VP9;
}

int tdm_sdp_track_ok(const struct tdm_sdp_track *t, char *err, size_t errlen)
{
    if ((t->kind != TDM_SDP_AUDIO && t->kind != TDM_SDP_VIDEO) ||
        !str_class(t->mid, TDM_SDP_MID_CAP, 1, tdm_sdp_is_token) || t->n_codecs == 0 ||
        t->n_codecs > 4)
        return tdm_seterr(err, errlen, TDM_EINVAL, "track: bad kind, mid or codec count");
    if (t->active && (!str_class(t->stream_id, TDM_SDP_ID_CAP, 1, tdm_sdp_is_token) ||
                      !str_class(t->track_id, TDM_SDP_ID_CAP, 1, tdm_sdp_is_token) ||
                      !str_class(t->cname, TDM_SDP_ID_CAP, 1, tdm_sdp_is_vis) || !t->ssrc ||
                      t->rtx_ssrc == t->ssrc))
        return tdm_seterr(err, errlen, TDM_EINVAL, "track %.32s: bad msid, cname or SSRC", t->mid);
    for (size_t i = 0; i < t->n_codecs; i++) {
        const struct tdm_sdp_track_codec *c = &t->codecs[i];
        if (!is_kind_codec(t->kind, c->codec) || c->pt > 127 || c->rtx_pt > 127 || c->rtx_pt < -1 ||
            c->rtx_pt == c->pt)
            return tdm_seterr(err, errlen, TDM_EINVAL, "track %.32s: bad codec %zu", t->mid, i);
    }
    return 0;
}

static void reject(struct tdm_sdp_media *am, const struct tdm_sdp_media *om)
{
    am->port = 0;
    am->rejected = true;
    if (om->n_codecs) {
        am->codecs[0].pt = om->codecs[0].pt; /* an m-line needs one format */
        am->n_codecs = 1;
    }
}

static int answer_media(const struct tdm_sdp *offer, size_t i, const struct tdm_sdp_local *l,
                        const struct tdm_sdp_track *tracks, size_t n_tracks, struct tdm_sdp *answer,
                        struct tdm_sdp_nego *nego)
{
    const struct tdm_sdp_media *om = &offer->media[i];
    struct tdm_sdp_media *am = &answer->media[i];
    struct tdm_sdp_nego_media *nm = &nego->media[i];
    am->kind = nm->kind = om->kind;
    memcpy(am->kind_name, om->kind_name, sizeof am->kind_name);
    memcpy(am->proto, om->proto, sizeof am->proto);
    memcpy(am->fmt, om->fmt, sizeof am->fmt);
    memcpy(am->mid, om->mid, sizeof am->mid);
    memcpy(nm->mid, om->mid, sizeof nm->mid);
    const struct tdm_sdp_track *t = track_for(tracks, n_tracks, om->mid);
    bool live = t && t->active;
    if (t && t->kind != om->kind)
        return TDM_EINVAL;
    if (!om->rejected && (om->kind == TDM_SDP_AUDIO || om->kind == TDM_SDP_VIDEO) && dtls_srtp(om))
        choose_codecs(am, om, l, live ? t : NULL);
    if (am->n_codecs == 0) {
        reject(am, om);
        nm->rejected = true;
        return 0;
    }
    enum tdm_sdp_dir od = tdm_sdp_media_dir(offer, i);
    am->port = 9; /* RFC 8843 §7.3: bundled; ICE decides the real address */
    am->rtcp_mux = true;
    am->rtcp_rsize = om->rtcp_rsize;
    am->setup = nego->dtls_server ? TDM_SDP_SETUP_PASSIVE : TDM_SDP_SETUP_ACTIVE;
    am->dir = nm->dir = answer_dir(od, live);
    bool sim = (od == TDM_SDP_SENDRECV || od == TDM_SDP_SENDONLY) && simulcast_ok(om, l);
    if (sim)
        answer_simulcast(am, om, nm);
    answer_extmaps(am, om, sim, nm);
    if (am->dir == TDM_SDP_SENDONLY || am->dir == TDM_SDP_SENDRECV)
        tdm_sdp_track_sender(am, t);
    tdm_sdp_nego_codecs(nm, am);
    if (am->dir == TDM_SDP_RECVONLY || am->dir == TDM_SDP_SENDRECV)
        tdm_sdp_nego_sender(nm, om);
    return 0;
}

int tdm_sdp_answer(const struct tdm_sdp *offer, const struct tdm_sdp_local *local,
                   const struct tdm_sdp_track *tracks, size_t n_tracks, struct tdm_sdp *answer,
                   struct tdm_sdp_nego *nego, char *err, size_t errlen)
{
    if (!offer || !local || !answer || !nego || (n_tracks && !tracks) || offer == answer)
        return tdm_seterr(err, errlen, TDM_EINVAL, "missing argument");
    int rc = tdm_sdp_local_ok(local, err, errlen);
    for (size_t i = 0; rc == 0 && i < n_tracks; i++)
        rc = tdm_sdp_track_ok(&tracks[i], err, errlen);
    if (rc < 0)
        return rc;
    memset(answer, 0, sizeof *answer);
    memset(nego, 0, sizeof *nego);
    tdm_sdp_local_session(answer, local);
    answer->extmap_allow_mixed = offer->extmap_allow_mixed && local->extmap_allow_mixed;
    rc = tdm_sdp_remote_transport(offer, nego, true, err, errlen);
    if (rc < 0)
        return rc;
    /* The lead's layout is BUNDLE with rtcp-mux only (RFC 8843 §9.3, JSEP "require"). */
    if (offer->n_bundle && !offer->media[offer->bundle[0]].rtcp_mux)
        return tdm_seterr(err, errlen, TDM_EUNSUPP, "the offer has no a=rtcp-mux");
    answer->n_media = nego->n_media = offer->n_media;
    for (size_t i = 0; i < offer->n_media; i++)
        if (answer_media(offer, i, local, tracks, n_tracks, answer, nego) < 0)
            return tdm_seterr(err, errlen, TDM_EINVAL, "track for mid \"%s\" has the wrong kind",
                              offer->media[i].mid);
    for (size_t b = 0; b < offer->n_bundle; b++)
        if (!answer->media[offer->bundle[b]].rejected)
            answer->bundle[answer->n_bundle++] = offer->bundle[b];
    tdm_sdp_local_cands(answer, local);
    return 0;
}
