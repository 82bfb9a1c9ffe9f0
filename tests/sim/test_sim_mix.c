/* The Opus mix in the network simulator (server/sfu/audiomix.c): people publish tones of
 * their own frequency, encoded with libopus; one of them turns others' video off (data
 * saver) and from then on receives one audio stream, the server's mix, whose decoded audio
 * holds every other speaker's tone and not their own (Goertzel). Going back to video mode
 * brings the separate streams back. The audio gap at each switch is measured; the second
 * scenario prints the downlink of such a listener in a 6-person call, separate vs mixed
 * (ctest -V). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sim.h"
#include "sim_internal.h" /* sim_command */

#include "sfu_internal.h" /* the room's mixer, a participant's mix fields */

#define S 1000000LL
#define MS 1000LL
#define MAXP 6

static const struct sim_link lan = {.delay_us = 10000, .jitter_us = 2000};
static const char *const names[MAXP] = {"listener", "bola", "chen", "dara", "emre", "fatma"};
/* multiples of 50 Hz: a whole number of periods per 20 ms frame, so no leaking between them;
 * far apart: at 16 kbit/s Opus (SILK) kept only the loudest of three tones 250 Hz apart */
static const double tones[MAXP] = {300, 500, 800, 1200, 1700, 2300};

struct call {
    struct sim *s;
    struct sim_peer *p[MAXP];
    int n;
};

static void start(struct call *c, int n, uint64_t seed)
{
    c->s = sim_create(seed);
    c->n = n;
    assert_non_null(c->s);
    for (int i = 0; i < n; i++) {
        c->p[i] = sim_peer_add(c->s, "r", names[i]);
        assert_non_null(c->p[i]);
        sim_peer_set_links(c->p[i], &lan, &lan);
        sim_peer_set_tone(c->p[i], tones[i]);
        sim_peer_publish(c->p[i], true, false, 0);
    }
    sim_peer_decode_audio(c->p[0], true);
    assert_int_equal(sim_run_until(c->s, 3 * S), 0);
    for (int i = 0; i < n; i++)
        assert_true(sim_peer_connected(c->p[i]));
}

static void run(struct call *c, int64_t d)
{
    assert_int_equal(sim_run_until(c->s, sim_now(c->s) + d), 0);
}

/* The audio streams the listener received since the last reset; the one with the most
 * packets in *top. */
static size_t streams(const struct call *c, struct sim_audio_stream *top)
{
    struct sim_audio_stream st[16];
    size_t n = sim_peer_audio_streams(c->p[0], st, 16);
    memset(top, 0, sizeof *top);
    for (size_t i = 0; i < n; i++)
        if (st[i].packets > top->packets)
            *top = st[i];
    return n;
}

/* Step 10 ms at a time for d: the longest stretch in which the listener got no audio. */
static int64_t longest_silence(struct call *c, int64_t d)
{
    struct sim_stats st;
    sim_peer_stats(c->p[0], &st);
    uint64_t last = st.audio_packets;
    int64_t since = sim_now(c->s), worst = 0, end = sim_now(c->s) + d;
    while (sim_now(c->s) < end) {
        run(c, 10 * MS);
        sim_peer_stats(c->p[0], &st);
        if (st.audio_packets != last) {
            last = st.audio_packets;
            since = sim_now(c->s);
        } else if (sim_now(c->s) - since > worst) {
            worst = sim_now(c->s) - since;
        }
    }
    return worst;
}

static void check_tones(const struct call *c, uint32_t ssrc, int64_t from, int64_t to,
                        const bool *heard)
{
    double share[MAXP];
    for (int i = 0; i < c->n; i++) {
        share[i] = sim_peer_tone_share(c->p[0], ssrc, tones[i], from, to);
        printf("    %-8s %5.0f Hz: %.3f of the energy%s\n", names[i], tones[i], share[i],
               i == 0 ? " (the listener's own voice)" : "");
    }
    for (int i = 0; i < c->n; i++) {
        if (heard[i])
            assert_true(share[i] > 0.08);
        else
            assert_true(share[i] < 0.01);
    }
}

/* The next phase: who speaks; after 2 s the listener's mix holds exactly the tones of the
 * others who speak (3 voices are mixed at most: the listener's own may be one of them). */
