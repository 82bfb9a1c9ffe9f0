/* Per-packet costs of the RTP/RTCP stages that sit between SRTP unprotect and protect:
 * header parse with extension lookups, the per-consumer rewrite (seqmap + in-place
 * writers + transport-wide seq), the send-history copy, the receive log and receiver
 * statistics, and reading/building RTCP feedback. Prints ns per operation.
 * Build without sanitizers for meaningful figures (e.g. -DCMAKE_BUILD_TYPE=Release). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "tandem/nack.h"
#include "tandem/rtcp.h"
#include "tandem/rtp.h"
#include "tandem/rtpstats.h"
#include "tandem/rtx.h"
#include "tandem/seqmap.h"

#define N 2000000
#define PAYLOAD 1100

static double now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static volatile uint32_t sink;

/* A VP8 packet as Chrome sends it: one-byte extensions (abs-send-time, twcc, mid). */
static size_t make_packet(uint8_t *p, uint16_t seq, uint32_t ts)
{
    static const uint8_t hdr[] = {0x90, 0x60, 0,    0,    0,    0,    0,    0,    0x11, 0x22,
                                  0x33, 0x44, 0xbe, 0xde, 0x00, 0x03, 0x22, 0x12, 0x34, 0x56,
                                  0x31, 0x00, 0x07, 0x40, 0x30, 0x00, 0x00, 0x00};
    memcpy(p, hdr, sizeof hdr);
    p[2] = (uint8_t)(seq >> 8);
    p[3] = (uint8_t)seq;
    p[4] = (uint8_t)(ts >> 24);
    p[5] = (uint8_t)(ts >> 16);
    p[6] = (uint8_t)(ts >> 8);
    p[7] = (uint8_t)ts;
    memset(p + sizeof hdr, 0x5a, PAYLOAD);
    p[sizeof hdr] = 0x90;
    return sizeof hdr + PAYLOAD;
}

static void report(const char *what, double t0, double t1, double ops)
{
    printf("%-52s %8.1f ns/op\n", what, (t1 - t0) / ops);
}

static void bench_parse(uint8_t *pkt, size_t len)
{
    struct tdm_rtp_view v;
    double t0 = now_ns();
    for (int i = 0; i < N; i++) {
        uint16_t tw = 0;
        char mid[16];
        tdm_rtp_parse(&v, pkt, len, NULL, 0);
        tdm_rtp_ext_twcc_seq(&v, 3, &tw);
        tdm_rtp_ext_mid(&v, 4, mid, sizeof mid);
        sink += tw + (uint32_t)tdm_rtp_vp8_is_keyframe(pkt + v.payload_off, v.payload_len);
    }
    report("parse + twcc + mid + vp8 keyframe check", t0, now_ns(), N);
}

static void bench_forward(uint8_t *pkt, size_t len)
{
    static uint8_t scratch[1500];
    struct tdm_seqmap m;
    struct tdm_rtpstats_tx tx;
    struct tdm_rtx_hist *h = tdm_rtx_hist_create(TDM_RTX_DEFAULT_SLOTS, 1500);
    tdm_seqmap_init(&m, 1000, 5000);
    tdm_rtpstats_tx_init(&tx, 0x5000, 90000);
    struct tdm_rtp_view v;
    double t0 = now_ns();
    for (int i = 0; i < N; i++) {
        uint16_t seq = (uint16_t)i, oseq;
        uint32_t ts = (uint32_t)(i / 3) * 3000, ots;
        pkt[2] = (uint8_t)(seq >> 8);
        pkt[3] = (uint8_t)seq;
        if (tdm_seqmap_map(&m, 0x11223344, seq, ts, i * 100LL, 90000, &oseq, &ots) != 0)
            continue;
        memcpy(scratch, pkt, len);
        tdm_rtp_parse(&v, scratch, len, NULL, 0);
        tdm_rtp_set_ssrc(scratch, len, 0x5000);
        tdm_rtp_set_seq(scratch, len, oseq);
        tdm_rtp_set_ts(scratch, len, ots);
        tdm_rtp_ext_set_twcc_seq(scratch, &v, 3, (uint16_t)i);
        tdm_rtx_hist_put(h, scratch, len, i * 100LL);
        tdm_rtpstats_tx_on_packet(&tx, ots, v.payload_len, i * 100LL);
    }
    report("per consumer: seqmap+copy+rewrite+twcc+history+stats", t0, now_ns(), N);
    tdm_rtx_hist_destroy(h);
}

static void bench_receive(void)
{
    struct tdm_nack_rx *rx = tdm_nack_rx_create(NULL);
    struct tdm_rtpstats_rx st;
    uint16_t lost[64];
    tdm_rtpstats_rx_init(&st, 1, 90000);
    double t0 = now_ns();
    for (int i = 0; i < N; i++) {
        if (i % 100 == 7) /* 1 % loss */
            continue;
        tdm_nack_rx_on_packet(rx, (uint16_t)i, i * 100LL);
        tdm_rtpstats_rx_on_packet(&st, (uint16_t)i, (uint32_t)i * 30, i * 100LL, 1200);
        if (i % 100 == 0) /* collect every 10 ms of virtual time */
            sink += (uint32_t)tdm_nack_rx_collect(rx, i * 100LL, lost, 64);
    }
    report("per producer: receive log + receiver stats (1% loss)", t0, now_ns(), N);
    tdm_nack_rx_destroy(rx);
}

static void bench_rtcp(void)
{
    uint8_t buf[256];
    static const uint16_t lost[] = {100, 101, 105, 130, 131, 200};
    int n = tdm_rtcp_build_rr(buf, sizeof buf, 1, NULL, 0);
    n += tdm_rtcp_build_nack(buf + n, sizeof buf - (size_t)n, 1, 2, lost, 6);
    n += tdm_rtcp_build_pli(buf + n, sizeof buf - (size_t)n, 1, 2);
    double t0 = now_ns();
    for (int i = 0; i < N; i++) {
        struct tdm_rtcp_iter it;
        struct tdm_rtcp_pkt pkt;
        struct tdm_rtcp_fb fb;
        uint16_t seqs[64];
        tdm_rtcp_iter_init(&it, buf, (size_t)n);
        while (tdm_rtcp_iter_next(&it, &pkt, NULL, 0) == 1)
            if (tdm_rtcp_parse_nack(&pkt, &fb) == 0)
                sink += (uint32_t)tdm_rtcp_nack_expand(&fb, seqs, 64);
        tdm_rtcp_rewrite_ssrc(buf, (size_t)n, 2, 3, TDM_RTCP_RW_MEDIA);
        tdm_rtcp_rewrite_ssrc(buf, (size_t)n, 3, 2, TDM_RTCP_RW_MEDIA);
    }
    report("RR+NACK+PLI compound: walk, expand, rewrite x2", t0, now_ns(), N);
    t0 = now_ns();
    for (int i = 0; i < N; i++)
        sink += (uint32_t)tdm_rtcp_build_nack(buf, sizeof buf, 1, 2, lost, 6);
    report("build NACK (6 numbers)", t0, now_ns(), N);
}

int main(void)
{
    static uint8_t pkt[1500];
    size_t len = make_packet(pkt, 0, 0);
    printf("bench_rtp: %d iterations, %d-byte payload\n", N, PAYLOAD);
    bench_parse(pkt, len);
    bench_forward(pkt, len);
    bench_receive();
    bench_rtcp();
    return sink == 42 ? 1 : 0;
}
