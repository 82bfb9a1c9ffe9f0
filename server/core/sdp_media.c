/* SDP parser, media level: the m= line and the attributes that describe RTP in one
 * m-section (rtpmap, fmtp, rtcp-fb, extmap, ssrc, ssrc-group, rid, simulcast, candidate). */
#include "sdp_internal.h"

static struct tdm_sdp_codec *codec_of(struct tdm_sdp_media *m, unsigned pt)
{
    for (size_t i = 0; i < m->n_codecs; i++)
        if (m->codecs[i].pt == pt)
            return &m->codecs[i];
    return NULL; /* listed but skipped over the bound */
}

static enum tdm_sdp_kind kind_of(struct tdm_sdp_tok t)
{
    if (tdm_sdp_tok_eq(t, "audio"))
        return TDM_SDP_AUDIO;
    if (tdm_sdp_tok_eq(t, "video"))
        return TDM_SDP_VIDEO;
    if (tdm_sdp_tok_eq(t, "application"))
        return TDM_SDP_APPLICATION;
    return TDM_SDP_KIND_OTHER;
}

static bool has_rtp(struct tdm_sdp_tok proto)
{
    for (size_t i = 0; i + 4 <= proto.n; i++)
        if (memcmp(proto.p + i, "RTP/", 4) == 0)
            return true;
    return false;
}

/* Payload types of an RTP m-line: 0..127 (RFC 3550 §5.1), each once. */
static int parse_fmts(struct tdm_sdp_pstate *s, struct tdm_sdp_cur *c)
{
    struct tdm_sdp_media *m = s->m;
    unsigned count = 0;
    while (tdm_sdp_space(c)) {
        struct tdm_sdp_tok f;
        uint32_t pt;
        if (!tdm_sdp_word(c, &f))
            break;
        count++;
        if (!s->rtp) {
            if (!tdm_sdp_tok_class(f, tdm_sdp_is_token) || f.n >= TDM_SDP_ID_CAP)
                return tdm_sdp_perr(s, TDM_EINVAL, "bad format token");
            if (count == 1)
                tdm_sdp_tok_copy(f, m->fmt, TDM_SDP_ID_CAP);
            continue;
        }
        if (!tdm_sdp_tok_u32(f, 127, &pt))
            return tdm_sdp_perr(s, TDM_EINVAL, "payload types are 0..127");
        if (tdm_sdp_bit(s->listed, pt))
            return tdm_sdp_perr(s, TDM_EINVAL, "payload type %u listed twice", pt);
        tdm_sdp_setbit(s->listed, pt);
        if (m->n_codecs < TDM_SDP_MAX_CODECS)
            m->codecs[m->n_codecs++].pt = (uint8_t)pt;
        else
            m->dropped++;
    }
    if (!count)
        return tdm_sdp_perr(s, TDM_EINVAL, "no formats");
    return 0;
}

/* m=<media> <port> <proto> <fmt> ... (RFC 8866 §5.14); port counts ("/2") are refused. */
int tdm_sdp_parse_mline(struct tdm_sdp_pstate *s, struct tdm_sdp_cur *c)
{
    int rc = tdm_sdp_end_media(s);
    if (rc < 0)
        return rc;
    if (s->d->n_media >= TDM_SDP_MAX_MEDIA)
        return tdm_sdp_perr(s, TDM_ETOOBIG, "more than %d m-lines", TDM_SDP_MAX_MEDIA);
    struct tdm_sdp_media *m = &s->d->media[s->d->n_media++];
    s->m = m;
    memset(s->listed, 0, sizeof s->listed);
    memset(s->rtpmapped, 0, sizeof s->rtpmapped);
    memset(s->fmtped, 0, sizeof s->fmtped);
    memset(s->ext_ids, 0, sizeof s->ext_ids);
    s->msid_from_attr = false;
    s->sim.p = NULL;
    m->line = (uint16_t)(s->ln.no > UINT16_MAX ? UINT16_MAX : s->ln.no);

    struct tdm_sdp_tok kind, port, proto;
    uint32_t portv;
    if (!tdm_sdp_word(c, &kind) || !tdm_sdp_space(c) || !tdm_sdp_word(c, &port) ||
        !tdm_sdp_space(c) || !tdm_sdp_word(c, &proto))
        return tdm_sdp_perr(s, TDM_EINVAL, "want m=<media> <port> <proto> <fmt>...");
    m->kind = kind_of(kind);
    if (m->kind == TDM_SDP_KIND_OTHER && (!tdm_sdp_tok_class(kind, tdm_sdp_is_token) ||
                                          !tdm_sdp_tok_copy(kind, m->kind_name, TDM_SDP_NAME_CAP)))
        return tdm_sdp_perr(s, TDM_EINVAL, "bad media type");
    if (!tdm_sdp_tok_u32(port, 65535, &portv))
        return tdm_sdp_perr(s, TDM_EINVAL, "bad port (port counts are not supported)");
    m->port = (uint16_t)portv;
    if (!tdm_sdp_tok_class(proto, tdm_sdp_is_vis) ||
        !tdm_sdp_tok_copy(proto, m->proto, TDM_SDP_PROTO_CAP))
        return tdm_sdp_perr(s, TDM_EINVAL, "proto longer than %d", TDM_SDP_PROTO_CAP - 1);
    s->rtp = has_rtp(proto);
    return parse_fmts(s, c);
}

