/* Self-signed DTLS identity, the DTLS SSL_CTX factory, and SDP fingerprints (RFC 8122). */
#include "tandem/cert.h"

#include "tandem/err.h"
#include "tandem/util.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

struct tdm_cert {
    EVP_PKEY *key;
    X509 *x509;
    struct tdm_fingerprint fp;
    char fp_text[TDM_FP_TEXT_MAX];
};

#define DAY_S 86400
/* ECDHE-ECDSA with AEAD only: what Chrome (BoringSSL) and Firefox (NSS) offer for DTLS 1.2,
 * and all of them work with our P-256 key. */
static const char k_ciphers[] = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
                                "ECDHE-ECDSA-CHACHA20-POLY1305";
static const char k_groups[] = "X25519:P-256:P-384";

static const struct {
    const char *name;
    enum tdm_fp_hash hash;
    size_t len;
} k_hashes[] = {
    {"sha-1", TDM_FP_SHA1, 20},     {"sha-224", TDM_FP_SHA224, 28}, {"sha-256", TDM_FP_SHA256, 32},
    {"sha-384", TDM_FP_SHA384, 48}, {"sha-512", TDM_FP_SHA512, 64},
};

static const EVP_MD *hash_md(enum tdm_fp_hash h)
{
    switch (h) {
    case TDM_FP_SHA1: return EVP_sha1();
    case TDM_FP_SHA224: return EVP_sha224();
    case TDM_FP_SHA256: return EVP_sha256();
    case TDM_FP_SHA384: return EVP_sha384();
    case TDM_FP_SHA512: return EVP_sha512();
    }
    return NULL;
}

static const char *hash_name(enum tdm_fp_hash h)
{
    for (size_t i = 0; i < sizeof k_hashes / sizeof k_hashes[0]; i++)
        if (k_hashes[i].hash == h)
            return k_hashes[i].name;
    return NULL;
}

int tdm_cert_fingerprint_of(X509 *x, enum tdm_fp_hash hash, struct tdm_fingerprint *out)
{
    const EVP_MD *md = hash_md(hash);
    unsigned int n = 0;
    if (!x || !md || !out)
        return TDM_EINVAL;
    if (X509_digest(x, md, out->digest, &n) != 1 || n > TDM_FP_MAX_DIGEST)
        return TDM_ECRYPTO;
    out->hash = hash;
    out->len = n;
    return 0;
}

bool tdm_cert_fingerprint_matches(const struct tdm_fingerprint *expected, X509 *x)
{
    struct tdm_fingerprint got;
    if (!expected || tdm_cert_fingerprint_of(x, expected->hash, &got) != 0)
        return false;
    if (got.len != expected->len)
        return false;
    return tdm_ct_equal(got.digest, expected->digest, got.len);
}

int tdm_cert_fingerprint_format(const struct tdm_fingerprint *fp, char *out, size_t outlen)
{
    static const char hex[] = "0123456789ABCDEF";
    const char *name = fp ? hash_name(fp->hash) : NULL;
    if (!name || fp->len == 0 || fp->len > TDM_FP_MAX_DIGEST || !out)
        return TDM_EINVAL;
    size_t nlen = strlen(name);
    size_t need = nlen + 1 + fp->len * 3; /* last pair has NUL instead of ':' */
    if (outlen < need)
        return TDM_ETOOBIG;
    memcpy(out, name, nlen);
    char *w = out + nlen;
    *w++ = ' ';
    for (size_t i = 0; i < fp->len; i++) {
        *w++ = hex[fp->digest[i] >> 4];
        *w++ = hex[fp->digest[i] & 0xf];
        *w++ = (i + 1 < fp->len) ? ':' : '\0';
    }
    return (int)(need - 1);
}

static bool name_equal_ci(const uint8_t *p, size_t len, const char *name)
{
    if (strlen(name) != len)
        return false;
    for (size_t i = 0; i < len; i++) {
        uint8_t c = p[i];
        if (c >= 'A' && c <= 'Z')
            c = (uint8_t)(c - 'A' + 'a');
        if (c != (uint8_t)name[i])
            return false;
    }
    return true;
}

