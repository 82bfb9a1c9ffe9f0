/* server/core/sdp_write.c: writer -> parser round trips, output bounds, injection refusal. */
#include "sdp_test_util.h"

static const char *const files[] = {
    "chromium-offer-av.sdp",
    "chromium-offer-audio.sdp",
    "chromium-offer-simulcast.sdp",
    "firefox-offer-av.sdp",
    "firefox-offer-audio.sdp",
    "chromium-av-answer-to-server-offer3.sdp",
    "firefox-av-answer-to-server-offer3.sdp",
};

static void same_media(const struct tdm_sdp_media *a, const struct tdm_sdp_media *b)
{
    assert_int_equal(a->kind, b->kind);
    assert_int_equal(a->port, b->port);
    assert_int_equal(a->dir, b->dir);
    assert_int_equal(a->setup, b->setup);
    assert_int_equal(a->rejected, b->rejected);
    assert_int_equal(a->rtcp_mux, b->rtcp_mux);
    assert_string_equal(a->mid, b->mid);
    assert_string_equal(a->msid_stream, b->msid_stream);
    assert_string_equal(a->msid_track, b->msid_track);
    assert_string_equal(a->ice_ufrag, b->ice_ufrag);
    assert_memory_equal(&a->fingerprint.value, &b->fingerprint.value, a->fingerprint.len);
    assert_int_equal(a->n_codecs, b->n_codecs);
    for (size_t i = 0; i < a->n_codecs; i++) {
        assert_int_equal(a->codecs[i].pt, b->codecs[i].pt);
        assert_string_equal(a->codecs[i].name, b->codecs[i].name);
        assert_string_equal(a->codecs[i].fmtp, b->codecs[i].fmtp);
        assert_int_equal(a->codecs[i].fb, b->codecs[i].fb);
        assert_int_equal(a->codecs[i].clock, b->codecs[i].clock);
    }
    assert_int_equal(a->n_extmaps, b->n_extmaps);
    for (size_t i = 0; i < a->n_extmaps; i++) {
        assert_int_equal(a->extmaps[i].id, b->extmaps[i].id);
        assert_int_equal(a->extmaps[i].dir, b->extmaps[i].dir);
        assert_string_equal(a->extmaps[i].uri, b->extmaps[i].uri);
    }
    assert_int_equal(a->n_ssrcs, b->n_ssrcs);
    for (size_t i = 0; i < a->n_ssrcs; i++) {
        assert_int_equal(a->ssrcs[i].ssrc, b->ssrcs[i].ssrc);
        assert_string_equal(a->ssrcs[i].cname, b->ssrcs[i].cname);
    }
    assert_int_equal(a->n_groups, b->n_groups);
    assert_int_equal(a->n_rids, b->n_rids);
    for (size_t i = 0; i < a->n_rids; i++)
        assert_string_equal(a->rids[i].id, b->rids[i].id);
}

/* parse -> write -> parse gives the same model, and writing again the same text. */
static void round_trips(void **state)
{
    (void)state;
    char *out1 = malloc(TDM_SDP_MAX_BYTES), *out2 = malloc(TDM_SDP_MAX_BYTES), err[256];
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        struct tdm_sdp *a = sdp_load(files[f]), *b = tdm_sdp_new();
        int n1 = tdm_sdp_write(a, out1, TDM_SDP_MAX_BYTES, err, sizeof err);
        assert_true(n1 > 0);
        assert_int_equal(strlen(out1), (size_t)n1);
        if (tdm_sdp_parse((const uint8_t *)out1, (size_t)n1, b, err, sizeof err) != 0)
            fail_msg("%s rewritten: %s", files[f], err);
        assert_int_equal(a->n_media, b->n_media);
        assert_int_equal(a->n_bundle, b->n_bundle);
        assert_memory_equal(a->bundle, b->bundle, a->n_bundle);
        assert_int_equal(a->n_cands, b->n_cands);
        for (size_t i = 0; i < a->n_cands; i++) {
            assert_string_equal(a->cands[i].address, b->cands[i].address);
            assert_int_equal(a->cands[i].tcptype, b->cands[i].tcptype);
            assert_int_equal(a->cands[i].media, b->cands[i].media);
        }
        assert_string_equal(a->ice_pwd, b->ice_pwd);
        assert_int_equal(a->sess_id, b->sess_id);
        for (size_t i = 0; i < a->n_media; i++)
            same_media(&a->media[i], &b->media[i]);
        int n2 = tdm_sdp_write(b, out2, TDM_SDP_MAX_BYTES, err, sizeof err);
        assert_int_equal(n1, n2);
        assert_memory_equal(out1, out2, (size_t)n1);
        tdm_sdp_free(a);
        tdm_sdp_free(b);
    }
    free(out1);
    free(out2);
}

