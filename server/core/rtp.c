/* RTP header view, in-place writers, serial-number order and codec keyframe detection.
 * Per-packet code: no allocation, no locks, no logging. */
#include "tandem/rtp.h"

#include "tandem/err.h"
#include "tandem/util.h"

#include <string.h>

/* --- extension elements -------------------------------------------------------------- */

struct ext_cursor {
    const uint8_t *p;
    size_t pos, end;
    uint8_t form;
};

/* Next element of a one-/two-byte block. Returns 1 with id/off/len, 0 at the end, or
 * TDM_ETRUNC when an element's length runs past the block. A 0 byte is padding in both
 * forms (RFC 8285 §4.2, §4.3); id 15 in the one-byte form ends processing (§4.2). */
static int ext_next(struct ext_cursor *c, uint8_t *id, size_t *off, size_t *len)
{
    while (c->pos < c->end) {
        uint8_t b = c->p[c->pos];
        if (b == 0) {
            c->pos++;
            continue;
        }
        size_t hdr, dlen;
        if (c->form == TDM_RTP_EXT_ONE_BYTE) {
            if ((b >> 4) == 15)
                return 0;
            *id = (uint8_t)(b >> 4);
            hdr = 1;
            dlen = (size_t)(b & 0x0f) + 1;
        } else {
            if (c->end - c->pos < 2)
                return TDM_ETRUNC;
            *id = b;
            hdr = 2;
            dlen = c->p[c->pos + 1];
        }
        if (c->end - c->pos - hdr < dlen)
            return TDM_ETRUNC;
        *off = c->pos + hdr;
        *len = dlen;
        c->pos += hdr + dlen;
        return 1;
    }
    return 0;
}

static void ext_cursor_init(struct ext_cursor *c, const struct tdm_rtp_view *v)
{
    c->p = v->buf;
    c->pos = v->ext_off;
    c->end = v->ext_off + v->ext_len;
    c->form = v->ext_form;
}

static int ext_validate(const struct tdm_rtp_view *v)
{
    if (v->ext_form != TDM_RTP_EXT_ONE_BYTE && v->ext_form != TDM_RTP_EXT_TWO_BYTE)
        return 0;
    struct ext_cursor c;
    ext_cursor_init(&c, v);
    uint8_t id;
    size_t off, len;
    int r;
    /* Each element consumes at least one byte, so this ends within ext_len steps. */
    while ((r = ext_next(&c, &id, &off, &len)) == 1)
        ;
    return r;
}

/* RFC 3550 §5.3.1: 16-bit profile, 16-bit length in 32-bit words, then the data. */
static int parse_ext_block(struct tdm_rtp_view *v, size_t *pos, char *err, size_t errlen)
{
    const uint8_t *p = v->buf;
    if (v->len - *pos < 4)
        return tdm_seterr(err, errlen, TDM_ETRUNC, "rtp: extension header at %zu truncated", *pos);
    v->ext_profile = tdm_rd16(p + *pos);
    size_t words = tdm_rd16(p + *pos + 2);
    *pos += 4;
    if ((v->len - *pos) / 4 < words)
        return tdm_seterr(err, errlen, TDM_ETRUNC,
                          "rtp: extension of %zu words at %zu past the end (%zu)", words, *pos,
                          v->len);
    v->ext_off = *pos;
    v->ext_len = words * 4;
    *pos += v->ext_len;
    if (v->ext_profile == 0xBEDE)
        v->ext_form = TDM_RTP_EXT_ONE_BYTE;
    else if ((v->ext_profile & 0xFFF0) == 0x1000)
        v->ext_form = TDM_RTP_EXT_TWO_BYTE;
    else
        v->ext_form = TDM_RTP_EXT_OTHER;
    if (ext_validate(v) < 0)
        return tdm_seterr(err, errlen, TDM_EINVAL,
                          "rtp: extension element runs past its block (profile 0x%04x)",
                          v->ext_profile);
    return 0;
}

