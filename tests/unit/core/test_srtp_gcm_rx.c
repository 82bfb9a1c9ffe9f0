/* core/srtp_gcm.c inbound (unprotect of RTP under AEAD_AES_128_GCM on OpenSSL) against
 * libsrtp2, the reference: what libsrtp protects, ours unprotects to the same bytes; on any
 * sequence of packets (shuffled, duplicated, late, tampered, cut short) ours accepts exactly
 * what a libsrtp inbound session with the same policy accepts, with the same errors. */
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "srtp_ref.h"

#define SMALL 320 /* stored packets of the shuffle test: header, extension, payload, tag */

static uint8_t g_plain[PKT_CAP]; /* what ours made of the last packet given to both() */

static int both(struct tdm_srtp *ours, srtp_t ref, const uint8_t *pkt, size_t n)
{
    return srtp_ref_both(ours, ref, pkt, n, false, g_plain);
}

/* (1) libsrtp protects, ours unprotects: many packets across the wrap (ROC 0 -> 1), several
 * SSRCs interleaved, CSRCs, one-byte and two-byte extensions, empty payloads. */
static void libsrtp_to_ours(void **state)
{
    (void)state;
    struct tdm_srtp_keys k = srtp_ref_keys(TDM_SRTP_AEAD_AES_128_GCM, 7);
    struct tdm_srtp *s;
    assert_int_equal(tdm_srtp_create(&s, &k), 0);
    srtp_t out = srtp_ref_session(k.remote, false, true),
           in = srtp_ref_session(k.remote, true, true);
    const uint32_t ssrcs[] = {0x11111111, 0xdeadbeef, 0x00000001, 0xfffffffe, 0x80000000};
    const uint16_t first[] = {63000, 1, 65535, 64000, 32768};
    uint8_t pkt[PKT_CAP], plain[PKT_CAP];
    unsigned wrapped = 0;
    for (unsigned i = 0; i < 15000; i++) {
        unsigned j = i % 5, step = i / 5;
        uint16_t seq = (uint16_t)(first[j] + step);
        wrapped += seq == 0;
        size_t n = srtp_ref_rtp(pkt, seq, ssrcs[j], i % 5, (int)(i % 3), (i * 37) % 1200);
        memcpy(plain, pkt, n);
        int rn = (int)n;
        assert_int_equal(srtp_protect(out, pkt, &rn), srtp_err_status_ok);
        assert_int_equal(both(s, in, pkt, (size_t)rn), (int)n);
        assert_memory_equal(g_plain, plain, n);
        /* the same packet again: a replay, refused by both */
        assert_int_equal(both(s, in, pkt, (size_t)rn), TDM_EEXIST);
    }
    assert_int_equal(wrapped, 3); /* three of the five crossed 65535 -> 0 */
    srtp_dealloc(out);
    srtp_dealloc(in);
    tdm_srtp_destroy(s);
}

/* Ours protects (outbound) and ours unprotects (inbound), the keys crossed: the round trip. */
static void ours_to_ours(void **state)
{
    (void)state;
    struct tdm_srtp_keys ka = srtp_ref_keys(TDM_SRTP_AEAD_AES_128_GCM, 21), kb = ka;
    memcpy(kb.local, ka.remote, sizeof kb.local);
    memcpy(kb.remote, ka.local, sizeof kb.remote);
    struct tdm_srtp *a, *b;
    assert_int_equal(tdm_srtp_create(&a, &ka), 0);
    assert_int_equal(tdm_srtp_create(&b, &kb), 0);
    uint8_t pkt[PKT_CAP], plain[PKT_CAP];
    for (unsigned i = 0; i < 3000; i++) {
        size_t n =
            srtp_ref_rtp(pkt, (uint16_t)(65000 + i), 0x1234 + i % 3, i % 2, (int)(i % 3), i % 700);
        memcpy(plain, pkt, n);
        int m = tdm_srtp_protect_rtp(a, pkt, n, sizeof pkt);
        assert_int_equal(m, (int)n + TAG);
        assert_int_equal(tdm_srtp_unprotect_rtp(b, pkt, (size_t)m), (int)n);
        assert_memory_equal(pkt, plain, n);
    }
    tdm_srtp_destroy(a);
    tdm_srtp_destroy(b);
}

