/* One media worker: its thread and GMainContext, one UDP socket per media address on port
 * media.port_base + index, batched receive (recvmmsg) and send (sendmmsg), one timer armed
 * at its SFU core's deadline, and the mailboxes: commands in from the control thread,
 * events out to it. Everything the worker knows about calls is in the core; this file moves
 * bytes and time in and out of it. Every source here runs at G_PRIORITY_DEFAULT
 * (stack-notes.md §1: a higher priority can starve the rest of the context). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "media_worker.h"
#include "metrics.h"

#include "tandem/err.h"
#include "tandem/log.h"
#include "tandem/util.h"

#include <errno.h>
#include <glib-unix.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MW_RX_ROUNDS 8 /* batches per wake-up before other sources get their turn */
#define MW_SOCK_BUF (2 * 1024 * 1024)
#define MW_TX_LOW 256 /* drain the core's queue when fewer slots than this are free */

/* ---- sending ------------------------------------------------------------------------- */

/* Consecutive datagrams for one socket go out in one sendmmsg; what the kernel refuses
 * (a full send buffer) is dropped and counted, as a congested link would. */
static void send_batch(struct media_worker *w, int fd, unsigned n)
{
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
}

static void flush(struct media_worker *w)
{
    size_t n;
    struct tdm_sfu_transmit *tx = tdm_sfu_transmits(w->sfu, &n);
    unsigned batch = 0;
    int batch_fd = -1;
    for (size_t i = 0; i < n; i++) {
        struct tdm_sfu_transmit *t = &tx[i];
        if (t->to.tcp || t->to.remote.transport == TDM_ADDR_TCP) {
            mw_tcp_send(w, t->to.tcp, &t->to.remote, t->buf, t->len);
            continue;
        }
        if (t->to.sock < 0 || (unsigned)t->to.sock >= w->n_socks)
            continue;
        int fd = w->socks[t->to.sock].fd;
        if (batch && (fd != batch_fd || batch == MW_TX_BATCH)) {
            send_batch(w, batch_fd, batch);
            batch = 0;
        }
        socklen_t sl;
        if (tdm_addr_to_sockaddr(&t->to.remote, &w->tx_addr[batch], &sl) != 0)
            continue;
        batch_fd = fd;
        w->tx_iov[batch] = (struct iovec){.iov_base = t->buf, .iov_len = t->len};
        struct msghdr *h = &w->tx_msgs[batch].msg_hdr;
        memset(h, 0, sizeof *h);
        h->msg_name = &w->tx_addr[batch];
        h->msg_namelen = sl;
        h->msg_iov = &w->tx_iov[batch];
        h->msg_iovlen = 1;
        batch++;
    }
    if (batch)
        send_batch(w, batch_fd, batch);
    tdm_sfu_transmits_done(w->sfu);
}

/* ---- events to the control thread ---------------------------------------------------- */

/* An idle source at default priority on ctx: FIFO with the other messages, never run on
 * the calling thread (see media.h). */
static void post(GMainContext *ctx, GSourceFunc fn, gpointer data, GDestroyNotify notify)
{
    GSource *s = g_idle_source_new();
    g_source_set_priority(s, G_PRIORITY_DEFAULT);
    g_source_set_callback(s, fn, data, notify);
    g_source_attach(s, ctx);
    g_source_unref(s);
}

struct event_env {
    struct tdm_media *m;
    struct tdm_sfu_event *ev;
};

static gboolean event_dispatch(gpointer data)
{
    struct event_env *e = data;
    if (!atomic_load(&e->m->stopping))
        e->m->deliver(e->m->deliver_ctx, e->ev);
    return G_SOURCE_REMOVE;
}

static void event_env_free(gpointer data)
{
    struct event_env *e = data;
    tdm_sfu_event_free(e->ev);
    atomic_fetch_sub(&e->m->events_in_flight, 1);
    free(e);
}

