#define _GNU_SOURCE /* accept4 */
#include "gate.h"
#include "app.h"

#include "tandem/err.h"
#include "tandem/keycount.h"
#include "tandem/tlshello.h"
#include "tandem/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <glib-unix.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define SWEEP_MS 100        /* deadlines are seconds: a tenth of one is precise enough */
#define ACCEPTS_PER_WAKE 64 /* then the loop serves everyone else before accepting more */
#define ACCEPT_PAUSE_MS 100 /* out of descriptors: wait this long before accepting again */

enum stage { STAGE_FREE, STAGE_HELLO, STAGE_SHAKE };

/* One connection the gate is holding. HELLO: the gate owns fd. SHAKE: lws owns the socket
 * (wsi), and wsi's opaque user data points here until it is released. */
struct entry {
    struct tdm_gate *g;
    enum stage stage;
    int fd;
    struct lws *wsi;
    uint64_t key;  /* salted hash of the peer address */
    int64_t since; /* when it entered its stage (monotonic us): each list is in this order */
    guint watch;   /* HELLO: readable watch; 0 while parked until the next sweep */
    int lowat;     /* SO_RCVLOWAT set on the socket, 0: the default */
    struct entry *prev, *next;
};

struct list {
    struct entry *head, *tail;
    uint32_t n;
};

struct tdm_gate {
    struct tdm_app *app;
    int listen_fd;
    guint listen_watch, resume_source, sweep_source;
    struct entry *entries; /* max_new_connections + max_handshakes, made once */
    struct entry *free_list;
    struct list hello, shake;
    struct tdm_keycount *hello_per_addr, *shake_per_addr;
    uint64_t refused, evicted, timed_out, not_tls;
    struct tdm_log_limiter log;
};

static void list_push(struct list *l, struct entry *e)
{
    e->next = NULL;
    e->prev = l->tail;
    if (l->tail)
        l->tail->next = e;
    else
        l->head = e;
    l->tail = e;
    l->n++;
}

static void list_remove(struct list *l, struct entry *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        l->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        l->tail = e->prev;
    e->prev = e->next = NULL;
    l->n--;
}

static void entry_put(struct tdm_gate *g, struct entry *e)
{
    e->stage = STAGE_FREE;
    e->fd = -1;
    e->wsi = NULL;
    e->watch = 0;
    e->next = g->free_list;
    g->free_list = e;
}

/* A salted SHA-256 of the address bytes (IPv4-mapped IPv6 as IPv4): counts per address
 * without keeping any address. */
static uint64_t addr_key(const struct tdm_app *app, const struct sockaddr_storage *ss)
{
    uint8_t buf[16 + 16], md[32];
    size_t n = 0;
    memcpy(buf, app->addr_salt, 16);
    if (ss->ss_family == AF_INET) {
        memcpy(buf + 16, &((const struct sockaddr_in *)ss)->sin_addr, 4);
        n = 4;
    } else if (ss->ss_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)ss)->sin6_addr;
        n = IN6_IS_ADDR_V4MAPPED(a) ? 4 : 16;
        memcpy(buf + 16, a->s6_addr + 16 - n, n);
    }
    unsigned int mdlen = 0;
    EVP_Digest(buf, 16 + n, md, &mdlen, EVP_sha256(), NULL);
    OPENSSL_cleanse(buf, sizeof buf);
    uint64_t k;
    memcpy(&k, md, sizeof k);
    return k;
}

static void note(struct tdm_gate *g, const char *what)
{
    tdm_log_limited(&g->log, 1, tdm_now_us(), TDM_LOG_INFO,
                    "gate: %s (so far: %llu refused over a per-address cap, %llu closed to make "
                    "room, %llu timed out, %llu not TLS)",
                    what, (unsigned long long)g->refused, (unsigned long long)g->evicted,
                    (unsigned long long)g->timed_out, (unsigned long long)g->not_tls);
}

static void hello_drop(struct tdm_gate *g, struct entry *e)
{
    if (e->watch)
        g_source_remove(e->watch);
    close(e->fd);
    tdm_keycount_dec(g->hello_per_addr, e->key);
    list_remove(&g->hello, e);
    entry_put(g, e);
}

static void shake_release(struct tdm_gate *g, struct entry *e)
{
    if (e->wsi)
        lws_set_opaque_user_data(e->wsi, NULL);
    tdm_keycount_dec(g->shake_per_addr, e->key);
    list_remove(&g->shake, e);
    entry_put(g, e);
}

