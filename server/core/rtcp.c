/* RTCP readers and SSRC rewriting (builders are in rtcp_build.c). Per-packet code: no
 * allocation, no locks, no logging. */
#include "tandem/rtcp.h"

#include "tandem/err.h"
#include "tandem/util.h"

#include <string.h>

static uint32_t rd24(const uint8_t *p)
{
    return ((uint32_t)p[0] << 16) | ((uint32_t)p[1] << 8) | p[2];
}

static int32_t sign24(uint32_t v)
{
    return (v & 0x800000u) ? (int32_t)v - 0x1000000 : (int32_t)v;
}

/* --- compound iteration (RFC 3550 §6.1, A.2) ------------------------------------------ */

void tdm_rtcp_iter_init(struct tdm_rtcp_iter *it, const uint8_t *p, size_t len)
{
    it->p = p;
    it->len = p ? len : 0;
    it->off = 0;
}

/* After an error the iterator is left at its end, so a loop stops either way. */
static int iter_fail(struct tdm_rtcp_iter *it, int code)
{
    it->off = it->len;
    return code;
}

int tdm_rtcp_iter_next(struct tdm_rtcp_iter *it, struct tdm_rtcp_pkt *pkt, char *err, size_t errlen)
{
    if (it->off >= it->len)
        return 0;
    size_t at = it->off, rest = it->len - at;
    const uint8_t *h = it->p + at;
    if (rest < 4)
        return iter_fail(
            it, tdm_seterr(err, errlen, TDM_ETRUNC, "rtcp: %zu stray bytes at %zu", rest, at));
    if ((h[0] >> 6) != 2)
        return iter_fail(
            it, tdm_seterr(err, errlen, TDM_EINVAL, "rtcp: version %u at %zu", h[0] >> 6, at));
    size_t plen = ((size_t)tdm_rd16(h + 2) + 1) * 4;
    if (plen > rest)
        return iter_fail(it, tdm_seterr(err, errlen, TDM_ETRUNC,
                                        "rtcp: length %zu at %zu past the end (%zu)", plen, at,
                                        it->len));
    pkt->p = h;
    pkt->len = plen;
    pkt->count = h[0] & 0x1f;
    pkt->type = h[1];
    pkt->padding = (h[0] & 0x20) != 0;
    pkt->body_len = plen - 4;
    if (pkt->padding) {
        uint8_t pad = h[plen - 1];
        if (plen != rest)
            return iter_fail(it, tdm_seterr(err, errlen, TDM_EINVAL,
                                            "rtcp: padding on packet at %zu, not the last", at));
        if (pad == 0 || pad > pkt->body_len)
            return iter_fail(it, tdm_seterr(err, errlen, TDM_EINVAL,
                                            "rtcp: padding %u at %zu, body %zu", pad, at,
                                            pkt->body_len));
        pkt->body_len -= pad;
    }
    it->off += plen;
    return 1;
}

int tdm_rtcp_validate(const uint8_t *p, size_t len, char *err, size_t errlen)
{
    if (!p || len == 0)
        return tdm_seterr(err, errlen, TDM_ETRUNC, "rtcp: empty");
    struct tdm_rtcp_iter it;
    struct tdm_rtcp_pkt pkt;
    int n = 0, r;
    tdm_rtcp_iter_init(&it, p, len);
    /* Each packet is at least 4 bytes, so this ends within len / 4 steps. */
    while ((r = tdm_rtcp_iter_next(&it, &pkt, err, errlen)) == 1)
        n++;
    return r < 0 ? r : n;
}

/* --- reports -------------------------------------------------------------------------- */

