/* The loss an audio publisher is told (server/sfu/feedback.c, core/forward.c
 * tdm_fwd_audio_loss), in the network simulator: the server terminates RTCP, so a browser's
 * Opus encoder hears only what the server's receiver reports say of its voice, and turns
 * in-band FEC on and sizes it by their fraction lost. Those reports must carry the loss of
 * the people who hear the voice on their own lines (they report it for the stream they
 * receive), the worst of them, bounded, and let go when the loss goes away. Prints the
 * figures (ctest -R sim_voice -V). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "sim.h"

#include "tandem/forward.h"

#define S 1000000LL

static const struct sim_link lan = {.delay_us = 10000, .jitter_us = 2000};

struct voice_call {
    struct sim *s;
    struct sim_peer *amina, *bola, *chen; /* amina speaks; bola and chen listen */
};

static void start(struct voice_call *c, uint64_t seed)
{
    c->s = sim_create(seed);
    assert_non_null(c->s);
    struct sim_peer **p[3] = {&c->amina, &c->bola, &c->chen};
    const char *names[3] = {"amina", "bola", "chen"};
    for (int i = 0; i < 3; i++) {
        *p[i] = sim_peer_add(c->s, "r", names[i]);
        assert_non_null(*p[i]);
        sim_peer_set_links(*p[i], &lan, &lan);
        sim_peer_publish(*p[i], true, false, 0);
        sim_peer_set_dtx(*p[i], i != 0); /* the listeners are silent */
    }
    assert_int_equal(sim_run_until(c->s, 3 * S), 0);
    for (int i = 0; i < 3; i++)
        assert_true(sim_peer_connected(*p[i]));
}

/* Runs d, looking at what amina is told once a second; the smallest and largest seen. */
static void told_over(struct voice_call *c, int64_t d, unsigned *lo, unsigned *hi)
{
    *lo = 255;
    *hi = 0;
    for (int64_t end = sim_now(c->s) + d; sim_now(c->s) < end;) {
        assert_int_equal(sim_run_until(c->s, sim_now(c->s) + S), 0);
        struct sim_stats st;
        sim_peer_stats(c->amina, &st);
        *lo = st.audio_loss_told < *lo ? st.audio_loss_told : *lo;
        *hi = st.audio_loss_told > *hi ? st.audio_loss_told : *hi;
    }
}

static void listeners_loss_reaches_the_speaker(void **state)
{
    (void)state;
    struct voice_call c;
    start(&c, 7);
    unsigned lo, hi;
    /* everyone on a clean line: nothing to protect against */
    told_over(&c, 5 * S, &lo, &hi);
    printf("  clean lines: amina is told %u..%u/256 lost\n", lo, hi);
    assert_int_equal(hi, 0);

    /* bola's downlink loses 5 %: amina is told about that much, though her uplink is clean */
    struct sim_link lossy = lan;
    lossy.loss = 0.05;
    sim_peer_set_links(c.bola, &lan, &lossy);
    told_over(&c, 4 * S, &lo, &hi); /* the first reports of the loss come in */
    told_over(&c, 20 * S, &lo, &hi);
    printf("  bola's downlink 5 %% lost: amina is told %u..%u/256 (%.1f..%.1f %%)\n", lo, hi,
           100.0 * lo / 256, 100.0 * hi / 256);
    assert_true(lo >= 3);  /* never near nothing while bola loses */
    assert_true(hi >= 10); /* about 13/256 when the loss is even */
    assert_true(hi <= TDM_FWD_AUDIO_LOSS_MAX);

    /* chen's downlink loses 40 %: the worst counts, bounded */
    struct sim_link bad = lan;
    bad.loss = 0.40;
    sim_peer_set_links(c.chen, &lan, &bad);
    told_over(&c, 4 * S, &lo, &hi);
    told_over(&c, 10 * S, &lo, &hi);
    printf("  chen's downlink 40 %% lost: amina is told %u..%u/256\n", lo, hi);
    assert_int_equal(lo, TDM_FWD_AUDIO_LOSS_MAX);

    /* both lines clean again: what amina is told falls back to nothing within seconds, a
     * step at a time */
    sim_peer_set_links(c.bola, &lan, &lan);
    sim_peer_set_links(c.chen, &lan, &lan);
    told_over(&c, 3 * S, &lo, &hi);
    printf("  lines clean again, first 3 s: amina is told %u..%u/256\n", lo, hi);
    assert_true(hi > 0); /* not dropped at once */
    told_over(&c, 20 * S, &lo, &hi);
    printf("  the next 20 s: %u..%u/256\n", lo, hi);
    assert_int_equal(lo, 0);

    /* amina's own uplink loses 5 %: she is told that, as before */
    sim_peer_set_links(c.amina, &lossy, &lan);
    told_over(&c, 4 * S, &lo, &hi);
    told_over(&c, 15 * S, &lo, &hi);
    printf("  amina's uplink 5 %% lost: she is told %u..%u/256\n", lo, hi);
    assert_true(hi >= 10 && hi <= TDM_FWD_AUDIO_LOSS_MAX);
    struct sim_stats st;
    sim_peer_stats(c.amina, &st);
    printf("  reports on amina's voice: %u\n", st.audio_reports);
    sim_destroy(c.s);
}

/* Silent microphones (Opus DTX: a packet per 400 ms) on lossy uplinks: one of a pause's few
 * packets lost is no 30-50 % loss of the voice. Nobody is marked "poor" for it, and what
 * amina's encoder is told stays what the listeners' lines lose (forward.h
 * tdm_fwd_voice_loss); before, the listeners were marked poor within seconds. */
static void silent_voices_on_lossy_lines_are_not_poor(void **state)
{
    (void)state;
    struct voice_call c;
    start(&c, 11);
    struct sim_link lossy = lan;
    lossy.loss = 0.10;
    sim_peer_set_links(c.bola, &lossy, &lossy);
    sim_peer_set_links(c.chen, &lossy, &lan);
    unsigned lo, hi;
    told_over(&c, 60 * S, &lo, &hi);
    struct sim_stats st;
    sim_peer_stats(c.amina, &st);
    printf("  bola and chen silent, 10 %% lost on their uplinks for 60 s: %u times told of a "
           "poor connection; amina is told %u..%u/256 lost\n",
           st.quality_poor, lo, hi);
    assert_int_equal(st.quality_poor, 0);
    /* bola's downlink loses 10 % of amina's voice, which speaks all the time: that counts */
    assert_true(hi >= 13);
    sim_destroy(c.s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(listeners_loss_reaches_the_speaker),
        cmocka_unit_test(silent_voices_on_lossy_lines_are_not_poor),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
