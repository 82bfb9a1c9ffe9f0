/* A simulated page: what a browser does on its "pub" and "sub" connections, with the
 * project's own STUN, DTLS, SRTP, RTP and RTCP code. Video payloads carry a VP8 descriptor
 * and frame tag (so the server sees keyframes as it would from Chromium) followed by our
 * own header: frame number, packet index and count in the frame, send time. */
#include "sim_internal.h"

#include "tandem/demux.h"
#include "tandem/err.h"
#include "tandem/rtcp.h"
#include "tandem/rtp.h"
#include "tandem/sdp.h"
#include "tandem/stun.h"
#include "tandem/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AUDIO_PT 111
#define VIDEO_PT 96
#define FRAME_US 33333
#define AUDIO_US 20000
#define RTCP_US 1000000
#define CHECK_US 2000000 /* consent checks, as browsers send them */
#define PAYLOAD_MAX 1100
#define VHDR 23 /* VP8 descriptor 1 + frame tag 6 + ours 16 */
#define GIVE_UP_US 400000
#define PLI_US 300000
#define NACK_RETRY_US 100000 /* a packet still missing is asked for again, for up to 1 s */

static void random_chars(struct sim *s, char *out, size_t n)
{
    static const char set[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    for (size_t i = 0; i < n; i++)
        out[i] = set[sim_rand(s) % (sizeof set - 1)];
    out[n] = 0;
}

int sim_peer_init(struct sim_peer *p, struct sim *s, int index, const char *room, const char *name)
{
    p->sim = s;
    p->index = index;
    snprintf(p->room, sizeof p->room, "%s", room);
    snprintf(p->name, sizeof p->name, "%s", name);
    if (tdm_cert_create(&p->cert, 1700000000000000) != 0 ||
        tdm_cert_ssl_ctx_new(p->cert, sim_srtp_profiles(s), &p->ctx) != 0)
        return TDM_ECRYPTO;
    struct tdm_fingerprint fp;
    tdm_cert_fingerprint(p->cert, &fp);
    size_t o = 0;
    for (size_t i = 0; i < fp.len && o + 4 < sizeof p->fp_text; i++)
        o += (size_t)snprintf(p->fp_text + o, sizeof p->fp_text - o, i ? ":%02X" : "%02X",
                              fp.digest[i]);
    for (int k = 0; k < 2; k++) {
        struct sim_conn *c = &p->conn[k];
        c->peer = p;
        c->idx = k;
        tdm_addr_set_v4(&c->addr, 0x0a010001u + (uint32_t)index, (uint16_t)(5000 + k));
        random_chars(s, c->ufrag, 8);
        random_chars(s, c->pwd, 24);
        c->rtcp_ssrc = sim_rand(s) | 1;
    }
    p->a_ssrc = sim_rand(s) | 1;
    p->v_ssrc = sim_rand(s) | 1;
    p->a_seq = (uint16_t)sim_rand(s);
    p->v_seq = (uint16_t)sim_rand(s);
    p->hist = calloc(SIM_HIST, sizeof *p->hist);
    return p->hist ? 0 : TDM_ENOMEM;
}

void sim_peer_free(struct sim_peer *p)
{
    for (int k = 0; k < 2; k++) {
        tdm_dtls_destroy(p->conn[k].dtls);
        tdm_srtp_destroy(p->conn[k].srtp);
    }
    if (p->ctx)
        SSL_CTX_free(p->ctx);
    tdm_cert_destroy(p->cert);
    free(p->hist);
    sim_layers_free(p);
    sim_twcc_free(p);
    sim_audio_free(p);
}

/* ---- SDP ----------------------------------------------------------------------------- */

static size_t media_head(struct sim_peer *p, struct sim_conn *c, char *o, size_t cap,
                         const char *kind, int pt, const char *mid, bool first, const char *setup)
{
    char ip[24];
    snprintf(ip, sizeof ip, "10.1.0.%d", p->index + 1);
    return (size_t)snprintf(
        o, cap,
        "m=%s 9 UDP/TLS/RTP/SAVPF %d\r\nc=IN IP4 0.0.0.0\r\na=rtcp:9 IN IP4 0.0.0.0\r\n%s%s%s"
        "a=ice-ufrag:%s\r\na=ice-pwd:%s\r\na=fingerprint:sha-256 %s\r\na=setup:%s\r\n"
        "a=mid:%s\r\na=rtcp-mux\r\na=rtcp-rsize\r\n",
        kind, pt, first ? "a=candidate:1 1 udp 2122194687 " : "", first ? ip : "",
        first ? (c->idx ? " 5001 typ host\r\n" : " 5000 typ host\r\n") : "", c->ufrag, c->pwd,
        p->fp_text, setup, mid);
}

static const char VIDEO_FB[] = "a=rtcp-fb:%d goog-remb\r\na=rtcp-fb:%d ccm fir\r\n"
                               "a=rtcp-fb:%d nack\r\na=rtcp-fb:%d nack pli\r\n";

/* The page's offer on "pub": audio and/or video, sendonly, one SSRC each. */
static int pub_offer(struct sim_peer *p, char *o, size_t cap)
{
    struct sim_conn *c = &p->conn[0];
    size_t n =
        (size_t)snprintf(o, cap,
                         "v=0\r\no=- %u 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
                         "a=group:BUNDLE%s%s\r\na=msid-semantic: WMS s\r\n",
                         sim_rand(p->sim), p->pub_audio ? " 0" : "", p->pub_video ? " 1" : "");
    if (p->pub_audio) {
        n += media_head(p, c, o + n, cap - n, "audio", AUDIO_PT, "0", true, "actpass");
        n += (size_t)snprintf(o + n, cap - n,
                              "a=sendonly\r\na=msid:s a0\r\na=rtpmap:%d opus/48000/2\r\n"
                              "a=fmtp:%d minptime=10;useinbandfec=1\r\na=ssrc:%u cname:%s\r\n",
                              AUDIO_PT, AUDIO_PT, p->a_ssrc, p->name);
        if (sim_audio_sends_level(p))
            n += (size_t)snprintf(o + n, cap - n, "a=extmap:%d %s\r\n", SIM_LEVEL_EXT,
                                  "urn:ietf:params:rtp-hdrext:ssrc-audio-level");
    }
    if (p->pub_video) {
        n += media_head(p, c, o + n, cap - n, "video", VIDEO_PT, "1", !p->pub_audio, "actpass");
        n += (size_t)snprintf(o + n, cap - n,
                              "a=sendonly\r\na=msid:s v0\r\na=rtpmap:%d VP8/90000\r\n", VIDEO_PT);
        n += (size_t)snprintf(o + n, cap - n, VIDEO_FB, VIDEO_PT, VIDEO_PT, VIDEO_PT, VIDEO_PT);
        if (p->n_layers) /* rid simulcast: no SSRC lines, as Chromium */
            n += sim_layers_offer(p, o + n, cap - n);
        else
            n += (size_t)snprintf(o + n, cap - n, "a=ssrc:%u cname:%s\r\n", p->v_ssrc, p->name);
    }
    return n < cap ? 0 : TDM_ETOOBIG;
}

/* The page's answer to the server's "sub" offer: every m-section received (recvonly), or
 * inactive where the offer is; the SSRCs are noted with the publisher each belongs to. */
static int sub_answer(struct sim_peer *p, const struct tdm_sdp *off, char *o, size_t cap)
{
    struct sim_conn *c = &p->conn[1];
    size_t n = (size_t)snprintf(o, cap,
                                "v=0\r\no=- %u 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
                                "a=group:BUNDLE",
                                sim_rand(p->sim));
    for (size_t i = 0; i < off->n_media; i++)
        if (!off->media[i].rejected &&
            !(p->refuse_mix && !strcmp(off->media[i].msid_stream, "mix")))
            n += (size_t)snprintf(o + n, cap - n, " %s", off->media[i].mid);
    n += (size_t)snprintf(o + n, cap - n, "\r\n");
    bool first = true;
    for (size_t i = 0; i < off->n_media && n < cap; i++) {
        const struct tdm_sdp_media *m = &off->media[i];
        const struct tdm_sdp_codec *k = &m->codecs[0];
        const char *kind = m->kind == TDM_SDP_AUDIO ? "audio" : "video";
        if (m->rejected || !m->n_codecs || (p->refuse_mix && !strcmp(m->msid_stream, "mix"))) {
            n += (size_t)snprintf(o + n, cap - n,
                                  "m=%s 0 UDP/TLS/RTP/SAVPF %d\r\nc=IN IP4 0.0.0.0\r\na=mid:%s\r\n",
                                  kind, m->n_codecs ? k->pt : 0, m->mid);
            continue;
        }
        n += media_head(p, c, o + n, cap - n, kind, k->pt, m->mid, first, "active");
        first = false;
        bool active = tdm_sdp_media_dir(off, i) == TDM_SDP_SENDONLY;
        n += (size_t)snprintf(o + n, cap - n, "a=%s\r\na=rtpmap:%d %s/%u%s\r\n",
                              active ? "recvonly" : "inactive", k->pt, k->name, k->clock,
                              k->channels == 2 ? "/2" : "");
        if (m->kind == TDM_SDP_VIDEO)
            n += (size_t)snprintf(o + n, cap - n, VIDEO_FB, k->pt, k->pt, k->pt, k->pt);
        n += sim_twcc_answer(p, m, o + n, cap - n);
        for (size_t j = 0; active && j < m->n_ssrcs && m->kind == TDM_SDP_VIDEO; j++) {
            struct sim_stream *st = NULL;
            for (unsigned q = 0; q < p->n_streams && !st; q++)
                if (p->streams[q].ssrc == m->ssrcs[j].ssrc)
                    st = &p->streams[q];
            if (!st && p->n_streams < SIM_MAX_STREAMS) {
                st = &p->streams[p->n_streams++];
                memset(st, 0, sizeof *st);
                st->ssrc = m->ssrcs[j].ssrc;
                snprintf(st->from, sizeof st->from, "%s", m->msid_stream);
            }
        }
    }
    return n < cap ? 0 : TDM_ETOOBIG;
}

static void send_cmd(struct sim_peer *p, enum tdm_sfu_cmd_kind kind, const char *sdp, int64_t rev)
{
    struct tdm_sfu_cmd cmd = {.kind = kind, .rev = rev};
    snprintf(cmd.room, sizeof cmd.room, "%s", p->room);
    snprintf(cmd.pid, sizeof cmd.pid, "%s", p->name);
    cmd.sdp = (char *)sdp;
    cmd.sdp_len = strlen(sdp);
    if (kind == TDM_SFU_CMD_PUB_OFFER && p->screen)
        snprintf(cmd.screen, sizeof cmd.screen, "1"); /* the video m-section's mid */
    sim_command(p->sim, &cmd);
}

void sim_peer_share(struct sim_peer *p, bool on)
{
    char *o = malloc(16384);
    p->screen = on;
    if (o && pub_offer(p, o, 16384) == 0)
        send_cmd(p, TDM_SFU_CMD_PUB_OFFER, o, 0);
    free(o);
}

void sim_peer_publish(struct sim_peer *p, bool audio, bool video, uint64_t max_bps)
{
    char *o = malloc(16384);
    if (!o)
        return;
    p->pub_audio = audio;
    p->pub_video = video;
    p->max_bps = max_bps;
    p->video_bps = max_bps < 300000 ? max_bps : 300000; /* a browser's start rate */
    p->key_next = true;
    if (pub_offer(p, o, 16384) == 0)
        send_cmd(p, TDM_SFU_CMD_PUB_OFFER, o, 0);
    free(o);
}

void sim_peer_receive_only(struct sim_peer *p)
{
    send_cmd(p, TDM_SFU_CMD_RECV_ONLY, "", 0);
}

void sim_peer_move(struct sim_peer *p)
{
    p->moves++;
    for (int k = 0; k < 2; k++) {
        struct sim_conn *c = &p->conn[k];
        tdm_addr_set_v4(&c->addr, 0x0a020001u + (uint32_t)p->index + (p->moves << 16),
                        (uint16_t)(6000 + 2 * p->moves + (uint32_t)k));
        random_chars(p->sim, c->ufrag, 8);
        random_chars(p->sim, c->pwd, 24);
        c->remote_known = false; /* no checks before the server's new credentials are here */
    }
    char *o = malloc(16384);
    if (o && pub_offer(p, o, 16384) == 0)
        send_cmd(p, TDM_SFU_CMD_PUB_OFFER, o, 0);
    free(o);
    send_cmd(p, TDM_SFU_CMD_SUB_RESTART, "", 0);
}

/* The server's description: its ICE credentials and fingerprint, then checks begin. */
static void take_remote(struct sim_conn *c, const struct tdm_sdp *d, int64_t now)
{
    size_t i = d->n_bundle ? d->bundle[0] : 0;
    snprintf(c->rufrag, sizeof c->rufrag, "%s", tdm_sdp_media_ufrag(d, i));
    snprintf(c->rpwd, sizeof c->rpwd, "%s", tdm_sdp_media_pwd(d, i));
    const struct tdm_sdp_fingerprint *f = tdm_sdp_media_fingerprint(d, i);
    c->rfp = (struct tdm_fingerprint){.hash = TDM_FP_SHA256, .len = f->len};
    memcpy(c->rfp.digest, f->value, f->len < sizeof c->rfp.digest ? f->len : 0);
    if (!c->remote_known)
        c->next_check_us = now;
    c->remote_known = true;
}

void sim_peer_on_event(struct sim_peer *p, const struct tdm_sfu_event *ev, int64_t now)
{
    if (ev->kind == TDM_SFU_EV_AUDIO_ONLY) {
        p->st.audio_only = ev->on;
        if (ev->on)
            p->st.audio_only_on++;
        else
            p->st.audio_only_off++;
        return;
    }
    if (ev->kind == TDM_SFU_EV_PAUSED) {
        const char *from = ev->screen ? "screen" : ev->subject;
        for (unsigned i = 0; i < p->n_streams; i++) {
            struct sim_video_rx *v = &p->streams[i].v;
            if (strcmp(p->streams[i].from, from) != 0)
                continue;
            v->pauses += ev->on && !v->paused;
            v->paused = ev->on;
            v->pause_gap = true;
        }
        if (ev->on)
            p->st.paused_on++;
        else
            p->st.paused_off++;
        return;
    }
    if (ev->kind == TDM_SFU_EV_QUALITY) {
        /* what this page was told of the last person rated, and how often "poor" came */
        snprintf(p->st.quality_of, sizeof p->st.quality_of, "%s", ev->subject);
        p->st.quality = ev->level;
        p->st.quality_poor += ev->level == TDM_SFU_Q_POOR;
        return;
    }
    if (ev->kind == TDM_SFU_EV_SPEAKER) {
        snprintf(p->st.speaker, sizeof p->st.speaker, "%s", ev->subject);
        return;
    }
    if (ev->kind == TDM_SFU_EV_ERROR) {
        p->st.errors++;
        snprintf(p->st.last_error, sizeof p->st.last_error, "%s", ev->code ? ev->code : "?");
        return;
    }
    struct tdm_sdp *d = tdm_sdp_new();
    char err[160];
    char *o = malloc(65536);
    if (d && o && ev->sdp &&
        tdm_sdp_parse((const uint8_t *)ev->sdp, strlen(ev->sdp), d, err, sizeof err) == 0) {
        if (ev->kind == TDM_SFU_EV_ANSWER) {
            take_remote(&p->conn[0], d, now);
        } else {
            p->st.offers++;
            p->st.offer_media = d->n_media;
            take_remote(&p->conn[1], d, now);
            if (sub_answer(p, d, o, 65536) == 0)
                send_cmd(p, TDM_SFU_CMD_SUB_ANSWER, o, ev->rev);
        }
    }
    free(o);
    tdm_sdp_free(d);
}

/* ---- ICE, DTLS ----------------------------------------------------------------------- */

static void send_check(struct sim_conn *c)
{
    uint8_t buf[512], tid[TDM_STUN_TID_LEN];
    char user[140];
    for (int i = 0; i < TDM_STUN_TID_LEN; i++)
        tid[i] = (uint8_t)sim_rand(c->peer->sim);
    int ul = snprintf(user, sizeof user, "%s:%s", c->rufrag, c->ufrag);
    struct tdm_stun_request r = {.tid = tid,
                                 .username = user,
                                 .username_len = (size_t)ul,
                                 .key = c->rpwd,
                                 .keylen = strlen(c->rpwd),
                                 .priority = 1853824767,
                                 .use_candidate = true,
                                 .role = TDM_STUN_ROLE_CONTROLLING,
                                 .tiebreaker = 42};
    int n = tdm_stun_build_binding_request(buf, sizeof buf, &r);
    if (n > 0)
        sim_send_up(c, buf, (size_t)n);
}

static void dtls_pump(struct sim_conn *c, int64_t now)
{
    uint8_t buf[SIM_PKT_MAX];
    int n;
    while ((n = tdm_dtls_poll_datagram(c->dtls, buf, sizeof buf)) > 0)
        sim_send_up(c, buf, (size_t)n);
    struct tdm_dtls_event ev;
    while (tdm_dtls_poll_event(c->dtls, &ev)) {
        struct tdm_srtp_keys keys;
        if (ev.type == TDM_DTLS_EV_CONNECTED && tdm_dtls_take_keys(c->dtls, &keys) == 0) {
            tdm_srtp_create(&c->srtp, &keys);
            tdm_srtp_keys_wipe(&keys);
            if (c->idx == 0)
                c->peer->next_audio_us = c->peer->next_frame_us = now;
        }
    }
    (void)now;
}

static void on_checked(struct sim_conn *c, int64_t now)
{
    if (c->checked)
        return;
    c->checked = true;
    if (tdm_dtls_create(&c->dtls, c->peer->ctx, TDM_DTLS_CLIENT, &c->rfp) == 0 &&
        tdm_dtls_start(c->dtls, now) == 0)
        dtls_pump(c, now);
}

/* ---- sending media ------------------------------------------------------------------- */

static void send_rtp(struct sim_conn *c, uint8_t *pkt, size_t len)
{
    uint8_t buf[SIM_PKT_MAX];
    memcpy(buf, pkt, len);
    int n = tdm_srtp_protect_rtp(c->srtp, buf, len, sizeof buf);
    if (n > 0)
        sim_send_up(c, buf, (size_t)n);
}

static size_t rtp_header(uint8_t *b, uint8_t pt, bool marker, uint16_t seq, uint32_t ts,
                         uint32_t ssrc)
{
    b[0] = 0x80;
    b[1] = (uint8_t)(pt | (marker ? 0x80 : 0));
    b[2] = (uint8_t)(seq >> 8);
    b[3] = (uint8_t)seq;
    tdm_wr32(b + 4, ts);
    tdm_wr32(b + 8, ssrc);
    return 12;
}

static void send_audio(struct sim_peer *p, int64_t now)
{
    uint8_t b[12 + 8 + 1000], pl[1000];
    int n = sim_audio_encode(p, pl, sizeof pl);
    if (n == TDM_ENOTFOUND) {
        n = 80;
        memset(pl, 0x55, 80);
    }
    if (n <= 0)
        return;
    size_t hl = rtp_header(b, AUDIO_PT, false, p->a_seq++, (uint32_t)(now / 1000 * 48), p->a_ssrc);
    hl += sim_audio_level_ext(p, b, hl);
    memcpy(b + hl, pl, (size_t)n);
    send_rtp(&p->conn[0], b, hl + (size_t)n);
}

static void send_frame(struct sim_peer *p, int64_t now)
{
    bool key = p->key_next;
    p->key_next = false;
    uint64_t bytes = p->video_bps / 8 * FRAME_US / 1000000;
    if (key) {
        bytes *= 3;
        p->st.keyframes_sent++;
        p->last_kf_us = now;
    }
    uint16_t count = (uint16_t)((bytes + PAYLOAD_MAX - 1) / PAYLOAD_MAX);
    if (count == 0)
        count = 1;
    if (count > 60)
        count = 60;
    uint32_t ts = p->frame_no * 3000;
    for (uint16_t i = 0; i < count; i++) {
        struct sim_sent *h = &p->hist[p->v_seq % SIM_HIST];
        size_t len = 12 + (bytes / count > VHDR ? bytes / count : VHDR);
        if (len > sizeof h->buf)
            len = sizeof h->buf;
        uint8_t *b = h->buf;
        rtp_header(b, VIDEO_PT, i + 1 == count, p->v_seq, ts, p->v_ssrc);
        uint8_t *v = b + 12;
        memset(v, 0, len - 12);
        v[0] = i == 0 ? 0x10 : 0x00;
        if (key) {
            v[4] = 0x9d;
            v[5] = 0x01;
            v[6] = 0x2a;
        } else {
            v[1] = 0x01;
        }
        tdm_wr32(v + 7, p->frame_no);
        v[11] = (uint8_t)(i >> 8);
        v[12] = (uint8_t)i;
        v[13] = (uint8_t)(count >> 8);
        v[14] = (uint8_t)count;
        tdm_wr32(v + 15, (uint32_t)(now >> 32));
        tdm_wr32(v + 19, (uint32_t)now);
        h->seq = p->v_seq++;
        h->len = len;
        p->st.bytes_sent_video += len;
        send_rtp(&p->conn[0], b, len);
    }
    p->frame_no++;
}

static void resend(struct sim_peer *p, uint16_t seq)
{
    struct sim_sent *h = &p->hist[seq % SIM_HIST];
    if (h->len && h->seq == seq) {
        p->st.resent++;
        send_rtp(&p->conn[0], h->buf, h->len);
    }
}

static void send_rtcp(struct sim_conn *c, uint8_t *buf, size_t len)
{
    uint8_t b[SIM_PKT_MAX];
    memcpy(b, buf, len);
    int n = tdm_srtp_protect_rtcp(c->srtp, b, len, sizeof b);
    if (n > 0)
        sim_send_up(c, b, (size_t)n);
}

/* ---- receiving ----------------------------------------------------------------------- */

static void on_pub_rtcp(struct sim_peer *p, uint8_t *buf, size_t len)
{
    struct tdm_rtcp_iter it;
    struct tdm_rtcp_pkt pk;
    tdm_rtcp_iter_init(&it, buf, len);
    for (int g = 0; g < 32 && tdm_rtcp_iter_next(&it, &pk, NULL, 0) == 1; g++) {
        struct tdm_rtcp_fb fb;
        if (p->n_layers && sim_layers_on_fb(p, &pk))
            continue;
        if (pk.type == TDM_RTCP_RR) {
            sim_areport_on_pub_report(p, &pk);
        } else if (pk.type == TDM_RTCP_PSFB && pk.count == TDM_RTCP_FMT_AFB) {
            struct tdm_rtcp_remb r;
            if (tdm_rtcp_parse_remb(&pk, &r, NULL, 0) >= 0) {
                p->st.remb_bps = r.bitrate;
                p->video_bps = r.bitrate < p->max_bps ? r.bitrate : p->max_bps;
                if (p->n_layers)
                    sim_layers_rates(p, r.bitrate);
            }
        } else if (pk.type == TDM_RTCP_PSFB &&
                   (pk.count == TDM_RTCP_FMT_PLI || pk.count == TDM_RTCP_FMT_FIR)) {
            p->st.plis_received++;
            p->key_next = true;
        } else if (pk.type == TDM_RTCP_RTPFB && pk.count == TDM_RTCP_FMT_NACK &&
                   tdm_rtcp_parse_nack(&pk, &fb) == 0) {
            uint16_t seqs[64];
            size_t n = tdm_rtcp_nack_expand(&fb, seqs, 64);
            for (size_t i = 0; i < n; i++)
                resend(p, seqs[i]);
        }
    }
}

static struct sim_stream *stream_of(struct sim_peer *p, uint32_t ssrc)
{
    for (unsigned i = 0; i < p->n_streams; i++)
        if (p->streams[i].ssrc == ssrc)
            return &p->streams[i];
    return NULL;
}

static void request_keyframe(struct sim_peer *p, struct sim_stream *st, int64_t now)
{
    if (now - st->pli_at < PLI_US)
        return;
    st->pli_at = now;
    uint8_t b[64];
    int n = tdm_rtcp_build_pli(b, sizeof b, p->conn[1].rtcp_ssrc, st->ssrc);
    if (n > 0) {
        p->st.plis_sent++;
        send_rtcp(&p->conn[1], b, (size_t)n);
    }
}

static void decoded(struct sim_stream *st, const struct sim_frame *f, int64_t now)
{
    bool key = f->key;
    struct sim_video_rx *v = &st->v;
    if (!v->frames_decoded || f->layer != v->layer) {
        v->switches += v->frames_decoded != 0;
        v->layer = f->layer;
        v->layer_since_us = now;
    }
    v->frames_layer[f->layer]++;
    if (v->frames_decoded && !v->pause_gap && now - v->last_frame_us > v->max_freeze_us)
        v->max_freeze_us = now - v->last_frame_us;
    v->pause_gap = v->paused;
    if (!v->first_frame_us)
        v->first_frame_us = now;
    v->last_frame_us = now;
    v->frames_decoded++;
    v->keyframes += key;
}

/* A frame is complete when all its packets are in, in any order. Frames decode in order; a
 * delta frame needs the chain unbroken. A frame still missing packets when a newer one
 * exists is given up after GIVE_UP_US (NACKs had their chance), or at once when the chain
 * is broken anyway and it is not a keyframe; that breaks the chain until a keyframe, which
 * is asked for. */
static void try_decode(struct sim_peer *p, struct sim_stream *st, int64_t now)
{
    for (int guard = 0; guard < 128; guard++) {
        struct sim_frame *f = &st->ring[st->cur_frame % 64];
        bool have = f->used && f->frame == st->cur_frame;
        if (have && f->have == f->count) {
            if (f->key) {
                st->chain_ok = true;
                st->chain_layer = f->layer;
            } else if (st->chain_ok && f->layer != st->chain_layer) {
                st->v.bad_refs++; /* a delta frame of another layer: garbage on screen */
                st->chain_ok = false;
            }
            if (st->chain_ok)
                decoded(st, f, now);
            else
                request_keyframe(p, st, now);
        } else if (st->newest > st->cur_frame &&
                   ((!st->chain_ok && !(have && f->key)) || now - st->waiting_since > GIVE_UP_US)) {
            st->v.lost_final++;
            st->chain_ok = false;
            request_keyframe(p, st, now);
        } else {
            return;
        }
        f->used = false;
        st->cur_frame++;
        st->waiting_since = now;
    }
}

static void on_video(struct sim_peer *p, struct sim_stream *st, const struct tdm_rtp_view *v,
                     int64_t now)
{
    struct sim_payload y;
    if (sim_payload_parse(v->buf + v->payload_off, v->payload_len, &y) != 0)
        return;
    uint32_t frame = y.frame;
    uint16_t idx = y.idx, count = y.count;
    if (!st->started) {
        st->started = true;
        st->cur_frame = st->newest = frame;
        st->waiting_since = now;
        st->pli_at = now - PLI_US;
    }
    sim_check_continuity(st, v, &y);
    while (frame >= st->cur_frame + 64) { /* far ahead: what is older is lost */
        st->ring[st->cur_frame % 64].used = false;
        st->cur_frame++;
        st->chain_ok = false;
        st->v.lost_final++;
    }
    if (frame < st->cur_frame && !sim_switch_rewind(st, &y))
        return; /* decoded or given up already (a late retransmission) */
    if (frame > st->newest)
        st->newest = frame;
    struct sim_frame *f = &st->ring[frame % 64];
    if (!f->used || f->frame != frame || (f->layer != y.layer && idx == 0 && y.key))
        *f = (struct sim_frame){.used = true, .frame = frame, .count = count, .layer = y.layer};
    if (f->layer != y.layer)
        return; /* the rest of a frame of the layer switched away from */
    if (!(f->mask & (1ull << idx))) {
        f->mask |= 1ull << idx;
        f->have++;
    }
    f->key |= idx == 0 && y.key;
    try_decode(p, st, now);
}

/* A generic NACK (RFC 4585 §6.2.1) for the n sequence numbers in lost, on "sub". */
static void send_nack(struct sim_peer *p, const struct sim_stream *st, const uint16_t *lost,
                      size_t n)
{
    uint8_t b[512];
    int len = n ? tdm_rtcp_build_nack(b, sizeof b, p->conn[1].rtcp_ssrc, st->ssrc, lost, n) : 0;
    if (len > 0) {
        p->st.nacks_sent++;
        send_rtcp(&p->conn[1], b, (size_t)len);
    }
}

static void track_seq(struct sim_peer *p, struct sim_stream *st, uint16_t seq, int64_t now)
{
    st->received++;
    if (!st->received_prior && st->received == 1) {
        st->base_seq = seq;
        st->highest = seq;
        st->got[seq % 1024] = 1;
        return;
    }
    int64_t ext = st->highest + (int16_t)(seq - (uint16_t)st->highest);
    st->got[(uint16_t)ext % 1024] = 1;
    if (ext <= st->highest)
        return;
    if (ext - st->highest > st->v.max_seq_jump)
        st->v.max_seq_jump = (uint32_t)(ext - st->highest);
    uint16_t lost[64];
    size_t n = 0;
    for (int64_t s = st->highest + 1; s < ext && n < 64; s++) {
        st->got[(uint16_t)s % 1024] = 0;
        st->nacked_at[(uint16_t)s % 1024] = now;
        lost[n++] = (uint16_t)s;
    }
    st->highest = ext;
    send_nack(p, st, lost, n);
}

static void nack_again(struct sim_peer *p, int64_t now)
{
    for (unsigned i = 0; i < p->n_streams; i++) {
        struct sim_stream *st = &p->streams[i];
        uint16_t lost[64];
        size_t n = 0;
        for (int64_t q = st->highest - 300; st->received && q < st->highest && n < 64; q++) {
            unsigned k = (uint16_t)q % 1024;
            if (q < st->base_seq || st->got[k] || now - st->nacked_at[k] < NACK_RETRY_US ||
                now - st->nacked_at[k] > 1000000)
                continue;
            lost[n++] = (uint16_t)q;
        }
        send_nack(p, st, lost, n);
    }
}

static void on_sub_rtp(struct sim_peer *p, uint8_t *buf, size_t len, size_t wire, int64_t now)
{
    struct tdm_rtp_view v;
    if (tdm_rtp_parse(&v, buf, len, NULL, 0) != 0)
        return;
    sim_twcc_on_rtp(p, &v, now);
    if (v.pt == AUDIO_PT) {
        p->st.audio_packets++;
        sim_areport_on_rtp(p, &v);
        if (p->audio)
            sim_audio_on_rtp(p, &v, wire, now);
        return;
    }
    struct sim_stream *st = stream_of(p, v.ssrc);
    if (!st)
        return;
    p->st.video_packets++;
    st->v.packets++;
    track_seq(p, st, v.seq, now);
    on_video(p, st, &v, now);
}

/* Sender reports on "sub": remembered per stream for the receiver reports' LSR/DLSR. */
static void on_sub_rtcp(struct sim_peer *p, uint8_t *buf, size_t len, int64_t now)
{
    struct tdm_rtcp_iter it;
    struct tdm_rtcp_pkt pk;
    tdm_rtcp_iter_init(&it, buf, len);
    for (int g = 0; g < 32 && tdm_rtcp_iter_next(&it, &pk, NULL, 0) == 1; g++) {
        struct tdm_rtcp_sr sr;
        if (pk.type != TDM_RTCP_SR || tdm_rtcp_parse_sr(&pk, &sr) != 0)
            continue;
        for (unsigned i = 0; i < p->n_streams; i++)
            if (p->streams[i].ssrc == sr.ssrc) {
                p->streams[i].sr_mid32 = (uint32_t)(sr.ntp >> 16);
                p->streams[i].sr_at = now;
            }
    }
}

void sim_peer_on_datagram(struct sim_peer *p, int conn, uint8_t *buf, size_t len, int64_t now)
{
    struct sim_conn *c = &p->conn[conn];
    enum tdm_demux_kind k = tdm_demux_classify(buf, len);
    if (k == TDM_DEMUX_STUN) {
        if (len >= 2 && ((buf[0] << 8) | buf[1]) == TDM_STUN_BINDING_SUCCESS)
            on_checked(c, now);
    } else if (k == TDM_DEMUX_DTLS && c->dtls) {
        tdm_dtls_feed(c->dtls, buf, len, now);
        dtls_pump(c, now);
    } else if (c->srtp && k == TDM_DEMUX_RTP) {
        int n = tdm_srtp_unprotect_rtp(c->srtp, buf, len);
        if (n > 0 && conn == 1)
            on_sub_rtp(p, buf, (size_t)n, len, now);
    } else if (c->srtp && k == TDM_DEMUX_RTCP) {
        int n = tdm_srtp_unprotect_rtcp(c->srtp, buf, len);
        if (n > 0 && conn == 0)
            on_pub_rtcp(p, buf, (size_t)n);
        else if (n > 0 && conn == 1)
            on_sub_rtcp(p, buf, (size_t)n, now);
    }
}

/* ---- time ---------------------------------------------------------------------------- */

/* Receiver reports for every video stream (RFC 3550 §6.4.2 fraction lost per interval) and
 * every audio stream (sim_areport.c). */
static void receiver_reports(struct sim_peer *p, int64_t now)
{
    struct tdm_rtcp_rb rb[TDM_RTCP_MAX_BLOCKS];
    size_t n = 0;
    for (unsigned i = 0; i < p->n_streams && n < TDM_RTCP_MAX_BLOCKS; i++) {
        struct sim_stream *st = &p->streams[i];
        if (!st->received)
            continue;
        uint32_t expected = (uint32_t)(st->highest - st->base_seq + 1);
        uint32_t exp_int = expected - st->expected_prior;
        uint32_t rec_int = st->received - st->received_prior;
        st->expected_prior = expected;
        st->received_prior = st->received;
        int32_t lost_int = (int32_t)(exp_int - rec_int);
        uint8_t frac = exp_int && lost_int > 0 ? (uint8_t)(((uint32_t)lost_int << 8) / exp_int) : 0;
        int32_t cum = (int32_t)(expected - st->received);
        /* LSR/DLSR as browsers send them, so the server knows the round trip */
        int64_t dl = st->sr_mid32 ? (now - st->sr_at) * 65536 / 1000000 : 0;
        rb[n++] = (struct tdm_rtcp_rb){.ssrc = st->ssrc,
                                       .fraction_lost = frac,
                                       .cumulative_lost = cum < 0 ? 0 : cum,
                                       .ext_highest_seq = (uint32_t)st->highest,
                                       .lsr = st->sr_mid32,
                                       .dlsr = (uint32_t)dl};
    }
    n += sim_areport_blocks(p, rb + n, TDM_RTCP_MAX_BLOCKS - n);
    uint8_t b[1200];
    int len = tdm_rtcp_build_rr(b, sizeof b, p->conn[1].rtcp_ssrc, rb, n);
    if (len > 0)
        send_rtcp(&p->conn[1], b, (size_t)len);
}

int64_t sim_peer_next(const struct sim_peer *p)
{
    int64_t d = INT64_MAX;
    for (int k = 0; k < 2; k++) {
        const struct sim_conn *c = &p->conn[k];
        if (c->remote_known && c->next_check_us < d)
            d = c->next_check_us;
        if (c->dtls && !c->srtp && tdm_dtls_deadline(c->dtls) < d)
            d = tdm_dtls_deadline(c->dtls);
    }
    if (p->conn[0].srtp) {
        if (p->pub_audio && p->next_audio_us < d)
            d = p->next_audio_us;
        if (p->pub_video && p->next_frame_us < d)
            d = p->next_frame_us;
    }
    if (p->conn[1].srtp && p->next_rtcp_us < d)
        d = p->next_rtcp_us;
    if (p->conn[1].srtp && p->next_nack_us < d)
        d = p->next_nack_us;
    int64_t x = sim_twcc_next(p);
    return x < d ? x : d;
}

void sim_peer_tick(struct sim_peer *p, int64_t now)
{
    for (int k = 0; k < 2; k++) {
        struct sim_conn *c = &p->conn[k];
        if (c->remote_known && c->next_check_us <= now) {
            send_check(c);
            c->next_check_us = now + (c->checked ? CHECK_US : 50000);
        }
        if (c->dtls && !c->srtp && tdm_dtls_deadline(c->dtls) <= now) {
            tdm_dtls_handle_timeout(c->dtls, now);
            dtls_pump(c, now);
        }
    }
    if (p->conn[0].srtp && p->pub_audio && p->next_audio_us <= now) {
        send_audio(p, now);
        p->next_audio_us += p->dtx ? 20 * AUDIO_US : sim_audio_ptime_us(p); /* DTX: 400 ms */
    }
    if (p->conn[0].srtp && p->pub_video && p->next_frame_us <= now) {
        if (p->n_layers)
            sim_layers_send_frame(p, now);
        else
            send_frame(p, now);
        p->next_frame_us += FRAME_US;
    }
    if (p->conn[1].srtp && p->next_rtcp_us <= now) {
        receiver_reports(p, now);
        p->next_rtcp_us = now + RTCP_US;
    }
    if (p->conn[1].srtp && p->next_nack_us <= now) {
        nack_again(p, now);
        p->next_nack_us = now + NACK_RETRY_US / 2;
    }
    sim_twcc_tick(p, now);
}

void sim_peer_stats(const struct sim_peer *p, struct sim_stats *out)
{
    *out = p->st;
    out->video_bps = p->video_bps;
    out->twcc_feedbacks = sim_twcc_feedbacks(p);
}

const struct sim_video_rx *sim_peer_video_from(const struct sim_peer *p, const char *from)
{
    for (unsigned i = 0; i < p->n_streams; i++)
        if (strcmp(p->streams[i].from, from) == 0 && p->streams[i].received)
            return &p->streams[i].v;
    return NULL;
}

const struct sim_video_rx *sim_peer_video_latest(const struct sim_peer *p, const char *from)
{
    for (unsigned i = p->n_streams; i-- > 0;)
        if (strcmp(p->streams[i].from, from) == 0 && p->streams[i].received)
            return &p->streams[i].v;
    return NULL;
}

bool sim_peer_connected(const struct sim_peer *p)
{
    return p->conn[0].srtp && p->conn[1].srtp;
}

int sim_peer_video_packet(struct sim_peer *p, uint8_t *out, size_t cap)
{
    struct sim_conn *c = &p->conn[0];
    if (!c->srtp || cap < 12 + 1200 + TDM_SRTP_MAX_TRAILER)
        return TDM_ESTATE;
    size_t n =
        rtp_header(out, VIDEO_PT, (p->v_seq % 3) == 2, p->v_seq, p->frame_no * 3000, p->v_ssrc);
    memset(out + n, 0x5a, 1200);
    out[n] = 0x10;
    out[n + 1] = 0x01; /* a delta frame */
    if ((p->v_seq++ % 3) == 2)
        p->frame_no++;
    return tdm_srtp_protect_rtp(c->srtp, out, n + 1200, cap);
}
