/* Sans-IO DTLS-SRTP endpoint over OpenSSL 3.0 (RFC 6347, RFC 5763, RFC 5764). */
#include "tandem/dtls.h"

#include "tandem/err.h"

#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#define EVENT_SLOTS 4 /* at most CONNECTED then CLOSED or FAILED ever happen */
#define DRAIN_ROUNDS 32
#define SRTP_MASTER_KEY_LEN 16 /* both profiles: AES-128 */
#define RECORD_HEADER_LEN 13   /* RFC 6347 4.1: type, version, epoch, sequence, length */
#define GCM_OVERHEAD (8 + 16)  /* RFC 5288 3: explicit nonce and tag */
#define CHACHA_OVERHEAD 16     /* RFC 7905 2: tag only */
#define HS_HEADER_LEN 12       /* RFC 6347 4.2.2: type, length, message_seq, fragment */
/* Far above any WebRTC handshake message (certificates are self-signed ECDSA, under 1 KiB)
 * and below OpenSSL's own limit, beyond which it fails the handshake. */
#define HS_MAX_MESSAGE 16384

static const char k_exporter_label[] = "EXTRACTOR-dtls_srtp"; /* RFC 5764 4.2 */

struct out_slot {
    uint16_t len;
    uint8_t data[TDM_DTLS_SLOT_BYTES];
};

struct tdm_dtls {
    SSL *ssl;
    enum tdm_dtls_role role;
    enum tdm_dtls_state state;
    bool has_expected;
    bool keys_ready;
    bool timer_changed;
    bool close_notify_received;
    /* OpenSSL failed after the peer was authenticated, for a reason other than the
     * peer's alert. The association and its SRTP keys stand; the SSL object cannot read
     * any more, so later datagrams are only counted (see read_failed_when_connected). */
    bool ssl_broken;
    int alert_received;
    int alert_sent;
    struct tdm_fingerprint expected;
    struct tdm_srtp_keys keys;
    int64_t now_us;
    int64_t start_us;
    int64_t deadline_us;
    int64_t handshake_timeout_us; /* TDM_DTLS_HANDSHAKE_TIMEOUT_US unless set */
    uint32_t rto_us;              /* interval OpenSSL's running timer was last started with */
    /* OpenSSL's own retransmission deadline, as handed to the BIO (see force_due). */
    struct timeval *ossl_timer;
    /* The datagram being fed: borrowed for the duration of tdm_dtls_feed. */
    const uint8_t *in;
    size_t in_len;
    unsigned q_head, q_count;
    unsigned ev_head, ev_count;
    struct tdm_dtls_event ev[EVENT_SLOTS];
    struct tdm_dtls_stats stats;
    struct out_slot q[TDM_DTLS_QUEUE_SLOTS];
};

/* ---- the BIO: read side returns the fed datagram once; write side queues datagrams ---- */

static BIO_METHOD *g_bio_method;
static CRYPTO_ONCE g_bio_once = CRYPTO_ONCE_STATIC_INIT;

static void enqueue(struct tdm_dtls *d, const uint8_t *p, size_t len)
{
    if (d->q_count == TDM_DTLS_QUEUE_SLOTS || len > TDM_DTLS_SLOT_BYTES) {
        d->stats.dropped_out++;
        return;
    }
    struct out_slot *s = &d->q[(d->q_head + d->q_count) % TDM_DTLS_QUEUE_SLOTS];
    memcpy(s->data, p, len);
    s->len = (uint16_t)len;
    d->q_count++;
    d->stats.datagrams_out++;
    if (len > d->stats.max_out_len)
        d->stats.max_out_len = (uint32_t)len;
}

/* DTLS calls BIO_write once per datagram it wants on the wire, so keeping each write as
 * one queue entry preserves datagram boundaries (a mem BIO would merge them). A full
 * queue drops, as UDP would; reporting success keeps OpenSSL's state machine unaware. */
static int bio_write(BIO *b, const char *buf, int len)
{
    struct tdm_dtls *d = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    if (!d || len <= 0)
        return 0;
    enqueue(d, (const uint8_t *)buf, (size_t)len);
    return len;
}

