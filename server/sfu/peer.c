/* One connection with a page ("pub" or "sub"): its ICE-lite session in the core's table,
 * its DTLS endpoint, the SRTP sessions made from the DTLS keys (RFC 5764), and where its
 * datagrams go. What happens to it is left in its fields for the layers above (connected,
 * failed); it calls nothing above out.c. */
#include "sfu_internal.h"

#include "tandem/err.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The server prefers to be the DTLS server (RFC 5763 §5: it answers passive), and a
 * browser answering our actpass offer takes active, so the endpoint starts as a server
 * and is remade only when the remote side turns out passive. It can take a ClientHello
 * that arrives before the page's answer does; it then waits for the fingerprint. */
static int make_dtls(struct tdm_sfu *s, struct peer *p, enum tdm_dtls_role role, int64_t now)
{
    if (p->dtls)
        tdm_dtls_destroy(p->dtls);
    p->dtls = NULL;
    int rc = tdm_dtls_create(&p->dtls, s->cfg.ssl_ctx, role, NULL);
    if (rc == 0)
        rc = tdm_dtls_set_handshake_timeout(p->dtls, s->cfg.dtls_timeout_us);
    if (rc == 0 && role == TDM_DTLS_CLIENT)
        rc = tdm_dtls_start(p->dtls, now);
    return rc;
}

/* A connection stops being "pending" once DTLS is up, or when it goes. */
static void unpend(struct tdm_sfu *s, struct peer *p)
{
    if (p->pending) {
        p->pending = false;
        s->st.pending--;
    }
}

struct peer *peer_create(struct tdm_sfu *s, struct part *part, enum peer_kind kind, int64_t now)
{
    if (s->st.pending >= s->cfg.max_pending) {
        /* Many half-made connections at once: a flood, or a crowd joining. Counted, and
         * logged at a bounded rate; the page is told to try again shortly. */
        s->st.refused_pending++;
        tdm_log_limited(&s->log_lim, 5, now, TDM_LOG_WARN,
                        "media w%u: %u connections are being set up (limits.max_pending_media): "
                        "a new one is refused (%llu so far)",
                        s->cfg.index, s->st.pending, (unsigned long long)s->st.refused_pending);
        return NULL;
    }
    struct peer *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->pending = true;
    p->created_us = now;
    s->st.pending++;
    s->st.peers++;
    /* The time-outs of ICE (its table's) and of the whole set-up (part's) are noticed by
     * the time-outs. */
    sfu_wake(s, part);
    p->part = part;
    p->kind = kind;
    p->dst.sock = -1;
    p->next_rtcp_us = INT64_MAX;
    p->rtcp_ssrc = sfu_rand32_nonzero(s);
    p->sess_id = ((uint64_t)sfu_rand32_nonzero(s) << 30) ^ sfu_rand32(s);
    if (tdm_ice_session_add(s->ice, now, (uint64_t)(uintptr_t)p, &p->ice_id) != 0 ||
        make_dtls(s, p, TDM_DTLS_SERVER, now) != 0) {
        peer_destroy(s, p, now);
        return NULL;
    }
    return p;
}

void peer_send(struct tdm_sfu *s, struct peer *p, struct tdm_sfu_transmit *t, size_t len)
{
    if (t && p->have_dst)
        sfu_tx_commit(s, t, &p->dst, len);
}

static void drain(struct tdm_sfu *s, struct peer *p)
{
    for (int i = 0; i < TDM_DTLS_QUEUE_SLOTS; i++) {
        struct tdm_sfu_transmit *t = sfu_tx_slot(s);
        if (!t)
            return;
        int n = tdm_dtls_poll_datagram(p->dtls, t->buf, sizeof t->buf);
        if (n <= 0)
            break;
        peer_send(s, p, t, (size_t)n);
    }
}

