/* The cluster's Redis connection (hiredis async on the control thread's GLib loop), its
 * time-outs, the heartbeat that keeps this node and its room leases alive, and the list of
 * live nodes (cluster.h says what Redis holds and what happens when it is away). */
#include "cluster_internal.h"
#include "app.h"
#include "metrics.h"

#include "tandem/err.h"
#include "tandem/util.h"

#include <errno.h>
#include <fcntl.h>
#include <hiredis/adapters/glib.h>
#include <hiredis/hiredis.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* SET this node's key, note its name, and list the live nodes (forgetting dead ones). */
static const char heartbeat_script[] = "redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])\n"
                                       "redis.call('SADD', KEYS[2], ARGV[1])\n"
                                       "local out = {}\n"
                                       "for _, n in ipairs(redis.call('SMEMBERS', KEYS[2])) do\n"
                                       "  local u = redis.call('GET', '" CL_PREFIX "node:' .. n)\n"
                                       "  if u then out[#out + 1] = n; out[#out + 1] = u\n"
                                       "  else redis.call('SREM', KEYS[2], n) end\n"
                                       "end\n"
                                       "return out\n";

/* Renews a room lease only while it is ours (or free again: Redis restarted, or the lease
 * lapsed while Redis was away and nobody took it). 1: ours; 0: another node holds it. */
const char tdm_cl_refresh_script[] =
    "local o = redis.call('GET', KEYS[1])\n"
    "if o and o ~= ARGV[1] and redis.call('EXISTS', '" CL_PREFIX "node:' .. o) == 1 then\n"
    "  return 0\n"
    "end\n"
    "redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])\n"
    "return 1\n";

static struct tdm_log_limiter cl_log;

/* ---- requests ---- */

struct cl_pending *tdm_cl_pending_new(struct tdm_cluster *cl, enum cl_kind kind)
{
    struct cl_pending *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->cl = cl;
    p->kind = kind;
    return p;
}

void tdm_cl_pending_free(struct cl_pending *p)
{
    struct tdm_cluster *cl = p->cl;
    if (p->sent_us) { /* linked */
        if (p->prev)
            p->prev->next = p->next;
        else
            cl->head = p->next;
        if (p->next)
            p->next->prev = p->prev;
        else
            cl->tail = p->prev;
        cl->n_pending--;
    }
    if (p->c && p->c->cluster_wait == p)
        p->c->cluster_wait = NULL;
    json_decref(p->id);
    free(p);
}

int tdm_cl_send(struct tdm_cluster *cl, struct cl_pending *p, redisCallbackFn *fn, int argc,
                const char **argv, const size_t *lens)
{
    if (!cl->ac || !cl->connected || cl->n_pending >= CL_MAX_PENDING ||
        redisAsyncCommandArgv(cl->ac, fn, p, argc, argv, lens) != REDIS_OK) {
        fn(cl->ac, NULL, p);
        return -1;
    }
    p->sent_us = tdm_now_us();
    p->prev = cl->tail;
    if (cl->tail)
        cl->tail->next = p;
    else
        cl->head = p;
    cl->tail = p;
    cl->n_pending++;
    return 0;
}

static void on_fire_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    struct cl_pending *p = privdata;
    redisReply *r = reply;
    if (r && r->type == REDIS_REPLY_ERROR)
        tdm_log_limited(&cl_log, 5, tdm_now_us(), TDM_LOG_WARN, "cluster: Redis said: %.120s",
                        r->str);
    tdm_cl_pending_free(p);
}

void tdm_cl_fire(struct tdm_cluster *cl, int argc, const char **argv, const size_t *lens)
{
    struct cl_pending *p = tdm_cl_pending_new(cl, CL_OTHER);
    if (p)
        tdm_cl_send(cl, p, on_fire_reply, argc, argv, lens);
}

void tdm_cl_room_key(const struct tdm_cluster *cl, const char *room, char out[CL_ROOM_KEY_MAX])
{
    uint8_t md[32];
    unsigned int len = 0;
    HMAC(EVP_sha256(), cl->room_key, sizeof cl->room_key, (const uint8_t *)room, strlen(room), md,
         &len);
    int n = snprintf(out, CL_ROOM_KEY_MAX, CL_PREFIX "room:");
    for (int i = 0; i < 16; i++) /* 128 bits: no two rooms meet by chance */
        n += snprintf(out + n, (size_t)(CL_ROOM_KEY_MAX - n), "%02x", md[i]);
}

void tdm_cl_ws_url(const char *https_url, char *out, size_t cap)
{
    snprintf(out, cap, "wss://%s/ws", https_url + strlen("https://"));
}

