/* SRTP and SRTCP AEAD_AES_128_GCM (RFC 7714) on OpenSSL EVP, both ways; why not libsrtp:
 * srtp_gcm.h. */
#include "srtp_gcm.h"

#include "tandem/err.h"
#include "tandem/srtp.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#define MASTER_KEY 16
#define MASTER_SALT 12 /* RFC 7714 12: 96 bits for AEAD_AES_128_GCM */
#define SESSION_SALT 12
#define GCM_IV 12
#define RTP_HEADER_MIN 12
#define SEQ_MEDIAN 0x8000 /* libsrtp's seq_num_median */
#define SEQ_MAX 0x10000
#define WINDOW TDM_SRTP_REPLAY_WINDOW
#define WINDOW_WORDS (WINDOW / 64)
#define RTCP_HEADER 8
#define SRTCP_TRAILER 4 /* E bit || 31-bit SRTCP index (RFC 3711 3.4) */
#define SRTCP_INDEX_MAX 0x7fffffffu
#define RTCP_WINDOW 128 /* libsrtp's srtp_rdb_t: SRTCP's replay window is fixed */

/* RFC 3711 4.3.3 labels */
#define LABEL_RTP_KEY 0x00
#define LABEL_RTP_SALT 0x02
#define LABEL_RTCP_KEY 0x03
#define LABEL_RTCP_SALT 0x05

_Static_assert(MASTER_KEY + MASTER_SALT == TDM_SRTP_GCM_KEY_SALT_LEN, "GCM key+salt");
_Static_assert(TDM_SRTP_GCM_TAG <= TDM_SRTP_MAX_TRAILER, "the caller's room covers the tag");
_Static_assert(WINDOW % 64 == 0 && WINDOW >= 64 && WINDOW < 0x8000,
               "a replay window libsrtp accepts, in whole 64-bit words");

/* SRTCP we send: per SSRC the last SRTCP index used (libsrtp's rdb window_start). */
struct rtcp_tx {
    EVP_CIPHER_CTX *ctx; /* keyed with the SRTCP session key */
    uint8_t salt[SESSION_SALT];
    uint32_t n, hint, tick;
    uint32_t floor; /* the highest index a forgotten stream had reached */
    uint32_t ssrc[TDM_SRTP_GCM_MAX_SSRC];
    uint32_t used[TDM_SRTP_GCM_MAX_SSRC];
    uint32_t last[TDM_SRTP_GCM_MAX_SSRC];
};

/* SRTCP we receive: per SSRC libsrtp's srtp_rdb_t, a window of RTCP_WINDOW indices from
 * start, index start + b accepted when bit b is set. */
struct rtcp_rx {
    EVP_CIPHER_CTX *ctx;
    uint8_t salt[SESSION_SALT];
    uint32_t n, hint, tick;
    uint32_t ssrc[TDM_SRTP_GCM_RX_MAX_SSRC];
    uint32_t used[TDM_SRTP_GCM_RX_MAX_SSRC];
    uint32_t start[TDM_SRTP_GCM_RX_MAX_SSRC];
    uint64_t bits[TDM_SRTP_GCM_RX_MAX_SSRC][RTCP_WINDOW / 64];
};

struct tdm_srtp_gcm {
    EVP_CIPHER_CTX *ctx; /* AES-128-GCM keyed with the session key, IV set per packet */
    uint8_t salt[SESSION_SALT];
    uint32_t n;    /* streams in use */
    uint32_t hint; /* the stream of the previous packet */
    uint32_t tick; /* counts packets: the recency of each stream */
    uint32_t ssrc[TDM_SRTP_GCM_MAX_SSRC];
    uint32_t used[TDM_SRTP_GCM_MAX_SSRC];
    /* Highest index sent per stream, ROC << 16 | SEQ (48 bits), as libsrtp's rdbx keeps it. */
    uint64_t index[TDM_SRTP_GCM_MAX_SSRC];
    struct rtcp_tx rtcp;
};

/* What one inbound stream remembers (libsrtp's srtp_rdbx_t): the highest index accepted and
 * which of the WINDOW indices up to it were accepted, index i at bit i % WINDOW (a ring, so
 * moving on clears the bits passed over instead of shifting the whole window). */
struct rx_stream {
    uint64_t index;
    uint64_t seen[WINDOW_WORDS];
};

