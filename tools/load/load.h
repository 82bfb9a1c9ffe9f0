/* tandem-load: real WebRTC clients without a browser, for capacity figures.
 *
 * Each participant speaks Tandem's signaling over WSS (libwebsockets client), makes its own
 * SDP, runs full ICE with libnice as the controlling agent against the server's ICE-lite,
 * DTLS as the client (OpenSSL, through core/dtls.c), SRTP (libsrtp2, through core/srtp.c),
 * publishes Opus (libopus) and VP8-shaped video, answers NACK and PLI, sends reports and
 * receives without decoding. Every payload ends with a stamp (send time, source) so the
 * receiver measures one-way delay through the server.
 *
 * Threads: the participants are split over shards; a shard is one thread with its own
 * GMainContext, its own lws context (glib event loop) and its own NiceAgents. Nothing is
 * shared between shards but the read-only options and Opus frames, the SSL_CTX, and the
 * phase word; counters are summed by the main thread under each shard's lock. */
#ifndef TANDEM_LOAD_H
#define TANDEM_LOAD_H

#include <glib.h>
#include <nice/agent.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <openssl/types.h>

#include "tandem/dtls.h"
#include "tandem/err.h"
#include "tandem/srtp.h"

#define LD_MAX_RX 64 /* received streams per sub connection */
/* Delay histogram: 4000 bins of 50 us (0..200 ms), then 4800 of 1 ms (to 5 s), then one
 * overflow bin. */
#define LD_HIST_FINE 4000
#define LD_HIST_BIN_US 50
#define LD_HIST_BINS (LD_HIST_FINE + 4800)
#define LD_RTX_SLOTS 256    /* sent video packets kept for NACK answers */
#define LD_PKT_MAX 1300     /* one RTP packet before SRTP */
#define LD_PAYLOAD_MAX 1100 /* video payload per packet */
#define LD_STAMP_LEN 16     /* magic(2) flags(1) kind(1) source(4) send time(8) */
#define LD_BATCH 16         /* video packets handed to libnice at once */
#define LD_OUTQ 32          /* signaling messages waiting to be written */

enum ld_scenario { LD_PAIRS, LD_ROOMS, LD_FANOUT };
enum ld_phase { LD_PH_SETUP, LD_PH_WARMUP, LD_PH_MEASURE, LD_PH_DRAIN, LD_PH_STOP };

struct ld_opts {
    const char *url; /* wss://host:port/ws */
    char host[256], path[128];
    int port;
    const char *invite_key; /* mint tokens with the server's key; NULL: open rooms */
    const char *room_prefix;
    const char *local_address;
    enum ld_scenario scenario;
    int calls, rooms, group, subscribers;
    bool audio_only, tcp, nack;
    bool idle_pub; /* fan-out receivers hold an idle pub connection instead of receive-only */
    int video_kbps, fps, keyframe_ms;
    int drop_rx_permille;
    int duration_s, warmup_s, setup_timeout_s;
    int threads, join_spacing_ms;
    int server_pid;
    const char *json_path;
    bool quiet;
};

/* Counters of one shard, summed for progress and the report. */
struct ld_stats {
    uint64_t sent_pkts, sent_bytes;      /* every RTP packet published */
    uint64_t m_sent_audio, m_sent_video; /* measured packets published */
    uint64_t m_expected;                 /* measured packets times their receivers */
    uint64_t recv_pkts, recv_bytes;      /* every RTP packet received */
    uint64_t m_recv_audio, m_recv_video; /* measured, unique */
    uint64_t m_recv_bytes;               /* their bytes (after SRTP) */
    uint64_t dup_pkts, bad_pkts;         /* duplicates; unprotect or stamp failures */
    uint64_t nacks_in, resent, plis_in, keyframes;
    uint64_t rtcp_out, rtcp_in;
    uint64_t nacks_out, late_pkts;    /* receivers' NACKed seqs (--nack); reordered or resent */
    uint64_t dropped_rx;              /* video packets discarded on arrival (--drop-rx) */
    uint64_t jitter_sum_us, jitter_n; /* mean of the streams' RFC 3550 jitter at the end */
    uint32_t hist[LD_HIST_BINS + 1];
    int64_t delay_max_us;
    uint64_t delay_n;
    int conns_up, conns_failed, joined;
};

/* One opus frame of the shared loop (encoded once at start). */
struct ld_opus_frame {
    uint16_t len;
    uint8_t data[400];
};

struct ld_global {
    struct ld_opts o;
    SSL_CTX *ssl_ctx;
    char fingerprint[128]; /* our a=fingerprint value */
    struct ld_opus_frame *opus;
    size_t n_opus;
    uint8_t invite_key[32];
    _Atomic int phase;
    double load_before; /* 1-minute load average before the run started */
};

struct ld_part;

/* A received stream on a sub connection. */
struct ld_rx {
    uint32_t ssrc;
    bool video;
    bool started;
    int64_t max_seq; /* unwrapped */
    int64_t first_seq;
    uint16_t last_seq;
    uint64_t seen[64]; /* bitmap of the last 4096 sequence numbers */
    uint32_t received, expected_prior, received_prior;
    int64_t transit_prev; /* for jitter: arrival - rtp time, in clock units */
    double jitter;        /* clock units */
    uint32_t lsr;
    int64_t lsr_at_us;
};

