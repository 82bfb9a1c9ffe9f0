/* Two DTLS endpoints in one process, datagrams shuttled through the API at virtual time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/ssl.h>

#include "tandem/cert.h"
#include "tandem/dtls.h"
#include "tandem/err.h"
#include "tandem/srtp.h"

#define WALL_US 1767225600000000LL
#define T0 5000000000LL /* an arbitrary monotonic start: nothing assumes time 0 */
#define SERVER 0
#define CLIENT 1

static struct tdm_cert *g_cert[2];
static SSL_CTX *g_ctx[2];     /* default profiles, one identity per side */
static SSL_CTX *g_ctx_cm80;   /* client identity, offers CM80 only */
static SSL_CTX *g_ctx_gcm256; /* client identity, offers a profile the server lacks */
static SSL_CTX *g_ctx_rsa;    /* client identity, offers no cipher the server can use */
static SSL_CTX *g_ctx_chacha; /* client identity, offers ChaCha20-Poly1305 only */

/* ---- a tiny network ---- */

typedef bool (*drop_fn)(int from, unsigned idx, const uint8_t *p, size_t len, void *arg);

struct net {
    struct tdm_dtls *ep[2];
    int64_t now;
    unsigned sent[2]; /* datagrams each side put on the wire */
    unsigned dropped;
    drop_fn drop;
    void *drop_arg;
    uint8_t first[2][TDM_DTLS_SLOT_BYTES]; /* first datagram each side sent */
    size_t first_len[2];
};

static void net_init(struct net *n, SSL_CTX *client_ctx, const struct tdm_fingerprint *srv_expects,
                     const struct tdm_fingerprint *cli_expects)
{
    struct tdm_fingerprint fs, fc;
    memset(n, 0, sizeof *n);
    n->now = T0;
    tdm_cert_fingerprint(g_cert[CLIENT], &fc);
    tdm_cert_fingerprint(g_cert[SERVER], &fs);
    assert_int_equal(tdm_dtls_create(&n->ep[SERVER], g_ctx[SERVER], TDM_DTLS_SERVER,
                                     srv_expects ? srv_expects : &fc),
                     0);
    assert_int_equal(tdm_dtls_create(&n->ep[CLIENT], client_ctx, TDM_DTLS_CLIENT,
                                     cli_expects ? cli_expects : &fs),
                     0);
}

static void net_free(struct net *n)
{
    tdm_dtls_destroy(n->ep[SERVER]);
    tdm_dtls_destroy(n->ep[CLIENT]);
}

/* Move queued datagrams across until both queues stay empty. */
static void pump(struct net *n)
{
    uint8_t buf[TDM_DTLS_SLOT_BYTES];
    for (int round = 0; round < 64; round++) {
        unsigned moved = 0;
        for (int side = 0; side < 2; side++) {
            int len;
            while ((len = tdm_dtls_poll_datagram(n->ep[side], buf, sizeof buf)) > 0) {
                unsigned idx = n->sent[side]++;
                assert_true(len <= TDM_DTLS_MTU);
                if (idx == 0) {
                    memcpy(n->first[side], buf, (size_t)len);
                    n->first_len[side] = (size_t)len;
                }
                moved++;
                if (n->drop && n->drop(side, idx, buf, (size_t)len, n->drop_arg)) {
                    n->dropped++;
                    continue;
                }
                int rc = tdm_dtls_feed(n->ep[!side], buf, (size_t)len, n->now);
                assert_true(rc == 0 || rc == TDM_ESTATE);
            }
            assert_int_equal(len, 0);
        }
        if (!moved)
            return;
    }
    fail_msg("datagrams kept flowing");
}

/* Done with the handshake: connected, ended, or waiting only for the caller. */
static bool settled(struct tdm_dtls *d)
{
    enum tdm_dtls_state s = tdm_dtls_state(d);
    return s == TDM_DTLS_CONNECTED || s == TDM_DTLS_CLOSED || s == TDM_DTLS_FAILED ||
           s == TDM_DTLS_VERIFYING;
}

/* Start both (unless already started), then step virtual time from deadline to deadline
 * until both settle. */
static void run(struct net *n)
{
    for (int side = 0; side < 2; side++)
        if (tdm_dtls_state(n->ep[side]) == TDM_DTLS_NEW)
            assert_int_equal(tdm_dtls_start(n->ep[side], n->now), 0);
    for (int step = 0; step < 100; step++) {
        pump(n);
        if (settled(n->ep[SERVER]) && settled(n->ep[CLIENT]))
            return;
        int64_t a = tdm_dtls_deadline(n->ep[SERVER]), b = tdm_dtls_deadline(n->ep[CLIENT]);
        int64_t next = a < b ? a : b;
        if (next == TDM_DTLS_NO_DEADLINE)
            return;
        assert_true(next >= n->now); /* deadlines are never in the past */
        n->now = next;
        tdm_dtls_handle_timeout(n->ep[SERVER], n->now);
        tdm_dtls_handle_timeout(n->ep[CLIENT], n->now);
    }
    fail_msg("handshake did not settle in 100 timer steps");
}

static void expect_event(struct tdm_dtls *d, enum tdm_dtls_event_type type, enum tdm_dtls_fail f,
                         int alert)
{
    struct tdm_dtls_event ev;
    assert_true(tdm_dtls_poll_event(d, &ev));
    assert_int_equal(ev.type, type);
    assert_int_equal(ev.fail, f);
    if (alert != -2)
        assert_int_equal(ev.alert, alert);
}

