#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tandem/err.h"
#include "tandem/rtcp.h"
#include "tandem/rtp.h"
#include "tandem/twcc.h"

/* ---- stamping ------------------------------------------------------------------------- */

static size_t plain_packet(uint8_t *p, size_t payload)
{
    static const uint8_t h[] = {0x80, 0x60, 0x12, 0x34, 0, 0, 0x10, 0, 0xca, 0xfe, 0xba, 0xbe};
    memcpy(p, h, sizeof h);
    for (size_t i = 0; i < payload; i++)
        p[12 + i] = (uint8_t)(i + 1);
    return 12 + payload;
}

static void check_stamp(const uint8_t *p, int len, uint8_t id, uint16_t want, size_t payload)
{
    assert_true(len > 0);
    struct tdm_rtp_view v;
    assert_int_equal(tdm_rtp_parse(&v, p, (size_t)len, NULL, 0), 0);
    uint16_t seq = 0;
    assert_int_equal(tdm_rtp_ext_twcc_seq(&v, id, &seq), 0);
    assert_int_equal(seq, want);
    assert_int_equal(v.payload_len, payload);
    for (size_t i = 0; i < payload; i++)
        assert_int_equal(v.buf[v.payload_off + i], (uint8_t)(i + 1));
}

static void stamp_adds_a_block(void **state)
{
    (void)state;
    uint8_t p[128];
    size_t n = plain_packet(p, 20);
    int len = tdm_twcc_stamp(p, n, sizeof p, 4, 0xbeef);
    assert_int_equal(len, (int)n + 8);
    check_stamp(p, len, 4, 0xbeef, 20);
    /* the same again overwrites in place */
    assert_int_equal(tdm_twcc_stamp(p, (size_t)len, sizeof p, 4, 7), len);
    check_stamp(p, len, 4, 7, 20);
    /* a two-byte id makes a two-byte block */
    n = plain_packet(p, 5);
    len = tdm_twcc_stamp(p, n, sizeof p, 20, 9);
    assert_int_equal(len, (int)n + 8);
    check_stamp(p, len, 20, 9, 5);
}

/* Chromium's audio: audio-level (1), abs-send-time (2), mid (4) in two words, no room left:
 * the block grows by a word. */
static void stamp_grows_a_full_block(void **state)
{
    (void)state;
    static const uint8_t pkt[] = {0x90, 0x6f, 0x12, 0x34, 0,    0,    0x10, 0,    0xca, 0xfe,
                                  0xba, 0xbe, 0xbe, 0xde, 0x00, 0x02, 0x10, 0xff, 0x22, 0x01,
                                  0x02, 0x03, 0x40, '0',  1,    2,    3,    4};
    uint8_t p[64];
    memcpy(p, pkt, sizeof pkt);
    int len = tdm_twcc_stamp(p, sizeof pkt, sizeof p, 3, 0x0102);
    assert_int_equal(len, (int)sizeof pkt + 4);
    check_stamp(p, len, 3, 0x0102, 4);
    struct tdm_rtp_view v;
    assert_int_equal(tdm_rtp_parse(&v, p, (size_t)len, NULL, 0), 0);
    char mid[8];
    assert_int_equal(tdm_rtp_ext_mid(&v, 4, mid, sizeof mid), 1);
    /* no room in cap: unchanged */
    memcpy(p, pkt, sizeof pkt);
    assert_int_equal(tdm_twcc_stamp(p, sizeof pkt, sizeof pkt + 3, 3, 1), TDM_ETOOBIG);
    assert_memory_equal(p, pkt, sizeof pkt);
}

/* A block with padding at its end takes the element there, without growing. */
static void stamp_uses_padding(void **state)
{
    (void)state;
    static const uint8_t pkt[] = {0x90, 0x60, 0x12, 0x34, 0,    0,    0x10, 0,    0xca,
                                  0xfe, 0xba, 0xbe, 0xbe, 0xde, 0x00, 0x02, 0x21, 0xaa,
                                  0xbb, 0,    0,    0,    0,    0,    1,    2};
    uint8_t p[64];
    memcpy(p, pkt, sizeof pkt);
    int len = tdm_twcc_stamp(p, sizeof pkt, sizeof p, 5, 77);
    assert_int_equal(len, (int)sizeof pkt);
    check_stamp(p, len, 5, 77, 2);
    /* two-byte block */
    static const uint8_t two[] = {0x90, 0x60, 0x12, 0x34, 0,    0,    0x10, 0,    0xca, 0xfe, 0xba,
                                  0xbe, 0x10, 0x00, 0x00, 0x01, 0x01, 0x01, 0xff, 0,    1,    2};
    memcpy(p, two, sizeof two);
    len = tdm_twcc_stamp(p, sizeof two, sizeof p, 30, 78);
    assert_int_equal(len, (int)sizeof two + 4);
    check_stamp(p, len, 30, 78, 2);
}

