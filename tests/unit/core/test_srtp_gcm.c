/* core/srtp_gcm.c (outbound RTP under AEAD_AES_128_GCM on OpenSSL) against libsrtp2, the
 * reference: what it protects, libsrtp unprotects; what libsrtp protects from the same input
 * is the same bytes; bad input gives the errors the libsrtp path gave. */
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "srtp_ref.h"

static void same_as_ref(struct tdm_srtp *ours, srtp_t ref, const uint8_t *pkt, size_t n)
{
    uint8_t a[PKT_CAP], b[PKT_CAP];
    memcpy(a, pkt, n);
    memcpy(b, pkt, n);
    int m = tdm_srtp_protect_rtp(ours, a, n, sizeof a);
    int rn = (int)n;
    srtp_err_status_t st = srtp_protect(ref, b, &rn);
    if (st == srtp_err_status_ok) {
        assert_int_equal(m, rn);
        assert_int_equal(m, (int)n + TAG);
        assert_memory_equal(a, b, (size_t)m);
    } else if (st == srtp_err_status_replay_old) {
        assert_int_equal(m, TDM_EEXIST);
    } else {
        assert_int_equal(st, srtp_err_status_bad_param);
        assert_int_equal(m, TDM_EINVAL);
    }
}

/* (1) Ours protects, libsrtp unprotects: many packets across the wrap (ROC 0 -> 1), several
 * SSRCs interleaved, CSRCs, one-byte and two-byte extensions. */
static void ours_to_libsrtp(void **state)
{
    (void)state;
    struct tdm_srtp_keys k = srtp_ref_keys(TDM_SRTP_AEAD_AES_128_GCM, 11);
    struct tdm_srtp *s;
    assert_int_equal(tdm_srtp_create(&s, &k), 0);
    srtp_t in = srtp_ref_session(k.local, true, true);
    const uint32_t ssrcs[] = {0x11111111, 0xdeadbeef, 0x00000001, 0xfffffffe};
    const uint16_t first[] = {63000, 1, 65535, 64000};
    uint8_t pkt[PKT_CAP], plain[PKT_CAP];
    unsigned wrapped = 0;
    for (unsigned i = 0; i < 12000; i++) {
        unsigned j = i % 4, step = i / 4;
        uint16_t seq = (uint16_t)(first[j] + step);
        wrapped += seq == 0;
        size_t n = srtp_ref_rtp(pkt, seq, ssrcs[j], i % 5, (int)(i % 3), (i * 37) % 1200);
        memcpy(plain, pkt, n);
        int m = tdm_srtp_protect_rtp(s, pkt, n, sizeof pkt);
        assert_int_equal(m, (int)n + TAG);
        int rn = m;
        assert_int_equal(srtp_unprotect(in, pkt, &rn), srtp_err_status_ok);
        assert_int_equal(rn, (int)n);
        assert_memory_equal(pkt, plain, n);
    }
    assert_int_equal(wrapped, 3); /* three of the four crossed 65535 -> 0 */
    srtp_dealloc(in);
    tdm_srtp_destroy(s);
}

/* (2) Byte for byte against libsrtp's own protect, including its edge cases: a stream's
 * first packet high or low, resends, late packets from before the wrap (ROC-1), a jump, an
 * index too old, empty payloads, the P bit. */
static void same_bytes_as_libsrtp(void **state)
{
    (void)state;
    struct tdm_srtp_keys k = srtp_ref_keys(TDM_SRTP_AEAD_AES_128_GCM, 99);
    struct tdm_srtp *s;
    assert_int_equal(tdm_srtp_create(&s, &k), 0);
    srtp_t ref = srtp_ref_session(k.local, false, true);
    uint8_t pkt[PKT_CAP];
    const uint16_t seqs[] = {65000, 65001, 65535, 0,    1,     65534, 2,     2,     40000,
                             7000,  6000,  6999,  5977, 5976,  7001,  20000, 40000, 40001,
                             8000,  7999,  9000,  100,  65535, 0,     3,     1,     40003};
    for (uint32_t ssrc = 1; ssrc <= 3; ssrc++) {
        for (size_t i = 0; i < sizeof seqs / sizeof seqs[0]; i++) {
            uint16_t seq = (uint16_t)(seqs[i] + ssrc * 7 * (ssrc == 3));
            size_t n = srtp_ref_rtp(pkt, seq, ssrc * 0x01010101u, (unsigned)(i % 3), (int)(i % 3),
                                    i % 4 == 0 ? 0 : 200 + i);
            same_as_ref(s, ref, pkt, n);
        }
    }
    /* A long run past several wraps, sequence numbers stepping unevenly. */
    uint16_t seq = 12;
    for (unsigned i = 0; i < 40000; i++) {
        seq = (uint16_t)(seq + 1 + (i % 9 == 0 ? 50 : 0) - (i % 13 == 0 ? 20 : 0));
        size_t n = srtp_ref_rtp(pkt, seq, 0xabcdef00u + (i % 2), i % 2, (int)(i % 3), i % 300);
        same_as_ref(s, ref, pkt, n);
    }
    srtp_dealloc(ref);
    tdm_srtp_destroy(s);
}

