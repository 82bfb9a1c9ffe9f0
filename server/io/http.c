/* HTTPS pages: static files from the web root with the security headers, /r/<room-id> to
 * the room page, web/404.html for anything else. Also, for watch-together and chat
 * (docs/protocol-sync-chat.md): films from the media folder with single byte ranges
 * (/media/<name>, and /media/ for the list), and chat pictures from memory (/p/<room>/<key>),
 * both only for people in a room (their access token). Routing rules live in core
 * (tandem/webpath.h); this file touches files. */
#include "app.h"
#include "channels.h"
#include "gate.h"

#include "tandem/err.h"
#include "tandem/sync.h"
#include "tandem/util.h"
#include "tandem/webpath.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* A response body written piece by piece on HTTP_WRITEABLE: lws 4.1 in Debian has no
 * LWS_WITH_RANGES, so partial content (RFC 9110 section 14) is ours to send. */
enum body_kind { BODY_FILE, BODY_MEMORY, BODY_PICTURE };

struct stream {
    struct stream *next;
    struct lws *wsi;
    enum body_kind kind;
    uint64_t pos, end;                    /* bytes [pos, end) still to send */
    int fd;                               /* BODY_FILE */
    char *mem;                            /* BODY_MEMORY, owned */
    char room[TDM_ROOM_ID_MAX + 1];       /* BODY_PICTURE: looked up again for every piece, */
    char key[TDM_CHANNELS_TOKEN_LEN + 1]; /* so a picture deleted meanwhile is never read */
};

#define STREAMS_MAX 256
#define PIECE (32 * 1024)
#define MEDIA_LIST_MAX 500
#define PAGE_404_MAX (64 * 1024)

static struct stream *streams;
static unsigned n_streams;
static char media_real[PATH_MAX]; /* realpath of sync.media_dir; "" = no media folder */

static struct tdm_app *app_of(struct lws *wsi)
{
    return lws_context_user(lws_get_context(wsi));
}

