/* SDP parser: RFC 8866 syntax read line by line through a bounded cursor into the fixed-size
 * model of tandem/sdp.h. Attribute grammars: RFC 8839 (ICE), RFC 8122 (fingerprint), RFC 4145
 * (setup), RFC 8843 (BUNDLE), RFC 8285 (extmap), RFC 5576 (ssrc), RFC 8830 (msid), RFC 8851
 * and 8853 (rid, simulcast), RFC 4585 (rtcp-fb). Checks across lines are in sdp_check.c. */
#include "sdp_internal.h"
#include "tandem/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

int tdm_sdp_perr(struct tdm_sdp_pstate *s, int code, const char *fmt, ...)
{
    char msg[160], snip[52];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    size_t k = 0;
    for (size_t i = 0; i < s->ln.n && k < 48; i++) {
        unsigned char ch = (unsigned char)s->ln.p[i];
        snip[k++] = (ch >= 0x20 && ch < 0x7f && ch != '"') ? (char)ch : '?';
    }
    snip[k] = '\0';
    return tdm_seterr(s->err, s->errlen, code, "line %u \"%s%s\": %s", s->ln.no, snip,
                      s->ln.n > 48 ? "..." : "", msg);
}

/* ---- attribute handlers: session and media level ---------------------------------------- */

static int set_ice(struct tdm_sdp_pstate *s, struct tdm_sdp_cur *v, char *dst, size_t min)
{
    struct tdm_sdp_tok t = tdm_sdp_rest(v);
    if (dst[0])
        return tdm_sdp_perr(s, TDM_EINVAL, "given twice");
    /* RFC 8839 §5.4: ice-char only, ufrag 4..256, pwd 22..256. */
    if (t.n < min || !tdm_sdp_tok_class(t, tdm_sdp_is_ice) ||
        !tdm_sdp_tok_copy(t, dst, TDM_SDP_ICE_CAP))
        return tdm_sdp_perr(s, TDM_EINVAL, "want %zu..256 ice-chars", min);
    return 0;
}

static int a_ufrag(struct tdm_sdp_pstate *s, struct tdm_sdp_cur *v)
{
    return set_ice(s, v, s->m ? s->m->ice_ufrag : s->d->ice_ufrag, 4);
}

static int a_pwd(struct tdm_sdp_pstate *s, struct tdm_sdp_cur *v)
{
    return set_ice(s, v, s->m ? s->m->ice_pwd : s->d->ice_pwd, 22);
}

static const struct {
    const char *name;
    enum tdm_sdp_hash hash;
    uint8_t len;
} hashes[] = {{"sha-1", TDM_SDP_SHA1, 20},
              {"sha-224", TDM_SDP_SHA224, 28},
              {"sha-256", TDM_SDP_SHA256, 32},
              {"sha-384", TDM_SDP_SHA384, 48},
              {"sha-512", TDM_SDP_SHA512, 64}};

/* RFC 8122 §5: hash-func SP fingerprint (upper-case hex pairs joined by ':'; lower accepted). */
static int a_fingerprint(struct tdm_sdp_pstate *s, struct tdm_sdp_cur *v)
{
    struct tdm_sdp_fingerprint *fp = s->m ? &s->m->fingerprint : &s->d->fingerprint;
    struct tdm_sdp_tok name, hex;
    if (!tdm_sdp_word(v, &name) || !tdm_sdp_space(v) || !tdm_sdp_word(v, &hex) || !tdm_sdp_end(v))
        return tdm_sdp_perr(s, TDM_EINVAL, "want <hash> <hex:hex:...>");
    size_t h = 0;
    while (h < sizeof hashes / sizeof hashes[0] && !tdm_sdp_tok_ieq(name, hashes[h].name))
        h++;
    if (h == sizeof hashes / sizeof hashes[0])
        return 0; /* an unknown hash is ignored; a missing usable one is caught later */
    if (hex.n != (size_t)hashes[h].len * 3 - 1)
        return tdm_sdp_perr(s, TDM_EINVAL, "%s wants %u bytes", hashes[h].name, hashes[h].len);
    struct tdm_sdp_fingerprint f = {.hash = hashes[h].hash, .len = hashes[h].len};
    for (size_t i = 0; i < f.len; i++) {
        int hi = tdm_hexval(hex.p[3 * i]), lo = tdm_hexval(hex.p[3 * i + 1]);
        if (hi < 0 || lo < 0 || (i + 1 < f.len && hex.p[3 * i + 2] != ':'))
            return tdm_sdp_perr(s, TDM_EINVAL, "bad hex in fingerprint");
        f.value[i] = (uint8_t)(hi << 4 | lo);
    }
    /* Several fingerprints may be given (RFC 8122 §5); keep sha-256, else the first. */
    if (fp->hash == TDM_SDP_HASH_NONE || (f.hash == TDM_SDP_SHA256 && fp->hash != f.hash))
        *fp = f;
    return 0;
}