/* One RTCPeerConnection's worth: NiceAgent + DTLS + SRTP. */
struct ld_conn {
    struct ld_part *p;
    bool is_sub;
    NiceAgent *agent;
    guint stream;
    struct tdm_dtls *dtls;
    struct tdm_srtp *srtp;
    bool ice_up, dtls_up, failed, remote_set;
    struct tdm_fingerprint remote_fp;
    int64_t created_us;
    /* sub: received streams */
    struct ld_rx rx[LD_MAX_RX];
    int nrx;
    int audio_pt, video_pt; /* sub: payload types of the offer */
};

struct ld_track {
    uint32_t ssrc;
    uint16_t seq;
    uint32_t ts_base;
    uint32_t packets, octets;
    int64_t next_us;
    uint32_t frame; /* audio frame or video picture counter */
    bool want_key;
    int64_t last_key_us;
    uint16_t picture_id;
};

struct ld_rtx_slot {
    uint16_t seq;
    uint16_t len;
    bool used;
    uint8_t pkt[LD_PKT_MAX];
};

struct ld_shard;

struct ld_part {
    struct ld_shard *sh;
    int gindex; /* over all shards */
    int fanout; /* receivers of each of its tracks */
    bool sends; /* publishes media (fanout subscribers do not) */
    char room[65];
    char name[32];
    char token[512];
    char id[32]; /* participant id from welcome */
    struct lws *wsi;
    bool ws_started, ws_up, welcomed, offered, closing;
    char *outq[LD_OUTQ];
    int outq_n;
    char *rxbuf; /* fragments of one incoming message */
    size_t rxlen;
    long next_id;
    long pub_offer_id;
    long recv_only_id; /* the media.receive_only asked, 0: none */
    int64_t last_ping_us;
    struct ld_conn pub, sub;
    struct ld_track audio, video;
    struct ld_rtx_slot *rtx; /* LD_RTX_SLOTS, video senders only */
    int64_t next_report_us;
    int64_t join_at_us;
};

struct ld_shard {
    struct ld_global *g;
    int index;
    GThread *thread;
    GMainContext *ctx;
    GMainLoop *loop;
    struct lws_context *lws;
    struct ld_part *parts;
    int n_parts;
    GMutex lock; /* guards st */
    struct ld_stats st;
    int64_t last_rx_us;
};

/* sdp.c */
struct ld_cand_line {
    char text[256]; /* "candidate:..." */
    bool tcp;
};
struct ld_sdp_info {
    char ufrag[257], pwd[257], fp[257];
    struct ld_cand_line cand[16];
    int n_cand;
    int audio_pt, video_pt; /* first audio / video payload type seen */
};
int ld_sdp_pub_offer(char *out, size_t cap, const char *ufrag, const char *pwd, const char *fp,
                     const struct ld_part *p, bool with_video, bool sending);
int ld_sdp_scan(const char *sdp, struct ld_sdp_info *info);
int ld_sdp_sub_answer(char *out, size_t cap, const char *offer, const char *ufrag, const char *pwd,
                      const char *fp);

/* peer.c */
int ld_conn_open(struct ld_conn *c, struct ld_part *p, bool is_sub);
void ld_conn_close(struct ld_conn *c);
int ld_conn_remote(struct ld_conn *c, const struct ld_sdp_info *info);
void ld_conn_tick(struct ld_conn *c, int64_t now);
int ld_conn_send_rtp(struct ld_conn *c, uint8_t *pkt, size_t len);
int ld_conn_send_batch(struct ld_conn *c, uint8_t *const *pkts, const size_t *lens, size_t n);
void ld_conn_send_rtcp(struct ld_conn *c, uint8_t *pkt, size_t len);
bool ld_conn_ready(const struct ld_conn *c);

/* media.c */
int ld_opus_prepare(struct ld_global *g, size_t frames);
void ld_part_media_init(struct ld_part *p);
void ld_part_send_due(struct ld_part *p, int64_t now);
void ld_part_reports(struct ld_part *p, int64_t now);
void ld_media_on_rtp(struct ld_conn *c, uint8_t *pkt, size_t len, int64_t now);
void ld_media_on_rtcp(struct ld_conn *c, const uint8_t *pkt, size_t len, int64_t now);
void ld_stats_delay(struct ld_stats *st, int64_t us);
double ld_hist_quantile_ms(const struct ld_stats *s, double q);

/* sig.c */
int ld_sig_start(struct ld_shard *sh);
void ld_sig_connect(struct ld_part *p);
void ld_sig_send(struct ld_part *p, char *json); /* takes json (malloc'd) */
void ld_sig_tick(struct ld_part *p, int64_t now);
/* Frees what is queued or half-received; idempotent. */
void ld_sig_forget(struct ld_part *p);

/* report.c */
struct ld_proc {
    double utime_s, stime_s; /* CPU seconds */
    long hwm_kib, rss_kib;
    double load1; /* this machine's 1-minute load average (pid 0 only) */
};
int ld_proc_read(int pid, struct ld_proc *out);
void ld_stats_add(struct ld_stats *sum, const struct ld_stats *s);
void ld_report(const struct ld_global *g, const struct ld_stats *s, double seconds,
               const struct ld_proc *srv0, const struct ld_proc *srv1, const struct ld_proc *me0,
               const struct ld_proc *me1, bool have_srv);

#endif
