/* server/core/sdp_negotiate.c: the server's answers to real browser offers. */
#include "sdp_test_util.h"

struct fixture {
    struct tdm_sdp *offer, *answer;
    struct tdm_sdp_nego *nego;
    struct tdm_sdp_local local;
    char err[256];
    char *buf;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    f->answer = tdm_sdp_new();
    f->nego = calloc(1, sizeof *f->nego);
    f->buf = malloc(TDM_SDP_MAX_BYTES);
    sdp_test_local(&f->local, 1);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    tdm_sdp_free(f->offer);
    tdm_sdp_free(f->answer);
    free(f->nego);
    free(f->buf);
    free(f);
    return 0;
}

static int answer(struct fixture *f, const char *file)
{
    tdm_sdp_free(f->offer);
    f->offer = sdp_load(file);
    return tdm_sdp_answer(f->offer, &f->local, NULL, 0, f->answer, f->nego, f->err, sizeof f->err);
}

/* The exact text Chromium and Firefox accepted (tests/data/sdp/README.md). */
static void answers_match_accepted_captures(void **state)
{
    struct fixture *f = *state;
    const char *pairs[][2] = {
        {"chromium-offer-av.sdp", "chromium-av-server-answer.sdp"},
        {"chromium-offer-audio.sdp", "chromium-audio-server-answer.sdp"},
        {"firefox-offer-av.sdp", "firefox-av-server-answer.sdp"},
        {"firefox-offer-audio.sdp", "firefox-audio-server-answer.sdp"},
    };
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(answer(f, pairs[i][0]), 0);
        int n = tdm_sdp_write(f->answer, f->buf, TDM_SDP_MAX_BYTES, f->err, sizeof f->err);
        size_t len;
        char *want = sdp_slurp(pairs[i][1], &len);
        assert_int_equal((size_t)n, len);
        assert_string_equal(f->buf, want);
        free(want);
    }
}

