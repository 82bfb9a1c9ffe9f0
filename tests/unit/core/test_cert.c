#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "tandem/cert.h"
#include "tandem/err.h"

#define WALL_US 1767225600000000LL /* 2026-01-01T00:00:00Z */

static int parse(const char *s, struct tdm_fingerprint *fp)
{
    char err[128] = "";
    return tdm_cert_fingerprint_parse((const uint8_t *)s, strlen(s), fp, err, sizeof err);
}

static void cert_fingerprint_is_sdp_sha256(void **state)
{
    (void)state;
    struct tdm_cert *c = NULL;
    assert_int_equal(tdm_cert_create(&c, WALL_US), 0);
    const char *sdp = tdm_cert_fingerprint_sdp(c);
    assert_int_equal(strlen(sdp), strlen("sha-256 ") + 32 * 3 - 1);
    assert_memory_equal(sdp, "sha-256 ", 8);
    for (size_t i = 8; sdp[i]; i++) {
        if ((i - 8) % 3 == 2)
            assert_int_equal(sdp[i], ':');
        else
            assert_non_null(strchr("0123456789ABCDEF", sdp[i]));
    }
    /* The text parses back to the value, and the value is the cert's real digest. */
    struct tdm_fingerprint parsed, mine;
    assert_int_equal(parse(sdp, &parsed), 0);
    tdm_cert_fingerprint(c, &mine);
    assert_int_equal(parsed.hash, TDM_FP_SHA256);
    assert_int_equal(parsed.len, 32);
    assert_memory_equal(parsed.digest, mine.digest, 32);

    /* Two certificates differ (fresh key and serial each time). */
    struct tdm_cert *c2 = NULL;
    assert_int_equal(tdm_cert_create(&c2, WALL_US), 0);
    assert_string_not_equal(sdp, tdm_cert_fingerprint_sdp(c2));
    tdm_cert_destroy(c2);
    tdm_cert_destroy(c);
}

static void cert_ssl_ctx_has_key_and_matches(void **state)
{
    (void)state;
    struct tdm_cert *c = NULL;
    SSL_CTX *ctx = NULL;
    assert_int_equal(tdm_cert_create(&c, WALL_US), 0);
    assert_int_equal(tdm_cert_ssl_ctx_new(c, NULL, &ctx), 0);
    X509 *x = SSL_CTX_get0_certificate(ctx);
    assert_non_null(x);
    struct tdm_fingerprint mine;
    tdm_cert_fingerprint(c, &mine);
    assert_true(tdm_cert_fingerprint_matches(&mine, x));
    mine.digest[31] ^= 1;
    assert_false(tdm_cert_fingerprint_matches(&mine, x));

    /* Self-signed, P-256, and valid around the wall time given. */
    EVP_PKEY *pk = X509_get0_pubkey(x);
    assert_int_equal(EVP_PKEY_get_bits(pk), 256);
    assert_int_equal(X509_check_issued(x, x), X509_V_OK);
    time_t t = (time_t)(WALL_US / 1000000);
    assert_true(X509_cmp_time(X509_get0_notBefore(x), &t) < 0);
    assert_true(X509_cmp_time(X509_get0_notAfter(x), &t) > 0);

    /* The ctx survives the cert object (it holds its own references). */
    tdm_cert_destroy(c);
    assert_non_null(SSL_CTX_get0_certificate(ctx));
    SSL_CTX_free(ctx);
}

static void cert_ssl_ctx_rejects_unknown_profile(void **state)
{
    (void)state;
    struct tdm_cert *c = NULL;
    SSL_CTX *ctx = (SSL_CTX *)1;
    assert_int_equal(tdm_cert_create(&c, WALL_US), 0);
    assert_int_equal(tdm_cert_ssl_ctx_new(c, "BOGUS", &ctx), TDM_EINVAL);
    assert_null(ctx);
    assert_int_equal(tdm_cert_ssl_ctx_new(c, "SRTP_AES128_CM_SHA1_80", &ctx), 0);
    SSL_CTX_free(ctx);
    tdm_cert_destroy(c);
}

