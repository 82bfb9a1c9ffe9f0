/* OpenSSL 3.0 marks the low-level SHA1_* calls deprecated. They are used on purpose: HMAC()
 * and EVP_MAC in 3.0 allocate several times and take the provider-store lock on every call,
 * which every media worker would then contend for on each connectivity check; SHA1_* on a
 * stack context does neither. This must precede every OpenSSL include in this file. */
#define OPENSSL_API_COMPAT 10101

#include "tandem/stun.h"
#include "tandem/err.h"
#include "tandem/util.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <string.h>

/* Largest value length that still fits the 16-bit message length field. */
#define MAX_BODY 65532u

static uint64_t rd64(const uint8_t *p)
{
    return (uint64_t)tdm_rd32(p) << 32 | tdm_rd32(p + 4);
}

static size_t pad4(size_t n)
{
    return (n + 3) & ~(size_t)3;
}

/* --- CRC-32 and HMAC-SHA1 --- */

/* Reflected polynomial 0xEDB88320, four bits at a time: a 16-entry table is enough for the
 * hundred-byte messages of ICE and keeps the table out of the cache's way. */
static const uint32_t crc_nibble[16] = {
    0x00000000, 0x1DB71064, 0x3B6E20C8, 0x26D930AC, 0x76DC4190, 0x6B6B51F4, 0x4DB26158, 0x5005713C,
    0xEDB88320, 0xF00F9344, 0xD6D6A3E8, 0xCB61B38C, 0x9B64C2B0, 0x86D3D2D4, 0xA00AE278, 0xBDBDF21C,
};

uint32_t tdm_stun_crc32(const uint8_t *p, size_t len)
{
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < len; i++) {
        crc ^= p[i];
        crc = (crc >> 4) ^ crc_nibble[crc & 15];
        crc = (crc >> 4) ^ crc_nibble[crc & 15];
    }
    return ~crc;
}

/* RFC 2104 HMAC over two chunks (the patched header, then the body), so the message is
 * never copied. */
static void hmac_sha1(const void *key, size_t keylen, const uint8_t *a, size_t alen,
                      const uint8_t *b, size_t blen, uint8_t out[SHA_DIGEST_LENGTH])
{
    uint8_t k[SHA_CBLOCK] = {0}, pad[SHA_CBLOCK], inner[SHA_DIGEST_LENGTH];
    SHA_CTX c;
    if (keylen > sizeof k)
        SHA1(key, keylen, k);
    else if (keylen)
        memcpy(k, key, keylen);
    for (size_t i = 0; i < sizeof pad; i++)
        pad[i] = k[i] ^ 0x36;
    SHA1_Init(&c);
    SHA1_Update(&c, pad, sizeof pad);
    SHA1_Update(&c, a, alen);
    if (blen)
        SHA1_Update(&c, b, blen);
    SHA1_Final(inner, &c);
    for (size_t i = 0; i < sizeof pad; i++)
        pad[i] = k[i] ^ 0x5c;
    SHA1_Init(&c);
    SHA1_Update(&c, pad, sizeof pad);
    SHA1_Update(&c, inner, sizeof inner);
    SHA1_Final(out, &c);
    OPENSSL_cleanse(k, sizeof k);
    OPENSSL_cleanse(pad, sizeof pad);
    OPENSSL_cleanse(&c, sizeof c);
}

/* --- parsing --- */

/* A malformed known attribute: remembered while the walk goes on, so that sound framing can
 * still be told apart from junk. */
struct attr_fault {
    uint16_t type;
    size_t off;
    const char *why;
};

