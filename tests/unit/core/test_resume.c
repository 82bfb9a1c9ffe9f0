#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "tandem/err.h"
#include "tandem/resume.h"

#define S 1000000 /* one second in microseconds */

static char room[TDM_ROOM_ID_MAX + 1], pid[TDM_PARTICIPANT_ID_LEN + 1];

static int take(struct tdm_resume_table *t, const char *tok, int64_t now)
{
    return tdm_resume_take(t, tok, strlen(tok), now, room, pid);
}

static void issue_and_take(void **state)
{
    (void)state;
    struct tdm_resume_table *t;
    assert_int_equal(tdm_resume_create(4, &t), 0);
    char a[TDM_RESUME_TOKEN_LEN + 1], b[TDM_RESUME_TOKEN_LEN + 1];
    assert_int_equal(tdm_resume_issue(t, "room-a", "pA", a, sizeof a), 0);
    assert_int_equal(tdm_resume_issue(t, "room-a", "pB", b, sizeof b), 0);
    assert_int_equal(strlen(a), TDM_RESUME_TOKEN_LEN);
    assert_string_not_equal(a, b);
    /* connected: no expiry, whatever the time */
    assert_int_equal(take(t, b, 1000LL * S), 0);
    assert_string_equal(room, "room-a");
    assert_string_equal(pid, "pB");
    /* single use */
    assert_int_equal(take(t, b, 1000LL * S), TDM_ENOTFOUND);
    assert_int_equal(tdm_resume_count(t), 1);
    tdm_resume_destroy(t);
}

static void wrong_tokens(void **state)
{
    (void)state;
    struct tdm_resume_table *t;
    assert_int_equal(tdm_resume_create(4, &t), 0);
    char a[TDM_RESUME_TOKEN_LEN + 1];
    assert_int_equal(tdm_resume_issue(t, "room-a", "pA", a, sizeof a), 0);
    char wrong[TDM_RESUME_TOKEN_LEN + 1];
    memcpy(wrong, a, sizeof wrong);
    wrong[5] = wrong[5] == 'A' ? 'B' : 'A'; /* one character off */
    assert_int_equal(take(t, wrong, 0), TDM_ENOTFOUND);
    assert_int_equal(take(t, "", 0), TDM_ENOTFOUND);
    assert_int_equal(take(t, "short", 0), TDM_ENOTFOUND);
    char bad[TDM_RESUME_TOKEN_LEN + 1];
    memset(bad, '*', TDM_RESUME_TOKEN_LEN); /* not base64url */
    bad[TDM_RESUME_TOKEN_LEN] = '\0';
    assert_int_equal(take(t, bad, 0), TDM_ENOTFOUND);
    assert_int_equal(tdm_resume_take(t, NULL, 0, 0, room, pid), TDM_ENOTFOUND);
    assert_string_equal(pid, "");
    /* a wrong try does not spend the real token */
    assert_int_equal(take(t, a, 0), 0);
    assert_string_equal(pid, "pA");
    tdm_resume_destroy(t);
}

static void rotation(void **state)
{
    (void)state;
    struct tdm_resume_table *t;
    assert_int_equal(tdm_resume_create(4, &t), 0);
    char a[TDM_RESUME_TOKEN_LEN + 1], a2[TDM_RESUME_TOKEN_LEN + 1];
    assert_int_equal(tdm_resume_issue(t, "room-a", "pA", a, sizeof a), 0);
    assert_int_equal(tdm_resume_issue(t, "room-a", "pA", a2, sizeof a2), 0);
    assert_string_not_equal(a, a2);
    assert_int_equal(tdm_resume_count(t), 1);
    assert_int_equal(take(t, a, 0), TDM_ENOTFOUND); /* the old one died with the rotation */
    assert_int_equal(take(t, a2, 0), 0);
    /* after a resume the caller issues the next token; the spent one stays dead */
    char a3[TDM_RESUME_TOKEN_LEN + 1];
    assert_int_equal(tdm_resume_issue(t, "room-a", "pA", a3, sizeof a3), 0);
    assert_int_equal(take(t, a2, 0), TDM_ENOTFOUND);
    assert_int_equal(take(t, a3, 0), 0);
    tdm_resume_destroy(t);
}