int tdm_rtcp_parse_sr(const struct tdm_rtcp_pkt *pkt, struct tdm_rtcp_sr *sr)
{
    if (pkt->type != TDM_RTCP_SR)
        return TDM_EINVAL;
    if (pkt->body_len < 24 + 24 * (size_t)pkt->count)
        return TDM_ETRUNC;
    const uint8_t *b = pkt->p + 4;
    sr->ssrc = tdm_rd32(b);
    sr->ntp = ((uint64_t)tdm_rd32(b + 4) << 32) | tdm_rd32(b + 8);
    sr->rtp_ts = tdm_rd32(b + 12);
    sr->packet_count = tdm_rd32(b + 16);
    sr->octet_count = tdm_rd32(b + 20);
    sr->nblocks = pkt->count;
    return 0;
}

int tdm_rtcp_parse_rr(const struct tdm_rtcp_pkt *pkt, uint32_t *ssrc)
{
    if (pkt->type != TDM_RTCP_RR)
        return TDM_EINVAL;
    if (pkt->body_len < 4 + 24 * (size_t)pkt->count)
        return TDM_ETRUNC;
    *ssrc = tdm_rd32(pkt->p + 4);
    return pkt->count;
}

static size_t blocks_offset(const struct tdm_rtcp_pkt *pkt)
{
    return pkt->type == TDM_RTCP_SR ? 4 + 24 : 4 + 4;
}

int tdm_rtcp_report_block(const struct tdm_rtcp_pkt *pkt, unsigned i, struct tdm_rtcp_rb *rb)
{
    if (pkt->type != TDM_RTCP_SR && pkt->type != TDM_RTCP_RR)
        return TDM_EINVAL;
    if (i >= pkt->count)
        return TDM_ENOTFOUND;
    size_t off = blocks_offset(pkt) + 24 * (size_t)i;
    if (off + 24 > 4 + pkt->body_len)
        return TDM_ETRUNC;
    const uint8_t *q = pkt->p + off;
    rb->ssrc = tdm_rd32(q);
    rb->fraction_lost = q[4];
    rb->cumulative_lost = sign24(rd24(q + 5));
    rb->ext_highest_seq = tdm_rd32(q + 8);
    rb->jitter = tdm_rd32(q + 12);
    rb->lsr = tdm_rd32(q + 16);
    rb->dlsr = tdm_rd32(q + 20);
    return 0;
}

int tdm_rtcp_parse_bye(const struct tdm_rtcp_pkt *pkt, uint32_t *ssrcs, size_t max,
                       const uint8_t **reason, size_t *reason_len)
{
    if (pkt->type != TDM_RTCP_BYE)
        return TDM_EINVAL;
    size_t list = 4 * (size_t)pkt->count;
    if (pkt->body_len < list)
        return TDM_ETRUNC;
    const uint8_t *b = pkt->p + 4;
    for (size_t i = 0; i < pkt->count && i < max; i++)
        ssrcs[i] = tdm_rd32(b + 4 * i);
    const uint8_t *r = NULL;
    size_t rlen = 0;
    if (pkt->body_len > list) {
        rlen = b[list];
        if (pkt->body_len - list - 1 < rlen)
            return TDM_ETRUNC;
        r = b + list + 1;
    }
    if (reason)
        *reason = r;
    if (reason_len)
        *reason_len = rlen;
    return pkt->count;
}

/* --- feedback ------------------------------------------------------------------------- */

int tdm_rtcp_parse_fb(const struct tdm_rtcp_pkt *pkt, struct tdm_rtcp_fb *fb)
{
    if (pkt->type != TDM_RTCP_RTPFB && pkt->type != TDM_RTCP_PSFB)
        return TDM_EINVAL;
    if (pkt->body_len < 8)
        return TDM_ETRUNC;
    fb->type = pkt->type;
    fb->fmt = pkt->count;
    fb->sender_ssrc = tdm_rd32(pkt->p + 4);
    fb->media_ssrc = tdm_rd32(pkt->p + 8);
    fb->fci = pkt->p + 12;
    fb->fci_len = pkt->body_len - 8;
    return 0;
}

static int parse_fb_of(const struct tdm_rtcp_pkt *pkt, uint8_t type, uint8_t fmt,
                       struct tdm_rtcp_fb *fb)
{
    if (pkt->type != type || pkt->count != fmt)
        return TDM_EINVAL;
    return tdm_rtcp_parse_fb(pkt, fb);
}

