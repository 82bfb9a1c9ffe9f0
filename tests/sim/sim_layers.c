/* A simulated page publishing rid simulcast (RFC 8853) the way Chromium does with three
 * encodings: one m-section with a=rid/a=simulcast and no SSRC lines, each layer its own
 * SSRC, sequence numbers, VP8 picture ids (15 bits) and TL0PICIDX, keyframes on request per
 * layer, the mid and rid header extensions on every packet. All layers carry the same
 * frame numbers and timestamps (one capture, three encodings). Also what a receiver reads
 * back out of our video payloads. */
#include "sim_internal.h"

#include "tandem/err.h"
#include "tandem/rtp.h"
#include "tandem/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VIDEO_PT 96
#define FRAME_US 33333
#define PAYLOAD_MAX 1100
#define EXT_MID 1
#define EXT_RID 2
#define EXT_RRID 3
#define DESC 5 /* X|S, I|L, 15-bit picture id, TL0PICIDX */
#define TAG 6  /* VP8 frame tag (and start code for a keyframe) */
#define OURS 17

static const char *const RID[SIM_LAYERS] = {"q", "h", "f"};
static const unsigned DIV[SIM_LAYERS] = {12, 4, 1};

void sim_peer_publish_simulcast(struct sim_peer *p, bool audio, uint64_t max_bps)
{
    p->n_layers = SIM_LAYERS;
    for (unsigned i = 0; i < SIM_LAYERS; i++) {
        struct sim_layer *l = &p->layers[i];
        l->ssrc = sim_rand(p->sim) | 1;
        l->seq = (uint16_t)sim_rand(p->sim);
        l->pid = (uint16_t)(sim_rand(p->sim) & 0x7fff);
        l->tl0 = (uint8_t)sim_rand(p->sim);
        l->key_next = true;
        if (!l->hist)
            l->hist = calloc(SIM_HIST, sizeof *l->hist);
    }
    sim_peer_publish(p, audio, true, max_bps);
    sim_layers_rates(p, 300000); /* a browser's start rate */
}

void sim_layers_free(struct sim_peer *p)
{
    for (unsigned i = 0; i < SIM_LAYERS; i++)
        free(p->layers[i].hist);
}