int tdm_rtp_parse(struct tdm_rtp_view *v, const uint8_t *p, size_t len, char *err, size_t errlen)
{
    memset(v, 0, sizeof *v);
    if (!p || len < TDM_RTP_HEADER_MIN)
        return tdm_seterr(err, errlen, TDM_ETRUNC, "rtp: %zu bytes, header needs 12", len);
    if ((p[0] >> 6) != 2)
        return tdm_seterr(err, errlen, TDM_EINVAL, "rtp: version %u, not 2", p[0] >> 6);
    v->buf = p;
    v->len = len;
    v->padding = (p[0] & 0x20) != 0;
    v->extension = (p[0] & 0x10) != 0;
    v->csrc_count = p[0] & 0x0f;
    v->marker = (p[1] & 0x80) != 0;
    v->pt = p[1] & 0x7f;
    v->seq = tdm_rd16(p + 2);
    v->ts = tdm_rd32(p + 4);
    v->ssrc = tdm_rd32(p + 8);

    size_t pos = TDM_RTP_HEADER_MIN;
    if ((len - pos) / 4 < v->csrc_count)
        return tdm_seterr(err, errlen, TDM_ETRUNC, "rtp: %u CSRCs past the end (%zu bytes)",
                          v->csrc_count, len);
    pos += 4u * v->csrc_count;
    if (v->extension) {
        int r = parse_ext_block(v, &pos, err, errlen);
        if (r < 0)
            return r;
    }
    v->header_len = pos;
    v->payload_off = pos;
    size_t rest = len - pos;
    if (v->padding) {
        /* RFC 3550 §5.1: the last octet counts the padding, itself included. */
        uint8_t pad = rest ? p[len - 1] : 0;
        if (pad == 0 || pad > rest)
            return tdm_seterr(err, errlen, TDM_EINVAL,
                              "rtp: padding %u with %zu bytes after the header", pad, rest);
        v->padding_len = pad;
        rest -= pad;
    }
    v->payload_len = rest;
    return 0;
}

bool tdm_rtp_is_rtcp(const uint8_t *p, size_t len)
{
    return p && len >= 2 && p[1] >= 192 && p[1] <= 223;
}

int tdm_rtp_ext_find(const struct tdm_rtp_view *v, uint8_t id, size_t *off, size_t *len)
{
    if (id == 0 || (v->ext_form == TDM_RTP_EXT_ONE_BYTE && id >= 15))
        return TDM_EINVAL;
    if (v->ext_form != TDM_RTP_EXT_ONE_BYTE && v->ext_form != TDM_RTP_EXT_TWO_BYTE)
        return TDM_ENOTFOUND;
    struct ext_cursor c;
    ext_cursor_init(&c, v);
    uint8_t eid;
    size_t eoff, elen;
    int r;
    while ((r = ext_next(&c, &eid, &eoff, &elen)) == 1) {
        if (eid == id) {
            *off = eoff;
            *len = elen;
            return 0;
        }
    }
    return r < 0 ? r : TDM_ENOTFOUND;
}

/* RFC 4566 §9 token-char, which RFC 8843 §15.1 uses for identification-tag. */
static bool token_char(uint8_t c)
{
    return c == 0x21 || (c >= 0x23 && c <= 0x27) || c == 0x2a || c == 0x2b || c == 0x2d ||
           c == 0x2e || (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) ||
           (c >= 0x5e && c <= 0x7e);
}

int tdm_rtp_ext_mid(const struct tdm_rtp_view *v, uint8_t id, char *out, size_t outlen)
{
    size_t off, len;
    int r = tdm_rtp_ext_find(v, id, &off, &len);
    if (r < 0)
        return r;
    if (len == 0)
        return TDM_EINVAL;
    if (!out || outlen <= len)
        return TDM_ETOOBIG;
    for (size_t i = 0; i < len; i++) {
        if (!token_char(v->buf[off + i]))
            return TDM_EINVAL;
        out[i] = (char)v->buf[off + i];
    }
    out[len] = '\0';
    return (int)len;
}

static int ext_fixed(const struct tdm_rtp_view *v, uint8_t id, size_t want, size_t *off)
{
    size_t len;
    int r = tdm_rtp_ext_find(v, id, off, &len);
    if (r < 0)
        return r;
    return len == want ? 0 : TDM_EINVAL;
}

