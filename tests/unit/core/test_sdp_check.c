/* server/core/sdp_check.c: contradictions only visible across lines. */
#include "sdp_test_util.h"

#define VIDEO1                                                                                     \
    "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:1\r\na=rtcp-mux\r\na=rtpmap:96 VP8/90000\r\n"

static void mids(void **state)
{
    (void)state;
    SDP_EXPECT_ERR(SDP_HEAD "a=group:BUNDLE 0\r\n" SDP_AUDIO SDP_AUDIO, TDM_EINVAL,
                   "m-line 2 (line 16, mid \"0\"): mid also used by m-line 1");
    SDP_EXPECT_ERR(SDP_HEAD "a=group:BUNDLE 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\n", TDM_EINVAL,
                   "no a=mid");
    SDP_EXPECT_ERR(SDP_MIN "a=mid:1\r\n", TDM_EINVAL, "a second a=mid");
    SDP_EXPECT_ERR(SDP_HEAD "a=group:BUNDLE 0\r\nm=audio 9 RTP/AVP 0\r\na=mid:0 1\r\n", TDM_EINVAL,
                   "mid must be");
    /* A rejected m-line may go without a mid. */
    char err[256];
    assert_int_equal(sdp_try(SDP_MIN "m=video 0 RTP/AVP 96\r\n", err, sizeof err), 0);
}

static void bundle_group(void **state)
{
    (void)state;
    SDP_EXPECT_ERR(SDP_HEAD "a=group:BUNDLE 0 7\r\n" SDP_AUDIO, TDM_EINVAL,
                   "line 8 \"a=group:BUNDLE 0 7\": BUNDLE names unknown mid \"7\"");
    SDP_EXPECT_ERR(SDP_HEAD "a=group:BUNDLE 0 0\r\n" SDP_AUDIO, TDM_EINVAL, "twice");
    SDP_EXPECT_ERR(SDP_HEAD "a=group:BUNDLE 0\r\na=group:BUNDLE 1\r\n" SDP_AUDIO, TDM_EUNSUPP,
                   "a second BUNDLE group");
    SDP_EXPECT_ERR(SDP_HEAD "a=group:BUNDLE 0 1\r\n" SDP_AUDIO
                            "m=video 0 UDP/TLS/RTP/SAVPF 96\r\na=mid:1\r\n",
                   TDM_EINVAL, "BUNDLE names rejected m-line 2");
    SDP_EXPECT_ERR(SDP_HEAD SDP_AUDIO, TDM_EINVAL, "active but there is no BUNDLE group");
    SDP_EXPECT_ERR(SDP_MIN VIDEO1, TDM_EINVAL, "m-line 2 (line 16, mid \"1\"): active but not in");

    struct tdm_sdp *d = tdm_sdp_new();
    char err[256];
    /* Port 0 with bundle-only is bundled (RFC 8843 §6), tag first. */
    const char *t = SDP_HEAD "a=group:BUNDLE 1 0\r\n" SDP_AUDIO
                             "m=video 0 UDP/TLS/RTP/SAVPF 96\r\na=bundle-only\r\na=mid:1\r\n"
                             "a=rtpmap:96 VP8/90000\r\n";
    assert_int_equal(tdm_sdp_parse((const uint8_t *)t, strlen(t), d, err, sizeof err), 0);
    assert_int_equal(d->n_bundle, 2);
    assert_int_equal(d->bundle[0], 1);
    assert_int_equal(d->bundle[1], 0);
    assert_false(d->media[1].rejected);
    assert_int_equal(tdm_sdp_find_mid(d, "1"), 1);
    assert_int_equal(tdm_sdp_find_mid(d, "9"), -1);
    /* No active m-line, no BUNDLE needed; an empty group is fine. */
    assert_int_equal(sdp_try(SDP_HEAD "m=audio 0 RTP/AVP 0\r\n", err, sizeof err), 0);
    assert_int_equal(sdp_try(SDP_HEAD "a=group:BUNDLE\r\nm=audio 0 RTP/AVP 0\r\n", err, sizeof err),
                     0);
    tdm_sdp_free(d);
}

#define HEAD_NO_ICE "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n"

static void credentials(void **state)
{
    (void)state;
    SDP_EXPECT_ERR(HEAD_NO_ICE SDP_FP SDP_AUDIO, TDM_EINVAL, "no ice-ufrag/ice-pwd");
    SDP_EXPECT_ERR(HEAD_NO_ICE "a=ice-ufrag:abcd\r\n" SDP_FP SDP_AUDIO, TDM_EINVAL,
                   "no ice-ufrag/ice-pwd");
    SDP_EXPECT_ERR(HEAD_NO_ICE "a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuv\r\n" SDP_AUDIO,
                   TDM_EINVAL, "m-line 1 (line 8, mid \"0\"): no usable a=fingerprint");
    /* Bundled m-lines may repeat the tag's credentials but not differ from them. */
    SDP_EXPECT_ERR(SDP_HEAD "a=group:BUNDLE 0 1\r\n" SDP_AUDIO VIDEO1 "a=ice-ufrag:efgh\r\n",
                   TDM_EINVAL, "mid \"1\"): ICE credentials differ");
    SDP_EXPECT_ERR(SDP_HEAD "a=group:BUNDLE 0 1\r\n" SDP_AUDIO VIDEO1 "a=fingerprint:sha-256 "
                            "01:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:"
                            "77:88:99:AA:BB:CC:DD:EE:FF\r\n",
                   TDM_EINVAL, "fingerprint differs");
    char err[256];
    /* Credentials only in the tag's m-section (RFC 8843 §8) are enough. */
    assert_int_equal(sdp_try("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
                             "a=group:BUNDLE 0 1\r\n" SDP_AUDIO "a=ice-ufrag:abcd\r\n"
                             "a=ice-pwd:abcdefghijklmnopqrstuv\r\n" SDP_FP VIDEO1
                             "a=ice-ufrag:abcd\r\n",
                             err, sizeof err),
                     0);
}

