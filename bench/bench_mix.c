/* The Opus mix (core/mix.c): CPU per mixed listener per 20 ms tick, with K = 3 speakers
 * talking at once and 1, 6 or 20 listeners (the first three are the speakers themselves,
 * who hear the mix minus their own voice; the others only listen), with one shared encoder
 * and with an encoder per listener; then the delay the mix adds. The speakers' Opus
 * packets are encoded once before timing (a voice-like signal, 32 kbit/s, FEC), and arrive
 * with 0-15 ms of jitter. Then a room of 6 people talking at different loudness, K = 3,
 * with and without the RFC 6464 levels browsers send (with them only the three mixed are
 * decoded). Build without sanitizers for meaningful figures:
 *   cmake -B build-rel -DCMAKE_BUILD_TYPE=Release && cmake --build build-rel --target bench_mix
 *   build-rel/bench_mix [complexity 0-10] [room [listeners levels]]
 * "room" runs the room alone, 500 ticks, for instruction counts that do not depend on the
 * machine's load, e.g. one case: valgrind --tool=callgrind build-rel/bench_mix 5 room 6 1
 * (6 listeners, levels sent), then callgrind_annotate --inclusive=yes for tdm_mix_tick. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <opus/opus.h>

#include "tandem/mix.h"

#define SPEAKERS 3
#define ROOM 6     /* the room: people talking, each at 3 dB under the one before */
#define FRAMES 500 /* 10 s of each speaker, looped */
#define TICKS 1500 /* 30 s per run */

struct pkt {
    uint8_t data[TDM_MIX_MAX_PAYLOAD];
    int len;
    int level; /* RFC 6464, -dBov of the frame */
};

static struct pkt pkts[SPEAKERS][FRAMES];
static struct pkt room[ROOM][FRAMES];
static double in_bytes;

static double cpu_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

/* A voice-like signal: a gliding pitch with harmonics, syllables of 150-300 ms and pauses. */
static void voice(int spk, size_t frame, int16_t *pcm, double *phase)
{
    double f0 = 110 + 40 * spk;
    for (size_t i = 0; i < TDM_MIX_FRAME; i++) {
        double t = (double)(frame * TDM_MIX_FRAME + i) / TDM_MIX_RATE;
        double pitch = f0 * (1 + 0.15 * sin(2 * M_PI * (0.7 + 0.2 * spk) * t));
        double syl = sin(2 * M_PI * (2.5 + 0.5 * spk) * t);
        double env = syl > 0.2 ? syl : 0; /* pauses between syllables */
        *phase += 2 * M_PI * pitch / TDM_MIX_RATE;
        double v = 0;
        for (int h = 1; h <= 12; h++)
            v += sin(h * *phase) / h * (h > 2 && h < 6 ? 1.5 : 1.0);
        pcm[i] = (int16_t)(4000 * env * v);
    }
}

static int frame_level(const int16_t *pcm)
{
    double e = 0;
    for (size_t i = 0; i < TDM_MIX_FRAME; i++)
        e += (double)pcm[i] * pcm[i];
    double rms = sqrt(e / TDM_MIX_FRAME);
    double db = rms >= 1 ? -20 * log10(rms / 32768) : 127;
    return db > 127 ? 127 : (int)(db + 0.5);
}

/* Each speaker's 10 s, encoded as a browser would (32 kbit/s, FEC); gain_db per speaker. */
static int encode_all(struct pkt (*out)[FRAMES], int n, double gain_step_db)
{
    for (int s = 0; s < n; s++) {
        int err;
        OpusEncoder *enc = opus_encoder_create(TDM_MIX_RATE, 1, OPUS_APPLICATION_VOIP, &err);
        if (!enc)
            return -1;
        opus_encoder_ctl(enc, OPUS_SET_BITRATE(32000));
        opus_encoder_ctl(enc, OPUS_SET_INBAND_FEC(1));
        opus_encoder_ctl(enc, OPUS_SET_PACKET_LOSS_PERC(5));
        double phase = 0, gain = pow(10, -gain_step_db * s / 20);
        for (size_t f = 0; f < FRAMES; f++) {
            int16_t pcm[TDM_MIX_FRAME];
            voice(s, f, pcm, &phase);
            for (size_t i = 0; i < TDM_MIX_FRAME; i++)
                pcm[i] = (int16_t)(pcm[i] * gain);
            struct pkt *p = &out[s][f];
            p->level = frame_level(pcm);
            p->len = opus_encode(enc, pcm, TDM_MIX_FRAME, p->data, TDM_MIX_MAX_PAYLOAD);
            if (p->len <= 0)
                return -1;
        }
        opus_encoder_destroy(enc);
    }
    return 0;
}

