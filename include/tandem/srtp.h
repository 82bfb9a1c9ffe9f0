/* SRTP/SRTCP for one peer over libsrtp2: an inbound session (unprotect what the peer
 * sends) and an outbound session (protect what we send), built from the keys the DTLS
 * endpoint exports (RFC 5764 section 4.2). Packets are processed in place.
 *
 * Threads: call tdm_srtp_global_init() once before any session is made (it is idempotent
 * and thread-safe, but libsrtp's global state must be written before workers use it).
 * A tdm_srtp has one owner thread: libsrtp sessions keep replay windows, rollover counters
 * and lazily-created per-SSRC streams, so two threads must not use one session at once.
 *
 * Allocation: protect/unprotect do not allocate, except that libsrtp creates a stream the
 * first time it sees a new SSRC in a session (ssrc_any_inbound / ssrc_any_outbound).
 *
 * Under AEAD_AES_128_GCM, SRTP and SRTCP both ways go through core/srtp_gcm.c on OpenSSL
 * instead of libsrtp (the Debian libsrtp2 runs on NSS: ~1 µs and NSS locks per packet on the
 * fan-out's hottest calls); same bytes, same results. It keeps the rollover counters and
 * SRTCP indices of the last TDM_SRTP_GCM_MAX_SSRC (128) SSRCs sent from and the receive state
 * (rollover counters, replay windows) of the last TDM_SRTP_GCM_RX_MAX_SSRC (32) received
 * from in fixed tables: no allocation or lock per packet. */
#ifndef TANDEM_SRTP_H
#define TANDEM_SRTP_H

#include <stddef.h>
#include <stdint.h>

/* Protection profiles, numbered as in the IANA DTLS-SRTP registry (RFC 5764 4.1.2,
 * RFC 7714 14.2), which is also what SSL_get_selected_srtp_profile()->id reports. */
enum tdm_srtp_profile {
    TDM_SRTP_PROFILE_NONE = 0,
    TDM_SRTP_AES128_CM_SHA1_80 = 0x0001,
    TDM_SRTP_AEAD_AES_128_GCM = 0x0007,
};

#define TDM_SRTP_CM80_KEY_SALT_LEN 30 /* 16-byte key + 14-byte salt */
#define TDM_SRTP_GCM_KEY_SALT_LEN 28  /* 16-byte key + 12-byte salt (RFC 7714 12) */
#define TDM_SRTP_MAX_KEY_SALT 30

/* Room a caller's buffer must have after the packet for protect: libsrtp 2.x documents
 * that srtp_protect may write SRTP_MAX_TRAILER_LEN (16-byte tag + 128-byte MKI) bytes past
 * the packet and srtp_protect_rtcp SRTP_MAX_TRAILER_LEN + 4 (the E flag and SRTCP index).
 * What our policies actually add: RTP +16 (GCM) / +10 (CM80); RTCP +20 / +14. */
#define TDM_SRTP_MAX_TRAILER 148

/* SRTP master key material for one association, handed up by the DTLS endpoint.
 * local = key||salt that protects what WE send (our DTLS role's write key);
 * remote = key||salt that unprotects what the PEER sends. A plain value: wipe it with
 * tdm_srtp_keys_wipe() once sessions are built. */
struct tdm_srtp_keys {
    enum tdm_srtp_profile profile;
    size_t len; /* key||salt bytes per direction: 28 (GCM) or 30 (CM80) */
    uint8_t local[TDM_SRTP_MAX_KEY_SALT];
    uint8_t remote[TDM_SRTP_MAX_KEY_SALT];
};

/* key||salt length for a profile, or 0 when unknown. */
size_t tdm_srtp_key_salt_len(enum tdm_srtp_profile profile);
/* Overwrite k with zeros in a way the compiler keeps (OPENSSL_cleanse). */
void tdm_srtp_keys_wipe(struct tdm_srtp_keys *k);

/* srtp_init() once per process. Returns 0 or TDM_ECRYPTO. */
int tdm_srtp_global_init(void);

/* Replay window of each inbound stream, in packets: at 30 fps a keyframe is easily several
 * hundred RTP packets, and retransmissions (RFC 4588 or plain repeats) arrive late. */
#define TDM_SRTP_REPLAY_WINDOW 1024

struct tdm_srtp;

/* Build both sessions from keys (read, not kept: the caller wipes its copy; the local key
 * copies made here are wiped before return). Outbound allows repeated sequence numbers so
 * a NACKed packet can be re-sent as it was (allow_repeat_tx). Returns 0 and *out, or
 * TDM_EINVAL (unknown profile or wrong len), TDM_ENOMEM, TDM_ECRYPTO. */
int tdm_srtp_create(struct tdm_srtp **out, const struct tdm_srtp_keys *keys);
void tdm_srtp_destroy(struct tdm_srtp *s);
enum tdm_srtp_profile tdm_srtp_profile(const struct tdm_srtp *s);

/* Protect the RTP (or RTCP) packet buf[0..len) in place with the outbound session; buf
 * has cap bytes, and cap must be >= len + TDM_SRTP_MAX_TRAILER. Returns the protected
 * length, or TDM_ETOOBIG (cap), TDM_EINVAL / TDM_ETRUNC (not a valid header),
 * TDM_EEXIST (libsrtp's outbound index check: an index older than the window; repeating
 * the same sequence number is allowed), TDM_ECRYPTO. */
int tdm_srtp_protect_rtp(struct tdm_srtp *s, uint8_t *buf, size_t len, size_t cap);
int tdm_srtp_protect_rtcp(struct tdm_srtp *s, uint8_t *buf, size_t len, size_t cap);

/* Unprotect the SRTP (or SRTCP) packet buf[0..len) in place with the inbound session.
 * Returns the plain length (shorter by the trailer), or:
 *   TDM_EAUTH   the authentication tag did not verify (forged, corrupted, wrong key);
 *   TDM_EEXIST  replay: this index was already accepted, or is older than the window
 *               (duplicates are normal on the network: drop without logging each one);
 *   TDM_ETRUNC / TDM_EINVAL  too short or not a valid header;
 *   TDM_ECRYPTO anything else from libsrtp.
 * On error the contents of buf are unspecified. */
int tdm_srtp_unprotect_rtp(struct tdm_srtp *s, uint8_t *buf, size_t len);
int tdm_srtp_unprotect_rtcp(struct tdm_srtp *s, uint8_t *buf, size_t len);

#endif
