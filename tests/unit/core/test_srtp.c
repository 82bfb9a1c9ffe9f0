#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "tandem/err.h"
#include "tandem/srtp.h"

#define PKT_CAP (1500 + TDM_SRTP_MAX_TRAILER)

/* Two sessions facing each other: a's local key is b's remote key and vice versa. */
struct pair {
    struct tdm_srtp *a, *b;
};

static void make_pair(struct pair *p, enum tdm_srtp_profile profile)
{
    struct tdm_srtp_keys ka, kb;
    memset(&ka, 0, sizeof ka);
    ka.profile = profile;
    ka.len = tdm_srtp_key_salt_len(profile);
    for (size_t i = 0; i < ka.len; i++) {
        ka.local[i] = (uint8_t)(i * 7 + 1);
        ka.remote[i] = (uint8_t)(i * 13 + 5);
    }
    kb = ka;
    memcpy(kb.local, ka.remote, ka.len);
    memcpy(kb.remote, ka.local, ka.len);
    assert_int_equal(tdm_srtp_create(&p->a, &ka), 0);
    assert_int_equal(tdm_srtp_create(&p->b, &kb), 0);
    tdm_srtp_keys_wipe(&ka);
    tdm_srtp_keys_wipe(&kb);
    for (size_t i = 0; i < sizeof ka; i++)
        assert_int_equal(((uint8_t *)&ka)[i], 0);
}

static void free_pair(struct pair *p)
{
    tdm_srtp_destroy(p->a);
    tdm_srtp_destroy(p->b);
}

static size_t make_rtp(uint8_t *buf, uint16_t seq, uint32_t ssrc, size_t payload)
{
    buf[0] = 0x80;
    buf[1] = 96;
    buf[2] = (uint8_t)(seq >> 8);
    buf[3] = (uint8_t)seq;
    uint32_t ts = 90u * seq;
    buf[4] = (uint8_t)(ts >> 24), buf[5] = (uint8_t)(ts >> 16);
    buf[6] = (uint8_t)(ts >> 8), buf[7] = (uint8_t)ts;
    buf[8] = (uint8_t)(ssrc >> 24), buf[9] = (uint8_t)(ssrc >> 16);
    buf[10] = (uint8_t)(ssrc >> 8), buf[11] = (uint8_t)ssrc;
    for (size_t i = 0; i < payload; i++)
        buf[12 + i] = (uint8_t)(i ^ seq);
    return 12 + payload;
}

/* A minimal RTCP receiver report with no blocks (RFC 3550 6.4.2). */
static size_t make_rtcp_rr(uint8_t *buf, uint32_t ssrc)
{
    const uint8_t rr[8] = {
        0x80,         201, 0, 1, (uint8_t)(ssrc >> 24), (uint8_t)(ssrc >> 16), (uint8_t)(ssrc >> 8),
        (uint8_t)ssrc};
    memcpy(buf, rr, sizeof rr);
    return sizeof rr;
}

static void round_trip(enum tdm_srtp_profile profile, size_t tag)
{
    struct pair p;
    make_pair(&p, profile);
    assert_int_equal(tdm_srtp_profile(p.a), profile);
    uint8_t pkt[PKT_CAP], plain[PKT_CAP];
    for (uint16_t seq = 65530; seq != 10; seq++) { /* crosses the wrap: rollover counter */
        size_t n = make_rtp(pkt, seq, 0x11223344, 1100);
        memcpy(plain, pkt, n);
        int m = tdm_srtp_protect_rtp(p.a, pkt, n, sizeof pkt);
        assert_int_equal(m, (int)(n + tag));
        assert_memory_not_equal(pkt + 12, plain + 12, 32); /* payload encrypted */
        assert_int_equal(tdm_srtp_unprotect_rtp(p.b, pkt, (size_t)m), (int)n);
        assert_memory_equal(pkt, plain, n);
    }
    /* RTCP both ways: SRTCP adds the E flag and index (4) and the tag. */
    size_t n = make_rtcp_rr(pkt, 0x55667788);
    memcpy(plain, pkt, n);
    int m = tdm_srtp_protect_rtcp(p.b, pkt, n, sizeof pkt);
    assert_int_equal(m, (int)(n + 4 + tag));
    assert_int_equal(tdm_srtp_unprotect_rtcp(p.a, pkt, (size_t)m), (int)n);
    assert_memory_equal(pkt, plain, n);
    free_pair(&p);
}

