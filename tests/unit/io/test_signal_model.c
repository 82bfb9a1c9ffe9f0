/* The signaling handlers driving real rooms (server/io/signal*.c, moderation.c, invites.c,
 * channels.c) through the stateful harness fuzz_room uses (tests/fuzz/room_harness.h):
 * scripted scenarios of people leaving while a handler acts on them, then seeded random
 * sequences, with the room invariants checked after every step. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "../../fuzz/room_harness.h"

#define RANDOM_RUNS 50
#define RANDOM_BYTES 1500

static void ok(struct rh_harness *h, int rc)
{
    if (rc != 0)
        fail_msg("%s", rh_failure(h));
}

static struct rh_harness *cast(void)
{
    struct rh_harness *h = rh_create();
    assert_non_null(h);
    ok(h, rh_populate(h)); /* 0 coordinator, 1 mentor, 2 mentee in room-0; 3, 4 in room-1 */
    rh_clear_log(h);
    return h;
}

static void done(struct rh_harness *h)
{
    assert_int_equal(rh_destroy(h), 0);
}

static void send_fmt(struct rh_harness *h, int conn, const char *fmt, const char *arg)
{
    char buf[256];
    snprintf(buf, sizeof buf, fmt, arg);
    ok(h, rh_send(h, conn, buf));
}

/* Issue 11: mod.remove naming the sender crashed the server. Alone and with others. */
static void test_self_remove_is_refused(void **state)
{
    (void)state;
    struct rh_harness *h = cast();
    char me[32];
    snprintf(me, sizeof me, "%s", rh_participant_id(h, 0));
    send_fmt(h, 0, "{\"type\":\"mod.remove\",\"id\":1,\"target\":\"%s\"}", me);
    assert_true(rh_received(h, 0, "error:bad_field"));
    assert_string_equal(rh_participant_id(h, 0), me); /* still there */
    assert_false(rh_received(h, 1, "left"));
    send_fmt(h, 0, "{\"type\":\"mod.remove\",\"target\":\"%s\",\"withdraw_link\":true}", me);
    assert_false(rh_received(h, 0, "invite.revoked"));

    done(h);

    /* alone in its room, with a bystander in another */
    h = rh_create();
    assert_non_null(h);
    ok(h, rh_join(h, 0, 0, TDM_ROLE_COORDINATOR));
    ok(h, rh_join(h, 1, 1, TDM_ROLE_MENTEE));
    send_fmt(h, 0, "{\"type\":\"mod.remove\",\"target\":\"%s\"}", rh_participant_id(h, 0));
    assert_true(rh_received(h, 0, "error:bad_field"));
    assert_non_null(rh_participant_id(h, 0));
    assert_int_equal(rh_rooms(h), 2);
    ok(h, rh_send(h, 1, "{\"type\":\"ping\"}")); /* another room still served */
    assert_true(rh_received(h, 1, "pong"));
    done(h);
}

/* After a removal the id is stale: naming it again finds nobody, even before the removed
 * connection has finished closing. */
static void test_remove_then_stale_id(void **state)
{
    (void)state;
    struct rh_harness *h = cast();
    char gone[32];
    snprintf(gone, sizeof gone, "%s", rh_participant_id(h, 2));
    send_fmt(h, 0, "{\"type\":\"mod.remove\",\"target\":\"%s\",\"withdraw_link\":true}", gone);
    assert_true(rh_received(h, 2, "removed"));
    assert_true(rh_received(h, 0, "invite.revoked"));
    assert_true(rh_received(h, 1, "left"));
    assert_true(rh_is_closing(h, 2));
    rh_clear_log(h);
    send_fmt(h, 0, "{\"type\":\"mod.remove\",\"target\":\"%s\"}", gone);
    assert_true(rh_received(h, 0, "error:not_found"));
    send_fmt(h, 0, "{\"type\":\"mod.mute\",\"target\":\"%s\",\"kind\":\"audio\"}", gone);
    assert_true(rh_received(h, 0, "error:not_found"));
    /* the removed page's last words are not heard */
    ok(h, rh_send(h, 2, "{\"type\":\"chat.send\",\"text\":\"hi\"}"));
    assert_false(rh_received(h, 1, "chat.message"));
    ok(h, rh_flush(h));
    assert_false(rh_is_open(h, 2));
    send_fmt(h, 0, "{\"type\":\"mod.remove\",\"target\":\"%s\"}", gone);
    assert_true(rh_received(h, 0, "error:not_found"));
    done(h);
}