void peer_destroy(struct tdm_sfu *s, struct peer *p, int64_t now)
{
    if (!p)
        return;
    if (p->dtls && tdm_dtls_state(p->dtls) == TDM_DTLS_CONNECTED) {
        /* A close_notify tells the browser at once instead of after its consent timeout. */
        tdm_dtls_close(p->dtls, now);
        drain(s, p);
    }
    unpend(s, p);
    sfu_wake(s, p->part); /* its deadlines go */
    if (p->ice_id)
        tdm_ice_session_remove(s->ice, p->ice_id);
    tdm_dtls_destroy(p->dtls);
    tdm_srtp_destroy(p->srtp);
    dl_uncount(&s->st, p->dl);
    free(p->dl); /* plain memory (downlink.c allocates it) */
    free(p);
    s->st.peers--;
}

static void on_connected(struct tdm_sfu *s, struct peer *p, int64_t now)
{
    struct tdm_srtp_keys keys;
    if (tdm_dtls_take_keys(p->dtls, &keys) != 0)
        return;
    unpend(s, p);
    int rc = tdm_srtp_create(&p->srtp, &keys);
    tdm_srtp_keys_wipe(&keys);
    if (rc != 0) {
        p->failed = true;
        p->fail_why = "SRTP setup failed";
        sfu_wake(s, p->part);
        return;
    }
    /* OpenSSL 3.0 speaks DTLS 1.2 at most (RFC 6347). No address in this line. */
    enum tdm_srtp_profile prof = tdm_srtp_profile(p->srtp);
    TDM_INFO("media w%u: %s connection up (DTLS 1.2, %s)", s->cfg.index,
             p->kind == PEER_PUB ? "pub" : "sub",
             prof == TDM_SRTP_AEAD_AES_128_GCM ? "SRTP_AEAD_AES_128_GCM"
                                               : "SRTP_AES128_CM_HMAC_SHA1_80");
    /* Reports start now: the first REMB reaches a publisher inside its start phase. */
    p->next_rtcp_us = now + 100000;
    sfu_wake(s, p->part);
    p->connected = true;
    s->peers_connected = true;
}

bool peer_take_connected(struct peer *p)
{
    bool c = p->connected;
    p->connected = false;
    return c;
}

