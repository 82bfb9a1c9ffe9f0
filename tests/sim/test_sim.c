/* Scenarios of the SFU core in the network simulator (tests/sim/sim.h), at virtual time.
 * Each prints its figures (run with --verbose through ctest -V to read them) and checks
 * what a person on that call would notice: pictures decoded, how long they froze, whether
 * the repair traffic and keyframe requests stay bounded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "sim.h"

#define S 1000000LL /* one second of virtual time */
#define SEED_OR(x) (getenv("SEED") ? strtoull(getenv("SEED"), 0, 10) : (x))

static const struct sim_link lan = {.delay_us = 10000, .jitter_us = 2000};

static struct sim_peer *add(struct sim *s, const char *room, const char *name, bool video,
                            uint64_t bps)
{
    struct sim_peer *p = sim_peer_add(s, room, name);
    assert_non_null(p);
    sim_peer_set_links(p, &lan, &lan);
    sim_peer_publish(p, true, video, bps);
    return p;
}

static void report(const char *what, const struct sim_peer *p, const char *from)
{
    struct sim_stats st;
    sim_peer_stats(p, &st);
    const struct sim_video_rx *v = sim_peer_video_from(p, from);
    printf("  %-28s frames %llu (key %llu) first at %.2f s, longest freeze %.0f ms, given up "
           "%llu; video packets %llu, NACKs %llu, PLIs %llu, audio packets %llu\n",
           what, v ? (unsigned long long)v->frames_decoded : 0ULL,
           v ? (unsigned long long)v->keyframes : 0ULL, v ? v->first_frame_us / 1e6 : 0.0,
           v ? v->max_freeze_us / 1e3 : 0.0, v ? (unsigned long long)v->lost_final : 0ULL,
           v ? (unsigned long long)v->packets : 0ULL, (unsigned long long)st.nacks_sent,
           (unsigned long long)st.plis_sent, (unsigned long long)st.audio_packets);
}

/* Two pages publish audio and video and each sees the other: the whole path (ICE, DTLS,
 * SRTP, offers, the fan-out, reports) through the real core. */
static void two_party_call(void **state)
{
    (void)state;
    struct sim *s = sim_create(1);
    assert_non_null(s);
    struct sim_peer *a = add(s, "r", "amina", true, 800000);
    struct sim_peer *b = add(s, "r", "jan", true, 800000);
    assert_int_equal(sim_run_until(s, 11 * S), 0);
    assert_true(sim_peer_connected(a));
    assert_true(sim_peer_connected(b));
    const struct sim_video_rx *ab = sim_peer_video_from(b, "amina");
    const struct sim_video_rx *ba = sim_peer_video_from(a, "jan");
    report("jan sees amina", b, "amina");
    report("amina sees jan", a, "jan");
    assert_non_null(ab);
    assert_non_null(ba);
    /* ~30 frames/s for most of 10 s; the first picture within 1 s of the start */
    assert_true(ab->frames_decoded > 250 && ba->frames_decoded > 250);
    assert_true(ab->first_frame_us < 2 * S && ba->first_frame_us < 2 * S);
    assert_true(ab->max_freeze_us < 200000);
    struct sim_stats st;
    sim_peer_stats(b, &st);
    assert_true(st.audio_packets > 400); /* 50/s */
    assert_int_equal(st.errors, 0);
    sim_destroy(s);
}

/* Random loss on one subscriber's downlink: the server resends from its history what the
 * subscriber NACKs, so pictures keep coming; at 20 % some frames are given up and repaired
 * by keyframes, whose requests the server throttles. */
