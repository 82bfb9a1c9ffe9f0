/* server/core/sdp_offer.c: the server's offers to subscribers and the browsers' answers. */
#include "sdp_test_util.h"

static char *write_all(const struct tdm_sdp *d, int *n)
{
    char *buf = malloc(TDM_SDP_MAX_BYTES), err[256];
    *n = tdm_sdp_write(d, buf, TDM_SDP_MAX_BYTES, err, sizeof err);
    if (*n < 0)
        fail_msg("write: %s", err);
    return buf;
}

/* Offers 1 (join), 2 (recycle), 3 (reuse + add): the exact text both browsers accepted. */
static void offers_match_accepted_captures(void **state)
{
    (void)state;
    const char *browsers[] = {"chromium", "firefox"};
    for (size_t b = 0; b < 2; b++) {
        for (int step = 1; step <= 3; step++) {
            for (int audio_only = 0; audio_only < 2; audio_only++) {
                char name[96];
                if (audio_only && step > 1)
                    continue;
                snprintf(name, sizeof name, "%s-offer-%s.sdp", browsers[b],
                         audio_only ? "audio" : "av");
                struct tdm_sdp *bo = sdp_load(name);
                struct tdm_sdp *o = sdp_test_offer_steps(bo, step);
                int n;
                char *text = write_all(o, &n);
                size_t len;
                snprintf(name, sizeof name, "%s-%s-server-offer%d.sdp", browsers[b],
                         audio_only ? "audio" : "av", step);
                char *want = sdp_slurp(name, &len);
                if ((size_t)n != len || strcmp(text, want) != 0)
                    fail_msg("%s differs from the writer's output", name);
                free(want);
                free(text);
                tdm_sdp_free(o);
                tdm_sdp_free(bo);
            }
        }
    }
}

static void offer_structure(void **state)
{
    (void)state;
    struct tdm_sdp *bo = sdp_load("chromium-offer-av.sdp");
    struct tdm_sdp *o1 = sdp_test_offer_steps(bo, 1), *o2 = sdp_test_offer_steps(bo, 2);
    struct tdm_sdp *o3 = sdp_test_offer_steps(bo, 3);
    /* 1: the browser's own sections carried over recvonly, two sendonly ones appended. */
    assert_int_equal(o1->n_media, 4);
    assert_int_equal(o1->n_bundle, 4);
    assert_true(o1->ice_lite);
    assert_int_equal(o1->sess_version, 2);
    assert_int_equal(o1->media[0].dir, TDM_SDP_RECVONLY);
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(o1->media[i].setup, TDM_SDP_SETUP_ACTPASS);
    const struct tdm_sdp_media *v = &o1->media[3];
    assert_string_equal(v->mid, "3");
    assert_int_equal(v->dir, TDM_SDP_SENDONLY);
    assert_int_equal(v->port, 9);
    assert_string_equal(v->msid_stream, "stream-alice");
    assert_string_equal(v->msid_track, "alice-video");
    assert_int_equal(v->n_codecs, 2);
    assert_int_equal(v->codecs[0].pt, 96);
    assert_int_equal(v->codecs[1].pt, 97);
    assert_string_equal(v->codecs[1].fmtp, "apt=96");
    assert_int_equal(v->n_groups, 1);
    assert_int_equal(v->groups[0].sem, TDM_SDP_GROUP_FID);
    assert_int_equal(v->groups[0].ssrcs[0], 2222);
    assert_int_equal(v->groups[0].ssrcs[1], 2223);
    /* One id per URI across BUNDLE: the browser's (mid 4, abs-send-time 2, twcc 3, level 1). */
    assert_int_equal(v->n_extmaps, 3);
    assert_int_equal(v->extmaps[0].id, 4);
    assert_int_equal(v->extmaps[1].id, 2);
    assert_int_equal(v->extmaps[2].id, 3);
    assert_int_equal(o1->media[2].extmaps[1].id, 1);
    assert_int_equal(o1->media[2].n_ssrcs, 1);
    assert_int_equal(o1->media[2].n_groups, 0);
    /* 2: recycled, not removed: inactive, port 9, still bundled, no msid or SSRC. */
    assert_int_equal(o2->n_media, 4);
    assert_int_equal(o2->n_bundle, 4);
    for (size_t i = 2; i < 4; i++) {
        assert_int_equal(o2->media[i].dir, TDM_SDP_INACTIVE);
        assert_int_equal(o2->media[i].port, 9);
        assert_int_equal(o2->media[i].n_ssrcs, 0);
        assert_string_equal(o2->media[i].msid_stream, "");
        assert_true(o2->media[i].n_codecs > 0);
    }
    /* 3: same mids reused by bob, carol appended with VP9 98/99. */
    assert_int_equal(o3->n_media, 6);
    assert_string_equal(o3->media[3].msid_stream, "stream-bob");
    assert_int_equal(o3->media[3].ssrcs[0].ssrc, 4444);
    assert_int_equal(o3->media[5].codecs[0].pt, 98);
    assert_string_equal(o3->media[5].codecs[0].fmtp, "profile-id=0");
    tdm_sdp_free(o1);
    tdm_sdp_free(o2);
    tdm_sdp_free(o3);
    tdm_sdp_free(bo);
}

