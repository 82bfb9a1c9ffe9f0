/* One peer's SRTP session pair: over libsrtp2 (RFC 3711) for AES_CM_128_HMAC_SHA1_80, over
 * core/srtp_gcm.c on OpenSSL for AEAD_AES_128_GCM (RFC 7714), because the Debian build of
 * libsrtp2 runs on NSS (cost per packet and locks: srtp_gcm.h says more). */
#include "tandem/srtp.h"

#include "srtp_gcm.h"

#include "tandem/err.h"

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <srtp2/srtp.h>

_Static_assert(TDM_SRTP_MAX_TRAILER == SRTP_MAX_TRAILER_LEN + 4,
               "TDM_SRTP_MAX_TRAILER must cover srtp_protect_rtcp's documented trailer");
_Static_assert(TDM_SRTP_GCM_KEY_SALT_LEN == SRTP_AES_GCM_128_KEY_LEN_WSALT, "GCM key+salt");
_Static_assert(TDM_SRTP_CM80_KEY_SALT_LEN == SRTP_AES_ICM_128_KEY_LEN_WSALT, "CM key+salt");

#define RTP_HEADER_MIN 12
#define RTCP_HEADER_MIN 8

struct tdm_srtp {
    srtp_t in, out;                 /* libsrtp, under CM80 */
    struct tdm_srtp_gcm *gcm_out;   /* what we send under AEAD_AES_128_GCM */
    struct tdm_srtp_gcm_rx *gcm_in; /* what we receive under AEAD_AES_128_GCM */
    enum tdm_srtp_profile profile;
};

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static int g_init_rc = TDM_ECRYPTO;

static void global_init_once(void)
{
    g_init_rc = srtp_init() == srtp_err_status_ok ? 0 : TDM_ECRYPTO;
}

int tdm_srtp_global_init(void)
{
    pthread_once(&g_once, global_init_once);
    return g_init_rc;
}

size_t tdm_srtp_key_salt_len(enum tdm_srtp_profile profile)
{
    switch (profile) {
    case TDM_SRTP_AES128_CM_SHA1_80: return TDM_SRTP_CM80_KEY_SALT_LEN;
    case TDM_SRTP_AEAD_AES_128_GCM: return TDM_SRTP_GCM_KEY_SALT_LEN;
    case TDM_SRTP_PROFILE_NONE: break;
    }
    return 0;
}

void tdm_srtp_keys_wipe(struct tdm_srtp_keys *k)
{
    if (k)
        OPENSSL_cleanse(k, sizeof *k);
}

static int map_status(srtp_err_status_t st)
{
    switch (st) {
    case srtp_err_status_ok: return 0;
    case srtp_err_status_auth_fail: return TDM_EAUTH;
    case srtp_err_status_replay_fail:
    case srtp_err_status_replay_old: return TDM_EEXIST;
    case srtp_err_status_bad_param:
    case srtp_err_status_parse_err: return TDM_EINVAL;
    case srtp_err_status_alloc_fail: return TDM_ENOMEM;
    default: return TDM_ECRYPTO;
    }
}

static void set_crypto(srtp_policy_t *p, enum tdm_srtp_profile profile)
{
    if (profile == TDM_SRTP_AEAD_AES_128_GCM) {
        /* RFC 7714 section 14.2: AEAD_AES_128_GCM, 16-octet tag, for SRTP and SRTCP. */
        srtp_crypto_policy_set_aes_gcm_128_16_auth(&p->rtp);
        srtp_crypto_policy_set_aes_gcm_128_16_auth(&p->rtcp);
    } else {
        /* RFC 5764 section 4.1.2: SRTP_AES128_CM_HMAC_SHA1_80 for both. */
        srtp_crypto_policy_set_rtp_default(&p->rtp);
        srtp_crypto_policy_set_rtcp_default(&p->rtcp);
    }
}

static int make_session(srtp_t *out, enum tdm_srtp_profile profile, const uint8_t *key_salt,
                        size_t len, bool inbound)
{
    uint8_t key[TDM_SRTP_MAX_KEY_SALT];
    srtp_policy_t pol;
    memset(&pol, 0, sizeof pol);
    memcpy(key, key_salt, len);
    set_crypto(&pol, profile);
    pol.ssrc.type = inbound ? ssrc_any_inbound : ssrc_any_outbound;
    pol.key = key;
    pol.window_size = TDM_SRTP_REPLAY_WINDOW;
    /* A retransmission re-sends the same packet under the same sequence number. */
    pol.allow_repeat_tx = inbound ? 0 : 1;
    srtp_err_status_t st = srtp_create(out, &pol);
    OPENSSL_cleanse(key, sizeof key);
    if (st != srtp_err_status_ok) {
        *out = NULL;
        return map_status(st) == TDM_ENOMEM ? TDM_ENOMEM : TDM_ECRYPTO;
    }
    return 0;
}