struct tdm_srtp_gcm_rx {
    EVP_CIPHER_CTX *ctx; /* keyed for decryption with the peer's session key */
    uint8_t salt[SESSION_SALT];
    uint32_t n, hint, tick; /* as in struct tdm_srtp_gcm; tick counts accepted packets */
    uint32_t ssrc[TDM_SRTP_GCM_RX_MAX_SSRC];
    uint32_t used[TDM_SRTP_GCM_RX_MAX_SSRC];
    struct rx_stream st[TDM_SRTP_GCM_RX_MAX_SSRC];
    struct rtcp_rx rtcp;
};

/* The SRTP KDF with a key derivation rate of 0 (RFC 3711 4.3.1): AES-128 in counter mode
 * keyed with the master key, IV = (master salt XOR label << 48) * 2^16. The 96-bit GCM
 * master salt is extended with two zero octets to the 112 bits the KDF expects, as libsrtp
 * does (and so the browsers, which use libsrtp). */
static int kdf(const uint8_t *master, uint8_t label, uint8_t *out, size_t len)
{
    static const uint8_t zeros[32];
    uint8_t iv[16] = {0};
    int n = 0, rc = TDM_ECRYPTO;
    if (len > sizeof zeros)
        return TDM_EINVAL;
    memcpy(iv, master + MASTER_KEY, MASTER_SALT);
    iv[7] ^= label;
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    if (!c)
        return TDM_ENOMEM;
    if (EVP_EncryptInit_ex(c, EVP_aes_128_ctr(), NULL, master, iv) == 1 &&
        EVP_EncryptUpdate(c, out, &n, zeros, (int)len) == 1 && n == (int)len)
        rc = 0;
    EVP_CIPHER_CTX_free(c);
    return rc;
}

/* A cipher context keyed once with the session key of one label pair, for encryption
 * (enc 1) or decryption (enc 0), and the session salt. */
static int keyed(EVP_CIPHER_CTX **out, uint8_t *salt, const uint8_t *key_salt, uint8_t label_key,
                 uint8_t label_salt, int enc)
{
    uint8_t key[MASTER_KEY];
    int rc;
    if ((rc = kdf(key_salt, label_key, key, sizeof key)) != 0 ||
        (rc = kdf(key_salt, label_salt, salt, SESSION_SALT)) != 0)
        goto done;
    rc = TDM_ENOMEM;
    if (!(*out = EVP_CIPHER_CTX_new()))
        goto done;
    rc = TDM_ECRYPTO;
    if (EVP_CipherInit_ex(*out, EVP_aes_128_gcm(), NULL, NULL, NULL, enc) == 1 &&
        EVP_CIPHER_CTX_ctrl(*out, EVP_CTRL_AEAD_SET_IVLEN, GCM_IV, NULL) == 1 &&
        EVP_CipherInit_ex(*out, NULL, NULL, key, NULL, enc) == 1)
        rc = 0;
done:
    OPENSSL_cleanse(key, sizeof key);
    return rc;
}

int tdm_srtp_gcm_create(struct tdm_srtp_gcm **out, const uint8_t *key_salt)
{
    *out = NULL;
    struct tdm_srtp_gcm *g = calloc(1, sizeof *g);
    if (!g)
        return TDM_ENOMEM;
    int rc = keyed(&g->ctx, g->salt, key_salt, LABEL_RTP_KEY, LABEL_RTP_SALT, 1);
    if (rc == 0)
        rc = keyed(&g->rtcp.ctx, g->rtcp.salt, key_salt, LABEL_RTCP_KEY, LABEL_RTCP_SALT, 1);
    if (rc != 0) {
        tdm_srtp_gcm_destroy(g);
        return rc;
    }
    *out = g;
    return 0;
}

void tdm_srtp_gcm_destroy(struct tdm_srtp_gcm *g)
{
    if (!g)
        return;
    EVP_CIPHER_CTX_free(g->ctx); /* clears the key schedule */
    EVP_CIPHER_CTX_free(g->rtcp.ctx);
    OPENSSL_cleanse(g, sizeof *g);
    free(g);
}

