/* One connection with a page ("pub" or "sub"): its ICE-lite session in the worker's table,
 * its DTLS endpoint, and the SRTP sessions made from the DTLS keys (RFC 5764). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "media_internal.h"
#include "metrics.h"

#include "tandem/err.h"
#include "tandem/util.h"

#include <arpa/inet.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t random_u32(void)
{
    uint32_t v = 0;
    while (v == 0)
        if (RAND_bytes((unsigned char *)&v, sizeof v) != 1)
            v = (uint32_t)tdm_now_us() | 1;
    return v;
}

/* The server prefers to be the DTLS server (RFC 5763 §5: it answers passive), and a
 * browser answering our actpass offer takes active, so the endpoint starts as a server
 * and is remade only when the remote side turns out passive. It can take a ClientHello
 * that arrives before the page's answer does; it then waits for the fingerprint. */
static int make_dtls(struct media_worker *w, struct mpeer *p, enum tdm_dtls_role role, int64_t now)
{
    if (p->dtls)
        tdm_dtls_destroy(p->dtls);
    p->dtls = NULL;
    int rc = tdm_dtls_create(&p->dtls, w->media->ssl_ctx, role, NULL);
    if (rc == 0)
        rc = tdm_dtls_set_handshake_timeout(p->dtls, w->media->dtls_timeout_us);
    if (rc == 0 && role == TDM_DTLS_CLIENT)
        rc = tdm_dtls_start(p->dtls, now);
    return rc;
}

/* A connection stops being "pending" once DTLS is up, or when it goes. */
static void unpend(struct media_worker *w, struct mpeer *p)
{
    if (p->pending) {
        p->pending = false;
        w->n_pending--;
        tdm_mx_sub(&tdm_mx_worker(w->index)->peers_setting_up, 1);
    }
}

struct mpeer *mpeer_create(struct media_worker *w, struct mpart *part, enum mpeer_kind kind,
                           int64_t now)
{
    if (w->n_pending >= w->media->max_pending) {
        /* Many half-made connections at once: a flood, or a crowd joining. Counted, and
         * logged at a bounded rate; the page is told to try again shortly. */
        w->refused_pending++;
        tdm_mx_add(&tdm_mx_worker(w->index)->refused_busy, 1);
        tdm_log_limited(&w->log_lim, 5, now, TDM_LOG_WARN,
                        "media w%u: %u connections are being set up (limits.max_pending_media): "
                        "a new one is refused (%llu so far)",
                        w->index, w->n_pending, (unsigned long long)w->refused_pending);
        return NULL;
    }
    struct mpeer *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->pending = true;
    p->created_us = now;
    w->n_pending++;
    tdm_mx_add(&tdm_mx_worker(w->index)->peers_setting_up, 1);
    tdm_mx_add(&tdm_mx_worker(w->index)->peers, 1);
    /* The time-outs of ICE and of the whole set-up are noticed by the worker's timer. */
    mw_due(w, now + w->media->ice_timeout_us);
    mw_due(w, now + w->media->ice_timeout_us + w->media->dtls_timeout_us);
    p->part = part;
    p->kind = kind;
    p->sock = -1;
    p->next_rtcp_us = INT64_MAX;
    p->rtcp_ssrc = random_u32();
    p->sess_id = ((uint64_t)random_u32() << 30) ^ random_u32();
    if (tdm_ice_session_add(w->ice, now, (uint64_t)(uintptr_t)p, &p->ice_id) != 0 ||
        make_dtls(w, p, TDM_DTLS_SERVER, now) != 0) {
        mpeer_destroy(w, p);
        return NULL;
    }
    return p;
}

static void drain(struct media_worker *w, struct mpeer *p)
{
    for (int i = 0; i < TDM_DTLS_QUEUE_SLOTS; i++) {
        struct mw_tx *t = mw_tx_slot(w);
        int n = tdm_dtls_poll_datagram(p->dtls, t->buf, MW_TX_BUF);
        if (n <= 0)
            break;
        mw_send_to_peer(w, p, t, (size_t)n);
    }
}

void mpeer_destroy(struct media_worker *w, struct mpeer *p)
{
    if (!p)
        return;
    if (p->dtls && tdm_dtls_state(p->dtls) == TDM_DTLS_CONNECTED) {
        /* A close_notify tells the browser at once instead of after its consent timeout. */
        tdm_dtls_close(p->dtls, tdm_now_us());
        drain(w, p);
    }
    unpend(w, p);
    if (p->ice_id)
        tdm_ice_session_remove(w->ice, p->ice_id);
    tdm_dtls_destroy(p->dtls);
    tdm_srtp_destroy(p->srtp);
    free(p);
    tdm_mx_sub(&tdm_mx_worker(w->index)->peers, 1);
}

