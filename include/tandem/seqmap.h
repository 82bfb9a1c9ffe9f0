/* Per-consumer RTP rewriting state: maps one incoming stream at a time (the "source": a
 * producer's SSRC, which changes when the publisher restarts or, later, when a simulcast
 * layer is switched) onto one continuous outgoing sequence-number and timestamp space.
 *
 * - Within a source, out = in + offset, so losses stay visible as gaps (the subscriber
 *   NACKs them) and reordering is preserved.
 * - On a switch the outgoing sequence continues at last + 1 and the timestamp advances by
 *   the wall time elapsed since the last forwarded packet (now_us and the clock rate are
 *   arguments), so the subscriber's jitter buffer sees one stream.
 * - Packets the caller drops on purpose (tdm_seqmap_drop) close up, leaving no gap.
 * - Duplicates and packets older than the window are refused.
 *
 * The struct is embedded by value in the consumer (no allocation; its fields are private
 * to seqmap.c). Nothing here allocates, locks or logs. */
#ifndef TANDEM_SEQMAP_H
#define TANDEM_SEQMAP_H

#include <stdbool.h>
#include <stdint.h>

#define TDM_SEQMAP_WINDOW 512   /* incoming packets remembered for duplicate detection */
#define TDM_SEQMAP_MAX_DROPS 32 /* runs of purposeful drops remembered to map late packets */

/* Results of tdm_seqmap_map / tdm_seqmap_drop (negative values are TDM_E* errors). */
enum tdm_seqmap_result {
    TDM_SEQMAP_FORWARD = 0, /* send it with *out_seq / *out_ts */
    TDM_SEQMAP_DUP = 1,     /* already forwarded (or dropped): discard */
    TDM_SEQMAP_OLD = 2,     /* older than the window or than the current source: discard */
    TDM_SEQMAP_OTHER = 3,   /* not from the selected source: discard */
};

struct tdm_seqmap {
    bool started;
    bool switch_armed;
    uint32_t src_ssrc, switch_ssrc;
    int64_t in_first, in_hi, floor; /* extended incoming seqs of the current source */
    int64_t seq_off;                /* out = in + seq_off (+ drops above in) */
    int64_t out_hi;
    uint32_t ts_off;
    uint32_t out_ts_hi;
    int64_t out_ts_hi_us;
    uint16_t next_seq;
    uint32_t next_ts;
    uint8_t ndrops;
    int64_t drop_lo[TDM_SEQMAP_MAX_DROPS]; /* runs of dropped incoming seqs, ascending */
    int64_t drop_hi[TDM_SEQMAP_MAX_DROPS];
    uint64_t seen[TDM_SEQMAP_WINDOW / 64];
};

/* The first packet ever forwarded gets out_seq_start / out_ts_start (RFC 3550 §5.1 says
 * both should be random: the caller draws them). */
void tdm_seqmap_init(struct tdm_seqmap *m, uint16_t out_seq_start, uint32_t out_ts_start);

/* Arm a switch: the next packet from `ssrc` (which may equal the current source, for a
 * publisher that restarted its numbering under the same SSRC) starts a new source.
 * Until it arrives, the current source keeps being forwarded. */
void tdm_seqmap_switch(struct tdm_seqmap *m, uint32_t ssrc);

/* Map one incoming packet. The first packet after init starts the first source. Returns
 * a tdm_seqmap_result, or TDM_EINVAL when clock_rate is 0. */
int tdm_seqmap_map(struct tdm_seqmap *m, uint32_t ssrc, uint16_t seq, uint32_t ts, int64_t now_us,
                   uint32_t clock_rate, uint16_t *out_seq, uint32_t *out_ts);

/* The caller will not forward this packet (padding-only, a layer it filters out): later
 * packets are renumbered so the subscriber sees no gap. Only the newest packet can be
 * closed up; dropping a late one leaves its gap. Returns a tdm_seqmap_result
 * (TDM_SEQMAP_FORWARD meaning "recorded"). */
int tdm_seqmap_drop(struct tdm_seqmap *m, uint32_t ssrc, uint16_t seq);

/* One outgoing number for a padding-only packet (a bandwidth probe on the media SSRC, as
 * libwebrtc sends when RTX is not negotiated), right after the newest: *out_seq, and the
 * newest timestamp in *out_ts. Only when the newest incoming packet was the last one
 * numbered (TDM_ESTATE otherwise, and before the first packet or with a switch armed);
 * later packets continue after the pad, and anything older than the newest is refused from
 * then on (it would take a number already used), so the caller pads only when the source
 * has nothing outstanding. */
int tdm_seqmap_pad(struct tdm_seqmap *m, uint16_t *out_seq, uint32_t *out_ts);

#endif
