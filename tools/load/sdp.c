/* tandem-load: the SDP a page would write (pub offer, sub answer) and the few values it
 * reads from the server's (ICE credentials, fingerprint, candidates, payload types). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "load.h"

struct buf {
    char *p;
    size_t cap, len;
    bool over;
};

static void put(struct buf *b, const char *fmt, ...)
{
    if (b->over)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= b->cap - b->len) {
        b->over = true;
        return;
    }
    b->len += (size_t)n;
}

static void transport(struct buf *b, const char *ufrag, const char *pwd, const char *fp,
                      const char *setup)
{
    put(b, "c=IN IP4 0.0.0.0\r\na=rtcp:9 IN IP4 0.0.0.0\r\n");
    put(b, "a=ice-ufrag:%s\r\na=ice-pwd:%s\r\na=ice-options:trickle\r\n", ufrag, pwd);
    put(b, "a=fingerprint:%s\r\na=setup:%s\r\n", fp, setup);
}

/* A browser-like publish offer: one audio and (unless audio only) one video m-section,
 * BUNDLE, rtcp-mux. A participant that only receives offers them inactive. */
int ld_sdp_pub_offer(char *out, size_t cap, const char *ufrag, const char *pwd, const char *fp,
                     const struct ld_part *p, bool with_video, bool sending)
{
    struct buf b = {out, cap, 0, false};
    const char *dir = sending ? "sendonly" : "inactive";
    put(&b, "v=0\r\no=- %u 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n", (unsigned)p->audio.ssrc);
    put(&b, "a=group:BUNDLE 0%s\r\na=msid-semantic: WMS ld%d\r\n", with_video ? " 1" : "",
        p->gindex);
    put(&b, "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n");
    transport(&b, ufrag, pwd, fp, "actpass");
    put(&b, "a=mid:0\r\na=%s\r\n", dir);
    if (sending)
        put(&b, "a=msid:ld%d ld%d-a\r\n", p->gindex, p->gindex);
    put(&b, "a=rtcp-mux\r\na=rtcp-rsize\r\na=rtpmap:111 opus/48000/2\r\n"
            "a=fmtp:111 minptime=10;useinbandfec=1\r\n");
    if (sending)
        put(&b, "a=ssrc:%u cname:ld%d\r\n", (unsigned)p->audio.ssrc, p->gindex);
    if (with_video) {
        put(&b, "m=video 9 UDP/TLS/RTP/SAVPF 96\r\n");
        transport(&b, ufrag, pwd, fp, "actpass");
        put(&b, "a=mid:1\r\na=%s\r\n", dir);
        if (sending)
            put(&b, "a=msid:ld%d ld%d-v\r\n", p->gindex, p->gindex);
        put(&b, "a=rtcp-mux\r\na=rtcp-rsize\r\na=rtpmap:96 VP8/90000\r\n"
                "a=rtcp-fb:96 goog-remb\r\na=rtcp-fb:96 ccm fir\r\n"
                "a=rtcp-fb:96 nack\r\na=rtcp-fb:96 nack pli\r\n");
        if (sending)
            put(&b, "a=ssrc:%u cname:ld%d\r\n", (unsigned)p->video.ssrc, p->gindex);
    }
    return b.over ? TDM_ETOOBIG : (int)b.len;
}

static bool starts(const char *line, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);
    return len >= n && memcmp(line, prefix, n) == 0;
}

static void copy_val(char *dst, size_t cap, const char *src, size_t len)
{
    if (len >= cap)
        len = cap - 1;
    memcpy(dst, src, len);
    dst[len] = '\0';
}