/* ---- the connection ---- */

/* hiredis is done with a source only after its callbacks return: destroy it later. */
static gboolean on_reap(gpointer data)
{
    struct tdm_cluster *cl = data;
    cl->reap_idle = 0;
    if (cl->dead_src) {
        g_source_destroy(cl->dead_src);
        g_source_unref(cl->dead_src);
        cl->dead_src = NULL;
    }
    return G_SOURCE_REMOVE;
}

static void let_go(struct tdm_cluster *cl)
{
    if (cl->dead_src)
        on_reap(cl);
    cl->dead_src = cl->src;
    cl->src = NULL;
    cl->ac = NULL;
    cl->connected = false;
    if (cl->dead_src && !cl->reap_idle)
        cl->reap_idle = g_idle_add(on_reap, cl);
}

/* Drops the connection from a timer (never from a hiredis callback): every waiting request
 * is answered NULL at once. */
static void drop(struct tdm_cluster *cl, const char *why)
{
    if (!cl->ac)
        return;
    redisAsyncContext *ac = cl->ac;
    GSource *src = cl->src;
    cl->ac = NULL;
    cl->src = NULL;
    cl->connected = false;
    tdm_mx_control.cluster_redis_lost += why != NULL;
    if (why)
        tdm_log_limited(&cl_log, 5, tdm_now_us(), TDM_LOG_WARN, "cluster: %s", why);
    redisAsyncFree(ac);
    if (src) {
        g_source_destroy(src);
        g_source_unref(src);
    }
}

static void on_auth_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    redisReply *r = reply;
    if (r && r->type == REDIS_REPLY_ERROR)
        tdm_log_limited(&cl_log, 5, tdm_now_us(), TDM_LOG_ERROR,
                        "cluster: Redis refused the password (cluster.password_file): %.80s",
                        r->str);
    tdm_cl_pending_free(privdata);
}

static void heartbeat(struct tdm_cluster *cl);

static void on_connect(const redisAsyncContext *ac, int status)
{
    struct tdm_cluster *cl = ac->data;
    if (cl->ac != ac)
        return;
    if (status != REDIS_OK) {
        tdm_log_limited(&cl_log, 5, tdm_now_us(), TDM_LOG_WARN,
                        "cluster: cannot reach Redis (%s); joins into rooms not held here wait "
                        "for it",
                        ac->errstr);
        let_go(cl);
        return;
    }
    cl->connected = true;
    TDM_INFO("cluster: connected to Redis as node %s", cl->name);
    if (cl->password[0]) {
        const char *argv[2] = {"AUTH", cl->password};
        size_t lens[2] = {4, strlen(cl->password)};
        struct cl_pending *p = tdm_cl_pending_new(cl, CL_OTHER);
        if (p)
            tdm_cl_send(cl, p, on_auth_reply, 2, argv, lens);
    }
    heartbeat(cl);
    tdm_cl_on_connected(cl);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    struct tdm_cluster *cl = ac->data;
    if (cl->ac != ac)
        return; /* our own drop() */
    tdm_log_limited(&cl_log, 5, tdm_now_us(), TDM_LOG_WARN, "cluster: lost Redis (%s)",
                    status == REDIS_OK ? "closed" : ac->errstr);
    tdm_mx_control.cluster_redis_lost++;
    let_go(cl);
}

static void connect_redis(struct tdm_cluster *cl)
{
    const char *where = cl->app->cfg.cluster_redis;
    redisAsyncContext *ac;
    if (strncmp(where, "unix:", 5) == 0) {
        ac = redisAsyncConnectUnix(where + 5);
    } else {
        char host[64];
        uint16_t port = 0;
        if (tdm_config_parse_hostport(where, host, sizeof host, &port) != 0)
            return; /* validated at start */
        ac = redisAsyncConnect(host, port);
    }
    if (!ac)
        return;
    if (ac->err) {
        tdm_log_limited(&cl_log, 5, tdm_now_us(), TDM_LOG_WARN, "cluster: cannot reach Redis (%s)",
                        ac->errstr);
        redisAsyncFree(ac);
        return;
    }
    ac->data = cl;
    cl->ac = ac;
    cl->src = redis_source_new(ac);
    g_source_attach(cl->src, g_main_loop_get_context(cl->app->loop));
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    cl->connect_started_us = tdm_now_us();
}

/* ---- heartbeat and the node list ---- */

