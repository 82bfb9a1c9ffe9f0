/* SDP for Tandem's SFU: a bounded parser, a writer and the offer/answer rules (RFC 8866
 * syntax, RFC 3264 offer/answer, RFC 8829 JSEP, RFC 8843 BUNDLE, RFC 8839 ICE, RFC 8122
 * fingerprints, RFC 8285 header extensions, RFC 8851/8853 rid and simulcast).
 *
 * Session layout (chosen by the lead): one RTCPeerConnection per browser, BUNDLE and
 * rtcp-mux only, unified plan. The browser offers its own tracks and the server answers;
 * to deliver other participants' tracks the server offers extra sendonly m-sections and the
 * browser answers. The server is ICE-lite and never decodes media.
 *
 * The model (struct tdm_sdp) is a plain value: fixed arrays, no pointers, safe to memcpy.
 * It is large (about 640 KiB, mostly untouched zero pages when heap-allocated): allocate it
 * with tdm_sdp_new() or on the heap, never on the stack. Every function here is sans-IO,
 * allocation-free (except tdm_sdp_new) and borrows its arguments until it returns. */
#ifndef TANDEM_SDP_H
#define TANDEM_SDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bounds on outside input. A description over MAX_BYTES, a line over MAX_LINE or more than
 * MAX_MEDIA m-lines is refused (TDM_ETOOBIG). Payload types beyond MAX_CODECS, extmaps beyond
 * MAX_EXTMAPS, rids beyond MAX_RIDS and candidates beyond MAX_CANDIDATES are skipped and
 * counted in `dropped` (a newer browser adding codecs must not break calls); too many SSRCs
 * or ssrc-groups in one m-section is refused. */
#define TDM_SDP_MAX_BYTES 65536
#define TDM_SDP_MAX_LINE 4096
#define TDM_SDP_MAX_MEDIA 64
#define TDM_SDP_MAX_CODECS 32
#define TDM_SDP_MAX_EXTMAPS 16
#define TDM_SDP_MAX_SSRCS 16
#define TDM_SDP_MAX_GROUPS 8
#define TDM_SDP_MAX_GROUP_SSRCS 4
#define TDM_SDP_MAX_RIDS 8
#define TDM_SDP_MAX_SIMULCAST 3   /* rid streams an answer receives per m-section */
#define TDM_SDP_MAX_CANDIDATES 32 /* per description */

/* String capacities include the NUL. Longer values are refused with an error. */
#define TDM_SDP_MID_CAP 33        /* browsers use "0", "1", ... */
#define TDM_SDP_ID_CAP 65         /* msid ids and cnames (RFC 8830: 1*64 token-char) */
#define TDM_SDP_ICE_CAP 257       /* RFC 8839 §5.4: ufrag 4..256, pwd 22..256 ice-char */
#define TDM_SDP_NAME_CAP 32       /* encoding names ("telephone-event") */
#define TDM_SDP_FMTP_CAP 128      /* longer fmtp: codec kept with fmtp_too_long set */
#define TDM_SDP_URI_CAP 128       /* extmap URIs */
#define TDM_SDP_RID_CAP 17        /* RFC 8851 rid-id; browsers use "q", "h", "f" */
#define TDM_SDP_PROTO_CAP 32      /* "UDP/TLS/RTP/SAVPF" */
#define TDM_SDP_ADDR_CAP 64       /* candidate address: IPv4, IPv6 or an mDNS name */
#define TDM_SDP_FOUNDATION_CAP 33 /* RFC 8839: 1*32 ice-char */
#define TDM_SDP_FP_MAX 64         /* sha-512 */

enum tdm_sdp_kind { TDM_SDP_AUDIO, TDM_SDP_VIDEO, TDM_SDP_APPLICATION, TDM_SDP_KIND_OTHER };

/* NONE: no attribute given (RFC 4566 default is sendrecv; see tdm_sdp_media_dir). */
enum tdm_sdp_dir {
    TDM_SDP_DIR_NONE,
    TDM_SDP_SENDRECV,
    TDM_SDP_SENDONLY,
    TDM_SDP_RECVONLY,
    TDM_SDP_INACTIVE
};

