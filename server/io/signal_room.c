/* Handlers for joining and leaving rooms and for keep-alive (docs/protocol.md). */
#include "app.h"
#include "cluster.h"
#include "metrics.h"
#include "channels.h"
#include "signal.h"

#include "tandem/err.h"
#include "tandem/resume.h"
#include "tandem/util.h"

#include <stdio.h>
#include <string.h>

/* Join and leave lines: far above a real evening (a group of twelve joining at once), far
 * below what a client churning through rooms could write. */
#define PRESENCE_LOG_PER_10S 100

json_t *tdm_participant_json(const struct tdm_participant *p)
{
    json_t *j =
        json_pack("{s:s, s:s, s:s}", "id", p->id, "name", p->name, "role", tdm_role_name(p->role));
    if (j && p->hand_raised)
        json_object_set_new(j, "hand", json_true());
    if (j && p->share == 2)
        json_object_set_new(j, "share", json_true());
    return j;
}

void tdm_room_broadcast(struct tdm_room *room, const struct tdm_participant *except, json_t *msg)
{
    size_t n = tdm_room_count(room);
    for (size_t i = 0; i < n; i++) {
        struct tdm_participant *p = tdm_room_participant(room, i);
        if (p != except && p->user)
            tdm_conn_send(p->user, json_incref(msg));
    }
    json_decref(msg);
}

void tdm_signal_leave_room(struct tdm_app *app, struct tdm_conn *c, const char *reason)
{
    struct tdm_participant *p = c->participant;
    if (!p)
        return;
    struct tdm_room *room = p->room;
    uint32_t room_log = tdm_room_log_id(room);
    char room_id[TDM_ROOM_ID_MAX + 1];
    snprintf(room_id, sizeof room_id, "%s", tdm_room_id(room));
    uint32_t plog = p->log_id;
    json_t *left = json_pack("{s:s, s:s, s:s}", "type", "left", "id", p->id, "reason", reason);
    tdm_media_participant_leaving(app, p);
    c->participant = NULL;
    p->user = NULL;
    if (app->resume)
        tdm_resume_forget(app->resume, p->id); /* removed, ended, left: no way back */
    if (c->ghost)
        tdm_away_ghost_left(app, c);
    tdm_room_broadcast(room, p, left);
    tdm_channels_leaving(app, p); /* chat and watch-together; destroyed with the last one */
    bool gone = tdm_rooms_leave(app->rooms, p);
    if (gone) {
        tdm_lobby_room_closed(app, room_id); /* nobody is left to let them in */
        tdm_cluster_room_closed(app, room_id);
    }
    tdm_log_limited(&app->presence_log, PRESENCE_LOG_PER_10S, tdm_now_us(), TDM_LOG_INFO,
                    "r%u: p%u left (%s)%s", room_log, plog, reason, gone ? ", room closed" : "");
}

struct tdm_conn *tdm_pass_holder(struct tdm_room *room, const struct tdm_join_req *req)
{
    if (!room || !req->by_pass)
        return NULL;
    for (size_t i = 0; i < tdm_room_count(room); i++) {
        struct tdm_conn *c = tdm_room_participant(room, i)->user;
        if (c && c->has_person && memcmp(c->person, req->person, TDM_INVITE_ID_LEN) == 0)
            return c;
    }
    return NULL;
}

/* Pages ping at a third of the idle time-out, so two lost pings still keep them in. */
static int keepalive_s(const struct tdm_app *app)
{
    int k = (int)app->cfg.limits.idle_timeout_s / 3;
    return k < 1 ? 1 : k > 15 ? 15 : k;
}

/* The join goes on here: into the room, its lobby, or a refusal in e. */
static void join_here(struct tdm_app *app, struct tdm_conn *c, const struct tdm_join_req *req,
                      json_t *id, struct tdm_proto_err *e)
{
    struct tdm_room *existing = tdm_rooms_find(app->rooms, req->room);
    /* Someone whose earlier connection is still in the room is coming back, not coming in:
     * neither the lock nor the lobby stops them. */
    if (tdm_pass_holder(existing, req)) {
        tdm_join_finish(app, c, req, id, e);
        return;
    }
    if (existing && tdm_room_locked(existing) && req->role != TDM_ROLE_COORDINATOR) {
        tdm_proto_set(e, "room_locked", NULL, "the coordinator has locked this room");
        return;
    }
    if (existing && tdm_room_lobby(existing) && req->role != TDM_ROLE_COORDINATOR) {
        tdm_lobby_enter(app, c, req, id, e);
        return;
    }
    tdm_join_finish(app, c, req, id, e);
}

