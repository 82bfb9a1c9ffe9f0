#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "tandem/err.h"
#include "tandem/nack.h"

#define MS 1000

static struct tdm_nack_rx *make(size_t max_missing, unsigned retries)
{
    struct tdm_nack_rx_cfg c;
    tdm_nack_rx_cfg_default(&c);
    if (max_missing)
        c.max_missing = max_missing;
    if (retries)
        c.max_retries = retries;
    struct tdm_nack_rx *rx = tdm_nack_rx_create(&c);
    assert_non_null(rx);
    return rx;
}

static void in_order_needs_nothing(void **state)
{
    (void)state;
    struct tdm_nack_rx *rx = tdm_nack_rx_create(NULL);
    assert_non_null(rx);
    uint16_t out[16];
    for (uint16_t s = 65000; s != 100; s++)
        assert_int_equal(tdm_nack_rx_on_packet(rx, s, 0), 0);
    assert_int_equal(tdm_nack_rx_missing(rx), 0);
    assert_int_equal(tdm_nack_rx_collect(rx, 10 * MS, out, 16), 0);
    assert_true(tdm_nack_rx_next_deadline(rx) == INT64_MAX);
    assert_false(tdm_nack_rx_take_keyframe(rx));
    tdm_nack_rx_destroy(rx);
    tdm_nack_rx_destroy(NULL);
}

static void gap_is_nacked_after_wait_and_retried(void **state)
{
    (void)state;
    struct tdm_nack_rx *rx = make(0, 0);
    uint16_t out[16];
    assert_int_equal(tdm_nack_rx_on_packet(rx, 100, 0), 0);
    assert_int_equal(tdm_nack_rx_on_packet(rx, 103, 1 * MS), 0);
    assert_int_equal(tdm_nack_rx_missing(rx), 2);
    assert_true(tdm_nack_rx_next_deadline(rx) == 6 * MS); /* 5 ms reordering allowance */
    assert_int_equal(tdm_nack_rx_collect(rx, 5 * MS, out, 16), 0);
    assert_int_equal(tdm_nack_rx_collect(rx, 6 * MS, out, 16), 2);
    assert_int_equal(out[0], 101);
    assert_int_equal(out[1], 102);
    assert_int_equal(tdm_nack_rx_collect(rx, 7 * MS, out, 16), 0);
    assert_true(tdm_nack_rx_next_deadline(rx) == 106 * MS); /* no RTT yet: 100 ms */
    assert_int_equal(tdm_nack_rx_collect(rx, 106 * MS, out, 16), 2);
    tdm_nack_rx_set_rtt(rx, 20 * MS);
    assert_int_equal(tdm_nack_rx_collect(rx, 125 * MS, out, 16), 0);
    assert_int_equal(tdm_nack_rx_collect(rx, 126 * MS, out, 16), 2);
    /* 101 arrives (a retransmission): it is recovered once, then a plain duplicate. */
    assert_int_equal(tdm_nack_rx_on_packet(rx, 101, 130 * MS), TDM_NACK_RX_RECOVERED);
    assert_int_equal(tdm_nack_rx_on_packet(rx, 101, 130 * MS), 0);
    assert_int_equal(tdm_nack_rx_on_packet(rx, 103, 130 * MS), 0);
    assert_int_equal(tdm_nack_rx_missing(rx), 1);
    assert_int_equal(tdm_nack_rx_collect(rx, 146 * MS, out, 16), 1);
    assert_int_equal(out[0], 102);
    assert_false(tdm_nack_rx_take_keyframe(rx));
    tdm_nack_rx_destroy(rx);
}

static void gap_across_wrap(void **state)
{
    (void)state;
    struct tdm_nack_rx *rx = make(0, 0);
    uint16_t out[16];
    tdm_nack_rx_on_packet(rx, 65533, 0);
    tdm_nack_rx_on_packet(rx, 1, 0);
    assert_int_equal(tdm_nack_rx_collect(rx, 10 * MS, out, 16), 3);
    assert_int_equal(out[0], 65534);
    assert_int_equal(out[1], 65535);
    assert_int_equal(out[2], 0);
    assert_int_equal(tdm_nack_rx_on_packet(rx, 65535, 11 * MS), TDM_NACK_RX_RECOVERED);
    assert_int_equal(tdm_nack_rx_on_packet(rx, 0, 11 * MS), TDM_NACK_RX_RECOVERED);
    assert_int_equal(tdm_nack_rx_missing(rx), 1);
    tdm_nack_rx_destroy(rx);
}