static void events(struct tdm_sfu *s, struct peer *p, int64_t now)
{
    struct tdm_dtls_event ev;
    while (p->dtls && tdm_dtls_poll_event(p->dtls, &ev)) {
        if (ev.type == TDM_DTLS_EV_CONNECTED) {
            on_connected(s, p, now);
        } else {
            p->failed = true;
            p->fail_why = ev.type == TDM_DTLS_EV_CLOSED ? "DTLS closed by the page"
                                                        : tdm_dtls_fail_name(ev.fail);
            sfu_wake(s, p->part);
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

int peer_set_remote(struct tdm_sfu *s, struct peer *p, const struct tdm_sdp_nego *n, int64_t now)
{
    size_t ul = strlen(n->remote_ufrag), pl = strlen(n->remote_pwd);
    int rc = tdm_ice_session_set_remote(s->ice, p->ice_id, n->remote_ufrag, ul, n->remote_pwd, pl);
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
        rc = make_dtls(s, p, TDM_DTLS_CLIENT, now);
        if (rc != 0)
            return rc;
        drain(s, p);
    }
    p->remote_fp = fp;
    rc = tdm_dtls_set_remote_fingerprint(p->dtls, &fp, now);
    drain(s, p);
    events(s, p, now);
    sfu_wake(s, p->part); /* DTLS's retransmission deadline */
    return rc;
}

void peer_restart_ice(struct tdm_sfu *s, struct peer *p, int64_t now)
{
    tdm_ice_session_restart(s->ice, p->ice_id, now); /* RFC 8445 §9; its table's deadline */
}

/* Where media for p goes: a UDP address on one of our sockets, or an ICE-TCP connection
 * (the one the check came on, or another one the page opened from that address: the
 * caller finds it by the address when the id is 0). */
static void set_dst(struct peer *p, const struct tdm_sfu_path *from, const struct tdm_addr *a)
{
    if (a->transport == TDM_ADDR_TCP) {
        bool same = from->tcp && tdm_addr_equal(&from->remote, a);
        p->dst =
            (struct tdm_sfu_path){.sock = from->sock, .tcp = same ? from->tcp : 0, .remote = *a};
        p->have_dst = true;
        return;
    }
    int sock = tdm_addr_equal(a, &from->remote) || p->dst.sock < 0 ? from->sock : p->dst.sock;
    if (sock < 0)
        return;
    p->dst = (struct tdm_sfu_path){.sock = sock, .tcp = 0, .remote = *a};
    p->have_dst = true;
}

void peer_forget_tcp(struct peer *p, uint64_t tcp)
{
    if (p && p->have_dst && p->dst.tcp == tcp) {
        p->have_dst = false;
        p->dst.tcp = 0;
    }
}

int peer_on_stun(struct tdm_sfu *s, const struct tdm_sfu_path *from, uint8_t *p, size_t len,
                 int64_t now)
{
    struct tdm_sfu_transmit *t = sfu_tx_slot(s);
    uint8_t scratch[1];
    size_t out_len = 0;
    uint64_t sid = 0;
    enum tdm_ice_event ev = TDM_ICE_EV_NONE;
    tdm_ice_handle_stun(s->ice, p, len, &from->remote, now, t ? t->buf : scratch,
                        t ? sizeof t->buf : 0, &out_len, &sid, &ev);
    if (out_len && t)
        sfu_tx_commit(s, t, from, out_len);
    if (!sid)
        return 0;
    uint64_t user;
    if (tdm_ice_session_user(s->ice, sid, &user) != 0 || !user)
        return TDM_SFU_RX_CHECKED;
    struct peer *peer = (struct peer *)(uintptr_t)user;
    if (peer->have_dst && ev == TDM_ICE_EV_NONE)
        return TDM_SFU_RX_CHECKED;
    struct tdm_addr dst;
    int rc = tdm_ice_session_send_addr(s->ice, sid, &dst);
    /* Before nomination the latest valid pair is usable (RFC 8445 §12); the nominated
     * address wins from then on. */
    if (rc == 0 || rc == TDM_EAGAIN)
        set_dst(peer, from, &dst);
    if (ev == TDM_ICE_EV_CONNECTED)
        TDM_DEBUG("media w%u: %s ICE connected over %s", s->cfg.index,
                  peer->kind == PEER_PUB ? "pub" : "sub",
                  peer->dst.remote.transport == TDM_ADDR_TCP ? "TCP" : "UDP");
    return TDM_SFU_RX_CHECKED;
}

void peer_on_dtls(struct tdm_sfu *s, struct peer *p, const struct tdm_sfu_path *from,
                  const uint8_t *d, size_t len, int64_t now)
{
    if (!p->have_dst)
        set_dst(p, from, &from->remote);
    if (!p->dtls)
        return;
    struct tdm_dtls_stats before, after;
    tdm_dtls_get_stats(p->dtls, &before);
    tdm_dtls_feed(p->dtls, d, len, now);
    tdm_dtls_get_stats(p->dtls, &after);
    if (after.dropped_in != before.dropped_in) {
        /* Discarded, not fatal: anyone can send a datagram from the peer's address. */
        s->st.dtls_dropped += after.dropped_in - before.dropped_in;
        tdm_log_limited(&s->dtls_log_lim, 2, now, TDM_LOG_INFO,
                        "media w%u: invalid DTLS datagram discarded (%llu so far)", s->cfg.index,
                        (unsigned long long)s->st.dtls_dropped);
    }
    drain(s, p);
    events(s, p, now);
    sfu_wake(s, p->part); /* DTLS's retransmission deadline */
}

/* A connection must be up within ICE's and DTLS's bounds together, counted from its
 * creation: a page that connects ICE and then never starts DTLS is released too. */
static int64_t setup_deadline(const struct tdm_sfu *s, const struct peer *p)
{
    return p->pending && !p->failed ? p->created_us + s->cfg.ice_timeout_us + s->cfg.dtls_timeout_us
                                    : INT64_MAX;
}

int64_t peer_deadline(const struct tdm_sfu *s, const struct peer *p)
{
    if (p->failed)
        return 0;
    int64_t d = p->dtls ? tdm_dtls_deadline(p->dtls) : INT64_MAX;
    int64_t su = setup_deadline(s, p);
    if (su < d)
        d = su;
    return p->srtp && p->next_rtcp_us < d ? p->next_rtcp_us : d;
}

void peer_tick(struct tdm_sfu *s, struct peer *p, int64_t now)
{
    if (setup_deadline(s, p) <= now) {
        p->failed = true;
        p->fail_why = "not connected in time";
        return;
    }
    if (p->dtls && tdm_dtls_deadline(p->dtls) <= now) {
        tdm_dtls_handle_timeout(p->dtls, now);
        drain(s, p);
        events(s, p, now);
    }
}

static void add_cand(struct tdm_sdp_local *l, const struct tdm_addr *a, bool tcp)
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
    c->port = a->port;
    /* RFC 8445 §5.1.2.1: type preference 126 (host), local preference by order; ICE-TCP
     * (RFC 6544 §4.2) below every UDP candidate, so it is the fallback. */
    c->priority = ((tcp ? 90u : 126u) << 24) | ((65535u - l->n_cands) << 8) | 255u;
    snprintf(c->foundation, sizeof c->foundation, "%u", l->n_cands + 1);
    l->n_cands++;
}

/* The server's side of an offer or answer: fresh session version, this session's ICE
 * credentials, our fingerprint, one host candidate per local address (the public address
 * first when configured, for 1:1 NAT, with the port of the local addresses). */
void peer_local(struct tdm_sfu *s, struct peer *p, struct tdm_sdp_local *l)
{
    const struct tdm_sfu_config *c = &s->cfg;
    memset(l, 0, sizeof *l);
    l->sess_id = p->sess_id;
    l->sess_version = ++p->sess_version;
    struct tdm_ice_creds cr;
    if (tdm_ice_session_local_creds(s->ice, p->ice_id, &cr) == 0) {
        snprintf(l->ice_ufrag, sizeof l->ice_ufrag, "%s", cr.ufrag);
        snprintf(l->ice_pwd, sizeof l->ice_pwd, "%s", cr.pwd);
    }
    memcpy(l->fingerprint, c->fingerprint, sizeof l->fingerprint);
    l->n_codec_pref = 3;
    l->codec_pref[0] = TDM_SDP_CODEC_VP8;
    l->codec_pref[1] = TDM_SDP_CODEC_VP9;
    l->codec_pref[2] = TDM_SDP_CODEC_H264;
    l->rtx = p->kind == PEER_PUB;
    l->simulcast = p->kind == PEER_PUB; /* rid layers, bound in layers.c */
    bool pub = c->public_addr.family != TDM_ADDR_NONE && c->n_socks;
    for (int tcp = 0; tcp < 2; tcp++) {
        if (tcp ? !c->ice_tcp : !c->ice_udp)
            continue;
        bool any_tcp = false;
        for (unsigned i = 0; i < c->n_socks; i++)
            any_tcp |= c->tcp[i];
        if (pub && (!tcp || any_tcp)) {
            struct tdm_addr a = c->public_addr;
            a.port = c->socks[0].port;
            add_cand(l, &a, tcp);
        }
        for (unsigned i = 0; i < c->n_socks; i++)
            if (!tcp || c->tcp[i])
                add_cand(l, &c->socks[i], tcp);
    }
}
