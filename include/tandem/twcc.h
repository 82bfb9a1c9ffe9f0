/* Transport-wide congestion control on the wire (draft-holmer-rmcat-transport-wide-cc-
 * extensions-01): the sender numbers every RTP packet of a transport with one 16-bit
 * counter in a header extension, the receiver reports which numbers arrived and when in
 * RTCP transport-layer feedback (RTPFB, FMT 15).
 *
 * - tdm_twcc_stamp writes the number into a packet, adding the element (and the
 *   extension block) when the packet has none.
 * - tdm_rtcp_parse_twcc (core/rtcp.c) reads a feedback packet, outside input checked;
 *   tdm_twcc_arrivals turns its deltas into arrival times.
 * - tdm_twcc_build writes one, as a browser does (the simulator's subscribers, tests).
 *
 * Nothing here allocates, locks or logs: stamping runs per packet and per subscriber. */
#ifndef TANDEM_TWCC_H
#define TANDEM_TWCC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TDM_TWCC_DELTA_US 250     /* receive deltas count quarter milliseconds */
#define TDM_TWCC_REF_US 64000     /* the reference time counts 64 ms */
#define TDM_TWCC_MAX_STATUS 65535 /* a packet status count is 16 bits */

/* Write transport-wide sequence number seq under extension id `id` into the RTP packet
 * pkt[0..len), which may grow up to cap: an element with that id is overwritten in place;
 * otherwise one is appended to the extension block (into its padding when there is room,
 * else the block grows by a word and the payload moves), or a block is added (one-byte form
 * for ids 1..14, RFC 8285 §4.2; two-byte form otherwise, §4.3). Returns the new length,
 * TDM_EINVAL (not RTP, malformed extension block, id 0 or over 255, id over 14 in a one-byte
 * block) or TDM_ETOOBIG (cap too small). On error pkt is unchanged. */
int tdm_twcc_stamp(uint8_t *pkt, size_t len, size_t cap, unsigned id, uint16_t seq);

/* The fixed fields of a feedback packet to build. ref_time: 24-bit signed, in
 * TDM_TWCC_REF_US. */
struct tdm_twcc_fb {
    uint32_t sender_ssrc, media_ssrc;
    uint16_t base_seq;
    uint16_t count; /* packet status count */
    int32_t ref_time;
    uint8_t fb_count;
};

/* One packet a feedback reports: received or not, and when (the receiver's clock, µs:
 * ref_time * 64 ms plus the deltas so far; only differences between arrivals mean
 * anything). */
struct tdm_twcc_status {
    uint16_t seq;
    bool received;
    int64_t arrival_us;
};

/* The arrival times of a feedback read by tdm_rtcp_parse_twcc (core/rtcp.c checks it): the
 * n statuses of st become out[0..n) with absolute times (ref_time * 64 ms plus the deltas
 * so far). */
struct tdm_rtcp_twcc;
struct tdm_rtcp_twcc_status;
void tdm_twcc_arrivals(const struct tdm_rtcp_twcc *tw, const struct tdm_rtcp_twcc_status *st,
                       size_t n, struct tdm_twcc_status *out);

/* Write a feedback packet for st[0..n) (st[i].seq = fb->base_seq + i; arrival_us in the
 * same clock as fb->ref_time * 64 ms, not before it for the first received packet). As many
 * statuses as fit in cap and in the 16-bit delta range are written; *used says how many
 * (the caller starts the next packet there). fb->count is ignored. Chunks: run length for
 * runs of 14 or more equal symbols, else two-bit vectors of 7. Returns the length, or
 * TDM_EINVAL (n is 0, or the first received arrival is out of range), TDM_ETOOBIG (not even
 * one status fits). */
int tdm_twcc_build(uint8_t *out, size_t cap, const struct tdm_twcc_fb *fb,
                   const struct tdm_twcc_status *st, size_t n, size_t *used);

#endif
