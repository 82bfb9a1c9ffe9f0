/* Moderation (docs/protocol.md "Moderation"): lock, lobby, admit, remove, mute, end.
 * Every action is checked here against the role the server gave the participant (from the
 * invite token), never against what a page claims. */
#include "app.h"
#include "signal.h"

#include "tandem/err.h"
#include "tandem/util.h"

#include <stdlib.h>
#include <string.h>

static bool is_coordinator(const struct tdm_conn *c, struct tdm_proto_err *e)
{
    if (c->participant->role == TDM_ROLE_COORDINATOR)
        return true;
    tdm_proto_set(e, "forbidden", NULL, "only a coordinator can do this");
    return false;
}

bool tdm_lobby_may_admit(const struct tdm_participant *p)
{
    return p->role == TDM_ROLE_COORDINATOR || p->role == TDM_ROLE_MENTOR;
}

static void send_admitters(struct tdm_room *room, json_t *msg)
{
    for (size_t i = 0; i < tdm_room_count(room); i++) {
        struct tdm_participant *p = tdm_room_participant(room, i);
        if (tdm_lobby_may_admit(p) && p->user)
            tdm_conn_send(p->user, json_incref(msg));
    }
    json_decref(msg);
}

static json_t *waiting_json(const struct tdm_join_req *r)
{
    return json_pack("{s:s, s:s, s:s, s:s}", "type", "lobby.waiting", "lobby_id", r->lobby_id,
                     "name", r->name, "role", tdm_role_name(r->role));
}

void tdm_lobby_enter(struct tdm_app *app, struct tdm_conn *c, const struct tdm_join_req *req,
                     json_t *id, struct tdm_proto_err *e)
{
    struct tdm_room *room = tdm_rooms_find(app->rooms, req->room);
    struct tdm_join_req *w = malloc(sizeof *w);
    if (!w || !room) {
        free(w);
        tdm_proto_set(e, "internal", NULL, "could not wait in the lobby");
        return;
    }
    *w = *req;
    if (tdm_random_id(w->lobby_id, sizeof w->lobby_id, 16)) {
        free(w);
        tdm_proto_set(e, "internal", NULL, "could not wait in the lobby");
        return;
    }
    c->lobby = w;
    json_t *m = json_pack("{s:s}", "type", "lobby");
    if (m && id)
        json_object_set(m, "ref", id);
    tdm_conn_send(c, m);
    send_admitters(room, waiting_json(w));
    TDM_INFO("r%u: someone waits in the lobby", tdm_room_log_id(room));
}

void tdm_lobby_announce_all(struct tdm_app *app, struct tdm_conn *to)
{
    const char *room = tdm_room_id(to->participant->room);
    for (struct tdm_conn *c = app->conns; c; c = c->next)
        if (c->lobby && strcmp(c->lobby->room, room) == 0)
            tdm_conn_send(to, waiting_json(c->lobby));
}

void tdm_lobby_room_closed(struct tdm_app *app, const char *room_id)
{
    struct tdm_proto_err we;
    tdm_proto_set(&we, "not_admitted", NULL, "everyone left the room before you were let in");
    for (struct tdm_conn *w = app->conns; w; w = w->next) {
        if (w->lobby && strcmp(w->lobby->room, room_id) == 0) {
            free(w->lobby);
            w->lobby = NULL;
            tdm_conn_send_error(w, &we, NULL);
            tdm_conn_close(w, LWS_CLOSE_STATUS_NORMAL, "not admitted");
        }
    }
}

void tdm_lobby_leave(struct tdm_app *app, struct tdm_conn *c)
{
    struct tdm_room *room = tdm_rooms_find(app->rooms, c->lobby->room);
    if (room)
        send_admitters(
            room, json_pack("{s:s, s:s}", "type", "lobby.left", "lobby_id", c->lobby->lobby_id));
    free(c->lobby);
    c->lobby = NULL;
}

static struct tdm_conn *find_waiting(struct tdm_app *app, const struct tdm_room *room, json_t *msg,
                                     struct tdm_proto_err *e)
{
    const char *lid;
    size_t len;
    if (!tdm_proto_string(msg, "lobby_id", 1, 64, true, &lid, &len, e))
        return NULL;
    /* One the server is already closing (flooding, too slow) is as good as gone. */
    for (struct tdm_conn *c = app->conns; c; c = c->next)
        if (c->lobby && !c->close_code && strcmp(c->lobby->lobby_id, lid) == 0 &&
            strcmp(c->lobby->room, tdm_room_id(room)) == 0)
            return c;
    tdm_proto_set(e, "not_found", "lobby_id", "nobody with that id is waiting");
    return NULL;
}

