/* libFuzzer target: request paths (tdm_webpath_route) and Range headers (tdm_webpath_range).
 *
 * Input: a path when it starts with '/', else a Range value: "SIZE\nVALUE" (SIZE in decimal,
 * the file's length) or just VALUE (tried against several sizes). Inputs are exact-size
 * copies without a NUL, so ASan sees any read past the end.
 *
 * Route invariants: only the four routes; for FILE and ROOM, rel is NUL-terminated inside
 * its buffer, never starts with '/' or '.', has no empty segment and no segment starting
 * with '.' (so no "." or ".." component: no traversal), only [A-Za-z0-9._-/], and a MIME
 * type; ROOM is exactly /r/<valid room id> with rel "room.html"; FILE's rel is the path
 * without its '/' (or index.html for "/"), and routing "/" + rel again gives the same; a
 * buffer one byte too small refuses instead of truncating.
 * Range invariants: only 0, TDM_EUNSUPP, TDM_EINVAL; when accepted first <= last < size; and
 * the result equals a reference reading of RFC 9110 §14.1.2 written here independently. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tandem/err.h"
#include "tandem/room.h"
#include "tandem/webpath.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define check(cond) ((cond) ? (void)0 : fail_at(__LINE__, #cond))

static void fail_at(int line, const char *what)
{
    fprintf(stderr, "invariant failed at line %d: %s\n", line, what);
    abort();
}

static bool path_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == '_' || c == '/';
}

static void check_rel(const char *rel)
{
    size_t n = strlen(rel);
    check(n > 0 && rel[0] != '/' && rel[0] != '.');
    check(rel[n - 1] != '/');
    for (size_t i = 0; i < n; i++) {
        check(path_char(rel[i]));
        if (rel[i] == '/')
            check(rel[i + 1] != '/' && rel[i + 1] != '.'); /* no empty or dot segment */
    }
    check(tdm_webpath_mime(rel) != NULL);
}

static enum tdm_route route(const char *path, size_t len, char *rel, size_t relcap)
{
    char *p = malloc(len ? len : 1), *r = malloc(relcap);
    if (!p || !r)
        abort();
    memcpy(p, path, len);
    memset(r, 0x55, relcap);
    enum tdm_route rt = tdm_webpath_route(p, len, r, relcap);
    if (rt != TDM_ROUTE_NOT_FOUND) {
        check(memchr(r, '\0', relcap) != NULL);
        memcpy(rel, r, strlen(r) + 1);
    }
    free(p);
    free(r);
    return rt;
}

static void fuzz_route(const char *path, size_t len)
{
    char rel[TDM_WEBPATH_MAX + 1];
    enum tdm_route rt = route(path, len, rel, sizeof rel);
    check(rt == TDM_ROUTE_NOT_FOUND || rt == TDM_ROUTE_FILE || rt == TDM_ROUTE_ROOM ||
          rt == TDM_ROUTE_WEBSOCKET);
    if (rt == TDM_ROUTE_NOT_FOUND)
        return;
    check(len >= 1 && len <= TDM_WEBPATH_MAX && path[0] == '/');
    if (rt == TDM_ROUTE_WEBSOCKET) {
        check(len == 3 && memcmp(path, "/ws", 3) == 0 && rel[0] == '\0');
        return;
    }
    check_rel(rel);
    size_t n = strlen(rel);
    if (rt == TDM_ROUTE_ROOM) {
        check(strcmp(rel, "room.html") == 0);
        check(len > 3 && memcmp(path, "/r/", 3) == 0 && tdm_room_id_valid(path + 3, len - 3));
    } else if (len == 1) {
        check(strcmp(rel, "index.html") == 0);
    } else if (len == 8 && memcmp(path, "/console", 8) == 0) {
        check(strcmp(rel, "console.html") == 0); /* the coordinator console's page */
    } else {
        check(n == len - 1 && memcmp(rel, path + 1, n) == 0);
    }
    /* Routing the file's own path again lands on the same file. */
    char again[TDM_WEBPATH_MAX + 2], rel2[TDM_WEBPATH_MAX + 1];
    again[0] = '/';
    memcpy(again + 1, rel, n);
    check(route(again, n + 1, rel2, sizeof rel2) == TDM_ROUTE_FILE && strcmp(rel, rel2) == 0);
    /* Too small a buffer is a refusal, never a truncated path. */
    check(route(path, len, rel2, n) == TDM_ROUTE_NOT_FOUND);
}

/* Up to 19 digits, at least one; returns false otherwise (the syntax is then ignored). */
static bool ref_num(const char **p, const char *end, uint64_t *v)
{
    int digits = 0;
    *v = 0;
    while (*p < end && **p >= '0' && **p <= '9') {
        if (++digits > 19)
            return false;
        *v = *v * 10 + (uint64_t)(**p - '0');
        (*p)++;
    }
    return digits > 0;
}

/* RFC 9110 §14.1.2, one range only: "bytes=" (first "-" [last] | "-" suffix). Syntax Tandem
 * ignores (other units, lists, last < first, junk): EUNSUPP; unsatisfiable: EINVAL. */
static int ref_range(const char *v, size_t len, uint64_t size, uint64_t *first, uint64_t *last)
{
    const char *p = v + 6, *end = v + len;
    uint64_t a, b;
    if (len < 6 || memcmp(v, "bytes=", 6) != 0 || memchr(v, ',', len))
        return TDM_EUNSUPP;
    if (p < end && *p == '-') {
        p++;
        if (!ref_num(&p, end, &b) || p != end)
            return TDM_EUNSUPP;
        if (b == 0 || size == 0)
            return TDM_EINVAL;
        *first = b >= size ? 0 : size - b;
        *last = size - 1;
        return 0;
    }
    if (!ref_num(&p, end, &a) || p == end || *p++ != '-')
        return TDM_EUNSUPP;
    b = UINT64_MAX;
    if (p != end && (!ref_num(&p, end, &b) || p != end || b < a))
        return TDM_EUNSUPP;
    if (a >= size)
        return TDM_EINVAL;
    *first = a;
    *last = b < size - 1 ? b : size - 1;
    return 0;
}

static void fuzz_range(const char *value, size_t len, uint64_t size)
{
    char *v = malloc(len ? len : 1);
    if (!v)
        abort();
    memcpy(v, value, len);
    uint64_t first = 0, last = 0, rf = 0, rl = 0;
    int rc = tdm_webpath_range(v, len, size, &first, &last);
    check(rc == 0 || rc == TDM_EUNSUPP || rc == TDM_EINVAL);
    if (rc == 0)
        check(first <= last && last < size);
    int want = ref_range(v, len, size, &rf, &rl);
    check(rc == want);
    check(rc != 0 || (first == rf && last == rl));
    free(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    if (size > 0 && s[0] == '/') {
        fuzz_route(s, size);
        return 0;
    }
    const char *nl = memchr(s, '\n', size);
    if (nl) {
        uint64_t file_size = 0;
        for (const char *p = s; p < nl && *p >= '0' && *p <= '9'; p++)
            file_size =
                file_size > UINT64_MAX / 10 ? UINT64_MAX : file_size * 10 + (uint64_t)(*p - '0');
        fuzz_range(nl + 1, size - (size_t)(nl + 1 - s), file_size);
        return 0;
    }
    static const uint64_t sizes[] = {0, 1, 2, 1000, 1u << 20, UINT64_MAX - 1, UINT64_MAX};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        fuzz_range(s, size, sizes[i]);
    return 0;
}
