#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "tandem/err.h"
#include "tandem/rtp.h"

/* Reads tests/data/rtp/<name> into buf; returns its length (fails the test otherwise). */
static size_t load(const char *name, uint8_t *buf, size_t cap)
{
    char path[512];
    snprintf(path, sizeof path, "%s/rtp/%s", TANDEM_TEST_DATA, name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    size_t n = fread(buf, 1, cap, f);
    fclose(f);
    assert_true(n > 0 && n < cap);
    return n;
}

/* A 3-byte header extension element as a number, or -1 when absent or not 3 bytes. */
static long ext24(const struct tdm_rtp_view *v, uint8_t id)
{
    size_t off, len;
    if (tdm_rtp_ext_find(v, id, &off, &len) != 0 || len != 3)
        return -1;
    const uint8_t *b = v->buf + off;
    return (long)b[0] << 16 | (long)b[1] << 8 | b[2];
}

static void parses_minimal_header(void **state)
{
    (void)state;
    const uint8_t p[12] = {0x80, 0xe0, 0x12, 0x34, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4};
    struct tdm_rtp_view v;
    assert_int_equal(tdm_rtp_parse(&v, p, sizeof p, NULL, 0), 0);
    assert_true(v.marker);
    assert_int_equal(v.pt, 96);
    assert_int_equal(v.seq, 0x1234);
    assert_int_equal(v.ts, 0xdeadbeef);
    assert_int_equal(v.ssrc, 0x01020304);
    assert_int_equal(v.header_len, 12);
    assert_int_equal(v.payload_len, 0);
    assert_false(v.extension);
}

static void parses_chrome_style_opus(void **state)
{
    (void)state;
    uint8_t p[256];
    size_t n = load("opus_oneb.bin", p, sizeof p);
    struct tdm_rtp_view v;
    char err[128] = "";
    assert_int_equal(tdm_rtp_parse(&v, p, n, err, sizeof err), 0);
    assert_int_equal(v.pt, 111);
    assert_int_equal(v.seq, 0xfffe);
    assert_int_equal(v.ts, 0xfffffc40u);
    assert_int_equal(v.ext_form, TDM_RTP_EXT_ONE_BYTE);
    assert_int_equal(v.ext_len, 12);
    assert_int_equal(v.payload_off, 28);
    assert_int_equal(v.payload_len, 20);
    assert_int_equal(p[v.payload_off], 0xfc);

    uint8_t level = 0;
    bool voice = false;
    assert_int_equal(tdm_rtp_ext_audio_level(&v, 1, &level, &voice), 0);
    assert_int_equal(level, 42);
    assert_true(voice);
    assert_int_equal(ext24(&v, 2), 0x123456); /* abs-send-time, read as bytes */
    uint16_t tw = 0;
    assert_int_equal(tdm_rtp_ext_twcc_seq(&v, 3, &tw), 0);
    assert_int_equal(tw, 0x0102);
    char mid[8];
    assert_int_equal(tdm_rtp_ext_mid(&v, 4, mid, sizeof mid), 1);
    assert_string_equal(mid, "0");
    assert_int_equal(tdm_rtp_ext_mid(&v, 4, mid, 1), TDM_ETOOBIG);
    assert_int_equal(tdm_rtp_ext_twcc_seq(&v, 9, &tw), TDM_ENOTFOUND);
    /* Right id, wrong size for the element. */
    assert_int_equal(tdm_rtp_ext_twcc_seq(&v, 2, &tw), TDM_EINVAL);
    assert_int_equal(tdm_rtp_ext_twcc_seq(&v, 0, &tw), TDM_EINVAL);
    assert_int_equal(tdm_rtp_ext_twcc_seq(&v, 15, &tw), TDM_EINVAL);
}

static void parses_two_byte_form_and_csrcs(void **state)
{
    (void)state;
    uint8_t p[256];
    size_t n = load("twobyte_csrc.bin", p, sizeof p);
    struct tdm_rtp_view v;
    assert_int_equal(tdm_rtp_parse(&v, p, n, NULL, 0), 0);
    assert_int_equal(v.csrc_count, 2);
    assert_int_equal(v.ext_form, TDM_RTP_EXT_TWO_BYTE);
    assert_int_equal(v.ext_off, 24);
    size_t off = 0, len = 99;
    assert_int_equal(tdm_rtp_ext_find(&v, 5, &off, &len), 0);
    assert_int_equal(len, 0);
    assert_int_equal(tdm_rtp_ext_find(&v, 17, &off, &len), 0);
    assert_int_equal(len, 3);
    assert_memory_equal(p + off, "ABC", 3);
    char mid[8];
    assert_int_equal(tdm_rtp_ext_mid(&v, 17, mid, sizeof mid), 3);
    assert_string_equal(mid, "ABC");
    assert_int_equal(tdm_rtp_ext_mid(&v, 5, mid, sizeof mid), TDM_EINVAL); /* empty */
    assert_int_equal(v.payload_len, 2);
    assert_int_equal(p[v.payload_off], 0xde);
}

static void one_byte_id15_stops_walk(void **state)
{
    (void)state;
    /* id 1 (1 byte), then id 15 whose "length" would run past the block, then id 2. */
    const uint8_t p[] = {0x90, 0x60, 0,    1,    0,    0,    0,    1,    0,    0,
                         0,    1,    0xbe, 0xde, 0x00, 0x01, 0x10, 0x05, 0xff, 0x20};
    struct tdm_rtp_view v;
    assert_int_equal(tdm_rtp_parse(&v, p, sizeof p, NULL, 0), 0);
    size_t off, len;
    assert_int_equal(tdm_rtp_ext_find(&v, 1, &off, &len), 0);
    assert_int_equal(tdm_rtp_ext_find(&v, 2, &off, &len), TDM_ENOTFOUND);
}

static void other_profile_is_kept_not_searched(void **state)
{
    (void)state;
    const uint8_t p[] = {0x90, 0x60, 0,    1,    0,    0,    0,    1,    0,    0,   0,
                         1,    0x12, 0x34, 0x00, 0x01, 0x10, 0x05, 0xff, 0x20, 0xaa};
    struct tdm_rtp_view v;
    assert_int_equal(tdm_rtp_parse(&v, p, sizeof p, NULL, 0), 0);
    assert_int_equal(v.ext_form, TDM_RTP_EXT_OTHER);
    assert_int_equal(v.payload_len, 1);
    size_t off, len;
    assert_int_equal(tdm_rtp_ext_find(&v, 1, &off, &len), TDM_ENOTFOUND);
}

static void rejects_bad_headers(void **state)
{
    (void)state;
    struct tdm_rtp_view v;
    char err[128];
    uint8_t p[64] = {0x80, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1};
    assert_int_equal(tdm_rtp_parse(&v, p, 11, err, sizeof err), TDM_ETRUNC);
    assert_int_equal(tdm_rtp_parse(&v, NULL, 0, NULL, 0), TDM_ETRUNC);
    p[0] = 0x40; /* version 1 */
    assert_int_equal(tdm_rtp_parse(&v, p, 12, err, sizeof err), TDM_EINVAL);
    assert_non_null(strstr(err, "version"));
    /* CSRC count past the end: 3 CSRCs need 24 bytes, give 23. */
    p[0] = 0x83;
    assert_int_equal(tdm_rtp_parse(&v, p, 23, err, sizeof err), TDM_ETRUNC);
    assert_int_equal(tdm_rtp_parse(&v, p, 24, err, sizeof err), 0);
    /* 15 CSRCs on a 12-byte packet. */
    p[0] = 0x8f;
    assert_int_equal(tdm_rtp_parse(&v, p, 12, NULL, 0), TDM_ETRUNC);
    /* Extension header itself truncated, then its length past the end. */
    p[0] = 0x90;
    assert_int_equal(tdm_rtp_parse(&v, p, 14, NULL, 0), TDM_ETRUNC);
    p[12] = 0xbe, p[13] = 0xde, p[14] = 0xff, p[15] = 0xff;
    assert_int_equal(tdm_rtp_parse(&v, p, 64, err, sizeof err), TDM_ETRUNC);
    /* Element longer than its block: one word, id 1 claims 16 bytes. */
    p[14] = 0, p[15] = 1, p[16] = 0x1f;
    assert_int_equal(tdm_rtp_parse(&v, p, 20, err, sizeof err), TDM_EINVAL);
    /* Two-byte element header split at the block end. */
    p[12] = 0x10, p[13] = 0x00, p[16] = 0, p[17] = 0, p[18] = 0, p[19] = 7;
    assert_int_equal(tdm_rtp_parse(&v, p, 20, err, sizeof err), TDM_EINVAL);
}

static void padding_rules(void **state)
{
    (void)state;
    struct tdm_rtp_view v;
    uint8_t p[256];
    size_t n = load("padding_only.bin", p, sizeof p);
    assert_int_equal(tdm_rtp_parse(&v, p, n, NULL, 0), 0);
    assert_true(v.padding);
    assert_int_equal(v.padding_len, 4);
    assert_int_equal(v.payload_len, 0);

    uint8_t q[20] = {0xa0, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 9, 9, 9, 9, 9, 0, 0, 3};
    assert_int_equal(tdm_rtp_parse(&v, q, sizeof q, NULL, 0), 0);
    assert_int_equal(v.payload_len, 5);
    q[19] = 9; /* larger than the 8 bytes after the header */
    assert_int_equal(tdm_rtp_parse(&v, q, sizeof q, NULL, 0), TDM_EINVAL);
    q[19] = 0; /* a count of zero contradicts "includes itself" */
    assert_int_equal(tdm_rtp_parse(&v, q, sizeof q, NULL, 0), TDM_EINVAL);
    /* P set with nothing after the header at all. */
    assert_int_equal(tdm_rtp_parse(&v, q, 12, NULL, 0), TDM_EINVAL);
}

static void writers_change_only_their_bytes(void **state)
{
    (void)state;
    uint8_t p[256], orig[256];
    size_t n = load("opus_oneb.bin", p, sizeof p);
    memcpy(orig, p, n);
    struct tdm_rtp_view v;
    assert_int_equal(tdm_rtp_parse(&v, p, n, NULL, 0), 0);
    assert_int_equal(tdm_rtp_set_ssrc(p, n, 0xcafef00d), 0);
    assert_int_equal(tdm_rtp_set_seq(p, n, 0x0001), 0);
    assert_int_equal(tdm_rtp_set_ts(p, n, 0x00000010), 0);
    assert_int_equal(tdm_rtp_set_pt(p, n, 100), 0);
    assert_int_equal(tdm_rtp_set_pt(p, n, 200), TDM_EINVAL);
    assert_int_equal(tdm_rtp_ext_set_twcc_seq(p, &v, 3, 0xbeef), 0);
    const uint8_t ast[3] = {0xab, 0xcd, 0xef};
    assert_int_equal(tdm_rtp_ext_overwrite(p, &v, 2, ast, sizeof ast), 0);
    /* Length mismatch, missing id, foreign buffer. */
    const uint8_t three[3] = {1, 2, 3};
    assert_int_equal(tdm_rtp_ext_overwrite(p, &v, 3, three, 3), TDM_EINVAL);
    assert_int_equal(tdm_rtp_ext_set_twcc_seq(p, &v, 7, 1), TDM_ENOTFOUND);
    assert_int_equal(tdm_rtp_ext_set_twcc_seq(orig, &v, 3, 1), TDM_EINVAL);
    assert_int_equal(tdm_rtp_set_seq(p, 11, 1), TDM_ETRUNC);

    struct tdm_rtp_view w;
    assert_int_equal(tdm_rtp_parse(&w, p, n, NULL, 0), 0);
    assert_int_equal(w.ssrc, 0xcafef00d);
    assert_int_equal(w.seq, 1);
    assert_int_equal(w.ts, 0x10);
    assert_int_equal(w.pt, 100);
    uint16_t tw;
    assert_int_equal(tdm_rtp_ext_twcc_seq(&w, 3, &tw), 0);
    assert_int_equal(tw, 0xbeef);
    assert_int_equal(ext24(&w, 2), 0xabcdef);
    /* Everything from the mid element on is untouched. */
    assert_memory_equal(p + 25, orig + 25, n - 25);
    assert_memory_equal(p + 12, orig + 12, 6); /* profile, length, audio level */
}

static void orders_serial_numbers(void **state)
{
    (void)state;
    assert_true(tdm_rtp_seq_newer(0, 65535));
    assert_false(tdm_rtp_seq_newer(65535, 0));
    assert_false(tdm_rtp_seq_newer(7, 7));
    /* Exactly half apart: exactly one of the two is newer. */
    assert_true(tdm_rtp_seq_newer(0x8000, 0) != tdm_rtp_seq_newer(0, 0x8000));
    assert_true(tdm_rtp_ts_newer(5, 0xfffffff0u));
    assert_true(tdm_rtp_ts_newer(0x80000000u, 0) != tdm_rtp_ts_newer(0, 0x80000000u));
}

static void demuxes_rtcp(void **state)
{
    (void)state;
    const uint8_t rr[] = {0x80, 201, 0, 1};
    const uint8_t rtp[] = {0x80, 0xe0, 0, 1}; /* M=1 PT=96 = 224 */
    const uint8_t rtp2[] = {0x80, 0x6f};
    assert_true(tdm_rtp_is_rtcp(rr, sizeof rr));
    assert_false(tdm_rtp_is_rtcp(rtp, sizeof rtp));
    assert_false(tdm_rtp_is_rtcp(rtp2, sizeof rtp2));
    assert_false(tdm_rtp_is_rtcp(rr, 1));
}

static void vp8_descriptor(void **state)
{
    (void)state;
    uint8_t p[256];
    struct tdm_rtp_view v;
    struct tdm_rtp_vp8_desc d;
    size_t n = load("vp8_key.bin", p, sizeof p);
    assert_int_equal(tdm_rtp_parse(&v, p, n, NULL, 0), 0);
    const uint8_t *pl = p + v.payload_off;
    assert_int_equal(tdm_rtp_vp8_parse(&d, pl, v.payload_len), 0);
    assert_true(d.start);
    assert_true(d.has_picture_id && d.picture_id_15);
    assert_int_equal(d.picture_id, 0x1234);
    assert_int_equal(d.header_len, 4);
    assert_true(d.keyframe);
    assert_true(tdm_rtp_vp8_is_keyframe(pl, v.payload_len));
    /* Truncate into the frame tag: no longer recognisably a key frame. */
    assert_false(tdm_rtp_vp8_is_keyframe(pl, 7));

    n = load("vp8_delta.bin", p, sizeof p);
    assert_int_equal(tdm_rtp_parse(&v, p, n, NULL, 0), 0);
    assert_false(tdm_rtp_vp8_is_keyframe(p + v.payload_off, v.payload_len));

    /* X with I, L, T and K all present, 7-bit picture id. */
    const uint8_t all[] = {0x90, 0xf0, 0x05, 0x21, 0xe3, 0x00, 0, 0, 0x9d, 0x01, 0x2a};
    assert_int_equal(tdm_rtp_vp8_parse(&d, all, sizeof all), 0);
    assert_int_equal(d.picture_id, 5);
    assert_int_equal(d.tl0picidx, 0x21);
    assert_int_equal(d.tid, 3);
    assert_true(d.layer_sync);
    assert_int_equal(d.keyidx, 3);
    assert_int_equal(d.header_len, 5);
    assert_true(d.keyframe);
    for (size_t i = 0; i <= 5; i++)
        assert_int_equal(tdm_rtp_vp8_parse(&d, all, i), TDM_ETRUNC);
    /* Not the start of partition 0. */
    const uint8_t cont[] = {0x00, 0x50, 0x42, 0x00, 0x9d, 0x01, 0x2a};
    assert_int_equal(tdm_rtp_vp8_parse(&d, cont, sizeof cont), 0);
    assert_false(d.keyframe);
}

static void vp9_descriptor(void **state)
{
    (void)state;
    struct tdm_rtp_vp9_desc d;
    /* Non-flexible key frame: I (15-bit), L (tid 0 sid 0), TL0PICIDX, V with SS: N_S=1
     * (2 layers), Y (sizes), G with 1 picture group entry having R=1. */
    const uint8_t key[] = {0xaa, 0x81, 0x23, 0x00, 0x07, 0x38, 0x01, 0x40, 0x00,
                           0xb4, 0x02, 0x80, 0x01, 0x68, 0x01, 0x04, 0x01, 0xee};
    assert_int_equal(tdm_rtp_vp9_parse(&d, key, sizeof key), 0);
    assert_true(d.has_ss);
    assert_int_equal(d.picture_id, 0x123);
    assert_int_equal(d.tl0picidx, 7);
    assert_int_equal(d.header_len, sizeof key - 1);
    assert_true(d.keyframe);
    for (size_t i = 0; i < sizeof key; i++)
        assert_int_equal(tdm_rtp_vp9_parse(&d, key, i), TDM_ETRUNC);

    /* Flexible, inter-predicted, spatial layer 1, two P_DIFFs. */
    const uint8_t delta[] = {0xf8, 0x05, 0x22, 0x03, 0x04, 0x55};
    assert_int_equal(tdm_rtp_vp9_parse(&d, delta, sizeof delta), 0);
    assert_true(d.flexible && d.inter_pred);
    assert_int_equal(d.sid, 1);
    assert_int_equal(d.tid, 1);
    assert_int_equal(d.num_pdiff, 2);
    assert_false(d.keyframe);
    assert_false(tdm_rtp_vp9_is_keyframe(delta, sizeof delta));
    /* Four P_DIFFs is more than the three the format allows. */
    const uint8_t many[] = {0xd8, 0x05, 0x03, 0x03, 0x03, 0x02, 0x55};
    assert_int_equal(tdm_rtp_vp9_parse(&d, many, sizeof many), TDM_EINVAL);
    /* Key frame of spatial layer 1 only: not where a decoder starts. */
    const uint8_t sid1[] = {0x28, 0x02, 0x00, 0x55};
    assert_false(tdm_rtp_vp9_is_keyframe(sid1, sizeof sid1));
    const uint8_t plain[] = {0x08, 0x55};
    assert_true(tdm_rtp_vp9_is_keyframe(plain, sizeof plain));
}

static void h264_keyframes(void **state)
{
    (void)state;
    uint8_t p[256];
    struct tdm_rtp_view v;
    const char *yes[] = {"h264_stapa_sps.bin", "h264_fua_idr_start.bin"};
    for (size_t i = 0; i < 2; i++) {
        size_t n = load(yes[i], p, sizeof p);
        assert_int_equal(tdm_rtp_parse(&v, p, n, NULL, 0), 0);
        assert_true(tdm_rtp_h264_is_keyframe(p + v.payload_off, v.payload_len));
    }
    size_t n = load("h264_fua_idr_middle.bin", p, sizeof p);
    assert_int_equal(tdm_rtp_parse(&v, p, n, NULL, 0), 0);
    assert_false(tdm_rtp_h264_is_keyframe(p + v.payload_off, v.payload_len));

    const uint8_t idr[] = {0x65, 0x88};
    const uint8_t slice[] = {0x41, 0x9a};
    const uint8_t forbidden[] = {0xe5, 0x88};
    assert_true(tdm_rtp_h264_is_keyframe(idr, sizeof idr));
    assert_false(tdm_rtp_h264_is_keyframe(slice, sizeof slice));
    assert_false(tdm_rtp_h264_is_keyframe(forbidden, sizeof forbidden));
    assert_false(tdm_rtp_h264_is_keyframe(idr, 0));
    /* STAP-A whose first unit claims more bytes than exist, hiding an SPS after it. */
    const uint8_t bad_stap[] = {0x18, 0x00, 0x09, 0x41, 0x00, 0x02, 0x67, 0x42};
    assert_false(tdm_rtp_h264_is_keyframe(bad_stap, sizeof bad_stap));
    const uint8_t zero_stap[] = {0x18, 0x00, 0x00, 0x00, 0x02, 0x67, 0x42};
    assert_false(tdm_rtp_h264_is_keyframe(zero_stap, sizeof zero_stap));
    const uint8_t fua_short[] = {0x7c};
    assert_false(tdm_rtp_h264_is_keyframe(fua_short, sizeof fua_short));
}

/* Every prefix of every sample must be handled without reading past it. */
static void truncations_of_samples(void **state)
{
    (void)state;
    const char *names[] = {"opus_oneb.bin", "vp8_key.bin", "twobyte_csrc.bin", "h264_stapa_sps.bin",
                           "padding_only.bin"};
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        uint8_t p[256];
        size_t n = load(names[k], p, sizeof p);
        for (size_t i = 0; i < n; i++) {
            uint8_t *copy = test_malloc(i ? i : 1);
            memcpy(copy, p, i);
            struct tdm_rtp_view v;
            int r = tdm_rtp_parse(&v, copy, i, NULL, 0);
            if (r == 0) {
                assert_true(v.payload_off + v.payload_len + v.padding_len == i);
                size_t off, len;
                for (uint8_t id = 1; id < 15; id++)
                    if (tdm_rtp_ext_find(&v, id, &off, &len) == 0)
                        assert_true(off + len <= i);
            }
            test_free(copy);
        }
    }
}

