/* Real Opus for simulated pages (sim.h "tones"): a page may publish a sine tone encoded with
 * libopus (as a browser would send its microphone: 20 ms frames unless told otherwise,
 * in-band FEC, 32 kbit/s, the RFC 6464 level when asked),
 * and decode what it receives, per SSRC, to look for tones in it (Goertzel). Pages that do
 * neither send the Opus-sized filler of sim_peer.c. */
#include "sim_internal.h"

#include "tandem/err.h"

#include <math.h>
#include <opus/opus.h>
#include <stdlib.h>
#include <string.h>

#define RATE 48000
#define FRAME 960
#define MAX_FRAME 2880  /* 60 ms */
#define RX_MAX 8        /* audio SSRCs a page tells apart */
#define RX_FRAMES 500   /* 10 s of decoded audio kept per SSRC */
#define TONE_AMP 8000.0 /* about -12 dBFS */
#define SYLLABLE_HZ 3.0

struct sim_audio_rx {
    uint32_t ssrc;
    uint64_t packets, bytes;
    int64_t first_us, last_us, max_gap_us;
    OpusDecoder *dec;
    int16_t *pcm;  /* RX_FRAMES * FRAME */
    int64_t *at;   /* arrival of each frame */
    size_t frames; /* decoded since the last reset (the newest RX_FRAMES kept) */
};

struct sim_audio {
    OpusEncoder *enc;
    double hz, phase, am_phase; /* hz 0: silent (sends nothing, as a muted microphone in DTX) */
    double amp;                 /* 0: TONE_AMP */
    unsigned ptime_ms;          /* 0: 20 */
    bool level_ext;             /* packets carry the RFC 6464 level */
    int level;                  /* of the last frame encoded, 0..127 (-dBov) */
    bool decode;
    struct sim_audio_rx rx[RX_MAX];
    unsigned n_rx;
};

static struct sim_audio *audio_of(struct sim_peer *p)
{
    if (!p->audio)
        p->audio = calloc(1, sizeof *p->audio);
    return p->audio;
}

void sim_peer_set_tone(struct sim_peer *p, double hz)
{
    struct sim_audio *a = audio_of(p);
    if (!a)
        return;
    if (!a->enc) {
        int err;
        a->enc = opus_encoder_create(RATE, 1, OPUS_APPLICATION_VOIP, &err);
        if (!a->enc)
            return;
        opus_encoder_ctl(a->enc, OPUS_SET_BITRATE(32000)); /* what browsers send for voice */
        opus_encoder_ctl(a->enc, OPUS_SET_INBAND_FEC(1));
        opus_encoder_ctl(a->enc, OPUS_SET_PACKET_LOSS_PERC(10));
    }
    a->hz = hz;
}

int sim_audio_encode(struct sim_peer *p, uint8_t *out, size_t cap)
{
    struct sim_audio *a = p->audio;
    if (!a || !a->enc)
        return TDM_ENOTFOUND; /* the filler of sim_peer.c */
    if (a->hz <= 0)
        return 0;
    /* syllables: the level swings 3 times a second, or Opus's voice detection takes a
     * steady tone for background noise and its DTX (the mix's encoder) stops sending */
    int16_t pcm[MAX_FRAME];
    int frame = (int)(a->ptime_ms ? a->ptime_ms : 20) * (RATE / 1000);
    double step = 2.0 * M_PI * a->hz / RATE, am = 2.0 * M_PI * SYLLABLE_HZ / RATE;
    double amp = a->amp > 0 ? a->amp : TONE_AMP, energy = 0;
    for (int i = 0; i < frame; i++) {
        double env = 0.55 + 0.45 * sin(a->am_phase);
        pcm[i] = (int16_t)(amp * env * sin(a->phase));
        energy += (double)pcm[i] * pcm[i];
        a->phase += step;
        a->am_phase += am;
    }
    a->phase = fmod(a->phase, 2.0 * M_PI);
    a->am_phase = fmod(a->am_phase, 2.0 * M_PI);
    /* RFC 6464 §3: -dBov of the frame's power, 0..127 */
    double rms = sqrt(energy / frame), db = rms >= 1 ? -20.0 * log10(rms / 32768.0) : 127;
    a->level = db > 127 ? 127 : (int)(db + 0.5);
    int n = opus_encode(a->enc, pcm, frame, out, (opus_int32)cap);
    return n > 2 ? n : 0; /* 1-2 bytes: DTX, not sent */
}

void sim_peer_set_tone_shape(struct sim_peer *p, double dbfs, unsigned ptime_ms, bool level)
{
    struct sim_audio *a = audio_of(p);
    if (!a)
        return;
    a->amp = 32768.0 * pow(10.0, dbfs / 20.0);
    a->ptime_ms = ptime_ms == 10 || ptime_ms == 40 || ptime_ms == 60 ? ptime_ms : 20;
    a->level_ext = level;
}

int64_t sim_audio_ptime_us(const struct sim_peer *p)
{
    return p->audio && p->audio->ptime_ms ? (int64_t)p->audio->ptime_ms * 1000 : 20000;
}

bool sim_audio_sends_level(const struct sim_peer *p)
{
    return p->audio && p->audio->level_ext;
}

size_t sim_audio_level_ext(const struct sim_peer *p, uint8_t *b, size_t hl)
{
    if (!sim_audio_sends_level(p))
        return 0;
    b[0] |= 0x10; /* X: RFC 8285 one-byte header, one 1-byte element, padded to a word */
    const uint8_t ext[8] = {0xbe, 0xde, 0, 1, SIM_LEVEL_EXT << 4, (uint8_t)(0x80 | p->audio->level),
                            0,    0};
    memcpy(b + hl, ext, sizeof ext);
    return sizeof ext;
}

