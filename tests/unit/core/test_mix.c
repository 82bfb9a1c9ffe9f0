/* The Opus mix: speakers send tones of their own frequency, encoded with libopus; every
 * listener's stream, decoded with libopus, must hold the tones of the others (Goertzel)
 * and not their own. Deterministic: virtual time, fixed signals, a fixed-seed generator. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <cmocka.h>

#include <opus/opus.h>

#include "tandem/err.h"
#include "tandem/mix.h"

#define NSPK 4
#define MAXL 6
#define FRAMES 150    /* 3 s */
#define WARMUP 50     /* frames left out of the analysis */
#define PRESENT 0.1   /* a tone heard: at least -10 dB under the strongest */
#define ABSENT 0.001  /* a tone not heard: at least -30 dB under the strongest */
#define MAXFRAMES 300 /* the longest scenario: 6 s */

static const double freqs[NSPK] = {400, 600, 900, 1300};

struct sender {
    OpusEncoder *enc;
    double freq, amp, phase;
    int level; /* sent with each packet (TDM_MIX_NO_LEVEL: none) */
};

struct receiver {
    OpusDecoder *dec;
    int16_t pcm[MAXFRAMES * TDM_MIX_FRAME];
    uint32_t hash[MAXFRAMES]; /* of each tick's payload (0: none) */
    size_t frames;            /* ticks decoded: silence (DTX) included */
    bool got;
    uint16_t seq;
    uint32_t ts;
    unsigned packets, markers;
    uint16_t len[MAXFRAMES]; /* of each tick's payload (0: none) */
};

struct scen {
    struct tdm_mix *m;
    struct sender snd[NSPK];
    struct receiver rcv[MAXL];
    unsigned nspk, nlis;
    bool (*drop)(unsigned spk, unsigned frame);
    bool reorder;     /* swap each pair of packets */
    unsigned talk_to; /* speaker 3 stops after this frame (0: never) */
    bool all_stop;    /* ... and with it everyone */
    uint8_t held[NSPK][TDM_MIX_MAX_PAYLOAD];
    int held_len[NSPK];
};

static void sender_init(struct sender *s, double freq, int level)
{
    int err;
    s->enc = opus_encoder_create(48000, 1, OPUS_APPLICATION_VOIP, &err);
    assert_non_null(s->enc);
    opus_encoder_ctl(s->enc, OPUS_SET_BITRATE(32000));
    opus_encoder_ctl(s->enc, OPUS_SET_INBAND_FEC(1));
    opus_encoder_ctl(s->enc, OPUS_SET_PACKET_LOSS_PERC(10));
    s->freq = freq;
    s->amp = 6000;
    s->phase = 0;
    s->level = level;
}

static int sender_frame(struct sender *s, bool silent, uint8_t *out)
{
    int16_t pcm[TDM_MIX_FRAME];
    for (size_t i = 0; i < TDM_MIX_FRAME; i++) {
        pcm[i] = silent ? 0 : (int16_t)(s->amp * sin(s->phase));
        s->phase += 2 * M_PI * s->freq / 48000;
    }
    int n = opus_encode(s->enc, pcm, TDM_MIX_FRAME, out, TDM_MIX_MAX_PAYLOAD);
    assert_true(n > 0);
    return n;
}

/* Each packet must continue the listener's RTP stream: sequence numbers without a gap,
 * timestamps 960 apart per tick, the marker on the first one and on the first after DTX
 * silence (the ticks without a packet, which the decoder fills as a browser's does). */