static bool decode_xor_addr(struct tdm_stun_msg *m, const uint8_t *v, size_t alen)
{
    if (alen < 4)
        return false;
    struct tdm_addr *a = &m->xor_mapped;
    uint16_t port = tdm_rd16(v + 2) ^ (uint16_t)(TDM_STUN_MAGIC_COOKIE >> 16);
    if (v[1] == 0x01 && alen == 8) {
        tdm_addr_set_v4(a, tdm_rd32(v + 4) ^ TDM_STUN_MAGIC_COOKIE, port);
        return true;
    }
    if (v[1] == 0x02 && alen == 20) {
        uint8_t ip[16];
        for (size_t i = 0; i < 16; i++)
            ip[i] = v[4 + i] ^ m->buf[4 + i]; /* cookie then transaction id */
        tdm_addr_set_v6(a, ip, port);
        return true;
    }
    return false;
}

static bool decode_error_code(struct tdm_stun_msg *m, const uint8_t *v, size_t off, size_t alen)
{
    if (alen < 4 || alen - 4 > TDM_STUN_MAX_REASON)
        return false;
    unsigned cls = v[2] & 7, num = v[3];
    if (cls < 3 || cls > 6 || num > 99)
        return false;
    m->error_code = (uint16_t)(cls * 100 + num);
    m->reason_off = (uint32_t)(off + 8); /* attribute header, then class and number */
    m->reason_len = (uint32_t)(alen - 4);
    return true;
}

/* Bit per known single-valued attribute, to keep only the first of duplicates. */
static uint32_t seen_bit(uint16_t type)
{
    switch (type) {
    case TDM_STUN_ATTR_USERNAME: return 1u << 0;
    case TDM_STUN_ATTR_MESSAGE_INTEGRITY: return 1u << 1;
    case TDM_STUN_ATTR_PRIORITY: return 1u << 2;
    case TDM_STUN_ATTR_USE_CANDIDATE: return 1u << 3;
    case TDM_STUN_ATTR_ICE_CONTROLLED:
    case TDM_STUN_ATTR_ICE_CONTROLLING: return 1u << 4;
    case TDM_STUN_ATTR_XOR_MAPPED_ADDRESS: return 1u << 5;
    case TDM_STUN_ATTR_ERROR_CODE: return 1u << 6;
    default: return 0;
    }
}

static bool known_ignored(uint16_t type)
{
    switch (type) {
    case TDM_STUN_ATTR_MAPPED_ADDRESS:
    case TDM_STUN_ATTR_UNKNOWN_ATTRIBUTES:
    case TDM_STUN_ATTR_REALM:
    case TDM_STUN_ATTR_NONCE:
    case TDM_STUN_ATTR_MESSAGE_INTEGRITY_SHA256:
    case TDM_STUN_ATTR_PASSWORD_ALGORITHM:
    case TDM_STUN_ATTR_USERHASH: return true;
    default: return type >= 0x8000; /* comprehension-optional (RFC 8489 14) */
    }
}

/* Interpret one attribute before MESSAGE-INTEGRITY. Returns NULL or why it is malformed. */
static const char *take_attr(struct tdm_stun_msg *m, uint16_t type, size_t off, size_t alen)
{
    const uint8_t *v = m->buf + off + 4;
    switch (type) {
    case TDM_STUN_ATTR_USERNAME:
        if (alen > TDM_STUN_MAX_USERNAME)
            return "USERNAME too long";
        m->has_username = true;
        m->username_off = (uint32_t)(off + 4);
        m->username_len = (uint32_t)alen;
        return NULL;
    case TDM_STUN_ATTR_MESSAGE_INTEGRITY:
        if (alen != TDM_STUN_MI_LEN)
            return "MESSAGE-INTEGRITY not 20 bytes";
        m->mi_off = (uint32_t)off;
        return NULL;
    case TDM_STUN_ATTR_PRIORITY:
        if (alen != 4)
            return "PRIORITY not 4 bytes";
        m->has_priority = true;
        m->priority = tdm_rd32(v);
        return NULL;
    case TDM_STUN_ATTR_USE_CANDIDATE:
        if (alen != 0)
            return "USE-CANDIDATE not empty";
        m->use_candidate = true;
        return NULL;
    case TDM_STUN_ATTR_ICE_CONTROLLED:
    case TDM_STUN_ATTR_ICE_CONTROLLING:
        if (alen != 8)
            return "ICE-CONTROLLED/-CONTROLLING not 8 bytes";
        m->role = type == TDM_STUN_ATTR_ICE_CONTROLLING ? TDM_STUN_ROLE_CONTROLLING
                                                        : TDM_STUN_ROLE_CONTROLLED;
        m->tiebreaker = rd64(v);
        return NULL;
    case TDM_STUN_ATTR_XOR_MAPPED_ADDRESS:
        if (!decode_xor_addr(m, v, alen))
            return "bad XOR-MAPPED-ADDRESS";
        m->has_xor_mapped = true;
        return NULL;
    case TDM_STUN_ATTR_ERROR_CODE:
        return decode_error_code(m, v, off, alen) ? NULL : "bad ERROR-CODE";
    default:
        if (!known_ignored(type)) {
            if (m->n_unknown < TDM_STUN_MAX_UNKNOWN)
                m->unknown[m->n_unknown] = type;
            m->n_unknown++;
        }
        return NULL;
    }
}

