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

static struct tdm_rtcp_pkt first(const uint8_t *p, size_t n)
{
    struct tdm_rtcp_iter it;
    struct tdm_rtcp_pkt pkt;
    assert_int_equal(tdm_rtcp_validate(p, n, NULL, 0), 1);
    tdm_rtcp_iter_init(&it, p, n);
    assert_int_equal(tdm_rtcp_iter_next(&it, &pkt, NULL, 0), 1);
    return pkt;
}

static void sr_round_trip(void **state)
{
    (void)state;
    struct tdm_rtcp_sr sr = {.ssrc = 0xdeadbeef,
                             .ntp = 0xe87e2a5180000000ull,
                             .rtp_ts = 0xfffffff0u,
                             .packet_count = 7,
                             .octet_count = 9000};
    struct tdm_rtcp_rb rb[2] = {
        {.ssrc = 1,
         .fraction_lost = 25,
         .cumulative_lost = -2,
         .ext_highest_seq = 0x2ffff,
         .jitter = 40,
         .lsr = 0xabcd0000u,
         .dlsr = 65536},
        {.ssrc = 2, .cumulative_lost = 0x7fffff + 10},
    };
    uint8_t out[256];
    int n = tdm_rtcp_build_sr(out, sizeof out, &sr, rb, 2);
    assert_int_equal(n, 28 + 48);
    struct tdm_rtcp_pkt pkt = first(out, (size_t)n);
    struct tdm_rtcp_sr back;
    struct tdm_rtcp_rb b;
    assert_int_equal(tdm_rtcp_parse_sr(&pkt, &back), 0);
    assert_int_equal(back.ssrc, sr.ssrc);
    assert_true(back.ntp == sr.ntp);
    assert_int_equal(back.rtp_ts, sr.rtp_ts);
    assert_int_equal(back.nblocks, 2);
    assert_int_equal(tdm_rtcp_report_block(&pkt, 0, &b), 0);
    assert_int_equal(b.ssrc, 1);
    assert_int_equal(b.fraction_lost, 25);
    assert_int_equal(b.cumulative_lost, -2);
    assert_int_equal(b.ext_highest_seq, 0x2ffff);
    assert_int_equal(b.jitter, 40);
    assert_int_equal(b.lsr, 0xabcd0000u);
    assert_int_equal(b.dlsr, 65536);
    assert_int_equal(tdm_rtcp_report_block(&pkt, 1, &b), 0);
    assert_int_equal(b.cumulative_lost, 0x7fffff); /* clamped, not wrapped */
    /* The sample from tests/data comes out byte for byte. */
    uint8_t want[64];
    load("sr_sdes.bin", want, sizeof want);
    struct tdm_rtcp_sr s2 = {0x1a2b3c4d, 0xe87e2a5180000000ull, 0xffffff00u, 1000, 123456, 0};
    assert_int_equal(tdm_rtcp_build_sr(out, 28, &s2, NULL, 0), 28);
    assert_memory_equal(out, want, 28);
    assert_int_equal(tdm_rtcp_build_sr(out, 27, &s2, NULL, 0), TDM_ETOOBIG);
    assert_int_equal(tdm_rtcp_build_sr(out, sizeof out, &s2, NULL, 1), TDM_EINVAL);
}

static void rr_limits(void **state)
{
    (void)state;
    struct tdm_rtcp_rb rb[32];
    memset(rb, 0, sizeof rb);
    for (unsigned i = 0; i < 32; i++)
        rb[i].ssrc = i + 100;
    uint8_t out[1024];
    int n = tdm_rtcp_build_rr(out, sizeof out, 9, rb, 31);
    assert_int_equal(n, 8 + 31 * 24);
    struct tdm_rtcp_pkt pkt = first(out, (size_t)n);
    uint32_t ssrc;
    struct tdm_rtcp_rb b;
    assert_int_equal(tdm_rtcp_parse_rr(&pkt, &ssrc), 31);
    assert_int_equal(tdm_rtcp_report_block(&pkt, 30, &b), 0);
    assert_int_equal(b.ssrc, 130);
    assert_int_equal(tdm_rtcp_build_rr(out, sizeof out, 9, rb, 32), TDM_EINVAL);
    assert_int_equal(tdm_rtcp_build_rr(out, 8 + 24, 9, rb, 2), TDM_ETOOBIG);
    assert_int_equal(tdm_rtcp_build_rr(out, 8, 9, NULL, 0), 8);
}

static void sdes_cname(void **state)
{
    (void)state;
    uint8_t out[512], want[128];
    size_t wn = load("sr_sdes.bin", want, sizeof want);
    int n = tdm_rtcp_build_sdes_cname(out, sizeof out, 0x1a2b3c4d, "wxyz", 4);
    assert_int_equal(n, 16);
    assert_memory_equal(out, want + 28, wn - 28);
    /* Lengths 1..8 all end in at least one null octet, 32-bit aligned. */
    for (size_t len = 1; len <= 8; len++) {
        n = tdm_rtcp_build_sdes_cname(out, sizeof out, 1, "abcdefgh", len);
        assert_true(n > 0 && n % 4 == 0);
        assert_int_equal(out[10 + len], 0);
        first(out, (size_t)n);
    }
    char big[256];
    memset(big, 'a', sizeof big);
    assert_int_equal(tdm_rtcp_build_sdes_cname(out, sizeof out, 1, big, 255), 4 + 264);
    assert_int_equal(tdm_rtcp_build_sdes_cname(out, sizeof out, 1, big, 256), TDM_EINVAL);
    assert_int_equal(tdm_rtcp_build_sdes_cname(out, sizeof out, 1, big, 0), TDM_EINVAL);
    assert_int_equal(tdm_rtcp_build_sdes_cname(out, 12, 1, big, 4), TDM_ETOOBIG);
}