static int bio_read(BIO *b, char *buf, int len)
{
    struct tdm_dtls *d = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    if (!d || d->in_len == 0 || len <= 0) {
        BIO_set_retry_read(b); /* like a mem BIO with eof_return -1: "nothing yet" */
        return -1;
    }
    size_t n = d->in_len < (size_t)len ? d->in_len : (size_t)len; /* excess dropped, as UDP */
    memcpy(buf, d->in, n);
    d->in = NULL;
    d->in_len = 0;
    return (int)n;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    struct tdm_dtls *d = BIO_get_data(b);
    (void)num;
    switch (cmd) {
    case BIO_CTRL_FLUSH: return 1;
    case BIO_CTRL_PENDING: return d ? (long)d->in_len : 0;
    case BIO_CTRL_WPENDING: return 0;
    case BIO_CTRL_DGRAM_SET_NEXT_TIMEOUT:
        /* OpenSSL (re)started or stopped its retransmission timer: the deadline must be
         * recomputed. ptr is OpenSSL's struct timeval for that timer. */
        if (d) {
            d->ossl_timer = ptr;
            d->timer_changed = true;
        }
        return 1;
    default: return 0; /* includes MTU overhead: the 1200 link MTU is the UDP payload */
    }
}

static int bio_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

static void bio_method_init(void)
{
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "tandem-dtls");
    if (!m)
        return;
    if (!BIO_meth_set_write(m, bio_write) || !BIO_meth_set_read(m, bio_read) ||
        !BIO_meth_set_ctrl(m, bio_ctrl) || !BIO_meth_set_create(m, bio_create)) {
        BIO_meth_free(m);
        return;
    }
    g_bio_method = m;
}

/* ---- events, failure, keys ---- */

static void push_event(struct tdm_dtls *d, enum tdm_dtls_event_type type, enum tdm_dtls_fail f,
                       int alert)
{
    if (d->ev_count == EVENT_SLOTS)
        return;
    struct tdm_dtls_event *e = &d->ev[(d->ev_head + d->ev_count) % EVENT_SLOTS];
    e->type = type;
    e->fail = f;
    e->alert = alert;
    d->ev_count++;
}

static bool is_live(const struct tdm_dtls *d)
{
    return d->state != TDM_DTLS_CLOSED && d->state != TDM_DTLS_FAILED;
}

static void wipe_keys(struct tdm_dtls *d)
{
    tdm_srtp_keys_wipe(&d->keys);
    d->keys_ready = false;
}

static void fail(struct tdm_dtls *d, enum tdm_dtls_fail f, int alert)
{
    if (!is_live(d))
        return;
    d->state = TDM_DTLS_FAILED;
    d->deadline_us = TDM_DTLS_NO_DEADLINE;
    wipe_keys(d);
    push_event(d, TDM_DTLS_EV_FAILED, f, alert);
}

/* An SSL call reported a fatal error: say whose alert ended it. */
static void fail_from_ssl(struct tdm_dtls *d)
{
    if (d->alert_received >= 0)
        fail(d, TDM_DTLS_FAIL_ALERT_RECEIVED, d->alert_received);
    else if (d->close_notify_received)
        fail(d, TDM_DTLS_FAIL_ALERT_RECEIVED, SSL_AD_CLOSE_NOTIFY);
    else
        fail(d, TDM_DTLS_FAIL_PROTOCOL, d->alert_sent);
}

/* RFC 5764 4.2: the exporter output is client_key | server_key | client_salt | server_salt;
 * each side's write key protects what that side sends. */
