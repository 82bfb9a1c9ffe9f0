/* SRTP and SRTCP for AEAD_AES_128_GCM (RFC 7714) on OpenSSL EVP: core/srtp.c uses it for
 * all it protects and unprotects when the negotiated profile is GCM. Private to server/core.
 *
 * Why not libsrtp here (the project prefers a well-kept library): Debian 12's libsrtp2 is
 * built on NSS. Through it one AES-128-GCM protect of a 1212-byte packet costs ~0.9 µs, half
 * the forwarding CPU goes to libsoftokn3/libfreeblpriv3, and NSS/NSPR take mutexes on every
 * call, while the hot path must take no global lock. The SFU unprotects each publisher packet
 * once and protects it once per subscriber, so these two calls are the fan-out's crypto.
 * OpenSSL 3 (already linked) does the same GCM with AES-NI/PCLMUL in a fraction of that and
 * without locks. SRTCP comes along so that a GCM peer needs no libsrtp session at all.
 * libsrtp stays for AES_CM_128_HMAC_SHA1_80, and is the reference in the unit tests and the
 * fuzz target, which check this code against libsrtp's own protect (byte for byte) and
 * unprotect (same accept/reject decision, same plain bytes).
 *
 * Behaviour follows libsrtp 2.5's srtp_protect for an ssrc_any_outbound session with
 * allow_repeat_tx and a replay window of TDM_SRTP_REPLAY_WINDOW: the same header checks,
 * the same rollover-counter estimate per SSRC (so the same bytes), and an index more than
 * the window behind the newest refused. Inbound follows srtp_unprotect for ssrc_any_inbound
 * with the same window: a new SSRC is taken at ROC 0 and remembered only once a packet of it
 * authenticates; after that the index is estimated from the highest accepted (RFC 3711
 * 3.3.1) and checked against the replay window (3.3.2) before the tag, in libsrtp's order.
 * SRTCP follows srtp_protect_rtcp / srtp_unprotect_rtcp: per SSRC an index counting from 1
 * with the E bit set, and on receive libsrtp's fixed 128-index window (RFC 7714 9).
 * One owner thread; no allocation and no lock per packet (each EVP context is keyed once;
 * each packet sets only the IV). */
#ifndef TANDEM_SRTP_GCM_H
#define TANDEM_SRTP_GCM_H

#include <stddef.h>
#include <stdint.h>

#define TDM_SRTP_GCM_TAG 16

/* SSRCs whose rollover counter (and SRTCP index) one session keeps. A subscriber receives at most
 * TDM_SUBSLOTS_MAX (64) tracks at once, plus the audio mix; each new consumer gets a fresh
 * random SSRC, so over a long session the least recently used (a consumer gone) is
 * forgotten when the table is full (libsrtp's list would grow without bound instead). */
#define TDM_SRTP_GCM_MAX_SSRC 128

/* SSRCs whose receive state (rollover counter and a TDM_SRTP_REPLAY_WINDOW-bit replay
 * window, 136 bytes; for SRTCP a 128-bit window) one inbound session keeps. A browser publisher
 * sends from a handful (audio, up to three simulcast layers and their RTX, a screen); a load-tool
 * client receives a room's consumers. When full, the stream least recently accepted is forgotten:
 * should it come back, it starts again as a new SSRC (ROC 0, empty window), as libsrtp's
 * would after srtp_remove_stream. */
#define TDM_SRTP_GCM_RX_MAX_SSRC 32

struct tdm_srtp_gcm;
struct tdm_srtp_gcm_rx;

/* Derive the RTP session key and salt (RFC 3711 4.3, RFC 7714 11-12) from key_salt (16-byte
 * master key || 12-byte master salt, read, not kept) and key the cipher, for protecting
 * (tdm_srtp_gcm_create) or unprotecting (tdm_srtp_gcm_rx_create). Returns 0 and *out, or
 * TDM_ENOMEM, TDM_ECRYPTO. */
int tdm_srtp_gcm_create(struct tdm_srtp_gcm **out, const uint8_t *key_salt);
void tdm_srtp_gcm_destroy(struct tdm_srtp_gcm *g);
int tdm_srtp_gcm_rx_create(struct tdm_srtp_gcm_rx **out, const uint8_t *key_salt);
void tdm_srtp_gcm_rx_destroy(struct tdm_srtp_gcm_rx *r);

/* Protect the RTP packet buf[0..len) in place; the caller has checked len >= 12 and that
 * buf has room for the 16-byte tag after it. Returns len + 16, or TDM_EINVAL (CSRCs or the
 * header extension run past len), TDM_EEXIST (index older than the window), TDM_ECRYPTO. */
int tdm_srtp_gcm_protect(struct tdm_srtp_gcm *g, uint8_t *buf, size_t len);

/* Unprotect the SRTP packet buf[0..len) in place; the caller has checked 12 <= len <=
 * INT_MAX. Returns len - 16, or TDM_EINVAL (CSRCs or the extension run past len, or less
 * than a tag after the header), TDM_EEXIST (replay: the index was accepted before, or is
 * older than the window), TDM_EAUTH (the tag did not verify), TDM_ECRYPTO. On error the
 * contents of buf are unspecified and the session is unchanged. */
int tdm_srtp_gcm_unprotect(struct tdm_srtp_gcm_rx *r, uint8_t *buf, size_t len);

/* Protect the RTCP packet buf[0..len) in place (RFC 7714 9.2: the first 8 octets and the
 * E||index trailer authenticated, the rest encrypted; tag then trailer appended); the caller
 * has checked len >= 8 and room for 20 bytes after it. Returns len + 20, or TDM_ECRYPTO (also
 * when the SSRC's 31-bit index is spent, as libsrtp's key_expired). An SSRC forgotten from
 * the full table and seen again goes on above every index a forgotten SSRC reached, so no
 * index (no IV) is used twice. */
int tdm_srtp_gcm_protect_rtcp(struct tdm_srtp_gcm *g, uint8_t *buf, size_t len);

/* Unprotect the SRTCP packet buf[0..len) in place, encrypted or not (E bit clear: RFC 7714
 * 9.3); the caller has checked 8 <= len <= INT_MAX. Returns len - 20, or TDM_EINVAL (shorter
 * than header, tag and trailer), TDM_EEXIST (replay, or behind the SSRC's window),
 * TDM_EAUTH, TDM_ECRYPTO. On error buf is unspecified and the session unchanged. */
int tdm_srtp_gcm_unprotect_rtcp(struct tdm_srtp_gcm_rx *r, uint8_t *buf, size_t len);

#endif