static void expect_no_event(struct tdm_dtls *d)
{
    struct tdm_dtls_event ev;
    assert_false(tdm_dtls_poll_event(d, &ev));
}

/* ---- SRTP through the exported keys ---- */

static size_t make_rtp(uint8_t *buf, uint16_t seq, uint32_t ssrc, size_t payload)
{
    const uint8_t h[12] = {0x80,
                           96,
                           (uint8_t)(seq >> 8),
                           (uint8_t)seq,
                           0,
                           0,
                           0x10,
                           0,
                           (uint8_t)(ssrc >> 24),
                           (uint8_t)(ssrc >> 16),
                           (uint8_t)(ssrc >> 8),
                           (uint8_t)ssrc};
    memcpy(buf, h, sizeof h);
    for (size_t i = 0; i < payload; i++)
        buf[12 + i] = (uint8_t)(i * 3 + seq);
    return 12 + payload;
}

static void media_round_trip(struct tdm_srtp *from, struct tdm_srtp *to)
{
    uint8_t pkt[1500 + TDM_SRTP_MAX_TRAILER], plain[1500], copy[1500 + TDM_SRTP_MAX_TRAILER];
    for (uint16_t seq = 1; seq <= 20; seq++) {
        size_t n = make_rtp(pkt, seq, 0xcafe0001, 1000);
        memcpy(plain, pkt, n);
        int m = tdm_srtp_protect_rtp(from, pkt, n, sizeof pkt);
        assert_true(m > (int)n);
        assert_int_equal(tdm_srtp_unprotect_rtp(to, pkt, (size_t)m), (int)n);
        assert_memory_equal(pkt, plain, n);
    }
    /* RTCP: a PLI (RFC 4585 6.3.1), the kind an SFU sends upstream. */
    const uint8_t pli[12] = {0x81, 206, 0, 2, 0, 0, 0, 1, 0xca, 0xfe, 0, 1};
    memcpy(pkt, pli, sizeof pli);
    int m = tdm_srtp_protect_rtcp(from, pkt, sizeof pli, sizeof pkt);
    assert_true(m > (int)sizeof pli);
    memcpy(copy, pkt, (size_t)m);
    assert_int_equal(tdm_srtp_unprotect_rtcp(to, pkt, (size_t)m), (int)sizeof pli);
    assert_memory_equal(pkt, pli, sizeof pli);
    memcpy(pkt, copy, (size_t)m);
    assert_int_equal(tdm_srtp_unprotect_rtcp(to, pkt, (size_t)m), TDM_EEXIST); /* replay */

    size_t n = make_rtp(pkt, 21, 0xcafe0001, 500);
    m = tdm_srtp_protect_rtp(from, pkt, n, sizeof pkt);
    memcpy(copy, pkt, (size_t)m);
    pkt[100] ^= 0x04; /* tamper */
    assert_int_equal(tdm_srtp_unprotect_rtp(to, pkt, (size_t)m), TDM_EAUTH);
    assert_int_equal(tdm_srtp_unprotect_rtp(to, copy, (size_t)m), (int)n);
}

/* Both connected: keys match crosswise, and media flows both ways. */
static void check_keys_and_media(struct net *n, enum tdm_srtp_profile profile, size_t len)
{
    struct tdm_srtp_keys ks, kc;
    expect_event(n->ep[SERVER], TDM_DTLS_EV_CONNECTED, TDM_DTLS_FAIL_NONE, -1);
    expect_event(n->ep[CLIENT], TDM_DTLS_EV_CONNECTED, TDM_DTLS_FAIL_NONE, -1);
    assert_int_equal(tdm_dtls_take_keys(n->ep[SERVER], &ks), 0);
    assert_int_equal(tdm_dtls_take_keys(n->ep[CLIENT], &kc), 0);
    assert_int_equal(tdm_dtls_take_keys(n->ep[CLIENT], &kc), TDM_ESTATE); /* once */
    assert_int_equal(ks.profile, profile);
    assert_int_equal(kc.profile, profile);
    assert_int_equal(ks.len, len);
    assert_int_equal(kc.len, len);
    assert_memory_equal(kc.local, ks.remote, len);
    assert_memory_equal(kc.remote, ks.local, len);
    assert_memory_not_equal(kc.local, kc.remote, len);

    struct tdm_srtp *ss = NULL, *sc = NULL;
    assert_int_equal(tdm_srtp_create(&ss, &ks), 0);
    assert_int_equal(tdm_srtp_create(&sc, &kc), 0);
    tdm_srtp_keys_wipe(&ks);
    tdm_srtp_keys_wipe(&kc);
    media_round_trip(sc, ss); /* browser -> SFU */
    media_round_trip(ss, sc); /* SFU -> browser */
    tdm_srtp_destroy(ss);
    tdm_srtp_destroy(sc);
}

/* ---- tests ---- */

