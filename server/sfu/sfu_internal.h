/* The SFU core's data model and its files' functions, for server/sfu/ only.
 *
 * Layers, bottom up; a file calls only the sections above its own (scripts/callgraph.sh
 * checks that the files' calls form no cycle):
 *   out.c       the transmit queue, the event queue, whose deadlines to recompute, randomness
 *   peer.c      one connection: ICE-lite session, DTLS, SRTP, where its media goes
 *   layers.c    simulcast: a producer's layers, binding SSRCs by rid, the shared send history
 *   downlink.c  transport-wide numbers on "sub" connections, their feedback, the estimate
 *               and padding probes (core/twcc.c, core/gcc.c)
 *   feedback.c  RTCP in and out, keyframe requests
 *   audiomix.c  the Opus mix for audio-only listeners (core/mix.c): one mixer per room that
 *               has such a listener, its m-section in their sub offers, its packets out
 *   fanout.c    RTP in: the producer of a packet, and the fan-out to its consumers
 *   speaker.c   the room's active speaker, from the audio level of everyone's packets
 *   rrest.c     the downlink estimate from receiver reports and REMB (pages without
 *               transport-cc feedback), and its padding probes
 *   alloc.c     per subscriber: its estimate spent over layers and tiles, audio only
 *   quality.c   each person's connection as good / fair / poor, told to the room
 *   roster.c    rooms, participants, producers and consumers coming and going
 *   nego.c      offer/answer of "pub" and "sub" connections
 *   sfu.c       include/tandem/sfu.h: inputs, time-outs, the one flush point of sub offers
 * Upward effects are data, never calls: a peer reports "connected" or "failed" in its
 * fields and return values, a participant whose subscriptions changed is marked
 * (offer_wanted) and sfu.c makes the offers after each input. */
#ifndef TANDEM_SFU_INTERNAL_H
#define TANDEM_SFU_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tandem/cert.h"
#include "tandem/dtls.h"
#include "tandem/forward.h"
#include "tandem/gcc.h"
#include "tandem/ice.h"
#include "tandem/layersel.h"
#include "tandem/log.h"
#include "tandem/mix.h"
#include "tandem/nack.h"
#include "tandem/rtp.h"
#include "tandem/rtpstats.h"
#include "tandem/rtx.h"
#include "tandem/sdp.h"
#include "tandem/seqmap.h"
#include "tandem/sfu.h"
#include "tandem/srtp.h"
#include "tandem/subslots.h"
#include "tandem/timerheap.h"

#define SFU_MAX_PRODS 16                 /* tracks one page may publish */
#define SFU_KF_INTERVAL_US 500000        /* at most one keyframe request per producer per 0.5 s */
#define SFU_RTCP_INTERVAL_US 1000000     /* reports and REMB, per peer (RFC 3550 §6.2 scaled) */
#define SFU_AUDIO_REPORT_AGE_US 12000000 /* a listener's audio report counts this long */
#define SFU_REMB_CAP_BPS 2000000         /* what a publisher may send (1:1 and small groups) */
#define SFU_REMB_FLOOR_BPS 150000
#define SFU_REMB_SIMULCAST_BPS 3000000  /* three layers of 720p fit */
#define SFU_REMB_MAX_AGE_US 5000000     /* a subscriber's REMB older than this is not used */
#define SFU_SUB_RETRY_US 1000000        /* a sub connection refused while busy is tried again */
#define SFU_RTX_SLOTS 256               /* ~1.3 s of video at 200 packets/s */
#define SFU_RTX_SLOT_BYTES 1300         /* browsers' RTP packets stay under ~1250 bytes */
#define SFU_TICK_RESERVE 64             /* free transmit slots a time-out's piece of work needs */
#define SFU_MAX_LAYERS TDM_LAYERSEL_MAX /* simulcast layers of one video track */
#define SFU_TWCC_RING 1024 /* packets remembered per sub connection: ~2 s at 4 Mbit/s */

enum peer_kind { PEER_PUB, PEER_SUB };

/* A participant's or a room's place among the worker's deadlines (out.c, sfu.c): the
 * earliest time anything of it is due, so that a time-out ticks only what is due. */
struct sfu_timer {
    struct tdm_timer node; /* first: in s->timers at that time (INT64_MAX: nothing) */
    uint32_t idx;          /* its place in s->rooms or its room's parts: the tick order */
    bool room;             /* a room's (its mix), else a participant's */
    bool dirty;            /* listed in s->dirty: recomputed at the end of the input */
    bool due;              /* taken from the heap by the running time-out, to be ticked */
    bool polled;           /* listed in s->poll: ticked by every time-out (SFU_POLL) */
};
/* What a deadline function returns for work that waits for the next time-out, whatever
 * wakes it (a clock that starts at its first tick, a flag set by a packet, a probe that
 * may start): no wake-up of its own, as when every time-out ticked everyone. */
