/* Chat messages (docs/protocol-sync-chat.md): texts, pictures uploaded in pieces, reactions
 * and deletion. Each handler reads its fields into typed values, calls the chat core and
 * broadcasts what changed; picture bytes are served over HTTPS (http.c), never sent here. */
#include "app.h"
#include "channels.h"
#include "signal.h"

#include "tandem/err.h"
#include "tandem/util.h"

#include <openssl/crypto.h>
#include <string.h>

/* One piece of an upload: 36 KiB decoded, 48 KiB of base64url, well inside the 64 KiB
 * message limit with room for the JSON around it. */
#define CHUNK_BYTES (36 * 1024)
#define CHUNK_B64 (CHUNK_BYTES / 3 * 4)
#define JSON_INT_MAX ((1LL << 53) - 1)

/* The sender as the chat core sees it; borrowed from p. */
static struct tdm_chat_sender sender_of(const struct tdm_participant *p)
{
    return (struct tdm_chat_sender){.id = p->id, .name = p->name, .role = p->role};
}

static struct tdm_channels *channels_or_fail(struct tdm_conn *c, struct tdm_proto_err *e)
{
    struct tdm_channels *ch = tdm_channels_of(c->participant);
    if (!ch)
        tdm_proto_set(e, "internal", NULL, "chat is not available in this room");
    return ch;
}

static bool read_uint(json_t *msg, const char *field, long long min, uint64_t *out,
                      struct tdm_proto_err *e)
{
    json_t *v = json_object_get(msg, field);
    if (!v) {
        tdm_proto_set(e, "missing_field", field, "%s: missing", field);
        return false;
    }
    if (!json_is_integer(v) || json_integer_value(v) < min ||
        json_integer_value(v) > JSON_INT_MAX) {
        tdm_proto_set(e, "bad_field", field, "%s: an integer from %lld", field, min);
        return false;
    }
    *out = (uint64_t)json_integer_value(v);
    return true;
}

/* Sends the sender's copy (with ref) and everyone else's. Takes msg. */
static void reply_and_broadcast(struct tdm_conn *c, json_t *msg, json_t *id)
{
    if (!msg)
        return;
    json_t *mine = json_deep_copy(msg);
    if (mine && id)
        json_object_set(mine, "ref", id);
    tdm_conn_send(c, mine);
    tdm_room_broadcast(c->participant->room, c->participant, msg);
}

static void post_message(struct tdm_channels *ch, struct tdm_conn *c,
                         const struct tdm_chat_message *m, json_t *id)
{
    reply_and_broadcast(c,
                        json_pack("{s:s, s:o}", "type", "chat.message", "message",
                                  tdm_channels_message_json(ch, m)),
                        id);
}

void tdm_on_chat_send(struct tdm_app *app, struct tdm_conn *c, json_t *msg, json_t *id,
                      struct tdm_proto_err *e)
{
    struct tdm_channels *ch = channels_or_fail(c, e);
    const char *text;
    size_t len;
    if (!ch || !tdm_proto_string(msg, "text", 1, TDM_CHAT_TEXT_MAX, true, &text, &len, e))
        return;
    struct tdm_chat_sender from = sender_of(c->participant);
    const struct tdm_chat_message *m;
    char err[160] = "";
    int rc = tdm_chat_send_text(tdm_channels_chat(ch), &from, text, len, tdm_proto_server_us(), &m,
                                err, sizeof err);
    if (rc < 0) {
        tdm_channels_error(e, rc, err);
        return;
    }
    post_message(ch, c, m, id);
}

void tdm_on_chat_picture(struct tdm_app *app, struct tdm_conn *c, json_t *msg, json_t *id,
                         struct tdm_proto_err *e)
{
    struct tdm_channels *ch = channels_or_fail(c, e);
    const char *mime, *caption;
    size_t mime_len, caption_len;
    uint64_t size, upload;
    if (!ch || !tdm_proto_string(msg, "mime", 1, 32, true, &mime, &mime_len, e) ||
        !read_uint(msg, "size", 0, &size, e) ||
        !tdm_proto_string(msg, "caption", 1, TDM_CHAT_TEXT_MAX, false, &caption, &caption_len, e))
        return;
    struct tdm_chat_sender from = sender_of(c->participant);
    char err[160] = "";
    int rc =
        tdm_chat_upload_begin(tdm_channels_chat(ch), &from, mime, mime_len, (size_t)size, caption,
                              caption_len, tdm_proto_server_us(), &upload, err, sizeof err);
    if (rc < 0) {
        tdm_channels_error(e, rc, err);
        return;
    }
    json_t *ack = json_pack("{s:s, s:I, s:i, s:i}", "type", "chat.upload", "upload",
                            (json_int_t)upload, "received", 0, "chunk_bytes", CHUNK_BYTES);
    if (ack && id)
        json_object_set(ack, "ref", id);
    tdm_conn_send(c, ack);
    tdm_channels_rearm(ch);
}

