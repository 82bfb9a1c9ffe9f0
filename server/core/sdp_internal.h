/* Private to server/core/sdp_*.c: the parser's state and its bounded text cursor. */
#ifndef TANDEM_SDP_INTERNAL_H
#define TANDEM_SDP_INTERNAL_H

#include "tandem/err.h"
#include "tandem/sdp.h"
#include "tandem/util.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

/* One line without its terminator; p borrows the caller's input until tdm_sdp_parse returns. */
struct tdm_sdp_line {
    const char *p;
    size_t n;
    unsigned no;
};

struct tdm_sdp_tok {
    const char *p;
    size_t n;
};

/* Reads p[0..n): every access checks i < n first. */
struct tdm_sdp_cur {
    const char *p;
    size_t n;
    size_t i;
};

struct tdm_sdp_pstate {
    struct tdm_sdp *d;
    char *err;
    size_t errlen;
    struct tdm_sdp_line ln;  /* the line being read, named in errors */
    struct tdm_sdp_media *m; /* current m-section, NULL at session level */
    bool have_t;
    bool rtp; /* the current m-line's proto carries RTP */
    bool msid_from_attr;
    uint8_t listed[16]; /* pt bitsets of the current m-line */
    uint8_t rtpmapped[16];
    uint8_t fmtped[16];
    uint8_t ext_ids[32];       /* extmap ids seen in the current m-section */
    struct tdm_sdp_tok bundle; /* the BUNDLE group's mid list, resolved at the end */
    struct tdm_sdp_line bundle_line;
    struct tdm_sdp_tok sim; /* a=simulcast value, checked when the m-section ends */
    struct tdm_sdp_line sim_line;
};

enum { TDM_SDP_AT_SESSION = 1, TDM_SDP_AT_MEDIA = 2, TDM_SDP_AT_BOTH = 3 };

struct tdm_sdp_attr_rule {
    const char *name;
    unsigned where;
    int (*fn)(struct tdm_sdp_pstate *s, struct tdm_sdp_cur *v);
};