int tdm_srtp_create(struct tdm_srtp **out, const struct tdm_srtp_keys *keys)
{
    int rc;
    struct tdm_srtp *s = NULL;
    if (!out || !keys)
        return TDM_EINVAL;
    *out = NULL;
    size_t len = tdm_srtp_key_salt_len(keys->profile);
    if (len == 0 || keys->len != len)
        return TDM_EINVAL;
    if ((rc = tdm_srtp_global_init()) != 0)
        return rc;
    s = calloc(1, sizeof *s);
    if (!s)
        return TDM_ENOMEM;
    s->profile = keys->profile;
    if (keys->profile == TDM_SRTP_AEAD_AES_128_GCM) {
        if ((rc = tdm_srtp_gcm_create(&s->gcm_out, keys->local)) != 0 ||
            (rc = tdm_srtp_gcm_rx_create(&s->gcm_in, keys->remote)) != 0)
            goto fail;
    } else if ((rc = make_session(&s->in, keys->profile, keys->remote, len, true)) != 0 ||
               (rc = make_session(&s->out, keys->profile, keys->local, len, false)) != 0) {
        goto fail;
    }
    *out = s;
    return 0;
fail:
    tdm_srtp_destroy(s);
    return rc;
}

void tdm_srtp_destroy(struct tdm_srtp *s)
{
    if (!s)
        return;
    if (s->in)
        srtp_dealloc(s->in);
    if (s->out)
        srtp_dealloc(s->out);
    tdm_srtp_gcm_destroy(s->gcm_out);
    tdm_srtp_gcm_rx_destroy(s->gcm_in);
    free(s);
}

enum tdm_srtp_profile tdm_srtp_profile(const struct tdm_srtp *s)
{
    return s->profile;
}

static int protect_common(struct tdm_srtp *s, uint8_t *buf, size_t len, size_t cap, bool rtcp)
{
    if (!s || !buf)
        return TDM_EINVAL;
    if (len < (rtcp ? RTCP_HEADER_MIN : RTP_HEADER_MIN))
        return TDM_ETRUNC;
    if (cap < len || cap - len < TDM_SRTP_MAX_TRAILER || len > INT_MAX - TDM_SRTP_MAX_TRAILER)
        return TDM_ETOOBIG;
    if (s->gcm_out)
        return rtcp ? tdm_srtp_gcm_protect_rtcp(s->gcm_out, buf, len)
                    : tdm_srtp_gcm_protect(s->gcm_out, buf, len);
    int n = (int)len;
    srtp_err_status_t st =
        rtcp ? srtp_protect_rtcp(s->out, buf, &n) : srtp_protect(s->out, buf, &n);
    if (st != srtp_err_status_ok)
        return map_status(st);
    return n;
}

static int unprotect_common(struct tdm_srtp *s, uint8_t *buf, size_t len, bool rtcp)
{
    if (!s || !buf)
        return TDM_EINVAL;
    if (len < (rtcp ? RTCP_HEADER_MIN : RTP_HEADER_MIN))
        return TDM_ETRUNC;
    if (len > INT_MAX)
        return TDM_ETOOBIG;
    if (s->gcm_in)
        return rtcp ? tdm_srtp_gcm_unprotect_rtcp(s->gcm_in, buf, len)
                    : tdm_srtp_gcm_unprotect(s->gcm_in, buf, len);
    int n = (int)len;
    srtp_err_status_t st =
        rtcp ? srtp_unprotect_rtcp(s->in, buf, &n) : srtp_unprotect(s->in, buf, &n);
    if (st != srtp_err_status_ok)
        return map_status(st);
    return n;
}

int tdm_srtp_protect_rtp(struct tdm_srtp *s, uint8_t *buf, size_t len, size_t cap)
{
    return protect_common(s, buf, len, cap, false);
}

int tdm_srtp_protect_rtcp(struct tdm_srtp *s, uint8_t *buf, size_t len, size_t cap)
{
    return protect_common(s, buf, len, cap, true);
}

int tdm_srtp_unprotect_rtp(struct tdm_srtp *s, uint8_t *buf, size_t len)
{
    return unprotect_common(s, buf, len, false);
}

int tdm_srtp_unprotect_rtcp(struct tdm_srtp *s, uint8_t *buf, size_t len)
{
    return unprotect_common(s, buf, len, true);
}
