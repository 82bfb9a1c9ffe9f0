/* The signaling WebSocket ("tandem.v1", docs/protocol.md): connection life cycle, frame
 * reassembly with a bound checked from the frame header, rate limits, the outgoing queue,
 * and the handler table. Runs on the control thread only. */
#include "cluster.h"
#include "app.h"
#include "metrics.h"
#include "proto.h"
#include "signal.h"
#include "wsmask.h"

#include "tandem/err.h"
#include "tandem/util.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#define OUTQ_MAX_MSGS 512
#define OUTQ_MAX_BYTES (8u * 1024 * 1024)
#define FLOOD_WINDOW_US 10000000
#define FLOOD_MAX_DROPPED 200

struct outmsg {
    struct outmsg *next;
    size_t len;
    unsigned char buf[]; /* LWS_PRE bytes of head room, then the text */
};

size_t tdm_signal_session_size(void)
{
    return sizeof(struct tdm_conn);
}

static struct tdm_app *app_of(struct lws *wsi)
{
    return lws_context_user(lws_get_context(wsi));
}

static void conn_link(struct tdm_app *app, struct tdm_conn *c)
{
    c->next = app->conns;
    c->prev = NULL;
    if (app->conns)
        app->conns->prev = c;
    app->conns = c;
    app->n_conns++;
}

static void conn_unlink(struct tdm_app *app, struct tdm_conn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else if (app->conns == c)
        app->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->next = c->prev = NULL;
    app->n_conns--;
    app->closed_since_trim++;
}

/* A connection without a socket (wsi NULL: an in-process driver, signal.h) has nothing to
 * wake; its driver takes the queue with tdm_conn_drain. */
static void wake(struct tdm_conn *c)
{
    if (c->wsi)
        lws_callback_on_writable(c->wsi);
}

void tdm_conn_close(struct tdm_conn *c, int code, const char *reason)
{
    if (c->close_code)
        return;
    c->close_code = code;
    snprintf(c->close_reason, sizeof c->close_reason, "%s", reason);
    wake(c);
}

int tdm_conn_send(struct tdm_conn *c, json_t *msg)
{
    if (!msg)
        return TDM_ENOMEM;
    char *text = json_dumps(msg, JSON_COMPACT);
    json_decref(msg);
    if (!text)
        return TDM_ENOMEM;
    size_t len = strlen(text);
    if (c->close_code || c->outq_msgs >= OUTQ_MAX_MSGS || c->outq_bytes + len > OUTQ_MAX_BYTES) {
        free(text);
        /* A reader that cannot keep up would make us hold unbounded memory. */
        tdm_conn_close(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, "too slow");
        return TDM_EFULL;
    }
    struct outmsg *m = malloc(sizeof *m + LWS_PRE + len);
    if (!m) {
        free(text);
        return TDM_ENOMEM;
    }
    m->next = NULL;
    m->len = len;
    memcpy(m->buf + LWS_PRE, text, len);
    free(text);
    if (c->outq_tail)
        c->outq_tail->next = m;
    else
        c->outq_head = m;
    c->outq_tail = m;
    c->outq_msgs++;
    c->outq_bytes += len;
    wake(c);
    return 0;
}

void tdm_conn_send_error(struct tdm_conn *c, const struct tdm_proto_err *e, json_t *id)
{
    tdm_conn_send(c, tdm_proto_error_msg(e, id));
}

static void outq_free(struct tdm_conn *c)
{
    struct outmsg *m = c->outq_head;
    while (m) {
        struct outmsg *next = m->next;
        free(m);
        m = next;
    }
    c->outq_head = c->outq_tail = NULL;
    c->outq_msgs = 0;
    c->outq_bytes = 0;
}

void tdm_conn_free_queue(struct tdm_conn *c)
{
    outq_free(c);
    free(c->rx);
    c->rx = NULL;
    c->rx_len = c->rx_cap = 0;
}

bool tdm_conn_take_queue(struct tdm_conn *dst, struct tdm_conn *src)
{
    bool all = true;
    while (src->outq_head) {
        struct outmsg *m = src->outq_head;
        src->outq_head = m->next;
        src->outq_msgs--;
        src->outq_bytes -= m->len;
        m->next = NULL;
        if (dst->close_code || dst->outq_msgs >= OUTQ_MAX_MSGS ||
            dst->outq_bytes + m->len > OUTQ_MAX_BYTES) {
            free(m);
            all = false;
            continue;
        }
        if (dst->outq_tail)
            dst->outq_tail->next = m;
        else
            dst->outq_head = m;
        dst->outq_tail = m;
        dst->outq_msgs++;
        dst->outq_bytes += m->len;
    }
    src->outq_tail = NULL;
    wake(dst);
    return all;
}

