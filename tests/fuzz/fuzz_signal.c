/* libFuzzer target: the signaling JSON layer (server/io/proto.c) and the handler table.
 *
 * Input: one WebSocket text frame as a page would send it (an exact-size copy, not
 * NUL-terminated). The frame goes through tdm_proto_parse, the type through
 * tdm_signal_find_handler, and the fields every handler reads through tdm_proto_string /
 * tdm_proto_number with the handlers' own bounds, then through the same value checks the
 * handlers make (room id, display name, role, invite token, invite id). Whatever happens, the
 * error reply must be a JSON object the server can serialise (so the page always hears why),
 * and nothing may crash or leak.
 *
 * Invariants: parse fails only with bad_utf8 / bad_json and then returns no object; an
 * object comes back with a type of 1..32 bytes without NUL, or with no type and an error
 * naming type or id; id is a string of at most 64 bytes or an integer 0..2^53-1; a handler
 * found matches the whole type (exact, or a '.'-ended prefix); strings read are within their
 * bounds, NUL-free and as long as they say; numbers read are finite. */
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "../../server/io/proto.h"
#include "../../server/io/signal.h"
#include "tandem/err.h"
#include "tandem/invite.h"
#include "tandem/room.h"
#include "tandem/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define check(cond) ((cond) ? (void)0 : fail_at(__LINE__, #cond))

static void fail_at(int line, const char *what)
{
    fprintf(stderr, "invariant failed at line %d: %s\n", line, what);
    abort();
}

static const uint8_t key[32] = "tandem-fuzz-key-0123456789abcdef";

/* The error reply must exist, serialise, and read back as {"type":"error",...}. */
static void check_error_reply(const struct tdm_proto_err *e, json_t *id)
{
    check(e->code != NULL && strlen(e->message) < sizeof e->message);
    json_t *m = tdm_proto_error_msg(e, id);
    check(m != NULL);
    char *text = json_dumps(m, JSON_COMPACT);
    check(text != NULL);
    json_t *back = json_loads(text, 0, NULL);
    check(back && json_is_object(back));
    check(strcmp(json_string_value(json_object_get(back, "type")), "error") == 0);
    check(strcmp(json_string_value(json_object_get(back, "code")), e->code) == 0);
    check(!id || json_equal(json_object_get(back, "ref"), id));
    json_decref(back);
    free(text);
    json_decref(m);
}

static bool read_string(json_t *msg, const char *field, size_t min, size_t max, bool required,
                        const char **out, size_t *len, struct tdm_proto_err *e)
{
    memset(e, 0, sizeof *e);
    bool ok = tdm_proto_string(msg, field, min, max, required, out, len, e);
    if (!ok) {
        check(e->code && e->field && strcmp(e->field, field) == 0);
        return false;
    }
    check(e->code == NULL);
    if (*out) {
        check(*len >= min && *len <= max && strlen(*out) == *len);
        check(tdm_utf8_valid((const uint8_t *)*out, *len));
    } else {
        check(!required && *len == 0 && !json_object_get(msg, field));
    }
    return true;
}

/* The value checks of join, invite.create and invite.revoke, on whatever the fields hold. */
static void handler_fields(json_t *msg, json_t *id)
{
    struct tdm_proto_err e;
    const char *s;
    size_t n;
    enum tdm_role role;
    if (read_string(msg, "room", 0, 4096, true, &s, &n, &e))
        (void)tdm_room_id_valid(s, n);
    else
        check_error_reply(&e, id);
    if (read_string(msg, "name", 0, 4096, true, &s, &n, &e))
        (void)tdm_text_field_ok(s, n, TDM_NAME_MAX, false);
    if (read_string(msg, "role", 0, 64, true, &s, &n, &e) && tdm_role_parse(s, n, &role) == 0)
        check(role <= TDM_ROLE_COORDINATOR && strcmp(tdm_role_name(role), s) == 0);
    if (read_string(msg, "token", 1, TDM_INVITE_TOKEN_MAX, false, &s, &n, &e) && s) {
        struct tdm_invite inv;
        int rc = tdm_invite_decode(s, n, key, sizeof key, 1800000000, &inv, NULL, 0);
        check(rc == TDM_EINVAL || rc == TDM_EAUTH); /* nobody here can sign */
    }
    uint8_t iid[TDM_INVITE_ID_LEN];
    if (read_string(msg, "invite_id", 1, 64, true, &s, &n, &e) &&
        tdm_invite_id_parse(s, n, iid) == 0) {
        char back[TDM_INVITE_ID_TEXT];
        tdm_invite_id_text(iid, back);
        check(strcmp(back, s) == 0);
    }
    (void)read_string(msg, "sdp", 1, 65536, false, &s, &n, &e);
    (void)read_string(msg, "pc", 1, 8, false, &s, &n, &e);
    static const char *const numbers[] = {"t", "rev", "expires_s", "uses"};
    for (size_t i = 0; i < sizeof numbers / sizeof numbers[0]; i++) {
        double v = 0;
        bool present = true;
        memset(&e, 0, sizeof e);
        if (tdm_proto_number(msg, numbers[i], &v, &present, &e)) {
            check(!present || isfinite(v));
            check(present == (json_object_get(msg, numbers[i]) != NULL));
        } else {
            check(!present && e.code && strcmp(e.field, numbers[i]) == 0);
            check_error_reply(&e, id);
        }
    }
}

static void check_handler(const char *type, size_t type_len)
{
    const struct tdm_handler *h = tdm_signal_find_handler(type);
    if (!h)
        return;
    size_t n = strlen(h->type);
    check(type_len == n && memcmp(type, h->type, n) == 0);
    check(h->fn != NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size ? size : 1);
    if (!buf)
        abort();
    memcpy(buf, data, size);
    struct tdm_proto_err e = {0};
    const char *type = (const char *)1;
    json_t *id = (json_t *)1;
    json_t *msg = tdm_proto_parse(buf, size, &type, &id, &e);
    if (!msg) {
        check(type == NULL && id == NULL && e.code);
        check(strcmp(e.code, "bad_utf8") == 0 || strcmp(e.code, "bad_json") == 0);
        check(strcmp(e.code, "bad_utf8") != 0 || !tdm_utf8_valid(data, size));
        check_error_reply(&e, NULL);
        goto out;
    }
    check(json_is_object(msg));
    if (id) {
        check(json_object_get(msg, "id") == id);
        check(json_is_string(id) ? json_string_length(id) <= TDM_PROTO_ID_MAX
                                 : json_is_integer(id) && json_integer_value(id) >= 0 &&
                                       json_integer_value(id) <= (1LL << 53) - 1);
    }
    if (type) {
        json_t *jt = json_object_get(msg, "type");
        size_t n = json_string_length(jt);
        check(e.code == NULL && json_string_value(jt) == type);
        check(n >= 1 && n <= TDM_PROTO_TYPE_MAX && strlen(type) == n);
        check_handler(type, n);
    } else {
        check(e.code && e.field && (strcmp(e.field, "type") == 0 || strcmp(e.field, "id") == 0));
        check_error_reply(&e, id);
    }
    handler_fields(msg, id);
    json_decref(msg);
out:
    free(buf);
    return 0;
}
