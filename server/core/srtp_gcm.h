/* Outbound SRTP for AEAD_AES_128_GCM (RFC 7714) on OpenSSL EVP: core/srtp.c uses it for
 * the RTP it protects when the negotiated profile is GCM. Private to server/core.
 *
 * Why not libsrtp here (the project prefers a well-kept library): Debian 12's libsrtp2 is
 * built on NSS. Through it one AES-128-GCM protect of a 1212-byte packet costs ~0.9 µs, half
 * the forwarding CPU goes to libsoftokn3/libfreeblpriv3, and NSS/NSPR take mutexes on every
 * call, while the hot path must take no global lock. The SFU protects each publisher packet
 * once per subscriber, so this one call dominates. OpenSSL 3 (already linked) does the same
 * GCM with AES-NI/PCLMUL in a fraction of that and without locks. libsrtp stays for all
 * else (unprotect, SRTCP, AES_CM_128_HMAC_SHA1_80), and is the reference in the unit tests,
 * which check this code byte for byte against libsrtp's own protect.
 *
 * Behaviour follows libsrtp 2.5's srtp_protect for an ssrc_any_outbound session with
 * allow_repeat_tx and a replay window of TDM_SRTP_REPLAY_WINDOW: the same header checks,
 * the same rollover-counter estimate per SSRC (so the same bytes), and an index more than
 * the window behind the newest refused. One owner thread; no allocation and no lock per
 * packet (the EVP context is keyed once; each packet sets only the IV). */
#ifndef TANDEM_SRTP_GCM_H
#define TANDEM_SRTP_GCM_H

#include <stddef.h>
#include <stdint.h>

#define TDM_SRTP_GCM_TAG 16

/* SSRCs whose rollover counter one session keeps. A subscriber receives at most
 * TDM_SUBSLOTS_MAX (64) tracks at once, plus the audio mix; each new consumer gets a fresh
 * random SSRC, so over a long session the least recently used (a consumer gone) is
 * forgotten when the table is full (libsrtp's list would grow without bound instead). */
#define TDM_SRTP_GCM_MAX_SSRC 128

struct tdm_srtp_gcm;

/* Derive the RTP session key and salt (RFC 3711 4.3, RFC 7714 11-12) from key_salt (16-byte
 * master key || 12-byte master salt, read, not kept) and key the cipher. Returns 0 and
 * *out, or TDM_ENOMEM, TDM_ECRYPTO. */
int tdm_srtp_gcm_create(struct tdm_srtp_gcm **out, const uint8_t *key_salt);
void tdm_srtp_gcm_destroy(struct tdm_srtp_gcm *g);

/* Protect the RTP packet buf[0..len) in place; the caller has checked len >= 12 and that
 * buf has room for the 16-byte tag after it. Returns len + 16, or TDM_EINVAL (CSRCs or the
 * header extension run past len), TDM_EEXIST (index older than the window), TDM_ECRYPTO. */
int tdm_srtp_gcm_protect(struct tdm_srtp_gcm *g, uint8_t *buf, size_t len);

#endif
