/* tandem-load: signaling as a page does it (docs/protocol.md): WSS with subprotocol
 * tandem.v1, join (with an invite token), the pub offer after welcome (or, for a receiver
 * that publishes nothing, media.receive_only), the server's sub
 * offers answered with their rev, pings. libwebsockets client on the shard's glib loop. */
#include <jansson.h>
#include <libwebsockets.h>
#include <openssl/ssl.h>
#include <stdlib.h>
#include <string.h>

#include "load.h"
#include "tandem/util.h"

#define RX_MAX (256 * 1024)
#define SDP_CAP 65536
#define PING_US 10000000

static void say(struct ld_part *p, const char *fmt, const char *a, const char *b)
{
    if (!p->sh->g->o.quiet) {
        g_printerr("tandem-load: %s: ", p->name);
        g_printerr(fmt, a, b);
        g_printerr("\n");
    }
}

void ld_sig_send(struct ld_part *p, char *json)
{
    if (!json)
        return;
    if (!p->wsi || p->outq_n >= LD_OUTQ) {
        say(p, "signaling queue full or closed, %s%s dropped", "message", "");
        free(json);
        return;
    }
    p->outq[p->outq_n++] = json;
    lws_callback_on_writable(p->wsi);
}

static void send_obj(struct ld_part *p, json_t *o)
{
    ld_sig_send(p, json_dumps(o, JSON_COMPACT));
    json_decref(o);
}

static void send_join(struct ld_part *p)
{
    json_t *o = json_pack("{s:s, s:i, s:s, s:s, s:s}", "type", "join", "id", 1, "room", p->room,
                          "name", p->name, "role", "mentee");
    if (p->token[0])
        json_object_set_new(o, "token", json_string(p->token));
    send_obj(p, o);
}

static void send_pub_offer(struct ld_part *p)
{
    struct ld_conn *c = &p->pub;
    if (ld_conn_open(c, p, false) != 0) {
        say(p, "cannot make the pub connection%s%s", "", "");
        c->failed = true;
        return;
    }
    gchar *ufrag = NULL, *pwd = NULL;
    nice_agent_get_local_credentials(c->agent, c->stream, &ufrag, &pwd);
    char *sdp = malloc(SDP_CAP);
    bool video = p->sends && !p->sh->g->o.audio_only;
    int n = sdp && ufrag && pwd ? ld_sdp_pub_offer(sdp, SDP_CAP, ufrag, pwd, p->sh->g->fingerprint,
                                                   p, video, p->sends)
                                : TDM_ENOMEM;
    if (n > 0) {
        p->pub_offer_id = ++p->next_id + 100;
        send_obj(p, json_pack("{s:s, s:I, s:s, s:s}", "type", "offer", "id",
                              (json_int_t)p->pub_offer_id, "pc", "pub", "sdp", sdp));
        p->offered = true;
    }
    free(sdp);
    g_free(ufrag);
    g_free(pwd);
}

/* A receiver that publishes nothing asks for its sub offers without a pub connection
 * (docs/protocol.md "media.receive_only"); a server without it answers unknown_type, and
 * the idle pub offer follows then (on_error). */
static void start_media(struct ld_part *p)
{
    if (p->sends || p->sh->g->o.idle_pub) {
        send_pub_offer(p);
        return;
    }
    p->recv_only_id = ++p->next_id + 100;
    send_obj(p, json_pack("{s:s, s:I}", "type", "media.receive_only", "id",
                          (json_int_t)p->recv_only_id));
}

static void on_error(struct ld_part *p, json_t *m)
{
    const char *code = json_string_value(json_object_get(m, "code"));
    const char *msg = json_string_value(json_object_get(m, "message"));
    json_t *ref = json_object_get(m, "ref");
    if (p->recv_only_id && json_is_integer(ref) && json_integer_value(ref) == p->recv_only_id &&
        code && strcmp(code, "unknown_type") == 0 && !p->offered) {
        p->recv_only_id = 0;
        send_pub_offer(p); /* an older server */
        return;
    }
    say(p, "server error %s: %s", code ? code : "?", msg ? msg : "");
}