static void retry_limit_then_keyframe(void **state)
{
    (void)state;
    struct tdm_nack_rx *rx = make(0, 3);
    uint16_t out[16];
    tdm_nack_rx_on_packet(rx, 1, 0);
    tdm_nack_rx_on_packet(rx, 3, 0);
    int64_t t = 5 * MS;
    for (int i = 0; i < 3; i++, t += 100 * MS) {
        assert_int_equal(tdm_nack_rx_collect(rx, t, out, 16), 1);
        assert_int_equal(out[0], 2);
        assert_false(tdm_nack_rx_take_keyframe(rx));
    }
    /* The last NACK gets one interval to be answered before the number is given up. */
    assert_int_equal(tdm_nack_rx_collect(rx, t - 1, out, 16), 0);
    assert_int_equal(tdm_nack_rx_missing(rx), 1);
    assert_int_equal(tdm_nack_rx_collect(rx, t, out, 16), 0);
    assert_int_equal(tdm_nack_rx_missing(rx), 0);
    assert_true(tdm_nack_rx_keyframe_wanted(rx)); /* a look leaves it */
    assert_true(tdm_nack_rx_keyframe_wanted(rx));
    assert_true(tdm_nack_rx_take_keyframe(rx));
    assert_false(tdm_nack_rx_keyframe_wanted(rx));
    assert_false(tdm_nack_rx_take_keyframe(rx));
    assert_true(tdm_nack_rx_next_deadline(rx) == INT64_MAX);
    tdm_nack_rx_destroy(rx);
}

static void max_age_then_keyframe(void **state)
{
    (void)state;
    struct tdm_nack_rx_cfg c;
    tdm_nack_rx_cfg_default(&c);
    c.retry_interval_us = 400 * MS;
    c.max_retries = 100;
    struct tdm_nack_rx *rx = tdm_nack_rx_create(&c);
    assert_non_null(rx);
    uint16_t out[16];
    tdm_nack_rx_on_packet(rx, 10, 0);
    tdm_nack_rx_on_packet(rx, 12, 0);
    assert_int_equal(tdm_nack_rx_collect(rx, 5 * MS, out, 16), 1);
    assert_int_equal(tdm_nack_rx_collect(rx, 405 * MS, out, 16), 1);
    assert_int_equal(tdm_nack_rx_collect(rx, 805 * MS, out, 16), 1);
    /* Next retry would be at 1205 ms, but the entry expires just after 1 s. */
    assert_true(tdm_nack_rx_next_deadline(rx) == 1000 * MS + 1);
    assert_int_equal(tdm_nack_rx_collect(rx, 1000 * MS + 1, out, 16), 0);
    assert_true(tdm_nack_rx_take_keyframe(rx));
    tdm_nack_rx_destroy(rx);
}

static void large_gap_resets(void **state)
{
    (void)state;
    struct tdm_nack_rx *rx = make(0, 0);
    uint16_t out[16];
    tdm_nack_rx_on_packet(rx, 1, 0);
    tdm_nack_rx_on_packet(rx, 3, 0);
    assert_int_equal(tdm_nack_rx_on_packet(rx, 3 + 514, 0), TDM_NACK_RX_KEYFRAME);
    assert_int_equal(tdm_nack_rx_missing(rx), 0);
    assert_true(tdm_nack_rx_take_keyframe(rx));
    /* A gap of exactly max_gap (512) is still tracked. */
    assert_int_equal(tdm_nack_rx_on_packet(rx, 517 + 513, 0), 0);
    assert_int_equal(tdm_nack_rx_missing(rx), 512);
    assert_int_equal(tdm_nack_rx_collect(rx, 5 * MS, out, 16), 16);
    assert_int_equal(out[0], 518);
    assert_int_equal(out[15], 533);
    tdm_nack_rx_destroy(rx);
}

static void overflow_drops_oldest(void **state)
{
    (void)state;
    struct tdm_nack_rx *rx = make(8, 0);
    uint16_t out[16];
    tdm_nack_rx_on_packet(rx, 0, 0);
    assert_int_equal(tdm_nack_rx_on_packet(rx, 6, 0), 0); /* 1..5 */
    assert_int_equal(tdm_nack_rx_on_packet(rx, 3, 0), TDM_NACK_RX_RECOVERED);
    /* 7..11 join 1..5 (3 a tombstone): 1 and 2 are pushed out. */
    assert_int_equal(tdm_nack_rx_on_packet(rx, 12, 0), TDM_NACK_RX_KEYFRAME);
    assert_int_equal(tdm_nack_rx_missing(rx), 7);
    assert_true(tdm_nack_rx_take_keyframe(rx));
    assert_int_equal(tdm_nack_rx_collect(rx, 5 * MS, out, 16), 7);
    assert_int_equal(out[0], 4);
    assert_int_equal(out[1], 5);
    assert_int_equal(out[2], 7);
    assert_int_equal(out[6], 11);
    /* A gap wider than the whole list keeps only the newest numbers. */
    assert_int_equal(tdm_nack_rx_on_packet(rx, 30, 6 * MS), TDM_NACK_RX_KEYFRAME);
    assert_int_equal(tdm_nack_rx_collect(rx, 20 * MS, out, 16), 8);
    assert_int_equal(out[0], 22);
    assert_int_equal(out[7], 29);
    assert_int_equal(tdm_nack_rx_missing(rx), 8);
    tdm_nack_rx_destroy(rx);
}