static void chromium_av(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(answer(f, "chromium-offer-av.sdp"), 0);
    const struct tdm_sdp *a = f->answer;
    assert_true(a->ice_lite);
    assert_string_equal(a->ice_ufrag, "tdmUfrag1");
    assert_int_equal(a->fingerprint.hash, TDM_SDP_SHA256);
    assert_int_equal(a->fingerprint.value[1], 8);
    assert_int_equal(a->n_bundle, 2);
    assert_false(a->extmap_allow_mixed); /* not echoed unless local asks */
    /* Audio: Opus only, FEC kept; red, G722, PCMU/A, CN, telephone-event dropped. */
    const struct tdm_sdp_media *am = &a->media[0], *vm = &a->media[1];
    assert_int_equal(am->dir, TDM_SDP_RECVONLY);
    assert_int_equal(am->setup, TDM_SDP_SETUP_PASSIVE);
    assert_int_equal(am->n_codecs, 1);
    assert_int_equal(am->codecs[0].pt, 111);
    assert_string_equal(am->codecs[0].fmtp, "minptime=10;useinbandfec=1;usedtx=1");
    assert_int_equal(am->n_ssrcs, 0);
    /* Video: VP8, H.264 42e01f mode 1, VP9 profile 0, each with its RTX; no red/ulpfec/AV1. */
    const uint8_t pts[] = {96, 108, 98, 97, 109, 99};
    assert_int_equal(vm->n_codecs, 6);
    for (size_t i = 0; i < 6; i++)
        assert_int_equal(vm->codecs[i].pt, pts[i]);
    assert_string_equal(vm->codecs[4].fmtp, "apt=108");
    assert_int_equal(vm->codecs[0].fb, 0x1f);
    assert_int_equal(vm->codecs[3].fb, 0);
    /* Extensions: the allow-list only, the browser's ids. */
    assert_int_equal(vm->n_extmaps, 3);
    assert_int_equal(a->n_cands, 2);
    assert_int_equal(a->cands[0].media, 0);
    assert_true(am->end_of_candidates);

    const struct tdm_sdp_nego *n = f->nego;
    assert_string_equal(n->remote_ufrag, "pjjI");
    assert_int_equal(n->remote_fingerprint.value[0], 0x68);
    assert_int_equal(n->remote_setup, TDM_SDP_SETUP_ACTPASS);
    assert_true(n->dtls_server);
    assert_string_equal(n->bundle_mid, "0");
    assert_int_equal(n->n_media, 2);
    const struct tdm_sdp_nego_media *na = &n->media[0], *nv = &n->media[1];
    assert_int_equal(na->dir, TDM_SDP_RECVONLY);
    assert_int_equal(na->n_codecs, 1);
    assert_int_equal(na->codecs[0].codec, TDM_SDP_CODEC_OPUS);
    assert_int_equal(na->codecs[0].rtx_pt, -1);
    assert_int_equal(na->ext[TDM_SDP_EXT_AUDIO_LEVEL], 1);
    assert_int_equal(na->ext[TDM_SDP_EXT_ABS_SEND_TIME], 2);
    assert_int_equal(na->ext[TDM_SDP_EXT_TWCC], 3);
    assert_int_equal(na->ext[TDM_SDP_EXT_MID], 4);
    assert_int_equal(na->n_ssrcs, 1);
    assert_int_equal(na->ssrc[0], 325669290u);
    assert_int_equal(na->rtx_ssrc[0], 0);
    assert_string_equal(na->cname, "B9Ic+b9a/V3gVkrX");
    assert_int_equal(nv->n_codecs, 3);
    assert_int_equal(nv->codecs[0].codec, TDM_SDP_CODEC_VP8);
    assert_int_equal(nv->codecs[0].pt, 96);
    assert_int_equal(nv->codecs[0].rtx_pt, 97);
    assert_int_equal(nv->codecs[1].codec, TDM_SDP_CODEC_H264);
    assert_int_equal(nv->codecs[2].codec, TDM_SDP_CODEC_VP9);
    assert_int_equal(nv->ext[TDM_SDP_EXT_AUDIO_LEVEL], 0);
    assert_int_equal(nv->ext[TDM_SDP_EXT_MID], 4);
    assert_int_equal(nv->n_ssrcs, 1);
    assert_int_equal(nv->ssrc[0], 1721602761u);
    assert_int_equal(nv->rtx_ssrc[0], 2604160046u);
    assert_string_equal(nv->msid_track, "699ee40f-7919-4cee-91ef-d453591e2988");
    assert_int_equal(nv->n_rids, 0);
}

static void firefox_av(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(answer(f, "firefox-offer-av.sdp"), 0);
    const struct tdm_sdp_media *vm = &f->answer->media[1];
    assert_int_equal(vm->port, 9); /* its offer said 0 + bundle-only */
    assert_false(vm->bundle_only);
    assert_int_equal(vm->n_codecs, 4); /* VP8 120, VP9 121, rtx 124, 125: no H.264 offered */
    assert_int_equal(vm->codecs[0].pt, 120);
    assert_string_equal(vm->codecs[0].fmtp, "");
    assert_int_equal(vm->codecs[1].pt, 121);
    assert_string_equal(vm->codecs[1].fmtp, "profile-id=0");
    /* The csrc-audio-level (2/recvonly) and toffset/playout-delay extensions are dropped. */
    assert_int_equal(f->answer->media[0].n_extmaps, 3);
    const struct tdm_sdp_nego *n = f->nego;
    assert_string_equal(n->remote_ufrag, "253ae273");
    assert_int_equal(n->remote_fingerprint.value[0], 0x62); /* session level */
    assert_int_equal(n->media[0].codecs[0].pt, 109);
    assert_int_equal(n->media[0].ext[TDM_SDP_EXT_TWCC], 7);
    assert_int_equal(n->media[1].ext[TDM_SDP_EXT_ABS_SEND_TIME], 4);
    assert_int_equal(n->media[1].ssrc[0], 2398410498u);
    assert_int_equal(n->media[1].rtx_ssrc[0], 573101567u);
    assert_string_equal(n->media[0].msid_stream, "{2b52735b-a642-491f-8007-414bb4f6d159}");
}