void tdm_conn_drain(struct tdm_conn *c, void (*fn)(void *ud, const char *text, size_t len),
                    void *ud)
{
    while (c->outq_head) {
        struct outmsg *m = c->outq_head;
        c->outq_head = m->next;
        c->outq_msgs--;
        c->outq_bytes -= m->len;
        fn(ud, (const char *)m->buf + LWS_PRE, m->len);
        free(m);
    }
    c->outq_tail = NULL;
}

static int on_writable(struct tdm_conn *c)
{
    struct outmsg *m = c->outq_head;
    if (m) {
        c->outq_head = m->next;
        if (!c->outq_head)
            c->outq_tail = NULL;
        c->outq_msgs--;
        c->outq_bytes -= m->len;
        int n = lws_write(c->wsi, m->buf + LWS_PRE, m->len, LWS_WRITE_TEXT);
        free(m);
        if (n < 0)
            return -1;
        if (c->outq_head || c->close_code)
            lws_callback_on_writable(c->wsi);
        return 0;
    }
    if (c->close_code) {
        lws_close_reason(c->wsi, (enum lws_close_status)c->close_code,
                         (unsigned char *)c->close_reason, strlen(c->close_reason));
        return -1;
    }
    return 0;
}

/* Drops messages over the rate; sustained flooding closes the connection (1008). */
static bool rate_ok(struct tdm_app *app, struct tdm_conn *c, int64_t now)
{
    if (tdm_bucket_take(&c->bucket, 1.0, now))
        return true;
    if (now - c->flood_window_start > FLOOD_WINDOW_US) {
        c->flood_window_start = now;
        c->dropped_in_window = 0;
    }
    if (++c->dropped_in_window > FLOOD_MAX_DROPPED) {
        tdm_log_limited(&app->bad_input_log, 20, now, TDM_LOG_WARN, "c%u: closed for flooding",
                        c->log_id);
        tdm_mx_refused(TDM_MX_REFUSED_FLOODING);
        tdm_conn_close(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, "flooding");
        return false;
    }
    if (now - c->last_rate_error >= 1000000) {
        c->last_rate_error = now;
        struct tdm_proto_err e;
        tdm_proto_set(&e, "rate_limited", NULL, "too many messages: at most %u per second",
                      app->cfg.limits.messages_per_second);
        tdm_conn_send_error(c, &e, NULL);
    }
    return false;
}

void tdm_conn_handle(struct tdm_app *app, struct tdm_conn *c, const char *buf, size_t len)
{
    struct tdm_proto_err e = {0};
    const char *type;
    json_t *id;
    json_t *msg = tdm_proto_parse(buf, len, &type, &id, &e);
    if (!msg) {
        tdm_log_limited(&app->bad_input_log, 20, tdm_now_us(), TDM_LOG_INFO,
                        "c%u: refused a message: %s", c->log_id, e.code);
        tdm_conn_send_error(c, &e, NULL);
        return;
    }
    const struct tdm_handler *h = type ? tdm_signal_find_handler(type) : NULL;
    if (!type) {
        /* e already says what is wrong with type or id */
    } else if (!h) {
        tdm_proto_set(&e, "unknown_type", "type", "unknown message type");
    } else if ((h->flags & TDM_HANDLER_NEEDS_JOINED) && !c->participant) {
        tdm_proto_set(&e, "not_joined", NULL, "join a room first");
    } else {
        h->fn(app, c, msg, id, &e);
        if (e.code)
            tdm_mx_message_refused(type, e.code);
    }
    if (e.code) {
        tdm_log_limited(&app->bad_input_log, 20, tdm_now_us(), TDM_LOG_INFO,
                        "c%u: refused a message: %s", c->log_id, e.code);
        tdm_conn_send_error(c, &e, id);
    }
    json_decref(msg);
}

/* Called for each piece of a message. The bound is checked from the frame header
 * (lws_remaining_packet_payload) before anything is buffered; fragments count together. */
