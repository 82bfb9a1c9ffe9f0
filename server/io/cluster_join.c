/* Joins through the room directory, and the invite ledger shared by every node: one Lua
 * script per join routes it (the room's live node, if another), checks the link's withdrawal
 * and use count, counts the use and claims the room, atomically (cluster.h). */
#include "cluster_internal.h"
#include "app.h"
#include "metrics.h"

#include "tandem/err.h"
#include "tandem/util.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* KEYS: room, link uses, link withdrawn, person taken out.
 * ARGV: this node, lease ms, the link's use limit, count a use (1/0), the link's expiry (Unix
 * ms), check the person (1/0). */
static const char join_script[] =
    "local o = redis.call('GET', KEYS[1])\n"
    "if o and o ~= ARGV[1] then\n"
    "  local u = redis.call('GET', '" CL_PREFIX "node:' .. o)\n"
    "  if u then return {'moved', u} end\n"
    "end\n"
    "if redis.call('EXISTS', KEYS[3]) == 1 then return {'revoked'} end\n"
    "if ARGV[6] == '1' and redis.call('EXISTS', KEYS[4]) == 1 then return {'out'} end\n"
    "if ARGV[4] == '1' then\n"
    "  local n = tonumber(redis.call('GET', KEYS[2]) or '0')\n"
    "  if n >= tonumber(ARGV[3]) then return {'used'} end\n"
    "  redis.call('INCR', KEYS[2])\n"
    "  redis.call('PEXPIREAT', KEYS[2], ARGV[5])\n"
    "end\n"
    "redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])\n"
    "return {'ok'}\n";

/* The join script's refusals without routing, claiming or counting (invite.check).
 * KEYS: link uses, link withdrawn, person taken out. ARGV: the use limit (0: not counted),
 * check the person (1/0). */
static const char check_script[] =
    "if redis.call('EXISTS', KEYS[2]) == 1 then return 'revoked' end\n"
    "if ARGV[2] == '1' and redis.call('EXISTS', KEYS[3]) == 1 then return 'out' end\n"
    "if ARGV[1] ~= '0' and tonumber(redis.call('GET', KEYS[1]) or '0') >= tonumber(ARGV[1]) then\n"
    "  return 'used'\n"
    "end\n"
    "return 'ok'\n";

/* Raises a link's use count to what this node's ledger saw (Redis restarted empty, or was
 * away while the node let people in on its own ledger). */
static const char raise_script[] =
    "local n = tonumber(redis.call('GET', KEYS[1]) or '0')\n"
    "if n < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1], 'PXAT', ARGV[2]) end\n"
    "return 0\n";

/* Deletes a room's entry only while it is ours. */
static const char release_script[] =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end\n"
    "return 0\n";

static void id_key(const char *kind, const uint8_t id[TDM_INVITE_ID_LEN], char *out, size_t cap)
{
    char text[TDM_INVITE_ID_TEXT];
    tdm_invite_id_text(id, text);
    snprintf(out, cap, CL_PREFIX "%s:%s", kind, text);
}

static bool counts_use(const struct tdm_join_req *req)
{
    return !req->by_pass && req->inv.expires_s != 0 && req->inv.uses != 0;
}

/* Redis could not answer: the room's own node goes on alone while its lease holds. */
static void join_without_redis(struct tdm_cluster *cl, struct cl_pending *p)
{
    struct cl_room *room = g_hash_table_lookup(cl->rooms, p->req.room);
    if (room && room->lease_until_us > tdm_now_us() && !counts_use(&p->req)) {
        tdm_join_routed(cl->app, p->c, &p->req, p->id, false);
        return;
    }
    tdm_mx_control.cluster_unavailable++;
    struct tdm_proto_err e;
    tdm_proto_set(&e, "unavailable", NULL, "the server cannot take this room just now; try again");
    tdm_conn_send_error(p->c, &e, p->id);
}

static void send_moved(struct tdm_cluster *cl, struct cl_pending *p, const redisReply *u)
{
    char ws[CL_URL_MAX + 8];
    bool ok = u->type == REDIS_REPLY_STRING && u->len > 8 && u->len < CL_URL_MAX &&
              strncmp(u->str, "https://", 8) == 0 && strcmp(u->str, cl->url) != 0;
    for (size_t i = 8; ok && i < u->len; i++)
        ok = g_ascii_isalnum(u->str[i]) || strchr(".-:[]", u->str[i]);
    if (!ok) { /* a node saying our own address, or garbage: not followed */
        join_without_redis(cl, p);
        return;
    }
    tdm_cl_ws_url(u->str, ws, sizeof ws);
    tdm_mx_control.cluster_moved++;
    json_t *m = json_pack("{s:s, s:s}", "type", "moved", "url", ws);
    if (m && p->id)
        json_object_set(m, "ref", p->id);
    tdm_conn_send(p->c, m);
    /* the page opens its next connection there; this one has nothing more to do */
    tdm_conn_close(p->c, LWS_CLOSE_STATUS_NORMAL, "moved");
}

