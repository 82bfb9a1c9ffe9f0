#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

/* io headers are private to server/io (a "signal.h" there must not shadow <signal.h>) */
#include "../../../server/io/proto.h"
#include "../../../server/io/signal.h"
#include "tandem/util.h"

static json_t *parse(const char *text, const char **type, json_t **id, struct tdm_proto_err *e)
{
    memset(e, 0, sizeof *e);
    return tdm_proto_parse(text, strlen(text), type, id, e);
}

static void valid_message(void **state)
{
    (void)state;
    const char *type;
    json_t *id;
    struct tdm_proto_err e;
    json_t *m = parse("{\"type\":\"join\",\"id\":5,\"room\":\"abc\"}", &type, &id, &e);
    assert_non_null(m);
    assert_string_equal(type, "join");
    assert_int_equal(json_integer_value(id), 5);
    assert_null(e.code);
    json_decref(m);
}

static void refusals(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        const char *code;
        const char *field;
        bool object; /* an object comes back (so errors can carry "ref") */
    } cases[] = {
        {"", "bad_json", NULL, false},
        {"{", "bad_json", NULL, false},
        {"[]", "bad_json", NULL, false},
        {"null", "bad_json", NULL, false},
        {"{\"type\":\"a\",\"type\":\"b\"}", "bad_json", NULL, false},
        {"{\"a\":\"\\u0000\"}", "bad_json", NULL, false},
        {"{\"type\":\"\xff\"}", "bad_utf8", NULL, false},
        {"{}", "missing_field", "type", true},
        {"{\"type\":\"\"}", "bad_field", "type", true},
        {"{\"type\":1}", "bad_field", "type", true},
        {"{\"type\":\"ping\",\"id\":-3}", "bad_field", "id", true},
        {"{\"type\":\"ping\",\"id\":1.5}", "bad_field", "id", true},
        {"{\"type\":\"ping\",\"id\":9007199254740992}", "bad_field", "id", true},
        {"{\"type\":\"ping\",\"id\":[1]}", "bad_field", "id", true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *type;
        json_t *id;
        struct tdm_proto_err e;
        json_t *m = parse(cases[i].text, &type, &id, &e);
        assert_null(type);
        assert_non_null(e.code);
        assert_string_equal(e.code, cases[i].code);
        if (cases[i].field)
            assert_string_equal(e.field, cases[i].field);
        assert_true((m != NULL) == cases[i].object);
        json_decref(m);
    }
}

static void string_fields(void **state)
{
    (void)state;
    struct tdm_proto_err e = {0};
    json_t *m = json_pack("{s:s, s:i, s:s}", "name", "Amina", "n", 3, "long", "abcdefgh");
    const char *s;
    size_t len;
    assert_true(tdm_proto_string(m, "name", 1, 64, true, &s, &len, &e));
    assert_int_equal(len, 5);
    assert_false(tdm_proto_string(m, "n", 1, 64, true, &s, &len, &e));
    assert_string_equal(e.code, "bad_field");
    assert_false(tdm_proto_string(m, "missing", 1, 64, true, &s, &len, &e));
    assert_string_equal(e.code, "missing_field");
    assert_true(tdm_proto_string(m, "missing", 1, 64, false, &s, &len, &e));
    assert_null(s);
    assert_false(tdm_proto_string(m, "long", 1, 4, true, &s, &len, &e));
    json_decref(m);

    double d;
    bool present;
    m = json_pack("{s:f, s:s}", "t", 1.5, "bad", "x");
    assert_true(tdm_proto_number(m, "t", &d, &present, &e));
    assert_true(present);
    assert_true(tdm_proto_number(m, "none", &d, &present, &e));
    assert_false(present);
    assert_false(tdm_proto_number(m, "bad", &d, &present, &e));
    json_decref(m);
}

static void error_message_shape(void **state)
{
    (void)state;
    struct tdm_proto_err e;
    tdm_proto_set(&e, "bad_field", "name", "name: %s", "too long");
    json_t *id = json_string("req-1");
    json_t *m = tdm_proto_error_msg(&e, id);
    assert_string_equal(json_string_value(json_object_get(m, "type")), "error");
    assert_string_equal(json_string_value(json_object_get(m, "code")), "bad_field");
    assert_string_equal(json_string_value(json_object_get(m, "field")), "name");
    assert_string_equal(json_string_value(json_object_get(m, "message")), "name: too long");
    assert_string_equal(json_string_value(json_object_get(m, "ref")), "req-1");
    json_decref(m);
    json_decref(id);
}

/* Fuzz finding: an invalid escape before a multi-byte character made jansson's error text
 * end inside that character; the reply then failed to build and the page heard nothing. */
static void error_message_is_always_utf8(void **state)
{
    (void)state;
    static const char *const frames[] = {
        "{\"tid\":\",\\\xd9\x86\"}",
        "{\"a\":\xd9\x86\xd9\x86}",
    };
    for (size_t i = 0; i < sizeof frames / sizeof frames[0]; i++) {
        const char *type;
        json_t *id;
        struct tdm_proto_err e;
        assert_null(parse(frames[i], &type, &id, &e));
        assert_string_equal(e.code, "bad_json");
        json_t *m = tdm_proto_error_msg(&e, NULL);
        assert_non_null(m);
        json_decref(m);
    }
    /* a message cut at its bound in the middle of a character */
    char arabic[400] = "";
    for (int i = 0; i < 150; i++)
        strcat(arabic, "\xd9\x86");
    struct tdm_proto_err e;
    tdm_proto_set(&e, "bad_field", "name", "%s", arabic);
    assert_true(tdm_utf8_valid((const uint8_t *)e.message, strlen(e.message)));
    assert_int_equal(strlen(e.message), sizeof e.message - 1);
    assert_int_equal(e.message[sizeof e.message - 2], '?');
    json_t *m = tdm_proto_error_msg(&e, NULL);
    assert_non_null(m);
    json_decref(m);
}

static void handler_table(void **state)
{
    (void)state;
    assert_non_null(tdm_signal_find_handler("join"));
    assert_non_null(tdm_signal_find_handler("ping"));
    assert_non_null(tdm_signal_find_handler("chat.send"));
    assert_null(tdm_signal_find_handler("joinx"));
    assert_null(tdm_signal_find_handler("chat"));
    assert_null(tdm_signal_find_handler(""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(valid_message), cmocka_unit_test(refusals),
        cmocka_unit_test(string_fields), cmocka_unit_test(error_message_shape),
        cmocka_unit_test(handler_table), cmocka_unit_test(error_message_is_always_utf8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