static void pass_events(struct media_worker *w)
{
    struct tdm_sfu_event *ev;
    while ((ev = tdm_sfu_poll_event(w->sfu))) {
        struct event_env *e = malloc(sizeof *e);
        if (!e || atomic_load(&w->media->stopping)) {
            free(e);
            tdm_sfu_event_free(ev);
            continue;
        }
        e->m = w->media;
        e->ev = ev;
        atomic_fetch_add(&w->media->events_in_flight, 1);
        post(NULL, event_dispatch, e, event_env_free);
    }
}

/* ---- timer --------------------------------------------------------------------------- */

static void arm(struct media_worker *w, int64_t due)
{
    if (w->tcp_due < due)
        due = w->tcp_due;
    if (due == w->timer_at)
        return;
    w->timer_at = due;
    /* tdm_now_us and g_get_monotonic_time both read CLOCK_MONOTONIC in microseconds. */
    g_source_set_ready_time(w->timer, due == INT64_MAX ? -1 : due);
}

/* The core's counters, copied for the metrics scrape (relaxed stores by this thread only:
 * nothing on the packet path touches an atomic). */
static void publish_counters(struct media_worker *w)
{
    struct tdm_sfu_stats st;
    struct tdm_mx_worker *x = tdm_mx_worker(w->index);
    tdm_sfu_get_stats(w->sfu, &st);
#define PUT(field, value) atomic_store_explicit(&x->field, (value), memory_order_relaxed)
    PUT(rtp_in, st.rtp_in);
    PUT(fwd_packets, st.rtp_out);
    PUT(fwd_bytes, st.fwd_bytes);
    PUT(nacks_in, st.nacks_in);
    PUT(nacks_out, st.nacks_out);
    PUT(resent, st.resent);
    PUT(plis_in, st.plis_in);
    PUT(plis_out, st.plis_out);
    PUT(loss_up_sum, st.loss_up_sum);
    PUT(loss_up_n, st.loss_up_n);
    PUT(loss_down_sum, st.loss_down_sum);
    PUT(loss_down_n, st.loss_down_n);
    PUT(refused_busy, st.refused_pending);
    PUT(peers, st.peers);
    PUT(peers_setting_up, st.pending);
    PUT(twcc_feedback, st.twcc_feedback);
    PUT(probes_sent, st.probes_sent);
    PUT(est_subs, st.est_subs);
    PUT(est_weak, st.est_weak);
    PUT(est_sum_bps, st.est_sum_bps);
    PUT(layer_switches, st.layer_switches);
    PUT(audio_only_on, st.audio_only_on);
    PUT(quality_poor, st.quality_changes[TDM_SFU_Q_POOR]);
    PUT(quality_fair, st.quality_changes[TDM_SFU_Q_FAIR]);
    PUT(now_poor, st.quality_now[TDM_SFU_Q_POOR]);
    PUT(now_fair, st.quality_now[TDM_SFU_Q_FAIR]);
    PUT(mix_rooms, st.mix_rooms);
    PUT(mix_listeners, st.mix_listeners);
    PUT(mix_packets, st.mix_packets);
    PUT(mix_frames, st.mix_frames);
    PUT(mix_frames_fec, st.mix_frames_fec);
    PUT(mix_frames_plc, st.mix_frames_plc);
    PUT(mix_frames_skipped, st.mix_frames_skipped);
    PUT(mix_delay_sum_us, st.mix_delay_sum_us);
#undef PUT
}

static void after_input(struct media_worker *w)
{
    flush(w);
    publish_counters(w);
    pass_events(w);
    arm(w, tdm_sfu_deadline(w->sfu));
}

static gboolean timer_dispatch(GSource *src, GSourceFunc cb, gpointer data)
{
    (void)cb;
    (void)src;
    struct media_worker *w = data;
    int64_t now = tdm_now_us();
    w->timer_at = -2; /* force re-arming */
    /* A time-out stops early when the core's queue is nearly full; it is then due again at
     * once, and each round drains the queue first. Bounded. */
    for (int round = 0; round < 64; round++) {
        tdm_sfu_handle_timeout(w->sfu, now);
        flush(w);
        if (tdm_sfu_deadline(w->sfu) > now)
            break;
    }
    mw_tcp_tick(w, now);
    publish_counters(w);
    pass_events(w);
    arm(w, tdm_sfu_deadline(w->sfu));
    return G_SOURCE_CONTINUE;
}