static int export_keys(struct tdm_dtls *d, enum tdm_srtp_profile profile)
{
    uint8_t m[2 * TDM_SRTP_MAX_KEY_SALT];
    size_t len = tdm_srtp_key_salt_len(profile);
    size_t salt = len - SRTP_MASTER_KEY_LEN;
    if (SSL_export_keying_material(d->ssl, m, 2 * len, k_exporter_label,
                                   sizeof k_exporter_label - 1, NULL, 0, 0) != 1) {
        OPENSSL_cleanse(m, sizeof m);
        return TDM_ECRYPTO;
    }
    const uint8_t *ck = m, *sk = m + SRTP_MASTER_KEY_LEN;
    const uint8_t *cs = m + 2 * SRTP_MASTER_KEY_LEN, *ss = cs + salt;
    bool client = d->role == TDM_DTLS_CLIENT;
    d->keys.profile = profile;
    d->keys.len = len;
    memcpy(d->keys.local, client ? ck : sk, SRTP_MASTER_KEY_LEN);
    memcpy(d->keys.local + SRTP_MASTER_KEY_LEN, client ? cs : ss, salt);
    memcpy(d->keys.remote, client ? sk : ck, SRTP_MASTER_KEY_LEN);
    memcpy(d->keys.remote + SRTP_MASTER_KEY_LEN, client ? ss : cs, salt);
    OPENSSL_cleanse(m, sizeof m);
    return 0;
}

/* Handshake done and the remote fingerprint known: authenticate, then make keys. */
static void verify_and_connect(struct tdm_dtls *d)
{
    X509 *peer = SSL_get0_peer_certificate(d->ssl);
    if (!peer || !tdm_cert_fingerprint_matches(&d->expected, peer)) {
        fail(d, TDM_DTLS_FAIL_FINGERPRINT, -1);
        return;
    }
    const SRTP_PROTECTION_PROFILE *prof = SSL_get_selected_srtp_profile(d->ssl);
    enum tdm_srtp_profile id = prof ? (enum tdm_srtp_profile)prof->id : TDM_SRTP_PROFILE_NONE;
    if (tdm_srtp_key_salt_len(id) == 0) {
        fail(d, TDM_DTLS_FAIL_NO_SRTP, -1);
        return;
    }
    if (export_keys(d, id) != 0) {
        fail(d, TDM_DTLS_FAIL_INTERNAL, -1);
        return;
    }
    d->keys_ready = true;
    d->state = TDM_DTLS_CONNECTED;
    d->deadline_us = TDM_DTLS_NO_DEADLINE;
    push_event(d, TDM_DTLS_EV_CONNECTED, TDM_DTLS_FAIL_NONE, -1);
}

/* ---- OpenSSL callbacks ---- */

static void info_cb(const SSL *ssl, int where, int ret)
{
    struct tdm_dtls *d = SSL_get_app_data(ssl);
    if (!d || !(where & SSL_CB_ALERT))
        return;
    int level = (ret >> 8) & 0xff, desc = ret & 0xff;
    if (where & SSL_CB_READ) {
        if (desc == SSL_AD_CLOSE_NOTIFY)
            d->close_notify_received = true;
        else if (level == SSL3_AL_FATAL)
            d->alert_received = desc;
    } else if ((where & SSL_CB_WRITE) && level == SSL3_AL_FATAL) {
        d->alert_sent = desc;
    }
}

/* OpenSSL asks for the next retransmission interval: 0 = first flight of a new timer. */
static unsigned int timer_cb(SSL *ssl, unsigned int prev_us)
{
    struct tdm_dtls *d = SSL_get_app_data(ssl);
    unsigned int next = TDM_DTLS_RTO_INITIAL_US;
    if (prev_us != 0)
        next = prev_us >= TDM_DTLS_RTO_MAX_US / 2 ? TDM_DTLS_RTO_MAX_US : prev_us * 2;
    if (d) {
        if (prev_us != 0)
            d->stats.retransmits++;
        d->rto_us = next;
    }
    return next;
}

/* ---- life cycle ---- */

