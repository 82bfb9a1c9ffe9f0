/* RTP packets without copying (RFC 3550 §5.1, header extensions per RFC 8285), in-place
 * rewriting of the fields an SFU changes, serial-number order, and keyframe
 * detection for VP8 (RFC 7741), VP9 (RFC 9628) and H.264 (RFC 6184).
 *
 * Nothing here allocates, locks or logs: these functions sit on the per-packet path.
 * A struct tdm_rtp_view borrows the packet buffer: it is valid only while that buffer is
 * alive and unchanged in length. The in-place writers change bytes inside the buffer but
 * never move them, so a view stays valid across them (its cached fields do not follow:
 * re-parse if you need them). */
#ifndef TANDEM_RTP_H
#define TANDEM_RTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TDM_RTP_HEADER_MIN 12 /* RFC 3550 §5.1 fixed header */
#define TDM_RTP_MAX_CSRC 15

/* Extension block profiles: one-byte form 0xBEDE (RFC 8285 §4.2) and two-byte form
 * 0x100X, X being the 4 "appbits" (RFC 8285 §4.3). */
enum tdm_rtp_ext_form {
    TDM_RTP_EXT_NONE = 0, /* no extension block, or one with another profile */
    TDM_RTP_EXT_ONE_BYTE, /* ids 1..14, 1..16 bytes of data */
    TDM_RTP_EXT_TWO_BYTE, /* ids 1..255, 0..255 bytes of data */
    TDM_RTP_EXT_OTHER,    /* some other profile: kept, but elements cannot be searched */
};

/* A parsed header. All offsets count from the start of the packet (`buf`). */
struct tdm_rtp_view {
    const uint8_t *buf; /* borrowed */
    size_t len;         /* whole packet, padding included */
    bool padding;
    bool extension;
    bool marker;
    uint8_t csrc_count;
    uint8_t pt;
    uint16_t seq;
    uint32_t ts;
    uint32_t ssrc;
    uint16_t ext_profile; /* "defined by profile" field, when extension */
    uint8_t ext_form;     /* enum tdm_rtp_ext_form */
    size_t ext_off;       /* first byte of the extension data (after its 4-byte header) */
    size_t ext_len;       /* extension data length in bytes (a multiple of 4) */
    size_t header_len;    /* fixed header + CSRCs + extension block */
    size_t payload_off;   /* == header_len */
    size_t payload_len;   /* padding removed */
    uint8_t padding_len;  /* 0 when no padding */
};

/* Parse the RTP header of p[0..len). Rejects: len < 12, version != 2, CSRC list or
 * extension block past the end, padding count 0 or larger than what follows the header,
 * and malformed one-/two-byte extension elements (an element running past its block).
 * Returns 0, or TDM_ETRUNC / TDM_EINVAL with a message in err. Borrows p into *v. */
int tdm_rtp_parse(struct tdm_rtp_view *v, const uint8_t *p, size_t len, char *err, size_t errlen);

/* RFC 5761 §4: with RTP and RTCP on one port, a second byte in 192..223 (RTCP packet
 * types 192..223, i.e. RTP M+PT 64..95) means RTCP. Needs len >= 2; false otherwise. */
bool tdm_rtp_is_rtcp(const uint8_t *p, size_t len);

/* --- header extensions (RFC 8285) ---------------------------------------------------- */

/* Find element `id` in the extension block. On success sets *off (offset in the packet)
 * and *len (data length) and returns 0. TDM_ENOTFOUND when absent (or no block, or an
 * unsearchable profile), TDM_EINVAL for id 0 or (one-byte form) id 15. */
int tdm_rtp_ext_find(const struct tdm_rtp_view *v, uint8_t id, size_t *off, size_t *len);

/* The mid (RFC 8843 §15.2) as a NUL-terminated string in out. Returns its length, or
 * TDM_ENOTFOUND, TDM_ETOOBIG (outlen too small), TDM_EINVAL (empty, or a byte outside
 * the RFC 8843 §15.1 token characters). */
int tdm_rtp_ext_mid(const struct tdm_rtp_view *v, uint8_t id, char *out, size_t outlen);

/* Client-to-mixer audio level (RFC 6464 §3): level 0..127 in -dBov, voice activity flag. */
int tdm_rtp_ext_audio_level(const struct tdm_rtp_view *v, uint8_t id, uint8_t *level, bool *voice);

/* Transport-wide sequence number (draft-holmer-rmcat-transport-wide-cc-extensions-01 §2),
 * 16 bits big-endian. Returns 0 or TDM_ENOTFOUND / TDM_EINVAL (wrong element length). */
int tdm_rtp_ext_twcc_seq(const struct tdm_rtp_view *v, uint8_t id, uint16_t *seq);

/* --- in-place writers ---------------------------------------------------------------- */
/* `pkt` must be the buffer the view was parsed from (checked: TDM_EINVAL otherwise) or,
 * for the fixed-field setters, any packet of at least 12 bytes (TDM_ETRUNC otherwise). */

