/* DTLS-SRTP endpoint (RFC 5763, RFC 5764) as a sans-IO state machine over OpenSSL.
 *
 * It owns no socket and reads no clock. The caller
 *   - feeds each received DTLS datagram (RFC 7983: first byte 20..63) with tdm_dtls_feed;
 *   - drains datagrams to send with tdm_dtls_poll_datagram after EVERY call into the
 *     endpoint (start, feed, handle_timeout, close, set_remote_fingerprint) and sends each
 *     one as one UDP payload;
 *   - arms one timer at tdm_dtls_deadline() and calls tdm_dtls_handle_timeout when it
 *     passes (the deadline can change after any call);
 *   - reads events with tdm_dtls_poll_event: CONNECTED (then tdm_dtls_take_keys), CLOSED
 *     (peer's close_notify), FAILED (reason below).
 *
 * Output choice: a bounded queue the caller drains, not a send callback, so the endpoint
 * never re-enters the io layer and tests can drop or reorder datagrams between two
 * endpoints. The queue holds TDM_DTLS_QUEUE_SLOTS datagrams; if it overflows (caller did
 * not drain) the newest datagram is dropped and counted, as a congested link would, and
 * DTLS retransmission recovers.
 *
 * DTLS knows nothing of SRTP sessions: on CONNECTED it hands up the exported keys as a
 * plain struct tdm_srtp_keys (profile, local and remote key||salt split by role, RFC 5764
 * 4.2). The peer's certificate is authenticated by its fingerprint (RFC 8122) against the
 * value from the remote SDP, compared in constant time; without a match no keys are made.
 *
 * Timers: OpenSSL 3.0 times DTLS retransmissions with the real clock (gettimeofday). To
 * keep time an argument, the endpoint sets the retransmission intervals itself
 * (DTLS_set_timer_cb: TDM_DTLS_RTO_INITIAL_US doubling to TDM_DTLS_RTO_MAX_US), learns
 * when OpenSSL (re)starts its timer from the BIO, derives the deadline from
 * DTLSv1_get_timeout at that moment plus now_us, and at that deadline makes OpenSSL's
 * timer due before calling DTLSv1_handle_timeout. Real and virtual time agree in
 * production; in tests only virtual time moves. The whole handshake is bounded by
 * TDM_DTLS_HANDSHAKE_TIMEOUT_US after start (or after the first datagram fed).
 *
 * After the handshake the endpoint is idle: media does not go through it. It still takes
 * DTLS datagrams (a peer's retransmitted final flight, alerts, close_notify). Application
 * data is discarded (Tandem negotiates no data channels).
 *
 * One owner thread per endpoint. No allocation per packet after the handshake except
 * what OpenSSL does inside SSL_read for the rare DTLS datagram. */
#ifndef TANDEM_DTLS_H
#define TANDEM_DTLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/types.h>

#include "tandem/cert.h"
#include "tandem/srtp.h"

#define TDM_DTLS_MTU 1200               /* largest datagram we send (DTLS_set_link_mtu) */
#define TDM_DTLS_MAX_IN 4096            /* larger received datagrams are refused */
#define TDM_DTLS_QUEUE_SLOTS 8          /* outgoing datagrams held until drained */
#define TDM_DTLS_SLOT_BYTES 1500        /* one slot; nothing we send is near this */
#define TDM_DTLS_RTO_INITIAL_US 1000000 /* RFC 6347 4.2.4.1: 1 s, then doubled */
/* Capped below RFC 6347's 60 s because the whole handshake is bounded anyway: with 8 s
 * the flight is re-sent at 1, 3, 7, 15 and 23 s before the 30 s bound. */
#define TDM_DTLS_RTO_MAX_US 8000000
#define TDM_DTLS_HANDSHAKE_TIMEOUT_US 30000000
#define TDM_DTLS_NO_DEADLINE INT64_MAX

enum tdm_dtls_role {
    TDM_DTLS_SERVER, /* a=setup:passive side: waits for the ClientHello */
    TDM_DTLS_CLIENT, /* a=setup:active side: sends the ClientHello at start */
};

enum tdm_dtls_state {
    TDM_DTLS_NEW,         /* created, not started */
    TDM_DTLS_HANDSHAKING, /* started */
    TDM_DTLS_VERIFYING,   /* handshake done, waiting for the remote fingerprint */
    TDM_DTLS_CONNECTED,   /* peer authenticated, keys exported */
    TDM_DTLS_CLOSED,      /* close_notify sent or received, or aborted by the caller */
    TDM_DTLS_FAILED,      /* see the FAILED event */
};

enum tdm_dtls_event_type {
    TDM_DTLS_EV_CONNECTED = 1,
    TDM_DTLS_EV_CLOSED,
    TDM_DTLS_EV_FAILED,
};

enum tdm_dtls_fail {
    TDM_DTLS_FAIL_NONE = 0,
    TDM_DTLS_FAIL_TIMEOUT,        /* no handshake within the bound (or OpenSSL gave up) */
    TDM_DTLS_FAIL_FINGERPRINT,    /* peer certificate does not match the SDP fingerprint */
    TDM_DTLS_FAIL_NO_SRTP,        /* handshake done but no SRTP profile negotiated */
    TDM_DTLS_FAIL_ALERT_RECEIVED, /* peer sent a fatal alert (alert = its description) */
    TDM_DTLS_FAIL_PROTOCOL,       /* we failed the handshake (alert = the one we sent, or -1) */
    TDM_DTLS_FAIL_INTERNAL,       /* key export or another OpenSSL call failed */
};

