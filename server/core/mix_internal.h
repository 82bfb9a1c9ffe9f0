/* Shared between mix.c (mixer, choice, encoders) and mix_speaker.c (one speaker's jitter
 * buffer and decoder). Not a public header. */
#ifndef TANDEM_MIX_INTERNAL_H
#define TANDEM_MIX_INTERNAL_H

#include "tandem/mix.h"

#include <opus/opus.h>

struct mix_slot {
    bool used; /* buffered, not played yet */
    bool held; /* played, and its data still here (a decoder entering the mix) */
    uint16_t seq;
    int16_t level; /* RFC 6464 level or TDM_MIX_NO_LEVEL */
    uint16_t len;
    uint16_t samples; /* its duration at 48 kHz: 480..TDM_MIX_MAX_SAMPLES */
    int64_t arrival_us;
    uint8_t *data; /* TDM_MIX_MAX_PAYLOAD bytes inside the speaker's block */
};

struct mix_speaker {
    bool used;
    uint32_t id;
    void *block; /* decoder state + packet storage, allocated by add */
    OpusDecoder *dec;
    int16_t *buf; /* the current packet decoded (TDM_MIX_MAX_SAMPLES, inside the block) */
    struct mix_slot slot[TDM_MIX_JB_SLOTS];
    unsigned unit; /* samples per packet, of the latest one */

    /* the stream so far: the highest packet accepted, to judge the next one */
    bool have_ref;
    uint16_t hi_seq;
    uint32_t hi_ts;
    int64_t hi_us;
    bool probation; /* a packet off the stream was seen: prob_* */
    uint16_t prob_seq;
    uint32_t prob_ts;
    int64_t prob_us;

    /* playout */
    bool started;       /* next_seq is known */
    bool playing;       /* one frame per tick; else buffering or stopped */
    bool have_played;   /* played_to is known */
    uint16_t next_seq;  /* the next frame to play */
    uint16_t played_to; /* packets before it are late */
    unsigned buffered;  /* used slots */
    unsigned missed;    /* samples concealed in a row */
    unsigned fast_ticks;

    /* the packet being played (one packet may last 10 to 60 ms: a tick takes 20 ms of it,
     * or of two) */
    unsigned carry;   /* its samples not played yet */
    unsigned buf_off; /* where they start in buf, when decoded */
    uint16_t cur_seq; /* its number */
    uint8_t cur_src;  /* where its audio comes from: SRC_* in mix_speaker.c */
    int cur_level;    /* its RFC 6464 level (or TDM_MIX_NO_LEVEL); PLC keeps the last */
    bool warm;        /* the decoder has followed the stream up to here: it was in the
                         mix last tick (else it is reset when the speaker enters) */
    bool played;      /* this tick's frame is done (mix.c) */

    /* the frame of the current tick */
    bool sounding; /* pcm holds audio */
    int level;     /* its level, 0..127 (127: silence) */
    int16_t pcm[TDM_MIX_FRAME];

    /* choice */
    float loud; /* smoothed 127 - level */
    int64_t last_voice_us;
    int64_t active_since_us;
    bool active;
    bool speaking; /* this tick's frame is speech */
};

/* What the speaker functions count into. */
struct mix_counters {
    uint64_t frames_decoded, frames_fec, frames_plc, frames_skipped;
    uint64_t packets_late, packets_dropped, packets_rejected, restarts;
    uint64_t delay_sum_us;
    int64_t delay_max_us;
};

int mix_speaker_init(struct mix_speaker *s, uint32_t id);
void mix_speaker_free(struct mix_speaker *s);
/* samples: the packet's duration at 48 kHz (checked by the caller). */
int mix_speaker_push(struct mix_speaker *s, struct mix_counters *c, const uint8_t *p, size_t len,
                     unsigned samples, uint16_t seq, uint32_t ts, int level, int64_t now_us);
#define MIX_SILENT 128 /* mix_speaker_peek: no frame this tick */
/* The level of the frame this tick will play, without playing it: 0..127 from the packet,
 * TDM_MIX_NO_LEVEL (the packet has none: decode to know), or MIX_SILENT. */
int mix_speaker_peek(const struct mix_speaker *s, unsigned prefetch);
/* Plays one 20 ms frame: s->sounding and s->level; with decode, the audio into s->pcm
 * (else the packets are passed over, and the decoder catches up when it is next asked). */
void mix_speaker_play(struct mix_speaker *s, struct mix_counters *c, unsigned prefetch, bool decode,
                      int64_t now_us);

#endif
