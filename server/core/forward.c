/* Forwarding decisions: a publisher's packet rewritten for one subscriber, extension id
 * translation (RFC 8285), and the REMB target for a publisher. See include/tandem/forward.h. */
#include "tandem/forward.h"

#include "tandem/err.h"

#include <string.h>

/* Extensions whose value describes the publisher's session, not the packet: never forwarded
 * under a negotiated id (RFC 8843 §15: mid; RFC 8852: rid, repaired rid). */
static bool ext_forwardable(int e)
{
    return e != TDM_SDP_EXT_MID && e != TDM_SDP_EXT_RID && e != TDM_SDP_EXT_RRID;
}

int tdm_fwd_extmap_build(struct tdm_fwd_extmap *m, const uint8_t in_ids[TDM_SDP_EXT_COUNT],
                         const uint8_t out_ids[TDM_SDP_EXT_COUNT])
{
    bool used[256] = {false};
    for (int e = 0; e < TDM_SDP_EXT_COUNT; e++)
        used[out_ids[e]] = true;
    uint8_t neutral = 0;
    for (uint8_t id = 1; id <= 14 && !neutral; id++)
        if (!used[id])
            neutral = id;
    if (!neutral)
        return TDM_EFULL;
    m->neutral = neutral;
    m->map[0] = 0;
    for (int id = 1; id < 256; id++)
        m->map[id] = neutral;
    for (int e = 0; e < TDM_SDP_EXT_COUNT; e++)
        if (in_ids[e] && out_ids[e] && ext_forwardable(e))
            m->map[in_ids[e]] = out_ids[e];
    /* Identity only when every id in use on the way in keeps its number. */
    m->identity = true;
    for (int e = 0; e < TDM_SDP_EXT_COUNT && m->identity; e++)
        if (in_ids[e] && m->map[in_ids[e]] != in_ids[e])
            m->identity = false;
    /* A publisher sends only ids it negotiated (RFC 8285 §6), so when none of those moves
     * the walk can be skipped. */
    return 0;
}

/* The walk of RFC 8285 §4.2/§4.3 with bounds, renaming ids in place. A zero byte is padding;
 * id 15 in the one-byte form ends the block. */
int tdm_fwd_remap_ext(uint8_t *pkt, size_t len, const struct tdm_rtp_view *v,
                      const struct tdm_fwd_extmap *m)
{
    if (!v->extension || m->identity)
        return 0;
    if (v->ext_form != TDM_RTP_EXT_ONE_BYTE && v->ext_form != TDM_RTP_EXT_TWO_BYTE)
        return 0;
    if (v->ext_off > len || v->ext_len > len - v->ext_off)
        return TDM_EINVAL;
    size_t pos = v->ext_off, end = v->ext_off + v->ext_len;
    bool one = v->ext_form == TDM_RTP_EXT_ONE_BYTE;
    while (pos < end) {
        uint8_t b = pkt[pos];
        if (b == 0) {
            pos++;
            continue;
        }
        size_t dlen;
        if (one) {
            if ((b >> 4) == 15)
                return 0;
            dlen = (size_t)(b & 0x0f) + 1;
            if (end - pos - 1 < dlen)
                return TDM_EINVAL;
            uint8_t to = m->map[b >> 4];
            if (to > 14)
                to = m->neutral; /* cannot be written in a nibble; 15 would end the block */
            pkt[pos] = (uint8_t)((to << 4) | (b & 0x0f));
            pos += 1 + dlen;
        } else {
            if (end - pos < 2)
                return TDM_EINVAL;
            dlen = pkt[pos + 1];
            if (end - pos - 2 < dlen)
                return TDM_EINVAL;
            pkt[pos] = m->map[b];
            pos += 2 + dlen;
        }
    }
    return 0;
}

int tdm_fwd_rewrite(uint8_t *out, size_t cap, const struct tdm_rtp_view *v,
                    const struct tdm_fwd_out *o)
{
    if (cap < v->len || v->len < TDM_RTP_HEADER_MIN)
        return TDM_ETOOBIG;
    memcpy(out, v->buf, v->len);
    out[1] = (uint8_t)((out[1] & 0x80) | (o->pt & 0x7f));
    out[2] = (uint8_t)(o->seq >> 8);
    out[3] = (uint8_t)o->seq;
    out[4] = (uint8_t)(o->ts >> 24);
    out[5] = (uint8_t)(o->ts >> 16);
    out[6] = (uint8_t)(o->ts >> 8);
    out[7] = (uint8_t)o->ts;
    out[8] = (uint8_t)(o->ssrc >> 24);
    out[9] = (uint8_t)(o->ssrc >> 16);
    out[10] = (uint8_t)(o->ssrc >> 8);
    out[11] = (uint8_t)o->ssrc;
    if (o->extmap)
        tdm_fwd_remap_ext(out, v->len, v, o->extmap);
    return (int)v->len;
}