/* (2) The replay window: packets of four SSRCs (two across the wrap; runs longer than the
 * window, jumps inside it, past it and one of 20000) delivered shuffled, duplicated, and
 * some thousands late. Every packet gets the same decision from ours and from libsrtp. */
static void shuffled_duplicated_same_decisions(void **state)
{
    (void)state;
    enum { PER = 4000, NS = 4, N = PER * NS };
    static uint8_t store[N][SMALL];
    static size_t lens[N];
    static uint32_t order[N];
    struct tdm_srtp_keys k = srtp_ref_keys(TDM_SRTP_AEAD_AES_128_GCM, 33);
    struct tdm_srtp *s;
    assert_int_equal(tdm_srtp_create(&s, &k), 0);
    srtp_t out = srtp_ref_session(k.remote, false, true),
           in = srtp_ref_session(k.remote, true, true);
    const uint16_t first[NS] = {64000, 100, 30000, 65500};
    uint16_t seq[NS];
    memcpy(seq, first, sizeof seq);
    for (uint32_t i = 0; i < N; i++) {
        uint32_t j = i % NS, step = i / NS;
        if (step > 0)
            seq[j] = (uint16_t)(seq[j] + 1 + (step % 2500 == 0 ? 1500 : 0) +
                                (j == 1 && step % 700 == 0 ? 300 : 0) +
                                (j == 2 && step == 3500 ? 20000 : 0));
        size_t n = srtp_ref_rtp(store[i], seq[j], 0xa0000000u + j, step % 3, (int)(step % 3),
                                (step * 13) % 200);
        int rn = (int)n;
        assert_int_equal(srtp_protect(out, store[i], &rn), srtp_err_status_ok);
        lens[i] = (size_t)rn;
        order[i] = i;
    }
    uint32_t x = 0x2545f491;
    for (uint32_t i = 0; i + 1 < N; i++) {
        uint32_t j = i + srtp_ref_rnd(&x) % 48;
        if (j < N) {
            uint32_t t = order[i];
            order[i] = order[j], order[j] = t;
        }
    }
    unsigned ok = 0, replay = 0, other = 0;
    for (uint32_t i = 0; i < N; i++) {
        uint32_t pick[3] = {order[i], N, N};
        uint32_t r = srtp_ref_rnd(&x);
        if (r % 8 == 0)
            pick[1] = order[i - srtp_ref_rnd(&x) % (i < 1500 ? i + 1 : 1500)];
        if (r % 89 == 0 && i > 8000)
            pick[2] = order[i - 4000 - srtp_ref_rnd(&x) % 4000];
        for (int p = 0; p < 3; p++) {
            if (pick[p] == N)
                continue;
            int m = both(s, in, store[pick[p]], lens[pick[p]]);
            ok += m >= 0, replay += m == TDM_EEXIST, other += m < 0 && m != TDM_EEXIST;
        }
    }
    /* Nearly all accepted (not those that came after a jump past them beyond the window);
     * a thousand and more replays, in the window and older than it, refused. */
    assert_true(ok > N - 400);
    assert_true(replay > 1000);
    assert_int_equal(other, 0);
    srtp_dealloc(out);
    srtp_dealloc(in);
    tdm_srtp_destroy(s);
}

/* The window's edges, as libsrtp's: after index 3000, 3000 - 1023 is still inside (new,
 * then a replay), 3000 - 1024 is older than the window; then a jump of exactly the window,
 * one of 35976 (the highest is under 0x8000, so still ROC 0), and a packet 4000 behind. */
