/* Shared between mix.c (mixer, choice, encoders) and mix_speaker.c (one speaker's jitter
 * buffer and decoder). Not a public header. */
#ifndef TANDEM_MIX_INTERNAL_H
#define TANDEM_MIX_INTERNAL_H

#include "tandem/mix.h"

#include <opus/opus.h>

struct mix_slot {
    bool used;
    uint16_t seq;
    int16_t level; /* RFC 6464 level or TDM_MIX_NO_LEVEL */
    uint16_t len;
    int64_t arrival_us;
    uint8_t *data; /* TDM_MIX_MAX_PAYLOAD bytes inside the speaker's block */
};

struct mix_speaker {
    bool used;
    uint32_t id;
    void *block; /* decoder state + packet storage, allocated by add */
    OpusDecoder *dec;
    struct mix_slot slot[TDM_MIX_JB_SLOTS];

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
    unsigned misses;    /* frames concealed in a row */
    unsigned fast_ticks;

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
    uint64_t frames_decoded, frames_fec, frames_plc;
    uint64_t packets_late, packets_dropped, packets_rejected, restarts;
    uint64_t delay_sum_us;
    int64_t delay_max_us;
};

int mix_speaker_init(struct mix_speaker *s, uint32_t id);
void mix_speaker_free(struct mix_speaker *s);
int mix_speaker_push(struct mix_speaker *s, struct mix_counters *c, const uint8_t *p, size_t len,
                     uint16_t seq, uint32_t ts, int level, int64_t now_us);
/* Plays one frame into s->pcm / s->sounding / s->level. */
void mix_speaker_play(struct mix_speaker *s, struct mix_counters *c, unsigned prefetch,
                      int64_t now_us);

#endif
