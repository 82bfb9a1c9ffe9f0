/* Between sim.c (network, loop, routing) and sim_peer.c (a simulated page). */
#ifndef TANDEM_TESTS_SIM_INTERNAL_H
#define TANDEM_TESTS_SIM_INTERNAL_H

#include "sim.h"

#include "tandem/addr.h"
#include "tandem/cert.h"
#include "tandem/dtls.h"
#include "tandem/rtcp.h"
#include "tandem/rtp.h"
#include "tandem/srtp.h"

#define SIM_PKT_MAX 1600
#define SIM_HIST 512       /* video packets a publisher keeps for NACKs */
#define SIM_MAX_STREAMS 32 /* video streams a peer receives */
#define SIM_MAX_ARX 16     /* audio streams a peer reports on */
#define SIM_TWCC_RING 4096 /* transport-wide numbers a page remembers until reported */

struct sim_link_state {
    struct sim_link cfg;
    int64_t busy_until, last_arrival;
    int64_t tokens_at; /* the policer's bucket: bits (scaled by 1e6) at that time */
    uint64_t tokens;
};

/* One RTCPeerConnection of a page: its "pub" (index 0) or "sub" (index 1) connection. */
struct sim_conn {
    struct sim_peer *peer;
    int idx;
    struct tdm_addr addr;
    char ufrag[16], pwd[40];
    char rufrag[64], rpwd[64]; /* the server's */
    struct tdm_fingerprint rfp;
    bool remote_known, checked;
    int64_t next_check_us;
    struct tdm_dtls *dtls;
    struct tdm_srtp *srtp;
    uint32_t rtcp_ssrc;
};

#define SIM_LAYERS 3 /* rid simulcast: q, h, f */

struct sim_sent {
    uint16_t seq;
    size_t len;
    uint8_t buf[1300]; /* plain RTP */
};

/* A video stream this page receives from one publisher. */
struct sim_stream {
    uint32_t ssrc;
    char from[72]; /* the publisher (msid stream id = its participant id) */
    bool started;
    uint16_t base_seq;
    int64_t highest; /* unwrapped */
    int64_t cycles;
    uint8_t got[1024]; /* received flags by seq % 1024 */
    int64_t nacked_at[1024];
    uint32_t expected_prior, received_prior, received;
    uint32_t sr_mid32; /* the server's latest sender report: NTP middle 32 bits, 0: none */
    int64_t sr_at;     /* when it came */
    /* frames, by the frame number of our payload header, decoded in order */
    struct sim_frame {
        bool used, key;
        uint32_t frame;
        uint16_t count, have;
        uint64_t mask;
        uint8_t layer;
    } ring[64];
    bool have_pid;
    uint16_t last_pid, last_seq;
    uint32_t last_ts;
    uint8_t chain_layer;
    uint32_t cur_frame, newest; /* the next to decode; the newest seen */
    int64_t waiting_since;      /* cur_frame became the next one then */
    bool chain_ok;              /* a delta frame can decode */
    int64_t pli_at;
    struct sim_video_rx v;
};

struct sim_peer {
    struct sim *sim;
    int index;
    char room[TDM_ROOM_ID_MAX + 1];
    char name[TDM_PARTICIPANT_ID_LEN + 1];
    struct tdm_cert *cert;
    SSL_CTX *ctx;
    char fp_text[100];
    struct sim_conn conn[2];
    struct sim_link_state up, down;
    bool left;
    /* publishing */
    bool pub_audio, pub_video;
    bool dtx;    /* silent: Opus DTX sends a packet every 400 ms */
    bool screen; /* its video is its shared screen (sim_peer_share) */
    uint64_t max_bps, video_bps;
    uint32_t a_ssrc, v_ssrc;
    uint16_t a_seq, v_seq;
    uint32_t frame_no;
    bool key_next;
    int64_t next_audio_us, next_frame_us, next_rtcp_us, next_nack_us, last_kf_us;
    struct sim_sent *hist; /* SIM_HIST */
    /* rid simulcast (sim_layers.c): n_layers 0 publishes one stream */
    unsigned n_layers;
    struct sim_layer {
        uint32_t ssrc;
        uint16_t seq, pid;
        uint8_t tl0;
        bool key_next;
        uint64_t bps; /* its current rate, 0: off (the estimate does not carry it) */
        struct sim_sent *hist;
    } layers[SIM_LAYERS];
    /* receiving */
    struct sim_stream streams[SIM_MAX_STREAMS];
    unsigned n_streams;
    struct sim_stats st;
    /* audio received, per SSRC, for receiver reports (sim_areport.c) */
    struct sim_arx {
        uint32_t ssrc;
        uint16_t base;
        int64_t highest; /* unwrapped */
        uint32_t received, expected_prior, received_prior;
    } arx[SIM_MAX_ARX];
    unsigned n_arx;
    uint32_t moves;  /* address changes (sim_peer_move) */
    uint8_t twcc_id; /* transport-wide-cc id of the sub session (sim_twcc.c), 0: none */
    struct sim_twcc *twcc;
    struct sim_audio *audio; /* real Opus sent or decoded (sim_audio.c), NULL: filler */
    bool refuse_mix;         /* its sub answers reject the mix m-section */
};