int tdm_dtls_create(struct tdm_dtls **out, SSL_CTX *ctx, enum tdm_dtls_role role,
                    const struct tdm_fingerprint *expected)
{
    struct tdm_dtls *d = NULL;
    BIO *bio = NULL;
    int rc = TDM_EINVAL;
    if (!out || !ctx || (role != TDM_DTLS_SERVER && role != TDM_DTLS_CLIENT))
        return TDM_EINVAL;
    *out = NULL;
    if (expected && (expected->len == 0 || expected->len > TDM_FP_MAX_DIGEST))
        return TDM_EINVAL;
    if (CRYPTO_THREAD_run_once(&g_bio_once, bio_method_init) != 1 || !g_bio_method)
        return TDM_ECRYPTO;
    if (!(d = calloc(1, sizeof *d)))
        return TDM_ENOMEM;
    d->role = role;
    d->alert_received = d->alert_sent = -1;
    d->handshake_timeout_us = TDM_DTLS_HANDSHAKE_TIMEOUT_US;
    d->deadline_us = TDM_DTLS_NO_DEADLINE;
    if (expected) {
        d->expected = *expected;
        d->has_expected = true;
    }
    rc = TDM_ECRYPTO;
    if (!(d->ssl = SSL_new(ctx)) || !(bio = BIO_new(g_bio_method)))
        goto fail;
    BIO_set_data(bio, d);
    SSL_set_bio(d->ssl, bio, bio); /* one BIO for both directions: one reference taken */
    SSL_set_app_data(d->ssl, d);
    SSL_set_info_callback(d->ssl, info_cb);
    DTLS_set_timer_cb(d->ssl, timer_cb);
    SSL_set_options(d->ssl, SSL_OP_NO_QUERY_MTU);
    if (DTLS_set_link_mtu(d->ssl, TDM_DTLS_MTU) != 1)
        goto fail;
    if (role == TDM_DTLS_SERVER)
        SSL_set_accept_state(d->ssl);
    else
        SSL_set_connect_state(d->ssl);
    *out = d;
    return 0;
fail:
    ERR_clear_error();
    tdm_dtls_destroy(d);
    return rc;
}

void tdm_dtls_destroy(struct tdm_dtls *d)
{
    if (!d)
        return;
    SSL_free(d->ssl); /* frees the BIO too */
    OPENSSL_cleanse(d, sizeof *d);
    free(d);
}

/* After an SSL call: if OpenSSL touched its timer, re-derive our deadline. When it was
 * (re)started during this call it runs for rto_us from now_us; with follow_ossl_clock
 * (OpenSSL did not accept our forced expiry) take its remaining time instead. */
