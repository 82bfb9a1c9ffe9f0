/* Per-room chat and watch-together state on the control thread: creation on the first join,
 * the late joiner's state and history, leaving, the room's deadline timer, access tokens and
 * picture keys (docs/protocol-sync-chat.md). */
#include "channels.h"
#include "app.h"
#include "signal.h"

#include "tandem/err.h"
#include "tandem/util.h"

#include <glib.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct member {
    char id[TDM_PARTICIPANT_ID_LEN + 1];
    char token[TDM_CHANNELS_TOKEN_LEN + 1];
};

struct picture_key {
    uint64_t msg_id;
    char key[TDM_CHANNELS_TOKEN_LEN + 1];
};

struct tdm_channels {
    struct tdm_app *app;
    struct tdm_room *room; /* borrowed: the channels die before their room */
    struct tdm_sync *sync;
    struct tdm_chat *chat;
    guint timer;         /* GLib source id, 0 when none */
    int64_t timer_at_us; /* server time the timer is armed for */
    struct member *members;
    size_t n_members, cap_members;
    struct picture_key *pics;
    size_t n_pics, cap_pics;
    char card[33]; /* the conversation card on screen, "" = none */
    char card_by[TDM_PARTICIPANT_ID_LEN + 1];
};

struct tdm_channels *tdm_channels_of(const struct tdm_participant *p)
{
    return p && p->room ? tdm_room_channels(p->room) : NULL;
}

struct tdm_sync *tdm_channels_sync(struct tdm_channels *ch)
{
    return ch->sync;
}

struct tdm_chat *tdm_channels_chat(struct tdm_channels *ch)
{
    return ch->chat;
}

const char *tdm_channels_card(struct tdm_channels *ch, const char **by)
{
    *by = ch->card_by;
    return ch->card[0] ? ch->card : NULL;
}

void tdm_channels_set_card(struct tdm_channels *ch, const char *card, const char *by)
{
    snprintf(ch->card, sizeof ch->card, "%s", card ? card : "");
    snprintf(ch->card_by, sizeof ch->card_by, "%s", by ? by : "");
}

/* ---- errors ---- */

/* Wire field names the cores put before ':' in err; anything else is not a field. */
static const char *const wire_fields[] = {
    "source",  "position", "rate",    "at",   "seq",  "waiting", "coordinators_only",
    "enabled", "text",     "caption", "mime", "size", "upload",  "offset",
    "data",    "message",  "emoji",   "t1",
};

static const char *field_of(const char *err)
{
    const char *colon = strchr(err, ':');
    size_t n = colon ? (size_t)(colon - err) : 0;
    for (size_t i = 0; n && i < sizeof wire_fields / sizeof wire_fields[0]; i++)
        if (strlen(wire_fields[i]) == n && memcmp(wire_fields[i], err, n) == 0)
            return wire_fields[i];
    return NULL;
}

void tdm_channels_error(struct tdm_proto_err *e, int rc, const char *err)
{
    const char *code;
    switch (rc) {
    case TDM_EINVAL:
    case TDM_ETRUNC:
    case TDM_EUNSUPP: code = "bad_field"; break;
    case TDM_EPERM: code = "forbidden"; break;
    case TDM_ESTATE: code = "conflict"; break;
    case TDM_ENOTFOUND: code = "not_found"; break;
    case TDM_EFULL: code = "limit_reached"; break;
    case TDM_ETOOBIG: code = "picture_too_big"; break;
    case TDM_EAGAIN: code = "rate_limited"; break;
    default: code = "internal"; break;
    }
    const char *field = field_of(err);
    if (strcmp(code, "bad_field") == 0 && !field)
        code = "internal"; /* a core check the io layer should have made first */
    if (strcmp(code, "internal") == 0)
        tdm_proto_set(e, code, NULL, "the server failed: %s", tdm_strerror(rc));
    else
        tdm_proto_set(e, code, field, "%s", err[0] ? err : tdm_strerror(rc));
}

/* ---- timer ---- */

static gboolean on_timer(gpointer data)
{
    struct tdm_channels *ch = data;
    ch->timer = 0;
    int64_t now = tdm_proto_server_us();
    if (tdm_sync_tick(ch->sync, now) == 1)
        tdm_room_broadcast(ch->room, NULL, tdm_channels_sync_state(ch, now));
    tdm_chat_upload_expire(ch->chat, now);
    tdm_channels_rearm(ch);
    return G_SOURCE_REMOVE;
}