static void loss(double rate, uint64_t min_frames, int64_t max_freeze)
{
    struct sim *s = sim_create(7);
    struct sim_peer *a = add(s, "r", "amina", true, 600000);
    struct sim_peer *b = add(s, "r", "jan", false, 0);
    struct sim_link lossy = lan;
    lossy.loss = rate;
    sim_peer_set_links(b, &lan, &lossy);
    assert_int_equal(sim_run_until(s, 21 * S), 0);
    char what[64];
    snprintf(what, sizeof what, "%.0f %% loss: jan sees amina", rate * 100);
    report(what, b, "amina");
    const struct sim_video_rx *v = sim_peer_video_from(b, "amina");
    struct sim_stats sa, sb;
    sim_peer_stats(a, &sa);
    sim_peer_stats(b, &sb);
    struct tdm_sfu_stats core;
    tdm_sfu_get_stats(sim_sfu(s), &core);
    printf("  server resent %llu, NACKs to publisher %llu, keyframe requests to it %llu "
           "(publisher got %llu, sent %llu keyframes)\n",
           (unsigned long long)core.resent, (unsigned long long)core.nacks_out,
           (unsigned long long)core.plis_out, (unsigned long long)sa.plis_received,
           (unsigned long long)sa.keyframes_sent);
    assert_non_null(v);
    assert_true(core.resent > 0);
    assert_true(v->frames_decoded >= min_frames);
    assert_true(v->max_freeze_us <= max_freeze);
    /* Keyframe requests reach the publisher at most twice a second (plus the first). */
    assert_true(sa.plis_received <= 2 * 20 + 2);
    (void)sb;
    sim_destroy(s);
}

static void nack_repair_5(void **state)
{
    (void)state;
    loss(0.05, 540, 1000000); /* of ~600 frames in 20 s */
}

static void nack_repair_20(void **state)
{
    (void)state;
    loss(0.20, 300, 3000000);
}

/* A page joining a call that has gone on for a while gets a picture at once: the server
 * asks the publisher for a keyframe when the consumer starts. */
static void keyframe_on_join(void **state)
{
    (void)state;
    struct sim *s = sim_create(3);
    struct sim_peer *a = add(s, "r", "amina", true, 600000);
    add(s, "r", "jan", false, 0);
    assert_int_equal(sim_run_until(s, 10 * S), 0);
    int64_t joined = sim_now(s);
    struct sim_peer *c = add(s, "r", "ngozi", false, 0);
    assert_int_equal(sim_run_until(s, 14 * S), 0);
    const struct sim_video_rx *v = sim_peer_video_from(c, "amina");
    report("ngozi (joined at 10 s)", c, "amina");
    assert_non_null(v);
    printf("  first picture %.0f ms after joining\n", (v->first_frame_us - joined) / 1e3);
    assert_true(v->first_frame_us - joined < 1000000);
    assert_true(v->keyframes >= 1);
    struct sim_stats sa;
    sim_peer_stats(a, &sa);
    assert_true(sa.plis_received >= 2); /* one per subscriber that started */
    sim_destroy(s);
}

/* Many subscribers asking for keyframes at once (each with a lossy line) reach the publisher
 * as at most one request per 0.5 s. */
static void pli_throttling(void **state)
{
    (void)state;
    struct sim *s = sim_create(5);
    struct sim_peer *a = add(s, "r", "amina", true, 600000);
    struct sim_link lossy = lan;
    lossy.loss = 0.25;
    const char *names[] = {"b", "c", "d", "e"};
    for (int i = 0; i < 4; i++)
        sim_peer_set_links(add(s, "r", names[i], false, 0), &lan, &lossy);
    assert_int_equal(sim_run_until(s, 11 * S), 0);
    uint64_t asked = 0;
    struct sim_stats sa;
    sim_peer_stats(a, &sa);
    for (int i = 0; i < 4; i++) {
        (void)names;
    }
    struct tdm_sfu_stats core;
    tdm_sfu_get_stats(sim_sfu(s), &core);
    asked = core.plis_out;
    printf("  keyframe requests to the publisher: %llu in 10 s (it got %llu)\n",
           (unsigned long long)asked, (unsigned long long)sa.plis_received);
    assert_true(sa.plis_received <= 2 * 10 + 2);
    assert_true(sa.plis_received >= 2);
    sim_destroy(s);
}

/* A subscriber whose downlink is policed at 350 kbit/s: its losses lower the estimate the
 * publisher gets (REMB) and the publisher sends less, within 10 s. What this does not do yet
 * (the adaptive-calls issue): the estimate holds where loss is 2-10 %, which with audio and
 * keyframes on the same line keeps the queue full, so the picture still freezes for seconds;
 * the figures are printed for that work. */
