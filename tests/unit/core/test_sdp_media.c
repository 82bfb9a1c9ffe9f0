/* server/core/sdp_media.c: the m= line and the media-level attributes. */
#include "sdp_test_util.h"

static struct tdm_sdp *parse_ok(const char *text)
{
    char err[256];
    struct tdm_sdp *d = tdm_sdp_new();
    int rc = tdm_sdp_parse((const uint8_t *)text, strlen(text), d, err, sizeof err);
    if (rc != 0)
        fail_msg("%d %s", rc, err);
    return d;
}

static void mline_errors(void **state)
{
    (void)state;
    SDP_EXPECT_ERR(SDP_MIN "m=audio\r\n", TDM_EINVAL, "want m=<media> <port> <proto>");
    SDP_EXPECT_ERR(SDP_MIN "m=audio 9/2 RTP/AVP 0\r\n", TDM_EINVAL, "port counts");
    SDP_EXPECT_ERR(SDP_MIN "m=audio 70000 RTP/AVP 0\r\n", TDM_EINVAL, "bad port");
    SDP_EXPECT_ERR(SDP_MIN "m=audio 0 RTP/AVP\r\n", TDM_EINVAL, "no formats");
    SDP_EXPECT_ERR(SDP_MIN "m=audio 0 RTP/AVP 128\r\n", TDM_EINVAL, "0..127");
    SDP_EXPECT_ERR(SDP_MIN "m=audio 0 RTP/AVP 0 8 0\r\n", TDM_EINVAL,
                   "payload type 0 listed twice");
    SDP_EXPECT_ERR(SDP_MIN "m=audio 0 RTP/AVP x\r\n", TDM_EINVAL, "0..127");
    SDP_EXPECT_ERR(SDP_MIN "m=te\"xt 0 RTP/AVP 0\r\n", TDM_EINVAL, "bad media type");
}

static void rtpmap_fmtp_rtcp_fb(void **state)
{
    (void)state;
    /* Contradictions: a pt absent from the m= list, two rtpmaps or fmtps for one pt. */
    SDP_EXPECT_ERR(SDP_MIN "a=rtpmap:96 VP8/90000\r\n", TDM_EINVAL,
                   "payload type 96 is not in the m= line");
    SDP_EXPECT_ERR(SDP_MIN "a=rtpmap:111 opus/48000/2\r\n", TDM_EINVAL,
                   "a second rtpmap for payload type 111");
    SDP_EXPECT_ERR(SDP_MIN "a=fmtp:96 apt=111\r\n", TDM_EINVAL, "payload type 96 is not");
    SDP_EXPECT_ERR(SDP_MIN "a=fmtp:111 a=1\r\na=fmtp:111 b=2\r\n", TDM_EINVAL,
                   "a second fmtp for payload type 111");
    SDP_EXPECT_ERR(SDP_MIN "a=rtcp-fb:96 nack\r\n", TDM_EINVAL, "payload type 96 is not");
    SDP_EXPECT_ERR(SDP_MIN "a=rtcp-fb:111\r\n", TDM_EINVAL, "want <pt> <type>");
    SDP_EXPECT_ERR(SDP_HEAD "a=group:BUNDLE 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"
                            "a=mid:0\r\na=rtpmap:111 opus\r\n",
                   TDM_EINVAL, "want <pt> <name>/<clock>");
    SDP_EXPECT_ERR(SDP_HEAD "a=group:BUNDLE 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"
                            "a=mid:0\r\na=rtpmap:111 opus/0\r\n",
                   TDM_EINVAL, "want <pt> <name>/<clock>");
    SDP_EXPECT_ERR(SDP_HEAD "a=group:BUNDLE 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"
                            "a=mid:0\r\na=rtpmap:111 op us/48000\r\n",
                   TDM_EINVAL, "want <pt> <name>/<clock>");
    SDP_EXPECT_ERR("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
                   "m=application 0 UDP/DTLS/SCTP webrtc-datachannel\r\na=rtpmap:1 x/1\r\n",
                   TDM_EINVAL, "non-RTP m-line");

    struct tdm_sdp *d = parse_ok(SDP_HEAD "a=group:BUNDLE 0\r\n"
                                          "m=video 9 UDP/TLS/RTP/SAVPF 96 97 0\r\na=mid:0\r\n"
                                          "a=rtpmap:96 VP8/90000\r\na=rtpmap:97 rtx/90000\r\n"
                                          "a=fmtp:97 apt=96\r\na=rtcp-fb:* nack\r\n"
                                          "a=rtcp-fb:96 nack pli\r\na=rtcp-fb:96 ccm fir\r\n"
                                          "a=rtcp-fb:96 goog-remb\r\na=rtcp-fb:96 ack rpsi\r\n"
                                          "a=rtcp-fb:96 transport-cc\r\n");
    const struct tdm_sdp_media *m = &d->media[0];
    assert_int_equal(m->n_codecs, 3);
    assert_int_equal(m->codecs[0].fb, 0x1f);
    assert_int_equal(m->codecs[1].fb, TDM_SDP_FB_NACK); /* from "*" */
    assert_false(m->codecs[2].has_rtpmap);              /* static pt 0, no rtpmap needed */
    assert_string_equal(m->codecs[1].fmtp, "apt=96");
    assert_int_equal(tdm_sdp_find_pt(m, 97), &m->codecs[1]);
    assert_null(tdm_sdp_find_pt(m, 98));
    tdm_sdp_free(d);
}

