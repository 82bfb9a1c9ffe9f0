/* libFuzzer target: the text and encoding helpers every parser leans on (tandem/util.h).
 *
 * Input: any bytes, used whole by each check (exact-size copies, so ASan sees overreads):
 *  - tdm_utf8_valid against a reference written here from the table of well-formed byte
 *    sequences (Unicode 15 §3.9, Table 3-7; RFC 3629 §4), not from decoded code points;
 *  - tdm_text_field_ok against a reference of the documented rule (valid UTF-8, 1..max
 *    bytes, no C0/C1 control and no DEL except '\n' when allowed, no white space at the
 *    ends), for several maxima and both newline settings;
 *  - tdm_b64url_decode: accepted exactly when the reference says (alphabet, length, zero
 *    trailing bits), and then encoding gives back the same text (canonical); a buffer one
 *    byte short is refused, never overrun;
 *  - tdm_b64url_encode of the bytes: the documented length, only alphabet characters, and
 *    decoding gives the bytes back; an output buffer one byte short is refused;
 *  - tdm_ct_equal agrees with memcmp. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tandem/err.h"
#include "tandem/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define check(cond) ((cond) ? (void)0 : fail_at(__LINE__, #cond))

static void fail_at(int line, const char *what)
{
    fprintf(stderr, "invariant failed at line %d: %s\n", line, what);
    abort();
}

/* Length of the well-formed sequence at p[0..n), or 0 when it is ill-formed (Table 3-7). */
static size_t ref_seq(const uint8_t *p, size_t n)
{
    static const struct {
        uint8_t lo0, hi0, lo1, hi1; /* first byte range, second byte range */
        uint8_t len;
    } rows[] = {
        {0x00, 0x7F, 0, 0, 1},       {0xC2, 0xDF, 0x80, 0xBF, 2}, {0xE0, 0xE0, 0xA0, 0xBF, 3},
        {0xE1, 0xEC, 0x80, 0xBF, 3}, {0xED, 0xED, 0x80, 0x9F, 3}, {0xEE, 0xEF, 0x80, 0xBF, 3},
        {0xF0, 0xF0, 0x90, 0xBF, 4}, {0xF1, 0xF3, 0x80, 0xBF, 4}, {0xF4, 0xF4, 0x80, 0x8F, 4},
    };
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        if (p[0] < rows[r].lo0 || p[0] > rows[r].hi0)
            continue;
        size_t len = rows[r].len;
        if (len > n)
            return 0;
        if (len > 1 && (p[1] < rows[r].lo1 || p[1] > rows[r].hi1))
            return 0;
        for (size_t k = 2; k < len; k++)
            if (p[k] < 0x80 || p[k] > 0xBF)
                return 0;
        return len;
    }
    return 0;
}

static bool ref_utf8(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n;) {
        size_t k = ref_seq(p + i, n - i);
        if (!k)
            return false;
        i += k;
    }
    return true;
}

/* The code point of the well-formed sequence at p (length k). */
static uint32_t ref_cp(const uint8_t *p, size_t k)
{
    static const uint8_t lead_mask[] = {0, 0x7F, 0x1F, 0x0F, 0x07};
    uint32_t cp = p[0] & lead_mask[k];
    for (size_t i = 1; i < k; i++)
        cp = cp << 6 | (p[i] & 0x3F);
    return cp;
}

static bool ref_space(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool ref_text_field(const uint8_t *p, size_t n, size_t max, bool allow_newline)
{
    if (n == 0 || n > max || !ref_utf8(p, n) || ref_space(p[0]) || ref_space(p[n - 1]))
        return false;
    for (size_t i = 0; i < n;) {
        size_t k = ref_seq(p + i, n - i);
        uint32_t cp = ref_cp(p + i, k);
        if ((cp < 0x20 && !(cp == '\n' && allow_newline)) || (cp >= 0x7F && cp <= 0x9F))
            return false;
        i += k;
    }
    return true;
}

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static bool ref_b64_ok(const uint8_t *p, size_t n)
{
    if (n % 4 == 1)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!p[i] || !memchr(alphabet, p[i], sizeof alphabet - 1))
            return false;
    if (n % 4 == 0)
        return true;
    /* The last character's low bits that fall past the final byte must be zero. */
    unsigned v = (unsigned)((const char *)memchr(alphabet, p[n - 1], 64) - alphabet);
    return (v & (n % 4 == 2 ? 0x0F : 0x03)) == 0;
}

static void fuzz_b64_decode(const uint8_t *data, size_t size)
{
    size_t need = size / 4 * 3 + (size % 4 ? size % 4 - 1 : 0);
    uint8_t *out = malloc(need + 1);
    char *in = malloc(size ? size : 1);
    if (!out || !in)
        abort();
    memcpy(in, data, size);
    int n = tdm_b64url_decode(in, size, out, need);
    bool ok = ref_b64_ok(data, size);
    check(ok ? n == (int)need : (n == TDM_EINVAL || n == TDM_ETOOBIG));
    if (ok) {
        char *back = malloc(size + 1);
        if (!back)
            abort();
        check(tdm_b64url_encode(out, need, back, size + 1) == (int)size);
        check(memcmp(back, data, size) == 0 && back[size] == '\0');
        free(back);
        if (need > 0)
            check(tdm_b64url_decode(in, size, out, need - 1) == TDM_ETOOBIG);
    }
    free(out);
    free(in);
}

static void fuzz_b64_encode(const uint8_t *data, size_t size)
{
    size_t want = size / 3 * 4 + (size % 3 ? size % 3 + 1 : 0);
    char *out = malloc(want + 1);
    uint8_t *back = malloc(size ? size : 1);
    if (!out || !back)
        abort();
    check(tdm_b64url_encode(data, size, out, want) == TDM_ETOOBIG);
    check(tdm_b64url_encode(data, size, out, want + 1) == (int)want);
    check(out[want] == '\0' && strspn(out, alphabet) == want);
    check(tdm_b64url_decode(out, want, back, size) == (int)size);
    check(memcmp(back, data, size) == 0);
    free(out);
    free(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *p = malloc(size ? size : 1);
    if (!p)
        abort();
    memcpy(p, data, size);
    check(tdm_utf8_valid(p, size) == ref_utf8(p, size));
    static const size_t maxima[] = {1, 4, 64, 4096};
    for (size_t i = 0; i < sizeof maxima / sizeof maxima[0]; i++)
        for (int nl = 0; nl < 2; nl++)
            check(tdm_text_field_ok((const char *)p, size, maxima[i], nl) ==
                  ref_text_field(p, size, maxima[i], nl));
    fuzz_b64_decode(p, size);
    fuzz_b64_encode(p, size);
    size_t half = size / 2;
    check(tdm_ct_equal(p, p + half, half) == (memcmp(p, p + half, half) == 0));
    free(p);
    return 0;
}