static void handshake_gcm(void **state)
{
    (void)state;
    struct net n;
    net_init(&n, g_ctx[CLIENT], NULL, NULL);
    assert_int_equal(tdm_dtls_take_keys(n.ep[CLIENT], &(struct tdm_srtp_keys){0}), TDM_ESTATE);
    run(&n);
    assert_int_equal(n.now, T0); /* no loss: no timer needed */
    assert_int_equal(tdm_dtls_state(n.ep[SERVER]), TDM_DTLS_CONNECTED);
    assert_int_equal(tdm_dtls_state(n.ep[CLIENT]), TDM_DTLS_CONNECTED);
    assert_int_equal(tdm_dtls_deadline(n.ep[SERVER]), TDM_DTLS_NO_DEADLINE);
    assert_int_equal(tdm_dtls_deadline(n.ep[CLIENT]), TDM_DTLS_NO_DEADLINE);
    check_keys_and_media(&n, TDM_SRTP_AEAD_AES_128_GCM, TDM_SRTP_GCM_KEY_SALT_LEN);
    expect_no_event(n.ep[SERVER]);
    struct tdm_dtls_stats st;
    tdm_dtls_get_stats(n.ep[SERVER], &st);
    assert_int_equal(st.retransmits, 0);
    assert_int_equal(st.dropped_out, 0);
    assert_true(st.max_out_len <= TDM_DTLS_MTU);
    assert_int_equal(tdm_dtls_start(n.ep[CLIENT], n.now), TDM_ESTATE);
    net_free(&n);
}

static void handshake_cm80_when_client_offers_only_cm80(void **state)
{
    (void)state;
    struct net n;
    net_init(&n, g_ctx_cm80, NULL, NULL);
    run(&n);
    check_keys_and_media(&n, TDM_SRTP_AES128_CM_SHA1_80, TDM_SRTP_CM80_KEY_SALT_LEN);
    net_free(&n);
}

static void wrong_fingerprint_fails(void **state)
{
    (void)state;
    struct tdm_fingerprint wrong;
    tdm_cert_fingerprint(g_cert[CLIENT], &wrong);
    wrong.digest[17] ^= 0x20;
    struct net n;
    net_init(&n, g_ctx[CLIENT], &wrong, NULL);
    run(&n);
    assert_int_equal(tdm_dtls_state(n.ep[SERVER]), TDM_DTLS_FAILED);
    expect_event(n.ep[SERVER], TDM_DTLS_EV_FAILED, TDM_DTLS_FAIL_FINGERPRINT, -1);
    expect_no_event(n.ep[SERVER]);
    struct tdm_srtp_keys k;
    assert_int_equal(tdm_dtls_take_keys(n.ep[SERVER], &k), TDM_ESTATE);
    assert_int_equal(tdm_dtls_feed(n.ep[SERVER], n.first[CLIENT], n.first_len[CLIENT], n.now),
                     TDM_ESTATE);
    net_free(&n);

    /* The client checks the server the same way (the other side's SDP was forged). */
    tdm_cert_fingerprint(g_cert[CLIENT], &wrong); /* the client's own, not the server's */
    net_init(&n, g_ctx[CLIENT], NULL, &wrong);
    run(&n);
    assert_int_equal(tdm_dtls_state(n.ep[CLIENT]), TDM_DTLS_FAILED);
    expect_event(n.ep[CLIENT], TDM_DTLS_EV_FAILED, TDM_DTLS_FAIL_FINGERPRINT, -1);
    net_free(&n);
}

static void fingerprint_given_after_handshake(void **state)
{
    (void)state;
    struct tdm_fingerprint fc, fs;
    tdm_cert_fingerprint(g_cert[CLIENT], &fc);
    tdm_cert_fingerprint(g_cert[SERVER], &fs);
    for (int good = 0; good < 2; good++) {
        struct net n;
        memset(&n, 0, sizeof n);
        n.now = T0;
        assert_int_equal(tdm_dtls_create(&n.ep[SERVER], g_ctx[SERVER], TDM_DTLS_SERVER, NULL), 0);
        assert_int_equal(tdm_dtls_create(&n.ep[CLIENT], g_ctx[CLIENT], TDM_DTLS_CLIENT, &fs), 0);
        run(&n);
        assert_int_equal(tdm_dtls_state(n.ep[SERVER]), TDM_DTLS_VERIFYING);
        expect_no_event(n.ep[SERVER]);
        assert_true(tdm_dtls_deadline(n.ep[SERVER]) <= T0 + TDM_DTLS_HANDSHAKE_TIMEOUT_US);
        struct tdm_fingerprint f = fc;
        if (!good)
            f.digest[0] ^= 1;
        assert_int_equal(tdm_dtls_set_remote_fingerprint(n.ep[SERVER], &f, n.now + 1000), 0);
        if (good) {
            expect_event(n.ep[SERVER], TDM_DTLS_EV_CONNECTED, TDM_DTLS_FAIL_NONE, -1);
            assert_int_equal(tdm_dtls_set_remote_fingerprint(n.ep[SERVER], &f, n.now), TDM_ESTATE);
        } else {
            expect_event(n.ep[SERVER], TDM_DTLS_EV_FAILED, TDM_DTLS_FAIL_FINGERPRINT, -1);
        }
        net_free(&n);
    }
}

/* Drop the idx-th datagram a given side sends (once). */
struct drop_one {
    int side;
    unsigned idx;
};

static bool drop_one_fn(int from, unsigned idx, const uint8_t *p, size_t len, void *arg)
{
    (void)p, (void)len;
    const struct drop_one *d = arg;
    return from == d->side && idx == d->idx;
}

