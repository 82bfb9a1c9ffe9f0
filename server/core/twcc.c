/* Transport-wide congestion control on the wire: the sequence number header extension and
 * the RTCP feedback (draft-holmer-rmcat-transport-wide-cc-extensions-01 §2 and §3.1). */
#include "tandem/twcc.h"

#include "tandem/err.h"
#include "tandem/rtcp.h"
#include "tandem/util.h"

#include <string.h>

#define HDR 12
#define FB_FIXED 20        /* RTCP header, two SSRCs, base/count, reference time/fb count */
#define BUILD_MAX 1024     /* statuses one built packet may carry */
#define RUN_MIN 14         /* a run this long is written as one run-length chunk */
#define RUN_MAX 0x1fff     /* 13 bits */
#define REF_QUARTERS 256LL /* 64 ms in 250 µs units */

enum { SYM_LOST = 0, SYM_SMALL = 1, SYM_LARGE = 2 };

/* ---- the header extension -------------------------------------------------------------- */

/* Find the element `id` or the end of the last element in a one-byte (two == false) or
 * two-byte block b[0..n). Returns the element's data offset (>= 0) with *at_end false, or
 * the first free offset with *at_end true; TDM_EINVAL when an element overruns the block. */
static int walk(const uint8_t *b, size_t n, bool two, unsigned id, bool *at_end)
{
    size_t o = 0, end = 0;
    while (o < n) {
        unsigned eid = two ? b[o] : b[o] >> 4;
        if (b[o] == 0) { /* padding between elements: a 0 byte (as core/rtp.c reads it) */
            o++;
            continue;
        }
        if (!two && eid == 15)
            break; /* RFC 8285 §4.2: stop reading here */
        size_t hl = two ? 2 : 1;
        if (two && o + 1 >= n)
            return TDM_EINVAL;
        size_t el = two ? b[o + 1] : (size_t)(b[o] & 15) + 1;
        if (o + hl + el > n)
            return TDM_EINVAL;
        if (eid == id) {
            if (el != 2)
                return TDM_EINVAL; /* our number is two bytes */
            *at_end = false;
            return (int)(o + hl);
        }
        o += hl + el;
        end = o;
    }
    *at_end = true;
    return (int)end;
}

/* Open `grow` zero bytes at offset `at` (the payload moves up). */
static int open_gap(uint8_t *pkt, size_t len, size_t cap, size_t at, size_t grow)
{
    if (len + grow > cap)
        return TDM_ETOOBIG;
    memmove(pkt + at + grow, pkt + at, len - at);
    memset(pkt + at, 0, grow);
    return 0;
}

int tdm_twcc_stamp(uint8_t *pkt, size_t len, size_t cap, unsigned id, uint16_t seq)
{
    if (!pkt || len < HDR || (pkt[0] >> 6) != 2 || id == 0 || id > 255)
        return TDM_EINVAL;
    size_t off = HDR + 4u * (pkt[0] & 15);
    if (!(pkt[0] & 0x10)) { /* no extension block yet: add one of one word */
        bool two = id > 14;
        if (off > len)
            return TDM_EINVAL;
        if (open_gap(pkt, len, cap, off, 8) < 0)
            return TDM_ETOOBIG;
        pkt[0] |= 0x10;
        tdm_wr16(pkt + off, two ? 0x1000 : 0xBEDE);
        tdm_wr16(pkt + off + 2, 1);
        uint8_t *e = pkt + off + 4;
        if (two) {
            e[0] = (uint8_t)id;
            e[1] = 2;
            tdm_wr16(e + 2, seq);
        } else {
            e[0] = (uint8_t)(id << 4 | 1);
            tdm_wr16(e + 1, seq);
        }
        return (int)len + 8;
    }
    if (off + 4 > len)
        return TDM_EINVAL;
    uint16_t profile = tdm_rd16(pkt + off);
    size_t words = tdm_rd16(pkt + off + 2), n = 4 * words;
    bool two = (profile & 0xfff0) == 0x1000;
    if ((!two && profile != 0xBEDE) || off + 4 + n > len || (!two && id > 14))
        return TDM_EINVAL;
    uint8_t *b = pkt + off + 4;
    bool at_end;
    int at = walk(b, n, two, id, &at_end);
    if (at < 0)
        return at;
    if (!at_end) {
        tdm_wr16(b + at, seq);
        return (int)len;
    }
    size_t need = two ? 4 : 3, grow = 0;
    if ((size_t)at + need > n) {
        grow = ((size_t)at + need - n + 3) / 4 * 4;
        if (words + grow / 4 > 0xffff)
            return TDM_ETOOBIG;
        if (open_gap(pkt, len, cap, off + 4 + n, grow) < 0)
            return TDM_ETOOBIG;
        tdm_wr16(pkt + off + 2, (uint16_t)(words + grow / 4));
    }
    memset(b + at, 0, n + grow - (size_t)at); /* what follows the element is padding */
    if (two) {
        b[at] = (uint8_t)id;
        b[at + 1] = 2;
        tdm_wr16(b + at + 2, seq);
    } else {
        b[at] = (uint8_t)(id << 4 | 1);
        tdm_wr16(b + at + 1, seq);
    }
    return (int)(len + grow);
}

