#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "tandem/checkin.h"
#include "tandem/err.h"

#define S 1000000LL

static void rnd_of(uint8_t r[16], uint8_t seed)
{
    for (int i = 0; i < 16; i++)
        r[i] = (uint8_t)(seed * 31 + i);
}

static char tok[TDM_CHECKIN_TOKEN_LEN + 1];

static void issue(struct tdm_checkin *ck, const char *room, uint8_t seed, int64_t now)
{
    uint8_t r[16];
    rnd_of(r, seed);
    assert_int_equal(tdm_checkin_issue(ck, room, r, now, tok, sizeof tok), 0);
    assert_int_equal(strlen(tok), TDM_CHECKIN_TOKEN_LEN);
}

static void counts_per_room_once_per_token(void **state)
{
    (void)state;
    struct tdm_checkin *ck = tdm_checkin_create(8, 4);
    char a[sizeof tok], b[sizeof tok];
    issue(ck, "room-one", 1, 0);
    memcpy(a, tok, sizeof tok);
    issue(ck, "room-two", 2, 0);
    memcpy(b, tok, sizeof tok);
    assert_int_equal(tdm_checkin_answer(ck, a, strlen(a), TDM_CHECKIN_FINE, 10 * S), 0);
    /* spent */
    assert_int_equal(tdm_checkin_answer(ck, a, strlen(a), TDM_CHECKIN_MANY, 11 * S), TDM_ENOTFOUND);
    assert_int_equal(tdm_checkin_answer(ck, b, strlen(b), TDM_CHECKIN_MANY, 12 * S), 0);
    struct tdm_checkin_counts c;
    tdm_checkin_counts(ck, "room-one", 13 * S, &c);
    assert_int_equal(c.n[TDM_CHECKIN_FINE], 1);
    assert_int_equal(c.n[TDM_CHECKIN_MANY], 0);
    tdm_checkin_counts(ck, "room-two", 13 * S, &c);
    assert_int_equal(c.n[TDM_CHECKIN_MANY], 1);
    tdm_checkin_counts(ck, "room-three", 13 * S, &c);
    assert_int_equal(c.n[0] + c.n[1] + c.n[2], 0);
    /* the counts are forgotten a while after the last answer */
    tdm_checkin_counts(ck, "room-one", 10 * S + TDM_CHECKIN_ROOM_TTL_US, &c);
    assert_int_equal(c.n[TDM_CHECKIN_FINE], 0);
    tdm_checkin_destroy(ck);
}

static void bad_and_expired_tokens(void **state)
{
    (void)state;
    struct tdm_checkin *ck = tdm_checkin_create(4, 4);
    issue(ck, "room-one", 3, 0);
    char wrong[sizeof tok];
    memcpy(wrong, tok, sizeof tok);
    wrong[5] = wrong[5] == 'A' ? 'B' : 'A';
    assert_int_equal(tdm_checkin_answer(ck, wrong, strlen(wrong), TDM_CHECKIN_FINE, S),
                     TDM_ENOTFOUND);
    assert_int_equal(tdm_checkin_answer(ck, tok, 5, TDM_CHECKIN_FINE, S), TDM_EINVAL);
    assert_int_equal(tdm_checkin_answer(ck, NULL, 0, TDM_CHECKIN_FINE, S), TDM_EINVAL);
    assert_int_equal(tdm_checkin_answer(ck, tok, strlen(tok), (enum tdm_checkin_answer)7, S),
                     TDM_EINVAL);
    assert_int_equal(
        tdm_checkin_answer(ck, tok, strlen(tok), TDM_CHECKIN_FINE, TDM_CHECKIN_TOKEN_TTL_US),
        TDM_ENOTFOUND);
    uint8_t r[16] = {0};
    assert_int_equal(tdm_checkin_issue(ck, "x", r, 0, tok, sizeof tok), TDM_EINVAL);
    assert_int_equal(tdm_checkin_issue(ck, "room/../x", r, 0, tok, sizeof tok), TDM_EINVAL);
    assert_int_equal(tdm_checkin_issue(ck, "room-one", r, 0, tok, 5), TDM_EINVAL);
    enum tdm_checkin_answer a;
    assert_int_equal(tdm_checkin_parse_answer("some", &a), 0);
    assert_int_equal(a, TDM_CHECKIN_SOME);
    assert_int_equal(tdm_checkin_parse_answer("Fine", &a), TDM_EINVAL);
    assert_int_equal(tdm_checkin_parse_answer(NULL, &a), TDM_EINVAL);
    tdm_checkin_destroy(ck);
}

/* Full tables: the oldest token and the oldest room make way, nothing grows. */
static void bounded(void **state)
{
    (void)state;
    struct tdm_checkin *ck = tdm_checkin_create(2, 2);
    char first[sizeof tok];
    issue(ck, "room-one", 1, 1 * S);
    memcpy(first, tok, sizeof tok);
    issue(ck, "room-two", 2, 2 * S);
    issue(ck, "room-six", 3, 3 * S); /* takes the first one's place */
    assert_int_equal(tdm_checkin_answer(ck, first, strlen(first), TDM_CHECKIN_FINE, 4 * S),
                     TDM_ENOTFOUND);
    assert_int_equal(tdm_checkin_answer(ck, tok, strlen(tok), TDM_CHECKIN_SOME, 4 * S), 0);
    const char *rooms[] = {"room-aaa", "room-bbb", "room-ccc"};
    for (int i = 0; i < 3; i++) {
        issue(ck, rooms[i], (uint8_t)(10 + i), (5 + i) * S);
        assert_int_equal(tdm_checkin_answer(ck, tok, strlen(tok), TDM_CHECKIN_FINE, (5 + i) * S),
                         0);
    }
    struct tdm_checkin_counts c;
    tdm_checkin_counts(ck, "room-six", 9 * S, &c); /* the oldest room went */
    assert_int_equal(c.n[TDM_CHECKIN_SOME], 0);
    tdm_checkin_counts(ck, "room-ccc", 9 * S, &c);
    assert_int_equal(c.n[TDM_CHECKIN_FINE], 1);
    assert_null(tdm_checkin_create(0, 1));
    tdm_checkin_destroy(ck);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(counts_per_room_once_per_token),
        cmocka_unit_test(bad_and_expired_tokens),
        cmocka_unit_test(bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
