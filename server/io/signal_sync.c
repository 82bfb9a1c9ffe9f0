/* Clock sync and watch-together messages (docs/protocol-sync-chat.md): time.ping and the
 * sync.* operations. Each handler reads its fields into a struct tdm_sync_op (the core
 * validates the values), applies it, and broadcasts the new state. */
#include "app.h"
#include "channels.h"
#include "signal.h"

#include "tandem/err.h"

#include <string.h>

/* JSON carries integers exactly up to 2^53. */
#define JSON_INT_MAX ((1LL << 53) - 1)

void tdm_on_time_ping(struct tdm_app *app, struct tdm_conn *c, json_t *msg, json_t *id,
                      struct tdm_proto_err *e)
{
    int64_t t2 = tdm_proto_server_us();
    double t1;
    bool has;
    if (!tdm_proto_number(msg, "t1", &t1, &has, e))
        return;
    if (!has) {
        tdm_proto_set(e, "missing_field", "t1", "t1: missing");
        return;
    }
    struct tdm_sync_pong pong;
    char err[128] = "";
    int rc = tdm_sync_time_pong(t1, t2, tdm_proto_server_us(), &pong, err, sizeof err);
    if (rc < 0) {
        tdm_channels_error(e, rc, err);
        return;
    }
    json_t *m = json_pack("{s:s, s:f, s:f, s:f}", "type", "time.pong", "t1", pong.t1_ms, "t2",
                          pong.t2_ms, "t3", pong.t3_ms);
    if (m && id)
        json_object_set(m, "ref", id);
    tdm_conn_send(c, m);
}

static bool read_bool(json_t *msg, const char *field, bool *out, struct tdm_proto_err *e)
{
    json_t *v = json_object_get(msg, field);
    if (!v) {
        tdm_proto_set(e, "missing_field", field, "%s: missing", field);
        return false;
    }
    if (!json_is_boolean(v)) {
        tdm_proto_set(e, "bad_field", field, "%s: true or false", field);
        return false;
    }
    *out = json_is_true(v);
    return true;
}

static bool read_required_number(json_t *msg, const char *field, double *out,
                                 struct tdm_proto_err *e)
{
    bool has;
    if (!tdm_proto_number(msg, field, out, &has, e))
        return false;
    if (!has)
        tdm_proto_set(e, "missing_field", field, "%s: missing", field);
    return has;
}

/* The fields every operation may carry: seq and at. */
static bool read_common(json_t *msg, struct tdm_sync_op *op, struct tdm_proto_err *e)
{
    json_t *seq = json_object_get(msg, "seq");
    if (seq) {
        if (!json_is_integer(seq) || json_integer_value(seq) < 0 ||
            json_integer_value(seq) > JSON_INT_MAX) {
            tdm_proto_set(e, "bad_field", "seq", "seq: an integer from 0");
            return false;
        }
        op->has_base_seq = true;
        op->base_seq = (uint64_t)json_integer_value(seq);
    }
    return tdm_proto_number(msg, "at", &op->at_ms, &op->has_at, e);
}

static bool read_op(json_t *msg, struct tdm_sync_op *op, struct tdm_proto_err *e)
{
    size_t len;
    if (!read_common(msg, op, e))
        return false;
    switch (op->kind) {
    case TDM_SYNC_OP_LOAD:
        /* the core checks the source's bytes and length; this bound only caps the copy */
        return tdm_proto_string(msg, "source", 0, TDM_SYNC_SOURCE_MAX + 1, true, &op->source, &len,
                                e) &&
               ((op->source_len = len), true);
    case TDM_SYNC_OP_SEEK: return read_required_number(msg, "position", &op->position_s, e);
    case TDM_SYNC_OP_RATE: return read_required_number(msg, "rate", &op->rate, e);
    case TDM_SYNC_OP_BUFFERING: return read_bool(msg, "waiting", &op->flag, e);
    case TDM_SYNC_OP_SET_CONTROL: return read_bool(msg, "coordinators_only", &op->flag, e);
    case TDM_SYNC_OP_SET_WAIT_ALL: return read_bool(msg, "enabled", &op->flag, e);
    default: return true;
    }
}

/* A media-folder source must name a film the folder has, or every page would load
 * nothing; the core checks only its shape. */
static bool film_available(struct tdm_channels *ch, const struct tdm_sync_op *op,
                           struct tdm_proto_err *e, char *err, size_t errlen)
{
    static const char prefix[] = "media:";
    const size_t plen = sizeof prefix - 1;
    int rc = tdm_sync_source_check(tdm_channels_sync(ch), op->source, op->source_len, err, errlen);
    if (rc < 0) {
        tdm_channels_error(e, rc, err);
        return false;
    }
    if (op->source_len <= plen || memcmp(op->source, prefix, plen) != 0)
        return true;
    if (!tdm_http_film_exists(op->source + plen, op->source_len - plen)) {
        tdm_proto_set(e, "not_found", "source", "source: no film of that name in the media folder");
        return false;
    }
    return true;
}

static void sync_handle(struct tdm_app *app, struct tdm_conn *c, json_t *msg, json_t *id,
                        struct tdm_proto_err *e, enum tdm_sync_op_kind kind)
{
    struct tdm_participant *p = c->participant;
    struct tdm_channels *ch = tdm_channels_of(p);
    if (!ch) {
        tdm_proto_set(e, "internal", NULL, "watch-together is not available in this room");
        return;
    }
    struct tdm_sync_op op;
    memset(&op, 0, sizeof op);
    op.kind = kind;
    op.sender = p->id;
    op.role = p->role;
    if (!read_op(msg, &op, e))
        return;
    char err[160] = "";
    if (kind == TDM_SYNC_OP_LOAD && !film_available(ch, &op, e, err, sizeof err))
        return;
    int64_t now = tdm_proto_server_us();
    int rc = tdm_sync_apply(tdm_channels_sync(ch), &op, now, err, sizeof err);
    if (rc < 0) {
        tdm_channels_error(e, rc, err);
        return;
    }
    json_t *state = tdm_channels_sync_state(ch, now);
    json_t *mine = state ? json_deep_copy(state) : NULL;
    if (mine && id)
        json_object_set(mine, "ref", id);
    tdm_conn_send(c, mine);
    if (rc == 1) {
        tdm_room_broadcast(p->room, p, state);
        TDM_DEBUG("r%u: p%u: sync %s", tdm_room_log_id(p->room), p->log_id,
                  json_string_value(json_object_get(msg, "type")));
    } else {
        json_decref(state);
    }
    tdm_channels_rearm(ch);
}

#define SYNC_HANDLER(name, kind)                                                                   \
    void tdm_on_sync_##name(struct tdm_app *app, struct tdm_conn *c, json_t *msg, json_t *id,      \
                            struct tdm_proto_err *e)                                               \
    {                                                                                              \
        sync_handle(app, c, msg, id, e, kind);                                                     \
    }

SYNC_HANDLER(load, TDM_SYNC_OP_LOAD)
SYNC_HANDLER(play, TDM_SYNC_OP_PLAY)
SYNC_HANDLER(pause, TDM_SYNC_OP_PAUSE)
SYNC_HANDLER(seek, TDM_SYNC_OP_SEEK)
SYNC_HANDLER(rate, TDM_SYNC_OP_RATE)
SYNC_HANDLER(buffering, TDM_SYNC_OP_BUFFERING)
SYNC_HANDLER(control, TDM_SYNC_OP_SET_CONTROL)
SYNC_HANDLER(wait_all, TDM_SYNC_OP_SET_WAIT_ALL)