static bool url_ok(const char *s, size_t len)
{
    if (len < 9 || len >= CL_URL_MAX || strncmp(s, "https://", 8) != 0)
        return false;
    for (size_t i = 8; i < len; i++)
        if (!g_ascii_isalnum(s[i]) && !strchr(".-:[]", s[i]))
            return false;
    return true;
}

static bool name_ok(const char *s, size_t len)
{
    if (len == 0 || len > TDM_CLUSTER_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!g_ascii_isalnum(s[i]) && !strchr("._-", s[i]))
            return false;
    return true;
}

static void remember(struct tdm_cluster *cl, const char *url)
{
    for (size_t i = 0; i < cl->n_known; i++)
        if (strcmp(cl->known[i], url) == 0)
            return;
    snprintf(cl->known[cl->next_known], CL_URL_MAX, "%s", url);
    cl->next_known = (cl->next_known + 1) % CL_MAX_KNOWN;
    if (cl->n_known < CL_MAX_KNOWN)
        cl->n_known++;
}

static void rebuild_csp(struct tdm_cluster *cl)
{
    size_t n = 0;
    cl->csp[0] = '\0';
    for (size_t i = 0; i < cl->n_nodes; i++) {
        char ws[CL_URL_MAX + 8];
        tdm_cl_ws_url(cl->nodes[i].url, ws, sizeof ws);
        ws[strlen(ws) - 3] = '\0'; /* the origin: no /ws */
        int w = snprintf(cl->csp + n, sizeof cl->csp - n, " %s %s", cl->nodes[i].url, ws);
        if (w < 0 || (size_t)w >= sizeof cl->csp - n)
            break;
        n += (size_t)w;
    }
}

static void on_heartbeat_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    struct cl_pending *p = privdata;
    struct tdm_cluster *cl = p->cl;
    redisReply *r = reply;
    if (r && r->type == REDIS_REPLY_ARRAY && !cl->stopping) {
        struct cl_node nodes[TDM_CLUSTER_MAX_NODES];
        size_t n = 0;
        memset(nodes, 0, sizeof nodes); /* compared whole below */
        for (size_t i = 0; i + 1 < r->elements && n < TDM_CLUSTER_MAX_NODES; i += 2) {
            redisReply *nm = r->element[i], *u = r->element[i + 1];
            if (nm->type != REDIS_REPLY_STRING || u->type != REDIS_REPLY_STRING ||
                !name_ok(nm->str, nm->len) || !url_ok(u->str, u->len))
                continue;
            memcpy(nodes[n].name, nm->str, nm->len + 1);
            memcpy(nodes[n].url, u->str, u->len + 1);
            remember(cl, nodes[n].url);
            n++;
        }
        if (n != cl->n_nodes || memcmp(nodes, cl->nodes, n * sizeof nodes[0]) != 0) {
            memcpy(cl->nodes, nodes, n * sizeof nodes[0]);
            cl->n_nodes = n;
            rebuild_csp(cl);
            tdm_app_headers_changed(cl->app);
            TDM_INFO("cluster: %zu live nodes", n);
        }
    } else if (r && r->type == REDIS_REPLY_ERROR) {
        tdm_log_limited(&cl_log, 5, tdm_now_us(), TDM_LOG_WARN, "cluster: heartbeat: %.120s",
                        r->str);
    }
    tdm_cl_pending_free(p);
}

static void on_refresh_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    struct cl_pending *p = privdata;
    struct tdm_cluster *cl = p->cl;
    redisReply *r = reply;
    struct cl_room *room = cl->stopping ? NULL : g_hash_table_lookup(cl->rooms, p->room);
    if (room && r && r->type == REDIS_REPLY_INTEGER) {
        if (r->integer == 1) {
            room->lease_until_us = p->sent_us + (int64_t)cl->app->cfg.cluster_ttl_ms * 1000;
        } else {
            /* Another node took it while we could not renew (Redis was away longer than
             * the lease): new joins go there; who is here stays until they leave. */
            TDM_WARN("cluster: r%u: another node holds this room now",
                     tdm_room_log_id(tdm_rooms_find(cl->app->rooms, p->room)));
            g_hash_table_remove(cl->rooms, p->room);
        }
    }
    tdm_cl_pending_free(p);
}