int tdm_rtcp_parse_nack(const struct tdm_rtcp_pkt *pkt, struct tdm_rtcp_fb *fb)
{
    int r = parse_fb_of(pkt, TDM_RTCP_RTPFB, TDM_RTCP_FMT_NACK, fb);
    if (r < 0)
        return r;
    /* RFC 4585 §6.2.1: at least one Generic NACK; entries are 4 bytes. */
    if (fb->fci_len == 0 || fb->fci_len % 4)
        return TDM_EINVAL;
    return 0;
}

size_t tdm_rtcp_nack_expand(const struct tdm_rtcp_fb *fb, uint16_t *seqs, size_t max)
{
    size_t n = 0;
    for (size_t off = 0; off + 4 <= fb->fci_len && n < max; off += 4) {
        uint16_t pid = tdm_rd16(fb->fci + off);
        uint16_t blp = tdm_rd16(fb->fci + off + 2);
        seqs[n++] = pid;
        for (unsigned b = 0; b < 16 && n < max; b++)
            if (blp & (1u << b))
                seqs[n++] = (uint16_t)(pid + b + 1);
    }
    return n;
}

int tdm_rtcp_parse_pli(const struct tdm_rtcp_pkt *pkt, struct tdm_rtcp_fb *fb)
{
    return parse_fb_of(pkt, TDM_RTCP_PSFB, TDM_RTCP_FMT_PLI, fb);
}

int tdm_rtcp_parse_fir(const struct tdm_rtcp_pkt *pkt, struct tdm_rtcp_fb *fb)
{
    int r = parse_fb_of(pkt, TDM_RTCP_PSFB, TDM_RTCP_FMT_FIR, fb);
    if (r < 0)
        return r;
    /* RFC 5104 §4.3.1.1: one or more 8-byte FCI entries. */
    if (fb->fci_len == 0 || fb->fci_len % 8)
        return TDM_EINVAL;
    return (int)(fb->fci_len / 8);
}

int tdm_rtcp_fir_entry(const struct tdm_rtcp_fb *fb, unsigned i, uint32_t *ssrc, uint8_t *seq_nr)
{
    if ((size_t)i >= fb->fci_len / 8)
        return TDM_ENOTFOUND;
    *ssrc = tdm_rd32(fb->fci + 8 * (size_t)i);
    *seq_nr = fb->fci[8 * (size_t)i + 4];
    return 0;
}

int tdm_rtcp_parse_remb(const struct tdm_rtcp_pkt *pkt, struct tdm_rtcp_remb *remb, uint32_t *ssrcs,
                        size_t max)
{
    struct tdm_rtcp_fb fb;
    int r = parse_fb_of(pkt, TDM_RTCP_PSFB, TDM_RTCP_FMT_AFB, &fb);
    if (r < 0)
        return r;
    if (fb.fci_len < 8 || memcmp(fb.fci, "REMB", 4) != 0)
        return fb.fci_len < 4 ? TDM_ETRUNC : TDM_ENOTFOUND;
    uint8_t num = fb.fci[4];
    unsigned exp = fb.fci[5] >> 2;
    uint64_t mant = ((uint64_t)(fb.fci[5] & 0x03) << 16) | tdm_rd16(fb.fci + 6);
    if (fb.fci_len - 8 < 4 * (size_t)num)
        return TDM_ETRUNC;
    remb->sender_ssrc = fb.sender_ssrc;
    remb->num_ssrc = num;
    remb->bitrate = (mant > (UINT64_MAX >> exp)) ? UINT64_MAX : mant << exp;
    for (size_t i = 0; i < num && i < max; i++)
        ssrcs[i] = tdm_rd32(fb.fci + 8 + 4 * i);
    return num;
}

/* --- transport-wide CC feedback (draft-holmer-...-01 §3.1) ----------------------------- */

