/* server/core/sdp_parse.c: lines, session level, and the real browser SDPs end to end. */
#include "sdp_test_util.h"

static const char *const captured[] = {
    "chromium-offer-av.sdp",
    "chromium-offer-audio.sdp",
    "chromium-offer-simulcast.sdp",
    "firefox-offer-av.sdp",
    "firefox-offer-audio.sdp",
    "chromium-av-server-answer.sdp",
    "chromium-av-server-offer1.sdp",
    "chromium-av-server-offer2.sdp",
    "chromium-av-server-offer3.sdp",
    "chromium-av-answer-to-server-offer1.sdp",
    "chromium-av-answer-to-server-offer2.sdp",
    "chromium-av-answer-to-server-offer3.sdp",
    "chromium-audio-server-answer.sdp",
    "chromium-audio-server-offer1.sdp",
    "chromium-audio-answer-to-server-offer1.sdp",
    "firefox-av-server-answer.sdp",
    "firefox-av-server-offer1.sdp",
    "firefox-av-server-offer2.sdp",
    "firefox-av-server-offer3.sdp",
    "firefox-av-answer-to-server-offer1.sdp",
    "firefox-av-answer-to-server-offer2.sdp",
    "firefox-av-answer-to-server-offer3.sdp",
    "firefox-audio-server-answer.sdp",
    "firefox-audio-server-offer1.sdp",
    "firefox-audio-answer-to-server-offer1.sdp",
};

static void every_capture_parses(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof captured / sizeof captured[0]; i++)
        tdm_sdp_free(sdp_load(captured[i]));
}

static void chromium_offer_av(void **state)
{
    (void)state;
    struct tdm_sdp *d = sdp_load("chromium-offer-av.sdp");
    assert_int_equal(d->n_media, 2);
    assert_int_equal(d->n_bundle, 2);
    assert_int_equal(d->bundle[0], 0);
    assert_true(d->extmap_allow_mixed && d->msid_semantic && !d->ice_lite);

    const struct tdm_sdp_media *a = &d->media[0], *v = &d->media[1];
    assert_int_equal(a->kind, TDM_SDP_AUDIO);
    assert_string_equal(a->mid, "0");
    assert_int_equal(a->port, 49703);
    assert_string_equal(a->proto, "UDP/TLS/RTP/SAVPF");
    assert_string_equal(a->ice_ufrag, "pjjI");
    assert_int_equal(a->fingerprint.hash, TDM_SDP_SHA256);
    assert_int_equal(a->fingerprint.value[0], 0x68);
    assert_int_equal(a->fingerprint.value[31], 0x54);
    assert_int_equal(a->setup, TDM_SDP_SETUP_ACTPASS);
    assert_int_equal(a->dir, TDM_SDP_SENDRECV);
    assert_true(a->rtcp_mux && a->rtcp_rsize && !a->rejected);
    assert_int_equal(a->n_codecs, 8);
    assert_int_equal(a->codecs[0].pt, 111);
    assert_string_equal(a->codecs[0].name, "opus");
    assert_int_equal(a->codecs[0].clock, 48000);
    assert_int_equal(a->codecs[0].channels, 2);
    assert_string_equal(a->codecs[0].fmtp, "minptime=10;useinbandfec=1");
    assert_int_equal(a->codecs[0].fb, TDM_SDP_FB_TRANSPORT_CC);
    assert_int_equal(a->n_extmaps, 4);
    assert_int_equal(a->extmaps[0].id, 1);
    assert_string_equal(a->extmaps[0].uri, "urn:ietf:params:rtp-hdrext:ssrc-audio-level");
    assert_int_equal(a->n_ssrcs, 1);
    assert_int_equal(a->ssrcs[0].ssrc, 325669290u);
    assert_string_equal(a->ssrcs[0].cname, "B9Ic+b9a/V3gVkrX");
    assert_string_equal(a->msid_stream, "be104f4e-3a20-44c1-92fc-5fa5a0ecfdd1");
    assert_string_equal(a->msid_track, "0077903c-3450-4355-b324-4c6d11c2c6b0");

    assert_int_equal(v->kind, TDM_SDP_VIDEO);
    assert_int_equal(v->n_codecs, 23);
    assert_int_equal(v->dropped, 0);
    assert_int_equal(v->codecs[0].pt, 96);
    assert_string_equal(v->codecs[0].name, "VP8");
    assert_int_equal(v->codecs[0].fb, 0x1f);
    assert_int_equal(v->n_extmaps, 11);
    assert_int_equal(v->n_groups, 1);
    assert_int_equal(v->groups[0].sem, TDM_SDP_GROUP_FID);
    assert_int_equal(v->groups[0].ssrcs[0], 1721602761u);
    assert_int_equal(v->groups[0].ssrcs[1], 2604160046u);
    assert_int_equal(v->n_ssrcs, 2);

    assert_int_equal(d->n_cands, 4);
    assert_string_equal(d->cands[0].foundation, "1963975812");
    assert_int_equal(d->cands[0].component, 1);
    assert_int_equal(d->cands[0].transport, TDM_SDP_UDP);
    assert_int_equal(d->cands[0].priority, 2122194687u);
    assert_string_equal(d->cands[0].address, "192.0.2.2");
    assert_int_equal(d->cands[0].port, 49703);
    assert_int_equal(d->cands[0].type, TDM_SDP_HOST);
    assert_string_equal(d->cands[1].address, "fd00::2");
    assert_int_equal(d->cands[2].transport, TDM_SDP_TCP);
    assert_int_equal(d->cands[2].tcptype, TDM_SDP_TCP_ACTIVE);
    assert_int_equal(d->cands[2].media, 0);
    tdm_sdp_free(d);
}

