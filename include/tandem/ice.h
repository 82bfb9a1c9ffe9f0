/* ICE-lite responder for one shared UDP port (and later one passive ICE-TCP port): the
 * server side of RFC 8445 2.5 and 8.2, with consent freshness as in RFC 7675. Sans-IO: the
 * caller hands in each STUN datagram with its source address and the time, and sends
 * whatever response comes back. A lite agent is always controlled and never sends checks;
 * the browser nominates (USE-CANDIDATE) and keeps consent alive with its checks.
 *
 * A table holds the sessions of one media worker, keyed by the local ufrag (the first half
 * of USERNAME "localufrag:remoteufrag") and, once checks succeed, by source address, so
 * DTLS, RTP and RTCP from a validated address find their session without parsing. All
 * memory is allocated at create; nothing is allocated per packet or per session. Not
 * thread-safe: one table per worker thread. */
#ifndef TANDEM_ICE_H
#define TANDEM_ICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tandem/addr.h"

#define TDM_ICE_UFRAG_LEN 12   /* local ufrag we generate: 72 random bits */
#define TDM_ICE_PWD_LEN 32     /* local password we generate: 192 random bits */
#define TDM_ICE_REMOTE_MAX 256 /* RFC 8839 5.4: ice-ufrag 4..256, ice-pwd 22..256 chars */
#define TDM_ICE_MAX_ADDRS 6    /* validated source addresses kept per session */
#define TDM_ICE_MAX_SESSIONS (1u << 20)
#define TDM_ICE_CONSENT_TIMEOUT_US 30000000 /* RFC 7675 5.1: 30 s without a valid check */
#define TDM_ICE_CONNECT_TIMEOUT_US 30000000 /* default: nominated within 30 s or released */

enum tdm_ice_state {
    TDM_ICE_NEW = 0,   /* created, no valid check yet */
    TDM_ICE_CHECKING,  /* valid checks arrived, none nominated a pair yet */
    TDM_ICE_CONNECTED, /* a check with USE-CANDIDATE succeeded: media may flow */
    TDM_ICE_FAILED,    /* reported by tdm_ice_tick: consent lost or never connected */
};

enum tdm_ice_event {
    TDM_ICE_EV_NONE = 0,
    TDM_ICE_EV_CONNECTED,    /* first nomination: the selected address is set */
    TDM_ICE_EV_ADDR_CHANGED, /* a later nomination from another address (network change,
                                ICE restart): send to the new selected address */
};

enum tdm_ice_expiry_reason {
    TDM_ICE_EXPIRED_CONNECT = 1, /* not connected within the connect timeout */
    TDM_ICE_EXPIRED_CONSENT,     /* connected, then no valid check for the consent timeout */
};

struct tdm_ice_expired {
    uint64_t session_id;
    uint64_t user;
    int reason; /* enum tdm_ice_expiry_reason */
};

/* Local credentials for the SDP (a=ice-ufrag / a=ice-pwd), NUL-terminated ice-chars. */
struct tdm_ice_creds {
    char ufrag[TDM_ICE_UFRAG_LEN + 1];
    char pwd[TDM_ICE_PWD_LEN + 1];
};

struct tdm_ice_table;

/* A table for at most max_sessions sessions (1..TDM_ICE_MAX_SESSIONS); NULL on bad size or
 * no memory. Timeouts start at the defaults above. */
struct tdm_ice_table *tdm_ice_table_create(size_t max_sessions);
void tdm_ice_table_destroy(struct tdm_ice_table *t);
/* Change the timeouts (microseconds, > 0) for every session, present and future. */
int tdm_ice_table_set_timeouts(struct tdm_ice_table *t, int64_t connect_timeout_us,
                               int64_t consent_timeout_us);
size_t tdm_ice_table_count(const struct tdm_ice_table *t);

/* New session with fresh random local credentials. `user` is an opaque tag handed back by
 * lookups and expiries (a peer index, say). *id gets a non-zero id that is never reused
 * for another session. Returns 0, TDM_EFULL, or TDM_ECRYPTO (no randomness). */
int tdm_ice_session_add(struct tdm_ice_table *t, int64_t now_us, uint64_t user, uint64_t *id);
/* Forget the session and every address that pointed to it. Returns 0 or TDM_ENOTFOUND. */
int tdm_ice_session_remove(struct tdm_ice_table *t, uint64_t id);

int tdm_ice_session_local_creds(const struct tdm_ice_table *t, uint64_t id,
                                struct tdm_ice_creds *out);
