/* The Opus mix, continued (test_mix.c has the basics): speakers whose packets last 10, 20,
 * 40 or 60 ms are played without a gap in the 20 ms ticks; only the K speakers of the mix
 * are decoded, the others' packets passed over; a speaker entering the mix is heard in the
 * tick it enters, also in the middle of a 60 ms packet. Tones and Goertzel, virtual time. */
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
#define TICKS 300 /* 6 s */

static const double freqs[NSPK] = {400, 600, 900, 1300};

struct sender {
    OpusEncoder *enc;
    double phase;
    unsigned ptime; /* ms */
    int level;
    uint16_t seq;
    uint32_t ts;
    bool quiet; /* sends nothing */
};

struct run {
    struct tdm_mix *m;
    struct sender snd[NSPK];
    OpusDecoder *dec;
    int16_t pcm[TICKS * TDM_MIX_FRAME]; /* the listener's audio, tick by tick */
    unsigned packets;
    int entered[NSPK]; /* the tick each speaker was first in the mix, -1: never */
};

static void run_init(struct run *r, unsigned k, const unsigned *ptime, const int *level)
{
    memset(r, 0, sizeof *r);
    struct tdm_mix_cfg c;
    tdm_mix_cfg_default(&c);
    c.active = k;
    c.bitrate = 64000; /* at 16 kbit/s SILK itself lets single tones dip now and then */
    r->m = tdm_mix_create(&c);
    assert_non_null(r->m);
    int err;
    for (unsigned i = 0; i < NSPK; i++) {
        struct sender *s = &r->snd[i];
        s->enc = opus_encoder_create(48000, 1, OPUS_APPLICATION_VOIP, &err);
        assert_non_null(s->enc);
        opus_encoder_ctl(s->enc, OPUS_SET_BITRATE(32000));
        opus_encoder_ctl(s->enc, OPUS_SET_INBAND_FEC(1));
        s->ptime = ptime[i];
        s->level = level[i];
        s->seq = (uint16_t)(65000 + 300 * i);
        s->ts = 12345u * i;
        assert_int_equal(tdm_mix_add_speaker(r->m, 100 + i), 0);
        r->entered[i] = -1;
    }
    r->dec = opus_decoder_create(48000, 1, &err);
    assert_non_null(r->dec);
    assert_int_equal(tdm_mix_add_listener(r->m, 7, TDM_MIX_NO_SPEAKER, 1, 0), 0);
}

static void run_free(struct run *r)
{
    for (unsigned i = 0; i < NSPK; i++)
        opus_encoder_destroy(r->snd[i].enc);
    opus_decoder_destroy(r->dec);
    tdm_mix_destroy(r->m);
}

/* One packet of ptime ms of the sender's tone, pushed at now. */
static void send_packet(struct run *r, unsigned i, int64_t now)
{
    struct sender *s = &r->snd[i];
    int n = (int)s->ptime * 48;
    int16_t pcm[2880];
    for (int j = 0; j < n; j++) {
        pcm[j] = (int16_t)(6000 * sin(s->phase));
        s->phase += 2 * M_PI * freqs[i] / 48000;
    }
    uint8_t pkt[TDM_MIX_MAX_PAYLOAD];
    int len = opus_encode(s->enc, pcm, n, pkt, sizeof pkt);
    assert_true(len > 0);
    if (!s->quiet)
        assert_int_equal(
            tdm_mix_push(r->m, 100 + i, pkt, (size_t)len, s->seq, s->ts, s->level, now), 0);
    s->seq++;
    s->ts += (uint32_t)n;
}

/* Ticks [from, to): each sender's packets when they are due; each tick's output decoded. */
static void run_ticks(struct run *r, unsigned from, unsigned to)
{
    for (unsigned k = from; k < to; k++) {
        int64_t t0 = (int64_t)k * TDM_MIX_TICK_US;
        for (int64_t ms = 0; ms < 20; ms++) /* packets ending in this tick's 20 ms, 1 ms on */
            for (unsigned i = 0; i < NSPK; i++)
                if ((k * 20 + (unsigned)ms + 1) % r->snd[i].ptime == 0)
                    send_packet(r, i, t0 + (ms + 1) * 1000);
        int64_t tick = t0 + TDM_MIX_TICK_US;
        assert_int_equal(tdm_mix_tick(r->m, tick), tick + TDM_MIX_TICK_US);
        struct tdm_mix_out o;
        int16_t *out = r->pcm + k * TDM_MIX_FRAME;
        if (tdm_mix_next_output(r->m, &o)) {
            assert_int_equal(
                opus_decode(r->dec, o.payload, (opus_int32)o.len, out, TDM_MIX_FRAME, 0),
                TDM_MIX_FRAME);
            r->packets++;
        } else {
            assert_int_equal(opus_decode(r->dec, NULL, 0, out, TDM_MIX_FRAME, 0), TDM_MIX_FRAME);
        }
        uint32_t act[TDM_MIX_ACTIVE_LIMIT];
        size_t n = tdm_mix_active(r->m, act, TDM_MIX_ACTIVE_LIMIT);
        for (size_t j = 0; j < n; j++)
            if (r->entered[act[j] - 100] < 0)
                r->entered[act[j] - 100] = (int)k;
    }
}

/* Tone power of speaker i in the listener's tick k, relative to the 6000 sine sent alone
 * (1: as loud as sent). */