/* The pt that starts rtpmap/fmtp/rtcp-fb values must be on the m= line (RFC 8866 §6.6). */
static int listed_pt(struct tdm_sdp_pstate *s, struct tdm_sdp_cur *v, uint32_t *pt)
{
    struct tdm_sdp_tok t;
    if (!s->rtp)
        return tdm_sdp_perr(s, TDM_EINVAL, "RTP attribute on a non-RTP m-line");
    if (!tdm_sdp_word(v, &t) || !tdm_sdp_tok_u32(t, 127, pt))
        return tdm_sdp_perr(s, TDM_EINVAL, "want a payload type 0..127");
    if (!tdm_sdp_bit(s->listed, *pt))
        return tdm_sdp_perr(s, TDM_EINVAL, "payload type %u is not in the m= line", *pt);
    return 0;
}

static bool is_encname(unsigned char ch)
{
    return tdm_sdp_is_alnum(ch) || ch == '-' || ch == '_' || ch == '.';
}

/* a=rtpmap:<pt> <encoding>/<clock>[/<channels>] (RFC 8866 §6.6) */
int tdm_sdp_a_rtpmap(struct tdm_sdp_pstate *s, struct tdm_sdp_cur *v)
{
    uint32_t pt, clock, ch = 0;
    int rc = listed_pt(s, v, &pt);
    if (rc < 0)
        return rc;
    if (tdm_sdp_bit(s->rtpmapped, pt))
        return tdm_sdp_perr(s, TDM_EINVAL, "a second rtpmap for payload type %u", pt);
    tdm_sdp_setbit(s->rtpmapped, pt);
    tdm_sdp_space(v);
    struct tdm_sdp_tok name = tdm_sdp_until(v, '/'), ct, cht = {0};
    bool ok = name.n && tdm_sdp_tok_class(name, is_encname) && tdm_sdp_char(v, '/');
    ct = tdm_sdp_until(v, '/');
    if (ok && tdm_sdp_char(v, '/'))
        ok = tdm_sdp_word(v, &cht) && tdm_sdp_tok_u32(cht, 255, &ch) && ch > 0;
    if (!ok || !tdm_sdp_tok_u32(ct, UINT32_MAX, &clock) || !clock || !tdm_sdp_end(v))
        return tdm_sdp_perr(s, TDM_EINVAL, "want <pt> <name>/<clock>[/<channels>]");
    struct tdm_sdp_codec *c = codec_of(s->m, pt);
    if (!c)
        return 0;
    if (!tdm_sdp_tok_copy(name, c->name, TDM_SDP_NAME_CAP))
        return tdm_sdp_perr(s, TDM_EINVAL, "encoding name too long");
    c->has_rtpmap = true;
    c->clock = clock;
    c->channels = (uint8_t)ch;
    return 0;
}

