/* Simulcast layer selection and the VP8 descriptor rewriting of one consumer. Per-packet
 * code: no allocation, no locks, no logging. See include/tandem/layersel.h. */
#include "tandem/layersel.h"

#include "tandem/err.h"

#include <string.h>

#define PID_MASK 0x7fff

void tdm_layersel_init(struct tdm_layersel *l, uint16_t seq0, uint32_t ts0, bool vp8)
{
    memset(l, 0, sizeof *l);
    tdm_seqmap_init(&l->seq, seq0, ts0);
    l->cur = TDM_LAYERSEL_NONE;
    l->target = 0;
    l->vp8 = vp8;
}

void tdm_layersel_set_target(struct tdm_layersel *l, int target)
{
    if (target < TDM_LAYERSEL_NONE || target >= TDM_LAYERSEL_MAX)
        target = TDM_LAYERSEL_NONE;
    l->target = (int8_t)target;
    if (target == TDM_LAYERSEL_NONE)
        l->cur = TDM_LAYERSEL_NONE; /* resuming is a switch: it waits for a keyframe */
}

/* True when 15-bit picture id a is newer than b (RFC 1982 in 15 bits). */
static bool pid_newer(uint16_t a, uint16_t b)
{
    uint16_t d = (uint16_t)((a - b) & PID_MASK);
    return d != 0 && d < 0x4000;
}

/* The descriptor's picture id and TL0PICIDX, when present (RFC 7741 §4.2). */
static void vp8_ids(const uint8_t *p, size_t len, bool *has_pid, uint16_t *pid, bool *has_tl0,
                    uint8_t *tl0)
{
    *has_pid = *has_tl0 = false;
    if (len < 2 || !(p[0] & 0x80))
        return;
    size_t pos = 2;
    if (p[1] & 0x80) {
        if (pos >= len)
            return;
        if (p[pos] & 0x80) {
            if (pos + 1 >= len)
                return;
            *pid = (uint16_t)(((p[pos] & 0x7f) << 8) | p[pos + 1]);
            pos += 2;
        } else {
            *pid = p[pos] & 0x7f;
            pos += 1;
        }
        *has_pid = true;
    }
    if ((p[1] & 0x40) && pos < len) {
        *tl0 = p[pos];
        *has_tl0 = true;
    }
}

/* A new layer starts: its ids continue one after the highest written so far. */
static void rebase_vp8(struct tdm_layersel *l, const uint8_t *pl, size_t len)
{
    bool hp, ht;
    uint16_t pid = 0;
    uint8_t tl0 = 0;
    vp8_ids(pl, len, &hp, &pid, &ht, &tl0);
    if (hp)
        l->pid_off = l->have_pid ? (uint16_t)((l->pid_hi + 1 - pid) & PID_MASK) : 0;
    if (ht)
        l->tl0_off = l->have_tl0 ? (uint8_t)(l->tl0_hi + 1 - tl0) : 0;
}

static void note_vp8(struct tdm_layersel *l, const uint8_t *pl, size_t len)
{
    bool hp, ht;
    uint16_t pid = 0;
    uint8_t tl0 = 0;
    vp8_ids(pl, len, &hp, &pid, &ht, &tl0);
    if (hp) {
        uint16_t out = (uint16_t)((pid + l->pid_off) & PID_MASK);
        if (!l->have_pid || pid_newer(out, l->pid_hi))
            l->pid_hi = out;
        l->have_pid = true;
    }
    if (ht) {
        uint8_t out = (uint8_t)(tl0 + l->tl0_off);
        if (!l->have_tl0 || (int8_t)(out - l->tl0_hi) > 0)
            l->tl0_hi = out;
        l->have_tl0 = true;
    }
}

int tdm_layersel_map(struct tdm_layersel *l, int layer, const struct tdm_rtp_view *v, bool keyframe,
                     int64_t now_us, uint32_t clock, struct tdm_layersel_out *o)
{
    if (clock == 0)
        return TDM_EINVAL;
    o->switched = false;
    if (l->target == TDM_LAYERSEL_NONE)
        return TDM_LAYERSEL_DROP;
    if (layer == l->target && layer != l->cur && keyframe) {
        tdm_seqmap_switch(&l->seq, v->ssrc);
        l->cur = (int8_t)layer;
        l->rebase = true;
        o->switched = true;
    }
    if (layer != l->cur)
        return TDM_LAYERSEL_DROP;
    if (tdm_seqmap_map(&l->seq, v->ssrc, v->seq, v->ts, now_us, clock, &o->seq, &o->ts) !=
        TDM_SEQMAP_FORWARD)
        return TDM_LAYERSEL_DROP;
    if (o->switched)
        l->switches++;
    const uint8_t *pl = v->buf + v->payload_off;
    if (l->vp8 && l->rebase) {
        rebase_vp8(l, pl, v->payload_len);
        l->rebase = false;
    }
    if (l->vp8)
        note_vp8(l, pl, v->payload_len);
    o->ts_off = o->ts - v->ts;
    o->pid_off = l->pid_off;
    o->tl0_off = l->tl0_off;
    return TDM_LAYERSEL_FORWARD;
}

int tdm_layersel_vp8_rewrite(uint8_t *p, size_t len, uint16_t pid_off, uint8_t tl0_off)
{
    if (len < 1)
        return TDM_ETRUNC;
    if (!(p[0] & 0x80))
        return 0;
    if (len < 2)
        return TDM_ETRUNC;
    size_t pos = 2;
    if (p[1] & 0x80) {
        if (pos >= len)
            return TDM_ETRUNC;
        if (p[pos] & 0x80) {
            if (pos + 1 >= len)
                return TDM_ETRUNC;
            uint16_t pid = (uint16_t)(((p[pos] & 0x7f) << 8) | p[pos + 1]);
            pid = (uint16_t)((pid + pid_off) & PID_MASK);
            p[pos] = (uint8_t)(0x80 | (pid >> 8));
            p[pos + 1] = (uint8_t)pid;
            pos += 2;
        } else {
            p[pos] = (uint8_t)((p[pos] + pid_off) & 0x7f);
            pos += 1;
        }
    }
    if (p[1] & 0x40) {
        if (pos >= len)
            return TDM_ETRUNC;
        p[pos] = (uint8_t)(p[pos] + tl0_off);
    }
    return 0;
}