void tdm_on_mod_admit(struct tdm_app *app, struct tdm_conn *c, json_t *msg, json_t *id,
                      struct tdm_proto_err *e)
{
    if (!tdm_lobby_may_admit(c->participant)) {
        tdm_proto_set(e, "forbidden", NULL, "only a coordinator or a mentor can let people in");
        return;
    }
    struct tdm_conn *w = find_waiting(app, c->participant->room, msg, e);
    if (!w)
        return;
    struct tdm_join_req req = *w->lobby;
    tdm_lobby_leave(app, w); /* admitters see the entry go; the join below announces them */
    struct tdm_proto_err we = {0};
    if (tdm_join_finish(app, w, &req, NULL, &we) != 0)
        tdm_conn_send_error(w, &we, NULL);
}

void tdm_on_mod_deny(struct tdm_app *app, struct tdm_conn *c, json_t *msg, json_t *id,
                     struct tdm_proto_err *e)
{
    if (!tdm_lobby_may_admit(c->participant)) {
        tdm_proto_set(e, "forbidden", NULL, "only a coordinator or a mentor can do this");
        return;
    }
    struct tdm_conn *w = find_waiting(app, c->participant->room, msg, e);
    if (!w)
        return;
    tdm_lobby_leave(app, w);
    struct tdm_proto_err we;
    tdm_proto_set(&we, "not_admitted", NULL, "you were not let into the room");
    tdm_conn_send_error(w, &we, NULL);
    tdm_conn_close(w, LWS_CLOSE_STATUS_NORMAL, "not admitted");
}

static bool flag_field(json_t *msg, const char *field, bool *out, struct tdm_proto_err *e)
{
    json_t *v = json_object_get(msg, field);
    if (!json_is_boolean(v)) {
        tdm_proto_set(e, v ? "bad_field" : "missing_field", field, "%s: true or false", field);
        return false;
    }
    *out = json_is_true(v);
    return true;
}

static void broadcast_room_state(struct tdm_room *room, json_t *id, struct tdm_conn *by)
{
    json_t *m =
        json_pack("{s:s, s:b, s:b, s:s}", "type", "room.state", "locked", tdm_room_locked(room),
                  "lobby", tdm_room_lobby(room), "by", by->participant->id);
    tdm_room_broadcast(room, NULL, m);
}

void tdm_on_mod_lock(struct tdm_app *app, struct tdm_conn *c, json_t *msg, json_t *id,
                     struct tdm_proto_err *e)
{
    bool on;
    if (!is_coordinator(c, e) || !flag_field(msg, "locked", &on, e))
        return;
    tdm_room_set_locked(c->participant->room, on);
    broadcast_room_state(c->participant->room, id, c);
}

void tdm_on_mod_lobby(struct tdm_app *app, struct tdm_conn *c, json_t *msg, json_t *id,
                      struct tdm_proto_err *e)
{
    bool on;
    if (!is_coordinator(c, e) || !flag_field(msg, "lobby", &on, e))
        return;
    tdm_room_set_lobby(c->participant->room, on);
    broadcast_room_state(c->participant->room, id, c);
}

static struct tdm_participant *target_of(struct tdm_conn *c, json_t *msg, struct tdm_proto_err *e)
{
    const char *tid;
    size_t len;
    if (!tdm_proto_string(msg, "target", 1, 64, true, &tid, &len, e))
        return NULL;
    struct tdm_participant *t = tdm_room_find(c->participant->room, tid);
    if (!t)
        tdm_proto_set(e, "not_found", "target", "nobody with that id is in this room");
    return t;
}