enum tdm_sdp_setup {
    TDM_SDP_SETUP_NONE,
    TDM_SDP_SETUP_ACTPASS,
    TDM_SDP_SETUP_ACTIVE,
    TDM_SDP_SETUP_PASSIVE,
    TDM_SDP_SETUP_HOLDCONN
};

enum tdm_sdp_hash {
    TDM_SDP_HASH_NONE,
    TDM_SDP_SHA1,
    TDM_SDP_SHA224,
    TDM_SDP_SHA256,
    TDM_SDP_SHA384,
    TDM_SDP_SHA512
};

/* rtcp-fb values the SFU cares about (RFC 4585, RFC 5104, REMB and transport-cc drafts). */
enum tdm_sdp_fb {
    TDM_SDP_FB_NACK = 1 << 0,
    TDM_SDP_FB_NACK_PLI = 1 << 1,
    TDM_SDP_FB_CCM_FIR = 1 << 2,
    TDM_SDP_FB_GOOG_REMB = 1 << 3,
    TDM_SDP_FB_TRANSPORT_CC = 1 << 4,
};

/* Codecs the server relays. RTX is a companion of a video codec, not a choice of its own. */
enum tdm_sdp_codec_id {
    TDM_SDP_CODEC_OTHER,
    TDM_SDP_CODEC_OPUS,
    TDM_SDP_CODEC_VP8,
    TDM_SDP_CODEC_H264, /* constrained baseline, packetization-mode=1 only */
    TDM_SDP_CODEC_VP9,  /* profile-id=0 only */
    TDM_SDP_CODEC_RTX,
};

/* Header extensions on the allow-list (RFC 8285). Others are never answered or offered. */
enum tdm_sdp_ext_id {
    TDM_SDP_EXT_MID,           /* urn:ietf:params:rtp-hdrext:sdes:mid */
    TDM_SDP_EXT_AUDIO_LEVEL,   /* urn:ietf:params:rtp-hdrext:ssrc-audio-level */
    TDM_SDP_EXT_TWCC,          /* ...draft-holmer-rmcat-transport-wide-cc-extensions-01 */
    TDM_SDP_EXT_ABS_SEND_TIME, /* http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time */
    /* Only with tdm_sdp_local.simulcast, when the browser offers rid-based simulcast: without
     * them a browser cannot say which layer a packet is (RFC 8852). */
    TDM_SDP_EXT_RID,  /* urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id */
    TDM_SDP_EXT_RRID, /* urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id */
    TDM_SDP_EXT_COUNT
};

struct tdm_sdp_fingerprint {
    enum tdm_sdp_hash hash; /* NONE: absent */
    uint8_t len;
    uint8_t value[TDM_SDP_FP_MAX];
};

struct tdm_sdp_codec {
    uint8_t pt;
    bool has_rtpmap; /* false: static pt listed in m= without a=rtpmap */
    bool fmtp_too_long;
    uint8_t channels; /* 0 when the rtpmap gives none */
    uint32_t clock;
    uint16_t fb; /* enum tdm_sdp_fb bits */
    char name[TDM_SDP_NAME_CAP];
    char fmtp[TDM_SDP_FMTP_CAP]; /* parameters after "a=fmtp:<pt> ", "" when none or too
                                  * long (then never chosen, and written without an fmtp) */
};

struct tdm_sdp_extmap {
    uint16_t id; /* 1..14 one-byte, 16..255 two-byte (RFC 8285 §5) */
    enum tdm_sdp_dir dir;
    char uri[TDM_SDP_URI_CAP];
};

struct tdm_sdp_ssrc {
    uint32_t ssrc;
    char cname[TDM_SDP_ID_CAP]; /* "" when no cname attribute */
};