/* (3) Bad input: the same errors under GCM (ours) as under CM80 (libsrtp all the way). */
static void bad_input_same_errors(void **state)
{
    (void)state;
    struct tdm_srtp_keys kg = srtp_ref_keys(TDM_SRTP_AEAD_AES_128_GCM, 1);
    struct tdm_srtp_keys kc = srtp_ref_keys(TDM_SRTP_AES128_CM_SHA1_80, 1);
    struct tdm_srtp *g, *c;
    assert_int_equal(tdm_srtp_create(&g, &kg), 0);
    assert_int_equal(tdm_srtp_create(&c, &kc), 0);
    srtp_t ref = srtp_ref_session(kg.local, false, true);
    uint8_t pkt[PKT_CAP];
    size_t n = srtp_ref_rtp(pkt, 5, 77, 0, 0, 100);
    /* Short, and no room for the trailer: refused before any write past the packet. */
    for (size_t len = 0; len < 12; len++) {
        assert_int_equal(tdm_srtp_protect_rtp(g, pkt, len, sizeof pkt), TDM_ETRUNC);
        assert_int_equal(tdm_srtp_protect_rtp(c, pkt, len, sizeof pkt), TDM_ETRUNC);
    }
    assert_int_equal(tdm_srtp_protect_rtp(g, pkt, n, n + TDM_SRTP_MAX_TRAILER - 1), TDM_ETOOBIG);
    assert_int_equal(tdm_srtp_protect_rtp(g, pkt, n, n - 1), TDM_ETOOBIG);
    assert_int_equal(tdm_srtp_protect_rtp(g, NULL, n, sizeof pkt), TDM_EINVAL);
    assert_int_equal(tdm_srtp_protect_rtp(NULL, pkt, n, sizeof pkt), TDM_EINVAL);
    /* CSRCs or an extension past the end, at every length: EINVAL from both, and libsrtp's
     * own protect refuses the same ones. */
    for (int ext = 0; ext <= 2; ext++) {
        size_t full = srtp_ref_rtp(pkt, 9, 78, 15, ext, 0);
        for (size_t len = 12; len <= full + 1; len++) {
            uint8_t a[PKT_CAP];
            srtp_ref_rtp(pkt, 9, 78, 15, ext, 1);
            memcpy(a, pkt, len);
            int rg = tdm_srtp_protect_rtp(g, a, len, sizeof a);
            memcpy(a, pkt, len);
            int rc = tdm_srtp_protect_rtp(c, a, len, sizeof a);
            assert_int_equal(rg < 0 ? rg : 0, rc < 0 ? rc : 0);
            assert_int_equal(rg < 0, len < full);
            if (rg < 0)
                assert_int_equal(rg, TDM_EINVAL);
            same_as_ref(g, ref, pkt, len); /* libsrtp agrees at each length */
        }
    }
    /* An index more than the window behind the newest: TDM_EEXIST, as libsrtp's check. */
    n = srtp_ref_rtp(pkt, 3000, 79, 0, 0, 10);
    assert_true(tdm_srtp_protect_rtp(g, pkt, n, sizeof pkt) > 0);
    n = srtp_ref_rtp(pkt, 3000 - TDM_SRTP_REPLAY_WINDOW, 79, 0, 0, 10);
    assert_int_equal(tdm_srtp_protect_rtp(g, pkt, n, sizeof pkt), TDM_EEXIST);
    n = srtp_ref_rtp(pkt, 3000 - TDM_SRTP_REPLAY_WINDOW + 1, 79, 0, 0, 10);
    assert_true(tdm_srtp_protect_rtp(g, pkt, n, sizeof pkt) > 0);
    srtp_dealloc(ref);
    tdm_srtp_destroy(g);
    tdm_srtp_destroy(c);
}

/* More SSRCs than the table holds: a stream in use keeps its rollover counter while
 * hundreds of others come and go (the least recently used is the one forgotten). */
static void many_ssrcs_keep_live_roc(void **state)
{
    (void)state;
    struct tdm_srtp_keys k = srtp_ref_keys(TDM_SRTP_AEAD_AES_128_GCM, 42);
    struct tdm_srtp *s;
    assert_int_equal(tdm_srtp_create(&s, &k), 0);
    srtp_t in = srtp_ref_session(k.local, true, true);
    uint8_t pkt[PKT_CAP], plain[PKT_CAP];
    uint16_t live = 65400;
    for (uint32_t other = 1000; other < 1600; other++) {
        for (int r = 0; r < 3; r++, live++) {
            size_t n = srtp_ref_rtp(pkt, live, 0x5eed, 0, 1, 50);
            memcpy(plain, pkt, n);
            int m = tdm_srtp_protect_rtp(s, pkt, n, sizeof pkt);
            int rn = m;
            assert_int_equal(srtp_unprotect(in, pkt, &rn), srtp_err_status_ok);
            assert_memory_equal(pkt, plain, n);
        }
        size_t n = srtp_ref_rtp(pkt, (uint16_t)other, other, 0, 0, 20);
        int m = tdm_srtp_protect_rtp(s, pkt, n, sizeof pkt);
        int rn = m;
        assert_int_equal(srtp_unprotect(in, pkt, &rn), srtp_err_status_ok);
    }
    assert_true(live < 2000); /* the live stream wrapped (ROC 1) while the table turned over */
    srtp_dealloc(in);
    tdm_srtp_destroy(s);
}

int main(void)
{
    assert_int_equal(tdm_srtp_global_init(), 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ours_to_libsrtp),
        cmocka_unit_test(same_bytes_as_libsrtp),
        cmocka_unit_test(bad_input_same_errors),
        cmocka_unit_test(many_ssrcs_keep_live_roc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
