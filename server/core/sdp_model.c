/* The SDP model's small helpers: allocation, session-level defaults, look-ups, and the
 * classification of codecs and header extensions shared by the parser, writer and
 * negotiation. */
#include "tandem/sdp.h"
#include "tandem/err.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct tdm_sdp *tdm_sdp_new(void)
{
    return calloc(1, sizeof(struct tdm_sdp));
}

void tdm_sdp_free(struct tdm_sdp *d)
{
    free(d);
}

enum tdm_sdp_dir tdm_sdp_media_dir(const struct tdm_sdp *d, size_t i)
{
    if (i >= d->n_media)
        return TDM_SDP_INACTIVE;
    if (d->media[i].dir != TDM_SDP_DIR_NONE)
        return d->media[i].dir;
    /* RFC 8866 §6.7: sendrecv when neither level says otherwise. */
    return d->dir != TDM_SDP_DIR_NONE ? d->dir : TDM_SDP_SENDRECV;
}

enum tdm_sdp_setup tdm_sdp_media_setup(const struct tdm_sdp *d, size_t i)
{
    if (i < d->n_media && d->media[i].setup != TDM_SDP_SETUP_NONE)
        return d->media[i].setup;
    return d->setup;
}

const char *tdm_sdp_media_ufrag(const struct tdm_sdp *d, size_t i)
{
    if (i < d->n_media && d->media[i].ice_ufrag[0])
        return d->media[i].ice_ufrag;
    return d->ice_ufrag;
}

const char *tdm_sdp_media_pwd(const struct tdm_sdp *d, size_t i)
{
    if (i < d->n_media && d->media[i].ice_pwd[0])
        return d->media[i].ice_pwd;
    return d->ice_pwd;
}

const struct tdm_sdp_fingerprint *tdm_sdp_media_fingerprint(const struct tdm_sdp *d, size_t i)
{
    if (i < d->n_media && d->media[i].fingerprint.hash != TDM_SDP_HASH_NONE)
        return &d->media[i].fingerprint;
    return &d->fingerprint;
}

int tdm_sdp_find_mid(const struct tdm_sdp *d, const char *mid)
{
    if (!mid || !mid[0])
        return -1;
    for (size_t i = 0; i < d->n_media; i++)
        if (strncmp(d->media[i].mid, mid, TDM_SDP_MID_CAP) == 0)
            return (int)i;
    return -1;
}

const struct tdm_sdp_codec *tdm_sdp_find_pt(const struct tdm_sdp_media *m, uint8_t pt)
{
    for (size_t i = 0; i < m->n_codecs && i < TDM_SDP_MAX_CODECS; i++)
        if (m->codecs[i].pt == pt)
            return &m->codecs[i];
    return NULL;
}

int tdm_sdp_fmtp_param(const char *fmtp, const char *key, char *val, size_t vallen)
{
    size_t klen = strlen(key);
    const char *p = fmtp;
    while (*p) {
        while (*p == ' ' || *p == ';')
            p++;
        const char *end = strchr(p, ';');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        /* RFC 8866 §6.15 leaves fmtp format to the codec; all ours are key=value lists. */
        if (n > klen && p[klen] == '=' && strncasecmp(p, key, klen) == 0) {
            size_t vl = n - klen - 1;
            while (vl && p[klen + 1 + vl - 1] == ' ')
                vl--;
            if (vl + 1 > vallen)
                return TDM_ETOOBIG;
            memcpy(val, p + klen + 1, vl);
            val[vl] = '\0';
            return (int)vl;
        }
        p += n;
    }
    return TDM_ENOTFOUND;
}

static bool fmtp_is(const char *fmtp, const char *key, const char *want, const char *dflt)
{
    char v[32];
    int n = tdm_sdp_fmtp_param(fmtp, key, v, sizeof v);
    if (n == TDM_ENOTFOUND)
        return dflt && strcasecmp(dflt, want) == 0;
    return n >= 0 && strcasecmp(v, want) == 0;
}

/* RFC 6184 §8.1: profile-level-id is profile_idc, profile-iop, level_idc in hex. Constrained
 * baseline is profile_idc 0x42 with constraint_set1 (0x40) set; level is free. */
static bool h264_constrained_baseline(const char *fmtp)
{
    char v[16];
    if (tdm_sdp_fmtp_param(fmtp, "profile-level-id", v, sizeof v) != 6)
        return false;
    unsigned long x = strtoul(v, NULL, 16);
    for (int i = 0; i < 6; i++)
        if (!((v[i] >= '0' && v[i] <= '9') || (v[i] >= 'a' && v[i] <= 'f') ||
              (v[i] >= 'A' && v[i] <= 'F')))
            return false;
    unsigned idc = (unsigned)(x >> 16), iop = (unsigned)(x >> 8) & 0xff;
    return idc == 0x42 && (iop & 0x40);
}