static int a_setup(struct tdm_sdp_pstate *s, struct tdm_sdp_cur *v)
{
    static const char *const names[] = {"", "actpass", "active", "passive", "holdconn"};
    enum tdm_sdp_setup *dst = s->m ? &s->m->setup : &s->d->setup;
    struct tdm_sdp_tok t = tdm_sdp_rest(v);
    if (*dst != TDM_SDP_SETUP_NONE)
        return tdm_sdp_perr(s, TDM_EINVAL, "given twice");
    for (int i = 1; i < 5; i++) {
        if (tdm_sdp_tok_eq(t, names[i])) {
            *dst = (enum tdm_sdp_setup)i;
            return 0;
        }
    }
    return tdm_sdp_perr(s, TDM_EINVAL, "want actpass, active, passive or holdconn");
}

static int a_group(struct tdm_sdp_pstate *s, struct tdm_sdp_cur *v)
{
    struct tdm_sdp_tok sem;
    if (!tdm_sdp_word(v, &sem))
        return tdm_sdp_perr(s, TDM_EINVAL, "want <semantics> <mid>...");
    if (!tdm_sdp_tok_eq(sem, "BUNDLE"))
        return 0; /* LS and others: nothing the SFU needs */
    if (s->bundle.p)
        return tdm_sdp_perr(s, TDM_EUNSUPP, "a second BUNDLE group (one transport only)");
    tdm_sdp_space(v);
    s->bundle = tdm_sdp_rest(v);
    s->bundle_line = s->ln;
    if (!s->bundle.p)
        s->bundle.p = ""; /* an empty group still counts as given */
    return 0;
}

static int a_ice_options(struct tdm_sdp_pstate *s, struct tdm_sdp_cur *v)
{
    struct tdm_sdp_tok t;
    while (tdm_sdp_word(v, &t)) {
        if (tdm_sdp_tok_eq(t, "trickle"))
            s->d->ice_trickle = true;
        tdm_sdp_space(v);
    }
    return 0;
}

static int a_flag(struct tdm_sdp_pstate *s, bool *flag)
{
    *flag = true;
    return 0;
}

static int a_ice_lite(struct tdm_sdp_pstate *s, struct tdm_sdp_cur *v)
{
    return a_flag(s, &s->d->ice_lite);
}

static int a_msid_semantic(struct tdm_sdp_pstate *s, struct tdm_sdp_cur *v)
{
    return a_flag(s, &s->d->msid_semantic);
}

static int a_allow_mixed(struct tdm_sdp_pstate *s, struct tdm_sdp_cur *v)
{
    return a_flag(s, s->m ? &s->m->extmap_allow_mixed : &s->d->extmap_allow_mixed);
}

static int a_rtcp_mux(struct tdm_sdp_pstate *s, struct tdm_sdp_cur *v)
{
    return a_flag(s, &s->m->rtcp_mux);
}

static int a_rtcp_rsize(struct tdm_sdp_pstate *s, struct tdm_sdp_cur *v)
{
    return a_flag(s, &s->m->rtcp_rsize);
}