static void check_real_answers(void **state)
{
    (void)state;
    const char *browsers[] = {"chromium", "firefox"};
    for (size_t b = 0; b < 2; b++) {
        char name[96];
        snprintf(name, sizeof name, "%s-offer-av.sdp", browsers[b]);
        struct tdm_sdp *bo = sdp_load(name);
        for (int step = 1; step <= 3; step++) {
            struct tdm_sdp *o = sdp_test_offer_steps(bo, step);
            snprintf(name, sizeof name, "%s-av-answer-to-server-offer%d.sdp", browsers[b], step);
            struct tdm_sdp *a = sdp_load(name);
            struct tdm_sdp_nego *n = calloc(1, sizeof *n);
            char err[256];
            if (tdm_sdp_check_answer(o, a, n, err, sizeof err) != 0)
                fail_msg("%s: %s", name, err);
            assert_int_equal(n->remote_setup, TDM_SDP_SETUP_ACTIVE);
            assert_true(n->dtls_server);
            assert_int_equal(n->n_media, step == 3 ? 6 : 4);
            /* The browser's own tracks: it sends, the server receives. */
            assert_int_equal(n->media[0].dir, TDM_SDP_RECVONLY);
            assert_int_equal(n->media[0].n_ssrcs, 1);
            assert_int_equal(n->media[1].dir, TDM_SDP_RECVONLY);
            assert_int_equal(n->media[1].n_ssrcs, 1);
            assert_true(n->media[1].rtx_ssrc[0] != 0);
            /* The forwarded ones: the server sends (or nothing, when recycled). */
            enum tdm_sdp_dir want = step == 2 ? TDM_SDP_INACTIVE : TDM_SDP_SENDONLY;
            for (size_t i = 2; i < n->n_media; i++) {
                assert_int_equal(n->media[i].dir, want);
                assert_int_equal(n->media[i].n_ssrcs, 0);
                assert_int_equal(n->media[i].n_codecs, 1);
            }
            assert_int_equal(n->media[2].codecs[0].codec, TDM_SDP_CODEC_OPUS);
            assert_int_equal(n->media[3].codecs[0].codec, TDM_SDP_CODEC_VP8);
            assert_true(n->media[3].codecs[0].rtx_pt >= 0);
            assert_true(n->media[3].ext[TDM_SDP_EXT_MID] != 0);
            assert_true(n->media[3].ext[TDM_SDP_EXT_TWCC] != 0);
            if (step == 3)
                assert_int_equal(n->media[5].codecs[0].codec, TDM_SDP_CODEC_VP9);
            free(n);
            tdm_sdp_free(a);
            tdm_sdp_free(o);
        }
        tdm_sdp_free(bo);
    }
}

struct pair {
    struct tdm_sdp *bo, *o, *a;
    struct tdm_sdp_nego *n;
    char err[256];
};

static void load_pair(struct pair *p)
{
    p->bo = sdp_load("chromium-offer-av.sdp");
    p->o = sdp_test_offer_steps(p->bo, 1);
    p->a = sdp_load("chromium-av-answer-to-server-offer1.sdp");
    p->n = calloc(1, sizeof *p->n);
}

static void free_pair(struct pair *p)
{
    tdm_sdp_free(p->bo);
    tdm_sdp_free(p->o);
    tdm_sdp_free(p->a);
    free(p->n);
}

static int check(struct pair *p)
{
    return tdm_sdp_check_answer(p->o, p->a, p->n, p->err, sizeof p->err);
}

