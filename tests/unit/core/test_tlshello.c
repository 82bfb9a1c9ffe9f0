#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "tandem/err.h"
#include "tandem/tlshello.h"

/* A record header announcing a 300-byte ClientHello, then its first fragment byte. */
static const uint8_t hello_start[] = {22, 3, 1, 0x01, 0x2c, 1};

static void whole_record(void **state)
{
    (void)state;
    uint8_t rec[5 + 300] = {0};
    memcpy(rec, hello_start, sizeof hello_start);
    assert_int_equal(tdm_tlshello_check(rec, sizeof rec), 0);
    /* more than the record (a client that sent more at once) */
    uint8_t more[5 + 300 + 10] = {0};
    memcpy(more, hello_start, sizeof hello_start);
    assert_int_equal(tdm_tlshello_check(more, sizeof more), 0);
}

/* Every prefix of the record asks for more, never mistakes it for complete or invalid. */
static void prefixes_need_more(void **state)
{
    (void)state;
    uint8_t rec[5 + 300] = {0};
    memcpy(rec, hello_start, sizeof hello_start);
    assert_int_equal(tdm_tlshello_check(rec, 0), 5);
    for (size_t n = 1; n < 5; n++)
        assert_int_equal(tdm_tlshello_check(rec, n), 5);
    for (size_t n = 5; n < sizeof rec; n++)
        assert_int_equal(tdm_tlshello_check(rec, n), 305);
}

static void refuses_other_bytes(void **state)
{
    (void)state;
    const uint8_t get[] = "GET / HTTP/1.1\r\n";
    assert_int_equal(tdm_tlshello_check(get, sizeof get - 1), TDM_EINVAL);
    const uint8_t alert[] = {21, 3, 3, 0, 2, 2, 40};
    assert_int_equal(tdm_tlshello_check(alert, sizeof alert), TDM_EINVAL);
    const uint8_t badver[] = {22, 2, 0};
    assert_int_equal(tdm_tlshello_check(badver, sizeof badver), TDM_EINVAL);
    const uint8_t empty[] = {22, 3, 1, 0, 0};
    assert_int_equal(tdm_tlshello_check(empty, sizeof empty), TDM_EINVAL);
    const uint8_t huge[] = {22, 3, 3, 0x40, 0x01}; /* 2^14 + 1: over RFC 8446 §5.1 */
    assert_int_equal(tdm_tlshello_check(huge, sizeof huge), TDM_EINVAL);
    const uint8_t server_hello[] = {22, 3, 3, 0, 4, 2, 0, 0, 0};
    assert_int_equal(tdm_tlshello_check(server_hello, sizeof server_hello), TDM_EINVAL);
    const uint8_t biggest[] = {22, 3, 3, 0x40, 0x00};
    assert_int_equal(tdm_tlshello_check(biggest, sizeof biggest), TDM_TLSHELLO_MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(whole_record),
        cmocka_unit_test(prefixes_need_more),
        cmocka_unit_test(refuses_other_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
