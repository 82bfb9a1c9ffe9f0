/* One speaker of the mix: its packets (10 to 60 ms each) are judged against the stream so
 * far, kept in a small ring ordered by sequence number, and played 20 ms per tick through
 * the speaker's own Opus decoder (a missing packet from the next one's in-band FEC, else
 * concealed). A speaker outside the mix is not decoded: its packets are passed over at the
 * same pace, and when it enters the mix its decoder is reset and fed the packet before
 * (still in the ring), so that it is heard at once and without a click. No allocation
 * outside init. */
#include "mix_internal.h"

#include "tandem/err.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_JUMP_SAMPLES (5 * 48000) /* 5 s of packets: beyond that a jump is wild */
#define MAX_BACK_SAMPLES (5 * 48000) /* an old packet at most 5 s back */
#define FORGET_US 60000000           /* after a minute without packets, judge anew */
#define FAST_TICKS 10                /* ticks over depth before a packet is skipped */

enum { SRC_PACKET, SRC_FEC, SRC_PLC };

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
    size_t boff = ((size_t)TDM_MIX_JB_SLOTS * TDM_MIX_MAX_PAYLOAD + 15) & ~(size_t)15;
    size_t doff = boff + TDM_MIX_MAX_SAMPLES * sizeof(int16_t);
    uint8_t *block = malloc(doff + (size_t)dsize);
    if (!block)
        return TDM_ENOMEM;
    memset(s, 0, sizeof *s);
    s->block = block;
    for (size_t i = 0; i < TDM_MIX_JB_SLOTS; i++)
        s->slot[i].data = block + i * TDM_MIX_MAX_PAYLOAD;
    s->buf = (int16_t *)(void *)(block + boff);
    s->dec = (OpusDecoder *)(void *)(block + doff);
    if (opus_decoder_init(s->dec, TDM_MIX_RATE, 1) != OPUS_OK) {
        free(block);
        s->block = NULL;
        return TDM_EINVAL;
    }
    s->id = id;
    s->used = true;
    s->level = 127;
    s->unit = TDM_MIX_FRAME;
    s->warm = true; /* a new decoder: nothing to catch up */
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
        s->slot[i].used = s->slot[i].held = false;
    s->buffered = 0;
    s->carry = 0;
}

static struct mix_slot *find(struct mix_speaker *s, uint16_t seq)
{
    struct mix_slot *sl = &s->slot[seq % TDM_MIX_JB_SLOTS];
    return sl->used && sl->seq == seq ? sl : NULL;
}

/* A packet already played whose data is still in the ring. */
static const struct mix_slot *find_held(const struct mix_speaker *s, uint16_t seq)
{
    const struct mix_slot *sl = &s->slot[seq % TDM_MIX_JB_SLOTS];
    return sl->held && sl->seq == seq ? sl : NULL;
}

static void release(struct mix_speaker *s, struct mix_slot *sl)
{
    if (sl && sl->used) {
        sl->used = false;
        s->buffered--;
    }
}

/* Does a packet dseq numbers and dts samples from the highest one fit the stream (packets
 * of `unit` samples)? Later packets may be further ahead in time than their number says
 * (the sender paused, DTX) but not further than the time elapsed, give or take half a
 * second and 2 % of clock drift (RFC 3550 §5.1: the timestamp follows the sampling clock). */
static bool fits(int dseq, int32_t dts, int64_t elapsed_us, unsigned unit)
{
    int64_t base = (int64_t)dseq * unit;
    if (base > MAX_JUMP_SAMPLES || base < -MAX_JUMP_SAMPLES)
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
    clear_slots(s); /* the decoder goes on: the sender's new stream follows its last one */
    s->have_ref = s->started = s->playing = s->have_played = false;
    s->probation = false;
}

/* RFC 3550 §A.1 in spirit: one packet off the stream is refused; a second that follows it
 * (next number, one packet later in its timestamps) is a sender restart. */
