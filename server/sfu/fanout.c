/* RTP from a publisher: the producer it belongs to (RFC 4588 retransmissions unwrapped,
 * a stream without signalled SSRC found by its mid), the receive log for NACKs, keyframe
 * detection, and the fan-out to every live consumer: renumbered, rewritten, kept for
 * resends and protected for each subscriber. The hot path: it neither allocates, locks nor
 * logs. */
#include "sfu_internal.h"

#include <string.h>

/* ---- the hot path -------------------------------------------------------------------- */

static bool is_keyframe(const struct prod *pr, const uint8_t *p, size_t len)
{
    switch (pr->codec) {
    case TDM_SDP_CODEC_VP8: return tdm_rtp_vp8_is_keyframe(p, len);
    case TDM_SDP_CODEC_VP9: return tdm_rtp_vp9_is_keyframe(p, len);
    case TDM_SDP_CODEC_H264: return tdm_rtp_h264_is_keyframe(p, len);
    default: return false;
    }
}

/* A browser that signals no SSRC (rid simulcast, or a future one) is found by the mid
 * header extension of its first packet (RFC 8843 §9.2). */
static struct prod *bind_by_mid(struct part *o, const struct tdm_rtp_view *v)
{
    for (uint32_t i = 0; i < o->n_prods; i++) {
        struct prod *pr = o->prods[i];
        char mid[TDM_SDP_MID_CAP];
        if (pr->ssrc || !pr->ext[TDM_SDP_EXT_MID] || pr->rid[0])
            continue;
        if (tdm_rtp_ext_mid(v, pr->ext[TDM_SDP_EXT_MID], mid, sizeof mid) > 0 &&
            strcmp(mid, pr->mid) == 0) {
            pr->ssrc = v->ssrc;
            tdm_rtpstats_rx_init(&pr->rx, pr->ssrc, pr->clock);
            return pr;
        }
    }
    return NULL;
}

/* The producer of a packet, unwrapping RFC 4588 retransmissions into the original packet
 * in place. NULL: not forwarded (unknown SSRC, or an RTX padding probe); *known: the SSRC
 * is one of o's. */
static struct prod *find_producer(struct part *o, uint8_t *buf, size_t *len, struct tdm_rtp_view *v,
                                  bool *known)
{
    *known = true;
    for (uint32_t i = 0; i < o->n_prods; i++) {
        struct prod *pr = o->prods[i];
        if (v->ssrc == pr->ssrc)
            return pr;
        if (!pr->rtx_ssrc || v->ssrc != pr->rtx_ssrc || pr->rtx_pt < 0)
            continue;
        if (v->payload_len < 2)
            return NULL; /* bandwidth probe: padding only */
        int n = tdm_rtx_unwrap(buf, *len, pr->pt, pr->ssrc);
        if (n < 0 || tdm_rtp_parse(v, buf, (size_t)n, NULL, 0) != 0)
            return NULL;
        *len = (size_t)n;
        return pr;
    }
    *known = false;
    return NULL;
}

static struct prod *producer_of(struct part *o, uint8_t *buf, size_t *len, struct tdm_rtp_view *v,
                                int64_t now)
{
    bool known;
    struct prod *pr = find_producer(o, buf, len, v, &known);
    if (known)
        return pr;
    if (layers_bind(o, v, now)) /* a simulcast layer's first packet, or its first RTX */
        return find_producer(o, buf, len, v, &known);
    return bind_by_mid(o, v);
}

/* Each packet is kept once, as it came, in its layer's history; every subscriber forwards
 * the one layer it selected, rewritten into its own continuous stream. */
