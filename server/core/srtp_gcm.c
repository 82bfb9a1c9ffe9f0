/* Outbound SRTP AEAD_AES_128_GCM (RFC 7714) on OpenSSL EVP; why not libsrtp: srtp_gcm.h. */
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

/* RFC 3711 4.3.3 labels */
#define LABEL_RTP_KEY 0x00
#define LABEL_RTP_SALT 0x02

_Static_assert(MASTER_KEY + MASTER_SALT == TDM_SRTP_GCM_KEY_SALT_LEN, "GCM key+salt");
_Static_assert(TDM_SRTP_GCM_TAG <= TDM_SRTP_MAX_TRAILER, "the caller's room covers the tag");

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

int tdm_srtp_gcm_create(struct tdm_srtp_gcm **out, const uint8_t *key_salt)
{
    uint8_t key[MASTER_KEY];
    int rc;
    *out = NULL;
    struct tdm_srtp_gcm *g = calloc(1, sizeof *g);
    if (!g)
        return TDM_ENOMEM;
    if ((rc = kdf(key_salt, LABEL_RTP_KEY, key, sizeof key)) != 0 ||
        (rc = kdf(key_salt, LABEL_RTP_SALT, g->salt, sizeof g->salt)) != 0)
        goto fail;
    rc = TDM_ENOMEM;
    if (!(g->ctx = EVP_CIPHER_CTX_new()))
        goto fail;
    rc = TDM_ECRYPTO;
    if (EVP_EncryptInit_ex(g->ctx, EVP_aes_128_gcm(), NULL, key, NULL) != 1 ||
        EVP_CIPHER_CTX_ctrl(g->ctx, EVP_CTRL_AEAD_SET_IVLEN, GCM_IV, NULL) != 1)
        goto fail;
    OPENSSL_cleanse(key, sizeof key);
    *out = g;
    return 0;
fail:
    OPENSSL_cleanse(key, sizeof key);
    tdm_srtp_gcm_destroy(g);
    return rc;
}

void tdm_srtp_gcm_destroy(struct tdm_srtp_gcm *g)
{
    if (!g)
        return;
    EVP_CIPHER_CTX_free(g->ctx); /* clears the key schedule */
    OPENSSL_cleanse(g, sizeof *g);
    free(g);
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

/* The stream of ssrc, made on first sight (index 0, as libsrtp clones its template); when
 * the table is full the least recently used stream is replaced. */
static uint32_t stream_of(struct tdm_srtp_gcm *g, uint32_t ssrc)
{
    uint32_t i = g->hint;
    g->tick++;
    if (i < g->n && g->ssrc[i] == ssrc)
        goto found;
    for (i = 0; i < g->n; i++)
        if (g->ssrc[i] == ssrc)
            goto found;
    if (g->n < TDM_SRTP_GCM_MAX_SSRC) {
        i = g->n++;
    } else {
        i = 0;
        for (uint32_t k = 1; k < g->n; k++)
            if (g->tick - g->used[k] > g->tick - g->used[i])
                i = k;
    }
    g->ssrc[i] = ssrc;
    g->index[i] = 0;
found:
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

/* AES-128-GCM over the payload with the header as AAD, the tag appended (RFC 7714 8). */
static int seal(struct tdm_srtp_gcm *g, uint8_t *buf, size_t hlen, size_t len, uint64_t idx)
{
    uint8_t iv[GCM_IV] = {0}; /* RFC 7714 8.1: 00 00 || SSRC || ROC || SEQ, XOR salt */
    memcpy(iv + 2, buf + 8, 4);
    iv[6] = (uint8_t)(idx >> 40), iv[7] = (uint8_t)(idx >> 32);
    iv[8] = (uint8_t)(idx >> 24), iv[9] = (uint8_t)(idx >> 16);
    iv[10] = (uint8_t)(idx >> 8), iv[11] = (uint8_t)idx;
    for (size_t k = 0; k < GCM_IV; k++)
        iv[k] ^= g->salt[k];
    int n = 0, fin = 0;
    uint8_t *p = buf + hlen;
    size_t plen = len - hlen;
    if (EVP_EncryptInit_ex(g->ctx, NULL, NULL, NULL, iv) != 1 ||
        EVP_EncryptUpdate(g->ctx, NULL, &n, buf, (int)hlen) != 1)
        return TDM_ECRYPTO;
    if (plen > 0 && (EVP_EncryptUpdate(g->ctx, p, &n, p, (int)plen) != 1 || n != (int)plen))
        return TDM_ECRYPTO;
    if (EVP_EncryptFinal_ex(g->ctx, p + plen, &fin) != 1 || fin != 0 ||
        EVP_CIPHER_CTX_ctrl(g->ctx, EVP_CTRL_AEAD_GET_TAG, TDM_SRTP_GCM_TAG, p + plen) != 1)
        return TDM_ECRYPTO;
    return 0;
}

int tdm_srtp_gcm_protect(struct tdm_srtp_gcm *g, uint8_t *buf, size_t len)
{
    size_t hlen;
    if (header_len(buf, len, &hlen) != 0)
        return TDM_EINVAL;
    uint32_t ssrc =
        (uint32_t)buf[8] << 24 | (uint32_t)buf[9] << 16 | (uint32_t)buf[10] << 8 | buf[11];
    uint32_t i = stream_of(g, ssrc);
    uint64_t idx;
    int32_t delta = estimate(g->index[i], (uint16_t)(buf[2] << 8 | buf[3]), &idx);
    /* Outbound allows a repeated index (a resend) but, like libsrtp's replay check, not one
     * older than the window. */
    if (delta > 0)
        g->index[i] += (uint64_t)delta;
    else if (delta < -(TDM_SRTP_REPLAY_WINDOW - 1))
        return TDM_EEXIST;
    int rc = seal(g, buf, hlen, len, idx);
    return rc != 0 ? rc : (int)(len + TDM_SRTP_GCM_TAG);
}