void tdm_channels_rearm(struct tdm_channels *ch)
{
    int64_t a = tdm_sync_next_deadline(ch->sync), b = tdm_chat_next_deadline(ch->chat);
    int64_t at = a < b ? a : b;
    if (ch->timer && at == ch->timer_at_us)
        return;
    if (ch->timer)
        g_source_remove(ch->timer);
    ch->timer = 0;
    if (at == INT64_MAX)
        return;
    int64_t delay_us = at - tdm_proto_server_us();
    /* Rounded up: a tick a little late is harmless, one too early finds nothing to do. */
    guint ms = delay_us <= 0 ? 0 : (guint)((delay_us + 999) / 1000);
    ch->timer = g_timeout_add(ms, on_timer, ch);
    ch->timer_at_us = at;
}

/* ---- create / destroy ---- */

static int channels_create(struct tdm_app *app, struct tdm_room *room, struct tdm_channels **out)
{
    const struct tdm_config *cfg = &app->cfg;
    char err[160] = "";
    struct tdm_channels *ch = calloc(1, sizeof *ch);
    if (!ch)
        return TDM_ENOMEM;
    ch->app = app;
    ch->room = room;
    struct tdm_sync_config sc;
    tdm_sync_config_init(&sc);
    const char *origins[TDM_CONFIG_MAX_ORIGINS];
    for (size_t i = 0; i < cfg->n_sync_origins; i++)
        origins[i] = cfg->sync_origins[i];
    sc.allowed_origins = origins;
    sc.n_allowed_origins = cfg->n_sync_origins;
    sc.max_wait_us = (int64_t)cfg->sync_max_wait_s * 1000000;
    struct tdm_chat_config cc;
    tdm_chat_config_init(&cc);
    cc.max_messages = cfg->chat.max_messages;
    cc.max_picture_bytes = cfg->chat.max_picture_bytes;
    cc.picture_budget_bytes = cfg->chat.picture_budget_bytes;
    cc.pool = &app->chat_pool;
    cc.messages_per_s = cfg->chat.messages_per_second;
    cc.message_burst = cfg->chat.message_burst;
    cc.pictures_per_s = cfg->chat.pictures_per_minute / 60.0;
    cc.picture_burst = cfg->chat.picture_burst;
    cc.max_uploads = cfg->chat.max_uploads;
    cc.upload_idle_us = (int64_t)cfg->chat.upload_idle_s * 1000000;
    cc.allow_metadata = cfg->chat.allow_metadata != 0;
    int rc = tdm_sync_create(&sc, &ch->sync, err, sizeof err);
    if (rc == 0)
        rc = tdm_chat_create(&cc, &ch->chat, err, sizeof err);
    if (rc != 0) {
        TDM_ERROR("r%u: channels: %s", tdm_room_log_id(room), err);
        tdm_sync_destroy(ch->sync);
        free(ch);
        return rc;
    }
    *out = ch;
    return 0;
}

static void channels_destroy(struct tdm_channels *ch)
{
    if (ch->timer)
        g_source_remove(ch->timer);
    tdm_chat_destroy(ch->chat); /* wipes every text and picture */
    tdm_sync_destroy(ch->sync);
    OPENSSL_cleanse(ch->members, ch->cap_members * sizeof *ch->members);
    OPENSSL_cleanse(ch->pics, ch->cap_pics * sizeof *ch->pics);
    free(ch->members);
    free(ch->pics);
    free(ch);
}

/* ---- tokens and picture keys ---- */

static int grow(void **arr, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap)
        return 0;
    size_t ncap = *cap ? *cap * 2 : 8;
    void *p = realloc(*arr, ncap * elem);
    if (!p)
        return TDM_ENOMEM;
    *arr = p;
    *cap = ncap;
    return 0;
}

static struct member *add_member(struct tdm_channels *ch, const struct tdm_participant *p)
{
    if (grow((void **)&ch->members, &ch->cap_members, ch->n_members, sizeof *ch->members))
        return NULL;
    struct member *m = &ch->members[ch->n_members];
    memcpy(m->id, p->id, sizeof m->id);
    if (tdm_random_id(m->token, sizeof m->token, 16) < 0)
        return NULL;
    ch->n_members++;
    return m;
}

static void remove_member(struct tdm_channels *ch, const char *id)
{
    for (size_t i = 0; i < ch->n_members; i++) {
        if (strcmp(ch->members[i].id, id) == 0) {
            ch->members[i] = ch->members[--ch->n_members];
            OPENSSL_cleanse(&ch->members[ch->n_members], sizeof *ch->members);
            return;
        }
    }
}

