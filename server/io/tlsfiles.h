/* The HTTPS certificate and key files: checked (tandem --check-config) and loaded again into
 * the running server's TLS context on SIGHUP (a certbot renewal), without a restart. */
#ifndef TANDEM_IO_TLSFILES_H
#define TANDEM_IO_TLSFILES_H

#include <openssl/ssl.h>
#include <stddef.h>
#include <stdint.h>

/* Reads cert (a PEM chain: the leaf first) and key (PEM), and checks that they belong
 * together. On success returns 0 and, when not_after is not NULL, the leaf's expiry (seconds
 * since the epoch). Otherwise TDM_EIO or TDM_EINVAL with err naming the file and the fault. */
int tdm_tlsfiles_check(const char *cert, const char *key, int64_t *not_after, char *err,
                       size_t errlen);

/* Installs cert and key into ctx (the HTTPS vhost's SSL_CTX) when both read and match;
 * otherwise ctx is left as it was. Connections already open keep the certificate they were
 * set up with (OpenSSL copies it into each SSL); new ones get the new one. Returns 0 (and
 * the expiry as above) or a TDM_E* code with err. Control thread. */
int tdm_tlsfiles_install(SSL_CTX *ctx, const char *cert, const char *key, int64_t *not_after,
                         char *err, size_t errlen);

#endif