static void bad_answers(void **state)
{
    (void)state;
    struct pair p;
    load_pair(&p);
    struct tdm_sdp_media *am = &p.a->media[3];
    assert_int_equal(check(&p), 0);

    p.a->n_media = 3;
    assert_int_equal(check(&p), TDM_EINVAL);
    assert_non_null(strstr(p.err, "answer has 3 m-sections, the offer 4"));
    p.a->n_media = 4;
    strcpy(am->mid, "9");
    assert_int_equal(check(&p), TDM_EINVAL);
    assert_non_null(strstr(p.err, "kind or mid differs"));
    strcpy(am->mid, "3");
    am->codecs[0].pt = 100;
    assert_int_equal(check(&p), TDM_EINVAL);
    assert_non_null(strstr(p.err, "payload type 100 not offered"));
    am->codecs[0].pt = 96;
    strcpy(am->codecs[0].name, "H264");
    assert_int_equal(check(&p), TDM_EINVAL);
    assert_non_null(strstr(p.err, "changed meaning"));
    strcpy(am->codecs[0].name, "VP8");
    am->dir = TDM_SDP_SENDRECV; /* to a sendonly offer (RFC 3264 §6.1) */
    assert_int_equal(check(&p), TDM_EINVAL);
    assert_non_null(strstr(p.err, "direction not allowed"));
    am->dir = TDM_SDP_RECVONLY;
    uint16_t id = am->extmaps[0].id;
    am->extmaps[0].id = 13;
    assert_int_equal(check(&p), TDM_EINVAL);
    assert_non_null(strstr(p.err, "extmap 13 not offered"));
    am->extmaps[0].id = id;
    p.a->media[0].setup = TDM_SDP_SETUP_ACTPASS;
    assert_int_equal(check(&p), TDM_EUNSUPP);
    p.a->media[0].setup = TDM_SDP_SETUP_PASSIVE;
    assert_int_equal(check(&p), 0);
    assert_false(p.n->dtls_server);
    assert_int_equal(tdm_sdp_check_answer(p.o, p.o, p.n, p.err, sizeof p.err), TDM_EINVAL);
    free_pair(&p);
}

/* A rejected m-section stays rejected in later offers (JSEP §5.2.2) and its mid is not reused. */
static void rejected_sections_stay_rejected(void **state)
{
    (void)state;
    struct pair p;
    load_pair(&p);
    p.a->media[3].rejected = true;
    p.a->media[3].port = 0;
    assert_int_equal(check(&p), 0);
    assert_true(p.n->media[3].rejected);
    assert_true(p.o->media[3].rejected);
    struct tdm_sdp_local l;
    struct tdm_sdp_track t;
    struct tdm_sdp *next = tdm_sdp_new();
    sdp_test_local(&l, 3);
    sdp_test_track(&t, p.bo, TDM_SDP_AUDIO, "4", "dan", 7777, TDM_SDP_CODEC_OPUS, true);
    assert_int_equal(tdm_sdp_offer(p.o, &l, &t, 1, next, p.err, sizeof p.err), 0);
    assert_int_equal(next->n_media, 5);
    assert_int_equal(next->media[3].port, 0);
    assert_int_equal(next->media[3].n_codecs, 1);
    assert_int_equal(next->media[3].n_ssrcs, 0);
    assert_int_equal(next->n_bundle, 4);
    int n;
    char *text = write_all(next, &n);
    struct tdm_sdp *back = tdm_sdp_new();
    assert_int_equal(tdm_sdp_parse((const uint8_t *)text, (size_t)n, back, p.err, sizeof p.err), 0);
    sdp_test_track(&t, p.bo, TDM_SDP_VIDEO, "3", "dan", 7777, TDM_SDP_CODEC_VP8, true);
    assert_int_equal(tdm_sdp_offer(p.o, &l, &t, 1, next, p.err, sizeof p.err), TDM_EINVAL);
    assert_non_null(strstr(p.err, "mid \"3\" was rejected"));
    free(text);
    tdm_sdp_free(back);
    tdm_sdp_free(next);
    free_pair(&p);
}