static void rate_adaptation(void **state)
{
    (void)state;
    struct sim *s = sim_create(11);
    struct sim_peer *a = add(s, "r", "amina", true, 1500000);
    struct sim_peer *b = add(s, "r", "jan", false, 0);
    struct sim_link policed = lan;
    policed.rate_bps = 350000;
    policed.queue_us = 200000; /* a router's buffer */
    sim_peer_set_links(b, &lan, &policed);
    struct sim_stats sa;
    int64_t adapted_at = 0;
    for (int t = 2; t <= 30; t += 2) {
        assert_int_equal(sim_run_until(s, (int64_t)t * S), 0);
        sim_peer_stats(a, &sa);
        if (!adapted_at && sa.video_bps < 350000)
            adapted_at = t;
        printf("  t=%2d s: publisher sends %4llu kbit/s (REMB %llu)\n", t,
               (unsigned long long)sa.video_bps / 1000, (unsigned long long)sa.remb_bps / 1000);
    }
    const struct sim_video_rx *v = sim_peer_video_from(b, "amina");
    assert_non_null(v);
    uint64_t before = v->frames_decoded;
    assert_int_equal(sim_run_until(s, 40 * S), 0);
    sim_peer_stats(a, &sa);
    report("jan (350 kbit/s policed)", b, "amina");
    printf("  below the link rate after %lld s; frames decoded in the last 10 s: %llu of ~300\n",
           (long long)adapted_at, (unsigned long long)(v->frames_decoded - before));
    assert_true(adapted_at > 0 && adapted_at <= 10);
    assert_true(sa.video_bps < 350000);
    sim_destroy(s);
}

/* People coming and going: every remaining page keeps receiving, its sub description is
 * recycled instead of growing, and nothing is left over. */
static void consumer_churn(void **state)
{
    (void)state;
    struct sim *s = sim_create(13);
    struct sim_peer *a = add(s, "r", "amina", true, 500000);
    struct sim_peer *b = add(s, "r", "jan", true, 500000);
    assert_int_equal(sim_run_until(s, 3 * S), 0);
    char name[16];
    for (int i = 0; i < 8; i++) {
        snprintf(name, sizeof name, "guest%d", i);
        struct sim_peer *g = add(s, "r", name, true, 300000);
        assert_int_equal(sim_run_until(s, sim_now(s) + 2 * S), 0);
        const struct sim_video_rx *gv = sim_peer_video_from(g, "amina");
        assert_non_null(gv);
        assert_true(gv->frames_decoded > 20);
        sim_peer_leave(g);
        assert_int_equal(sim_run_until(s, sim_now(s) + S), 0);
    }
    assert_int_equal(sim_run_until(s, sim_now(s) + 3 * S), 0);
    struct sim_stats sa;
    sim_peer_stats(a, &sa);
    const struct sim_video_rx *v = sim_peer_video_from(a, "jan");
    printf("  amina: %u sub offers, the last with %u m-sections; longest freeze of jan %.0f ms\n",
           sa.offers, sa.offer_media, v ? v->max_freeze_us / 1e3 : -1.0);
    assert_true(sa.offer_media <= 4); /* jan's two and one recycled pair, never 2 per guest */
    assert_true(v && v->max_freeze_us < 500000);
    struct tdm_sfu_stats core;
    tdm_sfu_get_stats(sim_sfu(s), &core);
    assert_int_equal(core.participants, 2);
    (void)b;
    sim_destroy(s);
}

/* A 300 ms round trip with 40 ms of jitter: connections come up and video flows. */
static void long_round_trip(void **state)
{
    (void)state;
    struct sim *s = sim_create(17);
    struct sim_link far = {.delay_us = 75000, .jitter_us = 40000};
    struct sim_peer *a = add(s, "r", "amina", true, 600000);
    struct sim_peer *b = add(s, "r", "jan", true, 600000);
    sim_peer_set_links(a, &far, &far);
    sim_peer_set_links(b, &far, &far);
    assert_int_equal(sim_run_until(s, 12 * S), 0);
    report("jan sees amina (300 ms RTT)", b, "amina");
    const struct sim_video_rx *v = sim_peer_video_from(b, "amina");
    assert_non_null(v);
    assert_true(v->first_frame_us < 4 * S);
    assert_true(v->frames_decoded > 200);
    assert_true(v->max_freeze_us < 300000);
    sim_destroy(s);
}

