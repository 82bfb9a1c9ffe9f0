/* libFuzzer target: the first bytes a client sends to the HTTPS port
 * (tdm_tlshello_check, which the connection gate reads with MSG_PEEK).
 *
 * Invariants: only 0, a positive count or TDM_EINVAL; a count is more than the bytes given
 * and at most a whole record (5 + 2^14); 0 only for a handshake record holding a
 * ClientHello, with at least its whole length given; for a complete input, every prefix
 * shorter than the record asks for exactly the record's length (or, under 5 bytes, for the
 * header) and every longer one is complete; a prefix found invalid stays invalid. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "tandem/err.h"
#include "tandem/tlshello.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define check(cond) ((cond) ? (void)0 : fail_at(__LINE__, #cond))

static void fail_at(int line, const char *what)
{
    fprintf(stderr, "invariant failed at line %d: %s\n", line, what);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > TDM_TLSHELLO_MAX + 16)
        return 0;
    int r = tdm_tlshello_check(data, size);
    check(r == 0 || r == TDM_EINVAL || (r > 0 && (size_t)r > size && r <= TDM_TLSHELLO_MAX));
    if (r == 0) {
        check(size >= 6 && data[0] == 22 && data[1] == 3 && data[5] == 1);
        check(size >= 5 + ((size_t)data[3] << 8 | data[4]));
    }
    size_t whole = size >= 5 ? 5 + ((size_t)data[3] << 8 | data[4]) : 0;
    for (size_t n = 0; n < size && n < 64; n++) {
        int p = tdm_tlshello_check(data, n);
        if (r == 0)
            check(n < 5 ? p == 5 : n < whole ? p == (int)whole : p == 0);
        if (p == TDM_EINVAL)
            check(r == TDM_EINVAL);
    }
    return 0;
}