void sim_peer_refuse_mix(struct sim_peer *p, bool on)
{
    p->refuse_mix = on;
}

void sim_peer_decode_audio(struct sim_peer *p, bool on)
{
    struct sim_audio *a = audio_of(p);
    if (a)
        a->decode = on;
}

static struct sim_audio_rx *rx_of(struct sim_audio *a, uint32_t ssrc)
{
    for (unsigned i = 0; i < a->n_rx; i++)
        if (a->rx[i].ssrc == ssrc)
            return &a->rx[i];
    if (a->n_rx == RX_MAX)
        return NULL;
    struct sim_audio_rx *r = &a->rx[a->n_rx++];
    memset(r, 0, sizeof *r);
    r->ssrc = ssrc;
    return r;
}

static void decode(struct sim_audio_rx *r, const struct tdm_rtp_view *v, int64_t now)
{
    int err;
    if (!r->dec && !(r->dec = opus_decoder_create(RATE, 1, &err)))
        return;
    if (!r->pcm) {
        r->pcm = malloc(sizeof *r->pcm * RX_FRAMES * FRAME);
        r->at = malloc(sizeof *r->at * RX_FRAMES);
        if (!r->pcm || !r->at)
            return;
    }
    size_t k = r->frames % RX_FRAMES;
    int n = opus_decode(r->dec, v->buf + v->payload_off, (opus_int32)v->payload_len,
                        r->pcm + k * FRAME, FRAME, 0);
    if (n != FRAME)
        return;
    r->at[k] = now;
    r->frames++;
}

void sim_audio_on_rtp(struct sim_peer *p, const struct tdm_rtp_view *v, size_t wire, int64_t now)
{
    struct sim_audio *a = audio_of(p);
    struct sim_audio_rx *r = a ? rx_of(a, v->ssrc) : NULL;
    if (!r)
        return;
    if (r->packets && now - r->last_us > r->max_gap_us)
        r->max_gap_us = now - r->last_us;
    if (!r->packets)
        r->first_us = now;
    r->packets++;
    r->bytes += wire;
    r->last_us = now;
    if (a->decode)
        decode(r, v, now);
}

void sim_peer_audio_reset(struct sim_peer *p)
{
    struct sim_audio *a = audio_of(p);
    for (unsigned i = 0; a && i < a->n_rx; i++) {
        struct sim_audio_rx *r = &a->rx[i];
        r->packets = r->bytes = 0;
        r->first_us = r->last_us = r->max_gap_us = 0;
        r->frames = 0;
    }
}

size_t sim_peer_audio_streams(const struct sim_peer *p, struct sim_audio_stream *out, size_t max)
{
    size_t n = 0;
    for (unsigned i = 0; p->audio && i < p->audio->n_rx && n < max; i++) {
        const struct sim_audio_rx *r = &p->audio->rx[i];
        if (!r->packets)
            continue;
        out[n++] = (struct sim_audio_stream){.ssrc = r->ssrc,
                                             .packets = r->packets,
                                             .bytes = r->bytes,
                                             .first_us = r->first_us,
                                             .last_us = r->last_us,
                                             .max_gap_us = r->max_gap_us};
    }
    return n;
}

/* Goertzel over each frame of ssrc that arrived in [from_us, to_us): the share of the
 * signal's energy at hz (1 for a pure tone of that frequency, 0 for none). Frame by frame
 * (a 50 Hz bin): tones at multiples of 50 Hz do not leak into each other. */
double sim_peer_tone_share(const struct sim_peer *p, uint32_t ssrc, double hz, int64_t from_us,
                           int64_t to_us)
{
    const struct sim_audio_rx *r = NULL;
    for (unsigned i = 0; p->audio && i < p->audio->n_rx && !r; i++)
        if (p->audio->rx[i].ssrc == ssrc)
            r = &p->audio->rx[i];
    if (!r || !r->pcm)
        return 0;
    double coeff = 2.0 * cos(2.0 * M_PI * hz / RATE), power = 0, energy = 0;
    size_t first = r->frames > RX_FRAMES ? r->frames - RX_FRAMES : 0;
    for (size_t f = first; f < r->frames; f++) {
        size_t k = f % RX_FRAMES;
        if (r->at[k] < from_us || r->at[k] >= to_us)
            continue;
        double s1 = 0, s2 = 0;
        for (int i = 0; i < FRAME; i++) {
            double x = r->pcm[k * FRAME + i];
            double s0 = x + coeff * s1 - s2;
            s2 = s1;
            s1 = s0;
            energy += x * x;
        }
        power += s1 * s1 + s2 * s2 - coeff * s1 * s2;
    }
    return energy > 0 ? power / (FRAME / 2.0 * energy) : 0;
}

void sim_peer_receive_video(struct sim_peer *p, bool on)
{
    struct tdm_sfu_cmd cmd = {.kind = TDM_SFU_CMD_RECEIVE, .receive_video = on};
    snprintf(cmd.room, sizeof cmd.room, "%s", p->room);
    snprintf(cmd.pid, sizeof cmd.pid, "%s", p->name);
    sim_command(p->sim, &cmd);
}

void sim_audio_free(struct sim_peer *p)
{
    struct sim_audio *a = p->audio;
    if (!a)
        return;
    opus_encoder_destroy(a->enc);
    for (unsigned i = 0; i < a->n_rx; i++) {
        opus_decoder_destroy(a->rx[i].dec);
        free(a->rx[i].pcm);
        free(a->rx[i].at);
    }
    free(a);
    p->audio = NULL;
}
