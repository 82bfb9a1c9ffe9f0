/* STUN (RFC 8489, formerly 5389) as ICE needs it: a parser that turns one message into a
 * view of offsets into the caller's bytes, MESSAGE-INTEGRITY (HMAC-SHA1, short-term
 * credentials) and FINGERPRINT checks, and a bounded writer with builders for Binding
 * requests, success responses and error responses. Sans-IO, no allocation. */
#ifndef TANDEM_STUN_H
#define TANDEM_STUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tandem/addr.h"

#define TDM_STUN_HEADER_LEN 20
#define TDM_STUN_MAGIC_COOKIE 0x2112A442u
#define TDM_STUN_FINGERPRINT_XOR 0x5354554Eu /* RFC 8489 14.7: "STUN" */
#define TDM_STUN_TID_LEN 12
#define TDM_STUN_MI_LEN 20            /* HMAC-SHA1 */
#define TDM_STUN_MAX_USERNAME 512     /* RFC 5389 15.3: fewer than 513 bytes */
#define TDM_STUN_MAX_REASON 763       /* RFC 8489 14.8: fewer than 128 characters, 763 bytes */
#define TDM_STUN_MAX_UNKNOWN 8        /* unknown attribute types kept for a 420 */
#define TDM_STUN_MAX_MSG (20 + 65532) /* the length field is 16 bits, a multiple of 4 */

/* Message types (method and class bits interleaved, RFC 8489 5). Only Binding is used. */
enum tdm_stun_type {
    TDM_STUN_BINDING_REQUEST = 0x0001,
    TDM_STUN_BINDING_INDICATION = 0x0011,
    TDM_STUN_BINDING_SUCCESS = 0x0101,
    TDM_STUN_BINDING_ERROR = 0x0111,
};

enum tdm_stun_attr_type {
    TDM_STUN_ATTR_MAPPED_ADDRESS = 0x0001,
    TDM_STUN_ATTR_USERNAME = 0x0006,
    TDM_STUN_ATTR_MESSAGE_INTEGRITY = 0x0008,
    TDM_STUN_ATTR_ERROR_CODE = 0x0009,
    TDM_STUN_ATTR_UNKNOWN_ATTRIBUTES = 0x000A,
    TDM_STUN_ATTR_REALM = 0x0014,
    TDM_STUN_ATTR_NONCE = 0x0015,
    TDM_STUN_ATTR_MESSAGE_INTEGRITY_SHA256 = 0x001C,
    TDM_STUN_ATTR_PASSWORD_ALGORITHM = 0x001D,
    TDM_STUN_ATTR_USERHASH = 0x001E,
    TDM_STUN_ATTR_XOR_MAPPED_ADDRESS = 0x0020,
    TDM_STUN_ATTR_PRIORITY = 0x0024,      /* RFC 8445 16.1 */
    TDM_STUN_ATTR_USE_CANDIDATE = 0x0025, /* RFC 8445 16.1 */
    TDM_STUN_ATTR_PASSWORD_ALGORITHMS = 0x8002,
    TDM_STUN_ATTR_ALTERNATE_DOMAIN = 0x8003,
    TDM_STUN_ATTR_SOFTWARE = 0x8022,
    TDM_STUN_ATTR_ALTERNATE_SERVER = 0x8023,
    TDM_STUN_ATTR_FINGERPRINT = 0x8028,
    TDM_STUN_ATTR_ICE_CONTROLLED = 0x8029,  /* RFC 8445 16.1 */
    TDM_STUN_ATTR_ICE_CONTROLLING = 0x802A, /* RFC 8445 16.1 */
};

/* Error codes this module builds responses for (RFC 8489 14.8, RFC 8445 7.3.1.1). */
enum tdm_stun_error {
    TDM_STUN_ERR_BAD_REQUEST = 400,
    TDM_STUN_ERR_UNAUTHORIZED = 401,
    TDM_STUN_ERR_UNKNOWN_ATTRIBUTE = 420,
    TDM_STUN_ERR_ROLE_CONFLICT = 487,
};

