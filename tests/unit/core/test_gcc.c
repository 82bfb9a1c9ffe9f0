/* The estimator against a modelled bottleneck: a sender that follows the estimate (and
 * sends the probes it asks for), a link with a rate, a drop-tail queue, delay and random
 * loss, and feedback every 100 ms as a browser sends it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tandem/gcc.h"

#define S 1000000LL
#define MAX_PKTS 200000

struct sent {
    int64_t send, recv;
    uint32_t size;
    bool got;
    uint16_t probe;
};

struct bench {
    struct tdm_gcc g;
    uint64_t cap_bps, want_bps;
    double loss;
    int64_t now, busy_until, prop_us, queue_us;
    double credit; /* media bytes the sender may send */
    struct sent *p;
    size_t n, fb_next;
    int64_t next_fb;
    uint16_t probe_id;
    uint64_t probe_bps;
    int probe_left;
    int64_t probe_next;
    uint32_t rng;
};

static double rnd(struct bench *b)
{
    b->rng = b->rng * 1103515245u + 12345u;
    return (double)((b->rng >> 8) & 0xffff) / 65536.0;
}

static void send_pkt(struct bench *b, uint32_t size, uint16_t probe)
{
    if (b->n == MAX_PKTS)
        return;
    struct sent *s = &b->p[b->n++];
    *s = (struct sent){.send = b->now, .size = size, .probe = probe};
    int64_t start = b->busy_until > b->now ? b->busy_until : b->now;
    if (start - b->now > b->queue_us || rnd(b) < b->loss)
        return; /* the queue is full, or lost on the way */
    b->busy_until = start + (int64_t)size * 8 * S / (int64_t)b->cap_bps;
    s->recv = b->busy_until + b->prop_us;
    s->got = true;
}

static void feedback(struct bench *b)
{
    struct tdm_gcc_pkt f[2048];
    size_t k = 0, i = b->fb_next, last_got = SIZE_MAX;
    for (size_t j = i; j < b->n && j < i + 2048; j++)
        if (b->p[j].got && b->p[j].recv <= b->now)
            last_got = j; /* what arrived so far; losses show once a later packet came */
    if (last_got == SIZE_MAX)
        return;
    for (; i <= last_got; i++)
        f[k++] = (struct tdm_gcc_pkt){b->p[i].send, b->p[i].recv, b->p[i].size,
                                      b->p[i].got && b->p[i].recv <= b->now, b->p[i].probe};
    b->fb_next = i;
    tdm_gcc_on_feedback(&b->g, f, k, b->now);
}

static void step(struct bench *b)
{
    uint64_t est = tdm_gcc_estimate(&b->g);
    uint64_t rate = est < b->want_bps ? est : b->want_bps;
    b->credit += (double)rate / 8 * 0.001;
    while (b->credit >= 1200) {
        send_pkt(b, 1200, 0);
        b->credit -= 1200;
    }
    if (!b->probe_left &&
        tdm_gcc_probe_start(&b->g, b->want_bps, b->now, &b->probe_id, &b->probe_bps)) {
        b->probe_left = 10;
        b->probe_next = b->now;
    }
    while (b->probe_left && b->probe_next <= b->now) {
        send_pkt(b, 300, b->probe_id);
        b->probe_next += 300 * 8 * S / (int64_t)b->probe_bps;
        if (--b->probe_left == 0)
            tdm_gcc_probe_sent(&b->g, b->probe_id, 10);
    }
    if (b->now >= b->next_fb) {
        feedback(b);
        b->next_fb = b->now + 100000;
    }
    if (getenv("GCC_TRACE") && b->now % 100000 == 0)
        printf("%.1f est %llu delay %.0f loss %.0f acked %llu usage %d thr %.1f q %lld\n",
               (double)b->now / S, (unsigned long long)est, b->g.delay_bps, b->g.loss_bps,
               (unsigned long long)b->g.acked_bps, b->g.usage, b->g.threshold,
               (long long)(b->busy_until - b->now));
    b->now += 1000;
}

static uint64_t run(struct bench *b, int64_t until)
{
    while (b->now < until)
        step(b);
    return tdm_gcc_estimate(&b->g);
}

static struct bench *bench_new(uint64_t cap, uint64_t want)
{
    struct bench *b = calloc(1, sizeof *b);
    b->p = calloc(MAX_PKTS, sizeof *b->p);
    b->cap_bps = cap;
    b->want_bps = want;
    b->prop_us = 20000;
    b->queue_us = 300000;
    b->rng = 7;
    b->now = 1000000;
    tdm_gcc_init(&b->g, 300000, 30000, 5000000, b->now);
    return b;
}

static void bench_free(struct bench *b)
{
    free(b->p);
    free(b);
}

/* Time until the estimate first satisfies lo <= est <= hi. */
static double time_until(struct bench *b, uint64_t lo, uint64_t hi, int64_t limit)
{
    int64_t t0 = b->now;
    while (b->now < t0 + limit) {
        step(b);
        uint64_t e = tdm_gcc_estimate(&b->g);
        if (e >= lo && e <= hi)
            return (double)(b->now - t0) / S;
    }
    return -1;
}

