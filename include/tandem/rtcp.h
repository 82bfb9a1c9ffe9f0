/* RTCP: walk a compound packet (RFC 3550 §6.1; reduced-size RTCP per RFC 5506 accepted,
 * so the first packet need not be SR/RR), read the packets an SFU acts on, build the ones
 * it sends, and rewrite SSRCs inside feedback on its way from a subscriber to a publisher.
 *
 * Readers borrow the caller's buffer: a struct tdm_rtcp_pkt (and everything read from it
 * that holds a pointer) is valid while that buffer is. Builders write into a caller's
 * buffer and return the length written, or TDM_ETOOBIG when `cap` is too small (nothing
 * useful is left in `out` then). Nothing here allocates, locks or logs. */
#ifndef TANDEM_RTCP_H
#define TANDEM_RTCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum tdm_rtcp_type {
    TDM_RTCP_SR = 200,
    TDM_RTCP_RR = 201,
    TDM_RTCP_SDES = 202,
    TDM_RTCP_BYE = 203,
    TDM_RTCP_APP = 204,
    TDM_RTCP_RTPFB = 205, /* RFC 4585 §6.2 transport-layer feedback */
    TDM_RTCP_PSFB = 206,  /* RFC 4585 §6.3 payload-specific feedback */
};

/* FMT values (the 5-bit count field of feedback packets). */
enum {
    TDM_RTCP_FMT_NACK = 1,  /* RTPFB, RFC 4585 §6.2.1 */
    TDM_RTCP_FMT_TWCC = 15, /* RTPFB, draft-holmer-rmcat-transport-wide-cc-extensions-01 */
    TDM_RTCP_FMT_PLI = 1,   /* PSFB, RFC 4585 §6.3.1 */
    TDM_RTCP_FMT_FIR = 4,   /* PSFB, RFC 5104 §4.3.1 */
    TDM_RTCP_FMT_AFB = 15,  /* PSFB application layer feedback: REMB */
};

#define TDM_RTCP_MAX_BLOCKS 31   /* the 5-bit report count */
#define TDM_RTCP_NACK_PER_FCI 17 /* PID + 16 BLP bits */

/* One packet of a compound. */
struct tdm_rtcp_pkt {
    const uint8_t *p; /* its first header byte (borrowed) */
    size_t len;       /* 4 * (length field + 1) */
    uint8_t count;    /* RC, SC or FMT */
    uint8_t type;
    bool padding;
    size_t body_len; /* bytes after the 4-byte header, padding removed */
};

struct tdm_rtcp_iter {
    const uint8_t *p;
    size_t len, off;
};

/* Iterate p[0..len). _next returns 1 and fills *pkt, 0 at the end, or a negative TDM_E*
 * code (with a message) when the rest is malformed: version != 2, fewer than 4 bytes left,
 * a length field past the end of the compound, padding on a packet that is not the last
 * (RFC 3550 A.2), a padding count of 0 or larger than the body. */
void tdm_rtcp_iter_init(struct tdm_rtcp_iter *it, const uint8_t *p, size_t len);
int tdm_rtcp_iter_next(struct tdm_rtcp_iter *it, struct tdm_rtcp_pkt *pkt, char *err,
                       size_t errlen);

/* Walks the whole compound; returns the number of packets (>= 1) or a negative code.
 * An empty buffer is TDM_ETRUNC. */
int tdm_rtcp_validate(const uint8_t *p, size_t len, char *err, size_t errlen);

/* --- reports (RFC 3550 §6.4) ---------------------------------------------------------- */

struct tdm_rtcp_rb {
    uint32_t ssrc;            /* the source this block reports on */
    uint8_t fraction_lost;    /* 8-bit fixed point */
    int32_t cumulative_lost;  /* 24-bit signed */
    uint32_t ext_highest_seq; /* cycles << 16 | highest seq */
    uint32_t jitter;          /* timestamp units */
    uint32_t lsr;             /* middle 32 bits of the last SR's NTP time, 0 if none */
    uint32_t dlsr;            /* delay since that SR, 1/65536 s */
};

