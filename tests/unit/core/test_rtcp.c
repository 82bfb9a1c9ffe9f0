#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "tandem/err.h"
#include "tandem/rtcp.h"

static size_t load(const char *name, uint8_t *buf, size_t cap)
{
    char path[512];
    snprintf(path, sizeof path, "%s/rtcp/%s", TANDEM_TEST_DATA, name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    size_t n = fread(buf, 1, cap, f);
    fclose(f);
    assert_true(n > 0 && n < cap);
    return n;
}

/* The only packet of a one-packet buffer. */
static struct tdm_rtcp_pkt only(const uint8_t *p, size_t n)
{
    struct tdm_rtcp_iter it;
    struct tdm_rtcp_pkt pkt;
    tdm_rtcp_iter_init(&it, p, n);
    assert_int_equal(tdm_rtcp_iter_next(&it, &pkt, NULL, 0), 1);
    assert_int_equal(tdm_rtcp_iter_next(&it, &pkt, NULL, 0), 0);
    tdm_rtcp_iter_init(&it, p, n);
    assert_int_equal(tdm_rtcp_iter_next(&it, &pkt, NULL, 0), 1);
    return pkt;
}

static void walks_browser_style_compound(void **state)
{
    (void)state;
    uint8_t p[256];
    size_t n = load("rr_sdes_pli_nack.bin", p, sizeof p);
    assert_int_equal(tdm_rtcp_validate(p, n, NULL, 0), 4);
    struct tdm_rtcp_iter it;
    struct tdm_rtcp_pkt pkt;
    const uint8_t types[] = {TDM_RTCP_RR, TDM_RTCP_SDES, TDM_RTCP_PSFB, TDM_RTCP_RTPFB};
    tdm_rtcp_iter_init(&it, p, n);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(tdm_rtcp_iter_next(&it, &pkt, NULL, 0), 1);
        assert_int_equal(pkt.type, types[i]);
        if (pkt.type == TDM_RTCP_RR) {
            uint32_t ssrc;
            struct tdm_rtcp_rb rb;
            assert_int_equal(tdm_rtcp_parse_rr(&pkt, &ssrc), 1);
            assert_int_equal(ssrc, 1);
            assert_int_equal(tdm_rtcp_report_block(&pkt, 0, &rb), 0);
            assert_int_equal(rb.ssrc, 0x1a2b3c4d);
            assert_int_equal(rb.fraction_lost, 0x40);
            assert_int_equal(rb.cumulative_lost, -3);
            assert_int_equal(rb.ext_highest_seq, 0x0001fffe);
            assert_int_equal(rb.jitter, 123);
            assert_int_equal(rb.lsr, 0x12345678);
            assert_int_equal(rb.dlsr, 0x10000);
            assert_int_equal(tdm_rtcp_report_block(&pkt, 1, &rb), TDM_ENOTFOUND);
        } else if (pkt.type == TDM_RTCP_PSFB) {
            struct tdm_rtcp_fb fb;
            assert_int_equal(tdm_rtcp_parse_pli(&pkt, &fb), 0);
            assert_int_equal(fb.sender_ssrc, 1);
            assert_int_equal(fb.media_ssrc, 0x1a2b3c4d);
            assert_int_equal(tdm_rtcp_parse_nack(&pkt, &fb), TDM_EINVAL);
        } else if (pkt.type == TDM_RTCP_RTPFB) {
            struct tdm_rtcp_fb fb;
            uint16_t seqs[TDM_RTCP_NACK_PER_FCI];
            assert_int_equal(tdm_rtcp_parse_nack(&pkt, &fb), 0);
            assert_int_equal(tdm_rtcp_nack_expand(&fb, seqs, 17), 3);
            assert_int_equal(seqs[0], 0xfffe);
            assert_int_equal(seqs[1], 0xffff);
            assert_int_equal(seqs[2], 0x0001); /* across the wrap */
            assert_int_equal(tdm_rtcp_nack_expand(&fb, seqs, 2), 2);
        }
    }
    assert_int_equal(tdm_rtcp_iter_next(&it, &pkt, NULL, 0), 0);
}