static void phase(struct call *c, const bool *speaks, uint32_t mix)
{
    for (int i = 0; i < c->n; i++)
        sim_peer_set_tone(c->p[i], speaks[i] ? tones[i] : 0);
    run(c, 2 * S);
    int64_t t0 = sim_now(c->s);
    run(c, 2 * S);
    struct sim_audio_stream top;
    assert_int_equal(streams(c, &top), 1);
    assert_int_equal(top.ssrc, mix);
    bool heard[MAXP];
    for (int i = 0; i < c->n; i++)
        heard[i] = i != 0 && speaks[i];
    check_tones(c, mix, t0, sim_now(c->s), heard);
}

/* 5 people; the listener switches to data saver: one stream, the others' tones in it, never
 * their own, as speakers come and go; back to video mode: separate streams again. */
static void tones_in_mix(void **state)
{
    (void)state;
    struct call c;
    start(&c, 5, 16);
    sim_peer_set_tone(c.p[3], 0); /* dara and emre are silent at first */
    sim_peer_set_tone(c.p[4], 0);
    run(&c, S);
    struct sim_audio_stream top;
    sim_peer_audio_reset(c.p[0]);
    run(&c, S);
    size_t n = streams(&c, &top);
    printf("  separate streams: %zu audio streams\n", n);
    assert_int_equal(n, 2);

    sim_peer_receive_video(c.p[0], false);
    int64_t gap_on = longest_silence(&c, S);
    sim_peer_audio_reset(c.p[0]);
    int64_t t0 = sim_now(c.s);
    run(&c, 2 * S);
    n = streams(&c, &top);
    printf("  data saver: %zu audio stream(s), %llu packets in 2 s; longest silence at the "
           "switch %lld ms\n",
           n, (unsigned long long)top.packets, (long long)(gap_on / MS));
    assert_int_equal(n, 1);
    assert_true(top.packets >= 95);
    assert_true(gap_on <= 200 * MS);
    uint32_t mix = top.ssrc;
    check_tones(&c, mix, t0 + S / 5, sim_now(c.s), (const bool[]){false, true, true, false, false});
    printf("  bola stops, dara speaks:\n");
    phase(&c, (const bool[]){true, false, true, true, false}, mix);
    printf("  the listener stops, emre speaks:\n");
    phase(&c, (const bool[]){false, false, true, true, true}, mix);

    sim_peer_receive_video(c.p[0], true);
    int64_t gap_off = longest_silence(&c, S);
    sim_peer_audio_reset(c.p[0]);
    run(&c, 2 * S);
    n = streams(&c, &top);
    printf("  video mode again: %zu audio streams; longest silence at the switch %lld ms\n", n,
           (long long)(gap_off / MS));
    assert_int_equal(n, 3);
    assert_true(top.ssrc != mix);
    assert_true(gap_off <= 200 * MS);
    sim_destroy(c.s);
}

static uint64_t kbps(const struct call *c, int64_t d)
{
    struct sim_audio_stream st[16];
    size_t n = sim_peer_audio_streams(c->p[0], st, 16);
    uint64_t bytes = 0;
    for (size_t i = 0; i < n; i++)
        bytes += st[i].bytes;
    return bytes * 8 * S / (uint64_t)d / 1000;
}

/* 6 people, all speaking: the listener's audio downlink, separate vs mixed. */
static void downlink_6(void **state)
{
    (void)state;
    struct call c;
    start(&c, 6, 6);
    sim_peer_audio_reset(c.p[0]);
    run(&c, 5 * S);
    uint64_t sep = kbps(&c, 5 * S);
    sim_peer_receive_video(c.p[0], false);
    run(&c, 2 * S);
    sim_peer_audio_reset(c.p[0]);
    run(&c, 5 * S);
    uint64_t mixed = kbps(&c, 5 * S);
    struct sim_audio_stream top;
    size_t n = streams(&c, &top);
    printf("  6-person call, each speaker at 32 kbit/s Opus: a listener's audio downlink "
           "(SRTP, without IP/UDP)\n    separate streams: %llu kbit/s (5 streams)\n"
           "    the mix:          %llu kbit/s (%zu stream)\n",
           (unsigned long long)sep, (unsigned long long)mixed, n);
    assert_int_equal(n, 1);
    assert_true(mixed * 4 < sep);
    sim_destroy(c.s);
}