static void firefox_offer_av(void **state)
{
    (void)state;
    struct tdm_sdp *d = sdp_load("firefox-offer-av.sdp");
    /* Firefox: fingerprint and direction at session level, ICE at media level, the video
     * m-line on port 0 with a=bundle-only (bundled, not rejected), RTCP candidates. */
    assert_int_equal(d->fingerprint.hash, TDM_SDP_SHA256);
    assert_int_equal(d->fingerprint.value[0], 0x62);
    assert_int_equal(d->dir, TDM_SDP_SENDRECV);
    assert_true(d->ice_trickle);
    assert_int_equal(d->media[0].fingerprint.hash, TDM_SDP_HASH_NONE);
    assert_ptr_equal(tdm_sdp_media_fingerprint(d, 0), &d->fingerprint);
    assert_string_equal(tdm_sdp_media_ufrag(d, 1), "253ae273");
    assert_int_equal(d->media[1].port, 0);
    assert_true(d->media[1].bundle_only);
    assert_false(d->media[1].rejected);
    assert_int_equal(d->n_bundle, 2);
    assert_string_equal(d->media[0].msid_stream, "{2b52735b-a642-491f-8007-414bb4f6d159}");
    assert_true(d->media[0].extmap_allow_mixed);
    assert_int_equal(d->media[0].extmaps[1].id, 2);
    assert_int_equal(d->media[0].extmaps[1].dir, TDM_SDP_RECVONLY);
    assert_int_equal(d->media[0].codecs[0].pt, 109);
    assert_string_equal(d->media[0].codecs[0].fmtp,
                        "maxplaybackrate=48000;stereo=1;useinbandfec=1");
    assert_int_equal(d->n_cands, 8);
    assert_int_equal(d->cands[4].component, 2);
    assert_int_equal(d->cands[4].port, 43168);
    assert_true(d->media[0].end_of_candidates);
    assert_int_equal(d->media[1].n_groups, 1);
    assert_int_equal(d->media[1].groups[0].ssrcs[0], 2398410498u);
    tdm_sdp_free(d);
}

static void chromium_simulcast_rids(void **state)
{
    (void)state;
    struct tdm_sdp *d = sdp_load("chromium-offer-simulcast.sdp");
    const struct tdm_sdp_media *v = &d->media[1];
    assert_int_equal(tdm_sdp_media_dir(d, 1), TDM_SDP_SENDONLY);
    assert_int_equal(v->n_rids, 3);
    const char *want[] = {"q", "h", "f"};
    for (size_t i = 0; i < 3; i++) {
        assert_string_equal(v->rids[i].id, want[i]);
        assert_true(v->rids[i].send && v->rids[i].simulcast && !v->rids[i].paused);
    }
    assert_int_equal(v->n_ssrcs, 0);
    tdm_sdp_free(d);
}