static void on_connected(struct media_worker *w, struct mpeer *p, int64_t now)
{
    struct tdm_srtp_keys keys;
    if (tdm_dtls_take_keys(p->dtls, &keys) != 0)
        return;
    unpend(w, p);
    int rc = tdm_srtp_create(&p->srtp, &keys);
    tdm_srtp_keys_wipe(&keys);
    if (rc != 0) {
        p->failed = true;
        p->fail_why = "SRTP setup failed";
        mw_due(w, now);
        return;
    }
    /* OpenSSL 3.0 speaks DTLS 1.2 at most (RFC 6347). No address in this line. */
    enum tdm_srtp_profile prof = tdm_srtp_profile(p->srtp);
    TDM_INFO("media w%u: %s connection up (DTLS 1.2, %s)", w->index,
             p->kind == MPEER_PUB ? "pub" : "sub",
             prof == TDM_SRTP_AEAD_AES_128_GCM ? "SRTP_AEAD_AES_128_GCM"
                                               : "SRTP_AES128_CM_HMAC_SHA1_80");
    /* Reports start now: the first REMB reaches a publisher inside its start phase. */
    p->next_rtcp_us = now + 100000;
    mw_due(w, p->next_rtcp_us);
    if (p->kind == MPEER_SUB) {
        mpart_update_live(w, p->part, now);
        return;
    }
    for (uint32_t i = 0; i < p->part->n_prods; i++)
        if (p->part->prods[i]->kf_wanted)
            mprod_want_keyframe(w, p->part->prods[i], now);
}

static void events(struct media_worker *w, struct mpeer *p, int64_t now)
{
    struct tdm_dtls_event ev;
    while (p->dtls && tdm_dtls_poll_event(p->dtls, &ev)) {
        if (ev.type == TDM_DTLS_EV_CONNECTED) {
            on_connected(w, p, now);
        } else {
            p->failed = true;
            p->fail_why = ev.type == TDM_DTLS_EV_CLOSED ? "DTLS closed by the page"
                                                        : tdm_dtls_fail_name(ev.fail);
            mw_due(w, now);
        }
    }
}

static enum tdm_fp_hash fp_hash(enum tdm_sdp_hash h)
{
    switch (h) {
    case TDM_SDP_SHA1: return TDM_FP_SHA1;
    case TDM_SDP_SHA224: return TDM_FP_SHA224;
    case TDM_SDP_SHA256: return TDM_FP_SHA256;
    case TDM_SDP_SHA384: return TDM_FP_SHA384;
    default: return TDM_FP_SHA512;
    }
}

int mpeer_set_remote(struct media_worker *w, struct mpeer *p, const struct tdm_sdp_nego *n,
                     int64_t now)
{
    size_t ul = strlen(n->remote_ufrag), pl = strlen(n->remote_pwd);
    int rc = tdm_ice_session_set_remote(w->ice, p->ice_id, n->remote_ufrag, ul, n->remote_pwd, pl);
    if (rc != 0)
        return rc;
    snprintf(p->remote_ufrag, sizeof p->remote_ufrag, "%s", n->remote_ufrag);
    if (n->remote_fingerprint.hash == TDM_SDP_HASH_NONE)
        return TDM_EINVAL;
    struct tdm_fingerprint fp = {.hash = fp_hash(n->remote_fingerprint.hash),
                                 .len = n->remote_fingerprint.len};
    memcpy(fp.digest, n->remote_fingerprint.value, fp.len);
    enum tdm_dtls_state st = tdm_dtls_state(p->dtls);
    if (st == TDM_DTLS_CONNECTED)
        return 0; /* renegotiation on a live connection: same certificate (checked by caller) */
    if (!n->dtls_server && tdm_dtls_role(p->dtls) == TDM_DTLS_SERVER) {
        rc = make_dtls(w, p, TDM_DTLS_CLIENT, now);
        if (rc != 0)
            return rc;
        drain(w, p);
    }
    p->remote_fp = fp;
    rc = tdm_dtls_set_remote_fingerprint(p->dtls, &fp, now);
    drain(w, p);
    events(w, p, now);
    mw_due(w, tdm_dtls_deadline(p->dtls));
    return rc;
}