static void sender_report(void **state)
{
    (void)state;
    uint8_t p[256];
    size_t n = load("sr_sdes.bin", p, sizeof p);
    assert_int_equal(tdm_rtcp_validate(p, n, NULL, 0), 2);
    struct tdm_rtcp_pkt pkt = only(p, 28);
    struct tdm_rtcp_sr sr;
    assert_int_equal(tdm_rtcp_parse_sr(&pkt, &sr), 0);
    assert_int_equal(sr.ssrc, 0x1a2b3c4d);
    assert_true(sr.ntp == 0xe87e2a5180000000ull);
    assert_int_equal(sr.rtp_ts, 0xffffff00u);
    assert_int_equal(sr.packet_count, 1000);
    assert_int_equal(sr.octet_count, 123456);
    assert_int_equal(sr.nblocks, 0);
    uint32_t ssrc;
    assert_int_equal(tdm_rtcp_parse_rr(&pkt, &ssrc), TDM_EINVAL);
    /* Claims a report block its length does not hold. */
    p[0] = 0x81;
    pkt = only(p, 28);
    assert_int_equal(tdm_rtcp_parse_sr(&pkt, &sr), TDM_ETRUNC);
}

static void bye_with_reason(void **state)
{
    (void)state;
    uint8_t p[64];
    size_t n = load("bye.bin", p, sizeof p);
    struct tdm_rtcp_pkt pkt = only(p, n);
    uint32_t ssrcs[4];
    const uint8_t *reason;
    size_t rlen;
    assert_int_equal(tdm_rtcp_parse_bye(&pkt, ssrcs, 4, &reason, &rlen), 1);
    assert_int_equal(ssrcs[0], 0x1a2b3c4d);
    assert_int_equal(rlen, 4);
    assert_memory_equal(reason, "bye!", 4);
    p[8] = 200; /* reason length past the packet */
    assert_int_equal(tdm_rtcp_parse_bye(&pkt, ssrcs, 4, &reason, &rlen), TDM_ETRUNC);
    p[0] = 0x85; /* five SSRCs in a 12-byte body */
    pkt = only(p, n);
    assert_int_equal(tdm_rtcp_parse_bye(&pkt, ssrcs, 4, NULL, NULL), TDM_ETRUNC);
}

static void fir_and_remb(void **state)
{
    (void)state;
    uint8_t p[64];
    size_t n = load("fir.bin", p, sizeof p);
    struct tdm_rtcp_pkt pkt = only(p, n);
    struct tdm_rtcp_fb fb;
    uint32_t ssrc;
    uint8_t seqnr;
    assert_int_equal(tdm_rtcp_parse_fir(&pkt, &fb), 1);
    assert_int_equal(fb.media_ssrc, 0);
    assert_int_equal(tdm_rtcp_fir_entry(&fb, 0, &ssrc, &seqnr), 0);
    assert_int_equal(ssrc, 0x1a2b3c4d);
    assert_int_equal(seqnr, 5);
    assert_int_equal(tdm_rtcp_fir_entry(&fb, 1, &ssrc, &seqnr), TDM_ENOTFOUND);
    const uint8_t fir0[] = {0x84, 206, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0}; /* no FCI */
    pkt = only(fir0, sizeof fir0);
    assert_int_equal(tdm_rtcp_parse_fir(&pkt, &fb), TDM_EINVAL);

    n = load("remb.bin", p, sizeof p);
    pkt = only(p, n);
    struct tdm_rtcp_remb remb;
    uint32_t ssrcs[2];
    assert_int_equal(tdm_rtcp_parse_remb(&pkt, &remb, ssrcs, 2), 1);
    assert_true(remb.bitrate == 1000000);
    assert_int_equal(ssrcs[0], 0x1a2b3c4d);
    p[17] = 0xff, p[18] = 0xff, p[19] = 0xff; /* exponent 63, full mantissa: saturate */
    assert_int_equal(tdm_rtcp_parse_remb(&pkt, &remb, ssrcs, 2), 1);
    assert_true(remb.bitrate == UINT64_MAX);
    p[16] = 2; /* two SSRCs claimed, one present */
    assert_int_equal(tdm_rtcp_parse_remb(&pkt, &remb, ssrcs, 2), TDM_ETRUNC);
    p[12] = 'X';
    assert_int_equal(tdm_rtcp_parse_remb(&pkt, &remb, ssrcs, 2), TDM_ENOTFOUND);
}

