/* A network simulator at virtual time around the real SFU core (include/tandem/sfu.h).
 *
 * Simulated pages ("peers") join a room, publish and subscribe the way a browser does: SDP
 * offers and answers as text, ICE connectivity checks (STUN with MESSAGE-INTEGRITY), a DTLS
 * handshake as client (core/dtls.c with a certificate of their own), SRTP with the exported
 * keys, Opus-sized audio and VP8-shaped video (keyframes with the VP8 key bit), NACK and PLI
 * answered from a send history, receiver reports, NACKs and PLIs sent for what is missing,
 * REMB followed as a sending rate. Each peer reaches the server over two links (up and down)
 * with delay, jitter, random loss and a rate cap with a bounded queue (a policer drops what
 * does not fit). Time is virtual: the loop always takes the earliest event next, so seconds
 * of call take milliseconds. Deterministic for a given seed. */
#ifndef TANDEM_TESTS_SIM_H
#define TANDEM_TESTS_SIM_H

#include <stdbool.h>
#include <stdint.h>

#include "tandem/sfu.h"

#define SIM_MAX_PEERS 128

struct sim;
struct sim_peer;

struct sim_link {
    int64_t delay_us;  /* one way */
    int64_t jitter_us; /* uniform 0..jitter added; packets are not reordered past each other */
    double loss;       /* 0..1, random */
    uint64_t rate_bps; /* 0: unlimited */
    int64_t queue_us;  /* with rate: how long a packet may wait before it is dropped */
    /* with rate, instead of a queue: a policer (a token bucket of this many bytes, as
     * nftables' "limit rate over R bytes/second burst B bytes drop"): what fits passes at
     * once, the rest is dropped; the bucket starts full */
    uint64_t burst_bytes;
};

/* What a peer saw, per publisher it receives (video) and in total. */
struct sim_video_rx {
    uint64_t frames_decoded;
    uint64_t keyframes;
    int64_t first_frame_us; /* virtual time of the first decoded frame, 0: none */
    int64_t last_frame_us;
    int64_t max_freeze_us;        /* longest gap between decoded frames after the first */
    uint64_t packets, lost_final; /* received; missing when the frame was given up */
    /* simulcast: the layer of the latest decoded frame (0 lowest) and since when, switches
     * between layers, frames per layer; continuity of what the server rewrote: VP8 picture
     * ids that do not follow the frames, timestamps that go back, the largest forward jump of
     * the sequence numbers */
    uint8_t layer;
    int64_t layer_since_us;
    uint32_t switches;
    uint64_t frames_layer[3];
    uint64_t pid_errors, ts_back;
    uint64_t bad_refs; /* delta frames decoded on a picture of another layer: a glitch */
    uint32_t max_seq_jump;
    /* media.paused: the server holds this picture back for the page's line (its initial is
     * shown); a gap in which it was paused or resumed is no freeze */
    bool paused, pause_gap;
    uint32_t pauses;
};

struct sim_stats {
    uint64_t audio_packets, video_packets;  /* received, all publishers */
    uint64_t nacks_sent, plis_sent, resent; /* resent: NACKed packets this peer sent again */
    uint64_t keyframes_sent, plis_received;
    uint64_t bytes_sent_video;
    uint64_t remb_bps;       /* latest REMB from the server */
    uint64_t video_bps;      /* this peer's current video sending rate */
    uint32_t offers;         /* sub offers received */
    uint32_t offer_media;    /* m-sections in the latest one */
    uint32_t errors;         /* error events received */
    uint64_t twcc_feedbacks; /* transport-cc feedback packets sent on "sub" */
    char last_error[64];
    bool audio_only; /* the server's media.audio_only events: the latest, how many of each */
    uint32_t audio_only_on, audio_only_off;
    char quality_of[72]; /* media.quality: the last person this page was told about */
    uint8_t quality;     /* and their level (enum tdm_sfu_quality) */
    uint32_t quality_poor;
    uint32_t paused_on, paused_off; /* media.paused events received */
    char speaker[72];               /* the latest media.speaker */
    uint8_t audio_loss_told; /* fraction lost (1/256) of the server's latest report on the voice */
    uint32_t audio_reports;  /* reports with a block on the voice */
};

struct sim *sim_create(uint64_t seed);
void sim_destroy(struct sim *s);
int64_t sim_now(const struct sim *s);
struct tdm_sfu *sim_sfu(struct sim *s);

/* A page in room `room` (joined at once), with its own up and down links. */
struct sim_peer *sim_peer_add(struct sim *s, const char *room, const char *name);
void sim_peer_set_links(struct sim_peer *p, const struct sim_link *up, const struct sim_link *down);
/* Publish audio and/or video (video at up to max_bps, following the server's REMB). */
void sim_peer_publish(struct sim_peer *p, bool audio, bool video, uint64_t max_bps);
/* The page's network changes (Wi-Fi to mobile): both connections get a new source address
 * at once (what is on its way to the old one is lost), and the page restarts ICE as a
 * browser does (RFC 8445 §9): a new pub offer with new ICE credentials (same certificate,
 * same tracks) and media.restart for sub; its checks come from the new address once the
 * server's new credentials are known. DTLS and SRTP stay. */