/* Loss on a publisher's uplink (10 %), on a near line and on a far one (300 ms round trip
 * between the two pages): the server asks again for what is still missing once its round
 * trip to the publisher has passed (at most 100 ms), so pictures keep coming. On the near
 * line, a resend that was lost too is asked for again after ~25 ms instead of 100: the
 * longest freeze over seeds 1-4 was 122-161 ms, against 193-335 ms with a fixed 100 ms. */
static void uplink_loss(const char *what, const struct sim_link *line, uint64_t seed,
                        uint64_t min_frames, int64_t max_freeze)
{
    struct sim *s = sim_create(seed);
    struct sim_link lossy = *line;
    lossy.loss = 0.10;
    struct sim_peer *a = add(s, "r", "amina", true, 600000);
    struct sim_peer *b = add(s, "r", "jan", true, 600000);
    sim_peer_set_links(a, &lossy, line);
    sim_peer_set_links(b, line, line);
    assert_int_equal(sim_run_until(s, 21 * S), 0);
    report(what, b, "amina");
    const struct sim_video_rx *v = sim_peer_video_from(b, "amina");
    struct sim_stats sa;
    sim_peer_stats(a, &sa);
    struct tdm_sfu_stats core;
    tdm_sfu_get_stats(sim_sfu(s), &core);
    printf("  NACK packets to amina %llu, packets she sent again %llu\n",
           (unsigned long long)core.nacks_out, (unsigned long long)sa.resent);
    assert_non_null(v);
    assert_true(v->frames_decoded >= min_frames); /* of ~600 */
    assert_true(v->max_freeze_us <= max_freeze);
    assert_true(sa.resent > 0);
    sim_destroy(s);
}

static void uplink_loss_near_and_far(void **state)
{
    (void)state;
    const struct sim_link far = {.delay_us = 75000, .jitter_us = 20000};
    uplink_loss("10 % up, near: jan sees amina", &lan, SEED_OR(23), 520, 200000);
    uplink_loss("10 % up, far: jan sees amina", &far, SEED_OR(23), 500, 1000000);
}

/* A watcher receives without a pub connection (media.receive_only), then turns its camera
 * on: the other sees it, and its own pictures keep coming on the same sub connection. */
static void receive_only_then_publish(void **state)
{
    (void)state;
    struct sim *s = sim_create(5);
    assert_non_null(s);
    struct sim_peer *a = add(s, "r", "amina", true, 800000);
    struct sim_peer *w = sim_peer_add(s, "r", "watcher");
    assert_non_null(w);
    sim_peer_set_links(w, &lan, &lan);
    sim_peer_receive_only(w);
    assert_int_equal(sim_run_until(s, 6 * S), 0);
    struct tdm_sfu_stats st;
    tdm_sfu_get_stats(sim_sfu(s), &st);
    assert_int_equal(st.peers, 2); /* amina's pub, the watcher's sub: no pub for the watcher */
    const struct sim_video_rx *wa = sim_peer_video_from(w, "amina");
    report("watcher sees amina", w, "amina");
    assert_non_null(wa);
    assert_true(wa->frames_decoded > 120 && wa->first_frame_us < 2 * S);
    uint64_t before = wa->frames_decoded;

    sim_peer_publish(w, true, true, 800000);
    assert_int_equal(sim_run_until(s, 12 * S), 0);
    assert_true(sim_peer_connected(w));
    tdm_sfu_get_stats(sim_sfu(s), &st);
    assert_int_equal(st.peers, 4);
    const struct sim_video_rx *aw = sim_peer_video_from(a, "watcher");
    report("amina sees the watcher", a, "watcher");
    report("watcher sees amina", w, "amina");
    assert_non_null(aw);
    assert_true(aw->frames_decoded > 120);
    wa = sim_peer_video_from(w, "amina");
    assert_true(wa->frames_decoded > before + 150 && wa->max_freeze_us < 300000);
    struct sim_stats ps;
    sim_peer_stats(w, &ps);
    assert_int_equal(ps.errors, 0);
    sim_destroy(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(two_party_call),   cmocka_unit_test(nack_repair_5),
        cmocka_unit_test(nack_repair_20),   cmocka_unit_test(uplink_loss_near_and_far),
        cmocka_unit_test(keyframe_on_join), cmocka_unit_test(pli_throttling),
        cmocka_unit_test(rate_adaptation),  cmocka_unit_test(consumer_churn),
        cmocka_unit_test(long_round_trip),  cmocka_unit_test(receive_only_then_publish),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
