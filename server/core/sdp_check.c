/* SDP parser, checks across lines: what one line cannot tell (rtpmap coverage, rtx apt,
 * simulcast rids, unique mids, the BUNDLE group, one set of transport credentials). */
#include "sdp_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

/* Error naming an m-section: "m-line N (line L, mid M): <message>". */
__attribute__((format(printf, 4, 5))) static int merr(struct tdm_sdp_pstate *s, size_t i, int code,
                                                      const char *fmt, ...)
{
    char msg[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const struct tdm_sdp_media *m = &s->d->media[i];
    return tdm_seterr(s->err, s->errlen, code, "m-line %zu (line %u, mid \"%s\"): %s", i + 1,
                      m->line, m->mid, msg);
}

static size_t media_index(const struct tdm_sdp_pstate *s)
{
    return (size_t)(s->m - s->d->media);
}

/* Dynamic payload types need an rtpmap (RFC 8866 §6.6); 0..34 are static (RFC 3551 §6). RTX
 * must name a listed payload type (RFC 4588 §8.6). */
static int check_codecs(struct tdm_sdp_pstate *s)
{
    struct tdm_sdp_media *m = s->m;
    for (size_t i = 0; i < m->n_codecs; i++) {
        const struct tdm_sdp_codec *c = &m->codecs[i];
        char apt[8];
        if (!c->has_rtpmap && c->pt >= 35)
            return merr(s, media_index(s), TDM_EINVAL, "payload type %u has no a=rtpmap", c->pt);
        if (!c->has_rtpmap || strcasecmp(c->name, "rtx") != 0)
            continue;
        if (c->fmtp_too_long) /* apt unreadable: refuse rather than guess */
            return merr(s, media_index(s), TDM_EINVAL, "rtx payload type %u: fmtp too long", c->pt);
        int n = tdm_sdp_fmtp_param(c->fmtp, "apt", apt, sizeof apt);
        char *end = NULL;
        long v = n > 0 ? strtol(apt, &end, 10) : -1;
        if (n <= 0 || *end || v < 0 || v > 127 || !tdm_sdp_bit(s->listed, (unsigned)v))
            return merr(s, media_index(s), TDM_EINVAL,
                        "rtx payload type %u: apt names no listed "
                        "payload type",
                        c->pt);
    }
    return 0;
}

static struct tdm_sdp_rid *find_rid(struct tdm_sdp_media *m, struct tdm_sdp_tok id, bool send)
{
    for (size_t i = 0; i < m->n_rids; i++)
        if (m->rids[i].send == send && tdm_sdp_tok_eq(id, m->rids[i].id))
            return &m->rids[i];
    return NULL;
}

/* One direction's list: alternatives "," inside streams ";" (RFC 8853 §5.1), "~" = paused. */
static int sim_list(struct tdm_sdp_pstate *s, struct tdm_sdp_tok list, bool send)
{
    if (list.n >= 4 && memcmp(list.p, "rid=", 4) == 0) { /* draft syntax, older Firefox */
        list.p += 4;
        list.n -= 4;
    }
    size_t i = 0;
    while (i <= list.n) {
        size_t j = i;
        while (j < list.n && list.p[j] != ';' && list.p[j] != ',')
            j++;
        struct tdm_sdp_tok id = {list.p + i, j - i};
        bool paused = id.n && id.p[0] == '~';
        if (paused) {
            id.p++;
            id.n--;
        }
        struct tdm_sdp_rid *r = id.n ? find_rid(s->m, id, send) : NULL;
        if (!r)
            return tdm_sdp_perr(s, TDM_EINVAL, "simulcast names a rid with no a=rid:<id> %s",
                                send ? "send" : "recv");
        r->simulcast = true;
        r->paused = paused;
        i = j + 1;
    }
    return 0;
}

static int check_simulcast(struct tdm_sdp_pstate *s)
{
    struct tdm_sdp_cur c = {s->sim.p, s->sim.n, 0};
    bool seen[2] = {false, false};
    s->ln = s->sim_line;
    while (!tdm_sdp_end(&c)) {
        struct tdm_sdp_tok dir, list;
        if (!tdm_sdp_word(&c, &dir) || !tdm_sdp_space(&c) || !tdm_sdp_word(&c, &list))
            return tdm_sdp_perr(s, TDM_EINVAL, "want send|recv <rid-list>");
        bool send = tdm_sdp_tok_eq(dir, "send");
        if ((!send && !tdm_sdp_tok_eq(dir, "recv")) || seen[send])
            return tdm_sdp_perr(s, TDM_EINVAL, "want one send and at most one recv list");
        seen[send] = true;
        int rc = sim_list(s, list, send);
        if (rc < 0)
            return rc;
        tdm_sdp_space(&c);
    }
    if (!seen[0] && !seen[1])
        return tdm_sdp_perr(s, TDM_EINVAL, "empty a=simulcast");
    return 0;
}

int tdm_sdp_end_media(struct tdm_sdp_pstate *s)
{
    struct tdm_sdp_media *m = s->m;
    if (!m)
        return 0;
    /* RFC 8843 §6: port 0 with bundle-only is bundled, not rejected. */
    m->rejected = m->port == 0 && !m->bundle_only;
    if (!m->rejected && s->rtp) {
        int rc = check_codecs(s);
        if (rc < 0)
            return rc;
    }
    for (size_t g = 0; g < m->n_groups; g++)
        for (size_t k = 0; k < m->groups[g].n; k++)
            if (tdm_sdp_add_ssrc(m, m->groups[g].ssrcs[k]) < 0)
                return merr(s, media_index(s), TDM_ETOOBIG, "more than %d SSRCs",
                            TDM_SDP_MAX_SSRCS);
    if (s->sim.p) {
        int rc = check_simulcast(s);
        if (rc < 0)
            return rc;
    }
    s->m = NULL;
    return 0;
}

static int check_mids(struct tdm_sdp_pstate *s)
{
    const struct tdm_sdp *d = s->d;
    for (size_t i = 0; i < d->n_media; i++) {
        if (!d->media[i].mid[0]) {
            if (d->media[i].rejected)
                continue;
            return merr(s, i, TDM_EINVAL, "no a=mid (needed for BUNDLE, RFC 8843 §9.2)");
        }
        for (size_t k = 0; k < i; k++)
            if (strcmp(d->media[i].mid, d->media[k].mid) == 0)
                return merr(s, i, TDM_EINVAL, "mid also used by m-line %zu", k + 1);
    }
    return 0;
}

static int resolve_bundle(struct tdm_sdp_pstate *s)
{
    struct tdm_sdp *d = s->d;
    struct tdm_sdp_cur c = {s->bundle.p, s->bundle.n, 0};
    struct tdm_sdp_tok t;
    uint8_t in[TDM_SDP_MAX_MEDIA / 8] = {0};
    s->ln = s->bundle_line;
    while (s->bundle.p && tdm_sdp_word(&c, &t)) {
        size_t i = 0;
        while (i < d->n_media && !tdm_sdp_tok_eq(t, d->media[i].mid))
            i++;
        if (i == d->n_media)
            return tdm_sdp_perr(s, TDM_EINVAL, "BUNDLE names unknown mid \"%.*s\"",
                                (int)(t.n > 32 ? 32 : t.n), t.p);
        if (d->media[i].rejected)
            return tdm_sdp_perr(s, TDM_EINVAL, "BUNDLE names rejected m-line %zu", i + 1);
        if (tdm_sdp_bit(in, (unsigned)i))
            return tdm_sdp_perr(s, TDM_EINVAL, "BUNDLE names mid \"%s\" twice", d->media[i].mid);
        tdm_sdp_setbit(in, (unsigned)i);
        d->bundle[d->n_bundle++] = (uint8_t)i;
        tdm_sdp_space(&c);
    }
    /* One transport for everything: an active m-line outside the group would need its own. */
    for (size_t i = 0; i < d->n_media; i++)
        if (!d->media[i].rejected && !tdm_sdp_bit(in, (unsigned)i))
            return merr(s, i, TDM_EINVAL,
                        s->bundle.p ? "active but not in the BUNDLE group"
                                    : "active but there is no BUNDLE group");
    return 0;
}

static bool same_fp(const struct tdm_sdp_fingerprint *a, const struct tdm_sdp_fingerprint *b)
{
    return a->hash == b->hash && a->len == b->len && memcmp(a->value, b->value, a->len) == 0;
}

/* The BUNDLE tag carries the transport's credentials (RFC 8843 §8, RFC 8839 §5.4, RFC 8122);
 * other bundled m-sections may repeat them but must not differ. */
static int check_credentials(struct tdm_sdp_pstate *s)
{
    const struct tdm_sdp *d = s->d;
    if (!d->n_bundle)
        return 0;
    size_t tag = d->bundle[0];
    if (!tdm_sdp_media_ufrag(d, tag)[0] || !tdm_sdp_media_pwd(d, tag)[0])
        return merr(s, tag, TDM_EINVAL, "no ice-ufrag/ice-pwd at media or session level");
    if (tdm_sdp_media_fingerprint(d, tag)->hash == TDM_SDP_HASH_NONE)
        return merr(s, tag, TDM_EINVAL, "no usable a=fingerprint at media or session level");
    for (size_t b = 1; b < d->n_bundle; b++) {
        size_t i = d->bundle[b];
        const struct tdm_sdp_media *m = &d->media[i];
        if ((m->ice_ufrag[0] && strcmp(m->ice_ufrag, tdm_sdp_media_ufrag(d, tag)) != 0) ||
            (m->ice_pwd[0] && strcmp(m->ice_pwd, tdm_sdp_media_pwd(d, tag)) != 0))
            return merr(s, i, TDM_EINVAL, "ICE credentials differ from the BUNDLE tag's");
        if (m->fingerprint.hash != TDM_SDP_HASH_NONE &&
            !same_fp(&m->fingerprint, tdm_sdp_media_fingerprint(d, tag)))
            return merr(s, i, TDM_EINVAL, "fingerprint differs from the BUNDLE tag's");
    }
    return 0;
}

/* One RTP session for the whole group (RFC 8843 §9.1): a payload type names one codec and an
 * extmap id one URI in every bundled m-section. Chromium refuses a "collision" otherwise. */
static int check_bundle_maps(struct tdm_sdp_pstate *s)
{
    const struct tdm_sdp *d = s->d;
    const struct tdm_sdp_codec *pt_owner[128] = {0};
    const struct tdm_sdp_extmap *ext_owner[256] = {0};
    uint8_t pt_mid[128], ext_mid[256];
    for (size_t b = 0; b < d->n_bundle; b++) {
        size_t i = d->bundle[b];
        const struct tdm_sdp_media *m = &d->media[i];
        for (size_t k = 0; k < m->n_codecs; k++) {
            const struct tdm_sdp_codec *c = &m->codecs[k], *o = pt_owner[c->pt & 127];
            if (!c->has_rtpmap)
                continue;
            if (!o) {
                pt_owner[c->pt & 127] = c;
                pt_mid[c->pt & 127] = (uint8_t)i;
            } else if (strcasecmp(o->name, c->name) != 0 || o->clock != c->clock ||
                       o->channels != c->channels) {
                return merr(s, i, TDM_EINVAL, "payload type %u is %s here, %s in mid \"%s\"", c->pt,
                            c->name, o->name, d->media[pt_mid[c->pt & 127]].mid);
            }
        }
        for (size_t k = 0; k < m->n_extmaps; k++) {
            const struct tdm_sdp_extmap *e = &m->extmaps[k], *o = ext_owner[e->id & 255];
            if (!o) {
                ext_owner[e->id & 255] = e;
                ext_mid[e->id & 255] = (uint8_t)i;
            } else if (strcmp(o->uri, e->uri) != 0) {
                return merr(s, i, TDM_EINVAL, "extmap id %u names another URI in mid \"%s\"", e->id,
                            d->media[ext_mid[e->id & 255]].mid);
            }
        }
    }
    return 0;
}

int tdm_sdp_check(struct tdm_sdp_pstate *s)
{
    int rc = check_mids(s);
    if (rc == 0)
        rc = resolve_bundle(s);
    if (rc == 0)
        rc = check_credentials(s);
    if (rc == 0)
        rc = check_bundle_maps(s);
    return rc;
}
