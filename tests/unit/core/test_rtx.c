#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "tandem/err.h"
#include "tandem/rtp.h"
#include "tandem/rtx.h"

#define MS 1000

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

/* A 12-byte header with seq, then `plen` payload bytes derived from seq. */
static size_t make_pkt(uint8_t *p, uint16_t seq, size_t plen)
{
    memset(p, 0, 12);
    p[0] = 0x80;
    p[1] = 96;
    p[2] = (uint8_t)(seq >> 8);
    p[3] = (uint8_t)seq;
    p[11] = 7;
    for (size_t i = 0; i < plen; i++)
        p[12 + i] = (uint8_t)(seq + i);
    return 12 + plen;
}

static void create_checks_arguments(void **state)
{
    (void)state;
    assert_null(tdm_rtx_hist_create(500, 1500));
    assert_null(tdm_rtx_hist_create(8, 1500));
    assert_null(tdm_rtx_hist_create(65536, 1500));
    assert_null(tdm_rtx_hist_create(512, 11));
    assert_null(tdm_rtx_hist_create(512, 65536));
    struct tdm_rtx_hist *h = tdm_rtx_hist_create(TDM_RTX_DEFAULT_SLOTS, 1500);
    assert_non_null(h);
    tdm_rtx_hist_destroy(h);
    tdm_rtx_hist_destroy(NULL);
}

static void stores_and_finds_across_wrap(void **state)
{
    (void)state;
    struct tdm_rtx_hist *h = tdm_rtx_hist_create(16, 200);
    uint8_t p[256];
    const uint8_t *got;
    for (uint32_t i = 0; i < 16; i++) {
        uint16_t seq = (uint16_t)(65530 + i);
        size_t n = make_pkt(p, seq, 50 + i);
        assert_int_equal(tdm_rtx_hist_put(h, p, n, i * MS), 0);
    }
    for (uint32_t i = 0; i < 16; i++) {
        uint16_t seq = (uint16_t)(65530 + i);
        size_t n = make_pkt(p, seq, 50 + i);
        assert_int_equal(tdm_rtx_hist_get(h, seq, 20 * MS, &got), (int)n);
        assert_memory_equal(got, p, n);
    }
    /* Same slot, other number: not found. One more packet evicts the oldest. */
    assert_int_equal(tdm_rtx_hist_get(h, (uint16_t)(65530 + 16), 20 * MS, &got), TDM_ENOTFOUND);
    size_t n = make_pkt(p, 10, 5);
    assert_int_equal(tdm_rtx_hist_put(h, p, n, 20 * MS), 0);
    assert_int_equal(tdm_rtx_hist_get(h, 65530, 20 * MS, &got), TDM_ENOTFOUND);
    assert_int_equal(tdm_rtx_hist_get(h, 10, 20 * MS, &got), (int)n);
    /* Too old. */
    assert_int_equal(tdm_rtx_hist_get(h, 10, 1020 * MS, &got), (int)n);
    assert_int_equal(tdm_rtx_hist_get(h, 10, 1020 * MS + 1, &got), TDM_ENOTFOUND);
    /* Too big for a slot: refused, and the older copy under that number is gone. */
    n = make_pkt(p, 11, 150);
    assert_int_equal(tdm_rtx_hist_put(h, p, n, 30 * MS), 0);
    n = make_pkt(p, 11, 200);
    assert_int_equal(tdm_rtx_hist_put(h, p, n, 30 * MS), TDM_ETOOBIG);
    assert_int_equal(tdm_rtx_hist_get(h, 11, 30 * MS, &got), TDM_ENOTFOUND);
    assert_int_equal(tdm_rtx_hist_put(h, p, 11, 30 * MS), TDM_ETRUNC);
    tdm_rtx_hist_destroy(h);
}

static void resend_original_with_min_interval(void **state)
{
    (void)state;
    struct tdm_rtx_hist *h = tdm_rtx_hist_create(512, 1500);
    tdm_rtx_hist_set_limits(h, 500 * MS, 20 * MS);
    uint8_t p[256], out[256];
    size_t n = load("vp8_key.bin", p, sizeof p);
    assert_int_equal(tdm_rtx_hist_put(h, p, n, 0), 0);
    assert_int_equal(tdm_rtx_hist_resend(h, 0x0010, 10 * MS, NULL, out, sizeof out), (int)n);
    assert_memory_equal(out, p, n);
    assert_int_equal(tdm_rtx_hist_resend(h, 0x0010, 29 * MS, NULL, out, sizeof out), TDM_EAGAIN);
    assert_int_equal(tdm_rtx_hist_resend(h, 0x0010, 30 * MS, NULL, out, n - 1), TDM_ETOOBIG);
    assert_int_equal(tdm_rtx_hist_resend(h, 0x0010, 30 * MS, NULL, out, n), (int)n);
    assert_int_equal(tdm_rtx_hist_resend(h, 0x0011, 30 * MS, NULL, out, n), TDM_ENOTFOUND);
    assert_int_equal(tdm_rtx_hist_resend(h, 0x0010, 501 * MS, NULL, out, n), TDM_ENOTFOUND);
    tdm_rtx_hist_destroy(h);
}