static void lost_datagrams_recover_by_timer(void **state)
{
    (void)state;
    /* Count each side's datagrams in a clean handshake, then lose each one in turn. */
    struct net n;
    net_init(&n, g_ctx[CLIENT], NULL, NULL);
    run(&n);
    unsigned clean[2] = {n.sent[SERVER], n.sent[CLIENT]};
    net_free(&n);
    assert_true(clean[SERVER] >= 2 && clean[CLIENT] >= 2);
    unsigned needed_timer = 0;
    for (int side = 0; side < 2; side++) {
        for (unsigned i = 0; i < clean[side]; i++) {
            struct drop_one d = {side, i};
            net_init(&n, g_ctx[CLIENT], NULL, NULL);
            n.drop = drop_one_fn;
            n.drop_arg = &d;
            run(&n);
            if (tdm_dtls_state(n.ep[SERVER]) != TDM_DTLS_CONNECTED ||
                tdm_dtls_state(n.ep[CLIENT]) != TDM_DTLS_CONNECTED)
                fail_msg("side %d datagram %u lost: server state %d client state %d", side, i,
                         (int)tdm_dtls_state(n.ep[SERVER]), (int)tdm_dtls_state(n.ep[CLIENT]));
            assert_int_equal(n.dropped, 1);
            assert_true(n.now < T0 + 4 * 1000000); /* recovered by the first retransmit(s) */
            if (n.now > T0)
                needed_timer++;
            check_keys_and_media(&n, TDM_SRTP_AEAD_AES_128_GCM, TDM_SRTP_GCM_KEY_SALT_LEN);
            net_free(&n);
        }
    }
    assert_true(needed_timer > 0); /* the timer path really ran */
}

/* Lose a whole flight several times over: exponential backoff still gets through. */
struct drop_first {
    int side;
    unsigned count;
};

static bool drop_first_fn(int from, unsigned idx, const uint8_t *p, size_t len, void *arg)
{
    (void)p, (void)len;
    const struct drop_first *d = arg;
    return from == d->side && idx < d->count;
}

static void repeated_flight_loss_recovers(void **state)
{
    (void)state;
    struct net n;
    struct drop_first d = {SERVER, 7}; /* the first two or three server flights */
    net_init(&n, g_ctx[CLIENT], NULL, NULL);
    n.drop = drop_first_fn;
    n.drop_arg = &d;
    run(&n);
    assert_int_equal(tdm_dtls_state(n.ep[SERVER]), TDM_DTLS_CONNECTED);
    assert_int_equal(tdm_dtls_state(n.ep[CLIENT]), TDM_DTLS_CONNECTED);
    assert_true(n.now > T0 && n.now < T0 + TDM_DTLS_HANDSHAKE_TIMEOUT_US);
    struct tdm_dtls_stats st;
    tdm_dtls_get_stats(n.ep[CLIENT], &st);
    assert_true(st.retransmits >= 1);
    check_keys_and_media(&n, TDM_SRTP_AEAD_AES_128_GCM, TDM_SRTP_GCM_KEY_SALT_LEN);
    net_free(&n);
}

static void handshake_that_never_completes_fails_at_bound(void **state)
{
    (void)state;
    struct tdm_fingerprint fs;
    tdm_cert_fingerprint(g_cert[SERVER], &fs);
    struct tdm_dtls *c = NULL;
    uint8_t buf[TDM_DTLS_SLOT_BYTES];
    assert_int_equal(tdm_dtls_create(&c, g_ctx[CLIENT], TDM_DTLS_CLIENT, &fs), 0);
    assert_int_equal(tdm_dtls_deadline(c), TDM_DTLS_NO_DEADLINE); /* not started */
    assert_int_equal(tdm_dtls_start(c, T0), 0);
    int hello = tdm_dtls_poll_datagram(c, buf, sizeof buf);
    assert_true(hello > 0);
    /* RFC 6347 4.2.4.1 backoff from 1 s, capped: re-sends at 1, 3, 7, 15, 23 s; the bound
     * at 30 s. Each deadline resends exactly the ClientHello flight. */
    const int64_t expect[] = {1, 3, 7, 15, 23, 30};
    int64_t now = T0;
    for (size_t i = 0; i < sizeof expect / sizeof expect[0]; i++) {
        int64_t dl = tdm_dtls_deadline(c);
        assert_int_equal(dl, T0 + expect[i] * 1000000);
        tdm_dtls_handle_timeout(c, dl - 1); /* early: nothing */
        assert_int_equal(tdm_dtls_poll_datagram(c, buf, sizeof buf), 0);
        now = dl;
        tdm_dtls_handle_timeout(c, now);
        if (i + 1 < sizeof expect / sizeof expect[0]) {
            assert_int_equal(tdm_dtls_poll_datagram(c, buf, sizeof buf), hello);
            assert_int_equal(tdm_dtls_poll_datagram(c, buf, sizeof buf), 0);
            expect_no_event(c);
        }
    }
    assert_int_equal(tdm_dtls_state(c), TDM_DTLS_FAILED);
    expect_event(c, TDM_DTLS_EV_FAILED, TDM_DTLS_FAIL_TIMEOUT, -1);
    assert_int_equal(tdm_dtls_deadline(c), TDM_DTLS_NO_DEADLINE);
    struct tdm_dtls_stats st;
    tdm_dtls_get_stats(c, &st);
    assert_int_equal(st.retransmits, 5);
    tdm_dtls_destroy(c);

    /* A server that saw a ClientHello and then nothing fails at the bound too. */
    struct tdm_dtls *s = NULL;
    struct tdm_fingerprint fc;
    tdm_cert_fingerprint(g_cert[CLIENT], &fc);
    assert_int_equal(tdm_dtls_create(&s, g_ctx[SERVER], TDM_DTLS_SERVER, &fc), 0);
    assert_int_equal(tdm_dtls_create(&c, g_ctx[CLIENT], TDM_DTLS_CLIENT, &fs), 0);
    tdm_dtls_start(c, T0);
    hello = tdm_dtls_poll_datagram(c, buf, sizeof buf);
    assert_int_equal(tdm_dtls_feed(s, buf, (size_t)hello, T0 + 10), 0); /* starts the server */
    now = T0 + 10;
    for (int i = 0; i < 20 && tdm_dtls_deadline(s) != TDM_DTLS_NO_DEADLINE; i++) {
        now = tdm_dtls_deadline(s);
        tdm_dtls_handle_timeout(s, now);
        while (tdm_dtls_poll_datagram(s, buf, sizeof buf) > 0)
            ;
    }
    assert_int_equal(now, T0 + 10 + TDM_DTLS_HANDSHAKE_TIMEOUT_US);
    expect_event(s, TDM_DTLS_EV_FAILED, TDM_DTLS_FAIL_TIMEOUT, -1);
    tdm_dtls_destroy(s);
    tdm_dtls_destroy(c);
}