size_t sim_layers_offer(struct sim_peer *p, char *o, size_t cap)
{
    (void)p;
    int n = snprintf(o, cap,
                     "a=extmap:%d urn:ietf:params:rtp-hdrext:sdes:mid\r\n"
                     "a=extmap:%d urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id\r\n"
                     "a=extmap:%d urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id\r\n"
                     "a=rid:q send\r\na=rid:h send\r\na=rid:f send\r\n"
                     "a=simulcast:send q;h;f\r\n",
                     EXT_MID, EXT_RID, EXT_RRID);
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

void sim_layers_rates(struct sim_peer *p, uint64_t bps)
{
    uint64_t left = bps;
    for (unsigned i = 0; i < p->n_layers; i++) {
        struct sim_layer *l = &p->layers[i];
        uint64_t want = p->max_bps / DIV[i];
        uint64_t was = l->bps;
        l->bps = i == 0 ? (want < left ? want : left) : want <= left ? want : 0;
        left -= l->bps;
        if (!was && l->bps)
            l->key_next = true; /* a layer turned on again starts with a keyframe */
    }
}

static void send_plain(struct sim_peer *p, const uint8_t *pkt, size_t len)
{
    uint8_t buf[SIM_PKT_MAX];
    memcpy(buf, pkt, len);
    int n = tdm_srtp_protect_rtp(p->conn[0].srtp, buf, len, sizeof buf);
    if (n > 0)
        sim_send_up(&p->conn[0], buf, (size_t)n);
}

/* RTP header with the mid ("1") and rid extensions (RFC 8285 one-byte form). */
static size_t header(uint8_t *b, bool marker, const struct sim_layer *l, uint32_t ts, int i)
{
    b[0] = 0x90;
    b[1] = (uint8_t)(VIDEO_PT | (marker ? 0x80 : 0));
    tdm_wr16(b + 2, l->seq);
    tdm_wr32(b + 4, ts);
    tdm_wr32(b + 8, l->ssrc);
    const uint8_t ext[8] = {0xbe, 0xde, 0, 1, EXT_MID << 4, '1', EXT_RID << 4, (uint8_t)RID[i][0]};
    memcpy(b + 12, ext, sizeof ext);
    return 20;
}

static void send_layer(struct sim_peer *p, int i, int64_t now)
{
    struct sim_layer *l = &p->layers[i];
    bool key = l->key_next;
    l->key_next = false;
    uint64_t bytes = l->bps / 8 * FRAME_US / 1000000;
    if (key) {
        bytes *= 3;
        p->st.keyframes_sent++;
    }
    uint16_t count = (uint16_t)((bytes + PAYLOAD_MAX - 1) / PAYLOAD_MAX);
    count = count ? count > 60 ? 60 : count : 1;
    uint32_t ts = p->frame_no * 3000;
    if ((l->pid & 1) == 0)
        l->tl0++; /* two temporal layers, as Chromium's default */
    for (uint16_t k = 0; k < count; k++) {
        struct sim_sent *h = &l->hist[l->seq % SIM_HIST];
        uint8_t *b = h->buf;
        size_t hl = header(b, k + 1 == count, l, ts, i);
        size_t len = hl + (bytes / count > DESC + TAG + OURS ? bytes / count : DESC + TAG + OURS);
        if (len > sizeof h->buf)
            len = sizeof h->buf;
        uint8_t *v = b + hl;
        memset(v, 0, len - hl);
        v[0] = k == 0 ? 0x90 : 0x80;
        v[1] = 0xc0;
        tdm_wr16(v + 2, (uint16_t)(0x8000 | l->pid));
        v[4] = l->tl0;
        uint8_t *tag = v + DESC;
        if (key) {
            tag[3] = 0x9d;
            tag[4] = 0x01;
            tag[5] = 0x2a;
        } else {
            tag[0] = 0x01;
        }
        uint8_t *o = tag + TAG;
        tdm_wr32(o, p->frame_no);
        tdm_wr16(o + 4, k);
        tdm_wr16(o + 6, count);
        tdm_wr32(o + 8, (uint32_t)(now >> 32));
        tdm_wr32(o + 12, (uint32_t)now);
        o[16] = (uint8_t)i;
        h->seq = l->seq++;
        h->len = len;
        p->st.bytes_sent_video += len;
        send_plain(p, b, len);
    }
    l->pid = (uint16_t)((l->pid + 1) & 0x7fff);
}

void sim_layers_send_frame(struct sim_peer *p, int64_t now)
{
    for (unsigned i = 0; i < p->n_layers; i++)
        if (p->layers[i].bps)
            send_layer(p, (int)i, now);
    p->frame_no++;
}

bool sim_layers_on_fb(struct sim_peer *p, const struct tdm_rtcp_pkt *pk)
{
    struct tdm_rtcp_fb fb;
    bool pli = pk->type == TDM_RTCP_PSFB && pk->count == TDM_RTCP_FMT_PLI &&
               tdm_rtcp_parse_pli(pk, &fb) == 0;
    bool nack = pk->type == TDM_RTCP_RTPFB && pk->count == TDM_RTCP_FMT_NACK &&
                tdm_rtcp_parse_nack(pk, &fb) == 0;
    for (unsigned i = 0; (pli || nack) && i < p->n_layers; i++) {
        struct sim_layer *l = &p->layers[i];
        if (fb.media_ssrc != l->ssrc)
            continue;
        if (pli) {
            p->st.plis_received++;
            l->key_next = true;
            return true;
        }
        uint16_t seqs[64];
        size_t n = tdm_rtcp_nack_expand(&fb, seqs, 64);
        for (size_t k = 0; k < n; k++) {
            struct sim_sent *h = &l->hist[seqs[k] % SIM_HIST];
            if (h->len && h->seq == seqs[k]) {
                p->st.resent++;
                send_plain(p, h->buf, h->len);
            }
        }
        return true;
    }
    return false;
}

int sim_payload_parse(const uint8_t *pl, size_t len, struct sim_payload *out)
{
    struct tdm_rtp_vp8_desc d;
    if (tdm_rtp_vp8_parse(&d, pl, len) != 0 || len < d.header_len + TAG + 16)
        return -1;
    const uint8_t *o = pl + d.header_len + TAG;
    out->frame = tdm_rd32(o);
    out->idx = tdm_rd16(o + 4);
    out->count = tdm_rd16(o + 6);
    out->key = d.keyframe;
    out->has_pid = d.has_picture_id;
    out->pid = d.picture_id;
    out->layer = d.has_picture_id && len >= d.header_len + TAG + OURS ? o[16] : 0;
    if (out->count == 0 || out->count > 64 || out->idx >= out->count || out->layer >= SIM_LAYERS)
        return -1;
    return 0;
}

void sim_peer_reset_freeze(struct sim_peer *p)
{
    for (unsigned i = 0; i < p->n_streams; i++)
        p->streams[i].v.max_freeze_us = 0;
}

void sim_peer_set_dtx(struct sim_peer *p, bool on)
{
    p->dtx = on;
}

void sim_check_continuity(struct sim_stream *st, const struct tdm_rtp_view *v,
                          const struct sim_payload *y)
{
    if (!y->has_pid)
        return;
    if (!st->have_pid) {
        st->have_pid = true;
        st->last_pid = y->pid;
        st->last_ts = v->ts;
        st->last_seq = v->seq;
        return;
    }
    if (!tdm_rtp_seq_newer(v->seq, st->last_seq))
        return; /* a retransmission */
    bool contiguous = (uint16_t)(st->last_seq + 1) == v->seq;
    if (v->ts != st->last_ts) { /* the next picture: the next id, unless some were lost */
        if (contiguous && y->pid != ((st->last_pid + 1) & 0x7fff))
            st->v.pid_errors++;
        if (tdm_rtp_ts_newer(st->last_ts, v->ts))
            st->v.ts_back++;
        st->last_ts = v->ts;
    } else if (y->pid != st->last_pid) {
        st->v.pid_errors++; /* one picture, two ids */
    }
    st->last_pid = y->pid;
    st->last_seq = v->seq;
}

bool sim_switch_rewind(struct sim_stream *st, const struct sim_payload *y)
{
    if (y->idx != 0 || !y->key || y->layer == st->chain_layer || st->cur_frame - y->frame > 2)
        return false;
    for (uint32_t f = y->frame; f < st->cur_frame; f++)
        st->ring[f % 64].used = false;
    st->cur_frame = y->frame;
    return true;
}