enum tdm_sdp_group_sem { TDM_SDP_GROUP_FID, TDM_SDP_GROUP_SIM, TDM_SDP_GROUP_FEC_FR };

struct tdm_sdp_ssrc_group {
    enum tdm_sdp_group_sem sem;
    uint8_t n;
    uint32_t ssrcs[TDM_SDP_MAX_GROUP_SSRCS];
};

struct tdm_sdp_rid {
    char id[TDM_SDP_RID_CAP];
    bool send;      /* "a=rid:<id> send" (else recv) */
    bool simulcast; /* listed in a=simulcast in its direction */
    bool paused;    /* "~" prefix in a=simulcast (RFC 8853 §5.1) */
};

enum tdm_sdp_transport { TDM_SDP_UDP, TDM_SDP_TCP };
enum tdm_sdp_cand_type { TDM_SDP_HOST, TDM_SDP_SRFLX, TDM_SDP_PRFLX, TDM_SDP_RELAY };
enum tdm_sdp_tcptype { TDM_SDP_TCP_NONE, TDM_SDP_TCP_ACTIVE, TDM_SDP_TCP_PASSIVE, TDM_SDP_TCP_SO };

struct tdm_sdp_candidate {
    uint8_t media; /* index of the m-section it was given in */
    enum tdm_sdp_transport transport;
    enum tdm_sdp_cand_type type;
    enum tdm_sdp_tcptype tcptype;
    uint16_t component;
    uint16_t port;
    uint32_t priority;
    char foundation[TDM_SDP_FOUNDATION_CAP];
    char address[TDM_SDP_ADDR_CAP];
};

struct tdm_sdp_media {
    enum tdm_sdp_kind kind;
    uint16_t port;
    bool rejected;    /* port 0 without a=bundle-only (RFC 8843 §6) */
    bool bundle_only; /* port 0 with a=bundle-only: bundled, not rejected */
    bool rtcp_mux;
    bool rtcp_rsize;
    bool end_of_candidates;
    bool extmap_allow_mixed;
    enum tdm_sdp_dir dir;
    enum tdm_sdp_setup setup; /* media-level a=setup (Firefox, JSEP) */
    uint16_t line;            /* line number of the m= line, for messages */
    uint16_t dropped;         /* codecs/extmaps/rids beyond the bounds, skipped */
    char proto[TDM_SDP_PROTO_CAP];
    char kind_name[TDM_SDP_NAME_CAP]; /* the media token when kind is KIND_OTHER ("text") */
    char fmt[TDM_SDP_ID_CAP];         /* first format of a non-RTP m-line ("webrtc-datachannel") */
    char mid[TDM_SDP_MID_CAP];
    char msid_stream[TDM_SDP_ID_CAP]; /* a=msid (or the first a=ssrc msid) */
    char msid_track[TDM_SDP_ID_CAP];
    char ice_ufrag[TDM_SDP_ICE_CAP]; /* media level; "" when only session level */
    char ice_pwd[TDM_SDP_ICE_CAP];
    struct tdm_sdp_fingerprint fingerprint;
    uint8_t n_codecs, n_extmaps, n_ssrcs, n_groups, n_rids;
    struct tdm_sdp_codec codecs[TDM_SDP_MAX_CODECS]; /* in m= order (preference) */
    struct tdm_sdp_extmap extmaps[TDM_SDP_MAX_EXTMAPS];
    struct tdm_sdp_ssrc ssrcs[TDM_SDP_MAX_SSRCS];
    struct tdm_sdp_ssrc_group groups[TDM_SDP_MAX_GROUPS];
    struct tdm_sdp_rid rids[TDM_SDP_MAX_RIDS];
};

