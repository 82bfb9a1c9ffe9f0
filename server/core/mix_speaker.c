/* One speaker of the mix: its packets are judged against the stream so far, kept in a
 * small ring ordered by sequence number, and played one 20 ms frame per tick through the
 * speaker's own Opus decoder (a missing frame from the next packet's in-band FEC, else
 * concealed). No allocation outside init. */
#include "mix_internal.h"

#include "tandem/err.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_JUMP_FRAMES 250          /* 5 s of packets: beyond that a jump is wild */
#define MAX_BACK_SAMPLES (5 * 48000) /* an old packet at most 5 s back */
#define FORGET_US 60000000           /* after a minute without packets, judge anew */
#define FAST_TICKS 10                /* ticks over depth before a frame is skipped */

static uint16_t seq_add(uint16_t a, int d)
{
    return (uint16_t)(a + d);
}

static int16_t seq_diff(uint16_t a, uint16_t b)
{
    return (int16_t)(uint16_t)(a - b);
}

int mix_speaker_init(struct mix_speaker *s, uint32_t id)
{
    int dsize = opus_decoder_get_size(1);
    if (dsize <= 0)
        return TDM_EINVAL;
    size_t doff = ((size_t)TDM_MIX_JB_SLOTS * TDM_MIX_MAX_PAYLOAD + 15) & ~(size_t)15;
    uint8_t *block = malloc(doff + (size_t)dsize);
    if (!block)
        return TDM_ENOMEM;
    memset(s, 0, sizeof *s);
    s->block = block;
    for (size_t i = 0; i < TDM_MIX_JB_SLOTS; i++)
        s->slot[i].data = block + i * TDM_MIX_MAX_PAYLOAD;
    s->dec = (OpusDecoder *)(void *)(block + doff);
    if (opus_decoder_init(s->dec, TDM_MIX_RATE, 1) != OPUS_OK) {
        free(block);
        s->block = NULL;
        return TDM_EINVAL;
    }
    s->id = id;
    s->used = true;
    s->level = 127;
    return 0;
}

void mix_speaker_free(struct mix_speaker *s)
{
    free(s->block);
    memset(s, 0, sizeof *s);
}

static void clear_slots(struct mix_speaker *s)
{
    for (size_t i = 0; i < TDM_MIX_JB_SLOTS; i++)
        s->slot[i].used = false;
    s->buffered = 0;
}

static struct mix_slot *find(struct mix_speaker *s, uint16_t seq)
{
    struct mix_slot *sl = &s->slot[seq % TDM_MIX_JB_SLOTS];
    return sl->used && sl->seq == seq ? sl : NULL;
}

static void release(struct mix_speaker *s, struct mix_slot *sl)
{
    if (sl && sl->used) {
        sl->used = false;
        s->buffered--;
    }
}

/* Does a packet dseq numbers and dts samples from the highest one fit the stream? Later
 * packets may be further ahead in time than their number says (the sender paused, DTX)
 * but not further than the time elapsed, give or take half a second and 2 % of clock
 * drift (RFC 3550 §5.1: the timestamp follows the sampling clock). */
static bool fits(int dseq, int32_t dts, int64_t elapsed_us)
{
    int64_t base = (int64_t)dseq * TDM_MIX_FRAME;
    if (dseq > MAX_JUMP_FRAMES || dseq < -MAX_JUMP_FRAMES)
        return false;
    if (dseq == 0)
        return dts == 0;
    if (dseq < 0)
        return dts <= base && dts >= base - MAX_BACK_SAMPLES;
    int64_t el = elapsed_us > 0 ? elapsed_us * (TDM_MIX_RATE / 1000) / 1000 : 0;
    int64_t top = (base > el ? base : el) + TDM_MIX_RATE / 2 + el / 50;
    return dts >= base && dts <= top;
}

static void restart(struct mix_speaker *s)
{
    clear_slots(s);
    s->have_ref = s->started = s->playing = s->have_played = false;
    s->probation = false;
}

/* RFC 3550 §A.1 in spirit: one packet off the stream is refused; a second that follows it
 * (next number, 20 ms later in its timestamps) is a sender restart. */
static int judge(struct mix_speaker *s, struct mix_counters *c, uint16_t seq, uint32_t ts,
                 int64_t now_us)
{
    if (!s->have_ref)
        return 0;
    if (now_us - s->hi_us > FORGET_US) {
        restart(s);
        return 0;
    }
    if (fits(seq_diff(seq, s->hi_seq), (int32_t)(ts - s->hi_ts), now_us - s->hi_us)) {
        s->probation = false;
        return 0;
    }
    if (s->probation && seq == seq_add(s->prob_seq, 1) &&
        fits(1, (int32_t)(ts - s->prob_ts), now_us - s->prob_us)) {
        restart(s);
        c->restarts++;
        return 0;
    }
    s->probation = true;
    s->prob_seq = seq;
    s->prob_ts = ts;
    s->prob_us = now_us;
    c->packets_rejected++;
    return TDM_EINVAL;
}

/* Where the packet goes in the ring; 0 or TDM_EAGAIN (its frame was played). */
static int place(struct mix_speaker *s, struct mix_counters *c, uint16_t seq)
{
    if (s->have_played && seq_diff(seq, s->played_to) < 0) {
        c->packets_late++;
        return TDM_EAGAIN;
    }
    if (!s->started || (!s->playing && s->buffered == 0)) {
        s->next_seq = seq; /* a new talk spurt */
        s->started = true;
    } else if (seq_diff(seq, s->next_seq) < 0) {
        /* only while buffering (playing, next_seq == played_to): came before the first */
        if (seq_diff(s->hi_seq, seq) >= TDM_MIX_JB_SLOTS) {
            c->packets_late++;
            return TDM_EAGAIN;
        }
        s->next_seq = seq;
    }
    while (seq_diff(seq, s->next_seq) >= TDM_MIX_JB_SLOTS) {
        struct mix_slot *old = find(s, s->next_seq);
        if (old) {
            release(s, old);
            c->packets_dropped++;
        }
        s->next_seq = seq_add(s->next_seq, 1);
        if (s->playing)
            s->played_to = s->next_seq;
    }
    return 0;
}