static void on_answer(struct ld_part *p, const char *sdp)
{
    struct ld_sdp_info *info = g_new0(struct ld_sdp_info, 1);
    if (ld_sdp_scan(sdp, info) != 0 || ld_conn_remote(&p->pub, info) != 0)
        say(p, "unusable pub answer%s%s", "", "");
    g_free(info);
}

static void on_sub_offer(struct ld_part *p, const char *sdp, json_int_t rev)
{
    struct ld_conn *c = &p->sub;
    struct ld_sdp_info *info = g_new0(struct ld_sdp_info, 1);
    char *ans = malloc(SDP_CAP);
    gchar *ufrag = NULL, *pwd = NULL;
    if (!c->agent && ld_conn_open(c, p, true) != 0) {
        say(p, "cannot make the sub connection%s%s", "", "");
        goto out;
    }
    if (!ans || ld_sdp_scan(sdp, info) != 0)
        goto out;
    c->audio_pt = info->audio_pt;
    c->video_pt = info->video_pt;
    if (ld_conn_remote(c, info) != 0) {
        say(p, "unusable sub offer%s%s", "", "");
        goto out;
    }
    nice_agent_get_local_credentials(c->agent, c->stream, &ufrag, &pwd);
    if (ufrag && pwd && ld_sdp_sub_answer(ans, SDP_CAP, sdp, ufrag, pwd, p->sh->g->fingerprint) > 0)
        send_obj(p, json_pack("{s:s, s:s, s:s, s:I}", "type", "answer", "pc", "sub", "sdp", ans,
                              "rev", rev));
out:
    g_free(ufrag);
    g_free(pwd);
    free(ans);
    g_free(info);
}

static void on_message(struct ld_part *p, const char *text, size_t len)
{
    json_error_t jerr;
    json_t *m = json_loadb(text, len, 0, &jerr);
    const char *type = m ? json_string_value(json_object_get(m, "type")) : NULL;
    const char *pc = json_string_value(json_object_get(m, "pc"));
    const char *sdp = json_string_value(json_object_get(m, "sdp"));
    if (!type) {
        say(p, "unreadable message from the server%s%s", "", "");
    } else if (strcmp(type, "welcome") == 0) {
        const char *id = json_string_value(json_object_get(json_object_get(m, "you"), "id"));
        snprintf(p->id, sizeof p->id, "%s", id ? id : "");
        p->welcomed = true;
        g_mutex_lock(&p->sh->lock);
        p->sh->st.joined++;
        g_mutex_unlock(&p->sh->lock);
        start_media(p);
    } else if (strcmp(type, "answer") == 0 && pc && strcmp(pc, "pub") == 0 && sdp) {
        on_answer(p, sdp);
    } else if (strcmp(type, "offer") == 0 && pc && strcmp(pc, "sub") == 0 && sdp) {
        on_sub_offer(p, sdp, json_integer_value(json_object_get(m, "rev")));
    } else if (strcmp(type, "error") == 0) {
        on_error(p, m);
    }
    json_decref(m);
}

static int on_receive(struct ld_part *p, struct lws *wsi, const void *in, size_t len)
{
    if (p->rxlen + len > RX_MAX) {
        say(p, "message from the server over %s%s", "256 KiB", "");
        return -1;
    }
    char *nb = realloc(p->rxbuf, p->rxlen + len + 1);
    if (!nb)
        return -1;
    p->rxbuf = nb;
    memcpy(p->rxbuf + p->rxlen, in, len);
    p->rxlen += len;
    if (lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0) {
        on_message(p, p->rxbuf, p->rxlen);
        p->rxlen = 0;
    }
    return 0;
}

