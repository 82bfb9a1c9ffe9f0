/* Offer/answer through the SFU core's public API, with offers captured from Chromium and
 * Firefox (tests/data/sdp): answers, sub offers when a second person publishes, refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sfu_test_util.h"

#define NOW 1000000

static void command(struct tdm_sfu *s, enum tdm_sfu_cmd_kind k, const char *pid, char *sdp,
                    int64_t rev, const char *ref)
{
    struct tdm_sfu_cmd c = {.kind = k, .rev = rev};
    snprintf(c.room, sizeof c.room, "room");
    snprintf(c.pid, sizeof c.pid, "%s", pid);
    c.sdp = sdp;
    c.sdp_len = sdp ? strlen(sdp) : 0;
    c.ref = ref ? strdup(ref) : NULL;
    tdm_sfu_handle_command(s, &c, NOW);
    free(c.ref); /* the core may have taken it (NULL then) */
}

static void publish_answer_and_sub_offers(void **state)
{
    (void)state;
    struct test_core t;
    assert_int_equal(test_core_make(&t), 0);
    char *chromium = sdp_file("chromium-offer-av.sdp"), *firefox = sdp_file("firefox-offer-av.sdp");
    assert_non_null(chromium);
    assert_non_null(firefox);
    command(t.sfu, TDM_SFU_CMD_JOIN, "amina", NULL, 0, NULL);
    command(t.sfu, TDM_SFU_CMD_PUB_OFFER, "amina", chromium, 0, "2");
    struct tdm_sfu_event *e = expect(t.sfu, TDM_SFU_EV_ANSWER, "amina");
    assert_string_equal(e->ref, "2");
    assert_int_equal(count(e->sdp, "\r\nm="), 2);
    assert_int_equal(count(e->sdp, "a=recvonly"), 2);
    assert_int_equal(count(e->sdp, "a=ice-lite"), 1);
    assert_int_equal(count(e->sdp, "typ host"), 1);
    tdm_sfu_event_free(e);
    /* alone in the room: nothing to receive, no sub offer yet */
    assert_null(tdm_sfu_poll_event(t.sfu));

    command(t.sfu, TDM_SFU_CMD_JOIN, "jan", NULL, 0, NULL);
    command(t.sfu, TDM_SFU_CMD_PUB_OFFER, "jan", firefox, 0, "5");
    e = expect(t.sfu, TDM_SFU_EV_ANSWER, "jan");
    tdm_sfu_event_free(e);
    /* now each gets an offer with the other's two tracks, revision 1, msid = publisher */
    for (int i = 0; i < 2; i++) {
        e = tdm_sfu_poll_event(t.sfu);
        assert_non_null(e);
        assert_int_equal(e->kind, TDM_SFU_EV_OFFER);
        assert_int_equal(e->rev, 1);
        assert_int_equal(count(e->sdp, "\r\nm="), 2);
        assert_int_equal(count(e->sdp, "a=sendonly"), 2);
        const char *other = strcmp(e->pid, "amina") == 0 ? "a=msid:jan " : "a=msid:amina ";
        assert_int_equal(count(e->sdp, other), 2);
        tdm_sfu_event_free(e);
    }
    assert_null(tdm_sfu_poll_event(t.sfu));

    /* an answer to an old revision is ignored quietly */
    command(t.sfu, TDM_SFU_CMD_SUB_ANSWER, "amina", firefox, 7, NULL);
    assert_null(tdm_sfu_poll_event(t.sfu));
    /* an unusable answer to the current one: bad_field on "sub", and a fresh offer */
    char bad[] = "v=0\r\n";
    command(t.sfu, TDM_SFU_CMD_SUB_ANSWER, "amina", bad, 1, "9");
    e = expect(t.sfu, TDM_SFU_EV_ERROR, "amina");
    assert_string_equal(e->code, "bad_field");
    assert_string_equal(e->pc, "sub");
    tdm_sfu_event_free(e);
    e = expect(t.sfu, TDM_SFU_EV_OFFER, "amina");
    assert_int_equal(e->rev, 2);
    tdm_sfu_event_free(e);

    struct tdm_sfu_stats st;
    tdm_sfu_get_stats(t.sfu, &st);
    assert_int_equal(st.rooms, 1);
    assert_int_equal(st.participants, 2);
    assert_int_equal(st.peers, 4); /* pub and sub of each */
    command(t.sfu, TDM_SFU_CMD_LEAVE, "jan", NULL, 0, NULL);
    command(t.sfu, TDM_SFU_CMD_LEAVE, "amina", NULL, 0, NULL);
    tdm_sfu_get_stats(t.sfu, &st);
    assert_int_equal(st.rooms, 0);
    assert_int_equal(st.peers, 0);
    while ((e = tdm_sfu_poll_event(t.sfu)))
        tdm_sfu_event_free(e);
    free(chromium);
    free(firefox);
    test_core_free(&t);
}

