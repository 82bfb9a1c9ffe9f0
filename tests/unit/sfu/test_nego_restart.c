/* server/sfu/nego.c, the parts for reconnection (issue 15): an ICE restart of a page's "sub"
 * connection (media.restart: a new offer with new ICE credentials, the same certificate and
 * setup) and the offer sent again after a signaling resume (the same revision, the same
 * text). Through the public API, with captured browser offers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sfu_test_util.h"

#define NOW 1000000

static void command(struct tdm_sfu *s, enum tdm_sfu_cmd_kind k, const char *pid, char *sdp)
{
    struct tdm_sfu_cmd c = {.kind = k};
    snprintf(c.room, sizeof c.room, "room");
    snprintf(c.pid, sizeof c.pid, "%s", pid);
    c.sdp = sdp;
    c.sdp_len = sdp ? strlen(sdp) : 0;
    tdm_sfu_handle_command(s, &c, NOW);
}

/* The value of the first line starting with `attr` (e.g. "a=ice-ufrag:"), copied to out. */
static void attr(const char *sdp, const char *a, char *out, size_t cap)
{
    const char *p = strstr(sdp, a);
    assert_non_null(p);
    p += strlen(a);
    size_t n = strcspn(p, "\r\n");
    assert_true(n < cap);
    memcpy(out, p, n);
    out[n] = '\0';
}

/* Drains the events; returns the newest sub offer for pid (the caller frees it), or NULL. */
static struct tdm_sfu_event *offer_for(struct tdm_sfu *s, const char *pid)
{
    struct tdm_sfu_event *e, *got = NULL;
    while ((e = tdm_sfu_poll_event(s))) {
        if (e->kind == TDM_SFU_EV_OFFER && strcmp(e->pid, pid) == 0) {
            tdm_sfu_event_free(got);
            got = e;
        } else {
            assert_int_not_equal(e->kind, TDM_SFU_EV_ERROR);
            tdm_sfu_event_free(e);
        }
    }
    return got;
}

static void sub_restart_and_resend(void **state)
{
    (void)state;
    struct test_core t;
    assert_int_equal(test_core_make(&t), 0);
    char *chromium = sdp_file("chromium-offer-av.sdp"), *firefox = sdp_file("firefox-offer-av.sdp");
    assert_non_null(chromium);
    assert_non_null(firefox);
    command(t.sfu, TDM_SFU_CMD_JOIN, "amina", NULL);
    command(t.sfu, TDM_SFU_CMD_PUB_OFFER, "amina", chromium);
    command(t.sfu, TDM_SFU_CMD_JOIN, "jan", NULL);
    command(t.sfu, TDM_SFU_CMD_PUB_OFFER, "jan", firefox);
    struct tdm_sfu_event *first = offer_for(t.sfu, "amina");
    assert_non_null(first);
    assert_int_equal(first->rev, 1);
    char ufrag1[64], pwd1[64], fp1[160], ufrag2[64], pwd2[64], fp2[160], setup[32];
    attr(first->sdp, "a=ice-ufrag:", ufrag1, sizeof ufrag1);
    attr(first->sdp, "a=ice-pwd:", pwd1, sizeof pwd1);
    attr(first->sdp, "a=fingerprint:", fp1, sizeof fp1);

    /* media.restart while rev 1 still waits for its answer: a newer offer replaces it */
    command(t.sfu, TDM_SFU_CMD_SUB_RESTART, "amina", NULL);
    struct tdm_sfu_event *second = offer_for(t.sfu, "amina");
    assert_non_null(second);
    assert_int_equal(second->rev, 2);
    attr(second->sdp, "a=ice-ufrag:", ufrag2, sizeof ufrag2);
    attr(second->sdp, "a=ice-pwd:", pwd2, sizeof pwd2);
    attr(second->sdp, "a=fingerprint:", fp2, sizeof fp2);
    attr(second->sdp, "a=setup:", setup, sizeof setup);
    assert_string_not_equal(ufrag1, ufrag2); /* RFC 8445 §9: new credentials */
    assert_string_not_equal(pwd1, pwd2);
    assert_string_equal(fp1, fp2); /* the same certificate: DTLS stays */
    assert_string_equal(setup, "actpass");
    /* the same tracks, in the same m-sections */
    assert_non_null(strstr(second->sdp, "a=msid:jan "));

    /* a page back after a signaling cut: the waiting offer again, same revision and text */
    command(t.sfu, TDM_SFU_CMD_RESUME, "amina", NULL);
    struct tdm_sfu_event *again = offer_for(t.sfu, "amina");
    assert_non_null(again);
    assert_int_equal(again->rev, 2);
    assert_string_equal(again->sdp, second->sdp);
    /* nothing waiting for jan's answer but rev 1: that one again; nobody else is touched */
    command(t.sfu, TDM_SFU_CMD_RESUME, "jan", NULL);
    struct tdm_sfu_event *jan = offer_for(t.sfu, "jan");
    assert_non_null(jan);
    assert_int_equal(jan->rev, 1);
    /* someone unknown, or without a sub connection: nothing */
    command(t.sfu, TDM_SFU_CMD_SUB_RESTART, "nobody", NULL);
    command(t.sfu, TDM_SFU_CMD_RESUME, "nobody", NULL);
    command(t.sfu, TDM_SFU_CMD_JOIN, "ines", NULL);
    command(t.sfu, TDM_SFU_CMD_SUB_RESTART, "ines", NULL);
    command(t.sfu, TDM_SFU_CMD_RESUME, "ines", NULL);
    assert_null(tdm_sfu_poll_event(t.sfu));

    struct tdm_sfu_stats st;
    tdm_sfu_get_stats(t.sfu, &st);
    assert_int_equal(st.participants, 3);
    assert_int_equal(st.peers, 4); /* no connection was remade */
    tdm_sfu_event_free(first);
    tdm_sfu_event_free(second);
    tdm_sfu_event_free(again);
    tdm_sfu_event_free(jan);
    for (const char *p = "amina"; p; p = strcmp(p, "amina") == 0 ? "jan" : NULL)
        command(t.sfu, TDM_SFU_CMD_LEAVE, p, NULL);
    command(t.sfu, TDM_SFU_CMD_LEAVE, "ines", NULL);
    struct tdm_sfu_event *e;
    while ((e = tdm_sfu_poll_event(t.sfu)))
        tdm_sfu_event_free(e);
    free(chromium);
    free(firefox);
    test_core_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sub_restart_and_resend),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
