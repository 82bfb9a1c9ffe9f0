/* Media worker state, shared by the media_*.c files of one worker thread. Everything here
 * is owned by exactly one worker thread, except struct tdm_media (read-only after start,
 * plus the atomics noted). See docs/architecture.md "Media". */
#ifndef TANDEM_IO_MEDIA_INTERNAL_H
#define TANDEM_IO_MEDIA_INTERNAL_H

#ifndef _GNU_SOURCE
#error "media_*.c define _GNU_SOURCE first (recvmmsg/sendmmsg)"
#endif

#include <glib.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "media.h"

#include "tandem/addr.h"
#include "tandem/cert.h"
#include "tandem/config.h"
#include "tandem/dtls.h"
#include "tandem/forward.h"
#include "tandem/ice.h"
#include "tandem/log.h"
#include "tandem/nack.h"
#include "tandem/rtpstats.h"
#include "tandem/rtx.h"
#include "tandem/sdp.h"
#include "tandem/seqmap.h"
#include "tandem/srtp.h"
#include "tandem/subslots.h"

#define MW_RX_BATCH 32
#define MW_RX_BUF 2048 /* larger datagrams are truncated and dropped */
#define MW_TX_BATCH 64
#define MW_TX_BUF (1500 + TDM_SRTP_MAX_TRAILER)
#define MW_MAX_SOCKS TDM_CONFIG_MAX_MEDIA_ADDRS
#define MW_MAX_PRODS 16             /* tracks one page may publish */
#define MW_KF_INTERVAL_US 500000    /* at most one keyframe request per producer per 0.5 s */
#define MW_RTCP_INTERVAL_US 1000000 /* reports and REMB, per peer (RFC 3550 §6.2 scaled) */
#define MW_REMB_CAP_BPS 2000000     /* what a publisher may send (1:1 and small groups) */
#define MW_REMB_FLOOR_BPS 150000
#define MW_REMB_MAX_AGE_US 5000000 /* a subscriber's REMB older than this is not used */
#define MW_SUB_RETRY_US 1000000    /* a sub connection refused while busy is tried again */
#define MW_RTX_SLOTS 256           /* ~1.3 s of video at 200 packets/s */
#define MW_RTX_SLOT_BYTES 1300     /* browsers' RTP packets stay under ~1250 bytes */

struct media_worker;

/* Process-wide media state. Fields are written before the workers start and only read
 * afterwards, except the atomics. */
