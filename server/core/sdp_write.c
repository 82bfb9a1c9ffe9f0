/* SDP writer: the model as text, in the attribute order Chromium and Firefox write (JSEP,
 * RFC 8829 §5.2). Every string is checked against its grammar before anything is written,
 * so a field holding CR, LF or a space cannot add lines or attributes (the SDP injection
 * behind several CVEs in other SFUs). Output is bounded by the caller's buffer. */
#include "sdp_internal.h"

#include <stdarg.h>
#include <stdio.h>

struct out {
    char *buf;
    size_t cap;
    size_t len;
    bool full;
};

__attribute__((format(printf, 2, 3))) static void put(struct out *o, const char *fmt, ...)
{
    if (o->full)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= o->cap - o->len) {
        o->full = true;
        o->buf[o->len] = '\0';
        return;
    }
    o->len += (size_t)n;
}

/* A NUL inside cap, length in [min, cap), every byte in the class. */
static bool str_ok(const char *s, size_t cap, size_t min, bool (*cls)(unsigned char))
{
    size_t n = strnlen(s, cap);
    if (n == cap || n < min)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!cls((unsigned char)s[i]))
            return false;
    return true;
}

static bool is_fmtp(unsigned char ch)
{
    return ch == ' ' || tdm_sdp_is_vis(ch);
}

static bool is_encname(unsigned char ch)
{
    return tdm_sdp_is_alnum(ch) || ch == '-' || ch == '_' || ch == '.';
}

static bool ice_ok(const char *s, size_t min)
{
    return !s[0] || str_ok(s, TDM_SDP_ICE_CAP, min, tdm_sdp_is_ice);
}

static bool fp_ok(const struct tdm_sdp_fingerprint *fp)
{
    static const uint8_t lens[] = {0, 20, 28, 32, 48, 64};
    return (unsigned)fp->hash <= TDM_SDP_SHA512 && fp->len == lens[fp->hash];
}

static bool codecs_ok(const struct tdm_sdp_media *m)
{
    for (size_t i = 0; i < m->n_codecs; i++) {
        const struct tdm_sdp_codec *c = &m->codecs[i];
        if (c->pt > 127 || !str_ok(c->fmtp, TDM_SDP_FMTP_CAP, 0, is_fmtp) ||
            (c->has_rtpmap && (!str_ok(c->name, TDM_SDP_NAME_CAP, 1, is_encname) || !c->clock)))
            return false;
    }
    return true;
}

static bool media_ok(const struct tdm_sdp_media *m)
{
    if (m->n_codecs > TDM_SDP_MAX_CODECS || m->n_extmaps > TDM_SDP_MAX_EXTMAPS ||
        m->n_ssrcs > TDM_SDP_MAX_SSRCS || m->n_groups > TDM_SDP_MAX_GROUPS ||
        m->n_rids > TDM_SDP_MAX_RIDS || (unsigned)m->kind > TDM_SDP_KIND_OTHER ||
        (unsigned)m->dir > TDM_SDP_INACTIVE || (unsigned)m->setup > TDM_SDP_SETUP_HOLDCONN)
        return false;
    if (!str_ok(m->proto, TDM_SDP_PROTO_CAP, 1, tdm_sdp_is_vis) ||
        !str_ok(m->fmt, TDM_SDP_ID_CAP, 0, tdm_sdp_is_token) ||
        !str_ok(m->mid, TDM_SDP_MID_CAP, 0, tdm_sdp_is_token) ||
        !str_ok(m->msid_stream, TDM_SDP_ID_CAP, 0, tdm_sdp_is_token) ||
        !str_ok(m->msid_track, TDM_SDP_ID_CAP, 0, tdm_sdp_is_token) || !ice_ok(m->ice_ufrag, 4) ||
        !ice_ok(m->ice_pwd, 22) || !codecs_ok(m) || (m->n_codecs == 0 && !m->fmt[0]) ||
        !fp_ok(&m->fingerprint) ||
        (m->kind == TDM_SDP_KIND_OTHER &&
         !str_ok(m->kind_name, TDM_SDP_NAME_CAP, 1, tdm_sdp_is_token)))
        return false;
    for (size_t i = 0; i < m->n_extmaps; i++)
        if (!m->extmaps[i].id || m->extmaps[i].id > 255 || m->extmaps[i].id == 15 ||
            (unsigned)m->extmaps[i].dir > TDM_SDP_INACTIVE ||
            !str_ok(m->extmaps[i].uri, TDM_SDP_URI_CAP, 1, tdm_sdp_is_vis))
            return false;
    for (size_t i = 0; i < m->n_ssrcs; i++)
        if (!str_ok(m->ssrcs[i].cname, TDM_SDP_ID_CAP, 0, tdm_sdp_is_vis))
            return false;
    for (size_t i = 0; i < m->n_groups; i++)
        if (!m->groups[i].n || m->groups[i].n > TDM_SDP_MAX_GROUP_SSRCS ||
            (unsigned)m->groups[i].sem > TDM_SDP_GROUP_FEC_FR)
            return false;
    for (size_t i = 0; i < m->n_rids; i++)
        if (!str_ok(m->rids[i].id, TDM_SDP_RID_CAP, 1, tdm_sdp_is_rid))
            return false;
    return true;
}