int tdm_srtp_gcm_rx_create(struct tdm_srtp_gcm_rx **out, const uint8_t *key_salt)
{
    *out = NULL;
    struct tdm_srtp_gcm_rx *r = calloc(1, sizeof *r);
    if (!r)
        return TDM_ENOMEM;
    int rc = keyed(&r->ctx, r->salt, key_salt, LABEL_RTP_KEY, LABEL_RTP_SALT, 0);
    if (rc == 0)
        rc = keyed(&r->rtcp.ctx, r->rtcp.salt, key_salt, LABEL_RTCP_KEY, LABEL_RTCP_SALT, 0);
    if (rc != 0) {
        tdm_srtp_gcm_rx_destroy(r);
        return rc;
    }
    *out = r;
    return 0;
}

void tdm_srtp_gcm_rx_destroy(struct tdm_srtp_gcm_rx *r)
{
    if (!r)
        return;
    EVP_CIPHER_CTX_free(r->ctx);
    EVP_CIPHER_CTX_free(r->rtcp.ctx);
    OPENSSL_cleanse(r, sizeof *r);
    free(r);
}

/* Length of the header the tag covers and the cipher skips: fixed part, CSRCs, extension
 * (RFC 3550 5.3.1; RFC 7714 8.2). libsrtp's srtp_validate_rtp_header, same answers. */
static int header_len(const uint8_t *b, size_t len, size_t *out)
{
    size_t h = RTP_HEADER_MIN + 4u * (b[0] & 0x0fu);
    if (b[0] & 0x10u) {
        if (len < h + 4)
            return TDM_EINVAL;
        h += 4 + 4u * ((size_t)b[h + 2] << 8 | b[h + 3]);
    }
    if (len < h)
        return TDM_EINVAL;
    *out = h;
    return 0;
}

/* Where ssrc sits in a table of n, or n; the previous packet's stream is tried first. */
static uint32_t find(const uint32_t *ssrcs, uint32_t n, uint32_t hint, uint32_t ssrc)
{
    if (hint < n && ssrcs[hint] == ssrc)
        return hint;
    for (uint32_t i = 0; i < n; i++)
        if (ssrcs[i] == ssrc)
            return i;
    return n;
}

/* The slot for a new stream in a table of *n of max: the next free one, or when full the
 * least recently used. */
static uint32_t slot(uint32_t *n, uint32_t max, const uint32_t *used, uint32_t tick)
{
    if (*n < max)
        return (*n)++;
    uint32_t i = 0;
    for (uint32_t k = 1; k < max; k++)
        if (tick - used[k] > tick - used[i])
            i = k;
    return i;
}

/* The stream of ssrc, made on first sight (index 0, as libsrtp clones its template). */
static uint32_t stream_of(struct tdm_srtp_gcm *g, uint32_t ssrc)
{
    g->tick++;
    uint32_t i = find(g->ssrc, g->n, g->hint, ssrc);
    if (i == g->n) {
        i = slot(&g->n, TDM_SRTP_GCM_MAX_SSRC, g->used, g->tick);
        g->ssrc[i] = ssrc;
        g->index[i] = 0;
    }
    g->used[i] = g->tick;
    g->hint = i;
    return i;
}

/* The packet's index from the highest sent and its sequence number, and how far ahead of
 * the highest it is: libsrtp's srtp_rdbx_estimate_index / srtp_index_guess (RFC 3711
 * 3.3.1 and appendix A), so ROC+1 after a wrap and ROC-1 for a late packet from before it. */
static int32_t estimate(uint64_t local, uint16_t s, uint64_t *guess)
{
    if (local <= SEQ_MEDIAN) {
        *guess = s;
        return (int32_t)s - (int32_t)local;
    }
    uint32_t roc = (uint32_t)(local >> 16);
    int32_t seq = (int32_t)(uint16_t)local, d = (int32_t)s - seq;
    if (seq < SEQ_MEDIAN && d > SEQ_MEDIAN) {
        roc--;
        d -= SEQ_MAX;
    } else if (seq >= SEQ_MEDIAN && seq - SEQ_MEDIAN > (int32_t)s) {
        roc++;
        d += SEQ_MAX;
    }
    *guess = (uint64_t)roc << 16 | s;
    return d;
}

