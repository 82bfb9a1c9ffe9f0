/* The stateful signaling driver shared by fuzz_room.c and test_signal_model.c: see
 * room_harness.h. */
#include "room_harness.h"

#include <glib.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../server/io/app.h"
#include "../../server/io/channels.h"
#include "../../server/io/media.h"
#include "../../server/io/signal.h"
#include "tandem/config.h"
#include "tandem/invite.h"
#include "tandem/log.h"
#include "tandem/util.h"

#define RING 16    /* ids remembered per kind, live and stale */
#define LOG_LEN 32 /* messages remembered per connection for rh_received */
#define WHAT_MAX 48
#define MAX_STEPS 2000

/* A 24x10 red PNG (tests/data/chat/red_24x10.png): a picture upload that can complete. */
static const uint8_t png[] = {
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44,
    0x52, 0x00, 0x00, 0x00, 0x18, 0x00, 0x00, 0x00, 0x0a, 0x08, 0x02, 0x00, 0x00, 0x00, 0x21,
    0x0b, 0x09, 0x3f, 0x00, 0x00, 0x00, 0x09, 0x70, 0x48, 0x59, 0x73, 0x00, 0x00, 0x00, 0x01,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x4f, 0x25, 0xc4, 0xd6, 0x00, 0x00, 0x00, 0x17, 0x49, 0x44,
    0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8, 0xcb, 0xc0, 0x40, 0x15, 0x44, 0x1d, 0x53, 0x46, 0x0d,
    0x1a, 0x35, 0x88, 0x4a, 0x08, 0x00, 0x31, 0x57, 0xed, 0x31, 0x2a, 0x8e, 0xfd, 0x3b, 0x00,
    0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82};

struct idring {
    char v[RING][TDM_INVITE_TOKEN_MAX + 1];
    size_t n; /* total added; the newest is v[(n - 1) % RING] */
};

struct rh_harness {
    struct tdm_app app;
    struct tdm_conn conns[RH_CONNS];
    char tokens[RH_ROOMS][3][TDM_INVITE_TOKEN_MAX + 1]; /* [room][role] */
    struct idring pids, lobby_ids, invite_ids, made_tokens, resume_tokens;
    char conn_resume[RH_CONNS][TDM_INVITE_TOKEN_MAX + 1]; /* the newest token each was given */
    uint64_t chat_ids[RING], uploads[RING];
    size_t n_chat_ids, n_uploads;
    char log[RH_CONNS][LOG_LEN][WHAT_MAX];
    size_t n_log[RH_CONNS];
    int reading; /* the connection whose queue is being read */
    char failure[256];
};

static const char *const room_names[RH_ROOMS] = {"room-0", "room-1", "room-2"};

static int fail(struct rh_harness *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct rh_harness *h, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(h->failure, sizeof h->failure, fmt, ap);
    va_end(ap);
    return -1;
}

const char *rh_failure(const struct rh_harness *h)
{
    return h->failure;
}

static void ring_add(struct idring *r, const char *s)
{
    if (!s || !s[0])
        return;
    snprintf(r->v[r->n % RING], sizeof r->v[0], "%s", s);
    r->n++;
}

/* The k-th remembered value, or NULL when none was ever added. */
static const char *ring_pick(const struct idring *r, unsigned k)
{
    size_t have = r->n < RING ? r->n : RING;
    return have ? r->v[k % have] : NULL;
}

/* ---- set-up ---- */

struct rh_harness *rh_create(void)
{
    struct rh_harness *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    tdm_log_set_level(TDM_LOG_ERROR);
    struct tdm_app *app = &h->app;
    tdm_config_defaults(&app->cfg);
    app->cfg.limits.max_rooms = 2;
    app->cfg.limits.max_participants_per_room = 4;
    app->cfg.chat.max_uploads = 2;
    app->chat_pool = (struct tdm_chat_pool){.used = 0, .cap = app->cfg.chat.server_picture_bytes};
    app->rooms =
        tdm_rooms_create(app->cfg.limits.max_rooms, app->cfg.limits.max_participants_per_room);
    app->invites = tdm_invite_ledger_create(1000);
    app->ledger_fd = -1; /* the ledger in memory only */
    memset(app->invite_key, 0x5a, sizeof app->invite_key);
    if (!app->rooms || !app->invites || tdm_away_start(app) != 0)
        goto fail;
    int64_t until = tdm_wall_us() / 1000000 + 86400;
    for (int r = 0; r < RH_ROOMS; r++) {
        for (int role = 0; role < 3; role++) {
            struct tdm_invite inv;
            if (tdm_invite_new(&inv, room_names[r], (enum tdm_role)role, until, 0) ||
                tdm_invite_encode(&inv, app->invite_key, sizeof app->invite_key, h->tokens[r][role],
                                  sizeof h->tokens[r][role]) < 0)
                goto fail;
        }
    }
    return h;
fail:
    tdm_away_stop(app);
    tdm_rooms_destroy(app->rooms);
    tdm_invite_ledger_destroy(app->invites);
    free(h);
    return NULL;
}

