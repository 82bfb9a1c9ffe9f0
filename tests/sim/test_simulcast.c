/* Simulcast in the network simulator: four people each publish three layers (rid q, h, f)
 * and the server forwards each subscriber one layer per publisher, chosen from that
 * subscriber's own line. Each scenario prints a table (ctest -V) and checks what a person on
 * the call would notice: which layer they get, how long pictures froze after the change,
 * whether the stream they receive stays one continuous stream (picture ids, timestamps,
 * sequence numbers), how often the layer changed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "sim.h"

#define S 1000000LL
#define N 4
#define FULL_BPS 500000 /* the top layer: q = 42, h = 125, f = 500 kbit/s */

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
        sim_peer_set_dtx(c->p[i], i != 0); /* amina speaks, the others listen */
        if (i == 0)
            sim_peer_set_tone(c->p[i], 440); /* real Opus: the mix decodes it (audio only) */
        sim_peer_publish_simulcast(c->p[i], true, FULL_BPS);
    }
}

/* The layer `sub` receives from each other publisher: the lowest and the highest. */
static void layers(const struct call *c, int sub, int *lo, int *hi)
{
    *lo = 9;
    *hi = -1;
    for (int i = 0; i < N; i++) {
        const struct sim_video_rx *v = i == sub ? NULL : sim_peer_video_from(c->p[sub], names[i]);
        if (i == sub)
            continue;
        int l = v ? v->layer : -1;
        if (l < *lo)
            *lo = l;
        if (l > *hi)
            *hi = l;
    }
}

/* Run in steps of 100 ms until every picture `sub` gets is at layer `want` (or, want < 0,
 * until audio only is on == ao); returns the time it took, or -1 after `limit`. */
static int64_t until_layer(struct call *c, int sub, int want, int64_t limit)
{
    int64_t t0 = sim_now(c->s);
    while (sim_now(c->s) - t0 <= limit) {
        int lo, hi;
        layers(c, sub, &lo, &hi);
        if (lo == want && hi == want)
            return sim_now(c->s) - t0;
        assert_int_equal(sim_run_until(c->s, sim_now(c->s) + S / 10), 0);
    }
    return -1;
}

static int64_t until_audio_only(struct call *c, int sub, bool on, int64_t limit)
{
    int64_t t0 = sim_now(c->s);
    while (sim_now(c->s) - t0 <= limit) {
        struct sim_stats st;
        sim_peer_stats(c->p[sub], &st);
        if (st.audio_only == on)
            return sim_now(c->s) - t0;
        assert_int_equal(sim_run_until(c->s, sim_now(c->s) + S / 10), 0);
    }
    return -1;
}

/* Continuity of everything `sub` received, and the longest freeze since the last reset. */
static int64_t check_streams(const struct call *c, int sub, const char *what)
{
    int64_t freeze = 0;
    for (int i = 0; i < N; i++) {
        if (i == sub)
            continue;
        const struct sim_video_rx *v = sim_peer_video_from(c->p[sub], names[i]);
        assert_non_null(v);
        printf("  %-6s sees %-6s %s: layer %u (frames q/h/f %llu/%llu/%llu), %u switches, "
               "longest freeze %.0f ms, picture id errors %llu, timestamps back %llu, largest "
               "seq step %u, given up %llu\n",
               names[sub], names[i], what, v->layer, (unsigned long long)v->frames_layer[0],
               (unsigned long long)v->frames_layer[1], (unsigned long long)v->frames_layer[2],
               v->switches, v->max_freeze_us / 1e3, (unsigned long long)v->pid_errors,
               (unsigned long long)v->ts_back, v->max_seq_jump, (unsigned long long)v->lost_final);
        assert_int_equal(v->pid_errors, 0);
        assert_int_equal(v->ts_back, 0);
        if (v->max_freeze_us > freeze)
            freeze = v->max_freeze_us;
    }
    return freeze;
}

