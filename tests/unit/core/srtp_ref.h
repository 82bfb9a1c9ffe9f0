/* The libsrtp reference for the GCM tests (test_srtp_gcm*.c): keys, a libsrtp session as
 * core/srtp.c made them before our own GCM code, test packets, and "both": one packet
 * unprotected by ours and by libsrtp, which must decide alike. Include after cmocka.h. */
#ifndef TANDEM_TEST_SRTP_REF_H
#define TANDEM_TEST_SRTP_REF_H

#include <srtp2/srtp.h>

#include "tandem/err.h"
#include "tandem/srtp.h"

#define PKT_CAP (1500 + TDM_SRTP_MAX_TRAILER)
#define TAG 16
#define TRAILER 20 /* SRTCP: tag 16 + E || SRTCP index 4 */

static inline struct tdm_srtp_keys srtp_ref_keys(enum tdm_srtp_profile profile, uint8_t seed)
{
    struct tdm_srtp_keys k;
    memset(&k, 0, sizeof k);
    k.profile = profile;
    k.len = tdm_srtp_key_salt_len(profile);
    for (size_t i = 0; i < k.len; i++) {
        k.local[i] = (uint8_t)(i * 29 + seed);
        k.remote[i] = (uint8_t)(i * 17 + seed + 3);
    }
    return k;
}

/* encrypt false: SRTCP with the E bit clear (authenticated only, RFC 7714 9.3). */
static inline srtp_t srtp_ref_session(const uint8_t *key_salt, bool inbound, bool encrypt)
{
    uint8_t key[TDM_SRTP_MAX_KEY_SALT];
    srtp_policy_t pol;
    srtp_t s = NULL;
    memset(&pol, 0, sizeof pol);
    memcpy(key, key_salt, TDM_SRTP_GCM_KEY_SALT_LEN);
    srtp_crypto_policy_set_aes_gcm_128_16_auth(&pol.rtp);
    srtp_crypto_policy_set_aes_gcm_128_16_auth(&pol.rtcp);
    if (!encrypt)
        pol.rtcp.sec_serv = sec_serv_auth;
    pol.ssrc.type = inbound ? ssrc_any_inbound : ssrc_any_outbound;
    pol.key = key;
    pol.window_size = TDM_SRTP_REPLAY_WINDOW;
    pol.allow_repeat_tx = inbound ? 0 : 1;
    assert_int_equal(srtp_create(&s, &pol), srtp_err_status_ok);
    return s;
}

/* RTP with cc CSRCs and an extension: 0 none, 1 one-byte (RFC 8285 4.2), 2 two-byte (4.3). */
static inline size_t srtp_ref_rtp(uint8_t *b, uint16_t seq, uint32_t ssrc, unsigned cc, int ext,
                                  size_t payload)
{
    size_t o = 12;
    b[0] = (uint8_t)(0x80 | (ext ? 0x10 : 0) | cc);
    b[1] = (uint8_t)(96 | (seq % 7 == 0 ? 0x80 : 0));
    b[2] = (uint8_t)(seq >> 8), b[3] = (uint8_t)seq;
    uint32_t ts = 3000u * seq;
    b[4] = (uint8_t)(ts >> 24), b[5] = (uint8_t)(ts >> 16);
    b[6] = (uint8_t)(ts >> 8), b[7] = (uint8_t)ts;
    b[8] = (uint8_t)(ssrc >> 24), b[9] = (uint8_t)(ssrc >> 16);
    b[10] = (uint8_t)(ssrc >> 8), b[11] = (uint8_t)ssrc;
    for (unsigned i = 0; i < cc * 4; i++)
        b[o++] = (uint8_t)(0xc0 + i);
    if (ext == 1) {
        const uint8_t e[] = {0xbe, 0xde, 0, 2, 0x10, 0xaa, 0x22, 1, 2, 3, 0, 0};
        memcpy(b + o, e, sizeof e), o += sizeof e;
    } else if (ext == 2) {
        const uint8_t e[] = {0x10, 0x00, 0, 3, 5, 4, 1, 2, 3, 4, 7, 0, 9, 1, 0x55, 0};
        memcpy(b + o, e, sizeof e), o += sizeof e;
    }
    for (size_t i = 0; i < payload; i++)
        b[o++] = (uint8_t)(i * 3 + seq);
    return o;
}

/* libsrtp's error as ours. */
static inline int srtp_ref_err(srtp_err_status_t st)
{
    switch (st) {
    case srtp_err_status_ok: return 0;
    case srtp_err_status_auth_fail: return TDM_EAUTH;
    case srtp_err_status_replay_fail:
    case srtp_err_status_replay_old: return TDM_EEXIST;
    case srtp_err_status_bad_param:
    case srtp_err_status_parse_err: return TDM_EINVAL;
    default: return TDM_ECRYPTO;
    }
}

/* Unprotect pkt[0..n) (RTP, or SRTCP when rtcp) with ours into plain and with the libsrtp
 * inbound session: the same decision, the same error, the same plain bytes. Returns ours. */
static inline int srtp_ref_both(struct tdm_srtp *ours, srtp_t ref, const uint8_t *pkt, size_t n,
                                bool rtcp, uint8_t *plain)
{
    static uint8_t b[PKT_CAP];
    memcpy(plain, pkt, n);
    memcpy(b, pkt, n);
    int m = rtcp ? tdm_srtp_unprotect_rtcp(ours, plain, n) : tdm_srtp_unprotect_rtp(ours, plain, n);
    int rn = (int)n;
    srtp_err_status_t st = rtcp ? srtp_unprotect_rtcp(ref, b, &rn) : srtp_unprotect(ref, b, &rn);
    if (n < (rtcp ? 8u : 12u)) {
        assert_int_equal(st, srtp_err_status_bad_param);
        assert_int_equal(m, TDM_ETRUNC);
    } else if (st == srtp_err_status_ok) {
        assert_int_equal(m, rn);
        assert_int_equal(m, (int)n - (rtcp ? TRAILER : TAG));
        assert_memory_equal(plain, b, (size_t)m);
    } else {
        assert_int_equal(m, srtp_ref_err(st));
    }
    return m;
}

/* xorshift32: repeatable shuffles. */
static inline uint32_t srtp_ref_rnd(uint32_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    return *x;
}

#endif