int rh_destroy(struct rh_harness *h)
{
    int rc = 0;
    for (int i = 0; i < RH_CONNS; i++)
        tdm_conn_closed(&h->app, &h->conns[i]); /* once only: a closed one is skipped */
    tdm_away_stop(&h->app);                     /* who was still away leaves */
    if (tdm_rooms_count(h->app.rooms) != 0)
        rc = fail(h, "%zu rooms left after every connection closed", tdm_rooms_count(h->app.rooms));
    else if (h->app.n_conns != 0 || h->app.conns)
        rc = fail(h, "%u connections still linked", h->app.n_conns);
    else if (h->app.chat_pool.used != 0)
        rc = fail(h, "%zu picture bytes held with no room", h->app.chat_pool.used);
    tdm_rooms_destroy(h->app.rooms);
    tdm_invite_ledger_destroy(h->app.invites);
    if (rc != 0)
        fprintf(stderr, "room harness: %s\n", h->failure);
    free(h);
    return rc;
}

/* ---- reading what the server sent ---- */

static void note(struct rh_harness *h, int conn, const char *what)
{
    size_t k = h->n_log[conn]++ % LOG_LEN;
    snprintf(h->log[conn][k], WHAT_MAX, "%s", what);
}

static void learn(struct rh_harness *h, json_t *m, const char *type)
{
    if (strcmp(type, "welcome") == 0) {
        ring_add(&h->pids, json_string_value(json_object_get(json_object_get(m, "you"), "id")));
        const char *tok = json_string_value(json_object_get(m, "resume"));
        ring_add(&h->resume_tokens, tok);
        snprintf(h->conn_resume[h->reading], sizeof h->conn_resume[0], "%s", tok ? tok : "");
    } else if (strcmp(type, "lobby.waiting") == 0) {
        ring_add(&h->lobby_ids, json_string_value(json_object_get(m, "lobby_id")));
    } else if (strcmp(type, "invite") == 0) {
        ring_add(&h->invite_ids, json_string_value(json_object_get(m, "invite_id")));
        ring_add(&h->made_tokens, json_string_value(json_object_get(m, "token")));
    } else if (strcmp(type, "chat.message") == 0) {
        json_t *id = json_object_get(json_object_get(m, "message"), "id");
        if (json_is_integer(id))
            h->chat_ids[h->n_chat_ids++ % RING] = (uint64_t)json_integer_value(id);
    } else if (strcmp(type, "chat.upload") == 0) {
        json_t *id = json_object_get(m, "upload");
        if (json_is_integer(id))
            h->uploads[h->n_uploads++ % RING] = (uint64_t)json_integer_value(id);
    }
}

static void on_output(void *ud, const char *text, size_t len)
{
    struct rh_harness *h = ud;
    json_t *m = json_loadb(text, len, 0, NULL);
    const char *type = json_string_value(json_object_get(m, "type"));
    if (!type) {
        note(h, h->reading, "unparsable"); /* rh_check reports it */
    } else if (strcmp(type, "error") == 0) {
        char what[WHAT_MAX];
        const char *code = json_string_value(json_object_get(m, "code"));
        snprintf(what, sizeof what, "error:%s", code ? code : "?");
        note(h, h->reading, what);
    } else {
        note(h, h->reading, type);
        learn(h, m, type);
    }
    json_decref(m);
}

static void read_all(struct rh_harness *h)
{
    for (int i = 0; i < RH_CONNS; i++) {
        if (!h->conns[i].linked)
            continue;
        h->reading = i;
        tdm_conn_drain(&h->conns[i], on_output, h);
    }
}