/* Nobody limited: everyone gets everyone's top layer, one continuous stream each. */
static void full_layers(void **state)
{
    (void)state;
    struct call c;
    start(&c, 21);
    assert_int_equal(sim_run_until(c.s, 4 * S), 0);
    int64_t t = until_layer(&c, 3, 2, 6 * S);
    printf("  all at the top layer %.1f s after the start\n", (4 * S + t) / 1e6);
    assert_true(t >= 0);
    assert_int_equal(sim_run_until(c.s, sim_now(c.s) + 5 * S), 0);
    for (int i = 0; i < N; i++)
        sim_peer_reset_freeze(c.p[i]);
    assert_int_equal(sim_run_until(c.s, sim_now(c.s) + 5 * S), 0);
    for (int sub = 0; sub < N; sub++)
        assert_true(check_streams(&c, sub, "") < 200000);
    sim_destroy(c.s);
}

/* The layer switches `sub` saw so far, per publisher (names order; its own slot 0). */
static void switches(const struct call *c, int sub, uint32_t out[N])
{
    for (int i = 0; i < N; i++) {
        const struct sim_video_rx *v = i == sub ? NULL : sim_peer_video_from(c->p[sub], names[i]);
        out[i] = v ? v->switches : 0;
    }
}

#define CAPPED_US (35 * S) /* how long the line stays thin: the browsers' test window */
#define MAX_SWITCHES 2     /* per picture in that time: down once, perhaps one step back */

/* One person's downlink limited to 300 kbit/s (a router's queue, or a policer that drops
 * what passes its rate after a burst, as nftables does in the browser tests): they get the
 * low layers within 5 s, the other three keep the top layer, no freeze over 1 s after the
 * change, and each picture they get changes layer at most MAX_SWITCHES times in 35 s (each
 * switch costs a keyframe and a visible jump); the limit lifted, they are back at the top
 * within 10 s. Prints one row of the table in docs/architecture.md. */
static void cap_300_on(const struct sim_link *capped, uint64_t seed, const char *what)
{
    struct call c;
    start(&c, seed);
    assert_int_equal(sim_run_until(c.s, 4 * S), 0);
    assert_true(until_layer(&c, 3, 2, 6 * S) >= 0);
    uint32_t sw0[N], sw1[N];
    switches(&c, 3, sw0);
    sim_peer_set_links(c.p[3], NULL, capped);
    int64_t capped_at = sim_now(c.s);
    int64_t down = -1;
    for (int64_t waited = 0; waited <= 5 * S; waited += S / 10) {
        int lo, hi;
        layers(&c, 3, &lo, &hi);
        if (hi < 2 && lo == 0) { /* the low layers: nothing at the top, some at the lowest */
            down = sim_now(c.s) - capped_at;
            break;
        }
        assert_int_equal(sim_run_until(c.s, sim_now(c.s) + S / 10), 0);
    }
    printf("  %s: low layers (none at the top) after %.1f s\n", what, down / 1e6);
    assert_true(down >= 0 && down <= 5 * S);
    for (int i = 0; i < N; i++)
        sim_peer_reset_freeze(c.p[i]);
    assert_int_equal(sim_run_until(c.s, capped_at + CAPPED_US), 0);
    int64_t fz = check_streams(&c, 3, "capped");
    switches(&c, 3, sw1);
    uint32_t most = 0;
    for (int i = 0; i < 3; i++) {
        most = sw1[i] - sw0[i] > most ? sw1[i] - sw0[i] : most;
        int lo, hi;
        layers(&c, i, &lo, &hi);
        assert_int_equal(lo, 2); /* the others keep the top layer */
        assert_true(check_streams(&c, i, "(cap elsewhere)") < 300000);
    }
    sim_peer_set_links(c.p[3], NULL, &lan);
    /* Back at the top within 10 s: transport-cc's probes find the room (downlink.c). */
    int64_t up = until_layer(&c, 3, 2, 10 * S);
    int lo, hi;
    layers(&c, 3, &lo, &hi);
    printf("  %s: switches per picture in %lld s %u/%u/%u (most %u, bound %d), adapted in "
           "%.1f s, longest freeze after %.0f ms (bound 1000), limit lifted: top layer after "
           "%s%.1f s (lowest %d, highest %d)%s\n",
           what, (long long)(CAPPED_US / S), sw1[0] - sw0[0], sw1[1] - sw0[1], sw1[2] - sw0[2],
           most, MAX_SWITCHES, down / 1e6, fz / 1e3, up < 0 ? "more than " : "",
           (up < 0 ? 10 * S : up) / 1e6, lo, hi, up < 0 ? " TARGET NOT MET" : "");
    assert_true(fz <= 1000000);
    assert_true(most <= MAX_SWITCHES);
    assert_true(up >= 0);
    assert_int_equal(sim_run_until(c.s, sim_now(c.s) + 20 * S), 0);
    layers(&c, 3, &lo, &hi);
    printf("  30 s after lifting: lowest layer %d, highest %d\n", lo, hi);
    assert_int_equal(lo, 2);
    check_streams(&c, 3, "lifted");
    struct tdm_sfu_stats core;
    tdm_sfu_get_stats(sim_sfu(c.s), &core);
    printf("  layer switches in the whole call: %llu\n", (unsigned long long)core.layer_switches);
    sim_destroy(c.s);
}

