#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "tandem/err.h"
#include "tandem/subslots.h"

static void first_offer_and_answer(void **state)
{
    (void)state;
    struct tdm_subslots s;
    tdm_subslots_init(&s);
    assert_false(tdm_subslots_want_offer(&s));
    assert_int_equal(tdm_subslots_add(&s, 11, TDM_SDP_AUDIO), 0);
    assert_int_equal(tdm_subslots_add(&s, 12, TDM_SDP_VIDEO), 1);
    assert_int_equal(tdm_subslots_add(&s, 12, TDM_SDP_VIDEO), TDM_EEXIST);
    assert_int_equal(tdm_subslots_add(&s, 0, TDM_SDP_VIDEO), TDM_EINVAL);
    assert_int_equal(tdm_subslots_add(&s, 13, TDM_SDP_APPLICATION), TDM_EINVAL);
    assert_true(tdm_subslots_want_offer(&s));
    assert_true(tdm_subslots_in_offer(&s, 0));
    assert_false(tdm_subslots_live(&s, 0));
    assert_int_equal(tdm_subslots_offer(&s), 1);
    assert_false(tdm_subslots_want_offer(&s));
    assert_int_equal(tdm_subslots_offer(&s), TDM_EAGAIN);
    assert_false(tdm_subslots_live(&s, 1)); /* not before the answer */
    assert_int_equal(tdm_subslots_answered(&s, 0), TDM_ESTATE);
    assert_int_equal(tdm_subslots_answered(&s, 2), TDM_ESTATE);
    assert_int_equal(tdm_subslots_answered(&s, 1), 0);
    assert_int_equal(tdm_subslots_answered(&s, 1), TDM_ESTATE); /* a repeat is stale */
    assert_true(tdm_subslots_live(&s, 0));
    assert_true(tdm_subslots_live(&s, 1));
    assert_int_equal(tdm_subslots_find(&s, 12), 1);
    assert_int_equal(tdm_subslots_find(&s, 99), TDM_ENOTFOUND);
}

/* Alice's two tracks leave; Bob's arrive while the inactive offer is still unanswered: they
 * must not take the slots yet (the browser has not seen them go inactive). */
static void recycles_only_after_inactive_answer(void **state)
{
    (void)state;
    struct tdm_subslots s;
    tdm_subslots_init(&s);
    tdm_subslots_add(&s, 1, TDM_SDP_AUDIO);
    tdm_subslots_add(&s, 2, TDM_SDP_VIDEO);
    int64_t rev = tdm_subslots_offer(&s);
    assert_int_equal(tdm_subslots_answered(&s, rev), 0);
    assert_int_equal(tdm_subslots_remove(&s, 1), 0);
    assert_int_equal(tdm_subslots_remove(&s, 2), 1);
    assert_int_equal(tdm_subslots_remove(&s, 2), TDM_ENOTFOUND);
    assert_false(tdm_subslots_live(&s, 0));
    assert_true(tdm_subslots_in_offer(&s, 0)); /* written inactive */
    rev = tdm_subslots_offer(&s);
    assert_int_equal(tdm_subslots_add(&s, 3, TDM_SDP_AUDIO), 2); /* not slot 0 yet */
    assert_int_equal(tdm_subslots_answered(&s, rev), 0);
    assert_true(tdm_subslots_want_offer(&s));
    assert_int_equal(tdm_subslots_add(&s, 4, TDM_SDP_VIDEO), 1); /* now the video slot */
    assert_int_equal(tdm_subslots_add(&s, 5, TDM_SDP_AUDIO), 0);
    assert_int_equal(tdm_subslots_add(&s, 6, TDM_SDP_VIDEO), 3);
    assert_int_equal(s.n, 4);
    rev = tdm_subslots_offer(&s);
    assert_int_equal(tdm_subslots_answered(&s, rev), 0);
    for (size_t i = 0; i < 4; i++)
        assert_true(tdm_subslots_live(&s, i));
}