struct twcc_walk {
    const uint8_t *f;
    size_t len, pos, done;
    size_t nsmall, nlarge;
    struct tdm_rtcp_twcc *tw;
    struct tdm_rtcp_twcc_status *out;
    size_t max;
};

static int twcc_symbols(struct twcc_walk *w, unsigned sym, size_t run)
{
    switch (sym) {
    case TDM_RTCP_TWCC_NOT_RECEIVED: w->tw->lost = (uint16_t)(w->tw->lost + run); break;
    case TDM_RTCP_TWCC_SMALL_DELTA: w->nsmall += run; break;
    case TDM_RTCP_TWCC_LARGE_DELTA: w->nlarge += run; break;
    default: return TDM_EINVAL; /* 3 is reserved */
    }
    for (size_t i = w->done; i < w->done + run && i < w->max; i++) {
        w->out[i].seq = (uint16_t)(w->tw->base_seq + i);
        w->out[i].symbol = (uint8_t)sym;
        w->out[i].delta = 0;
    }
    w->done += run;
    return 0;
}

/* Run-length chunks (§3.1.3) and status vector chunks (§3.1.4); symbols past the status
 * count in the last chunk are ignored. Each chunk consumes 2 bytes, so this is bounded by
 * the FCI length even when runs are 0. */
static int twcc_chunks(struct twcc_walk *w)
{
    while (w->done < w->tw->status_count) {
        if (w->len - w->pos < 2)
            return TDM_ETRUNC;
        uint16_t c = tdm_rd16(w->f + w->pos);
        w->pos += 2;
        size_t left = w->tw->status_count - w->done;
        if (!(c & 0x8000)) {
            size_t run = c & 0x1fff;
            if (twcc_symbols(w, (c >> 13) & 0x03, run < left ? run : left) < 0)
                return TDM_EINVAL;
            continue;
        }
        bool two_bit = (c & 0x4000) != 0;
        unsigned n = two_bit ? 7 : 14;
        for (unsigned k = 0; k < n && w->done < w->tw->status_count; k++) {
            unsigned sym = two_bit ? (c >> (12 - 2 * k)) & 0x03 : (c >> (13 - k)) & 0x01;
            if (twcc_symbols(w, sym, 1) < 0)
                return TDM_EINVAL;
        }
    }
    return 0;
}

/* Receive deltas follow the chunks in sequence order (§3.1.5); the caller checked that
 * they all fit. */
static void twcc_deltas(struct twcc_walk *w)
{
    size_t pos = w->pos;
    size_t n = w->tw->status_count < w->max ? w->tw->status_count : w->max;
    for (size_t i = 0; i < n; i++) {
        if (w->out[i].symbol == TDM_RTCP_TWCC_SMALL_DELTA) {
            w->out[i].delta = w->f[pos];
            pos += 1;
        } else if (w->out[i].symbol == TDM_RTCP_TWCC_LARGE_DELTA) {
            w->out[i].delta = (int16_t)tdm_rd16(w->f + pos);
            pos += 2;
        }
    }
}

int tdm_rtcp_parse_twcc(const struct tdm_rtcp_pkt *pkt, struct tdm_rtcp_twcc *tw,
                        struct tdm_rtcp_twcc_status *out, size_t max)
{
    struct tdm_rtcp_fb fb;
    int r = parse_fb_of(pkt, TDM_RTCP_RTPFB, TDM_RTCP_FMT_TWCC, &fb);
    if (r < 0)
        return r;
    if (fb.fci_len < 8)
        return TDM_ETRUNC;
    memset(tw, 0, sizeof *tw);
    tw->sender_ssrc = fb.sender_ssrc;
    tw->media_ssrc = fb.media_ssrc;
    tw->base_seq = tdm_rd16(fb.fci);
    tw->status_count = tdm_rd16(fb.fci + 2);
    tw->ref_time = sign24(rd24(fb.fci + 4));
    tw->fb_count = fb.fci[7];
    if (tw->status_count == 0)
        return TDM_EINVAL;
    struct twcc_walk w = {
        .f = fb.fci, .len = fb.fci_len, .pos = 8, .tw = tw, .out = out, .max = out ? max : 0};
    r = twcc_chunks(&w);
    if (r < 0)
        return r;
    if (w.len - w.pos < w.nsmall + 2 * w.nlarge)
        return TDM_ETRUNC;
    tw->received = (uint16_t)(w.nsmall + w.nlarge);
    twcc_deltas(&w);
    return 0;
}