static double tone(const struct run *r, unsigned k, unsigned i)
{
    const int16_t *x = r->pcm + k * TDM_MIX_FRAME;
    double coeff = 2 * cos(2 * M_PI * freqs[i] / 48000), s1 = 0, s2 = 0;
    for (size_t j = 0; j < TDM_MIX_FRAME; j++) {
        double s = x[j] + coeff * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    double p = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    double full = 6000.0 * 6000.0 * TDM_MIX_FRAME * TDM_MIX_FRAME / 4;
    return p / full;
}

/* Four speakers sending 10, 20, 40 and 60 ms packets, all mixed: every tick after the
 * start holds every tone (no gap: a packet played short or twice would leave frames
 * without it), nothing is concealed, and the longer packets are decoded once each. */
static void packets_of_10_to_60_ms(void **state)
{
    (void)state;
    static struct run r;
    run_init(&r, 4, (const unsigned[]){10, 20, 40, 60},
             (const int[]){20, 20, TDM_MIX_NO_LEVEL, 20});
    run_ticks(&r, 0, TICKS);
    double worst[NSPK] = {9, 9, 9, 9};
    for (unsigned k = 20; k < TICKS; k++)
        for (unsigned i = 0; i < NSPK; i++) {
            double t = tone(&r, k, i);
            worst[i] = t < worst[i] ? t : worst[i];
        }
    for (unsigned i = 0; i < NSPK; i++) {
        print_message("  %2u ms packets, %4.0f Hz: weakest tick %.2f of the tone sent\n",
                      r.snd[i].ptime, freqs[i], worst[i]);
        assert_true(worst[i] > 0.5); /* a frame missing half its packet: ~0.25 */
    }
    struct tdm_mix_stats st;
    tdm_mix_get_stats(r.m, &st);
    assert_int_equal(st.frames_plc + st.frames_fec + st.packets_late + st.packets_dropped, 0);
    assert_int_equal(st.packets_rejected, 0);
    /* all but the last few packets of each: 600 + 300 + 150 + 100 sent in 6 s */
    assert_true(st.frames_decoded >= 1150 - 16 && st.frames_decoded <= 1150);
    assert_true(r.packets >= TICKS - 8);
    run_free(&r);
}

static void odd_durations_refused(void **state)
{
    (void)state;
    struct tdm_mix *m = tdm_mix_create(NULL);
    assert_non_null(m);
    assert_int_equal(tdm_mix_add_speaker(m, 1), 0);
    int err;
    OpusEncoder *e = opus_encoder_create(48000, 1, OPUS_APPLICATION_AUDIO, &err);
    assert_non_null(e);
    int16_t pcm[5760] = {0};
    uint8_t pkt[4000];
    static const int sizes[] = {120, 240, 3840, 5760}; /* 2.5, 5, 80, 120 ms */
    for (size_t i = 0; i < 4; i++) {
        int n = opus_encode(e, pcm, sizes[i], pkt, sizeof pkt);
        assert_true(n > 0);
        assert_int_equal(tdm_mix_push(m, 1, pkt, (size_t)n, (uint16_t)i, 0, 20, 0), TDM_EUNSUPP);
    }
    struct tdm_mix_stats st;
    tdm_mix_get_stats(m, &st);
    assert_int_equal(st.packets_rejected, 4);
    opus_encoder_destroy(e);
    tdm_mix_destroy(m);
}

/* K = 2 of 4 by their levels: two packets decoded a tick, two passed over. The loudest
 * goes quiet; after the hang-over the third enters and is heard in that very tick (its
 * decoder caught up from the packet before), and in every tick after. */
static void entry(unsigned ptime_third)
{
    static struct run r;
    run_init(&r, 2, (const unsigned[]){20, 20, ptime_third, 20}, (const int[]){10, 20, 30, 40});
    run_ticks(&r, 0, 100);
    struct tdm_mix_stats a, b;
    tdm_mix_get_stats(r.m, &a);
    run_ticks(&r, 100, 150);
    tdm_mix_get_stats(r.m, &b);
    assert_int_equal(b.frames_decoded - a.frames_decoded, 2 * 50);
    assert_true(b.frames_skipped - a.frames_skipped >= 50 + 50 * 20 / ptime_third - 1);
    assert_int_equal(r.entered[2], -1);
    r.snd[0].quiet = true;
    run_ticks(&r, 150, TICKS);
    int e = r.entered[2];
    print_message("  the third (%u ms packets) entered at tick %d: %.2f, %.2f, %.2f of its "
                  "tone in that tick and the next two\n",
                  ptime_third, e, e > 0 ? tone(&r, (unsigned)e, 2) : 0,
                  e > 0 ? tone(&r, (unsigned)e + 1, 2) : 0,
                  e > 0 ? tone(&r, (unsigned)e + 2, 2) : 0);
    assert_true(e > 150 && e < 220); /* the first one's loudness fades: replaced, or gone */
    /* the encoder's lookahead (6.5 ms) and its adapting: rising from the first tick */
    assert_true(tone(&r, (unsigned)e, 2) > 0.03);
    assert_true(tone(&r, (unsigned)e + 1, 2) > 0.2);
    for (unsigned k = (unsigned)e + 2; k < TICKS; k++)
        assert_true(tone(&r, k, 2) > 0.4);
    assert_true(tone(&r, (unsigned)e - 1, 2) < 0.01); /* not mixed before */
    run_free(&r);
}

static void only_k_decoded_entry_heard_at_once(void **state)
{
    (void)state;
    entry(20);
    entry(60);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(packets_of_10_to_60_ms),
        cmocka_unit_test(odd_durations_refused),
        cmocka_unit_test(only_k_decoded_entry_heard_at_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
