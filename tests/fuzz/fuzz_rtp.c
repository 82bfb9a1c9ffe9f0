/* libFuzzer target: the RTP header view and everything that reads a packet after it.
 *
 * Input: one RTP packet as it would come out of SRTP unprotect. Every reader must stay in
 * bounds; when the parse succeeds, the view must be consistent, every extension found
 * must lie inside the block, in-place writers must change only the bytes they own, and
 * RTX wrap then unwrap must give back the packet (without its padding). The same bytes
 * then drive the per-stream state (seqmap, receive log, statistics, send history) as a
 * series of (ssrc, seq, ts, time) steps. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tandem/nack.h"
#include "tandem/rtp.h"
#include "tandem/rtpstats.h"
#include "tandem/rtx.h"
#include "tandem/seqmap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            abort();                                                                               \
    } while (0)

static void extensions(const struct tdm_rtp_view *v, uint8_t *copy)
{
    unsigned max_id = v->ext_form == TDM_RTP_EXT_TWO_BYTE ? 255 : 14;
    for (unsigned id = 1; id <= max_id; id++) {
        size_t off, len;
        if (tdm_rtp_ext_find(v, (uint8_t)id, &off, &len) != 0)
            continue;
        CHECK(off >= v->ext_off && off + len <= v->ext_off + v->ext_len);
        char mid[32];
        uint8_t level;
        bool voice;
        uint16_t tw;
        (void)tdm_rtp_ext_mid(v, (uint8_t)id, mid, sizeof mid);
        (void)tdm_rtp_ext_audio_level(v, (uint8_t)id, &level, &voice);
        size_t eoff, elen;
        if (tdm_rtp_ext_find(v, (uint8_t)id, &eoff, &elen) == 0)
            CHECK(eoff + elen <= v->len);
        if (tdm_rtp_ext_twcc_seq(v, (uint8_t)id, &tw) == 0) {
            struct tdm_rtp_view w;
            CHECK(tdm_rtp_parse(&w, copy, v->len, NULL, 0) == 0);
            CHECK(tdm_rtp_ext_set_twcc_seq(copy, &w, (uint8_t)id, (uint16_t)(tw + 1)) == 0);
            uint16_t back;
            CHECK(tdm_rtp_ext_twcc_seq(&w, (uint8_t)id, &back) == 0);
            CHECK(back == (uint16_t)(tw + 1));
        }
    }
}

static void payloads(const struct tdm_rtp_view *v)
{
    const uint8_t *pl = v->buf + v->payload_off;
    struct tdm_rtp_vp8_desc d8;
    struct tdm_rtp_vp9_desc d9;
    if (tdm_rtp_vp8_parse(&d8, pl, v->payload_len) == 0)
        CHECK(d8.header_len < v->payload_len);
    if (tdm_rtp_vp9_parse(&d9, pl, v->payload_len) == 0)
        CHECK(d9.header_len < v->payload_len);
    (void)tdm_rtp_h264_is_keyframe(pl, v->payload_len);
}

static void rtx_round_trip(const struct tdm_rtp_view *v, const uint8_t *data)
{
    static uint8_t out[70000];
    int n = tdm_rtx_wrap(out, sizeof out, data, v->len, 97, 0x12345678, 7);
    if (n < 0)
        return;
    CHECK((size_t)n == v->header_len + 2 + v->payload_len);
    int m = tdm_rtx_unwrap(out, (size_t)n, v->pt, v->ssrc);
    CHECK(m == (int)(v->header_len + v->payload_len));
    CHECK(memcmp(out + 1, data + 1, v->header_len - 1) == 0);
    CHECK((out[0] | 0x20) == (data[0] | 0x20));
    CHECK(v->payload_len == 0 ||
          memcmp(out + v->header_len, data + v->payload_off, v->payload_len) == 0);
}

static void packet(const uint8_t *data, size_t size)
{
    struct tdm_rtp_view v;
    char err[128];
    if (tdm_rtp_parse(&v, data, size, err, sizeof err) != 0)
        return;
    CHECK(v.payload_off == v.header_len);
    CHECK(v.header_len + v.payload_len + v.padding_len == size);
    uint8_t *copy = malloc(size);
    CHECK(copy);
    memcpy(copy, data, size);
    extensions(&v, copy);
    payloads(&v);
    rtx_round_trip(&v, data);
    CHECK(tdm_rtp_set_seq(copy, size, 1) == 0 && tdm_rtp_set_ts(copy, size, 2) == 0 &&
          tdm_rtp_set_ssrc(copy, size, 3) == 0 && tdm_rtp_set_pt(copy, size, 4) == 0);
    struct tdm_rtp_view w;
    CHECK(tdm_rtp_parse(&w, copy, size, NULL, 0) == 0);
    CHECK(w.seq == 1 && w.ts == 2 && w.ssrc == 3 && w.pt == 4 && w.marker == v.marker);
    CHECK(w.payload_len == v.payload_len);
    free(copy);
}

/* 8-byte steps: ssrc selector (1), flags (1), seq (2), ts (4, with time derived). */
static void streams(const uint8_t *data, size_t size)
{
    struct tdm_seqmap m;
    struct tdm_rtpstats_rx rs;
    struct tdm_rtpstats_tx ts;
    struct tdm_nack_rx *rx = tdm_nack_rx_create(NULL);
    struct tdm_rtx_hist *h = tdm_rtx_hist_create(16, 80);
    CHECK(rx && h);
    tdm_seqmap_init(&m, 65530, 0xfffffff0u);
    tdm_rtpstats_rx_init(&rs, 1, 90000);
    tdm_rtpstats_tx_init(&ts, 2, 90000);
    int64_t now = 0;
    uint16_t lost[64];
    uint8_t pkt[80] = {0x80, 96};
    for (size_t i = 0; i + 8 <= size; i += 8) {
        const uint8_t *s = data + i;
        uint32_t ssrc = s[0] & 3;
        uint16_t seq = (uint16_t)((s[2] << 8) | s[3]);
        uint32_t rtp_ts = ((uint32_t)s[4] << 24) | ((uint32_t)s[5] << 16) | (s[6] << 8) | s[7];
        now += (s[1] & 0x3f) * 1000;
        if (s[1] & 0x40)
            tdm_seqmap_switch(&m, ssrc);
        uint16_t oseq;
        uint32_t ots;
        if (s[1] & 0x80) {
            (void)tdm_seqmap_drop(&m, ssrc, seq);
        } else if (tdm_seqmap_map(&m, ssrc, seq, rtp_ts, now, 90000, &oseq, &ots) == 0) {
            pkt[2] = (uint8_t)(oseq >> 8);
            pkt[3] = (uint8_t)oseq;
            CHECK(tdm_rtx_hist_put(h, pkt, 12 + (s[0] >> 2), now) == 0);
            tdm_rtpstats_tx_on_packet(&ts, ots, s[0] >> 2, now);
        }
        (void)tdm_nack_rx_on_packet(rx, seq, now);
        (void)tdm_rtpstats_rx_on_packet(&rs, seq, rtp_ts, now, 100);
        size_t n = tdm_nack_rx_collect(rx, now, lost, 64);
        CHECK(n <= 64);
        const uint8_t *got;
        for (size_t k = 0; k < n; k++)
            if (tdm_rtx_hist_get(h, lost[k], now, &got) >= 0)
                CHECK(got[2] == (uint8_t)(lost[k] >> 8) && got[3] == (uint8_t)lost[k]);
    }
    struct tdm_rtcp_rb rb;
    struct tdm_rtcp_sr sr;
    (void)tdm_rtpstats_rx_report(&rs, now, &rb);
    (void)tdm_rtpstats_tx_sr(&ts, now, now, &sr);
    (void)tdm_nack_rx_next_deadline(rx);
    tdm_nack_rx_destroy(rx);
    tdm_rtx_hist_destroy(h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    packet(data, size);
    streams(data, size);
    return 0;
}