static struct part *part_of(struct call *c, int i)
{
    struct room *r = roster_room(sim_sfu(c->s), "r", false);
    return r ? roster_find(r, names[i]) : NULL;
}

static struct tdm_mix *mixer(struct call *c)
{
    struct room *r = roster_room(sim_sfu(c->s), "r", false);
    return r ? r->mix : NULL;
}

static void audio_mode(struct call *c, int i, int8_t mode)
{
    struct tdm_sfu_cmd cmd = {.kind = TDM_SFU_CMD_AUDIO_ONLY, .ao_mode = mode};
    snprintf(cmd.room, sizeof cmd.room, "r");
    snprintf(cmd.pid, sizeof cmd.pid, "%s", names[i]);
    sim_command(c->s, &cmd);
}

/* Who hears the mix, and the mixer's life: none for a 2-person call; on with the third
 * speaker; a second listener (audio-only mode "audio"); the first back to video; the mixer
 * goes when the call is down to two again (its last listener has only one other voice). */
static struct tdm_sfu_stats core_stats(const struct call *c)
{
    struct tdm_sfu_stats st;
    tdm_sfu_get_stats(sim_sfu(c->s), &st);
    return st;
}

static void lifecycle(void **state)
{
    (void)state;
    struct call c;
    start(&c, 2, 7);
    sim_peer_receive_video(c.p[0], false);
    run(&c, S);
    assert_null(mixer(&c));
    assert_int_equal(part_of(&c, 0)->mix_key, 0);
    assert_int_equal(core_stats(&c).mix_rooms, 0);

    c.p[2] = sim_peer_add(c.s, "r", names[2]);
    assert_non_null(c.p[2]);
    c.n = 3;
    sim_peer_set_links(c.p[2], &lan, &lan);
    sim_peer_set_tone(c.p[2], tones[2]);
    sim_peer_publish(c.p[2], true, false, 0);
    run(&c, 3 * S);
    assert_non_null(mixer(&c));
    assert_true(part_of(&c, 0)->mix_live);
    assert_false(part_of(&c, 1)->mix_key);
    struct sim_audio_stream top;
    sim_peer_audio_reset(c.p[0]);
    run(&c, S);
    assert_int_equal(streams(&c, &top), 1);

    audio_mode(&c, 1, TDM_SFU_AO_AUDIO);
    run(&c, S);
    assert_true(part_of(&c, 1)->mix_live);
    struct tdm_sfu_stats st = core_stats(&c);
    printf("  stats with two listeners: rooms %u, listeners %u, packets %llu, frames %llu "
           "(fec %llu, concealed %llu), mean delay %.1f ms\n",
           st.mix_rooms, st.mix_listeners, (unsigned long long)st.mix_packets,
           (unsigned long long)st.mix_frames, (unsigned long long)st.mix_frames_fec,
           (unsigned long long)st.mix_frames_plc,
           st.mix_frames ? (double)st.mix_delay_sum_us / (double)st.mix_frames / 1000.0 : 0.0);
    assert_int_equal(st.mix_rooms, 1);
    assert_int_equal(st.mix_listeners, 2);
    assert_true(st.mix_packets >= 150); /* 50/s for ~4 s to the first listener */
    assert_true(st.mix_frames >= 200);  /* two speakers, 50 frames/s each */
    assert_true(st.mix_delay_sum_us / st.mix_frames < 60000);
    struct tdm_mix *m = mixer(&c);
    sim_peer_receive_video(c.p[0], true);
    run(&c, S);
    assert_false(part_of(&c, 0)->mix_key);
    assert_ptr_equal(mixer(&c), m); /* bola still listens */
    sim_peer_audio_reset(c.p[0]);
    run(&c, S);
    assert_int_equal(streams(&c, &top), 2);

    sim_peer_leave(c.p[2]);
    run(&c, S);
    assert_false(part_of(&c, 1)->mix_key);
    assert_null(mixer(&c));
    struct tdm_sfu_stats end = core_stats(&c);
    assert_int_equal(end.mix_rooms, 0);
    assert_int_equal(end.mix_listeners, 0);
    assert_true(end.mix_frames > st.mix_frames); /* the gone mixer's frames still count */
    printf("  2 people: no mix; 3: on; a second listener; off again; the mixer gone at 2\n");
    sim_destroy(c.s);
}