static int judge(struct mix_speaker *s, struct mix_counters *c, uint16_t seq, uint32_t ts,
                 unsigned unit, int64_t now_us)
{
    if (!s->have_ref)
        return 0;
    if (now_us - s->hi_us > FORGET_US) {
        restart(s);
        return 0;
    }
    if (fits(seq_diff(seq, s->hi_seq), (int32_t)(ts - s->hi_ts), now_us - s->hi_us, unit)) {
        s->probation = false;
        return 0;
    }
    if (s->probation && seq == seq_add(s->prob_seq, 1) &&
        fits(1, (int32_t)(ts - s->prob_ts), now_us - s->prob_us, unit)) {
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
                     unsigned samples, uint16_t seq, uint32_t ts, int level, int64_t now_us)
{
    int rc = judge(s, c, seq, ts, samples, now_us);
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
    sl->held = false;
    sl->len = (uint16_t)len;
    sl->samples = (uint16_t)samples;
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
        s->unit = samples;
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

/* Samples buffered: the rest of the current packet and the packets up to the newest. */
static unsigned depth(const struct mix_speaker *s)
{
    int n = s->buffered ? seq_diff(s->hi_seq, s->next_seq) + 1 : 0;
    return s->carry + (n > 0 ? (unsigned)n * s->unit : 0);
}

/* Samples to have before playout starts: prefetch frames, and a whole packet when packets
 * are longer than a frame (the next one is due only a packet later). */
static unsigned need(const struct mix_speaker *s, unsigned prefetch)
{
    return (prefetch - 1) * TDM_MIX_FRAME + (s->unit > TDM_MIX_FRAME ? s->unit : TDM_MIX_FRAME);
}

/* Buffered more than a packet over the depth for FAST_TICKS ticks in a row (the sender's
 * clock runs fast, or a burst after a stall): skip one packet to keep the delay down. */
static void trim(struct mix_speaker *s, struct mix_counters *c, unsigned prefetch)
{
    unsigned over = s->unit > TDM_MIX_FRAME ? s->unit : TDM_MIX_FRAME;
    if (depth(s) <= need(s, prefetch) + over) {
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

/* The current packet's audio into buf (samples long): its own data, the next packet's
 * FEC, or concealment; whatever libopus refuses is concealed, else silence. */
static void decode_cur(struct mix_speaker *s, const struct mix_slot *src, unsigned samples)
{
    int n;
    if (s->cur_src == SRC_PACKET && src)
        n = opus_decode(s->dec, src->data, src->len, s->buf, (int)samples, 0);
    else if (s->cur_src == SRC_FEC && src)
        n = opus_decode(s->dec, src->data, src->len, s->buf, (int)samples, 1);
    else
        n = opus_decode(s->dec, NULL, 0, s->buf, (int)samples, 0);
    if (n != (int)samples && opus_decode(s->dec, NULL, 0, s->buf, (int)samples, 0) != (int)samples)
        memset(s->buf, 0, samples * sizeof *s->buf);
}

/* The speaker enters the mix with a decoder that has missed packets: reset it (RFC 6716
 * §4: a decoder may start at any packet), let it hear the packet before the one it plays
 * (when the ring still has it) so its output starts smoothly, and when it enters in the
 * middle of a packet, decode that packet and play its remaining samples. */
static void catch_up(struct mix_speaker *s)
{
    opus_decoder_ctl(s->dec, OPUS_RESET_STATE);
    s->warm = true;
    uint16_t before = s->carry ? seq_add(s->cur_seq, -1) : seq_add(s->next_seq, -1);
    const struct mix_slot *prev = find_held(s, before);
    /* its output is not used: it only primes the decoder's state (an error leaves it reset) */
    if (prev && opus_decode(s->dec, prev->data, prev->len, s->buf, TDM_MIX_MAX_SAMPLES, 0) < 0)
        opus_decoder_ctl(s->dec, OPUS_RESET_STATE);
    if (!s->carry)
        return;
    const struct mix_slot *src = s->cur_src == SRC_PACKET ? find_held(s, s->cur_seq)
                                 : s->cur_src == SRC_FEC  ? find(s, seq_add(s->cur_seq, 1))
                                                          : NULL;
    unsigned samples = s->buf_off + s->carry;
    decode_cur(s, src, samples);
}

/* The next packet, or its stand-in, becomes the current one. False when the speaker has
 * been concealed for too long and stops (the sender went quiet: mute, DTX). */
static bool take(struct mix_speaker *s, struct mix_counters *c, bool decode, int64_t now_us)
{
    struct mix_slot *cur = find(s, s->next_seq);
    struct mix_slot *nxt = cur ? NULL : find(s, seq_add(s->next_seq, 1));
    unsigned samples = cur ? cur->samples : s->unit; /* a lost one: as long as the latest */
    s->cur_seq = s->next_seq;
    s->cur_src = cur ? SRC_PACKET : nxt ? SRC_FEC : SRC_PLC;
    if (!cur && !nxt && s->missed + samples > TDM_MIX_MAX_CONCEAL * TDM_MIX_FRAME) {
        s->playing = false;
        clear_slots(s);
        return false;
    }
    if (decode)
        decode_cur(s, cur ? cur : nxt, samples);
    if (cur) {
        if (decode) {
            int64_t d = now_us - cur->arrival_us;
            c->delay_sum_us += (uint64_t)(d > 0 ? d : 0);
            if (d > c->delay_max_us)
                c->delay_max_us = d;
            c->frames_decoded++;
        } else {
            c->frames_skipped++;
        }
        s->cur_level = cur->level;
        s->missed = 0;
        release(s, cur);
        cur->held = true;
    } else if (nxt) {
        if (decode)
            c->frames_fec++;
        s->cur_level = nxt->level;
        s->missed = 0;
    } else {
        if (decode)
            c->frames_plc++;
        s->missed += samples;
    }
    s->carry = samples;
    s->buf_off = 0;
    s->next_seq = seq_add(s->next_seq, 1);
    s->played_to = s->next_seq;
    s->have_played = true;
    return true;
}

int mix_speaker_peek(const struct mix_speaker *s, unsigned prefetch)
{
    if (!s->started || (!s->playing && (s->buffered == 0 || depth(s) < need(s, prefetch))))
        return MIX_SILENT;
    if (s->carry)
        return s->cur_level;
    for (int i = 0; i < 2; i++) { /* the packet due, else the next one (its FEC) */
        uint16_t q = seq_add(s->next_seq, i);
        const struct mix_slot *sl = &s->slot[q % TDM_MIX_JB_SLOTS];
        if (sl->used && sl->seq == q)
            return sl->level;
    }
    return s->missed + s->unit > TDM_MIX_MAX_CONCEAL * TDM_MIX_FRAME ? MIX_SILENT : s->cur_level;
}

void mix_speaker_play(struct mix_speaker *s, struct mix_counters *c, unsigned prefetch, bool decode,
                      int64_t now_us)
{
    s->sounding = false;
    s->level = 127;
    s->played = true;
    if (!s->started)
        return;
    if (!s->playing) {
        if (s->buffered == 0 || depth(s) < need(s, prefetch))
            return;
        s->playing = true;
        s->missed = 0;
        s->fast_ticks = 0;
    } else {
        trim(s, c, prefetch);
    }
    if (decode && !s->warm)
        catch_up(s);
    if (!decode)
        s->warm = false;
    int level = TDM_MIX_NO_LEVEL;
    for (unsigned pos = 0; pos < TDM_MIX_FRAME;) {
        if (!s->carry && !take(s, c, decode, now_us))
            return;
        if (pos == 0)
            level = s->cur_level;
        unsigned n = s->carry < TDM_MIX_FRAME - pos ? s->carry : TDM_MIX_FRAME - pos;
        if (decode)
            memcpy(s->pcm + pos, s->buf + s->buf_off, n * sizeof *s->pcm);
        s->buf_off += n;
        s->carry -= n;
        pos += n;
    }
    s->sounding = true;
    if (level != TDM_MIX_NO_LEVEL)
        s->level = level;
    else if (decode)
        s->level = pcm_level(s->pcm);
}
