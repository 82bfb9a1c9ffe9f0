/* HTTPS pages: static files from the web root with the security headers, /r/<room-id> to
 * the room page. Routing rules live in core (tandem/webpath.h); this file touches files. */
#include "app.h"

#include "tandem/util.h"
#include "tandem/webpath.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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

static int on_http(struct tdm_app *app, struct lws *wsi, const char *uri, size_t len)
{
    char rel[TDM_WEBPATH_MAX], path[PATH_MAX];
    if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) <= 0 &&
        lws_hdr_total_length(wsi, WSI_TOKEN_HEAD_URI) <= 0)
        return send_status(wsi, HTTP_STATUS_METHOD_NOT_ALLOWED);
    enum tdm_route route = tdm_webpath_route(uri, len, rel, sizeof rel);
    if (route != TDM_ROUTE_FILE && route != TDM_ROUTE_ROOM)
        return send_status(wsi, HTTP_STATUS_NOT_FOUND);
    if (!resolve_file(app, rel, path, sizeof path))
        return send_status(wsi, HTTP_STATUS_NOT_FOUND);
    int n = lws_serve_http_file(wsi, path, tdm_webpath_mime(rel), app->http_headers,
                                (int)app->http_headers_len);
    if (n < 0 || (n > 0 && lws_http_transaction_completed(wsi)))
        return -1;
    return 0;
}

int tdm_http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                      size_t len)
{
    switch (reason) {
    case LWS_CALLBACK_HTTP:
        return on_http(app_of(wsi), wsi, in, strlen(in));
    case LWS_CALLBACK_HTTP_FILE_COMPLETION:
        return lws_http_transaction_completed(wsi) ? -1 : 0;
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        /* A WebSocket upgrade that did not name "tandem.v1" lands here: refuse it. */
        return -1;
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}