static void fingerprint_parse_good(void **state)
{
    (void)state;
    struct tdm_fingerprint fp;
    const char *s256 = "sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:"
                       "00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff";
    assert_int_equal(parse(s256, &fp), 0);
    assert_int_equal(fp.hash, TDM_FP_SHA256);
    assert_int_equal(fp.len, 32);
    assert_int_equal(fp.digest[0], 0x00);
    assert_int_equal(fp.digest[10], 0xaa);
    assert_int_equal(fp.digest[26], 0xaa);
    assert_int_equal(fp.digest[31], 0xff);

    /* Hash names are case-insensitive (RFC 8122 hash-func is a token). */
    const char *s1 = "SHA-1 01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67";
    assert_int_equal(parse(s1, &fp), 0);
    assert_int_equal(fp.hash, TDM_FP_SHA1);
    assert_int_equal(fp.len, 20);

    /* Format round-trip (upper case, colons). */
    char out[TDM_FP_TEXT_MAX];
    assert_int_equal(parse(s256, &fp), 0);
    int n = tdm_cert_fingerprint_format(&fp, out, sizeof out);
    assert_int_equal(n, (int)strlen(s256));
    assert_string_equal(out, "sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:"
                             "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF");
    assert_int_equal(tdm_cert_fingerprint_format(&fp, out, 20), TDM_ETOOBIG);

    /* sha-512: the longest digest. */
    char s512[TDM_FP_TEXT_MAX] = "sha-512 ";
    for (int i = 0; i < 64; i++)
        strcat(s512, i ? ":5A" : "5A");
    assert_int_equal(parse(s512, &fp), 0);
    assert_int_equal(fp.len, 64);
    assert_int_equal(fp.digest[63], 0x5a);
}

static void fingerprint_parse_bad(void **state)
{
    (void)state;
    struct tdm_fingerprint fp;
    const char *bad[] = {
        "",
        "sha-256",
        "sha-256 ",
        " sha-256 00",
        "sha-256 0",
        "sha-256 00:11", /* too short for sha-256 */
        "sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:"
        "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00", /* too long */
        "sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:"
        "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:F", /* odd digit */
        "sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:"
        "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:", /* trailing colon */
        "sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:"
        "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:GG", /* not hex */
        "sha-256 0011:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:"
        "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF", /* missing colon */
        "sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:"
        "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF ", /* trailing space */
        "sha-256  00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:"
        "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF", /* two spaces */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = parse(bad[i], &fp);
        if (rc != TDM_EINVAL)
            print_error("case %zu: '%s' gave %d\n", i, bad[i], rc);
        assert_int_equal(rc, TDM_EINVAL);
    }
    /* Known-weak or unknown hashes are refused as unsupported. */
    assert_int_equal(parse("md5 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF", &fp),
                     TDM_EUNSUPP);
    assert_int_equal(parse("sha-3 00", &fp), TDM_EUNSUPP);

    /* A NUL inside the value is not hex; bytes past len are never read. */
    const uint8_t with_nul[] = {'s', 'h', 'a', '-', '1', ' ', '0', 0, '1'};
    assert_int_equal(tdm_cert_fingerprint_parse(with_nul, sizeof with_nul, &fp, NULL, 0),
                     TDM_EINVAL);
    char big[TDM_FP_PARSE_MAX + 2];
    memset(big, 'A', sizeof big);
    assert_int_equal(tdm_cert_fingerprint_parse((const uint8_t *)big, sizeof big, &fp, NULL, 0),
                     TDM_ETOOBIG);

    /* The error text says what was wrong. */
    char err[128] = "";
    tdm_cert_fingerprint_parse((const uint8_t *)"sha-256 00:1x", 13, &fp, err, sizeof err);
    assert_non_null(strstr(err, "hex"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cert_fingerprint_is_sdp_sha256),
        cmocka_unit_test(cert_ssl_ctx_has_key_and_matches),
        cmocka_unit_test(cert_ssl_ctx_rejects_unknown_profile),
        cmocka_unit_test(fingerprint_parse_good),
        cmocka_unit_test(fingerprint_parse_bad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