struct tdm_rtcp_sr {
    uint32_t ssrc;
    uint64_t ntp; /* seconds since 1900 << 32 | fraction */
    uint32_t rtp_ts;
    uint32_t packet_count;
    uint32_t octet_count;
    uint8_t nblocks; /* filled by the parser; builders take a count instead */
};

/* SR: fills *sr (nblocks = RC) and returns 0. TDM_EINVAL for another type, TDM_ETRUNC
 * when the body is shorter than sender info plus RC blocks. */
int tdm_rtcp_parse_sr(const struct tdm_rtcp_pkt *pkt, struct tdm_rtcp_sr *sr);
/* RR: sets *ssrc (the reporter) and returns RC, or a negative code. */
int tdm_rtcp_parse_rr(const struct tdm_rtcp_pkt *pkt, uint32_t *ssrc);
/* Report block i (< RC) of a packet already accepted by parse_sr / parse_rr. */
int tdm_rtcp_report_block(const struct tdm_rtcp_pkt *pkt, unsigned i, struct tdm_rtcp_rb *rb);

/* BYE (RFC 3550 §6.6): copies up to `max` SSRCs, points *reason at the optional reason
 * text (length *reason_len, 0 when absent; not NUL-terminated, not validated as UTF-8).
 * Returns SC or a negative code. reason/reason_len may be NULL. */
int tdm_rtcp_parse_bye(const struct tdm_rtcp_pkt *pkt, uint32_t *ssrcs, size_t max,
                       const uint8_t **reason, size_t *reason_len);

/* --- feedback (RFC 4585 §6.1) --------------------------------------------------------- */

struct tdm_rtcp_fb {
    uint8_t type, fmt;
    uint32_t sender_ssrc;
    uint32_t media_ssrc;
    const uint8_t *fci; /* borrowed */
    size_t fci_len;
};

/* Any RTPFB/PSFB packet: common header. TDM_EINVAL for other types, TDM_ETRUNC < 8 bytes. */
int tdm_rtcp_parse_fb(const struct tdm_rtcp_pkt *pkt, struct tdm_rtcp_fb *fb);

/* Generic NACK: also checks the FCI holds at least one 4-byte entry (RFC 4585 §6.2.1). */
int tdm_rtcp_parse_nack(const struct tdm_rtcp_pkt *pkt, struct tdm_rtcp_fb *fb);
/* Expand PID+BLP entries into sequence numbers, in packet order; writes at most `max`
 * and returns how many were written. At most TDM_RTCP_NACK_PER_FCI per 4 FCI bytes. */
size_t tdm_rtcp_nack_expand(const struct tdm_rtcp_fb *fb, uint16_t *seqs, size_t max);

/* PLI: no FCI. FIR: one or more 8-byte entries (SSRC, seq nr, 3 reserved bytes). */
int tdm_rtcp_parse_pli(const struct tdm_rtcp_pkt *pkt, struct tdm_rtcp_fb *fb);
/* Returns the number of FIR entries, or a negative code. */
int tdm_rtcp_parse_fir(const struct tdm_rtcp_pkt *pkt, struct tdm_rtcp_fb *fb);
int tdm_rtcp_fir_entry(const struct tdm_rtcp_fb *fb, unsigned i, uint32_t *ssrc, uint8_t *seq_nr);

/* REMB (draft-alvestrand-rmcat-remb-03 §2.2): bitrate in bit/s (saturated at UINT64_MAX)
 * and up to `max` of its SSRCs. Returns the SSRC count from the packet, or a negative
 * code (TDM_ENOTFOUND when the AFB packet is not REMB). */
struct tdm_rtcp_remb {
    uint32_t sender_ssrc;
    uint64_t bitrate;
    uint8_t num_ssrc;
};
int tdm_rtcp_parse_remb(const struct tdm_rtcp_pkt *pkt, struct tdm_rtcp_remb *remb, uint32_t *ssrcs,
                        size_t max);