int mix_speaker_push(struct mix_speaker *s, struct mix_counters *c, const uint8_t *p, size_t len,
                     uint16_t seq, uint32_t ts, int level, int64_t now_us)
{
    int rc = judge(s, c, seq, ts, now_us);
    if (rc != 0)
        return rc;
    if (s->have_ref && seq_diff(seq, s->hi_seq) == 0) {
        c->packets_dropped++;
        return TDM_EEXIST;
    }
    rc = place(s, c, seq);
    if (rc != 0)
        return rc;
    struct mix_slot *sl = &s->slot[seq % TDM_MIX_JB_SLOTS];
    if (sl->used && sl->seq == seq) {
        c->packets_dropped++;
        return TDM_EEXIST;
    }
    if (sl->used) /* cannot happen: the ring spans JB_SLOTS numbers; keep the count true */
        release(s, sl);
    memcpy(sl->data, p, len);
    sl->len = (uint16_t)len;
    sl->seq = seq;
    sl->level = (int16_t)level;
    sl->arrival_us = now_us;
    sl->used = true;
    s->buffered++;
    if (!s->have_ref || seq_diff(seq, s->hi_seq) > 0) {
        s->hi_seq = seq;
        s->hi_ts = ts;
        s->hi_us = now_us;
        s->have_ref = true;
    }
    return 0;
}

/* RFC 6464 §3 scale: 0 is the loudest (0 dBov), 127 silence. */
static int pcm_level(const int16_t *pcm)
{
    double e = 0;
    for (size_t i = 0; i < TDM_MIX_FRAME; i++)
        e += (double)pcm[i] * pcm[i];
    double rms = sqrt(e / TDM_MIX_FRAME);
    if (rms < 1.0)
        return 127;
    double db = -20.0 * log10(rms / 32768.0);
    return db > 127 ? 127 : db < 0 ? 0 : (int)(db + 0.5);
}

/* Buffered more than the depth for FAST_TICKS ticks in a row (the sender's clock runs fast,
 * or a burst after a stall): skip one frame to keep the delay down. */
static void trim(struct mix_speaker *s, struct mix_counters *c, unsigned prefetch)
{
    if (seq_diff(s->hi_seq, s->next_seq) + 1 <= (int)prefetch + 1) {
        s->fast_ticks = 0;
        return;
    }
    if (++s->fast_ticks < FAST_TICKS)
        return;
    s->fast_ticks = 0;
    struct mix_slot *sl = find(s, s->next_seq);
    if (sl) {
        release(s, sl);
        c->packets_dropped++;
    }
    s->next_seq = seq_add(s->next_seq, 1);
    s->played_to = s->next_seq;
}

/* One frame from the ring into pcm: the packet, else the next one's FEC, else PLC.
 * Returns the packet's level, TDM_MIX_NO_LEVEL if none. */
static int decode(struct mix_speaker *s, struct mix_counters *c, int64_t now_us)
{
    struct mix_slot *cur = find(s, s->next_seq);
    struct mix_slot *nxt = cur ? NULL : find(s, seq_add(s->next_seq, 1));
    int n, level = TDM_MIX_NO_LEVEL;
    if (cur) {
        n = opus_decode(s->dec, cur->data, cur->len, s->pcm, TDM_MIX_FRAME, 0);
        int64_t d = now_us - cur->arrival_us;
        c->delay_sum_us += (uint64_t)(d > 0 ? d : 0);
        if (d > c->delay_max_us)
            c->delay_max_us = d;
        c->frames_decoded++;
        level = cur->level;
        s->misses = 0;
        release(s, cur);
    } else if (nxt) {
        n = opus_decode(s->dec, nxt->data, nxt->len, s->pcm, TDM_MIX_FRAME, 1);
        c->frames_fec++;
        s->misses = 0;
    } else {
        n = opus_decode(s->dec, NULL, 0, s->pcm, TDM_MIX_FRAME, 0);
        c->frames_plc++;
        s->misses++;
    }
    if (n != TDM_MIX_FRAME && opus_decode(s->dec, NULL, 0, s->pcm, TDM_MIX_FRAME, 0) !=
                                  TDM_MIX_FRAME) /* a packet libopus refused: conceal it */
        memset(s->pcm, 0, sizeof s->pcm);
    s->next_seq = seq_add(s->next_seq, 1);
    s->played_to = s->next_seq;
    s->have_played = true;
    return level;
}

void mix_speaker_play(struct mix_speaker *s, struct mix_counters *c, unsigned prefetch,
                      int64_t now_us)
{
    s->sounding = false;
    s->level = 127;
    if (!s->started)
        return;
    if (!s->playing) {
        if (s->buffered == 0 || seq_diff(s->hi_seq, s->next_seq) + 1 < (int)prefetch)
            return;
        s->playing = true;
        s->misses = 0;
        s->fast_ticks = 0;
    } else {
        trim(s, c, prefetch);
    }
    int level = decode(s, c, now_us);
    if (s->misses > TDM_MIX_MAX_CONCEAL) {
        /* the sender went quiet: stop until it sends again */
        s->playing = false;
        clear_slots(s);
        return;
    }
    s->sounding = true;
    s->level = level != TDM_MIX_NO_LEVEL ? level : pcm_level(s->pcm);
}
