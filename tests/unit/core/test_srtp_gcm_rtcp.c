/* core/srtp_gcm.c SRTCP (RFC 7714 9) on OpenSSL against libsrtp2, the reference: ours
 * protects to libsrtp's bytes; what libsrtp protects (encrypted, or with the E bit clear),
 * ours unprotects with the same decision, error and bytes as a libsrtp inbound session, on
 * replays, late packets, tampering and short lengths. */
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "srtp_ref.h"

/* An RTCP compound-ish packet: an RR header with the sender's SSRC, then body bytes. */
static size_t make_rtcp(uint8_t *b, uint32_t ssrc, size_t body, uint8_t salt)
{
    size_t words = 1 + body / 4;
    b[0] = 0x81, b[1] = 201, b[2] = (uint8_t)(words >> 8), b[3] = (uint8_t)words;
    b[4] = (uint8_t)(ssrc >> 24), b[5] = (uint8_t)(ssrc >> 16);
    b[6] = (uint8_t)(ssrc >> 8), b[7] = (uint8_t)ssrc;
    for (size_t i = 0; i < body; i++)
        b[8 + i] = (uint8_t)(i * 5 + salt);
    return 8 + body;
}

static uint8_t g_plain[PKT_CAP];

static int both(struct tdm_srtp *ours, srtp_t ref, const uint8_t *pkt, size_t n)
{
    return srtp_ref_both(ours, ref, pkt, n, true, g_plain);
}

/* Ours protects byte for byte as libsrtp, several SSRCs interleaved (each its own index);
 * libsrtp protects, ours unprotects, and a second delivery is a replay for both. */
static void rtcp_both_ways(void **state)
{
    (void)state;
    struct tdm_srtp_keys k = srtp_ref_keys(TDM_SRTP_AEAD_AES_128_GCM, 5);
    struct tdm_srtp *s;
    assert_int_equal(tdm_srtp_create(&s, &k), 0);
    srtp_t ref_out = srtp_ref_session(k.local, false, true);
    srtp_t peer_out = srtp_ref_session(k.remote, false, true),
           in = srtp_ref_session(k.remote, true, true);
    const uint32_t ssrcs[] = {1, 0xdeadbeef, 0xffffffff, 0};
    uint8_t a[PKT_CAP], b[PKT_CAP], plain[PKT_CAP];
    for (unsigned i = 0; i < 3000; i++) {
        size_t n = make_rtcp(a, ssrcs[i % 4], (i * 12) % 1200, (uint8_t)i);
        memcpy(b, a, n);
        memcpy(plain, a, n);
        int m = tdm_srtp_protect_rtcp(s, a, n, sizeof a);
        int rn = (int)n;
        assert_int_equal(srtp_protect_rtcp(ref_out, b, &rn), srtp_err_status_ok);
        assert_int_equal(m, rn);
        assert_int_equal(m, (int)n + TRAILER);
        assert_memory_equal(a, b, (size_t)m);
        rn = (int)n;
        memcpy(b, plain, n);
        assert_int_equal(srtp_protect_rtcp(peer_out, b, &rn), srtp_err_status_ok);
        assert_int_equal(both(s, in, b, (size_t)rn), (int)n);
        assert_memory_equal(g_plain, plain, n);
        assert_int_equal(both(s, in, b, (size_t)rn), TDM_EEXIST);
    }
    srtp_dealloc(ref_out);
    srtp_dealloc(peer_out);
    srtp_dealloc(in);
    tdm_srtp_destroy(s);
}

/* The SRTCP replay window (libsrtp's fixed 128): shuffled, duplicated and late deliveries
 * of two SSRCs, encrypted and not, get the same decision from both. */