/* The remote side's a=ice-ufrag and a=ice-pwd from its SDP (copied). Both must be ice-chars
 * (ALPHA / DIGIT / "+" / "/"), ufrag 4..256 and pwd 22..256 long (RFC 8839 5.4). Until they
 * are set, checks are accepted on the local half of USERNAME and MI alone, since checks may
 * arrive before the answer does (RFC 8445 7.3). Returns 0, TDM_EINVAL or TDM_ENOTFOUND. */
int tdm_ice_session_set_remote(struct tdm_ice_table *t, uint64_t id, const char *ufrag,
                               size_t ufrag_len, const char *pwd, size_t pwd_len);
/* ICE restart (RFC 8445 9): new local credentials, remote ones cleared until set again.
 * The previous credentials keep working until the first valid check that uses the new ones,
 * so consent checks in flight during the renegotiation are not refused. The selected address
 * stays until a new nomination. Returns 0, TDM_ENOTFOUND or TDM_ECRYPTO. */
int tdm_ice_session_restart(struct tdm_ice_table *t, uint64_t id, int64_t now_us);

/* enum tdm_ice_state, or TDM_ENOTFOUND. */
int tdm_ice_session_state(const struct tdm_ice_table *t, uint64_t id);
int tdm_ice_session_user(const struct tdm_ice_table *t, uint64_t id, uint64_t *user);
/* Where to send media: the selected (nominated) address, returning 0; before nomination the
 * address of the latest valid check, returning TDM_EAGAIN (RFC 8445 allows sending on a
 * valid pair); TDM_ENOTFOUND when the session is gone or has no valid address yet. */
int tdm_ice_session_send_addr(const struct tdm_ice_table *t, uint64_t id, struct tdm_addr *out);

/* Handle one STUN datagram p[0..len) (a whole message) from `from`, received at now_us.
 * Writes any response into out[0..out_cap) and its length into *out_len (0: send nothing);
 * the caller sends out to `from` whenever *out_len > 0, whatever the return value.
 * *session_id gets the session the request authenticated for (0 if none) and *event what
 * changed. Returns:
 *   0              a valid check was answered with a success response (or a Binding
 *                  indication / response was ignored: *out_len is 0 then);
 *   TDM_EINVAL     junk, bad FINGERPRINT, no FINGERPRINT (dropped silently), or a malformed
 *                  request or one without USERNAME/MESSAGE-INTEGRITY (400 Bad Request);
 *   TDM_ENOTFOUND  unknown local ufrag (401 Unauthorized);
 *   TDM_EAUTH      wrong remote ufrag or MESSAGE-INTEGRITY (401 Unauthorized);
 *   TDM_ESTATE     session failed, waiting to be removed (401), or the browser claimed the
 *                  controlled role too (487 Role Conflict: a lite agent cannot switch);
 *   TDM_EUNSUPP    unknown comprehension-required attributes (420 with UNKNOWN-ATTRIBUTES);
 *   TDM_ETOOBIG    out_cap too small for the response (nothing written).
 * Borrows p, from and out until return. out_cap of 128 bytes is always enough. */
int tdm_ice_handle_stun(struct tdm_ice_table *t, const uint8_t *p, size_t len,
                        const struct tdm_addr *from, int64_t now_us, uint8_t *out, size_t out_cap,
                        size_t *out_len, uint64_t *session_id, enum tdm_ice_event *event);

/* The session a validated source address belongs to, for DTLS/RTP/RTCP datagrams: a probe
 * of an open-addressing hash, no allocation. user may be NULL. Returns 0 or TDM_ENOTFOUND. */
int tdm_ice_lookup_addr(const struct tdm_ice_table *t, const struct tdm_addr *from,
                        uint64_t *session_id, uint64_t *user);

/* Report sessions to release: not connected within the connect timeout of their creation
 * (or of their last restart), or connected and without a valid check for the consent timeout.
 * Each is marked TDM_ICE_FAILED and reported once; up to cap go into out, the rest on the next
 * call. Also forgets source addresses not seen for the consent timeout (other than the
 * selected one). *next_us (may be NULL) gets the time of the next expiry to arm a timer for,
 * INT64_MAX when none: exact after a scan, otherwise a lower bound (calling earlier is
 * harmless). Returns the number written to out. O(sessions) when something may be due, O(1)
 * before that, so a timer armed for other reasons costs nothing here. */
size_t tdm_ice_tick(struct tdm_ice_table *t, int64_t now_us, struct tdm_ice_expired *out,
                    size_t cap, int64_t *next_us);
/* When tdm_ice_tick next has something to do (the *next_us it would give now), without a
 * scan: INT64_MAX when nothing can expire. O(1), for the owner's timer. */
int64_t tdm_ice_deadline(const struct tdm_ice_table *t);

#endif