static int on_writable(struct ld_part *p, struct lws *wsi)
{
    if (p->outq_n == 0)
        return 0;
    char *msg = p->outq[0];
    size_t n = strlen(msg);
    unsigned char *b = malloc(LWS_PRE + n);
    if (!b)
        return -1;
    memcpy(b + LWS_PRE, msg, n);
    int w = lws_write(wsi, b + LWS_PRE, n, LWS_WRITE_TEXT);
    free(b);
    free(msg);
    memmove(p->outq, p->outq + 1, (size_t)(--p->outq_n) * sizeof p->outq[0]);
    if (p->outq_n > 0)
        lws_callback_on_writable(wsi);
    return w < (int)n ? -1 : 0;
}

void ld_sig_forget(struct ld_part *p)
{
    for (int i = 0; i < p->outq_n; i++)
        free(p->outq[i]);
    p->outq_n = 0;
    free(p->rxbuf);
    p->rxbuf = NULL;
    p->rxlen = 0;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    struct ld_part *p = lws_get_opaque_user_data(wsi);
    switch (reason) {
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        p->ws_up = true;
        send_join(p);
        return 0;
    case LWS_CALLBACK_CLIENT_RECEIVE: return on_receive(p, wsi, in, len);
    case LWS_CALLBACK_CLIENT_WRITEABLE: return on_writable(p, wsi);
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        say(p, "cannot connect: %s%s", in ? (const char *)in : "", "");
        /* fall through */
    case LWS_CALLBACK_CLIENT_CLOSED:
        if (p) {
            if (!p->closing && reason == LWS_CALLBACK_CLIENT_CLOSED)
                say(p, "the server closed the signaling connection%s%s", "", "");
            p->wsi = NULL;
            p->ws_up = false;
            ld_sig_forget(p);
        }
        return 0;
    default: return 0;
    }
}

static const struct lws_protocols protocols[] = {
    {"tandem.v1", callback, 0, RX_MAX, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* Called from the main thread for every shard before any shard runs. Each context does
 * lws's global TLS set-up (without it lws makes no client TLS at all), which allocates anew
 * the SSL ex_data index lws finds a connection by: so no connection may start before the
 * last context is made (OpenSSL and lws then agree on one index). Every context uses the
 * one client SSL_CTX made here (lws's own, one per context, leaked its CA store when a
 * second context existed). The server's certificate is not verified: this is a load tool
 * for one's own server, usually with a self-signed test certificate. */
int ld_sig_start(struct ld_shard *sh)
{
    static SSL_CTX *client_ctx;
    if (!client_ctx) {
        client_ctx = SSL_CTX_new(TLS_client_method());
        if (!client_ctx)
            return TDM_ECRYPTO;
        SSL_CTX_set_min_proto_version(client_ctx, TLS1_2_VERSION);
        SSL_CTX_set_verify(client_ctx, SSL_VERIFY_NONE, NULL);
    }
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    void *loops[1] = {sh->loop};
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    info.options = LWS_SERVER_OPTION_GLIB | LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    info.foreign_loops = loops;
    info.provided_client_ssl_ctx = client_ctx;
    info.fd_limit_per_thread = 0;
    sh->lws = lws_create_context(&info);
    return sh->lws ? 0 : TDM_EIO;
}

void ld_sig_connect(struct ld_part *p)
{
    const struct ld_opts *o = &p->sh->g->o;
    struct lws_client_connect_info i;
    memset(&i, 0, sizeof i);
    i.context = p->sh->lws;
    i.address = o->host;
    i.port = o->port;
    i.path = o->path;
    i.host = o->host;
    i.origin = o->host;
    i.protocol = "tandem.v1";
    i.ssl_connection = LCCSCF_USE_SSL | LCCSCF_ALLOW_SELFSIGNED |
                       LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK | LCCSCF_ALLOW_EXPIRED;
    i.opaque_user_data = p;
    i.pwsi = &p->wsi;
    if (!lws_client_connect_via_info(&i))
        say(p, "cannot start the signaling connection%s%s", "", "");
}

void ld_sig_tick(struct ld_part *p, int64_t now)
{
    if (!p->ws_up || now - p->last_ping_us < PING_US)
        return;
    p->last_ping_us = now;
    send_obj(p, json_pack("{s:s}", "type", "ping"));
}