/* Hex pairs separated by ':' (RFC 8122 section 5: fingerprint = 2UHEX *(":" 2UHEX)). */
static int parse_digest(const uint8_t *p, size_t len, struct tdm_fingerprint *out, char *err,
                        size_t errlen)
{
    size_t n = 0, i = 0;
    while (i < len) {
        if (n == TDM_FP_MAX_DIGEST)
            return tdm_seterr(err, errlen, TDM_EINVAL, "fingerprint: digest too long");
        if (len - i < 2)
            return tdm_seterr(err, errlen, TDM_EINVAL, "fingerprint: odd hex digit at %zu", i);
        int hi = tdm_hexval(p[i]), lo = tdm_hexval(p[i + 1]);
        if (hi < 0 || lo < 0)
            return tdm_seterr(err, errlen, TDM_EINVAL, "fingerprint: bad hex at %zu", i);
        out->digest[n++] = (uint8_t)(hi << 4 | lo);
        i += 2;
        if (i == len)
            break;
        if (p[i] != ':' || i + 1 == len)
            return tdm_seterr(err, errlen, TDM_EINVAL, "fingerprint: expected ':' at %zu", i);
        i++;
    }
    if (n != out->len)
        return tdm_seterr(err, errlen, TDM_EINVAL, "fingerprint: %zu bytes, hash needs %zu", n,
                          out->len);
    return 0;
}

int tdm_cert_fingerprint_parse(const uint8_t *p, size_t len, struct tdm_fingerprint *out, char *err,
                               size_t errlen)
{
    if (!p || !out)
        return tdm_seterr(err, errlen, TDM_EINVAL, "fingerprint: null argument");
    if (len > TDM_FP_PARSE_MAX)
        return tdm_seterr(err, errlen, TDM_ETOOBIG, "fingerprint: %zu bytes (max %d)", len,
                          TDM_FP_PARSE_MAX);
    size_t sp = 0;
    while (sp < len && p[sp] != ' ')
        sp++;
    if (sp == 0 || sp == len)
        return tdm_seterr(err, errlen, TDM_EINVAL, "fingerprint: want 'hash-func SP hex'");
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < sizeof k_hashes / sizeof k_hashes[0]; i++) {
        if (name_equal_ci(p, sp, k_hashes[i].name)) {
            out->hash = k_hashes[i].hash;
            out->len = k_hashes[i].len;
        }
    }
    if (out->len == 0)
        return tdm_seterr(err, errlen, TDM_EUNSUPP, "fingerprint: unsupported hash '%.*s'",
                          (int)(sp > 16 ? 16 : sp), (const char *)p);
    int rc = parse_digest(p + sp + 1, len - sp - 1, out, err, errlen);
    if (rc != 0)
        memset(out, 0, sizeof *out);
    return rc;
}

static int set_serial_and_dates(X509 *x, int64_t wall_us)
{
    uint8_t rnd[8];
    int rc = TDM_ECRYPTO;
    BIGNUM *bn = NULL;
    if (RAND_bytes(rnd, sizeof rnd) != 1)
        goto out;
    rnd[0] &= 0x7f; /* a positive INTEGER (RFC 5280 4.1.2.2) */
    bn = BN_bin2bn(rnd, sizeof rnd, NULL);
    if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)))
        goto out;
    time_t now = (time_t)(wall_us / 1000000);
    if (!ASN1_TIME_set(X509_getm_notBefore(x), now - DAY_S) ||
        !ASN1_TIME_set(X509_getm_notAfter(x), now + 365 * (time_t)DAY_S))
        goto out;
    rc = 0;
out:
    BN_free(bn);
    return rc;
}