static void offer_errors(void **state)
{
    (void)state;
    struct tdm_sdp *bo = sdp_load("chromium-offer-av.sdp"), *o = tdm_sdp_new();
    struct tdm_sdp *cur = sdp_test_offer_steps(bo, 1);
    struct tdm_sdp_local l;
    struct tdm_sdp_track t[2];
    char err[256];
    sdp_test_local(&l, 3);
    /* Kind of an existing mid. */
    sdp_test_track(&t[0], bo, TDM_SDP_VIDEO, "2", "x", 10, TDM_SDP_CODEC_VP8, true);
    assert_int_equal(tdm_sdp_offer(cur, &l, t, 1, o, err, sizeof err), TDM_EINVAL);
    assert_non_null(strstr(err, "not a video m-section"));
    /* Not on an m-section the browser sends on. */
    sdp_test_track(&t[0], bo, TDM_SDP_VIDEO, "1", "x", 10, TDM_SDP_CODEC_VP8, true);
    assert_int_equal(tdm_sdp_offer(cur, &l, t, 1, o, err, sizeof err), TDM_EINVAL);
    assert_non_null(strstr(err, "carries the browser's own track"));
    /* A payload type that already names another codec in the BUNDLE group. */
    sdp_test_track(&t[0], bo, TDM_SDP_VIDEO, "9", "x", 10, TDM_SDP_CODEC_VP8, true);
    t[0].codecs[0].pt = 111;
    assert_int_equal(tdm_sdp_offer(cur, &l, t, 1, o, err, sizeof err), TDM_EINVAL);
    assert_non_null(strstr(err, "already names another codec"));
    t[0].codecs[0].pt = 96;
    t[0].codecs[0].rtx_pt = 109; /* Chromium's RTX for H.264 */
    assert_int_equal(tdm_sdp_offer(cur, &l, t, 1, o, err, sizeof err), TDM_EINVAL);
    /* Two tracks for one mid, bad strings, missing arguments. */
    sdp_test_track(&t[0], bo, TDM_SDP_VIDEO, "9", "x", 10, TDM_SDP_CODEC_VP8, true);
    t[1] = t[0];
    assert_int_equal(tdm_sdp_offer(cur, &l, t, 2, o, err, sizeof err), TDM_EINVAL);
    assert_non_null(strstr(err, "two tracks for mid"));
    strcpy(t[0].stream_id, "a b");
    assert_int_equal(tdm_sdp_offer(cur, &l, t, 1, o, err, sizeof err), TDM_EINVAL);
    sdp_test_track(&t[0], bo, TDM_SDP_VIDEO, "9", "x", 10, TDM_SDP_CODEC_VP8, true);
    t[0].rtx_ssrc = 10;
    assert_int_equal(tdm_sdp_offer(cur, &l, t, 1, o, err, sizeof err), TDM_EINVAL);
    t[0].ssrc = 0;
    t[0].active = false; /* a recycled slot needs no SSRC */
    assert_int_equal(tdm_sdp_offer(cur, &l, t, 1, o, err, sizeof err), 0);
    assert_int_equal(tdm_sdp_offer(cur, &l, NULL, 1, o, err, sizeof err), TDM_EINVAL);
    assert_int_equal(tdm_sdp_offer(cur, &l, t, 1, cur, err, sizeof err), TDM_EINVAL);
    tdm_sdp_free(o);
    tdm_sdp_free(cur);
    tdm_sdp_free(bo);
}

/* The whole bound: 2 own + 62 forwarded m-sections fit in one SDP and parse back; the 65th is
 * refused. A server offer without a previous description works too (a pure viewer). */
static void sixty_four_sections(void **state)
{
    (void)state;
    struct tdm_sdp *bo = sdp_load("chromium-offer-av.sdp"), *cur = sdp_test_offer_steps(bo, 0);
    struct tdm_sdp *o = tdm_sdp_new(), *back = tdm_sdp_new();
    struct tdm_sdp_track *t = calloc(TDM_SDP_MAX_MEDIA, sizeof *t);
    struct tdm_sdp_local l;
    char err[256];
    sdp_test_local(&l, 2);
    for (int i = 0; i < 63; i++) {
        char mid[8], who[8];
        snprintf(mid, sizeof mid, "%d", i + 2);
        snprintf(who, sizeof who, "p%d", i / 2);
        sdp_test_track(&t[i], bo, i % 2 ? TDM_SDP_VIDEO : TDM_SDP_AUDIO, mid, who,
                       (uint32_t)(1000 + 10 * i), i % 2 ? TDM_SDP_CODEC_VP8 : TDM_SDP_CODEC_OPUS,
                       true);
    }
    assert_int_equal(tdm_sdp_offer(cur, &l, t, 62, o, err, sizeof err), 0);
    assert_int_equal(o->n_media, 64);
    int n;
    char *text = write_all(o, &n);
    assert_true(n < TDM_SDP_MAX_BYTES);
    print_message("64 m-sections: %d bytes\n", n);
    assert_int_equal(tdm_sdp_parse((const uint8_t *)text, (size_t)n, back, err, sizeof err), 0);
    assert_int_equal(back->n_bundle, 64);
    assert_int_equal(tdm_sdp_offer(cur, &l, t, 63, o, err, sizeof err), TDM_EFULL);
    assert_int_equal(tdm_sdp_offer(NULL, &l, t, 2, o, err, sizeof err), 0);
    assert_int_equal(o->n_media, 2);
    assert_int_equal(o->n_bundle, 2);
    assert_int_equal(o->cands[0].media, 0);
    free(text);
    free(t);
    tdm_sdp_free(o);
    tdm_sdp_free(back);
    tdm_sdp_free(cur);
    tdm_sdp_free(bo);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(offers_match_accepted_captures),
        cmocka_unit_test(offer_structure),
        cmocka_unit_test(check_real_answers),
        cmocka_unit_test(bad_answers),
        cmocka_unit_test(rejected_sections_stay_rejected),
        cmocka_unit_test(offer_errors),
        cmocka_unit_test(sixty_four_sections),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