/* Where media for p goes: a UDP address on one of our sockets, or an ICE-TCP connection
 * (the one the check came on, or another one the page opened from that address). */
static void set_dst(struct media_worker *w, struct mpeer *p, int sock, struct mw_tcp *tcp,
                    const struct tdm_addr *a)
{
    if (a->transport == TDM_ADDR_TCP) {
        p->tcp = tcp && tdm_addr_equal(&tcp->remote, a) ? tcp : mw_tcp_find(w, a);
        p->have_dst = p->tcp != NULL;
        return;
    }
    struct sockaddr_storage ss;
    socklen_t sl;
    if (sock < 0 || tdm_addr_to_sockaddr(a, &ss, &sl) != 0)
        return;
    memcpy(&p->dst, &ss, sl);
    p->dst_len = sl;
    p->sock = sock;
    p->tcp = NULL;
    p->have_dst = true;
}

void mpeer_on_stun(struct media_worker *w, int sock, struct mw_tcp *tcp,
                   const struct tdm_addr *from, uint8_t *p, size_t len, int64_t now)
{
    struct mw_tx *t = mw_tx_slot(w);
    size_t out_len = 0;
    uint64_t sid = 0;
    enum tdm_ice_event ev = TDM_ICE_EV_NONE;
    tdm_ice_handle_stun(w->ice, p, len, from, now, t->buf, MW_TX_BUF, &out_len, &sid, &ev);
    if (out_len && tcp) {
        mw_tcp_send(tcp, t->buf, out_len);
    } else if (out_len) {
        struct sockaddr_storage ss;
        socklen_t sl;
        if (tdm_addr_to_sockaddr(from, &ss, &sl) == 0)
            mw_tx_commit(w, t, w->socks[sock].fd, (struct sockaddr *)&ss, sl, out_len);
    }
    if (!sid)
        return;
    if (tcp)
        tcp->authed = true;
    uint64_t user;
    if (tdm_ice_session_user(w->ice, sid, &user) != 0 || !user)
        return;
    struct mpeer *peer = (struct mpeer *)(uintptr_t)user;
    if (peer->have_dst && ev == TDM_ICE_EV_NONE)
        return;
    struct tdm_addr dst;
    int rc = tdm_ice_session_send_addr(w->ice, sid, &dst);
    /* Before nomination the latest valid pair is usable (RFC 8445 §12); the nominated
     * address wins from then on. */
    if (rc == 0 || rc == TDM_EAGAIN)
        set_dst(w, peer, tdm_addr_equal(&dst, from) ? sock : (peer->sock < 0 ? sock : peer->sock),
                tcp, &dst);
    if (ev == TDM_ICE_EV_CONNECTED)
        TDM_DEBUG("media w%u: %s ICE connected over %s", w->index,
                  peer->kind == MPEER_PUB ? "pub" : "sub", peer->tcp ? "TCP" : "UDP");
}

void mpeer_on_dtls(struct media_worker *w, struct mpeer *p, int sock, struct mw_tcp *tcp,
                   const struct tdm_addr *from, const uint8_t *d, size_t len, int64_t now)
{
    if (!p->have_dst)
        set_dst(w, p, sock, tcp, from);
    if (!p->dtls)
        return;
    struct tdm_dtls_stats before, after;
    tdm_dtls_get_stats(p->dtls, &before);
    tdm_dtls_feed(p->dtls, d, len, now);
    tdm_dtls_get_stats(p->dtls, &after);
    if (after.dropped_in != before.dropped_in) {
        /* Discarded, not fatal: anyone can send a datagram from the peer's address. */
        w->dtls_dropped += after.dropped_in - before.dropped_in;
        tdm_log_limited(&w->dtls_log_lim, 2, now, TDM_LOG_INFO,
                        "media w%u: invalid DTLS datagram discarded (%llu so far)", w->index,
                        (unsigned long long)w->dtls_dropped);
    }
    drain(w, p);
    events(w, p, now);
    mw_due(w, tdm_dtls_deadline(p->dtls));
}

/* A connection must be up within ICE's and DTLS's bounds together, counted from its
 * creation: a page that connects ICE and then never starts DTLS is released too. */
static int64_t setup_deadline(const struct media_worker *w, const struct mpeer *p)
{
    return p->pending && !p->failed
               ? p->created_us + w->media->ice_timeout_us + w->media->dtls_timeout_us
               : INT64_MAX;
}