static void receive(struct receiver *r, const struct tdm_mix_out *o, size_t tick)
{
    if (r->got) {
        assert_int_equal(o->seq, (uint16_t)(r->seq + 1));
        assert_int_equal(o->ts - r->ts, (uint32_t)(tick - r->frames + 1) * TDM_MIX_FRAME);
        assert_int_equal(o->marker, tick > r->frames);
        for (; r->frames < tick; r->frames++)
            assert_int_equal(
                opus_decode(r->dec, NULL, 0, r->pcm + r->frames * TDM_MIX_FRAME, TDM_MIX_FRAME, 0),
                TDM_MIX_FRAME);
    } else {
        assert_true(o->marker);
    }
    r->markers += o->marker;
    r->got = true;
    r->seq = o->seq;
    r->ts = o->ts;
    r->packets++;
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < o->len; i++)
        h = (h ^ o->payload[i]) * 16777619u;
    r->hash[tick] = h | 1;
    r->len[tick] = (uint16_t)o->len;
    int n = opus_decode(r->dec, o->payload, (opus_int32)o->len, r->pcm + tick * TDM_MIX_FRAME,
                        TDM_MIX_FRAME, 0);
    assert_int_equal(n, TDM_MIX_FRAME);
    r->frames = tick + 1;
}

static void scen_init(struct scen *sc, const struct tdm_mix_cfg *cfg, unsigned nspk, bool self)
{
    memset(sc, 0, sizeof *sc);
    sc->m = tdm_mix_create(cfg);
    assert_non_null(sc->m);
    sc->nspk = nspk;
    for (unsigned i = 0; i < nspk; i++) {
        sender_init(&sc->snd[i], freqs[i], TDM_MIX_NO_LEVEL);
        assert_int_equal(tdm_mix_add_speaker(sc->m, 100 + i), 0);
    }
    /* listeners 0..nspk-1 are the speakers (when self), the last one only listens */
    sc->nlis = self ? nspk + 1 : 1;
    for (unsigned i = 0; i < sc->nlis; i++) {
        int err;
        sc->rcv[i].dec = opus_decoder_create(48000, 1, &err);
        assert_non_null(sc->rcv[i].dec);
        uint32_t own = self && i < nspk ? 100 + i : TDM_MIX_NO_SPEAKER;
        assert_int_equal(
            tdm_mix_add_listener(sc->m, 200 + i, own, (uint16_t)(65530 + i * 7), 0xfffff000u + i),
            0);
    }
}

static void scen_free(struct scen *sc)
{
    for (unsigned i = 0; i < sc->nspk; i++)
        opus_encoder_destroy(sc->snd[i].enc);
    for (unsigned i = 0; i < sc->nlis; i++)
        opus_decoder_destroy(sc->rcv[i].dec);
    tdm_mix_destroy(sc->m);
}

static void push_ok(struct scen *sc, unsigned i, const uint8_t *p, int len, unsigned k, int64_t now)
{
    int rc = tdm_mix_push(sc->m, 100 + i, p, (size_t)len, (uint16_t)(1000 * i + k),
                          7777u * i + (uint32_t)k * TDM_MIX_FRAME, sc->snd[i].level, now);
    assert_int_equal(rc, 0);
}

/* Packet k of every speaker arrives 3 ms into frame k; the mixer ticks at the frame's end. */
static void scen_run(struct scen *sc, unsigned frames)
{
    for (unsigned k = 0; k < frames; k++) {
        int64_t now = (int64_t)k * TDM_MIX_TICK_US + 3000;
        for (unsigned i = 0; i < sc->nspk; i++) {
            uint8_t pkt[TDM_MIX_MAX_PAYLOAD];
            bool silent = sc->talk_to && (i == 3 || sc->all_stop) && k > sc->talk_to;
            int len = sender_frame(&sc->snd[i], silent, pkt);
            if (silent || (sc->drop && sc->drop(i, k)))
                continue;
            if (sc->reorder && k % 2 == 0) {
                memcpy(sc->held[i], pkt, (size_t)len);
                sc->held_len[i] = len;
                continue;
            }
            push_ok(sc, i, pkt, len, k, now);
            if (sc->reorder)
                push_ok(sc, i, sc->held[i], sc->held_len[i], k - 1, now);
        }
        int64_t tick = (int64_t)(k + 1) * TDM_MIX_TICK_US;
        assert_int_equal(tdm_mix_tick(sc->m, tick), tick + TDM_MIX_TICK_US);
        struct tdm_mix_out o;
        while (tdm_mix_next_output(sc->m, &o)) {
            assert_true(o.listener >= 200 && o.listener < 200 + sc->nlis);
            receive(&sc->rcv[o.listener - 200], &o, k);
        }
    }
}

