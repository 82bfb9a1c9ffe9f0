/* Screen sharing in the network simulator (docs/protocol.md "Screen sharing"): Amina's video
 * track becomes her shared screen (one layer, sent as msid "screen"); Jan and Ngozi publish
 * their cameras as simulcast. Each subscriber's estimate goes to the screen before any
 * camera (server/sfu/alloc.c): on a thin line the screen keeps flowing and the cameras come
 * down to their lowest layer or stop; on a good line everything flows at the top. The share
 * ended, Amina's track is a camera again under her own name. Tables: ctest -R sim_share -V. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "sim.h"

#define S 1000000LL
#define N 4
#define SCREEN_BPS 300000 /* what Amina's screen may send */
#define FULL_BPS 500000   /* the cameras' top layer: q = 42, h = 125, f = 500 kbit/s */

static const struct sim_link lan = {.delay_us = 10000, .jitter_us = 2000};
static const char *const names[N] = {"amina", "jan", "ngozi", "weak"};

struct call {
    struct sim *s;
    struct sim_peer *p[N];
};

static void start(struct call *c, uint64_t seed)
{
    c->s = sim_create(seed);
    assert_non_null(c->s);
    for (int i = 0; i < N; i++) {
        c->p[i] = sim_peer_add(c->s, "r", names[i]);
        assert_non_null(c->p[i]);
        sim_peer_set_links(c->p[i], &lan, &lan);
        sim_peer_set_dtx(c->p[i], i != 0);
        if (i == 0)
            sim_peer_publish(c->p[i], true, true, SCREEN_BPS);
        else
            sim_peer_publish_simulcast(c->p[i], true, FULL_BPS);
    }
}

static const struct sim_video_rx *show(const struct call *c, int sub, const char *from)
{
    const struct sim_video_rx *v = sim_peer_video_latest(c->p[sub], from);
    if (v)
        printf("  %-6s sees %-6s: layer %u, frames %llu, longest freeze %.0f ms, given up %llu%s "
               "(paused %u times)\n",
               names[sub], from, v->layer, (unsigned long long)v->frames_decoded,
               v->max_freeze_us / 1e3, (unsigned long long)v->lost_final,
               v->paused ? ", paused now" : "", v->pauses);
    else
        printf("  %-6s sees nothing of %s\n", names[sub], from);
    return v;
}

static void reset_freezes(struct call *c)
{
    for (int i = 0; i < N; i++)
        sim_peer_reset_freeze(c->p[i]);
}

/* The screen first: a 450 kbit/s downlink keeps the screen (no freeze over 1 s once
 * settled, at most 5 packets given up in 10 s) and gets the cameras below their full layer;
 * a full line gets it all. */
static void screen_before_cameras(void **state)
{
    (void)state;
    struct call c;
    start(&c, 31);
    assert_int_equal(sim_run_until(c.s, 3 * S), 0);
    sim_peer_share(c.p[0], true);
    struct sim_link capped = lan;
    capped.rate_bps = 450000;
    capped.queue_us = 200000;
    sim_peer_set_links(c.p[3], NULL, &capped);
    assert_int_equal(sim_run_until(c.s, 15 * S), 0);
    reset_freezes(&c);
    const struct sim_video_rx *s0 = sim_peer_video_latest(c.p[3], "screen");
    assert_non_null(s0);
    uint64_t before = s0->frames_decoded, lost_before = s0->lost_final;
    assert_int_equal(sim_run_until(c.s, 25 * S), 0);
    printf(" a 450 kbit/s downlink, 10 s after settling:\n");
    const struct sim_video_rx *scr = show(&c, 3, "screen");
    assert_non_null(scr);
    assert_true(scr->frames_decoded - before >= 100); /* ~15 fps of a moving screen */
    assert_true(scr->max_freeze_us < 1000000);
    /* without its priority, 14 packets given up and a 1.2 s freeze in this run */
    assert_true(scr->lost_final - lost_before <= 5);
    /* the cameras get what is left, never their full layer, or are paused (media.paused: the
     * page shows the person's initial) when the line cannot carry them too: here one camera
     * at the lowest layer, the other paused */
    for (int i = 1; i < 3; i++) {
        const struct sim_video_rx *v = show(&c, 3, names[i]);
        assert_true(!v || v->paused || v->layer <= 1);
    }
    /* Amina's own name carries only her voice while she shares: her track is the screen */
    const struct sim_video_rx *cam = sim_peer_video_latest(c.p[3], "amina");
    assert_true(!cam || cam->last_frame_us < 4 * S);
    printf(" a full line:\n");
    for (int i = 0; i < 3; i++) {
        const struct sim_video_rx *v = show(&c, 1, i == 0 ? "screen" : names[i]);
        if (i == 1)
            continue; /* Jan himself */
        assert_non_null(v);
        assert_true(v->max_freeze_us < 1000000);
        if (i == 2)
            assert_int_equal(v->layer, 2);
    }
    sim_destroy(c.s);
}

/* The share ended: Amina's track comes back under her own name, and the screen is gone. */
static void share_ends(void **state)
{
    (void)state;
    struct call c;
    start(&c, 32);
    assert_int_equal(sim_run_until(c.s, 3 * S), 0);
    sim_peer_share(c.p[0], true);
    assert_int_equal(sim_run_until(c.s, 8 * S), 0);
    const struct sim_video_rx *scr = sim_peer_video_latest(c.p[1], "screen");
    assert_non_null(scr);
    uint64_t shown = scr->frames_decoded;
    assert_true(shown > 0);
    sim_peer_share(c.p[0], false);
    assert_int_equal(sim_run_until(c.s, 10 * S), 0);
    const struct sim_video_rx *cam = sim_peer_video_latest(c.p[1], "amina");
    uint64_t at10 = cam ? cam->frames_decoded : 0;
    assert_int_equal(sim_run_until(c.s, 13 * S), 0);
    printf(" after the share:\n");
    show(&c, 1, "screen");
    cam = show(&c, 1, "amina");
    assert_non_null(cam);
    assert_true(cam->frames_decoded > at10); /* her camera flows again */
    sim_destroy(c.s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(screen_before_cameras),
        cmocka_unit_test(share_ends),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