static int walk_attrs(struct tdm_stun_msg *m, char *err, size_t errlen)
{
    const uint8_t *p = m->buf;
    struct attr_fault fault = {0, 0, NULL};
    uint32_t seen = 0;
    bool after_mi = false;
    size_t off = TDM_STUN_HEADER_LEN;
    while (off < m->len) {
        if (m->fp_off)
            return tdm_seterr(err, errlen, TDM_EINVAL, "stun: attribute at %zu after FINGERPRINT",
                              off);
        if (m->len - off < 4)
            return tdm_seterr(err, errlen, TDM_EINVAL, "stun: attribute header at %zu cut", off);
        uint16_t type = tdm_rd16(p + off);
        size_t alen = tdm_rd16(p + off + 2);
        if (pad4(alen) > m->len - off - 4)
            return tdm_seterr(err, errlen, TDM_EINVAL,
                              "stun: attribute 0x%04x at %zu overruns the message", type, off);
        if (type == TDM_STUN_ATTR_FINGERPRINT) {
            if (alen != 4)
                return tdm_seterr(err, errlen, TDM_EINVAL, "stun: FINGERPRINT at %zu not 4 bytes",
                                  off);
            m->fp_off = (uint32_t)off;
        } else if (!after_mi) {
            uint32_t bit = seen_bit(type);
            if (!(bit & seen)) {
                const char *why = take_attr(m, type, off, alen);
                if (why && !fault.why)
                    fault = (struct attr_fault){type, off, why};
            }
            seen |= bit;
            after_mi = m->mi_off != 0;
        }
        off += 4 + pad4(alen);
    }
    m->framed = true;
    if (fault.why)
        return tdm_seterr(err, errlen, TDM_EINVAL, "stun: %s (0x%04x at %zu)", fault.why,
                          fault.type, fault.off);
    return 0;
}

int tdm_stun_parse(struct tdm_stun_msg *m, const uint8_t *p, size_t len, char *err, size_t errlen)
{
    memset(m, 0, sizeof *m);
    if (!p || len < TDM_STUN_HEADER_LEN)
        return tdm_seterr(err, errlen, TDM_ETRUNC, "stun: %zu bytes, the header needs 20", len);
    if (p[0] & 0xC0)
        return tdm_seterr(err, errlen, TDM_EINVAL, "stun: first two bits not zero");
    if (tdm_rd32(p + 4) != TDM_STUN_MAGIC_COOKIE)
        return tdm_seterr(err, errlen, TDM_EINVAL, "stun: no magic cookie");
    size_t mlen = tdm_rd16(p + 2);
    if (mlen & 3)
        return tdm_seterr(err, errlen, TDM_EINVAL, "stun: length %zu not a multiple of 4", mlen);
    if (len - TDM_STUN_HEADER_LEN < mlen)
        return tdm_seterr(err, errlen, TDM_ETRUNC, "stun: length says %zu, %zu bytes follow", mlen,
                          len - TDM_STUN_HEADER_LEN);
    if (len - TDM_STUN_HEADER_LEN > mlen)
        return tdm_seterr(err, errlen, TDM_EINVAL, "stun: %zu bytes after the message",
                          len - TDM_STUN_HEADER_LEN - mlen);
    m->buf = p;
    m->len = TDM_STUN_HEADER_LEN + mlen;
    m->type = tdm_rd16(p);
    memcpy(m->tid, p + 8, TDM_STUN_TID_LEN);
    return walk_attrs(m, err, errlen);
}