static int prepare(bool room_only)
{
    if ((!room_only && encode_all(pkts, SPEAKERS, 0) != 0) || encode_all(room, ROOM, 3) != 0)
        return -1;
    for (int s = 0; s < SPEAKERS; s++)
        for (size_t f = 0; f < FRAMES; f++)
            in_bytes += pkts[s][f].len;
    return 0;
}

struct result {
    double us_per_tick, encodes_per_tick, out_kbps;
    struct tdm_mix_stats st;
};

/* A fixed-seed generator for the arrival jitter. */
static uint32_t rnd(uint32_t *x)
{
    *x = *x * 1664525u + 1013904223u;
    return *x >> 8;
}

static int run(unsigned listeners, bool share, int complexity, struct result *r)
{
    struct tdm_mix_cfg c;
    tdm_mix_cfg_default(&c);
    c.share_encoder = share;
    c.complexity = complexity;
    struct tdm_mix *m = tdm_mix_create(&c);
    if (!m)
        return -1;
    for (uint32_t s = 0; s < SPEAKERS; s++)
        tdm_mix_add_speaker(m, s);
    for (uint32_t l = 0; l < listeners; l++)
        tdm_mix_add_listener(m, 100 + l, l < SPEAKERS ? l : TDM_MIX_NO_SPEAKER, 0, 0);
    uint32_t x = 42;
    double out_bytes = 0, t0 = cpu_us();
    for (unsigned k = 0; k < TICKS; k++) {
        int64_t tick = (int64_t)k * TDM_MIX_TICK_US;
        for (uint32_t s = 0; s < SPEAKERS; s++) {
            const struct pkt *p = &pkts[s][(k + 37 * s) % FRAMES];
            int64_t arrival = tick - TDM_MIX_TICK_US + 2000 + (int64_t)(rnd(&x) % 15000);
            tdm_mix_push(m, s, p->data, (size_t)p->len, (uint16_t)k, k * TDM_MIX_FRAME,
                         TDM_MIX_NO_LEVEL, arrival);
        }
        tdm_mix_tick(m, tick);
        struct tdm_mix_out o;
        while (tdm_mix_next_output(m, &o))
            out_bytes += (double)o.len;
    }
    double t1 = cpu_us();
    tdm_mix_get_stats(m, &r->st);
    r->us_per_tick = (t1 - t0) / TICKS;
    r->encodes_per_tick = (double)r->st.encodes / TICKS;
    r->out_kbps = listeners ? out_bytes * 8 / listeners / (TICKS * 0.02) / 1000 : 0;
    tdm_mix_destroy(m);
    return 0;
}

/* The room: ROOM speakers, `listeners` of them hear the mix (minus their own voice), with
 * or without the levels in their packets; ticks of 20 ms. */
static int run_room(unsigned listeners, bool levels, int complexity, unsigned ticks,
                    struct result *r)
{
    struct tdm_mix_cfg c;
    tdm_mix_cfg_default(&c);
    c.complexity = complexity;
    struct tdm_mix *m = tdm_mix_create(&c);
    if (!m)
        return -1;
    for (uint32_t s = 0; s < ROOM; s++)
        tdm_mix_add_speaker(m, s);
    for (uint32_t l = 0; l < listeners; l++)
        tdm_mix_add_listener(m, 100 + l, l, 0, 0);
    uint32_t x = 42;
    double t0 = cpu_us();
    for (unsigned k = 0; k < ticks; k++) {
        int64_t tick = (int64_t)k * TDM_MIX_TICK_US;
        for (uint32_t s = 0; s < ROOM; s++) {
            const struct pkt *p = &room[s][(k + 53 * s) % FRAMES];
            int64_t arrival = tick - TDM_MIX_TICK_US + 2000 + (int64_t)(rnd(&x) % 15000);
            tdm_mix_push(m, s, p->data, (size_t)p->len, (uint16_t)k, k * TDM_MIX_FRAME,
                         levels ? p->level : TDM_MIX_NO_LEVEL, arrival);
        }
        tdm_mix_tick(m, tick);
        struct tdm_mix_out o;
        while (tdm_mix_next_output(m, &o))
            ;
    }
    double t1 = cpu_us();
    tdm_mix_get_stats(m, &r->st);
    r->us_per_tick = (t1 - t0) / ticks;
    r->encodes_per_tick = (double)r->st.encodes / ticks;
    tdm_mix_destroy(m);
    return 0;
}