static void transport_cc(void **state)
{
    (void)state;
    uint8_t p[128];
    size_t n = load("twcc.bin", p, sizeof p);
    struct tdm_rtcp_pkt pkt = only(p, n);
    struct tdm_rtcp_twcc tw;
    struct tdm_rtcp_twcc_status st[8];
    assert_int_equal(tdm_rtcp_parse_twcc(&pkt, &tw, st, 8), 0);
    assert_int_equal(tw.media_ssrc, 0x1a2b3c4d);
    assert_int_equal(tw.base_seq, 0xfffe);
    assert_int_equal(tw.status_count, 5);
    assert_int_equal(tw.ref_time, -1);
    assert_int_equal(tw.fb_count, 7);
    assert_int_equal(tw.received, 4);
    assert_int_equal(tw.lost, 1);
    const uint16_t seq[] = {0xfffe, 0xffff, 0, 1, 2};
    const uint8_t sym[] = {1, 1, 2, 0, 1};
    const int32_t delta[] = {0x10, 0x20, -200, 0, 4};
    for (int i = 0; i < 5; i++) {
        assert_int_equal(st[i].seq, seq[i]);
        assert_int_equal(st[i].symbol, sym[i]);
        assert_int_equal(st[i].delta, delta[i]);
    }
    /* A short output array still validates everything. */
    assert_int_equal(tdm_rtcp_parse_twcc(&pkt, &tw, st, 1), 0);
    assert_int_equal(tdm_rtcp_parse_twcc(&pkt, &tw, NULL, 0), 0);
    assert_int_equal(tw.received, 4);

    /* Deltas cut short: with one word less, 4 of the 5 delta bytes remain. */
    uint8_t q[128];
    memcpy(q, p, n);
    q[3] = 6;
    pkt = only(q, 28);
    assert_int_equal(tdm_rtcp_parse_twcc(&pkt, &tw, st, 8), TDM_ETRUNC);
    /* Vector [large, not, large]: 6 delta bytes, which the full packet holds. */
    memcpy(q, p, n);
    q[22] = 0xe2, q[23] = 0x00;
    pkt = only(q, n);
    assert_int_equal(tdm_rtcp_parse_twcc(&pkt, &tw, st, 8), 0);
    assert_int_equal(st[4].symbol, TDM_RTCP_TWCC_LARGE_DELTA);
    assert_int_equal(st[4].delta, 0x0400);
    /* Reserved symbol 3 in a run-length chunk. */
    memcpy(q, p, n);
    q[20] = 0x60, q[21] = 0x02;
    pkt = only(q, n);
    assert_int_equal(tdm_rtcp_parse_twcc(&pkt, &tw, st, 8), TDM_EINVAL);
    /* Status count 0. */
    memcpy(q, p, n);
    q[14] = 0, q[15] = 0;
    assert_int_equal(tdm_rtcp_parse_twcc(&pkt, &tw, st, 8), TDM_EINVAL);
    /* A run of 1000 small deltas with 8 delta bytes behind it. */
    memcpy(q, p, n);
    q[14] = 0x03, q[15] = 0xe8, q[20] = 0x23, q[21] = 0xe8;
    assert_int_equal(tdm_rtcp_parse_twcc(&pkt, &tw, st, 8), TDM_ETRUNC);
    /* More packets than the chunks before the end describe. */
    memcpy(q, p, n);
    q[3] = 5, q[15] = 200;
    pkt = only(q, 24);
    assert_int_equal(tdm_rtcp_parse_twcc(&pkt, &tw, st, 8), TDM_ETRUNC);
}