/* Come and go many times: the number of m-sections stays at the most present at once. */
static void stays_bounded_under_churn(void **state)
{
    (void)state;
    struct tdm_subslots s;
    tdm_subslots_init(&s);
    uint64_t key = 1;
    for (int round = 0; round < 1000; round++) {
        uint64_t a = key++, v = key++;
        assert_true(tdm_subslots_add(&s, a, TDM_SDP_AUDIO) >= 0);
        assert_true(tdm_subslots_add(&s, v, TDM_SDP_VIDEO) >= 0);
        int64_t rev = tdm_subslots_offer(&s);
        assert_true(rev > 0);
        assert_int_equal(tdm_subslots_answered(&s, rev), 0);
        tdm_subslots_remove(&s, a);
        tdm_subslots_remove(&s, v);
        rev = tdm_subslots_offer(&s);
        assert_int_equal(tdm_subslots_answered(&s, rev), 0);
    }
    assert_int_equal(s.n, 2);
}

static void never_offered_slot_is_free_at_once(void **state)
{
    (void)state;
    struct tdm_subslots s;
    tdm_subslots_init(&s);
    assert_int_equal(tdm_subslots_add(&s, 1, TDM_SDP_AUDIO), 0);
    assert_int_equal(tdm_subslots_remove(&s, 1), 0);
    assert_false(tdm_subslots_in_offer(&s, 0));
    /* any kind may take it: the browser never saw it */
    assert_int_equal(tdm_subslots_add(&s, 2, TDM_SDP_VIDEO), 0);
    assert_int_equal(s.s[0].kind, TDM_SDP_VIDEO);
}

static void rejected_slot_is_dead(void **state)
{
    (void)state;
    struct tdm_subslots s;
    tdm_subslots_init(&s);
    tdm_subslots_add(&s, 1, TDM_SDP_VIDEO);
    int64_t rev = tdm_subslots_offer(&s);
    assert_int_equal(tdm_subslots_answered(&s, rev), 0);
    assert_int_equal(tdm_subslots_reject(&s, 0), 1);
    assert_int_equal(tdm_subslots_reject(&s, 5), 0);
    assert_false(tdm_subslots_in_offer(&s, 0));
    assert_false(tdm_subslots_live(&s, 0));
    assert_int_equal(tdm_subslots_add(&s, 2, TDM_SDP_VIDEO), 1); /* a new mid */
}

static void abandon_allows_a_new_offer(void **state)
{
    (void)state;
    struct tdm_subslots s;
    tdm_subslots_init(&s);
    tdm_subslots_add(&s, 1, TDM_SDP_AUDIO);
    int64_t rev = tdm_subslots_offer(&s);
    tdm_subslots_abandon(&s);
    assert_true(tdm_subslots_want_offer(&s));
    assert_int_equal(tdm_subslots_answered(&s, rev), TDM_ESTATE);
    int64_t rev2 = tdm_subslots_offer(&s);
    assert_true(rev2 > rev);
    assert_int_equal(tdm_subslots_answered(&s, rev2), 0);
    assert_true(tdm_subslots_live(&s, 0));
}

static void full_when_all_slots_busy(void **state)
{
    (void)state;
    struct tdm_subslots s;
    tdm_subslots_init(&s);
    for (uint64_t k = 1; k <= TDM_SUBSLOTS_MAX; k++)
        assert_int_equal(tdm_subslots_add(&s, k, TDM_SDP_AUDIO), (int)(k - 1));
    assert_int_equal(tdm_subslots_add(&s, 1000, TDM_SDP_AUDIO), TDM_EFULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(first_offer_and_answer),
        cmocka_unit_test(recycles_only_after_inactive_answer),
        cmocka_unit_test(stays_bounded_under_churn),
        cmocka_unit_test(never_offered_slot_is_free_at_once),
        cmocka_unit_test(rejected_slot_is_dead),
        cmocka_unit_test(abandon_allows_a_new_offer),
        cmocka_unit_test(full_when_all_slots_busy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