static void pli_and_fir_match_samples(void **state)
{
    (void)state;
    uint8_t out[64], want[64];
    size_t wn = load("pli.bin", want, sizeof want);
    assert_int_equal(tdm_rtcp_build_pli(out, sizeof out, 1, 0x1a2b3c4d), (int)wn);
    assert_memory_equal(out, want, wn);
    assert_int_equal(tdm_rtcp_build_pli(out, 11, 1, 2), TDM_ETOOBIG);
    wn = load("fir.bin", want, sizeof want);
    assert_int_equal(tdm_rtcp_build_fir(out, sizeof out, 1, 0x1a2b3c4d, 5), (int)wn);
    assert_memory_equal(out, want, wn);
    assert_int_equal(tdm_rtcp_build_fir(out, 19, 1, 2, 5), TDM_ETOOBIG);
}

/* Expands a built NACK back into its list. */
static size_t expand(const uint8_t *p, int n, uint16_t *seqs, size_t max)
{
    assert_true(n > 0);
    struct tdm_rtcp_pkt pkt = first(p, (size_t)n);
    struct tdm_rtcp_fb fb;
    assert_int_equal(tdm_rtcp_parse_nack(&pkt, &fb), 0);
    return tdm_rtcp_nack_expand(&fb, seqs, max);
}

static void nack_compresses(void **state)
{
    (void)state;
    uint8_t out[512], want[128];
    uint16_t seqs[512];
    size_t wn = load("rr_sdes_pli_nack.bin", want, sizeof want);
    const uint16_t lost[] = {0xfffe, 0xffff, 0x0001};
    int n = tdm_rtcp_build_nack(out, sizeof out, 1, 0x1a2b3c4d, lost, 3);
    assert_int_equal(n, 16);
    assert_memory_equal(out, want + wn - 16, 16);

    /* 100 consecutive losses across the wrap: ceil(100 / 17) = 6 entries. */
    uint16_t run[100];
    for (int i = 0; i < 100; i++)
        run[i] = (uint16_t)(65500 + i);
    n = tdm_rtcp_build_nack(out, sizeof out, 1, 2, run, 100);
    assert_int_equal(n, 12 + 6 * 4);
    assert_int_equal(expand(out, n, seqs, 512), 100);
    assert_memory_equal(seqs, run, sizeof run);

    /* Unsorted with duplicates: same set comes back. */
    const uint16_t mess[] = {50, 10, 11, 50, 70, 9, 10, 27};
    n = tdm_rtcp_build_nack(out, sizeof out, 1, 2, mess, 8);
    size_t k = expand(out, n, seqs, 512);
    bool have[100] = {false};
    for (size_t i = 0; i < k; i++) {
        assert_true(seqs[i] < 100);
        have[seqs[i]] = true;
    }
    for (size_t i = 0; i < 8; i++)
        assert_true(have[mess[i]]);
    size_t distinct = 0;
    for (size_t i = 0; i < 100; i++)
        distinct += have[i];
    assert_int_equal(distinct, 6);

    assert_int_equal(tdm_rtcp_build_nack(out, sizeof out, 1, 2, lost, 0), TDM_EINVAL);
    assert_int_equal(tdm_rtcp_build_nack(out, 15, 1, 2, lost, 1), TDM_ETOOBIG);
    assert_int_equal(tdm_rtcp_build_nack(out, 16, 1, 2, run, 18), TDM_ETOOBIG);
    assert_int_equal(tdm_rtcp_build_nack(out, 20, 1, 2, run, 18), 20);
}

static void remb_round_trip(void **state)
{
    (void)state;
    uint8_t out[64], want[64];
    size_t wn = load("remb.bin", want, sizeof want);
    const uint32_t ssrc = 0x1a2b3c4d;
    assert_int_equal(tdm_rtcp_build_remb(out, sizeof out, 1, 1000000, &ssrc, 1), (int)wn);
    assert_memory_equal(out, want, wn);
    const uint64_t rates[] = {0, 1, 262143, 262144, 2500000, 123456789012ull, UINT64_MAX};
    for (size_t i = 0; i < sizeof rates / sizeof rates[0]; i++) {
        int n = tdm_rtcp_build_remb(out, sizeof out, 1, rates[i], NULL, 0);
        assert_int_equal(n, 20);
        struct tdm_rtcp_pkt pkt = first(out, (size_t)n);
        struct tdm_rtcp_remb r;
        assert_int_equal(tdm_rtcp_parse_remb(&pkt, &r, NULL, 0), 0);
        /* Rounded down to 18 significant bits. */
        assert_true(r.bitrate <= rates[i]);
        assert_true(rates[i] - r.bitrate <= rates[i] / 131072);
    }
    assert_int_equal(tdm_rtcp_build_remb(out, sizeof out, 1, 1, NULL, 256), TDM_EINVAL);
    assert_int_equal(tdm_rtcp_build_remb(out, 23, 1, 1, &ssrc, 1), TDM_ETOOBIG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sr_round_trip),   cmocka_unit_test(rr_limits),
        cmocka_unit_test(sdes_cname),      cmocka_unit_test(pli_and_fir_match_samples),
        cmocka_unit_test(nack_compresses), cmocka_unit_test(remb_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