static void cap_300(void **state)
{
    (void)state;
    struct sim_link capped = lan;
    capped.rate_bps = 300000;
    capped.queue_us = 200000; /* a router's buffer */
    cap_300_on(&capped, 23, "capped at 300 kbit/s (queue)");
}

static void police_300(void **state)
{
    (void)state;
    struct sim_link policed = lan;
    policed.rate_bps = 300000;
    policed.burst_bytes = 300000 / 8 / 4; /* a quarter second, as the browser tests' nftables */
    cap_300_on(&policed, 23, "policed at 300 kbit/s");
}

/* 80 kbit/s: not even the lowest layer fits with the audio: audio only within 5 s (the page
 * is told once), the voice keeps coming; lifted, video is back within 10 s (told once). */
static void cap_80_on(const struct sim_link *capped, uint64_t seed)
{
    struct call c;
    start(&c, seed);
    assert_int_equal(sim_run_until(c.s, 4 * S), 0);
    assert_true(until_layer(&c, 3, 2, 6 * S) >= 0);
    sim_peer_set_links(c.p[3], NULL, capped);
    int64_t on = until_audio_only(&c, 3, true, 5 * S);
    printf("  capped at 80 kbit/s: audio only after %.1f s\n", on / 1e6);
    assert_true(on >= 0);
    struct sim_stats a0, a1;
    sim_peer_stats(c.p[3], &a0);
    assert_int_equal(sim_run_until(c.s, sim_now(c.s) + 15 * S), 0);
    sim_peer_stats(c.p[3], &a1);
    struct sim_stats other;
    sim_peer_stats(c.p[0], &other); /* amina is told that weak's connection is poor */
    printf("  amina was told: %s's connection %s\n", other.quality_of,
           other.quality == TDM_SFU_Q_POOR   ? "poor"
           : other.quality == TDM_SFU_Q_FAIR ? "fair"
                                             : "good");
    assert_string_equal(other.quality_of, "weak");
    assert_int_equal(other.quality, TDM_SFU_Q_POOR);
    uint64_t got = a1.audio_packets - a0.audio_packets;
    printf("  audio packets in 15 s of audio only: %llu (amina's 750 through the mix)\n",
           (unsigned long long)got);
    /* in audio only weak hears the others through the server's mix (audiomix.c): one stream
     * of amina's voice (the others' DTX filler is no Opus the mix takes): under 2 % lost */
    assert_true(got >= 750 * 98 / 100);
    sim_peer_set_links(c.p[3], NULL, &lan);
    printf("  cap lifted at %.1f s (audio only %s then)\n", sim_now(c.s) / 1e6,
           a1.audio_only ? "on" : "off");
    assert_true(a1.audio_only); /* nothing came back while the line was capped */
    int64_t off = until_audio_only(&c, 3, false, 10 * S);
    printf("  cap lifted: video back after %.1f s\n", off / 1e6);
    assert_true(off >= 0);
    assert_int_equal(sim_run_until(c.s, sim_now(c.s) + 5 * S), 0);
    sim_peer_stats(c.p[3], &a1);
    printf("  audio only switched on %u, off %u times\n", a1.audio_only_on, a1.audio_only_off);
    assert_int_equal(a1.audio_only_on, 1); /* one switch per direction: no flapping */
    assert_int_equal(a1.audio_only_off, 1);
    sim_peer_stats(c.p[0], &other);
    printf("  after the cap: amina was told %s's connection is %s (poor %u time(s))\n",
           other.quality_of,
           other.quality == TDM_SFU_Q_POOR   ? "poor"
           : other.quality == TDM_SFU_Q_FAIR ? "fair"
                                             : "good",
           other.quality_poor);
    assert_int_equal(other.quality_poor, 1);
    sim_destroy(c.s);
}