/* The error join (and invite.check) give for the shared ledger's verdict what, or false. */
static bool refusal(const char *what, const struct tdm_join_req *req, struct tdm_proto_err *e)
{
    const char *field = req->by_pass ? "pass" : "token";
    if (strcmp(what, "revoked") == 0)
        tdm_proto_set(e, "invite_revoked", field, "this invite link was withdrawn");
    else if (strcmp(what, "used") == 0 || strcmp(what, "out") == 0)
        tdm_proto_set(e, "invite_used", field, "this invite link has already been used");
    else
        return false;
    return true;
}

static void on_join_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    struct cl_pending *p = privdata;
    struct tdm_cluster *cl = p->cl;
    redisReply *r = reply;
    if (cl->stopping || !p->c) {
        tdm_cl_pending_free(p);
        return;
    }
    p->c->cluster_wait = NULL;
    const char *what = r && r->type == REDIS_REPLY_ARRAY && r->elements >= 1 &&
                               r->element[0]->type == REDIS_REPLY_STRING
                           ? r->element[0]->str
                           : "";
    struct tdm_proto_err e = {0};
    if (strcmp(what, "ok") == 0) {
        struct cl_room *room = g_hash_table_lookup(cl->rooms, p->req.room);
        if (!room && (room = calloc(1, sizeof *room)) != NULL)
            g_hash_table_insert(cl->rooms, strdup(p->req.room), room);
        if (room)
            room->lease_until_us = p->sent_us + (int64_t)cl->app->cfg.cluster_ttl_ms * 1000;
        tdm_join_routed(cl->app, p->c, &p->req, p->id, counts_use(&p->req));
    } else if (strcmp(what, "moved") == 0 && r->elements == 2) {
        send_moved(cl, p, r->element[1]);
    } else if (refusal(what, &p->req, &e)) {
        tdm_mx_message_refused("join", e.code);
    } else {
        if (r && r->type == REDIS_REPLY_ERROR)
            TDM_WARN("cluster: join script: %.120s", r->str);
        join_without_redis(cl, p);
    }
    if (e.code)
        tdm_conn_send_error(p->c, &e, p->id);
    tdm_cl_pending_free(p);
}

void tdm_cluster_join(struct tdm_app *app, struct tdm_conn *c, const struct tdm_join_req *req,
                      json_t *id)
{
    struct tdm_cluster *cl = app->cluster;
    struct cl_pending *p = tdm_cl_pending_new(cl, CL_JOIN);
    if (!p) {
        struct tdm_proto_err e;
        tdm_proto_set(&e, "internal", NULL, "out of memory");
        tdm_conn_send_error(c, &e, id);
        return;
    }
    if (c->cluster_wait) /* an invite.check still waiting: its answer is dropped */
        c->cluster_wait->c = NULL;
    p->c = c;
    p->req = *req;
    p->id = json_incref(id);
    c->cluster_wait = p;
    char room[CL_ROOM_KEY_MAX], use[64] = CL_PREFIX "none", rev[64] = CL_PREFIX "none",
                                out[64] = CL_PREFIX "none", ttl[16], limit[8], until[24];
    tdm_cl_room_key(cl, req->room, room);
    if (req->inv.expires_s != 0) {
        id_key("use", req->inv.id, use, sizeof use);
        id_key("rev", req->inv.id, rev, sizeof rev);
    }
    if (req->by_pass)
        id_key("rev", req->person, out, sizeof out);
    snprintf(ttl, sizeof ttl, "%u", app->cfg.cluster_ttl_ms);
    snprintf(limit, sizeof limit, "%u", (unsigned)req->inv.uses);
    snprintf(until, sizeof until, "%lld", (long long)req->inv.expires_s * 1000);
    const char *argv[] = {"EVAL",
                          join_script,
                          "4",
                          room,
                          use,
                          rev,
                          out,
                          cl->name,
                          ttl,
                          limit,
                          counts_use(req) ? "1" : "0",
                          until,
                          req->by_pass ? "1" : "0"};
    size_t lens[13];
    for (int i = 0; i < 13; i++)
        lens[i] = strlen(argv[i]);
    tdm_cl_send(cl, p, on_join_reply, 13, argv, lens);
}