void tdm_on_join(struct tdm_app *app, struct tdm_conn *c, json_t *msg, json_t *id,
                 struct tdm_proto_err *e)
{
    const char *room_id, *name, *role_s;
    size_t room_len, name_len, role_len;
    enum tdm_role role;
    if (c->participant || c->lobby || (c->cluster_wait && tdm_cluster_joining(c))) {
        tdm_proto_set(e, "already_joined", NULL, "this connection has already joined a room");
        return;
    }
    if (c->console) { /* a console is no person: it joins no room */
        tdm_proto_set(e, "forbidden", NULL, "a console connection cannot join a room");
        return;
    }
    if (!tdm_proto_string(msg, "room", 0, 4096, true, &room_id, &room_len, e) ||
        !tdm_proto_string(msg, "name", 0, 4096, true, &name, &name_len, e) ||
        !tdm_proto_string(msg, "role", 0, 64, true, &role_s, &role_len, e))
        return;
    if (!tdm_room_id_valid(room_id, room_len)) {
        tdm_proto_set(e, "bad_field", "room", "room: %d to %d characters of A-Z a-z 0-9 _ -",
                      TDM_ROOM_ID_MIN, TDM_ROOM_ID_MAX);
        return;
    }
    if (!tdm_text_field_ok(name, name_len, TDM_NAME_MAX, false)) {
        tdm_proto_set(e, "bad_field", "name",
                      "name: 1 to %d bytes of text, no control characters, no spaces at the ends",
                      TDM_NAME_MAX);
        return;
    }
    if (tdm_text_has_bidi_controls(name, name_len, true)) {
        tdm_proto_set(e, "bad_field", "name",
                      "name: no text-direction control characters (U+061C, U+200E, U+200F, "
                      "U+202A to U+202E, U+2066 to U+2069)");
        return;
    }
    if (tdm_role_parse(role_s, role_len, &role) != 0) {
        tdm_proto_set(e, "bad_field", "role", "role: mentor, mentee or coordinator");
        return;
    }
    const char *token, *pass_text;
    size_t token_len, pass_len;
    struct tdm_invite inv;
    struct tdm_pass pass;
    if (!tdm_proto_string(msg, "token", 1, TDM_INVITE_TOKEN_MAX, false, &token, &token_len, e) ||
        !tdm_proto_string(msg, "pass", 1, TDM_INVITE_TOKEN_MAX, false, &pass_text, &pass_len, e))
        return;
    /* A pass brings back someone a limited link already let in; it wins over the link. */
    if (pass_text) {
        if (tdm_invites_check_pass(app, room_id, pass_text, pass_len, &pass, &role, e) != 0)
            return;
        inv = pass.link;
    } else if (tdm_invites_check_join(app, room_id, token, token_len, &inv, &role, e) != 0) {
        return;
    }
    struct tdm_join_req req;
    memset(&req, 0, sizeof req);
    if (pass_text) {
        req.by_pass = true;
        memcpy(req.person, pass.person, TDM_INVITE_ID_LEN);
    }
    memcpy(req.room, room_id, room_len);
    memcpy(req.name, name, name_len);
    req.role = role;
    req.inv = inv;
    if (app->cluster) { /* the room may live on another node: Redis says (cluster.h) */
        tdm_cluster_join(app, c, &req, id);
        return;
    }
    join_here(app, c, &req, id, e);
}

void tdm_join_routed(struct tdm_app *app, struct tdm_conn *c, const struct tdm_join_req *req,
                     json_t *id, bool used_shared)
{
    struct tdm_proto_err e = {0};
    join_here(app, c, req, id, &e);
    if (!e.code)
        return;
    tdm_conn_send_error(c, &e, id);
    if (used_shared)
        tdm_cluster_refund(app, &req->inv);
}

/* A pass holder back (a reload, a reconnect) while the server still holds their earlier
 * connection (it has not timed out yet): the old one goes, so that its seat does not fill a
 * small room and one pass is one person in the room. Its page is told, and does not come
 * back by itself (two tabs would push each other out for ever). */
static void replace_earlier(struct tdm_app *app, const struct tdm_join_req *req)
{
    struct tdm_conn *old = tdm_pass_holder(tdm_rooms_find(app->rooms, req->room), req);
    if (!old)
        return;
    tdm_mx_control.rejoins_replaced++;
    tdm_conn_send(old, json_pack("{s:s}", "type", "replaced"));
    tdm_signal_leave_room(app, old, "disconnect");
    tdm_conn_close(old, LWS_CLOSE_STATUS_NORMAL, "replaced");
}