static void refusals(void **state)
{
    (void)state;
    struct test_core t;
    assert_int_equal(test_core_make(&t), 0);
    char bad[] = "v=0\r\ns=-\r\n", nobundle[] = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n";
    /* not joined: nothing happens */
    command(t.sfu, TDM_SFU_CMD_PUB_OFFER, "ghost", bad, 0, "1");
    assert_null(tdm_sfu_poll_event(t.sfu));
    command(t.sfu, TDM_SFU_CMD_JOIN, "amina", NULL, 0, NULL);
    command(t.sfu, TDM_SFU_CMD_PUB_OFFER, "amina", bad, 0, "1");
    struct tdm_sfu_event *e = expect(t.sfu, TDM_SFU_EV_ERROR, "amina");
    assert_string_equal(e->code, "bad_field");
    assert_string_equal(e->field, "sdp");
    assert_string_equal(e->ref, "1");
    tdm_sfu_event_free(e);
    command(t.sfu, TDM_SFU_CMD_PUB_OFFER, "amina", nobundle, 0, NULL);
    e = expect(t.sfu, TDM_SFU_EV_ERROR, "amina");
    assert_non_null(strstr(e->message, "sdp"));
    tdm_sfu_event_free(e);
    /* a sub answer with no offer out, a block and a receive for an unknown person */
    command(t.sfu, TDM_SFU_CMD_SUB_ANSWER, "amina", bad, 1, NULL);
    command(t.sfu, TDM_SFU_CMD_BLOCK, "nobody", NULL, 0, NULL);
    command(t.sfu, TDM_SFU_CMD_RECEIVE, "nobody", NULL, 0, NULL);
    assert_null(tdm_sfu_poll_event(t.sfu));
    test_core_free(&t);
}

/* A page that restarts (a new RTCPeerConnection: another certificate) gets the answer to its
 * own offer, and the others an offer without its old tracks first (71078ed). */
static void restart_gets_its_own_answer(void **state)
{
    (void)state;
    struct test_core t;
    assert_int_equal(test_core_make(&t), 0);
    char *av = sdp_file("chromium-offer-av.sdp"), *audio = sdp_file("chromium-offer-audio.sdp");
    char *ff = sdp_file("firefox-offer-av.sdp");
    command(t.sfu, TDM_SFU_CMD_JOIN, "amina", NULL, 0, NULL);
    command(t.sfu, TDM_SFU_CMD_JOIN, "jan", NULL, 0, NULL);
    command(t.sfu, TDM_SFU_CMD_PUB_OFFER, "amina", av, 0, "1");
    command(t.sfu, TDM_SFU_CMD_PUB_OFFER, "jan", ff, 0, "1");
    struct tdm_sfu_event *e;
    while ((e = tdm_sfu_poll_event(t.sfu)))
        tdm_sfu_event_free(e);
    command(t.sfu, TDM_SFU_CMD_PUB_OFFER, "amina", audio, 0, "3");
    bool answered = false;
    while ((e = tdm_sfu_poll_event(t.sfu))) {
        if (e->kind == TDM_SFU_EV_ANSWER) {
            assert_string_equal(e->pid, "amina");
            assert_string_equal(e->ref, "3");
            assert_int_equal(count(e->sdp, "\r\nm="), 1); /* mirrors its own offer */
            answered = true;
        }
        assert_int_not_equal(e->kind, TDM_SFU_EV_ERROR);
        tdm_sfu_event_free(e);
    }
    assert_true(answered);
    free(av);
    free(audio);
    free(ff);
    test_core_free(&t);
}