static void local_preferences(void **state)
{
    struct fixture *f = *state;
    f->local.n_codec_pref = 2;
    f->local.codec_pref[0] = TDM_SDP_CODEC_H264;
    f->local.codec_pref[1] = TDM_SDP_CODEC_VP8;
    f->local.rtx = false;
    f->local.extmap_allow_mixed = true;
    assert_int_equal(answer(f, "chromium-offer-av.sdp"), 0);
    const struct tdm_sdp_media *vm = &f->answer->media[1];
    assert_int_equal(vm->n_codecs, 2);
    assert_int_equal(vm->codecs[0].pt, 108);
    assert_string_equal(vm->codecs[0].fmtp,
                        "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f");
    assert_int_equal(vm->codecs[1].pt, 96);
    assert_int_equal(f->nego->media[1].codecs[0].rtx_pt, -1);
    assert_true(f->answer->extmap_allow_mixed);
    /* Only VP9 wanted, and Firefox's audio-only offer has no video at all. */
    f->local.n_codec_pref = 1;
    f->local.codec_pref[0] = TDM_SDP_CODEC_VP9;
    assert_int_equal(answer(f, "firefox-offer-audio.sdp"), 0);
    assert_int_equal(f->answer->n_media, 1);
    assert_int_equal(f->nego->media[0].codecs[0].codec, TDM_SDP_CODEC_OPUS);
}

/* Offers edited in memory: things the captures do not show. */
static void opus_parameters(void **state)
{
    struct fixture *f = *state;
    f->offer = sdp_load("chromium-offer-audio.sdp");
    strcpy(f->offer->media[0].codecs[0].fmtp, "minptime=20;useinbandfec=1;usedtx=1");
    assert_int_equal(
        tdm_sdp_answer(f->offer, &f->local, NULL, 0, f->answer, f->nego, f->err, sizeof f->err), 0);
    assert_string_equal(f->answer->media[0].codecs[0].fmtp, "minptime=20;useinbandfec=1;usedtx=1");
    /* FEC and DTX are what the server wants to receive, whatever the offer says */
    strcpy(f->offer->media[0].codecs[0].fmtp, "minptime=0;useinbandfec=0;usedtx=0");
    assert_int_equal(
        tdm_sdp_answer(f->offer, &f->local, NULL, 0, f->answer, f->nego, f->err, sizeof f->err), 0);
    assert_string_equal(f->answer->media[0].codecs[0].fmtp, "minptime=10;useinbandfec=1;usedtx=1");
}

static void simulcast(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(answer(f, "chromium-offer-simulcast.sdp"), 0);
    assert_int_equal(f->answer->media[1].n_rids, 0); /* declined: not on the allow-list */
    assert_int_equal(f->nego->media[1].n_rids, 0);
    assert_int_equal(f->nego->media[1].ext[TDM_SDP_EXT_RID], 0);

    f->local.simulcast = true;
    assert_int_equal(answer(f, "chromium-offer-simulcast.sdp"), 0);
    const struct tdm_sdp_media *vm = &f->answer->media[1];
    assert_int_equal(vm->dir, TDM_SDP_RECVONLY);
    assert_int_equal(vm->n_rids, 3);
    assert_false(vm->rids[0].send);
    assert_true(vm->rids[2].simulcast);
    const struct tdm_sdp_nego_media *nv = &f->nego->media[1];
    assert_int_equal(nv->n_rids, 3);
    assert_string_equal(nv->rids[0], "q");
    assert_string_equal(nv->rids[2], "f");
    assert_int_equal(nv->ext[TDM_SDP_EXT_RID], 10);
    assert_int_equal(nv->ext[TDM_SDP_EXT_RRID], 11);
    int n = tdm_sdp_write(f->answer, f->buf, TDM_SDP_MAX_BYTES, f->err, sizeof f->err);
    assert_true(n > 0);
    assert_non_null(strstr(f->buf, "a=rid:q recv\r\na=rid:h recv\r\na=rid:f recv\r\n"
                                   "a=simulcast:recv q;h;f\r\n"));
    struct tdm_sdp *back = tdm_sdp_new();
    assert_int_equal(tdm_sdp_parse((const uint8_t *)f->buf, (size_t)n, back, f->err, sizeof f->err),
                     0);
    tdm_sdp_free(back);
}