/* RFC 7714 8.1: the IV is 00 00 || SSRC || ROC || SEQ, XOR the session salt. */
static void rtp_iv(uint8_t *iv, const uint8_t *salt, const uint8_t *ssrc, uint64_t idx)
{
    iv[0] = iv[1] = 0;
    memcpy(iv + 2, ssrc, 4);
    iv[6] = (uint8_t)(idx >> 40), iv[7] = (uint8_t)(idx >> 32);
    iv[8] = (uint8_t)(idx >> 24), iv[9] = (uint8_t)(idx >> 16);
    iv[10] = (uint8_t)(idx >> 8), iv[11] = (uint8_t)idx;
    for (size_t k = 0; k < GCM_IV; k++)
        iv[k] ^= salt[k];
}

/* One AES-128-GCM operation in the direction c was keyed for: aad[0..alen) then
 * aad2[0..alen2) authenticated, data[0..dlen) en- or decrypted in place, and the 16-byte tag
 * at tag written (seal) or checked (open; OpenSSL compares in constant time). TDM_EAUTH when
 * the tag is wrong. */
static int gcm(EVP_CIPHER_CTX *c, const uint8_t *iv, const uint8_t *aad, size_t alen,
               const uint8_t *aad2, size_t alen2, uint8_t *data, size_t dlen, uint8_t *tag)
{
    int n = 0, fin = 0, enc = EVP_CIPHER_CTX_encrypting(c);
    if (EVP_CipherInit_ex(c, NULL, NULL, NULL, iv, -1) != 1 ||
        EVP_CipherUpdate(c, NULL, &n, aad, (int)alen) != 1 ||
        (alen2 > 0 && EVP_CipherUpdate(c, NULL, &n, aad2, (int)alen2) != 1))
        return TDM_ECRYPTO;
    if (dlen > 0 && (EVP_CipherUpdate(c, data, &n, data, (int)dlen) != 1 || n != (int)dlen))
        return TDM_ECRYPTO;
    if (!enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, TDM_SRTP_GCM_TAG, tag) != 1)
        return TDM_ECRYPTO;
    if (EVP_CipherFinal_ex(c, data + dlen, &fin) != 1 || fin != 0)
        return enc ? TDM_ECRYPTO : TDM_EAUTH;
    if (enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, TDM_SRTP_GCM_TAG, tag) != 1)
        return TDM_ECRYPTO;
    return 0;
}

static uint32_t rtp_ssrc(const uint8_t *b)
{
    return (uint32_t)b[8] << 24 | (uint32_t)b[9] << 16 | (uint32_t)b[10] << 8 | b[11];
}

int tdm_srtp_gcm_protect(struct tdm_srtp_gcm *g, uint8_t *buf, size_t len)
{
    size_t hlen;
    uint8_t iv[GCM_IV];
    if (header_len(buf, len, &hlen) != 0)
        return TDM_EINVAL;
    uint32_t i = stream_of(g, rtp_ssrc(buf));
    uint64_t idx;
    int32_t delta = estimate(g->index[i], (uint16_t)(buf[2] << 8 | buf[3]), &idx);
    /* Outbound allows a repeated index (a resend) but, like libsrtp's replay check, not one
     * older than the window. */
    if (delta > 0)
        g->index[i] += (uint64_t)delta;
    else if (delta < -(WINDOW - 1))
        return TDM_EEXIST;
    rtp_iv(iv, g->salt, buf + 8, idx);
    int rc = gcm(g->ctx, iv, buf, hlen, NULL, 0, buf + hlen, len - hlen, buf + len);
    return rc != 0 ? rc : (int)(len + TDM_SRTP_GCM_TAG);
}

/* ---- inbound ------------------------------------------------------------------------- */

static bool win_has(const struct rx_stream *s, uint64_t idx)
{
    uint32_t b = (uint32_t)(idx % WINDOW);
    return (s->seen[b / 64] >> (b % 64)) & 1u;
}

/* libsrtp's srtp_rdbx_check (RFC 3711 3.3.2): ahead of the highest is new; at or behind it,
 * new only when inside the window and not accepted before. */
static bool replayed(const struct rx_stream *s, int32_t delta, uint64_t idx)
{
    if (delta > 0)
        return false;
    return delta <= -WINDOW || win_has(s, idx);
}

/* libsrtp's srtp_rdbx_add_index, once the tag verified: moving the highest index on by
 * delta clears the bits of the indices passed over (they held those WINDOW before). */