/* The mixer's counters since `from` (for decodes per tick). */
static void mix_delta(struct call *c, const struct tdm_mix_stats *from, struct tdm_mix_stats *d)
{
    struct tdm_mix_stats now;
    tdm_mix_get_stats(mixer(c), &now);
    d->ticks = now.ticks - from->ticks;
    d->frames_decoded = now.frames_decoded - from->frames_decoded;
    d->frames_fec = now.frames_fec - from->frames_fec;
    d->frames_plc = now.frames_plc - from->frames_plc;
    d->frames_skipped = now.frames_skipped - from->frames_skipped;
}

/* 6 people whose pages send the RFC 6464 level, as browsers do; five speak at -10, -13,
 * -16, -24 and -28 dBFS, the listener (data saver) at -30. K = 3: the listener hears the
 * three loudest, not the two quiet ones, nor itself, and the mixer decodes only those three
 * (the others' packets are passed over). Then the listener speaks up (-6 dBFS): it takes
 * the quietest one's place, and hears the two loudest others only. */
static void loudest_k(void **state)
{
    (void)state;
    static const double dbfs[MAXP] = {-30, -10, -13, -16, -24, -28};
    struct call c;
    c.s = sim_create(23);
    c.n = MAXP;
    assert_non_null(c.s);
    for (int i = 0; i < MAXP; i++) {
        c.p[i] = sim_peer_add(c.s, "r", names[i]);
        assert_non_null(c.p[i]);
        sim_peer_set_links(c.p[i], &lan, &lan);
        sim_peer_set_tone(c.p[i], tones[i]);
        sim_peer_set_tone_shape(c.p[i], dbfs[i], 20, true);
        sim_peer_publish(c.p[i], true, false, 0);
    }
    sim_peer_decode_audio(c.p[0], true);
    run(&c, 3 * S);
    sim_peer_receive_video(c.p[0], false);
    run(&c, 2 * S);
    assert_non_null(mixer(&c));
    struct tdm_mix_stats from, d;
    tdm_mix_get_stats(mixer(&c), &from);
    sim_peer_audio_reset(c.p[0]);
    int64_t t0 = sim_now(c.s);
    run(&c, 2 * S);
    struct sim_audio_stream top;
    assert_int_equal(streams(&c, &top), 1);
    mix_delta(&c, &from, &d);
    printf("  K=3 of 6 by their RFC 6464 levels; in %llu ticks the mixer decoded %llu packets "
           "(%.2f a tick) and passed over %llu (%.2f a tick)\n",
           (unsigned long long)d.ticks, (unsigned long long)d.frames_decoded,
           (double)d.frames_decoded / (double)d.ticks, (unsigned long long)d.frames_skipped,
           (double)d.frames_skipped / (double)d.ticks);
    check_tones(&c, top.ssrc, t0, sim_now(c.s),
                (const bool[]){false, true, true, true, false, false});
    assert_true(d.ticks >= 95);
    assert_int_equal(d.frames_decoded, 3 * d.ticks);
    assert_int_equal(d.frames_skipped, 3 * d.ticks);
    assert_int_equal(d.frames_plc + d.frames_fec, 0);
    uint32_t act[TDM_MIX_ACTIVE_LIMIT];
    assert_int_equal(tdm_mix_active(mixer(&c), act, TDM_MIX_ACTIVE_LIMIT), 3);

    printf("  the listener speaks up:\n");
    sim_peer_set_tone_shape(c.p[0], -6, 20, true);
    run(&c, 2 * S);
    t0 = sim_now(c.s);
    run(&c, 2 * S);
    check_tones(&c, top.ssrc, t0, sim_now(c.s),
                (const bool[]){false, true, true, false, false, false});
    sim_destroy(c.s);
}

/* Pages that send 10, 40 and 60 ms packets (a ptime other than 20): the mixer plays them
 * in its 20 ms ticks without a gap (nothing concealed), and the listener hears all three. */