/* ---- invariants ---- */

static int conn_index(const struct rh_harness *h, const void *c)
{
    for (int i = 0; i < RH_CONNS; i++)
        if (c == &h->conns[i])
            return i;
    return -1;
}

static int check_conns(struct rh_harness *h)
{
    struct tdm_app *app = &h->app;
    uint32_t linked = 0, listed = 0;
    for (struct tdm_conn *c = app->conns; c; c = c->next) {
        if (conn_index(h, c) < 0 || !c->linked)
            return fail(h, "a connection in app->conns that is not open");
        if (++listed > RH_CONNS)
            return fail(h, "app->conns loops");
    }
    for (int i = 0; i < RH_CONNS; i++) {
        struct tdm_conn *c = &h->conns[i];
        if (!c->linked) {
            if (c->participant || c->lobby || c->outq_head)
                return fail(h, "closed connection %d still holds state", i);
            continue;
        }
        linked++;
        struct tdm_participant *p = c->participant;
        if (p && c->lobby)
            return fail(h, "connection %d is joined and waiting at once", i);
        if (p) {
            if (p->user != c)
                return fail(h, "connection %d: its participant points elsewhere", i);
            if (!p->room || tdm_rooms_find(app->rooms, tdm_room_id(p->room)) != p->room)
                return fail(h, "connection %d: participant without a registered room", i);
            if (tdm_room_find(p->room, p->id) != p)
                return fail(h, "connection %d: its room does not list it", i);
        }
        if (c->lobby) {
            if (!tdm_rooms_find(app->rooms, c->lobby->room))
                return fail(h, "connection %d waits for a room that does not exist", i);
            for (int k = 0; k < i; k++)
                if (h->conns[k].linked && h->conns[k].lobby &&
                    strcmp(h->conns[k].lobby->lobby_id, c->lobby->lobby_id) == 0)
                    return fail(h, "two lobby entries with one id");
        }
    }
    if (linked != listed || linked != app->n_conns)
        return fail(h, "open connections %u, listed %u, counted %u", linked, listed, app->n_conns);
    return 0;
}

static int check_rooms(struct rh_harness *h)
{
    struct tdm_app *app = &h->app;
    size_t rooms = 0;
    for (int r = 0; r < RH_ROOMS; r++) {
        struct tdm_room *room = tdm_rooms_find(app->rooms, room_names[r]);
        if (!room)
            continue;
        rooms++;
        size_t n = tdm_room_count(room), pointing = 0;
        if (n == 0)
            return fail(h, "%s exists with nobody in it", room_names[r]);
        if (!tdm_room_channels(room))
            return fail(h, "%s has no chat and watch-together channels", room_names[r]);
        size_t away = 0;
        for (size_t i = 0; i < n; i++) {
            struct tdm_participant *p = tdm_room_participant(room, i);
            struct tdm_conn *c = p->user;
            if (c && c->ghost && c->participant == p && p->room == room) {
                away++; /* held for a resume */
                continue;
            }
            if (p->room != room || !c || conn_index(h, c) < 0 || !c->linked || c->participant != p)
                return fail(h, "%s lists a participant no open connection has", room_names[r]);
        }
        pointing = away;
        for (int i = 0; i < RH_CONNS; i++)
            if (h->conns[i].linked && h->conns[i].participant &&
                h->conns[i].participant->room == room)
                pointing++;
        if (pointing != n)
            return fail(h, "%s counts %zu, %zu connections point at it", room_names[r], n,
                        pointing);
    }
    if (tdm_rooms_count(app->rooms) != rooms)
        return fail(h, "the registry holds %zu rooms, %zu known", tdm_rooms_count(app->rooms),
                    rooms);
    if (app->chat_pool.used > app->chat_pool.cap || (rooms == 0 && app->chat_pool.used))
        return fail(h, "picture pool holds %zu bytes of %zu", app->chat_pool.used,
                    app->chat_pool.cap);
    return 0;
}

int rh_check(struct rh_harness *h)
{
    for (int i = 0; i < RH_CONNS; i++)
        for (size_t k = 0; k < LOG_LEN && k < h->n_log[i]; k++)
            if (strcmp(h->log[i][k], "unparsable") == 0)
                return fail(h, "connection %d was sent a message without a type", i);
    return check_conns(h) || check_rooms(h) ? -1 : 0;
}