static void stamp_refuses_bad_input(void **state)
{
    (void)state;
    uint8_t p[64];
    size_t n = plain_packet(p, 4);
    assert_int_equal(tdm_twcc_stamp(p, n, sizeof p, 0, 1), TDM_EINVAL);
    assert_int_equal(tdm_twcc_stamp(p, 11, sizeof p, 3, 1), TDM_EINVAL);
    /* an element that overruns its block */
    static const uint8_t bad[] = {0x90, 0x60, 0x12, 0x34, 0,    0,    0x10, 0, 0xca, 0xfe,
                                  0xba, 0xbe, 0xbe, 0xde, 0x00, 0x01, 0x1f, 0, 0,    0};
    memcpy(p, bad, sizeof bad);
    assert_int_equal(tdm_twcc_stamp(p, sizeof bad, sizeof p, 3, 1), TDM_EINVAL);
    /* a block longer than the packet */
    static const uint8_t cut[] = {0x90, 0x60, 0x12, 0x34, 0,    0,    0x10, 0,
                                  0xca, 0xfe, 0xba, 0xbe, 0xbe, 0xde, 0x00, 0x04};
    memcpy(p, cut, sizeof cut);
    assert_int_equal(tdm_twcc_stamp(p, sizeof cut, sizeof p, 3, 1), TDM_EINVAL);
    /* an element of our id with another length */
    static const uint8_t odd[] = {0x90, 0x60, 0x12, 0x34, 0,    0,    0x10, 0, 0xca, 0xfe,
                                  0xba, 0xbe, 0xbe, 0xde, 0x00, 0x01, 0x30, 7, 0,    0};
    memcpy(p, odd, sizeof odd);
    assert_int_equal(tdm_twcc_stamp(p, sizeof odd, sizeof p, 3, 1), TDM_EINVAL);
    /* a one-byte block cannot take id 20 */
    static const uint8_t one[] = {0x90, 0x60, 0x12, 0x34, 0,    0,    0x10, 0, 0xca, 0xfe,
                                  0xba, 0xbe, 0xbe, 0xde, 0x00, 0x01, 0x10, 7, 0,    0};
    memcpy(p, one, sizeof one);
    assert_int_equal(tdm_twcc_stamp(p, sizeof one, sizeof p, 20, 1), TDM_EINVAL);
    /* random headers and extension blocks never take it out of bounds (ASan watches) */
    srand(3);
    for (int r = 0; r < 20000; r++) {
        size_t len = 12 + (size_t)(rand() % 40), cap = len + (size_t)(rand() % 10);
        uint8_t *q = malloc(cap);
        for (size_t i = 0; i < len; i++)
            q[i] = (uint8_t)rand();
        q[0] = (uint8_t)(0x80 | (q[0] & 0x3f));
        size_t x = 12 + 4 * (size_t)(q[0] & 15);
        if (rand() % 2 && x < len)
            q[x] = 0xbe; /* a one-byte profile sometimes */
        int m = tdm_twcc_stamp(q, len, cap, 1 + (unsigned)(rand() % 30), 9);
        assert_true(m < 0 || ((size_t)m >= len && (size_t)m <= cap));
        free(q);
    }
}

/* ---- feedback ------------------------------------------------------------------------- */

/* Read with core/rtcp.c's parser, then the arrival times. Returns the statuses read. */
static int parse(const uint8_t *p, size_t len, struct tdm_rtcp_twcc *tw,
                 struct tdm_twcc_status *out, size_t cap)
{
    struct tdm_rtcp_iter it;
    struct tdm_rtcp_pkt pk;
    static struct tdm_rtcp_twcc_status raw[1024];
    tdm_rtcp_iter_init(&it, p, len);
    if (tdm_rtcp_iter_next(&it, &pk, NULL, 0) != 1)
        return TDM_EINVAL;
    int rc = tdm_rtcp_parse_twcc(&pk, tw, raw, cap);
    if (rc != 0)
        return rc;
    size_t n = tw->status_count < cap ? tw->status_count : cap;
    tdm_twcc_arrivals(tw, raw, n, out);
    return (int)n;
}

/* base 0xfffe, 5 packets, reference 16 x 64 ms, one two-bit vector chunk:
 * small 1 ms, lost, large -2 ms, small 0, small 63.75 ms. */
static const uint8_t fb_vector[] = {0x8f, 205,  0x00, 0x06, 0x11, 0x22, 0x33, 0x44, 0xaa, 0xbb,
                                    0xcc, 0xdd, 0xff, 0xfe, 0x00, 0x05, 0x00, 0x00, 0x10, 0x07,
                                    0xd2, 0x50, 0x04, 0xff, 0xf8, 0x00, 0xff, 0x00};