static void window_edges(void **state)
{
    (void)state;
    struct tdm_srtp_keys k = srtp_ref_keys(TDM_SRTP_AEAD_AES_128_GCM, 66);
    struct tdm_srtp *s;
    assert_int_equal(tdm_srtp_create(&s, &k), 0);
    srtp_t out = srtp_ref_session(k.remote, false, true),
           in = srtp_ref_session(k.remote, true, true);
    static uint8_t pk[8][PKT_CAP];
    size_t len[8];
    const uint16_t seqs[8] = {3000 - TDM_SRTP_REPLAY_WINDOW,
                              3000 - TDM_SRTP_REPLAY_WINDOW + 1,
                              2999,
                              3000,
                              3000 + TDM_SRTP_REPLAY_WINDOW,
                              36000,
                              40000,
                              40001};
    for (int i = 0; i < 8; i++) {
        size_t n = srtp_ref_rtp(pk[i], seqs[i], 0xed6e, 0, 0, 30);
        int rn = (int)n;
        assert_int_equal(srtp_protect(out, pk[i], &rn), srtp_err_status_ok);
        len[i] = (size_t)rn;
    }
    assert_int_equal(both(s, in, pk[3], len[3]), 30 + 12);
    assert_int_equal(both(s, in, pk[0], len[0]), TDM_EEXIST); /* 1024 back: too old */
    assert_int_equal(both(s, in, pk[1], len[1]), 30 + 12);    /* 1023 back: inside */
    assert_int_equal(both(s, in, pk[1], len[1]), TDM_EEXIST);
    assert_int_equal(both(s, in, pk[2], len[2]), 30 + 12);
    assert_int_equal(both(s, in, pk[4], len[4]), 30 + 12); /* a jump of the whole window */
    assert_int_equal(both(s, in, pk[3], len[3]), TDM_EEXIST);
    assert_int_equal(both(s, in, pk[2], len[2]), TDM_EEXIST);
    assert_int_equal(both(s, in, pk[6], len[6]), 30 + 12);
    assert_int_equal(both(s, in, pk[5], len[5]), TDM_EEXIST);
    assert_int_equal(both(s, in, pk[7], len[7]), 30 + 12);
    srtp_dealloc(out);
    srtp_dealloc(in);
    tdm_srtp_destroy(s);
}

/* (3) Tampering: every single-bit change of a packet, in its header (CSRCs and extension
 * included), payload or tag, is refused by both with the same error; the untouched packet
 * is then still accepted (a refused packet changed nothing), first and later packets alike. */
static void tampered_refused(void **state)
{
    (void)state;
    struct tdm_srtp_keys k = srtp_ref_keys(TDM_SRTP_AEAD_AES_128_GCM, 55);
    struct tdm_srtp *s;
    assert_int_equal(tdm_srtp_create(&s, &k), 0);
    srtp_t out = srtp_ref_session(k.remote, false, true),
           in = srtp_ref_session(k.remote, true, true);
    uint8_t pkt[PKT_CAP], bad[PKT_CAP];
    unsigned refused = 0;
    for (unsigned i = 0; i < 4; i++) {
        size_t n = srtp_ref_rtp(pkt, (uint16_t)(65534 + i), 0x77, 2 - i % 2, (int)(1 + i % 2),
                                i == 3 ? 0 : 40);
        int rn = (int)n;
        assert_int_equal(srtp_protect(out, pkt, &rn), srtp_err_status_ok);
        for (size_t bit = 0; bit < (size_t)rn * 8; bit++) {
            memcpy(bad, pkt, (size_t)rn);
            bad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            int m = both(s, in, bad, (size_t)rn);
            assert_true(m < 0);
            refused++;
        }
        assert_int_equal(both(s, in, pkt, (size_t)rn), (int)n);
    }
    assert_true(refused > 2000);
    srtp_dealloc(out);
    srtp_dealloc(in);
    tdm_srtp_destroy(s);
}

/* (4) Lengths: a packet cut at every length, and header lengths past the end, get the same
 * errors as libsrtp (ETRUNC under 12 bytes, checked before libsrtp is reached); a replayed
 * packet too short for its tag is a replay (libsrtp checks the window first); bad args. */
