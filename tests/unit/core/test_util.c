#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "tandem/err.h"
#include "tandem/util.h"

static void utf8_accepts_valid(void **state)
{
    (void)state;
    const char *ok[] = {"",
                        "hello",
                        "Amina \xd8\xa3\xd9\x85\xd9\x8a\xd9\x86\xd8\xa9",
                        "\xe2\x82\xac",
                        "\xf0\x9f\x98\x8a",
                        "\xf4\x8f\xbf\xbf"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        assert_true(tdm_utf8_valid((const uint8_t *)ok[i], strlen(ok[i])));
}

static void utf8_rejects_invalid(void **state)
{
    (void)state;
    const char *bad[] = {
        "\x80",         "\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
        "\xf0\x9f\x98", "abc\xff",  "\xc2"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(tdm_utf8_valid((const uint8_t *)bad[i], strlen(bad[i])));
}

static void text_field_rules(void **state)
{
    (void)state;
    assert_true(tdm_text_field_ok("Amina", 5, 64, false));
    assert_false(tdm_text_field_ok("", 0, 64, false));
    assert_false(tdm_text_field_ok(" Amina", 6, 64, false));
    assert_false(tdm_text_field_ok("Ami\x01na", 6, 64, false));
    assert_false(tdm_text_field_ok("a\nb", 3, 64, false));
    assert_true(tdm_text_field_ok("a\nb", 3, 64, true));
    assert_false(tdm_text_field_ok("a\xc2\x85", 3, 64, false)); /* U+0085 NEL */
    assert_false(tdm_text_field_ok("abcdef", 6, 5, false));
}

static void bidi_controls_found(void **state)
{
    (void)state;
    static const char *const overrides[] = {
        "\xe2\x80\xaa", "\xe2\x80\xab", "\xe2\x80\xac", "\xe2\x80\xad", "\xe2\x80\xae", /* 202A-E */
        "\xe2\x81\xa6", "\xe2\x81\xa7", "\xe2\x81\xa8", "\xe2\x81\xa9",                 /* 2066-9 */
    };
    static const char *const marks[] = {"\xe2\x80\x8e", "\xe2\x80\x8f", "\xd8\x9c"};
    char buf[64];
    for (size_t i = 0; i < sizeof overrides / sizeof overrides[0]; i++) {
        snprintf(buf, sizeof buf, "Jan%stext", overrides[i]);
        assert_true(tdm_text_has_bidi_controls(buf, strlen(buf), false));
        assert_true(tdm_text_has_bidi_controls(buf, strlen(buf), true));
        snprintf(buf, sizeof buf, "Jan%s", overrides[i]); /* at the very end */
        assert_true(tdm_text_has_bidi_controls(buf, strlen(buf), false));
    }
    for (size_t i = 0; i < sizeof marks / sizeof marks[0]; i++) {
        snprintf(buf, sizeof buf, "%sAmina", marks[i]);
        assert_false(tdm_text_has_bidi_controls(buf, strlen(buf), false));
        assert_true(tdm_text_has_bidi_controls(buf, strlen(buf), true));
    }
    /* Neighbours of the ranges, Arabic and emoji are plain text. */
    const char *plain[] = {
        "\xe2\x80\xa9", "\xe2\x80\xaf",
        "\xe2\x81\xa5", "\xe2\x81\xaa",
        "\xe2\x80\x8d", "\xe2\x80\x90",
        "\xd8\x9b",     "\xd9\x85\xd8\xb1\xd8\xad\xd8\xa8\xd8\xa7 \xf0\x9f\x98\x8a"};
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++)
        assert_false(tdm_text_has_bidi_controls(plain[i], strlen(plain[i]), true));
    /* A cut sequence is never read past the end. */
    assert_false(tdm_text_has_bidi_controls("a\xe2\x80", 3, true));
}

static void bucket_refills_over_time(void **state)
{
    (void)state;
    struct tdm_bucket b;
    tdm_bucket_init(&b, 10.0, 2.0, 0);
    assert_true(tdm_bucket_take(&b, 1, 0));
    assert_true(tdm_bucket_take(&b, 1, 0));
    assert_false(tdm_bucket_take(&b, 1, 0));
    assert_false(tdm_bucket_take(&b, 1, 50000)); /* 0.5 token after 50 ms */
    assert_true(tdm_bucket_take(&b, 1, 100000));
    assert_true(tdm_bucket_take(&b, 1, 10000000)); /* capped at burst */
    assert_true(tdm_bucket_take(&b, 1, 10000000));
    assert_false(tdm_bucket_take(&b, 1, 10000000));
}

static void b64url_round_trip(void **state)
{
    (void)state;
    uint8_t in[40], out[40];
    char enc[64];
    for (size_t n = 0; n < sizeof in; n++) {
        for (size_t i = 0; i < n; i++)
            in[i] = (uint8_t)(i * 37 + n);
        int e = tdm_b64url_encode(in, n, enc, sizeof enc);
        assert_true(e >= 0);
        assert_int_equal(tdm_b64url_decode(enc, (size_t)e, out, sizeof out), (int)n);
        assert_memory_equal(in, out, n);
    }
    assert_int_equal(tdm_b64url_decode("ab+/", 4, out, sizeof out), TDM_EINVAL);
    assert_int_equal(tdm_b64url_decode("a", 1, out, sizeof out), TDM_EINVAL);
    assert_int_equal(tdm_b64url_decode("AB", 2, out, sizeof out), TDM_EINVAL); /* stray bits */
    assert_int_equal(tdm_b64url_encode(in, 3, enc, 4), TDM_ETOOBIG);
}

static void random_ids_differ(void **state)
{
    (void)state;
    char a[32], b[32];
    assert_int_equal(tdm_random_id(a, sizeof a, 16), 0);
    assert_int_equal(tdm_random_id(b, sizeof b, 16), 0);
    assert_int_equal(strlen(a), 22);
    assert_string_not_equal(a, b);
    assert_int_equal(tdm_random_id(a, 10, 16), TDM_ETOOBIG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(utf8_accepts_valid),  cmocka_unit_test(utf8_rejects_invalid),
        cmocka_unit_test(text_field_rules),    cmocka_unit_test(bucket_refills_over_time),
        cmocka_unit_test(b64url_round_trip),   cmocka_unit_test(random_ids_differ),
        cmocka_unit_test(bidi_controls_found),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
