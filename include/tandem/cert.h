/* DTLS identity for WebRTC: a self-signed ECDSA P-256 certificate made at start-up, its
 * SDP fingerprint (RFC 8122), the SSL_CTX every DTLS endpoint is made from, and the parser
 * for the peer's a=fingerprint value that authenticates the peer's certificate.
 *
 * Thread use: a tdm_cert is immutable after tdm_cert_create and may be read from any
 * thread. The SSL_CTX from tdm_cert_ssl_ctx_new may be shared by endpoints on different
 * threads (OpenSSL reference-counts it and SSL_new on a shared ctx is thread-safe). */
#ifndef TANDEM_CERT_H
#define TANDEM_CERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/types.h> /* SSL_CTX, X509 (typedefs only) */

/* SRTP protection profiles offered by default, in server preference order (RFC 7714's
 * AEAD GCM first: it is about 4x cheaper than AES-CM + HMAC-SHA1 through libsrtp's NSS). */
#define TDM_CERT_SRTP_PROFILES "SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80"

/* Hash functions of RFC 8122 section 5 that we accept (md2/md5 are refused). */
enum tdm_fp_hash {
    TDM_FP_SHA1 = 1,
    TDM_FP_SHA224,
    TDM_FP_SHA256,
    TDM_FP_SHA384,
    TDM_FP_SHA512,
};

#define TDM_FP_MAX_DIGEST 64 /* SHA-512 */
/* Longest text form: "sha-512 " + 64 hex pairs with colons + NUL. */
#define TDM_FP_TEXT_MAX (8 + TDM_FP_MAX_DIGEST * 3)
/* Longest attribute value tdm_cert_fingerprint_parse looks at (anything longer is refused). */
#define TDM_FP_PARSE_MAX 256

/* A certificate fingerprint: the hash function and the digest bytes. Plain value type. */
struct tdm_fingerprint {
    enum tdm_fp_hash hash;
    size_t len; /* digest length in bytes, fixed by hash (20, 28, 32, 48, 64) */
    uint8_t digest[TDM_FP_MAX_DIGEST];
};

/* Our certificate and private key. Opaque. */
struct tdm_cert;

/* Generate a fresh P-256 key and a self-signed X.509v3 certificate (CN=tandem, random
 * 64-bit serial, SHA-256 signature). Validity runs from a day before wall_us (microseconds
 * since the Unix epoch, as tdm_wall_us gives) to 365 days after it: browsers authenticate
 * DTLS peers by fingerprint, not by dates, but some stacks reject a cert not yet valid.
 * Returns 0 and *out (caller destroys), or TDM_ECRYPTO / TDM_ENOMEM. */
int tdm_cert_create(struct tdm_cert **out, int64_t wall_us);
void tdm_cert_destroy(struct tdm_cert *c);

/* SDP form of our SHA-256 fingerprint, "sha-256 AB:CD:...", for a=fingerprint:. Owned by c. */
const char *tdm_cert_fingerprint_sdp(const struct tdm_cert *c);
/* Our SHA-256 fingerprint as a value (copied into *out). */
void tdm_cert_fingerprint(const struct tdm_cert *c, struct tdm_fingerprint *out);

/* A DTLS SSL_CTX using c: DTLS 1.2 minimum, ECDHE-ECDSA AEAD ciphers, use_srtp with
 * srtp_profiles (NULL means TDM_CERT_SRTP_PROFILES; the server's order decides, RFC 5764
 * 4.1.1), peer certificate required but accepted by the verify callback (self-signed: the
 * endpoint compares its fingerprint after the handshake), no MTU queries, no session
 * resumption or renegotiation. The ctx holds its own references to c's key and cert, so
 * c may be destroyed first. Returns 0 and *out (free with SSL_CTX_free), or TDM_EINVAL
 * (unknown profile name) / TDM_ECRYPTO. */
int tdm_cert_ssl_ctx_new(const struct tdm_cert *c, const char *srtp_profiles, SSL_CTX **out);

/* Parse an SDP fingerprint attribute value (RFC 8122 section 5: hash-func SP 2HEX *(":"
 * 2HEX)), e.g. "sha-256 AB:CD:...". The hash name is case-insensitive and so is the hex
 * (RFC 4572 asks for upper case; lower case is seen in the wild). The digest length must
 * match the hash. Reads p[0..len) only; len > TDM_FP_PARSE_MAX is refused.
 * Returns 0, or TDM_EINVAL (malformed), TDM_EUNSUPP (md2, md5, unknown hash), TDM_ETOOBIG;
 * err gets a message. */
int tdm_cert_fingerprint_parse(const uint8_t *p, size_t len, struct tdm_fingerprint *out, char *err,
                               size_t errlen);

/* Write fp in SDP form ("sha-256 AB:..."), NUL-terminated. Returns the length written
 * (without NUL) or TDM_ETOOBIG / TDM_EINVAL. */
int tdm_cert_fingerprint_format(const struct tdm_fingerprint *fp, char *out, size_t outlen);

/* Compute x's fingerprint with the given hash. Returns 0 or TDM_EINVAL / TDM_ECRYPTO. */
int tdm_cert_fingerprint_of(X509 *x, enum tdm_fp_hash hash, struct tdm_fingerprint *out);

/* True when x's digest under expected->hash equals expected's digest (constant time). */
bool tdm_cert_fingerprint_matches(const struct tdm_fingerprint *expected, X509 *x);

#endif