static void cap_80(void **state)
{
    (void)state;
    struct sim_link capped = lan;
    capped.rate_bps = 80000;
    capped.queue_us = 200000; /* a router's buffer */
    cap_80_on(&capped, 29);
}

/* The same behind a policer (the browser tests' nftables rule): its burst lets a short probe
 * through at any rate, which must not end audio only while the line is still thin. */
static void police_80(void **state)
{
    (void)state;
    struct sim_link policed = lan;
    policed.rate_bps = 80000;
    policed.burst_bytes = 80000 / 8 / 4;
    cap_80_on(&policed, 29);
}

/* Policed at 150 kbit/s: the voices and three lowest layers (42 kbit/s each) do not all
 * fit, one picture does not need to go. Within 5 s the server pauses the picture(s) the line
 * cannot carry and tells the page (media.paused: it shows the person's initial, not a frozen
 * picture); each picture is paused at most twice in 35 s (no going on and off with the
 * line's loss); those still shown do not freeze over 1 s after that; the voice keeps coming
 * (under 2 % missing); no audio only (audio and one picture fit). Lifted: every picture back
 * at the top within 10 s. */
static void police_150(void **state)
{
    (void)state;
    struct call c;
    start(&c, 41);
    assert_int_equal(sim_run_until(c.s, 4 * S), 0);
    assert_true(until_layer(&c, 3, 2, 6 * S) >= 0);
    struct sim_link policed = lan;
    policed.rate_bps = 150000;
    policed.burst_bytes = 150000 / 8 / 4;
    sim_peer_set_links(c.p[3], NULL, &policed);
    int64_t at = sim_now(c.s), paused = -1;
    struct sim_stats st;
    for (int64_t waited = 0; waited <= 5 * S && paused < 0; waited += S / 10) {
        assert_int_equal(sim_run_until(c.s, sim_now(c.s) + S / 10), 0);
        sim_peer_stats(c.p[3], &st);
        if (st.paused_on > 0)
            paused = sim_now(c.s) - at;
    }
    printf("  policed at 150 kbit/s: a picture paused after %.1f s\n", paused / 1e6);
    assert_true(paused >= 0);
    assert_int_equal(sim_run_until(c.s, sim_now(c.s) + 3 * S), 0); /* settle */
    for (int i = 0; i < N; i++)
        sim_peer_reset_freeze(c.p[i]);
    struct sim_stats a0, a1;
    sim_peer_stats(c.p[3], &a0);
    assert_int_equal(sim_run_until(c.s, at + CAPPED_US), 0);
    sim_peer_stats(c.p[3], &a1);
    int64_t fz = check_streams(&c, 3, "policed 150");
    unsigned shown = 0, most = 0;
    for (int i = 0; i < 3; i++) {
        const struct sim_video_rx *v = sim_peer_video_from(c.p[3], names[i]);
        shown += !v->paused;
        most = v->pauses > most ? v->pauses : most;
    }
    uint64_t got = a1.audio_packets - a0.audio_packets;
    printf("  policed at 150 kbit/s for 35 s: %u of 3 pictures shown at the end, pauses per "
           "picture at most %u (bound 2), longest freeze of a shown picture %.0f ms (bound "
           "1000), audio packets %llu in the last %.0f s, audio only %s\n",
           shown, most, fz / 1e3, (unsigned long long)got,
           (at + CAPPED_US - (at + paused + 3 * S)) / 1e6, a1.audio_only_on ? "ON" : "never");
    assert_true(shown >= 1 && shown < 3);
    assert_true(most <= 2);
    assert_true(fz <= 1000000);
    assert_int_equal(a1.audio_only_on, 0);
    /* amina's voice (50 packets/s) and the others' DTX filler (2.5/s each) */
    int64_t span = (at + CAPPED_US - (at + paused + 3 * S)) / S;
    assert_true(got >= (uint64_t)(span * 55 * 98 / 100));
    sim_peer_set_links(c.p[3], NULL, &lan);
    int64_t up = until_layer(&c, 3, 2, 10 * S);
    sim_peer_stats(c.p[3], &a1);
    printf("  lifted: every picture at the top after %.1f s (pauses ended %u of %u)\n", up / 1e6,
           a1.paused_off, a1.paused_on);
    assert_true(up >= 0);
    assert_int_equal(a1.paused_off, a1.paused_on);
    sim_destroy(c.s);
}