static int send_status(struct lws *wsi, unsigned int status)
{
    if (lws_return_http_status(wsi, status, NULL))
        return -1;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

/* ---- streams ---- */

static struct stream **stream_slot(struct lws *wsi)
{
    struct stream **s = &streams;
    while (*s && (*s)->wsi != wsi)
        s = &(*s)->next;
    return s;
}

static void stream_drop(struct lws *wsi)
{
    struct stream **slot = stream_slot(wsi), *s = *slot;
    if (!s)
        return;
    *slot = s->next;
    if (s->fd >= 0)
        close(s->fd);
    free(s->mem);
    free(s);
    n_streams--;
}

static struct stream *stream_new(struct lws *wsi, enum body_kind kind, uint64_t pos, uint64_t end)
{
    if (n_streams >= STREAMS_MAX)
        return NULL;
    struct stream *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->wsi = wsi;
    s->kind = kind;
    s->pos = pos;
    s->end = end;
    s->fd = -1;
    s->next = streams;
    streams = s;
    n_streams++;
    return s;
}

/* Source bytes of s at its position, copied into out; returns how many, or -1 (gone). */
static ssize_t stream_read(struct tdm_app *app, struct stream *s, uint8_t *out, size_t n)
{
    switch (s->kind) {
    case BODY_FILE: return pread(s->fd, out, n, (off_t)s->pos);
    case BODY_MEMORY: memcpy(out, s->mem + s->pos, n); return (ssize_t)n;
    case BODY_PICTURE: {
        const struct tdm_chat_message *m =
            tdm_channels_picture(app, s->room, s->key, strlen(s->key));
        if (!m || m->picture_len != s->end)
            return -1;
        memcpy(out, m->picture + s->pos, n);
        return (ssize_t)n;
    }
    }
    return -1;
}

static int on_writable(struct tdm_app *app, struct lws *wsi)
{
    static uint8_t buf[LWS_PRE + PIECE];
    struct stream *s = *stream_slot(wsi);
    if (!s)
        return 0;
    size_t want = s->end - s->pos > PIECE ? PIECE : (size_t)(s->end - s->pos);
    ssize_t got = stream_read(app, s, buf + LWS_PRE, want);
    if (got <= 0) {
        stream_drop(wsi);
        return -1; /* the body cannot be completed: close, so the client sees it cut short */
    }
    s->pos += (uint64_t)got;
    bool last = s->pos >= s->end;
    if (lws_write(wsi, buf + LWS_PRE, (size_t)got, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) <
        0) {
        stream_drop(wsi);
        return -1;
    }
    if (!last) {
        lws_callback_on_writable(wsi);
        return 0;
    }
    stream_drop(wsi);
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

/* ---- response heads ---- */

/* Status line, common headers, the security headers, then `extra` (raw header lines). */
static int write_head(struct tdm_app *app, struct lws *wsi, unsigned status, const char *mime,
                      uint64_t len, const char *extra)
{
    uint8_t buf[LWS_PRE + 2048], *start = buf + LWS_PRE, *p = start, *end = buf + sizeof buf;
    size_t extra_len = extra ? strlen(extra) : 0;
    if (lws_add_http_common_headers(wsi, status, mime, len, &p, end))
        return -1;
    if ((size_t)(end - p) < app->http_headers_len + extra_len + 8)
        return -1;
    memcpy(p, app->http_headers, app->http_headers_len);
    p += app->http_headers_len;
    memcpy(p, extra ? extra : "", extra_len);
    p += extra_len;
    return lws_finalize_write_http_header(wsi, start, &p, end) ? -1 : 0;
}

static bool is_head(struct lws *wsi)
{
    return lws_hdr_total_length(wsi, WSI_TOKEN_HEAD_URI) > 0;
}

/* Sends a head and then body [first, last] of s (already set up), or completes at once. */
static int respond(struct tdm_app *app, struct lws *wsi, unsigned status, const char *mime,
                   uint64_t len, const char *extra, struct stream *s)
{
    if (write_head(app, wsi, status, mime, len, extra) < 0) {
        if (s)
            stream_drop(wsi);
        return -1;
    }
    if (!s || len == 0 || is_head(wsi)) {
        if (s)
            stream_drop(wsi);
        return lws_http_transaction_completed(wsi) ? -1 : 0;
    }
    lws_callback_on_writable(wsi);
    return 0;
}

/* A body held in memory (taken: freed with the stream, or here on failure). */
static int respond_memory(struct tdm_app *app, struct lws *wsi, unsigned status, const char *mime,
                          char *body, size_t len, const char *extra)
{
    struct stream *s = len ? stream_new(wsi, BODY_MEMORY, 0, len) : NULL;
    if (len && !s) {
        free(body);
        return send_status(wsi, HTTP_STATUS_SERVICE_UNAVAILABLE);
    }
    if (s)
        s->mem = body;
    else
        free(body);
    return respond(app, wsi, status, mime, len, extra, s);
}

/* ---- static files and 404 ---- */

/* Resolves rel under the web root and makes sure the real path stays inside it (a symlink
 * pointing out of web/ is refused) and is a regular file. */
static bool resolve_file(struct tdm_app *app, const char *rel, char *out, size_t outlen)
{
    char joined[PATH_MAX + TDM_WEBPATH_MAX + 2];
    snprintf(joined, sizeof joined, "%s/%s", app->web_root_real, rel);
    char *real = realpath(joined, NULL);
    if (!real)
        return false;
    size_t rootlen = strlen(app->web_root_real);
    struct stat st;
    bool ok = strncmp(real, app->web_root_real, rootlen) == 0 && real[rootlen] == '/' &&
              stat(real, &st) == 0 && S_ISREG(st.st_mode) && strlen(real) < outlen;
    if (ok)
        memcpy(out, real, strlen(real) + 1);
    free(real);
    return ok;
}

/* web/404.html with status 404 (lws_serve_http_file can only say 200). */
static int send_not_found(struct tdm_app *app, struct lws *wsi)
{
    char path[PATH_MAX];
    gchar *body = NULL;
    gsize len = 0;
    if (!resolve_file(app, "404.html", path, sizeof path) ||
        !g_file_get_contents(path, &body, &len, NULL) || len > PAGE_404_MAX) {
        g_free(body);
        return send_status(wsi, HTTP_STATUS_NOT_FOUND);
    }
    char *copy = malloc(len ? len : 1);
    if (copy)
        memcpy(copy, body, len);
    g_free(body);
    if (!copy)
        return send_status(wsi, HTTP_STATUS_NOT_FOUND);
    return respond_memory(app, wsi, HTTP_STATUS_NOT_FOUND, "text/html; charset=utf-8", copy, len,
                          NULL);
}

/* ---- access tokens ---- */

/* ?room=<id>&access=<token>: someone in that room now. */
static bool room_access_ok(struct tdm_app *app, struct lws *wsi, const char *room_id)
{
    char buf[96], room[TDM_ROOM_ID_MAX + 1];
    const char *v;
    if (!room_id) {
        v = lws_get_urlarg_by_name(wsi, "room=", buf, sizeof buf);
        if (!v || strlen(v) > TDM_ROOM_ID_MAX)
            return false;
        memcpy(room, v, strlen(v) + 1);
        room_id = room;
    }
    v = lws_get_urlarg_by_name(wsi, "access=", buf, sizeof buf);
    return v && tdm_channels_token_ok(app, room_id, v, strlen(v));
}

/* ---- /p/<room>/<key>: chat pictures from memory ---- */

static int on_picture(struct tdm_app *app, struct lws *wsi, const char *rest)
{
    const char *slash = strchr(rest, '/');
    size_t room_len = slash ? (size_t)(slash - rest) : 0;
    char room[TDM_ROOM_ID_MAX + 1];
    if (!slash || !tdm_room_id_valid(rest, room_len))
        return send_not_found(app, wsi);
    memcpy(room, rest, room_len);
    room[room_len] = '\0';
    const char *key = slash + 1;
    const struct tdm_chat_message *m =
        room_access_ok(app, wsi, room) ? tdm_channels_picture(app, room, key, strlen(key)) : NULL;
    if (!m)
        return send_not_found(app, wsi); /* no oracle: a wrong token looks like no picture */
    struct stream *s = stream_new(wsi, BODY_PICTURE, 0, m->picture_len);
    if (!s)
        return send_status(wsi, HTTP_STATUS_SERVICE_UNAVAILABLE);
    memcpy(s->room, room, room_len + 1);
    memcpy(s->key, key, TDM_CHANNELS_TOKEN_LEN + 1);
    return respond(app, wsi, HTTP_STATUS_OK, tdm_chat_image_mime(m->picture_type), m->picture_len,
                   "Cache-Control: no-store\r\n", s);
}

/* ---- /media/: films from sync.media_dir ---- */

static const char *media_mime(const char *name)
{
    static const struct {
        const char *ext, *mime;
    } types[] = {{".mp4", "video/mp4"},
                 {".webm", "video/webm"},
                 {".ogv", "video/ogg"},
                 {".ogg", "audio/ogg"}};
    const char *dot = strrchr(name, '.');
    for (size_t i = 0; dot && i < sizeof types / sizeof types[0]; i++)
        if (strcmp(dot, types[i].ext) == 0)
            return types[i].mime;
    return NULL;
}

/* The rules of "media:<name>" sources (tdm_sync_source_check): 1..255 bytes of
 * [A-Za-z0-9._ -], not starting with '.' or space, not ending with space, no "..": one file
 * directly in the folder, no way out of it. */
static bool media_name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > TDM_SYNC_MEDIA_NAME_MAX || name[0] == '.' || name[0] == ' ' ||
        name[n - 1] == ' ' || strstr(name, ".."))
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-' || c == ' '))
            return false;
    }
    return media_mime(name) != NULL;
}