/* Closes it now (never called from inside an lws callback), so that its header buffer is
 * free before the next connection is handed over. */
static void shake_kill(struct tdm_gate *g, struct entry *e)
{
    struct lws *wsi = e->wsi;
    shake_release(g, e); /* first: the close's WSI_DESTROY then finds nothing to forget */
    if (wsi)
        lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_SYNC);
}

/* The oldest handshake of the address holding the most; *most is set to that count. */
static struct entry *shake_heaviest(struct tdm_gate *g, uint32_t *most)
{
    struct entry *best = g->shake.head;
    *most = 0;
    for (struct entry *e = g->shake.head; e; e = e->next) {
        uint32_t n = tdm_keycount_get(g->shake_per_addr, e->key);
        if (n > *most) {
            *most = n;
            best = e;
        }
    }
    return best;
}

/* All handshakes are taken: makes room for one from key, or returns false to refuse it.
 * Room is made only where that evens out the addresses (the newcomer's, with it, still
 * holds fewer than the busiest one): a flood from a few addresses then cannot push out a
 * real client's handshake, and its own newcomers are closed before any TLS work instead of
 * costing an ECDHE handshake each. When every address holds one, the oldest goes. */
static bool shake_make_room(struct tdm_gate *g, uint64_t key)
{
    uint32_t most, mine = tdm_keycount_get(g->shake_per_addr, key); /* the newcomer included */
    struct entry *victim = shake_heaviest(g, &most);
    if (most <= 1)
        victim = g->shake.head;
    else if (mine + 1 > most)
        return false;
    g->evicted++;
    shake_kill(g, victim);
    return true;
}

static void hand_over(struct tdm_gate *g, struct entry *e)
{
    int fd = e->fd, one = 1;
    uint64_t key = e->key;
    /* back to the defaults lws expects: wake on every byte, no Nagle delay */
    if (e->lowat)
        setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &one, sizeof one);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    e->watch = 0;
    tdm_keycount_dec(g->hello_per_addr, key);
    list_remove(&g->hello, e);
    const struct tdm_limits *lim = &g->app->cfg.limits;
    bool counted = tdm_keycount_inc(g->shake_per_addr, key, lim->max_handshakes_per_address) > 0;
    if (!counted || (g->shake.n >= lim->max_handshakes && !shake_make_room(g, key))) {
        if (counted)
            tdm_keycount_dec(g->shake_per_addr, key);
        close(fd);
        entry_put(g, e);
        g->refused++;
        note(g, "a connection refused: too many TLS handshakes from its address");
        return;
    }
    e->stage = STAGE_SHAKE;
    e->fd = -1;
    e->since = tdm_now_us();
    list_push(&g->shake, e);
    lws_adopt_desc_t d;
    memset(&d, 0, sizeof d);
    d.vh = g->app->vhost;
    d.type = LWS_ADOPT_SOCKET | LWS_ADOPT_HTTP | LWS_ADOPT_ALLOW_SSL;
    d.fd.sockfd = fd;
    d.opaque = e;
    /* lws runs SSL_accept on the waiting ClientHello at once; a failure destroys the wsi
     * (tdm_gate_forget releases e) or returns before it had one (released here). Either way
     * lws has closed fd. */
    struct lws *wsi = lws_adopt_descriptor_vhost_via_info(&d);
    if (e->stage == STAGE_SHAKE && !e->wsi) {
        if (wsi)
            e->wsi = wsi;
        else
            shake_release(g, e);
    }
}

static gboolean on_hello(gint fd, GIOCondition cond, gpointer data)
{
    (void)cond;
    struct entry *e = data;
    struct tdm_gate *g = e->g;
    static uint8_t buf[TDM_TLSHELLO_MAX]; /* control thread only */
    ssize_t n = recv(fd, buf, sizeof buf, MSG_PEEK);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return G_SOURCE_CONTINUE;
    int need = n > 0 ? tdm_tlshello_check(buf, (size_t)n) : TDM_EIO;
    if (need > 0 && e->lowat != need) {
        /* Wake again only once the whole record is there (a trickle wakes nobody). */
        e->lowat = need;
        setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &need, sizeof need);
        return G_SOURCE_CONTINUE;
    }
    e->watch = 0; /* this source ends with this call */
    if (need == 0) {
        hand_over(g, e);
    } else if (need < 0) {
        if (need == TDM_EINVAL) {
            g->not_tls++;
            note(g, "a connection that did not start with a TLS ClientHello closed");
        }
        hello_drop(g, e);
    }
    /* else readable below the low-water mark (the kernel may cap it): look again at the
     * next sweep rather than spin. */
    return G_SOURCE_REMOVE;
}