static void win_add(struct rx_stream *s, int32_t delta, uint64_t idx)
{
    if (delta > 0) {
        if (delta >= WINDOW) {
            memset(s->seen, 0, sizeof s->seen);
        } else {
            uint32_t b = (uint32_t)((s->index + 1) % WINDOW), left = (uint32_t)delta;
            while (left > 0) {
                uint32_t off = b % 64, k = 64 - off < left ? 64 - off : left;
                uint64_t mask = k == 64 ? ~(uint64_t)0 : (((uint64_t)1 << k) - 1) << off;
                s->seen[b / 64] &= ~mask;
                left -= k;
                b = (b + k) % WINDOW;
            }
        }
        s->index = idx;
    }
    uint32_t b = (uint32_t)(idx % WINDOW);
    s->seen[b / 64] |= (uint64_t)1 << (b % 64);
}

int tdm_srtp_gcm_unprotect(struct tdm_srtp_gcm_rx *r, uint8_t *buf, size_t len)
{
    size_t hlen;
    uint8_t iv[GCM_IV];
    if (header_len(buf, len, &hlen) != 0)
        return TDM_EINVAL;
    uint32_t ssrc = rtp_ssrc(buf);
    uint16_t seq = (uint16_t)(buf[2] << 8 | buf[3]);
    uint32_t i = find(r->ssrc, r->n, r->hint, ssrc);
    /* A new SSRC is taken at ROC 0 and gets a stream only once its tag verified (libsrtp's
     * provisional stream: its template, no replay check). */
    uint64_t idx = seq;
    int32_t delta = seq;
    if (i < r->n) {
        delta = estimate(r->st[i].index, seq, &idx);
        if (replayed(&r->st[i], delta, idx))
            return TDM_EEXIST;
    }
    /* Room for the tag after the header is checked after the replay check, as libsrtp. */
    if (len - hlen < TDM_SRTP_GCM_TAG)
        return TDM_EINVAL;
    size_t end = len - TDM_SRTP_GCM_TAG;
    rtp_iv(iv, r->salt, buf + 8, idx);
    int rc = gcm(r->ctx, iv, buf, hlen, NULL, 0, buf + hlen, end - hlen, buf + end);
    if (rc != 0)
        return rc;
    r->tick++;
    if (i == r->n) {
        i = slot(&r->n, TDM_SRTP_GCM_RX_MAX_SSRC, r->used, r->tick);
        r->ssrc[i] = ssrc;
        memset(&r->st[i], 0, sizeof r->st[i]);
    }
    r->used[i] = r->tick;
    r->hint = i;
    win_add(&r->st[i], delta, idx);
    return (int)end;
}

/* ---- SRTCP (RFC 7714 9, RFC 3711 3.4) ------------------------------------------------- */

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* RFC 7714 9.1: the IV is 00 00 || SSRC || 00 00 || 0 || SRTCP index (31 bits), XOR salt. */
static void rtcp_iv(uint8_t *iv, const uint8_t *salt, const uint8_t *ssrc, uint32_t index)
{
    iv[0] = iv[1] = iv[6] = iv[7] = 0;
    memcpy(iv + 2, ssrc, 4);
    iv[8] = (uint8_t)(index >> 24), iv[9] = (uint8_t)(index >> 16);
    iv[10] = (uint8_t)(index >> 8), iv[11] = (uint8_t)index;
    for (size_t k = 0; k < GCM_IV; k++)
        iv[k] ^= salt[k];
}

/* The SRTCP stream of ssrc, made on first sight. A made or re-made stream counts on from the
 * highest index any forgotten stream had reached (0 until the table first fills, as
 * libsrtp): an SSRC forgotten and seen again never repeats an index, so never an IV. */
static uint32_t rtcp_stream_of(struct rtcp_tx *t, uint32_t ssrc)
{
    t->tick++;
    uint32_t i = find(t->ssrc, t->n, t->hint, ssrc);
    if (i == t->n) {
        i = slot(&t->n, TDM_SRTP_GCM_MAX_SSRC, t->used, t->tick);
        if (t->last[i] > t->floor) /* a stream forgotten (a free slot holds 0) */
            t->floor = t->last[i];
        t->ssrc[i] = ssrc;
        t->last[i] = t->floor;
    }
    t->used[i] = t->tick;
    t->hint = i;
    return i;
}

