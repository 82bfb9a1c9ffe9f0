#include "tandem/util.h"
#include "tandem/err.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <string.h>
#include <time.h>

int64_t tdm_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t tdm_wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

bool tdm_utf8_valid(const uint8_t *p, size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint8_t c = p[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        uint32_t cp, min;
        if ((c & 0xE0) == 0xC0) {
            n = 1, cp = c & 0x1F, min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            n = 2, cp = c & 0x0F, min = 0x800;
        } else if ((c & 0xF8) == 0xF0) {
            n = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return false;
        }
        if (len - i <= n)
            return false;
        for (size_t k = 1; k <= n; k++) {
            if ((p[i + k] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (p[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += n + 1;
    }
    return true;
}

static bool is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

bool tdm_text_field_ok(const char *s, size_t len, size_t max_bytes, bool allow_newline)
{
    if (!s || len == 0 || len > max_bytes)
        return false;
    if (!tdm_utf8_valid((const uint8_t *)s, len))
        return false;
    if (is_space((unsigned char)s[0]) || is_space((unsigned char)s[len - 1]))
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n' && allow_newline)
            continue;
        if (c < 0x20 || c == 0x7F)
            return false;
        /* C1 controls U+0080..U+009F are encoded as C2 80..C2 9F */
        if (c == 0xC2 && i + 1 < len && (unsigned char)s[i + 1] < 0xA0)
            return false;
    }
    return true;
}

bool tdm_text_has_bidi_controls(const char *s, size_t len, bool marks_too)
{
    const uint8_t *p = (const uint8_t *)s;
    for (size_t i = 0; i + 1 < len; i++) {
        /* U+061C ARABIC LETTER MARK: D8 9C */
        if (p[i] == 0xD8 && p[i + 1] == 0x9C && marks_too)
            return true;
        if (p[i] != 0xE2 || i + 2 >= len)
            continue;
        uint8_t b = p[i + 1], c = p[i + 2];
        if (b == 0x80 && c >= 0xAA && c <= 0xAE) /* U+202A..U+202E: embeddings, overrides */
            return true;
        if (b == 0x81 && c >= 0xA6 && c <= 0xA9) /* U+2066..U+2069: isolates */
            return true;
        if (b == 0x80 && (c == 0x8E || c == 0x8F) && marks_too) /* U+200E, U+200F */
            return true;
    }
    return false;
}

void tdm_bucket_init(struct tdm_bucket *b, double rate, double burst, int64_t now_us)
{
    b->rate = rate;
    b->burst = burst;
    b->tokens = burst;
    b->last_us = now_us;
}

bool tdm_bucket_take(struct tdm_bucket *b, double cost, int64_t now_us)
{
    if (now_us > b->last_us) {
        b->tokens += (double)(now_us - b->last_us) * b->rate / 1e6;
        if (b->tokens > b->burst)
            b->tokens = b->burst;
        b->last_us = now_us;
    }
    if (b->tokens < cost)
        return false;
    b->tokens -= cost;
    return true;
}

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int tdm_b64url_encode(const uint8_t *in, size_t inlen, char *out, size_t outlen)
{
    size_t need = (inlen / 3) * 4 + (inlen % 3 ? inlen % 3 + 1 : 0);
    if (outlen < need + 1)
        return TDM_ETOOBIG;
    size_t o = 0;
    for (size_t i = 0; i < inlen; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        size_t left = inlen - i;
        if (left > 1)
            v |= (uint32_t)in[i + 1] << 8;
        if (left > 2)
            v |= in[i + 2];
        out[o++] = b64url[(v >> 18) & 63];
        out[o++] = b64url[(v >> 12) & 63];
        if (left > 1)
            out[o++] = b64url[(v >> 6) & 63];
        if (left > 2)
            out[o++] = b64url[v & 63];
    }
    out[o] = '\0';
    return (int)o;
}

static int b64url_val(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

int tdm_b64url_decode(const char *in, size_t inlen, uint8_t *out, size_t outlen)
{
    if (inlen % 4 == 1)
        return TDM_EINVAL;
    size_t need = inlen / 4 * 3 + (inlen % 4 ? inlen % 4 - 1 : 0);
    if (need > outlen)
        return TDM_ETOOBIG;
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < inlen; i++) {
        int v = b64url_val(in[i]);
        if (v < 0)
            return TDM_EINVAL;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    /* Non-canonical trailing bits would let two strings decode to the same bytes. */
    if (bits && (acc & ((1u << bits) - 1)))
        return TDM_EINVAL;
    return (int)o;
}

int tdm_random_id(char *out, size_t outlen, size_t nbytes)
{
    uint8_t buf[64];
    if (nbytes > sizeof buf)
        return TDM_ETOOBIG;
    if (RAND_bytes(buf, (int)nbytes) != 1)
        return TDM_ECRYPTO;
    int r = tdm_b64url_encode(buf, nbytes, out, outlen);
    OPENSSL_cleanse(buf, sizeof buf);
    return r < 0 ? r : 0;
}

bool tdm_ct_equal(const void *a, const void *b, size_t len)
{
    return CRYPTO_memcmp(a, b, len) == 0;
}