json_t *tdm_welcome_json(struct tdm_app *app, const struct tdm_participant *p, json_t *id)
{
    struct tdm_room *room = p->room;
    json_t *others = json_array();
    for (size_t i = 0; i < tdm_room_count(room); i++) {
        struct tdm_participant *o = tdm_room_participant(room, i);
        if (o != p)
            json_array_append_new(others, tdm_participant_json(o));
    }
    json_t *welcome =
        json_pack("{s:s, s:i, s:o, s:{s:s, s:i, s:b, s:b}, s:o, s:i, s:f}", "type", "welcome",
                  "protocol", TDM_PROTO_VERSION, "you", tdm_participant_json(p), "room", "id",
                  tdm_room_id(room), "max_participants", (int)tdm_room_capacity(room), "locked",
                  tdm_room_locked(room), "lobby", tdm_room_lobby(room), "participants", others,
                  "keepalive_s", keepalive_s(app), "server_time", tdm_proto_server_time());
    if (!welcome)
        return NULL;
    if (id)
        json_object_set(welcome, "ref", id);
    tdm_away_add_token(app, p, welcome);
    tdm_turn_add_to(app, welcome);    /* only joined participants get TURN credentials */
    tdm_cluster_add_to(app, welcome); /* the other nodes, to come back through */
    return welcome;
}

int tdm_join_finish(struct tdm_app *app, struct tdm_conn *c, const struct tdm_join_req *req,
                    json_t *id, struct tdm_proto_err *e)
{
    struct tdm_participant *p;
    /* Checked when the join came, but a wait in the lobby lets the ledger change: the link
     * withdrawn, or its last use taken by another person waiting with it. */
    int rc = tdm_invites_recheck(app, &req->inv, req->by_pass, e);
    if (rc != 0)
        return rc;
    replace_earlier(app, req);
    rc = tdm_rooms_join(app->rooms, req->room, req->name, req->role, c, &p);
    if (rc == TDM_EFULL) {
        tdm_proto_set(e, "room_full", NULL, "this room already has %u people",
                      app->cfg.limits.max_participants_per_room);
        e->max_participants = app->cfg.limits.max_participants_per_room; /* the page says it */
        return rc;
    }
    if (rc == TDM_ELIMIT) {
        tdm_proto_set(e, "server_full", NULL, "the server holds as many rooms as it may");
        return rc;
    }
    if (rc != 0) {
        tdm_proto_set(e, "internal", NULL, "could not join: %s", tdm_strerror(rc));
        return rc;
    }
    c->participant = p;
    c->inv = req->inv;
    tdm_mx_control.joins++;
    tdm_mx_control.rejoins_pass += req->by_pass;
    char pass[TDM_INVITE_TOKEN_MAX + 1] = "";
    /* Uses count people: the first join with a limited link uses it once and gets a pass
     * for the person's later joins (reload, reconnect, restart). */
    c->has_person = req->by_pass;
    memcpy(c->person, req->person, TDM_INVITE_ID_LEN);
    if (!req->by_pass) {
        tdm_invites_consume(app, &req->inv);
        if (req->inv.uses &&
            tdm_invites_make_pass(app, &req->inv, pass, sizeof pass, c->person) == 0)
            c->has_person = true;
        else
            pass[0] = '\0';
    }
    struct tdm_room *room = p->room;
    json_t *welcome = tdm_welcome_json(app, p, id);
    if (welcome && pass[0])
        json_object_set_new(welcome, "pass", json_string(pass));
    tdm_aids_welcome(app, p, welcome); /* the check-in token (a resume keeps its own) */
    tdm_conn_send(c, welcome);
    tdm_channels_joined(app, p); /* sync.state and chat.history follow welcome */
    tdm_aids_joined(app, p);     /* the card on screen, if any */
    tdm_room_broadcast(
        room, p, json_pack("{s:s, s:o}", "type", "joined", "participant", tdm_participant_json(p)));
    tdm_media_participant_joined(app, p);
    tdm_log_limited(&app->presence_log, PRESENCE_LOG_PER_10S, tdm_now_us(), TDM_LOG_INFO,
                    "r%u: p%u joined as %s (%zu present)", tdm_room_log_id(room), p->log_id,
                    tdm_role_name(req->role), tdm_room_count(room));
    /* A new admitter sees who is waiting, also those who came while the lobby was on and
     * wait still after it was switched off (they can only come in by mod.admit). */
    if (tdm_lobby_may_admit(p))
        tdm_lobby_announce_all(app, c);
    return 0;
}

void tdm_on_leave(struct tdm_app *app, struct tdm_conn *c, json_t *msg, json_t *id,
                  struct tdm_proto_err *e)
{
    tdm_signal_leave_room(app, c, "leave");
    tdm_conn_close(c, LWS_CLOSE_STATUS_NORMAL, "left");
}

void tdm_on_ping(struct tdm_app *app, struct tdm_conn *c, json_t *msg, json_t *id,
                 struct tdm_proto_err *e)
{
    double t;
    bool has_t;
    if (!tdm_proto_number(msg, "t", &t, &has_t, e))
        return;
    json_t *pong = json_pack("{s:s, s:f}", "type", "pong", "server_time", tdm_proto_server_time());
    if (pong && has_t)
        json_object_set_new(pong, "t", json_real(t));
    if (pong && id)
        json_object_set(pong, "ref", id);
    tdm_conn_send(c, pong);
}