uint64_t tdm_fwd_remb_target(const struct tdm_fwd_remb_in *in, size_t n, uint64_t floor_bps,
                             uint64_t cap_bps)
{
    uint64_t best = UINT64_MAX;
    for (size_t i = 0; i < n; i++) {
        if (!in[i].remb_bps)
            continue;
        uint64_t share = in[i].remb_bps / (in[i].video_streams ? in[i].video_streams : 1);
        if (!in[i].rate_bps || share >= in[i].rate_bps / 20 * 19)
            continue; /* not congested: it only has not climbed yet */
        if (share < best)
            best = share;
    }
    if (best == UINT64_MAX || best > cap_bps)
        best = cap_bps;
    if (best < floor_bps)
        best = floor_bps;
    return best;
}

uint64_t tdm_fwd_loss_estimate(uint64_t est_bps, uint64_t rate_bps, uint8_t fraction_lost,
                               uint64_t cap_bps)
{
    if (fraction_lost > 25) { /* > 10 % (25.6 / 256) */
        uint64_t base = rate_bps;
        if (!base || (est_bps && est_bps < base))
            base = est_bps;
        if (!base)
            return 0; /* nothing known to cut from */
        uint64_t cut = base / 512 * (512 - fraction_lost);
        return cut ? cut : 1;
    }
    if (fraction_lost < 5) { /* < 2 % */
        if (!est_bps)
            return 0;
        uint64_t up = est_bps + est_bps / 20 + 1;
        return up >= cap_bps ? 0 : up;
    }
    return est_bps;
}

uint8_t tdm_fwd_audio_loss(uint8_t held, uint8_t target)
{
    if (target > TDM_FWD_AUDIO_LOSS_MAX)
        target = TDM_FWD_AUDIO_LOSS_MAX;
    if (held > TDM_FWD_AUDIO_LOSS_MAX)
        held = TDM_FWD_AUDIO_LOSS_MAX;
    if (target >= held)
        return target;
    uint8_t fall = held / 4 ? held / 4 : 1;
    return held - fall > target ? (uint8_t)(held - fall) : target;
}

uint16_t tdm_fwd_level_ema(uint16_t ema, uint8_t level, bool voice, uint32_t dts, uint32_t clock)
{
    uint32_t frame = clock / 50 ? clock / 50 : 1; /* 20 ms */
    uint32_t frames = dts >= 0x80000000u ? 1 : dts / frame;
    if (frames > TDM_FWD_LEVEL_GAP_FRAMES)
        frames = TDM_FWD_LEVEL_GAP_FRAMES;
    for (uint32_t i = 1; i < frames; i++)
        ema = (uint16_t)(ema - ema / 16); /* a frame of silence */
    int score = voice && level <= 127 ? (127 - level) * 16 : 0;
    return (uint16_t)(ema + (score - (int)ema) / 16);
}

uint64_t tdm_fwd_voice_hold(uint64_t held, uint64_t rate)
{
    held -= held / TDM_FWD_VOICE_FADE;
    return rate > held ? rate : held;
}

uint64_t tdm_fwd_voice_charge(uint64_t held, uint64_t rate)
{
    return rate < held / 4 * 3 ? held : rate;
}

uint8_t tdm_fwd_voice_loss(uint8_t fraction, uint32_t packets, int64_t interval_us)
{
    int64_t frames = interval_us / 20000;
    if (interval_us <= 0 || frames <= (int64_t)packets)
        return fraction;
    return (uint8_t)((uint64_t)fraction * packets / (uint64_t)frames);
}

bool tdm_fwd_budget_take(struct tdm_fwd_budget *b, size_t len, uint64_t rate_bps, int64_t now_us)
{
    uint64_t bps = rate_bps / TDM_FWD_BUDGET_SHARE_DIV;
    if (bps < TDM_FWD_BUDGET_MIN_BPS)
        bps = TDM_FWD_BUDGET_MIN_BPS;
    if (!b->at_us) {
        b->tokens = TDM_FWD_BUDGET_BURST;
    } else if (now_us > b->at_us) {
        int64_t dt = now_us - b->at_us;
        if (dt > 10000000)
            dt = 10000000; /* long idle: the burst caps it anyway; no overflow */
        b->tokens += (int64_t)((uint64_t)dt * bps / 8000000u);
        if (b->tokens > TDM_FWD_BUDGET_BURST)
            b->tokens = TDM_FWD_BUDGET_BURST;
    }
    if (now_us > b->at_us)
        b->at_us = now_us; /* never backwards: a clock step must not refill twice */
    if (b->tokens < (int64_t)len)
        return false;
    b->tokens -= (int64_t)len;
    return true;
}
