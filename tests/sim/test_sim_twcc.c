/* The downlink estimate per subscriber (server/sfu/downlink.c) in the network simulator:
 * simulated pages answer transport-cc and send feedback every 100 ms as a browser does,
 * over their own downlinks; the server's estimate for each is read from
 * tdm_sfu_part_stats. Nothing here chooses layers yet (the allocation does that): the
 * server still sends every subscriber all it has, so a capped link is overrun, and the
 * estimate must say what the link carries anyway. The test plays the allocation's part in
 * one respect: it says what the capped subscriber would want (its full layers), so that the
 * server probes for it. Each scenario prints its figures. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "sfu_internal.h"
#include "sim.h"

#define S 1000000LL
#define STEP (S / 10)

static const struct sim_link lan = {.delay_us = 10000, .jitter_us = 2000};

static struct sim_peer *add(struct sim *s, const char *name, bool video)
{
    struct sim_peer *p = sim_peer_add(s, "r", name);
    assert_non_null(p);
    sim_peer_set_links(p, &lan, &lan);
    sim_peer_publish(p, true, video, 800000);
    return p;
}

/* What the allocation would want to send `name` (its full layers): probes go up to it. */
static void want(struct sim *s, const char *name, uint64_t bps)
{
    struct room *r = roster_room(sim_sfu(s), "r", false);
    struct part *p = r ? roster_find(r, name) : NULL;
    assert_true(p && p->sub && p->sub->dl);
    p->sub->dl->want_bps = bps;
}

static uint64_t estimate(struct sim *s, const char *name)
{
    struct tdm_sfu_part_stats ps;
    assert_int_equal(tdm_sfu_part_stats(sim_sfu(s), "r", name, &ps), 0);
    if (getenv("SIM_TRACE"))
        printf("%.1f %s est %llu acked %llu\n", (double)sim_now(s) / S, name,
               (unsigned long long)ps.est_bps / 1000, (unsigned long long)ps.acked_bps / 1000);
    return ps.est_bps;
}

/* Run in steps until the estimate of `name` is within [lo, hi]; the seconds it took, or -1
 * when it did not happen before `limit`. */
static double until(struct sim *s, const char *name, uint64_t lo, uint64_t hi, int64_t limit)
{
    int64_t t0 = sim_now(s);
    while (sim_now(s) < t0 + limit) {
        assert_int_equal(sim_run_until(s, sim_now(s) + STEP), 0);
        uint64_t e = estimate(s, name);
        if (e >= lo && e <= hi)
            return (double)(sim_now(s) - t0) / S;
    }
    return -1;
}

/* The range of the estimate over the next `span`. */
static void range(struct sim *s, const char *name, int64_t span, uint64_t *lo, uint64_t *hi)
{
    *lo = UINT64_MAX;
    *hi = 0;
    for (int64_t end = sim_now(s) + span; sim_now(s) < end;) {
        assert_int_equal(sim_run_until(s, sim_now(s) + STEP), 0);
        uint64_t e = estimate(s, name);
        *lo = e < *lo ? e : *lo;
        *hi = e > *hi ? e : *hi;
    }
}

static struct sim_link capped(uint64_t bps)
{
    struct sim_link l = lan;
    l.rate_bps = bps;
    l.queue_us = 300000;
    return l;
}

/* One publisher of video (up to 800 kbit/s), a subscriber behind a capped downlink and one
 * without: the capped one's estimate comes down to what its link carries within 5 s, the
 * other's stays high; then the cap is lifted and the estimate climbs back over 900 kbit/s
 * within 10 s, by probing (the publisher was held down by the REMB loss cap meanwhile, so
 * the media alone would not show the link is free again). */
static void cap_then_lift(uint64_t cap, uint64_t lo, uint64_t hi, uint64_t seed)
{
    struct sim *s = sim_create(seed);
    assert_non_null(s);
    add(s, "amina", true);
    struct sim_peer *weak = add(s, "jan", false);
    struct sim_peer *fine = add(s, "odile", false);
    assert_int_equal(sim_run_until(s, 8 * S), 0);
    assert_true(sim_peer_connected(weak) && sim_peer_connected(fine));
    uint64_t before = estimate(s, "jan");
    want(s, "jan", 1200000);
    struct sim_link c = capped(cap);
    sim_peer_set_links(weak, NULL, &c);
    double adapt = until(s, "jan", lo, hi, 5 * S);
    uint64_t wlo, whi;
    range(s, "jan", 5 * S, &wlo, &whi);
    uint64_t other = estimate(s, "odile");
    sim_peer_set_links(weak, NULL, &lan);
    double back = until(s, "jan", 900000, UINT64_MAX, 10 * S);
    uint64_t after = estimate(s, "jan"), other_after = estimate(s, "odile");
    struct sim_stats st;
    sim_peer_stats(weak, &st);
    struct tdm_sfu_stats ss;
    tdm_sfu_get_stats(sim_sfu(s), &ss);
    printf("  downlink capped at %llu kbit/s: estimate %llu before; in [%llu, %llu] after %.1f "
           "s, then %llu..%llu for 5 s (uncapped subscriber: %llu); cap lifted: %llu after "
           "%.1f s (uncapped: %llu); %llu feedbacks, %llu probe packets\n",
           (unsigned long long)cap / 1000, (unsigned long long)before / 1000,
           (unsigned long long)lo / 1000, (unsigned long long)hi / 1000, adapt,
           (unsigned long long)wlo / 1000, (unsigned long long)whi / 1000,
           (unsigned long long)other / 1000, (unsigned long long)after / 1000, back,
           (unsigned long long)other_after / 1000, (unsigned long long)st.twcc_feedbacks,
           (unsigned long long)ss.probes_sent);
    assert_true(st.twcc_feedbacks > 100);
    assert_true(before > 2 * hi);
    assert_true(adapt >= 0 && adapt <= 5.0);
    assert_true(wlo >= lo / 2 && whi <= hi * 5 / 4);
    assert_true(other > 2 * hi);
    assert_true(back >= 0 && back <= 10.0);
    assert_int_equal(ss.twcc_bad, 0);
    sim_destroy(s);
}

static void cap_300k(void **state)
{
    (void)state;
    cap_then_lift(300000, 200000, 330000, 21);
}

static void cap_80k(void **state)
{
    (void)state;
    cap_then_lift(80000, 30000, 100000, 22);
}

/* 5 % random loss on a downlink without a cap: the estimate holds. */
static void random_loss(void **state)
{
    (void)state;
    struct sim *s = sim_create(23);
    add(s, "amina", true);
    struct sim_peer *b = add(s, "jan", false);
    add(s, "odile", false);
    assert_int_equal(sim_run_until(s, 8 * S), 0);
    uint64_t clean = estimate(s, "jan");
    struct sim_link lossy = lan;
    lossy.loss = 0.05;
    sim_peer_set_links(b, NULL, &lossy);
    uint64_t lo, hi;
    range(s, "jan", 15 * S, &lo, &hi);
    uint64_t other = estimate(s, "odile");
    printf("  5 %% loss, no cap: estimate %llu kbit/s before, %llu..%llu over 15 s (no loss: "
           "%llu)\n",
           (unsigned long long)clean / 1000, (unsigned long long)lo / 1000,
           (unsigned long long)hi / 1000, (unsigned long long)other / 1000);
    assert_true(clean > 600000);
    assert_true(lo > clean / 2);
    sim_destroy(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cap_300k),
        cmocka_unit_test(cap_80k),
        cmocka_unit_test(random_loss),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
