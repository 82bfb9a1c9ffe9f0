/* libFuzzer target: the STUN parser, the MESSAGE-INTEGRITY and FINGERPRINT checks, and the
 * builders fed from what was parsed. Invariants: every offset stays inside the message,
 * and anything the builders write parses back. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tandem/err.h"
#include "tandem/stun.h"

static const char key[] = "VOkJxbRl1RmTxUk/WvJxBt"; /* RFC 5769's, so the seeds verify */

/* An invariant that failed names its line, then aborts so libFuzzer keeps the input. */
#define check(cond) ((cond) ? (void)0 : fail_at(__LINE__, #cond))

static void fail_at(int line, const char *what)
{
    fprintf(stderr, "invariant failed at line %d: %s\n", line, what);
    abort();
}

static void rebuild(const struct tdm_stun_msg *m, size_t cap)
{
    uint8_t out[256];
    struct tdm_addr a;
    if (m->has_xor_mapped)
        a = m->xor_mapped;
    else
        tdm_addr_set_v4(&a, 0xC0000201u, 32853);
    struct tdm_stun_msg back;
    int n = tdm_stun_build_binding_success(out, cap, m->tid, &a, key, sizeof key - 1);
    check(n == TDM_ETOOBIG || (n > 0 && (size_t)n <= cap));
    if (n > 0) {
        check(tdm_stun_parse(&back, out, (size_t)n, NULL, 0) == 0);
        check(tdm_addr_equal(&back.xor_mapped, &a));
        check(tdm_stun_check_integrity(&back, key, sizeof key - 1) == 0);
        check(tdm_stun_check_fingerprint(&back) == 0);
    }
    n = tdm_stun_build_error(out, cap, m->tid, TDM_STUN_ERR_UNKNOWN_ATTRIBUTE, m->unknown,
                             m->n_unknown < TDM_STUN_MAX_UNKNOWN ? m->n_unknown
                                                                 : TDM_STUN_MAX_UNKNOWN,
                             key, sizeof key - 1);
    check(n == TDM_ETOOBIG || (n > 0 && (size_t)n <= cap));
    if (n > 0) {
        check(tdm_stun_parse(&back, out, (size_t)n, NULL, 0) == 0);
        check(back.error_code == 420);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A private copy of exactly `size` bytes, so ASan catches any read past the end. */
    uint8_t *p = malloc(size ? size : 1);
    if (!p)
        return 0;
    memcpy(p, data, size);
    struct tdm_stun_msg m;
    char err[128];
    int r = tdm_stun_parse(&m, p, size, err, sizeof err);
    check(r == 0 || r == TDM_EINVAL || r == TDM_ETRUNC);
    if (r == 0 || m.framed) {
        check(m.len == size);
        check(!m.mi_off || m.mi_off + 24 <= m.len);
        check(!m.fp_off || m.fp_off + 8 == m.len);
        check(!m.has_username || m.username_off + m.username_len <= m.len);
        check(m.username_len <= TDM_STUN_MAX_USERNAME);
        check(!m.error_code || m.reason_off + m.reason_len <= m.len);
        int mi = tdm_stun_check_integrity(&m, key, sizeof key - 1);
        check(mi == 0 || mi == TDM_EAUTH || mi == TDM_ENOTFOUND);
        int fp = tdm_stun_check_fingerprint(&m);
        check(fp == 0 || fp == TDM_EAUTH || fp == TDM_ENOTFOUND);
        size_t ulen;
        const char *u = tdm_stun_username(&m, &ulen);
        check((u != NULL) == m.has_username);
        rebuild(&m, size % 160);
    }
    free(p);
    return 0;
}
