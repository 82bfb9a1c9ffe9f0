/* Receive log for one incoming RTP stream: notices sequence gaps and says which sequence
 * numbers to NACK (RFC 4585 §6.2.1) and when, with a retry limit and a maximum age.
 * Pion's "receive log -> NACK generator" stage as a plain module; the caller builds the
 * packet with tdm_rtcp_build_nack().
 *
 * Time is an argument (monotonic microseconds). The log is allocated once at create; the
 * per-packet calls do not allocate, lock or log. One log per incoming stream (per
 * producer SSRC); feed it the original sequence numbers, including those recovered from
 * RTX (the OSN, RFC 4588 §4). */
#ifndef TANDEM_NACK_H
#define TANDEM_NACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tdm_nack_rx;

struct tdm_nack_rx_cfg {
    size_t max_missing;        /* sequence numbers tracked at once (default 512) */
    uint32_t max_gap;          /* a forward jump larger than this is not repaired: the
                                  list is cleared and a keyframe wanted (default 512) */
    unsigned max_retries;      /* NACKs sent per sequence number (default 10) */
    int64_t max_age_us;        /* stop asking after this long (default 1 s) */
    int64_t min_wait_us;       /* reordering allowance before the first NACK (default 5 ms) */
    int64_t retry_interval_us; /* between NACKs of one number until an RTT is known
                                  (default 100 ms) */
};

/* Fills cfg with the defaults above. */
void tdm_nack_rx_cfg_default(struct tdm_nack_rx_cfg *cfg);

/* cfg NULL means defaults. Returns NULL on allocation failure or a zero max_missing /
 * max_retries. Destroy with tdm_nack_rx_destroy (NULL is fine). */
struct tdm_nack_rx *tdm_nack_rx_create(const struct tdm_nack_rx_cfg *cfg);
void tdm_nack_rx_destroy(struct tdm_nack_rx *rx);

/* Once known, NACKs for one number are spaced by the round-trip time (at least 5 ms). */
void tdm_nack_rx_set_rtt(struct tdm_nack_rx *rx, int64_t rtt_us);

/* Flags returned by tdm_nack_rx_on_packet. */
enum {
    TDM_NACK_RX_RECOVERED = 1, /* this number was missing: a late or retransmitted packet */
    TDM_NACK_RX_KEYFRAME = 2,  /* loss beyond repair: ask the sender for a keyframe */
};
/* Record a received packet. Returns a combination of the flags above (0 for an ordinary
 * in-order packet or a duplicate). */
int tdm_nack_rx_on_packet(struct tdm_nack_rx *rx, uint16_t seq, int64_t now_us);

/* A keyframe starts at `seq`: nothing before it is worth repairing any more. */
void tdm_nack_rx_on_keyframe(struct tdm_nack_rx *rx, uint16_t seq);

/* Sequence numbers due for a NACK now, oldest first, at most `max`; each one returned
 * counts as sent. Numbers older than max_age or past max_retries are dropped here, and
 * then a keyframe is wanted (see tdm_nack_rx_take_keyframe). Returns how many. */
size_t tdm_nack_rx_collect(struct tdm_nack_rx *rx, int64_t now_us, uint16_t *out, size_t max);

/* When collect will next have something to do: a NACK due or an entry to expire.
 * INT64_MAX when nothing is missing. */
int64_t tdm_nack_rx_next_deadline(const struct tdm_nack_rx *rx);

/* Numbers currently missing (not yet recovered nor given up). */
size_t tdm_nack_rx_missing(const struct tdm_nack_rx *rx);

/* True once after loss could not be repaired (gap too large, list overflow, a number
 * given up): the caller should send a PLI, throttled by tdm_rtx_kf_throttle. */
bool tdm_nack_rx_take_keyframe(struct tdm_nack_rx *rx);
/* Whether tdm_nack_rx_take_keyframe would return true now (it stays so until taken). */
bool tdm_nack_rx_keyframe_wanted(const struct tdm_nack_rx *rx);

#endif
