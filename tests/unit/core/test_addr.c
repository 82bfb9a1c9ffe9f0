#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <cmocka.h>

#include "tandem/addr.h"
#include "tandem/err.h"

static void sockaddr_round_trip(void **state)
{
    (void)state;
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(3478)};
    inet_pton(AF_INET, "198.18.0.2", &sin.sin_addr);
    struct tdm_addr a, b;
    assert_int_equal(tdm_addr_from_sockaddr(&a, (struct sockaddr *)&sin, sizeof sin), 0);
    assert_int_equal(a.family, TDM_ADDR_V4);
    assert_int_equal(a.port, 3478);
    assert_memory_equal(a.ip, "\xc6\x12\x00\x02", 4);
    struct sockaddr_storage ss;
    socklen_t sl;
    assert_int_equal(tdm_addr_to_sockaddr(&a, &ss, &sl), 0);
    assert_int_equal(sl, sizeof sin);
    assert_int_equal(tdm_addr_from_sockaddr(&b, (struct sockaddr *)&ss, sl), 0);
    assert_true(tdm_addr_equal(&a, &b));

    struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6, .sin6_port = htons(9)};
    inet_pton(AF_INET6, "2001:db8::1", &sin6.sin6_addr);
    assert_int_equal(tdm_addr_from_sockaddr(&a, (struct sockaddr *)&sin6, sizeof sin6), 0);
    assert_int_equal(a.family, TDM_ADDR_V6);
    assert_int_equal(tdm_addr_to_sockaddr(&a, &ss, &sl), 0);
    assert_int_equal(sl, sizeof sin6);
    assert_int_equal(tdm_addr_from_sockaddr(&b, (struct sockaddr *)&ss, sl), 0);
    assert_true(tdm_addr_equal(&a, &b));

    /* A dual-stack socket's ::ffff:198.18.0.2 is the same peer as plain IPv4. */
    inet_pton(AF_INET6, "::ffff:198.18.0.2", &sin6.sin6_addr);
    sin6.sin6_port = htons(3478);
    assert_int_equal(tdm_addr_from_sockaddr(&b, (struct sockaddr *)&sin6, sizeof sin6), 0);
    tdm_addr_set_v4(&a, 0xC6120002u, 3478);
    assert_true(tdm_addr_equal(&a, &b));

    assert_int_equal(tdm_addr_from_sockaddr(&a, (struct sockaddr *)&sin, sizeof sin - 1),
                     TDM_EINVAL);
    struct tdm_addr none = {0};
    assert_int_equal(tdm_addr_to_sockaddr(&none, &ss, &sl), TDM_EINVAL);
}

static void equality_and_hash(void **state)
{
    (void)state;
    struct tdm_addr a, b;
    tdm_addr_set_v4(&a, 0x0A000001, 5000);
    b = a;
    assert_true(tdm_addr_equal(&a, &b));
    assert_int_equal(tdm_addr_hash(&a, 1), tdm_addr_hash(&b, 1));
    b.port = 5001;
    assert_false(tdm_addr_equal(&a, &b));
    b = a;
    b.transport = TDM_ADDR_TCP; /* RFC 6544: a TCP peer is another key */
    assert_false(tdm_addr_equal(&a, &b));
    assert_int_not_equal(tdm_addr_hash(&a, 1), tdm_addr_hash(&b, 1));
    assert_int_not_equal(tdm_addr_hash(&a, 1), tdm_addr_hash(&a, 2));
    /* Nearby ports spread over buckets of a small table. */
    unsigned used = 0;
    for (uint16_t p = 0; p < 64; p++) {
        b = a;
        b.port = p;
        used |= 1u << (tdm_addr_hash(&b, 42) & 31);
    }
    assert_true(__builtin_popcount(used) > 20);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sockaddr_round_trip),
        cmocka_unit_test(equality_and_hash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