static void gcm_round_trip(void **state)
{
    (void)state;
    round_trip(TDM_SRTP_AEAD_AES_128_GCM, 16);
}

static void cm80_round_trip(void **state)
{
    (void)state;
    round_trip(TDM_SRTP_AES128_CM_SHA1_80, 10);
}

static void tamper_and_replay(enum tdm_srtp_profile profile)
{
    struct pair p;
    make_pair(&p, profile);
    uint8_t pkt[PKT_CAP], copy[PKT_CAP];
    size_t n = make_rtp(pkt, 100, 0xabcdef01, 200);
    int m = tdm_srtp_protect_rtp(p.a, pkt, n, sizeof pkt);
    assert_true(m > 0);
    memcpy(copy, pkt, (size_t)m);

    pkt[40] ^= 0x01; /* one payload bit */
    assert_int_equal(tdm_srtp_unprotect_rtp(p.b, pkt, (size_t)m), TDM_EAUTH);
    memcpy(pkt, copy, (size_t)m);
    pkt[(size_t)m - 1] ^= 0x80; /* one tag bit */
    assert_int_equal(tdm_srtp_unprotect_rtp(p.b, pkt, (size_t)m), TDM_EAUTH);

    memcpy(pkt, copy, (size_t)m);
    assert_int_equal(tdm_srtp_unprotect_rtp(p.b, pkt, (size_t)m), (int)n);
    memcpy(pkt, copy, (size_t)m);
    assert_int_equal(tdm_srtp_unprotect_rtp(p.b, pkt, (size_t)m), TDM_EEXIST); /* replay */

    /* RTCP: tamper and replay too. */
    n = make_rtcp_rr(pkt, 0xabcdef01);
    m = tdm_srtp_protect_rtcp(p.a, pkt, n, sizeof pkt);
    assert_true(m > 0);
    memcpy(copy, pkt, (size_t)m);
    pkt[5] ^= 0x10;
    assert_int_equal(tdm_srtp_unprotect_rtcp(p.b, pkt, (size_t)m), TDM_EAUTH);
    memcpy(pkt, copy, (size_t)m);
    assert_int_equal(tdm_srtp_unprotect_rtcp(p.b, pkt, (size_t)m), (int)n);
    memcpy(pkt, copy, (size_t)m);
    assert_int_equal(tdm_srtp_unprotect_rtcp(p.b, pkt, (size_t)m), TDM_EEXIST);

    /* Keys do not cross: a's outbound traffic is not for a's own inbound session. */
    n = make_rtp(pkt, 200, 0x01020304, 50);
    m = tdm_srtp_protect_rtp(p.a, pkt, n, sizeof pkt);
    assert_int_equal(tdm_srtp_unprotect_rtp(p.a, pkt, (size_t)m), TDM_EAUTH);
    free_pair(&p);
}

static void gcm_tamper_and_replay(void **state)
{
    (void)state;
    tamper_and_replay(TDM_SRTP_AEAD_AES_128_GCM);
}

static void cm80_tamper_and_replay(void **state)
{
    (void)state;
    tamper_and_replay(TDM_SRTP_AES128_CM_SHA1_80);
}