#define SFU_POLL INT64_MIN

/* One ICE-lite + DTLS-SRTP association with a page (its "pub" or its "sub" connection).
 * Written by peer.c only, except remb_* and next_rtcp_us (feedback.c). */
struct peer {
    struct part *part;
    enum peer_kind kind;
    uint64_t ice_id;
    struct tdm_dtls *dtls;
    struct tdm_srtp *srtp; /* NULL until DTLS is connected */
    bool have_dst;
    struct tdm_sfu_path dst;
    char remote_ufrag[TDM_SDP_ICE_CAP];
    struct tdm_fingerprint remote_fp;
    uint32_t rtcp_ssrc; /* our sender SSRC for reports and feedback */
    int64_t next_rtcp_us;
    uint64_t remb_bps; /* the page's latest REMB (sub connections) */
    int64_t remb_us;
    bool connected; /* DTLS came up since the owner last looked (peer_take_connected) */
    bool failed;    /* ICE or DTLS failed: released by sfu.c's tick */
    bool pending;   /* counted in n_pending until DTLS is up */
    int64_t created_us;
    const char *fail_why;
    uint64_t sess_id, sess_version;
    struct sfu_dl *dl; /* "sub" with transport-wide-cc negotiated: the downlink estimate */
};

/* An incoming track: what one publisher sends in one m-section. */
struct prod {
    uint64_t key; /* unique in the core, never reused */
    struct part *owner;
    enum tdm_sdp_kind kind;
    enum tdm_sdp_codec_id codec;
    char mid[TDM_SDP_MID_CAP]; /* in the publisher's session */
    char track_id[TDM_SDP_ID_CAP];
    uint32_t ssrc, rtx_ssrc;
    uint8_t pt;
    int16_t rtx_pt;
    uint32_t clock;
    uint16_t fb;
    uint8_t ext[TDM_SDP_EXT_COUNT]; /* the publisher's extension ids */
    struct tdm_nack_rx *nack;       /* video with nack negotiated, else NULL */
    struct tdm_rtpstats_rx rx;
    struct tdm_rtx_kf_throttle kf;
    bool kf_wanted; /* a request to send once the publisher's keys exist */
    struct cons **cons;
    uint32_t n_cons, cap_cons;
    /* simulcast (layers.c): each layer is a producer of its own (SSRC, receive log, reports,
     * keyframe requests); the base (layer 0, the lowest) owns the consumers and lists them
     * all. Without simulcast n_layers is 0 and base NULL. */
    struct prod *base;                   /* a layer above 0: its base; else NULL */
    struct prod *layers[SFU_MAX_LAYERS]; /* the base's layers, [0] itself */
    uint8_t n_layers, layer;
    char rid[TDM_SDP_RID_CAP]; /* "" without simulcast */
    struct tdm_rtx_hist *hist; /* video with NACK: every packet once, as it came, for all */
    int64_t last_rtp_us;       /* the last packet (a layer the browser stopped goes quiet) */
    uint64_t rate_bytes;       /* rx.bytes at the last rate update */
    int64_t rate_us;
    uint64_t rate_bps;  /* what this layer carries (alloc.c, about once a second) */
    uint64_t voice_bps; /* audio: what it carried lately, held through DTX pauses (forward.h) */
    uint16_t level_ema; /* audio: loudness (127 - dBov, x16), smoothed (fanout.c) */
    uint32_t level_ts;  /* audio: the newest timestamp level_ema has seen */
    bool level_seen;
    bool in_mix;       /* audio: a speaker of its room's mixer (audiomix.c) */
    bool screen;       /* video: the owner's shared screen (nego.c), sent as msid "screen" */
    uint8_t told_loss; /* audio: the fraction lost our last report told its publisher */
    int64_t rr_us;     /* when our last report on it went (feedback.c) */
};

/* How one forwarded packet was rewritten, for a resend from the shared history. */
struct sfu_sent {
    uint16_t out_seq, in_seq;
    uint8_t layer, tl0_off;
    uint16_t pid_off;
    uint32_t ts_off;
    int64_t resent_us;
};

