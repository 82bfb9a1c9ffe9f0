/* Simulcast layer selection for one subscriber of one publisher's video: of the up to
 * TDM_LAYERSEL_MAX layers (separate RTP streams, RFC 8853) exactly one is forwarded, and the
 * subscriber sees one continuous stream.
 *
 * - A switch (to another layer, or back from "no video") happens only at the first packet
 *   of a keyframe of the target layer: before it, the current layer keeps flowing (or
 *   nothing, when paused), so the decoder never gets a frame it cannot decode.
 * - Sequence numbers and timestamps go through a tdm_seqmap (continuous across switches,
 *   the timestamp advancing by the wall time elapsed).
 * - VP8 (RFC 7741 §4.2): each layer has its own picture id and TL0PICIDX series, so both
 *   are rebased at a switch to continue where the previous layer stopped (a jump would make
 *   a receiver think frames were lost). The offsets of each forwarded packet are reported so
 *   that a later resend is rewritten the same way.
 *
 * Embedded by value; nothing here allocates, locks or logs (per-packet code). */
#ifndef TANDEM_LAYERSEL_H
#define TANDEM_LAYERSEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tandem/rtp.h"
#include "tandem/seqmap.h"

#define TDM_LAYERSEL_MAX 3
#define TDM_LAYERSEL_NONE (-1)

struct tdm_layersel {
    struct tdm_seqmap seq;
    int8_t cur;    /* layer forwarded now, TDM_LAYERSEL_NONE: none */
    int8_t target; /* layer wanted, TDM_LAYERSEL_NONE: no video */
    bool vp8;      /* rewrite the VP8 picture id and TL0PICIDX */
    bool rebase;   /* the next forwarded packet starts a new layer: compute offsets */
    bool have_pid, have_tl0;
    uint16_t pid_off, pid_hi; /* 15-bit picture id space */
    uint8_t tl0_off, tl0_hi;
    uint32_t switches; /* completed switches (a resume after a pause counts) */
};

/* How one packet was rewritten, kept for a resend of it. */
struct tdm_layersel_out {
    uint16_t seq;
    uint32_t ts;
    uint32_t ts_off; /* out ts = in ts + ts_off */
    uint16_t pid_off;
    uint8_t tl0_off;
    bool switched; /* this packet started a layer */
};

enum { TDM_LAYERSEL_FORWARD = 0, TDM_LAYERSEL_DROP = 1 };

/* seq0/ts0: the first outgoing values (random, RFC 3550 §5.1). vp8: the codec is VP8. The
 * initial target is layer 0. */
void tdm_layersel_init(struct tdm_layersel *l, uint16_t seq0, uint32_t ts0, bool vp8);

/* TDM_LAYERSEL_NONE or 0..TDM_LAYERSEL_MAX-1. A pause takes effect at once; a layer at its
 * next keyframe. */
void tdm_layersel_set_target(struct tdm_layersel *l, int target);

/* Whether the caller should ask the publisher for a keyframe of the target layer. */
static inline bool tdm_layersel_waiting(const struct tdm_layersel *l)
{
    return l->target != TDM_LAYERSEL_NONE && l->target != l->cur;
}

/* One packet of `layer` (its parsed view v; keyframe: v starts a keyframe). Returns
 * TDM_LAYERSEL_FORWARD with *o filled, TDM_LAYERSEL_DROP, or TDM_EINVAL (clock 0). */
int tdm_layersel_map(struct tdm_layersel *l, int layer, const struct tdm_rtp_view *v, bool keyframe,
                     int64_t now_us, uint32_t clock, struct tdm_layersel_out *o);

/* Rewrite the VP8 payload descriptor at p[0..len) in place: picture id + pid_off (in its
 * own width, 7 or 15 bits) and TL0PICIDX + tl0_off. Returns 0, or TDM_ETRUNC. */
int tdm_layersel_vp8_rewrite(uint8_t *p, size_t len, uint16_t pid_off, uint8_t tl0_off);

#endif