/* mod.end with people in the lobby: every waiter is sent away, the room goes. */
static void test_end_with_lobby_waiters(void **state)
{
    (void)state;
    struct rh_harness *h = cast();
    ok(h, rh_send(h, 0, "{\"type\":\"mod.lobby\",\"lobby\":true}"));
    ok(h, rh_join(h, 5, 0, TDM_ROLE_MENTEE));
    ok(h, rh_join(h, 6, 0, TDM_ROLE_MENTOR));
    assert_true(rh_received(h, 5, "lobby"));
    assert_true(rh_received(h, 1, "lobby.waiting"));
    ok(h, rh_send(h, 0, "{\"type\":\"mod.end\"}"));
    for (int i = 0; i <= 6; i++)
        if (i != 3 && i != 4)
            assert_true(rh_received(h, i, "ended"));
    assert_int_equal(rh_rooms(h), 1);
    /* an admit racing the end, from a page that has not heard yet, finds nobody */
    char lobby[64];
    snprintf(lobby, sizeof lobby, "%s", rh_last_lobby_id(h));
    send_fmt(h, 1, "{\"type\":\"mod.admit\",\"lobby_id\":\"%s\"}", lobby);
    ok(h, rh_flush(h));
    for (int i = 0; i <= 6; i++)
        assert_true(rh_is_open(h, i) == (i == 3 || i == 4));
    done(h);
}

/* Admit and deny of someone who gave up waiting; a room closed by its last leave (here the
 * end of the last one's grace period after a cut) sends its waiters away. */
static void test_lobby_waiter_gone(void **state)
{
    (void)state;
    struct rh_harness *h = cast();
    ok(h, rh_send(h, 4, "{\"type\":\"mod.lobby\",\"lobby\":true}"));
    ok(h, rh_join(h, 5, 1, TDM_ROLE_MENTEE));
    char lobby[64];
    snprintf(lobby, sizeof lobby, "%s", rh_last_lobby_id(h));
    ok(h, rh_disconnect(h, 5));
    assert_true(rh_received(h, 4, "lobby.left"));
    send_fmt(h, 4, "{\"type\":\"mod.admit\",\"lobby_id\":\"%s\"}", lobby);
    assert_true(rh_received(h, 4, "error:not_found"));
    send_fmt(h, 4, "{\"type\":\"mod.deny\",\"lobby_id\":\"%s\"}", lobby);

    ok(h, rh_join(h, 6, 1, TDM_ROLE_MENTEE));
    assert_true(rh_received(h, 6, "lobby"));
    ok(h, rh_disconnect(h, 3)); /* away: the room stays until its grace period ends */
    ok(h, rh_send(h, 4, "{\"type\":\"leave\"}"));
    assert_false(rh_received(h, 6, "error:not_admitted"));
    ok(h, rh_expire(h, 26 * (int64_t)1000000));
    assert_true(rh_received(h, 6, "error:not_admitted"));
    assert_true(rh_is_closing(h, 6));
    assert_int_equal(rh_rooms(h), 1);
    done(h);
}

/* Seeded random sequences through the same decoder the fuzz target uses. */
/* Issue 15: a cut is not a leave. The page's socket goes (no close frame): the others see
 * "reconnecting", not "left"; what is said meanwhile is kept; the page's next connection
 * resumes with its token and is the same participant; the others see "reconnected". The
 * token is single use, and the next one came with the resumed welcome. */
static void test_resume_after_cut(void **state)
{
    (void)state;
    struct rh_harness *h = cast();
    char mentee[32], tok[64];
    snprintf(mentee, sizeof mentee, "%s", rh_participant_id(h, 2));
    snprintf(tok, sizeof tok, "%s", rh_resume_token(h, 2));
    assert_int_equal(strlen(tok), 43);
    ok(h, rh_disconnect(h, 2));
    assert_true(rh_received(h, 1, "reconnecting"));
    assert_false(rh_received(h, 1, "left"));
    ok(h, rh_send(h, 1, "{\"type\":\"chat.send\",\"text\":\"are you there?\"}"));
    rh_clear_log(h);
    /* a wrong token: refused, and this connection may not try again */
    ok(h,
       rh_send(h, 5,
               "{\"type\":\"resume\",\"token\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}"));
    assert_true(rh_received(h, 5, "error:resume_failed"));
    send_fmt(h, 5, "{\"type\":\"resume\",\"token\":\"%s\"}", tok);
    assert_true(rh_received(h, 5, "error:resume_failed"));
    assert_null(rh_participant_id(h, 5));
    /* the real page, on a fresh connection */
    send_fmt(h, 6, "{\"type\":\"resume\",\"id\":7,\"token\":\"%s\"}", tok);
    assert_true(rh_received(h, 6, "welcome"));
    assert_true(rh_received(h, 6, "chat.message")); /* what it missed, after the welcome */
    assert_string_equal(rh_participant_id(h, 6), mentee);
    assert_true(rh_received(h, 1, "reconnected"));
    assert_false(rh_received(h, 1, "joined"));
    assert_false(rh_received(h, 1, "left"));
    assert_string_not_equal(rh_resume_token(h, 6), tok); /* rotated */
    /* spent: the old token does not work twice */
    rh_clear_log(h);
    send_fmt(h, 7, "{\"type\":\"resume\",\"token\":\"%s\"}", tok);
    assert_true(rh_received(h, 7, "error:resume_failed"));
    /* the resumed participant acts as before */
    ok(h, rh_send(h, 6, "{\"type\":\"chat.send\",\"text\":\"back\"}"));
    assert_true(rh_received(h, 1, "chat.message"));
    done(h);
}

