/* RTCP builders: SR, RR, SDES CNAME, PLI, FIR, NACK, REMB into a caller's buffer.
 * Per-packet code: no allocation, no locks, no logging. */
#include "tandem/err.h"
#include "tandem/util.h"
#include "tandem/rtcp.h"

#include <string.h>

/* RFC 3550 §6.4.1: the length field counts 32-bit words minus one. */
static int put_header(uint8_t *out, uint8_t count, uint8_t type, size_t total)
{
    out[0] = (uint8_t)(0x80 | (count & 0x1f));
    out[1] = type;
    tdm_wr16(out + 2, (uint16_t)(total / 4 - 1));
    return (int)total;
}

static bool fits(size_t total, size_t cap)
{
    /* The 16-bit length field bounds a packet at 65536 words. */
    return total <= cap && total / 4 - 1 <= 0xffff;
}

static void put_block(uint8_t *q, const struct tdm_rtcp_rb *rb)
{
    /* §6.4.1: cumulative lost is 24-bit signed; clamp rather than wrap. */
    int32_t lost = rb->cumulative_lost;
    if (lost > 0x7fffff)
        lost = 0x7fffff;
    if (lost < -0x800000)
        lost = -0x800000;
    uint32_t l24 = (uint32_t)lost & 0xffffffu;
    tdm_wr32(q, rb->ssrc);
    q[4] = rb->fraction_lost;
    q[5] = (uint8_t)(l24 >> 16);
    q[6] = (uint8_t)(l24 >> 8);
    q[7] = (uint8_t)l24;
    tdm_wr32(q + 8, rb->ext_highest_seq);
    tdm_wr32(q + 12, rb->jitter);
    tdm_wr32(q + 16, rb->lsr);
    tdm_wr32(q + 20, rb->dlsr);
}

int tdm_rtcp_build_sr(uint8_t *out, size_t cap, const struct tdm_rtcp_sr *sr,
                      const struct tdm_rtcp_rb *blocks, size_t nblocks)
{
    if (nblocks > TDM_RTCP_MAX_BLOCKS || (nblocks && !blocks))
        return TDM_EINVAL;
    size_t total = 28 + 24 * nblocks;
    if (!out || !fits(total, cap))
        return TDM_ETOOBIG;
    tdm_wr32(out + 4, sr->ssrc);
    tdm_wr32(out + 8, (uint32_t)(sr->ntp >> 32));
    tdm_wr32(out + 12, (uint32_t)sr->ntp);
    tdm_wr32(out + 16, sr->rtp_ts);
    tdm_wr32(out + 20, sr->packet_count);
    tdm_wr32(out + 24, sr->octet_count);
    for (size_t i = 0; i < nblocks; i++)
        put_block(out + 28 + 24 * i, &blocks[i]);
    return put_header(out, (uint8_t)nblocks, TDM_RTCP_SR, total);
}

int tdm_rtcp_build_rr(uint8_t *out, size_t cap, uint32_t ssrc, const struct tdm_rtcp_rb *blocks,
                      size_t nblocks)
{
    if (nblocks > TDM_RTCP_MAX_BLOCKS || (nblocks && !blocks))
        return TDM_EINVAL;
    size_t total = 8 + 24 * nblocks;
    if (!out || !fits(total, cap))
        return TDM_ETOOBIG;
    tdm_wr32(out + 4, ssrc);
    for (size_t i = 0; i < nblocks; i++)
        put_block(out + 8 + 24 * i, &blocks[i]);
    return put_header(out, (uint8_t)nblocks, TDM_RTCP_RR, total);
}

int tdm_rtcp_build_sdes_cname(uint8_t *out, size_t cap, uint32_t ssrc, const char *cname,
                              size_t cname_len)
{
    if (!cname || cname_len == 0 || cname_len > 255)
        return TDM_EINVAL;
    /* §6.5: SSRC, items (type 1 = CNAME, length, text), then at least one null octet,
     * padded to a 32-bit boundary. */
    size_t chunk = (4 + 2 + cname_len + 1 + 3) & ~(size_t)3;
    size_t total = 4 + chunk;
    if (!out || !fits(total, cap))
        return TDM_ETOOBIG;
    memset(out + 4, 0, chunk);
    tdm_wr32(out + 4, ssrc);
    out[8] = 1;
    out[9] = (uint8_t)cname_len;
    memcpy(out + 10, cname, cname_len);
    return put_header(out, 1, TDM_RTCP_SDES, total);
}