int tdm_rtp_ext_audio_level(const struct tdm_rtp_view *v, uint8_t id, uint8_t *level, bool *voice)
{
    size_t off;
    int r = ext_fixed(v, id, 1, &off);
    if (r < 0)
        return r;
    *voice = (v->buf[off] & 0x80) != 0;
    *level = v->buf[off] & 0x7f;
    return 0;
}

int tdm_rtp_ext_twcc_seq(const struct tdm_rtp_view *v, uint8_t id, uint16_t *seq)
{
    size_t off;
    int r = ext_fixed(v, id, 2, &off);
    if (r < 0)
        return r;
    *seq = tdm_rd16(v->buf + off);
    return 0;
}

/* --- writers ------------------------------------------------------------------------- */

int tdm_rtp_set_ssrc(uint8_t *pkt, size_t len, uint32_t ssrc)
{
    if (!pkt || len < TDM_RTP_HEADER_MIN)
        return TDM_ETRUNC;
    tdm_wr32(pkt + 8, ssrc);
    return 0;
}

int tdm_rtp_set_seq(uint8_t *pkt, size_t len, uint16_t seq)
{
    if (!pkt || len < TDM_RTP_HEADER_MIN)
        return TDM_ETRUNC;
    tdm_wr16(pkt + 2, seq);
    return 0;
}

int tdm_rtp_set_ts(uint8_t *pkt, size_t len, uint32_t ts)
{
    if (!pkt || len < TDM_RTP_HEADER_MIN)
        return TDM_ETRUNC;
    tdm_wr32(pkt + 4, ts);
    return 0;
}

int tdm_rtp_set_pt(uint8_t *pkt, size_t len, uint8_t pt)
{
    if (!pkt || len < TDM_RTP_HEADER_MIN)
        return TDM_ETRUNC;
    if (pt > 127)
        return TDM_EINVAL;
    pkt[1] = (uint8_t)((pkt[1] & 0x80) | pt);
    return 0;
}

size_t tdm_rtp_write_header(uint8_t *b, uint8_t pt, bool marker, uint16_t seq, uint32_t ts,
                            uint32_t ssrc, uint8_t pad)
{
    b[0] = (uint8_t)(0x80 | (pad ? 0x20 : 0));
    b[1] = (uint8_t)((pt & 0x7f) | (marker ? 0x80 : 0));
    b[2] = (uint8_t)(seq >> 8);
    b[3] = (uint8_t)seq;
    tdm_wr32(b + 4, ts);
    tdm_wr32(b + 8, ssrc);
    if (pad) {
        memset(b + TDM_RTP_HEADER_MIN, 0, pad);
        b[TDM_RTP_HEADER_MIN + pad - 1] = pad;
    }
    return TDM_RTP_HEADER_MIN + pad;
}

int tdm_rtp_ext_overwrite(uint8_t *pkt, const struct tdm_rtp_view *v, uint8_t id,
                          const uint8_t *val, size_t vlen)
{
    if (!pkt || pkt != v->buf)
        return TDM_EINVAL;
    size_t off, len;
    int r = tdm_rtp_ext_find(v, id, &off, &len);
    if (r < 0)
        return r;
    if (len != vlen)
        return TDM_EINVAL;
    if (vlen)
        memcpy(pkt + off, val, vlen);
    return 0;
}

int tdm_rtp_ext_set_twcc_seq(uint8_t *pkt, const struct tdm_rtp_view *v, uint8_t id, uint16_t seq)
{
    uint8_t b[2];
    tdm_wr16(b, seq);
    return tdm_rtp_ext_overwrite(pkt, v, id, b, sizeof b);
}

/* --- serial-number order ------------------------------------------------------------ */

bool tdm_rtp_seq_newer(uint16_t a, uint16_t b)
{
    uint16_t d = (uint16_t)(a - b);
    /* Exactly half the range apart is ambiguous; break the tie by value, as both ends
     * of a comparison must agree that only one of a, b is newer. */
    if (d == 0x8000)
        return a > b;
    return d != 0 && d < 0x8000;
}