static void admit(struct tdm_gate *g, int fd, const struct sockaddr_storage *ss)
{
    const struct tdm_limits *lim = &g->app->cfg.limits;
    if (g->app->shutting_down) {
        close(fd);
        return;
    }
    /* Oldest first: a real client sends its ClientHello within a round trip of connecting,
     * so a flood of new sockets pushes out sockets that stay silent, not it. */
    if (g->hello.n >= lim->max_new_connections) {
        g->evicted++;
        hello_drop(g, g->hello.head);
    }
    uint64_t key = addr_key(g->app, ss);
    if (tdm_keycount_inc(g->hello_per_addr, key, lim->max_new_connections_per_address) < 0) {
        close(fd);
        g->refused++;
        note(g, "a connection refused: too many new connections from one address");
        return;
    }
    struct entry *e = g->free_list;
    g->free_list = e->next;
    *e = (struct entry){.g = g, .stage = STAGE_HELLO, .fd = fd, .key = key, .since = tdm_now_us()};
    e->watch = g_unix_fd_add(fd, G_IO_IN, on_hello, e);
    list_push(&g->hello, e);
}

static gboolean on_resume(gpointer data);

/* Out of descriptors (EMFILE and friends): the listening socket stays readable, so stop
 * watching it for a moment instead of spinning, and free the oldest silent sockets so that
 * the connections queued behind them get their turn. */
static void pause_accepting(struct tdm_gate *g)
{
    int err = errno;
    g->listen_watch = 0; /* on_listen returns G_SOURCE_REMOVE */
    if (!g->resume_source)
        g->resume_source = g_timeout_add(ACCEPT_PAUSE_MS, on_resume, g);
    for (int i = 0; i < ACCEPTS_PER_WAKE && g->hello.head; i++) {
        g->evicted++;
        hello_drop(g, g->hello.head);
    }
    tdm_log_limited(&g->log, 5, tdm_now_us(), TDM_LOG_WARN,
                    "gate: out of file descriptors (%s): not accepting for %d ms (raise the "
                    "open-files limit, or lower limits.max_new_connections)",
                    strerror(err), ACCEPT_PAUSE_MS);
}

static gboolean on_listen(gint lfd, GIOCondition cond, gpointer data)
{
    (void)cond;
    struct tdm_gate *g = data;
    for (int i = 0; i < ACCEPTS_PER_WAKE; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        int fd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            admit(g, fd, &ss);
            continue;
        }
        if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
            continue;
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
            pause_accepting(g);
            return G_SOURCE_REMOVE;
        }
        break; /* EAGAIN: drained */
    }
    return G_SOURCE_CONTINUE;
}

static gboolean on_resume(gpointer data)
{
    struct tdm_gate *g = data;
    g->resume_source = 0;
    g->listen_watch = g_unix_fd_add(g->listen_fd, G_IO_IN, on_listen, g);
    return G_SOURCE_REMOVE;
}

static gboolean on_sweep(gpointer data)
{
    struct tdm_gate *g = data;
    const struct tdm_limits *lim = &g->app->cfg.limits;
    int64_t now = tdm_now_us();
    while (g->hello.head && now - g->hello.head->since >= (int64_t)lim->hello_timeout_s * 1000000) {
        g->timed_out++;
        hello_drop(g, g->hello.head);
    }
    for (struct entry *e = g->hello.head; e; e = e->next)
        if (!e->watch)
            e->watch = g_unix_fd_add(e->fd, G_IO_IN, on_hello, e);
    while (g->shake.head &&
           now - g->shake.head->since >= (int64_t)lim->handshake_timeout_s * 1000000) {
        g->timed_out++;
        shake_kill(g, g->shake.head);
    }
    return G_SOURCE_CONTINUE;
}