/* Over the bound, payload types are counted, not refused, and their lines stay checkable. */
static void codec_and_extmap_bounds(void **state)
{
    (void)state;
    char *t = malloc(16384);
    size_t n = (size_t)sprintf(t, "%s", SDP_HEAD "a=group:BUNDLE 0\r\nm=video 9 UDP/TLS/RTP/SAVPF");
    for (int pt = 90; pt < 130 - 2; pt++) /* 38 payload types */
        n += (size_t)sprintf(t + n, " %d", pt);
    n += (size_t)sprintf(t + n, "\r\na=mid:0\r\n");
    for (int pt = 90; pt < 128; pt++)
        n += (size_t)sprintf(t + n, "a=rtpmap:%d VP8/90000\r\n", pt);
    for (int id = 1; id <= 20; id++)
        n += (size_t)sprintf(t + n, "a=extmap:%d urn:x:%d\r\n", id == 15 ? 99 : id, id);
    n += (size_t)sprintf(t + n, "a=fmtp:90 %0200d\r\n", 7);
    struct tdm_sdp *d = parse_ok(t);
    const struct tdm_sdp_media *m = &d->media[0];
    assert_int_equal(m->n_codecs, TDM_SDP_MAX_CODECS);
    assert_int_equal(m->n_extmaps, TDM_SDP_MAX_EXTMAPS);
    assert_int_equal(m->dropped, 6 + 4);
    assert_true(m->codecs[0].fmtp_too_long);
    assert_int_equal(tdm_sdp_codec_classify(&m->codecs[0]), TDM_SDP_CODEC_OTHER);
    assert_int_equal(tdm_sdp_codec_classify(&m->codecs[1]), TDM_SDP_CODEC_VP8);
    tdm_sdp_free(d);
    free(t);
}

static void extmap_rules(void **state)
{
    (void)state;
    SDP_EXPECT_ERR(SDP_MIN "a=extmap:15 urn:x\r\n", TDM_EINVAL, "extmap id 15 is reserved");
    char err[256];
    assert_int_equal(
        sdp_try(SDP_HEAD "a=extmap:1 urn:x\r\na=group:BUNDLE 0\r\n" SDP_AUDIO, err, sizeof err), 0);
    SDP_EXPECT_ERR(SDP_MIN "a=extmap:0 urn:x\r\n", TDM_EINVAL, "reserved");
    SDP_EXPECT_ERR(SDP_MIN "a=extmap:256 urn:x\r\n", TDM_EINVAL, "want <id>");
    SDP_EXPECT_ERR(SDP_MIN "a=extmap:3 urn:x\r\na=extmap:3 urn:y\r\n", TDM_EINVAL,
                   "extmap id 3 used twice");
    SDP_EXPECT_ERR(SDP_MIN "a=extmap:3/sideways urn:x\r\n", TDM_EINVAL, "bad extmap direction");
    SDP_EXPECT_ERR(SDP_MIN "a=extmap:3\r\n", TDM_EINVAL, "want <id>");
    /* Found by fuzz_sdp: the writer refused what the parser let through. */
    SDP_EXPECT_ERR(SDP_MIN "a=extmap:3 urn:\xc3\xa9\r\n", TDM_EINVAL, "visible ASCII");
    struct tdm_sdp *d =
        parse_ok(SDP_MIN "a=extmap:2/sendonly urn:ietf:params:rtp-hdrext:sdes:mid\r\n"
                         "a=extmap:200 urn:two-byte attr\r\n");
    assert_int_equal(d->media[0].extmaps[0].dir, TDM_SDP_SENDONLY);
    assert_int_equal(tdm_sdp_ext_classify(d->media[0].extmaps[0].uri), TDM_SDP_EXT_MID);
    assert_int_equal(d->media[0].extmaps[1].id, 200);
    assert_string_equal(d->media[0].extmaps[1].uri, "urn:two-byte");
    tdm_sdp_free(d);
}