/* Random loss on one person's downlink (5 % and 15 %, not congestion): pictures keep
 * decoding (the longest freeze is bounded), the voice keeps coming, and that person is not
 * pushed into audio only. Prints the layer, the estimate and the freezes. */
static void random_loss(double rate, uint64_t seed, int64_t max_freeze)
{
    struct call c;
    start(&c, seed);
    assert_int_equal(sim_run_until(c.s, 4 * S), 0);
    assert_true(until_layer(&c, 3, 2, 6 * S) >= 0);
    struct sim_link lossy = lan;
    lossy.loss = rate;
    sim_peer_set_links(c.p[3], NULL, &lossy);
    for (int i = 0; i < N; i++)
        sim_peer_reset_freeze(c.p[i]);
    struct sim_stats a0, a1;
    sim_peer_stats(c.p[3], &a0);
    uint64_t lo_est = UINT64_MAX, hi_est = 0;
    for (int k = 0; k < 20; k++) {
        assert_int_equal(sim_run_until(c.s, sim_now(c.s) + S), 0);
        struct tdm_sfu_part_stats ps;
        assert_int_equal(tdm_sfu_part_stats(sim_sfu(c.s), "r", "weak", &ps), 0);
        lo_est = ps.est_bps < lo_est ? ps.est_bps : lo_est;
        hi_est = ps.est_bps > hi_est ? ps.est_bps : hi_est;
    }
    sim_peer_stats(c.p[3], &a1);
    char what[32];
    snprintf(what, sizeof what, "%.0f %% loss", rate * 100);
    int64_t fz = check_streams(&c, 3, what);
    uint64_t got = a1.audio_packets - a0.audio_packets;
    printf("  %s for 20 s: estimate %llu..%llu kbit/s, longest freeze %.0f ms, audio packets "
           "%llu (of ~%u sent: before repair by FEC), audio only %s\n",
           what, (unsigned long long)lo_est / 1000, (unsigned long long)hi_est / 1000, fz / 1e3,
           (unsigned long long)got, 1000 + 2 * 50, a1.audio_only_on ? "ON" : "never");
    printf("  %s: pictures paused %u times\n", what, a1.paused_on - a0.paused_on);
    assert_true(fz <= max_freeze);
    assert_int_equal(a1.audio_only_on, 0);
    for (int sub = 0; sub < 3; sub++) { /* the others are not touched */
        int lo, hi;
        layers(&c, sub, &lo, &hi);
        assert_int_equal(lo, 2);
    }
    sim_destroy(c.s);
}

static void loss_5(void **state)
{
    (void)state;
    random_loss(0.05, 31, 1000000);
}

static void loss_15(void **state)
{
    (void)state;
    random_loss(0.15, 37, 2000000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(full_layers), cmocka_unit_test(cap_300),   cmocka_unit_test(police_300),
        cmocka_unit_test(cap_80),      cmocka_unit_test(police_80), cmocka_unit_test(police_150),
        cmocka_unit_test(loss_5),      cmocka_unit_test(loss_15),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