static void close_notify_is_an_event(void **state)
{
    (void)state;
    struct net n;
    net_init(&n, g_ctx[CLIENT], NULL, NULL);
    run(&n);
    expect_event(n.ep[SERVER], TDM_DTLS_EV_CONNECTED, TDM_DTLS_FAIL_NONE, -1);
    expect_event(n.ep[CLIENT], TDM_DTLS_EV_CONNECTED, TDM_DTLS_FAIL_NONE, -1);
    assert_int_equal(tdm_dtls_close(n.ep[CLIENT], n.now), 0);
    assert_int_equal(tdm_dtls_state(n.ep[CLIENT]), TDM_DTLS_CLOSED);
    pump(&n);
    assert_int_equal(tdm_dtls_state(n.ep[SERVER]), TDM_DTLS_CLOSED);
    expect_event(n.ep[SERVER], TDM_DTLS_EV_CLOSED, TDM_DTLS_FAIL_NONE, -1);
    expect_no_event(n.ep[CLIENT]);                            /* the closer learns nothing new */
    assert_int_equal(tdm_dtls_close(n.ep[CLIENT], n.now), 0); /* idempotent */
    struct tdm_srtp_keys k;
    assert_int_equal(tdm_dtls_take_keys(n.ep[SERVER], &k), TDM_ESTATE); /* wiped */
    net_free(&n);
}

static void fatal_alert_is_an_event(void **state)
{
    (void)state;
    struct net n;
    net_init(&n, g_ctx_rsa, NULL, NULL); /* no cipher in common */
    run(&n);
    assert_int_equal(tdm_dtls_state(n.ep[SERVER]), TDM_DTLS_FAILED);
    assert_int_equal(tdm_dtls_state(n.ep[CLIENT]), TDM_DTLS_FAILED);
    expect_event(n.ep[SERVER], TDM_DTLS_EV_FAILED, TDM_DTLS_FAIL_PROTOCOL,
                 SSL_AD_HANDSHAKE_FAILURE);
    expect_event(n.ep[CLIENT], TDM_DTLS_EV_FAILED, TDM_DTLS_FAIL_ALERT_RECEIVED,
                 SSL_AD_HANDSHAKE_FAILURE);
    net_free(&n);
}

static void no_common_srtp_profile_fails(void **state)
{
    (void)state;
    struct net n;
    net_init(&n, g_ctx_gcm256, NULL, NULL);
    run(&n);
    assert_int_equal(tdm_dtls_state(n.ep[SERVER]), TDM_DTLS_FAILED);
    expect_event(n.ep[SERVER], TDM_DTLS_EV_FAILED, TDM_DTLS_FAIL_NO_SRTP, -1);
    assert_int_equal(tdm_dtls_state(n.ep[CLIENT]), TDM_DTLS_FAILED);
    net_free(&n);
}