static void on_check_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    struct cl_pending *p = privdata;
    redisReply *r = reply;
    if (p->cl->stopping || !p->c) {
        tdm_cl_pending_free(p);
        return;
    }
    p->c->cluster_wait = NULL;
    struct tdm_proto_err e = {0};
    if (r && r->type == REDIS_REPLY_STRING && refusal(r->str, &p->req, &e)) {
        tdm_mx_message_refused("invite.check", e.code);
        tdm_conn_send_error(p->c, &e, p->id);
    } else { /* ok, or Redis could not say: the node's own checks passed */
        json_t *ok =
            json_pack("{s:s, s:s, s:I}", "type", "invite.ok", "role", tdm_role_name(p->req.role),
                      "expires_s", (json_int_t)p->req.inv.expires_s);
        if (ok && p->id)
            json_object_set(ok, "ref", p->id);
        tdm_conn_send(p->c, ok);
    }
    tdm_cl_pending_free(p);
}

void tdm_cluster_check(struct tdm_app *app, struct tdm_conn *c, const struct tdm_join_req *req,
                       json_t *id)
{
    struct cl_pending *p = tdm_cl_pending_new(app->cluster, CL_CHECK);
    if (!p) {
        struct tdm_proto_err e;
        tdm_proto_set(&e, "internal", NULL, "out of memory");
        tdm_conn_send_error(c, &e, id);
        return;
    }
    if (c->cluster_wait) /* an earlier check on this connection: its answer is dropped */
        c->cluster_wait->c = NULL;
    p->c = c;
    p->req = *req;
    p->id = json_incref(id);
    c->cluster_wait = p;
    char use[64], rev[64], out[64] = CL_PREFIX "none", limit[8];
    id_key("use", req->inv.id, use, sizeof use);
    id_key("rev", req->inv.id, rev, sizeof rev);
    if (req->by_pass)
        id_key("rev", req->person, out, sizeof out);
    snprintf(limit, sizeof limit, "%u", counts_use(req) ? (unsigned)req->inv.uses : 0u);
    const char *argv[] = {"EVAL", check_script, "3",   use,
                          rev,    out,          limit, req->by_pass ? "1" : "0"};
    size_t lens[8];
    for (int i = 0; i < 8; i++)
        lens[i] = strlen(argv[i]);
    tdm_cl_send(app->cluster, p, on_check_reply, 8, argv, lens);
}

bool tdm_cluster_joining(const struct tdm_conn *c)
{
    return c->cluster_wait && c->cluster_wait->kind == CL_JOIN;
}

void tdm_cluster_conn_closed(struct tdm_app *app, struct tdm_conn *c)
{
    struct cl_pending *p = c->cluster_wait;
    if (p)
        p->c = NULL;
    c->cluster_wait = NULL;
}

void tdm_cluster_refund(struct tdm_app *app, const struct tdm_invite *inv)
{
    if (!app->cluster || inv->expires_s == 0 || inv->uses == 0)
        return;
    char use[64];
    id_key("use", inv->id, use, sizeof use);
    const char *argv[] = {"DECR", use};
    size_t lens[] = {4, strlen(use)};
    tdm_cl_fire(app->cluster, 2, argv, lens);
}

void tdm_cluster_room_closed(struct tdm_app *app, const char *room_id)
{
    struct tdm_cluster *cl = app->cluster;
    if (!cl || !g_hash_table_remove(cl->rooms, room_id))
        return;
    char room[CL_ROOM_KEY_MAX];
    tdm_cl_room_key(cl, room_id, room);
    const char *argv[] = {"EVAL", release_script, "1", room, cl->name};
    size_t lens[] = {4, strlen(release_script), 1, strlen(room), strlen(cl->name)};
    tdm_cl_fire(cl, 5, argv, lens);
}

static void publish_withdrawal(struct tdm_app *app, const uint8_t id[TDM_INVITE_ID_LEN],
                               int64_t expires_s, bool announce)
{
    char rev[64], until[24];
    id_key("rev", id, rev, sizeof rev);
    /* INT64_MAX ("for ever"): a year is for ever enough for a link id nobody can guess */
    int64_t now_s = tdm_wall_us() / 1000000;
    if (expires_s > now_s + 366 * 86400)
        expires_s = now_s + 366 * 86400;
    snprintf(until, sizeof until, "%lld", (long long)expires_s * 1000);
    const char *argv[] = {"SET", rev, "1", "PXAT", until};
    size_t lens[5];
    for (int i = 0; i < 5; i++)
        lens[i] = strlen(argv[i]);
    tdm_cl_fire(app->cluster, 5, argv, lens);
    if (!announce)
        return;
    /* ...and the other nodes' ledgers learn it (console links, passes, listings) */
    char text[TDM_INVITE_ID_TEXT], secs[24];
    tdm_invite_id_text(id, text);
    snprintf(secs, sizeof secs, "%lld", (long long)expires_s);
    const char *xadd[] = {
        "XADD", CL_PREFIX "withdrawals", "MAXLEN", "~", "100000", "*", "id", text, "until", secs};
    size_t xlens[10];
    for (int i = 0; i < 10; i++)
        xlens[i] = strlen(xadd[i]);
    tdm_cl_fire(app->cluster, 10, xadd, xlens);
}