static void expiry(void **state)
{
    (void)state;
    struct tdm_resume_table *t;
    assert_int_equal(tdm_resume_create(4, &t), 0);
    char a[TDM_RESUME_TOKEN_LEN + 1], b[TDM_RESUME_TOKEN_LEN + 1], c[TDM_RESUME_TOKEN_LEN + 1];
    assert_int_equal(tdm_resume_issue(t, "room-a", "pA", a, sizeof a), 0);
    assert_int_equal(tdm_resume_issue(t, "room-a", "pB", b, sizeof b), 0);
    assert_int_equal(tdm_resume_issue(t, "room-b", "pC", c, sizeof c), 0);
    assert_int_equal(tdm_resume_deadline(t), INT64_MAX);
    assert_int_equal(tdm_resume_suspend(t, "pA", 25LL * S), 0);
    assert_int_equal(tdm_resume_suspend(t, "pC", 30LL * S), 0);
    assert_int_equal(tdm_resume_suspend(t, "nobody", 30LL * S), TDM_ENOTFOUND);
    assert_int_equal(tdm_resume_deadline(t), 25LL * S);
    /* nothing expired before the deadline */
    assert_false(tdm_resume_pop_expired(t, 25LL * S - 1, room, pid));
    /* within the grace period the token works */
    assert_int_equal(take(t, c, 29LL * S), 0);
    assert_string_equal(room, "room-b");
    /* at the deadline it no longer does, and the participant is handed back once */
    assert_int_equal(take(t, a, 25LL * S), TDM_ESTATE);
    assert_true(tdm_resume_pop_expired(t, 25LL * S, room, pid));
    assert_string_equal(pid, "pA");
    assert_false(tdm_resume_pop_expired(t, 100LL * S, room, pid));
    assert_int_equal(take(t, a, 0), TDM_ENOTFOUND);
    /* pB was never suspended: it does not expire */
    assert_int_equal(tdm_resume_deadline(t), INT64_MAX);
    assert_int_equal(take(t, b, 1000LL * S), 0);
    tdm_resume_destroy(t);
}

/* A removed or kicked participant: its token dies with it. */
static void forget_kills(void **state)
{
    (void)state;
    struct tdm_resume_table *t;
    assert_int_equal(tdm_resume_create(2, &t), 0);
    char a[TDM_RESUME_TOKEN_LEN + 1];
    assert_int_equal(tdm_resume_issue(t, "room-a", "pA", a, sizeof a), 0);
    assert_int_equal(tdm_resume_suspend(t, "pA", 25LL * S), 0);
    tdm_resume_forget(t, "pA");
    tdm_resume_forget(t, "pA"); /* twice: no effect */
    assert_int_equal(take(t, a, S), TDM_ENOTFOUND);
    assert_false(tdm_resume_pop_expired(t, 100LL * S, room, pid));
    assert_int_equal(tdm_resume_count(t), 0);
    tdm_resume_destroy(t);
}

static void bounds(void **state)
{
    (void)state;
    struct tdm_resume_table *t;
    assert_int_equal(tdm_resume_create(0, &t), TDM_EINVAL);
    assert_int_equal(tdm_resume_create(2, &t), 0);
    char a[TDM_RESUME_TOKEN_LEN + 1];
    assert_int_equal(tdm_resume_issue(t, "room-a", "p1", a, sizeof a), 0);
    assert_int_equal(tdm_resume_issue(t, "room-a", "p2", a, sizeof a), 0);
    assert_int_equal(tdm_resume_issue(t, "room-a", "p3", a, sizeof a), TDM_EFULL);
    assert_int_equal(tdm_resume_issue(t, "room-a", "p1", a, sizeof a), 0); /* rotation fits */
    assert_int_equal(tdm_resume_issue(t, "room-a", "p1", a, TDM_RESUME_TOKEN_LEN), TDM_EINVAL);
    assert_int_equal(tdm_resume_issue(t, "", "p1", a, sizeof a), TDM_EINVAL);
    assert_int_equal(tdm_resume_issue(t, "room-a", "", a, sizeof a), TDM_EINVAL);
    assert_int_equal(tdm_resume_issue(t, "room-a", "0123456789012345678901234", a, sizeof a),
                     TDM_EINVAL);
    tdm_resume_forget(t, "p2");
    assert_int_equal(tdm_resume_issue(t, "room-a", "p3", a, sizeof a), 0);
    tdm_resume_destroy(t);
    tdm_resume_destroy(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(issue_and_take), cmocka_unit_test(wrong_tokens),
        cmocka_unit_test(rotation),       cmocka_unit_test(expiry),
        cmocka_unit_test(forget_kills),   cmocka_unit_test(bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
