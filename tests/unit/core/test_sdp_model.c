/* server/core/sdp_model.c: fmtp look-up, codec and extension classification, defaults. */
#include "sdp_test_util.h"

static void fmtp_params(void **state)
{
    (void)state;
    char v[16];
    const char *f = "level-asymmetry-allowed=1; packetization-mode=1;profile-level-id=42e01f ";
    assert_int_equal(tdm_sdp_fmtp_param(f, "profile-level-id", v, sizeof v), 6);
    assert_string_equal(v, "42e01f");
    assert_int_equal(tdm_sdp_fmtp_param(f, "PACKETIZATION-MODE", v, sizeof v), 1);
    assert_string_equal(v, "1");
    assert_int_equal(tdm_sdp_fmtp_param(f, "level", v, sizeof v), TDM_ENOTFOUND);
    assert_int_equal(tdm_sdp_fmtp_param(f, "profile-level-id", v, 6), TDM_ETOOBIG);
    assert_int_equal(tdm_sdp_fmtp_param("apt2=5;apt=96", "apt", v, sizeof v), 2);
    assert_string_equal(v, "96");
    assert_int_equal(tdm_sdp_fmtp_param("0-15", "apt", v, sizeof v), TDM_ENOTFOUND);
    assert_int_equal(tdm_sdp_fmtp_param("", "apt", v, sizeof v), TDM_ENOTFOUND);
    assert_int_equal(tdm_sdp_fmtp_param("apt=", "apt", v, sizeof v), 0);
}

static enum tdm_sdp_codec_id classify(const char *name, uint32_t clock, uint8_t ch,
                                      const char *fmtp)
{
    struct tdm_sdp_codec c = {.has_rtpmap = true, .clock = clock, .channels = ch};
    snprintf(c.name, sizeof c.name, "%s", name);
    snprintf(c.fmtp, sizeof c.fmtp, "%s", fmtp);
    return tdm_sdp_codec_classify(&c);
}

static void codec_classes(void **state)
{
    (void)state;
    assert_int_equal(classify("opus", 48000, 2, ""), TDM_SDP_CODEC_OPUS);
    assert_int_equal(classify("OPUS", 48000, 2, ""), TDM_SDP_CODEC_OPUS);
    assert_int_equal(classify("opus", 48000, 1, ""), TDM_SDP_CODEC_OTHER);
    assert_int_equal(classify("VP8", 90000, 0, ""), TDM_SDP_CODEC_VP8);
    assert_int_equal(classify("VP8", 8000, 0, ""), TDM_SDP_CODEC_OTHER);
    assert_int_equal(classify("rtx", 90000, 0, "apt=96"), TDM_SDP_CODEC_RTX);
    assert_int_equal(classify("VP9", 90000, 0, "profile-id=0"), TDM_SDP_CODEC_VP9);
    assert_int_equal(classify("VP9", 90000, 0, ""), TDM_SDP_CODEC_VP9);
    assert_int_equal(classify("VP9", 90000, 0, "profile-id=2"), TDM_SDP_CODEC_OTHER);
    /* H.264: constrained baseline (profile_idc 0x42, constraint_set1) and mode 1 only. */
    const char *cb = "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f";
    assert_int_equal(classify("H264", 90000, 0, cb), TDM_SDP_CODEC_H264);
    assert_int_equal(classify("H264", 90000, 0, "packetization-mode=1;profile-level-id=42C034"),
                     TDM_SDP_CODEC_H264);
    assert_int_equal(classify("H264", 90000, 0, "packetization-mode=1;profile-level-id=42001f"),
                     TDM_SDP_CODEC_OTHER);
    assert_int_equal(classify("H264", 90000, 0, "packetization-mode=1;profile-level-id=4d001f"),
                     TDM_SDP_CODEC_OTHER);
    assert_int_equal(classify("H264", 90000, 0, "packetization-mode=0;profile-level-id=42e01f"),
                     TDM_SDP_CODEC_OTHER);
    assert_int_equal(classify("H264", 90000, 0, "profile-level-id=42e01f"), TDM_SDP_CODEC_OTHER);
    assert_int_equal(classify("H264", 90000, 0, "packetization-mode=1;profile-level-id=42e0zz"),
                     TDM_SDP_CODEC_OTHER);
    assert_int_equal(classify("red", 90000, 0, ""), TDM_SDP_CODEC_OTHER);
    assert_int_equal(classify("ulpfec", 90000, 0, ""), TDM_SDP_CODEC_OTHER);
    assert_int_equal(classify("AV1", 90000, 0, ""), TDM_SDP_CODEC_OTHER);
    struct tdm_sdp_codec c = {.has_rtpmap = false, .clock = 90000, .name = "VP8"};
    assert_int_equal(tdm_sdp_codec_classify(&c), TDM_SDP_CODEC_OTHER);
    c.has_rtpmap = c.fmtp_too_long = true;
    assert_int_equal(tdm_sdp_codec_classify(&c), TDM_SDP_CODEC_OTHER);
}

