/* tools/load/sdp.c and the delay histogram of tools/load/rx.c: the SDP tandem-load writes
 * must be what the server's own parser (core/sdp) accepts, with the directions, roles and
 * credentials a page would give; what it reads from the server's SDP is checked against
 * captured server descriptions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "load.h"
#include "tandem/sdp.h"

#define FP                                                                                         \
    "sha-256 "                                                                                     \
    "01:08:0F:16:1D:24:2B:32:39:40:47:4E:55:5C:63:6A:71:78:7F:86:8D:94:9B:A2:A9:B0:B7:BE:C5:CC:"   \
    "D3:DA"

static char *load_sdp(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/sdp/%s", TANDEM_TEST_DATA, name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *buf = calloc(1, 65536);
    assert_non_null(buf);
    size_t n = fread(buf, 1, 65535, f);
    fclose(f);
    assert_true(n > 0);
    return buf;
}

static struct tdm_sdp *parsed(const char *text)
{
    struct tdm_sdp *d = tdm_sdp_new();
    char err[256] = "";
    assert_non_null(d);
    int rc = tdm_sdp_parse((const uint8_t *)text, strlen(text), d, err, sizeof err);
    if (rc != 0)
        fail_msg("%s\n%s", err, text);
    return d;
}

static void test_pub_offer(void **state)
{
    struct ld_part p = {.gindex = 3, .audio = {.ssrc = 1111}, .video = {.ssrc = 2222}};
    char out[8192];
    int n =
        ld_sdp_pub_offer(out, sizeof out, "ufrg", "passwordpasswordpassword", FP, &p, true, true);
    assert_true(n > 0);
    struct tdm_sdp *d = parsed(out);
    assert_int_equal(d->n_media, 2);
    assert_int_equal(d->n_bundle, 2);
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(tdm_sdp_media_dir(d, i), TDM_SDP_SENDONLY);
        assert_int_equal(tdm_sdp_media_setup(d, i), TDM_SDP_SETUP_ACTPASS);
        assert_int_equal(d->media[i].n_ssrcs, 1);
        assert_true(d->media[i].rtcp_mux);
    }
    assert_int_equal(d->media[0].ssrcs[0].ssrc, 1111);
    assert_int_equal(d->media[1].ssrcs[0].ssrc, 2222);
    assert_string_equal(d->media[1].codecs[0].name, "VP8");
    assert_string_equal(tdm_sdp_media_ufrag(d, 1), "ufrg");
    tdm_sdp_free(d);
    /* a receiver's idle pub connection: audio only, inactive, no SSRC */
    n = ld_sdp_pub_offer(out, sizeof out, "ufrg", "passwordpasswordpassword", FP, &p, false, false);
    assert_true(n > 0);
    d = parsed(out);
    assert_int_equal(d->n_media, 1);
    assert_int_equal(tdm_sdp_media_dir(d, 0), TDM_SDP_INACTIVE);
    assert_int_equal(d->media[0].n_ssrcs, 0);
    tdm_sdp_free(d);
    /* too small a buffer is refused, never cut */
    assert_int_equal(ld_sdp_pub_offer(out, 200, "ufrg", "pw", FP, &p, true, true), TDM_ETOOBIG);
}

static void test_scan_server_answer(void **state)
{
    char *text = load_sdp("chromium-av-server-answer.sdp");
    struct ld_sdp_info info;
    assert_int_equal(ld_sdp_scan(text, &info), 0);
    assert_string_equal(info.ufrag, "tdmUfrag1");
    assert_string_equal(info.pwd, "tdmPasswordPasswordPass1");
    assert_string_equal(info.fp, FP);
    assert_int_equal(info.n_cand, 2);
    assert_false(info.cand[0].tcp);
    assert_true(info.cand[1].tcp);
    assert_memory_equal(info.cand[0].text, "a=candidate:1 1 udp", 19);
    assert_int_equal(info.audio_pt, 111);
    assert_int_equal(info.video_pt, 96);
    assert_int_equal(ld_sdp_scan("v=0\r\na=ice-ufrag:x\r\n", &info), TDM_EINVAL);
    free(text);
}

static void test_sub_answer(void **state)
{
    char *offer = load_sdp("chromium-av-server-offer2.sdp");
    struct tdm_sdp *o = parsed(offer);
    char *out = malloc(65536);
    assert_non_null(out);
    int n = ld_sdp_sub_answer(out, 65536, offer, "mine", "mypasswordmypasswordmypw", FP);
    assert_true(n > 0);
    struct tdm_sdp *a = parsed(out);
    assert_int_equal(a->n_media, o->n_media);
    assert_false(a->ice_lite);
    for (size_t i = 0; i < a->n_media; i++) {
        assert_string_equal(a->media[i].mid, o->media[i].mid);
        assert_int_equal(tdm_sdp_media_setup(a, i), TDM_SDP_SETUP_ACTIVE);
        assert_string_equal(tdm_sdp_media_ufrag(a, i), "mine");
        assert_int_equal(a->media[i].n_ssrcs, 0);
        if (tdm_sdp_media_dir(o, i) == TDM_SDP_SENDONLY)
            assert_int_equal(tdm_sdp_media_dir(a, i), TDM_SDP_RECVONLY);
    }
    assert_int_equal(a->n_cands, 0);
    tdm_sdp_free(a);
    tdm_sdp_free(o);
    free(out);
    free(offer);
}

static void test_delay_histogram(void **state)
{
    struct ld_stats *s = calloc(1, sizeof *s);
    assert_non_null(s);
    assert_true(ld_hist_quantile_ms(s, 0.5) == 0);
    for (int i = 0; i < 98; i++)
        ld_stats_delay(s, 1000); /* 1 ms */
    ld_stats_delay(s, 300000);   /* 300 ms: coarse bins */
    ld_stats_delay(s, 9000000);  /* 9 s: the overflow bin */
    assert_int_equal(s->delay_n, 100);
    assert_int_equal(s->delay_max_us, 9000000);
    assert_true(ld_hist_quantile_ms(s, 0.5) > 1.0 && ld_hist_quantile_ms(s, 0.5) <= 1.05);
    double p99 = ld_hist_quantile_ms(s, 0.99);
    assert_true(p99 > 300.0 && p99 <= 301.0);
    assert_true(ld_hist_quantile_ms(s, 1.0) == 9000.0);
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pub_offer),
        cmocka_unit_test(test_scan_server_answer),
        cmocka_unit_test(test_sub_answer),
        cmocka_unit_test(test_delay_histogram),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