struct tdm_sdp {
    uint64_t sess_id;
    uint64_t sess_version;
    bool ice_lite;
    bool ice_trickle;
    bool extmap_allow_mixed;
    bool msid_semantic;       /* a=msid-semantic present (legacy, Chromium still writes it) */
    enum tdm_sdp_dir dir;     /* session-level direction (Firefox writes a=sendrecv) */
    enum tdm_sdp_setup setup; /* session-level a=setup */
    char ice_ufrag[TDM_SDP_ICE_CAP];
    char ice_pwd[TDM_SDP_ICE_CAP];
    struct tdm_sdp_fingerprint fingerprint;
    uint8_t n_bundle; /* the one BUNDLE group: indices into media, tag first */
    uint8_t bundle[TDM_SDP_MAX_MEDIA];
    uint8_t n_media;
    uint8_t n_cands;
    uint16_t cands_dropped;
    struct tdm_sdp_media media[TDM_SDP_MAX_MEDIA];
    struct tdm_sdp_candidate cands[TDM_SDP_MAX_CANDIDATES];
};

/* A zeroed model on the heap, or NULL. Free with tdm_sdp_free (NULL is fine). */
struct tdm_sdp *tdm_sdp_new(void);
void tdm_sdp_free(struct tdm_sdp *d);

/* Parse p[0..len) into *out (overwritten whole; borrows p until return; on error *out holds a
 * partial result: do not use it). Accepts CRLF or LF line ends; the last line must end with
 * one (else TDM_ETRUNC: the text was cut). Unknown attributes are ignored, unknown line types
 * refused (RFC 8866 §5). Checks beyond syntax, each a TDM_EINVAL naming the line or m-line:
 *  - rtpmap/fmtp/rtcp-fb for a pt missing from the m= list, two rtpmaps or fmtps for one pt,
 *    a pt listed twice, a dynamic pt without rtpmap, rtx whose apt names no listed pt;
 *  - duplicate mids, an active m-line without a mid, BUNDLE naming an unknown or rejected mid,
 *    an active m-line outside BUNDLE (or no BUNDLE at all); a second BUNDLE is TDM_EUNSUPP;
 *  - no ice-ufrag, ice-pwd or usable fingerprint for the BUNDLE tag (media or session level),
 *    bundled m-lines whose own credentials differ from the tag's;
 *  - within one BUNDLE group, one pt naming two codecs or one extmap id two URIs;
 *  - an extmap id used twice in an m-section, simulcast naming an undeclared rid, a second
 *    a=mid/a=setup/direction/ice-ufrag/ice-pwd where one is allowed.
 * Returns 0 or TDM_EINVAL / TDM_ETRUNC / TDM_ETOOBIG / TDM_EUNSUPP; err gets
 * "line N \"<start of line>\": what" or "m-line N (line L, mid \"M\"): what". */
int tdm_sdp_parse(const uint8_t *p, size_t len, struct tdm_sdp *out, char *err, size_t errlen);

/* Effective values after session-level defaults (RFC 8866 §6: media overrides session). */
enum tdm_sdp_dir tdm_sdp_media_dir(const struct tdm_sdp *d, size_t i);
enum tdm_sdp_setup tdm_sdp_media_setup(const struct tdm_sdp *d, size_t i);
const char *tdm_sdp_media_ufrag(const struct tdm_sdp *d, size_t i);
const char *tdm_sdp_media_pwd(const struct tdm_sdp *d, size_t i);
const struct tdm_sdp_fingerprint *tdm_sdp_media_fingerprint(const struct tdm_sdp *d, size_t i);
/* Index of the m-section with this mid, or -1. */
int tdm_sdp_find_mid(const struct tdm_sdp *d, const char *mid);
/* The codec with payload type pt in media m, or NULL. */
const struct tdm_sdp_codec *tdm_sdp_find_pt(const struct tdm_sdp_media *m, uint8_t pt);

/* Value of `key` in an fmtp parameter string ("a=1;key=v"), copied NUL-terminated into
 * val. Returns its length, TDM_ENOTFOUND, or TDM_ETOOBIG when val is too small. */
