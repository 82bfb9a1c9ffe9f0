/* Forwarding decisions of the SFU, sans-IO: how one publisher's RTP packet becomes a packet
 * in one subscriber's session, and how the subscribers' bandwidth estimates become the
 * estimate sent to the publisher.
 *
 * - tdm_fwd_extmap: the publisher and the subscriber negotiated header extension ids
 *   independently (RFC 8285 §5), so each forwarded packet's extension ids are rewritten in
 *   place. Extensions whose value cannot be forwarded as is (the mid, RFC 8843 §15: the
 *   subscriber's m-section has another mid; rid/repaired-rid, RFC 8852) or that the
 *   subscriber did not negotiate are renamed to an id the subscriber does not use, which a
 *   receiver ignores (RFC 8285 §4.1), so no byte has to move.
 * - tdm_fwd_rewrite: copy a packet into a scratch buffer and rewrite SSRC, sequence number,
 *   timestamp, payload type and extension ids.
 * - tdm_fwd_remb_target: the REMB (draft-alvestrand-rmcat-remb-03) the server sends a
 *   publisher.
 *
 * Nothing here allocates, locks or logs: it runs per packet and per subscriber. */
#ifndef TANDEM_FORWARD_H
#define TANDEM_FORWARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tandem/rtp.h"
#include "tandem/sdp.h"

/* Extension id translation for one (publisher stream, subscriber m-section) pair. Ids are
 * 1..14 in the one-byte form and 1..255 in the two-byte form; map[in] is the id written.
 * Embed by value. */
struct tdm_fwd_extmap {
    bool identity;   /* every id maps to itself: the walk is skipped */
    uint8_t neutral; /* an id (1..14) the subscriber does not use */
    uint8_t map[256];
};

/* Build the map from the ids the publisher negotiated (in_ids, per enum tdm_sdp_ext_id, 0:
 * none) and those of the subscriber's m-section (out_ids). Known extensions the subscriber
 * has keep their meaning under its id; the mid, rid and repaired-rid, anything the
 * subscriber lacks and every unknown id are renamed to the lowest one-byte id the
 * subscriber does not use. Returns 0, or TDM_EFULL when the subscriber uses every one-byte
 * id (impossible with the allow-list; then nothing can be renamed safely). */
int tdm_fwd_extmap_build(struct tdm_fwd_extmap *m, const uint8_t in_ids[TDM_SDP_EXT_COUNT],
                         const uint8_t out_ids[TDM_SDP_EXT_COUNT]);

/* Rename the extension ids of the packet pkt[0..len) in place, as parsed into v (the block
 * is walked again with bounds; v->buf need not be pkt, only the same bytes). One-byte and
 * two-byte forms; other profiles are left alone. In the one-byte form an id that does not
 * fit (over 14, RFC 8285 §4.2) becomes the neutral id. Returns 0 or TDM_EINVAL (malformed
 * block: nothing after the bad element is touched). */
int tdm_fwd_remap_ext(uint8_t *pkt, size_t len, const struct tdm_rtp_view *v,
                      const struct tdm_fwd_extmap *m);

/* What a packet becomes for one subscriber. */
struct tdm_fwd_out {
    uint32_t ssrc;
    uint16_t seq;
    uint32_t ts;
    uint8_t pt;
    const struct tdm_fwd_extmap *extmap; /* NULL: extensions unchanged */
};

/* Copy the parsed packet v (v->buf[0..v->len)) into out[0..cap) and rewrite it as o says
 * (the marker bit is kept). Returns the length, or TDM_ETOOBIG when cap < v->len. */
int tdm_fwd_rewrite(uint8_t *out, size_t cap, const struct tdm_rtp_view *v,
                    const struct tdm_fwd_out *o);

/* One subscriber's view for the REMB to a publisher: its own latest REMB (bit/s, 0 when
 * none arrived yet or it is older than the caller's horizon), how many video streams it
 * receives in total (it shares its estimate among them), and the rate at which it currently
 * receives this publisher's video (bit/s, 0 when unknown). */
struct tdm_fwd_remb_in {
    uint64_t remb_bps;
    uint32_t video_streams;
    uint64_t rate_bps;
};

/* The publisher's estimate. A receiver's REMB (receive-side estimation, as Chromium does it)
 * never rises above about 1.5 times what it receives and climbs some 8 % a second, so
 * passing it on would hold a publisher near its start rate for a long time. It falls below
 * what the receiver gets only when the receiver detected congestion (its AIMD decrease sets
 * 0.85 times the incoming rate). So a subscriber's share (remb_bps / video_streams) counts
 * only when it is below 0.95 times rate_bps (and rate_bps is known); the target is the smallest
 * such share, clamped to [floor_bps, cap_bps], and cap_bps when no subscriber is congested. */
uint64_t tdm_fwd_remb_target(const struct tdm_fwd_remb_in *in, size_t n, uint64_t floor_bps,
                             uint64_t cap_bps);