/* cfg.listen, or every address: IPv6 with IPv4-mapped addresses, else IPv4 alone. */
static int open_listener(const struct tdm_config *cfg, int *port)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
    if (!cfg->listen[0] || inet_pton(AF_INET6, cfg->listen, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)cfg->port);
        sl = sizeof *v6;
    } else if (inet_pton(AF_INET, cfg->listen, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)cfg->port);
        sl = sizeof *v4;
    } else {
        return -1;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 && !cfg->listen[0]) { /* no IPv6 on this machine */
        memset(&ss, 0, sizeof ss);
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)cfg->port);
        sl = sizeof *v4;
        fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    }
    if (fd < 0)
        return -1;
    int one = 1, zero = 0;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (ss.ss_family == AF_INET6 && !cfg->listen[0])
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
    /* the whole backlog the kernel allows: a flood of SYNs must not crowd out a real one
     * while the loop drains it */
    if (bind(fd, (struct sockaddr *)&ss, sl) != 0 || listen(fd, SOMAXCONN) != 0) {
        close(fd);
        return -1;
    }
    sl = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0) {
        close(fd);
        return -1;
    }
    *port = ntohs(ss.ss_family == AF_INET6 ? v6->sin6_port : v4->sin_port);
    return fd;
}

int tdm_gate_start(struct tdm_app *app, int *port)
{
    const struct tdm_limits *lim = &app->cfg.limits;
    struct tdm_gate *g = calloc(1, sizeof *g);
    if (g)
        g->listen_fd = -1;
    size_t n = (size_t)lim->max_new_connections + lim->max_handshakes;
    if (!g || !(g->entries = calloc(n, sizeof *g->entries)) ||
        !(g->hello_per_addr = tdm_keycount_create(lim->max_new_connections)) ||
        !(g->shake_per_addr = tdm_keycount_create((size_t)lim->max_handshakes + 1))) {
        app->gate = g;
        tdm_gate_stop(app);
        return TDM_ENOMEM;
    }
    g->app = app;
    app->gate = g;
    for (size_t i = n; i-- > 0;)
        entry_put(g, &g->entries[i]);
    g->listen_fd = open_listener(&app->cfg, port);
    if (g->listen_fd < 0) {
        TDM_ERROR("could not listen on port %u (%s)", app->cfg.port, strerror(errno));
        return TDM_EIO;
    }
    /* What the caps let connections hold at once, and a margin for the media side */
    uint64_t want = (uint64_t)n + app->cfg.limits.max_connections + 256;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want)
        TDM_WARN("the open-files limit (%llu) is below what the connection limits can use "
                 "(%llu): when it runs out, new connections wait (raise it with ulimit -n or "
                 "LimitNOFILE=, or lower limits.max_new_connections and limits.max_connections)",
                 (unsigned long long)rl.rlim_cur, (unsigned long long)want);
    g->listen_watch = g_unix_fd_add(g->listen_fd, G_IO_IN, on_listen, g);
    g->sweep_source = g_timeout_add(SWEEP_MS, on_sweep, g);
    return 0;
}

void tdm_gate_stop(struct tdm_app *app)
{
    struct tdm_gate *g = app->gate;
    if (!g)
        return;
    if (g->listen_watch)
        g_source_remove(g->listen_watch);
    if (g->resume_source)
        g_source_remove(g->resume_source);
    if (g->sweep_source)
        g_source_remove(g->sweep_source);
    if (g->listen_fd >= 0)
        close(g->listen_fd);
    while (g->hello.head)
        hello_drop(g, g->hello.head);
    while (g->shake.head) { /* lws is gone by now (each close released its entry) */
        g->shake.head->wsi = NULL;
        shake_release(g, g->shake.head);
    }
    tdm_keycount_destroy(g->hello_per_addr);
    tdm_keycount_destroy(g->shake_per_addr);
    free(g->entries);
    free(g);
    app->gate = NULL;
}

void tdm_gate_requested(struct tdm_app *app, struct lws *wsi)
{
    struct entry *e = lws_get_opaque_user_data(wsi);
    if (app->gate && e && e->stage == STAGE_SHAKE)
        shake_release(app->gate, e);
}

void tdm_gate_forget(struct tdm_app *app, struct lws *wsi)
{
    struct entry *e = lws_get_opaque_user_data(wsi);
    if (app->gate && e && e->stage == STAGE_SHAKE) {
        e->wsi = NULL; /* it is going: do not touch it */
        lws_set_opaque_user_data(wsi, NULL);
        shake_release(app->gate, e);
    }
}

void tdm_gate_stats(const struct tdm_app *app, struct tdm_gate_stats *out)
{
    const struct tdm_gate *g = app->gate;
    *out = (struct tdm_gate_stats){0};
    if (!g)
        return;
    *out = (struct tdm_gate_stats){.waiting_hello = g->hello.n,
                                   .handshaking = g->shake.n,
                                   .refused = g->refused,
                                   .evicted = g->evicted,
                                   .timed_out = g->timed_out,
                                   .not_tls = g->not_tls};
}
