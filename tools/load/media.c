/* tandem-load: what a participant sends (Opus from a voice-like signal, VP8-shaped video,
 * sender reports, NACK and PLI answers) and what it measures on what it receives (loss,
 * one-way delay from the stamp at the end of each payload, RFC 3550 jitter, receiver
 * reports). Nothing received is decoded. */
#include <math.h>
#include <opus/opus.h>
#include <stdlib.h>
#include <string.h>

#include "load.h"
#include "tandem/rtcp.h"
#include "tandem/rtp.h"
#include "tandem/util.h"

#define PT_OPUS 111
#define PT_VP8 96
#define OPUS_SAMPLES 960 /* 20 ms at 48 kHz */
#define STAMP_MAGIC0 'T'
#define STAMP_MAGIC1 'L'

/* ---- the Opus loop: encoded once, shared read-only by every sender ---------------------- */

/* A voice-like signal: a glottal tone whose pitch glides, rich in harmonics shaped by two
 * moving formants, in syllables of about 200 ms, with a pause now and then. */
static void voice(float *pcm, size_t frame)
{
    static double phase;
    for (size_t i = 0; i < OPUS_SAMPLES; i++) {
        double t = (double)(frame * OPUS_SAMPLES + i) / 48000.0;
        double f0 = 140 + 40 * sin(2 * M_PI * 0.7 * t) + 15 * sin(2 * M_PI * 3.1 * t);
        phase += 2 * M_PI * f0 / 48000.0;
        double f1 = 500 + 250 * sin(2 * M_PI * 2.3 * t), f2 = 1500 + 600 * sin(2 * M_PI * 1.7 * t);
        double s = 0;
        for (int k = 1; k * f0 < 4000; k++) {
            double f = k * f0;
            double g = 1.0 / (1 + pow((f - f1) / 120, 2)) + 0.5 / (1 + pow((f - f2) / 200, 2));
            s += g * sin(k * phase) / k;
        }
        double syll = fmax(0, sin(2 * M_PI * 2.5 * t));
        bool pause = fmod(t, 4.0) > 3.3;
        pcm[i] = (float)(pause ? 0.0 : 0.25 * s * syll);
    }
}

int ld_opus_prepare(struct ld_global *g, size_t frames)
{
    int err = 0;
    OpusEncoder *enc = opus_encoder_create(48000, 1, OPUS_APPLICATION_VOIP, &err);
    OpusDecoder *dec = opus_decoder_create(48000, 1, &err);
    g->opus = calloc(frames, sizeof *g->opus);
    if (!enc || !dec || !g->opus) {
        opus_encoder_destroy(enc);
        opus_decoder_destroy(dec);
        return TDM_ENOMEM;
    }
    opus_encoder_ctl(enc, OPUS_SET_BITRATE(32000));
    opus_encoder_ctl(enc, OPUS_SET_INBAND_FEC(1));
    opus_encoder_ctl(enc, OPUS_SET_PACKET_LOSS_PERC(5));
    float pcm[OPUS_SAMPLES];
    int rc = 0;
    for (size_t f = 0; f < frames && rc == 0; f++) {
        struct ld_opus_frame *of = &g->opus[f];
        voice(pcm, f);
        size_t room = sizeof of->data - LD_STAMP_LEN - 3;
        int n = opus_encode_float(enc, pcm, OPUS_SAMPLES, of->data, (opus_int32)room);
        /* Code-3 padding (RFC 6716 3.2.5) carries the stamp: decoders skip its bytes. */
        if (n <= 0 || opus_packet_pad(of->data, n, n + LD_STAMP_LEN + 3) != OPUS_OK) {
            rc = TDM_EINVAL;
            break;
        }
        of->len = (uint16_t)(n + LD_STAMP_LEN + 3);
        memset(of->data + of->len - LD_STAMP_LEN, 0xA5, LD_STAMP_LEN);
        if (opus_decode_float(dec, of->data, of->len, pcm, OPUS_SAMPLES, 0) != OPUS_SAMPLES)
            rc = TDM_EINVAL; /* the stamped packet must still decode */
    }
    g->n_opus = rc == 0 ? frames : 0;
    opus_encoder_destroy(enc);
    opus_decoder_destroy(dec);
    return rc;
}