static void long_and_short_packets(void **state)
{
    (void)state;
    static const unsigned ptime[4] = {20, 10, 40, 60};
    struct call c;
    c.s = sim_create(31);
    c.n = 4;
    assert_non_null(c.s);
    for (int i = 0; i < c.n; i++) {
        c.p[i] = sim_peer_add(c.s, "r", names[i]);
        assert_non_null(c.p[i]);
        sim_peer_set_links(c.p[i], &lan, &lan);
        sim_peer_set_tone(c.p[i], i ? tones[i] : 0);
        sim_peer_set_tone_shape(c.p[i], -12, ptime[i], i != 2); /* one without levels */
        sim_peer_publish(c.p[i], true, false, 0);
    }
    sim_peer_decode_audio(c.p[0], true);
    run(&c, 3 * S);
    sim_peer_receive_video(c.p[0], false);
    run(&c, 2 * S);
    struct tdm_mix_stats from, d;
    tdm_mix_get_stats(mixer(&c), &from);
    sim_peer_audio_reset(c.p[0]);
    int64_t t0 = sim_now(c.s);
    run(&c, 3 * S);
    struct sim_audio_stream top;
    assert_int_equal(streams(&c, &top), 1);
    mix_delta(&c, &from, &d);
    printf("  10, 40 and 60 ms packets: %llu ticks, %llu packets decoded, %llu concealed, %llu "
           "from FEC; the mix: %llu packets, longest gap %lld ms\n",
           (unsigned long long)d.ticks, (unsigned long long)d.frames_decoded,
           (unsigned long long)d.frames_plc, (unsigned long long)d.frames_fec,
           (unsigned long long)top.packets, (long long)(top.max_gap_us / MS));
    check_tones(&c, top.ssrc, t0, sim_now(c.s), (const bool[]){false, true, true, true});
    assert_int_equal(d.frames_plc + d.frames_fec, 0);
    /* per tick: two 10 ms packets, half a 40 ms one, a third of a 60 ms one */
    assert_true(d.frames_decoded >= d.ticks * 2 + d.ticks / 2 + d.ticks / 3 - 3);
    assert_true(top.packets >= 145);
    assert_true(top.max_gap_us <= 30 * MS);
    sim_destroy(c.s);
}

/* A page that refuses the mix m-section (port 0 in its answer) keeps its separate audio
 * streams: the mix is not offered again, and the mixer goes (no one else listens). */
static void refused_mix(void **state)
{
    (void)state;
    struct call c;
    start(&c, 3, 41);
    sim_peer_refuse_mix(c.p[0], true);
    sim_peer_receive_video(c.p[0], false);
    run(&c, 2 * S);
    struct part *q = part_of(&c, 0);
    assert_true(q->mix_refused);
    assert_int_equal(q->mix_key, 0);
    assert_false(q->mix_live);
    assert_null(mixer(&c));
    sim_peer_audio_reset(c.p[0]);
    int64_t t0 = sim_now(c.s);
    run(&c, 2 * S);
    struct sim_audio_stream st[8];
    memset(st, 0, sizeof st);
    size_t n = sim_peer_audio_streams(c.p[0], st, 8);
    printf("  the mix refused: %zu audio streams, %llu and %llu packets in 2 s\n", n,
           (unsigned long long)st[0].packets, (unsigned long long)(n > 1 ? st[1].packets : 0));
    assert_int_equal(n, 2);
    for (size_t i = 0; i < n; i++) {
        assert_true(st[i].packets >= 95);
        double b = sim_peer_tone_share(c.p[0], st[i].ssrc, tones[1], t0, sim_now(c.s));
        double k = sim_peer_tone_share(c.p[0], st[i].ssrc, tones[2], t0, sim_now(c.s));
        assert_true(b > 0.5 || k > 0.5);
    }
    assert_int_equal(core_stats(&c).mix_listeners, 0);
    /* video on and off again: still no mix for this connection */
    sim_peer_receive_video(c.p[0], true);
    run(&c, S);
    sim_peer_receive_video(c.p[0], false);
    run(&c, S);
    assert_int_equal(part_of(&c, 0)->mix_key, 0);
    assert_null(mixer(&c));
    sim_destroy(c.s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tones_in_mix),
        cmocka_unit_test(downlink_6),
        cmocka_unit_test(lifecycle),
        cmocka_unit_test(loudest_k),
        cmocka_unit_test(long_and_short_packets),
        cmocka_unit_test(refused_mix),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
