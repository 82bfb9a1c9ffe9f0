/* Tandem's one error convention: functions return 0 (or a count) on success and a
 * negative TDM_E* code on failure; tdm_strerror() names the code. Parsers also fill a
 * caller's (char *err, size_t errlen) with what was wrong and where. */
#ifndef TANDEM_ERR_H
#define TANDEM_ERR_H

#include <stddef.h>

enum tdm_err {
    TDM_OK = 0,
    TDM_EINVAL = -1,    /* malformed or out-of-range input */
    TDM_ENOMEM = -2,    /* allocation failed */
    TDM_ETRUNC = -3,    /* input shorter than its own headers say */
    TDM_ETOOBIG = -4,   /* input or output over a configured bound */
    TDM_ENOTFOUND = -5, /* no such object */
    TDM_EEXIST = -6,    /* object already there */
    TDM_EFULL = -7,     /* a capacity limit was reached */
    TDM_EAUTH = -8,     /* integrity or authentication check failed */
    TDM_EUNSUPP = -9,   /* valid but not supported */
    TDM_ESTATE = -10,   /* not allowed in the current state */
    TDM_EAGAIN = -11,   /* try again later (nothing ready, rate-limited) */
    TDM_ECRYPTO = -12,  /* OpenSSL or libsrtp failed */
    TDM_EIO = -13,      /* a system call failed */
    TDM_EPERM = -14,    /* the caller's role does not allow this */
    TDM_ELIMIT = -15,   /* a server-wide limit was reached */
};

/* Static string naming a TDM_E* code ("invalid input", ...). Never NULL. */
const char *tdm_strerror(int err);

/* Write a message into err/errlen (both may be NULL/0), printf-style. Returns code. */
int tdm_seterr(char *err, size_t errlen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
