/* Passive ICE-TCP (RFC 6544): per media address a TCP listener on the worker's port, the
 * accepted connections, and RFC 4571 framing (a 16-bit length before each packet). Frames go
 * through the same path as UDP datagrams (into the SFU core) with the connection's address, of
 * transport TCP, as the source; what a peer reached over TCP is sent back on its connection.
 * Frames go up through w->on_frame and w->after_input (set by media_worker.c), the only
 * calls this file makes upwards.
 * A connection that passes no connectivity check within MW_TCP_AUTH_US, or receives nothing
 * for MW_TCP_IDLE_US, is closed. Sends are queued in a bounded ring per connection; a frame
 * that does not fit is dropped, as a congested UDP path would drop it. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "media_worker.h"

#include "tandem/err.h"
#include "tandem/util.h"

#include <errno.h>
#include <glib-unix.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MW_TCP_TX_CAP (256 * 1024) /* bytes queued per ICE-TCP connection before dropping */
#define MW_TCP_AUTH_US 10000000    /* a connection must pass a check within 10 s */
#define MW_TCP_IDLE_US 60000000    /* and is closed after 60 s without anything received */
#define TCP_STAGE 65536
#define TCP_BACKLOG 64

/* A GSource of our own for a connection, so that G_IO_OUT can be watched only while
 * something waits to be written (g_unix_fd_source_new cannot change its condition). */
struct conn_source {
    GSource src;
    struct mw_tcp *c;
    gpointer tag;
};

/* One accepted ICE-TCP connection (RFC 6544 passive side), framed as RFC 4571: a 16-bit
 * length before each STUN, DTLS, RTP or RTCP packet. */
struct mw_tcp {
    struct media_worker *w;
    struct mw_tcp *prev, *next;
    uint64_t id; /* the core's name for this path (struct tdm_sfu_path.tcp) */
    int fd;
    int sock;               /* index of the listening address */
    struct tdm_addr remote; /* transport TCP */
    GSource *src;
    bool want_out;
    bool authed; /* a connectivity check on it was valid */
    bool dead;   /* closed at the end of the current dispatch or at the next tick */
    int64_t since_us, last_rx_us;
    uint8_t hdr[2];
    size_t hdr_have, frame_len, frame_have;
    uint8_t rx[TDM_SFU_RX_MAX];
    uint8_t *tx; /* ring of MW_TCP_TX_CAP */
    size_t tx_head, tx_len;
};

static gboolean conn_dispatch(GSource *src, GSourceFunc cb, gpointer data);
static GSourceFuncs conn_funcs = {NULL, NULL, conn_dispatch, NULL, NULL, NULL};

static void unlink_conn(struct media_worker *w, struct mw_tcp *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        w->tcps = c->next;
    if (c->next)
        c->next->prev = c->prev;
    w->n_tcps--;
}

/* The worker's timer fires by t at the latest (media_worker.c arms it at w->tcp_due too). */
static void wake_at(struct media_worker *w, int64_t t)
{
    if (t < w->tcp_due)
        w->tcp_due = t;
    if (t < w->timer_at && w->timer) {
        w->timer_at = t;
        g_source_set_ready_time(w->timer, t);
    }
}

static void close_conn(struct media_worker *w, struct mw_tcp *c)
{
    /* Connections that sent over c lose their destination; a new check (on another pair)
     * gives them one again, else consent expires and they are released. */
    if (w->sfu)
        tdm_sfu_handle_path_closed(w->sfu, c->id);
    unlink_conn(w, c);
    if (c->src) {
        g_source_destroy(c->src);
        g_source_unref(c->src);
    }
    close(c->fd);
    free(c->tx);
    free(c);
}

static void watch(struct mw_tcp *c, bool out)
{
    if (c->want_out == out || !c->src)
        return;
    c->want_out = out;
    struct conn_source *cs = (struct conn_source *)c->src;
    g_source_modify_unix_fd(c->src, cs->tag, G_IO_IN | G_IO_HUP | G_IO_ERR | (out ? G_IO_OUT : 0));
}