/* The grace period ends: the participant leaves as before (others see "left"), and its
 * token is dead. */
static void test_resume_grace_ends(void **state)
{
    (void)state;
    struct rh_harness *h = cast();
    char tok[64];
    snprintf(tok, sizeof tok, "%s", rh_resume_token(h, 2));
    ok(h, rh_disconnect(h, 2));
    ok(h, rh_expire(h, 10 * (int64_t)1000000)); /* within the 25 s: still away */
    assert_false(rh_received(h, 1, "left"));
    ok(h, rh_expire(h, 26 * (int64_t)1000000));
    assert_true(rh_received(h, 1, "left"));
    send_fmt(h, 5, "{\"type\":\"resume\",\"token\":\"%s\"}", tok);
    assert_true(rh_received(h, 5, "error:resume_failed"));
    done(h);
}

/* A coordinator removes someone who is away: they leave at once and cannot resume; so does
 * everyone away when the call ends. */
static void test_resume_after_removal_refused(void **state)
{
    (void)state;
    struct rh_harness *h = cast();
    char tok[64], gone[32];
    snprintf(tok, sizeof tok, "%s", rh_resume_token(h, 2));
    snprintf(gone, sizeof gone, "%s", rh_participant_id(h, 2));
    ok(h, rh_disconnect(h, 2));
    rh_clear_log(h);
    send_fmt(h, 0, "{\"type\":\"mod.remove\",\"target\":\"%s\",\"withdraw_link\":true}", gone);
    assert_true(rh_received(h, 1, "left"));
    send_fmt(h, 5, "{\"type\":\"resume\",\"token\":\"%s\"}", tok);
    assert_true(rh_received(h, 5, "error:resume_failed"));
    assert_null(rh_participant_id(h, 5));
    /* mod.end with someone away */
    snprintf(tok, sizeof tok, "%s", rh_resume_token(h, 1));
    ok(h, rh_disconnect(h, 1));
    ok(h, rh_send(h, 0, "{\"type\":\"mod.end\"}"));
    ok(h, rh_flush(h));
    send_fmt(h, 6, "{\"type\":\"resume\",\"token\":\"%s\"}", tok);
    assert_true(rh_received(h, 6, "error:resume_failed"));
    done(h);
}

/* The page gave up a connection the server still holds (a half-dead socket): resume takes
 * the participant over, and the old connection is closed without a "left". */
static void test_resume_replaces_live_connection(void **state)
{
    (void)state;
    struct rh_harness *h = cast();
    char tok[64], me[32];
    snprintf(tok, sizeof tok, "%s", rh_resume_token(h, 2));
    snprintf(me, sizeof me, "%s", rh_participant_id(h, 2));
    send_fmt(h, 5, "{\"type\":\"resume\",\"token\":\"%s\"}", tok);
    assert_true(rh_received(h, 5, "welcome"));
    assert_true(rh_received(h, 5, "chat.history")); /* state again: the old queue may be lost */
    assert_string_equal(rh_participant_id(h, 5), me);
    assert_true(rh_is_closing(h, 2));
    ok(h, rh_flush(h));
    assert_false(rh_received(h, 1, "left"));
    assert_false(rh_received(h, 1, "reconnecting"));
    done(h);
}

static void test_random_sequences(void **state)
{
    (void)state;
    uint64_t x = 0x9e3779b97f4a7c15ull;
    static uint8_t buf[RANDOM_BYTES];
    for (int run = 0; run < RANDOM_RUNS; run++) {
        for (size_t i = 0; i < sizeof buf; i++) { /* xorshift64: the same bytes every time */
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            buf[i] = (uint8_t)(x >> 24);
        }
        struct rh_harness *h = rh_create();
        assert_non_null(h);
        if (rh_populate(h) != 0 || rh_run(h, buf, sizeof buf) != 0)
            fail_msg("run %d: %s", run, rh_failure(h));
        assert_int_equal(rh_destroy(h), 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_self_remove_is_refused),
        cmocka_unit_test(test_remove_then_stale_id),
        cmocka_unit_test(test_end_with_lobby_waiters),
        cmocka_unit_test(test_lobby_waiter_gone),
        cmocka_unit_test(test_resume_after_cut),
        cmocka_unit_test(test_resume_grace_ends),
        cmocka_unit_test(test_resume_after_removal_refused),
        cmocka_unit_test(test_resume_replaces_live_connection),
        cmocka_unit_test(test_random_sequences),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