static void arrivals_of_a_vector_chunk(void **state)
{
    (void)state;
    struct tdm_rtcp_twcc tw;
    struct tdm_twcc_status st[8];
    assert_int_equal(parse(fb_vector, sizeof fb_vector, &tw, st, 8), 5);
    assert_int_equal(tw.base_seq, 0xfffe);
    assert_int_equal(tw.ref_time, 16);
    static const uint16_t seqs[] = {0xfffe, 0xffff, 0, 1, 2};
    static const bool got[] = {true, false, true, true, true};
    static const int64_t at[] = {1025000, 0, 1023000, 1023000, 1086750};
    for (int i = 0; i < 5; i++) {
        assert_int_equal(st[i].seq, seqs[i]);
        assert_int_equal(st[i].received, got[i]);
        if (got[i])
            assert_int_equal(st[i].arrival_us, at[i]);
    }
    /* fewer wanted: the first ones */
    assert_int_equal(parse(fb_vector, sizeof fb_vector, &tw, st, 2), 2);
    assert_int_equal(st[0].arrival_us, 1025000);
}

/* Run length (20 received) then a one-bit vector (1 of 2), negative reference time. */
static void arrivals_of_runs_and_bits(void **state)
{
    (void)state;
    uint8_t p[64] = {0x8f, 205,  0,    0,  0,    0,    0,    1,    0,    0,  0,    2,
                     0x00, 0x10, 0x00, 22, 0xff, 0xff, 0xff, 0x00, 0x20, 20, 0xa0, 0x00};
    size_t n = 24;
    for (int i = 0; i < 21; i++)
        p[n++] = 4;
    while (n % 4)
        p[n++] = 0;
    p[3] = (uint8_t)(n / 4 - 1);
    struct tdm_rtcp_twcc tw;
    struct tdm_twcc_status st[32];
    assert_int_equal(parse(p, n, &tw, st, 32), 22);
    assert_int_equal(tw.ref_time, -1);
    assert_true(st[0].received && st[19].received && st[20].received && !st[21].received);
    assert_int_equal(st[0].arrival_us, -64000 + 1000);
    assert_int_equal(st[20].arrival_us, -64000 + 21000);
    assert_int_equal(st[21].seq, 0x10 + 21);
    /* every truncation of a good packet fails cleanly */
    for (size_t k = 0; k < sizeof fb_vector; k++) {
        uint8_t q[sizeof fb_vector];
        memcpy(q, fb_vector, sizeof q);
        q[3] = (uint8_t)(k / 4 ? k / 4 - 1 : 0); /* the length field follows the cut */
        assert_true(parse(q, k / 4 * 4, &tw, st, 32) < 0);
    }
}

/* What is built parses back to the same statuses (times to the 250 µs unit). */
static void build_round_trip(void **state)
{
    (void)state;
    struct tdm_twcc_status in[300], out[300];
    int64_t t = 5 * 64000 + 300;
    srand(9);
    for (int i = 0; i < 300; i++) {
        in[i].seq = (uint16_t)(65500 + i);
        in[i].received = i < 40 || (i > 60 && rand() % 10 != 0) || (i >= 200 && i < 230);
        if (i > 40 && i <= 60)
            in[i].received = false;                               /* a long run of losses */
        t += rand() % 3 == 0 ? -(rand() % 3000) : rand() % 90000; /* some large deltas */
        in[i].arrival_us = in[i].received ? t : 0;
    }
    in[0].arrival_us = 5 * 64000 + 300;
    struct tdm_twcc_fb fb = {.sender_ssrc = 1, .media_ssrc = 2, .base_seq = 65500, .ref_time = 5};
    uint8_t p[2048];
    size_t used;
    int len = tdm_twcc_build(p, sizeof p, &fb, in, 300, &used);
    assert_true(len > 20 && len % 4 == 0);
    assert_true(used > 0 && used <= 300);
    struct tdm_rtcp_twcc got;
    assert_int_equal(parse(p, (size_t)len, &got, out, 300), (int)used);
    assert_int_equal(got.base_seq, 65500);
    assert_int_equal(got.sender_ssrc, 1);
    for (size_t i = 0; i < used; i++) {
        assert_int_equal(out[i].seq, in[i].seq);
        assert_int_equal(out[i].received, in[i].received);
        if (in[i].received)
            assert_int_equal(out[i].arrival_us, in[i].arrival_us / 250 * 250);
    }
    /* a small cap takes fewer, still a valid packet */
    len = tdm_twcc_build(p, 40, &fb, in, 300, &used);
    assert_true(len > 0 && len <= 40);
    assert_int_equal(parse(p, (size_t)len, &got, out, 300), (int)used);
    assert_int_equal(tdm_twcc_build(p, 20, &fb, in, 300, &used), TDM_ETOOBIG);
    /* a delta beyond 16 bits ends the packet there */
    in[1].arrival_us = in[0].arrival_us + 9000000;
    len = tdm_twcc_build(p, sizeof p, &fb, in, 300, &used);
    assert_int_equal(used, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(stamp_adds_a_block),         cmocka_unit_test(stamp_grows_a_full_block),
        cmocka_unit_test(stamp_uses_padding),         cmocka_unit_test(stamp_refuses_bad_input),
        cmocka_unit_test(arrivals_of_a_vector_chunk), cmocka_unit_test(arrivals_of_runs_and_bits),
        cmocka_unit_test(build_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