static int validate(const struct tdm_sdp *d, char *err, size_t errlen)
{
    if (d->n_media > TDM_SDP_MAX_MEDIA || d->n_bundle > d->n_media ||
        d->n_cands > TDM_SDP_MAX_CANDIDATES || !ice_ok(d->ice_ufrag, 4) ||
        !ice_ok(d->ice_pwd, 22) || (unsigned)d->dir > TDM_SDP_INACTIVE || !fp_ok(&d->fingerprint) ||
        (unsigned)d->setup > TDM_SDP_SETUP_HOLDCONN)
        return tdm_seterr(err, errlen, TDM_EINVAL, "bad session-level field");
    for (size_t i = 0; i < d->n_bundle; i++)
        if (d->bundle[i] >= d->n_media || !d->media[d->bundle[i]].mid[0])
            return tdm_seterr(err, errlen, TDM_EINVAL, "BUNDLE entry %zu names no mid", i);
    for (size_t i = 0; i < d->n_media; i++)
        if (!media_ok(&d->media[i]))
            return tdm_seterr(err, errlen, TDM_EINVAL, "bad field in m-section %zu", i + 1);
    for (size_t i = 0; i < d->n_cands; i++) {
        const struct tdm_sdp_candidate *c = &d->cands[i];
        if (c->media >= d->n_media || !c->component || (unsigned)c->type > TDM_SDP_RELAY ||
            (unsigned)c->transport > TDM_SDP_TCP || (unsigned)c->tcptype > TDM_SDP_TCP_SO ||
            !str_ok(c->foundation, TDM_SDP_FOUNDATION_CAP, 1, tdm_sdp_is_ice) ||
            !str_ok(c->address, TDM_SDP_ADDR_CAP, 1, tdm_sdp_is_addr))
            return tdm_seterr(err, errlen, TDM_EINVAL, "bad candidate %zu", i);
    }
    return 0;
}

static const char *const dir_names[] = {"", "sendrecv", "sendonly", "recvonly", "inactive"};
static const char *const setup_names[] = {"", "actpass", "active", "passive", "holdconn"};
static const char *const kind_names[] = {"audio", "video", "application", ""};

static void put_fingerprint(struct out *o, const struct tdm_sdp_fingerprint *fp)
{
    static const char *const names[] = {"", "sha-1", "sha-224", "sha-256", "sha-384", "sha-512"};
    if (fp->hash == TDM_SDP_HASH_NONE || (unsigned)fp->hash > TDM_SDP_SHA512)
        return;
    put(o, "a=fingerprint:%s ", names[fp->hash]);
    for (size_t i = 0; i < fp->len && i < TDM_SDP_FP_MAX; i++)
        put(o, "%02X%s", fp->value[i], i + 1 < fp->len ? ":" : "\r\n");
}