static void rejects_malformed_compounds(void **state)
{
    (void)state;
    char err[128];
    uint8_t p[256];
    size_t n = load("rr_sdes_pli_nack.bin", p, sizeof p);
    assert_int_equal(tdm_rtcp_validate(p, 0, err, sizeof err), TDM_ETRUNC);
    assert_int_equal(tdm_rtcp_validate(NULL, 4, err, sizeof err), TDM_ETRUNC);
    assert_int_equal(tdm_rtcp_validate(p, 3, err, sizeof err), TDM_ETRUNC);
    assert_int_equal(tdm_rtcp_validate(p, n, err, sizeof err), 4);
    assert_int_equal(tdm_rtcp_validate(p, n - 1, err, sizeof err), TDM_ETRUNC);
    /* Every prefix that cuts a packet is rejected; the others count whole packets. */
    for (size_t i = 1; i < n; i++) {
        int r = tdm_rtcp_validate(p, i, NULL, 0);
        if (i == 32 || i == 48 || i == 60)
            assert_true(r > 0);
        else
            assert_int_equal(r, TDM_ETRUNC);
    }
    uint8_t q[256];
    memcpy(q, p, n);
    q[2] = 0x10; /* RR length past the compound end */
    assert_int_equal(tdm_rtcp_validate(q, n, err, sizeof err), TDM_ETRUNC);
    assert_non_null(strstr(err, "past the end"));
    memcpy(q, p, n);
    q[32] = 0x41; /* SDES with version 1 */
    assert_int_equal(tdm_rtcp_validate(q, n, err, sizeof err), TDM_EINVAL);
    memcpy(q, p, n);
    q[0] |= 0x20; /* padding on the first packet, with a count that would fit */
    q[31] = 4;
    assert_int_equal(tdm_rtcp_validate(q, n, err, sizeof err), TDM_EINVAL);
    assert_non_null(strstr(err, "not the last"));
    memcpy(q, p, n);
    q[60] |= 0x20; /* padding on the last packet (the NACK, 12-byte body) */
    q[75] = 0;
    assert_int_equal(tdm_rtcp_validate(q, n, err, sizeof err), TDM_EINVAL); /* count 0 */
    q[75] = 13;
    assert_int_equal(tdm_rtcp_validate(q, n, err, sizeof err), TDM_EINVAL); /* > body */
    q[75] = 4;
    assert_int_equal(tdm_rtcp_validate(q, n, err, sizeof err), 4);
    /* The NACK's FCI is now all padding: zero entries. */
    struct tdm_rtcp_iter it;
    struct tdm_rtcp_pkt pkt;
    struct tdm_rtcp_fb fb;
    tdm_rtcp_iter_init(&it, q + 60, 16);
    assert_int_equal(tdm_rtcp_iter_next(&it, &pkt, NULL, 0), 1);
    assert_int_equal(tdm_rtcp_parse_nack(&pkt, &fb), TDM_EINVAL);
    /* A zero-length RR (header only): walkable, but not a report. */
    const uint8_t rr0[] = {0x80, 201, 0, 0};
    assert_int_equal(tdm_rtcp_validate(rr0, 4, NULL, 0), 1);
    pkt = only(rr0, 4);
    uint32_t ssrc;
    assert_int_equal(tdm_rtcp_parse_rr(&pkt, &ssrc), TDM_ETRUNC);
    assert_int_equal(tdm_rtcp_parse_fb(&pkt, &fb), TDM_EINVAL);
    const uint8_t fb0[] = {0x81, 206, 0, 0};
    pkt = only(fb0, 4);
    assert_int_equal(tdm_rtcp_parse_pli(&pkt, &fb), TDM_ETRUNC);
    /* After an error the iterator stays at its end. */
    tdm_rtcp_iter_init(&it, p, 3);
    assert_int_equal(tdm_rtcp_iter_next(&it, &pkt, NULL, 0), TDM_ETRUNC);
    assert_int_equal(tdm_rtcp_iter_next(&it, &pkt, NULL, 0), 0);
}

