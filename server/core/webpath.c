#include "tandem/webpath.h"
#include "tandem/err.h"
#include "tandem/room.h"

#include <string.h>

static const struct {
    const char *ext;
    const char *mime;
} mime_table[] = {
    {".html", "text/html; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".mjs", "text/javascript; charset=utf-8"},
    {".json", "application/json"},
    {".webmanifest", "application/manifest+json"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".jpg", "image/jpeg"},
    {".jpeg", "image/jpeg"},
    {".webp", "image/webp"},
    {".ico", "image/x-icon"},
    {".txt", "text/plain; charset=utf-8"},
    {".woff2", "font/woff2"},
    {".mp4", "video/mp4"},
    {".webm", "video/webm"},
    {".ogg", "audio/ogg"},
    {".vtt", "text/vtt; charset=utf-8"},
};

const char *tdm_webpath_mime(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (!dot || strchr(dot, '/'))
        return NULL;
    for (size_t i = 0; i < sizeof mime_table / sizeof mime_table[0]; i++)
        if (strcmp(dot, mime_table[i].ext) == 0)
            return mime_table[i].mime;
    return NULL;
}

static int seg_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == '_';
}

static enum tdm_route set_rel(char *rel, size_t relcap, const char *s, size_t n,
                              enum tdm_route route)
{
    if (n + 1 > relcap)
        return TDM_ROUTE_NOT_FOUND;
    memcpy(rel, s, n);
    rel[n] = '\0';
    return route;
}

enum tdm_route tdm_webpath_route(const char *path, size_t len, char *rel, size_t relcap)
{
    if (!path || len == 0 || path[0] != '/' || len > TDM_WEBPATH_MAX || relcap == 0)
        return TDM_ROUTE_NOT_FOUND;
    if (len == 1)
        return set_rel(rel, relcap, "index.html", 10, TDM_ROUTE_FILE);
    if (len == 8 && memcmp(path, "/console", 8) == 0)
        return set_rel(rel, relcap, "console.html", 12, TDM_ROUTE_FILE);
    if (len == 3 && memcmp(path, "/ws", 3) == 0)
        return set_rel(rel, relcap, "", 0, TDM_ROUTE_WEBSOCKET);
    if (len > 3 && memcmp(path, "/r/", 3) == 0) {
        if (!tdm_room_id_valid(path + 3, len - 3))
            return TDM_ROUTE_NOT_FOUND;
        return set_rel(rel, relcap, "room.html", 9, TDM_ROUTE_ROOM);
    }
    /* Static file: segments of allowed characters, none starting with '.', none empty. */
    size_t seg_start = 1;
    for (size_t i = 1; i <= len; i++) {
        if (i == len || path[i] == '/') {
            if (i == seg_start || path[seg_start] == '.')
                return TDM_ROUTE_NOT_FOUND;
            seg_start = i + 1;
        } else if (!seg_char_ok(path[i])) {
            return TDM_ROUTE_NOT_FOUND;
        }
    }
    if (!set_rel(rel, relcap, path + 1, len - 1, TDM_ROUTE_FILE))
        return TDM_ROUTE_NOT_FOUND;
    return tdm_webpath_mime(rel) ? TDM_ROUTE_FILE : TDM_ROUTE_NOT_FOUND;
}

/* Reads a decimal number of at most 19 digits (no overflow past 2^63). */
static int read_num(const char **p, const char *end, uint64_t *out)
{
    const char *s = *p;
    uint64_t v = 0;
    int n = 0;
    while (s < end && *s >= '0' && *s <= '9') {
        if (++n > 19)
            return TDM_EINVAL;
        v = v * 10 + (uint64_t)(*s - '0');
        s++;
    }
    if (n == 0)
        return TDM_EINVAL;
    *p = s;
    *out = v;
    return 0;
}

int tdm_webpath_range(const char *value, size_t len, uint64_t size, uint64_t *first, uint64_t *last)
{
    const char *p = value, *end = value + len;
    if (len < 7 || memcmp(p, "bytes=", 6) != 0)
        return TDM_EUNSUPP;
    p += 6;
    if (memchr(p, ',', (size_t)(end - p)))
        return TDM_EUNSUPP;
    uint64_t a = 0, b = 0;
    if (*p == '-') { /* suffix: the last n bytes */
        p++;
        if (read_num(&p, end, &b) || p != end)
            return TDM_EUNSUPP;
        if (b == 0 || size == 0)
            return TDM_EINVAL;
        *first = b >= size ? 0 : size - b;
        *last = size - 1;
        return 0;
    }
    if (read_num(&p, end, &a) || p == end || *p != '-')
        return TDM_EUNSUPP;
    p++;
    if (p == end) {
        b = size ? size - 1 : 0;
    } else if (read_num(&p, end, &b) || p != end || b < a) {
        return TDM_EUNSUPP;
    }
    if (a >= size)
        return TDM_EINVAL;
    *first = a;
    *last = b >= size ? size - 1 : b;
    return 0;
}
