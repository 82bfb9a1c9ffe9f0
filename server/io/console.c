/* The coordinator console (docs/protocol.md, "Console"): a connection that shows a console
 * capability (console.hello) may make rooms and links, list and withdraw links, and count
 * the people in rooms it names. The server keeps no room names and no list of rooms: a room
 * is a random id the console keeps next to the name it gave it, in its own browser. */
#include "app.h"
#include "signal.h"

#include "tandem/checkin.h"
#include "tandem/err.h"
#include "tandem/util.h"

#include <openssl/rand.h>
#include <string.h>

#define CONSOLE_LIST_MAX 2000 /* links in one console.links answer */
#define CONSOLE_ROOMS_MAX 500 /* rooms in one console.rooms question */
#define ROOM_ID_BYTES 16      /* a new room id: 22 characters of base64url */

static void reply(struct tdm_conn *c, json_t *r, json_t *id)
{
    if (r && id)
        json_object_set(r, "ref", id);
    tdm_conn_send(c, r);
}

/* The verdict on a capability now: 0, or e filled. Expiry and withdrawal are looked at on
 * every action, so that a console link withdrawn from the shell stops working within the
 * ledger's poll interval even on a connection that is already open. */
static int cap_ok(struct tdm_app *app, const struct tdm_console_cap *cap, struct tdm_proto_err *e)
{
    if (tdm_wall_us() / 1000000 >= cap->expires_s) {
        tdm_proto_set(e, "console_expired", "token", "this console link has expired");
        return TDM_ESTATE;
    }
    if (tdm_invite_ledger_revoked(app->invites, cap->id)) {
        tdm_proto_set(e, "console_revoked", "token", "this console link was withdrawn");
        return TDM_EPERM;
    }
    return 0;
}

/* Every console action starts here: a connection that is no console is refused forbidden. */
static bool is_console(struct tdm_app *app, struct tdm_conn *c, struct tdm_proto_err *e)
{
    if (!c->console) {
        tdm_proto_set(e, "forbidden", NULL, "only a coordinator console can do this");
        return false;
    }
    if (cap_ok(app, &c->console_cap, e) != 0) {
        c->console = false; /* for good: a new console.hello would be refused too */
        return false;
    }
    return true;
}

/* console.hello {token} */
void tdm_on_console_hello(struct tdm_app *app, struct tdm_conn *c, json_t *msg, json_t *id,
                          struct tdm_proto_err *e)
{
    const char *tok;
    size_t len;
    char why[128];
    struct tdm_console_cap cap;
    if (!tdm_proto_string(msg, "token", 1, TDM_INVITE_TOKEN_MAX, true, &tok, &len, e))
        return;
    if (c->participant || c->lobby) {
        tdm_proto_set(e, "forbidden", NULL, "a connection in a room cannot be a console");
        return;
    }
    int rc = tdm_console_decode(tok, len, app->invite_key, sizeof app->invite_key,
                                tdm_wall_us() / 1000000, &cap, why, sizeof why);
    if (rc == TDM_ESTATE) {
        tdm_proto_set(e, "console_expired", "token", "this console link has expired");
        return;
    }
    if (rc != 0) {
        tdm_proto_set(e, "console_invalid", "token", "this console link is not valid");
        return;
    }
    if (cap_ok(app, &cap, e) != 0)
        return;
    c->console = true;
    c->console_cap = cap;
    TDM_INFO("c%u: console opened", c->log_id);
    reply(c,
          json_pack("{s:s, s:I, s:b}", "type", "console.ready", "expires_s",
                    (json_int_t)cap.expires_s, "public_url", app->cfg.public_url[0] != 0),
          id);
}

/* console.room.create {}: a fresh random room id. Nothing is kept: a room exists on the
 * server only while someone is in it. */
void tdm_on_console_room_create(struct tdm_app *app, struct tdm_conn *c, json_t *msg, json_t *id,
                                struct tdm_proto_err *e)
{
    uint8_t raw[ROOM_ID_BYTES];
    char room[TDM_ROOM_ID_MAX + 1];
    (void)msg;
    if (!is_console(app, c, e))
        return;
    if (RAND_bytes(raw, sizeof raw) != 1 ||
        tdm_b64url_encode(raw, sizeof raw, room, sizeof room) < 0) {
        tdm_proto_set(e, "internal", NULL, "no randomness for a room id");
        return;
    }
    reply(c, json_pack("{s:s, s:s}", "type", "console.room", "room", room), id);
}

/* console.link.create {room, role, expires_s?, uses?} */
void tdm_on_console_link_create(struct tdm_app *app, struct tdm_conn *c, json_t *msg, json_t *id,
                                struct tdm_proto_err *e)
{
    const char *room;
    size_t len;
    char room_id[TDM_ROOM_ID_MAX + 1];
    if (!is_console(app, c, e) || !tdm_proto_string(msg, "room", 0, 4096, true, &room, &len, e))
        return;
    if (!tdm_room_id_valid(room, len)) {
        tdm_proto_set(e, "bad_field", "room", "room: %d to %d characters of A-Z a-z 0-9 _ -",
                      TDM_ROOM_ID_MIN, TDM_ROOM_ID_MAX);
        return;
    }
    memcpy(room_id, room, len);
    room_id[len] = '\0';
    json_t *r = tdm_invites_make_link(app, room_id, msg, e);
    if (!r)
        return;
    json_object_set_new(r, "type", json_string("console.link"));
    json_object_set_new(r, "room", json_string(room_id));
    TDM_INFO("c%u: the console made an invite (%s)", c->log_id,
             json_string_value(json_object_get(r, "role")));
    reply(c, r, id);
}

