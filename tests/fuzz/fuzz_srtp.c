/* libFuzzer target: RTP and RTCP under AEAD_AES_128_GCM through core/srtp_gcm.c on OpenSSL
 * (behind tdm_srtp_protect_rtp/rtcp and tdm_srtp_unprotect_rtp/rtcp), differentially against
 * libsrtp2's own srtp_protect(_rtcp) and srtp_unprotect(_rtcp) with the same keys and the
 * policies core/srtp.c gave it. A packet whose second byte is 192-223 is RTCP (RFC 5761 4),
 * any other RTP.
 *
 * Input: a series of packets, each a 2-byte big-endian word then bytes; the word's low 11
 * bits are the length (a length past the end takes what is left; at most 1500), its high 5
 * bits say what the receivers get (below). Packets of one input go through one pair of
 * sessions, so sequence numbers, SSRCs, rollover counters and replay windows carry over.
 *
 * Protect: each packet must give the same result both ways: the same bytes and length, or
 * TDM_EINVAL for libsrtp's bad_param and TDM_EEXIST for its replay_old; packets under 12
 * bytes (RTCP: 8) TDM_ETRUNC without a write.
 * Unprotect: what the receivers get is libsrtp's protected packet, or the raw bytes when
 * libsrtp refused them; high bits 0x10 hold it back (only kept among the last 8, so a later
 * packet can deliver it late), low 4 bits 1-8 then deliver the packet that many back again
 * (a replay or a late arrival), 9 a copy with one bit flipped, 10 a copy cut short, 11 the
 * raw bytes as if protected. Each delivery must get the same decision from ours and from
 * libsrtp's inbound session: the same plain bytes, or the mapped error.
 *
 * SSRCs are folded to 32 values (0-15 and 0xfffffff0-0xffffffff, by the top bit and the low
 * four): libsrtp remembers every SSRC, ours the last TDM_SRTP_GCM_RX_MAX_SSRC (32) received,
 * and a stream forgotten there would rightly be taken afresh. */
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
#define HISTORY 8

struct pkt {
    size_t len;
    uint8_t b[CAP];
};

static struct pkt g_hist[HISTORY];
static unsigned g_n_hist;

static srtp_t ref_session(const uint8_t *key_salt, bool inbound)
{
    uint8_t key[TDM_SRTP_MAX_KEY_SALT];
    srtp_policy_t pol;
    srtp_t s = NULL;
    memset(&pol, 0, sizeof pol);
    memcpy(key, key_salt, TDM_SRTP_GCM_KEY_SALT_LEN);
    srtp_crypto_policy_set_aes_gcm_128_16_auth(&pol.rtp);
    srtp_crypto_policy_set_aes_gcm_128_16_auth(&pol.rtcp);
    pol.ssrc.type = inbound ? ssrc_any_inbound : ssrc_any_outbound;
    pol.key = key;
    pol.window_size = TDM_SRTP_REPLAY_WINDOW;
    pol.allow_repeat_tx = inbound ? 0 : 1;
    CHECK(srtp_create(&s, &pol) == srtp_err_status_ok);
    return s;
}

static bool is_rtcp(const uint8_t *p, size_t len)
{
    return len >= 2 && p[1] >= 192 && p[1] <= 223;
}

/* Protect p with ours and libsrtp's outbound session; libsrtp's result left in out. */
static bool protect(struct tdm_srtp *ours, srtp_t ref, const uint8_t *p, size_t len,
                    struct pkt *out)
{
    static uint8_t a[CAP];
    bool rtcp = is_rtcp(p, len);
    memcpy(a, p, len);
    memcpy(out->b, p, len);
    int m = rtcp ? tdm_srtp_protect_rtcp(ours, a, len, sizeof a)
                 : tdm_srtp_protect_rtp(ours, a, len, sizeof a);
    if (len < (rtcp ? 8u : 12u)) {
        CHECK(m == TDM_ETRUNC && memcmp(a, p, len) == 0);
        return false;
    }
    int rn = (int)len;
    srtp_err_status_t st =
        rtcp ? srtp_protect_rtcp(ref, out->b, &rn) : srtp_protect(ref, out->b, &rn);
    if (st == srtp_err_status_ok) {
        CHECK(m == rn && m == (int)len + (rtcp ? 20 : 16));
        CHECK(memcmp(a, out->b, (size_t)m) == 0);
        out->len = (size_t)rn;
        return true;
    }
    if (st == srtp_err_status_replay_old)
        CHECK(m == TDM_EEXIST);
    else
        CHECK(st == srtp_err_status_bad_param && m == TDM_EINVAL);
    return false;
}

