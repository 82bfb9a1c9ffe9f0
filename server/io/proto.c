#include "proto.h"

#include "tandem/util.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Messages quote the input (jansson's "near '...'" stops inside a multi-byte character) and
 * are cut at a fixed size, so they can hold broken UTF-8, which jansson refuses to send:
 * the page would get no error at all. Each byte that starts no valid sequence becomes '?'. */
static void utf8_scrub(char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        size_t k = 1;
        while (k <= 4 && k <= n - i && !tdm_utf8_valid((const uint8_t *)s + i, k))
            k++;
        if (k > 4 || k > n - i) {
            s[i++] = '?';
            continue;
        }
        i += k;
    }
}

void tdm_proto_set(struct tdm_proto_err *e, const char *code, const char *field, const char *fmt,
                   ...)
{
    e->code = code;
    e->field = field;
    e->max_participants = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    utf8_scrub(e->message);
}

static bool id_ok(json_t *id)
{
    if (json_is_integer(id))
        return json_integer_value(id) >= 0 && json_integer_value(id) <= (1LL << 53) - 1;
    if (json_is_string(id))
        return json_string_length(id) <= TDM_PROTO_ID_MAX;
    return false;
}

json_t *tdm_proto_parse(const char *buf, size_t len, const char **type, json_t **id,
                        struct tdm_proto_err *e)
{
    *type = NULL;
    *id = NULL;
    /* jansson checks UTF-8 too, but a distinct error code helps client authors. */
    if (!tdm_utf8_valid((const uint8_t *)buf, len)) {
        tdm_proto_set(e, "bad_utf8", NULL, "the message is not valid UTF-8");
        return NULL;
    }
    json_error_t jerr;
    json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        tdm_proto_set(e, "bad_json", NULL, "not valid JSON (at byte %d): %.80s", jerr.position,
                      jerr.text);
        return NULL;
    }
    if (!json_is_object(root)) {
        tdm_proto_set(e, "bad_json", NULL, "a message must be a JSON object");
        json_decref(root);
        return NULL;
    }
    json_t *jid = json_object_get(root, "id");
    if (jid) {
        if (!id_ok(jid)) {
            tdm_proto_set(e, "bad_field", "id",
                          "id: a string of at most %d bytes or a non-negative integer",
                          TDM_PROTO_ID_MAX);
            return root;
        }
        *id = jid;
    }
    json_t *jt = json_object_get(root, "type");
    if (!jt) {
        tdm_proto_set(e, "missing_field", "type", "type: missing");
        return root;
    }
    if (!json_is_string(jt) || json_string_length(jt) == 0 ||
        json_string_length(jt) > TDM_PROTO_TYPE_MAX) {
        tdm_proto_set(e, "bad_field", "type", "type: a string of 1 to %d bytes",
                      TDM_PROTO_TYPE_MAX);
        return root;
    }
    *type = json_string_value(jt);
    return root;
}

bool tdm_proto_string(json_t *msg, const char *field, size_t min, size_t max, bool required,
                      const char **out, size_t *out_len, struct tdm_proto_err *e)
{
    json_t *v = json_object_get(msg, field);
    *out = NULL;
    *out_len = 0;
    if (!v) {
        if (required)
            tdm_proto_set(e, "missing_field", field, "%s: missing", field);
        return !required;
    }
    if (!json_is_string(v) || json_string_length(v) < min || json_string_length(v) > max) {
        tdm_proto_set(e, "bad_field", field, "%s: a string of %zu to %zu bytes", field, min, max);
        return false;
    }
    *out = json_string_value(v);
    *out_len = json_string_length(v);
    /* jansson allows \u0000 inside strings; C code treats them as terminators. */
    if (strlen(*out) != *out_len) {
        tdm_proto_set(e, "bad_field", field, "%s: must not contain NUL characters", field);
        return false;
    }
    return true;
}

bool tdm_proto_number(json_t *msg, const char *field, double *out, bool *present,
                      struct tdm_proto_err *e)
{
    json_t *v = json_object_get(msg, field);
    *present = false;
    if (!v)
        return true;
    if (!json_is_number(v) || !isfinite(json_number_value(v))) {
        tdm_proto_set(e, "bad_field", field, "%s: a finite number", field);
        return false;
    }
    *out = json_number_value(v);
    *present = true;
    return true;
}

json_t *tdm_proto_error_msg(const struct tdm_proto_err *e, json_t *id)
{
    json_t *m =
        json_pack("{s:s, s:s, s:s}", "type", "error", "code", e->code, "message", e->message);
    if (m && e->field)
        json_object_set_new(m, "field", json_string(e->field));
    if (m && e->max_participants)
        json_object_set_new(m, "max_participants", json_integer(e->max_participants));
    if (m && id)
        json_object_set(m, "ref", id);
    return m;
}

/* The wall clock is read once, at the first call (start-up: the first welcome or pong), and
 * the monotonic clock carries it on: server time reads like Unix time but never steps when
 * NTP adjusts the wall clock, which would stretch holds, effective times and rate limits.
 * Only the control thread calls this. */
int64_t tdm_proto_server_us(void)
{
    static int64_t offset;
    static bool fixed;
    if (!fixed) {
        offset = tdm_wall_us() - tdm_now_us();
        fixed = true;
    }
    return tdm_now_us() + offset;
}

double tdm_proto_server_time(void)
{
    return (double)tdm_proto_server_us() / 1000.0;
}
