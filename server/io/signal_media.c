/* Media signaling on the control thread (docs/protocol.md "Media"): offers, answers,
 * candidates and media state. Each message is validated into typed values here; offers
 * and answers then go to the room's media worker as a command carrying the room id, the
 * participant id and a copy of the SDP, and the worker's replies come back through
 * tdm_media_deliver. Rooms are pinned to a worker when their first participant joins. */
#include "app.h"
#include "media.h"
#include "signal.h"

#include "tandem/checkin.h"
#include "tandem/err.h"
#include "tandem/sdp.h"
#include "tandem/util.h"

#include <stdlib.h>
#include <string.h>

#define CANDIDATE_MAX 512
#define SDP_MID_MAX 32

/* Worker index of a room: stored as index + 1 in the room's media slot (0: not pinned). */
static bool room_worker(struct tdm_room *room, unsigned *w)
{
    uintptr_t v = (uintptr_t)tdm_room_user(room);
    if (!v)
        return false;
    *w = (unsigned)(v - 1);
    return true;
}

static struct tdm_sfu_cmd *cmd_new(enum tdm_sfu_cmd_kind k, const struct tdm_participant *p)
{
    struct tdm_sfu_cmd *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->kind = k;
    snprintf(c->room, sizeof c->room, "%s", tdm_room_id(p->room));
    snprintf(c->pid, sizeof c->pid, "%s", p->id);
    return c;
}

/* "pc": "pub" or "sub"; `want` NULL accepts both. */
static bool read_pc(json_t *msg, const char *want, const char **pc, struct tdm_proto_err *e)
{
    size_t len;
    if (!tdm_proto_string(msg, "pc", 1, 8, true, pc, &len, e))
        return false;
    bool ok = strcmp(*pc, "pub") == 0 || strcmp(*pc, "sub") == 0;
    if (!ok || (want && strcmp(*pc, want) != 0)) {
        tdm_proto_set(e, "bad_field", "pc",
                      want ? "pc: this message is only valid on \"%s\"" : "pc: \"pub\" or \"sub\"",
                      want ? want : "");
        return false;
    }
    return true;
}