/* One producer as one subscriber receives it (one m-section of its "sub" connection). */
struct cons {
    struct prod *prod;
    struct part *sub;
    int slot;
    uint32_t ssrc;
    uint8_t pt;
    bool live; /* the slot's answer is in and the sub connection has keys */
    struct tdm_fwd_extmap extmap;
    struct tdm_rtpstats_tx tx;
    uint32_t rate_octets; /* tx.octets at the last report, for rate_bps */
    int64_t rate_us;
    uint64_t rate_bps; /* what the subscriber received over the last report interval */
    uint64_t loss_bps; /* video: the loss-based estimate of its line (forward.h), 0: none */
    struct tdm_fwd_budget resend; /* video: what NACKs may cost this line */
    /* simulcast and the shared history (layers.c); sel.seq is the numbering of every kind */
    struct tdm_layersel sel;
    struct sfu_sent *sent; /* video: SFU_RTX_SLOTS, by outgoing seq; NULL for audio */
    int64_t key_asked_us;  /* the last keyframe asked for a switch */
    int64_t resend_min_us; /* one resend of a packet per this (about half the RTT) */
    uint8_t max_layer;     /* alloc.c: the tile's size allows up to this layer */
    bool hidden;           /* alloc.c: the page does not show it */
    uint16_t tile_w, tile_h;
    uint8_t rep_frac;   /* video: the fraction lost of its latest report block (feedback.c) */
    int64_t rep_us;     /* when that came */
    uint8_t voice_frac; /* audio: the same, for what its publisher is told (feedback.c) */
    int64_t voice_us;
    uint32_t voice_hi;     /* audio: that report's extended highest sequence number */
    int64_t rtt_us;        /* the round trip that block gave, 0: none */
    uint32_t rep_octets;   /* tx.octets at that report */
    uint64_t rep_rate_bps; /* sent between the last two reports */
    bool dl_marker;        /* its last forwarded packet ended a frame (a pad may follow) */
    bool line_off; /* video: stopped because the subscriber's line cannot carry it (alloc.c) */
};

/* A participant of a room. */
struct part {
    struct sfu_timer timer; /* its deadlines: sfu_wake when one may have moved */
    struct room *room;
    char id[TDM_PARTICIPANT_ID_LEN + 1];
    struct peer *pub, *sub;
    bool published;                /* sent a pub offer: sub offers may follow */
    bool recv_only;                /* asked to receive without a pub connection: the same */
    bool offer_wanted;             /* its subscriptions changed: sfu.c offers at the end */
    bool block_audio, block_video; /* moderation: none of it is forwarded */
    bool no_video_in;              /* data saver: forward it nobody's video */
    int64_t sub_retry_us;          /* the sub connection was refused (busy): retry then; 0 */
    struct prod *prods[SFU_MAX_PRODS];
    uint32_t n_prods;
    /* the "sub" connection's negotiation */
    struct tdm_subslots slots;
    struct cons *slot_cons[TDM_SUBSLOTS_MAX];
    uint8_t slot_codec[TDM_SUBSLOTS_MAX]; /* enum tdm_sdp_codec_id, kept for inactive ones */
    char *sub_current; /* the last agreed local description (text), NULL before */
    char *sub_pending; /* the offer awaiting its answer (text) */
    uint8_t pt_for[TDM_SDP_CODEC_RTX + 1]; /* payload types of this page's browser */
    struct cons **cons;                    /* every consumer of this subscriber */
    uint32_t n_cons, cap_cons;
    /* alloc.c: the estimate of the sub connection's line and what it is spent on */
    uint64_t est_bps;      /* loss-based estimate, 0: no limit known */
    int64_t est_us;        /* reports up to this time are counted in it */
    int64_t hold_until_us; /* no layer goes up before this (an upgrade failed) */
    int64_t hold_us;       /* the next such hold */
    int64_t up_at_us;      /* the last upgrade: a loss soon after means it failed */
    uint64_t step_bps;     /* what the cheapest upgrade would add, 0: none left */
    uint64_t good_bps;     /* what flowed before the last upgrade (it was carried) */
    uint64_t alloc_bps;    /* what the last allocation spent (the layers' rates, audio) */
    int64_t cut_at_us;     /* the last cut of the estimate */
    int64_t min_rtt_us, min_rtt_at_us; /* the smallest round trip lately, and when */
    int64_t next_alloc_us;
    struct tdm_sfu_tile *tiles; /* the page's layout (media.layout), n_tiles */
    uint8_t n_tiles;
    int8_t ao_mode;       /* enum tdm_sfu_ao_mode */
    bool audio_only;      /* automatic audio only is on */
    int64_t ao_low_since; /* the estimate has been below the threshold since; 0 */
    int64_t ao_on_us;     /* when automatic audio only began */
    /* alloc.c, transport-cc: an upgrade waits until the estimate has paid it since
     * up_since_us (0: it does not), then padding at its rate (dl_pad) runs until
     * up_probe_until_us (0: none) for up_goal_bps; that verified, up_ok_until_us lets
     * allocations up to the goal go; a probe or upgrade that failed doubles up_back_us */
    int64_t up_since_us, up_probe_until_us, up_ok_until_us, up_back_us;
    uint64_t up_goal_bps;
    uint64_t up_reported, up_reported_lost; /* the estimator's counts when the probe began */
    int64_t up_quiet_until_us;              /* a failed probe's losses: not the line's until then */
    int64_t hurt_since_us;  /* the line has lost a tenth since (line_hurts), 0: not */
    int64_t lossy_until_us; /* its losses did not follow the rate: random, not a full line */
    /* quality.c */
    uint8_t up_frac;    /* the largest fraction lost (1/256) of our latest report to it */
    int64_t up_frac_us; /* when that report went */
    uint8_t quality;    /* enum tdm_sfu_quality, as announced */
    uint8_t q_pending;  /* the level seen lately, since q_since_us */
    int64_t q_since_us, next_quality_us;
    int64_t probe_at_us, probe_until_us, probe_hold_us, probe_sent_us;
    uint32_t probe_ssrc;  /* the video consumer the probe pads, 0: none */
    uint8_t probe_streak; /* probes in a row that came through: the next is twice as large */
    uint64_t probe_bps;
    /* audiomix.c: this person hears the others through one mixed stream (docs/architecture.md
     * "Opus mix"); mix_key is that stream's track in the slots, 0: separate streams */
    uint64_t mix_key;
    int mix_slot;
    uint32_t mix_ssrc;
    uint32_t mix_own; /* the speaker id left out of their mix (their microphone) */
    bool mix_live;    /* its m-section is agreed and keyed: their per-speaker audio pauses */
    bool mix_refused; /* the page rejected the mix m-section: separate streams for good */
    uint16_t mix_seq; /* the next sequence number, and the timestamp of the last packet */
    uint32_t mix_ts;
    int64_t mix_out_us; /* when the last packet went out */
    struct tdm_rtpstats_tx mix_tx;
};