void tdm_cluster_revoke(struct tdm_app *app, const uint8_t id[TDM_INVITE_ID_LEN], int64_t expires_s)
{
    if (app->cluster)
        publish_withdrawal(app, id, expires_s, true);
}

/* One stream entry: ["<entry id>", ["id", "<base64url>", "until", "<unix s>"]]. */
static void learn_entry(struct tdm_cluster *cl, const redisReply *e)
{
    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
        e->element[0]->type != REDIS_REPLY_STRING || e->element[0]->len >= sizeof cl->rev_seen)
        return;
    memcpy(cl->rev_seen, e->element[0]->str, e->element[0]->len + 1);
    const redisReply *f = e->element[1];
    uint8_t id[TDM_INVITE_ID_LEN];
    long long until = 0;
    bool have_id = false;
    for (size_t i = 0; f->type == REDIS_REPLY_ARRAY && i + 1 < f->elements; i += 2) {
        const redisReply *k = f->element[i], *v = f->element[i + 1];
        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
            continue;
        if (strcmp(k->str, "id") == 0)
            have_id = tdm_invite_id_parse(v->str, v->len, id) == 0;
        else if (strcmp(k->str, "until") == 0 && v->len < 20)
            until = strtoll(v->str, NULL, 10);
    }
    if (have_id && until > tdm_wall_us() / 1000000 &&
        tdm_invites_learn_withdrawal(cl->app, id, until) != 0)
        TDM_WARN("cluster: invite ledger full: a withdrawal made on another node is not kept");
}

static void on_withdrawals(redisAsyncContext *ac, void *reply, void *privdata)
{
    struct cl_pending *p = privdata;
    struct tdm_cluster *cl = p->cl;
    redisReply *r = reply;
    cl->rev_reading = false;
    /* [[stream name, [entry, ...]]], or nil when nothing is new */
    if (!cl->stopping && r && r->type == REDIS_REPLY_ARRAY && r->elements == 1 &&
        r->element[0]->type == REDIS_REPLY_ARRAY && r->element[0]->elements == 2) {
        const redisReply *entries = r->element[0]->element[1];
        for (size_t i = 0; entries->type == REDIS_REPLY_ARRAY && i < entries->elements; i++)
            learn_entry(cl, entries->element[i]);
    }
    tdm_cl_pending_free(p);
}

void tdm_cl_read_withdrawals(struct tdm_cluster *cl)
{
    if (cl->rev_reading)
        return;
    struct cl_pending *p = tdm_cl_pending_new(cl, CL_OTHER);
    if (!p)
        return;
    cl->rev_reading = true;
    /* bounded per heartbeat: a node starting late catches up over a few */
    const char *argv[] = {"XREAD",     "COUNT", "1000", "STREAMS", CL_PREFIX "withdrawals",
                          cl->rev_seen};
    size_t lens[6];
    for (int i = 0; i < 6; i++)
        lens[i] = strlen(argv[i]);
    tdm_cl_send(cl, p, on_withdrawals, 6, argv, lens);
}

struct publish {
    struct tdm_app *app;
    bool announce;
};

static void publish_one(const struct tdm_invite_record *r, void *arg)
{
    const struct publish *pb = arg;
    struct tdm_app *app = pb->app;
    if (r->revoked) {
        publish_withdrawal(app, r->id, r->expires_s, pb->announce);
        return;
    }
    if (r->used == 0 || !r->known || r->uses == 0)
        return;
    char use[64], n[8], until[24];
    id_key("use", r->id, use, sizeof use);
    snprintf(n, sizeof n, "%u", (unsigned)r->used);
    snprintf(until, sizeof until, "%lld", (long long)r->expires_s * 1000);
    const char *argv[] = {"EVAL", raise_script, "1", use, n, until};
    size_t lens[6];
    for (int i = 0; i < 6; i++)
        lens[i] = strlen(argv[i]);
    tdm_cl_fire(app->cluster, 6, argv, lens);
}

void tdm_cluster_publish_revocations(struct tdm_app *app, bool announce)
{
    struct publish pb = {app, announce};
    if (app->cluster && app->cluster->connected && app->invites)
        tdm_invite_ledger_each(app->invites, tdm_wall_us() / 1000000, publish_one, &pb);
}

void tdm_cl_on_connected(struct tdm_cluster *cl)
{
    /* Redis may have restarted empty: the keys again (the other ledgers have them) */
    tdm_cluster_publish_revocations(cl->app, false);
}