enum tdm_stun_role {
    TDM_STUN_ROLE_NONE = 0,
    TDM_STUN_ROLE_CONTROLLING,
    TDM_STUN_ROLE_CONTROLLED,
};

/* A parsed message: a view into the caller's bytes (`buf` is borrowed, so the view is valid
 * only while those bytes are). Offsets are from the start of the message. When an attribute
 * occurs twice only the first counts (RFC 8489 14); attributes after MESSAGE-INTEGRITY other
 * than FINGERPRINT are ignored (RFC 8489 14.5). */
struct tdm_stun_msg {
    const uint8_t *buf;
    size_t len;    /* whole message: 20 + the length field */
    uint16_t type; /* enum tdm_stun_type for Binding */
    uint8_t tid[TDM_STUN_TID_LEN];
    bool framed; /* header and attribute framing were sound (see tdm_stun_parse) */

    bool has_username;
    uint32_t username_off, username_len; /* value bytes, not NUL-terminated */
    bool has_priority;
    uint32_t priority;
    bool use_candidate;
    uint8_t role; /* enum tdm_stun_role: which of ICE-CONTROLLING/-CONTROLLED came first */
    uint64_t tiebreaker;
    uint32_t mi_off; /* offset of the MESSAGE-INTEGRITY attribute header, 0 when absent */
    uint32_t fp_off; /* offset of the FINGERPRINT attribute header, 0 when absent */
    bool has_xor_mapped;
    struct tdm_addr xor_mapped; /* decoded (un-XORed), transport UDP */
    uint16_t error_code;        /* 300..699, 0 when no ERROR-CODE */
    uint32_t reason_off, reason_len;
    /* Comprehension-required (type < 0x8000) attributes this parser does not know, before
     * MESSAGE-INTEGRITY, in order; n_unknown counts them all, at most MAX_UNKNOWN are kept. */
    uint16_t unknown[TDM_STUN_MAX_UNKNOWN];
    uint32_t n_unknown;
};

/* Parse p[0..len) as exactly one STUN message (a UDP datagram or one RFC 4571 frame).
 * Checks the two zero bits, the magic cookie (RFC 3489 messages are refused), a length that
 * is a multiple of 4 and matches len, every attribute inside the message, FINGERPRINT last,
 * and the sizes of the attributes it knows. Returns 0, or:
 *   TDM_ETRUNC  shorter than the header or its length field says (m->framed false);
 *   TDM_EINVAL  not STUN or broken framing (m->framed false), or sound framing but a
 *               malformed known attribute (m->framed true: type and tid are valid, so a
 *               request may be answered with 400 Bad Request).
 * Fills err/errlen (may be NULL/0) with what was wrong and at which offset. Borrows p: the
 * view points into it. Unknown attributes are not an error: see m->n_unknown. */
int tdm_stun_parse(struct tdm_stun_msg *m, const uint8_t *p, size_t len, char *err, size_t errlen);

/* Pointer to the USERNAME bytes of a parsed message, or NULL when absent. */
const char *tdm_stun_username(const struct tdm_stun_msg *m, size_t *len);

/* HMAC-SHA1 of the message up to MESSAGE-INTEGRITY, with the length field as if MI were the
 * last attribute (RFC 8489 14.5). key is the short-term password as is (ICE passwords are
 * ASCII ice-chars, which OpaqueString leaves unchanged). Constant-time comparison.
 * Returns 0, TDM_ENOTFOUND when the message has no MI, TDM_EAUTH when it does not match. */
int tdm_stun_check_integrity(const struct tdm_stun_msg *m, const void *key, size_t keylen);

/* CRC-32 of the message up to FINGERPRINT, XOR 0x5354554e (RFC 8489 14.7).
 * Returns 0, TDM_ENOTFOUND when absent, TDM_EAUTH when wrong. */
int tdm_stun_check_fingerprint(const struct tdm_stun_msg *m);

/* CRC-32 (ISO-HDLC, as zlib/PNG/Ethernet) of p[0..len), without the STUN XOR. */
uint32_t tdm_stun_crc32(const uint8_t *p, size_t len);

/* --- writing. A writer fills the caller's buffer and never writes past cap; the first error
 * sticks and every later call does nothing, so build first and check once at finish. The
 * header's length field is kept up to date after every attribute. */
