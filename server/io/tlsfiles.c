/* Certificate files: read into memory once, parsed from there, so that the pair checked is
 * the pair installed even while certbot is replacing the files. */
#include "tlsfiles.h"

#include "tandem/err.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define PEM_MAX (1024 * 1024) /* a chain of a few certificates is a few KiB */
#define CHAIN_MAX 10

struct pair {
    X509 *leaf;
    STACK_OF(X509) * chain;
    EVP_PKEY *pkey;
};

static void pair_free(struct pair *p)
{
    X509_free(p->leaf);
    sk_X509_pop_free(p->chain, X509_free);
    EVP_PKEY_free(p->pkey);
    memset(p, 0, sizeof *p);
}

/* The whole file in a secure-heap memory BIO (cleared when freed: it may hold a private
 * key), or NULL and err. */
static BIO *read_file(const char *what, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        tdm_seterr(err, errlen, TDM_EIO, "%s %s cannot be read: %s", what, path, strerror(errno));
        return NULL;
    }
    BIO *b = BIO_new(BIO_s_secmem());
    char buf[4096];
    size_t n, total = 0;
    bool bad = !b;
    while (!bad && (n = fread(buf, 1, sizeof buf, f)) > 0) {
        total += n;
        bad = total > PEM_MAX || BIO_write(b, buf, (int)n) != (int)n;
    }
    bad = bad || ferror(f) || total == 0;
    OPENSSL_cleanse(buf, sizeof buf);
    fclose(f);
    if (bad) {
        BIO_free(b);
        tdm_seterr(err, errlen, TDM_EINVAL, "%s %s: %s", what, path,
                   total == 0 ? "empty or unreadable" : "unreadable or larger than 1 MiB");
        return NULL;
    }
    return b;
}

static int load_pair(const char *cert, const char *key, struct pair *p, char *err, size_t errlen)
{
    memset(p, 0, sizeof *p);
    BIO *cb = read_file("TLS certificate", cert, err, errlen);
    if (!cb)
        return TDM_EIO;
    p->leaf = PEM_read_bio_X509(cb, NULL, NULL, NULL);
    p->chain = sk_X509_new_null();
    X509 *x;
    while (p->leaf && p->chain && (x = PEM_read_bio_X509(cb, NULL, NULL, NULL))) {
        if (sk_X509_num(p->chain) >= CHAIN_MAX || !sk_X509_push(p->chain, x)) {
            X509_free(x);
            break;
        }
    }
    BIO_free(cb);
    ERR_clear_error(); /* the end of the chain is a "no start line" error */
    if (!p->leaf || !p->chain) {
        pair_free(p);
        return tdm_seterr(err, errlen, TDM_EINVAL,
                          "TLS certificate %s: no PEM certificate in it (expected "
                          "\"-----BEGIN CERTIFICATE-----\", e.g. certbot's fullchain.pem)",
                          cert);
    }
    BIO *kb = read_file("TLS key", key, err, errlen);
    if (!kb) {
        pair_free(p);
        return TDM_EIO;
    }
    p->pkey = PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL);
    BIO_free(kb);
    ERR_clear_error();
    if (!p->pkey) {
        pair_free(p);
        return tdm_seterr(err, errlen, TDM_EINVAL,
                          "TLS key %s: no unencrypted PEM private key in it (e.g. certbot's "
                          "privkey.pem)",
                          key);
    }
    if (X509_check_private_key(p->leaf, p->pkey) != 1) {
        ERR_clear_error();
        pair_free(p);
        return tdm_seterr(err, errlen, TDM_EINVAL,
                          "TLS key %s does not belong to the certificate %s (the first "
                          "certificate in the file)",
                          key, cert);
    }
    return 0;
}

static int64_t expiry(const X509 *leaf)
{
    struct tm tm;
    if (ASN1_TIME_to_tm(X509_get0_notAfter(leaf), &tm) != 1)
        return 0;
    return (int64_t)timegm(&tm);
}

int tdm_tlsfiles_check(const char *cert, const char *key, int64_t *not_after, char *err,
                       size_t errlen)
{
    struct pair p;
    int rc = load_pair(cert, key, &p, err, errlen);
    if (rc)
        return rc;
    if (not_after)
        *not_after = expiry(p.leaf);
    pair_free(&p);
    return 0;
}

int tdm_tlsfiles_install(SSL_CTX *ctx, const char *cert, const char *key, int64_t *not_after,
                         char *err, size_t errlen)
{
    struct pair p;
    int rc = load_pair(cert, key, &p, err, errlen);
    if (rc)
        return rc;
    /* A key of another type (RSA, ECDSA) would sit beside the old certificate, not replace
     * it: OpenSSL keeps one per type and may keep serving the old one. */
    X509 *cur = SSL_CTX_get0_certificate(ctx);
    EVP_PKEY *cur_key = cur ? X509_get0_pubkey(cur) : NULL;
    if (cur_key && EVP_PKEY_get_base_id(cur_key) != EVP_PKEY_get_base_id(p.pkey)) {
        pair_free(&p);
        return tdm_seterr(err, errlen, TDM_EUNSUPP,
                          "TLS key %s is of another type (RSA or ECDSA) than the one in use: "
                          "restart tandem to switch",
                          key);
    }
    /* Certificate, key and chain in one call, replacing what the slot of this key type
     * held: no moment where the context has a certificate without its key. */
    if (SSL_CTX_use_cert_and_key(ctx, p.leaf, p.pkey, p.chain, 1) != 1) {
        ERR_clear_error();
        pair_free(&p);
        return tdm_seterr(err, errlen, TDM_ECRYPTO,
                          "TLS certificate %s: OpenSSL refused it (key too weak?)", cert);
    }
    if (not_after)
        *not_after = expiry(p.leaf);
    pair_free(&p);
    return 0;
}