static void rtcp_window_same_decisions(void **state)
{
    (void)state;
    enum { N = 1200 };
    static uint8_t store[N][160];
    static size_t lens[N];
    for (int enc = 0; enc <= 1; enc++) {
        struct tdm_srtp_keys k = srtp_ref_keys(TDM_SRTP_AEAD_AES_128_GCM, (uint8_t)(40 + enc));
        struct tdm_srtp *s;
        assert_int_equal(tdm_srtp_create(&s, &k), 0);
        srtp_t out = srtp_ref_session(k.remote, false, enc),
               in = srtp_ref_session(k.remote, true, enc);
        for (unsigned i = 0; i < N; i++) {
            size_t n = make_rtcp(store[i], 0x100 + i % 2, (i % 30) * 4, (uint8_t)i);
            int rn = (int)n;
            assert_int_equal(srtp_protect_rtcp(out, store[i], &rn), srtp_err_status_ok);
            lens[i] = (size_t)rn;
            assert_int_equal(store[i][rn - 4] >> 7, enc);
        }
        uint32_t x = 0x9e3779b9u + (uint32_t)enc;
        unsigned ok = 0, replay = 0;
        for (unsigned i = 0; i < N; i++) {
            unsigned j = i + srtp_ref_rnd(&x) % 24, pick[3] = {N, N, N};
            pick[0] = j < N ? j : i;
            if (srtp_ref_rnd(&x) % 4 == 0)
                pick[1] = i - srtp_ref_rnd(&x) % (i + 1);
            if (i > 600 && srtp_ref_rnd(&x) % 17 == 0)
                pick[2] = i - 300 - srtp_ref_rnd(&x) % 300;
            for (int p = 0; p < 3; p++) {
                if (pick[p] == N)
                    continue;
                int m = both(s, in, store[pick[p]], lens[pick[p]]);
                ok += m >= 0, replay += m == TDM_EEXIST;
                assert_true(m >= 0 || m == TDM_EEXIST);
            }
        }
        assert_true(ok > N / 2);
        assert_true(replay > 200);
        srtp_dealloc(out);
        srtp_dealloc(in);
        tdm_srtp_destroy(s);
    }
}

/* Tampering any bit (the E bit and the index included) and cutting the packet short are
 * refused with libsrtp's errors; the untouched packet is then still accepted. */
static void rtcp_tampered_and_short(void **state)
{
    (void)state;
    for (int enc = 0; enc <= 1; enc++) {
        struct tdm_srtp_keys k = srtp_ref_keys(TDM_SRTP_AEAD_AES_128_GCM, (uint8_t)(60 + enc));
        struct tdm_srtp *s;
        assert_int_equal(tdm_srtp_create(&s, &k), 0);
        srtp_t out = srtp_ref_session(k.remote, false, enc),
               in = srtp_ref_session(k.remote, true, enc);
        uint8_t pkt[PKT_CAP], bad[PKT_CAP];
        for (unsigned i = 0; i < 3; i++) {
            size_t n = make_rtcp(pkt, 0x4242, i == 2 ? 0 : 24, (uint8_t)i);
            int rn = (int)n;
            assert_int_equal(srtp_protect_rtcp(out, pkt, &rn), srtp_err_status_ok);
            for (size_t bit = 0; bit < (size_t)rn * 8; bit++) {
                memcpy(bad, pkt, (size_t)rn);
                bad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
                assert_true(both(s, in, bad, (size_t)rn) < 0);
            }
            for (size_t len = 0; len < (size_t)rn; len++)
                assert_true(both(s, in, pkt, len) < 0);
            assert_int_equal(both(s, in, pkt, (size_t)rn), (int)n);
        }
        srtp_dealloc(out);
        srtp_dealloc(in);
        tdm_srtp_destroy(s);
    }
}

/* More SSRCs than the send table holds: an SSRC forgotten and seen again never repeats an
 * SRTCP index (so never a GCM IV); a libsrtp receiver accepts all of it. */
static void rtcp_forgotten_ssrc_no_repeat(void **state)
{
    (void)state;
    struct tdm_srtp_keys k = srtp_ref_keys(TDM_SRTP_AEAD_AES_128_GCM, 70);
    struct tdm_srtp *s;
    assert_int_equal(tdm_srtp_create(&s, &k), 0);
    srtp_t in = srtp_ref_session(k.local, true, true);
    uint8_t pkt[PKT_CAP];
    uint32_t last_first = 0;
    for (unsigned round = 0; round < 3; round++) {
        for (uint32_t ssrc = 1; ssrc <= 200; ssrc++) {
            for (int r = 0; r < 2; r++) {
                size_t n = make_rtcp(pkt, ssrc, 8, (uint8_t)ssrc);
                int m = tdm_srtp_protect_rtcp(s, pkt, n, sizeof pkt);
                assert_int_equal(m, (int)n + TRAILER);
                uint32_t idx = (uint32_t)pkt[m - 4] << 24 | (uint32_t)pkt[m - 3] << 16 |
                               (uint32_t)pkt[m - 2] << 8 | pkt[m - 1];
                idx &= 0x7fffffff;
                if (ssrc == 1 && r == 0) {
                    assert_true(idx > last_first);
                    last_first = idx;
                }
                int rn = m;
                assert_int_equal(srtp_unprotect_rtcp(in, pkt, &rn), srtp_err_status_ok);
            }
        }
    }
    srtp_dealloc(in);
    tdm_srtp_destroy(s);
}

int main(void)
{
    assert_int_equal(tdm_srtp_global_init(), 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rtcp_both_ways),
        cmocka_unit_test(rtcp_window_same_decisions),
        cmocka_unit_test(rtcp_tampered_and_short),
        cmocka_unit_test(rtcp_forgotten_ssrc_no_repeat),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