struct tdm_stun_writer {
    uint8_t *buf;
    size_t cap;
    size_t len;
    int err;       /* 0 or the first TDM_E* code */
    bool sealed;   /* MESSAGE-INTEGRITY written: only FINGERPRINT may follow */
    bool finished; /* FINGERPRINT written: nothing may follow */
};

/* Start a message of `type` with transaction id tid (12 bytes, borrowed until return). */
void tdm_stun_writer_init(struct tdm_stun_writer *w, uint8_t *buf, size_t cap, uint16_t type,
                          const uint8_t tid[TDM_STUN_TID_LEN]);
/* One attribute with value val[0..len), zero-padded to 4 bytes. */
void tdm_stun_put_attr(struct tdm_stun_writer *w, uint16_t type, const void *val, size_t len);
void tdm_stun_put_u32(struct tdm_stun_writer *w, uint16_t type, uint32_t v);
void tdm_stun_put_u64(struct tdm_stun_writer *w, uint16_t type, uint64_t v);
/* XOR-MAPPED-ADDRESS (or another XOR address attribute) for a (RFC 8489 14.2). */
void tdm_stun_put_xor_addr(struct tdm_stun_writer *w, uint16_t type, const struct tdm_addr *a);
/* ERROR-CODE with code 300..699 and a reason phrase (NUL-terminated, may be NULL). */
void tdm_stun_put_error_code(struct tdm_stun_writer *w, int code, const char *reason);
/* MESSAGE-INTEGRITY keyed with key[0..keylen). */
void tdm_stun_put_integrity(struct tdm_stun_writer *w, const void *key, size_t keylen);
void tdm_stun_put_fingerprint(struct tdm_stun_writer *w);
/* The message length, or the first error: TDM_ETOOBIG (would not fit cap or the 16-bit length
 * field) or TDM_EINVAL (bad argument, attribute after MI/FINGERPRINT). */
int tdm_stun_writer_finish(const struct tdm_stun_writer *w);

/* --- builders. Each writes into out[0..cap) and returns the message length or a negative
 * TDM_E* code. Every message ends with FINGERPRINT (RFC 8445 7.1.2 / 7.3). */

/* Binding success response to transaction tid: XOR-MAPPED-ADDRESS = mapped (the request's
 * source address), MESSAGE-INTEGRITY keyed with key (the responder's own password for ICE),
 * FINGERPRINT. key may be NULL (keylen 0) for no MESSAGE-INTEGRITY. */
int tdm_stun_build_binding_success(uint8_t *out, size_t cap, const uint8_t tid[TDM_STUN_TID_LEN],
                                   const struct tdm_addr *mapped, const void *key, size_t keylen);

/* Binding error response with ERROR-CODE `code` and its standard reason phrase; for 420 the
 * unknown[0..n_unknown) types go into UNKNOWN-ATTRIBUTES. key NULL: no MESSAGE-INTEGRITY, as
 * 400 and 401 must be sent (RFC 8489 9.1.3); for 420 and 487 after a request authenticated,
 * pass the password. */
int tdm_stun_build_error(uint8_t *out, size_t cap, const uint8_t tid[TDM_STUN_TID_LEN], int code,
                         const uint16_t *unknown, size_t n_unknown, const void *key, size_t keylen);

/* What a connectivity check carries (RFC 8445 7.1.1). */
struct tdm_stun_request {
    const uint8_t *tid;   /* 12 bytes */
    const char *username; /* "remoteufrag:localufrag" from the sender's view; may be NULL */
    size_t username_len;
    const void *key; /* the receiver's password; NULL for no MESSAGE-INTEGRITY */
    size_t keylen;
    uint32_t priority; /* 0: no PRIORITY attribute */
    bool use_candidate;
    uint8_t role; /* enum tdm_stun_role; NONE: neither ICE-CONTROLLING nor -CONTROLLED */
    uint64_t tiebreaker;
};

/* Binding request for a connectivity or consent check (tests, a load client). */
int tdm_stun_build_binding_request(uint8_t *out, size_t cap, const struct tdm_stun_request *r);

#endif