bool tdm_rtp_ts_newer(uint32_t a, uint32_t b)
{
    uint32_t d = a - b;
    if (d == 0x80000000u)
        return a > b;
    return d != 0 && d < 0x80000000u;
}

/* --- VP8 (RFC 7741 §4.2) ------------------------------------------------------------- */

static int vp8_ext_fields(struct tdm_rtp_vp8_desc *d, const uint8_t *p, size_t len, size_t *pos)
{
    if (*pos >= len)
        return TDM_ETRUNC;
    uint8_t x = p[(*pos)++];
    d->has_picture_id = (x & 0x80) != 0;
    d->has_tl0 = (x & 0x40) != 0;
    d->has_tid = (x & 0x20) != 0;
    d->has_keyidx = (x & 0x10) != 0;
    if (d->has_picture_id) {
        if (*pos >= len)
            return TDM_ETRUNC;
        d->picture_id_15 = (p[*pos] & 0x80) != 0;
        if (d->picture_id_15) {
            if (len - *pos < 2)
                return TDM_ETRUNC;
            d->picture_id = (uint16_t)(tdm_rd16(p + *pos) & 0x7fff);
            *pos += 2;
        } else {
            d->picture_id = p[(*pos)++] & 0x7f;
        }
    }
    if (d->has_tl0) {
        if (*pos >= len)
            return TDM_ETRUNC;
        d->tl0picidx = p[(*pos)++];
    }
    if (d->has_tid || d->has_keyidx) {
        if (*pos >= len)
            return TDM_ETRUNC;
        uint8_t b = p[(*pos)++];
        d->tid = d->has_tid ? (uint8_t)(b >> 6) : 0;
        d->layer_sync = d->has_tid && (b & 0x20);
        d->keyidx = d->has_keyidx ? (uint8_t)(b & 0x1f) : 0;
    }
    return 0;
}

int tdm_rtp_vp8_parse(struct tdm_rtp_vp8_desc *d, const uint8_t *p, size_t len)
{
    memset(d, 0, sizeof *d);
    if (!p || len < 1)
        return TDM_ETRUNC;
    size_t pos = 1;
    d->non_ref = (p[0] & 0x20) != 0;
    d->start = (p[0] & 0x10) != 0;
    d->pid = p[0] & 0x07;
    if (p[0] & 0x80) {
        int r = vp8_ext_fields(d, p, len, &pos);
        if (r < 0)
            return r;
    }
    if (pos >= len)
        return TDM_ETRUNC;
    d->header_len = pos;
    /* RFC 6386 §9.1: the frame tag's low bit is 0 for a key frame, and a key frame's
     * tag is followed by the start code 9d 01 2a. */
    const uint8_t *f = p + pos;
    size_t flen = len - pos;
    d->keyframe = d->start && d->pid == 0 && flen >= 6 && (f[0] & 0x01) == 0 && f[3] == 0x9d &&
                  f[4] == 0x01 && f[5] == 0x2a;
    return 0;
}

bool tdm_rtp_vp8_is_keyframe(const uint8_t *p, size_t len)
{
    struct tdm_rtp_vp8_desc d;
    return tdm_rtp_vp8_parse(&d, p, len) == 0 && d.keyframe;
}

/* --- VP9 (RFC 9628 §4.2) ------------------------------------------------------------- */

/* Scalability structure, RFC 9628 §4.2.1: only walked to find where the payload starts. */
static int vp9_skip_ss(const uint8_t *p, size_t len, size_t *pos)
{
    if (*pos >= len)
        return TDM_ETRUNC;
    uint8_t b = p[(*pos)++];
    size_t n_s = (size_t)(b >> 5) + 1;
    if (b & 0x10) { /* Y: a width and a height per spatial layer */
        if ((len - *pos) / 4 < n_s)
            return TDM_ETRUNC;
        *pos += 4 * n_s;
    }
    if (b & 0x08) { /* G: picture group description */
        if (*pos >= len)
            return TDM_ETRUNC;
        size_t n_g = p[(*pos)++];
        for (size_t i = 0; i < n_g; i++) {
            if (*pos >= len)
                return TDM_ETRUNC;
            size_t r = (p[(*pos)++] >> 2) & 0x03;
            if (len - *pos < r)
                return TDM_ETRUNC;
            *pos += r;
        }
    }
    return 0;
}