static void refresh_rooms(struct tdm_cluster *cl)
{
    GHashTableIter it;
    gpointer key, val;
    char ttl[16], rkey[CL_ROOM_KEY_MAX];
    snprintf(ttl, sizeof ttl, "%u", cl->app->cfg.cluster_ttl_ms);
    g_hash_table_iter_init(&it, cl->rooms);
    while (g_hash_table_iter_next(&it, &key, &val)) {
        if (!tdm_rooms_find(cl->app->rooms, key)) { /* closed without telling: gone */
            g_hash_table_iter_remove(&it);
            continue;
        }
        struct cl_pending *p = tdm_cl_pending_new(cl, CL_REFRESH);
        if (!p)
            return;
        snprintf(p->room, sizeof p->room, "%s", (const char *)key);
        tdm_cl_room_key(cl, key, rkey);
        const char *argv[] = {"EVAL", tdm_cl_refresh_script, "1", rkey, cl->name, ttl};
        size_t lens[] = {
            4, strlen(tdm_cl_refresh_script), 1, strlen(rkey), strlen(cl->name), strlen(ttl)};
        tdm_cl_send(cl, p, on_refresh_reply, 6, argv, lens);
    }
}

static void heartbeat(struct tdm_cluster *cl)
{
    char node_key[64], ttl[16];
    snprintf(node_key, sizeof node_key, CL_PREFIX "node:%s", cl->name);
    snprintf(ttl, sizeof ttl, "%u", cl->app->cfg.cluster_ttl_ms);
    const char *argv[] = {"EVAL",   heartbeat_script, "2", node_key, CL_PREFIX "nodes",
                          cl->name, cl->url,          ttl};
    size_t lens[8];
    for (int i = 0; i < 8; i++)
        lens[i] = strlen(argv[i]);
    struct cl_pending *p = tdm_cl_pending_new(cl, CL_HEARTBEAT);
    if (p)
        tdm_cl_send(cl, p, on_heartbeat_reply, 8, argv, lens);
    refresh_rooms(cl);
    tdm_cl_read_withdrawals(cl);
}

static gboolean on_beat(gpointer data)
{
    struct tdm_cluster *cl = data;
    if (!cl->ac)
        connect_redis(cl);
    else if (cl->connected)
        heartbeat(cl);
    return G_SOURCE_CONTINUE;
}

/* Redis that does not answer is Redis that is down: requests are not left waiting. */
static gboolean on_check(gpointer data)
{
    struct tdm_cluster *cl = data;
    int64_t now = tdm_now_us(), limit = (int64_t)cl->app->cfg.cluster_timeout_ms * 1000;
    if (cl->ac && !cl->connected && now - cl->connect_started_us > limit)
        drop(cl, "cannot reach Redis (connecting timed out)");
    else if (cl->head && now - cl->head->sent_us > limit)
        drop(cl, "Redis did not answer in time; connecting again");
    return G_SOURCE_CONTINUE;
}

/* ---- start, stop, configuration ---- */

int tdm_cluster_read_password(const char *path, char *out, size_t cap, char *err, size_t errlen)
{
    out[0] = '\0';
    if (!path[0])
        return 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return tdm_seterr(err, errlen, TDM_EIO, "cluster.password_file %s: %s", path,
                          strerror(errno));
    ssize_t n = read(fd, out, cap - 1);
    close(fd);
    if (n < 0)
        return tdm_seterr(err, errlen, TDM_EIO, "cluster.password_file %s: %s", path,
                          strerror(errno));
    while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r'))
        n--;
    out[n] = '\0';
    if (n == 0 || (size_t)n >= cap - 1 || strlen(out) != (size_t)n)
        return tdm_seterr(err, errlen, TDM_EINVAL,
                          "cluster.password_file %s: one line of 1 to %zu bytes expected", path,
                          cap - 2);
    return 0;
}

int tdm_cluster_probe(const struct tdm_config *cfg, char *err, size_t errlen)
{
    char pw[CL_PASSWORD_MAX + 1], host[64];
    uint16_t port = 0;
    int rc = tdm_cluster_read_password(cfg->cluster_password_file, pw, sizeof pw, err, errlen);
    if (rc)
        return rc;
    struct timeval tv = {cfg->cluster_timeout_ms / 1000, (cfg->cluster_timeout_ms % 1000) * 1000};
    redisContext *c = NULL;
    if (strncmp(cfg->cluster_redis, "unix:", 5) == 0)
        c = redisConnectUnixWithTimeout(cfg->cluster_redis + 5, tv);
    else if (tdm_config_parse_hostport(cfg->cluster_redis, host, sizeof host, &port) == 0)
        c = redisConnectWithTimeout(host, port, tv);
    if (!c || c->err) {
        rc = tdm_seterr(err, errlen, TDM_EIO, "cluster.redis %s: cannot connect (%s)",
                        cfg->cluster_redis, c ? c->errstr : "out of memory");
        goto out;
    }
    redisSetTimeout(c, tv);
    redisReply *r = pw[0] ? redisCommand(c, "AUTH %s", pw) : NULL;
    if (pw[0] && (!r || r->type == REDIS_REPLY_ERROR)) {
        rc = tdm_seterr(err, errlen, TDM_EIO, "cluster.redis %s: the password was refused (%s)",
                        cfg->cluster_redis, r ? r->str : c->errstr);
        freeReplyObject(r);
        goto out;
    }
    freeReplyObject(r);
    r = redisCommand(c, "PING");
    if (!r || r->type == REDIS_REPLY_ERROR)
        rc = tdm_seterr(err, errlen, TDM_EIO, "cluster.redis %s: PING failed (%s)",
                        cfg->cluster_redis, r ? r->str : c->errstr);
    freeReplyObject(r);
out:
    if (c)
        redisFree(c);
    OPENSSL_cleanse(pw, sizeof pw);
    return rc;
}

