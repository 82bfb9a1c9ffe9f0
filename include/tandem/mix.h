/* An Opus mix for audio-only listeners (issue 16): one mixer per room decodes the few
 * loudest speakers (and no others), sums them, and gives each listener that sum minus their own
 * voice, encoded once more with libopus (in-band FEC, DTX, VOIP), as a stream of its own.
 *
 * Sans-IO like the rest of core: no clock, socket, thread or random source. The caller
 * hands in each speaker's Opus RTP payload (tdm_mix_push), calls tdm_mix_tick at the
 * deadline it returned (every 20 ms), and drains one payload per listener with
 * tdm_mix_next_output. Time is monotonic microseconds (now_us).
 *
 * Audio: 48 kHz mono, 20 ms frames (960 samples). Speakers may send Opus packets of 10,
 * 20, 30, 40, 50 or 60 ms (a page's ptime; browsers send 20 unless told otherwise): a tick
 * takes 20 ms of them, the rest of a longer packet waiting for the next ticks. Any channel
 * count decodes to mono.
 *
 * Per speaker: a jitter buffer of TDM_MIX_JB_SLOTS packets ordered by sequence number;
 * playout starts once cfg.jitter_frames frames are there (and a whole packet when packets
 * are longer than 20 ms); a missing packet is rebuilt from the next one's in-band FEC (RFC
 * 6716 §2.1.7) when that one has arrived, else concealed (Opus PLC). After
 * TDM_MIX_MAX_CONCEAL missing frames in a row (the sender went silent: mute, DTX) the
 * speaker stops playing until packets come again.
 *
 * Speaker choice: at most cfg.active speakers are mixed, chosen by audio level: the RFC
 * 6464 level the sender measured when the packet carried one, else the decoded frame's
 * level. An active speaker stays active until it has been quiet for cfg.hangover_us; a
 * louder newcomer takes the place of the quietest one only when the set is full, by a
 * margin, and after that one has had its minimum time. So the choice does not flap.
 * The choice is made before decoding, from the levels of the packets about to play: a
 * speaker outside the set is not decoded at all (its packets are passed over at the same
 * pace; stats.frames_skipped), unless its packets carry no level. A speaker entering the
 * set is heard in the same tick: its decoder is reset and first fed the packet before
 * (kept in the ring), then the packet due (or the next one's FEC, or PLC).
 *
 * Encoders: listeners who get the same audio (all who are not among the active speakers)
 * share one encoder; a listener whose own voice is in the mix gets an encoder of their
 * own, started as an exact copy of the shared one (libopus: the state is one flat block),
 * so their decoder sees one continuous stream. When their voice leaves the mix, their
 * encoder is fed the shared audio for TDM_MIX_CONVERGE_FRAMES more frames (or until both
 * are in DTX) before they go back to the shared packets. cfg.share_encoder = false gives
 * every listener an encoder of their own (CPU cost: docs/benchmarks.md).
 *
 * Memory: create allocates the speaker and listener tables (cfg.max_speakers,
 * cfg.max_listeners) and the shared encoder; add_speaker allocates that speaker's decoder,
 * jitter buffer and one decoded packet (~34 KiB), add_listener an encoder (~43 KiB) for a
 * listener who has a voice (or for every one without sharing). push, tick and next_output never
 * allocate, lock or log. One mixer is used from one thread. */
