/* Metrics: a Prometheus text endpoint (GET /metrics, text/plain; version=0.0.4) on a listener
 * of its own (metrics.listen, off unless set; docs/metrics.md).
 *
 * What it shows is counters and gauges with fixed label values only (a worker index, a
 * reason or an error code from a fixed table): no name, room, address or token can reach
 * it, because nothing here holds one.
 *
 * Two kinds of counters:
 * - Media workers' (struct tdm_mx_worker): each written by its own worker thread only and
 *   read by the scrape on the control thread. They are C11 atomics used with relaxed order:
 *   tdm_mx_add is a relaxed load and a relaxed store (one writer, so no read-modify-write
 *   instruction is needed: on x86-64 it compiles to a plain add), and the scrape reads them
 *   relaxed. No lock, no fence on the packet path.
 * - The control thread's (struct tdm_mx_control): plain integers, written and read on the
 *   control thread only (the scrape runs there too). */
#ifndef TANDEM_IO_METRICS_H
#define TANDEM_IO_METRICS_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct tdm_app;

#define TDM_MX_MAX_WORKERS 64 /* media.workers is at most 64 */

/* One media worker's counters. Gauges (peers, peers_setting_up) go up and down by the same
 * thread; the queue counters are written by two threads and use atomic read-modify-write
 * (they change once per command, not per packet). */
struct tdm_mx_worker {
    alignas(64) _Atomic uint64_t rtp_in; /* RTP packets from publishers (after SRTP) */
    _Atomic uint64_t fwd_packets;        /* RTP packets sent to subscribers */
    _Atomic uint64_t fwd_bytes;          /* their size on the wire (SRTP) */
    _Atomic uint64_t nacks_in;           /* packets NACKed by subscribers */
    _Atomic uint64_t nacks_out;          /* packets NACKed to publishers */
    _Atomic uint64_t resent;             /* packets resent to subscribers for their NACKs */
    _Atomic uint64_t plis_in;            /* PLI/FIR from subscribers */
    _Atomic uint64_t plis_out;           /* keyframe requests sent to publishers */
    _Atomic uint64_t loss_up_sum;        /* fraction lost (1/256) of our reports to publishers */
    _Atomic uint64_t loss_up_n;
    _Atomic uint64_t loss_down_sum; /* fraction lost (1/256) in subscribers' reports */
    _Atomic uint64_t loss_down_n;
    _Atomic uint64_t refused_busy;     /* media connections refused: limits.max_pending_media */
    _Atomic uint64_t peers;            /* media connections held (gauge) */
    _Atomic uint64_t peers_setting_up; /* of those, ICE/DTLS not done (gauge) */
    _Atomic uint64_t twcc_feedback;    /* transport-cc feedback packets from subscribers */
    _Atomic uint64_t probes_sent;      /* padding packets probing downlinks */
    _Atomic uint64_t est_subs;         /* sub connections with a downlink estimate (gauge) */
    _Atomic uint64_t est_weak;         /* of those, under 300 kbit/s (gauge) */
    _Atomic uint64_t layer_switches;   /* simulcast layer changes of subscribers */
    _Atomic uint64_t audio_only_on;    /* automatic audio only began */
    _Atomic uint64_t quality_poor;     /* a connection was rated poor (media.quality) */
    _Atomic uint64_t quality_fair;
    _Atomic uint64_t now_poor, now_fair;       /* participants rated so now (gauges) */
    _Atomic uint64_t est_sum_bps;              /* their estimates' sum (gauge) */
    _Atomic uint64_t mix_rooms, mix_listeners; /* the Opus mix now (gauges) */
    _Atomic uint64_t mix_packets;              /* mixed packets sent */
    _Atomic uint64_t mix_frames, mix_frames_fec, mix_frames_plc, mix_delay_sum_us;
    _Atomic uint64_t mix_frames_skipped;
    alignas(64) _Atomic uint64_t cmds_posted; /* control thread */
    _Atomic uint64_t cmds_done;               /* the worker (or its teardown) */
    _Atomic bool has_clock;
    _Atomic int cpu_clock; /* clockid_t of the worker thread */
};

