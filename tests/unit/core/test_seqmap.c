#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tandem/err.h"
#include "tandem/seqmap.h"

#define A 0xaaaa0001u
#define B 0xbbbb0002u

struct out {
    uint16_t seq;
    uint32_t ts;
};

static int map(struct tdm_seqmap *m, uint32_t ssrc, uint16_t seq, uint32_t ts, int64_t now,
               struct out *o)
{
    return tdm_seqmap_map(m, ssrc, seq, ts, now, 48000, &o->seq, &o->ts);
}

static void continuous_across_wraps(void **state)
{
    (void)state;
    struct tdm_seqmap m;
    tdm_seqmap_init(&m, 65534, 0xfffffc40u);
    struct out o;
    uint16_t in = 65533;
    uint32_t ts = 0xfffff100u;
    for (int i = 0; i < 8; i++) {
        assert_int_equal(map(&m, A, in, ts, i * 20000, &o), TDM_SEQMAP_FORWARD);
        assert_int_equal(o.seq, (uint16_t)(65534 + i));
        assert_int_equal(o.ts, (uint32_t)(0xfffffc40u + 960u * (unsigned)i));
        in++;
        ts += 960;
    }
    assert_int_equal(tdm_seqmap_map(&m, A, in, ts, 0, 0, &o.seq, &o.ts), TDM_EINVAL);
}

static void gaps_stay_and_late_packets_fill_them(void **state)
{
    (void)state;
    struct tdm_seqmap m;
    tdm_seqmap_init(&m, 1000, 0);
    struct out o;
    assert_int_equal(map(&m, A, 10, 0, 0, &o), 0);
    assert_int_equal(o.seq, 1000);
    assert_int_equal(map(&m, A, 13, 3000, 0, &o), 0);
    assert_int_equal(o.seq, 1003);
    assert_int_equal(map(&m, A, 11, 1000, 0, &o), 0);
    assert_int_equal(o.seq, 1001);
    assert_int_equal(o.ts, 1000);
    assert_int_equal(map(&m, A, 11, 1000, 0, &o), TDM_SEQMAP_DUP);
    assert_int_equal(map(&m, A, 13, 3000, 0, &o), TDM_SEQMAP_DUP);
    assert_int_equal(map(&m, A, 9, 0, 0, &o), TDM_SEQMAP_OLD); /* before the source began */
    assert_int_equal(map(&m, A, 12, 2000, 0, &o), 0);
    assert_int_equal(o.seq, 1002);
}

static void too_old_is_refused(void **state)
{
    (void)state;
    struct tdm_seqmap m;
    tdm_seqmap_init(&m, 0, 0);
    struct out o;
    for (unsigned i = 0; i < 2 * TDM_SEQMAP_WINDOW; i += 2)
        assert_int_equal(map(&m, A, (uint16_t)(60000 + i), i, 0, &o), 0);
    uint16_t hi = (uint16_t)(60000 + 2 * TDM_SEQMAP_WINDOW - 2);
    /* Odd seqs were lost: one just inside the window still maps, one outside does not. */
    assert_int_equal(map(&m, A, (uint16_t)(hi - TDM_SEQMAP_WINDOW + 1), 0, 0, &o), 0);
    assert_int_equal(o.seq, (uint16_t)(2 * TDM_SEQMAP_WINDOW - 2 - TDM_SEQMAP_WINDOW + 1));
    assert_int_equal(map(&m, A, (uint16_t)(hi - TDM_SEQMAP_WINDOW - 1), 0, 0, &o), TDM_SEQMAP_OLD);
    /* A big forward jump clears the window; the packet before it is now too old. */
    assert_int_equal(map(&m, A, (uint16_t)(hi + 20000), 0, 0, &o), 0);
    assert_int_equal(map(&m, A, (uint16_t)(hi + 20000 - 1), 0, 0, &o), 0);
    assert_int_equal(map(&m, A, hi, 0, 0, &o), TDM_SEQMAP_OLD);
}