static void scan_line(const char *l, size_t n, struct ld_sdp_info *info, int *kind)
{
    if (starts(l, n, "m=")) {
        *kind = starts(l, n, "m=audio") ? 1 : starts(l, n, "m=video") ? 2 : 0;
        const char *sp = memchr(l, ' ', n); /* m=<kind> <port> <proto> <first pt> */
        for (int k = 0; k < 2 && sp; k++)
            sp = memchr(sp + 1, ' ', n - (size_t)(sp + 1 - l));
        int pt = sp ? atoi(sp + 1) : -1;
        if (*kind == 1 && info->audio_pt < 0)
            info->audio_pt = pt;
        if (*kind == 2 && info->video_pt < 0)
            info->video_pt = pt;
    } else if (starts(l, n, "a=ice-ufrag:") && !info->ufrag[0]) {
        copy_val(info->ufrag, sizeof info->ufrag, l + 12, n - 12);
    } else if (starts(l, n, "a=ice-pwd:") && !info->pwd[0]) {
        copy_val(info->pwd, sizeof info->pwd, l + 10, n - 10);
    } else if (starts(l, n, "a=fingerprint:") && !info->fp[0]) {
        copy_val(info->fp, sizeof info->fp, l + 14, n - 14);
    } else if (starts(l, n, "a=candidate:") && info->n_cand < 16 && n < 250) {
        struct ld_cand_line *c = &info->cand[info->n_cand++];
        copy_val(c->text, sizeof c->text, l, n);
        c->tcp = strstr(c->text, " tcp ") || strstr(c->text, " TCP ");
    }
}

/* Reads what the client needs from the server's SDP. Returns 0, or TDM_EINVAL when the ICE
 * credentials or the fingerprint are missing. */
int ld_sdp_scan(const char *sdp, struct ld_sdp_info *info)
{
    memset(info, 0, sizeof *info);
    info->audio_pt = info->video_pt = -1;
    int kind = 0;
    for (const char *l = sdp; *l;) {
        const char *e = strchr(l, '\n');
        size_t n = e ? (size_t)(e - l) : strlen(l);
        size_t m = n > 0 && l[n - 1] == '\r' ? n - 1 : n;
        scan_line(l, m, info, &kind);
        l += e ? n + 1 : n;
    }
    return info->ufrag[0] && info->pwd[0] && info->fp[0] ? 0 : TDM_EINVAL;
}

static bool dropped_in_answer(const char *l, size_t n)
{
    static const char *const drop[] = {
        "a=ice-lite",  "a=candidate", "a=end-of-candidates", "a=msid",  "a=ssrc",
        "a=ice-ufrag", "a=ice-pwd",   "a=fingerprint",       "a=setup", "a=ice-options"};
    for (size_t i = 0; i < sizeof drop / sizeof drop[0]; i++)
        if (starts(l, n, drop[i]))
            return true;
    return false;
}

/* The answer to a server sub offer, as a browser writes it: each m-section taken as
 * offered, sendonly becomes recvonly, our credentials and fingerprint, DTLS client. */
int ld_sdp_sub_answer(char *out, size_t cap, const char *offer, const char *ufrag, const char *pwd,
                      const char *fp)
{
    struct buf b = {out, cap, 0, false};
    bool need_creds = false; /* after m= and c=, before the section's first a= line */
    for (const char *l = offer; *l;) {
        const char *e = strchr(l, '\n');
        size_t n = e ? (size_t)(e - l) : strlen(l);
        size_t m = n > 0 && l[n - 1] == '\r' ? n - 1 : n;
        if (m > 0 && !dropped_in_answer(l, m)) {
            if (need_creds && starts(l, m, "a=")) {
                put(&b, "a=ice-ufrag:%s\r\na=ice-pwd:%s\r\n", ufrag, pwd);
                put(&b, "a=fingerprint:%s\r\na=setup:active\r\n", fp);
                need_creds = false;
            }
            if (starts(l, m, "a=sendonly"))
                put(&b, "a=recvonly\r\n");
            else
                put(&b, "%.*s\r\n", (int)m, l);
            if (starts(l, m, "m="))
                need_creds = true;
        }
        l += e ? n + 1 : n;
    }
    return b.over ? TDM_ETOOBIG : (int)b.len;
}