static void minimal_and_line_ends(void **state)
{
    (void)state;
    char err[256];
    assert_int_equal(sdp_try(SDP_MIN, err, sizeof err), 0);
    /* RFC 8866 §5: LF alone is accepted; trailing blank lines too. */
    assert_int_equal(sdp_try("v=0\no=- 1 1 IN IP4 0.0.0.0\ns=-\nt=0 0\n", err, sizeof err), 0);
    assert_int_equal(sdp_try(SDP_MIN "\r\n\r\n", err, sizeof err), 0);
}

static void truncation_is_reported(void **state)
{
    (void)state;
    size_t len;
    char *text = sdp_slurp("chromium-offer-av.sdp", &len), err[256];
    struct tdm_sdp *d = tdm_sdp_new();
    /* Cut anywhere but after a line end: always "truncated". */
    for (size_t n = 0; n < len; n++) {
        if (n && text[n - 1] == '\n')
            continue;
        int rc = tdm_sdp_parse((const uint8_t *)text, n, d, err, sizeof err);
        if (rc != TDM_ETRUNC)
            fail_msg("prefix %zu: %d %s", n, rc, err);
    }
    assert_int_equal(tdm_sdp_parse((const uint8_t *)text, len - 2, d, err, sizeof err), TDM_ETRUNC);
    assert_non_null(strstr(err, "truncated"));
    assert_non_null(strstr(err, "line 165"));
    free(text);
    tdm_sdp_free(d);
    SDP_EXPECT_ERR("", TDM_ETRUNC, "empty SDP");
    SDP_EXPECT_ERR("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\n", TDM_ETRUNC, "before v=, o=, s=");
}

static void oversized_inputs(void **state)
{
    (void)state;
    char *big = malloc(TDM_SDP_MAX_BYTES + 2), err[256];
    struct tdm_sdp *d = tdm_sdp_new();
    memset(big, 'a', TDM_SDP_MAX_BYTES + 1);
    assert_int_equal(tdm_sdp_parse((const uint8_t *)big, TDM_SDP_MAX_BYTES + 1, d, err, sizeof err),
                     TDM_ETOOBIG);
    assert_non_null(strstr(err, "limit 65536"));
    /* One attribute line of 4097 bytes. */
    strcpy(big, SDP_MIN "a=x:");
    size_t n = strlen(big);
    memset(big + n, 'b', 4097 - 4);
    memcpy(big + n + 4093, "\r\n", 3);
    assert_int_equal(tdm_sdp_parse((const uint8_t *)big, strlen(big), d, err, sizeof err),
                     TDM_ETOOBIG);
    assert_non_null(strstr(err, "longer than 4096"));
    /* 65 m-lines. */
    strcpy(big, SDP_HEAD);
    n = strlen(big);
    for (int i = 0; i < 65; i++)
        n += (size_t)snprintf(big + n, 200, "m=audio 0 RTP/AVP 0\r\n");
    assert_int_equal(tdm_sdp_parse((const uint8_t *)big, n, d, err, sizeof err), TDM_ETOOBIG);
    assert_non_null(strstr(err, "more than 64 m-lines"));
    assert_non_null(strstr(err, "line 72"));
    free(big);
    tdm_sdp_free(d);
}