struct room {
    struct sfu_timer timer; /* its mix's ticks: sfu_wake_room */
    char id[TDM_ROOM_ID_MAX + 1];
    struct part **parts;
    uint32_t n_parts, cap_parts;
    char speaker[TDM_PARTICIPANT_ID_LEN + 1]; /* speaker.c: the active speaker, "" none */
    int64_t speaker_us, next_speaker_us;
    struct tdm_mix *mix;           /* audiomix.c: while some participant hears the mix, else NULL */
    int64_t mix_due;               /* its next tick */
    bool mix_check;                /* who hears the mix may have changed: audiomix.c looks again */
    uint32_t mix_listeners;        /* of its participants, hearing the mix (for the stats) */
    struct tdm_mix_stats mix_seen; /* the mixer's counters as last added to the stats */
};

struct tdm_sfu {
    struct tdm_sfu_config cfg;
    struct tdm_ice_table *ice;
    struct room **rooms;
    uint32_t n_rooms, cap_rooms;
    uint64_t next_key;
    /* Time-outs: every participant and room in one heap at its earliest deadline (the ICE
     * table keeps its own). Whatever may move a deadline lists its owner in dirty
     * (sfu_wake); the end of each input recomputes those, so the heap is exact between
     * inputs. A time-out takes what is due, and what waits in poll (SFU_POLL), into due[]
     * and ticks only that, in table order. The arrays have room for every participant and
     * room (n_timed), reserved as they come: no allocation on the packet path. */
    struct tdm_timerheap timers;
    struct sfu_timer **dirty, **due, **poll;
    uint32_t n_dirty, n_poll, n_timed, cap_timed;
    int64_t timeout_us;   /* the last time-out's now */
    int64_t again_us;     /* it left work for lack of transmit slots: call again then */
    bool offers_wanted;   /* some participant's offer_wanted is set */
    bool peers_connected; /* some peer's connected is set */
    bool mix_check;       /* some room's mix_check is set */
    /* output */
    struct tdm_sfu_transmit *tx;
    size_t n_tx, cap_tx;
    struct tdm_sfu_event *ev_head, *ev_tail;
    /* negotiation scratch (allocated on first use), used only inside one nego.c call */
    struct tdm_sdp *sdp_a, *sdp_b;
    struct tdm_sdp_nego *nego;
    char *sdp_text;
    struct tdm_sdp_track *tracks; /* TDM_SUBSLOTS_MAX of them */
    struct tdm_log_limiter log_lim, dtls_log_lim;
    struct tdm_sfu_stats st;
};