static void ssrc_and_groups(void **state)
{
    (void)state;
    SDP_EXPECT_ERR(SDP_MIN "a=ssrc:1\r\n", TDM_EINVAL, "want <ssrc> <attribute>");
    SDP_EXPECT_ERR(SDP_MIN "a=ssrc:4294967296 cname:x\r\n", TDM_EINVAL, "want <ssrc>");
    SDP_EXPECT_ERR(SDP_MIN "a=ssrc:1 cname:a\r\na=ssrc:1 cname:b\r\n", TDM_EINVAL,
                   "two cnames for ssrc 1");
    SDP_EXPECT_ERR(SDP_MIN "a=ssrc:1 cname:\r\n", TDM_EINVAL, "cname must be");
    SDP_EXPECT_ERR(SDP_MIN "a=ssrc-group:FID 1 2 3\r\n", TDM_EINVAL, "FID and FEC-FR pair 2");
    SDP_EXPECT_ERR(SDP_MIN "a=ssrc-group:SIM 1 2 3 4 5\r\n", TDM_EINVAL, "want 1..4 SSRCs");
    SDP_EXPECT_ERR(SDP_MIN "a=ssrc-group:FID 1 x\r\n", TDM_EINVAL, "want 1..4 SSRCs");
    char *t = malloc(4096);
    size_t n = (size_t)sprintf(t, "%s", SDP_MIN);
    for (int i = 1; i <= 17; i++)
        n += (size_t)sprintf(t + n, "a=ssrc:%d cname:c\r\n", i);
    SDP_EXPECT_ERR(t, TDM_ETOOBIG, "more than 16 SSRCs");
    n = (size_t)sprintf(t, "%s", SDP_MIN);
    for (int i = 1; i <= 9; i++)
        n += (size_t)sprintf(t + n, "a=ssrc-group:FID %d %d\r\n", i, 100 + i);
    SDP_EXPECT_ERR(t, TDM_ETOOBIG, "more than 8 ssrc-groups");
    free(t);

    /* Legacy "a=ssrc:N msid:" fills msid when no a=msid is given; a=msid wins over it. */
    struct tdm_sdp *d = parse_ok(SDP_MIN "a=ssrc-group:FID 10 11\r\na=ssrc:10 msid:s1 t1\r\n"
                                         "a=ssrc:10 cname:x\r\na=ssrc-group:X-NEW 1 2\r\n");
    const struct tdm_sdp_media *m = &d->media[0];
    assert_string_equal(m->msid_stream, "s1");
    assert_string_equal(m->msid_track, "t1");
    assert_int_equal(m->n_groups, 1);
    assert_int_equal(m->n_ssrcs, 2); /* 11 named only by the group */
    assert_int_equal(m->ssrcs[1].ssrc, 11);
    tdm_sdp_free(d);
    d = parse_ok(SDP_MIN "a=ssrc:10 msid:s1 t1\r\na=msid:s2 t2\r\na=msid:s3 t3\r\n");
    assert_string_equal(d->media[0].msid_stream, "s2");
    tdm_sdp_free(d);
    SDP_EXPECT_ERR(SDP_MIN "a=msid:a b c\r\n", TDM_EINVAL, "want <stream-id>");
    SDP_EXPECT_ERR(SDP_MIN "a=ssrc:1 msid\r\n", TDM_EINVAL, "want <stream-id>");
    SDP_EXPECT_ERR(SDP_MIN "a=msid:a\"b\r\n", TDM_EINVAL, "msid ids must be");
}

static void rids(void **state)
{
    (void)state;
    SDP_EXPECT_ERR(SDP_MIN "a=rid:q sideways\r\n", TDM_EINVAL, "want <rid> send|recv");
    SDP_EXPECT_ERR(SDP_MIN "a=rid:q.1 send\r\n", TDM_EINVAL, "rid must be");
    SDP_EXPECT_ERR(SDP_MIN "a=rid:q send\r\na=rid:q recv\r\n", TDM_EINVAL, "rid declared twice");
    SDP_EXPECT_ERR(SDP_MIN "a=simulcast:send a\r\na=simulcast:send a\r\n", TDM_EINVAL,
                   "a second a=simulcast");
    struct tdm_sdp *d = parse_ok(SDP_MIN "a=simulcast:send hi;~lo recv r\r\na=rid:hi send "
                                         "max-width=1280\r\na=rid:lo send\r\na=rid:r recv\r\n");
    const struct tdm_sdp_media *m = &d->media[0];
    assert_int_equal(m->n_rids, 3);
    assert_true(m->rids[0].simulcast && !m->rids[0].paused && m->rids[0].send);
    assert_true(m->rids[1].simulcast && m->rids[1].paused);
    assert_true(m->rids[2].simulcast && !m->rids[2].send);
    tdm_sdp_free(d);
}