enum tdm_sdp_codec_id tdm_sdp_codec_classify(const struct tdm_sdp_codec *c)
{
    if (!c->has_rtpmap || c->fmtp_too_long)
        return TDM_SDP_CODEC_OTHER;
    if (strcasecmp(c->name, "opus") == 0)
        /* RFC 7587 §7: always 48000/2 in SDP. */
        return c->clock == 48000 && c->channels == 2 ? TDM_SDP_CODEC_OPUS : TDM_SDP_CODEC_OTHER;
    if (c->clock != 90000)
        return TDM_SDP_CODEC_OTHER;
    if (strcasecmp(c->name, "VP8") == 0)
        return TDM_SDP_CODEC_VP8;
    if (strcasecmp(c->name, "rtx") == 0)
        return TDM_SDP_CODEC_RTX;
    if (strcasecmp(c->name, "VP9") == 0)
        return fmtp_is(c->fmtp, "profile-id", "0", "0") ? TDM_SDP_CODEC_VP9 : TDM_SDP_CODEC_OTHER;
    if (strcasecmp(c->name, "H264") == 0 && fmtp_is(c->fmtp, "packetization-mode", "1", "0") &&
        h264_constrained_baseline(c->fmtp))
        return TDM_SDP_CODEC_H264;
    return TDM_SDP_CODEC_OTHER;
}

static const char *const ext_uris[TDM_SDP_EXT_COUNT] = {
    [TDM_SDP_EXT_MID] = "urn:ietf:params:rtp-hdrext:sdes:mid",
    [TDM_SDP_EXT_AUDIO_LEVEL] = "urn:ietf:params:rtp-hdrext:ssrc-audio-level",
    [TDM_SDP_EXT_TWCC] =
        "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01",
    [TDM_SDP_EXT_ABS_SEND_TIME] = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
    [TDM_SDP_EXT_RID] = "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id",
    [TDM_SDP_EXT_RRID] = "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id",
};

int tdm_sdp_ext_classify(const char *uri)
{
    for (int i = 0; i < TDM_SDP_EXT_COUNT; i++)
        if (strcmp(uri, ext_uris[i]) == 0)
            return i;
    return -1;
}

const char *tdm_sdp_ext_uri(enum tdm_sdp_ext_id e)
{
    return (unsigned)e < TDM_SDP_EXT_COUNT ? ext_uris[e] : "";
}

/* Chromium's numbers, used when the subscriber's browser has not told us its own. They must
 * not collide with Opus 111 or Firefox's audio numbers (BUNDLE shares one pt space). */
static const struct {
    enum tdm_sdp_codec_id codec;
    uint8_t pt;
    int16_t rtx;
} default_pts[] = {
    {TDM_SDP_CODEC_OPUS, 111, -1},
    {TDM_SDP_CODEC_VP8, 96, 97},
    {TDM_SDP_CODEC_H264, 108, 109},
    {TDM_SDP_CODEC_VP9, 98, 99},
};

static int16_t find_rtx(const struct tdm_sdp_media *m, uint8_t pt)
{
    char v[8];
    for (size_t i = 0; i < m->n_codecs; i++) {
        const struct tdm_sdp_codec *c = &m->codecs[i];
        if (tdm_sdp_codec_classify(c) == TDM_SDP_CODEC_RTX &&
            tdm_sdp_fmtp_param(c->fmtp, "apt", v, sizeof v) > 0 && atoi(v) == pt)
            return c->pt;
    }
    return -1;
}

/* True when pt already means something in d (BUNDLE: one pt space for all m-sections,
 * RFC 8843 §9.1). */
static bool pt_taken(const struct tdm_sdp *d, int pt)
{
    for (size_t i = 0; d && i < d->n_media; i++)
        for (size_t k = 0; k < d->media[i].n_codecs; k++)
            if (d->media[i].codecs[k].pt == pt)
                return true;
    return false;
}

static int free_pt(const struct tdm_sdp *d, int avoid)
{
    /* Dynamic range first (RFC 3551 §3), then the lower range browsers also use. */
    for (int pt = 96; pt <= 127; pt++)
        if (pt != avoid && !pt_taken(d, pt))
            return pt;
    for (int pt = 35; pt <= 63; pt++)
        if (pt != avoid && !pt_taken(d, pt))
            return pt;
    return -1;
}

int tdm_sdp_pick_pts(const struct tdm_sdp *d, enum tdm_sdp_codec_id codec, uint8_t *pt,
                     int16_t *rtx_pt)
{
    if (codec == TDM_SDP_CODEC_OTHER || codec == TDM_SDP_CODEC_RTX)
        return TDM_ENOTFOUND;
    for (size_t i = 0; d && i < d->n_media; i++) {
        const struct tdm_sdp_media *m = &d->media[i];
        if (m->rejected)
            continue;
        for (size_t k = 0; k < m->n_codecs; k++) {
            if (tdm_sdp_codec_classify(&m->codecs[k]) != codec)
                continue;
            *pt = m->codecs[k].pt;
            *rtx_pt = codec == TDM_SDP_CODEC_OPUS ? -1 : find_rtx(m, *pt);
            return 0;
        }
    }
    for (size_t i = 0; i < sizeof default_pts / sizeof default_pts[0]; i++) {
        if (default_pts[i].codec != codec)
            continue;
        int p = default_pts[i].pt, r = default_pts[i].rtx;
        if (pt_taken(d, p))
            p = free_pt(d, -1);
        if (r >= 0 && (pt_taken(d, r) || r == p))
            r = free_pt(d, p);
        if (p < 0 || (default_pts[i].rtx >= 0 && r < 0))
            return TDM_EFULL;
        *pt = (uint8_t)p;
        *rtx_pt = (int16_t)r;
        return 0;
    }
    return TDM_ENOTFOUND;
}