/* Chromium's rid simulcast (no SSRC lines): the answer receives the rids (at most three)
 * with the rid extensions and mid; the subscriber still gets one video m-section. */
static void simulcast_publisher(void **state)
{
    (void)state;
    struct test_core t;
    assert_int_equal(test_core_make(&t), 0);
    char *sim = sdp_file("chromium-offer-simulcast.sdp"), *ff = sdp_file("firefox-offer-av.sdp");
    assert_non_null(sim);
    command(t.sfu, TDM_SFU_CMD_JOIN, "amina", NULL, 0, NULL);
    command(t.sfu, TDM_SFU_CMD_PUB_OFFER, "amina", sim, 0, "1");
    struct tdm_sfu_event *e = expect(t.sfu, TDM_SFU_EV_ANSWER, "amina");
    assert_int_equal(count(e->sdp, "a=simulcast:recv q;h;f"), 1);
    assert_int_equal(count(e->sdp, " recv\r\n"), 3); /* a=rid:<id> recv */
    assert_int_equal(count(e->sdp, "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id"), 1);
    assert_int_equal(count(e->sdp, "urn:ietf:params:rtp-hdrext:sdes:mid"), 2);
    tdm_sfu_event_free(e);
    command(t.sfu, TDM_SFU_CMD_JOIN, "jan", NULL, 0, NULL);
    command(t.sfu, TDM_SFU_CMD_PUB_OFFER, "jan", ff, 0, "2");
    bool offered = false;
    while ((e = tdm_sfu_poll_event(t.sfu))) {
        if (e->kind == TDM_SFU_EV_OFFER && strcmp(e->pid, "jan") == 0) {
            /* one m-section per track of amina, the layers are not three tracks */
            assert_int_equal(count(e->sdp, "a=msid:amina "), 2);
            assert_int_equal(count(e->sdp, "a=simulcast"), 0);
            offered = true;
        }
        assert_int_not_equal(e->kind, TDM_SFU_EV_ERROR);
        tdm_sfu_event_free(e);
    }
    assert_true(offered);
    /* the same offer again (a renegotiation) keeps the track: no new sub offer */
    command(t.sfu, TDM_SFU_CMD_PUB_OFFER, "amina", sim, 0, "3");
    e = expect(t.sfu, TDM_SFU_EV_ANSWER, "amina");
    tdm_sfu_event_free(e);
    assert_null(tdm_sfu_poll_event(t.sfu));
    free(sim);
    free(ff);
    test_core_free(&t);
}

/* Firefox's rid simulcast (tests/data/sdp/firefox-offer-simulcast.sdp, Firefox 153 ESR): the
 * video m-section is bundle-only (port 0), its rid extensions are declared sendonly, and it
 * lists six SSRCs in three FID groups without saying which rid each carries. The answer
 * receives q, h and f in that order with both rid extensions (recvonly), the SSRC lines are
 * not taken for the track (layers learn theirs from the rid extension), and a Chromium
 * subscriber gets one video m-section for the three layers. */