static const char *picture_key(const struct tdm_channels *ch, uint64_t msg_id)
{
    for (size_t i = 0; i < ch->n_pics; i++)
        if (ch->pics[i].msg_id == msg_id)
            return ch->pics[i].key;
    return NULL;
}

/* Keys of pictures whose bytes are gone (deleted, evicted, dropped) serve nothing: forget
 * them, so the table stays as small as the pictures the room holds. */
static void prune_pictures(struct tdm_channels *ch)
{
    for (size_t i = 0; i < ch->n_pics;) {
        const struct tdm_chat_message *m = tdm_chat_find(ch->chat, ch->pics[i].msg_id);
        if (m && m->picture) {
            i++;
            continue;
        }
        ch->pics[i] = ch->pics[--ch->n_pics];
    }
}

int tdm_channels_picture_added(struct tdm_channels *ch, uint64_t msg_id)
{
    prune_pictures(ch);
    if (grow((void **)&ch->pics, &ch->cap_pics, ch->n_pics, sizeof *ch->pics))
        return TDM_ENOMEM;
    struct picture_key *k = &ch->pics[ch->n_pics];
    k->msg_id = msg_id;
    int rc = tdm_random_id(k->key, sizeof k->key, 16);
    if (rc < 0)
        return rc;
    ch->n_pics++;
    return 0;
}

static struct tdm_channels *channels_by_room(struct tdm_app *app, const char *room_id)
{
    struct tdm_room *room =
        tdm_room_id_valid(room_id, strlen(room_id)) ? tdm_rooms_find(app->rooms, room_id) : NULL;
    return room ? tdm_room_channels(room) : NULL;
}

bool tdm_channels_token_ok(struct tdm_app *app, const char *room_id, const char *token,
                           size_t token_len)
{
    struct tdm_channels *ch = channels_by_room(app, room_id);
    if (!ch || token_len != TDM_CHANNELS_TOKEN_LEN)
        return false;
    bool ok = false;
    for (size_t i = 0; i < ch->n_members; i++) /* no early exit: constant time per member */
        ok |= tdm_ct_equal(ch->members[i].token, token, TDM_CHANNELS_TOKEN_LEN);
    return ok;
}

const struct tdm_chat_message *tdm_channels_picture(struct tdm_app *app, const char *room_id,
                                                    const char *key, size_t key_len)
{
    struct tdm_channels *ch = channels_by_room(app, room_id);
    if (!ch || key_len != TDM_CHANNELS_TOKEN_LEN)
        return NULL;
    for (size_t i = 0; i < ch->n_pics; i++) {
        if (!tdm_ct_equal(ch->pics[i].key, key, TDM_CHANNELS_TOKEN_LEN))
            continue;
        const struct tdm_chat_message *m = tdm_chat_find(ch->chat, ch->pics[i].msg_id);
        return m && m->picture ? m : NULL;
    }
    return NULL;
}

/* ---- JSON ---- */

json_t *tdm_channels_sync_state(struct tdm_channels *ch, int64_t now_us)
{
    struct tdm_sync_state st;
    tdm_sync_snapshot(ch->sync, now_us, &st);
    json_t *waiting = json_array();
    for (size_t i = 0; i < st.n_waiting; i++)
        json_array_append_new(waiting, json_string(tdm_sync_waiting_id(ch->sync, i)));
    return json_pack(
        "{s:s, s:I, s:o, s:b, s:b, s:f, s:f, s:f, s:b, s:b, s:o, s:s, s:o}", "type", "sync.state",
        "seq", (json_int_t)st.seq, "source", st.loaded ? json_string(st.source) : json_null(),
        "playing", st.playing, "held", st.held, "position", (double)st.position_us / 1e6, "rate",
        st.rate, "at", (double)st.time_us / 1000.0, "coordinators_only", st.coordinators_only,
        "wait_for_all", st.wait_for_all, "waiting", waiting, "cause", tdm_sync_cause_name(st.cause),
        "by", st.by[0] ? json_string(st.by) : json_null());
}

json_t *tdm_channels_reactions_json(const struct tdm_chat_message *m)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < m->n_reactions; i++) {
        const struct tdm_chat_reaction *r = &m->reactions[i];
        json_t *who = json_array();
        for (size_t k = 0; k < r->count; k++)
            json_array_append_new(who, json_string(r->who[k]));
        json_array_append_new(arr, json_pack("{s:s, s:I, s:o}", "emoji", r->emoji, "count",
                                             (json_int_t)r->count, "who", who));
    }
    return arr;
}