static int vp9_layers_and_refs(struct tdm_rtp_vp9_desc *d, const uint8_t *p, size_t len,
                               size_t *pos)
{
    if (d->has_layers) {
        if (*pos >= len)
            return TDM_ETRUNC;
        uint8_t b = p[(*pos)++];
        d->tid = (uint8_t)(b >> 5);
        d->switch_up = (b & 0x10) != 0;
        d->sid = (uint8_t)((b >> 1) & 0x07);
        d->inter_layer = (b & 0x01) != 0;
        if (!d->flexible) {
            if (*pos >= len)
                return TDM_ETRUNC;
            d->tl0picidx = p[(*pos)++];
        }
    }
    if (d->flexible && d->inter_pred) {
        /* Up to 3 reference indices, each with N saying another follows. */
        bool more = true;
        while (more) {
            if (*pos >= len)
                return TDM_ETRUNC;
            if (d->num_pdiff == 3)
                return TDM_EINVAL;
            more = (p[(*pos)++] & 0x01) != 0;
            d->num_pdiff++;
        }
    }
    return 0;
}

int tdm_rtp_vp9_parse(struct tdm_rtp_vp9_desc *d, const uint8_t *p, size_t len)
{
    memset(d, 0, sizeof *d);
    if (!p || len < 1)
        return TDM_ETRUNC;
    uint8_t b = p[0];
    d->has_picture_id = (b & 0x80) != 0;
    d->inter_pred = (b & 0x40) != 0;
    d->has_layers = (b & 0x20) != 0;
    d->flexible = (b & 0x10) != 0;
    d->begin = (b & 0x08) != 0;
    d->end = (b & 0x04) != 0;
    d->has_ss = (b & 0x02) != 0;
    d->not_ref = (b & 0x01) != 0;
    size_t pos = 1;
    if (d->has_picture_id) {
        if (pos >= len)
            return TDM_ETRUNC;
        if (p[pos] & 0x80) {
            if (len - pos < 2)
                return TDM_ETRUNC;
            d->picture_id = (uint16_t)(tdm_rd16(p + pos) & 0x7fff);
            pos += 2;
        } else {
            d->picture_id = p[pos++];
        }
    }
    int r = vp9_layers_and_refs(d, p, len, &pos);
    if (r == 0 && d->has_ss)
        r = vp9_skip_ss(p, len, &pos);
    if (r < 0)
        return r;
    if (pos >= len)
        return TDM_ETRUNC;
    d->header_len = pos;
    d->keyframe = d->begin && !d->inter_pred && d->sid == 0;
    return 0;
}

bool tdm_rtp_vp9_is_keyframe(const uint8_t *p, size_t len)
{
    struct tdm_rtp_vp9_desc d;
    return tdm_rtp_vp9_parse(&d, p, len) == 0 && d.keyframe;
}

/* --- H.264 (RFC 6184 §5.2-5.8) ------------------------------------------------------- */

enum { H264_IDR = 5, H264_SPS = 7, H264_STAP_A = 24, H264_FU_A = 28 };

static bool h264_key_nal(uint8_t type)
{
    return type == H264_IDR || type == H264_SPS;
}

bool tdm_rtp_h264_is_keyframe(const uint8_t *p, size_t len)
{
    if (!p || len < 1 || (p[0] & 0x80)) /* forbidden_zero_bit set: broken NAL */
        return false;
    uint8_t type = p[0] & 0x1f;
    if (type >= 1 && type <= 23)
        return h264_key_nal(type);
    if (type == H264_STAP_A) {
        size_t pos = 1;
        while (len - pos >= 2) {
            size_t n = tdm_rd16(p + pos);
            pos += 2;
            if (n == 0 || len - pos < n)
                return false;
            if (h264_key_nal(p[pos] & 0x1f))
                return true;
            pos += n;
        }
        return false;
    }
    if (type == H264_FU_A)
        return len >= 2 && (p[1] & 0x80) && h264_key_nal(p[1] & 0x1f);
    return false;
}