const char *tdm_stun_username(const struct tdm_stun_msg *m, size_t *len)
{
    if (!m->has_username) {
        *len = 0;
        return NULL;
    }
    *len = m->username_len;
    return (const char *)m->buf + m->username_off;
}

int tdm_stun_check_integrity(const struct tdm_stun_msg *m, const void *key, size_t keylen)
{
    if (!m->mi_off || !m->buf)
        return TDM_ENOTFOUND;
    uint8_t hdr[TDM_STUN_HEADER_LEN], mac[SHA_DIGEST_LENGTH];
    memcpy(hdr, m->buf, sizeof hdr);
    /* RFC 8489 14.5: the length covers the message up to and including MI itself. */
    tdm_wr16(hdr + 2, (uint16_t)(m->mi_off - TDM_STUN_HEADER_LEN + 4 + TDM_STUN_MI_LEN));
    hmac_sha1(key, keylen, hdr, sizeof hdr, m->buf + TDM_STUN_HEADER_LEN,
              m->mi_off - TDM_STUN_HEADER_LEN, mac);
    return tdm_ct_equal(mac, m->buf + m->mi_off + 4, sizeof mac) ? 0 : TDM_EAUTH;
}

int tdm_stun_check_fingerprint(const struct tdm_stun_msg *m)
{
    if (!m->fp_off || !m->buf)
        return TDM_ENOTFOUND;
    /* FINGERPRINT is last, so the length field already covers it as 14.7 wants. */
    uint32_t want = tdm_stun_crc32(m->buf, m->fp_off) ^ TDM_STUN_FINGERPRINT_XOR;
    return tdm_rd32(m->buf + m->fp_off + 4) == want ? 0 : TDM_EAUTH;
}

/* --- writing --- */

static void fail(struct tdm_stun_writer *w, int code)
{
    if (!w->err)
        w->err = code;
}

void tdm_stun_writer_init(struct tdm_stun_writer *w, uint8_t *buf, size_t cap, uint16_t type,
                          const uint8_t tid[TDM_STUN_TID_LEN])
{
    memset(w, 0, sizeof *w);
    w->buf = buf;
    w->cap = cap;
    if (!buf || !tid || (type & 0xC000)) {
        fail(w, TDM_EINVAL);
        return;
    }
    if (cap < TDM_STUN_HEADER_LEN) {
        fail(w, TDM_ETOOBIG);
        return;
    }
    tdm_wr16(buf, type);
    tdm_wr16(buf + 2, 0);
    tdm_wr32(buf + 4, TDM_STUN_MAGIC_COOKIE);
    memcpy(buf + 8, tid, TDM_STUN_TID_LEN);
    w->len = TDM_STUN_HEADER_LEN;
}

/* Reserve an attribute with a zeroed, padded value of alen bytes; NULL after any error. */
static uint8_t *begin_attr(struct tdm_stun_writer *w, uint16_t type, size_t alen)
{
    if (w->err)
        return NULL;
    if (w->finished || (w->sealed && type != TDM_STUN_ATTR_FINGERPRINT)) {
        fail(w, TDM_EINVAL); /* RFC 8489 14.5/14.7: only FINGERPRINT after MI, nothing after */
        return NULL;
    }
    size_t need = 4 + pad4(alen);
    if (alen > 0xFFFF || need > w->cap - w->len || w->len - TDM_STUN_HEADER_LEN + need > MAX_BODY) {
        fail(w, TDM_ETOOBIG);
        return NULL;
    }
    uint8_t *a = w->buf + w->len;
    tdm_wr16(a, type);
    tdm_wr16(a + 2, (uint16_t)alen);
    memset(a + 4, 0, pad4(alen));
    w->len += need;
    tdm_wr16(w->buf + 2, (uint16_t)(w->len - TDM_STUN_HEADER_LEN));
    return a + 4;
}