static int a_bundle_only(struct tdm_sdp_pstate *s, struct tdm_sdp_cur *v)
{
    return a_flag(s, &s->m->bundle_only);
}

static int a_eoc(struct tdm_sdp_pstate *s, struct tdm_sdp_cur *v)
{
    return a_flag(s, &s->m->end_of_candidates);
}

static int set_dir(struct tdm_sdp_pstate *s, enum tdm_sdp_dir dir)
{
    enum tdm_sdp_dir *dst = s->m ? &s->m->dir : &s->d->dir;
    if (*dst != TDM_SDP_DIR_NONE)
        return tdm_sdp_perr(s, TDM_EINVAL, "a second direction attribute");
    *dst = dir;
    return 0;
}

static int a_sendrecv(struct tdm_sdp_pstate *s, struct tdm_sdp_cur *v)
{
    return set_dir(s, TDM_SDP_SENDRECV);
}

static int a_sendonly(struct tdm_sdp_pstate *s, struct tdm_sdp_cur *v)
{
    return set_dir(s, TDM_SDP_SENDONLY);
}

static int a_recvonly(struct tdm_sdp_pstate *s, struct tdm_sdp_cur *v)
{
    return set_dir(s, TDM_SDP_RECVONLY);
}

static int a_inactive(struct tdm_sdp_pstate *s, struct tdm_sdp_cur *v)
{
    return set_dir(s, TDM_SDP_INACTIVE);
}

static int a_mid(struct tdm_sdp_pstate *s, struct tdm_sdp_cur *v)
{
    struct tdm_sdp_tok t = tdm_sdp_rest(v);
    if (s->m->mid[0])
        return tdm_sdp_perr(s, TDM_EINVAL, "a second a=mid");
    if (!t.n || !tdm_sdp_tok_class(t, tdm_sdp_is_token) ||
        !tdm_sdp_tok_copy(t, s->m->mid, TDM_SDP_MID_CAP))
        return tdm_sdp_perr(s, TDM_EINVAL, "mid must be 1..%d token chars", TDM_SDP_MID_CAP - 1);
    return 0;
}

/* RFC 8830 §2: msid-id [SP msid-appdata], each 1..64 token chars. */
static int parse_msid(struct tdm_sdp_pstate *s, struct tdm_sdp_cur *v, char *stream, char *track)
{
    struct tdm_sdp_tok a, b = {0};
    if (!tdm_sdp_word(v, &a) || (tdm_sdp_space(v) && !tdm_sdp_word(v, &b)) || !tdm_sdp_end(v))
        return tdm_sdp_perr(s, TDM_EINVAL, "want <stream-id> [<track-id>]");
    if (!tdm_sdp_tok_class(a, tdm_sdp_is_token) || !tdm_sdp_tok_class(b, tdm_sdp_is_token) ||
        !tdm_sdp_tok_copy(a, stream, TDM_SDP_ID_CAP) || !tdm_sdp_tok_copy(b, track, TDM_SDP_ID_CAP))
        return tdm_sdp_perr(s, TDM_EINVAL, "msid ids must be 1..64 token chars");
    return 0;
}

static int a_msid(struct tdm_sdp_pstate *s, struct tdm_sdp_cur *v)
{
    char stream[TDM_SDP_ID_CAP], track[TDM_SDP_ID_CAP];
    int rc = parse_msid(s, v, stream, track);
    if (rc < 0)
        return rc;
    /* A track may belong to several streams (RFC 8830 §2); the first a=msid wins, and any
     * a=msid wins over the legacy "a=ssrc:N msid:" form. */
    if (!s->msid_from_attr) {
        memcpy(s->m->msid_stream, stream, sizeof stream);
        memcpy(s->m->msid_track, track, sizeof track);
        s->msid_from_attr = true;
    }
    return 0;
}