static void put_transport(struct out *o, const char *ufrag, const char *pwd,
                          const struct tdm_sdp_fingerprint *fp, enum tdm_sdp_setup setup)
{
    if (ufrag[0])
        put(o, "a=ice-ufrag:%s\r\n", ufrag);
    if (pwd[0])
        put(o, "a=ice-pwd:%s\r\n", pwd);
    put_fingerprint(o, fp);
    if (setup != TDM_SDP_SETUP_NONE)
        put(o, "a=setup:%s\r\n", setup_names[setup]);
}

static void put_session(struct out *o, const struct tdm_sdp *d)
{
    put(o, "v=0\r\no=- %llu %llu IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n",
        (unsigned long long)d->sess_id, (unsigned long long)d->sess_version);
    if (d->ice_lite)
        put(o, "a=ice-lite\r\n");
    if (d->n_bundle) {
        put(o, "a=group:BUNDLE");
        for (size_t i = 0; i < d->n_bundle; i++)
            put(o, " %s", d->media[d->bundle[i]].mid);
        put(o, "\r\n");
    }
    if (d->extmap_allow_mixed)
        put(o, "a=extmap-allow-mixed\r\n");
    if (d->msid_semantic)
        put(o, "a=msid-semantic:WMS *\r\n");
    if (d->ice_trickle)
        put(o, "a=ice-options:trickle\r\n");
    put_transport(o, d->ice_ufrag, d->ice_pwd, &d->fingerprint, d->setup);
    if (d->dir != TDM_SDP_DIR_NONE)
        put(o, "a=%s\r\n", dir_names[d->dir]);
}

static void put_candidates(struct out *o, const struct tdm_sdp *d, size_t mi)
{
    static const char *const types[] = {"host", "srflx", "prflx", "relay"};
    static const char *const tcptypes[] = {"", "active", "passive", "so"};
    for (size_t i = 0; i < d->n_cands; i++) {
        const struct tdm_sdp_candidate *c = &d->cands[i];
        if (c->media != mi)
            continue;
        put(o, "a=candidate:%s %u %s %lu %s %u typ %s", c->foundation, c->component,
            c->transport == TDM_SDP_TCP ? "tcp" : "udp", (unsigned long)c->priority, c->address,
            c->port, types[c->type]);
        if (c->tcptype != TDM_SDP_TCP_NONE)
            put(o, " tcptype %s", tcptypes[c->tcptype]);
        put(o, "\r\n");
    }
}

static void put_codecs(struct out *o, const struct tdm_sdp_media *m)
{
    static const char *const fbs[] = {"nack", "nack pli", "ccm fir", "goog-remb", "transport-cc"};
    for (size_t i = 0; i < m->n_codecs; i++) {
        const struct tdm_sdp_codec *c = &m->codecs[i];
        if (c->has_rtpmap) {
            put(o, "a=rtpmap:%u %s/%lu", c->pt, c->name, (unsigned long)c->clock);
            put(o, c->channels ? "/%u\r\n" : "\r\n", c->channels);
        }
        for (unsigned b = 0; b < 5; b++)
            if (c->fb & (1u << b))
                put(o, "a=rtcp-fb:%u %s\r\n", c->pt, fbs[b]);
        if (c->fmtp[0])
            put(o, "a=fmtp:%u %s\r\n", c->pt, c->fmtp);
    }
}

/* RFC 8853 §5.1: "a=simulcast:send a;b recv c", paused streams with "~". */
static void put_simulcast(struct out *o, const struct tdm_sdp_media *m)
{
    bool any[2] = {false, false};
    for (size_t i = 0; i < m->n_rids; i++)
        any[m->rids[i].send] |= m->rids[i].simulcast;
    if (!any[0] && !any[1])
        return;
    put(o, "a=simulcast:");
    for (int send = 1; send >= 0; send--) {
        if (!any[send])
            continue;
        put(o, "%s%s ", send || !any[1] ? "" : " ", send ? "send" : "recv");
        const char *sep = "";
        for (size_t i = 0; i < m->n_rids; i++) {
            if (m->rids[i].send != send || !m->rids[i].simulcast)
                continue;
            put(o, "%s%s%s", sep, m->rids[i].paused ? "~" : "", m->rids[i].id);
            sep = ";";
        }
    }
    put(o, "\r\n");
}