/* ---- out.c ------------------------------------------------------------------------- */
uint32_t sfu_rand32(struct tdm_sfu *s);
uint32_t sfu_rand32_nonzero(struct tdm_sfu *s);
/* Participant q's (room r's) deadlines may have moved, either way: recomputed by sfu.c at
 * the end of the input. Whatever changes what a deadline function reads calls this (the
 * input's own participant is woken by sfu.c anyway; what moves another's must say so). */
void sfu_wake(struct tdm_sfu *s, struct part *q);
void sfu_wake_room(struct tdm_sfu *s, struct room *r);
/* A new participant or room takes its place among the deadlines (room reserved; woken):
 * false when there is no memory. Removed before it is freed. */
bool sfu_timer_add(struct tdm_sfu *s, struct sfu_timer *t, bool room);
void sfu_timer_remove(struct tdm_sfu *s, struct sfu_timer *t);
/* Whether t waits in the poll list (ticked by every time-out). */
void sfu_timer_poll(struct tdm_sfu *s, struct sfu_timer *t, bool poll);
static inline struct part *sfu_timer_part(struct sfu_timer *t)
{
    return t->room ? NULL : (struct part *)((char *)t - offsetof(struct part, timer));
}
static inline struct room *sfu_timer_room(struct sfu_timer *t)
{
    return t->room ? (struct room *)((char *)t - offsetof(struct room, timer)) : NULL;
}
/* The next free transmit slot, or NULL when the queue is full (counted). Fill buf, then
 * commit; an uncommitted slot is simply reused. */
struct tdm_sfu_transmit *sfu_tx_slot(struct tdm_sfu *s);
void sfu_tx_commit(struct tdm_sfu *s, struct tdm_sfu_transmit *t, const struct tdm_sfu_path *to,
                   size_t len);
struct tdm_sfu_event *sfu_event_new(enum tdm_sfu_event_kind k, const char *room, const char *pid);
void sfu_event_push(struct tdm_sfu *s, struct tdm_sfu_event *e);
void sfu_error(struct tdm_sfu *s, const char *room, const char *pid, const char *ref,
               const char *code, const char *field, const char *pc, const char *fmt, ...)
    __attribute__((format(printf, 8, 9)));

/* ---- peer.c ------------------------------------------------------------------------ */
struct peer *peer_create(struct tdm_sfu *s, struct part *part, enum peer_kind kind, int64_t now);
void peer_destroy(struct tdm_sfu *s, struct peer *p, int64_t now);
/* Queue a datagram in slot t to p (kept unsent when p has no destination yet). */
void peer_send(struct tdm_sfu *s, struct peer *p, struct tdm_sfu_transmit *t, size_t len);
int peer_set_remote(struct tdm_sfu *s, struct peer *p, const struct tdm_sdp_nego *n, int64_t now);
void peer_restart_ice(struct tdm_sfu *s, struct peer *p, int64_t now);
int peer_on_stun(struct tdm_sfu *s, const struct tdm_sfu_path *from, uint8_t *p, size_t len,
                 int64_t now);
void peer_on_dtls(struct tdm_sfu *s, struct peer *p, const struct tdm_sfu_path *from,
                  const uint8_t *d, size_t len, int64_t now);
/* DTLS time-outs and the set-up bound (reports are feedback.c's). */
void peer_tick(struct tdm_sfu *s, struct peer *p, int64_t now);
int64_t peer_deadline(const struct tdm_sfu *s, const struct peer *p);
/* Whether DTLS came up since the last call (then SRTP is ready). */
bool peer_take_connected(struct peer *p);
void peer_local(struct tdm_sfu *s, struct peer *p, struct tdm_sdp_local *l);
void peer_forget_tcp(struct peer *p, uint64_t tcp);

/* ---- layers.c ---------------------------------------------------------------------- */
/* A simulcast track: the base producer nm's first rid, and a producer per further rid (up to
 * SFU_MAX_LAYERS, in a=simulcast order: the pages list the lowest first). */
bool layers_make(struct tdm_sfu *s, struct prod *base, const struct tdm_sdp_nego_media *nm);
/* Free the layers of a base (not the base itself). */
void layers_free(struct prod *base);
/* Create the shared send history of a video producer with NACK (false: no memory). */
bool layers_hist_init(struct prod *pr);
/* A packet of an unknown SSRC of publisher o: the layer whose rid (or repaired rid, then it
 * is the layer's RTX SSRC) and mid its extensions carry, now bound to it. NULL: none. */