bool tdm_http_film_exists(const char *name, size_t len)
{
    char copy[TDM_SYNC_MEDIA_NAME_MAX + 1], path[PATH_MAX + TDM_SYNC_MEDIA_NAME_MAX + 2];
    if (!media_real[0] || len == 0 || len > TDM_SYNC_MEDIA_NAME_MAX || memchr(name, '\0', len))
        return false;
    memcpy(copy, name, len);
    copy[len] = '\0';
    if (!media_name_ok(copy))
        return false;
    snprintf(path, sizeof path, "%s/%s", media_real, copy);
    struct stat st;
    /* the rules media_list and media_file serve by: a regular file, not through a link */
    return fstatat(AT_FDCWD, path, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
}

static int media_list(struct tdm_app *app, struct lws *wsi)
{
    DIR *d = opendir(media_real);
    if (!d)
        return send_not_found(app, wsi);
    json_t *arr = json_array();
    struct dirent *de;
    while ((de = readdir(d)) && json_array_size(arr) < MEDIA_LIST_MAX) {
        struct stat st;
        if (!media_name_ok(de->d_name) ||
            fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
            continue;
        json_array_append_new(arr,
                              json_pack("{s:s, s:I, s:s}", "name", de->d_name, "size",
                                        (json_int_t)st.st_size, "type", media_mime(de->d_name)));
    }
    closedir(d);
    json_t *doc = json_pack("{s:o}", "files", arr);
    char *body = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (!body)
        return send_status(wsi, HTTP_STATUS_INTERNAL_SERVER_ERROR);
    return respond_memory(app, wsi, HTTP_STATUS_OK, "application/json", body, strlen(body),
                          "Cache-Control: no-store\r\n");
}

static int media_file(struct tdm_app *app, struct lws *wsi, const char *name)
{
    char path[PATH_MAX + TDM_SYNC_MEDIA_NAME_MAX + 2], range[128], extra[160];
    if (!media_name_ok(name))
        return send_not_found(app, wsi);
    snprintf(path, sizeof path, "%s/%s", media_real, name);
    /* O_NOFOLLOW: a link placed in the folder must not lead out of it. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0)
            close(fd);
        return send_not_found(app, wsi);
    }
    uint64_t size = (uint64_t)st.st_size, first = 0, last = size ? size - 1 : 0;
    unsigned status = HTTP_STATUS_OK;
    int n = lws_hdr_copy(wsi, range, sizeof range, WSI_TOKEN_HTTP_RANGE);
    int rc = n > 0 ? tdm_webpath_range(range, (size_t)n, size, &first, &last) : TDM_EUNSUPP;
    if (rc == TDM_EINVAL) { /* RFC 9110 15.5.17: 416 names the current length */
        close(fd);
        snprintf(extra, sizeof extra, "Content-Range: bytes */%" PRIu64 "\r\n", size);
        return respond(app, wsi, HTTP_STATUS_REQ_RANGE_NOT_SATISFIABLE, "text/plain", 0, extra,
                       NULL);
    }
    if (rc == 0) {
        status = HTTP_STATUS_PARTIAL_CONTENT;
        snprintf(extra, sizeof extra,
                 "Accept-Ranges: bytes\r\nContent-Range: bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64
                 "\r\n",
                 first, last, size);
    } else {
        first = 0; /* no range, or several (RFC 9110 allows serving the whole file) */
        snprintf(extra, sizeof extra, "Accept-Ranges: bytes\r\n");
    }
    uint64_t len = size ? last - first + 1 : 0;
    struct stream *s = len ? stream_new(wsi, BODY_FILE, first, first + len) : NULL;
    if (len && !s) {
        close(fd);
        return send_status(wsi, HTTP_STATUS_SERVICE_UNAVAILABLE);
    }
    if (s)
        s->fd = fd;
    else
        close(fd);
    return respond(app, wsi, status, media_mime(name), len, extra, s);
}

static int on_media(struct tdm_app *app, struct lws *wsi, const char *rest)
{
    if (!media_real[0] || !room_access_ok(app, wsi, NULL))
        return send_not_found(app, wsi);
    return rest[0] ? media_file(app, wsi, rest) : media_list(app, wsi);
}

/* GET /mode.json: what the pages need to know about this server's mode, nothing more:
 * "rooms": "open" (development: anyone with a room link may join) or "closed" (the default:
 * invite links only), so the landing page offers only what works; "quick_exit": where Quick
 * exit goes (pages.quick_exit_url), "" for the neutral page in the page's language. */
static int on_mode(struct tdm_app *app, struct lws *wsi)
{
    json_t *j = json_pack("{s:s, s:s}", "rooms", app->cfg.open_rooms ? "open" : "closed",
                          "quick_exit", app->cfg.quick_exit_url);
    char *body = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!body)
        return send_status(wsi, HTTP_STATUS_SERVICE_UNAVAILABLE);
    return respond_memory(app, wsi, HTTP_STATUS_OK, "application/json", body, strlen(body),
                          "Cache-Control: no-store\r\n");
}

