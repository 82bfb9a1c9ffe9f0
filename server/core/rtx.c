/* Send history (NACK response), RTX wrapping (RFC 4588) and the keyframe request
 * throttle. Only create/destroy allocate; the per-packet calls do not allocate, lock or
 * log. */
#include "tandem/rtx.h"

#include "tandem/err.h"
#include "tandem/rtp.h"

#include <stdlib.h>
#include <string.h>

struct slot {
    int64_t sent_us;
    int64_t resent_us;
    uint16_t seq;
    uint16_t len;
    bool used;
    bool resent;
};

struct tdm_rtx_hist {
    size_t slots, slot_bytes;
    int64_t max_age_us, min_interval_us;
    struct slot *meta;
    uint8_t *data; /* slots * slot_bytes */
};

struct tdm_rtx_hist *tdm_rtx_hist_create(size_t slots, size_t slot_bytes)
{
    if (slots < 16 || slots > 32768 || (slots & (slots - 1)) || slot_bytes < 12 ||
        slot_bytes > 65535)
        return NULL;
    struct tdm_rtx_hist *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->meta = calloc(slots, sizeof *h->meta);
    h->data = malloc(slots * slot_bytes);
    if (!h->meta || !h->data) {
        tdm_rtx_hist_destroy(h);
        return NULL;
    }
    h->slots = slots;
    h->slot_bytes = slot_bytes;
    h->max_age_us = 1000000;
    return h;
}

void tdm_rtx_hist_destroy(struct tdm_rtx_hist *h)
{
    if (!h)
        return;
    free(h->meta);
    free(h->data);
    free(h);
}

void tdm_rtx_hist_set_limits(struct tdm_rtx_hist *h, int64_t max_age_us, int64_t min_interval_us)
{
    h->max_age_us = max_age_us;
    h->min_interval_us = min_interval_us;
}

int tdm_rtx_hist_put(struct tdm_rtx_hist *h, const uint8_t *pkt, size_t len, int64_t now_us)
{
    if (!pkt || len < TDM_RTP_HEADER_MIN)
        return TDM_ETRUNC;
    uint16_t seq = (uint16_t)((pkt[2] << 8) | pkt[3]);
    struct slot *s = &h->meta[seq & (h->slots - 1)];
    if (len > h->slot_bytes) {
        s->used = false;
        return TDM_ETOOBIG;
    }
    memcpy(h->data + (seq & (h->slots - 1)) * h->slot_bytes, pkt, len);
    *s = (struct slot){.sent_us = now_us, .seq = seq, .len = (uint16_t)len, .used = true};
    return 0;
}

static struct slot *lookup(const struct tdm_rtx_hist *h, uint16_t seq, int64_t now_us)
{
    struct slot *s = &h->meta[seq & (h->slots - 1)];
    if (!s->used || s->seq != seq || now_us - s->sent_us > h->max_age_us)
        return NULL;
    return s;
}

int tdm_rtx_hist_get(const struct tdm_rtx_hist *h, uint16_t seq, int64_t now_us,
                     const uint8_t **pkt)
{
    struct slot *s = lookup(h, seq, now_us);
    if (!s)
        return TDM_ENOTFOUND;
    *pkt = h->data + (seq & (h->slots - 1)) * h->slot_bytes;
    return s->len;
}

int tdm_rtx_hist_resend(struct tdm_rtx_hist *h, uint16_t seq, int64_t now_us,
                        struct tdm_rtx_stream *rtx, uint8_t *out, size_t cap)
{
    struct slot *s = lookup(h, seq, now_us);
    if (!s)
        return TDM_ENOTFOUND;
    if (s->resent && now_us - s->resent_us < h->min_interval_us)
        return TDM_EAGAIN;
    const uint8_t *pkt = h->data + (seq & (h->slots - 1)) * h->slot_bytes;
    int n;
    if (rtx) {
        n = tdm_rtx_wrap(out, cap, pkt, s->len, rtx->pt, rtx->ssrc, rtx->next_seq);
        if (n < 0)
            return n;
        rtx->next_seq++;
    } else {
        if (!out || cap < s->len)
            return TDM_ETOOBIG;
        memcpy(out, pkt, s->len);
        n = s->len;
    }
    s->resent = true;
    s->resent_us = now_us;
    return n;
}