static int on_receive(struct tdm_app *app, struct tdm_conn *c, const char *in, size_t len)
{
    const size_t max = app->cfg.limits.max_message_bytes;
    int64_t now = tdm_now_us();
    if (c->close_code)
        return 0;
    if (tdm_wsmask_unmasked(c->wsi)) { /* RFC 6455 5.1 */
        tdm_log_limited(&app->bad_input_log, 20, now, TDM_LOG_INFO, "c%u: closed: unmasked frame",
                        c->log_id);
        tdm_mx_refused(TDM_MX_REFUSED_UNMASKED);
        tdm_conn_close(c, LWS_CLOSE_STATUS_PROTOCOL_ERR, "unmasked frame");
        return 0;
    }
    c->last_activity = now;
    lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, (int)app->cfg.limits.idle_timeout_s);
    size_t remaining = lws_remaining_packet_payload(c->wsi);
    if (c->rx_len + len + remaining > max) {
        struct tdm_proto_err e;
        tdm_proto_set(&e, "too_big", NULL, "message over %zu bytes", max);
        tdm_conn_send_error(c, &e, NULL);
        tdm_log_limited(&app->bad_input_log, 20, now, TDM_LOG_INFO, "c%u: closed: message too big",
                        c->log_id);
        tdm_mx_refused(TDM_MX_REFUSED_TOO_BIG);
        tdm_conn_close(c, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, "message too big");
        free(c->rx);
        c->rx = NULL;
        c->rx_len = c->rx_cap = 0;
        return 0;
    }
    if (lws_frame_is_binary(c->wsi))
        c->rx_binary = true;
    bool final = lws_is_final_fragment(c->wsi) && remaining == 0;
    if (final && c->rx_len == 0) { /* the common case: one piece, no copy */
        if (c->rx_binary) {
            struct tdm_proto_err e;
            tdm_proto_set(&e, "binary_unsupported", NULL, "send text frames only");
            tdm_conn_send_error(c, &e, NULL);
        } else if (rate_ok(app, c, now)) {
            tdm_conn_handle(app, c, in, len);
        }
        c->rx_binary = false;
        return 0;
    }
    if (c->rx_len + len > c->rx_cap) {
        size_t cap = c->rx_cap ? c->rx_cap : 4096;
        while (cap < c->rx_len + len + remaining && cap < max)
            cap *= 2;
        if (cap > max)
            cap = max;
        char *nb = realloc(c->rx, cap);
        if (!nb)
            return -1;
        c->rx = nb;
        c->rx_cap = cap;
    }
    memcpy(c->rx + c->rx_len, in, len);
    c->rx_len += len;
    if (final) {
        if (c->rx_binary) {
            struct tdm_proto_err e;
            tdm_proto_set(&e, "binary_unsupported", NULL, "send text frames only");
            tdm_conn_send_error(c, &e, NULL);
        } else if (rate_ok(app, c, now)) {
            tdm_conn_handle(app, c, c->rx, c->rx_len);
        }
        c->rx_len = 0;
        c->rx_binary = false;
        if (c->rx_cap > 65536) { /* give big buffers back */
            free(c->rx);
            c->rx = NULL;
            c->rx_cap = 0;
        }
    }
    return 0;
}

/* Same-origin check against cross-site WebSocket hijacking: browsers always send Origin.
 * In a cluster, pages of the other nodes (and of the shared name) come here after `moved`. */
static bool origin_ok(const struct tdm_app *app, struct lws *wsi)
{
    char origin[256], host[256];
    if (lws_hdr_copy(wsi, origin, sizeof origin, WSI_TOKEN_ORIGIN) <= 0)
        return true; /* non-browser clients (tests, load generators) send none */
    if (lws_hdr_copy(wsi, host, sizeof host, WSI_TOKEN_HOST) <= 0)
        return false;
    const char *o = strstr(origin, "://");
    return (o && strcmp(o + 3, host) == 0) || tdm_cluster_origin_ok(app, origin);
}

static int on_filter(struct tdm_app *app, struct lws *wsi)
{
    char uri[64];
    if (app->shutting_down || app->n_conns >= app->cfg.limits.max_connections) {
        tdm_mx_refused(TDM_MX_REFUSED_WS_FULL);
        return -1;
    }
    if (lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) <= 0 || strcmp(uri, "/ws") != 0) {
        tdm_mx_refused(TDM_MX_REFUSED_WS_PATH);
        return -1;
    }
    if (!origin_ok(app, wsi)) {
        tdm_mx_refused(TDM_MX_REFUSED_WS_ORIGIN);
        tdm_log_limited(&app->bad_input_log, 20, tdm_now_us(), TDM_LOG_INFO,
                        "refused a WebSocket from another origin");
        return -1;
    }
    return 0;
}

/* A salted SHA-256 of the peer address: enough to count connections per address without
 * keeping the address (privacy: no IP addresses in memory longer than the connection). */