static void candidates(void **state)
{
    (void)state;
    struct tdm_sdp *d =
        parse_ok(SDP_MIN "a=candidate:abc+/ 1 TCP 1694498815 198.18.0.1 40001 typ host tcptype "
                         "passive generation 0\r\n"
                         "a=candidate:x 1 udp 100 203.0.113.9 5000 typ srflx raddr 10.0.0.1 rport "
                         "5000\r\n"
                         "a=candidate:y 1 ssltcp 100 203.0.113.9 443 typ relay\r\n"
                         "a=candidate:z 1 udp 1 6b8c2a53-0f5d-4bd4-9a4b-2a7e6c1d0e3f.local 9 typ "
                         "host\r\na=end-of-candidates\r\n");
    assert_int_equal(d->n_cands, 3);
    assert_int_equal(d->cands_dropped, 1); /* ssltcp */
    const struct tdm_sdp_candidate *c = &d->cands[0];
    assert_string_equal(c->foundation, "abc+/");
    assert_int_equal(c->transport, TDM_SDP_TCP);
    assert_int_equal(c->tcptype, TDM_SDP_TCP_PASSIVE);
    assert_int_equal(c->port, 40001);
    assert_int_equal(d->cands[1].type, TDM_SDP_SRFLX);
    assert_string_equal(d->cands[2].address, "6b8c2a53-0f5d-4bd4-9a4b-2a7e6c1d0e3f.local");
    assert_true(d->media[0].end_of_candidates);
    tdm_sdp_free(d);
    SDP_EXPECT_ERR(SDP_MIN "a=candidate:1 1 udp 1 1.2.3.4 9\r\n", TDM_EINVAL, "want <foundation>");
    SDP_EXPECT_ERR(SDP_MIN "a=candidate:1 1 udp 1 1.2.3.4 9 typ hots\r\n", TDM_EINVAL,
                   "bad component");
    SDP_EXPECT_ERR(SDP_MIN "a=candidate:1 0 udp 1 1.2.3.4 9 typ host\r\n", TDM_EINVAL,
                   "bad component");
    SDP_EXPECT_ERR(SDP_MIN "a=candidate:1 1 udp 1 1.2.3.4 9 typ host tcptype\r\n", TDM_EINVAL,
                   "without a value");
    SDP_EXPECT_ERR(SDP_MIN "a=candidate:1 1 tcp 1 1.2.3.4 9 typ host tcptype up\r\n", TDM_EINVAL,
                   "tcptype is");
    SDP_EXPECT_ERR(SDP_MIN "a=candidate:1;1 1 udp 1 1.2.3.4 9 typ host\r\n", TDM_EINVAL,
                   "foundation");
    SDP_EXPECT_ERR(SDP_MIN "a=candidate:1 1 udp 1 1.2.3.4/8 9 typ host\r\n", TDM_EINVAL, "address");
    SDP_EXPECT_ERR(SDP_HEAD "a=candidate:1 1 udp 1 1.2.3.4 9 typ host\r\n", TDM_EINVAL,
                   "not allowed at session level");
}

static void non_rtp_mline(void **state)
{
    (void)state;
    struct tdm_sdp *d =
        parse_ok(SDP_HEAD "a=group:BUNDLE 0 1\r\n" SDP_AUDIO
                          "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:1\r\n"
                          "a=sctp-port:5000\r\nm=text 0 RTP/AVP 98\r\n");
    assert_int_equal(d->media[1].kind, TDM_SDP_APPLICATION);
    assert_string_equal(d->media[1].fmt, "webrtc-datachannel");
    assert_int_equal(d->media[1].n_codecs, 0);
    assert_int_equal(d->media[2].kind, TDM_SDP_KIND_OTHER);
    assert_string_equal(d->media[2].kind_name, "text");
    assert_true(d->media[2].rejected);
    tdm_sdp_free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(mline_errors),
        cmocka_unit_test(rtpmap_fmtp_rtcp_fb),
        cmocka_unit_test(codec_and_extmap_bounds),
        cmocka_unit_test(extmap_rules),
        cmocka_unit_test(ssrc_and_groups),
        cmocka_unit_test(rids),
        cmocka_unit_test(candidates),
        cmocka_unit_test(non_rtp_mline),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