static void put_ssrcs(struct out *o, const struct tdm_sdp_media *m)
{
    static const char *const sems[] = {"FID", "SIM", "FEC-FR"};
    for (size_t i = 0; i < m->n_groups; i++) {
        put(o, "a=ssrc-group:%s", sems[m->groups[i].sem]);
        for (size_t k = 0; k < m->groups[i].n; k++)
            put(o, " %lu", (unsigned long)m->groups[i].ssrcs[k]);
        put(o, "\r\n");
    }
    for (size_t i = 0; i < m->n_ssrcs; i++) {
        unsigned long ssrc = m->ssrcs[i].ssrc;
        if (m->ssrcs[i].cname[0])
            put(o, "a=ssrc:%lu cname:%s\r\n", ssrc, m->ssrcs[i].cname);
        if (m->msid_stream[0])
            put(o, "a=ssrc:%lu msid:%s%s%s\r\n", ssrc, m->msid_stream, m->msid_track[0] ? " " : "",
                m->msid_track);
    }
}

static void put_mline(struct out *o, const struct tdm_sdp_media *m)
{
    put(o, "m=%s %u %s", m->kind == TDM_SDP_KIND_OTHER ? m->kind_name : kind_names[m->kind],
        m->port, m->proto);
    if (m->n_codecs == 0)
        put(o, " %s", m->fmt);
    for (size_t i = 0; i < m->n_codecs; i++)
        put(o, " %u", m->codecs[i].pt);
    put(o, "\r\nc=IN IP4 0.0.0.0\r\n");
    if (m->bundle_only)
        put(o, "a=bundle-only\r\n");
}

static void put_media(struct out *o, const struct tdm_sdp *d, size_t mi)
{
    const struct tdm_sdp_media *m = &d->media[mi];
    put_mline(o, m);
    put_candidates(o, d, mi);
    if (m->end_of_candidates)
        put(o, "a=end-of-candidates\r\n");
    put_transport(o, m->ice_ufrag, m->ice_pwd, &m->fingerprint, m->setup);
    if (m->mid[0])
        put(o, "a=mid:%s\r\n", m->mid);
    for (size_t i = 0; i < m->n_extmaps; i++) {
        const struct tdm_sdp_extmap *e = &m->extmaps[i];
        put(o, "a=extmap:%u%s%s %s\r\n", e->id, e->dir ? "/" : "", dir_names[e->dir], e->uri);
    }
    if (m->extmap_allow_mixed)
        put(o, "a=extmap-allow-mixed\r\n");
    if (m->dir != TDM_SDP_DIR_NONE)
        put(o, "a=%s\r\n", dir_names[m->dir]);
    if (m->msid_stream[0])
        put(o, "a=msid:%s%s%s\r\n", m->msid_stream, m->msid_track[0] ? " " : "", m->msid_track);
    if (m->rtcp_mux)
        put(o, "a=rtcp-mux\r\n");
    if (m->rtcp_rsize)
        put(o, "a=rtcp-rsize\r\n");
    put_codecs(o, m);
    for (size_t i = 0; i < m->n_rids; i++)
        put(o, "a=rid:%s %s\r\n", m->rids[i].id, m->rids[i].send ? "send" : "recv");
    put_simulcast(o, m);
    put_ssrcs(o, m);
}

int tdm_sdp_write(const struct tdm_sdp *d, char *buf, size_t cap, char *err, size_t errlen)
{
    if (!d || !buf || cap == 0)
        return tdm_seterr(err, errlen, TDM_EINVAL, "no description or buffer");
    buf[0] = '\0';
    int rc = validate(d, err, errlen);
    if (rc < 0)
        return rc;
    struct out o = {buf, cap, 0, false};
    put_session(&o, d);
    for (size_t i = 0; i < d->n_media; i++)
        put_media(&o, d, i);
    if (o.full)
        return tdm_seterr(err, errlen, TDM_ETOOBIG, "SDP does not fit in %zu bytes", cap);
    return (int)o.len;
}