int tdm_sdp_a_fmtp(struct tdm_sdp_pstate *s, struct tdm_sdp_cur *v)
{
    uint32_t pt;
    int rc = listed_pt(s, v, &pt);
    if (rc < 0)
        return rc;
    if (tdm_sdp_bit(s->fmtped, pt))
        return tdm_sdp_perr(s, TDM_EINVAL, "a second fmtp for payload type %u", pt);
    tdm_sdp_setbit(s->fmtped, pt);
    struct tdm_sdp_tok t = tdm_sdp_rest(v);
    for (size_t i = 0; i < t.n; i++)
        if (t.p[i] != ' ' && !tdm_sdp_is_vis((unsigned char)t.p[i]))
            return tdm_sdp_perr(s, TDM_EINVAL, "fmtp is visible ASCII and spaces");
    struct tdm_sdp_codec *c = codec_of(s->m, pt);
    if (c && !tdm_sdp_tok_copy(t, c->fmtp, TDM_SDP_FMTP_CAP))
        c->fmtp_too_long = true; /* kept, never chosen: we cannot judge what we did not read */
    return 0;
}

static uint16_t fb_bit(struct tdm_sdp_tok type, struct tdm_sdp_tok param)
{
    if (tdm_sdp_tok_eq(type, "nack"))
        return param.n == 0                   ? TDM_SDP_FB_NACK
               : tdm_sdp_tok_eq(param, "pli") ? TDM_SDP_FB_NACK_PLI
                                              : 0;
    if (tdm_sdp_tok_eq(type, "ccm"))
        return tdm_sdp_tok_eq(param, "fir") ? TDM_SDP_FB_CCM_FIR : 0;
    if (param.n)
        return 0;
    if (tdm_sdp_tok_eq(type, "goog-remb"))
        return TDM_SDP_FB_GOOG_REMB;
    if (tdm_sdp_tok_eq(type, "transport-cc"))
        return TDM_SDP_FB_TRANSPORT_CC;
    return 0;
}

/* a=rtcp-fb:<pt|*> <type> [<param>] (RFC 4585 §4.2) */
int tdm_sdp_a_rtcp_fb(struct tdm_sdp_pstate *s, struct tdm_sdp_cur *v)
{
    uint32_t pt = 0;
    bool all = v->i < v->n && v->p[v->i] == '*';
    if (all) {
        v->i++;
        if (!s->rtp)
            return tdm_sdp_perr(s, TDM_EINVAL, "RTP attribute on a non-RTP m-line");
    } else {
        int rc = listed_pt(s, v, &pt);
        if (rc < 0)
            return rc;
    }
    struct tdm_sdp_tok type, param = {0};
    if (!tdm_sdp_space(v) || !tdm_sdp_word(v, &type))
        return tdm_sdp_perr(s, TDM_EINVAL, "want <pt> <type> [<param>]");
    if (tdm_sdp_space(v))
        param = tdm_sdp_rest(v);
    uint16_t bit = fb_bit(type, param);
    for (size_t i = 0; i < s->m->n_codecs; i++)
        if (all || s->m->codecs[i].pt == pt)
            s->m->codecs[i].fb |= bit;
    return 0;
}

static bool parse_dir(struct tdm_sdp_tok t, enum tdm_sdp_dir *dir)
{
    static const char *const names[] = {"", "sendrecv", "sendonly", "recvonly", "inactive"};
    for (int i = 1; i < 5; i++) {
        if (tdm_sdp_tok_eq(t, names[i])) {
            *dir = (enum tdm_sdp_dir)i;
            return true;
        }
    }
    return false;
}