static void refresh_deadline(struct tdm_dtls *d, bool follow_ossl_clock)
{
    if (!d->timer_changed)
        return;
    d->timer_changed = false;
    struct timeval tv;
    if (d->state != TDM_DTLS_HANDSHAKING || DTLSv1_get_timeout(d->ssl, &tv) != 1)
        d->deadline_us = TDM_DTLS_NO_DEADLINE;
    else if (follow_ossl_clock || d->rto_us == 0)
        d->deadline_us = d->now_us + (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
    else
        d->deadline_us = d->now_us + d->rto_us;
}

/* SSL_read failed once the peer was authenticated, and not because of the peer's alert
 * (an authenticated fatal alert or close_notify still ends the association). Whatever
 * OpenSSL found wrong came in a datagram anyone could have forged, and RFC 6347 4.1.2.7
 * says to discard it, not to answer with an alert: so the alert OpenSSL queued in this
 * call is withdrawn and the SRTP association stands until the caller's consent time-out.
 * The SSL object is left in its error state, so later DTLS datagrams are only counted. */
static void read_failed_when_connected(struct tdm_dtls *d, unsigned queued_before)
{
    unsigned added = d->q_count - queued_before;
    d->q_count = queued_before; /* the newest entries, at the ring's tail */
    d->stats.datagrams_out -= added;
    d->stats.dropped_in++;
    d->ssl_broken = true;
}

/* Process records until OpenSSL wants more input. Application data is dropped. */
static void drain_records(struct tdm_dtls *d)
{
    uint8_t scratch[1024];
    unsigned queued_before = d->q_count;
    for (int i = 0; i < DRAIN_ROUNDS && is_live(d); i++) {
        ERR_clear_error();
        int r = SSL_read(d->ssl, scratch, sizeof scratch);
        if (r > 0)
            continue;
        int e = SSL_get_error(d->ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
            break;
        if (e == SSL_ERROR_ZERO_RETURN) {
            /* close_notify (RFC 5246 7.2.1): answer with ours. Before the peer was
             * authenticated it only ends a failed attempt. */
            ERR_clear_error();
            SSL_shutdown(d->ssl);
            if (d->state != TDM_DTLS_CONNECTED) {
                fail(d, TDM_DTLS_FAIL_ALERT_RECEIVED, SSL_AD_CLOSE_NOTIFY);
                break;
            }
            d->state = TDM_DTLS_CLOSED;
            wipe_keys(d);
            push_event(d, TDM_DTLS_EV_CLOSED, TDM_DTLS_FAIL_NONE, -1);
            break;
        }
        if (d->state == TDM_DTLS_CONNECTED && d->alert_received < 0 && !d->close_notify_received) {
            read_failed_when_connected(d, queued_before);
            break;
        }
        fail_from_ssl(d);
    }
}

static void handshake_step(struct tdm_dtls *d)
{
    ERR_clear_error();
    int r = SSL_do_handshake(d->ssl);
    if (r == 1) {
        d->state = TDM_DTLS_VERIFYING;
        d->deadline_us = TDM_DTLS_NO_DEADLINE;
        if (d->has_expected)
            verify_and_connect(d);
        if (is_live(d))
            drain_records(d); /* records after the Finished in the same datagram */
        return;
    }
    int e = SSL_get_error(d->ssl, r);
    if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
        fail_from_ssl(d);
}

static void check_bound(struct tdm_dtls *d)
{
    bool pending = d->state == TDM_DTLS_HANDSHAKING || d->state == TDM_DTLS_VERIFYING;
    if (pending && d->now_us - d->start_us >= d->handshake_timeout_us)
        fail(d, TDM_DTLS_FAIL_TIMEOUT, -1);
}

static void begin(struct tdm_dtls *d, int64_t now_us)
{
    d->state = TDM_DTLS_HANDSHAKING;
    d->start_us = now_us;
    d->now_us = now_us;
}

int tdm_dtls_start(struct tdm_dtls *d, int64_t now_us)
{
    if (!d)
        return TDM_EINVAL;
    if (d->state != TDM_DTLS_NEW)
        return TDM_ESTATE;
    begin(d, now_us);
    if (d->role == TDM_DTLS_CLIENT)
        handshake_step(d);
    refresh_deadline(d, false);
    ERR_clear_error();
    return 0;
}

/* The least an encrypted record can carry with the read cipher: nonce and tag. Before a
 * cipher is chosen no encrypted record is valid at all, so the largest of ours applies. */
static size_t encrypted_overhead(const struct tdm_dtls *d)
{
    const SSL_CIPHER *c = SSL_get_current_cipher(d->ssl);
    if (c && SSL_CIPHER_get_cipher_nid(c) == NID_chacha20_poly1305)
        return CHACHA_OVERHEAD;
    return GCM_OVERHEAD;
}

/* RFC 6347 4.1.2.7: invalid records are silently discarded, because anyone can forge a
 * datagram from the peer's address. OpenSSL 3.0 drops most of them itself (bad MAC, other
 * epoch or version, length beyond the datagram) but fails the whole association, with an
 * internal_error alert, on an encrypted record shorter than the cipher's nonce and tag,
 * and fails a handshake in progress on a plaintext record of a kind that cannot come then
 * or on a handshake fragment that does not add up. So every record of a datagram
 * is checked here first, and a datagram holding any invalid record is dropped whole: a
 * real peer never sends one, and only an on-path attacker could splice one into a real
 * datagram, who could as well drop it. */
/* A plaintext handshake record holds whole fragments (RFC 6347 4.2.2), each inside its
 * message; OpenSSL fails the handshake on a fragment header that does not add up. */
static bool fragments_valid(const uint8_t *p, size_t len)
{
    size_t off = 0;
    while (off < len) {
        if (len - off < HS_HEADER_LEN)
            return false;
        const uint8_t *h = p + off;
        size_t msg_len = (size_t)h[1] << 16 | (size_t)h[2] << 8 | h[3];
        size_t frag_off = (size_t)h[6] << 16 | (size_t)h[7] << 8 | h[8];
        size_t frag_len = (size_t)h[9] << 16 | (size_t)h[10] << 8 | h[11];
        if (msg_len > HS_MAX_MESSAGE || frag_off > msg_len || frag_len > msg_len - frag_off ||
            frag_len > len - off - HS_HEADER_LEN)
            return false;
        off += HS_HEADER_LEN + frag_len;
    }
    return true;
}

static bool records_valid(const struct tdm_dtls *d, const uint8_t *p, size_t len)
{
    size_t off = 0;
    while (off < len) {
        if (len - off < RECORD_HEADER_LEN)
            return false;
        const uint8_t *h = p + off;
        uint8_t type = h[0];
        uint16_t epoch = (uint16_t)(h[3] << 8 | h[4]);
        size_t body = (size_t)(h[11] << 8 | h[12]);
        /* change_cipher_spec, alert, handshake, application_data (RFC 5246 6.2.1) */
        if (type < 20 || type > 23 || h[1] != 0xfe)
            return false;
        if (body == 0 || body > len - off - RECORD_HEADER_LEN)
            return false;
        /* Without renegotiation change_cipher_spec only ever comes in epoch 0, and
         * application data only in an encrypted epoch. */
        if ((type == 20 && epoch != 0) || (type == 23 && epoch == 0))
            return false;
        if (epoch != 0 && body < encrypted_overhead(d) + 1)
            return false;
        if (epoch == 0 && type == 22 && !fragments_valid(h + RECORD_HEADER_LEN, body))
            return false;
        off += RECORD_HEADER_LEN + body;
    }
    return true;
}

int tdm_dtls_feed(struct tdm_dtls *d, const uint8_t *p, size_t len, int64_t now_us)
{
    if (!d || !p || len == 0)
        return TDM_EINVAL;
    if (len > TDM_DTLS_MAX_IN)
        return TDM_ETOOBIG;
    if (!is_live(d))
        return TDM_ESTATE;
    if (d->state == TDM_DTLS_NEW && d->role == TDM_DTLS_CLIENT)
        return TDM_ESTATE; /* a client speaks first, when the caller starts it */
    if (d->ssl_broken || !records_valid(d, p, len)) {
        d->stats.dropped_in++; /* before a server starts: junk starts no clock */
        return 0;
    }
    if (d->state == TDM_DTLS_NEW)
        begin(d, now_us);
    d->now_us = now_us;
    check_bound(d);
    if (!is_live(d))
        return 0;
    d->stats.datagrams_in++;
    d->in = p;
    d->in_len = len;
    if (d->state == TDM_DTLS_HANDSHAKING)
        handshake_step(d);
    else
        drain_records(d);
    d->in = NULL; /* borrowed only until return, even if OpenSSL did not read it */
    d->in_len = 0;
    refresh_deadline(d, false);
    ERR_clear_error();
    return 0;
}

int tdm_dtls_set_handshake_timeout(struct tdm_dtls *d, int64_t us)
{
    if (!d || us <= 0)
        return TDM_EINVAL;
    d->handshake_timeout_us = us;
    return 0;
}

int64_t tdm_dtls_deadline(const struct tdm_dtls *d)
{
    if (!d || (d->state != TDM_DTLS_HANDSHAKING && d->state != TDM_DTLS_VERIFYING))
        return TDM_DTLS_NO_DEADLINE;
    int64_t bound = d->start_us + d->handshake_timeout_us;
    return d->deadline_us < bound ? d->deadline_us : bound;
}

/* OpenSSL 3.0 decides whether its retransmission timer is due by gettimeofday and offers
 * no clock hook. Our virtual deadline has passed, so move OpenSSL's deadline (the struct
 * it passed to BIO_CTRL_DGRAM_SET_NEXT_TIMEOUT) into the past; DTLSv1_handle_timeout
 * then re-sends and restarts the timer with our timer_cb interval. A zero struct means no
 * timer runs and is left alone. */
static void force_due(struct tdm_dtls *d)
{
    struct timeval *tv = d->ossl_timer;
    if (tv && (tv->tv_sec != 0 || tv->tv_usec != 0)) {
        tv->tv_sec = 0;
        tv->tv_usec = 1;
    }
}

int tdm_dtls_handle_timeout(struct tdm_dtls *d, int64_t now_us)
{
    if (!d || !is_live(d) || d->state == TDM_DTLS_NEW)
        return 0;
    d->now_us = now_us;
    check_bound(d);
    if (d->state != TDM_DTLS_HANDSHAKING || now_us < d->deadline_us)
        return 0;
    force_due(d);
    ERR_clear_error();
    int r = DTLSv1_handle_timeout(d->ssl);
    if (r < 0) {
        fail(d, TDM_DTLS_FAIL_TIMEOUT, -1); /* OpenSSL's own retry limit */
    } else if (r == 0) {
        /* Not due by OpenSSL's clock (force_due could not apply): follow its clock. */
        d->timer_changed = true;
    }
    refresh_deadline(d, r == 0);
    ERR_clear_error();
    return 0;
}

int tdm_dtls_set_remote_fingerprint(struct tdm_dtls *d, const struct tdm_fingerprint *fp,
                                    int64_t now_us)
{
    if (!d || !fp || fp->len == 0 || fp->len > TDM_FP_MAX_DIGEST)
        return TDM_EINVAL;
    if (d->state == TDM_DTLS_CONNECTED || !is_live(d))
        return TDM_ESTATE;
    d->expected = *fp;
    d->has_expected = true;
    d->now_us = now_us;
    if (d->state == TDM_DTLS_VERIFYING) {
        check_bound(d);
        if (d->state == TDM_DTLS_VERIFYING)
            verify_and_connect(d);
    }
    ERR_clear_error();
    return 0;
}

int tdm_dtls_close(struct tdm_dtls *d, int64_t now_us)
{
    if (!d || !is_live(d))
        return 0;
    d->now_us = now_us;
    if (d->state == TDM_DTLS_CONNECTED || d->state == TDM_DTLS_VERIFYING) {
        ERR_clear_error();
        SSL_shutdown(d->ssl); /* queues close_notify */
        ERR_clear_error();
    }
    d->state = TDM_DTLS_CLOSED;
    d->deadline_us = TDM_DTLS_NO_DEADLINE;
    wipe_keys(d);
    return 0;
}

int tdm_dtls_poll_datagram(struct tdm_dtls *d, uint8_t *out, size_t cap)
{
    if (!d || !out)
        return TDM_EINVAL;
    if (d->q_count == 0)
        return 0;
    struct out_slot *s = &d->q[d->q_head];
    if (cap < s->len)
        return TDM_ETOOBIG;
    memcpy(out, s->data, s->len);
    d->q_head = (d->q_head + 1) % TDM_DTLS_QUEUE_SLOTS;
    d->q_count--;
    return s->len;
}

bool tdm_dtls_poll_event(struct tdm_dtls *d, struct tdm_dtls_event *ev)
{
    if (!d || !ev || d->ev_count == 0)
        return false;
    *ev = d->ev[d->ev_head];
    d->ev_head = (d->ev_head + 1) % EVENT_SLOTS;
    d->ev_count--;
    return true;
}

int tdm_dtls_take_keys(struct tdm_dtls *d, struct tdm_srtp_keys *out)
{
    if (!d || !out)
        return TDM_EINVAL;
    if (d->state != TDM_DTLS_CONNECTED || !d->keys_ready)
        return TDM_ESTATE;
    *out = d->keys;
    wipe_keys(d);
    return 0;
}

enum tdm_dtls_state tdm_dtls_state(const struct tdm_dtls *d)
{
    return d->state;
}

enum tdm_dtls_role tdm_dtls_role(const struct tdm_dtls *d)
{
    return d->role;
}

void tdm_dtls_get_stats(const struct tdm_dtls *d, struct tdm_dtls_stats *out)
{
    *out = d->stats;
}

const char *tdm_dtls_fail_name(enum tdm_dtls_fail f)
{
    switch (f) {
    case TDM_DTLS_FAIL_NONE: return "none";
    case TDM_DTLS_FAIL_TIMEOUT: return "timeout";
    case TDM_DTLS_FAIL_FINGERPRINT: return "fingerprint mismatch";
    case TDM_DTLS_FAIL_NO_SRTP: return "no SRTP profile";
    case TDM_DTLS_FAIL_ALERT_RECEIVED: return "alert received";
    case TDM_DTLS_FAIL_PROTOCOL: return "protocol error";
    case TDM_DTLS_FAIL_INTERNAL: return "internal error";
    }
    return "unknown";
}