/* Write what the ring holds; keep the rest for G_IO_OUT. */
static void pump(struct mw_tcp *c)
{
    while (c->tx_len && !c->dead) {
        size_t first = MW_TCP_TX_CAP - c->tx_head;
        size_t n = c->tx_len < first ? c->tx_len : first;
        ssize_t r = send(c->fd, c->tx + c->tx_head, n, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            break;
        if (r <= 0) {
            c->dead = true;
            wake_at(c->w, 0);
            break;
        }
        c->tx_head = (c->tx_head + (size_t)r) % MW_TCP_TX_CAP;
        c->tx_len -= (size_t)r;
    }
    if (!c->dead)
        watch(c, c->tx_len > 0);
}

static void ring_put(struct mw_tcp *c, const uint8_t *p, size_t len)
{
    size_t tail = (c->tx_head + c->tx_len) % MW_TCP_TX_CAP;
    size_t first = MW_TCP_TX_CAP - tail;
    if (first > len)
        first = len;
    memcpy(c->tx + tail, p, first);
    memcpy(c->tx, p + first, len - first);
    c->tx_len += len;
}

static struct mw_tcp *find(struct media_worker *w, uint64_t id, const struct tdm_addr *remote)
{
    for (struct mw_tcp *c = w->tcps; id && c; c = c->next)
        if (c->id == id)
            return c->dead ? NULL : c;
    for (struct mw_tcp *c = w->tcps; c; c = c->next)
        if (!c->dead && tdm_addr_equal(&c->remote, remote))
            return c;
    return NULL;
}

void mw_tcp_send(struct media_worker *w, uint64_t id, const struct tdm_addr *remote,
                 const uint8_t *p, size_t len)
{
    struct mw_tcp *c = find(w, id, remote);
    if (!c) {
        w->dropped_tx++;
        return;
    }
    if (c->dead || len > 65535 || c->tx_len + 2 + len > MW_TCP_TX_CAP) {
        c->w->dropped_tx++;
        return;
    }
    uint8_t hdr[2] = {(uint8_t)(len >> 8), (uint8_t)len};
    ring_put(c, hdr, 2);
    ring_put(c, p, len);
    pump(c);
}

/* RFC 4571: consume bytes into the length header and the frame; each whole frame is one
 * packet. A frame longer than our buffer is read and thrown away. */
static void consume(struct mw_tcp *c, const uint8_t *p, size_t n, int64_t now)
{
    while (n && !c->dead) {
        if (c->hdr_have < 2) {
            c->hdr[c->hdr_have++] = *p++;
            n--;
            if (c->hdr_have == 2) {
                c->frame_len = (size_t)c->hdr[0] << 8 | c->hdr[1];
                c->frame_have = 0;
            }
        } else {
            size_t want = c->frame_len - c->frame_have;
            size_t take = n < want ? n : want;
            if (c->frame_len <= sizeof c->rx)
                memcpy(c->rx + c->frame_have, p, take);
            c->frame_have += take;
            p += take;
            n -= take;
        }
        if (c->hdr_have == 2 && c->frame_have == c->frame_len) {
            c->hdr_have = 0;
            if (c->frame_len && c->frame_len <= sizeof c->rx &&
                (c->w->on_frame(c->w, c->sock, c->id, &c->remote, c->rx, c->frame_len, now) &
                 TDM_SFU_RX_CHECKED))
                c->authed = true;
        }
    }
}

static gboolean conn_dispatch(GSource *src, GSourceFunc cb, gpointer data)
{
    (void)cb;
    (void)data;
    struct conn_source *cs = (struct conn_source *)src;
    struct mw_tcp *c = cs->c;
    struct media_worker *w = c->w;
    GIOCondition cond = g_source_query_unix_fd(src, cs->tag);
    if (cond & G_IO_OUT)
        pump(c);
    for (int round = 0; (cond & (G_IO_IN | G_IO_HUP | G_IO_ERR)) && round < 8 && !c->dead;
         round++) {
        ssize_t r = recv(c->fd, w->tcp_stage, TCP_STAGE, MSG_DONTWAIT);
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            break;
        if (r <= 0) {
            c->dead = true;
            break;
        }
        int64_t now = tdm_now_us();
        c->last_rx_us = now;
        consume(c, w->tcp_stage, (size_t)r, now);
    }
    w->after_input(w);
    /* Deferred close: only now that this connection's own dispatch is over. GLib holds its
     * own reference to the source while dispatching, so destroying it here is safe. */
    if (c->dead)
        close_conn(w, c);
    return G_SOURCE_CONTINUE;
}

static void accept_one(struct media_worker *w, struct mw_sock *s, int fd,
                       const struct sockaddr_storage *ss, socklen_t sl)
{
    struct mw_tcp *c = NULL;
    struct tdm_addr remote;
    if (w->n_tcps >= w->media->sfu.max_sessions ||
        tdm_addr_from_sockaddr(&remote, (const struct sockaddr *)ss, sl) != 0 ||
        !(c = calloc(1, sizeof *c)) || !(c->tx = malloc(MW_TCP_TX_CAP))) {
        if (c)
            free(c);
        close(fd);
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    remote.transport = TDM_ADDR_TCP;
    c->w = w;
    c->id = w->next_tcp_id++;
    c->fd = fd;
    c->sock = (int)(s - w->socks);
    c->remote = remote;
    c->since_us = c->last_rx_us = tdm_now_us();
    c->src = g_source_new(&conn_funcs, sizeof(struct conn_source));
    struct conn_source *cs = (struct conn_source *)c->src;
    cs->c = c;
    cs->tag = g_source_add_unix_fd(c->src, fd, G_IO_IN | G_IO_HUP | G_IO_ERR);
    g_source_set_priority(c->src, G_PRIORITY_DEFAULT);
    g_source_attach(c->src, w->ctx);
    c->next = w->tcps;
    if (w->tcps)
        w->tcps->prev = c;
    w->tcps = c;
    w->n_tcps++;
    wake_at(w, c->since_us + MW_TCP_AUTH_US);
}

static gboolean on_listen(gint lfd, GIOCondition cond, gpointer data)
{
    struct mw_sock *s = data;
    (void)cond;
    for (int i = 0; i < 16; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        int fd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            break;
        accept_one(s->w, s, fd, &ss, sl);
    }
    return G_SOURCE_CONTINUE;
}

int mw_tcp_listen(struct media_worker *w, struct mw_sock *s)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    if (tdm_addr_to_sockaddr(&s->local, &ss, &sl) != 0)
        return TDM_EINVAL;
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return TDM_EIO;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (ss.ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&ss, sl) != 0 || listen(fd, TCP_BACKLOG) != 0) {
        int e = errno;
        close(fd);
        TDM_WARN("media: worker %u cannot use TCP port %u for ICE-TCP (%s)", w->index,
                 s->local.port, strerror(e));
        return TDM_EIO;
    }
    if (!w->tcp_stage && !(w->tcp_stage = malloc(TCP_STAGE))) {
        close(fd);
        return TDM_ENOMEM;
    }
    s->tcp_fd = fd;
    s->tcp_src = g_unix_fd_source_new(fd, G_IO_IN);
    g_source_set_priority(s->tcp_src, G_PRIORITY_DEFAULT);
    g_source_set_callback(s->tcp_src, (GSourceFunc)(void (*)(void))on_listen, s, NULL);
    g_source_attach(s->tcp_src, w->ctx);
    return 0;
}

void mw_tcp_tick(struct media_worker *w, int64_t now)
{
    w->tcp_due = INT64_MAX;
    struct mw_tcp *c = w->tcps;
    while (c) {
        struct mw_tcp *next = c->next;
        int64_t until = c->authed ? c->last_rx_us + MW_TCP_IDLE_US : c->since_us + MW_TCP_AUTH_US;
        if (c->dead || until <= now)
            close_conn(w, c);
        else if (until < w->tcp_due)
            w->tcp_due = until;
        c = next;
    }
}

void mw_tcp_close_all(struct media_worker *w)
{
    while (w->tcps)
        close_conn(w, w->tcps);
}