/* --- SSRC rewriting ------------------------------------------------------------------- */

static int swap32(uint8_t *q, uint32_t from, uint32_t to)
{
    if (tdm_rd32(q) != from)
        return 0;
    q[0] = (uint8_t)(to >> 24);
    q[1] = (uint8_t)(to >> 16);
    q[2] = (uint8_t)(to >> 8);
    q[3] = (uint8_t)to;
    return 1;
}

static int rewrite_report(uint8_t *q, const struct tdm_rtcp_pkt *pkt, uint32_t from, uint32_t to,
                          unsigned what)
{
    struct tdm_rtcp_sr sr;
    uint32_t ssrc;
    int ok = pkt->type == TDM_RTCP_SR ? tdm_rtcp_parse_sr(pkt, &sr) : tdm_rtcp_parse_rr(pkt, &ssrc);
    if (ok < 0)
        return 0; /* too short to hold what its header claims: leave it alone */
    int n = 0;
    if (what & TDM_RTCP_RW_SENDER)
        n += swap32(q + 4, from, to);
    if (what & TDM_RTCP_RW_REPORT)
        for (size_t i = 0; i < pkt->count; i++)
            n += swap32(q + blocks_offset(pkt) + 24 * i, from, to);
    return n;
}

static int rewrite_fb(uint8_t *q, const struct tdm_rtcp_pkt *pkt, uint32_t from, uint32_t to,
                      unsigned what)
{
    struct tdm_rtcp_fb fb;
    if (tdm_rtcp_parse_fb(pkt, &fb) < 0)
        return 0;
    int n = 0;
    if (what & TDM_RTCP_RW_SENDER)
        n += swap32(q + 4, from, to);
    if (!(what & TDM_RTCP_RW_MEDIA))
        return n;
    n += swap32(q + 8, from, to);
    if (fb.type == TDM_RTCP_PSFB && fb.fmt == TDM_RTCP_FMT_FIR) {
        for (size_t off = 0; off + 8 <= fb.fci_len; off += 8)
            n += swap32(q + 12 + off, from, to);
    } else if (fb.type == TDM_RTCP_PSFB && fb.fmt == TDM_RTCP_FMT_AFB) {
        struct tdm_rtcp_remb remb;
        if (tdm_rtcp_parse_remb(pkt, &remb, NULL, 0) >= 0)
            for (size_t i = 0; i < remb.num_ssrc; i++)
                n += swap32(q + 20 + 4 * i, from, to);
    }
    return n;
}

int tdm_rtcp_rewrite_ssrc(uint8_t *p, size_t len, uint32_t from, uint32_t to, unsigned what)
{
    int r = tdm_rtcp_validate(p, len, NULL, 0);
    if (r < 0)
        return r;
    struct tdm_rtcp_iter it;
    struct tdm_rtcp_pkt pkt;
    int n = 0;
    tdm_rtcp_iter_init(&it, p, len);
    while (tdm_rtcp_iter_next(&it, &pkt, NULL, 0) == 1) {
        uint8_t *q = p + (pkt.p - p);
        if (pkt.type == TDM_RTCP_SR || pkt.type == TDM_RTCP_RR)
            n += rewrite_report(q, &pkt, from, to, what);
        else if (pkt.type == TDM_RTCP_RTPFB || pkt.type == TDM_RTCP_PSFB)
            n += rewrite_fb(q, &pkt, from, to, what);
    }
    return n;
}