int64_t mpeer_deadline(const struct media_worker *w, const struct mpeer *p)
{
    int64_t d = p->dtls ? tdm_dtls_deadline(p->dtls) : INT64_MAX;
    int64_t s = setup_deadline(w, p);
    if (s < d)
        d = s;
    return p->next_rtcp_us < d ? p->next_rtcp_us : d;
}

void mpeer_tick(struct media_worker *w, struct mpeer *p, int64_t now)
{
    if (setup_deadline(w, p) <= now) {
        p->failed = true;
        p->fail_why = "not connected in time";
        return;
    }
    if (p->dtls && tdm_dtls_deadline(p->dtls) <= now) {
        tdm_dtls_handle_timeout(p->dtls, now);
        drain(w, p);
        events(w, p, now);
    }
    if (p->srtp && p->next_rtcp_us <= now) {
        mrtcp_send_reports(w, p, now);
        /* RFC 3550 §6.3.1: randomised to 0.5..1.5 of the interval. */
        p->next_rtcp_us = now + MW_RTCP_INTERVAL_US / 2 + random_u32() % MW_RTCP_INTERVAL_US;
    }
}

static void add_cand(struct tdm_sdp_local *l, const struct tdm_addr *a, uint16_t port, bool tcp)
{
    if (l->n_cands >= 8)
        return;
    struct tdm_sdp_candidate *c = &l->cands[l->n_cands];
    memset(c, 0, sizeof *c);
    int af = a->family == TDM_ADDR_V4 ? AF_INET : AF_INET6;
    if (!inet_ntop(af, a->ip, c->address, sizeof c->address))
        return;
    c->transport = tcp ? TDM_SDP_TCP : TDM_SDP_UDP;
    c->tcptype = tcp ? TDM_SDP_TCP_PASSIVE : TDM_SDP_TCP_NONE;
    c->type = TDM_SDP_HOST;
    c->component = 1;
    c->port = port;
    /* RFC 8445 §5.1.2.1: type preference 126 (host), local preference by order; ICE-TCP
     * (RFC 6544 §4.2) below every UDP candidate, so it is the fallback. */
    c->priority = ((tcp ? 90u : 126u) << 24) | ((65535u - l->n_cands) << 8) | 255u;
    snprintf(c->foundation, sizeof c->foundation, "%u", l->n_cands + 1);
    l->n_cands++;
}

/* The server's side of an offer or answer: fresh session version, this session's ICE
 * credentials, our fingerprint, one host candidate per socket of this worker (the public
 * address first when configured, for 1:1 NAT). */
void mpeer_local(struct media_worker *w, struct mpeer *p, struct tdm_sdp_local *l)
{
    memset(l, 0, sizeof *l);
    l->sess_id = p->sess_id;
    l->sess_version = ++p->sess_version;
    struct tdm_ice_creds cr;
    if (tdm_ice_session_local_creds(w->ice, p->ice_id, &cr) == 0) {
        snprintf(l->ice_ufrag, sizeof l->ice_ufrag, "%s", cr.ufrag);
        snprintf(l->ice_pwd, sizeof l->ice_pwd, "%s", cr.pwd);
    }
    memcpy(l->fingerprint, w->media->fingerprint, sizeof l->fingerprint);
    l->n_codec_pref = 3;
    l->codec_pref[0] = TDM_SDP_CODEC_VP8;
    l->codec_pref[1] = TDM_SDP_CODEC_VP9;
    l->codec_pref[2] = TDM_SDP_CODEC_H264;
    l->rtx = p->kind == MPEER_PUB;
    uint16_t port = (uint16_t)(w->media->port_base + w->index);
    bool pub = w->media->public_addr.family != TDM_ADDR_NONE;
    for (int tcp = 0; tcp < 2; tcp++) {
        if (tcp ? !w->media->ice_tcp : !w->media->ice_udp)
            continue;
        bool any_tcp = false;
        for (unsigned i = 0; i < w->n_socks; i++)
            any_tcp |= w->socks[i].tcp_fd >= 0;
        if (pub && (!tcp || any_tcp))
            add_cand(l, &w->media->public_addr, port, tcp);
        for (unsigned i = 0; i < w->n_socks; i++)
            if (!tcp || w->socks[i].tcp_fd >= 0)
                add_cand(l, &w->socks[i].local, port, tcp);
    }
}