struct prod *layers_bind(struct part *o, const struct tdm_rtp_view *v, int64_t now);
/* Layer i of pr's track (the base when it has no layers or no such layer). */
struct prod *layers_at(struct prod *pr, int i);
/* The producer a keyframe for consumer c must come from: its target layer, else current. */
struct prod *layers_key_source(struct cons *c);
/* Set up c's numbering and (video) its record of what was sent. false: no memory. */
bool layers_cons_init(struct tdm_sfu *s, struct cons *c);
void layers_cons_free(struct cons *c);
/* Remember how a packet was rewritten for c (video). */
void layers_note_sent(struct cons *c, const struct tdm_layersel_out *o, int layer, uint16_t in_seq);
/* Rewrite the packet c sent as out_seq again, from the layer's shared history, into out.
 * Returns the length, TDM_ENOTFOUND (not held), TDM_EAGAIN (resent within min_us). */
int layers_resend(struct cons *c, uint16_t out_seq, int64_t now, int64_t min_us, uint8_t *out,
                  size_t cap);
/* ---- downlink.c -------------------------------------------------------------------- */
/* What one "sub" connection sent (by transport-wide number) and what its estimator knows.
 * Allocated (calloc) when an answer negotiates the extension; peer_destroy frees it. */
struct sfu_dl_sent { /* 16 bytes */
    int64_t send_us;
    uint16_t seq, size, probe;
    uint8_t flags; /* SFU_DL_* */
};
#define SFU_DL_USED 1
#define SFU_DL_REPORTED 2
#define SFU_DL_ACKED 4
struct sfu_dl {
    /* what every packet touches, in one cache line */
    uint8_t ext_id; /* the transport-wide-cc extension id in the sub session */
    uint16_t seq;   /* the next transport-wide number */
    uint64_t media_bytes;
    struct tdm_gcc gcc;
    uint64_t feedbacks;
    bool counted; /* in the stats' est_* figures, with counted_bps */
    uint64_t counted_bps;
    /* For the allocation (another layer): what this subscriber would receive if its link
     * allowed it, bit/s; 0: the media rate now sent is taken. Probes go out only while the
     * estimate is below it. */
    uint64_t want_bps;
    uint64_t media_bps;
    int64_t rate_at_us, tick_us, log_us;
    uint16_t probe_id, probe_left, probe_sent;
    uint64_t probe_bps;
    int64_t probe_next_us, probe_start_us;
    uint64_t pad_bps; /* dl_pad: padding on top of the media at this rate until pad_until_us */
    int64_t pad_until_us, pad_next_us;
    struct sfu_dl_sent ring[SFU_TWCC_RING];
};
/* Number the packets of p from now on under extension id ext_id (0 or a peer that is not
 * "sub": nothing). The estimate starts at 300 kbit/s. */
void dl_enable(struct peer *p, unsigned ext_id, int64_t now);
/* THE downlink estimate of subscriber connection p, bit/s: delay- and loss-based, raised by
 * probes (core/gcc.h). 0 until the first transport-cc feedback (the browser may not send
 * any: fall back to REMB, p->remb_bps, or to the loss estimate of the consumers). */
uint64_t dl_estimate(const struct peer *p);
/* The one place a packet for p is finished before SRTP: buf[0..len) (room up to
 * TDM_SFU_TX_BUF) gets the next transport-wide number, and is remembered with its size and
 * send time (probe: the probe cluster, 0 for media). Returns the new length. Hot path. */
int dl_stamp(struct peer *p, uint8_t *buf, size_t len, uint16_t probe, int64_t now);
/* A transport-cc feedback packet from p's page (read by tdm_rtcp_parse_twcc). */
struct tdm_rtcp_pkt;
void dl_on_feedback(struct tdm_sfu *s, struct peer *p, const struct tdm_rtcp_pkt *pkt, int64_t now);
void dl_set_rtt(struct peer *p, int64_t rtt_us);
/* What p's subscriber would receive if its link allowed it (the allocation's wish, bit/s):
 * probes go out while the estimate is below it. 0: the media rate now sent. */
void dl_set_want(struct peer *p, uint64_t bps);
/* The rate the last probe cluster of p came through at, when it was measured after `since`;
 * else 0. */
uint64_t dl_probed(const struct peer *p, int64_t since);
/* Padding on top of the media at bps until `until` (0: stop), numbered like the media: the
 * allocation's test that the line carries a higher rate for longer than a policer's burst
 * (a probe cluster lasts tens of milliseconds) before it spends it on pictures. */