extern struct tdm_mx_worker tdm_mx_workers[TDM_MX_MAX_WORKERS];

static inline struct tdm_mx_worker *tdm_mx_worker(unsigned index)
{
    return &tdm_mx_workers[index < TDM_MX_MAX_WORKERS ? index : TDM_MX_MAX_WORKERS - 1];
}

/* One writer: a relaxed load and store. */
static inline void tdm_mx_add(_Atomic uint64_t *c, uint64_t n)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                          memory_order_relaxed);
}
static inline void tdm_mx_sub(_Atomic uint64_t *c, uint64_t n)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) - n,
                          memory_order_relaxed);
}

/* Called on the worker thread when it starts: notes its CPU clock for the scrape. */
void tdm_mx_worker_thread_started(unsigned index);
/* Called before the worker thread ends. */
void tdm_mx_worker_thread_stopped(unsigned index);

/* Why a connection was refused or closed early, on the control thread. */
enum tdm_mx_refusal {
    TDM_MX_REFUSED_WS_FULL,        /* limits.max_connections, or shutting down */
    TDM_MX_REFUSED_WS_PER_ADDRESS, /* limits.max_connections_per_address */
    TDM_MX_REFUSED_WS_ORIGIN,      /* a WebSocket from another origin */
    TDM_MX_REFUSED_WS_PATH,        /* a WebSocket upgrade not on /ws */
    TDM_MX_REFUSED_FLOODING,       /* closed 1008 for sustained flooding */
    TDM_MX_REFUSED_TOO_BIG,        /* a message over limits.max_message_bytes */
    TDM_MX_REFUSED_UNMASKED,       /* an unmasked client frame (RFC 6455 5.1) */
    TDM_MX_REFUSED_N
};

/* Join and link-check refusals: the error codes of docs/protocol.md "Invites". */
enum tdm_mx_invite_at { TDM_MX_AT_JOIN, TDM_MX_AT_CHECK, TDM_MX_AT_CONSOLE, TDM_MX_AT_N };

#define TDM_MX_INVITE_CODES 8 /* the table in metrics.c */

struct tdm_mx_control {
    uint64_t refused[TDM_MX_REFUSED_N];
    uint64_t invite_refused[TDM_MX_AT_N][TDM_MX_INVITE_CODES];
    uint64_t joins;            /* successful joins */
    uint64_t rejoins_pass;     /* joins with a person pass (a page back after a reload,
                                  a dropped connection or a restart) */
    uint64_t rejoins_replaced; /* ...whose earlier connection was still held */
    /* several nodes (cluster.h): joins sent to the room's node, joins refused while Redis
     * could not be reached, Redis connections lost or timed out */
    uint64_t cluster_moved, cluster_unavailable, cluster_redis_lost;
    uint64_t resumes;         /* pages back on a new connection as the same participant */
    uint64_t resumes_refused; /* resume tokens refused (wrong, spent, expired) */
    uint64_t checkins[3];     /* check-in answers: fine, some problems, many problems */
};

extern struct tdm_mx_control tdm_mx_control;

static inline void tdm_mx_refused(enum tdm_mx_refusal why)
{
    tdm_mx_control.refused[why]++;
}
/* A message of this type was answered with error code: counted when type is join,
 * invite.check or console.hello and code is one of the link codes. Control thread. */
void tdm_mx_message_refused(const char *type, const char *code);

/* Starts the listener on cfg.metrics_listen (nothing when it is ""). Returns 0 or a TDM_E*
 * code after logging why. Control thread, on the default GMainContext. */
int tdm_metrics_start(struct tdm_app *app);
/* Closes the listener and every scrape in progress. NULL-safe. */
void tdm_metrics_stop(struct tdm_app *app);

#endif