/* ---- routing ---- */

static int on_http(struct tdm_app *app, struct lws *wsi, const char *uri, size_t len)
{
    char rel[TDM_WEBPATH_MAX], path[PATH_MAX];
    if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) <= 0 && !is_head(wsi))
        return send_status(wsi, HTTP_STATUS_METHOD_NOT_ALLOWED);
    if (len >= 7 && memcmp(uri, "/media/", 7) == 0)
        return on_media(app, wsi, uri + 7);
    if (len >= 3 && memcmp(uri, "/p/", 3) == 0)
        return on_picture(app, wsi, uri + 3);
    if (len == 10 && memcmp(uri, "/mode.json", 10) == 0)
        return on_mode(app, wsi);
    enum tdm_route route = tdm_webpath_route(uri, len, rel, sizeof rel);
    if ((route != TDM_ROUTE_FILE && route != TDM_ROUTE_ROOM) ||
        !resolve_file(app, rel, path, sizeof path))
        return send_not_found(app, wsi);
    int n = lws_serve_http_file(wsi, path, tdm_webpath_mime(rel), app->http_headers,
                                (int)app->http_headers_len);
    if (n < 0 || (n > 0 && lws_http_transaction_completed(wsi)))
        return -1;
    return 0;
}

/* At start-up: the media folder's real path, and server time fixed (tandem/sync.h). */
static void on_init(struct tdm_app *app)
{
    tdm_proto_server_us();
    media_real[0] = '\0';
    if (!app->cfg.sync_media_dir[0])
        return;
    if (!realpath(app->cfg.sync_media_dir, media_real)) {
        media_real[0] = '\0';
        TDM_WARN("sync.media_dir %s: not found; no films will be served", app->cfg.sync_media_dir);
        return;
    }
    TDM_INFO("films served from %s", media_real);
}