static void line_level_garbage(void **state)
{
    (void)state;
    SDP_EXPECT_ERR("o=- 1 1 IN IP4 0.0.0.0\r\nv=0\r\ns=-\r\nt=0 0\r\n", TDM_EINVAL,
                   "line 1 \"o=- 1 1");
    SDP_EXPECT_ERR("v=1\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n", TDM_EINVAL, "want v=0");
    SDP_EXPECT_ERR("v=0\r\no=- x 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n", TDM_EINVAL, "64-bit");
    SDP_EXPECT_ERR("v=0\r\no=- 1 1 IN IP4\r\ns=-\r\nt=0 0\r\n", TDM_EINVAL, "6 fields");
    SDP_EXPECT_ERR("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\n", TDM_EINVAL, "no t= line");
    SDP_EXPECT_ERR(SDP_MIN "x=1\r\n", TDM_EINVAL, "unknown line type 'x'");
    SDP_EXPECT_ERR(SDP_MIN "a=foo\x01\r\n", TDM_EINVAL, "control character");
    SDP_EXPECT_ERR(SDP_MIN "a=foo\xff\r\n", TDM_EINVAL, "bad UTF-8");
    SDP_EXPECT_ERR(SDP_HEAD "\r\n" SDP_AUDIO, TDM_EINVAL, "empty line");
    SDP_EXPECT_ERR(SDP_MIN "no equals\r\n", TDM_EINVAL, "want <letter>=<value>");
    SDP_EXPECT_ERR(SDP_MIN "v=0\r\n", TDM_EINVAL, "must start with v=, o=, s=");
    SDP_EXPECT_ERR(SDP_MIN "c=IN IP4\r\n", TDM_EINVAL, "want c=IN");
    SDP_EXPECT_ERR(SDP_MIN "t=0 0\r\n", TDM_EINVAL, "session level");
    SDP_EXPECT_ERR("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\n" SDP_AUDIO, TDM_EINVAL,
                   "m= before t=");
    /* Unknown attributes and b=/i= lines are ignored (RFC 8866 §5.13). */
    char err[256];
    assert_int_equal(sdp_try(SDP_MIN "a=x-unknown:1 2 3\r\nb=AS:30\r\n", err, sizeof err), 0);
    /* UTF-8 in free text is fine. */
    assert_int_equal(
        sdp_try("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=Am\xc4\xabna\r\nt=0 0\r\n", err, sizeof err),
        0);
}

static void session_attributes(void **state)
{
    (void)state;
    SDP_EXPECT_ERR(SDP_MIN "a=ice-ufrag:abc\r\n", TDM_EINVAL, "want 4..256 ice-chars");
    SDP_EXPECT_ERR(SDP_HEAD "a=ice-ufrag:abcd\r\n", TDM_EINVAL, "given twice");
    SDP_EXPECT_ERR(SDP_MIN "a=ice-pwd:short\r\n", TDM_EINVAL, "want 22..256");
    SDP_EXPECT_ERR(SDP_MIN "a=ice-ufrag:ab;d\r\n", TDM_EINVAL, "ice-chars");
    SDP_EXPECT_ERR(SDP_MIN "a=fingerprint:sha-256 00:11\r\n", TDM_EINVAL, "wants 32 bytes");
    SDP_EXPECT_ERR(SDP_MIN "a=fingerprint:sha-1 "
                           "0G:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33\r\n",
                   TDM_EINVAL, "bad hex");
    SDP_EXPECT_ERR(SDP_HEAD "a=setup:maybe\r\n", TDM_EINVAL, "want actpass");
    SDP_EXPECT_ERR(SDP_MIN "a=setup:active\r\n", TDM_EINVAL, "given twice");
    SDP_EXPECT_ERR(SDP_MIN "a=sendonly\r\n", TDM_EINVAL, "a second direction");
    SDP_EXPECT_ERR(SDP_HEAD "a=mid:0\r\n", TDM_EINVAL, "not allowed at session level");
    SDP_EXPECT_ERR(SDP_MIN "a=group:BUNDLE 0\r\n", TDM_EINVAL, "not allowed at media level");

    struct tdm_sdp *d = tdm_sdp_new();
    char err[256];
    const char *t = SDP_HEAD "a=ice-lite\r\na=ice-options:ice2 trickle\r\na=group:LS 0\r\n"
                             "a=fingerprint:md5 00\r\na=group:BUNDLE 0\r\n" SDP_AUDIO;
    assert_int_equal(tdm_sdp_parse((const uint8_t *)t, strlen(t), d, err, sizeof err), 0);
    assert_true(d->ice_lite && d->ice_trickle);
    assert_int_equal(d->sess_id, 1);
    assert_int_equal(d->fingerprint.hash, TDM_SDP_SHA256); /* md5 ignored */
    assert_int_equal(tdm_sdp_media_setup(d, 0), TDM_SDP_SETUP_ACTPASS);
    tdm_sdp_free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_capture_parses),  cmocka_unit_test(chromium_offer_av),
        cmocka_unit_test(firefox_offer_av),      cmocka_unit_test(chromium_simulcast_rids),
        cmocka_unit_test(minimal_and_line_ends), cmocka_unit_test(truncation_is_reported),
        cmocka_unit_test(oversized_inputs),      cmocka_unit_test(line_level_garbage),
        cmocka_unit_test(session_attributes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