void sim_peer_move(struct sim_peer *p);
/* The page asks to receive without publishing (media.receive_only): no pub offer. */
void sim_peer_receive_only(struct sim_peer *p);
/* Publish audio and VP8 video as rid simulcast (q, h, f: 1/12, 1/4 and all of max_bps, each
 * with its own SSRC, picture ids and keyframes), as Chromium does with three encodings. */
void sim_peer_publish_simulcast(struct sim_peer *p, bool audio, uint64_t max_bps);
/* The page's video track is its shared screen (on) or its camera again: a new pub offer
 * naming its mid as the screen, or none (docs/protocol.md "Screen sharing"). Received
 * screens are counted under sim_peer_video_from(p, "screen"). */
void sim_peer_share(struct sim_peer *p, bool on);
/* The page's microphone is silent (Opus DTX: one packet per 400 ms) or not. */
void sim_peer_set_dtx(struct sim_peer *p, bool on);
/* Forget the longest freeze seen so far (to measure it after an adaptation). */
void sim_peer_reset_freeze(struct sim_peer *p);
/* Close the page: its links go quiet and the server is told it left. */
void sim_peer_leave(struct sim_peer *p);

/* Tones (sim_audio.c): from now on p publishes a sine of hz encoded with libopus (20 ms,
 * in-band FEC, 32 kbit/s); hz 0: silent (nothing sent, as a muted microphone). */
void sim_peer_set_tone(struct sim_peer *p, double hz);
/* The tone's loudness in dBFS (default -12: an amplitude of 8000, swinging between 0.1 and
 * 1 of it with the syllables), the packet duration (10, 20, 40 or 60 ms; default 20), and
 * whether its packets carry the RFC 6464 audio level as browsers' do (default not; set
 * before publishing: the offer names the extension). */
void sim_peer_set_tone_shape(struct sim_peer *p, double dbfs, unsigned ptime_ms, bool level);
/* The page answers the server's mix m-section (msid "mix") with port 0, as a page that
 * does not want it would. */
void sim_peer_refuse_mix(struct sim_peer *p, bool on);
/* Decode the audio p receives, per SSRC (10 s kept), for sim_peer_tone_share. */
void sim_peer_decode_audio(struct sim_peer *p, bool on);
/* The page turns others' video off (data saver, media.receive) or on again. */
void sim_peer_receive_video(struct sim_peer *p, bool on);
struct sim_audio_stream {
    uint32_t ssrc;
    uint64_t packets, bytes; /* bytes: SRTP on the wire */
    int64_t first_us, last_us, max_gap_us;
};
/* Audio streams p received since the last reset (up to max). */
size_t sim_peer_audio_streams(const struct sim_peer *p, struct sim_audio_stream *out, size_t max);
void sim_peer_audio_reset(struct sim_peer *p);
/* The share of the energy at hz in what ssrc carried to p, frames that came in
 * [from_us, to_us) (Goertzel): 1 for a pure tone, about 1/k for one of k equal tones. */
double sim_peer_tone_share(const struct sim_peer *p, uint32_t ssrc, double hz, int64_t from_us,
                           int64_t to_us);

/* Run until virtual time t (bounded by the number of events: returns -1 when a run takes
 * more than a million steps, which means a loop that makes no progress). */
int sim_run_until(struct sim *s, int64_t t);

void sim_peer_stats(const struct sim_peer *p, struct sim_stats *out);
/* Video received from publisher `from` (its name), or NULL when none came. */
const struct sim_video_rx *sim_peer_video_from(const struct sim_peer *p, const char *from);
/* The same for the newest stream from `from` (a track that was replaced gets a new one). */
const struct sim_video_rx *sim_peer_video_latest(const struct sim_peer *p, const char *from);
bool sim_peer_connected(const struct sim_peer *p); /* pub and sub both have SRTP */

/* SRTP profiles the pages offer from now on (OpenSSL's names, e.g.
 * "SRTP_AES128_CM_SHA1_80"; NULL: both, GCM first). For benchmarks. */
void sim_set_srtp_profiles(struct sim *s, const char *profiles);
/* For benchmarks that drive the core themselves: the next video packet of a publishing
 * page (1200-byte payload, SRTP-protected on its pub connection) and the path it comes on.
 * Returns the length, or a negative TDM_E* code. */
int sim_peer_video_packet(struct sim_peer *p, uint8_t *out, size_t cap);
void sim_peer_pub_path(const struct sim_peer *p, struct tdm_sfu_path *out);

#endif