/* Validates sdp and sends it to the room's worker as cmd (taken). */
static void relay_sdp(struct tdm_app *app, struct tdm_conn *c, json_t *msg, json_t *id,
                      struct tdm_sfu_cmd *cmd, struct tdm_proto_err *e)
{
    const char *sdp;
    size_t len;
    unsigned w;
    if (!cmd) {
        tdm_proto_set(e, "internal", NULL, "out of memory");
        return;
    }
    if (!tdm_proto_string(msg, "sdp", 1, TDM_SDP_MAX_BYTES, true, &sdp, &len, e))
        goto fail;
    if (!app->media || !room_worker(c->participant->room, &w) ||
        !tdm_media_worker_usable(app->media, w)) {
        tdm_proto_set(e, "media_unavailable", NULL, "this server cannot carry media now");
        goto fail;
    }
    cmd->sdp = strndup(sdp, len);
    cmd->sdp_len = len;
    cmd->ref = id ? json_dumps(id, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
    if (!cmd->sdp) {
        tdm_proto_set(e, "internal", NULL, "out of memory");
        goto fail;
    }
    tdm_media_post(app->media, w, cmd);
    return;
fail:
    tdm_sfu_cmd_free(cmd);
}

/* A mid as browsers write them: 1..TDM_SFU_MID_MAX of [A-Za-z0-9_-]. */
static bool mid_ok(const char *s, size_t len)
{
    if (len < 1 || len > TDM_SFU_MID_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!(g_ascii_isalnum(s[i]) || s[i] == '_' || s[i] == '-'))
            return false;
    return true;
}

/* The room's rules for a pub offer naming a screen (docs/protocol.md "Screen sharing"):
 * one sharer at a time, and not someone whose video the coordinator stopped. */
static bool may_share(const struct tdm_participant *p, struct tdm_proto_err *e)
{
    if (p->muted_video) {
        tdm_proto_set(e, "forbidden", NULL, "the coordinator stopped this person's video");
        return false;
    }
    for (size_t i = 0; i < tdm_room_count(p->room); i++) {
        const struct tdm_participant *q = tdm_room_participant(p->room, i);
        if (q != p && q->share) {
            tdm_proto_set(e, "share_busy", NULL, "someone else is sharing a screen");
            return false;
        }
    }
    return true;
}

void tdm_media_on_offer(struct tdm_app *app, struct tdm_conn *c, json_t *msg, json_t *id,
                        struct tdm_proto_err *e)
{
    const char *pc, *screen = NULL;
    size_t len = 0;
    struct tdm_participant *p = c->participant;
    if (!read_pc(msg, "pub", &pc, e))
        return;
    if (!tdm_proto_string(msg, "screen", 1, TDM_SFU_MID_MAX, false, &screen, &len, e))
        return;
    if (screen && !mid_ok(screen, len)) {
        tdm_proto_set(e, "bad_field", "screen", "screen: the mid of the screen's m-section");
        return;
    }
    if (screen && !may_share(p, e))
        return;
    struct tdm_sfu_cmd *cmd = cmd_new(TDM_SFU_CMD_PUB_OFFER, p);
    uint8_t was = p->share;
    if (cmd && screen) {
        memcpy(cmd->screen, screen, len);
        if (!p->share)
            p->share = 1; /* asked: the worker's TDM_SFU_EV_SHARE settles it */
    }
    relay_sdp(app, c, msg, id, cmd, e);
    if (e->code)
        p->share = was;
}

void tdm_media_on_answer(struct tdm_app *app, struct tdm_conn *c, json_t *msg, json_t *id,
                         struct tdm_proto_err *e)
{
    const char *pc;
    if (!read_pc(msg, "sub", &pc, e))
        return;
    json_t *rev = json_object_get(msg, "rev");
    if (!rev) {
        tdm_proto_set(e, "missing_field", "rev", "rev: missing");
        return;
    }
    if (!json_is_integer(rev) || json_integer_value(rev) < 1 ||
        json_integer_value(rev) > (1LL << 53) - 1) {
        tdm_proto_set(e, "bad_field", "rev", "rev: the integer of the offer being answered");
        return;
    }
    struct tdm_sfu_cmd *cmd = cmd_new(TDM_SFU_CMD_SUB_ANSWER, c->participant);
    if (cmd)
        cmd->rev = json_integer_value(rev);
    relay_sdp(app, c, msg, id, cmd, e);
}

static bool null_or_string(json_t *o, const char *key, size_t max)
{
    json_t *v = json_object_get(o, key);
    return !v || json_is_null(v) || (json_is_string(v) && json_string_length(v) <= max);
}

/* The server is ICE-lite and learns the page's addresses from its checks (RFC 8445 §2.5), so
 * candidates are checked and then not needed. */
void tdm_media_on_candidate(struct tdm_app *app, struct tdm_conn *c, json_t *msg, json_t *id,
                            struct tdm_proto_err *e)
{
    const char *pc;
    if (!read_pc(msg, NULL, &pc, e))
        return;
    json_t *cand = json_object_get(msg, "candidate");
    if (!cand) {
        tdm_proto_set(e, "missing_field", "candidate", "candidate: missing");
        return;
    }
    if (json_is_null(cand))
        return; /* end of candidates */
    json_t *line = json_object_get(cand, "candidate");
    json_t *idx = json_object_get(cand, "sdpMLineIndex");
    if (!json_is_object(cand) || !json_is_string(line) ||
        json_string_length(line) > CANDIDATE_MAX || !null_or_string(cand, "sdpMid", SDP_MID_MAX) ||
        (idx && !json_is_null(idx) &&
         (!json_is_integer(idx) || json_integer_value(idx) < 0 ||
          json_integer_value(idx) >= TDM_SDP_MAX_MEDIA))) {
        tdm_proto_set(e, "bad_field", "candidate",
                      "candidate: {candidate: string of at most %d bytes, sdpMid: string or "
                      "null, sdpMLineIndex: 0..%d or null} or null",
                      CANDIDATE_MAX, TDM_SDP_MAX_MEDIA - 1);
    }
}

void tdm_media_on_state(struct tdm_app *app, struct tdm_conn *c, json_t *msg, json_t *id,
                        struct tdm_proto_err *e)
{
    static const char *const keys[] = {"audio", "video"};
    for (size_t i = 0; i < 2; i++) {
        json_t *v = json_object_get(msg, keys[i]);
        if (!v) {
            tdm_proto_set(e, "missing_field", keys[i], "%s: missing", keys[i]);
            return;
        }
        if (!json_is_boolean(v)) {
            tdm_proto_set(e, "bad_field", keys[i], "%s: true or false", keys[i]);
            return;
        }
    }
    struct tdm_participant *p = c->participant;
    /* A person a coordinator muted with may_unmute turns the track on again: forwarding
     * resumes. Without may_unmute it stays stopped whatever the page says. */
    bool audio = json_is_true(json_object_get(msg, "audio"));
    bool video = json_is_true(json_object_get(msg, "video"));
    bool was_a = p->muted_audio, was_v = p->muted_video;
    if (audio && p->muted_audio && p->may_unmute_audio)
        p->muted_audio = false;
    if (video && p->muted_video && p->may_unmute_video)
        p->muted_video = false;
    if (was_a != p->muted_audio || was_v != p->muted_video)
        tdm_media_block(app, p);
    tdm_room_broadcast(p->room, p,
                       json_pack("{s:s, s:s, s:b, s:b}", "type", "media.state", "id", p->id,
                                 "audio", audio && !p->muted_audio, "video",
                                 video && !p->muted_video));
}

void tdm_media_on_receive(struct tdm_app *app, struct tdm_conn *c, json_t *msg, json_t *id,
                          struct tdm_proto_err *e)
{
    (void)id;
    json_t *v = json_object_get(msg, "video");
    if (!v) {
        tdm_proto_set(e, "missing_field", "video", "video: missing");
        return;
    }
    if (!json_is_boolean(v)) {
        tdm_proto_set(e, "bad_field", "video", "video: true or false");
        return;
    }
    struct tdm_participant *p = c->participant;
    unsigned w;
    if (!app->media || !room_worker(p->room, &w))
        return;
    struct tdm_sfu_cmd *cmd = cmd_new(TDM_SFU_CMD_RECEIVE, p);
    if (!cmd)
        return;
    cmd->receive_video = json_is_true(v);
    tdm_media_post(app->media, w, cmd);
}

/* The page receives the others without publishing (a coordinator who watches, a load
 * client): the same sub offers as after a pub offer, with no pub connection to hold. It
 * has no fields; it is answered by those offers (none while nobody publishes), or by an
 * error carrying its id. A server without it answers unknown_type: the page then offers
 * on "pub" as before. Bounded as every message (rate limit); each request stands for a new
 * pair of connections (the worker releases the old ones first). */
void tdm_media_on_receive_only(struct tdm_app *app, struct tdm_conn *c, json_t *msg, json_t *id,
                               struct tdm_proto_err *e)
{
    (void)msg;
    struct tdm_participant *p = c->participant;
    unsigned w;
    if (!app->media || !room_worker(p->room, &w) || !tdm_media_worker_usable(app->media, w)) {
        tdm_proto_set(e, "media_unavailable", NULL, "this server cannot carry media now");
        return;
    }
    struct tdm_sfu_cmd *cmd = cmd_new(TDM_SFU_CMD_RECV_ONLY, p);
    if (!cmd) {
        tdm_proto_set(e, "internal", NULL, "out of memory");
        return;
    }
    cmd->ref = id ? json_dumps(id, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
    tdm_media_post(app->media, w, cmd);
}

/* A plain command about p to its room's worker (no SDP). */
static void post_simple(struct tdm_app *app, struct tdm_participant *p, enum tdm_sfu_cmd_kind k)
{
    unsigned w;
    if (!app->media || !room_worker(p->room, &w))
        return;
    struct tdm_sfu_cmd *cmd = cmd_new(k, p);
    if (cmd)
        tdm_media_post(app->media, w, cmd);
}

void tdm_media_resumed(struct tdm_app *app, struct tdm_participant *p)
{
    post_simple(app, p, TDM_SFU_CMD_RESUME);
}

void tdm_media_on_restart(struct tdm_app *app, struct tdm_conn *c, json_t *msg, json_t *id,
                          struct tdm_proto_err *e)
{
    (void)id;
    const char *pc;
    if (!read_pc(msg, "sub", &pc, e))
        return;
    /* Bounded: the page's message rate limit applies; a restart is a new offer. */
    post_simple(app, c->participant, TDM_SFU_CMD_SUB_RESTART);
}

#define TILE_PX_MAX 16384 /* larger than any screen, in device pixels */

/* One tile of media.layout: {participant: id, width, height: 0..TILE_PX_MAX, visible}. */
static bool read_tile(json_t *t, struct tdm_sfu_tile *out, struct tdm_proto_err *e)
{
    const char *pid;
    size_t len;
    double w = 0, h = 0;
    bool have_w, have_h;
    if (!json_is_object(t)) {
        tdm_proto_set(e, "bad_field", "tiles", "tiles: a list of objects");
        return false;
    }
    if (!tdm_proto_string(t, "participant", 1, TDM_PARTICIPANT_ID_LEN, true, &pid, &len, e) ||
        !tdm_proto_number(t, "width", &w, &have_w, e) ||
        !tdm_proto_number(t, "height", &h, &have_h, e))
        return false;
    json_t *vis = json_object_get(t, "visible");
    if ((vis && !json_is_boolean(vis)) || w < 0 || h < 0 || w > TILE_PX_MAX || h > TILE_PX_MAX) {
        tdm_proto_set(e, "bad_field", "tiles",
                      "tiles: width and height 0..%d, visible true or false", TILE_PX_MAX);
        return false;
    }
    memcpy(out->pid, pid, len);
    out->pid[len] = 0;
    out->width = (uint16_t)w;
    out->height = (uint16_t)h;
    out->visible = !vis || json_is_true(vis);
    return true;
}

void tdm_media_on_layout(struct tdm_app *app, struct tdm_conn *c, json_t *msg, json_t *id,
                         struct tdm_proto_err *e)
{
    (void)id;
    json_t *tiles = json_object_get(msg, "tiles");
    if (!json_is_array(tiles) || json_array_size(tiles) > TDM_SFU_MAX_TILES) {
        tdm_proto_set(e, tiles ? "bad_field" : "missing_field", "tiles",
                      "tiles: a list of at most %d tiles", TDM_SFU_MAX_TILES);
        return;
    }
    struct tdm_participant *p = c->participant;
    unsigned w;
    if (!app->media || !room_worker(p->room, &w))
        return;
    struct tdm_sfu_cmd *cmd = cmd_new(TDM_SFU_CMD_LAYOUT, p);
    size_t n = json_array_size(tiles);
    if (!cmd || (n && !(cmd->tiles = calloc(n, sizeof *cmd->tiles)))) {
        tdm_sfu_cmd_free(cmd);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (!read_tile(json_array_get(tiles, i), &cmd->tiles[i], e)) {
            tdm_sfu_cmd_free(cmd);
            return;
        }
    }
    cmd->n_tiles = (uint8_t)n;
    tdm_media_post(app->media, w, cmd);
}

void tdm_media_on_audio_only(struct tdm_app *app, struct tdm_conn *c, json_t *msg, json_t *id,
                             struct tdm_proto_err *e)
{
    (void)id;
    const char *mode;
    size_t len;
    if (!tdm_proto_string(msg, "mode", 1, 8, true, &mode, &len, e))
        return;
    int8_t m;
    if (strcmp(mode, "auto") == 0)
        m = TDM_SFU_AO_AUTO;
    else if (strcmp(mode, "video") == 0)
        m = TDM_SFU_AO_VIDEO;
    else if (strcmp(mode, "audio") == 0)
        m = TDM_SFU_AO_AUDIO;
    else {
        tdm_proto_set(e, "bad_field", "mode", "mode: \"auto\", \"video\" or \"audio\"");
        return;
    }
    struct tdm_participant *p = c->participant;
    unsigned w;
    if (!app->media || !room_worker(p->room, &w))
        return;
    struct tdm_sfu_cmd *cmd = cmd_new(TDM_SFU_CMD_AUDIO_ONLY, p);
    if (!cmd)
        return;
    cmd->ao_mode = m;
    tdm_media_post(app->media, w, cmd);
}

void tdm_media_participant_joined(struct tdm_app *app, struct tdm_participant *p)
{
    unsigned w;
    if (!app->media)
        return;
    if (!room_worker(p->room, &w)) {
        w = tdm_media_pin_room(app->media);
        tdm_room_set_user(p->room, (void *)(uintptr_t)(w + 1));
    }
    struct tdm_sfu_cmd *c = cmd_new(TDM_SFU_CMD_JOIN, p);
    if (c)
        tdm_media_post(app->media, w, c);
}

void tdm_media_participant_leaving(struct tdm_app *app, struct tdm_participant *p)
{
    unsigned w;
    if (!app->media || !room_worker(p->room, &w))
        return;
    struct tdm_sfu_cmd *c = cmd_new(TDM_SFU_CMD_LEAVE, p);
    if (c)
        tdm_media_post(app->media, w, c);
    if (tdm_room_count(p->room) == 1) { /* the last one: the room closes after this */
        tdm_media_unpin_room(app->media, w);
        tdm_room_set_user(p->room, NULL);
    }
}

void tdm_media_block(struct tdm_app *app, struct tdm_participant *p)
{
    unsigned w;
    if (!app->media || !room_worker(p->room, &w))
        return;
    struct tdm_sfu_cmd *c = cmd_new(TDM_SFU_CMD_BLOCK, p);
    if (!c)
        return;
    c->block_audio = p->muted_audio;
    c->block_video = p->muted_video;
    tdm_media_post(app->media, w, c);
}

static json_t *reply_json(const struct tdm_sfu_event *r)
{
    json_t *m = NULL;
    switch (r->kind) {
    case TDM_SFU_EV_ANSWER:
        m = json_pack("{s:s, s:s, s:s}", "type", "answer", "pc", "pub", "sdp",
                      r->sdp ? r->sdp : "");
        break;
    case TDM_SFU_EV_OFFER:
        m = json_pack("{s:s, s:s, s:s, s:I}", "type", "offer", "pc", "sub", "sdp",
                      r->sdp ? r->sdp : "", "rev", (json_int_t)r->rev);
        break;
    case TDM_SFU_EV_ERROR: {
        struct tdm_proto_err e = {.code = r->code, .field = r->field};
        snprintf(e.message, sizeof e.message, "%s", r->message);
        m = tdm_proto_error_msg(&e, NULL);
        if (m && r->pc)
            json_object_set_new(m, "pc", json_string(r->pc));
        break;
    }
    case TDM_SFU_EV_SPEAKER:
        m = json_pack("{s:s, s:s}", "type", "media.speaker", "participant", r->subject);
        break;
    case TDM_SFU_EV_AUDIO_ONLY:
        m = json_pack("{s:s, s:b, s:b}", "type", "media.audio_only", "on", r->on, "auto", 1);
        break;
    case TDM_SFU_EV_QUALITY: {
        static const char *const names[TDM_SFU_Q_N] = {"good", "fair", "poor"};
        m = json_pack("{s:s, s:s, s:s}", "type", "media.quality", "participant", r->subject,
                      "level", names[r->level < TDM_SFU_Q_N ? r->level : TDM_SFU_Q_POOR]);
        break;
    }
    case TDM_SFU_EV_PAUSED:
        m = json_pack("{s:s, s:s, s:b, s:b}", "type", "media.paused", "participant", r->subject,
                      "on", r->on, "screen", r->screen);
        break;
    case TDM_SFU_EV_SHARE: break; /* for this thread: share_changed */
    }
    if (m && r->ref) {
        json_t *ref = json_loads(r->ref, JSON_DECODE_ANY, NULL);
        if (ref)
            json_object_set_new(m, "ref", ref);
    }
    return m;
}

/* The worker's word on p's screen: its track came (the room is told, later joiners see it
 * in their welcome) or went, or an offer that asked for it was refused. */
static void share_changed(struct tdm_participant *p, bool on)
{
    uint8_t was = p->share;
    p->share = on ? 2 : 0;
    if ((was == 2) == on)
        return;
    json_t *m = json_pack("{s:s, s:s, s:b}", "type", "share", "participant", p->id, "on", on);
    tdm_room_broadcast(p->room, NULL, m);
}

void tdm_media_deliver(void *ctx, const struct tdm_sfu_event *r)
{
    struct tdm_app *app = ctx;
    struct tdm_room *room = app->rooms ? tdm_rooms_find(app->rooms, r->room) : NULL;
    struct tdm_participant *p = room ? tdm_room_find(room, r->pid) : NULL;
    /* the coordinator's count of weak moments in this call (once per change, not per page
     * told of it) */
    if (room && r->kind == TDM_SFU_EV_QUALITY && r->level == TDM_SFU_Q_POOR && app->checkin &&
        strcmp(r->pid, r->subject) == 0)
        tdm_checkin_note_poor(app->checkin, r->room, tdm_now_us());
    if (p && r->kind == TDM_SFU_EV_SHARE) {
        share_changed(p, r->on);
        return;
    }
    if (!p || !p->user)
        return; /* left meanwhile */
    tdm_conn_send(p->user, reply_json(r));
}