void dl_pad(struct peer *p, uint64_t bps, int64_t until, int64_t now);
/* What p's estimator saw: the estimate is below `goal`, a tenth of the packets lately were
 * lost, or the line delivered (acknowledged rate) below `carried`: the line does not take
 * that much. */
bool dl_short_of(const struct peer *p, uint64_t goal, uint64_t carried);
#define SFU_EST_WEAK_BPS 300000
/* Take d's estimate out of the stats (inline: peer.c calls it on destroy). */
static inline void dl_uncount(struct tdm_sfu_stats *st, struct sfu_dl *d)
{
    if (!d || !d->counted)
        return;
    st->est_subs--;
    st->est_sum_bps -= d->counted_bps;
    st->est_weak -= d->counted_bps < SFU_EST_WEAK_BPS;
    d->counted = false;
}
/* Probe clusters and the media rate; dl_deadline says when next (or SFU_POLL), given the
 * time of the worker's last time-out. */
void dl_tick(struct tdm_sfu *s, struct peer *p, int64_t now);
int64_t dl_deadline(const struct peer *p, int64_t last_timeout);

/* ---- feedback.c -------------------------------------------------------------------- */
/* A keyframe from pr's publisher: now (PLI or FIR, throttled), or once its keys exist. */
void fb_want_keyframe(struct tdm_sfu *s, struct prod *pr, int64_t now);
void fb_on_rtcp(struct tdm_sfu *s, struct peer *p, uint8_t *buf, size_t len, int64_t now);
/* Reports due on p (publisher: RR + REMB; subscriber: SRs); schedules the next ones. */
void fb_reports(struct tdm_sfu *s, struct peer *p, int64_t now);
/* NACKs and keyframe requests due for pr; fb_prod_deadline says when next (or SFU_POLL). */
void fb_prod_tick(struct tdm_sfu *s, struct prod *pr, int64_t now);
int64_t fb_prod_deadline(const struct prod *pr);

/* ---- audiomix.c -------------------------------------------------------------------- */
/* Who hears room r through the mix may have changed (a mode, a producer, an answer): looked
 * at by amix_sync after the input. */
void amix_mark(struct tdm_sfu *s, struct room *r);
/* Listeners on or off (the mix m-section added to or taken from their sub offer), speakers
 * added, the mixer created on the first listener and destroyed after the last; mix_live. */
void amix_sync(struct tdm_sfu *s, struct room *r, int64_t now);
/* One packet of audio producer pr (in its room's mixer) for the mix. Hot path. */
void amix_push(struct prod *pr, const struct tdm_rtp_view *v, int64_t now);
/* Producer pr goes: out of the mixer. */
void amix_forget_prod(struct prod *pr);
/* p's media is released: no longer a listener (the caller resets its slots). */
void amix_part_reset(struct tdm_sfu *s, struct part *p);
void amix_room_free(struct tdm_sfu *s, struct room *r);

/* Mix a frame when due and send each live listener its packet. */
void amix_tick(struct tdm_sfu *s, struct room *r, int64_t now);
int64_t amix_deadline(const struct room *r);

/* ---- fanout.c ---------------------------------------------------------------------- */
void fan_on_rtp(struct tdm_sfu *s, struct peer *p, uint8_t *buf, size_t len, int64_t now);

/* ---- speaker.c --------------------------------------------------------------------- */
/* Chooses r's active speaker (at most every 300 ms) and tells every page of a change. */
void speaker_tick(struct tdm_sfu *s, struct room *r, int64_t now);

/* ---- rrest.c ----------------------------------------------------------------------- */
#define SFU_LOSS_HIGH 26 /* a report block's fraction lost (1/256) that means trouble: 10 % */
/* Fold the report blocks that came since the last time into q->est_bps. */
void rr_update(struct part *q, int64_t now);
/* What may be spent on q's line: UINT64_MAX when nothing limits it. */
uint64_t rr_estimate(const struct part *q, int64_t now);
/* Whether the round trip rtt is well over the smallest seen lately (a queue builds up). */
bool rr_queue_grew(struct part *q, int64_t rtt, int64_t now);
/* Room is learnt by probing, never by sending more pictures on a hunch: while audio only, at
 * what audio and the lowest picture need (need); otherwise, when the estimate does not pay
 * the next upgrade, at that upgrade's cost, doubling after each probe that came through.
 * True when audio only should end (a probe came through). */