/* The room's cases; only_l > 0: that many listeners only, with levels (only_lv 1) or not. */
static int room_table(int complexity, unsigned ticks, unsigned only_l, int only_lv)
{
    printf("a room of %d talking (a voice each, 0 to -15 dB, pauses), K = 3, %u ticks:\n", ROOM,
           ticks);
    printf("%-10s %-7s %12s %14s %12s %12s\n", "listeners", "levels", "us/tick", "us/listener",
           "decodes", "encodes");
    static const unsigned ls[] = {1, 6};
    for (size_t i = 0; i < 2; i++)
        for (int lv = 1; lv >= 0; lv--) {
            if (only_l && (ls[i] != only_l || lv != only_lv))
                continue;
            struct result r;
            if (run_room(ls[i], lv, complexity, ticks, &r) != 0)
                return -1;
            double dec = (double)(r.st.frames_decoded + r.st.frames_fec + r.st.frames_plc);
            printf("%-10u %-7s %12.1f %14.1f %12.2f %12.2f\n", ls[i], lv ? "RFC6464" : "none",
                   r.us_per_tick, r.us_per_tick / ls[i], dec / ticks, r.encodes_per_tick);
        }
    printf("(decodes: speakers' packets decoded per tick; the others are passed over)\n\n");
    return 0;
}

int main(int argc, char **argv)
{
    int complexity = argc > 1 ? atoi(argv[1]) : 5;
    bool room_only = argc > 2 && strcmp(argv[2], "room") == 0;
    if (prepare(room_only) != 0) {
        fprintf(stderr, "bench_mix: libopus failed\n");
        return 1;
    }
    if (room_only)
        return room_table(complexity, 500, argc > 4 ? (unsigned)atoi(argv[3]) : 0,
                          argc > 4 ? atoi(argv[4]) : 0) != 0;
    printf("Opus mix: K=3 speakers talking, 48 kHz mono, 20 ms ticks, output 16 kbit/s with "
           "FEC and DTX, complexity %d\n",
           complexity);
    printf("state: encoder %d bytes, decoder %d bytes\n\n", opus_encoder_get_size(1),
           opus_decoder_get_size(1));
    printf("%-10s %-7s %12s %14s %12s %14s %12s\n", "listeners", "encoder", "us/tick",
           "us/listener", "encodes", "% of a core", "kbit/s out");
    struct result base;
    if (run(0, true, complexity, &base) != 0)
        return 1;
    printf("%-10u %-7s %12.1f %14s %12.2f %13.2f%% %12s\n", 0u, "-", base.us_per_tick, "-",
           base.encodes_per_tick, base.us_per_tick / 200, "-");
    static const unsigned ns[] = {1, 6, 20};
    for (size_t i = 0; i < 3; i++) {
        for (int share = 1; share >= 0; share--) {
            struct result r;
            if (run(ns[i], share, complexity, &r) != 0)
                return 1;
            printf("%-10u %-7s %12.1f %14.1f %12.2f %13.2f%% %12.1f\n", ns[i],
                   share ? "shared" : "each", r.us_per_tick, r.us_per_tick / ns[i],
                   r.encodes_per_tick, r.us_per_tick / 200, r.out_kbps);
        }
    }
    printf("(0 listeners: decoding and choosing only. kbit/s out: Opus payload per listener; "
           "the three speakers' own streams: %.1f kbit/s together)\n\n",
           in_bytes * 8 / (FRAMES * 0.02) / 1000);
    if (room_table(complexity, TICKS, 0, 0) != 0)
        return 1;

    struct result r;
    if (run(6, true, complexity, &r) != 0)
        return 1;
    double mean_ms = (double)r.st.delay_sum_us / (double)r.st.frames_decoded / 1000;
    double la_ms = r.st.encoder_delay_us / 1000.0;
    printf("added delay (arrival jitter 0-15 ms, jitter_frames 2):\n");
    printf("  jitter buffer (arrival to playout): mean %.1f ms, max %.1f ms\n", mean_ms,
           (double)r.st.delay_max_us / 1000);
    printf("  encoder lookahead: %.1f ms\n", la_ms);
    printf("  total: mean %.1f ms, max %.1f ms\n", mean_ms + la_ms,
           (double)r.st.delay_max_us / 1000 + la_ms);
    printf("  frames decoded %llu, FEC %llu, concealed %llu, late %llu, dropped %llu\n",
           (unsigned long long)r.st.frames_decoded, (unsigned long long)r.st.frames_fec,
           (unsigned long long)r.st.frames_plc, (unsigned long long)r.st.packets_late,
           (unsigned long long)r.st.packets_dropped);
    return 0;
}
