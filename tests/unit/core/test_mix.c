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
#define FRAMES 150   /* 3 s */
#define WARMUP 50    /* frames left out of the analysis */
#define PRESENT 0.1  /* a tone heard: at least -10 dB under the strongest */
#define ABSENT 0.001 /* a tone not heard: at least -30 dB under the strongest */
#define FAR 1000     /* the receiver's view of nothing received */

static const double freqs[NSPK] = {400, 600, 900, 1300};

struct sender {
    OpusEncoder *enc;
    double freq, amp, phase;
    int level; /* sent with each packet (TDM_MIX_NO_LEVEL: none) */
};

struct receiver {
    OpusDecoder *dec;
    int16_t pcm[FRAMES * TDM_MIX_FRAME];
    size_t frames; /* ticks decoded: silence (DTX) included */
    bool got;
    uint16_t seq;
    uint32_t ts;
    unsigned packets, markers;
};

struct scen {
    struct tdm_mix *m;
    struct sender snd[NSPK];
    struct receiver rcv[MAXL];
    unsigned nspk, nlis;
    bool (*drop)(unsigned spk, unsigned frame);
    bool reorder;     /* swap each pair of packets */
    unsigned talk_to; /* speaker 3 stops after this frame (0: never) */
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
            bool silent = sc->talk_to && i == 3 && k > sc->talk_to;
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(each_hears_the_others_not_itself),
        cmocka_unit_test(at_most_k_by_level),
        cmocka_unit_test(at_most_k_by_energy),
        cmocka_unit_test(loss_is_concealed),
        cmocka_unit_test(reordered_packets_play_in_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