/* ---- sending ---- */

static void open_if_needed(struct rh_harness *h, int conn)
{
    if (!h->conns[conn].linked)
        tdm_conn_open(&h->app, &h->conns[conn], NULL);
}

/* Delivers text on conn as lws would: nothing once the server is closing it. */
static void deliver(struct rh_harness *h, int conn, const char *text, size_t len)
{
    open_if_needed(h, conn);
    if (h->conns[conn].close_code)
        return;
    tdm_conn_handle(&h->app, &h->conns[conn], text, len);
}

/* Every ghost holds a participant that points back at it (dead ones were swept). */
static int check_ghosts(struct rh_harness *h)
{
    size_t n = 0;
    for (struct tdm_conn *g = h->app.ghosts; g; g = g->next) {
        if (++n > 64)
            return fail(h, "app->ghosts loops");
        if (!g->ghost || g->linked || !g->participant || g->participant->user != g)
            return fail(h, "a ghost that holds no participant of its own");
    }
    return 0;
}

static int after_step(struct rh_harness *h)
{
    tdm_away_expire(&h->app, 0); /* no grace ends at 0: frees the ghosts of those gone */
    read_all(h);
    return rh_check(h) || check_ghosts(h) ? -1 : 0;
}

const char *rh_resume_token(const struct rh_harness *h, int conn)
{
    return h->conn_resume[conn];
}

int rh_expire(struct rh_harness *h, int64_t after_us)
{
    tdm_away_expire(&h->app, tdm_now_us() + after_us);
    return after_step(h);
}

int rh_send(struct rh_harness *h, int conn, const char *json)
{
    deliver(h, conn, json, strlen(json));
    return after_step(h);
}

/* Sends msg (taken) on conn. */
static void send_json(struct rh_harness *h, int conn, json_t *msg)
{
    char *text = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
    json_decref(msg);
    if (text)
        deliver(h, conn, text, strlen(text));
    free(text);
}

static json_t *join_msg(struct rh_harness *h, int room, enum tdm_role role, const char *token)
{
    json_t *m = json_pack("{s:s, s:s, s:s, s:s}", "type", "join", "room", room_names[room], "name",
                          "Amina", "role", tdm_role_name(role));
    if (m && token)
        json_object_set_new(m, "token", json_string(token));
    return m;
}

int rh_join(struct rh_harness *h, int conn, int room, enum tdm_role role)
{
    send_json(h, conn, join_msg(h, room, role, h->tokens[room][role]));
    return after_step(h);
}

static void complete_close(struct rh_harness *h, int conn)
{
    struct tdm_conn *c = &h->conns[conn];
    h->reading = conn;
    tdm_conn_drain(c, on_output, h); /* lws flushes what is queued first */
    tdm_conn_closed(&h->app, c);
}

int rh_flush(struct rh_harness *h)
{
    for (int i = 0; i < RH_CONNS; i++)
        if (h->conns[i].linked && h->conns[i].close_code)
            complete_close(h, i);
    return after_step(h);
}

int rh_disconnect(struct rh_harness *h, int conn)
{
    if (h->conns[conn].linked)
        complete_close(h, conn);
    return after_step(h);
}

int rh_populate(struct rh_harness *h)
{
    static const struct {
        int room;
        enum tdm_role role;
    } cast[] = {{0, TDM_ROLE_COORDINATOR},
                {0, TDM_ROLE_MENTOR},
                {0, TDM_ROLE_MENTEE},
                {1, TDM_ROLE_MENTEE},
                {1, TDM_ROLE_COORDINATOR}};
    for (int i = 0; i < (int)(sizeof cast / sizeof cast[0]); i++)
        if (rh_join(h, i, cast[i].room, cast[i].role) || !h->conns[i].participant)
            return h->failure[0] ? -1 : fail(h, "connection %d could not join", i);
    return 0;
}

/* ---- queries ---- */

const char *rh_participant_id(const struct rh_harness *h, int conn)
{
    const struct tdm_conn *c = &h->conns[conn];
    return c->linked && c->participant ? c->participant->id : NULL;
}

bool rh_is_open(const struct rh_harness *h, int conn)
{
    return h->conns[conn].linked;
}