void tdm_on_chat_picture_chunk(struct tdm_app *app, struct tdm_conn *c, json_t *msg, json_t *id,
                               struct tdm_proto_err *e)
{
    /* The control thread is the only caller: one buffer serves every connection. */
    static uint8_t piece[CHUNK_BYTES];
    struct tdm_channels *ch = channels_or_fail(c, e);
    uint64_t upload, offset;
    const char *data;
    size_t data_len;
    if (!ch || !read_uint(msg, "upload", 1, &upload, e) ||
        !read_uint(msg, "offset", 0, &offset, e) ||
        !tdm_proto_string(msg, "data", 1, CHUNK_B64, true, &data, &data_len, e))
        return;
    int n = tdm_b64url_decode(data, data_len, piece, sizeof piece);
    if (n <= 0) {
        tdm_proto_set(e, "bad_field", "data", "data: base64url without padding, 1 to %d bytes",
                      CHUNK_BYTES);
        return;
    }
    struct tdm_chat_sender from = sender_of(c->participant);
    const struct tdm_chat_message *m = NULL;
    size_t received = 0;
    char err[160] = "";
    int rc =
        tdm_chat_upload_chunk(tdm_channels_chat(ch), &from, upload, (size_t)offset, piece,
                              (size_t)n, tdm_proto_server_us(), &received, &m, err, sizeof err);
    OPENSSL_cleanse(piece, (size_t)n);
    if (rc < 0) {
        tdm_channels_error(e, rc, err);
    } else if (rc == 0) {
        json_t *ack =
            json_pack("{s:s, s:I, s:I, s:i}", "type", "chat.upload", "upload", (json_int_t)upload,
                      "received", (json_int_t)received, "chunk_bytes", CHUNK_BYTES);
        if (ack && id)
            json_object_set(ack, "ref", id);
        tdm_conn_send(c, ack);
    } else if (tdm_channels_picture_added(ch, m->id) < 0) {
        tdm_proto_set(e, "internal", NULL, "the server failed to keep the picture");
    } else {
        post_message(ch, c, m, id);
    }
    tdm_channels_rearm(ch);
}

void tdm_on_chat_react(struct tdm_app *app, struct tdm_conn *c, json_t *msg, json_t *id,
                       struct tdm_proto_err *e)
{
    struct tdm_channels *ch = channels_or_fail(c, e);
    uint64_t msg_id;
    const char *emoji;
    size_t len;
    if (!ch || !read_uint(msg, "message", 1, &msg_id, e) ||
        !tdm_proto_string(msg, "emoji", 1, TDM_CHAT_EMOJI_MAX, true, &emoji, &len, e))
        return;
    struct tdm_chat_sender from = sender_of(c->participant);
    const struct tdm_chat_message *m;
    bool on;
    char err[160] = "";
    int rc = tdm_chat_react(tdm_channels_chat(ch), &from, msg_id, emoji, len, tdm_proto_server_us(),
                            &on, &m, err, sizeof err);
    if (rc < 0) {
        tdm_channels_error(e, rc, err);
        return;
    }
    reply_and_broadcast(c,
                        json_pack("{s:s, s:I, s:s%, s:s, s:b, s:o}", "type", "chat.reaction",
                                  "message", (json_int_t)msg_id, "emoji", emoji, len, "by",
                                  c->participant->id, "on", on, "reactions",
                                  tdm_channels_reactions_json(m)),
                        id);
}

void tdm_on_chat_delete(struct tdm_app *app, struct tdm_conn *c, json_t *msg, json_t *id,
                        struct tdm_proto_err *e)
{
    struct tdm_channels *ch = channels_or_fail(c, e);
    uint64_t msg_id;
    if (!ch || !read_uint(msg, "message", 1, &msg_id, e))
        return;
    struct tdm_chat_sender from = sender_of(c->participant);
    char err[160] = "";
    int rc = tdm_chat_delete(tdm_channels_chat(ch), &from, msg_id, err, sizeof err);
    if (rc < 0) {
        tdm_channels_error(e, rc, err);
        return;
    }
    reply_and_broadcast(c,
                        json_pack("{s:s, s:I, s:s}", "type", "chat.deleted", "message",
                                  (json_int_t)msg_id, "by", c->participant->id),
                        id);
}