/* a=extmap:<id>[/<direction>] <uri> [<attributes>] (RFC 8285 §8) */
int tdm_sdp_a_extmap(struct tdm_sdp_pstate *s, struct tdm_sdp_cur *v)
{
    struct tdm_sdp_media *m = s->m;
    if (!m)
        return 0; /* session level (RFC 8285 §8) is legal but no browser uses it: ignored */
    struct tdm_sdp_tok idt = tdm_sdp_until(v, '/'), uri;
    enum tdm_sdp_dir dir = TDM_SDP_DIR_NONE;
    uint32_t id;
    if (tdm_sdp_char(v, '/') && !parse_dir(tdm_sdp_until(v, ' '), &dir))
        return tdm_sdp_perr(s, TDM_EINVAL, "bad extmap direction");
    if (!tdm_sdp_space(v) || !tdm_sdp_word(v, &uri) || !tdm_sdp_tok_u32(idt, 255, &id))
        return tdm_sdp_perr(s, TDM_EINVAL, "want <id>[/<direction>] <uri>");
    if (!tdm_sdp_tok_class(uri, tdm_sdp_is_vis))
        return tdm_sdp_perr(s, TDM_EINVAL, "extmap URI is visible ASCII (RFC 3986)");
    /* §5: 1..14 in one-byte headers, up to 255 in two-byte; 15 is reserved. */
    if (id == 0 || id == 15)
        return tdm_sdp_perr(s, TDM_EINVAL, "extmap id %u is reserved", id);
    if (tdm_sdp_bit(s->ext_ids, id))
        return tdm_sdp_perr(s, TDM_EINVAL, "extmap id %u used twice", id);
    tdm_sdp_setbit(s->ext_ids, id);
    if (m->n_extmaps >= TDM_SDP_MAX_EXTMAPS || uri.n >= TDM_SDP_URI_CAP) {
        m->dropped++;
        return 0;
    }
    struct tdm_sdp_extmap *e = &m->extmaps[m->n_extmaps++];
    e->id = (uint16_t)id;
    e->dir = dir;
    tdm_sdp_tok_copy(uri, e->uri, TDM_SDP_URI_CAP);
    return 0;
}

static struct tdm_sdp_ssrc *ssrc_entry(struct tdm_sdp_media *m, uint32_t ssrc, bool add)
{
    for (size_t i = 0; i < m->n_ssrcs; i++)
        if (m->ssrcs[i].ssrc == ssrc)
            return &m->ssrcs[i];
    if (!add || m->n_ssrcs >= TDM_SDP_MAX_SSRCS)
        return NULL;
    m->ssrcs[m->n_ssrcs].ssrc = ssrc;
    return &m->ssrcs[m->n_ssrcs++];
}

/* Shared with sdp_check.c: SSRCs named only in a group get an entry too. */
int tdm_sdp_add_ssrc(struct tdm_sdp_media *m, uint32_t ssrc)
{
    return ssrc_entry(m, ssrc, true) ? 0 : TDM_ETOOBIG;
}

/* a=ssrc:<ssrc> <attribute>[:<value>] (RFC 5576 §4.1) */
int tdm_sdp_a_ssrc(struct tdm_sdp_pstate *s, struct tdm_sdp_cur *v)
{
    struct tdm_sdp_tok idt, name, val;
    uint32_t ssrc;
    if (!tdm_sdp_word(v, &idt) || !tdm_sdp_tok_u32(idt, UINT32_MAX, &ssrc) || !tdm_sdp_space(v))
        return tdm_sdp_perr(s, TDM_EINVAL, "want <ssrc> <attribute>[:<value>]");
    name = tdm_sdp_until(v, ':');
    if (!name.n)
        return tdm_sdp_perr(s, TDM_EINVAL, "want <ssrc> <attribute>[:<value>]");
    tdm_sdp_char(v, ':');
    val = (struct tdm_sdp_tok){v->p + v->i, v->n - v->i};
    struct tdm_sdp_ssrc *e = ssrc_entry(s->m, ssrc, true);
    if (!e)
        return tdm_sdp_perr(s, TDM_ETOOBIG, "more than %d SSRCs", TDM_SDP_MAX_SSRCS);
    if (tdm_sdp_tok_eq(name, "cname")) {
        if (!val.n || !tdm_sdp_tok_class(val, tdm_sdp_is_vis) || val.n >= TDM_SDP_ID_CAP)
            return tdm_sdp_perr(s, TDM_EINVAL, "cname must be 1..%d visible chars",
                                TDM_SDP_ID_CAP - 1);
        if (e->cname[0] && !tdm_sdp_tok_eq(val, e->cname))
            return tdm_sdp_perr(s, TDM_EINVAL, "two cnames for ssrc %u", ssrc);
        tdm_sdp_tok_copy(val, e->cname, TDM_SDP_ID_CAP);
    } else if (tdm_sdp_tok_eq(name, "msid") && !s->msid_from_attr && !s->m->msid_stream[0]) {
        struct tdm_sdp_cur mc = {val.p, val.n, 0};
        return tdm_sdp_parse_msid_pair(s, &mc, s->m->msid_stream, s->m->msid_track);
    }
    return 0;
}

