/* One media worker: its thread and GMainContext, one UDP socket per media address on port
 * media.port_base + index, batched receive (recvmmsg) and send (sendmmsg), one timer armed
 * at the earliest deadline of everything the worker owns, and the commands from the control
 * thread. Every source here runs at G_PRIORITY_DEFAULT (stack-notes.md §1: a higher
 * priority can starve the rest of the context). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "media_internal.h"
#include "metrics.h"

#include "tandem/demux.h"
#include "tandem/err.h"
#include "tandem/util.h"

#include <errno.h>
#include <glib-unix.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MW_RX_ROUNDS 8 /* batches per wake-up before other sources get their turn */
#define MW_SOCK_BUF (2 * 1024 * 1024)

/* ---- sending ------------------------------------------------------------------------- */

struct mw_tx *mw_tx_slot(struct media_worker *w)
{
    if (w->n_tx == MW_TX_BATCH)
        mw_flush(w);
    return &w->tx[w->n_tx];
}

void mw_tx_commit(struct media_worker *w, struct mw_tx *t, int fd, const struct sockaddr *to,
                  socklen_t tolen, size_t len)
{
    if (t != &w->tx[w->n_tx] || tolen > sizeof t->addr || fd < 0)
        return;
    t->fd = fd;
    memcpy(&t->addr, to, tolen);
    t->alen = tolen;
    t->len = len;
    w->n_tx++;
}

void mw_send_to_peer(struct media_worker *w, struct mpeer *p, struct mw_tx *t, size_t len)
{
    if (p->tcp) {
        mw_tcp_send(p->tcp, t->buf, len); /* the slot stays free for the next datagram */
        return;
    }
    if (!p->have_dst || p->sock < 0 || (unsigned)p->sock >= w->n_socks)
        return;
    mw_tx_commit(w, t, w->socks[p->sock].fd, (const struct sockaddr *)&p->dst, p->dst_len, len);
}

/* Consecutive datagrams for one socket go out in one sendmmsg; what the kernel refuses
 * (a full send buffer) is dropped and counted, as a congested link would. */
void mw_flush(struct media_worker *w)
{
    unsigned i = 0;
    while (i < w->n_tx) {
        int fd = w->tx[i].fd;
        unsigned n = 0;
        while (i + n < w->n_tx && w->tx[i + n].fd == fd) {
            struct mw_tx *t = &w->tx[i + n];
            w->tx_iov[n] = (struct iovec){.iov_base = t->buf, .iov_len = t->len};
            memset(&w->tx_msgs[n], 0, sizeof w->tx_msgs[n]);
            w->tx_msgs[n].msg_hdr.msg_name = &t->addr;
            w->tx_msgs[n].msg_hdr.msg_namelen = t->alen;
            w->tx_msgs[n].msg_hdr.msg_iov = &w->tx_iov[n];
            w->tx_msgs[n].msg_hdr.msg_iovlen = 1;
            n++;
        }
        unsigned done = 0;
        while (done < n) {
            int r = sendmmsg(fd, w->tx_msgs + done, n - done, MSG_DONTWAIT | MSG_NOSIGNAL);
            if (r <= 0) {
                /* Skip the datagram the kernel refused (EINVAL for an address family this
                 * socket cannot reach, or a full buffer) and try the rest. */
                w->dropped_tx++;
                done++;
                continue;
            }
            done += (unsigned)r;
        }
        i += n;
    }
    w->n_tx = 0;
}

/* ---- timer --------------------------------------------------------------------------- */

void mw_due(struct media_worker *w, int64_t t)
{
    if (t < w->next_due)
        w->next_due = t;
}

static void arm(struct media_worker *w)
{
    if (w->next_due == w->timer_at)
        return;
    w->timer_at = w->next_due;
    /* tdm_now_us and g_get_monotonic_time both read CLOCK_MONOTONIC in microseconds. */
    g_source_set_ready_time(w->timer, w->timer_at == INT64_MAX ? -1 : w->timer_at);
}