/* sim.c: send a datagram from a page's connection towards the server. */
void sim_send_up(struct sim_conn *c, const uint8_t *p, size_t len);
/* sim.c: a command to the core, from a page (its room and name filled in by the caller). */
void sim_command(struct sim *s, struct tdm_sfu_cmd *cmd);
uint32_t sim_rand(struct sim *s);
const char *sim_srtp_profiles(const struct sim *s);

/* sim_audio.c: the packet interval, and the RFC 6464 extension (id SIM_LEVEL_EXT) of the
 * last encoded frame after an RTP header of hl bytes (0: none sent; else the X bit set and
 * the bytes added). */
#define SIM_LEVEL_EXT 1
int64_t sim_audio_ptime_us(const struct sim_peer *p);
bool sim_audio_sends_level(const struct sim_peer *p);
size_t sim_audio_level_ext(const struct sim_peer *p, uint8_t *b, size_t hl);

/* sim_layers.c */
size_t sim_layers_offer(struct sim_peer *p, char *o, size_t cap);
void sim_layers_send_frame(struct sim_peer *p, int64_t now);
/* A PLI or NACK for one of the layers' SSRCs (true: handled). */
bool sim_layers_on_fb(struct sim_peer *p, const struct tdm_rtcp_pkt *pk);
/* The server's estimate: layers from the lowest while they fit (as a browser does). */
void sim_layers_rates(struct sim_peer *p, uint64_t bps);
void sim_layers_free(struct sim_peer *p);
/* What a received video payload says: -1 when it is not one of ours. */
struct sim_payload {
    uint32_t frame;
    uint16_t idx, count;
    bool key, has_pid;
    uint16_t pid;
    uint8_t layer;
};
int sim_payload_parse(const uint8_t *pl, size_t len, struct sim_payload *out);
/* Picture ids and timestamps of what arrives in order must read as one stream. */
void sim_check_continuity(struct sim_stream *st, const struct tdm_rtp_view *v,
                          const struct sim_payload *y);
/* A packet of frame y->frame, already decoded from another layer: when it starts a keyframe
 * of the layer switched to, decoding goes back to it (true); else it is late (false). */
bool sim_switch_rewind(struct sim_stream *st, const struct sim_payload *y);

/* sim_peer.c */
int sim_peer_init(struct sim_peer *p, struct sim *s, int index, const char *room, const char *name);
void sim_peer_free(struct sim_peer *p);
void sim_peer_on_datagram(struct sim_peer *p, int conn, uint8_t *buf, size_t len, int64_t now);
void sim_peer_on_event(struct sim_peer *p, const struct tdm_sfu_event *ev, int64_t now);
void sim_peer_tick(struct sim_peer *p, int64_t now);
int64_t sim_peer_next(const struct sim_peer *p);

/* sim_audio.c: the next audio payload of p into out (the length; 0: nothing to send now;
 * TDM_ENOTFOUND: p sends the filler), and audio received on "sub" (wire: its SRTP size) */
int sim_audio_encode(struct sim_peer *p, uint8_t *out, size_t cap);
/* sim_areport.c */
void sim_areport_on_rtp(struct sim_peer *p, const struct tdm_rtp_view *v);
/* Report blocks for the audio received (fraction lost since the last call); returns how many. */
size_t sim_areport_blocks(struct sim_peer *p, struct tdm_rtcp_rb *rb, size_t max);
/* A receiver report the server sent on "pub": what it says of the page's voice. */
void sim_areport_on_pub_report(struct sim_peer *p, const struct tdm_rtcp_pkt *pk);
void sim_audio_on_rtp(struct sim_peer *p, const struct tdm_rtp_view *v, size_t wire, int64_t now);
void sim_audio_free(struct sim_peer *p);

/* sim_twcc.c: transport-cc feedback on "sub" */
void sim_twcc_on_rtp(struct sim_peer *p, const struct tdm_rtp_view *v, int64_t now);
void sim_twcc_tick(struct sim_peer *p, int64_t now);
int64_t sim_twcc_next(const struct sim_peer *p);
uint64_t sim_twcc_feedbacks(const struct sim_peer *p);
void sim_twcc_free(struct sim_peer *p);
/* The answer's lines for m-section m (its extension id is remembered); the length. */
struct tdm_sdp_media;
size_t sim_twcc_answer(struct sim_peer *p, const struct tdm_sdp_media *m, char *o, size_t cap);

#endif
