/* Small helpers shared by every core module: UTF-8 checks, a token bucket, random ids,
 * a monotonic clock for the io layer (core functions take `now` as an argument). */
#ifndef TANDEM_UTIL_H
#define TANDEM_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Network byte order (big-endian) reads and writes of a bounded buffer: the caller checked
 * the length. One copy for every codec (rtp, rtcp, stun, chat pictures). */
static inline uint16_t tdm_rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}
static inline uint32_t tdm_rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline void tdm_wr16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static inline void tdm_wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}
/* The value of one hexadecimal digit (either case), or -1. */
static inline int tdm_hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Microseconds on a monotonic clock. Only io code calls this; core takes `now`. */
int64_t tdm_now_us(void);
/* Microseconds since the Unix epoch (wall clock), for the sync channel's server time. */
int64_t tdm_wall_us(void);

/* True when p[0..len) is well-formed UTF-8 (RFC 3629: no overlongs, no surrogates,
 * nothing above U+10FFFF). NUL bytes are allowed here; text fields reject them separately. */
bool tdm_utf8_valid(const uint8_t *p, size_t len);

/* A display-safe text field: valid UTF-8, 1..max_bytes bytes, no C0/C1 control characters
 * (tab excepted when allow_tab), no leading/trailing white space. */
bool tdm_text_field_ok(const char *s, size_t len, size_t max_bytes, bool allow_newline);

/* True when valid UTF-8 text s[0..len) holds a bidirectional formatting character (UAX #9
 * 2.1-2.4): an embedding or override (U+202A..U+202E) or an isolate (U+2066..U+2069), and
 * with marks_too also the marks U+200E, U+200F and U+061C. Overrides and embeddings reorder
 * what follows them, so a name "Amina<RLO>txet" can read as another's; the marks cannot
 * reorder letters and are part of writing mixed Arabic or Hebrew and Latin text. */
bool tdm_text_has_bidi_controls(const char *s, size_t len, bool marks_too);

/* Token bucket: `rate` tokens per second, at most `burst` stored. Time is an argument. */
struct tdm_bucket {
    double tokens;
    double rate;
    double burst;
    int64_t last_us;
};
void tdm_bucket_init(struct tdm_bucket *b, double rate, double burst, int64_t now_us);
/* Takes `cost` tokens when available and returns true; otherwise takes nothing, false. */
bool tdm_bucket_take(struct tdm_bucket *b, double cost, int64_t now_us);

/* Fill out with `nbytes` random bytes from OpenSSL's CSPRNG, base64url-encoded without
 * padding (so 16 bytes give 22 characters). outlen must be >= 4*nbytes/3 + 2.
 * Returns 0 or TDM_ECRYPTO / TDM_ETOOBIG. */
int tdm_random_id(char *out, size_t outlen, size_t nbytes);

/* base64url without padding. Returns the encoded length (excluding NUL) or TDM_ETOOBIG. */
int tdm_b64url_encode(const uint8_t *in, size_t inlen, char *out, size_t outlen);
/* Decodes base64url (no padding, no white space). Returns decoded length or TDM_EINVAL/ETOOBIG. */
int tdm_b64url_decode(const char *in, size_t inlen, uint8_t *out, size_t outlen);

/* Constant-time comparison of equal-length buffers. */
bool tdm_ct_equal(const void *a, const void *b, size_t len);

#endif