/* ---- sending ---------------------------------------------------------------------------- */

void ld_part_media_init(struct ld_part *p)
{
    uint32_t r[4];
    do {
        for (int i = 0; i < 4; i++)
            r[i] = (uint32_t)g_random_int();
        p->audio.ssrc = r[0] | 1;
        p->video.ssrc = r[1] | 2;
    } while (p->audio.ssrc == p->video.ssrc);
    p->audio.seq = (uint16_t)r[2];
    p->video.seq = (uint16_t)(r[2] >> 16);
    p->audio.ts_base = r[3];
    p->video.ts_base = r[3] * 7u;
    p->video.want_key = true;
    p->video.picture_id = (uint16_t)(r[1] & 0x7fff);
}

static size_t rtp_header(uint8_t *b, uint8_t pt, bool marker, uint16_t seq, uint32_t ts,
                         uint32_t ssrc)
{
    b[0] = 0x80;
    b[1] = (uint8_t)(pt | (marker ? 0x80 : 0));
    b[2] = (uint8_t)(seq >> 8);
    b[3] = (uint8_t)seq;
    for (int i = 0; i < 4; i++) {
        b[4 + i] = (uint8_t)(ts >> (24 - 8 * i));
        b[8 + i] = (uint8_t)(ssrc >> (24 - 8 * i));
    }
    return 12;
}

static void stamp(uint8_t *end, bool measured, bool video, uint32_t source, int64_t now)
{
    uint8_t *s = end - LD_STAMP_LEN;
    s[0] = STAMP_MAGIC0;
    s[1] = STAMP_MAGIC1;
    s[2] = measured ? 1 : 0;
    s[3] = video ? 1 : 0;
    for (int i = 0; i < 4; i++)
        s[4 + i] = (uint8_t)(source >> (24 - 8 * i));
    for (int i = 0; i < 8; i++)
        s[8 + i] = (uint8_t)((uint64_t)now >> (56 - 8 * i));
}

static void count_sent(struct ld_part *p, size_t bytes, bool video, bool measured)
{
    struct ld_stats *st = &p->sh->st;
    g_mutex_lock(&p->sh->lock);
    st->sent_pkts++;
    st->sent_bytes += bytes;
    if (measured) {
        if (video)
            st->m_sent_video++;
        else
            st->m_sent_audio++;
        st->m_expected += (uint64_t)p->fanout;
    }
    g_mutex_unlock(&p->sh->lock);
}

static void send_audio(struct ld_part *p, int64_t now, bool measured)
{
    const struct ld_global *g = p->sh->g;
    const struct ld_opus_frame *f =
        &g->opus[(p->audio.frame + (uint32_t)p->gindex * 37) % g->n_opus];
    uint8_t pkt[LD_PKT_MAX + TDM_SRTP_MAX_TRAILER];
    uint32_t ts = p->audio.ts_base + p->audio.frame * OPUS_SAMPLES;
    size_t h = rtp_header(pkt, PT_OPUS, false, p->audio.seq++, ts, p->audio.ssrc);
    memcpy(pkt + h, f->data, f->len);
    stamp(pkt + h + f->len, measured, false, (uint32_t)p->gindex * 2, now);
    p->audio.frame++;
    p->audio.packets++;
    p->audio.octets += f->len;
    if (ld_conn_send_rtp(&p->pub, pkt, h + f->len) == 0)
        count_sent(p, h + f->len, false, measured);
}

/* One VP8 packet: descriptor with a 15-bit picture id (RFC 7741 4.2), on the first packet
 * of a picture the frame tag (RFC 6386 9.1; a keyframe's start code and size), filler, and
 * the stamp at the end. */
static size_t vp8_packet(struct ld_part *p, uint8_t *pkt, size_t psize, bool first, bool last,
                         bool key, uint32_t ts, bool measured, int64_t now)
{
    size_t h = rtp_header(pkt, PT_VP8, last, p->video.seq++, ts, p->video.ssrc);
    uint8_t *v = pkt + h;
    v[0] = (uint8_t)(0x80 | (first ? 0x10 : 0));
    v[1] = 0x80;
    v[2] = (uint8_t)(0x80 | (p->video.picture_id >> 8));
    v[3] = (uint8_t)p->video.picture_id;
    size_t pos = 4;
    memset(v + pos, 0x5A, psize - pos);
    if (first) {
        v[pos] = (uint8_t)((key ? 0x00 : 0x01) | 0x10); /* show_frame */
        v[pos + 1] = 0x40;
        v[pos + 2] = 0x01;
        if (key) {
            const uint8_t sc[7] = {0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01}; /* 640x480 */
            memcpy(v + pos + 3, sc, sizeof sc);
        }
    }
    stamp(v + psize, measured, true, (uint32_t)p->gindex * 2 + 1, now);
    return h + psize;
}