/* Every buffer one byte short fails cleanly with a terminated (partial) string. */
static void output_is_bounded(void **state)
{
    (void)state;
    struct tdm_sdp *d = sdp_load("firefox-offer-av.sdp");
    char *buf = malloc(8192), err[256];
    int n = tdm_sdp_write(d, buf, 8192, err, sizeof err);
    assert_true(n > 1000);
    char *copy = strdup(buf);
    for (int cap = 1; cap <= n; cap++) {
        memset(buf, 'X', 8192);
        assert_int_equal(tdm_sdp_write(d, buf, (size_t)cap, err, sizeof err), TDM_ETOOBIG);
        assert_non_null(memchr(buf, '\0', (size_t)cap));
        assert_int_equal(buf[cap], 'X');
    }
    assert_non_null(strstr(err, "does not fit"));
    assert_int_equal(tdm_sdp_write(d, buf, (size_t)n + 1, err, sizeof err), n);
    assert_string_equal(buf, copy);
    assert_int_equal(tdm_sdp_write(d, buf, 0, err, sizeof err), TDM_EINVAL);
    assert_int_equal(tdm_sdp_write(NULL, buf, 10, err, sizeof err), TDM_EINVAL);
    free(copy);
    free(buf);
    tdm_sdp_free(d);
}

/* A caller-built model cannot smuggle lines or attributes into the text. */
static void refuses_injection(void **state)
{
    (void)state;
    struct tdm_sdp *good = sdp_load("chromium-offer-av.sdp"), *d = tdm_sdp_new();
    char *buf = malloc(TDM_SDP_MAX_BYTES), err[256];
    for (int k = 0; k < 16; k++) {
        memcpy(d, good, sizeof *d);
        struct tdm_sdp_media *m = &d->media[1];
        switch (k) {
        case 0: strcpy(m->mid, "1\r\na=x"); break;
        case 1: strcpy(m->msid_stream, "a b"); break;
        case 2: strcpy(m->ssrcs[0].cname, "c\rd"); break;
        case 3: strcpy(m->codecs[0].fmtp, "x=1\n"); break;
        case 4: strcpy(m->extmaps[0].uri, "urn:a b"); break;
        case 5: m->proto[0] = '\0'; break;
        case 6: strcpy(d->ice_ufrag, "ab:cd"); break;
        case 7: strcpy(d->cands[0].address, "1.2.3.4 typ relay"); break;
        case 8: memset(m->mid, 'a', sizeof m->mid); break; /* no NUL */
        case 9: m->n_codecs = TDM_SDP_MAX_CODECS + 1; break;
        case 10: d->bundle[0] = 9; break;
        case 11: strcpy(m->codecs[0].name, "VP8/9"); break;
        case 12: m->extmaps[0].id = 15; break;
        case 13: m->fingerprint.len = 5; break;
        case 14: strcpy(m->rids[0].id, "a;b"), m->n_rids = 1; break;
        case 15: d->cands[0].media = 5; break;
        }
        err[0] = '\0';
        if (tdm_sdp_write(d, buf, TDM_SDP_MAX_BYTES, err, sizeof err) != TDM_EINVAL)
            fail_msg("case %d written", k);
        assert_true(err[0] != '\0');
    }
    free(buf);
    tdm_sdp_free(d);
    tdm_sdp_free(good);
}

static void writes_rejected_and_other_kinds(void **state)
{
    (void)state;
    struct tdm_sdp *d = tdm_sdp_new(), *back = tdm_sdp_new();
    char buf[1024], err[256];
    d->n_media = 2;
    d->media[0].kind = TDM_SDP_APPLICATION;
    strcpy(d->media[0].proto, "UDP/DTLS/SCTP");
    strcpy(d->media[0].fmt, "webrtc-datachannel");
    strcpy(d->media[0].mid, "data");
    d->media[0].rejected = true;
    d->media[1].kind = TDM_SDP_KIND_OTHER;
    strcpy(d->media[1].kind_name, "text");
    strcpy(d->media[1].proto, "RTP/AVP");
    d->media[1].n_codecs = 1;
    d->media[1].codecs[0].pt = 98;
    int n = tdm_sdp_write(d, buf, sizeof buf, err, sizeof err);
    assert_true(n > 0);
    assert_non_null(strstr(buf, "m=application 0 UDP/DTLS/SCTP webrtc-datachannel\r\n"));
    assert_non_null(strstr(buf, "m=text 0 RTP/AVP 98\r\n"));
    assert_int_equal(tdm_sdp_parse((const uint8_t *)buf, (size_t)n, back, err, sizeof err), 0);
    assert_true(back->media[0].rejected && back->media[1].rejected);
    d->media[1].kind_name[0] = '\0';
    assert_int_equal(tdm_sdp_write(d, buf, sizeof buf, err, sizeof err), TDM_EINVAL);
    tdm_sdp_free(d);
    tdm_sdp_free(back);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trips),
        cmocka_unit_test(output_is_bounded),
        cmocka_unit_test(refuses_injection),
        cmocka_unit_test(writes_rejected_and_other_kinds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