static int build_fb(uint8_t *out, size_t cap, uint8_t type, uint8_t fmt, uint32_t sender,
                    uint32_t media, size_t fci_len)
{
    size_t total = 12 + fci_len;
    if (!out || !fits(total, cap))
        return TDM_ETOOBIG;
    tdm_wr32(out + 4, sender);
    tdm_wr32(out + 8, media);
    return put_header(out, fmt, type, total);
}

int tdm_rtcp_build_pli(uint8_t *out, size_t cap, uint32_t sender_ssrc, uint32_t media_ssrc)
{
    return build_fb(out, cap, TDM_RTCP_PSFB, TDM_RTCP_FMT_PLI, sender_ssrc, media_ssrc, 0);
}

int tdm_rtcp_build_fir(uint8_t *out, size_t cap, uint32_t sender_ssrc, uint32_t media_ssrc,
                       uint8_t seq_nr)
{
    int n = build_fb(out, cap, TDM_RTCP_PSFB, TDM_RTCP_FMT_FIR, sender_ssrc, 0, 8);
    if (n < 0)
        return n;
    tdm_wr32(out + 12, media_ssrc);
    out[16] = seq_nr;
    out[17] = out[18] = out[19] = 0;
    return n;
}

int tdm_rtcp_build_nack(uint8_t *out, size_t cap, uint32_t sender_ssrc, uint32_t media_ssrc,
                        const uint16_t *lost, size_t n)
{
    if (!lost || n == 0)
        return TDM_EINVAL;
    if (!out || cap < 16)
        return TDM_ETOOBIG;
    size_t pos = 12; /* the open entry is at pos, [pos, pos + 4) */
    uint16_t pid = lost[0], blp = 0;
    for (size_t i = 1; i < n; i++) {
        uint16_t d = (uint16_t)(lost[i] - pid);
        if (d == 0)
            continue;
        if (d <= 16) {
            blp = (uint16_t)(blp | (1u << (d - 1)));
            continue;
        }
        tdm_wr16(out + pos, pid);
        tdm_wr16(out + pos + 2, blp);
        pos += 4;
        if (!fits(pos + 4, cap))
            return TDM_ETOOBIG;
        pid = lost[i];
        blp = 0;
    }
    tdm_wr16(out + pos, pid);
    tdm_wr16(out + pos + 2, blp);
    return build_fb(out, cap, TDM_RTCP_RTPFB, TDM_RTCP_FMT_NACK, sender_ssrc, media_ssrc,
                    pos + 4 - 12);
}

int tdm_rtcp_build_remb(uint8_t *out, size_t cap, uint32_t sender_ssrc, uint64_t bitrate,
                        const uint32_t *ssrcs, size_t n)
{
    if (n > 255 || (n && !ssrcs))
        return TDM_EINVAL;
    int len = build_fb(out, cap, TDM_RTCP_PSFB, TDM_RTCP_FMT_AFB, sender_ssrc, 0, 8 + 4 * n);
    if (len < 0)
        return len;
    /* 18-bit mantissa, 6-bit exponent: shift until it fits (2^64-1 >> 46 does). */
    unsigned exp = 0;
    while ((bitrate >> exp) > 0x3ffff)
        exp++;
    uint32_t mant = (uint32_t)(bitrate >> exp);
    memcpy(out + 12, "REMB", 4);
    out[16] = (uint8_t)n;
    out[17] = (uint8_t)((exp << 2) | (mant >> 16));
    tdm_wr16(out + 18, (uint16_t)mant);
    for (size_t i = 0; i < n; i++)
        tdm_wr32(out + 20 + 4 * i, ssrcs[i]);
    return len;
}
