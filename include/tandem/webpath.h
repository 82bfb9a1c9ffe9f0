/* HTTP request paths to what Tandem serves, without touching the file system: the routing
 * rules, the MIME table and the Range header live here so they can be tested and fuzzed. */
#ifndef TANDEM_WEBPATH_H
#define TANDEM_WEBPATH_H

#include <stddef.h>
#include <stdint.h>

#define TDM_WEBPATH_MAX 256

enum tdm_route {
    TDM_ROUTE_NOT_FOUND = 0,
    TDM_ROUTE_FILE,      /* a static file under the web root: rel holds its relative path */
    TDM_ROUTE_ROOM,      /* /r/<room-id>: the room page; rel holds "room.html" */
    TDM_ROUTE_WEBSOCKET, /* /ws */
};

/* Maps a decoded request path ("/", "/r/abc", "/js/room.mjs") to a route. Only
 * [A-Za-z0-9._-] segments separated by single '/' are accepted; a segment that starts with
 * '.' (hidden files, "..") is refused, as is any extension not in the MIME table, so there
 * is no traversal and no directory listing. rel receives a relative path (no leading '/').
 * The query string must already be removed. */
enum tdm_route tdm_webpath_route(const char *path, size_t len, char *rel, size_t relcap);

/* MIME type for a file name by its extension, or NULL when Tandem does not serve it. */
const char *tdm_webpath_mime(const char *name);

/* Parses a Range header value for one byte range (RFC 9110 14.1.2: "bytes=a-b", "bytes=a-",
 * "bytes=-n") against a file of `size` bytes. Returns 0 with [*first, *last] inclusive,
 * TDM_EUNSUPP for syntax Tandem ignores (multiple ranges: serve the whole file), or
 * TDM_EINVAL when unsatisfiable (answer 416). */
int tdm_webpath_range(const char *value, size_t len, uint64_t size, uint64_t *first,
                      uint64_t *last);

#endif