static void tick(struct media_worker *w, int64_t now)
{
    struct tdm_ice_expired ex[32];
    int64_t ice_next = INT64_MAX;
    size_t n;
    do {
        n = tdm_ice_tick(w->ice, now, ex, 32, &ice_next);
        for (size_t i = 0; i < n; i++) {
            struct mpeer *p = (struct mpeer *)(uintptr_t)ex[i].user;
            if (!p)
                continue;
            p->failed = true;
            p->fail_why = ex[i].reason == TDM_ICE_EXPIRED_CONNECT ? "ICE never connected"
                                                                  : "ICE consent expired";
        }
    } while (n == 32);
    mw_due(w, ice_next);
    mw_tcp_tick(w, now);
    GHashTableIter it;
    gpointer key, val;
    g_hash_table_iter_init(&it, w->rooms);
    while (g_hash_table_iter_next(&it, &key, &val)) {
        struct mroom *r = val;
        mroom_tick(w, r, now);
        mw_due(w, mroom_deadline(w, r));
    }
}

static gboolean timer_dispatch(GSource *src, GSourceFunc cb, gpointer data)
{
    (void)cb;
    (void)src;
    struct media_worker *w = data;
    int64_t now = tdm_now_us();
    w->next_due = INT64_MAX;
    w->timer_at = -2; /* force re-arming */
    tick(w, now);
    mw_flush(w);
    arm(w);
    return G_SOURCE_CONTINUE;
}

/* ---- receiving ----------------------------------------------------------------------- */

void mw_on_packet(struct media_worker *w, int sock, struct mw_tcp *tcp, const struct tdm_addr *from,
                  uint8_t *p, size_t len, int64_t now)
{
    enum tdm_demux_kind k = tdm_demux_classify(p, len);
    if (k == TDM_DEMUX_DROP)
        return;
    if (k == TDM_DEMUX_STUN) {
        mpeer_on_stun(w, sock, tcp, from, p, len, now);
        return;
    }
    uint64_t sid, user;
    if (tdm_ice_lookup_addr(w->ice, from, &sid, &user) != 0)
        return; /* RFC 8445 §11: only from addresses that passed a connectivity check */
    struct mpeer *peer = (struct mpeer *)(uintptr_t)user;
    if (k == TDM_DEMUX_DTLS)
        mpeer_on_dtls(w, peer, sock, tcp, from, p, len, now);
    else if (!peer->srtp)
        return;
    else if (k == TDM_DEMUX_RTP)
        mw_on_rtp(w, peer, p, len, now);
    else
        mw_on_rtcp(w, peer, p, len, now);
}

static gboolean on_readable(gint fd, GIOCondition cond, gpointer data)
{
    struct mw_sock *s = data;
    struct media_worker *w = s->w;
    int sock = (int)(s - w->socks);
    (void)cond;
    for (int round = 0; round < MW_RX_ROUNDS; round++) {
        for (unsigned i = 0; i < MW_RX_BATCH; i++) {
            w->rx_msgs[i].msg_hdr.msg_namelen = sizeof w->rx_from[i];
            w->rx_msgs[i].msg_hdr.msg_flags = 0;
            w->rx_msgs[i].msg_len = 0;
        }
        int n = recvmmsg(fd, w->rx_msgs, MW_RX_BATCH, MSG_DONTWAIT, NULL);
        if (n <= 0)
            break;
        int64_t now = tdm_now_us();
        for (int i = 0; i < n; i++) {
            struct mmsghdr *m = &w->rx_msgs[i];
            if (m->msg_hdr.msg_flags & MSG_TRUNC)
                continue;
            struct tdm_addr from;
            if (tdm_addr_from_sockaddr(&from, (const struct sockaddr *)&w->rx_from[i],
                                       m->msg_hdr.msg_namelen) == 0)
                mw_on_packet(w, sock, NULL, &from, w->rx_buf[i], m->msg_len, now);
        }
        mw_flush(w);
        if (n < MW_RX_BATCH)
            break;
    }
    arm(w);
    return G_SOURCE_CONTINUE;
}

/* ---- commands ------------------------------------------------------------------------ */