static void rewrites_consumer_ssrc_to_producer(void **state)
{
    (void)state;
    uint8_t p[256], orig[256];
    size_t n = load("rr_sdes_pli_nack.bin", p, sizeof p);
    memcpy(orig, p, n);
    const uint32_t consumer = 0x1a2b3c4d, producer = 0x0badcafe, server = 0x5e5e5e5e;
    /* The report block, the PLI and the NACK name the consumer SSRC. */
    assert_int_equal(tdm_rtcp_rewrite_ssrc(p, n, consumer, producer, TDM_RTCP_RW_MEDIA), 2);
    assert_int_equal(tdm_rtcp_rewrite_ssrc(p, n, consumer, producer, TDM_RTCP_RW_REPORT), 1);
    assert_int_equal(tdm_rtcp_rewrite_ssrc(p, n, 1, server, TDM_RTCP_RW_SENDER), 3);
    struct tdm_rtcp_iter it;
    struct tdm_rtcp_pkt pkt;
    struct tdm_rtcp_fb fb;
    struct tdm_rtcp_rb rb;
    uint32_t ssrc;
    tdm_rtcp_iter_init(&it, p, n);
    assert_int_equal(tdm_rtcp_iter_next(&it, &pkt, NULL, 0), 1);
    assert_int_equal(tdm_rtcp_parse_rr(&pkt, &ssrc), 1);
    assert_int_equal(ssrc, server);
    assert_int_equal(tdm_rtcp_report_block(&pkt, 0, &rb), 0);
    assert_int_equal(rb.ssrc, producer);
    assert_int_equal(tdm_rtcp_iter_next(&it, &pkt, NULL, 0), 1); /* SDES untouched */
    assert_memory_equal(pkt.p, orig + 32, 16);
    assert_int_equal(tdm_rtcp_iter_next(&it, &pkt, NULL, 0), 1);
    assert_int_equal(tdm_rtcp_parse_pli(&pkt, &fb), 0);
    assert_int_equal(fb.sender_ssrc, server);
    assert_int_equal(fb.media_ssrc, producer);
    assert_int_equal(tdm_rtcp_iter_next(&it, &pkt, NULL, 0), 1);
    assert_int_equal(tdm_rtcp_parse_nack(&pkt, &fb), 0);
    assert_int_equal(fb.media_ssrc, producer);
    /* Malformed input is refused and left as it was. */
    memcpy(p, orig, n);
    assert_int_equal(tdm_rtcp_rewrite_ssrc(p, n - 2, consumer, producer, TDM_RTCP_RW_MEDIA),
                     TDM_ETRUNC);
    assert_memory_equal(p, orig, n);

    uint8_t f[64];
    n = load("fir.bin", f, sizeof f);
    assert_int_equal(tdm_rtcp_rewrite_ssrc(f, n, consumer, producer, TDM_RTCP_RW_MEDIA), 1);
    pkt = only(f, n);
    uint8_t seqnr;
    assert_int_equal(tdm_rtcp_parse_fir(&pkt, &fb), 1);
    assert_int_equal(tdm_rtcp_fir_entry(&fb, 0, &ssrc, &seqnr), 0);
    assert_int_equal(ssrc, producer);
    n = load("remb.bin", f, sizeof f);
    assert_int_equal(tdm_rtcp_rewrite_ssrc(f, n, consumer, producer, TDM_RTCP_RW_MEDIA), 1);
    pkt = only(f, n);
    struct tdm_rtcp_remb remb;
    assert_int_equal(tdm_rtcp_parse_remb(&pkt, &remb, &ssrc, 1), 1);
    assert_int_equal(ssrc, producer);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(walks_browser_style_compound),
        cmocka_unit_test(sender_report),
        cmocka_unit_test(bye_with_reason),
        cmocka_unit_test(fir_and_remb),
        cmocka_unit_test(transport_cc),
        cmocka_unit_test(rejects_malformed_compounds),
        cmocka_unit_test(rewrites_consumer_ssrc_to_producer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
