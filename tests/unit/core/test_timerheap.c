/* The deadline heap (server/core/timerheap.c): the earliest first through any mix of
 * additions, moves either way and removals, checked against a plain scan; bounded by what
 * was reserved. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "tandem/err.h"
#include "tandem/timerheap.h"

#define N 257

static uint64_t rng = 88172645463325252ull;

static uint32_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)rng;
}

/* Every parent is no later than its children, and each timer knows its slot. */
static void check_shape(const struct tdm_timerheap *h)
{
    for (uint32_t i = 0; i < h->n; i++) {
        assert_int_equal(h->v[i]->pos, i + 1);
        if (i > 0)
            assert_true(h->v[(i - 1) / 2]->at <= h->v[i]->at);
    }
}

static int64_t earliest_of(const struct tdm_timer *ts, const bool *in, size_t n)
{
    int64_t best = INT64_MAX;
    for (size_t i = 0; i < n; i++)
        if (in[i] && ts[i].at < best)
            best = ts[i].at;
    return best;
}

static void empty_and_bounded(void **state)
{
    (void)state;
    struct tdm_timerheap h;
    struct tdm_timer a = {0}, b = {0}, c = {0};
    tdm_timerheap_init(&h);
    assert_null(tdm_timerheap_top(&h));
    assert_int_equal(tdm_timerheap_next(&h), INT64_MAX);
    assert_null(tdm_timerheap_pop_due(&h, INT64_MAX));
    assert_int_equal(tdm_timerheap_add(&h, &a, 5), TDM_EFULL); /* nothing reserved */
    assert_false(tdm_timer_queued(&a));
    assert_int_equal(tdm_timerheap_reserve(&h, 2), 0);
    assert_int_equal(tdm_timerheap_add(&h, &a, 5), 0);
    assert_int_equal(tdm_timerheap_add(&h, &a, 5), TDM_EEXIST);
    assert_int_equal(tdm_timerheap_set(&h, &b, 3), 0); /* set adds one in no heap */
    assert_int_equal(tdm_timerheap_add(&h, &c, 1), TDM_EFULL);
    assert_int_equal(tdm_timerheap_next(&h), 3);
    assert_ptr_equal(tdm_timerheap_top(&h), &b);
    assert_null(tdm_timerheap_pop_due(&h, 2)); /* not due yet */
    assert_ptr_equal(tdm_timerheap_pop_due(&h, 3), &b);
    assert_false(tdm_timer_queued(&b));
    tdm_timerheap_remove(&h, &b); /* in no heap: nothing */
    assert_int_equal(h.n, 1);
    tdm_timerheap_free(&h);
    assert_false(tdm_timer_queued(&a));
}

/* A deadline moved later sinks below the others, one moved earlier rises above them. */
static void moves_both_ways(void **state)
{
    (void)state;
    struct tdm_timerheap h;
    struct tdm_timer t[8];
    memset(t, 0, sizeof t);
    tdm_timerheap_init(&h);
    assert_int_equal(tdm_timerheap_reserve(&h, 8), 0);
    for (int i = 0; i < 8; i++)
        assert_int_equal(tdm_timerheap_add(&h, &t[i], 100 + 10 * i), 0);
    assert_ptr_equal(tdm_timerheap_top(&h), &t[0]);
    tdm_timerheap_set(&h, &t[0], 1000);
    check_shape(&h);
    assert_ptr_equal(tdm_timerheap_top(&h), &t[1]);
    tdm_timerheap_set(&h, &t[7], 50);
    check_shape(&h);
    assert_ptr_equal(tdm_timerheap_top(&h), &t[7]);
    tdm_timerheap_remove(&h, &t[7]);
    check_shape(&h);
    assert_int_equal(tdm_timerheap_next(&h), 110);
    int64_t last = INT64_MIN;
    struct tdm_timer *x;
    int n = 0;
    while ((x = tdm_timerheap_pop_due(&h, INT64_MAX))) {
        assert_true(x->at >= last);
        last = x->at;
        n++;
    }
    assert_int_equal(n, 7);
    assert_int_equal(last, 1000);
    tdm_timerheap_free(&h);
}

/* Thousands of random operations: the top is always the earliest of those queued. */
static void random_against_scan(void **state)
{
    (void)state;
    struct tdm_timerheap h;
    static struct tdm_timer t[N];
    static bool in[N];
    memset(t, 0, sizeof t);
    memset(in, 0, sizeof in);
    tdm_timerheap_init(&h);
    assert_int_equal(tdm_timerheap_reserve(&h, N), 0);
    for (int step = 0; step < 20000; step++) {
        size_t i = next_rand() % N;
        int64_t at = (int64_t)(next_rand() % 5000);
        switch (next_rand() % 4) {
        case 0:
        case 1:
            assert_int_equal(tdm_timerheap_set(&h, &t[i], at), 0);
            in[i] = true;
            break;
        case 2:
            tdm_timerheap_remove(&h, &t[i]);
            in[i] = false;
            break;
        default: {
            struct tdm_timer *x = tdm_timerheap_pop_due(&h, at);
            int64_t best = earliest_of(t, in, N);
            if (best <= at) {
                assert_non_null(x);
                assert_int_equal(x->at, best);
                in[x - t] = false;
            } else {
                assert_null(x);
            }
        }
        }
        assert_true(tdm_timer_queued(&t[i]) == in[i]);
        assert_int_equal(tdm_timerheap_next(&h), earliest_of(t, in, N));
        if (step % 97 == 0)
            check_shape(&h);
    }
    tdm_timerheap_free(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(empty_and_bounded),
        cmocka_unit_test(moves_both_ways),
        cmocka_unit_test(random_against_scan),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