static const struct tdm_sdp_attr_rule rules[] = {
    {"ice-ufrag", TDM_SDP_AT_BOTH, a_ufrag},
    {"ice-pwd", TDM_SDP_AT_BOTH, a_pwd},
    {"fingerprint", TDM_SDP_AT_BOTH, a_fingerprint},
    {"setup", TDM_SDP_AT_BOTH, a_setup},
    {"group", TDM_SDP_AT_SESSION, a_group},
    {"ice-lite", TDM_SDP_AT_SESSION, a_ice_lite},
    {"ice-options", TDM_SDP_AT_BOTH, a_ice_options},
    {"msid-semantic", TDM_SDP_AT_SESSION, a_msid_semantic},
    {"extmap-allow-mixed", TDM_SDP_AT_BOTH, a_allow_mixed},
    {"sendrecv", TDM_SDP_AT_BOTH, a_sendrecv},
    {"sendonly", TDM_SDP_AT_BOTH, a_sendonly},
    {"recvonly", TDM_SDP_AT_BOTH, a_recvonly},
    {"inactive", TDM_SDP_AT_BOTH, a_inactive},
    {"mid", TDM_SDP_AT_MEDIA, a_mid},
    {"msid", TDM_SDP_AT_MEDIA, a_msid},
    {"rtcp-mux", TDM_SDP_AT_MEDIA, a_rtcp_mux},
    {"rtcp-rsize", TDM_SDP_AT_MEDIA, a_rtcp_rsize},
    {"bundle-only", TDM_SDP_AT_MEDIA, a_bundle_only},
    {"end-of-candidates", TDM_SDP_AT_MEDIA, a_eoc},
    {"rtpmap", TDM_SDP_AT_MEDIA, tdm_sdp_a_rtpmap},
    {"fmtp", TDM_SDP_AT_MEDIA, tdm_sdp_a_fmtp},
    {"rtcp-fb", TDM_SDP_AT_MEDIA, tdm_sdp_a_rtcp_fb},
    {"extmap", TDM_SDP_AT_BOTH, tdm_sdp_a_extmap},
    {"ssrc", TDM_SDP_AT_MEDIA, tdm_sdp_a_ssrc},
    {"ssrc-group", TDM_SDP_AT_MEDIA, tdm_sdp_a_ssrc_group},
    {"rid", TDM_SDP_AT_MEDIA, tdm_sdp_a_rid},
    {"simulcast", TDM_SDP_AT_MEDIA, tdm_sdp_a_simulcast},
    {"candidate", TDM_SDP_AT_MEDIA, tdm_sdp_a_candidate},
};

int tdm_sdp_parse_msid_pair(struct tdm_sdp_pstate *s, struct tdm_sdp_cur *v, char *stream,
                            char *track)
{
    return parse_msid(s, v, stream, track);
}

/* RFC 8866 §5.13: a=<name>[:<value>]. Unknown attributes are ignored (§5.13 too). */
static int parse_attr(struct tdm_sdp_pstate *s, struct tdm_sdp_cur *c)
{
    struct tdm_sdp_tok name = {c->p + c->i, 0};
    while (c->i < c->n && c->p[c->i] != ':') {
        c->i++;
        name.n++;
    }
    if (!name.n || !tdm_sdp_tok_class(name, tdm_sdp_is_token))
        return tdm_sdp_perr(s, TDM_EINVAL, "bad attribute name");
    if (c->i < c->n)
        c->i++; /* ':' */
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        if (!tdm_sdp_tok_eq(name, rules[i].name))
            continue;
        unsigned where = s->m ? TDM_SDP_AT_MEDIA : TDM_SDP_AT_SESSION;
        if (!(rules[i].where & where))
            return tdm_sdp_perr(s, TDM_EINVAL, "a=%s is not allowed at %s level", rules[i].name,
                                s->m ? "media" : "session");
        return rules[i].fn(s, c);
    }
    return 0;
}

/* ---- line types --------------------------------------------------------------------------- */