struct tdm_dtls_event {
    enum tdm_dtls_event_type type;
    enum tdm_dtls_fail fail; /* for TDM_DTLS_EV_FAILED, else NONE */
    int alert;               /* TLS AlertDescription (RFC 5246 7.2) involved, or -1 */
};

struct tdm_dtls_stats {
    uint32_t datagrams_in; /* fed and accepted for processing */
    /* fed and discarded unread: an invalid record (RFC 6347 4.1.2.7), or anything after
     * OpenSSL failed on a forged record once connected */
    uint32_t dropped_in;
    uint32_t datagrams_out; /* queued for sending */
    uint32_t dropped_out;   /* lost because the queue was full or a datagram too big */
    uint32_t retransmits;   /* timer-driven flight retransmissions */
    uint32_t max_out_len;   /* largest datagram queued */
};

struct tdm_dtls;

/* Make an endpoint on ctx (from tdm_cert_ssl_ctx_new; SSL_new takes its own reference).
 * expected is the remote a=fingerprint value (copied), or NULL when not known yet (then
 * give it with tdm_dtls_set_remote_fingerprint; the handshake may finish first and waits
 * in VERIFYING). Returns 0 and *out, or TDM_EINVAL / TDM_ENOMEM / TDM_ECRYPTO. */
int tdm_dtls_create(struct tdm_dtls **out, SSL_CTX *ctx, enum tdm_dtls_role role,
                    const struct tdm_fingerprint *expected);
/* Frees everything and wipes key material. Sends nothing (call tdm_dtls_close first for a
 * close_notify). */
void tdm_dtls_destroy(struct tdm_dtls *d);

/* Begin: a client queues its ClientHello; a server only starts the handshake clock.
 * Returns 0, or TDM_ESTATE if already started. */
int tdm_dtls_start(struct tdm_dtls *d, int64_t now_us);

/* Process one received datagram p[0..len) (borrowed until return). A NEW server starts
 * (as with tdm_dtls_start) on its first datagram; a NEW client ignores it (it speaks
 * first, when started). Invalid records are dropped silently (RFC 6347 4.1.2.7); fatal
 * conditions become a FAILED event, not an error return.
 * Returns 0, or TDM_EINVAL (empty), TDM_ETOOBIG (len > TDM_DTLS_MAX_IN),
 * TDM_ESTATE (closed, failed, or a client not started: the datagram is ignored). */
int tdm_dtls_feed(struct tdm_dtls *d, const uint8_t *p, size_t len, int64_t now_us);

/* Bound the whole handshake by us (> 0) instead of TDM_DTLS_HANDSHAKE_TIMEOUT_US
 * (limits.dtls_timeout_s). Returns 0 or TDM_EINVAL. */
int tdm_dtls_set_handshake_timeout(struct tdm_dtls *d, int64_t us);

/* Absolute time (now_us clock) at which to call tdm_dtls_handle_timeout, or
 * TDM_DTLS_NO_DEADLINE. Only an endpoint that is handshaking or verifying has one. */
int64_t tdm_dtls_deadline(const struct tdm_dtls *d);
/* Retransmit the last flight if its timer is due; fail with TIMEOUT once the handshake
 * bound has passed. Calling early or when idle does nothing. Returns 0. */
int tdm_dtls_handle_timeout(struct tdm_dtls *d, int64_t now_us);

/* Give (or replace, before verification) the remote fingerprint. If the handshake is
 * already done this verifies now and emits CONNECTED or FAILED. Returns 0 or TDM_EINVAL /
 * TDM_ESTATE (already connected or terminal). */
int tdm_dtls_set_remote_fingerprint(struct tdm_dtls *d, const struct tdm_fingerprint *fp,
                                    int64_t now_us);

/* Close: when connected, queue a close_notify; in any live state move to CLOSED (no event:
 * the caller knows). Idempotent; returns 0. */
int tdm_dtls_close(struct tdm_dtls *d, int64_t now_us);

/* Copy the oldest queued datagram into out[0..cap) and remove it. Returns its length,
 * 0 when the queue is empty, or TDM_ETOOBIG when cap is too small (it stays queued; a cap
 * of TDM_DTLS_SLOT_BYTES always suffices). */
int tdm_dtls_poll_datagram(struct tdm_dtls *d, uint8_t *out, size_t cap);

/* Take the oldest event into *ev. Returns true, or false when there is none. */
bool tdm_dtls_poll_event(struct tdm_dtls *d, struct tdm_dtls_event *ev);

/* After CONNECTED: copy the SRTP keys into *out once; the endpoint's copy is wiped.
 * Returns 0, or TDM_ESTATE (not connected, or already taken). The caller wipes *out
 * (tdm_srtp_keys_wipe) after tdm_srtp_create. */
int tdm_dtls_take_keys(struct tdm_dtls *d, struct tdm_srtp_keys *out);

enum tdm_dtls_state tdm_dtls_state(const struct tdm_dtls *d);
enum tdm_dtls_role tdm_dtls_role(const struct tdm_dtls *d);
void tdm_dtls_get_stats(const struct tdm_dtls *d, struct tdm_dtls_stats *out);
/* Static names for logs ("timeout", "fingerprint", ...). Never NULL. */
const char *tdm_dtls_fail_name(enum tdm_dtls_fail f);

#endif
