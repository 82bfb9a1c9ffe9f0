/* TURN support (docs/turn.md): the TURN server URLs a page may use, and short-lived
 * credentials in the TURN REST API scheme that coturn checks with `use-auth-secret`:
 *   username   = "<expiry, Unix seconds>:<opaque random id>"   (no name, room or address)
 *   credential = base64(HMAC-SHA1(shared secret, username))
 * Sans-IO: the time and the random bytes are handed in. */
#ifndef TANDEM_TURN_H
#define TANDEM_TURN_H

#include <stddef.h>
#include <stdint.h>

#define TDM_TURN_MAX_URLS 4
#define TDM_TURN_URL_MAX 200
#define TDM_TURN_SECRET_MIN 16
#define TDM_TURN_SECRET_MAX 256
#define TDM_TURN_ID_BYTES 12 /* the random part of a username: 24 hex digits */
/* "<20 digits>:<24 hex>" and a NUL */
#define TDM_TURN_USERNAME_MAX (20 + 1 + 2 * TDM_TURN_ID_BYTES + 1)
/* base64 of a 20-byte HMAC-SHA1: 28 characters and a NUL */
#define TDM_TURN_CREDENTIAL_MAX 29

/* Checks one TURN URL (RFC 7065): "turn:" or "turns:", a host (a DNS name, an IPv4
 * address or a bracketed IPv6 address), an optional ":port" (1..65535) and an optional
 * "?transport=udp" or "?transport=tcp", nothing else, at most TDM_TURN_URL_MAX bytes.
 * Returns 0 or TDM_EINVAL. */
int tdm_turn_url_check(const char *url, size_t len);

/* Splits a comma- (and/or space-) separated list of TURN URLs into out (each checked as
 * above, at most TDM_TURN_MAX_URLS). An empty list gives *n = 0. Returns 0 or TDM_EINVAL
 * with a message naming the bad URL in err. */
int tdm_turn_parse_urls(const char *list, char out[TDM_TURN_MAX_URLS][TDM_TURN_URL_MAX + 1],
                        size_t *n, char *err, size_t errlen);

/* Checks a shared secret as read from its file (a trailing line end already removed):
 * TDM_TURN_SECRET_MIN..TDM_TURN_SECRET_MAX printable ASCII characters without spaces,
 * so that it reads the same in coturn's config file. Returns 0 or TDM_EINVAL. */
int tdm_turn_secret_check(const char *secret, size_t len);

/* Makes one credential pair valid until `expiry` (Unix seconds) from `id` (random bytes).
 * username gets TDM_TURN_USERNAME_MAX bytes at most, credential TDM_TURN_CREDENTIAL_MAX.
 * Returns 0, TDM_ETOOBIG (a buffer too small) or TDM_ECRYPTO. */
int tdm_turn_credential(const char *secret, size_t secret_len, uint64_t expiry,
                        const uint8_t id[TDM_TURN_ID_BYTES], char *username, size_t username_len,
                        char *credential, size_t credential_len);

#endif
