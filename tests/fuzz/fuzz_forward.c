/* libFuzzer target: forwarding a packet into a subscriber's session (core/forward.c).
 *
 * Input: 2 * TDM_SDP_EXT_COUNT bytes of negotiated extension ids (the publisher's, then the
 * subscriber's), then one RTP packet as it comes out of SRTP unprotect. When the packet
 * parses, the rewrite must keep its length, change nothing but the fixed-header fields and
 * the extension id nibbles/bytes, leave a packet that parses with the same layout, and
 * never write past the output. The REMB target must stay within [floor, cap]. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tandem/err.h"
#include "tandem/forward.h"
#include "tandem/rtp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            abort();                                                                               \
    } while (0)

#define IDS (2 * TDM_SDP_EXT_COUNT)

static void remb(const uint8_t *p, size_t n)
{
    struct tdm_fwd_remb_in in[8];
    size_t k = 0;
    for (; k < 8 && n >= 9; k++, p += 9, n -= 9) {
        in[k].remb_bps = (uint64_t)p[0] << 24 | (uint64_t)p[1] << 16 | (uint64_t)p[2] << 8 | p[3];
        in[k].video_streams = p[4];
        in[k].rate_bps = (uint64_t)p[5] << 24 | (uint64_t)p[6] << 16 | (uint64_t)p[7] << 8 | p[8];
    }
    uint64_t t = tdm_fwd_remb_target(in, k, 150000, 2000000);
    CHECK(t >= 150000 && t <= 2000000);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < IDS)
        return 0;
    remb(data, size);
    struct tdm_fwd_extmap m;
    if (tdm_fwd_extmap_build(&m, data, data + TDM_SDP_EXT_COUNT) != 0)
        return 0;
    CHECK(m.map[0] == 0);
    for (int id = 1; id < 256; id++)
        CHECK(m.map[id] != 0);
    const uint8_t *pkt = data + IDS;
    size_t len = size - IDS;
    struct tdm_rtp_view v, w;
    if (tdm_rtp_parse(&v, pkt, len, NULL, 0) != 0)
        return 0;
    uint8_t *out = malloc(len + 1);
    CHECK(out);
    out[len] = 0xA5; /* a guard byte past the packet */
    struct tdm_fwd_out o = {
        .ssrc = 0x11223344, .seq = 0x5566, .ts = 0x778899AA, .pt = 96, .extmap = &m};
    CHECK(tdm_fwd_rewrite(out, len - 1, &v, &o) == TDM_ETOOBIG);
    CHECK(tdm_fwd_rewrite(out, len, &v, &o) == (int)len);
    CHECK(out[len] == 0xA5);
    CHECK(tdm_rtp_parse(&w, out, len, NULL, 0) == 0);
    CHECK(w.ssrc == o.ssrc && w.seq == o.seq && w.ts == o.ts && w.pt == o.pt);
    CHECK(w.marker == v.marker && w.header_len == v.header_len && w.payload_len == v.payload_len);
    CHECK(memcmp(out + v.header_len, pkt + v.header_len, len - v.header_len) == 0);
    CHECK(memcmp(out + 12, pkt + 12, v.ext_off > 12 ? v.ext_off - 12 : 0) == 0);
    free(out);
    return 0;
}