/* Error naming the current line: "line N "<start of line>": <message>". */
int tdm_sdp_perr(struct tdm_sdp_pstate *s, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* sdp_media.c */
int tdm_sdp_parse_mline(struct tdm_sdp_pstate *s, struct tdm_sdp_cur *c);
int tdm_sdp_a_rtpmap(struct tdm_sdp_pstate *s, struct tdm_sdp_cur *v);
int tdm_sdp_a_fmtp(struct tdm_sdp_pstate *s, struct tdm_sdp_cur *v);
int tdm_sdp_a_rtcp_fb(struct tdm_sdp_pstate *s, struct tdm_sdp_cur *v);
int tdm_sdp_a_extmap(struct tdm_sdp_pstate *s, struct tdm_sdp_cur *v);
int tdm_sdp_a_ssrc(struct tdm_sdp_pstate *s, struct tdm_sdp_cur *v);
int tdm_sdp_a_ssrc_group(struct tdm_sdp_pstate *s, struct tdm_sdp_cur *v);
int tdm_sdp_a_rid(struct tdm_sdp_pstate *s, struct tdm_sdp_cur *v);
int tdm_sdp_a_simulcast(struct tdm_sdp_pstate *s, struct tdm_sdp_cur *v);
int tdm_sdp_a_candidate(struct tdm_sdp_pstate *s, struct tdm_sdp_cur *v);
int tdm_sdp_add_ssrc(struct tdm_sdp_media *m, uint32_t ssrc);
/* sdp_parse.c: the msid pair shared by a=msid and a=ssrc:N msid: */
int tdm_sdp_parse_msid_pair(struct tdm_sdp_pstate *s, struct tdm_sdp_cur *v, char *stream,
                            char *track);
/* sdp_check.c: close the current m-section; whole-description checks after the last line. */
int tdm_sdp_end_media(struct tdm_sdp_pstate *s);
int tdm_sdp_check(struct tdm_sdp_pstate *s);

/* sdp_negotiate.c: pieces shared by the answer (there) and the server's offer (sdp_offer.c). */
int tdm_sdp_apt(const struct tdm_sdp_codec *c);
int tdm_sdp_rtx_for(const struct tdm_sdp_media *m, uint8_t pt);
void tdm_sdp_set_codec(struct tdm_sdp_codec *c, enum tdm_sdp_codec_id id, uint8_t pt,
                       const char *fmtp);
int tdm_sdp_local_ok(const struct tdm_sdp_local *l, char *err, size_t errlen);
int tdm_sdp_track_ok(const struct tdm_sdp_track *t, char *err, size_t errlen);
void tdm_sdp_local_session(struct tdm_sdp *d, const struct tdm_sdp_local *l);
void tdm_sdp_local_cands(struct tdm_sdp *d, const struct tdm_sdp_local *l);
void tdm_sdp_nego_codecs(struct tdm_sdp_nego_media *nm, const struct tdm_sdp_media *m);
void tdm_sdp_nego_sender(struct tdm_sdp_nego_media *nm, const struct tdm_sdp_media *m);
void tdm_sdp_track_sender(struct tdm_sdp_media *m, const struct tdm_sdp_track *t);
int tdm_sdp_remote_transport(const struct tdm_sdp *d, struct tdm_sdp_nego *n, bool d_is_offer,
                             char *err, size_t errlen);

/* ---- cursor --------------------------------------------------------------------------- */

static inline bool tdm_sdp_end(const struct tdm_sdp_cur *c)
{
    return c->i >= c->n;
}

/* Consumes one or more spaces; false when there is none. */
static inline bool tdm_sdp_space(struct tdm_sdp_cur *c)
{
    size_t i0 = c->i;
    while (c->i < c->n && c->p[c->i] == ' ')
        c->i++;
    return c->i > i0;
}

/* A non-empty run of characters other than space. */
static inline bool tdm_sdp_word(struct tdm_sdp_cur *c, struct tdm_sdp_tok *t)
{
    t->p = c->p + c->i;
    t->n = 0;
    while (c->i < c->n && c->p[c->i] != ' ') {
        c->i++;
        t->n++;
    }
    return t->n > 0;
}

/* A run of characters up to `stop` or a space (stop not consumed); may be empty. */
static inline struct tdm_sdp_tok tdm_sdp_until(struct tdm_sdp_cur *c, char stop)
{
    struct tdm_sdp_tok t = {c->p + c->i, 0};
    while (c->i < c->n && c->p[c->i] != stop && c->p[c->i] != ' ') {
        c->i++;
        t.n++;
    }
    return t;
}

static inline bool tdm_sdp_char(struct tdm_sdp_cur *c, char ch)
{
    if (c->i < c->n && c->p[c->i] == ch) {
        c->i++;
        return true;
    }
    return false;
}

/* The rest of the value without surrounding spaces; consumes it. */
static inline struct tdm_sdp_tok tdm_sdp_rest(struct tdm_sdp_cur *c)
{
    while (c->i < c->n && c->p[c->i] == ' ')
        c->i++;
    struct tdm_sdp_tok t = {c->p + c->i, c->n - c->i};
    while (t.n && t.p[t.n - 1] == ' ')
        t.n--;
    c->i = c->n;
    return t;
}

static inline bool tdm_sdp_tok_eq(struct tdm_sdp_tok t, const char *lit)
{
    size_t n = strlen(lit);
    return t.n == n && memcmp(t.p, lit, n) == 0;
}

static inline bool tdm_sdp_tok_ieq(struct tdm_sdp_tok t, const char *lit)
{
    size_t n = strlen(lit);
    return t.n == n && strncasecmp(t.p, lit, n) == 0;
}

/* Copies t with a NUL; false (nothing written) when it does not fit in cap. */
static inline bool tdm_sdp_tok_copy(struct tdm_sdp_tok t, char *dst, size_t cap)
{
    if (t.n >= cap)
        return false;
    if (t.n)
        memcpy(dst, t.p, t.n);
    dst[t.n] = '\0';
    return true;
}

/* 1..20 decimal digits, at most max, overflow checked. */
static inline bool tdm_sdp_tok_u64(struct tdm_sdp_tok t, uint64_t max, uint64_t *v)
{
    uint64_t x = 0;
    if (t.n == 0 || t.n > 20)
        return false;
    for (size_t i = 0; i < t.n; i++) {
        unsigned d = (unsigned char)t.p[i] - '0';
        if (d > 9 || x > (UINT64_MAX - d) / 10)
            return false;
        x = x * 10 + d;
    }
    if (x > max)
        return false;
    *v = x;
    return true;
}

static inline bool tdm_sdp_tok_u32(struct tdm_sdp_tok t, uint32_t max, uint32_t *v)
{
    uint64_t x;
    if (!tdm_sdp_tok_u64(t, max, &x))
        return false;
    *v = (uint32_t)x;
    return true;
}

static inline bool tdm_sdp_tok_class(struct tdm_sdp_tok t, bool (*ok)(unsigned char))
{
    for (size_t i = 0; i < t.n; i++)
        if (!ok((unsigned char)t.p[i]))
            return false;
    return true;
}

static inline bool tdm_sdp_is_alnum(unsigned char ch)
{
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

/* RFC 8866 §9 token-char. */
static inline bool tdm_sdp_is_token(unsigned char ch)
{
    return ch == 0x21 || (ch >= 0x23 && ch <= 0x27) || ch == 0x2a || ch == 0x2b || ch == 0x2d ||
           ch == 0x2e || (ch >= 0x30 && ch <= 0x39) || (ch >= 0x41 && ch <= 0x5a) ||
           (ch >= 0x5e && ch <= 0x7e);
}

/* RFC 8839 §5.1 ice-char. */
static inline bool tdm_sdp_is_ice(unsigned char ch)
{
    return tdm_sdp_is_alnum(ch) || ch == '+' || ch == '/';
}

/* RFC 8851 §10 rid-id: alpha-numeric, "-" and "_". */
static inline bool tdm_sdp_is_rid(unsigned char ch)
{
    return tdm_sdp_is_alnum(ch) || ch == '-' || ch == '_';
}

/* Visible ASCII: URIs, cnames, proto. */
static inline bool tdm_sdp_is_vis(unsigned char ch)
{
    return ch > 0x20 && ch < 0x7f;
}

/* Candidate addresses: IPv4, IPv6 or a host name (mDNS .local). */
static inline bool tdm_sdp_is_addr(unsigned char ch)
{
    return tdm_sdp_is_alnum(ch) || ch == '.' || ch == ':' || ch == '-';
}

static inline bool tdm_sdp_bit(const uint8_t *set, unsigned i)
{
    return set[i >> 3] & (1u << (i & 7));
}

static inline void tdm_sdp_setbit(uint8_t *set, unsigned i)
{
    set[i >> 3] |= (uint8_t)(1u << (i & 7));
}

#endif