void mw_handle_cmd(struct media_worker *w, struct tdm_media_cmd *c)
{
    struct mroom *r;
    struct mpart *p;
    switch (c->kind) {
    case TDM_MEDIA_CMD_JOIN:
        r = mroom_get(w, c->room, true);
        if (r && !mpart_find(r, c->pid))
            mpart_add(w, r, c->pid);
        break;
    case TDM_MEDIA_CMD_LEAVE:
        r = mroom_get(w, c->room, false);
        p = r ? mpart_find(r, c->pid) : NULL;
        if (p)
            mpart_remove(w, p);
        if (r && r->n_parts == 0)
            mroom_free(w, r);
        break;
    case TDM_MEDIA_CMD_PUB_OFFER: mw_on_pub_offer(w, c); break;
    case TDM_MEDIA_CMD_SUB_ANSWER: mw_on_sub_answer(w, c); break;
    case TDM_MEDIA_CMD_BLOCK:
        r = mroom_get(w, c->room, false);
        p = r ? mpart_find(r, c->pid) : NULL;
        if (p)
            mpart_block(w, p, c->block_audio, c->block_video);
        break;
    case TDM_MEDIA_CMD_RECEIVE:
        r = mroom_get(w, c->room, false);
        p = r ? mpart_find(r, c->pid) : NULL;
        if (p)
            mpart_receive_video(w, p, c->receive_video);
        break;
    }
    mw_flush(w);
    arm(w);
}

/* ---- life cycle ---------------------------------------------------------------------- */