static void resend_as_rtx(void **state)
{
    (void)state;
    struct tdm_rtx_hist *h = tdm_rtx_hist_create(512, 1500);
    uint8_t p[256], out[256];
    size_t n = load("opus_oneb.bin", p, sizeof p);
    struct tdm_rtp_view o, v;
    assert_int_equal(tdm_rtp_parse(&o, p, n, NULL, 0), 0);
    assert_int_equal(tdm_rtx_hist_put(h, p, n, 0), 0);
    struct tdm_rtx_stream rtx = {.pt = 97, .ssrc = 0x77777777, .next_seq = 65535};
    int r = tdm_rtx_hist_resend(h, o.seq, MS, &rtx, out, sizeof out);
    assert_int_equal(r, (int)n + 2);
    assert_int_equal(rtx.next_seq, 0);
    assert_int_equal(tdm_rtp_parse(&v, out, (size_t)r, NULL, 0), 0);
    assert_int_equal(v.pt, 97);
    assert_int_equal(v.ssrc, 0x77777777);
    assert_int_equal(v.seq, 65535);
    assert_int_equal(v.ts, o.ts);
    assert_int_equal(v.marker, o.marker);
    uint16_t tw;
    assert_int_equal(tdm_rtp_ext_twcc_seq(&v, 3, &tw), 0); /* extensions kept */
    assert_int_equal(tw, 0x0102);
    assert_int_equal(v.payload_len, o.payload_len + 2);
    assert_int_equal((out[v.payload_off] << 8) | out[v.payload_off + 1], o.seq); /* OSN */
    assert_memory_equal(out + v.payload_off + 2, p + o.payload_off, o.payload_len);
    assert_int_equal(tdm_rtx_hist_resend(h, o.seq, MS, &rtx, out, n + 1), TDM_ETOOBIG);
    assert_int_equal(rtx.next_seq, 0); /* not consumed by a failure */
    r = tdm_rtx_hist_resend(h, o.seq, MS, &rtx, out, sizeof out);
    assert_int_equal(r, (int)n + 2);
    assert_int_equal(rtx.next_seq, 1);

    /* Unwrapping gives back the original packet. */
    assert_int_equal(tdm_rtx_unwrap(out, (size_t)r, 111, o.ssrc), (int)n);
    assert_memory_equal(out, p, n);
    tdm_rtx_hist_destroy(h);
}

static void rtx_wrap_drops_padding(void **state)
{
    (void)state;
    uint8_t p[32] = {0xa0, 0x60, 0, 5, 0, 0, 0, 9, 0, 0, 0, 1, 0xaa, 0xbb, 0, 0, 3};
    uint8_t out[64];
    int r = tdm_rtx_wrap(out, sizeof out, p, 17, 97, 2, 40);
    assert_int_equal(r, 12 + 2 + 2);
    struct tdm_rtp_view v;
    assert_int_equal(tdm_rtp_parse(&v, out, (size_t)r, NULL, 0), 0);
    assert_false(v.padding);
    assert_int_equal(out[12], 0);
    assert_int_equal(out[13], 5);
    assert_int_equal(out[14], 0xaa);
    /* Padding-only probe: an RTX packet with just the OSN. */
    p[16] = 5;
    assert_int_equal(tdm_rtx_wrap(out, sizeof out, p, 17, 97, 2, 41), 14);
    assert_int_equal(tdm_rtx_wrap(out, 13, p, 17, 97, 2, 41), TDM_ETOOBIG);
    assert_int_equal(tdm_rtx_wrap(out, sizeof out, p, 17, 200, 2, 41), TDM_EINVAL);
    p[16] = 9; /* padding larger than the payload: the original is refused */
    assert_int_equal(tdm_rtx_wrap(out, sizeof out, p, 17, 97, 2, 41), TDM_EINVAL);
    /* Unwrap needs an OSN. */
    assert_int_equal(tdm_rtx_unwrap(out, 13, 96, 1), TDM_ETRUNC);
    assert_int_equal(tdm_rtx_unwrap(out, 12, 96, 1), TDM_ETRUNC);
}

static void keyframe_throttle(void **state)
{
    (void)state;
    struct tdm_rtx_kf_throttle t;
    tdm_rtx_kf_throttle_init(&t, 500 * MS);
    assert_true(tdm_rtx_kf_throttle_deadline(&t) == INT64_MAX);
    assert_true(tdm_rtx_kf_throttle_request(&t, 0));
    assert_false(tdm_rtx_kf_throttle_request(&t, 100 * MS));
    assert_false(tdm_rtx_kf_throttle_request(&t, 200 * MS));
    assert_true(tdm_rtx_kf_throttle_deadline(&t) == 500 * MS);
    assert_false(tdm_rtx_kf_throttle_poll(&t, 499 * MS));
    assert_true(tdm_rtx_kf_throttle_poll(&t, 500 * MS)); /* both suppressed ones: one PLI */
    assert_false(tdm_rtx_kf_throttle_poll(&t, 2000 * MS));
    assert_true(tdm_rtx_kf_throttle_deadline(&t) == INT64_MAX);
    assert_true(tdm_rtx_kf_throttle_request(&t, 1000 * MS));
    assert_false(tdm_rtx_kf_throttle_request(&t, 1100 * MS));
    tdm_rtx_kf_throttle_on_keyframe(&t); /* the keyframe answers the suppressed one too */
    assert_false(tdm_rtx_kf_throttle_poll(&t, 3000 * MS));
    assert_true(tdm_rtx_kf_throttle_request(&t, 3000 * MS));
    for (int i = 0; i < 256; i++)
        assert_int_equal(tdm_rtx_kf_throttle_next_fir_seq(&t), i);
    assert_int_equal(tdm_rtx_kf_throttle_next_fir_seq(&t), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(create_checks_arguments),
        cmocka_unit_test(stores_and_finds_across_wrap),
        cmocka_unit_test(resend_original_with_min_interval),
        cmocka_unit_test(resend_as_rtx),
        cmocka_unit_test(rtx_wrap_drops_padding),
        cmocka_unit_test(keyframe_throttle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