/* A loss-based estimate of what one subscriber's line carries of one video stream, updated
 * with each of its receiver reports: the loss-based half of Google congestion control
 * (draft-ietf-rmcat-gcc-02 §6). Receive-side REMB sees queues (delay) but not a policer or a
 * radio that drops without queueing, and the publisher never hears of losses past the
 * server, so the server acts on the subscriber's fraction lost (8-bit fixed point):
 * over 10 %: (the smaller of est and rate_bps, the rate sent to it) × (1 − loss / 2);
 * under 2 %: est grows 5 %, and is dropped (0: no limit known) once it passes cap_bps;
 * in between: held. The caller caps the publisher's REMB at the smallest estimate. */
uint64_t tdm_fwd_loss_estimate(uint64_t est_bps, uint64_t rate_bps, uint8_t fraction_lost,
                               uint64_t cap_bps);

/* The loss an audio publisher is told in our receiver reports (fraction lost, 8-bit fixed
 * point). Its browser sets its Opus encoder's expected loss from that figure, and in-band FEC
 * (LBRR, RFC 6716 §2.1.7) is sent only while it is above 0; but the server terminates RTCP,
 * so without this the encoder would know only its own uplink. target: the worst loss of its
 * listeners' recent reports (each counts the losses before the server too) or of its uplink;
 * held: what the last report said. The result is target bounded to TDM_FWD_AUDIO_LOSS_MAX;
 * when target is lower, held falls by a quarter per report instead (a listener's loss comes
 * in bursts and browsers report audio only every 2.5-7.5 s). */
#define TDM_FWD_AUDIO_LOSS_MAX 51 /* 20 %: Opus FEC gains nothing past it; the voice needs bits */
uint8_t tdm_fwd_audio_loss(uint8_t held, uint8_t target);

/* How loud a microphone is, for the room's active speaker: the RFC 6464 audio level of each
 * packet (level: 0..127, -dBov; voice: the sender's voice activity bit) as a score
 * (127 - level) * 16, 0 without voice, smoothed over about 16 frames of 20 ms. dts: the RTP
 * timestamp advance since the previous packet (clock: its rate). With Opus DTX a microphone
 * in silence sends one packet per 400 ms instead of 50 a second: the frames it left out
 * count as silence, so a voice that stopped fades in time rather than in packets (at most
 * TDM_FWD_LEVEL_GAP_FRAMES of them, by then it has faded; a packet from the past counts as one). */
#define TDM_FWD_LEVEL_GAP_FRAMES 64
uint16_t tdm_fwd_level_ema(uint16_t ema, uint8_t level, bool voice, uint32_t dts, uint32_t clock);

/* What a voice is charged in a subscriber's allocation, updated at each rate measurement
 * (rate: what it carries now, smoothed): the most it carried lately, held and fading by
 * 1/TDM_FWD_VOICE_FADE per measurement (half in ~44: ~20 s at two a second). With Opus DTX
 * a pause costs a tenth of speech; that tenth alone would hand a silent person's voice to
 * the pictures, to be taken back late at their first word, and let automatic audio only
 * come and go with the conversation. A listener silent for minutes stops costing. */
#define TDM_FWD_VOICE_FADE 64
uint64_t tdm_fwd_voice_hold(uint64_t held, uint64_t rate);

/* What a voice is charged now, from its measured rate and tdm_fwd_voice_hold's figure: while
 * it talks (rate at least 3/4 of the held figure), what it sends; in a pause, the held figure.
 * Charging a talking voice its peak rather than its rate takes a few hundred bit/s per voice
 * from pictures on lines where that decides whether the last picture fits. */
uint64_t tdm_fwd_voice_charge(uint64_t held, uint64_t rate);

/* How much of a voice a report block's fraction lost (1/256) means, for the connection
 * quality and the loss an audio publisher is told: the share of the interval's 20 ms frames
 * lost, not of its packets. With Opus DTX a pause sends about 5 packets a second instead of
 * 50: one of them lost is 2 % of that second, not 20 %. packets: expected in the interval
 * (RFC 3550 A.3), interval_us: its length (0 or less: unknown, fraction as it is). */
uint8_t tdm_fwd_voice_loss(uint8_t fraction, uint32_t packets, int64_t interval_us);

/* Retransmissions to one subscriber are paid from a token bucket: under congestion, NACKs
 * for most packets would otherwise double the load on the line that is already losing. */
struct tdm_fwd_budget {
    int64_t tokens; /* bytes */
    int64_t at_us;  /* last refill; 0: never (starts full) */
};
#define TDM_FWD_BUDGET_BURST 32768   /* bytes */
#define TDM_FWD_BUDGET_MIN_BPS 64000 /* refill floor */
#define TDM_FWD_BUDGET_SHARE_DIV 4   /* refill: a quarter of the rate sent */
/* Whether a resend of len bytes may go now; takes the tokens if so. Refills at
 * rate_bps / TDM_FWD_BUDGET_SHARE_DIV (at least TDM_FWD_BUDGET_MIN_BPS), up to the burst. */
bool tdm_fwd_budget_take(struct tdm_fwd_budget *b, size_t len, uint64_t rate_bps, int64_t now_us);

#endif