/* The header writer's packets parse back as written: media with the marker, and padding
 * only (the P bit, the last byte counting the padding, no payload). */
static void write_header(void **state)
{
    (void)state;
    uint8_t b[TDM_RTP_HEADER_MIN + 255];
    struct tdm_rtp_view v;
    size_t n = tdm_rtp_write_header(b, 111, true, 65535, 0xdeadbeef, 0x01020304, 0);
    assert_int_equal(n, TDM_RTP_HEADER_MIN);
    b[n++] = 0xfc; /* one payload byte */
    assert_int_equal(tdm_rtp_parse(&v, b, n, NULL, 0), 0);
    assert_int_equal(v.pt, 111);
    assert_true(v.marker);
    assert_int_equal(v.seq, 65535);
    assert_int_equal(v.ts, 0xdeadbeef);
    assert_int_equal(v.ssrc, 0x01020304);
    assert_false(v.padding);
    assert_int_equal(v.payload_len, 1);
    n = tdm_rtp_write_header(b, 0xff, false, 7, 9, 11, 255);
    assert_int_equal(n, TDM_RTP_HEADER_MIN + 255);
    assert_int_equal(tdm_rtp_parse(&v, b, n, NULL, 0), 0);
    assert_int_equal(v.pt, 127); /* 7 bits */
    assert_false(v.marker);
    assert_true(v.padding);
    assert_int_equal(v.padding_len, 255);
    assert_int_equal(v.payload_len, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_minimal_header),
        cmocka_unit_test(parses_chrome_style_opus),
        cmocka_unit_test(parses_two_byte_form_and_csrcs),
        cmocka_unit_test(one_byte_id15_stops_walk),
        cmocka_unit_test(other_profile_is_kept_not_searched),
        cmocka_unit_test(rejects_bad_headers),
        cmocka_unit_test(padding_rules),
        cmocka_unit_test(writers_change_only_their_bytes),
        cmocka_unit_test(orders_serial_numbers),
        cmocka_unit_test(demuxes_rtcp),
        cmocka_unit_test(vp8_descriptor),
        cmocka_unit_test(vp9_descriptor),
        cmocka_unit_test(h264_keyframes),
        cmocka_unit_test(truncations_of_samples),
        cmocka_unit_test(write_header),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