bool rh_is_closing(const struct rh_harness *h, int conn)
{
    return h->conns[conn].linked && h->conns[conn].close_code;
}

const char *rh_last_lobby_id(const struct rh_harness *h)
{
    return h->lobby_ids.n ? h->lobby_ids.v[(h->lobby_ids.n - 1) % RING] : "";
}

bool rh_received(const struct rh_harness *h, int conn, const char *what)
{
    for (size_t k = 0; k < LOG_LEN && k < h->n_log[conn]; k++)
        if (strcmp(h->log[conn][k], what) == 0)
            return true;
    return false;
}

void rh_clear_log(struct rh_harness *h)
{
    memset(h->n_log, 0, sizeof h->n_log);
}

size_t rh_rooms(const struct rh_harness *h)
{
    return tdm_rooms_count(h->app.rooms);
}

/* ---- decoding fuzz input into steps ---- */

struct cursor {
    const uint8_t *p;
    size_t n;
};

static unsigned u8(struct cursor *cur)
{
    if (!cur->n)
        return 0;
    cur->n--;
    return *cur->p++;
}

/* A participant id: someone's current one, a remembered (perhaps stale) one, or junk. */
static const char *pick_pid(struct rh_harness *h, struct cursor *cur)
{
    unsigned k = u8(cur);
    if (k < 128) {
        const char *id = rh_participant_id(h, (int)(k % RH_CONNS));
        if (id)
            return id;
    }
    const char *id = k < 250 ? ring_pick(&h->pids, k) : NULL;
    return id ? id : "AAAAAAAAAAAAAAAAAAAAAA";
}

static const char *pick_or(const struct idring *r, unsigned k, const char *junk)
{
    const char *v = k < 240 ? ring_pick(r, k) : NULL;
    return v ? v : junk;
}

static json_int_t pick_u64(const uint64_t *v, size_t n, unsigned k)
{
    size_t have = n < RING ? n : RING;
    return have && k < 240 ? (json_int_t)v[k % have] : (json_int_t)k;
}

/* Adds "id" to msg when the step asks for one (replies then carry ref). */
static json_t *with_id(json_t *msg, unsigned k)
{
    if (msg && (k & 1))
        json_object_set_new(msg, "id", json_integer(k));
    return msg;
}

static json_t *step_join(struct rh_harness *h, struct cursor *cur)
{
    unsigned room = u8(cur) % RH_ROOMS, how = u8(cur), role = u8(cur) % 3;
    const char *token;
    switch (how % 8) {
    case 0:
    case 1:
    case 2: token = h->tokens[room][how % 3]; break;
    case 3: token = pick_or(&h->made_tokens, u8(cur), h->tokens[room][role]); break;
    case 4: token = h->tokens[(room + 1) % RH_ROOMS][role]; break; /* another room's */
    case 5: token = "eyJub3QiOiJhIHRva2VuIn0.AAAA"; break;
    case 6: token = NULL; break;
    default: token = h->tokens[room][TDM_ROLE_COORDINATOR]; break;
    }
    return join_msg(h, (int)room, (enum tdm_role)role, token);
}

static json_t *step_mod(struct rh_harness *h, struct cursor *cur, unsigned which)
{
    unsigned k = u8(cur);
    switch (which % 7) {
    case 0: return json_pack("{s:s, s:b}", "type", "mod.lock", "locked", k & 1);
    case 1: return json_pack("{s:s, s:b}", "type", "mod.lobby", "lobby", k & 1);
    case 2:
    case 3:
        return json_pack("{s:s, s:s}", "type", which % 7 == 2 ? "mod.admit" : "mod.deny",
                         "lobby_id", pick_or(&h->lobby_ids, k, "nobody"));
    case 4: {
        json_t *m = json_pack("{s:s, s:s}", "type", "mod.remove", "target", pick_pid(h, cur));
        if (m && (k & 6))
            json_object_set_new(m, "withdraw_link", json_boolean(k & 2));
        return m;
    }
    case 5: {
        static const char *const kinds[] = {"audio", "video", "screen"};
        json_t *m = json_pack("{s:s, s:s, s:s}", "type", "mod.mute", "target", pick_pid(h, cur),
                              "kind", kinds[k % 3]);
        if (m && (k & 8))
            json_object_set_new(m, "may_unmute", json_boolean(k & 16));
        return m;
    }
    default: return json_pack("{s:s}", "type", "mod.end");
    }
}