int tdm_sdp_fmtp_param(const char *fmtp, const char *key, char *val, size_t vallen);
/* Which relayable codec this is (checks H.264 profile/packetization, VP9 profile). */
enum tdm_sdp_codec_id tdm_sdp_codec_classify(const struct tdm_sdp_codec *c);
/* The allow-listed extension a URI names, or -1. */
int tdm_sdp_ext_classify(const char *uri);
const char *tdm_sdp_ext_uri(enum tdm_sdp_ext_id e);

/* Write d as SDP text into buf[0..cap) with CRLF line ends and a final NUL. Every string is
 * checked against its grammar first, so a caller-built model cannot inject lines. Returns
 * the length (without NUL), TDM_ETOOBIG when cap is too small, TDM_EINVAL for a bad field. */
int tdm_sdp_write(const struct tdm_sdp *d, char *buf, size_t cap, char *err, size_t errlen);

/* ---- offer/answer ---------------------------------------------------------------------- */

/* The server's side of the transport. The caller bumps sess_version for every new local
 * description (RFC 3264 §8). Codecs are answered in codec_pref order (the answerer's order
 * is what browsers send with first), limited to those listed. */
struct tdm_sdp_local {
    uint64_t sess_id;
    uint64_t sess_version;
    char ice_ufrag[TDM_SDP_ICE_CAP];
    char ice_pwd[TDM_SDP_ICE_CAP];
    uint8_t fingerprint[32]; /* sha-256 of the server's DTLS certificate */
    uint8_t n_codec_pref;
    enum tdm_sdp_codec_id codec_pref[4]; /* e.g. {VP8, H264, VP9}; Opus is implied for audio */
    bool rtx;                            /* answer/offer RTX for video codecs */
    bool extmap_allow_mixed;             /* echo it (two-byte extensions then possible) */
    bool simulcast; /* accept a browser's rid simulcast (adds the two rid extensions) */
    uint8_t n_cands;
    struct tdm_sdp_candidate cands[8]; /* host UDP, passive TCP; `media` is ignored */
};

/* A codec on a forwarded track: what the publisher sends, with the payload types the
 * subscriber's browser uses (tdm_sdp_pick_pts). rtx_pt < 0: no RTX. */
struct tdm_sdp_track_codec {
    enum tdm_sdp_codec_id codec;
    uint8_t pt;
    int16_t rtx_pt;
    uint16_t fb; /* enum tdm_sdp_fb bits to offer */
};

/* One forwarded track in a subscriber's session. active=false recycles the m-section: it is
 * written inactive, port 9, without msid or SSRCs, and a later active track of the same kind
 * may take the mid again. */
struct tdm_sdp_track {
    enum tdm_sdp_kind kind; /* AUDIO or VIDEO */
    bool active;
    char mid[TDM_SDP_MID_CAP];
    char stream_id[TDM_SDP_ID_CAP];
    char track_id[TDM_SDP_ID_CAP];
    char cname[TDM_SDP_ID_CAP];
    uint32_t ssrc;
    uint32_t rtx_ssrc; /* 0: none */
    uint8_t n_codecs;
    struct tdm_sdp_track_codec codecs[4];
};

/* What was agreed for one m-section, from the server's point of view. */
struct tdm_sdp_nego_codec {
    enum tdm_sdp_codec_id codec;
    uint8_t pt;
    int16_t rtx_pt; /* -1: none */
    uint8_t channels;
    uint16_t fb;
    uint32_t clock;
};

struct tdm_sdp_nego_media {
    char mid[TDM_SDP_MID_CAP];
    enum tdm_sdp_kind kind;
    bool rejected;
    enum tdm_sdp_dir dir; /* the server's direction: RECVONLY for a browser's own tracks */
    uint8_t n_codecs;
    struct tdm_sdp_nego_codec codecs[8];
    uint8_t ext[TDM_SDP_EXT_COUNT]; /* negotiated id per enum tdm_sdp_ext_id, 0: none */
    /* What the browser sends here: SSRCs with their RTX pair (FID), in SIM order when a SIM
     * group is given; rids when it sends rid-based simulcast. */
    uint8_t n_ssrcs;
    uint32_t ssrc[TDM_SDP_MAX_SSRCS];
    uint32_t rtx_ssrc[TDM_SDP_MAX_SSRCS]; /* 0: none */
    uint8_t n_rids;
    char rids[TDM_SDP_MAX_RIDS][TDM_SDP_RID_CAP];
    char msid_stream[TDM_SDP_ID_CAP];
    char msid_track[TDM_SDP_ID_CAP];
    char cname[TDM_SDP_ID_CAP];
};