json_t *tdm_channels_message_json(struct tdm_channels *ch, const struct tdm_chat_message *m)
{
    json_t *o = json_pack("{s:I, s:f, s:{s:s, s:s}, s:o}", "id", (json_int_t)m->id, "time",
                          (double)m->time_us / 1000.0, "from", "id", m->sender_id, "name",
                          m->sender_name, "reactions", tdm_channels_reactions_json(m));
    if (!o)
        return NULL;
    if (m->text)
        json_object_set_new(o, "text", json_stringn(m->text, m->text_len));
    if (m->picture_type != TDM_CHAT_IMAGE_NONE) {
        const char *key = m->picture ? picture_key(ch, m->id) : NULL;
        json_t *pic =
            json_pack("{s:s, s:i, s:i, s:I, s:b}", "mime", tdm_chat_image_mime(m->picture_type),
                      "width", (int)m->width, "height", (int)m->height, "size",
                      (json_int_t)m->picture_len, "available", key != NULL);
        if (pic && key) {
            char url[16 + TDM_ROOM_ID_MAX + TDM_CHANNELS_TOKEN_LEN];
            snprintf(url, sizeof url, "/p/%s/%s", tdm_room_id(ch->room), key);
            json_object_set_new(pic, "url", json_string(url));
        }
        json_object_set_new(o, "picture", pic);
    }
    return o;
}

/* ---- joining and leaving ---- */

static void send_late_joiner(struct tdm_channels *ch, struct tdm_participant *p, const char *token)
{
    int64_t now = tdm_proto_server_us();
    json_t *state = tdm_channels_sync_state(ch, now);
    if (state) {
        json_object_set_new(state, "access", json_string(token));
        json_object_set_new(state, "media", json_boolean(ch->app->cfg.sync_media_dir[0] != 0));
    }
    tdm_conn_send(p->user, state);
    json_t *msgs = json_array();
    for (size_t i = 0; i < tdm_chat_count(ch->chat); i++)
        json_array_append_new(msgs, tdm_channels_message_json(ch, tdm_chat_at(ch->chat, i)));
    tdm_conn_send(p->user, json_pack("{s:s, s:o, s:s}", "type", "chat.history", "messages", msgs,
                                     "access", token));
}

void tdm_channels_joined(struct tdm_app *app, struct tdm_participant *p)
{
    struct tdm_channels *ch = tdm_room_channels(p->room);
    if (!ch) {
        if (channels_create(app, p->room, &ch) != 0)
            return; /* chat and sync answer "internal" in this room */
        tdm_room_set_channels(p->room, ch);
    }
    struct member *m = add_member(ch, p);
    if (!m) {
        TDM_ERROR("r%u: p%u: no access token", tdm_room_log_id(p->room), p->log_id);
        return;
    }
    send_late_joiner(ch, p, m->token);
}

void tdm_channels_resync(struct tdm_app *app, struct tdm_participant *p, bool chat_too)
{
    (void)app;
    struct tdm_channels *ch = tdm_room_channels(p->room);
    if (!ch)
        return;
    for (size_t i = 0; i < ch->n_members; i++) {
        if (strcmp(ch->members[i].id, p->id) != 0)
            continue;
        if (chat_too) {
            send_late_joiner(ch, p, ch->members[i].token);
        } else {
            json_t *st = tdm_channels_sync_state(ch, tdm_proto_server_us());
            if (st) {
                json_object_set_new(st, "access", json_string(ch->members[i].token));
                json_object_set_new(st, "media", json_boolean(ch->app->cfg.sync_media_dir[0] != 0));
            }
            tdm_conn_send(p->user, st);
        }
    }
}

void tdm_channels_leaving(struct tdm_app *app, struct tdm_participant *p)
{
    struct tdm_channels *ch = tdm_room_channels(p->room);
    if (!ch)
        return;
    if (tdm_room_count(p->room) <= 1) {
        tdm_room_set_channels(p->room, NULL);
        channels_destroy(ch);
        return;
    }
    remove_member(ch, p->id);
    tdm_chat_participant_left(ch->chat, p->id); /* also drops p's upload */
    int64_t now = tdm_proto_server_us();
    if (tdm_sync_participant_left(ch->sync, p->id, now) == 1)
        tdm_room_broadcast(p->room, p, tdm_channels_sync_state(ch, now));
    tdm_channels_rearm(ch);
}