static void keep_for_nack(struct ld_part *p, const uint8_t *pkt, size_t len)
{
    uint16_t seq = (uint16_t)(pkt[2] << 8 | pkt[3]);
    struct ld_rtx_slot *s = &p->rtx[seq % LD_RTX_SLOTS];
    s->seq = seq;
    s->len = (uint16_t)len;
    s->used = true;
    memcpy(s->pkt, pkt, len);
}

static void send_video(struct ld_part *p, int64_t now, bool measured)
{
    const struct ld_opts *o = &p->sh->g->o;
    bool key = p->video.want_key || now - p->video.last_key_us >= (int64_t)o->keyframe_ms * 1000;
    size_t bytes = (size_t)o->video_kbps * 1000 / 8 / (size_t)o->fps;
    if (key) {
        bytes *= 3;
        p->video.want_key = false;
        p->video.last_key_us = now;
        g_mutex_lock(&p->sh->lock);
        p->sh->st.keyframes++;
        g_mutex_unlock(&p->sh->lock);
    }
    size_t min = 4 + 10 + LD_STAMP_LEN;
    size_t npk = (bytes + LD_PAYLOAD_MAX - 1) / LD_PAYLOAD_MAX;
    size_t psize = npk ? bytes / npk : min;
    if (psize < min)
        psize = min;
    if (npk == 0)
        npk = 1;
    uint32_t ts =
        p->video.ts_base + (uint32_t)((uint64_t)p->video.frame * 90000 / (uint64_t)o->fps);
    uint8_t buf[LD_BATCH][LD_PKT_MAX + TDM_SRTP_MAX_TRAILER];
    uint8_t *pkts[LD_BATCH];
    size_t lens[LD_BATCH], bytes_in[LD_BATCH];
    for (size_t i = 0; i < npk;) {
        size_t n = 0;
        for (; n < LD_BATCH && i < npk; n++, i++) {
            pkts[n] = buf[n];
            lens[n] = vp8_packet(p, buf[n], psize, i == 0, i + 1 == npk, key, ts, measured, now);
            bytes_in[n] = lens[n];
            keep_for_nack(p, buf[n], lens[n]);
            p->video.packets++;
            p->video.octets += (uint32_t)(lens[n] - 12);
        }
        int sent = ld_conn_send_batch(&p->pub, pkts, lens, n);
        for (int k = 0; k < sent; k++)
            count_sent(p, bytes_in[k], true, measured);
    }
    p->video.frame++;
    p->video.picture_id = (uint16_t)((p->video.picture_id + 1) & 0x7fff);
}

void ld_part_send_due(struct ld_part *p, int64_t now)
{
    if (!p->sends || !ld_conn_ready(&p->pub))
        return;
    const struct ld_opts *o = &p->sh->g->o;
    int phase = atomic_load(&p->sh->g->phase);
    if (phase == LD_PH_STOP)
        return;
    bool measured = phase == LD_PH_MEASURE;
    if (p->audio.next_us == 0) {
        p->audio.next_us = now + g_random_int_range(0, 20000);
        p->video.next_us = now + g_random_int_range(0, 1000000 / o->fps);
    }
    for (int k = 0; k < 10 && p->audio.next_us <= now; k++) {
        send_audio(p, now, measured);
        p->audio.next_us += 20000;
    }
    if (o->audio_only)
        return;
    for (int k = 0; k < 4 && p->video.next_us <= now; k++) {
        send_video(p, now, measured);
        p->video.next_us += 1000000 / o->fps;
    }
    if (p->audio.next_us < now - 200000) /* far behind (a stalled loop): skip, do not burst */
        p->audio.next_us = now;
    if (p->video.next_us < now - 200000)
        p->video.next_us = now;
}
