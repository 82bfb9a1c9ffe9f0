/* The media worker threads, for server/io/media*.c only. A worker is a thin adapter around
 * its SFU core: sockets (recvmmsg/sendmmsg), ICE-TCP framing, one timer armed at the core's
 * deadline, and the mailboxes. Everything named mw_* runs on the worker's own thread, except
 * mw_create/mw_start/mw_quit/mw_destroy/mw_post_cmd (control thread). Calls go one way:
 * media.c (control thread) -> media_worker.c -> media_tcp.c -> the SFU core. */
#ifndef TANDEM_IO_MEDIA_WORKER_H
#define TANDEM_IO_MEDIA_WORKER_H

#ifndef _GNU_SOURCE
#error "media*.c define _GNU_SOURCE first (recvmmsg/sendmmsg)"
#endif

#include <glib.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "media.h"

#include "tandem/addr.h"
#include "tandem/cert.h"
#include "tandem/sfu.h"

#define MW_RX_BATCH 32
#define MW_TX_BATCH 64
#define MW_MAX_SOCKS TDM_SFU_MAX_SOCKS

struct media_worker;

/* Process-wide media state. Fields are written before the workers start and only read
 * afterwards, except the atomics. */
struct tdm_media {
    tdm_media_deliver_fn deliver; /* control thread only */
    void *deliver_ctx;
    struct tdm_cert *cert;
    SSL_CTX *ssl_ctx;
    uint8_t fingerprint[32];
    struct tdm_addr addrs[MW_MAX_SOCKS]; /* local media addresses (port 0) */
    unsigned n_addrs;
    struct tdm_sfu_config sfu; /* the part every worker's core shares */
    uint32_t port_base;        /* 0: every worker takes a free port (tests) */
    unsigned n_workers;
    struct media_worker **workers;
    unsigned *rooms_per_worker; /* control thread only */
    atomic_int events_in_flight;
    atomic_bool stopping;
};

struct mw_sock {
    int fd;
    struct tdm_addr local; /* with the bound port */
    GSource *src;
    struct media_worker *w;
    int tcp_fd; /* RFC 6544 passive ICE-TCP listener on the same address and port, or -1 */
    GSource *tcp_src;
};

struct mw_tcp;

struct media_worker {
    struct tdm_media *media;
    unsigned index;
    GThread *thread;
    GMainContext *ctx;
    GMainLoop *loop;
    struct mw_sock socks[MW_MAX_SOCKS];
    unsigned n_socks;
    uint16_t port; /* of all its sockets, UDP and TCP: port_base + index, or the free one */
    struct tdm_sfu *sfu;
    GSource *timer;
    int64_t timer_at; /* INT64_MAX: not armed */
    /* batched receive */
    struct mmsghdr rx_msgs[MW_RX_BATCH];
    struct iovec rx_iov[MW_RX_BATCH];
    struct sockaddr_storage rx_from[MW_RX_BATCH];
    uint8_t (*rx_buf)[TDM_SFU_RX_MAX];
    /* batched send */
    struct mmsghdr tx_msgs[MW_TX_BATCH];
    struct iovec tx_iov[MW_TX_BATCH];
    struct sockaddr_storage tx_addr[MW_TX_BATCH];
    /* ICE-TCP */
    struct mw_tcp *tcps; /* open connections */
    unsigned n_tcps;
    uint64_t next_tcp_id;
    int64_t tcp_due;    /* earliest ICE-TCP time-out (media_tcp.c), INT64_MAX: none */
    uint8_t *tcp_stage; /* receive staging buffer */
    /* what media_tcp.c calls for each frame and after each read (set by media_worker.c) */
    int (*on_frame)(struct media_worker *w, int sock, uint64_t tcp, const struct tdm_addr *from,
                    uint8_t *p, size_t len, int64_t now);
    void (*after_input)(struct media_worker *w);
    uint64_t dropped_tx;
};

/* media_worker.c (called by media.c) */
int mw_create(struct tdm_media *m, unsigned index, struct media_worker **out);
void mw_destroy(struct media_worker *w); /* after the thread ended */
int mw_start(struct media_worker *w);
void mw_quit(struct media_worker *w); /* post a quit and join the thread */
/* Run cmd on the worker's thread (takes ownership in every case). */
void mw_post_cmd(struct media_worker *w, struct tdm_sfu_cmd *cmd);

/* media_tcp.c (called by media_worker.c; it calls back only through on_frame and
 * after_input) */
int mw_tcp_listen(struct media_worker *w, struct mw_sock *s);
/* Queue p on the connection with this id, or else on one from remote; dropped if none. */
void mw_tcp_send(struct media_worker *w, uint64_t id, const struct tdm_addr *remote,
                 const uint8_t *p, size_t len);
/* Close dead and timed-out connections; recomputes w->tcp_due. */
void mw_tcp_tick(struct media_worker *w, int64_t now);
void mw_tcp_close_all(struct media_worker *w);

#endif