int tdm_cluster_start(struct tdm_app *app)
{
    if (!app->cfg.cluster_redis[0])
        return 0;
    char err[TDM_CONFIG_PATH_MAX + 128];
    struct tdm_cluster *cl = calloc(1, sizeof *cl);
    if (!cl)
        return TDM_ENOMEM;
    cl->app = app;
    if (tdm_cluster_read_password(app->cfg.cluster_password_file, cl->password, sizeof cl->password,
                                  err, sizeof err)) {
        TDM_ERROR("%s", err);
        free(cl);
        return TDM_EINVAL;
    }
    tdm_config_cluster_name(&app->cfg, cl->name);
    snprintf(cl->url, sizeof cl->url, "%s", app->cfg.cluster_node_url);
    static const char label[] = "tandem cluster room names";
    unsigned int len = 0;
    HMAC(EVP_sha256(), app->invite_key, sizeof app->invite_key, (const uint8_t *)label,
         sizeof label - 1, cl->room_key, &len);
    cl->rooms = g_hash_table_new_full(g_str_hash, g_str_equal, free, free);
    snprintf(cl->rev_seen, sizeof cl->rev_seen, "0");
    app->cluster = cl;
    connect_redis(cl);
    cl->beat_timer = g_timeout_add(app->cfg.cluster_heartbeat_ms, on_beat, cl);
    guint every = app->cfg.cluster_timeout_ms / 4;
    cl->check_timer = g_timeout_add(every < 10 ? 10 : every, on_check, cl);
    TDM_INFO("cluster: node %s (%s), Redis at %s, lease %u ms", cl->name, cl->url,
             app->cfg.cluster_redis, app->cfg.cluster_ttl_ms);
    return 0;
}

void tdm_cluster_stop(struct tdm_app *app)
{
    struct tdm_cluster *cl = app->cluster;
    if (!cl)
        return;
    cl->stopping = true;
    if (cl->beat_timer)
        g_source_remove(cl->beat_timer);
    if (cl->check_timer)
        g_source_remove(cl->check_timer);
    drop(cl, NULL); /* the waiting requests are answered (and freed) here */
    if (cl->reap_idle)
        g_source_remove(cl->reap_idle);
    cl->reap_idle = 0;
    on_reap(cl);
    while (cl->head)
        tdm_cl_pending_free(cl->head);
    g_hash_table_destroy(cl->rooms);
    OPENSSL_cleanse(cl->password, sizeof cl->password);
    OPENSSL_cleanse(cl->room_key, sizeof cl->room_key);
    free(cl);
    app->cluster = NULL;
}

/* ---- what the pages see ---- */

void tdm_cluster_add_to(struct tdm_app *app, json_t *welcome)
{
    struct tdm_cluster *cl = app->cluster;
    if (!cl || !welcome)
        return;
    json_t *nodes = json_array();
    char ws[CL_URL_MAX + 8];
    for (size_t i = 0; i < cl->n_nodes; i++) {
        tdm_cl_ws_url(cl->nodes[i].url, ws, sizeof ws);
        json_array_append_new(nodes, json_string(ws));
    }
    json_object_set_new(welcome, "nodes", nodes);
}

bool tdm_cluster_origin_ok(const struct tdm_app *app, const char *origin)
{
    const struct tdm_cluster *cl = app->cluster;
    if (!cl)
        return false;
    if (strcmp(origin, app->cfg.public_url) == 0 || strcmp(origin, cl->url) == 0)
        return true;
    for (size_t i = 0; i < cl->n_known; i++)
        if (strcmp(origin, cl->known[i]) == 0)
            return true;
    return false;
}

const char *tdm_cluster_csp_sources(const struct tdm_app *app)
{
    return app->cluster ? app->cluster->csp : "";
}
