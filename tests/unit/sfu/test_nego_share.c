/* Screen sharing in the SFU core (docs/protocol.md "Screen sharing"): a pub offer names the
 * mid of its screen; the core checks it, sends that track to the others as msid "screen",
 * tells the control thread (TDM_SFU_EV_SHARE) when it comes and goes, and refuses a screen
 * that is no video track of the offer, a second sharer and a person whose video is stopped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sfu_internal.h"
#include "sfu_test_util.h"

#define NOW 1000000

static void offer(struct tdm_sfu *s, const char *pid, char *sdp, const char *screen)
{
    struct tdm_sfu_cmd c = {.kind = TDM_SFU_CMD_PUB_OFFER};
    snprintf(c.room, sizeof c.room, "room");
    snprintf(c.pid, sizeof c.pid, "%s", pid);
    snprintf(c.screen, sizeof c.screen, "%s", screen);
    c.sdp = sdp;
    c.sdp_len = strlen(sdp);
    c.ref = strdup("3");
    tdm_sfu_handle_command(s, &c, NOW);
    free(c.ref);
}

static void simple(struct tdm_sfu *s, enum tdm_sfu_cmd_kind k, const char *pid, bool block_video)
{
    struct tdm_sfu_cmd c = {.kind = k, .block_video = block_video};
    snprintf(c.room, sizeof c.room, "room");
    snprintf(c.pid, sizeof c.pid, "%s", pid);
    tdm_sfu_handle_command(s, &c, NOW);
}

static void expect_share(struct tdm_sfu *s, const char *pid, bool on)
{
    struct tdm_sfu_event *e = expect(s, TDM_SFU_EV_SHARE, pid);
    assert_int_equal(e->on, on);
    tdm_sfu_event_free(e);
}

static void expect_error(struct tdm_sfu *s, const char *pid, const char *code, const char *field)
{
    struct tdm_sfu_event *e = expect(s, TDM_SFU_EV_ERROR, pid);
    assert_string_equal(e->code, code);
    if (field)
        assert_string_equal(e->field, field);
    else
        assert_null(e->field);
    assert_string_equal(e->pc, "pub");
    assert_string_equal(e->ref, "3");
    tdm_sfu_event_free(e);
}

static void drain(struct tdm_sfu *s)
{
    struct tdm_sfu_event *e;
    while ((e = tdm_sfu_poll_event(s)))
        tdm_sfu_event_free(e);
}

static void one_screen_as_msid_screen(void **state)
{
    (void)state;
    struct test_core t;
    assert_int_equal(test_core_make(&t), 0);
    char *chromium = sdp_file("chromium-offer-av.sdp"), *firefox = sdp_file("firefox-offer-av.sdp");
    assert_non_null(chromium);
    assert_non_null(firefox);
    simple(t.sfu, TDM_SFU_CMD_JOIN, "amina", false);
    simple(t.sfu, TDM_SFU_CMD_JOIN, "jan", false);
    /* amina's video m-section (mid 1) is her screen */
    offer(t.sfu, "amina", chromium, "1");
    tdm_sfu_event_free(expect(t.sfu, TDM_SFU_EV_ANSWER, "amina"));
    expect_share(t.sfu, "amina", true);
    assert_null(tdm_sfu_poll_event(t.sfu));
    offer(t.sfu, "jan", firefox, "");
    tdm_sfu_event_free(expect(t.sfu, TDM_SFU_EV_ANSWER, "jan"));
    for (int i = 0; i < 2; i++) {
        struct tdm_sfu_event *e = tdm_sfu_poll_event(t.sfu);
        assert_non_null(e);
        assert_int_equal(e->kind, TDM_SFU_EV_OFFER);
        if (strcmp(e->pid, "jan") == 0) { /* her voice as hers, her screen as "screen" */
            assert_int_equal(count(e->sdp, "a=msid:amina "), 1);
            assert_int_equal(count(e->sdp, "a=msid:screen "), 1);
        } else {
            assert_int_equal(count(e->sdp, "a=msid:jan "), 2);
            assert_int_equal(count(e->sdp, "a=msid:screen "), 0);
        }
        tdm_sfu_event_free(e);
    }
    assert_null(tdm_sfu_poll_event(t.sfu));

    /* jan may not share while amina does: refused, not answered, and the control thread
     * hears that jan shares nothing */
    offer(t.sfu, "jan", firefox, "1");
    expect_error(t.sfu, "jan", "share_busy", NULL);
    expect_share(t.sfu, "jan", false);
    assert_null(tdm_sfu_poll_event(t.sfu));

    /* amina's next offer names no screen: the share ends, the track becomes her camera */
    offer(t.sfu, "amina", chromium, "");
    tdm_sfu_event_free(expect(t.sfu, TDM_SFU_EV_ANSWER, "amina"));
    expect_share(t.sfu, "amina", false);
    /* (jan's next sub offer waits for his answer to the last one) */
    struct part *amina = roster_find(roster_room(t.sfu, "room", false), "amina");
    assert_int_equal(amina->n_prods, 2);
    assert_false(amina->prods[0]->screen || amina->prods[1]->screen);
    drain(t.sfu);

    /* now jan may; a coordinator stopping his video ends it; and when he leaves, his share
     * ends with his tracks */
    offer(t.sfu, "jan", firefox, "1");
    tdm_sfu_event_free(expect(t.sfu, TDM_SFU_EV_ANSWER, "jan"));
    expect_share(t.sfu, "jan", true); /* his camera's m-section, now his screen */
    drain(t.sfu);
    simple(t.sfu, TDM_SFU_CMD_BLOCK, "jan", true);
    expect_share(t.sfu, "jan", false);
    drain(t.sfu);
    simple(t.sfu, TDM_SFU_CMD_BLOCK, "jan", false);
    assert_null(tdm_sfu_poll_event(t.sfu));
    offer(t.sfu, "jan", firefox, "1");
    tdm_sfu_event_free(expect(t.sfu, TDM_SFU_EV_ANSWER, "jan"));
    expect_share(t.sfu, "jan", true);
    drain(t.sfu);
    simple(t.sfu, TDM_SFU_CMD_LEAVE, "jan", false);
    expect_share(t.sfu, "jan", false);
    drain(t.sfu);
    simple(t.sfu, TDM_SFU_CMD_LEAVE, "amina", false);
    drain(t.sfu);
    free(chromium);
    free(firefox);
    test_core_free(&t);
}

