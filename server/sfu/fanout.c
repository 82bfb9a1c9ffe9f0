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
        if (pr->ssrc || !pr->ext[TDM_SDP_EXT_MID])
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
 * in place. NULL: not forwarded (unknown SSRC, or an RTX padding probe). */
static struct prod *producer_of(struct part *o, uint8_t *buf, size_t *len, struct tdm_rtp_view *v)
{
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
    return bind_by_mid(o, v);
}

static void fan_out(struct tdm_sfu *s, struct prod *pr, const struct tdm_rtp_view *v, int64_t now)
{
    bool video = pr->kind == TDM_SDP_VIDEO;
    for (uint32_t i = 0; i < pr->n_cons; i++) {
        struct cons *c = pr->cons[i];
        if (!c->live)
            continue;
        if (video && c->sub->no_video_in) { /* its numbering closes over what it skips */
            tdm_seqmap_drop(&c->seqmap, v->ssrc, v->seq);
            continue;
        }
        struct peer *sp = c->sub->sub;
        struct tdm_fwd_out o = {.ssrc = c->ssrc, .pt = c->pt, .extmap = &c->extmap};
        if (tdm_seqmap_map(&c->seqmap, v->ssrc, v->seq, v->ts, now, pr->clock, &o.seq, &o.ts) !=
            TDM_SEQMAP_FORWARD)
            continue;
        struct tdm_sfu_transmit *t = sfu_tx_slot(s);
        if (!t)
            return; /* counted as tx_full; the numbering closed over it like a loss */
        int n = tdm_fwd_rewrite(t->buf, TDM_SFU_TX_BUF, v, &o);
        if (n < 0) {
            s->st.fwd_errors++; /* numbered but not sent: the subscriber sees a loss */
            continue;
        }
        if (c->hist)
            tdm_rtx_hist_put(c->hist, t->buf, (size_t)n, now);
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
    for (uint32_t i = 0; i < pr->n_cons; i++)
        tdm_seqmap_drop(&pr->cons[i]->seqmap, v->ssrc, v->seq);
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
    struct prod *pr = producer_of(p->part, buf, &len, &v);
    if (!pr)
        return;
    s->st.rtp_in++;
    tdm_rtpstats_rx_on_packet(&pr->rx, v.seq, v.ts, now, len);
    if (pr->nack) {
        if (tdm_nack_rx_on_packet(pr->nack, v.seq, now) & TDM_NACK_RX_KEYFRAME)
            fb_want_keyframe(s, pr, now);
        sfu_due(s, tdm_nack_rx_next_deadline(pr->nack));
    }
    /* Padding-only packets and other payload types (a codec the subscribers were not
     * offered) are not forwarded; the subscribers' numbering closes over them. */
    bool blocked = pr->kind == TDM_SDP_AUDIO ? p->part->block_audio : p->part->block_video;
    if (v.payload_len == 0 || v.pt != pr->pt || blocked) {
        drop_for_consumers(pr, &v);
        return;
    }
    if (pr->kind == TDM_SDP_VIDEO && is_keyframe(pr, buf + v.payload_off, v.payload_len)) {
        tdm_rtx_kf_throttle_on_keyframe(&pr->kf);
        if (pr->nack)
            tdm_nack_rx_on_keyframe(pr->nack, v.seq);
    }
    fan_out(s, pr, &v, now);
}