bool rr_probe(struct tdm_sfu *s, struct part *q, uint64_t need, uint64_t audio, int64_t now);
void rr_audio_only_began(struct part *q, int64_t now);
/* A picture of q went up a layer (a loss soon after: it failed), and whether one did lately. */
void rr_upgraded(struct part *q, int64_t now);
bool rr_upgrade_settling(const struct part *q, int64_t now);
/* The running probe's padding between allocations; when it is next due (d: otherwise). */
void rr_pad(struct tdm_sfu *s, struct part *q, int64_t now);
int64_t rr_deadline(const struct part *q, int64_t d);

/* ---- alloc.c ----------------------------------------------------------------------- */
void alloc_set_layout(struct tdm_sfu *s, struct part *q, struct tdm_sfu_cmd *c, int64_t now);
void alloc_set_mode(struct tdm_sfu *s, struct part *q, int8_t mode, int64_t now);
/* Spend q's estimate over its consumers (layers, audio only), the active speaker;
 * alloc_deadline: the next allocation or probe padding (SFU_POLL before the first). */
void alloc_tick(struct tdm_sfu *s, struct part *q, int64_t now);
int64_t alloc_deadline(const struct part *q);

/* ---- quality.c --------------------------------------------------------------------- */
void quality_join(struct tdm_sfu *s, struct part *q);
void quality_leave(struct tdm_sfu *s, struct part *q);
/* One stream's fraction lost in the report we send q's "pub" connection now. */
void quality_note_uplink(struct part *q, uint8_t fraction_lost, int64_t now);
void quality_tick(struct tdm_sfu *s, struct part *q, int64_t now);
int64_t quality_deadline(const struct part *q); /* SFU_POLL before the first tick */

/* ---- roster.c ---------------------------------------------------------------------- */
struct room *roster_room(struct tdm_sfu *s, const char *id, bool create);
void roster_free_room(struct tdm_sfu *s, struct room *r, int64_t now);
struct part *roster_find(struct room *r, const char *pid);
struct part *roster_add(struct tdm_sfu *s, struct room *r, const char *pid);
void roster_remove(struct tdm_sfu *s, struct part *p, int64_t now);
/* Release p's connections, producers and consumers; the others are marked for offers. */
void roster_reset_media(struct tdm_sfu *s, struct part *p, int64_t now);
struct prod *roster_add_prod(struct tdm_sfu *s, struct part *owner,
                             const struct tdm_sdp_nego_media *nm, size_t ssrc_i);
void roster_remove_prod(struct tdm_sfu *s, struct prod *pr);
/* TDM_SFU_EV_SHARE for the control thread: p's screen track came (on) or went. */
void roster_share_event(struct tdm_sfu *s, const struct part *p, bool on);
void roster_drop_consumer(struct part *p, int slot);
/* Whether p receives the others' tracks: it published, or asked to receive only. */
static inline bool part_receives(const struct part *p)
{
    return p->published || p->recv_only;
}
/* Every receiving participant gets every producer of the others (marks offers). */
void roster_subscribe_all(struct tdm_sfu *s, struct room *r);
void roster_update_live(struct tdm_sfu *s, struct part *p, int64_t now);
void roster_block(struct tdm_sfu *s, struct part *p, bool audio, bool video, int64_t now);
void roster_receive_video(struct tdm_sfu *s, struct part *p, bool on, int64_t now);
void roster_mark_offer(struct tdm_sfu *s, struct part *p);

/* ---- nego.c ------------------------------------------------------------------------ */
/* Whether c, a pub offer, comes from a new RTCPeerConnection (another certificate). */
bool nego_pub_offer_restarts(struct tdm_sfu *s, const struct part *p, const struct tdm_sfu_cmd *c);
void nego_on_pub_offer(struct tdm_sfu *s, struct tdm_sfu_cmd *c, int64_t now);
void nego_on_sub_answer(struct tdm_sfu *s, struct tdm_sfu_cmd *c, int64_t now);
/* p (without connections: sfu.c released them) asks to receive without publishing: sub
 * offers follow as after a pub offer. */
void nego_on_receive_only(struct tdm_sfu *s, struct part *p, struct tdm_sfu_cmd *c);
/* Make p's sub offer if it wants one (called only by sfu.c, after an input). */
void nego_offer_sub(struct tdm_sfu *s, struct part *p, int64_t now);
void nego_free_scratch(struct tdm_sfu *s);
/* The page came back on a new signaling connection: the sub offer awaiting its answer, if
 * any, is sent again with its revision (the first may have been lost with the old one). */
void nego_resend_sub(struct tdm_sfu *s, struct part *p);
/* The page asks for an ICE restart of its "sub" connection: new local ICE credentials, and
 * a new offer with them (same DTLS role and fingerprint: the association and keys stay). */
void nego_restart_sub(struct tdm_sfu *s, struct part *p, int64_t now);

#endif