static void fan_out(struct tdm_sfu *s, struct prod *pr, const struct tdm_rtp_view *v, bool key,
                    int64_t now)
{
    struct prod *base = pr->base ? pr->base : pr;
    bool video = pr->kind == TDM_SDP_VIDEO;
    if (pr->hist)
        tdm_rtx_hist_put(pr->hist, v->buf, v->len, now);
    for (uint32_t i = 0; i < base->n_cons; i++) {
        struct cons *c = base->cons[i];
        if (!c->live)
            continue;
        if (video && c->sub->no_video_in) { /* back on: a switch, at a keyframe */
            tdm_layersel_set_target(&c->sel, TDM_LAYERSEL_NONE);
            continue;
        }
        if (!video && c->sub->mix_live) { /* heard through the mix (audiomix.c) */
            tdm_seqmap_drop(&c->sel.seq, v->ssrc, v->seq);
            continue;
        }
        struct peer *sp = c->sub->sub;
        struct tdm_layersel_out lo;
        if (tdm_layersel_map(&c->sel, pr->layer, v, key, now, pr->clock, &lo) !=
            TDM_LAYERSEL_FORWARD)
            continue;
        struct tdm_fwd_out o = {
            .ssrc = c->ssrc, .seq = lo.seq, .ts = lo.ts, .pt = c->pt, .extmap = &c->extmap};
        struct tdm_sfu_transmit *t = sfu_tx_slot(s);
        if (!t)
            return; /* counted as tx_full; the numbering closed over it like a loss */
        int n = tdm_fwd_rewrite(t->buf, TDM_SFU_TX_BUF, v, &o);
        if (n < 0) {
            s->st.fwd_errors++; /* numbered but not sent: the subscriber sees a loss */
            continue;
        }
        if (c->sel.vp8)
            tdm_layersel_vp8_rewrite(t->buf + v->payload_off, v->payload_len, lo.pid_off,
                                     lo.tl0_off);
        if (c->sent)
            layers_note_sent(c, &lo, pr->layer, v->seq);
        tdm_rtpstats_tx_on_packet(&c->tx, o.ts, v->payload_len, now);
        c->dl_marker = v->marker;
        n = dl_stamp(sp, t->buf, (size_t)n, 0, now);
        n = tdm_srtp_protect_rtp(sp->srtp, t->buf, (size_t)n, TDM_SFU_TX_BUF);
        if (n < 0) {
            s->st.fwd_errors++;
            continue;
        }
        peer_send(s, sp, t, (size_t)n);
        s->st.rtp_out++;
        s->st.fwd_bytes += (uint64_t)n;
    }
}

static void drop_for_consumers(struct prod *pr, const struct tdm_rtp_view *v)
{
    struct prod *base = pr->base ? pr->base : pr;
    for (uint32_t i = 0; i < base->n_cons; i++)
        tdm_seqmap_drop(&base->cons[i]->sel.seq, v->ssrc, v->seq);
}

/* How loud a microphone is (RFC 6464 level, smoothed over ~0.3 s of its time, DTX pauses
 * counted as silence): the active speaker. */
static void note_level(struct prod *pr, const struct tdm_rtp_view *v)
{
    uint8_t level;
    bool voice;
    if (tdm_rtp_ext_audio_level(v, pr->ext[TDM_SDP_EXT_AUDIO_LEVEL], &level, &voice) != 0)
        return;
    uint32_t dts = pr->level_seen ? v->ts - pr->level_ts : 0;
    pr->level_ema = tdm_fwd_level_ema(pr->level_ema, level, voice, dts, pr->clock);
    if (!pr->level_seen || tdm_rtp_ts_newer(v->ts, pr->level_ts))
        pr->level_ts = v->ts;
    pr->level_seen = true;
}

void fan_on_rtp(struct tdm_sfu *s, struct peer *p, uint8_t *buf, size_t len, int64_t now)
{
    int n = tdm_srtp_unprotect_rtp(p->srtp, buf, len);
    if (n < 0 || p->kind != PEER_PUB)
        return;
    len = (size_t)n;
    struct tdm_rtp_view v;
    if (tdm_rtp_parse(&v, buf, len, NULL, 0) != 0)
        return;
    struct prod *pr = producer_of(p->part, buf, &len, &v, now);
    if (!pr)
        return;
    s->st.rtp_in++;
    pr->last_rtp_us = now;
    tdm_rtpstats_rx_on_packet(&pr->rx, v.seq, v.ts, now, len);
    if (pr->nack) {
        if (tdm_nack_rx_on_packet(pr->nack, v.seq, now) & TDM_NACK_RX_KEYFRAME)
            fb_want_keyframe(s, pr, now);
        sfu_wake(s, p->part); /* a gap: its NACKs are due soon */
    }
    /* Padding-only packets and other payload types (a codec the subscribers were not
     * offered) are not forwarded; the subscribers' numbering closes over them. */
    bool blocked = pr->kind == TDM_SDP_AUDIO ? p->part->block_audio : p->part->block_video;
    if (v.payload_len == 0 || v.pt != pr->pt || blocked) {
        drop_for_consumers(pr, &v);
        return;
    }
    bool key = pr->kind != TDM_SDP_VIDEO; /* audio starts anywhere */
    if (key && pr->ext[TDM_SDP_EXT_AUDIO_LEVEL])
        note_level(pr, &v);
    if (pr->in_mix)
        amix_push(pr, &v, now);
    if (!key && is_keyframe(pr, buf + v.payload_off, v.payload_len)) {
        key = true;
        tdm_rtx_kf_throttle_on_keyframe(&pr->kf);
        if (pr->nack)
            tdm_nack_rx_on_keyframe(pr->nack, v.seq);
    }
    fan_out(s, pr, &v, key, now);
}