#ifndef TANDEM_MIX_H
#define TANDEM_MIX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TDM_MIX_RATE 48000
#define TDM_MIX_FRAME 960          /* samples per 20 ms frame at 48 kHz */
#define TDM_MIX_TICK_US 20000      /* one frame */
#define TDM_MIX_MAX_PAYLOAD 1275   /* largest Opus frame (RFC 6716 §3.4 R2) */
#define TDM_MIX_MIN_SAMPLES 480    /* shortest speaker packet taken: 10 ms */
#define TDM_MIX_MAX_SAMPLES 2880   /* longest: 60 ms */
#define TDM_MIX_OUT_MAX 400        /* largest output payload (>= 24 kbit/s with FEC) */
#define TDM_MIX_JB_SLOTS 8         /* jitter buffer packets per speaker (160 ms) */
#define TDM_MIX_MAX_CONCEAL 5      /* missing frames in a row before a speaker stops */
#define TDM_MIX_CONVERGE_FRAMES 50 /* see "Encoders" above: one second */
#define TDM_MIX_SPEAKERS_LIMIT 64
#define TDM_MIX_LISTENERS_LIMIT 512
#define TDM_MIX_ACTIVE_LIMIT 8
#define TDM_MIX_NO_LEVEL (-1)         /* push: the packet had no RFC 6464 level */
#define TDM_MIX_NO_SPEAKER UINT32_MAX /* add_listener: the listener has no voice here */

struct tdm_mix;

struct tdm_mix_cfg {
    unsigned max_speakers;  /* speakers at once, 1..TDM_MIX_SPEAKERS_LIMIT (default 16) */
    unsigned max_listeners; /* listeners at once, 1..TDM_MIX_LISTENERS_LIMIT (default 64) */
    unsigned active;        /* K: speakers mixed at once, 1..TDM_MIX_ACTIVE_LIMIT (default 3) */
    unsigned jitter_frames; /* packets buffered before playout starts, 1..4 (default 2: one
                               frame of reordering, and the next packet there for FEC) */
    int bitrate;            /* output bit/s, 6000..64000 (default 16000; 12000-24000 is
                               the intended range) */
    int expected_loss_pct;  /* told to the encoder for its FEC, 0..50 (default 10) */
    int complexity;         /* encoder complexity 0..10 (default 5) */
    bool share_encoder;     /* one encoder for all who hear the same mix (default true) */
    int speech_level;       /* a frame at or above -speech_level dBov counts as speech
                               (RFC 6464 scale 0..127, default 50) */
    int64_t hangover_us;    /* an active speaker quiet this long leaves (default 1 s) */
    int64_t min_active_us;  /* an active speaker is not replaced before this (default 500 ms) */
};

/* Fills cfg with the defaults above. */
void tdm_mix_cfg_default(struct tdm_mix_cfg *cfg);

/* cfg NULL means defaults. NULL on a value out of range or allocation failure.
 * Destroy with tdm_mix_destroy (NULL is fine). */
struct tdm_mix *tdm_mix_create(const struct tdm_mix_cfg *cfg);
void tdm_mix_destroy(struct tdm_mix *m);

/* A speaker is a producer of Opus audio, named by the caller's id (any value but
 * TDM_MIX_NO_SPEAKER). Returns 0, TDM_EEXIST, TDM_EFULL (max_speakers), TDM_EINVAL,
 * TDM_ENOMEM. Removing forgets its buffered packets at once; TDM_ENOTFOUND if unknown. */
int tdm_mix_add_speaker(struct tdm_mix *m, uint32_t speaker);
int tdm_mix_remove_speaker(struct tdm_mix *m, uint32_t speaker);

/* A listener gets one mixed stream. own_speaker: the speaker id that is this listener's
 * own voice (left out of their mix), or TDM_MIX_NO_SPEAKER; it need not be added (yet).
 * first_seq / first_ts: the RTP sequence number and timestamp of their first packet (the
 * caller picks them, RFC 3550 §5.1 says at random); the timestamp then advances by 960
 * per tick, the sequence number by one per packet sent. Returns 0, TDM_EEXIST, TDM_EFULL
 * (max_listeners), TDM_ENOMEM. Removing drops their pending output; TDM_ENOTFOUND. */
int tdm_mix_add_listener(struct tdm_mix *m, uint32_t listener, uint32_t own_speaker,
                         uint16_t first_seq, uint32_t first_ts);
int tdm_mix_remove_listener(struct tdm_mix *m, uint32_t listener);