void tdm_stun_put_attr(struct tdm_stun_writer *w, uint16_t type, const void *val, size_t len)
{
    if (len && !val) {
        fail(w, TDM_EINVAL);
        return;
    }
    uint8_t *v = begin_attr(w, type, len);
    if (v && len)
        memcpy(v, val, len);
}

void tdm_stun_put_u32(struct tdm_stun_writer *w, uint16_t type, uint32_t x)
{
    uint8_t *v = begin_attr(w, type, 4);
    if (v)
        tdm_wr32(v, x);
}

void tdm_stun_put_u64(struct tdm_stun_writer *w, uint16_t type, uint64_t x)
{
    uint8_t *v = begin_attr(w, type, 8);
    if (v) {
        tdm_wr32(v, (uint32_t)(x >> 32));
        tdm_wr32(v + 4, (uint32_t)x);
    }
}

void tdm_stun_put_xor_addr(struct tdm_stun_writer *w, uint16_t type, const struct tdm_addr *a)
{
    if (!a || (a->family != TDM_ADDR_V4 && a->family != TDM_ADDR_V6)) {
        fail(w, TDM_EINVAL);
        return;
    }
    bool v6 = a->family == TDM_ADDR_V6;
    uint8_t *v = begin_attr(w, type, v6 ? 20 : 8);
    if (!v)
        return;
    v[1] = v6 ? 0x02 : 0x01;
    tdm_wr16(v + 2, a->port ^ (uint16_t)(TDM_STUN_MAGIC_COOKIE >> 16));
    /* RFC 8489 14.2: XOR with the cookie, then (IPv6) the transaction id: header bytes 4..20. */
    for (size_t i = 0; i < (v6 ? 16u : 4u); i++)
        v[4 + i] = a->ip[i] ^ w->buf[4 + i];
}

void tdm_stun_put_error_code(struct tdm_stun_writer *w, int code, const char *reason)
{
    size_t rlen = reason ? strlen(reason) : 0;
    if (code < 300 || code > 699 || rlen > TDM_STUN_MAX_REASON) {
        fail(w, TDM_EINVAL);
        return;
    }
    uint8_t *v = begin_attr(w, TDM_STUN_ATTR_ERROR_CODE, 4 + rlen);
    if (!v)
        return;
    v[2] = (uint8_t)(code / 100);
    v[3] = (uint8_t)(code % 100);
    if (rlen)
        memcpy(v + 4, reason, rlen);
}

void tdm_stun_put_integrity(struct tdm_stun_writer *w, const void *key, size_t keylen)
{
    if (keylen && !key) {
        fail(w, TDM_EINVAL);
        return;
    }
    uint8_t *v = begin_attr(w, TDM_STUN_ATTR_MESSAGE_INTEGRITY, TDM_STUN_MI_LEN);
    if (!v)
        return;
    /* The length field already counts MI itself, as 14.5 requires. */
    hmac_sha1(key, keylen, w->buf, TDM_STUN_HEADER_LEN, w->buf + TDM_STUN_HEADER_LEN,
              (size_t)(v - 4 - w->buf) - TDM_STUN_HEADER_LEN, v);
    w->sealed = true;
}

void tdm_stun_put_fingerprint(struct tdm_stun_writer *w)
{
    uint8_t *v = begin_attr(w, TDM_STUN_ATTR_FINGERPRINT, 4);
    if (!v)
        return;
    tdm_wr32(v, tdm_stun_crc32(w->buf, (size_t)(v - 4 - w->buf)) ^ TDM_STUN_FINGERPRINT_XOR);
    w->finished = true;
}