/* o=<username> <sess-id> <sess-version> <nettype> <addrtype> <unicast-address> */
static int parse_origin(struct tdm_sdp_pstate *s, struct tdm_sdp_cur *c)
{
    struct tdm_sdp_tok user, id, ver, net, addrtype, addr;
    if (!tdm_sdp_word(c, &user) || !tdm_sdp_space(c) || !tdm_sdp_word(c, &id) ||
        !tdm_sdp_space(c) || !tdm_sdp_word(c, &ver) || !tdm_sdp_space(c) ||
        !tdm_sdp_word(c, &net) || !tdm_sdp_space(c) || !tdm_sdp_word(c, &addrtype) ||
        !tdm_sdp_space(c) || !tdm_sdp_word(c, &addr) || !tdm_sdp_end(c))
        return tdm_sdp_perr(s, TDM_EINVAL, "want 6 fields");
    if (!tdm_sdp_tok_u64(id, UINT64_MAX, &s->d->sess_id) ||
        !tdm_sdp_tok_u64(ver, UINT64_MAX, &s->d->sess_version))
        return tdm_sdp_perr(s, TDM_EINVAL, "session id and version must be 64-bit numbers");
    if (!tdm_sdp_tok_eq(net, "IN") ||
        !(tdm_sdp_tok_eq(addrtype, "IP4") || tdm_sdp_tok_eq(addrtype, "IP6")))
        return tdm_sdp_perr(s, TDM_EINVAL, "want IN IP4 or IN IP6");
    return 0;
}

/* c=IN IP4|IP6 <address>: checked, not stored (ICE decides addresses, RFC 8839 §4.2.1). */
static int parse_conn(struct tdm_sdp_pstate *s, struct tdm_sdp_cur *c)
{
    struct tdm_sdp_tok net, type, addr;
    if (!tdm_sdp_word(c, &net) || !tdm_sdp_space(c) || !tdm_sdp_word(c, &type) ||
        !tdm_sdp_space(c) || !tdm_sdp_word(c, &addr) || !tdm_sdp_end(c) ||
        !tdm_sdp_tok_eq(net, "IN") || !(tdm_sdp_tok_eq(type, "IP4") || tdm_sdp_tok_eq(type, "IP6")))
        return tdm_sdp_perr(s, TDM_EINVAL, "want c=IN IP4|IP6 <address>");
    return 0;
}

static int parse_timing(struct tdm_sdp_pstate *s, struct tdm_sdp_cur *c)
{
    struct tdm_sdp_tok a, b;
    uint64_t x;
    if (s->m || !tdm_sdp_word(c, &a) || !tdm_sdp_space(c) || !tdm_sdp_word(c, &b) ||
        !tdm_sdp_end(c) || !tdm_sdp_tok_u64(a, UINT64_MAX, &x) ||
        !tdm_sdp_tok_u64(b, UINT64_MAX, &x))
        return tdm_sdp_perr(s, TDM_EINVAL, "want t=<start> <stop> at session level");
    s->have_t = true;
    return 0;
}

/* The first three lines are fixed: v=0, o=, s= (RFC 8866 §5). */
static int parse_fixed(struct tdm_sdp_pstate *s, char type, struct tdm_sdp_cur *c)
{
    static const char order[] = "vos";
    if (s->ln.no > 3 || type != order[s->ln.no - 1])
        return tdm_sdp_perr(s, TDM_EINVAL, "SDP must start with v=, o=, s= lines");
    if (type == 'v')
        return tdm_sdp_tok_eq(tdm_sdp_rest(c), "0") ? 0 : tdm_sdp_perr(s, TDM_EINVAL, "want v=0");
    if (type == 'o')
        return parse_origin(s, c);
    return 0; /* s=: free text (already checked for control characters) */
}