#define HTTP_UPGRADE_REQUIRED 426 /* RFC 7231 6.5.15; lws 4.1 has no name for it */

/* RFC 6455 4.1: the key is the base64 of 16 random bytes, so 22 base64 digits and "==". */
static bool ws_key_ok(const char *k, size_t len)
{
    static const char digits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if (len != 24 || k[22] != '=' || k[23] != '=')
        return false;
    for (size_t i = 0; i < 22; i++)
        if (!k[i] || !strchr(digits, k[i]))
            return false;
    /* the last digit carries 2 bits of the 16th byte and 4 zero bits (RFC 4648 3.5) */
    return (strchr(digits, k[21]) - digits) % 16 == 0;
}

/* A WebSocket upgrade, before lws answers it (lws 4.1 would answer 101 to any version and
 * to a key of any shape). RFC 6455 4.2.2: a version other than 13 gets 426 naming the one
 * we speak; 4.2.1: a malformed handshake gets 400. Returns 1 when refused (the response is
 * written; lws then ends the transaction), 0 to let the upgrade proceed. */
static int on_confirm_upgrade(struct tdm_app *app, struct lws *wsi, const char *upgrade)
{
    char version[8], key[64];
    if (!upgrade || strcasecmp(upgrade, "websocket") != 0)
        return 0; /* lws refuses other upgrades itself */
    int vlen = lws_hdr_copy(wsi, version, sizeof version, WSI_TOKEN_VERSION);
    int klen = lws_hdr_copy(wsi, key, sizeof key, WSI_TOKEN_KEY);
    unsigned status = 0;
    const char *extra = NULL;
    if (vlen <= 0 || strcmp(version, "13") != 0) {
        status = HTTP_UPGRADE_REQUIRED;
        extra = "sec-websocket-version: 13\r\n";
    } else if (klen <= 0 || !ws_key_ok(key, (size_t)klen)) {
        status = HTTP_STATUS_BAD_REQUEST;
    }
    if (!status)
        return 0;
    tdm_log_limited(&app->bad_input_log, 20, tdm_now_us(), TDM_LOG_INFO,
                    "refused a WebSocket upgrade: %s",
                    status == HTTP_STATUS_BAD_REQUEST ? "bad key" : "unsupported version");
    return write_head(app, wsi, status, "text/plain", 0, extra) < 0 ? -1 : 1;
}

int tdm_http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                      size_t len)
{
    switch (reason) {
    case LWS_CALLBACK_PROTOCOL_INIT: on_init(app_of(wsi)); return 0;
    case LWS_CALLBACK_HTTP:
        tdm_gate_requested(app_of(wsi), wsi);
        return on_http(app_of(wsi), wsi, in, strlen(in));
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE: /* a WebSocket request: complete headers too */
        tdm_gate_requested(app_of(wsi), wsi);
        return on_confirm_upgrade(app_of(wsi), wsi, in);
    case LWS_CALLBACK_HTTP_WRITEABLE:
        if (*stream_slot(wsi))
            return on_writable(app_of(wsi), wsi);
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    case LWS_CALLBACK_HTTP_FILE_COMPLETION: return lws_http_transaction_completed(wsi) ? -1 : 0;
    case LWS_CALLBACK_WSI_DESTROY: /* every connection's, on the vhost's first protocol */
        tdm_gate_forget(app_of(wsi), wsi);
        stream_drop(wsi);
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    case LWS_CALLBACK_CLOSED_HTTP:
        stream_drop(wsi); /* a client that went away mid-body */
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    case LWS_CALLBACK_OPENSSL_LOAD_EXTRA_SERVER_VERIFY_CERTS:
        /* made once, with the vhost: its SSL_CTX, kept for the certificate reload */
        app_of(wsi)->tls_ctx = user;
        return 0;
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        /* A WebSocket upgrade that did not name "tandem.v1" lands here: refuse it. */
        return -1;
    default: return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}