/* a=ssrc-group:<semantics> <ssrc>... (RFC 5576 §4.2; FID RFC 4588, SIM, FEC-FR RFC 5956) */
int tdm_sdp_a_ssrc_group(struct tdm_sdp_pstate *s, struct tdm_sdp_cur *v)
{
    struct tdm_sdp_media *m = s->m;
    struct tdm_sdp_tok sem, t;
    struct tdm_sdp_ssrc_group g = {0};
    if (!tdm_sdp_word(v, &sem))
        return tdm_sdp_perr(s, TDM_EINVAL, "want <semantics> <ssrc>...");
    if (tdm_sdp_tok_eq(sem, "FID"))
        g.sem = TDM_SDP_GROUP_FID;
    else if (tdm_sdp_tok_eq(sem, "SIM"))
        g.sem = TDM_SDP_GROUP_SIM;
    else if (tdm_sdp_tok_eq(sem, "FEC-FR"))
        g.sem = TDM_SDP_GROUP_FEC_FR;
    else
        return 0;
    while (tdm_sdp_space(v) && tdm_sdp_word(v, &t)) {
        if (g.n >= TDM_SDP_MAX_GROUP_SSRCS || !tdm_sdp_tok_u32(t, UINT32_MAX, &g.ssrcs[g.n]))
            return tdm_sdp_perr(s, TDM_EINVAL, "want 1..%d SSRCs", TDM_SDP_MAX_GROUP_SSRCS);
        g.n++;
    }
    if (!tdm_sdp_end(v) || !g.n || (g.sem != TDM_SDP_GROUP_SIM && g.n != 2))
        return tdm_sdp_perr(s, TDM_EINVAL, "FID and FEC-FR pair 2 SSRCs, SIM 1..%d",
                            TDM_SDP_MAX_GROUP_SSRCS);
    if (m->n_groups >= TDM_SDP_MAX_GROUPS)
        return tdm_sdp_perr(s, TDM_ETOOBIG, "more than %d ssrc-groups", TDM_SDP_MAX_GROUPS);
    m->groups[m->n_groups++] = g;
    return 0;
}

/* a=rid:<rid-id> <send|recv> [<restrictions>] (RFC 8851 §10) */
int tdm_sdp_a_rid(struct tdm_sdp_pstate *s, struct tdm_sdp_cur *v)
{
    struct tdm_sdp_media *m = s->m;
    struct tdm_sdp_tok id, dir;
    if (!tdm_sdp_word(v, &id) || !tdm_sdp_space(v) || !tdm_sdp_word(v, &dir) ||
        !(tdm_sdp_tok_eq(dir, "send") || tdm_sdp_tok_eq(dir, "recv")))
        return tdm_sdp_perr(s, TDM_EINVAL, "want <rid> send|recv");
    if (id.n >= TDM_SDP_RID_CAP || !tdm_sdp_tok_class(id, tdm_sdp_is_rid))
        return tdm_sdp_perr(s, TDM_EINVAL, "rid must be 1..%d of [A-Za-z0-9_-]",
                            TDM_SDP_RID_CAP - 1);
    for (size_t i = 0; i < m->n_rids; i++)
        if (tdm_sdp_tok_eq(id, m->rids[i].id))
            return tdm_sdp_perr(s, TDM_EINVAL, "rid declared twice");
    if (m->n_rids >= TDM_SDP_MAX_RIDS) {
        m->dropped++;
        return 0;
    }
    struct tdm_sdp_rid *r = &m->rids[m->n_rids++];
    tdm_sdp_tok_copy(id, r->id, TDM_SDP_RID_CAP);
    r->send = tdm_sdp_tok_eq(dir, "send");
    return 0;
}

/* Checked when the m-section ends: the rids it names may be declared after it. */
int tdm_sdp_a_simulcast(struct tdm_sdp_pstate *s, struct tdm_sdp_cur *v)
{
    if (s->sim.p)
        return tdm_sdp_perr(s, TDM_EINVAL, "a second a=simulcast");
    s->sim = tdm_sdp_rest(v);
    s->sim_line = s->ln;
    return 0;
}

static bool cand_type(struct tdm_sdp_tok t, enum tdm_sdp_cand_type *type)
{
    static const char *const names[] = {"host", "srflx", "prflx", "relay"};
    for (int i = 0; i < 4; i++) {
        if (tdm_sdp_tok_eq(t, names[i])) {
            *type = (enum tdm_sdp_cand_type)i;
            return true;
        }
    }
    return false;
}