static void extension_classes(void **state)
{
    (void)state;
    for (int e = 0; e < TDM_SDP_EXT_COUNT; e++)
        assert_int_equal(tdm_sdp_ext_classify(tdm_sdp_ext_uri((enum tdm_sdp_ext_id)e)), e);
    assert_int_equal(tdm_sdp_ext_classify("urn:ietf:params:rtp-hdrext:toffset"), -1);
    assert_int_equal(tdm_sdp_ext_classify("urn:ietf:params:rtp-hdrext:sdes:mid "), -1);
    assert_string_equal(tdm_sdp_ext_uri((enum tdm_sdp_ext_id)99), "");
}

static void payload_type_choice(void **state)
{
    (void)state;
    uint8_t pt;
    int16_t rtx;
    struct tdm_sdp *c = sdp_load("chromium-offer-av.sdp");
    struct tdm_sdp *f = sdp_load("firefox-offer-av.sdp");
    struct tdm_sdp *fa = sdp_load("firefox-offer-audio.sdp");
    const struct {
        const struct tdm_sdp *d;
        enum tdm_sdp_codec_id codec;
        int pt, rtx;
    } want[] = {
        {c, TDM_SDP_CODEC_OPUS, 111, -1},
        {c, TDM_SDP_CODEC_VP8, 96, 97},
        {c, TDM_SDP_CODEC_H264, 108, 109},
        {c, TDM_SDP_CODEC_VP9, 98, 99},
        {f, TDM_SDP_CODEC_OPUS, 109, -1},
        {f, TDM_SDP_CODEC_VP8, 120, 124},
        {f, TDM_SDP_CODEC_VP9, 121, 125},
        {f, TDM_SDP_CODEC_H264, 108, 96}, /* not offered; 109 is its Opus */
        {fa, TDM_SDP_CODEC_VP8, 96, 97},
        {NULL, TDM_SDP_CODEC_VP9, 98, 99},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        assert_int_equal(tdm_sdp_pick_pts(want[i].d, want[i].codec, &pt, &rtx), 0);
        assert_int_equal(pt, want[i].pt);
        assert_int_equal(rtx, want[i].rtx);
    }
    assert_int_equal(tdm_sdp_pick_pts(c, TDM_SDP_CODEC_OTHER, &pt, &rtx), TDM_ENOTFOUND);
    /* Defaults taken by other codecs move to free dynamic numbers (BUNDLE: one pt space). */
    struct tdm_sdp *d = tdm_sdp_new();
    d->n_media = 1;
    d->media[0].kind = TDM_SDP_AUDIO;
    d->media[0].n_codecs = 2;
    d->media[0].codecs[0].pt = 96;
    d->media[0].codecs[1].pt = 97;
    assert_int_equal(tdm_sdp_pick_pts(d, TDM_SDP_CODEC_VP8, &pt, &rtx), 0);
    assert_int_equal(pt, 98);
    assert_int_equal(rtx, 99);
    d->media[0].codecs[1].pt = 98;
    assert_int_equal(tdm_sdp_pick_pts(d, TDM_SDP_CODEC_VP8, &pt, &rtx), 0);
    assert_int_equal(pt, 97);
    assert_int_equal(rtx, 99);
    tdm_sdp_free(d);
    tdm_sdp_free(c);
    tdm_sdp_free(f);
    tdm_sdp_free(fa);
}

static void effective_values(void **state)
{
    (void)state;
    struct tdm_sdp *d = tdm_sdp_new();
    d->n_media = 2;
    assert_int_equal(tdm_sdp_media_dir(d, 0), TDM_SDP_SENDRECV);
    d->dir = TDM_SDP_RECVONLY;
    d->media[1].dir = TDM_SDP_INACTIVE;
    assert_int_equal(tdm_sdp_media_dir(d, 0), TDM_SDP_RECVONLY);
    assert_int_equal(tdm_sdp_media_dir(d, 1), TDM_SDP_INACTIVE);
    assert_int_equal(tdm_sdp_media_dir(d, 7), TDM_SDP_INACTIVE);
    d->setup = TDM_SDP_SETUP_ACTIVE;
    d->media[1].setup = TDM_SDP_SETUP_PASSIVE;
    assert_int_equal(tdm_sdp_media_setup(d, 0), TDM_SDP_SETUP_ACTIVE);
    assert_int_equal(tdm_sdp_media_setup(d, 1), TDM_SDP_SETUP_PASSIVE);
    strcpy(d->ice_ufrag, "sess");
    strcpy(d->media[1].ice_ufrag, "media");
    assert_string_equal(tdm_sdp_media_ufrag(d, 0), "sess");
    assert_string_equal(tdm_sdp_media_ufrag(d, 1), "media");
    assert_string_equal(tdm_sdp_media_pwd(d, 1), "");
    tdm_sdp_free(d);
    tdm_sdp_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fmtp_params),       cmocka_unit_test(codec_classes),
        cmocka_unit_test(extension_classes), cmocka_unit_test(payload_type_choice),
        cmocka_unit_test(effective_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