static int open_socket(struct media_worker *w, const struct tdm_addr *addr)
{
    struct tdm_addr a = *addr;
    a.port = (uint16_t)(w->media->port_base + w->index);
    struct sockaddr_storage ss;
    socklen_t sl;
    if (tdm_addr_to_sockaddr(&a, &ss, &sl) != 0)
        return TDM_EINVAL;
    int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return TDM_EIO;
    int one = 1, buf = MW_SOCK_BUF;
    if (ss.ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
    if (bind(fd, (struct sockaddr *)&ss, sl) != 0) {
        int e = errno;
        close(fd);
        TDM_WARN("media: worker %u cannot use UDP port %u (%s)", w->index, a.port, strerror(e));
        return TDM_EIO;
    }
    struct mw_sock *s = &w->socks[w->n_socks++];
    s->fd = fd;
    s->local = a;
    s->w = w;
    s->tcp_fd = -1;
    if (w->media->ice_tcp)
        mw_tcp_listen(w, s);
    s->src = g_unix_fd_source_new(fd, G_IO_IN);
    g_source_set_priority(s->src, G_PRIORITY_DEFAULT);
    g_source_set_callback(s->src, (GSourceFunc)(void (*)(void))on_readable, s, NULL);
    g_source_attach(s->src, w->ctx);
    return 0;
}

static GSourceFuncs timer_funcs = {NULL, NULL, timer_dispatch, NULL, NULL, NULL};

int mw_create(struct tdm_media *m, unsigned index, struct media_worker **out)
{
    struct media_worker *w = calloc(1, sizeof *w);
    if (!w)
        return TDM_ENOMEM;
    w->media = m;
    w->index = index;
    w->next_key = 1;
    w->timer_at = w->next_due = INT64_MAX;
    w->ctx = g_main_context_new();
    w->loop = g_main_loop_new(w->ctx, FALSE);
    w->rooms = g_hash_table_new(g_str_hash, g_str_equal);
    w->ice = tdm_ice_table_create(m->max_sessions);
    if (w->ice)
        tdm_ice_table_set_timeouts(w->ice, m->ice_timeout_us, m->consent_timeout_us);
    w->rx_buf = malloc(MW_RX_BATCH * sizeof *w->rx_buf);
    w->tx = malloc(MW_TX_BATCH * sizeof *w->tx);
    if (!w->ice || !w->rx_buf || !w->tx) {
        mw_destroy(w);
        return TDM_ENOMEM;
    }
    for (unsigned i = 0; i < MW_RX_BATCH; i++) {
        w->rx_iov[i] = (struct iovec){.iov_base = w->rx_buf[i], .iov_len = MW_RX_BUF};
        w->rx_msgs[i].msg_hdr.msg_name = &w->rx_from[i];
        w->rx_msgs[i].msg_hdr.msg_iov = &w->rx_iov[i];
        w->rx_msgs[i].msg_hdr.msg_iovlen = 1;
    }
    for (unsigned i = 0; i < m->n_addrs; i++)
        open_socket(w, &m->addrs[i]);
    w->timer = g_source_new(&timer_funcs, sizeof(GSource));
    g_source_set_priority(w->timer, G_PRIORITY_DEFAULT);
    g_source_set_callback(w->timer, NULL, w, NULL);
    g_source_attach(w->timer, w->ctx);
    *out = w;
    return 0;
}

static gpointer thread_main(gpointer data)
{
    struct media_worker *w = data;
    g_main_context_push_thread_default(w->ctx);
    tdm_mx_worker_thread_started(w->index);
    g_main_loop_run(w->loop);
    tdm_mx_worker_thread_stopped(w->index);
    /* Free what the worker owns while still on its thread (libsrtp and OpenSSL objects
     * have one owner thread). */
    w->tearing_down = true;
    GHashTableIter it;
    gpointer key, val;
    g_hash_table_iter_init(&it, w->rooms);
    while (g_hash_table_iter_next(&it, &key, &val)) {
        g_hash_table_iter_steal(&it);
        mroom_free(w, val);
    }
    g_main_context_pop_thread_default(w->ctx);
    TDM_INFO(
        "media w%u: RTP in %llu, out %llu; NACKed %llu, resent %llu, keyframe requests "
        "%llu; sends dropped %llu; resends over budget %llu; NACKs for packets not held "
        "%llu; forward errors %llu; connections refused while busy %llu; invalid DTLS datagrams "
        "%llu",
        w->index, (unsigned long long)w->rtp_in, (unsigned long long)w->rtp_out,
        (unsigned long long)w->nacks_out, (unsigned long long)w->resent,
        (unsigned long long)w->plis_out, (unsigned long long)w->dropped_tx,
        (unsigned long long)w->resend_skipped, (unsigned long long)w->nack_missed,
        (unsigned long long)w->fwd_errors, (unsigned long long)w->refused_pending,
        (unsigned long long)w->dtls_dropped);
    OPENSSL_thread_stop();
    return NULL;
}

int mw_start(struct media_worker *w)
{
    char name[16];
    snprintf(name, sizeof name, "media%u", w->index);
    w->thread = g_thread_try_new(name, thread_main, w, NULL);
    return w->thread ? 0 : TDM_ENOMEM;
}

static gboolean quit_cb(gpointer data)
{
    struct media_worker *w = data;
    g_main_loop_quit(w->loop);
    return G_SOURCE_REMOVE;
}

void mw_quit(struct media_worker *w)
{
    if (!w->thread)
        return;
    GSource *s = g_idle_source_new();
    g_source_set_priority(s, G_PRIORITY_DEFAULT);
    g_source_set_callback(s, quit_cb, w, NULL);
    g_source_attach(s, w->ctx);
    g_source_unref(s);
    g_thread_join(w->thread);
    w->thread = NULL;
}

void mw_destroy(struct media_worker *w)
{
    if (!w)
        return;
    mw_tcp_close_all(w);
    for (unsigned i = 0; i < w->n_socks; i++) {
        g_source_destroy(w->socks[i].src);
        g_source_unref(w->socks[i].src);
        close(w->socks[i].fd);
        if (w->socks[i].tcp_src) {
            g_source_destroy(w->socks[i].tcp_src);
            g_source_unref(w->socks[i].tcp_src);
        }
        if (w->socks[i].tcp_fd >= 0)
            close(w->socks[i].tcp_fd);
    }
    if (w->timer) {
        g_source_destroy(w->timer);
        g_source_unref(w->timer);
    }
    /* Commands still queued are freed by their sources' destroy notifiers here. */
    g_main_loop_unref(w->loop);
    g_main_context_unref(w->ctx);
    g_hash_table_destroy(w->rooms);
    tdm_ice_table_destroy(w->ice);
    tdm_sdp_free(w->sdp_a);
    tdm_sdp_free(w->sdp_b);
    free(w->nego);
    free(w->sdp_text);
    free(w->tracks);
    free(w->rx_buf);
    free(w->tx);
    free(w->tcp_stage);
    free(w);
}