struct tdm_media {
    struct tdm_app *app; /* handed back to the control thread only */
    struct tdm_cert *cert;
    SSL_CTX *ssl_ctx;
    uint8_t fingerprint[32];
    struct tdm_addr addrs[MW_MAX_SOCKS]; /* local media addresses (port 0) */
    unsigned n_addrs;
    struct tdm_addr public_addr; /* family NONE when not configured */
    uint32_t port_base;
    bool ice_udp, ice_tcp; /* which candidates to offer */
    size_t max_sessions;   /* ICE sessions per worker */
    uint32_t max_pending;  /* connections being set up, per worker (limits.max_pending_media) */
    int64_t ice_timeout_us, consent_timeout_us, dtls_timeout_us;
    unsigned n_workers;
    struct media_worker **workers;
    unsigned *rooms_per_worker; /* control thread only */
    atomic_int replies_in_flight;
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

#define MW_TCP_TX_CAP (256 * 1024) /* bytes queued per ICE-TCP connection before dropping */
#define MW_TCP_AUTH_US 10000000    /* a connection must pass a check within 10 s */
#define MW_TCP_IDLE_US 60000000    /* and is closed after 60 s without anything received */

/* One accepted ICE-TCP connection (RFC 6544 passive side), framed as RFC 4571: a 16-bit
 * length before each STUN, DTLS, RTP or RTCP packet. */
struct mw_tcp {
    struct media_worker *w;
    struct mw_tcp *prev, *next;
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
    uint8_t rx[MW_RX_BUF];
    uint8_t *tx; /* ring of MW_TCP_TX_CAP */
    size_t tx_head, tx_len;
};

enum mpeer_kind { MPEER_PUB, MPEER_SUB };

/* One ICE-lite + DTLS-SRTP association with a page (its "pub" or its "sub" connection). */
struct mpeer {
    struct mpart *part;
    enum mpeer_kind kind;
    uint64_t ice_id;
    struct tdm_dtls *dtls;
    struct tdm_srtp *srtp; /* NULL until DTLS is connected */
    bool have_dst;
    int sock;           /* index in w->socks of the local address the page reached */
    struct mw_tcp *tcp; /* set when the selected pair is ICE-TCP: media goes there */
    struct sockaddr_storage dst;
    socklen_t dst_len;
    char remote_ufrag[TDM_SDP_ICE_CAP];
    struct tdm_fingerprint remote_fp;
    uint32_t rtcp_ssrc; /* our sender SSRC for reports and feedback */
    int64_t next_rtcp_us;
    uint64_t remb_bps; /* the page's latest REMB (sub connections) */
    int64_t remb_us;
    bool failed;  /* ICE or DTLS failed: released at the next tick */
    bool pending; /* counted in the worker's n_pending until DTLS is up */
    int64_t created_us;
    const char *fail_why;
    uint64_t sess_id, sess_version;
};

/* An incoming track: what one publisher sends in one m-section. */
struct mprod {
    uint64_t key; /* unique on the worker, never reused */
    struct mpart *owner;
    enum tdm_sdp_kind kind;
    enum tdm_sdp_codec_id codec;
    char mid[TDM_SDP_MID_CAP]; /* in the publisher's session */
    char track_id[TDM_SDP_ID_CAP];
    uint32_t ssrc, rtx_ssrc;
    uint8_t pt;
    int16_t rtx_pt;
    uint32_t clock;
    uint16_t fb;
    uint8_t ext[TDM_SDP_EXT_COUNT]; /* the publisher's extension ids */
    struct tdm_nack_rx *nack;       /* video with nack negotiated, else NULL */
    struct tdm_rtpstats_rx rx;
    struct tdm_rtx_kf_throttle kf;
    bool kf_wanted; /* a request to send once the publisher's keys exist */
    struct mcons **cons;
    uint32_t n_cons, cap_cons;
};

/* One producer as one subscriber receives it (one m-section of its "sub" connection). */
struct mcons {
    struct mprod *prod;
    struct mpart *sub;
    int slot;
    uint32_t ssrc;
    uint8_t pt;
    bool live; /* the slot's answer is in and the sub connection has keys */
    struct tdm_fwd_extmap extmap;
    struct tdm_seqmap seqmap;
    struct tdm_rtx_hist *hist; /* video only */
    struct tdm_rtpstats_tx tx;
    uint32_t rate_octets; /* tx.octets at the last report, for rate_bps */
    int64_t rate_us;
    uint64_t rate_bps; /* what the subscriber received over the last report interval */
    uint64_t loss_bps; /* video: the loss-based estimate of its line (forward.h), 0: none */
    struct tdm_fwd_budget resend; /* video: what NACKs may cost this line */
};

/* A participant of a room, on the worker. */
struct mpart {
    struct mroom *room;
    char id[TDM_PARTICIPANT_ID_LEN + 1];
    struct mpeer *pub, *sub;
    bool published;                /* sent a pub offer: sub offers may follow */
    bool block_audio, block_video; /* moderation: none of it is forwarded */
    bool no_video_in;              /* data saver: forward it nobody's video */
    int64_t sub_retry_us;          /* the sub connection was refused (busy): retry then; 0 */
    struct mprod *prods[MW_MAX_PRODS];
    uint32_t n_prods;
    /* the "sub" connection's negotiation */
    struct tdm_subslots slots;
    struct mcons *slot_cons[TDM_SUBSLOTS_MAX];
    uint8_t slot_codec[TDM_SUBSLOTS_MAX]; /* enum tdm_sdp_codec_id, kept for inactive ones */
    char *sub_current; /* the last agreed local description (text), NULL before */
    char *sub_pending; /* the offer awaiting its answer (text) */
    uint8_t pt_for[TDM_SDP_CODEC_RTX + 1]; /* payload types of this page's browser */
    struct mcons **cons;                   /* every consumer of this subscriber */
    uint32_t n_cons, cap_cons;
};

struct mroom {
    char id[TDM_ROOM_ID_MAX + 1];
    struct mpart **parts;
    uint32_t n_parts, cap_parts;
};

struct mw_tx {
    int fd;
    socklen_t alen;
    struct sockaddr_storage addr;
    size_t len;
    uint8_t buf[MW_TX_BUF];
};

struct media_worker {
    struct tdm_media *media;
    unsigned index;
    GThread *thread;
    GMainContext *ctx;
    GMainLoop *loop;
    struct mw_sock socks[MW_MAX_SOCKS];
    unsigned n_socks;
    struct tdm_ice_table *ice;
    GHashTable *rooms; /* room id -> struct mroom * */
    uint64_t next_key;
    GSource *timer;
    int64_t timer_at; /* INT64_MAX: not armed */
    int64_t next_due; /* earliest deadline noticed since the last tick */
    /* batched receive */
    struct mmsghdr rx_msgs[MW_RX_BATCH];
    struct iovec rx_iov[MW_RX_BATCH];
    struct sockaddr_storage rx_from[MW_RX_BATCH];
    uint8_t (*rx_buf)[MW_RX_BUF];
    /* batched send: datagrams queued during a dispatch, sent at its end */
    struct mw_tx *tx;
    unsigned n_tx;
    struct mmsghdr tx_msgs[MW_TX_BATCH];
    struct iovec tx_iov[MW_TX_BATCH];
    /* negotiation scratch (allocated on first use). Anything that can make a sub offer
     * (mpart_offer_sub, and through it mpart_reset_media, mprod_remove, mpart_drop_consumer)
     * overwrites sdp_a, sdp_b, sdp_text and tracks; nego is only written by answers. */
    struct tdm_sdp *sdp_a, *sdp_b;
    struct tdm_sdp_nego *nego;
    char *sdp_text;
    bool tearing_down;   /* the thread is ending: no more offers */
    struct mw_tcp *tcps; /* open ICE-TCP connections */
    unsigned n_tcps;
    uint8_t *tcp_stage;           /* receive staging buffer for ICE-TCP */
    struct tdm_sdp_track *tracks; /* TDM_SUBSLOTS_MAX of them */
    struct tdm_log_limiter log_lim;
    uint32_t n_pending;       /* peers whose ICE/DTLS is not done yet */
    uint64_t refused_pending; /* peers refused because n_pending was at the limit */
    uint64_t resend_skipped;  /* NACKed packets not resent: over the line's budget */
    uint64_t nack_missed;     /* subscriber NACKs for packets not held: a keyframe asked */
    uint64_t fwd_errors;      /* packets numbered for a subscriber but not sent (rewrite/SRTP) */
    uint64_t dtls_dropped;    /* invalid DTLS datagrams discarded (RFC 6347 4.1.2.7) */
    struct tdm_log_limiter dtls_log_lim;
    uint64_t dropped_tx, rtp_in, rtp_out, nacks_out, resent, plis_out;
};

/* media_worker.c */
int mw_create(struct tdm_media *m, unsigned index, struct media_worker **out);
void mw_destroy(struct media_worker *w); /* after the thread ended */
int mw_start(struct media_worker *w);
void mw_quit(struct media_worker *w); /* post a quit and join the thread */
void mw_handle_cmd(struct media_worker *w, struct tdm_media_cmd *cmd);
/* A slot for one outgoing datagram (flushes the batch when full). Fill buf, then commit. */
struct mw_tx *mw_tx_slot(struct media_worker *w);
void mw_tx_commit(struct media_worker *w, struct mw_tx *t, int fd, const struct sockaddr *to,
                  socklen_t tolen, size_t len);
/* Queue a datagram to peer p (dropped when p has no destination yet). */
void mw_send_to_peer(struct media_worker *w, struct mpeer *p, struct mw_tx *t, size_t len);
void mw_flush(struct media_worker *w);
/* One packet from a page (a UDP datagram, or an RFC 4571 frame when tcp is not NULL). */
void mw_on_packet(struct media_worker *w, int sock, struct mw_tcp *tcp, const struct tdm_addr *from,
                  uint8_t *p, size_t len, int64_t now);

/* media_tcp.c */
int mw_tcp_listen(struct media_worker *w, struct mw_sock *s);
void mw_tcp_send(struct mw_tcp *c, const uint8_t *p, size_t len);
struct mw_tcp *mw_tcp_find(struct media_worker *w, const struct tdm_addr *remote);
void mw_tcp_tick(struct media_worker *w, int64_t now);
void mw_tcp_close_all(struct media_worker *w);
/* Something is due at t: make sure the timer fires by then. */
void mw_due(struct media_worker *w, int64_t t);

/* media_peer.c */
struct mpeer *mpeer_create(struct media_worker *w, struct mpart *part, enum mpeer_kind kind,
                           int64_t now);
void mpeer_destroy(struct media_worker *w, struct mpeer *p);
int mpeer_set_remote(struct media_worker *w, struct mpeer *p, const struct tdm_sdp_nego *n,
                     int64_t now);
void mpeer_on_stun(struct media_worker *w, int sock, struct mw_tcp *tcp,
                   const struct tdm_addr *from, uint8_t *p, size_t len, int64_t now);
void mpeer_on_dtls(struct media_worker *w, struct mpeer *p, int sock, struct mw_tcp *tcp,
                   const struct tdm_addr *from, const uint8_t *d, size_t len, int64_t now);
void mpeer_tick(struct media_worker *w, struct mpeer *p, int64_t now);
int64_t mpeer_deadline(const struct media_worker *w, const struct mpeer *p);
void mpeer_local(struct media_worker *w, struct mpeer *p, struct tdm_sdp_local *l);

/* media_room.c */
struct mroom *mroom_get(struct media_worker *w, const char *id, bool create);
void mroom_free(struct media_worker *w, struct mroom *r);
struct mpart *mpart_find(struct mroom *r, const char *pid);
struct mpart *mpart_add(struct media_worker *w, struct mroom *r, const char *pid);
void mpart_remove(struct media_worker *w, struct mpart *p);
/* Also offers the others new sub descriptions: clobbers the negotiation scratch. */
void mpart_reset_media(struct media_worker *w, struct mpart *p);
struct mprod *mprod_add(struct media_worker *w, struct mpart *owner,
                        const struct tdm_sdp_nego_media *nm, size_t ssrc_i);
void mprod_remove(struct media_worker *w, struct mprod *pr);
void mroom_subscribe_all(struct media_worker *w, struct mroom *r);
void mpart_update_live(struct media_worker *w, struct mpart *p, int64_t now);
void mpart_block(struct media_worker *w, struct mpart *p, bool audio, bool video);
void mpart_receive_video(struct media_worker *w, struct mpart *p, bool on);
void mpart_drop_consumer(struct media_worker *w, struct mpart *p, int slot);
void mw_on_rtp(struct media_worker *w, struct mpeer *p, uint8_t *buf, size_t len, int64_t now);
void mprod_want_keyframe(struct media_worker *w, struct mprod *pr, int64_t now);
void mroom_tick(struct media_worker *w, struct mroom *r, int64_t now);
int64_t mroom_deadline(const struct media_worker *w, const struct mroom *r);

/* media_nego.c */
void mw_on_pub_offer(struct media_worker *w, struct tdm_media_cmd *c);
void mw_on_sub_answer(struct media_worker *w, struct tdm_media_cmd *c);
void mpart_offer_sub(struct media_worker *w, struct mpart *p);
/* Send an error to participant pid of room (ref: the JSON id text to echo, copied). */
void mw_reply_error(struct media_worker *w, const char *room, const char *pid, const char *ref,
                    const char *code, const char *field, const char *pc, const char *fmt, ...)
    __attribute__((format(printf, 8, 9)));

/* media_rtcp.c */
void mw_on_rtcp(struct media_worker *w, struct mpeer *p, uint8_t *buf, size_t len, int64_t now);
void mrtcp_send_reports(struct media_worker *w, struct mpeer *p, int64_t now);
void mrtcp_send_pli(struct media_worker *w, struct mprod *pr, int64_t now);
void mrtcp_send_nacks(struct media_worker *w, struct mprod *pr, int64_t now);

#endif