/* ---- feedback: reading (the parser is core/rtcp.c's) ------------------------------------- */

void tdm_twcc_arrivals(const struct tdm_rtcp_twcc *tw, const struct tdm_rtcp_twcc_status *st,
                       size_t n, struct tdm_twcc_status *out)
{
    int64_t t = (int64_t)tw->ref_time * TDM_TWCC_REF_US;
    for (size_t i = 0; i < n; i++) {
        bool got = st[i].symbol != TDM_RTCP_TWCC_NOT_RECEIVED;
        if (got)
            t += (int64_t)st[i].delta * TDM_TWCC_DELTA_US;
        out[i] = (struct tdm_twcc_status){st[i].seq, got, got ? t : 0};
    }
}

/* ---- feedback: writing ------------------------------------------------------------------ */

static int64_t quarters(int64_t us)
{
    return us >= 0 ? us / TDM_TWCC_DELTA_US : -((-us + TDM_TWCC_DELTA_US - 1) / TDM_TWCC_DELTA_US);
}

/* Symbols of st[0..n) while the deltas fit; returns how many. */
static size_t symbols(const struct tdm_twcc_fb *fb, const struct tdm_twcc_status *st, size_t n,
                      uint8_t *sym)
{
    int64_t prev = (int64_t)fb->ref_time * REF_QUARTERS;
    size_t i = 0;
    for (; i < n && i < BUILD_MAX; i++) {
        if (!st[i].received) {
            sym[i] = SYM_LOST;
            continue;
        }
        int64_t d = quarters(st[i].arrival_us) - prev;
        if (d < INT16_MIN || d > INT16_MAX)
            break;
        sym[i] = d >= 0 && d <= 255 ? SYM_SMALL : SYM_LARGE;
        prev += d;
    }
    return i;
}

/* How many symbols from i the next chunk covers, and whether it is a run. */
static size_t chunk_at(const uint8_t *sym, size_t i, size_t k, bool *run)
{
    size_t r = 1;
    while (i + r < k && r < RUN_MAX && sym[i + r] == sym[i])
        r++;
    *run = r >= RUN_MIN;
    return *run ? r : (k - i < 7 ? k - i : 7);
}

static size_t delta_bytes(const uint8_t *sym, size_t i, size_t cover)
{
    size_t b = 0;
    for (size_t j = i; j < i + cover; j++)
        b += sym[j] == SYM_SMALL ? 1 : sym[j] == SYM_LARGE ? 2 : 0;
    return b;
}

int tdm_twcc_build(uint8_t *out, size_t cap, const struct tdm_twcc_fb *fb,
                   const struct tdm_twcc_status *st, size_t n, size_t *used)
{
    uint8_t sym[BUILD_MAX];
    *used = 0;
    if (!out || !fb || !st || n == 0)
        return TDM_EINVAL;
    size_t k = symbols(fb, st, n, sym);
    if (k == 0)
        return TDM_EINVAL;
    size_t i = 0, size = FB_FIXED, nch = 0;
    while (i < k) { /* how many statuses fit in cap, at chunk boundaries */
        bool run;
        size_t cover = chunk_at(sym, i, k, &run);
        size_t next = size + 2 + delta_bytes(sym, i, cover);
        if ((next + 3) / 4 * 4 > cap)
            break;
        size = next;
        i += cover;
        nch++;
    }
    if (i == 0)
        return TDM_ETOOBIG;
    k = i;
    size_t total = (size + 3) / 4 * 4, off = FB_FIXED, doff = FB_FIXED + 2 * nch;
    memset(out, 0, total);
    out[0] = 0x80 | 15;
    out[1] = 205;
    tdm_wr16(out + 2, (uint16_t)(total / 4 - 1));
    tdm_wr32(out + 4, fb->sender_ssrc);
    tdm_wr32(out + 8, fb->media_ssrc);
    tdm_wr16(out + 12, fb->base_seq);
    tdm_wr16(out + 14, (uint16_t)k);
    uint32_t ref = (uint32_t)fb->ref_time & 0xffffff;
    out[16] = (uint8_t)(ref >> 16);
    out[17] = (uint8_t)(ref >> 8);
    out[18] = (uint8_t)ref;
    out[19] = fb->fb_count;
    for (i = 0; i < k;) {
        bool run;
        size_t cover = chunk_at(sym, i, k, &run);
        uint16_t c = 0;
        if (run) {
            c = (uint16_t)(sym[i] << 13 | cover);
        } else {
            c = 0xC000;
            for (size_t j = 0; j < cover; j++)
                c |= (uint16_t)(sym[i + j] << (2 * (6 - j)));
        }
        tdm_wr16(out + off, c);
        off += 2;
        i += cover;
    }
    int64_t prev = (int64_t)fb->ref_time * REF_QUARTERS;
    for (i = 0; i < k; i++) {
        if (sym[i] == SYM_LOST)
            continue;
        int64_t d = quarters(st[i].arrival_us) - prev;
        prev += d;
        if (sym[i] == SYM_SMALL)
            out[doff++] = (uint8_t)d;
        else {
            tdm_wr16(out + doff, (uint16_t)(int16_t)d);
            doff += 2;
        }
    }
    *used = k;
    return (int)total;
}