int tdm_stun_writer_finish(const struct tdm_stun_writer *w)
{
    return w->err ? w->err : (int)w->len;
}

/* --- builders --- */

int tdm_stun_build_binding_success(uint8_t *out, size_t cap, const uint8_t tid[TDM_STUN_TID_LEN],
                                   const struct tdm_addr *mapped, const void *key, size_t keylen)
{
    struct tdm_stun_writer w;
    tdm_stun_writer_init(&w, out, cap, TDM_STUN_BINDING_SUCCESS, tid);
    tdm_stun_put_xor_addr(&w, TDM_STUN_ATTR_XOR_MAPPED_ADDRESS, mapped);
    if (key)
        tdm_stun_put_integrity(&w, key, keylen);
    tdm_stun_put_fingerprint(&w);
    return tdm_stun_writer_finish(&w);
}

static const char *reason_phrase(int code)
{
    switch (code) {
    case TDM_STUN_ERR_BAD_REQUEST: return "Bad Request";
    case TDM_STUN_ERR_UNAUTHORIZED: return "Unauthorized";
    case TDM_STUN_ERR_UNKNOWN_ATTRIBUTE: return "Unknown Attribute";
    case TDM_STUN_ERR_ROLE_CONFLICT: return "Role Conflict";
    default: return "Error";
    }
}

int tdm_stun_build_error(uint8_t *out, size_t cap, const uint8_t tid[TDM_STUN_TID_LEN], int code,
                         const uint16_t *unknown, size_t n_unknown, const void *key, size_t keylen)
{
    struct tdm_stun_writer w;
    tdm_stun_writer_init(&w, out, cap, TDM_STUN_BINDING_ERROR, tid);
    tdm_stun_put_error_code(&w, code, reason_phrase(code));
    if (code == TDM_STUN_ERR_UNKNOWN_ATTRIBUTE && unknown && n_unknown) {
        uint8_t list[2 * TDM_STUN_MAX_UNKNOWN];
        size_t n = n_unknown < TDM_STUN_MAX_UNKNOWN ? n_unknown : TDM_STUN_MAX_UNKNOWN;
        for (size_t i = 0; i < n; i++)
            tdm_wr16(list + 2 * i, unknown[i]);
        tdm_stun_put_attr(&w, TDM_STUN_ATTR_UNKNOWN_ATTRIBUTES, list, 2 * n);
    }
    if (key)
        tdm_stun_put_integrity(&w, key, keylen);
    tdm_stun_put_fingerprint(&w);
    return tdm_stun_writer_finish(&w);
}

int tdm_stun_build_binding_request(uint8_t *out, size_t cap, const struct tdm_stun_request *r)
{
    struct tdm_stun_writer w;
    tdm_stun_writer_init(&w, out, cap, TDM_STUN_BINDING_REQUEST, r ? r->tid : NULL);
    if (!r)
        return tdm_stun_writer_finish(&w);
    if (r->username) {
        if (r->username_len > TDM_STUN_MAX_USERNAME)
            return TDM_EINVAL;
        tdm_stun_put_attr(&w, TDM_STUN_ATTR_USERNAME, r->username, r->username_len);
    }
    if (r->priority)
        tdm_stun_put_u32(&w, TDM_STUN_ATTR_PRIORITY, r->priority);
    if (r->use_candidate)
        tdm_stun_put_attr(&w, TDM_STUN_ATTR_USE_CANDIDATE, NULL, 0);
    if (r->role == TDM_STUN_ROLE_CONTROLLING)
        tdm_stun_put_u64(&w, TDM_STUN_ATTR_ICE_CONTROLLING, r->tiebreaker);
    else if (r->role == TDM_STUN_ROLE_CONTROLLED)
        tdm_stun_put_u64(&w, TDM_STUN_ATTR_ICE_CONTROLLED, r->tiebreaker);
    if (r->key)
        tdm_stun_put_integrity(&w, r->key, r->keylen);
    tdm_stun_put_fingerprint(&w);
    return tdm_stun_writer_finish(&w);
}