/* The RTP header's length with its CSRCs and extension, as far as len holds them. */
static size_t rtp_header_len(const uint8_t *p, size_t len)
{
    size_t h = 12 + 4u * (p[0] & 0x0f);
    if ((p[0] & 0x10) && len >= h + 4)
        h += 4 + 4u * (((size_t)p[h + 2] << 8) | p[h + 3]);
    return h;
}

/* Deliver p[0..len) to both receivers: the same decision and plain bytes. */
static void deliver(struct tdm_srtp *ours, srtp_t ref, const uint8_t *p, size_t len)
{
    static uint8_t a[CAP], b[CAP];
    bool rtcp = is_rtcp(p, len);
    memcpy(a, p, len);
    memcpy(b, p, len);
    int m = rtcp ? tdm_srtp_unprotect_rtcp(ours, a, len) : tdm_srtp_unprotect_rtp(ours, a, len);
    int rn = (int)len;
    srtp_err_status_t st = rtcp ? srtp_unprotect_rtcp(ref, b, &rn) : srtp_unprotect(ref, b, &rn);
    if (len < (rtcp ? 8u : 12u)) {
        CHECK(m == TDM_ETRUNC && st == srtp_err_status_bad_param);
        return;
    }
    switch (st) {
    case srtp_err_status_ok:
        CHECK(m == rn && m == (int)len - (rtcp ? 20 : 16) && memcmp(a, b, (size_t)m) == 0);
        break;
    case srtp_err_status_auth_fail: CHECK(m == TDM_EAUTH); break;
    case srtp_err_status_replay_fail:
    case srtp_err_status_replay_old: CHECK(m == TDM_EEXIST); break;
    case srtp_err_status_bad_param:
    case srtp_err_status_parse_err: CHECK(m == TDM_EINVAL); break;
    default:
        /* no room for the 16-byte GCM tag after the header: libsrtp's cipher says so, ours
         * refuses the packet as malformed first; both drop it */
        CHECK(m == TDM_ECRYPTO || (st == srtp_err_status_cipher_fail && m == TDM_EINVAL && !rtcp &&
                                   len < rtp_header_len(p, len) + 16));
        break;
    }
}

static void one(struct tdm_srtp *ours, srtp_t out, srtp_t in, const uint8_t *raw, size_t len,
                unsigned what)
{
    static struct pkt cur, tmp;
    static uint8_t p[MAX_PKT];
    memcpy(p, raw, len);
    size_t so = is_rtcp(p, len) ? 4 : 8; /* where the SSRC is */
    if (len >= so + 4) {
        p[so] = p[so] & 0x80 ? 0xff : 0, p[so + 1] = p[so + 2] = p[so];
        p[so + 3] = (uint8_t)(p[so] & 0xf0) | (p[so + 3] & 0x0f);
    }
    bool ok = protect(ours, out, p, len, &cur);
    if (!ok || (what & 0x0f) == 11) {
        deliver(ours, in, p, len);
        return;
    }
    if (!(what & 0x10))
        deliver(ours, in, cur.b, cur.len);
    unsigned op = what & 0x0f;
    if (op >= 1 && op <= 8 && op <= g_n_hist) {
        const struct pkt *h = &g_hist[(g_n_hist - op) % HISTORY];
        deliver(ours, in, h->b, h->len);
    } else if (op == 9 || op == 10) {
        tmp = cur;
        size_t at = ((size_t)p[len - 1] << 8 | p[len / 2]) % (op == 9 ? cur.len * 8 : cur.len);
        if (op == 9)
            tmp.b[at / 8] ^= (uint8_t)(1u << (at % 8));
        else
            tmp.len = at;
        deliver(ours, in, tmp.b, tmp.len);
    }
    g_hist[g_n_hist++ % HISTORY] = cur;
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
    srtp_t out = ref_session(k.local, false), in = ref_session(k.remote, true);
    g_n_hist = 0;
    size_t off = 0;
    while (size - off >= 2) {
        unsigned word = (unsigned)data[off] << 8 | data[off + 1];
        size_t len = word & 0x7ffu;
        off += 2;
        if (len > size - off)
            len = size - off;
        if (len > MAX_PKT)
            len = MAX_PKT;
        one(ours, out, in, data + off, len, word >> 11);
        off += len;
    }
    srtp_dealloc(out);
    srtp_dealloc(in);
    tdm_srtp_destroy(ours);
    return 0;
}