/* ---- receiving ----------------------------------------------------------------------- */

static int on_packet(struct media_worker *w, int sock, uint64_t tcp, const struct tdm_addr *from,
                     uint8_t *p, size_t len, int64_t now)
{
    struct tdm_sfu_path path = {.sock = sock, .tcp = tcp, .remote = *from};
    int flags = tdm_sfu_handle_datagram(w->sfu, &path, p, len, now);
    if (tdm_sfu_tx_room(w->sfu) < MW_TX_LOW)
        flush(w);
    return flags;
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
                on_packet(w, sock, 0, &from, w->rx_buf[i], m->msg_len, now);
        }
        flush(w);
        if (n < MW_RX_BATCH)
            break;
    }
    after_input(w);
    return G_SOURCE_CONTINUE;
}

/* ---- commands from the control thread ------------------------------------------------ */

struct cmd_env {
    struct media_worker *w;
    struct tdm_sfu_cmd *cmd;
};

static gboolean cmd_dispatch(gpointer data)
{
    struct cmd_env *e = data;
    tdm_sfu_handle_command(e->w->sfu, e->cmd, tdm_now_us());
    after_input(e->w);
    return G_SOURCE_REMOVE;
}

static void cmd_env_free(gpointer data)
{
    struct cmd_env *e = data;
    atomic_fetch_add(&tdm_mx_worker(e->w->index)->cmds_done, 1);
    tdm_sfu_cmd_free(e->cmd);
    free(e);
}

void mw_post_cmd(struct media_worker *w, struct tdm_sfu_cmd *cmd)
{
    struct cmd_env *e = malloc(sizeof *e);
    if (!e) {
        tdm_sfu_cmd_free(cmd);
        return;
    }
    e->w = w;
    e->cmd = cmd;
    atomic_fetch_add(&tdm_mx_worker(w->index)->cmds_posted, 1);
    post(w->ctx, cmd_dispatch, e, cmd_env_free);
}

/* ---- life cycle ---------------------------------------------------------------------- */

/* One UDP socket (and its ICE-TCP listener) on addr at the worker's port. With port_base 0
 * the first socket takes a free UDP port and the others follow it; TDM_EAGAIN when that port
 * is taken for TCP (the caller tries another). */
static int open_socket(struct media_worker *w, const struct tdm_addr *addr)
{
    struct tdm_addr a = *addr;
    uint32_t base = w->media->port_base;
    a.port = w->port ? w->port : base ? (uint16_t)(base + w->index) : 0;
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
    if (a.port == 0) {
        struct sockaddr_storage got;
        socklen_t gl = sizeof got;
        struct tdm_addr bound;
        if (getsockname(fd, (struct sockaddr *)&got, &gl) != 0 ||
            tdm_addr_from_sockaddr(&bound, (struct sockaddr *)&got, gl) != 0) {
            close(fd);
            return TDM_EIO;
        }
        a.port = bound.port;
    }
    struct mw_sock *s = &w->socks[w->n_socks];
    *s = (struct mw_sock){.fd = fd, .local = a, .w = w, .tcp_fd = -1};
    if (w->media->sfu.ice_tcp && mw_tcp_listen(w, s) != 0 && base == 0 && !w->port) {
        close(fd);
        return TDM_EAGAIN;
    }
    w->port = a.port;
    w->n_socks++;
    s->src = g_unix_fd_source_new(fd, G_IO_IN);
    g_source_set_priority(s->src, G_PRIORITY_DEFAULT);
    g_source_set_callback(s->src, (GSourceFunc)(void (*)(void))on_readable, s, NULL);
    g_source_attach(s->src, w->ctx);
    return 0;
}

/* The core's randomness (SSRCs, sequence numbers, report jitter): OpenSSL's generator. */
static uint32_t rand32(void *ctx)
{
    (void)ctx;
    uint32_t v = 0;
    if (RAND_bytes((unsigned char *)&v, sizeof v) != 1)
        v = (uint32_t)tdm_now_us();
    return v;
}