static double goertzel(const int16_t *x, size_t n, double f)
{
    double coeff = 2 * cos(2 * M_PI * f / 48000), s1 = 0, s2 = 0;
    for (size_t i = 0; i < n; i++) {
        double s = x[i] + coeff * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    return s1 * s1 + s2 * s2 - coeff * s1 * s2;
}

/* Each tone's power relative to the strongest of the four, over frames [from, to). */
static void tones(const struct receiver *r, unsigned from, unsigned to, double rel[NSPK])
{
    double p[NSPK], max = 0;
    for (unsigned i = 0; i < NSPK; i++) {
        p[i] = goertzel(r->pcm + from * TDM_MIX_FRAME, (to - from) * TDM_MIX_FRAME, freqs[i]);
        max = p[i] > max ? p[i] : max;
    }
    assert_true(max > 1e9); /* something was heard at all */
    for (unsigned i = 0; i < NSPK; i++)
        rel[i] = p[i] / max;
}

/* hears: bit i set = speaker i's tone must be there, clear = must not. */
static void expect(const struct receiver *r, unsigned hears)
{
    double rel[NSPK];
    tones(r, WARMUP, FRAMES, rel);
    for (unsigned i = 0; i < NSPK; i++) {
        if (hears & (1u << i)) {
            if (rel[i] < PRESENT)
                fail_msg("tone %u Hz missing: %.5f", (unsigned)freqs[i], rel[i]);
        } else if (rel[i] > ABSENT) {
            fail_msg("tone %u Hz heard: %.5f", (unsigned)freqs[i], rel[i]);
        }
    }
}

static struct tdm_mix_cfg cfg_k(unsigned k)
{
    struct tdm_mix_cfg c;
    tdm_mix_cfg_default(&c);
    c.active = k;
    return c;
}

static void each_hears_the_others_not_itself(void **state)
{
    (void)state;
    struct scen sc;
    struct tdm_mix_cfg c = cfg_k(4);
    scen_init(&sc, &c, NSPK, true);
    scen_run(&sc, FRAMES);
    for (unsigned i = 0; i < NSPK; i++)
        expect(&sc.rcv[i], 0xfu & ~(1u << i));
    expect(&sc.rcv[NSPK], 0xf);
    struct tdm_mix_stats st;
    tdm_mix_get_stats(sc.m, &st);
    assert_int_equal(st.frames_plc + st.frames_fec, 0);
    assert_int_equal(st.outputs_dropped, 0);
    assert_int_equal(st.ticks, FRAMES);
    /* shared: one encoder for the listener who only listens, one for each of the four */
    assert_true(st.encodes <= (uint64_t)FRAMES * 5);
    for (unsigned i = 0; i <= NSPK; i++)
        assert_true(sc.rcv[i].packets > FRAMES / 2);
    scen_free(&sc);
}

/* K = 3 of 4: the quietest (by its RFC 6464 level) is left out for everyone. */
static void at_most_k_by_level(void **state)
{
    (void)state;
    struct scen sc;
    struct tdm_mix_cfg c = cfg_k(3);
    scen_init(&sc, &c, NSPK, true);
    for (unsigned i = 0; i < NSPK; i++)
        sc.snd[i].level = i == 2 ? 40 : 20; /* 900 Hz says it is quieter */
    scen_run(&sc, FRAMES);
    uint32_t act[8];
    assert_int_equal(tdm_mix_active(sc.m, act, 8), 3);
    expect(&sc.rcv[0], 0x8 | 0x2);
    expect(&sc.rcv[1], 0x8 | 0x1);
    expect(&sc.rcv[2], 0x8 | 0x2 | 0x1); /* not mixed: hears all K */
    expect(&sc.rcv[3], 0x2 | 0x1);
    expect(&sc.rcv[NSPK], 0x8 | 0x2 | 0x1);
    scen_free(&sc);
}

/* Without levels the decoded energy chooses: a tone 20 dB quieter is left out. */
static void at_most_k_by_energy(void **state)
{
    (void)state;
    struct scen sc;
    struct tdm_mix_cfg c = cfg_k(3);
    scen_init(&sc, &c, NSPK, false);
    sc.snd[0].amp = 600;
    scen_run(&sc, FRAMES);
    expect(&sc.rcv[0], 0x8 | 0x4 | 0x2);
    scen_free(&sc);
}

static bool every_tenth(unsigned spk, unsigned frame)
{
    return frame % 10 == 9 - spk;
}

static void loss_is_concealed(void **state)
{
    (void)state;
    struct scen sc;
    struct tdm_mix_cfg c = cfg_k(4);
    scen_init(&sc, &c, NSPK, true);
    sc.drop = every_tenth;
    scen_run(&sc, FRAMES);
    for (unsigned i = 0; i < NSPK; i++)
        expect(&sc.rcv[i], 0xfu & ~(1u << i));
    expect(&sc.rcv[NSPK], 0xf);
    struct tdm_mix_stats st;
    tdm_mix_get_stats(sc.m, &st);
    /* every loss but the first frame's is rebuilt from the next packet's FEC */
    assert_int_equal(st.frames_fec, NSPK * FRAMES / 10 - 1);
    assert_int_equal(st.frames_plc, 0);
    scen_free(&sc);
}

static void reordered_packets_play_in_order(void **state)
{
    (void)state;
    struct scen sc;
    struct tdm_mix_cfg c = cfg_k(4);
    scen_init(&sc, &c, NSPK, true);
    sc.reorder = true;
    scen_run(&sc, FRAMES);
    for (unsigned i = 0; i < NSPK; i++)
        expect(&sc.rcv[i], 0xfu & ~(1u << i));
    struct tdm_mix_stats st;
    tdm_mix_get_stats(sc.m, &st);
    assert_int_equal(st.frames_plc + st.frames_fec + st.packets_late + st.packets_dropped, 0);
    assert_int_equal(st.frames_decoded, NSPK * (FRAMES - 1));
    scen_free(&sc);
}

/* K = 1: a newcomer 3 dB louder does not take the place; 10 dB louder it does, once; when
 * it stops, the first one is back as soon as the newcomer's level has fallen by the margin;
 * when that one stops too, it stays for the hang-over (no one else needs the place). */
static void choice_holds_then_hands_over(void **state)
{
    (void)state;
    struct tdm_mix_cfg c = cfg_k(1);
    struct tdm_mix *m = tdm_mix_create(&c);
    assert_non_null(m);
    struct sender snd[2];
    for (uint32_t i = 0; i < 2; i++) {
        sender_init(&snd[i], freqs[i], TDM_MIX_NO_LEVEL);
        assert_int_equal(tdm_mix_add_speaker(m, i), 0);
    }
    assert_int_equal(tdm_mix_add_listener(m, 9, TDM_MIX_NO_SPEAKER, 0, 0), 0);
    uint32_t who = UINT32_MAX;
    unsigned changes = 0, first_change = 0, second_change = 0, empty = 0;
    for (unsigned k = 0; k < 240; k++) {
        int64_t now = (int64_t)k * TDM_MIX_TICK_US + 3000;
        for (uint32_t i = 0; i < 2; i++) {
            bool talks = i == 0 ? k < 150 : k >= 20 && k < 100;
            int level = i == 0 ? 30 : k < 60 ? 27 : 20;
            uint8_t p[TDM_MIX_MAX_PAYLOAD];
            int len = sender_frame(&snd[i], !talks, p);
            if (talks)
                assert_int_equal(tdm_mix_push(m, i, p, (size_t)len, (uint16_t)k,
                                              (uint32_t)k * TDM_MIX_FRAME, level, now),
                                 0);
        }
        tdm_mix_tick(m, (int64_t)(k + 1) * TDM_MIX_TICK_US);
        struct tdm_mix_out o;
        while (tdm_mix_next_output(m, &o))
            ;
        uint32_t act[2];
        size_t n = tdm_mix_active(m, act, 2);
        if (n == 0 && k > 0 && !empty)
            empty = k;
        assert_true(k == 0 || empty ? n == 0 : n == 1);
        if (n == 1 && act[0] != who) {
            if (who != UINT32_MAX) {
                changes++;
                *(changes == 1 ? &first_change : &second_change) = k;
            }
            who = act[0];
        }
    }
    assert_int_equal(changes, 2);
    assert_in_range(first_change, 60, 62); /* 10 dB louder: at once */
    assert_in_range(second_change, 100, 110);
    assert_int_equal(who, 0);
    assert_in_range(empty, 200, 210); /* the hang-over: 1 s after its last frame */
    for (int i = 0; i < 2; i++)
        opus_encoder_destroy(snd[i].enc);
    tdm_mix_destroy(m);
}

/* The shared encoder costs no seam: with it, every listener's packets are the very bytes
 * an encoder of their own would have sent, until a speaker's voice leaves the mix and
 * their stream goes back to the shared packets; what they decode then stays within a
 * small error of the encoder-per-listener stream. */
static void shared_encoder_is_seamless(void **state)
{
    (void)state;
    static struct scen a, b;
    struct tdm_mix_cfg c = cfg_k(4);
    scen_init(&a, &c, NSPK, true);
    c.share_encoder = false;
    scen_init(&b, &c, NSPK, true);
    a.talk_to = b.talk_to = 60;
    scen_run(&a, MAXFRAMES);
    scen_run(&b, MAXFRAMES);
    struct tdm_mix_stats sa, sb;
    tdm_mix_get_stats(a.m, &sa);
    tdm_mix_get_stats(b.m, &sb);
    assert_true(sa.encodes < sb.encodes);
    for (unsigned l = 0; l <= NSPK; l++) {
        unsigned k = 0;
        while (k < MAXFRAMES && a.rcv[l].hash[k] == b.rcv[l].hash[k])
            k++;
        if (l != 3) {
            assert_int_equal(k, MAXFRAMES);
            continue;
        }
        /* speaker 3 stopped after frame 60, its voice was gone from the mix after the
         * concealed frames; back to shared after TDM_MIX_CONVERGE_FRAMES more */
        assert_in_range(k, 60 + TDM_MIX_MAX_CONCEAL,
                        60 + TDM_MIX_MAX_CONCEAL + 2 + TDM_MIX_CONVERGE_FRAMES);
        /* a seam would be a click or a drop-out: a frame louder or quieter than the
         * encoder-per-listener stream's */
        double worst = 0;
        for (unsigned f = k; f < MAXFRAMES; f++) {
            double ea = 1, eb = 1;
            for (size_t i = f * TDM_MIX_FRAME; i < (f + 1) * TDM_MIX_FRAME; i++) {
                ea += (double)a.rcv[l].pcm[i] * a.rcv[l].pcm[i];
                eb += (double)b.rcv[l].pcm[i] * b.rcv[l].pcm[i];
            }
            double db = fabs(10 * log10(ea / eb));
            worst = db > worst ? db : worst;
        }
        print_message("listener 3 back on the shared encoder at frame %u; frame energy within "
                      "%.2f dB of its own encoder's\n",
                      k, worst);
        assert_true(worst < 1.5); /* 1.04 measured; 2.25 without converging */
    }
    scen_free(&a);
    scen_free(&b);
}

/* Everyone falls silent: the listener gets the first DTX frame (1-2 bytes) of each pause, right
 * after a packet of sound (the last words, or the comfort noise libopus sends every 400 ms),
 * and nothing else until the next sound: its browser then plays comfort noise instead of
 * concealing a loss. */
static void pauses_announce_their_dtx(void **state)
{
    (void)state;
    static struct scen sc;
    struct tdm_mix_cfg c = cfg_k(4);
    scen_init(&sc, &c, NSPK, false);
    sc.talk_to = sc.all_stop = 60;
    scen_run(&sc, MAXFRAMES);
    const struct receiver *r = &sc.rcv[0];
    unsigned dtx = 0, sound = 0;
    for (unsigned k = 61; k < MAXFRAMES; k++) {
        if (r->len[k] == 0 || r->len[k] > 2) {
            sound += r->len[k] > 2;
            continue;
        }
        dtx++;
        assert_true(r->len[k - 1] > 2); /* the first of its pause only */
    }
    print_message("after the voices stopped: %u DTX frames and %u packets of sound in %u ticks\n",
                  dtx, sound, MAXFRAMES - 61);
    assert_true(dtx >= 5); /* one per 400 ms once the encoder is in DTX */
    assert_true(dtx + sound < (MAXFRAMES - 61) / 3);
    scen_free(&sc);
}

static int push1(struct tdm_mix *m, const uint8_t *p, size_t len, uint16_t seq, uint32_t ts,
                 int64_t now)
{
    return tdm_mix_push(m, 7, p, len, seq, ts, TDM_MIX_NO_LEVEL, now);
}

static void bad_inputs_rejected(void **state)
{
    (void)state;
    struct tdm_mix *m = tdm_mix_create(NULL);
    assert_non_null(m);
    struct sender snd;
    sender_init(&snd, 500, TDM_MIX_NO_LEVEL);
    uint8_t p[TDM_MIX_MAX_PAYLOAD + 8];
    int len = sender_frame(&snd, false, p);
    size_t n = (size_t)len;

    assert_int_equal(tdm_mix_add_speaker(m, 7), 0);
    assert_int_equal(tdm_mix_add_speaker(m, 7), TDM_EEXIST);
    assert_int_equal(tdm_mix_add_speaker(m, TDM_MIX_NO_SPEAKER), TDM_EINVAL);
    assert_int_equal(tdm_mix_remove_speaker(m, 8), TDM_ENOTFOUND);
    assert_int_equal(tdm_mix_add_listener(m, 1, 7, 0, 0), 0);
    assert_int_equal(tdm_mix_add_listener(m, 1, 7, 0, 0), TDM_EEXIST);
    assert_int_equal(tdm_mix_remove_listener(m, 2), TDM_ENOTFOUND);

    assert_int_equal(tdm_mix_push(m, 8, p, n, 10, 0, TDM_MIX_NO_LEVEL, 0), TDM_ENOTFOUND);
    assert_int_equal(push1(m, NULL, n, 10, 0, 0), TDM_EINVAL);
    assert_int_equal(push1(m, p, 0, 10, 0, 0), TDM_EINVAL);
    assert_int_equal(push1(m, p, TDM_MIX_MAX_PAYLOAD + 1, 10, 0, 0), TDM_ETOOBIG);
    assert_int_equal(tdm_mix_push(m, 7, p, n, 10, 0, 128, 0), TDM_EINVAL);
    assert_int_equal(tdm_mix_push(m, 7, p, n, 10, 0, -2, 0), TDM_EINVAL);
    const uint8_t code3_no_frames[] = {0x03 | 0x78, 0x00}; /* RFC 6716 §3.2.5: M = 0 */
    assert_int_equal(push1(m, code3_no_frames, sizeof code3_no_frames, 10, 0, 0), TDM_EINVAL);
    const uint8_t code1_odd[] = {0x01 | 0x78, 1, 2, 3}; /* two equal frames in 3 bytes */
    assert_int_equal(push1(m, code1_odd, sizeof code1_odd, 10, 0, 0), TDM_EINVAL);
    int16_t pcm5[TDM_MIX_FRAME / 4] = {0}; /* 5 ms (10 to 60 ms are taken: test_mix_ptime.c) */
    uint8_t p5[TDM_MIX_MAX_PAYLOAD];
    int n5 = opus_encode(snd.enc, pcm5, TDM_MIX_FRAME / 4, p5, sizeof p5);
    assert_true(n5 > 0);
    assert_int_equal(push1(m, p5, (size_t)n5, 10, 0, 0), TDM_EUNSUPP);

    /* the stream starts at seq 10, ts 0 */
    assert_int_equal(push1(m, p, n, 10, 0, 0), 0);
    assert_int_equal(push1(m, p, n, 10, 0, 1000), TDM_EEXIST);
    assert_int_equal(push1(m, p, n, 11, 960, 20000), 0);
    assert_int_equal(push1(m, p, n, 11, 960, 20000), TDM_EEXIST);
    /* a timestamp that disagrees with the sequence number or the time elapsed */
    assert_int_equal(push1(m, p, n, 12, 960 + 480, 40000), TDM_EINVAL);
    assert_int_equal(push1(m, p, n, 14, 960 * 3 + 48000 * 10, 60000), TDM_EINVAL);
    assert_int_equal(push1(m, p, n, 12, 960 * 2, 40000), 0);
    /* a wild jump is refused, once */
    assert_int_equal(push1(m, p, n, 5000, 123456789, 60000), TDM_EINVAL);
    assert_int_equal(push1(m, p, n, 13, 960 * 3, 60000), 0);
    assert_int_equal(push1(m, p, n, 30000, 5, 80000), TDM_EINVAL);
    assert_int_equal(push1(m, p, n, 30001, 5 + 960, 100000), 0); /* a sender restart */
    struct tdm_mix_stats st;
    tdm_mix_get_stats(m, &st);
    assert_int_equal(st.restarts, 1);
    assert_int_equal(st.packets_rejected, 12);

    /* played, then too late */
    assert_int_equal(push1(m, p, n, 30002, 5 + 1920, 100000), 0);
    for (int64_t t = 100000; t <= 180000; t += TDM_MIX_TICK_US)
        tdm_mix_tick(m, t);
    assert_int_equal(push1(m, p, n, 30000, 5, 180000), TDM_EAGAIN);
    /* a tick before its deadline does nothing */
    tdm_mix_get_stats(m, &st);
    uint64_t ticks = st.ticks;
    assert_int_equal(tdm_mix_tick(m, 181000), 200000);
    tdm_mix_get_stats(m, &st);
    assert_int_equal(st.ticks, ticks);

    assert_int_equal(tdm_mix_remove_speaker(m, 7), 0);
    assert_int_equal(push1(m, p, n, 30003, 5 + 2880, 200000), TDM_ENOTFOUND);
    assert_int_equal(tdm_mix_remove_listener(m, 1), 0);
    opus_encoder_destroy(snd.enc);
    tdm_mix_destroy(m);
}

static void limits_and_bad_config(void **state)
{
    (void)state;
    struct tdm_mix_cfg c;
    tdm_mix_cfg_default(&c);
    c.max_speakers = 2;
    c.max_listeners = 2;
    struct tdm_mix *m = tdm_mix_create(&c);
    assert_non_null(m);
    assert_int_equal(tdm_mix_add_speaker(m, 1), 0);
    assert_int_equal(tdm_mix_add_speaker(m, 2), 0);
    assert_int_equal(tdm_mix_add_speaker(m, 3), TDM_EFULL);
    assert_int_equal(tdm_mix_add_listener(m, 1, TDM_MIX_NO_SPEAKER, 0, 0), 0);
    assert_int_equal(tdm_mix_add_listener(m, 2, 1, 0, 0), 0);
    assert_int_equal(tdm_mix_add_listener(m, 3, 2, 0, 0), TDM_EFULL);
    assert_int_equal(tdm_mix_remove_speaker(m, 1), 0);
    assert_int_equal(tdm_mix_add_speaker(m, 3), 0);
    tdm_mix_destroy(m);
    tdm_mix_destroy(NULL);

    struct tdm_mix_cfg bad[9];
    for (size_t i = 0; i < 9; i++)
        tdm_mix_cfg_default(&bad[i]);
    bad[0].max_speakers = 0;
    bad[1].max_listeners = TDM_MIX_LISTENERS_LIMIT + 1;
    bad[2].active = 0;
    bad[3].active = TDM_MIX_ACTIVE_LIMIT + 1;
    bad[4].jitter_frames = 0;
    bad[5].bitrate = 500;
    bad[6].expected_loss_pct = 90;
    bad[7].complexity = 11;
    bad[8].hangover_us = -1;
    for (size_t i = 0; i < 9; i++)
        assert_null(tdm_mix_create(&bad[i]));
}

/* Random bytes, numbers and times from a fixed seed: every call returns a code, never
 * crashes (ASan/UBSan in the test build), and the outputs stay well-formed. */
static void garbage_is_survived(void **state)
{
    (void)state;
    struct tdm_mix_cfg c;
    tdm_mix_cfg_default(&c);
    c.share_encoder = false;
    struct tdm_mix *m = tdm_mix_create(&c);
    assert_non_null(m);
    for (uint32_t i = 0; i < 3; i++) {
        assert_int_equal(tdm_mix_add_speaker(m, i), 0);
        assert_int_equal(tdm_mix_add_listener(m, i, i, 0, 0), 0);
    }
    uint32_t x = 12345;
    uint8_t p[TDM_MIX_MAX_PAYLOAD + 1];
    int64_t now = 0;
    unsigned accepted = 0;
    for (int round = 0; round < 20000; round++) {
        x = x * 1664525u + 1013904223u;
        size_t len = (x >> 8) % 64;
        for (size_t k = 0; k < len; k++) {
            x = x * 1664525u + 1013904223u;
            p[k] = (uint8_t)(x >> 24);
        }
        p[0] = (uint8_t)((p[0] & 0x07) | 0x08 * (x % 32)); /* often a valid 20 ms TOC */
        int rc = tdm_mix_push(m, x % 4, p, len, (uint16_t)(round / 3 + (x & 3)),
                              (uint32_t)(round / 3) * TDM_MIX_FRAME, (int)(x % 130) - 1, now);
        assert_true(rc <= 0);
        accepted += rc == 0;
        now += 7000;
        if (round % 3 == 0)
            tdm_mix_tick(m, now);
        struct tdm_mix_out o;
        while (tdm_mix_next_output(m, &o))
            assert_true(o.len >= 1 && o.len <= TDM_MIX_OUT_MAX); /* a DTX frame: 1-2 */
    }
    assert_true(accepted > 100);
    tdm_mix_destroy(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(each_hears_the_others_not_itself),
        cmocka_unit_test(at_most_k_by_level),
        cmocka_unit_test(at_most_k_by_energy),
        cmocka_unit_test(loss_is_concealed),
        cmocka_unit_test(reordered_packets_play_in_order),
        cmocka_unit_test(pauses_announce_their_dtx),
        cmocka_unit_test(choice_holds_then_hands_over),
        cmocka_unit_test(shared_encoder_is_seamless),
        cmocka_unit_test(bad_inputs_rejected),
        cmocka_unit_test(limits_and_bad_config),
        cmocka_unit_test(garbage_is_survived),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