/* One RTP packet's payload from a speaker (after SRTP, header parsed; padding removed).
 * level: the RFC 6464 audio level 0..127 (-dBov) when the packet carried the extension
 * (tdm_rtp_ext_audio_level), else TDM_MIX_NO_LEVEL. Borrows payload until return.
 * Returns 0 when the packet was buffered, else (the packet is dropped, nothing changes):
 *   TDM_ENOTFOUND unknown speaker;
 *   TDM_EINVAL    empty or malformed Opus packet (RFC 6716 §3), level out of range, or a
 *                 sequence number / timestamp that does not fit the stream (a jump of more
 *                 than 5 s, a timestamp that disagrees with the sequence number or with
 *                 the time elapsed); two consecutive packets of a new sequence (seq n,
 *                 n+1, one packet apart) are taken as a sender restart, the second accepted;
 *   TDM_ETOOBIG   payload over TDM_MIX_MAX_PAYLOAD;
 *   TDM_EUNSUPP   a packet shorter than 10 ms or longer than 60 ms, or not a multiple of
 *                 10 ms;
 *   TDM_EEXIST    a duplicate;
 *   TDM_EAGAIN    too late: its frame was already played (or concealed). */
int tdm_mix_push(struct tdm_mix *m, uint32_t speaker, const uint8_t *payload, size_t len,
                 uint16_t seq, uint32_t ts, int level, int64_t now_us);

/* Call at (or after) the deadline it returns; the first call starts the clock. Each call
 * at or past the deadline mixes one 20 ms frame: plays one frame of every speaker, updates
 * the active set, encodes, and queues one output per listener (in a DTX pause only its first
 * 1-2 byte frame, as browsers send, then none). Output not drained by then is dropped
 * (stats.outputs_dropped). Called early it does nothing. More than 5 frames late, it skips to now.
 * Returns the next deadline (now_us-based). */
int64_t tdm_mix_tick(struct tdm_mix *m, int64_t now_us);

struct tdm_mix_out {
    uint32_t listener;
    const uint8_t *payload; /* Opus, borrowed until the next tick or remove/destroy */
    size_t len;
    uint16_t seq; /* continuous per listener */
    uint32_t ts;  /* 48 kHz RTP timestamp */
    bool marker;  /* first packet after DTX silence or the first one (RFC 3551 §4.1) */
};

/* The next listener output of the last tick: true and *out filled, or false when all
 * were taken. */
bool tdm_mix_next_output(struct tdm_mix *m, struct tdm_mix_out *out);

/* The speaker ids mixed in the last tick (at most cfg.active), loudest first is not
 * promised. Returns how many were written (at most max). */
size_t tdm_mix_active(const struct tdm_mix *m, uint32_t *ids, size_t max);

struct tdm_mix_stats {
    uint64_t ticks;
    /* per packet decoded (10-60 ms each; 20 ms from browsers by default) */
    uint64_t frames_decoded;   /* from their own packet */
    uint64_t frames_fec;       /* rebuilt from the next packet's in-band FEC */
    uint64_t frames_plc;       /* concealed */
    uint64_t frames_skipped;   /* packets of speakers outside the mix, not decoded */
    uint64_t packets_late;     /* TDM_EAGAIN */
    uint64_t packets_dropped;  /* duplicates; buffer overflow; trimmed when a sender runs
                                  fast */
    uint64_t packets_rejected; /* TDM_EINVAL, TDM_ETOOBIG, TDM_EUNSUPP */
    uint64_t restarts;         /* sender restarts taken (see push) */
    uint64_t encodes;          /* opus_encode calls */
    uint64_t outputs;          /* payloads queued */
    uint64_t outputs_dropped;  /* not drained before the next tick */
    uint64_t delay_sum_us;     /* arrival to playout, over frames_decoded */
    int64_t delay_max_us;
    int encoder_delay_us; /* encoder lookahead (OPUS_GET_LOOKAHEAD) */
};
void tdm_mix_get_stats(const struct tdm_mix *m, struct tdm_mix_stats *out);

#endif