static void steady_link_converges(void **state)
{
    (void)state;
    struct bench *b = bench_new(1000000, 3000000);
    double t = time_until(b, 700000, 1200000, 10 * S);
    uint64_t lo = UINT64_MAX, hi = 0, sum = 0, n = 0;
    for (int64_t end = b->now + 20 * S; b->now < end;) {
        step(b);
        if (b->now % 100000 == 0) {
            uint64_t e = tdm_gcc_estimate(&b->g);
            lo = e < lo ? e : lo;
            hi = e > hi ? e : hi;
            sum += e;
            n++;
        }
    }
    printf("  1 Mbit/s link: near it after %.1f s; then %llu..%llu kbit/s, mean %llu\n", t,
           (unsigned long long)lo / 1000, (unsigned long long)hi / 1000,
           (unsigned long long)(sum / n / 1000));
    assert_true(t >= 0 && t < 8);
    assert_true(sum / n > 700000 && sum / n < 1100000);
    assert_true(lo > 500000 && hi < 1400000);
    bench_free(b);
}

static void drop_and_recover(void **state)
{
    (void)state;
    struct bench *b = bench_new(1500000, 3000000);
    run(b, b->now + 15 * S);
    uint64_t before = tdm_gcc_estimate(&b->g);
    b->cap_bps = 300000;
    double down = time_until(b, 0, 360000, 5 * S);
    run(b, b->now + 10 * S);
    uint64_t low = tdm_gcc_estimate(&b->g);
    b->cap_bps = 1500000;
    double up = time_until(b, 1000000, UINT64_MAX, 15 * S);
    printf("  1.5 Mbit/s link at %llu kbit/s; capped at 300: below 360 after %.2f s, %llu after "
           "10 s; lifted: over 1000 after %.1f s\n",
           (unsigned long long)before / 1000, down, (unsigned long long)low / 1000, up);
    assert_true(before > 1000000);
    assert_true(down >= 0 && down < 2.0);
    assert_true(low > 180000 && low < 360000);
    assert_true(up >= 0 && up < 10.0);
    bench_free(b);
}

static void loss_backs_off(void **state)
{
    (void)state;
    struct bench *b = bench_new(5000000, 1000000);
    run(b, b->now + 10 * S);
    uint64_t clean = tdm_gcc_estimate(&b->g);
    b->loss = 0.25;
    run(b, b->now + 5 * S);
    uint64_t lossy = tdm_gcc_estimate(&b->g);
    b->loss = 0.0;
    run(b, b->now + 10 * S);
    uint64_t after = tdm_gcc_estimate(&b->g);
    printf("  uncapped, 1 Mbit/s wanted: %llu kbit/s; 25 %% loss: %llu; loss gone: %llu\n",
           (unsigned long long)clean / 1000, (unsigned long long)lossy / 1000,
           (unsigned long long)after / 1000);
    assert_true(clean >= 1000000);
    assert_true(lossy < clean * 7 / 10);
    assert_true(after >= 900000);
    /* light loss (as Wi-Fi): held */
    b->loss = 0.04;
    run(b, b->now + 10 * S);
    printf("  4 %% loss: %llu kbit/s\n", (unsigned long long)tdm_gcc_estimate(&b->g) / 1000);
    assert_true(tdm_gcc_estimate(&b->g) >= 900000);
    bench_free(b);
}

static void probe_rules(void **state)
{
    (void)state;
    struct tdm_gcc g;
    tdm_gcc_init(&g, 300000, 30000, 2000000, 0);
    uint16_t id;
    uint64_t bps;
    /* tdm_gcc_probe_due says when probe_start would say yes, without starting anything */
    assert_int_equal(tdm_gcc_probe_due(&g, 300000), INT64_MAX);
    assert_false(tdm_gcc_probe_start(&g, 300000, 0, &id, &bps)); /* wants no more */
    assert_int_equal(tdm_gcc_probe_due(&g, 3000000), 0);
    assert_true(tdm_gcc_probe_start(&g, 3000000, 0, &id, &bps));
    assert_int_not_equal(id, 0);
    assert_int_equal(bps, 600000);
    assert_int_equal(tdm_gcc_probe_due(&g, 3000000), INT64_MAX);
    assert_false(tdm_gcc_probe_start(&g, 3000000, 1000, &id, &bps)); /* one at a time */
    /* no feedback: it times out and the next waits */
    tdm_gcc_on_feedback(&g, NULL, 0, 2000000);
    int64_t due = tdm_gcc_probe_due(&g, 3000000);
    assert_true(due > 2000001 && due <= 3100000);
    assert_false(tdm_gcc_probe_start(&g, 3000000, due - 1, &id, &bps));
    assert_true(tdm_gcc_probe_start(&g, 3000000, due, &id, &bps));
    assert_int_equal(tdm_gcc_estimate(&g), 300000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(steady_link_converges),
        cmocka_unit_test(drop_and_recover),
        cmocka_unit_test(loss_backs_off),
        cmocka_unit_test(probe_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