/* Deterministic junk: xorshift. */
static uint32_t rnd(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

static void junk(uint8_t *p, size_t len, uint32_t *seed)
{
    for (size_t i = 0; i < len; i++)
        p[i] = (uint8_t)rnd(seed);
    if (len > 3 && (rnd(seed) & 1)) {
        p[0] = (uint8_t)(20 + rnd(seed) % 4); /* looks like a DTLS record header */
        p[1] = 0xfe;
        p[2] = (rnd(seed) & 1) ? 0xfd : 0xff;
    }
}

static void garbage_truncated_and_oversize_datagrams(void **state)
{
    (void)state;
    static uint8_t big[TDM_DTLS_MAX_IN + 1];
    uint32_t seed = 0x12345678;
    struct net n;
    net_init(&n, g_ctx[CLIENT], NULL, NULL);
    assert_int_equal(tdm_dtls_feed(n.ep[SERVER], big, sizeof big, n.now), TDM_ETOOBIG);
    assert_int_equal(tdm_dtls_feed(n.ep[SERVER], big, 0, n.now), TDM_EINVAL);
    assert_int_equal(tdm_dtls_state(n.ep[SERVER]), TDM_DTLS_NEW); /* refused: no start */
    run(&n);
    net_free(&n);

    /* Every prefix of a real ClientHello, then junk, to fresh servers. */
    const uint8_t *hello = n.first[CLIENT];
    size_t hello_len = n.first_len[CLIENT];
    assert_true(hello_len > 100);
    struct tdm_fingerprint fc;
    tdm_cert_fingerprint(g_cert[CLIENT], &fc);
    for (size_t cut = 1; cut < hello_len; cut++) {
        struct tdm_dtls *s = NULL;
        assert_int_equal(tdm_dtls_create(&s, g_ctx[SERVER], TDM_DTLS_SERVER, &fc), 0);
        assert_int_equal(tdm_dtls_feed(s, hello, cut, T0), 0);
        for (int k = 0; k < 3; k++) {
            size_t len = 1 + rnd(&seed) % 300;
            junk(big, len, &seed);
            tdm_dtls_feed(s, big, len, T0);
        }
        tdm_dtls_destroy(s);
    }

    /* Junk before, during and after a handshake: it still completes and stays up. */
    net_init(&n, g_ctx[CLIENT], NULL, NULL);
    assert_int_equal(tdm_dtls_feed(n.ep[CLIENT], big, 1, n.now), TDM_ESTATE); /* not started */
    assert_int_equal(tdm_dtls_start(n.ep[CLIENT], n.now), 0);
    for (int k = 0; k < 50; k++) {
        size_t len = 1 + rnd(&seed) % 1400;
        junk(big, len, &seed);
        big[0] = (uint8_t)(20 + big[0] % 44); /* RFC 7983 DTLS range: what demux passes */
        if (big[0] == 22)
            big[0] = 23; /* a lone forged ClientHello could legitimately start a handshake */
        tdm_dtls_feed(n.ep[CLIENT], big, len, n.now);
    }
    run(&n);
    assert_int_equal(tdm_dtls_state(n.ep[SERVER]), TDM_DTLS_CONNECTED);
    assert_int_equal(tdm_dtls_state(n.ep[CLIENT]), TDM_DTLS_CONNECTED);
    uint8_t out[TDM_DTLS_SLOT_BYTES];
    for (int k = 0; k < 200; k++) {
        size_t len = 1 + rnd(&seed) % 1400;
        junk(big, len, &seed);
        assert_int_equal(tdm_dtls_feed(n.ep[SERVER], big, len, n.now), 0);
        while (tdm_dtls_poll_datagram(n.ep[SERVER], out, sizeof out) > 0)
            ;
    }
    /* Unauthenticated records cannot end an established association (RFC 6347 4.1.2.7). */
    assert_int_equal(tdm_dtls_state(n.ep[SERVER]), TDM_DTLS_CONNECTED);
    check_keys_and_media(&n, TDM_SRTP_AEAD_AES_128_GCM, TDM_SRTP_GCM_KEY_SALT_LEN);
    net_free(&n);
}

/* ---- records forged from the peer's own address (RFC 6347 4.1.2.7) ---- */

/* One DTLS 1.2 record: type, version, epoch, sequence number, length, body. */
static size_t forge(uint8_t *p, uint8_t type, uint16_t version, uint16_t epoch, uint64_t seq,
                    uint16_t claimed_len, const uint8_t *body, size_t body_len)
{
    p[0] = type;
    p[1] = (uint8_t)(version >> 8);
    p[2] = (uint8_t)version;
    p[3] = (uint8_t)(epoch >> 8);
    p[4] = (uint8_t)epoch;
    for (int i = 0; i < 6; i++)
        p[5 + i] = (uint8_t)(seq >> (8 * (5 - i)));
    p[11] = (uint8_t)(claimed_len >> 8);
    p[12] = (uint8_t)claimed_len;
    if (body_len)
        memcpy(p + 13, body, body_len);
    return 13 + body_len;
}

#define GCM_ONLY 2 /* shorter than AES-GCM's nonce and tag, not than ChaCha20-Poly1305's tag */

struct forged {
    const char *what;
    uint8_t type;
    uint16_t version, epoch;
    uint64_t seq;
    int claimed; /* -1: the body's length */
    size_t body_len;
    uint8_t body0, body1; /* the first two body bytes (an alert's level and description) */
    int invalid;          /* structurally, so never reaches OpenSSL: true, false or GCM_ONLY */
};

static const struct forged k_forged[] = {
    {"plaintext fatal alert", 21, 0xfefd, 0, 50, -1, 2, 2, 40, false},
    {"plaintext close_notify", 21, 0xfefd, 0, 51, -1, 2, 1, 0, false},
    {"encrypted-epoch fatal alert, unencrypted", 21, 0xfefd, 1, 50, -1, 2, 2, 40, true},
    {"encrypted-epoch alert, bad tag", 21, 0xfefd, 1, 50, -1, 26, 0, 1, false},
    {"encrypted-epoch application data, bad tag", 23, 0xfefd, 1, 70, -1, 60, 7, 7, false},
    {"encrypted-epoch record of 3 bytes", 23, 0xfefd, 1, 71, -1, 3, 7, 7, true},
    {"encrypted-epoch record of 15 bytes", 22, 0xfefd, 1, 72, -1, 15, 7, 7, true},
    {"encrypted-epoch record of 23 bytes", 23, 0xfefd, 1, 73, -1, 23, 7, 7, GCM_ONLY},
    {"empty record", 23, 0xfefd, 1, 74, -1, 0, 0, 0, true},
    {"next-epoch handshake", 22, 0xfefd, 2, 1, -1, 40, 1, 0, false},
    {"plaintext handshake, fragment beyond its message", 22, 0xfefd, 0, 9, -1, 40, 1, 0, true},
    {"plaintext handshake, fragment header cut short", 22, 0xfefd, 0, 9, -1, 11, 1, 0, true},
    {"plaintext application data", 23, 0xfefd, 0, 9, -1, 40, 1, 0, true},
    {"plaintext change_cipher_spec", 20, 0xfefd, 0, 9, -1, 1, 1, 0, false},
    {"encrypted-epoch change_cipher_spec", 20, 0xfefd, 1, 90, -1, 1, 1, 0, true},
    {"content type 25", 25, 0xfefd, 1, 80, -1, 40, 1, 0, true},
    {"content type 63 in epoch 0", 63, 0xfefd, 0, 80, -1, 40, 1, 0, true},
    {"heartbeat", 24, 0xfefd, 1, 81, -1, 40, 1, 0, true},
    {"TLS version", 23, 0x0303, 1, 82, -1, 40, 1, 0, true},
    {"DTLS 1.0 version", 23, 0xfeff, 1, 83, -1, 40, 1, 0, false},
    {"length beyond the datagram", 23, 0xfefd, 1, 84, 500, 40, 1, 0, true},
    {"header cut short", 23, 0xfefd, 1, 85, -2, 0, 0, 0, true},
};

static size_t forge_one(uint8_t *rec, const struct forged *f)
{
    uint8_t body[1024];
    memset(body, 0x5a, sizeof body);
    body[0] = f->body0;
    body[1] = f->body1;
    if (f->claimed == -2)
        return 9; /* a record header cut short */
    uint16_t claimed = (uint16_t)(f->claimed < 0 ? (int)f->body_len : f->claimed);
    return forge(rec, f->type, f->version, f->epoch, f->seq, claimed, body, f->body_len);
}

/* Each forged record, alone in a datagram, to either side of an established association:
 * nothing ends, nothing is answered, the keys and a real close_notify still work. */
static void forged_records_after_connect(SSL_CTX *client_ctx, bool gcm)
{
    uint8_t rec[2048], out[TDM_DTLS_SLOT_BYTES];
    for (size_t i = 0; i < sizeof k_forged / sizeof k_forged[0]; i++) {
        for (int target = 0; target < 2; target++) {
            struct net n;
            net_init(&n, client_ctx, NULL, NULL);
            run(&n);
            size_t len = forge_one(rec, &k_forged[i]);
            struct tdm_dtls_stats before, after;
            tdm_dtls_get_stats(n.ep[target], &before);
            for (int k = 0; k < 3; k++)
                assert_int_equal(tdm_dtls_feed(n.ep[target], rec, len, n.now), 0);
            tdm_dtls_get_stats(n.ep[target], &after);
            if (tdm_dtls_state(n.ep[target]) != TDM_DTLS_CONNECTED)
                fail_msg("%s to the %s ended it", k_forged[i].what,
                         target == SERVER ? "server" : "client");
            /* discarded silently: no alert, nothing else on the wire */
            assert_int_equal(tdm_dtls_poll_datagram(n.ep[target], out, sizeof out), 0);
            assert_int_equal(after.datagrams_out, before.datagrams_out);
            bool invalid = k_forged[i].invalid == GCM_ONLY ? gcm : k_forged[i].invalid;
            if (invalid && after.dropped_in - before.dropped_in != 3)
                fail_msg("%s was not counted as dropped", k_forged[i].what);
            check_keys_and_media(&n, TDM_SRTP_AEAD_AES_128_GCM, TDM_SRTP_GCM_KEY_SALT_LEN);
            assert_int_equal(tdm_dtls_close(n.ep[!target], n.now), 0);
            pump(&n);
            assert_int_equal(tdm_dtls_state(n.ep[target]), TDM_DTLS_CLOSED);
            expect_event(n.ep[target], TDM_DTLS_EV_CLOSED, TDM_DTLS_FAIL_NONE, -1);
            net_free(&n);
        }
    }
}

static void forged_records_after_connect_keep_association(void **state)
{
    (void)state;
    forged_records_after_connect(g_ctx[CLIENT], true);
    forged_records_after_connect(g_ctx_chacha, false);
}

struct inject {
    struct net *n;
    const uint8_t *rec;
    size_t len;
};

/* Before every real datagram is delivered, the forged one reaches the same side. */
static bool inject_first(int from, unsigned idx, const uint8_t *p, size_t len, void *arg)
{
    struct inject *in = arg;
    (void)idx, (void)p, (void)len;
    tdm_dtls_feed(in->n->ep[!from], in->rec, in->len, in->n->now);
    return false;
}

/* The same forged records before every datagram of a handshake: only a plaintext alert
 * ends it. */
static void forged_records_during_handshake(void **state)
{
    (void)state;
    uint8_t rec[2048];
    for (size_t i = 0; i < sizeof k_forged / sizeof k_forged[0]; i++) {
        struct net n;
        net_init(&n, g_ctx[CLIENT], NULL, NULL);
        struct inject in = {&n, rec, forge_one(rec, &k_forged[i])};
        n.drop = inject_first;
        n.drop_arg = &in;
        run(&n);
        if (k_forged[i].type == 21 && k_forged[i].epoch == 0) {
            /* Before the peer is authenticated nothing tells a forged alert from the
             * peer's own refusal (a bad certificate, no common cipher): it is honoured. */
            assert_int_equal(tdm_dtls_state(n.ep[CLIENT]), TDM_DTLS_FAILED);
        } else if (tdm_dtls_state(n.ep[SERVER]) != TDM_DTLS_CONNECTED ||
                   tdm_dtls_state(n.ep[CLIENT]) != TDM_DTLS_CONNECTED) {
            fail_msg("%s during the handshake ended it", k_forged[i].what);
        }
        net_free(&n);
    }
}

static void queue_is_bounded_and_poll_checks_cap(void **state)
{
    (void)state;
    struct tdm_fingerprint fs, fc;
    tdm_cert_fingerprint(g_cert[SERVER], &fs);
    tdm_cert_fingerprint(g_cert[CLIENT], &fc);
    struct tdm_dtls *c = NULL, *s = NULL;
    uint8_t buf[TDM_DTLS_SLOT_BYTES];
    assert_int_equal(tdm_dtls_create(&c, g_ctx[CLIENT], TDM_DTLS_CLIENT, &fs), 0);
    assert_int_equal(tdm_dtls_create(&s, g_ctx[SERVER], TDM_DTLS_SERVER, &fc), 0);
    tdm_dtls_start(c, T0);
    assert_int_equal(tdm_dtls_poll_datagram(c, buf, 10), TDM_ETOOBIG); /* stays queued */
    int hello = tdm_dtls_poll_datagram(c, buf, sizeof buf);
    assert_true(hello > 0);
    assert_int_equal(tdm_dtls_feed(s, buf, (size_t)hello, T0), 0);
    /* The server's flight is never drained: its retransmissions fill the queue, then are
     * dropped and counted. */
    for (int i = 0; i < 12 && tdm_dtls_deadline(s) != TDM_DTLS_NO_DEADLINE; i++)
        tdm_dtls_handle_timeout(s, tdm_dtls_deadline(s));
    struct tdm_dtls_stats st;
    tdm_dtls_get_stats(s, &st);
    int queued = 0;
    while (tdm_dtls_poll_datagram(s, buf, sizeof buf) > 0)
        queued++;
    assert_int_equal(queued, TDM_DTLS_QUEUE_SLOTS);
    assert_int_equal(st.datagrams_out, TDM_DTLS_QUEUE_SLOTS);
    assert_true(st.dropped_out > 0);
    assert_true(st.retransmits >= 3);
    tdm_dtls_destroy(c);
    tdm_dtls_destroy(s);
}

static int setup(void **state)
{
    (void)state;
    assert_int_equal(tdm_srtp_global_init(), 0);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(tdm_cert_create(&g_cert[i], WALL_US), 0);
        assert_int_equal(tdm_cert_ssl_ctx_new(g_cert[i], NULL, &g_ctx[i]), 0);
    }
    assert_int_equal(tdm_cert_ssl_ctx_new(g_cert[CLIENT], "SRTP_AES128_CM_SHA1_80", &g_ctx_cm80),
                     0);
    assert_int_equal(tdm_cert_ssl_ctx_new(g_cert[CLIENT], "SRTP_AEAD_AES_256_GCM", &g_ctx_gcm256),
                     0);
    assert_int_equal(tdm_cert_ssl_ctx_new(g_cert[CLIENT], NULL, &g_ctx_rsa), 0);
    assert_int_equal(SSL_CTX_set_cipher_list(g_ctx_rsa, "ECDHE-RSA-AES128-GCM-SHA256"), 1);
    assert_int_equal(tdm_cert_ssl_ctx_new(g_cert[CLIENT], NULL, &g_ctx_chacha), 0);
    assert_int_equal(SSL_CTX_set_cipher_list(g_ctx_chacha, "ECDHE-ECDSA-CHACHA20-POLY1305"), 1);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    SSL_CTX_free(g_ctx_cm80);
    SSL_CTX_free(g_ctx_gcm256);
    SSL_CTX_free(g_ctx_rsa);
    SSL_CTX_free(g_ctx_chacha);
    for (int i = 0; i < 2; i++) {
        SSL_CTX_free(g_ctx[i]);
        tdm_cert_destroy(g_cert[i]);
    }
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(handshake_gcm),
        cmocka_unit_test(handshake_cm80_when_client_offers_only_cm80),
        cmocka_unit_test(wrong_fingerprint_fails),
        cmocka_unit_test(fingerprint_given_after_handshake),
        cmocka_unit_test(lost_datagrams_recover_by_timer),
        cmocka_unit_test(repeated_flight_loss_recovers),
        cmocka_unit_test(handshake_that_never_completes_fails_at_bound),
        cmocka_unit_test(close_notify_is_an_event),
        cmocka_unit_test(fatal_alert_is_an_event),
        cmocka_unit_test(no_common_srtp_profile_fails),
        cmocka_unit_test(garbage_truncated_and_oversize_datagrams),
        cmocka_unit_test(queue_is_bounded_and_poll_checks_cap),
        cmocka_unit_test(forged_records_after_connect_keep_association),
        cmocka_unit_test(forged_records_during_handshake),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