static int build_x509(struct tdm_cert *c, int64_t wall_us)
{
    X509_NAME *name = NULL;
    int rc = TDM_ECRYPTO;
    c->x509 = X509_new();
    if (!c->x509 || X509_set_version(c->x509, 2) != 1)
        goto out;
    if (set_serial_and_dates(c->x509, wall_us) != 0)
        goto out;
    name = X509_NAME_new();
    if (!name ||
        !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"tandem", -1,
                                    -1, 0) ||
        X509_set_subject_name(c->x509, name) != 1 || X509_set_issuer_name(c->x509, name) != 1)
        goto out;
    if (X509_set_pubkey(c->x509, c->key) != 1 || X509_sign(c->x509, c->key, EVP_sha256()) <= 0)
        goto out;
    rc = 0;
out:
    X509_NAME_free(name);
    return rc;
}

int tdm_cert_create(struct tdm_cert **out, int64_t wall_us)
{
    int rc = TDM_ENOMEM;
    struct tdm_cert *c = NULL;
    if (!out)
        return TDM_EINVAL;
    *out = NULL;
    c = calloc(1, sizeof *c);
    if (!c)
        goto fail;
    rc = TDM_ECRYPTO;
    c->key = EVP_EC_gen("P-256");
    if (!c->key)
        goto fail;
    if ((rc = build_x509(c, wall_us)) != 0)
        goto fail;
    if ((rc = tdm_cert_fingerprint_of(c->x509, TDM_FP_SHA256, &c->fp)) != 0)
        goto fail;
    if (tdm_cert_fingerprint_format(&c->fp, c->fp_text, sizeof c->fp_text) < 0) {
        rc = TDM_ECRYPTO;
        goto fail;
    }
    *out = c;
    return 0;
fail:
    tdm_cert_destroy(c);
    return rc;
}

void tdm_cert_destroy(struct tdm_cert *c)
{
    if (!c)
        return;
    X509_free(c->x509);
    EVP_PKEY_free(c->key);
    free(c);
}

const char *tdm_cert_fingerprint_sdp(const struct tdm_cert *c)
{
    return c->fp_text;
}

void tdm_cert_fingerprint(const struct tdm_cert *c, struct tdm_fingerprint *out)
{
    *out = c->fp;
}

/* The peer's certificate is self-signed; it is authenticated by comparing its fingerprint
 * with the one signalled in SDP once the handshake is done (RFC 8122 section 5, RFC 5763
 * section 5), so chain verification is accepted here. */
static int accept_any_cert(int preverify_ok, X509_STORE_CTX *store)
{
    (void)preverify_ok;
    (void)store;
    return 1;
}

int tdm_cert_ssl_ctx_new(const struct tdm_cert *c, const char *srtp_profiles, SSL_CTX **out)
{
    int rc = TDM_ECRYPTO;
    SSL_CTX *ctx = NULL;
    if (!c || !out)
        return TDM_EINVAL;
    *out = NULL;
    ctx = SSL_CTX_new(DTLS_method());
    if (!ctx)
        goto fail;
    if (SSL_CTX_set_min_proto_version(ctx, DTLS1_2_VERSION) != 1 ||
        SSL_CTX_set_cipher_list(ctx, k_ciphers) != 1 ||
        SSL_CTX_set1_groups_list(ctx, k_groups) != 1)
        goto fail;
    if (SSL_CTX_use_certificate(ctx, c->x509) != 1 || SSL_CTX_use_PrivateKey(ctx, c->key) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1)
        goto fail;
    /* Inverted convention: SSL_CTX_set_tlsext_use_srtp returns 0 on success. */
    if (SSL_CTX_set_tlsext_use_srtp(ctx, srtp_profiles ? srtp_profiles : TDM_CERT_SRTP_PROFILES) !=
        0) {
        rc = TDM_EINVAL;
        goto fail;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, accept_any_cert);
    /* No MTU probing through a socket we do not have: the endpoint sets a link MTU. Each
     * WebRTC association is a fresh handshake, so no tickets, cache or renegotiation. */
    SSL_CTX_set_options(ctx, SSL_OP_NO_QUERY_MTU | SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION |
                                 SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    *out = ctx;
    ERR_clear_error();
    return 0;
fail:
    SSL_CTX_free(ctx);
    ERR_clear_error();
    return rc;
}