static void firefox_simulcast_publisher(void **state)
{
    (void)state;
    struct test_core t;
    assert_int_equal(test_core_make(&t), 0);
    char *ff = sdp_file("firefox-offer-simulcast.sdp"), *cr = sdp_file("chromium-offer-av.sdp");
    assert_non_null(ff);
    assert_non_null(cr);
    command(t.sfu, TDM_SFU_CMD_JOIN, "sara", NULL, 0, NULL);
    command(t.sfu, TDM_SFU_CMD_PUB_OFFER, "sara", ff, 0, "1");
    struct tdm_sfu_event *e = expect(t.sfu, TDM_SFU_EV_ANSWER, "sara");
    assert_int_equal(count(e->sdp, "a=simulcast:recv q;h;f\r\n"), 1);
    const char *q = strstr(e->sdp, "a=rid:q recv\r\n"), *h = strstr(e->sdp, "a=rid:h recv\r\n"),
               *f = strstr(e->sdp, "a=rid:f recv\r\n");
    assert_true(q && h && f && q < h && h < f); /* the layers, lowest first */
    assert_int_equal(
        count(e->sdp, "a=extmap:9/recvonly urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id"), 1);
    assert_int_equal(
        count(e->sdp,
              "a=extmap:10/recvonly urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id"),
        1);
    assert_int_equal(count(e->sdp, "a=extmap:3 urn:ietf:params:rtp-hdrext:sdes:mid"), 2);
    assert_int_equal(count(e->sdp, "a=rtpmap:120 VP8/90000"), 1);
    assert_int_equal(count(e->sdp, "a=fmtp:124 apt=120"), 1); /* RTX, repaired by rrid */
    assert_int_equal(count(e->sdp, "a=ssrc"), 0);             /* the server sends nothing here */
    assert_int_equal(count(e->sdp, "a=recvonly"), 2);
    tdm_sfu_event_free(e);
    command(t.sfu, TDM_SFU_CMD_JOIN, "jan", NULL, 0, NULL);
    command(t.sfu, TDM_SFU_CMD_PUB_OFFER, "jan", cr, 0, "2");
    bool offered = false;
    while ((e = tdm_sfu_poll_event(t.sfu))) {
        if (e->kind == TDM_SFU_EV_OFFER && strcmp(e->pid, "jan") == 0) {
            assert_int_equal(count(e->sdp, "a=msid:sara "), 2); /* audio, and one video */
            assert_int_equal(count(e->sdp, "a=simulcast"), 0);
            assert_int_equal(count(e->sdp, "a=rid:"), 0);
            offered = true;
        }
        assert_int_not_equal(e->kind, TDM_SFU_EV_ERROR);
        tdm_sfu_event_free(e);
    }
    assert_true(offered);
    /* the same offer again (an ICE restart keeps the rids): the track stays, no sub offer */
    command(t.sfu, TDM_SFU_CMD_PUB_OFFER, "sara", ff, 0, "3");
    e = expect(t.sfu, TDM_SFU_EV_ANSWER, "sara");
    assert_int_equal(count(e->sdp, "a=simulcast:recv q;h;f\r\n"), 1);
    tdm_sfu_event_free(e);
    assert_null(tdm_sfu_poll_event(t.sfu));
    free(ff);
    free(cr);
    test_core_free(&t);
}

/* media.receive_only: sub offers without a pub connection, with the server's payload types;
 * publishing later keeps them; asking again starts a new sub connection; a core without a media
 * address refuses. */
