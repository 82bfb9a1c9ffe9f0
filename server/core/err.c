#include "tandem/err.h"

#include <stdarg.h>
#include <stdio.h>

const char *tdm_strerror(int err)
{
    switch (err) {
    case TDM_OK: return "success";
    case TDM_EINVAL: return "invalid input";
    case TDM_ENOMEM: return "out of memory";
    case TDM_ETRUNC: return "truncated input";
    case TDM_ETOOBIG: return "too big";
    case TDM_ENOTFOUND: return "not found";
    case TDM_EEXIST: return "already exists";
    case TDM_EFULL: return "capacity reached";
    case TDM_EAUTH: return "authentication failed";
    case TDM_EUNSUPP: return "not supported";
    case TDM_ESTATE: return "not allowed in this state";
    case TDM_EAGAIN: return "try again";
    case TDM_ECRYPTO: return "crypto failure";
    case TDM_EIO: return "system call failed";
    case TDM_EPERM: return "not permitted";
    case TDM_ELIMIT: return "server limit reached";
    default: return "unknown error";
    }
}

int tdm_seterr(char *err, size_t errlen, int code, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return code;
}