static int make_core(struct media_worker *w)
{
    struct tdm_sfu_config c = w->media->sfu;
    c.index = w->index;
    c.n_socks = w->n_socks;
    for (unsigned i = 0; i < w->n_socks; i++) {
        c.socks[i] = w->socks[i].local;
        c.tcp[i] = w->socks[i].tcp_fd >= 0;
    }
    c.wall_offset_us = tdm_wall_us() - tdm_now_us();
    c.rand32 = rand32;
    return tdm_sfu_create(&c, &w->sfu);
}

static GSourceFuncs timer_funcs = {NULL, NULL, timer_dispatch, NULL, NULL, NULL};

int mw_create(struct tdm_media *m, unsigned index, struct media_worker **out)
{
    struct media_worker *w = calloc(1, sizeof *w);
    if (!w)
        return TDM_ENOMEM;
    w->media = m;
    w->index = index;
    w->next_tcp_id = 1;
    w->timer_at = w->tcp_due = INT64_MAX;
    w->on_frame = on_packet;
    w->after_input = after_input;
    w->ctx = g_main_context_new();
    w->loop = g_main_loop_new(w->ctx, FALSE);
    w->rx_buf = malloc(MW_RX_BATCH * sizeof *w->rx_buf);
    if (!w->rx_buf) {
        mw_destroy(w);
        return TDM_ENOMEM;
    }
    for (unsigned i = 0; i < MW_RX_BATCH; i++) {
        w->rx_iov[i] = (struct iovec){.iov_base = w->rx_buf[i], .iov_len = TDM_SFU_RX_MAX};
        w->rx_msgs[i].msg_hdr.msg_name = &w->rx_from[i];
        w->rx_msgs[i].msg_hdr.msg_iov = &w->rx_iov[i];
        w->rx_msgs[i].msg_hdr.msg_iovlen = 1;
    }
    for (unsigned i = 0; i < m->n_addrs; i++)
        for (int tries = 0; tries < 16 && open_socket(w, &m->addrs[i]) == TDM_EAGAIN; tries++)
            ;
    int rc = make_core(w);
    if (rc != 0) {
        mw_destroy(w);
        return rc;
    }
    w->timer = g_source_new(&timer_funcs, sizeof(GSource));
    g_source_set_priority(w->timer, G_PRIORITY_DEFAULT);
    g_source_set_callback(w->timer, NULL, w, NULL);
    g_source_attach(w->timer, w->ctx);
    *out = w;
    return 0;
}

static void log_counters(const struct media_worker *w)
{
    struct tdm_sfu_stats st;
    tdm_sfu_get_stats(w->sfu, &st);
    TDM_INFO("media w%u: RTP in %llu, out %llu; NACKed %llu, resent %llu, keyframe requests "
             "%llu; sends dropped %llu; resends over budget %llu; NACKs for packets not held "
             "%llu; forward errors %llu; connections refused while busy %llu; invalid DTLS "
             "datagrams %llu",
             w->index, (unsigned long long)st.rtp_in, (unsigned long long)st.rtp_out,
             (unsigned long long)st.nacks_out, (unsigned long long)st.resent,
             (unsigned long long)st.plis_out, (unsigned long long)(w->dropped_tx + st.tx_full),
             (unsigned long long)st.resend_skipped, (unsigned long long)st.nack_missed,
             (unsigned long long)st.fwd_errors, (unsigned long long)st.refused_pending,
             (unsigned long long)st.dtls_dropped);
}

static gpointer thread_main(gpointer data)
{
    struct media_worker *w = data;
    g_main_context_push_thread_default(w->ctx);
    tdm_mx_worker_thread_started(w->index);
    g_main_loop_run(w->loop);
    tdm_mx_worker_thread_stopped(w->index);
    log_counters(w);
    /* Free what the core owns while still on this thread (libsrtp and OpenSSL objects
     * have one owner thread). */
    tdm_sfu_destroy(w->sfu);
    w->sfu = NULL;
    g_main_context_pop_thread_default(w->ctx);
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
    tdm_sfu_destroy(w->sfu); /* a worker whose thread never ran */
    free(w->rx_buf);
    free(w->tcp_stage);
    free(w);
}