static uint64_t addr_key(struct tdm_app *app, struct lws *wsi)
{
    char ip[64] = "";
    uint8_t buf[16 + sizeof ip], md[32];
    unsigned int mdlen = 0;
    lws_get_peer_simple(wsi, ip, sizeof ip);
    memcpy(buf, app->addr_salt, 16);
    size_t n = strnlen(ip, sizeof ip);
    memcpy(buf + 16, ip, n);
    EVP_Digest(buf, 16 + n, md, &mdlen, EVP_sha256(), NULL);
    OPENSSL_cleanse(ip, sizeof ip);
    uint64_t k;
    memcpy(&k, md, sizeof k);
    return k;
}

void tdm_conn_open(struct tdm_app *app, struct tdm_conn *c, struct lws *wsi)
{
    memset(c, 0, sizeof *c);
    c->wsi = wsi;
    c->log_id = ++app->next_conn_log_id;
    c->last_activity = tdm_now_us();
    tdm_bucket_init(&c->bucket, app->cfg.limits.messages_per_second, app->cfg.limits.message_burst,
                    c->last_activity);
    conn_link(app, c);
    c->linked = true;
}

static void on_established(struct tdm_app *app, struct lws *wsi, struct tdm_conn *c)
{
    tdm_conn_open(app, c, wsi);
    lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, (int)app->cfg.limits.idle_timeout_s);
    c->addr_key = addr_key(app, wsi);
    if (tdm_keycount_inc(app->conns_per_addr, c->addr_key,
                         app->cfg.limits.max_connections_per_address) < 0) {
        tdm_log_limited(&app->bad_input_log, 20, c->last_activity, TDM_LOG_WARN,
                        "c%u: refused: too many connections from one address", c->log_id);
        struct tdm_proto_err e;
        tdm_proto_set(&e, "too_many_connections", NULL,
                      "too many connections from your network; try again later");
        tdm_conn_send_error(c, &e, NULL);
        tdm_mx_refused(TDM_MX_REFUSED_WS_PER_ADDRESS);
        tdm_conn_close(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, "too many connections");
    } else {
        c->addr_counted = true;
    }
    TDM_DEBUG("c%u: connected", c->log_id);
}

void tdm_conn_closed(struct tdm_app *app, struct tdm_conn *c)
{
    if (!c->linked)
        return;
    int64_t idle = tdm_now_us() - c->last_activity;
    const char *reason = idle >= (int64_t)app->cfg.limits.idle_timeout_s * 1000000 - 500000
                             ? "timeout"
                             : "disconnect";
    /* A socket that went without the page's goodbye: the participant waits as
     * "reconnecting" for its page to resume (signal_resume.c), or leaves as before. */
    if (c->participant && !tdm_away_begin(app, c))
        tdm_signal_leave_room(app, c, reason);
    if (c->lobby)
        tdm_lobby_leave(app, c);
    if (c->cluster_wait)
        tdm_cluster_conn_closed(app, c);
    outq_free(c);
    free(c->rx);
    c->rx = NULL;
    conn_unlink(app, c);
    if (c->addr_counted)
        tdm_keycount_dec(app->conns_per_addr, c->addr_key);
    TDM_DEBUG("c%u: closed (%s)", c->log_id, reason);
    c->wsi = NULL;
    c->linked = false;
    if (app->shutting_down && app->n_conns == 0)
        g_main_loop_quit(app->loop);
}

int tdm_signal_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                        size_t len)
{
    struct tdm_conn *c = user;
    switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: return on_filter(app_of(wsi), wsi);
    case LWS_CALLBACK_ESTABLISHED: on_established(app_of(wsi), wsi, c); return 0;
    case LWS_CALLBACK_RECEIVE: return on_receive(app_of(wsi), c, in, len);
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        /* The page closed on purpose (tab closed, left): no grace. 4000 is the page's "back
         * soon" (it gave up a connection that seemed dead and will resume). */
        c->peer_closed = !(len >= 2 && (((const uint8_t *)in)[0] << 8 | ((const uint8_t *)in)[1]) ==
                                           TDM_CLOSE_BACK_SOON);
        return 0;
    case LWS_CALLBACK_SERVER_WRITEABLE: return on_writable(c);
    case LWS_CALLBACK_CLOSED: tdm_conn_closed(app_of(wsi), c); return 0;
    default: return 0;
    }
}

void tdm_signal_close_all(struct tdm_app *app)
{
    for (struct tdm_conn *c = app->conns; c; c = c->next)
        tdm_conn_close(c, LWS_CLOSE_STATUS_GOINGAWAY, "server shutting down");
}