int tdm_srtp_gcm_protect_rtcp(struct tdm_srtp_gcm *g, uint8_t *buf, size_t len)
{
    struct rtcp_tx *t = &g->rtcp;
    uint8_t iv[GCM_IV], *tag = buf + len, *trailer = tag + TDM_SRTP_GCM_TAG;
    uint32_t i = rtcp_stream_of(t, be32(buf + 4));
    /* libsrtp's srtp_rdb_increment: the index is 31 bits and never wraps under one key. */
    if (t->last[i] >= SRTCP_INDEX_MAX)
        return TDM_ECRYPTO;
    uint32_t index = ++t->last[i];
    trailer[0] = (uint8_t)(0x80 | index >> 24), trailer[1] = (uint8_t)(index >> 16);
    trailer[2] = (uint8_t)(index >> 8), trailer[3] = (uint8_t)index;
    rtcp_iv(iv, t->salt, buf + 4, index);
    /* RFC 7714 9.2: AAD = the first 8 octets, then E || SRTCP index; the rest encrypted. */
    int rc = gcm(t->ctx, iv, buf, RTCP_HEADER, trailer, SRTCP_TRAILER, buf + RTCP_HEADER,
                 len - RTCP_HEADER, tag);
    return rc != 0 ? rc : (int)(len + TDM_SRTP_GCM_TAG + SRTCP_TRAILER);
}

/* libsrtp's srtp_rdb_check: a 128-index window starting at start[i]. */
static bool rtcp_replayed(const struct rtcp_rx *x, uint32_t i, uint32_t index)
{
    uint32_t start = x->start[i];
    if (index >= start + RTCP_WINDOW)
        return false;
    if (index < start)
        return true;
    uint32_t b = index - start;
    return (x->bits[i][b / 64] >> (b % 64)) & 1u;
}

/* libsrtp's srtp_rdb_add_index: past the window's end, the window moves on so that index
 * is its last. */
static void rtcp_add(struct rtcp_rx *x, uint32_t i, uint32_t index)
{
    uint32_t b = index - x->start[i];
    uint64_t *w = x->bits[i];
    if (b >= RTCP_WINDOW) {
        uint32_t d = b - (RTCP_WINDOW - 1);
        if (d >= 128) {
            w[0] = w[1] = 0;
        } else if (d >= 64) {
            w[0] = w[1] >> (d - 64), w[1] = 0;
        } else {
            w[0] = w[0] >> d | w[1] << (64 - d), w[1] >>= d;
        }
        x->start[i] += d;
        b = RTCP_WINDOW - 1;
    }
    w[b / 64] |= (uint64_t)1 << (b % 64);
}

int tdm_srtp_gcm_unprotect_rtcp(struct tdm_srtp_gcm_rx *r, uint8_t *buf, size_t len)
{
    struct rtcp_rx *x = &r->rtcp;
    uint8_t iv[GCM_IV];
    if (len < RTCP_HEADER + TDM_SRTP_GCM_TAG + SRTCP_TRAILER)
        return TDM_EINVAL;
    uint32_t ssrc = be32(buf + 4);
    const uint8_t *trailer = buf + len - SRTCP_TRAILER;
    uint8_t *tag = buf + len - SRTCP_TRAILER - TDM_SRTP_GCM_TAG;
    uint32_t index = be32(trailer) & SRTCP_INDEX_MAX;
    uint32_t i = find(x->ssrc, x->n, x->hint, ssrc);
    if (i < x->n && rtcp_replayed(x, i, index))
        return TDM_EEXIST;
    rtcp_iv(iv, x->salt, buf + 4, index);
    /* With the E bit clear (RFC 7714 9.3) nothing is encrypted and the whole packet is AAD. */
    size_t plain = (size_t)(tag - buf);
    int rc = trailer[0] & 0x80 ? gcm(x->ctx, iv, buf, RTCP_HEADER, trailer, SRTCP_TRAILER,
                                     buf + RTCP_HEADER, plain - RTCP_HEADER, tag)
                               : gcm(x->ctx, iv, buf, plain, trailer, SRTCP_TRAILER, tag, 0, tag);
    if (rc != 0)
        return rc;
    x->tick++;
    if (i == x->n) {
        i = slot(&x->n, TDM_SRTP_GCM_RX_MAX_SSRC, x->used, x->tick);
        x->ssrc[i] = ssrc;
        x->start[i] = 0;
        x->bits[i][0] = x->bits[i][1] = 0;
    }
    x->used[i] = x->tick;
    x->hint = i;
    rtcp_add(x, i, index);
    return (int)plain;
}
