/* Start-up and shutdown of the control thread: libwebsockets on the default GLib main loop
 * (each media worker runs a loop of its own), signal handling, and the ordered teardown. */
#include "app.h"
#include "cluster.h"
#include "gate.h"
#include "media.h"
#include "metrics.h"
#include "signal.h"
#include "tlsfiles.h"

#include "tandem/checkin.h"
#include "tandem/err.h"
#include "tandem/util.h"

#include <glib-unix.h>
#include <limits.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* 'self' covers same-origin wss: in CSP Level 3, which Chromium and Firefox implement. With
 * a cluster, the other nodes' origins join connect-src (pages follow `moved` there). */
static const char csp[] =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' blob:%s; connect-src 'self'%s; font-src 'self'; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

static struct lws_protocols protocols[] = {
    {"http", tdm_http_callback, 0, 0, 0, NULL, 0},
    {"tandem.v1", tdm_signal_callback, 0, 16384, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static void build_headers(struct tdm_app *app)
{
    /* Films from sync.allowed_origins (config.c bounds them to fit) may play in the pages. */
    char media[TDM_CONFIG_MAX_ORIGINS * (TDM_CONFIG_ORIGIN_MAX + 1) + 1] = "", policy[1800];
    for (size_t i = 0; i < app->cfg.n_sync_origins; i++)
        snprintf(media + strlen(media), sizeof media - strlen(media), " %s",
                 app->cfg.sync_origins[i]);
    snprintf(policy, sizeof policy, csp, media, tdm_cluster_csp_sources(app));
    int n = snprintf(app->http_headers, sizeof app->http_headers,
                     "Content-Security-Policy: %s\r\n"
                     "X-Content-Type-Options: nosniff\r\n"
                     "Referrer-Policy: no-referrer\r\n"
                     "X-Frame-Options: DENY\r\n"
                     "Strict-Transport-Security: max-age=31536000\r\n"
                     "Cross-Origin-Opener-Policy: same-origin\r\n"
                     "Cross-Origin-Resource-Policy: same-origin\r\n"
                     "Permissions-Policy: camera=(self), microphone=(self), "
                     "display-capture=(self), geolocation=(), interest-cohort=()\r\n"
                     "Cache-Control: no-cache\r\n",
                     policy);
    app->http_headers_len = n > 0 ? (size_t)n : 0;
}

void tdm_app_headers_changed(struct tdm_app *app)
{
    build_headers(app);
}

/* lws's own log lines may hold peer addresses: they are shown only at debug level. */
static void lws_log_to_tandem(int level, const char *line)
{
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        n--;
    (void)level;
    tdm_log(TDM_LOG_DEBUG, "lws: %.*s", (int)n, line);
}

static gboolean on_shutdown_deadline(gpointer data)
{
    struct tdm_app *app = data;
    g_main_loop_quit(app->loop);
    return G_SOURCE_REMOVE;
}

static gboolean on_signal(gpointer data)
{
    struct tdm_app *app = data;
    if (app->shutting_down) {
        g_main_loop_quit(app->loop); /* a second signal: stop at once */
        return G_SOURCE_CONTINUE;
    }
    TDM_INFO("shutting down (%u connections open)", app->n_conns);
    app->shutting_down = true;
    if (app->n_conns == 0) {
        g_main_loop_quit(app->loop);
        return G_SOURCE_CONTINUE;
    }
    tdm_signal_close_all(app);
    /* Give the pages a second to receive their 1001 close, then stop regardless. */
    g_timeout_add(1000, on_shutdown_deadline, app);
    return G_SOURCE_CONTINUE;
}

/* SIGHUP: the certificate files again (certbot renewed them). New connections get the new
 * pair; open ones, and every call's media (DTLS has its own certificate), go on as they are.
 * A pair that does not load leaves the current one in place. */
static gboolean on_reload(gpointer data)
{
    struct tdm_app *app = data;
    char err[512], until[32] = "?";
    int64_t not_after = 0;
    if (!app->tls_ctx) {
        TDM_WARN("certificate reload: the TLS context is not known; restart tandem instead");
        return G_SOURCE_CONTINUE;
    }
    if (tdm_tlsfiles_install(app->tls_ctx, app->cfg.cert, app->cfg.key, &not_after, err,
                             sizeof err)) {
        TDM_WARN("certificate reload failed, keeping the current certificate: %s", err);
        return G_SOURCE_CONTINUE;
    }
    time_t t = (time_t)not_after;
    struct tm tm;
    if (not_after && gmtime_r(&t, &tm))
        strftime(until, sizeof until, "%Y-%m-%d %H:%M UTC", &tm);
    TDM_INFO("certificate reloaded from %s (valid until %s); open connections keep theirs",
             app->cfg.cert, until);
    return G_SOURCE_CONTINUE;
}

/* Memory a flood (or a busy evening) used comes back to the system once it is over: glibc
 * keeps freed chunks in its arenas (the signaling thread's and each media worker's) and
 * gives back only the top of the main heap by itself. malloc_trim also returns every whole
 * free page inside the arenas. At most every TRIM_INTERVAL_MS, and only after connections
 * closed (rooms, chat histories, pictures and buffers go with them). Measured with
 * bench/flood-memory.mjs (docs/architecture.md). */
#define TRIM_INTERVAL_MS 5000

static gboolean on_trim(gpointer data)
{
    struct tdm_app *app = data;
    if (app->closed_since_trim) {
        app->closed_since_trim = 0;
#ifdef __GLIBC__
        malloc_trim(0);
#endif
    }
    return G_SOURCE_CONTINUE;
}

int tdm_app_start(struct tdm_app *app)
{
    char err[2 * TDM_CONFIG_PATH_MAX + 200];
    if (!realpath(app->cfg.web_root, app->web_root_real)) {
        TDM_ERROR("web root %s: not found (set server.web_root or --web-root)", app->cfg.web_root);
        return TDM_EINVAL;
    }
    if (tdm_tlsfiles_check(app->cfg.cert, app->cfg.key, NULL, err, sizeof err)) {
        TDM_ERROR("%s (scripts/start.sh makes a development pair, or set server.cert and "
                  "server.key)",
                  err);
        return TDM_EINVAL;
    }
    if (tdm_config_validate(&app->cfg, err, sizeof err)) {
        TDM_ERROR("config: %s", err);
        return TDM_EINVAL;
    }
    if (tdm_invites_start(app) != 0 || tdm_turn_start(app) != 0)
        return TDM_EINVAL;
    app->chat_pool = (struct tdm_chat_pool){.used = 0, .cap = app->cfg.chat.server_picture_bytes};
    app->conns_per_addr = tdm_keycount_create(app->cfg.limits.max_connections);
    if (!app->conns_per_addr || RAND_bytes(app->addr_salt, sizeof app->addr_salt) != 1)
        return TDM_ENOMEM;
    app->rooms =
        tdm_rooms_create(app->cfg.limits.max_rooms, app->cfg.limits.max_participants_per_room);
    if (!app->rooms || tdm_away_start(app) != 0)
        return TDM_ENOMEM;
    /* a token per join: room for every connection twice over; counts for twice the rooms */
    app->checkin = tdm_checkin_create(2 * (size_t)app->cfg.limits.max_connections + 64,
                                      2 * (size_t)app->cfg.limits.max_rooms);
    if (!app->checkin)
        return TDM_ENOMEM;
    if (tdm_media_start(&app->cfg, tdm_media_deliver, app, &app->media) != 0)
        return TDM_EIO;
    app->media_block = tdm_media_block;
    build_headers(app);
    protocols[1].per_session_data_size = tdm_signal_session_size();
    protocols[1].rx_buffer_size = 16384;
    app->loop = g_main_loop_new(NULL, FALSE);
    if (tdm_cluster_start(app) != 0)
        return TDM_EINVAL;

    lws_set_log_level(tdm_log_enabled(TDM_LOG_DEBUG) ? (LLL_ERR | LLL_WARN | LLL_NOTICE) : 0,
                      lws_log_to_tandem);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    void *foreign[1] = {app->loop};
    info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT | LWS_SERVER_OPTION_GLIB;
    info.foreign_loops = foreign;
    /* lws does not listen: the gate (gate.c) accepts and hands over whole ClientHellos. */
    info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
    info.protocols = protocols;
    info.user = app;
    info.ssl_cert_filepath = app->cfg.cert;
    info.ssl_private_key_filepath = app->cfg.key;
    /* TLS 1.2+ with forward secrecy and AEAD only (Mozilla "intermediate"). */
    info.ssl_cipher_list = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                           "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                           "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
    info.ssl_options_set = SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1 | SSL_OP_NO_COMPRESSION |
                           SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE;
    /* HTTP/1.1 only: the extra security headers are passed as raw header lines, and
     * WebSocket over h2 (RFC 8441) is not needed. */
    info.alpn = "http/1.1";
    info.timeout_secs = 10; /* the gate's handshake_timeout_s is shorter until a request */
    info.max_http_header_data = 4096;
    /* Each connection in TLS or waiting for its first request holds one (the gate bounds
     * them by limits.max_handshakes), and so does each request being read or answered on a
     * kept-alive connection (not bounded per address: 1024 of them before anyone waits).
     * Buffers are made when needed and freed after use, so the size costs nothing idle. */
    info.max_http_header_pool = (unsigned short)(app->cfg.limits.max_handshakes + 1024);
    info.keepalive_timeout = 15;
    app->lws = lws_create_context(&info);
    if (!app->lws) {
        TDM_ERROR("could not start the HTTPS/WebSocket listener on port %u (in use? "
                  "certificate readable?)",
                  app->cfg.port);
        return TDM_EIO;
    }
    app->vhost = lws_get_vhost_by_name(app->lws, "default");
    int port = 0;
    if (!app->vhost || tdm_gate_start(app, &port) != 0) {
        TDM_ERROR("could not start the HTTPS/WebSocket listener on port %u (in use?)",
                  app->cfg.port);
        return TDM_EIO;
    }
    const char *host = app->cfg.listen[0] ? app->cfg.listen : "localhost";
    bool v6 = strchr(host, ':') != NULL;
    TDM_INFO("listening on https://%s%s%s:%d", v6 ? "[" : "", host, v6 ? "]" : "", port);
    if (tdm_metrics_start(app) != 0)
        return TDM_EIO;
    app->sig_sources[0] = g_unix_signal_add(SIGINT, on_signal, app);
    app->sig_sources[1] = g_unix_signal_add(SIGTERM, on_signal, app);
    app->sig_sources[2] = g_unix_signal_add(SIGHUP, on_reload, app);
    if (!app->tls_ctx)
        TDM_WARN("the TLS context was not found: SIGHUP cannot reload the certificate");
    app->trim_source = g_timeout_add(TRIM_INTERVAL_MS, on_trim, app);
    return 0;
}

void tdm_app_run(struct tdm_app *app)
{
    g_main_loop_run(app->loop);
}

void tdm_app_stop(struct tdm_app *app)
{
    for (int i = 0; i < 3; i++)
        if (app->sig_sources[i])
            g_source_remove(app->sig_sources[i]);
    if (app->trim_source)
        g_source_remove(app->trim_source);
    app->trim_source = 0;
    tdm_metrics_stop(app);
    /* Workers first: their replies target connections that lws is about to close. */
    app->media_block = NULL;
    tdm_media_stop(app->media);
    app->media = NULL;
    if (app->lws)
        lws_context_destroy(app->lws); /* closes what is still open: CLOSED callbacks run */
    app->lws = NULL;
    tdm_gate_stop(app);
    tdm_away_stop(app);    /* participants still away leave */
    tdm_cluster_stop(app); /* after every connection closed: no join waits for Redis now */
    tdm_rooms_destroy(app->rooms);
    app->rooms = NULL;
    tdm_checkin_destroy(app->checkin);
    app->checkin = NULL;
    tdm_invites_stop(app);
    tdm_turn_stop(app);
    tdm_keycount_destroy(app->conns_per_addr);
    app->conns_per_addr = NULL;
    if (app->loop)
        g_main_loop_unref(app->loop);
    app->loop = NULL;
    TDM_INFO("stopped");
}
