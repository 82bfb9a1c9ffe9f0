#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "tandem/err.h"
#include "tandem/keycount.h"

static void limits(void **state)
{
    (void)state;
    struct tdm_keycount *k = tdm_keycount_create(2);
    assert_int_equal(tdm_keycount_inc(k, 7, 2), 1);
    assert_int_equal(tdm_keycount_inc(k, 7, 2), 2);
    assert_int_equal(tdm_keycount_inc(k, 7, 2), TDM_EFULL);
    assert_int_equal(tdm_keycount_inc(k, 8, 2), 1);
    assert_int_equal(tdm_keycount_inc(k, 9, 2), TDM_ELIMIT);
    tdm_keycount_dec(k, 8);
    assert_int_equal(tdm_keycount_get(k, 8), 0);
    assert_int_equal(tdm_keycount_inc(k, 9, 2), 1);
    tdm_keycount_dec(k, 12345); /* unknown: no effect */
    assert_int_equal(tdm_keycount_size(k), 2);
    tdm_keycount_destroy(k);
}

/* Against a plain array model, with keys chosen to collide, through many deletions. */
static void matches_model(void **state)
{
    (void)state;
    enum { KEYS = 64, STEPS = 20000 };
    struct tdm_keycount *k = tdm_keycount_create(KEYS);
    uint32_t model[KEYS] = {0};
    uint64_t x = 88172645463325252ULL;
    for (int s = 0; s < STEPS; s++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        size_t i = x % KEYS;
        uint64_t key = (uint64_t)i << 40; /* same low bits: worst case for probing */
        if (x & 1) {
            int r = tdm_keycount_inc(k, key, 5);
            if (model[i] < 5) {
                assert_int_equal(r, (int)++model[i]);
            } else {
                assert_int_equal(r, TDM_EFULL);
            }
        } else {
            tdm_keycount_dec(k, key);
            if (model[i])
                model[i]--;
        }
        if (s % 97 == 0)
            for (size_t j = 0; j < KEYS; j++)
                assert_int_equal(tdm_keycount_get(k, (uint64_t)j << 40), model[j]);
    }
    tdm_keycount_destroy(k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(limits),
        cmocka_unit_test(matches_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