static void repeat_tx_and_window(void **state)
{
    (void)state;
    struct pair p;
    make_pair(&p, TDM_SRTP_AEAD_AES_128_GCM);
    uint8_t pkt[PKT_CAP];
    /* A retransmission re-protects the same sequence number: allowed outbound. */
    for (int k = 0; k < 2; k++) {
        size_t n = make_rtp(pkt, 5000, 0x42, 100);
        assert_true(tdm_srtp_protect_rtp(p.a, pkt, n, sizeof pkt) > 0);
    }
    /* Out-of-order arrival inside the window is accepted; far older is refused. */
    uint8_t late[PKT_CAP];
    size_t ln = make_rtp(late, 5001, 0x42, 100);
    int lm = tdm_srtp_protect_rtp(p.a, late, ln, sizeof late);
    assert_true(lm > 0);
    for (uint16_t seq = 5002; seq < 5002 + 1000; seq++) {
        size_t n = make_rtp(pkt, seq, 0x42, 20);
        int m = tdm_srtp_protect_rtp(p.a, pkt, n, sizeof pkt);
        assert_int_equal(tdm_srtp_unprotect_rtp(p.b, pkt, (size_t)m), (int)n);
    }
    uint8_t copy[PKT_CAP];
    memcpy(copy, late, (size_t)lm);
    assert_int_equal(tdm_srtp_unprotect_rtp(p.b, late, (size_t)lm), (int)ln); /* 1000 late */
    for (uint16_t seq = 6002; seq < 6002 + 100; seq++) {
        size_t n = make_rtp(pkt, seq, 0x42, 20);
        int m = tdm_srtp_protect_rtp(p.a, pkt, n, sizeof pkt);
        assert_int_equal(tdm_srtp_unprotect_rtp(p.b, pkt, (size_t)m), (int)n);
    }
    /* The same packet again, now 1100 behind the newest: outside the 1024 window. */
    assert_int_equal(tdm_srtp_unprotect_rtp(p.b, copy, (size_t)lm), TDM_EEXIST);
    free_pair(&p);
}

static void bad_arguments(void **state)
{
    (void)state;
    struct tdm_srtp *s = (struct tdm_srtp *)1;
    struct tdm_srtp_keys k;
    memset(&k, 0, sizeof k);
    k.profile = TDM_SRTP_AEAD_AES_128_GCM;
    k.len = 30; /* wrong for GCM */
    assert_int_equal(tdm_srtp_create(&s, &k), TDM_EINVAL);
    assert_null(s);
    k.profile = (enum tdm_srtp_profile)0x0002; /* SRTP_AES128_CM_SHA1_32: not offered */
    assert_int_equal(tdm_srtp_create(&s, &k), TDM_EINVAL);
    assert_int_equal(tdm_srtp_key_salt_len(TDM_SRTP_PROFILE_NONE), 0);

    struct pair p;
    make_pair(&p, TDM_SRTP_AES128_CM_SHA1_80);
    uint8_t pkt[PKT_CAP];
    size_t n = make_rtp(pkt, 1, 1, 100);
    /* No room for the trailer: refused before libsrtp writes past the caller's buffer. */
    assert_int_equal(tdm_srtp_protect_rtp(p.a, pkt, n, n + TDM_SRTP_MAX_TRAILER - 1), TDM_ETOOBIG);
    assert_int_equal(tdm_srtp_protect_rtcp(p.a, pkt, 8, 8 + 10), TDM_ETOOBIG);
    assert_int_equal(tdm_srtp_protect_rtp(p.a, pkt, 11, sizeof pkt), TDM_ETRUNC);
    assert_int_equal(tdm_srtp_unprotect_rtp(p.b, pkt, 11), TDM_ETRUNC);
    assert_int_equal(tdm_srtp_unprotect_rtcp(p.b, pkt, 7), TDM_ETRUNC);
    /* Short of the tag, or garbage: an error, never a crash. */
    make_rtp(pkt, 2, 1, 0);
    assert_true(tdm_srtp_unprotect_rtp(p.b, pkt, 14) < 0);
    for (size_t len = 12; len < 64; len++) {
        for (size_t i = 0; i < len; i++)
            pkt[i] = (uint8_t)(i * 31 + len);
        pkt[0] = 0x80;
        assert_true(tdm_srtp_unprotect_rtp(p.b, pkt, len) < 0);
        assert_true(tdm_srtp_unprotect_rtcp(p.b, pkt, len) < 0);
    }
    free_pair(&p);
}

int main(void)
{
    assert_int_equal(tdm_srtp_global_init(), 0);
    assert_int_equal(tdm_srtp_global_init(), 0); /* idempotent */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(gcm_round_trip),        cmocka_unit_test(cm80_round_trip),
        cmocka_unit_test(gcm_tamper_and_replay), cmocka_unit_test(cm80_tamper_and_replay),
        cmocka_unit_test(repeat_tx_and_window),  cmocka_unit_test(bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