static json_t *step_chat(struct rh_harness *h, struct cursor *cur, unsigned which)
{
    unsigned k = u8(cur);
    switch (which % 5) {
    case 0: return json_pack("{s:s, s:s}", "type", "chat.send", "text", k & 1 ? "hello" : " ");
    case 1:
        return json_pack("{s:s, s:I, s:s}", "type", "chat.react", "message",
                         pick_u64(h->chat_ids, h->n_chat_ids, k), "emoji", k & 2 ? "+1" : "ok");
    case 2:
        return json_pack("{s:s, s:I}", "type", "chat.delete", "message",
                         pick_u64(h->chat_ids, h->n_chat_ids, k));
    case 3:
        return json_pack("{s:s, s:s, s:I}", "type", "chat.picture", "mime",
                         k & 1 ? "image/png" : "image/gif", "size",
                         (json_int_t)(k & 2 ? sizeof png : 64 + k));
    default: {
        /* one piece of the PNG: the first half, the second half or all of it */
        size_t off = (k & 3) == 1 ? sizeof png / 2 : 0;
        size_t len = (k & 3) == 0 ? sizeof png / 2 : sizeof png - off;
        char data[2 * sizeof png];
        if (tdm_b64url_encode(png + off, len, data, sizeof data) < 0)
            return NULL;
        return json_pack("{s:s, s:I, s:I, s:s}", "type", "chat.picture.chunk", "upload",
                         pick_u64(h->uploads, h->n_uploads, u8(cur)), "offset", (json_int_t)off,
                         "data", data);
    }
    }
}

static json_t *step_sync(struct cursor *cur)
{
    unsigned which = u8(cur), k = u8(cur);
    json_t *m;
    switch (which % 9) {
    case 0:
        m = json_pack("{s:s, s:s}", "type", "sync.load", "source",
                      k & 1 ? "/media/film.mp4" : "..");
        break;
    case 1: m = json_pack("{s:s}", "type", "sync.play"); break;
    case 2: m = json_pack("{s:s}", "type", "sync.pause"); break;
    case 3: m = json_pack("{s:s, s:f}", "type", "sync.seek", "position", (double)k); break;
    case 4: m = json_pack("{s:s, s:f}", "type", "sync.rate", "rate", k / 64.0); break;
    case 5: m = json_pack("{s:s, s:b}", "type", "sync.buffering", "waiting", k & 1); break;
    case 6: m = json_pack("{s:s, s:b}", "type", "sync.control", "coordinators_only", k & 1); break;
    case 7: m = json_pack("{s:s, s:b}", "type", "sync.wait_all", "enabled", k & 1); break;
    default: m = json_pack("{s:s, s:f}", "type", "time.ping", "t1", 1000.0 * k); break;
    }
    if (m && (k & 2))
        json_object_set_new(m, "seq", json_integer(u8(cur)));
    return m;
}

