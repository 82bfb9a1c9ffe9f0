/* A core for unit tests: one local address, deterministic randomness, a DTLS identity. */
#ifndef TANDEM_TEST_SFU_UTIL_H
#define TANDEM_TEST_SFU_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tandem/cert.h"
#include "tandem/sfu.h"
#include "tandem/srtp.h"

struct test_core {
    struct tdm_sfu *sfu;
    struct tdm_cert *cert;
    SSL_CTX *ctx;
    uint64_t rng;
};

static inline uint32_t test_rand(void *ctx)
{
    struct test_core *t = ctx;
    t->rng = t->rng * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(t->rng >> 33);
}

static inline int test_core_make(struct test_core *t)
{
    memset(t, 0, sizeof *t);
    t->rng = 1;
    struct tdm_fingerprint fp;
    if (tdm_srtp_global_init() != 0 || tdm_cert_create(&t->cert, 1700000000000000) != 0 ||
        tdm_cert_ssl_ctx_new(t->cert, NULL, &t->ctx) != 0)
        return -1;
    tdm_cert_fingerprint(t->cert, &fp);
    struct tdm_sfu_config c = {.ssl_ctx = t->ctx,
                               .n_socks = 1,
                               .ice_udp = true,
                               .max_sessions = 64,
                               .max_pending = 16,
                               .ice_timeout_us = 10000000,
                               .consent_timeout_us = 30000000,
                               .dtls_timeout_us = 10000000,
                               .rand32 = test_rand,
                               .rand_ctx = t};
    memcpy(c.fingerprint, fp.digest, sizeof c.fingerprint);
    tdm_addr_set_v4(&c.socks[0], 0x0a000001, 10000);
    return tdm_sfu_create(&c, &t->sfu);
}

static inline void test_core_free(struct test_core *t)
{
    tdm_sfu_destroy(t->sfu);
    if (t->ctx)
        SSL_CTX_free(t->ctx);
    tdm_cert_destroy(t->cert);
}

/* A file of tests/data/sdp as text (the caller frees it). */
static inline char *sdp_file(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/sdp/%s", TANDEM_TEST_DATA, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = calloc(1, 65537);
    size_t n = buf ? fread(buf, 1, 65536, f) : 0;
    fclose(f);
    if (buf)
        buf[n] = 0;
    return buf;
}

/* How many times needle occurs in text. */
static inline int count(const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

/* The next event, which must be of kind k for pid (the caller frees it). Needs cmocka.h
 * included first. */
static inline struct tdm_sfu_event *expect(struct tdm_sfu *s, enum tdm_sfu_event_kind k,
                                           const char *pid)
{
    struct tdm_sfu_event *e = tdm_sfu_poll_event(s);
    assert_non_null(e);
    assert_int_equal(e->kind, k);
    assert_string_equal(e->pid, pid);
    return e;
}

#endif