static void codecs_across_lines(void **state)
{
    (void)state;
    SDP_EXPECT_ERR(SDP_HEAD "a=group:BUNDLE 0\r\nm=audio 9 RTP/AVP 96\r\na=mid:0\r\n", TDM_EINVAL,
                   "payload type 96 has no a=rtpmap");
    SDP_EXPECT_ERR(SDP_HEAD "a=group:BUNDLE 0\r\nm=video 9 RTP/AVP 96 97\r\na=mid:0\r\n"
                            "a=rtpmap:96 VP8/90000\r\na=rtpmap:97 rtx/90000\r\n"
                            "a=fmtp:97 apt=100\r\n",
                   TDM_EINVAL, "rtx payload type 97: apt names no listed");
    SDP_EXPECT_ERR(SDP_HEAD "a=group:BUNDLE 0\r\nm=video 9 RTP/AVP 96 97\r\na=mid:0\r\n"
                            "a=rtpmap:96 VP8/90000\r\na=rtpmap:97 rtx/90000\r\n",
                   TDM_EINVAL, "apt names no listed");
    /* Found by fuzz_sdp: an unreadable apt used to pass, then fail after a rewrite. */
    SDP_EXPECT_ERR(SDP_HEAD "a=group:BUNDLE 0\r\nm=video 9 RTP/AVP 96 97\r\na=mid:0\r\n"
                            "a=rtpmap:96 VP8/90000\r\na=rtpmap:97 rtx/90000\r\na=fmtp:97 apt=96;"
                            "x=01234567890123456789012345678901234567890123456789012345678901234567"
                            "89012345678901234567890123456789012345678901234567890123456789\r\n",
                   TDM_EINVAL, "rtx payload type 97: fmtp too long");
}

static void simulcast_rids(void **state)
{
    (void)state;
    SDP_EXPECT_ERR(SDP_MIN "a=rid:a send\r\na=simulcast:send a;b\r\n", TDM_EINVAL,
                   "line 17 \"a=simulcast:send a;b\": simulcast names a rid with no a=rid:<id> "
                   "send");
    SDP_EXPECT_ERR(SDP_MIN "a=rid:a recv\r\na=simulcast:send a\r\n", TDM_EINVAL, "no a=rid");
    SDP_EXPECT_ERR(SDP_MIN "a=rid:a send\r\na=simulcast:send a send a\r\n", TDM_EINVAL,
                   "want one send");
    SDP_EXPECT_ERR(SDP_MIN "a=rid:a send\r\na=simulcast:send\r\n", TDM_EINVAL, "want send|recv");
    SDP_EXPECT_ERR(SDP_MIN "a=simulcast:\r\n", TDM_EINVAL, "empty a=simulcast");
    SDP_EXPECT_ERR(SDP_MIN "a=rid:a send\r\na=simulcast:send a;;a\r\n", TDM_EINVAL, "no a=rid");
    char err[256];
    assert_int_equal(sdp_try(SDP_MIN
                             "a=simulcast: send rid=a,b\r\na=rid:a send\r\na=rid:b send\r\n",
                             err, sizeof err),
                     0);
}

static void bundle_maps(void **state)
{
    (void)state;
    /* Found by fuzz_sdp: one id, two URIs across the group made the next offer ambiguous. */
    SDP_EXPECT_ERR(SDP_HEAD "a=group:BUNDLE 0 1\r\n" SDP_AUDIO "a=extmap:1 urn:a\r\n" VIDEO1
                            "a=extmap:1 urn:b\r\n",
                   TDM_EINVAL, "mid \"1\"): extmap id 1 names another URI in mid \"0\"");
    SDP_EXPECT_ERR(SDP_HEAD "a=group:BUNDLE 0 1\r\n" SDP_AUDIO
                            "m=video 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:1\r\n"
                            "a=rtpmap:111 VP8/90000\r\n",
                   TDM_EINVAL, "payload type 111 is VP8 here, opus in mid \"0\"");
    char err[256];
    assert_int_equal(sdp_try(SDP_HEAD "a=group:BUNDLE 0 1\r\n" SDP_AUDIO "a=extmap:1 urn:a\r\n"
                                      "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:1\r\n"
                                      "a=rtpmap:111 OPUS/48000/2\r\na=extmap:1 urn:a\r\n",
                             err, sizeof err),
                     0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(mids),           cmocka_unit_test(bundle_group),
        cmocka_unit_test(credentials),    cmocka_unit_test(codecs_across_lines),
        cmocka_unit_test(simulcast_rids), cmocka_unit_test(bundle_maps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