static void rejections(void **state)
{
    struct fixture *f = *state;
    const char *t = SDP_HEAD "a=group:BUNDLE 0 1 2\r\n" SDP_AUDIO
                             "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:1\r\n"
                             "m=video 9 UDP/TLS/RTP/SAVPF 100\r\na=mid:2\r\n"
                             "a=rtpmap:100 H265/90000\r\nm=video 0 UDP/TLS/RTP/SAVPF 96\r\n"
                             "a=mid:3\r\nm=audio 9 RTP/AVP 0\r\n";
    f->offer = tdm_sdp_new();
    /* The last m-line is active without a mid: the parser already refuses it. */
    assert_int_equal(tdm_sdp_parse((const uint8_t *)t, strlen(t), f->offer, f->err, sizeof f->err),
                     TDM_EINVAL);
    assert_int_equal(tdm_sdp_parse((const uint8_t *)t,
                                   strlen(t) - strlen("m=audio 9 RTP/AVP 0\r\n"), f->offer, f->err,
                                   sizeof f->err),
                     0);
    assert_int_equal(
        tdm_sdp_answer(f->offer, &f->local, NULL, 0, f->answer, f->nego, f->err, sizeof f->err), 0);
    const struct tdm_sdp *a = f->answer;
    assert_int_equal(a->n_media, 4);
    assert_false(a->media[0].rejected);
    for (size_t i = 1; i < 4; i++) {
        assert_true(a->media[i].rejected);
        assert_int_equal(a->media[i].port, 0);
        assert_true(f->nego->media[i].rejected);
    }
    assert_int_equal(a->n_bundle, 1);
    int n = tdm_sdp_write(a, f->buf, TDM_SDP_MAX_BYTES, f->err, sizeof f->err);
    assert_true(n > 0);
    assert_non_null(strstr(f->buf, "m=application 0 UDP/DTLS/SCTP webrtc-datachannel\r\n"
                                   "c=IN IP4 0.0.0.0\r\na=mid:1\r\n"));
    assert_non_null(strstr(f->buf, "m=video 0 UDP/TLS/RTP/SAVPF 100\r\n"));
    struct tdm_sdp *back = tdm_sdp_new();
    assert_int_equal(tdm_sdp_parse((const uint8_t *)f->buf, (size_t)n, back, f->err, sizeof f->err),
                     0);
    tdm_sdp_free(back);
}

static void transport_rules(void **state)
{
    struct fixture *f = *state;
    f->offer = sdp_load("chromium-offer-av.sdp");
    struct tdm_sdp *o = f->offer;
    o->media[0].rtcp_mux = false;
    assert_int_equal(tdm_sdp_answer(o, &f->local, NULL, 0, f->answer, f->nego, f->err, 256),
                     TDM_EUNSUPP);
    assert_non_null(strstr(f->err, "rtcp-mux"));
    o->media[0].rtcp_mux = true;
    o->media[0].setup = TDM_SDP_SETUP_HOLDCONN;
    assert_int_equal(tdm_sdp_answer(o, &f->local, NULL, 0, f->answer, f->nego, f->err, 256),
                     TDM_EUNSUPP);
    /* RFC 5763 §5: a passive offerer makes the server the DTLS client; no a=setup = active. */
    o->media[0].setup = TDM_SDP_SETUP_PASSIVE;
    assert_int_equal(tdm_sdp_answer(o, &f->local, NULL, 0, f->answer, f->nego, f->err, 256), 0);
    assert_false(f->nego->dtls_server);
    assert_int_equal(f->answer->media[1].setup, TDM_SDP_SETUP_ACTIVE);
    o->media[0].setup = TDM_SDP_SETUP_NONE;
    assert_int_equal(tdm_sdp_answer(o, &f->local, NULL, 0, f->answer, f->nego, f->err, 256), 0);
    assert_true(f->nego->dtls_server);
    /* The local side is checked too. */
    strcpy(f->local.ice_pwd, "short");
    assert_int_equal(tdm_sdp_answer(o, &f->local, NULL, 0, f->answer, f->nego, f->err, 256),
                     TDM_EINVAL);
    sdp_test_local(&f->local, 1);
    strcpy(f->local.cands[0].address, "1.2.3.4\r\na=x");
    assert_int_equal(tdm_sdp_answer(o, &f->local, NULL, 0, f->answer, f->nego, f->err, 256),
                     TDM_EINVAL);
    assert_int_equal(tdm_sdp_answer(o, &f->local, NULL, 1, f->answer, f->nego, f->err, 256),
                     TDM_EINVAL);
}