static void bad_lengths_same_errors(void **state)
{
    (void)state;
    struct tdm_srtp_keys k = srtp_ref_keys(TDM_SRTP_AEAD_AES_128_GCM, 77);
    struct tdm_srtp *s;
    assert_int_equal(tdm_srtp_create(&s, &k), 0);
    srtp_t out = srtp_ref_session(k.remote, false, true),
           in = srtp_ref_session(k.remote, true, true);
    uint8_t pkt[PKT_CAP];
    for (int ext = 0; ext <= 2; ext++) {
        size_t n = srtp_ref_rtp(pkt, (uint16_t)(500 + ext), 0x99, 3, ext, 5);
        int rn = (int)n;
        assert_int_equal(srtp_protect(out, pkt, &rn), srtp_err_status_ok);
        for (size_t len = 0; len < (size_t)rn; len++)
            assert_true(both(s, in, pkt, len) < 0);
        assert_int_equal(both(s, in, pkt, (size_t)rn), (int)n);
        /* now replayed: the window decides before the length does */
        assert_int_equal(both(s, in, pkt, n - 5), TDM_EEXIST);
    }
    /* A new SSRC's packet one byte short of a tag after the header: EINVAL from both. */
    size_t n = srtp_ref_rtp(pkt, 9, 0x98, 1, 1, 0);
    assert_int_equal(both(s, in, pkt, n + TAG - 1), TDM_EINVAL);
    /* An extension length running far past the end. */
    n = srtp_ref_rtp(pkt, 10, 0x98, 0, 1, 40);
    pkt[14] = 0xff, pkt[15] = 0xff;
    assert_int_equal(both(s, in, pkt, n), TDM_EINVAL);
    assert_int_equal(tdm_srtp_unprotect_rtp(NULL, pkt, n), TDM_EINVAL);
    assert_int_equal(tdm_srtp_unprotect_rtp(s, NULL, n), TDM_EINVAL);
    srtp_dealloc(out);
    srtp_dealloc(in);
    tdm_srtp_destroy(s);
}

/* More SSRCs than the receive table holds: a live stream keeps its rollover counter and its
 * replay window while a hundred others come and go. */
static void many_ssrcs_keep_live_stream(void **state)
{
    (void)state;
    struct tdm_srtp_keys k = srtp_ref_keys(TDM_SRTP_AEAD_AES_128_GCM, 88);
    struct tdm_srtp *s;
    assert_int_equal(tdm_srtp_create(&s, &k), 0);
    srtp_t out = srtp_ref_session(k.remote, false, true);
    static uint8_t keep[4][PKT_CAP];
    size_t keep_len[4] = {0};
    uint8_t pkt[PKT_CAP];
    uint16_t live = 65300;
    for (uint32_t other = 1000; other < 1100; other++) {
        for (int r = 0; r < 4; r++, live++) {
            size_t n = srtp_ref_rtp(pkt, live, 0x5eed, 0, 1, 50);
            int rn = (int)n;
            assert_int_equal(srtp_protect(out, pkt, &rn), srtp_err_status_ok);
            memcpy(keep[r], pkt, (size_t)rn);
            keep_len[r] = (size_t)rn;
            assert_int_equal(tdm_srtp_unprotect_rtp(s, pkt, (size_t)rn), (int)n);
        }
        size_t n = srtp_ref_rtp(pkt, (uint16_t)other, other, 0, 0, 20);
        int rn = (int)n;
        assert_int_equal(srtp_protect(out, pkt, &rn), srtp_err_status_ok);
        assert_int_equal(tdm_srtp_unprotect_rtp(s, pkt, (size_t)rn), (int)n);
        /* the live stream's last packets, again: replays */
        for (int r = 0; r < 4; r++) {
            memcpy(pkt, keep[r], keep_len[r]);
            assert_int_equal(tdm_srtp_unprotect_rtp(s, pkt, keep_len[r]), TDM_EEXIST);
        }
    }
    assert_true(live < 1000); /* the live stream wrapped (ROC 1) while the table turned over */
    srtp_dealloc(out);
    tdm_srtp_destroy(s);
}

int main(void)
{
    assert_int_equal(tdm_srtp_global_init(), 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(libsrtp_to_ours),
        cmocka_unit_test(ours_to_ours),
        cmocka_unit_test(shuffled_duplicated_same_decisions),
        cmocka_unit_test(window_edges),
        cmocka_unit_test(tampered_refused),
        cmocka_unit_test(bad_lengths_same_errors),
        cmocka_unit_test(many_ssrcs_keep_live_stream),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