struct list_ctx {
    json_t *links;
    size_t n;
    bool truncated;
};

static void add_link(const struct tdm_invite_record *r, void *arg)
{
    struct list_ctx *lc = arg;
    /* only links whose terms are known (made or used here): a withdrawn id, a person taken
     * out of a call or a console link is no room link */
    if (!r->known || r->revoked || (r->uses && r->used >= r->uses))
        return;
    if (lc->n >= CONSOLE_LIST_MAX) {
        lc->truncated = true;
        return;
    }
    char idtext[TDM_INVITE_ID_TEXT];
    tdm_invite_id_text(r->id, idtext);
    json_t *o = json_pack("{s:s, s:s, s:I, s:I, s:I}", "invite_id", idtext, "role",
                          tdm_role_name(r->role), "expires_s", (json_int_t)r->expires_s, "uses",
                          (json_int_t)r->uses, "used", (json_int_t)r->used);
    if (o && json_array_append_new(lc->links, o) == 0)
        lc->n++;
}

/* console.links {}: every link still valid (not expired, withdrawn or used up). The ledger
 * has no room ids: the console puts each link it made next to its room itself. */
void tdm_on_console_links(struct tdm_app *app, struct tdm_conn *c, json_t *msg, json_t *id,
                          struct tdm_proto_err *e)
{
    (void)msg;
    if (!is_console(app, c, e))
        return;
    struct list_ctx lc = {json_array(), 0, false};
    if (!lc.links) {
        tdm_proto_set(e, "internal", NULL, "out of memory");
        return;
    }
    tdm_invite_ledger_each(app->invites, tdm_wall_us() / 1000000, add_link, &lc);
    reply(c,
          json_pack("{s:s, s:o, s:b}", "type", "console.links", "links", lc.links, "truncated",
                    lc.truncated),
          id);
}

/* console.link.revoke {invite_id} */
void tdm_on_console_link_revoke(struct tdm_app *app, struct tdm_conn *c, json_t *msg, json_t *id,
                                struct tdm_proto_err *e)
{
    const char *text;
    size_t len;
    uint8_t iid[TDM_INVITE_ID_LEN];
    if (!is_console(app, c, e) || !tdm_proto_string(msg, "invite_id", 1, 64, true, &text, &len, e))
        return;
    if (tdm_invite_id_parse(text, len, iid)) {
        tdm_proto_set(e, "bad_field", "invite_id", "invite_id: the id given when it was made");
        return;
    }
    /* a console link is not withdrawn from a console: that is the shell's (its holder could
     * otherwise lock every other console out, or itself by mistake) */
    if (memcmp(iid, c->console_cap.id, TDM_INVITE_ID_LEN) == 0) {
        tdm_proto_set(e, "bad_field", "invite_id", "this is the console link itself");
        return;
    }
    struct tdm_invite_record rec;
    int64_t until = tdm_wall_us() / 1000000 + 366LL * 86400;
    if (tdm_invite_ledger_get(app->invites, iid, &rec) && rec.expires_s > until)
        until = rec.expires_s;
    if (tdm_invites_withdraw_id(app, iid, until)) {
        tdm_proto_set(e, "server_full", NULL, "too many invites in use");
        return;
    }
    reply(c, json_pack("{s:s, s:s}", "type", "console.link.revoked", "invite_id", text), id);
}

/* console.rooms {rooms: [id, ...]}: how many people are in each of these rooms now. Counts
 * only; a room nobody is in is 0 (the server cannot tell it from one that never was). */
void tdm_on_console_rooms(struct tdm_app *app, struct tdm_conn *c, json_t *msg, json_t *id,
                          struct tdm_proto_err *e)
{
    if (!is_console(app, c, e))
        return;
    json_t *ids = json_object_get(msg, "rooms");
    if (!json_is_array(ids) || json_array_size(ids) > CONSOLE_ROOMS_MAX) {
        tdm_proto_set(e, "bad_field", "rooms", "rooms: a list of at most %d room ids",
                      CONSOLE_ROOMS_MAX);
        return;
    }
    size_t i;
    json_t *v;
    json_array_foreach(ids, i, v)
    {
        const char *s = json_string_value(v);
        if (!s || !tdm_room_id_valid(s, json_string_length(v)) ||
            strlen(s) != json_string_length(v)) {
            tdm_proto_set(e, "bad_field", "rooms", "rooms: room ids only");
            return;
        }
    }
    json_t *counts = json_object();
    if (!counts) {
        tdm_proto_set(e, "internal", NULL, "out of memory");
        return;
    }
    json_t *checkins = json_object();
    int64_t now = tdm_now_us();
    json_array_foreach(ids, i, v)
    {
        const char *s = json_string_value(v);
        struct tdm_room *room = tdm_rooms_find(app->rooms, s);
        json_object_set_new(counts, s, json_integer(room ? (json_int_t)tdm_room_count(room) : 0));
        struct tdm_checkin_counts ck = {0};
        if (app->checkin)
            tdm_checkin_counts(app->checkin, s, now, &ck);
        if (checkins && ck.n[0] + ck.n[1] + ck.n[2] + ck.poor)
            json_object_set_new(checkins, s,
                                json_pack("{s:i, s:i, s:i, s:i}", "fine", (int)ck.n[0], "some",
                                          (int)ck.n[1], "many", (int)ck.n[2], "poor",
                                          (int)ck.poor));
    }
    reply(c,
          json_pack("{s:s, s:o, s:o*}", "type", "console.rooms", "counts", counts, "checkins",
                    checkins),
          id);
}