int tdm_rtx_wrap(uint8_t *out, size_t cap, const uint8_t *orig, size_t len, uint8_t rtx_pt,
                 uint32_t rtx_ssrc, uint16_t rtx_seq)
{
    struct tdm_rtp_view v;
    int r = tdm_rtp_parse(&v, orig, len, NULL, 0);
    if (r < 0)
        return r;
    if (rtx_pt > 127)
        return TDM_EINVAL;
    size_t total = v.header_len + 2 + v.payload_len;
    if (!out || cap < total || total > 65535)
        return TDM_ETOOBIG;
    memcpy(out, orig, v.header_len);
    out[0] &= (uint8_t)~0x20; /* the RTX packet carries no padding of its own here */
    tdm_rtp_set_pt(out, total, rtx_pt);
    tdm_rtp_set_seq(out, total, rtx_seq);
    tdm_rtp_set_ssrc(out, total, rtx_ssrc);
    out[v.header_len] = (uint8_t)(v.seq >> 8);
    out[v.header_len + 1] = (uint8_t)v.seq;
    if (v.payload_len)
        memcpy(out + v.header_len + 2, orig + v.payload_off, v.payload_len);
    return (int)total;
}

int tdm_rtx_unwrap(uint8_t *pkt, size_t len, uint8_t apt_pt, uint32_t media_ssrc)
{
    struct tdm_rtp_view v;
    int r = tdm_rtp_parse(&v, pkt, len, NULL, 0);
    if (r < 0)
        return r;
    if (apt_pt > 127)
        return TDM_EINVAL;
    if (v.payload_len < 2)
        return TDM_ETRUNC;
    if (v.header_len + v.payload_len > 65535)
        return TDM_ETOOBIG;
    uint16_t osn = (uint16_t)((pkt[v.payload_off] << 8) | pkt[v.payload_off + 1]);
    memmove(pkt + v.payload_off, pkt + v.payload_off + 2, v.payload_len - 2);
    size_t n = v.header_len + v.payload_len - 2;
    pkt[0] &= (uint8_t)~0x20;
    tdm_rtp_set_pt(pkt, n, apt_pt);
    tdm_rtp_set_seq(pkt, n, osn);
    tdm_rtp_set_ssrc(pkt, n, media_ssrc);
    return (int)n;
}

/* --- keyframe request throttle ------------------------------------------------------- */

void tdm_rtx_kf_throttle_init(struct tdm_rtx_kf_throttle *t, int64_t interval_us)
{
    memset(t, 0, sizeof *t);
    t->interval_us = interval_us;
}

bool tdm_rtx_kf_throttle_request(struct tdm_rtx_kf_throttle *t, int64_t now_us)
{
    if (!t->sent_any || now_us - t->last_us >= t->interval_us) {
        t->sent_any = true;
        t->last_us = now_us;
        t->pending = false;
        return true;
    }
    t->pending = true;
    return false;
}

bool tdm_rtx_kf_throttle_poll(struct tdm_rtx_kf_throttle *t, int64_t now_us)
{
    if (!t->pending || now_us - t->last_us < t->interval_us)
        return false;
    t->pending = false;
    t->last_us = now_us;
    return true;
}

void tdm_rtx_kf_throttle_on_keyframe(struct tdm_rtx_kf_throttle *t)
{
    t->pending = false;
}

int64_t tdm_rtx_kf_throttle_deadline(const struct tdm_rtx_kf_throttle *t)
{
    return t->pending ? t->last_us + t->interval_us : INT64_MAX;
}

uint8_t tdm_rtx_kf_throttle_next_fir_seq(struct tdm_rtx_kf_throttle *t)
{
    return t->fir_seq++;
}