struct tdm_sdp_nego {
    char remote_ufrag[TDM_SDP_ICE_CAP];
    char remote_pwd[TDM_SDP_ICE_CAP];
    struct tdm_sdp_fingerprint remote_fingerprint;
    enum tdm_sdp_setup remote_setup;
    bool dtls_server; /* true: the server answers DTLS (its setup is passive) */
    char bundle_mid[TDM_SDP_MID_CAP];
    uint8_t n_media;
    struct tdm_sdp_nego_media media[TDM_SDP_MAX_MEDIA];
};

/* Answer a browser's offer. Its own sending sections are answered recvonly with the relayable
 * codecs and allow-listed extensions it offered (its ids kept); sections the browser only
 * receives on are answered sendonly with the matching entry of tracks (by mid), else
 * inactive; anything else (data channels, no common codec) is rejected with port 0. Fills
 * *answer (write it with tdm_sdp_write) and *nego. tracks may be NULL when n_tracks is 0.
 * DTLS (RFC 5763 §5): the server answers passive (it is the DTLS server) unless the browser
 * offered passive. Returns 0, TDM_EUNSUPP (no rtcp-mux on the BUNDLE tag, a=setup:holdconn)
 * or TDM_EINVAL (bad local or track fields, a track whose kind differs from its m-section). */
int tdm_sdp_answer(const struct tdm_sdp *offer, const struct tdm_sdp_local *local,
                   const struct tdm_sdp_track *tracks, size_t n_tracks, struct tdm_sdp *answer,
                   struct tdm_sdp_nego *nego, char *err, size_t errlen);

/* The server's own offer to a subscriber: the m-sections of `current` (the last local
 * description, answer or offer; NULL for none) in the same order with the same mids, setup
 * actpass, updated and extended by tracks: a track whose mid exists takes that m-section over
 * (same kind; not a rejected one: JSEP §5.2.2 wants a new mid there), a new mid appends an
 * m-section. Extension ids follow those in `current`, so a URI keeps one id across BUNDLE; a
 * track's payload type must not already name another codec (TDM_EINVAL). Fills *offer. */
int tdm_sdp_offer(const struct tdm_sdp *current, const struct tdm_sdp_local *local,
                  const struct tdm_sdp_track *tracks, size_t n_tracks, struct tdm_sdp *offer,
                  char *err, size_t errlen);

/* Check a browser's answer to the server's offer (same m-sections, mids and kinds, codecs and
 * extension ids among those offered, directions allowed by RFC 3264 §6.1, DTLS setup active or
 * passive) and report what was agreed. m-sections the answer rejects are marked rejected (port
 * 0) in *offer, which can then serve as `current` for the next tdm_sdp_offer.
 * Returns 0, TDM_EINVAL or TDM_EUNSUPP with the reason in err. */
int tdm_sdp_check_answer(struct tdm_sdp *offer, const struct tdm_sdp *answer,
                         struct tdm_sdp_nego *nego, char *err, size_t errlen);

/* Payload types the browser used for codec in its offer/answer `d` (any m-section of that
 * kind), else Chromium's numbers (Opus 111, VP8 96/97, H264 108/109, VP9 98/99), or free
 * dynamic ones when those already mean something else in d. d may be NULL.
 * Returns 0, TDM_ENOTFOUND for a codec that is not relayable, TDM_EFULL when no pt is free. */
int tdm_sdp_pick_pts(const struct tdm_sdp *d, enum tdm_sdp_codec_id codec, uint8_t *pt,
                     int16_t *rtx_pt);

#endif