static json_t *step_media(struct rh_harness *h, struct cursor *cur)
{
    unsigned which = u8(cur), k = u8(cur);
    switch (which % 8) {
    case 6:
        return json_pack(
            "{s:s, s:s}", "type", "resume", "token",
            pick_or(&h->resume_tokens, k, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
    case 7: return json_pack("{s:s, s:s}", "type", "media.restart", "pc", k & 1 ? "sub" : "pub");
    case 0:
        return json_pack("{s:s, s:s, s:s}", "type", "offer", "pc", k & 1 ? "pub" : "sub", "sdp",
                         "v=0\r\n");
    case 1:
        return json_pack("{s:s, s:s, s:s, s:i}", "type", "answer", "pc", "sub", "sdp", "v=0\r\n",
                         "rev", (int)k);
    case 2:
        return json_pack("{s:s, s:s, s:{s:s, s:i}}", "type", "candidate", "pc", "pub", "candidate",
                         "candidate", "candidate:1 1 udp 1 127.0.0.1 9 typ host", "sdpMLineIndex",
                         (int)(k % 4));
    case 3:
        return json_pack("{s:s, s:b, s:b}", "type", "media.state", "audio", k & 1, "video", k & 2);
    case 4: return json_pack("{s:s, s:b}", "type", "media.receive", "video", k & 1);
    default: return json_pack("{s:s, s:s}", "type", "invite.revoke", "invite_id", "AAAA");
    }
}

/* What tdm_media_deliver gets from a worker (app->media is NULL: no worker runs here). */
static void media_reply(struct rh_harness *h, struct cursor *cur, unsigned k)
{
    struct tdm_sfu_event r = {.kind = (enum tdm_sfu_event_kind)(k % 3), .rev = k};
    snprintf(r.room, sizeof r.room, "%s", room_names[u8(cur) % RH_ROOMS]);
    snprintf(r.pid, sizeof r.pid, "%s", pick_pid(h, cur));
    char sdp[] = "v=0\r\n", ref[] = "7";
    r.sdp = sdp;
    r.ref = k & 4 ? ref : NULL;
    r.code = "media_unavailable";
    r.pc = k & 8 ? "pub" : NULL;
    snprintf(r.message, sizeof r.message, "the media worker failed");
    tdm_media_deliver(&h->app, &r);
}

enum op {
    OP_JOIN,
    OP_LEAVE,
    OP_PING,
    OP_MOD,
    OP_MOD2, /* moderation twice as likely: it is where people leave mid-handler */
    OP_INVITE_CREATE,
    OP_INVITE_REVOKE,
    OP_CHAT,
    OP_SYNC,
    OP_MEDIA,
    OP_DISCONNECT,
    OP_FLUSH,
    OP_RAW,
    OP_TICK,
    OP_MEDIA_REPLY, /* a media worker's answer, perhaps for someone who left meanwhile */
    OP_COUNT
};

/* Runs one step; false when the input is used up. */
static bool step(struct rh_harness *h, struct cursor *cur)
{
    if (!cur->n)
        return false;
    unsigned op = u8(cur) % OP_COUNT;
    int conn = (int)(u8(cur) % RH_CONNS);
    unsigned k = u8(cur);
    json_t *m = NULL;
    switch ((enum op)op) {
    case OP_JOIN: m = step_join(h, cur); break;
    case OP_LEAVE: m = json_pack("{s:s}", "type", "leave"); break;
    case OP_PING: m = json_pack("{s:s, s:f}", "type", "ping", "t", (double)k); break;
    case OP_MOD:
    case OP_MOD2: m = step_mod(h, cur, k); break;
    case OP_INVITE_CREATE: {
        static const char *const roles[] = {"mentee", "mentor", "coordinator", "guest"};
        m = json_pack("{s:s, s:s, s:i}", "type", "invite.create", "role", roles[k % 4], "uses",
                      (int)(u8(cur) % 3));
        break;
    }
    case OP_INVITE_REVOKE:
        m = json_pack("{s:s, s:s}", "type", "invite.revoke", "invite_id",
                      pick_or(&h->invite_ids, u8(cur), "AAAAAAAAAAAAAAAAAAAAAA"));
        break;
    case OP_CHAT: m = step_chat(h, cur, k); break;
    case OP_SYNC: m = step_sync(cur); break;
    case OP_MEDIA: m = step_media(h, cur); break;
    case OP_DISCONNECT:
        if (h->conns[conn].linked)
            complete_close(h, conn);
        return true;
    case OP_FLUSH:
        for (int i = 0; i < RH_CONNS; i++)
            if (h->conns[i].linked && h->conns[i].close_code && (k & (1u << i)))
                complete_close(h, i);
        return true;
    case OP_RAW: {
        size_t len = k % 48 < cur->n ? k % 48 : cur->n;
        deliver(h, conn, (const char *)cur->p, len);
        cur->p += len;
        cur->n -= len;
        return true;
    }
    case OP_TICK:
        g_main_context_iteration(NULL, FALSE);
        if (k & 1) /* the grace period of everyone away ends */
            tdm_away_expire(&h->app, tdm_now_us() + 121 * (int64_t)1000000);
        return true;
    case OP_MEDIA_REPLY: media_reply(h, cur, k); return true;
    default: return true;
    }
    send_json(h, conn, with_id(m, k));
    return true;
}

int rh_run(struct rh_harness *h, const uint8_t *data, size_t len)
{
    struct cursor cur = {data, len};
    for (int n = 0; n < MAX_STEPS && step(h, &cur); n++) {
        if (after_step(h) != 0)
            return -1;
    }
    return rh_flush(h);
}