static void keyframe_forgets_older(void **state)
{
    (void)state;
    struct tdm_nack_rx *rx = make(0, 0);
    uint16_t out[16];
    tdm_nack_rx_on_packet(rx, 65530, 0);
    tdm_nack_rx_on_packet(rx, 65533, 0);
    tdm_nack_rx_on_packet(rx, 2, 0); /* missing 65531, 65532, 65534, 65535, 0, 1 */
    assert_int_equal(tdm_nack_rx_missing(rx), 6);
    tdm_nack_rx_on_keyframe(rx, 0);
    assert_int_equal(tdm_nack_rx_missing(rx), 2);
    assert_int_equal(tdm_nack_rx_collect(rx, 5 * MS, out, 16), 2);
    assert_int_equal(out[0], 0);
    assert_int_equal(out[1], 1);
    tdm_nack_rx_destroy(rx);
}

static void collect_respects_max(void **state)
{
    (void)state;
    struct tdm_nack_rx *rx = make(0, 0);
    uint16_t out[4];
    tdm_nack_rx_on_packet(rx, 0, 0);
    tdm_nack_rx_on_packet(rx, 11, 0);
    assert_int_equal(tdm_nack_rx_collect(rx, 5 * MS, out, 4), 4);
    assert_int_equal(out[3], 4);
    assert_int_equal(tdm_nack_rx_collect(rx, 5 * MS, out, 4), 4);
    assert_int_equal(out[0], 5);
    assert_int_equal(tdm_nack_rx_collect(rx, 5 * MS, out, 4), 2);
    assert_int_equal(tdm_nack_rx_collect(rx, 5 * MS, out, 4), 0);
    tdm_nack_rx_destroy(rx);
}

/* A long stream over several wraps with every 10th packet lost and recovered 20 packets
 * later: every loss is NACKed once, the list stays small, nothing is given up. */
static void long_stream_over_wraps(void **state)
{
    (void)state;
    struct tdm_nack_rx *rx = make(0, 0);
    uint16_t out[64];
    size_t nacked = 0;
    int64_t now = 0;
    for (uint32_t i = 0; i < 200000; i++, now += 1000) {
        uint16_t s = (uint16_t)(i + 60000);
        if (i % 10 != 3)
            tdm_nack_rx_on_packet(rx, s, now);
        if (i >= 20 && (i - 20) % 10 == 3)
            assert_int_equal(tdm_nack_rx_on_packet(rx, (uint16_t)(s - 20), now),
                             TDM_NACK_RX_RECOVERED);
        size_t n = tdm_nack_rx_collect(rx, now, out, 64);
        /* The gap is seen when i + 1 arrives, NACKed 5 ms later. */
        bool due = i >= 6 && (i - 6) % 10 == 3;
        assert_int_equal(n, due ? 1 : 0);
        if (due)
            assert_int_equal(out[0], (uint16_t)(i - 6 + 60000));
        nacked += n;
        assert_true(tdm_nack_rx_missing(rx) <= 3);
    }
    assert_int_equal(nacked, 20000);
    assert_false(tdm_nack_rx_take_keyframe(rx));
    tdm_nack_rx_destroy(rx);
}

static void bad_config(void **state)
{
    (void)state;
    struct tdm_nack_rx_cfg c;
    tdm_nack_rx_cfg_default(&c);
    c.max_missing = 0;
    assert_null(tdm_nack_rx_create(&c));
    tdm_nack_rx_cfg_default(&c);
    c.max_retries = 0;
    assert_null(tdm_nack_rx_create(&c));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(in_order_needs_nothing),
        cmocka_unit_test(gap_is_nacked_after_wait_and_retried),
        cmocka_unit_test(gap_across_wrap),
        cmocka_unit_test(retry_limit_then_keyframe),
        cmocka_unit_test(max_age_then_keyframe),
        cmocka_unit_test(large_gap_resets),
        cmocka_unit_test(overflow_drops_oldest),
        cmocka_unit_test(keyframe_forgets_older),
        cmocka_unit_test(collect_respects_max),
        cmocka_unit_test(long_stream_over_wraps),
        cmocka_unit_test(bad_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
