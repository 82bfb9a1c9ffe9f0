/* libFuzzer target: protecting RTP under AEAD_AES_128_GCM (core/srtp_gcm.c on OpenSSL,
 * behind tdm_srtp_protect_rtp), differentially against libsrtp2's own srtp_protect with the
 * same keys and the policy core/srtp.c gives it.
 *
 * Input: a series of packets, each a 2-byte big-endian length then that many bytes (a
 * length past the end takes what is left); packets of one input go through one session, so
 * sequence numbers, SSRCs and rollover counters carry over. Each packet must give the same
 * result both ways: the same bytes and length, or TDM_EINVAL for libsrtp's bad_param and
 * TDM_EEXIST for its replay_old; packets under 12 bytes TDM_ETRUNC without a write. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <srtp2/srtp.h>

#include "tandem/err.h"
#include "tandem/srtp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            abort();                                                                               \
    } while (0)

#define MAX_PKT 1500
#define CAP (MAX_PKT + TDM_SRTP_MAX_TRAILER)

static srtp_t ref_out(const uint8_t *key_salt)
{
    uint8_t key[TDM_SRTP_MAX_KEY_SALT];
    srtp_policy_t pol;
    srtp_t s = NULL;
    memset(&pol, 0, sizeof pol);
    memcpy(key, key_salt, TDM_SRTP_GCM_KEY_SALT_LEN);
    srtp_crypto_policy_set_aes_gcm_128_16_auth(&pol.rtp);
    srtp_crypto_policy_set_aes_gcm_128_16_auth(&pol.rtcp);
    pol.ssrc.type = ssrc_any_outbound;
    pol.key = key;
    pol.window_size = TDM_SRTP_REPLAY_WINDOW;
    pol.allow_repeat_tx = 1;
    CHECK(srtp_create(&s, &pol) == srtp_err_status_ok);
    return s;
}

static void one(struct tdm_srtp *ours, srtp_t ref, const uint8_t *p, size_t len)
{
    static uint8_t a[CAP], b[CAP];
    memcpy(a, p, len);
    memcpy(b, p, len);
    int m = tdm_srtp_protect_rtp(ours, a, len, sizeof a);
    if (len < 12) {
        CHECK(m == TDM_ETRUNC && memcmp(a, p, len) == 0);
        return;
    }
    int rn = (int)len;
    srtp_err_status_t st = srtp_protect(ref, b, &rn);
    if (st == srtp_err_status_ok) {
        CHECK(m == rn && m == (int)len + 16);
        CHECK(memcmp(a, b, (size_t)m) == 0);
    } else if (st == srtp_err_status_replay_old) {
        CHECK(m == TDM_EEXIST);
    } else {
        CHECK(st == srtp_err_status_bad_param && m == TDM_EINVAL);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool init;
    if (!init) {
        CHECK(tdm_srtp_global_init() == 0);
        init = true;
    }
    struct tdm_srtp_keys k;
    memset(&k, 0, sizeof k);
    k.profile = TDM_SRTP_AEAD_AES_128_GCM;
    k.len = TDM_SRTP_GCM_KEY_SALT_LEN;
    for (size_t i = 0; i < k.len; i++)
        k.local[i] = k.remote[i] = (uint8_t)(i * 37 + 5);
    struct tdm_srtp *ours;
    CHECK(tdm_srtp_create(&ours, &k) == 0);
    srtp_t ref = ref_out(k.local);
    size_t off = 0;
    while (size - off >= 2) {
        size_t len = (size_t)data[off] << 8 | data[off + 1];
        off += 2;
        if (len > size - off)
            len = size - off;
        if (len > MAX_PKT)
            len = MAX_PKT;
        one(ours, ref, data + off, len);
        off += len;
    }
    srtp_dealloc(ref);
    tdm_srtp_destroy(ours);
    return 0;
}