static void switch_continues_seq_and_advances_ts(void **state)
{
    (void)state;
    struct tdm_seqmap m;
    tdm_seqmap_init(&m, 500, 7000);
    struct out o;
    int64_t now = 1000000;
    for (int i = 0; i < 5; i++, now += 20000)
        assert_int_equal(map(&m, A, (uint16_t)(100 + i), 960u * (unsigned)i, now, &o), 0);
    /* B's packets are not selected until a switch is armed. */
    assert_int_equal(map(&m, B, 5000, 123456, now, &o), TDM_SEQMAP_OTHER);
    tdm_seqmap_switch(&m, B);
    /* A keeps flowing until B's first packet arrives. */
    assert_int_equal(map(&m, A, 105, 4800, now, &o), 0);
    assert_int_equal(o.seq, 505);
    assert_int_equal(o.ts, 7000 + 4800);
    now += 20000; /* ts 11800 was last sent 20 ms ago: 960 ticks at 48 kHz */
    assert_int_equal(map(&m, B, 5000, 123456, now + 20000, &o), 0);
    assert_int_equal(o.seq, 506);
    assert_int_equal(o.ts, 7000 + 4800 + 1920);
    assert_int_equal(map(&m, B, 5001, 123456 + 960, now + 40000, &o), 0);
    assert_int_equal(o.seq, 507);
    assert_int_equal(o.ts, 7000 + 4800 + 1920 + 960);
    /* The old source is now ignored, and B's packets from before its start are too old. */
    assert_int_equal(map(&m, A, 106, 5760, now, &o), TDM_SEQMAP_OTHER);
    assert_int_equal(map(&m, B, 4999, 123456 - 960, now, &o), TDM_SEQMAP_OLD);
    /* Switching back works the same way. */
    tdm_seqmap_switch(&m, A);
    assert_int_equal(map(&m, A, 300, 99, now + 40000, &o), 0);
    assert_int_equal(o.seq, 508);
    assert_int_equal(o.ts, 7000 + 4800 + 1920 + 960 + 1); /* no time passed: +1 tick */
}

static void restart_under_same_ssrc(void **state)
{
    (void)state;
    struct tdm_seqmap m;
    tdm_seqmap_init(&m, 65535, 0xffffffffu);
    struct out o;
    assert_int_equal(map(&m, A, 40000, 1000, 0, &o), 0);
    assert_int_equal(o.seq, 65535);
    tdm_seqmap_switch(&m, A);
    assert_int_equal(map(&m, A, 3, 50, 1000000, &o), 0); /* numbering restarted */
    assert_int_equal(o.seq, 0);
    assert_int_equal(o.ts, 0xffffffffu + 48000u);
    assert_int_equal(map(&m, A, 4, 50 + 960, 1020000, &o), 0);
    assert_int_equal(o.seq, 1);
    assert_int_equal(o.ts, 0xffffffffu + 48000u + 960u);
}

static void long_pause_is_capped_and_negative_time_tolerated(void **state)
{
    (void)state;
    struct tdm_seqmap m;
    tdm_seqmap_init(&m, 0, 0);
    struct out o;
    assert_int_equal(tdm_seqmap_map(&m, A, 1, 0, 0, 90000, &o.seq, &o.ts), 0);
    tdm_seqmap_switch(&m, B);
    int64_t day = 24LL * 3600 * 1000000;
    assert_int_equal(tdm_seqmap_map(&m, B, 1, 0, day, 90000, &o.seq, &o.ts), 0);
    assert_int_equal(o.ts, (uint32_t)(30LL * 60 * 90000));
    tdm_seqmap_switch(&m, A);
    assert_int_equal(tdm_seqmap_map(&m, A, 9, 0, 0, 90000, &o.seq, &o.ts), 0);
    assert_int_equal(o.ts, (uint32_t)(30LL * 60 * 90000) + 1);
}

static void drops_close_up(void **state)
{
    (void)state;
    struct tdm_seqmap m;
    tdm_seqmap_init(&m, 100, 0);
    struct out o;
    assert_int_equal(map(&m, A, 1, 0, 0, &o), 0);
    assert_int_equal(map(&m, A, 2, 0, 0, &o), 0);
    assert_int_equal(tdm_seqmap_drop(&m, A, 3), TDM_SEQMAP_FORWARD);
    assert_int_equal(map(&m, A, 4, 0, 0, &o), 0);
    assert_int_equal(o.seq, 102);
    assert_int_equal(map(&m, A, 3, 0, 0, &o), TDM_SEQMAP_DUP);
    assert_int_equal(tdm_seqmap_drop(&m, A, 3), TDM_SEQMAP_DUP);
    for (uint16_t s = 5; s <= 7; s++)
        assert_int_equal(tdm_seqmap_drop(&m, A, s), 0);
    assert_int_equal(map(&m, A, 8, 0, 0, &o), 0);
    assert_int_equal(o.seq, 103);
    /* 9 lost, 10 dropped, 11 forwarded: 9's gap stays, 10 closes. */
    assert_int_equal(tdm_seqmap_drop(&m, A, 10), 0);
    assert_int_equal(map(&m, A, 11, 0, 0, &o), 0);
    assert_int_equal(o.seq, 105);
    assert_int_equal(map(&m, A, 9, 0, 0, &o), 0);
    assert_int_equal(o.seq, 104);
    /* Dropping a late packet cannot renumber what was already sent: its gap remains. */
    assert_int_equal(map(&m, A, 13, 0, 0, &o), 0);
    assert_int_equal(o.seq, 107);
    assert_int_equal(tdm_seqmap_drop(&m, A, 12), 0);
    assert_int_equal(map(&m, A, 14, 0, 0, &o), 0);
    assert_int_equal(o.seq, 108);
    assert_int_equal(tdm_seqmap_drop(&m, B, 15), TDM_SEQMAP_OTHER);
}