static int parse_line(struct tdm_sdp_pstate *s)
{
    const char *p = s->ln.p;
    if (s->ln.n < 2 || p[1] != '=' || p[0] < 'a' || p[0] > 'z')
        return tdm_sdp_perr(s, TDM_EINVAL, "want <letter>=<value>");
    struct tdm_sdp_cur c = {p + 2, s->ln.n - 2, 0};
    if (s->ln.no <= 3 || p[0] == 'v' || p[0] == 'o' || p[0] == 's')
        return parse_fixed(s, p[0], &c);
    switch (p[0]) {
    case 't': return parse_timing(s, &c);
    case 'c': return parse_conn(s, &c);
    case 'm':
        if (!s->have_t)
            return tdm_sdp_perr(s, TDM_EINVAL, "m= before t=");
        return tdm_sdp_parse_mline(s, &c);
    case 'a': return parse_attr(s, &c);
    case 'b':
    case 'i':
    case 'u':
    case 'e':
    case 'p':
    case 'z':
    case 'k':
    case 'r': return 0;
    default:
        /* RFC 8866 §5: a description with a type letter we do not know must be refused. */
        return tdm_sdp_perr(s, TDM_EINVAL, "unknown line type '%c'", p[0]);
    }
}

/* Lines are ASCII except free text (s=, i=), which may be UTF-8; no control characters. */
static bool line_chars_ok(const char *p, size_t n)
{
    bool high = false;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)p[i];
        if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
            return false;
        high |= ch >= 0x80;
    }
    return !high || tdm_utf8_valid((const uint8_t *)p, n);
}

static bool only_blank(const uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (p[i] != '\r' && p[i] != '\n')
            return false;
    return true;
}

static int parse_lines(struct tdm_sdp_pstate *s, const uint8_t *p, size_t len)
{
    size_t pos = 0;
    unsigned no = 0;
    while (pos < len) {
        size_t lim = len - pos < TDM_SDP_MAX_LINE + 2 ? len - pos : TDM_SDP_MAX_LINE + 2;
        const uint8_t *nl = memchr(p + pos, '\n', lim);
        s->ln = (struct tdm_sdp_line){(const char *)p + pos, lim, ++no};
        if (!nl && lim == len - pos)
            return tdm_sdp_perr(s, TDM_ETRUNC, "no line end (truncated?)");
        size_t n = nl ? (size_t)(nl - (p + pos)) : lim;
        s->ln.n = n;
        if (n && p[pos + n - 1] == '\r')
            s->ln.n--;
        if (!nl || s->ln.n > TDM_SDP_MAX_LINE)
            return tdm_sdp_perr(s, TDM_ETOOBIG, "longer than %d bytes", TDM_SDP_MAX_LINE);
        if (s->ln.n == 0) {
            if (only_blank(p + pos, len - pos))
                break; /* trailing blank lines are harmless */
            return tdm_sdp_perr(s, TDM_EINVAL, "empty line");
        }
        if (!line_chars_ok(s->ln.p, s->ln.n))
            return tdm_sdp_perr(s, TDM_EINVAL, "control character or bad UTF-8");
        int rc = parse_line(s);
        if (rc < 0)
            return rc;
        pos += n + 1;
    }
    if (no < 3)
        return tdm_seterr(s->err, s->errlen, TDM_ETRUNC, "SDP ends before v=, o=, s=");
    if (!s->have_t)
        return tdm_seterr(s->err, s->errlen, TDM_EINVAL, "no t= line");
    return 0;
}

int tdm_sdp_parse(const uint8_t *p, size_t len, struct tdm_sdp *out, char *err, size_t errlen)
{
    if (!out || (!p && len))
        return tdm_seterr(err, errlen, TDM_EINVAL, "no input or output");
    memset(out, 0, sizeof *out);
    if (len > TDM_SDP_MAX_BYTES)
        return tdm_seterr(err, errlen, TDM_ETOOBIG, "SDP is %zu bytes, limit %d", len,
                          TDM_SDP_MAX_BYTES);
    if (len == 0)
        return tdm_seterr(err, errlen, TDM_ETRUNC, "empty SDP");
    struct tdm_sdp_pstate s = {.d = out, .err = err, .errlen = errlen};
    int rc = parse_lines(&s, p, len);
    if (rc == 0)
        rc = tdm_sdp_end_media(&s);
    if (rc == 0)
        rc = tdm_sdp_check(&s);
    return rc;
}