void tdm_on_mod_remove(struct tdm_app *app, struct tdm_conn *c, json_t *msg, json_t *id,
                       struct tdm_proto_err *e)
{
    struct tdm_participant *t;
    bool withdraw = false;
    if (!is_coordinator(c, e) || !(t = target_of(c, msg, e)))
        return;
    if (json_object_get(msg, "withdraw_link") && !flag_field(msg, "withdraw_link", &withdraw, e))
        return;
    if (t == c->participant) {
        /* Removing oneself is a leave with a "removed" label (and would withdraw one's own
         * link): refused, as Jitsi and LiveKit do. The page has leave and mod.end for it. */
        tdm_proto_set(e, "bad_field", "target",
                      "target: that is you; to go, send leave (mod.end ends the call)");
        return;
    }
    struct tdm_conn *tc = t->user;
    uint32_t room_log = tdm_room_log_id(t->room), by_log = c->participant->log_id;
    if (withdraw) {
        /* The link they came with stops working (for everyone who has it), so that a
         * multi-use link cannot bring them straight back. */
        int rc = tdm_invites_withdraw(app, &tc->inv);
        if (rc == TDM_EFULL) {
            tdm_proto_set(e, "server_full", NULL, "too many invites in use");
            return;
        }
        if (rc == 0) {
            char idtext[TDM_INVITE_ID_TEXT];
            tdm_invite_id_text(tc->inv.id, idtext);
            json_t *r = json_pack("{s:s, s:s}", "type", "invite.revoked", "invite_id", idtext);
            if (r && id)
                json_object_set(r, "ref", id);
            tdm_conn_send(c, r);
        }
    }
    tdm_invites_shut_out(app, tc); /* their person pass does not bring them back either */
    tdm_conn_send(tc, json_pack("{s:s, s:s}", "type", "removed", "by", c->participant->id));
    tdm_signal_leave_room(app, tc, "removed");
    tdm_conn_close(tc, LWS_CLOSE_STATUS_NORMAL, "removed");
    TDM_INFO("r%u: p%u removed someone", room_log, by_log);
}

void tdm_on_mod_mute(struct tdm_app *app, struct tdm_conn *c, json_t *msg, json_t *id,
                     struct tdm_proto_err *e)
{
    struct tdm_participant *t;
    const char *kind;
    size_t klen;
    bool allow = false;
    if (!is_coordinator(c, e) || !(t = target_of(c, msg, e)) ||
        !tdm_proto_string(msg, "kind", 5, 5, true, &kind, &klen, e))
        return;
    bool audio = strcmp(kind, "audio") == 0;
    if (!audio && strcmp(kind, "video") != 0) {
        tdm_proto_set(e, "bad_field", "kind", "kind: audio or video");
        return;
    }
    json_t *ja = json_object_get(msg, "may_unmute");
    if (ja && !flag_field(msg, "may_unmute", &allow, e))
        return;
    if (audio) {
        t->muted_audio = true;
        t->may_unmute_audio = allow;
    } else {
        t->muted_video = true;
        t->may_unmute_video = allow;
    }
    /* The page is told; the media side stops forwarding what it would still send. */
    tdm_room_broadcast(t->room, NULL,
                       json_pack("{s:s, s:s, s:s, s:b, s:s}", "type", "mod.muted", "target", t->id,
                                 "kind", kind, "may_unmute", allow, "by", c->participant->id));
    if (app->media_block)
        app->media_block(app, t);
}

void tdm_on_mod_end(struct tdm_app *app, struct tdm_conn *c, json_t *msg, json_t *id,
                    struct tdm_proto_err *e)
{
    if (!is_coordinator(c, e))
        return;
    struct tdm_room *room = c->participant->room;
    TDM_INFO("r%u: p%u ended the call", tdm_room_log_id(room), c->participant->log_id);
    tdm_room_broadcast(room, NULL,
                       json_pack("{s:s, s:s}", "type", "ended", "by", c->participant->id));
    /* Everyone leaves; the room goes with the last of them. Waiting people are sent away. */
    const char *rid = tdm_room_id(room);
    for (struct tdm_conn *w = app->conns; w; w = w->next) {
        if (w->lobby && strcmp(w->lobby->room, rid) == 0) {
            free(w->lobby);
            w->lobby = NULL;
            tdm_conn_send(w, json_pack("{s:s, s:s}", "type", "ended", "by", c->participant->id));
            tdm_conn_close(w, LWS_CLOSE_STATUS_NORMAL, "call ended");
        }
    }
    while (tdm_room_count(room) > 1) {
        struct tdm_participant *p = tdm_room_participant(room, 0);
        if (p == c->participant)
            p = tdm_room_participant(room, 1);
        struct tdm_conn *pc = p->user;
        tdm_signal_leave_room(app, pc, "ended");
        tdm_conn_close(pc, LWS_CLOSE_STATUS_NORMAL, "call ended");
    }
    tdm_signal_leave_room(app, c, "ended");
    tdm_conn_close(c, LWS_CLOSE_STATUS_NORMAL, "call ended");
}
