/* TURN URLs and TURN REST API credentials (server/core/turn.c). The expected credentials
 * were computed independently with OpenSSL's command line:
 *   printf '%s' '1700000000:000102030405060708090a0b' \
 *     | openssl dgst -sha1 -hmac 'tandem-test-secret-0123' -binary | base64 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "tandem/err.h"
#include "tandem/turn.h"

static void known_vectors(void **state)
{
    (void)state;
    char user[TDM_TURN_USERNAME_MAX], cred[TDM_TURN_CREDENTIAL_MAX];
    const uint8_t id1[TDM_TURN_ID_BYTES] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
    const char *s1 = "tandem-test-secret-0123";
    assert_int_equal(
        tdm_turn_credential(s1, strlen(s1), 1700000000, id1, user, sizeof user, cred, sizeof cred),
        0);
    assert_string_equal(user, "1700000000:000102030405060708090a0b");
    assert_string_equal(cred, "xGaqhXxeuMA0iuIFNVCPljXCPA4=");

    const uint8_t id2[TDM_TURN_ID_BYTES] = {0xff, 0xee, 0xdd, 0xcc, 0xbb, 0xaa,
                                            0x99, 0x88, 0x77, 0x66, 0x55, 0x44};
    const char *s2 = "Zx9!kq#2Lm$8vB^Tq";
    assert_int_equal(tdm_turn_credential(s2, strlen(s2), 4102444800ULL, id2, user, sizeof user,
                                         cred, sizeof cred),
                     0);
    assert_string_equal(user, "4102444800:ffeeddccbbaa998877665544");
    assert_string_equal(cred, "RkiBnbTLMMpKJm2boraAq7IlosQ=");
}

static void small_buffers(void **state)
{
    (void)state;
    char user[TDM_TURN_USERNAME_MAX], cred[TDM_TURN_CREDENTIAL_MAX];
    const uint8_t id[TDM_TURN_ID_BYTES] = {0};
    const char *s = "tandem-test-secret-0123";
    assert_int_equal(tdm_turn_credential(s, strlen(s), 1700000000, id, user, 20, cred, sizeof cred),
                     TDM_ETOOBIG);
    assert_int_equal(tdm_turn_credential(s, strlen(s), 1700000000, id, user, sizeof user, cred, 28),
                     TDM_ETOOBIG);
    /* the largest expiry still fits */
    assert_int_equal(
        tdm_turn_credential(s, strlen(s), UINT64_MAX, id, user, sizeof user, cred, sizeof cred), 0);
    assert_int_equal(strlen(user), TDM_TURN_USERNAME_MAX - 1);
}

static void urls(void **state)
{
    (void)state;
    static const char *good[] = {
        "turns:turn.example.org:443?transport=tcp",
        "turn:turn.example.org",
        "turn:198.51.100.7:3478?transport=udp",
        "turns:[2001:db8::1]:443",
        "turn:a-b.c:1",
        "turn:x:65535",
    };
    static const char *bad[] = {
        "",
        "stun:turn.example.org",
        "turns:",
        "turns:turn.example.org:0",
        "turns:turn.example.org:65536",
        "turns:turn.example.org:443?transport=sctp",
        "turns:turn.example.org:443?transport=tcp&x=1",
        "turns://turn.example.org:443",
        "turns:user@turn.example.org",
        "turns:-bad.example.org",
        "turns:bad-.example.org",
        "turns:bad..example.org",
        "turns:.example.org",
        "turns:[]:443",
        "turns:[2001:db8::zz]",
        "turns:turn.example.org:",
        "turns:turn.example.org/path",
        "turns:turn.example.org:443\"",
        "TURNS:turn.example.org",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        assert_int_equal(tdm_turn_url_check(good[i], strlen(good[i])), 0);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (tdm_turn_url_check(bad[i], strlen(bad[i])) != TDM_EINVAL)
            fail_msg("accepted: %s", bad[i]);
    }
    char longest[TDM_TURN_URL_MAX + 2];
    memset(longest, 'a', sizeof longest);
    memcpy(longest, "turn:", 5);
    assert_int_equal(tdm_turn_url_check(longest, TDM_TURN_URL_MAX), 0);
    assert_int_equal(tdm_turn_url_check(longest, TDM_TURN_URL_MAX + 1), TDM_EINVAL);
    assert_int_equal(tdm_turn_url_check("turn:a\0b", 8), TDM_EINVAL);
}

static void url_lists(void **state)
{
    (void)state;
    char out[TDM_TURN_MAX_URLS][TDM_TURN_URL_MAX + 1];
    size_t n = 99;
    char err[200];
    assert_int_equal(tdm_turn_parse_urls("", out, &n, err, sizeof err), 0);
    assert_int_equal(n, 0);
    assert_int_equal(tdm_turn_parse_urls(" turns:a.example:443?transport=tcp, turn:a.example ,",
                                         out, &n, err, sizeof err),
                     0);
    assert_int_equal(n, 2);
    assert_string_equal(out[0], "turns:a.example:443?transport=tcp");
    assert_string_equal(out[1], "turn:a.example");
    assert_int_equal(
        tdm_turn_parse_urls("turn:a,turn:b,turn:c,turn:d,turn:e", out, &n, err, sizeof err),
        TDM_EINVAL);
    assert_non_null(strstr(err, "at most"));
    assert_int_equal(tdm_turn_parse_urls("turn:a, http://evil", out, &n, err, sizeof err),
                     TDM_EINVAL);
    assert_non_null(strstr(err, "http://evil"));
}

static void secrets(void **state)
{
    (void)state;
    assert_int_equal(tdm_turn_secret_check("0123456789abcdef", 16), 0);
    assert_int_equal(tdm_turn_secret_check("0123456789abcde", 15), TDM_EINVAL);
    assert_int_equal(tdm_turn_secret_check("0123456789 abcdef", 17), TDM_EINVAL);
    assert_int_equal(tdm_turn_secret_check("0123456789abcdef\n", 17), TDM_EINVAL);
    assert_int_equal(tdm_turn_secret_check("0123456789abcd\xc3\xa9", 16), TDM_EINVAL);
    char big[TDM_TURN_SECRET_MAX + 1];
    memset(big, 'k', sizeof big);
    assert_int_equal(tdm_turn_secret_check(big, TDM_TURN_SECRET_MAX), 0);
    assert_int_equal(tdm_turn_secret_check(big, TDM_TURN_SECRET_MAX + 1), TDM_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(known_vectors), cmocka_unit_test(small_buffers), cmocka_unit_test(urls),
        cmocka_unit_test(url_lists),     cmocka_unit_test(secrets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