int tdm_rtp_set_ssrc(uint8_t *pkt, size_t len, uint32_t ssrc);
int tdm_rtp_set_seq(uint8_t *pkt, size_t len, uint16_t seq);
int tdm_rtp_set_ts(uint8_t *pkt, size_t len, uint32_t ts);
int tdm_rtp_set_pt(uint8_t *pkt, size_t len, uint8_t pt); /* keeps the marker bit */

/* Writes a 12-byte RTP header (version 2, no extension, no CSRC) into b (room for at least
 * TDM_RTP_HEADER_MIN bytes), with the marker bit and pt (7 bits). With pad > 0 the packet
 * is padding only (RFC 3550 §5.1): pad zero bytes follow, the last one counting them, and
 * the P bit is set. Returns the packet's length so far: TDM_RTP_HEADER_MIN + pad. */
size_t tdm_rtp_write_header(uint8_t *b, uint8_t pt, bool marker, uint16_t seq, uint32_t ts,
                            uint32_t ssrc, uint8_t pad);

/* Overwrite the data of existing element `id` with val[0..vlen); vlen must equal the
 * element's length (bytes are never moved). TDM_ENOTFOUND, or TDM_EINVAL on a length
 * mismatch or a pkt that is not v->buf. */
int tdm_rtp_ext_overwrite(uint8_t *pkt, const struct tdm_rtp_view *v, uint8_t id,
                          const uint8_t *val, size_t vlen);
int tdm_rtp_ext_set_twcc_seq(uint8_t *pkt, const struct tdm_rtp_view *v, uint8_t id, uint16_t seq);

/* --- serial-number order ------------------------------------------------------------ */

/* True when a is newer than b in 16-bit serial arithmetic (RFC 1982). */
bool tdm_rtp_seq_newer(uint16_t a, uint16_t b);
bool tdm_rtp_ts_newer(uint32_t a, uint32_t b);

/* --- codec payloads: what an SFU needs to decide where a decoder can start ------------ */

/* VP8 payload descriptor (RFC 7741 §4.2) and, when it starts partition 0 of a frame, the
 * frame tag's key-frame bit (RFC 6386 §9.1). */
struct tdm_rtp_vp8_desc {
    bool start;          /* S: start of a VP8 partition */
    uint8_t pid;         /* partition index */
    bool non_ref;        /* N */
    bool has_picture_id; /* I */
    uint16_t picture_id; /* 7 or 15 bits */
    bool picture_id_15;  /* M: picture id uses 15 bits */
    bool has_tl0;        /* L */
    uint8_t tl0picidx;
    bool has_tid; /* T */
    uint8_t tid;
    bool layer_sync; /* Y */
    bool has_keyidx; /* K */
    uint8_t keyidx;
    size_t header_len; /* descriptor length: the VP8 payload starts here */
    bool keyframe;     /* first packet of a key frame */
};
/* Parse the descriptor at the start of an RTP payload. TDM_ETRUNC when it runs past len
 * or leaves no payload byte. */
int tdm_rtp_vp8_parse(struct tdm_rtp_vp8_desc *d, const uint8_t *p, size_t len);
bool tdm_rtp_vp8_is_keyframe(const uint8_t *p, size_t len);

/* VP9 payload descriptor (RFC 9628 §4.2), flexible and non-flexible mode, with the
 * scalability structure (§4.2.1) skipped over bounded. */
struct tdm_rtp_vp9_desc {
    bool has_picture_id; /* I */
    bool inter_pred;     /* P: inter-picture predicted */
    bool has_layers;     /* L */
    bool flexible;       /* F */
    bool begin;          /* B: start of a frame */
    bool end;            /* E: end of a frame */
    bool has_ss;         /* V: scalability structure present */
    bool not_ref;        /* Z */
    uint16_t picture_id;
    uint8_t tid, sid;  /* 0 unless has_layers */
    bool switch_up;    /* U */
    bool inter_layer;  /* D */
    uint8_t tl0picidx; /* non-flexible mode with layers only */
    uint8_t num_pdiff; /* flexible mode with P: 1..3 reference indices */
    size_t header_len;
    bool keyframe; /* B && !P && spatial layer 0 */
};
int tdm_rtp_vp9_parse(struct tdm_rtp_vp9_desc *d, const uint8_t *p, size_t len);
bool tdm_rtp_vp9_is_keyframe(const uint8_t *p, size_t len);

/* H.264 (RFC 6184 §5): true when the payload carries an IDR slice (NAL type 5) or a
 * sequence parameter set (7) as a single NAL unit, inside a STAP-A (each aggregated unit
 * walked, bounded), or as the start fragment of an FU-A. */
bool tdm_rtp_h264_is_keyframe(const uint8_t *p, size_t len);

#endif