static void screen_refusals(void **state)
{
    (void)state;
    struct test_core t;
    assert_int_equal(test_core_make(&t), 0);
    char *chromium = sdp_file("chromium-offer-av.sdp");
    assert_non_null(chromium);
    simple(t.sfu, TDM_SFU_CMD_JOIN, "amina", false);
    /* the audio m-section, or a mid the offer does not have: bad_field "screen" */
    offer(t.sfu, "amina", chromium, "0");
    expect_error(t.sfu, "amina", "bad_field", "screen");
    expect_share(t.sfu, "amina", false);
    offer(t.sfu, "amina", chromium, "7");
    expect_error(t.sfu, "amina", "bad_field", "screen");
    expect_share(t.sfu, "amina", false);
    assert_null(tdm_sfu_poll_event(t.sfu));
    /* a coordinator stopped her video: forbidden */
    simple(t.sfu, TDM_SFU_CMD_BLOCK, "amina", true);
    offer(t.sfu, "amina", chromium, "1");
    expect_error(t.sfu, "amina", "forbidden", NULL);
    expect_share(t.sfu, "amina", false);
    assert_null(tdm_sfu_poll_event(t.sfu));
    /* without the screen the same offer is answered as ever */
    offer(t.sfu, "amina", chromium, "");
    tdm_sfu_event_free(expect(t.sfu, TDM_SFU_EV_ANSWER, "amina"));
    assert_null(tdm_sfu_poll_event(t.sfu));
    simple(t.sfu, TDM_SFU_CMD_LEAVE, "amina", false);
    drain(t.sfu);
    free(chromium);
    test_core_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(one_screen_as_msid_screen),
        cmocka_unit_test(screen_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