/* A browser re-offer that receives on a mid: the server sends its track there. */
static void answer_with_tracks(void **state)
{
    struct fixture *f = *state;
    f->offer = sdp_load("chromium-offer-av.sdp");
    f->offer->media[1].dir = TDM_SDP_RECVONLY;
    struct tdm_sdp_track t;
    sdp_test_track(&t, f->offer, TDM_SDP_VIDEO, "1", "alice", 2222, TDM_SDP_CODEC_VP8, true);
    assert_int_equal(
        tdm_sdp_answer(f->offer, &f->local, &t, 1, f->answer, f->nego, f->err, sizeof f->err), 0);
    const struct tdm_sdp_media *vm = &f->answer->media[1];
    assert_int_equal(vm->dir, TDM_SDP_SENDONLY);
    assert_int_equal(vm->n_codecs, 2); /* VP8 + its RTX only */
    assert_string_equal(vm->msid_stream, "stream-alice");
    assert_int_equal(vm->n_ssrcs, 2);
    assert_int_equal(vm->groups[0].ssrcs[1], 2223);
    assert_int_equal(f->nego->media[1].dir, TDM_SDP_SENDONLY);
    assert_int_equal(f->nego->media[1].n_ssrcs, 0);
    t.active = false; /* recycled: inactive, all codecs kept */
    assert_int_equal(
        tdm_sdp_answer(f->offer, &f->local, &t, 1, f->answer, f->nego, f->err, sizeof f->err), 0);
    assert_int_equal(f->answer->media[1].dir, TDM_SDP_INACTIVE);
    assert_int_equal(f->answer->media[1].n_ssrcs, 0);
    t.kind = TDM_SDP_AUDIO;
    t.codecs[0].codec = TDM_SDP_CODEC_OPUS;
    assert_int_equal(
        tdm_sdp_answer(f->offer, &f->local, &t, 1, f->answer, f->nego, f->err, sizeof f->err),
        TDM_EINVAL);
    assert_non_null(strstr(f->err, "wrong kind"));
    t.kind = TDM_SDP_VIDEO;
    t.codecs[0].codec = TDM_SDP_CODEC_OPUS;
    assert_int_equal(
        tdm_sdp_answer(f->offer, &f->local, &t, 1, f->answer, f->nego, f->err, sizeof f->err),
        TDM_EINVAL);
    assert_non_null(strstr(f->err, "bad codec"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(answers_match_accepted_captures, setup, teardown),
        cmocka_unit_test_setup_teardown(chromium_av, setup, teardown),
        cmocka_unit_test_setup_teardown(firefox_av, setup, teardown),
        cmocka_unit_test_setup_teardown(local_preferences, setup, teardown),
        cmocka_unit_test_setup_teardown(opus_parameters, setup, teardown),
        cmocka_unit_test_setup_teardown(simulcast, setup, teardown),
        cmocka_unit_test_setup_teardown(rejections, setup, teardown),
        cmocka_unit_test_setup_teardown(transport_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(answer_with_tracks, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