/* After "typ <type>": name/value pairs (raddr, rport, tcptype, generation, ...). */
static int cand_extensions(struct tdm_sdp_pstate *s, struct tdm_sdp_cur *v,
                           struct tdm_sdp_candidate *cd)
{
    struct tdm_sdp_tok name, val;
    while (tdm_sdp_space(v) && tdm_sdp_word(v, &name)) {
        if (!tdm_sdp_space(v) || !tdm_sdp_word(v, &val))
            return tdm_sdp_perr(s, TDM_EINVAL, "candidate extension without a value");
        if (!tdm_sdp_tok_eq(name, "tcptype"))
            continue;
        if (tdm_sdp_tok_eq(val, "active"))
            cd->tcptype = TDM_SDP_TCP_ACTIVE;
        else if (tdm_sdp_tok_eq(val, "passive"))
            cd->tcptype = TDM_SDP_TCP_PASSIVE;
        else if (tdm_sdp_tok_eq(val, "so"))
            cd->tcptype = TDM_SDP_TCP_SO;
        else
            return tdm_sdp_perr(s, TDM_EINVAL, "tcptype is active, passive or so");
    }
    return 0;
}

/* a=candidate:<foundation> <component> <transport> <priority> <address> <port> typ <type>
 * [raddr <a>] [rport <p>] *(<name> <value>) (RFC 8839 §5.1, RFC 6544 §4.5 for tcptype).
 * Transports other than UDP and TCP are skipped. */
int tdm_sdp_a_candidate(struct tdm_sdp_pstate *s, struct tdm_sdp_cur *v)
{
    struct tdm_sdp_tok f, comp, tr, prio, addr, port, typ, type;
    struct tdm_sdp_candidate cd = {.media = (uint8_t)(s->d->n_media - 1)};
    uint32_t compv, portv;
    if (!tdm_sdp_word(v, &f) || !tdm_sdp_space(v) || !tdm_sdp_word(v, &comp) || !tdm_sdp_space(v) ||
        !tdm_sdp_word(v, &tr) || !tdm_sdp_space(v) || !tdm_sdp_word(v, &prio) ||
        !tdm_sdp_space(v) || !tdm_sdp_word(v, &addr) || !tdm_sdp_space(v) ||
        !tdm_sdp_word(v, &port) || !tdm_sdp_space(v) || !tdm_sdp_word(v, &typ) ||
        !tdm_sdp_space(v) || !tdm_sdp_word(v, &type) || !tdm_sdp_tok_eq(typ, "typ"))
        return tdm_sdp_perr(s, TDM_EINVAL,
                            "want <foundation> <component> <transport> "
                            "<priority> <address> <port> typ <type>");
    if (!tdm_sdp_tok_class(f, tdm_sdp_is_ice) ||
        !tdm_sdp_tok_copy(f, cd.foundation, TDM_SDP_FOUNDATION_CAP))
        return tdm_sdp_perr(s, TDM_EINVAL, "foundation is 1..32 ice-chars");
    if (!tdm_sdp_tok_u32(comp, 256, &compv) || !compv || !tdm_sdp_tok_u32(port, 65535, &portv) ||
        !tdm_sdp_tok_u32(prio, UINT32_MAX, &cd.priority) || !cand_type(type, &cd.type) ||
        !tdm_sdp_tok_class(addr, tdm_sdp_is_addr))
        return tdm_sdp_perr(s, TDM_EINVAL, "bad component, priority, address, port or type");
    cd.component = (uint16_t)compv;
    cd.port = (uint16_t)portv;
    int rc = cand_extensions(s, v, &cd);
    if (rc < 0)
        return rc;
    bool udp = tdm_sdp_tok_ieq(tr, "udp"), tcp = tdm_sdp_tok_ieq(tr, "tcp");
    if ((!udp && !tcp) || s->d->n_cands >= TDM_SDP_MAX_CANDIDATES ||
        !tdm_sdp_tok_copy(addr, cd.address, TDM_SDP_ADDR_CAP)) {
        s->d->cands_dropped++;
        return 0;
    }
    cd.transport = udp ? TDM_SDP_UDP : TDM_SDP_TCP;
    s->d->cands[s->d->n_cands++] = cd;
    return 0;
}
