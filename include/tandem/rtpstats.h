/* RTP statistics for RTCP reports (RFC 3550 §6.4, appendix A).
 *
 * - tdm_rtpstats_rx: one per incoming stream (producer SSRC): extended highest sequence
 *   number and loss (A.1, A.3), interarrival jitter in timestamp units (A.8), and the
 *   LSR/DLSR of the last SR received, to fill a report block for a receiver report.
 * - tdm_rtpstats_tx: one per outgoing stream (consumer SSRC): packet and payload-octet
 *   counts and the NTP/RTP timestamp pair for a sender report, plus the round-trip time
 *   from the report blocks that come back (§6.4.1: A = arrival, RTT = A - LSR - DLSR,
 *   measured here on the monotonic clock against the moment each SR was built).
 *
 * Time is an argument: now_us is monotonic, wall_us is microseconds since the Unix epoch
 * (only used to stamp SRs). Both structs are embedded by value; no allocation, locking or
 * logging. Fields are private to rtpstats.c. */
#ifndef TANDEM_RTPSTATS_H
#define TANDEM_RTPSTATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tandem/rtcp.h"

struct tdm_rtpstats_rx {
    uint32_t ssrc, clock_rate;
    bool started;
    uint16_t max_seq;
    uint32_t cycles; /* shifted count of wraps (RFC 3550 A.1) */
    uint32_t base_seq, bad_seq;
    uint32_t received, expected_prior, received_prior;
    uint64_t bytes;
    bool have_transit;
    uint32_t transit;
    uint32_t jitter_q4; /* jitter * 16 (A.8 integer form) */
    bool have_sr;
    uint32_t lsr;
    int64_t lsr_recv_us;
};

void tdm_rtpstats_rx_init(struct tdm_rtpstats_rx *s, uint32_t ssrc, uint32_t clock_rate);

/* Count a received packet (bytes: its size, for the caller's bitrate figures). Returns 0
 * when counted; TDM_EAGAIN for the first packet after a jump of more than 3000 numbers
 * (A.1: not counted; a second one right after it restarts the statistics there). The
 * first packet ever starts the sequence: SRTP has already authenticated it, so A.1's
 * probation is not needed. Jitter is updated by packets that advance the sequence. */
int tdm_rtpstats_rx_on_packet(struct tdm_rtpstats_rx *s, uint16_t seq, uint32_t rtp_ts,
                              int64_t now_us, size_t bytes);

/* An SR arrived from this stream's sender (ntp: its 64-bit NTP timestamp). */
void tdm_rtpstats_rx_on_sr(struct tdm_rtpstats_rx *s, uint64_t ntp, int64_t now_us);

/* Fill a report block for a receiver report at now_us and start the next interval (the
 * fraction lost covers the time since the previous call). TDM_EAGAIN before any packet. */
int tdm_rtpstats_rx_report(struct tdm_rtpstats_rx *s, int64_t now_us, struct tdm_rtcp_rb *rb);

/* Accessors for the caller's own figures. */
uint32_t tdm_rtpstats_rx_jitter(const struct tdm_rtpstats_rx *s); /* timestamp units */
uint32_t tdm_rtpstats_rx_ext_highest(const struct tdm_rtpstats_rx *s);
int64_t tdm_rtpstats_rx_lost(const struct tdm_rtpstats_rx *s); /* cumulative, may be < 0 */
/* Packets expected since the last report: what the next report's fraction lost is out of. */
uint32_t tdm_rtpstats_rx_interval_expected(const struct tdm_rtpstats_rx *s);

#define TDM_RTPSTATS_SR_MEMORY 8 /* SRs remembered to match LSR in returning reports */

struct tdm_rtpstats_tx {
    uint32_t ssrc, clock_rate;
    uint32_t packets, octets; /* wrap at 2^32 as RFC 3550 §6.4.1 says */
    bool any;
    uint32_t last_ts;
    int64_t last_ts_us;
    unsigned sr_next;
    uint32_t sr_mid[TDM_RTPSTATS_SR_MEMORY];
    int64_t sr_us[TDM_RTPSTATS_SR_MEMORY];
};

void tdm_rtpstats_tx_init(struct tdm_rtpstats_tx *s, uint32_t ssrc, uint32_t clock_rate);

/* A packet went out (payload_len: payload octets, without header and padding). Count
 * original packets only, not retransmissions. */
void tdm_rtpstats_tx_on_packet(struct tdm_rtpstats_tx *s, uint32_t rtp_ts, size_t payload_len,
                               int64_t now_us);

/* Fill sr (nblocks left 0) for a sender report built now: NTP from wall_us, the RTP
 * timestamp extrapolated from the newest packet's timestamp by now_us. TDM_EAGAIN when
 * nothing was sent yet (send an RR instead). */
int tdm_rtpstats_tx_sr(struct tdm_rtpstats_tx *s, int64_t wall_us, int64_t now_us,
                       struct tdm_rtcp_sr *sr);

/* A report block about this stream came back: sets *rtt_us. TDM_EAGAIN when it names no
 * SR (LSR 0), TDM_ENOTFOUND when its LSR is not one of the last SRs built here. */
int tdm_rtpstats_tx_rtt(struct tdm_rtpstats_tx *s, const struct tdm_rtcp_rb *rb, int64_t now_us,
                        int64_t *rtt_us);

/* 64-bit NTP timestamp (RFC 5905: seconds since 1900 << 32 | fraction) of a Unix time. */
uint64_t tdm_rtpstats_ntp_from_wall_us(int64_t wall_us);
/* The middle 32 bits, as LSR carries them (RFC 3550 §6.4.1). */
uint32_t tdm_rtpstats_ntp_mid32(uint64_t ntp);

#endif