static void many_drop_runs_never_collide(void **state)
{
    (void)state;
    struct tdm_seqmap m;
    tdm_seqmap_init(&m, 0, 0);
    struct out o;
    /* Even seqs are dropped, odd forwarded, except every 8th odd one arrives late. */
    assert_int_equal(map(&m, A, 1, 0, 0, &o), 0);
    for (uint16_t s = 2; s < 200; s++) {
        if (s % 2 == 0)
            assert_int_equal(tdm_seqmap_drop(&m, A, s), 0);
        else if (s % 16 != 7)
            assert_int_equal(map(&m, A, s, 0, 0, &o), 0);
    }
    /* Late ones: recent ones map between neighbours, old ones (their drop runs forgotten)
     * are refused instead of colliding. */
    assert_int_equal(map(&m, A, 185, 0, 0, &o), TDM_SEQMAP_DUP);
    assert_int_equal(map(&m, A, 183, 0, 0, &o), 0);
    uint16_t out183 = o.seq;
    assert_int_equal(map(&m, A, 167, 0, 0, &o), 0); /* 168..182 held 8 drops */
    assert_int_equal(o.seq, (uint16_t)(out183 - 8));
    assert_int_equal(map(&m, A, 7, 0, 0, &o), TDM_SEQMAP_OLD);
}

/* Random reordering, loss, duplication and drops: forwarded packets must keep their
 * order and never share an outgoing number, and outgoing gaps never exceed incoming ones. */
static void randomised_order_is_preserved(void **state)
{
    (void)state;
    enum { N = 4000 };
    static int64_t in_of[N];
    static int64_t out_of[N];
    struct tdm_seqmap m;
    tdm_seqmap_init(&m, 65000, 0);
    uint32_t rng = 12345;
    int64_t base = 65400;
    size_t nfwd = 0;
    for (int i = 0; i < N; i++) {
        rng = rng * 1103515245u + 12345u;
        int64_t e = base + i + (int64_t)((rng >> 16) % 7) - 3; /* local reordering */
        if (e < base)
            e = base;
        struct out o;
        if ((rng >> 8) % 10 == 0) {
            (void)tdm_seqmap_drop(&m, A, (uint16_t)e);
            continue;
        }
        int r = map(&m, A, (uint16_t)e, 0, 0, &o);
        if (r == TDM_SEQMAP_FORWARD) {
            in_of[nfwd] = e;
            out_of[nfwd] = o.seq;
            nfwd++;
        }
    }
    assert_true(nfwd > N / 2);
    /* Insertion sort by incoming seq (nearly sorted already). */
    for (size_t i = 1; i < nfwd; i++)
        for (size_t j = i; j > 0 && in_of[j - 1] > in_of[j]; j--) {
            int64_t t = in_of[j];
            in_of[j] = in_of[j - 1];
            in_of[j - 1] = t;
            t = out_of[j];
            out_of[j] = out_of[j - 1];
            out_of[j - 1] = t;
        }
    for (size_t i = 1; i < nfwd; i++) {
        assert_true(in_of[i] > in_of[i - 1]);
        uint16_t d = (uint16_t)(out_of[i] - out_of[i - 1]);
        assert_true(d >= 1);
        assert_true(d <= in_of[i] - in_of[i - 1]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(continuous_across_wraps),
        cmocka_unit_test(gaps_stay_and_late_packets_fill_them),
        cmocka_unit_test(too_old_is_refused),
        cmocka_unit_test(switch_continues_seq_and_advances_ts),
        cmocka_unit_test(restart_under_same_ssrc),
        cmocka_unit_test(long_pause_is_capped_and_negative_time_tolerated),
        cmocka_unit_test(drops_close_up),
        cmocka_unit_test(many_drop_runs_never_collide),
        cmocka_unit_test(randomised_order_is_preserved),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
