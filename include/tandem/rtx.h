/* Answering NACKs and keyframe requests on the sending side.
 *
 * - tdm_rtx_hist: the send history of one outgoing stream (one per consumer): a fixed
 *   ring of slots keyed by outgoing sequence number, each holding a copy of the packet as
 *   it was sent (rewritten, before SRTP). A subscriber's NACK is answered from it, either
 *   with the original packet or wrapped as RTX (RFC 4588 §4) when RTX was negotiated.
 *   All memory is allocated at create; put/get/resend do not allocate, lock or log.
 * - tdm_rtx_wrap: the RTX packet format on its own.
 * - tdm_rtx_kf_throttle: at most one PLI/FIR forwarded to a producer per interval, however
 *   many subscribers ask; a request that arrives in the quiet time is remembered and goes
 *   out when the interval ends, unless a keyframe arrived first. Embedded by value. */
#ifndef TANDEM_RTX_H
#define TANDEM_RTX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TDM_RTX_DEFAULT_SLOTS 512
#define TDM_RTX_DEFAULT_SLOT_BYTES 1500

struct tdm_rtx_hist;

/* slots: a power of two from 16 to 32768 (so seq % slots stays continuous across the
 * 16-bit wrap); slot_bytes: 12..65535. Memory is slots * (slot_bytes + ~24) bytes: the
 * defaults take about 780 KB per outgoing stream. NULL on bad arguments or no memory. */
struct tdm_rtx_hist *tdm_rtx_hist_create(size_t slots, size_t slot_bytes);
void tdm_rtx_hist_destroy(struct tdm_rtx_hist *h);

/* Packets older than max_age_us are not resent (default 1 s: older ones would arrive
 * after the receiver's jitter buffer gave up on them), and one packet is not resent twice
 * within min_interval_us (default 0; set it near the RTT so a burst of NACKs for the same
 * loss costs one retransmission). */
void tdm_rtx_hist_set_limits(struct tdm_rtx_hist *h, int64_t max_age_us, int64_t min_interval_us);

/* Keep a copy of an outgoing RTP packet, keyed by its sequence number (read from the
 * packet). Returns 0, TDM_ETRUNC (under 12 bytes) or TDM_ETOOBIG (over slot_bytes: not
 * stored; a stale copy under that number is forgotten). Copies pkt; does not keep it. */
int tdm_rtx_hist_put(struct tdm_rtx_hist *h, const uint8_t *pkt, size_t len, int64_t now_us);

/* The stored copy of `seq`: *pkt points into the history (valid until the next put) and
 * the length is returned. TDM_ENOTFOUND when never stored, overwritten or too old. */
int tdm_rtx_hist_get(const struct tdm_rtx_hist *h, uint16_t seq, int64_t now_us,
                     const uint8_t **pkt);

/* The RTX stream of one consumer, when negotiated (RFC 4588: a=rtpmap rtx, apt=). */
struct tdm_rtx_stream {
    uint8_t pt;        /* the RTX payload type whose apt is the media payload type */
    uint32_t ssrc;     /* the RTX SSRC */
    uint16_t next_seq; /* RTX has its own sequence space; start it random */
};

/* Answer a NACK for `seq`: writes into out either the original packet (rtx NULL) or its
 * RTX form (rtx->next_seq is used and advanced). Returns the length, TDM_ENOTFOUND (not
 * in the history), TDM_EAGAIN (resent less than min_interval ago), or TDM_ETOOBIG. */
int tdm_rtx_hist_resend(struct tdm_rtx_hist *h, uint16_t seq, int64_t now_us,
                        struct tdm_rtx_stream *rtx, uint8_t *out, size_t cap);

/* RFC 4588 §4: the original header (CSRCs and extensions kept) with the RTX payload type,
 * SSRC and sequence number, then the original sequence number (OSN, 2 bytes) and the
 * original payload without its padding. Returns the length or a negative code
 * (malformed original, TDM_ETOOBIG). */
int tdm_rtx_wrap(uint8_t *out, size_t cap, const uint8_t *orig, size_t len, uint8_t rtx_pt,
                 uint32_t rtx_ssrc, uint16_t rtx_seq);

/* The reverse, for RTX arriving from a publisher: rewrites pkt in place into the
 * original packet (payload type apt_pt, SSRC media_ssrc, the OSN as sequence number) and
 * returns its new length. TDM_ETRUNC when there is no OSN. Padding is dropped. */
int tdm_rtx_unwrap(uint8_t *pkt, size_t len, uint8_t apt_pt, uint32_t media_ssrc);

/* --- keyframe request throttle ------------------------------------------------------- */

struct tdm_rtx_kf_throttle {
    int64_t interval_us;
    int64_t last_us; /* last request forwarded */
    bool sent_any;
    bool pending;
    uint8_t fir_seq;
};

/* interval_us: e.g. 500000 (500 ms). */
void tdm_rtx_kf_throttle_init(struct tdm_rtx_kf_throttle *t, int64_t interval_us);
/* A subscriber (or the receive log) wants a keyframe. True: forward a PLI/FIR to the
 * producer now. False: suppressed and remembered; poll again at the deadline. */
bool tdm_rtx_kf_throttle_request(struct tdm_rtx_kf_throttle *t, int64_t now_us);
/* True when a remembered request is due now (and counts it as forwarded). */
bool tdm_rtx_kf_throttle_poll(struct tdm_rtx_kf_throttle *t, int64_t now_us);
/* A keyframe came from the producer: a remembered request is satisfied. */
void tdm_rtx_kf_throttle_on_keyframe(struct tdm_rtx_kf_throttle *t);
/* When a remembered request is due; INT64_MAX when none. */
int64_t tdm_rtx_kf_throttle_deadline(const struct tdm_rtx_kf_throttle *t);
/* The FIR sequence number for a new request (RFC 5104 §4.3.1.2: increases by one per
 * new request, not per repetition). */
uint8_t tdm_rtx_kf_throttle_next_fir_seq(struct tdm_rtx_kf_throttle *t);

#endif