/* Transport-wide congestion control feedback. Status symbols: */
enum {
    TDM_RTCP_TWCC_NOT_RECEIVED = 0,
    TDM_RTCP_TWCC_SMALL_DELTA = 1, /* received, 1-byte delta */
    TDM_RTCP_TWCC_LARGE_DELTA = 2, /* received, 2-byte signed delta */
};
struct tdm_rtcp_twcc_status {
    uint16_t seq;
    uint8_t symbol;
    int32_t delta; /* receive delta in 250 us units (0 when not received) */
};
struct tdm_rtcp_twcc {
    uint32_t sender_ssrc, media_ssrc;
    uint16_t base_seq;
    uint16_t status_count;
    int32_t ref_time; /* 24-bit signed, multiples of 64 ms */
    uint8_t fb_count;
    uint16_t received; /* symbols 1 and 2 */
    uint16_t lost;     /* symbol 0 */
};
/* Checks every chunk and that the receive deltas fit in the packet. Fills up to `max`
 * entries of out (may be NULL) in sequence order. Returns 0 or a negative code (status
 * count 0, reserved symbol 3, chunks or deltas past the end). */
int tdm_rtcp_parse_twcc(const struct tdm_rtcp_pkt *pkt, struct tdm_rtcp_twcc *tw,
                        struct tdm_rtcp_twcc_status *out, size_t max);

/* --- builders ------------------------------------------------------------------------- */

int tdm_rtcp_build_sr(uint8_t *out, size_t cap, const struct tdm_rtcp_sr *sr,
                      const struct tdm_rtcp_rb *blocks, size_t nblocks);
int tdm_rtcp_build_rr(uint8_t *out, size_t cap, uint32_t ssrc, const struct tdm_rtcp_rb *blocks,
                      size_t nblocks);
/* SDES with a single chunk holding one CNAME item (RFC 3550 §6.5.1), cname_len 1..255. */
int tdm_rtcp_build_sdes_cname(uint8_t *out, size_t cap, uint32_t ssrc, const char *cname,
                              size_t cname_len);
int tdm_rtcp_build_pli(uint8_t *out, size_t cap, uint32_t sender_ssrc, uint32_t media_ssrc);
/* RFC 5104 §4.3.1.2: header media SSRC 0, the target in the FCI with seq_nr. */
int tdm_rtcp_build_fir(uint8_t *out, size_t cap, uint32_t sender_ssrc, uint32_t media_ssrc,
                       uint8_t seq_nr);
/* Compresses lost[0..n) into PID+BLP entries: each entry covers its PID and the 16 that
 * follow (serial arithmetic, so lists that cross 65535 -> 0 compress too). Works best with
 * ascending input; any order gives a correct, possibly longer, packet. n >= 1. */
int tdm_rtcp_build_nack(uint8_t *out, size_t cap, uint32_t sender_ssrc, uint32_t media_ssrc,
                        const uint16_t *lost, size_t n);
int tdm_rtcp_build_remb(uint8_t *out, size_t cap, uint32_t sender_ssrc, uint64_t bitrate,
                        const uint32_t *ssrcs, size_t n);

/* --- SSRC rewriting ------------------------------------------------------------------- */

enum {
    TDM_RTCP_RW_SENDER = 1, /* SR/RR/feedback packet sender SSRC */
    TDM_RTCP_RW_MEDIA = 2,  /* feedback media SSRC, FIR entries, REMB SSRC list */
    TDM_RTCP_RW_REPORT = 4, /* report block SSRCs in SR/RR */
};
/* In place, every SSRC field selected by `what` that equals `from` becomes `to`. The
 * compound is validated first and left untouched if malformed. Returns the number of
 * fields changed, or a negative code. */
int tdm_rtcp_rewrite_ssrc(uint8_t *p, size_t len, uint32_t from, uint32_t to, unsigned what);

#endif