static void receive_only(void **state)
{
    (void)state;
    struct test_core t;
    assert_int_equal(test_core_make(&t), 0);
    char *firefox = sdp_file("firefox-offer-av.sdp"), *chromium = sdp_file("chromium-offer-av.sdp");
    assert_non_null(firefox);
    assert_non_null(chromium);
    command(t.sfu, TDM_SFU_CMD_JOIN, "amina", NULL, 0, NULL);
    command(t.sfu, TDM_SFU_CMD_JOIN, "jan", NULL, 0, NULL);
    command(t.sfu, TDM_SFU_CMD_RECV_ONLY, "amina", NULL, 0, "3");
    command(t.sfu, TDM_SFU_CMD_RECV_ONLY, "ghost", NULL, 0, "3"); /* not there: nothing */
    assert_null(tdm_sfu_poll_event(t.sfu));                       /* nothing to receive yet */
    struct tdm_sfu_stats st;
    tdm_sfu_get_stats(t.sfu, &st);
    assert_int_equal(st.peers, 0);

    command(t.sfu, TDM_SFU_CMD_PUB_OFFER, "jan", firefox, 0, "5");
    struct tdm_sfu_event *e = expect(t.sfu, TDM_SFU_EV_ANSWER, "jan");
    tdm_sfu_event_free(e);
    e = expect(t.sfu, TDM_SFU_EV_OFFER, "amina");
    assert_int_equal(e->rev, 1);
    assert_int_equal(count(e->sdp, "a=msid:jan "), 2);
    assert_int_equal(count(e->sdp, "a=rtpmap:111 opus/48000/2"), 1); /* ours, not Firefox's 109 */
    assert_int_equal(count(e->sdp, "a=rtpmap:96 VP8/90000"), 1);
    tdm_sfu_event_free(e);
    assert_null(tdm_sfu_poll_event(t.sfu)); /* jan has nothing to receive */
    tdm_sfu_get_stats(t.sfu, &st);
    assert_int_equal(st.peers, 2); /* jan's pub, amina's sub */
    /* asked again: a new pair of connections on the page, the old sub one is released and
     * the next offer (a higher revision) is for a new one */
    command(t.sfu, TDM_SFU_CMD_RECV_ONLY, "amina", NULL, 0, "4");
    e = expect(t.sfu, TDM_SFU_EV_OFFER, "amina");
    assert_int_equal(e->rev, 2);
    assert_int_equal(count(e->sdp, "a=msid:jan "), 2);
    tdm_sfu_event_free(e);
    assert_null(tdm_sfu_poll_event(t.sfu));
    tdm_sfu_get_stats(t.sfu, &st);
    assert_int_equal(st.peers, 2);

    /* amina starts publishing: jan receives her, her sub connection stays */
    command(t.sfu, TDM_SFU_CMD_PUB_OFFER, "amina", chromium, 0, "6");
    e = expect(t.sfu, TDM_SFU_EV_ANSWER, "amina");
    assert_string_equal(e->ref, "6");
    tdm_sfu_event_free(e);
    e = expect(t.sfu, TDM_SFU_EV_OFFER, "jan");
    assert_int_equal(count(e->sdp, "a=msid:amina "), 2);
    assert_int_equal(count(e->sdp, "a=rtpmap:109 opus/48000/2"), 1); /* Firefox's own */
    tdm_sfu_event_free(e);
    tdm_sfu_get_stats(t.sfu, &st);
    assert_int_equal(st.peers, 4);
    while ((e = tdm_sfu_poll_event(t.sfu)))
        tdm_sfu_event_free(e);
    test_core_free(&t);

    /* no media address: refused with media_unavailable on "sub", the request's id kept */
    assert_int_equal(test_core_make(&t), 0);
    tdm_sfu_destroy(t.sfu);
    struct tdm_sfu_config c = {
        .ssl_ctx = t.ctx, .max_sessions = 4, .max_pending = 4, .rand32 = test_rand, .rand_ctx = &t};
    assert_int_equal(tdm_sfu_create(&c, &t.sfu), 0);
    command(t.sfu, TDM_SFU_CMD_JOIN, "amina", NULL, 0, NULL);
    command(t.sfu, TDM_SFU_CMD_RECV_ONLY, "amina", NULL, 0, "7");
    e = expect(t.sfu, TDM_SFU_EV_ERROR, "amina");
    assert_string_equal(e->code, "media_unavailable");
    assert_string_equal(e->pc, "sub");
    assert_string_equal(e->ref, "7");
    tdm_sfu_event_free(e);
    free(firefox);
    free(chromium);
    test_core_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(publish_answer_and_sub_offers), cmocka_unit_test(refusals),
        cmocka_unit_test(restart_gets_its_own_answer),   cmocka_unit_test(simulcast_publisher),
        cmocka_unit_test(firefox_simulcast_publisher),   cmocka_unit_test(receive_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
