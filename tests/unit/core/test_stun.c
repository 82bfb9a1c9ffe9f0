#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "tandem/err.h"
#include "tandem/stun.h"

/* RFC 5769 2.1-2.3 sample messages, stored as binary files in tests/data/stun/. */
static const char rfc_password[] = "VOkJxbRl1RmTxUk/WvJxBt";
static const uint8_t rfc_tid[12] = {0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34,
                                    0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae};

static size_t load(const char *name, uint8_t *buf, size_t cap)
{
    char path[512];
    snprintf(path, sizeof path, "%s/stun/%s", TANDEM_TEST_DATA, name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    size_t n = fread(buf, 1, cap, f);
    fclose(f);
    assert_true(n > 0 && n < cap);
    return n;
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void crc32_check_value(void **state)
{
    (void)state;
    assert_int_equal(tdm_stun_crc32((const uint8_t *)"123456789", 9), 0xCBF43926u);
    assert_int_equal(tdm_stun_crc32(NULL, 0), 0);
}

static void rfc5769_request(void **state)
{
    (void)state;
    uint8_t buf[256];
    size_t n = load("rfc5769-request.bin", buf, sizeof buf);
    struct tdm_stun_msg m;
    char err[128];
    assert_int_equal(tdm_stun_parse(&m, buf, n, err, sizeof err), 0);
    assert_int_equal(m.type, TDM_STUN_BINDING_REQUEST);
    assert_memory_equal(m.tid, rfc_tid, 12);
    size_t ulen;
    const char *u = tdm_stun_username(&m, &ulen);
    assert_int_equal(ulen, 9);
    assert_memory_equal(u, "evtj:h6vY", 9); /* padded with spaces, not zeros: accepted */
    assert_true(m.has_priority);
    assert_int_equal(m.priority, 0x6e0001ffu);
    assert_int_equal(m.role, TDM_STUN_ROLE_CONTROLLED);
    assert_true(m.tiebreaker == 0x932ff9b151263b36ull);
    assert_false(m.use_candidate);
    assert_int_equal(m.n_unknown, 0);
    assert_int_equal(m.mi_off, 76);
    assert_int_equal(m.fp_off, 100);
    assert_int_equal(tdm_stun_check_integrity(&m, rfc_password, strlen(rfc_password)), 0);
    assert_int_equal(tdm_stun_check_integrity(&m, "VOkJxbRl1RmTxUk/WvJxBT", 22), TDM_EAUTH);
    assert_int_equal(tdm_stun_check_fingerprint(&m), 0);
}

static void rfc5769_responses(void **state)
{
    (void)state;
    static const uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0x12, 0x34, 0x56, 0x78,
                                   0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77};
    const char *files[] = {"rfc5769-response-ipv4.bin", "rfc5769-response-ipv6.bin"};
    for (int i = 0; i < 2; i++) {
        uint8_t buf[256];
        size_t n = load(files[i], buf, sizeof buf);
        struct tdm_stun_msg m;
        assert_int_equal(tdm_stun_parse(&m, buf, n, NULL, 0), 0);
        assert_int_equal(m.type, TDM_STUN_BINDING_SUCCESS);
        assert_true(m.has_xor_mapped);
        struct tdm_addr want;
        if (i == 0)
            tdm_addr_set_v4(&want, 0xC0000201u, 32853); /* 192.0.2.1 */
        else
            tdm_addr_set_v6(&want, v6, 32853);
        assert_true(tdm_addr_equal(&m.xor_mapped, &want));
        assert_int_equal(tdm_stun_check_integrity(&m, rfc_password, strlen(rfc_password)), 0);
        assert_int_equal(tdm_stun_check_fingerprint(&m), 0);

        /* Our builder must produce the same XOR-MAPPED-ADDRESS bytes. */
        uint8_t out[128];
        int len = tdm_stun_build_binding_success(out, sizeof out, rfc_tid, &want, rfc_password,
                                                 strlen(rfc_password));
        assert_true(len > 0);
        size_t alen = i == 0 ? 8 : 20;
        assert_memory_equal(out + 20, buf + 36, 4 + alen);
    }
}

/* Re-seal the RFC request's attributes with our writer: MI and FINGERPRINT must come out
 * byte for byte as in RFC 5769 2.1. */
static void writer_reproduces_rfc_request(void **state)
{
    (void)state;
    uint8_t ref[256], out[256];
    size_t n = load("rfc5769-request.bin", ref, sizeof ref);
    struct tdm_stun_writer w;
    tdm_stun_writer_init(&w, out, sizeof out, TDM_STUN_BINDING_REQUEST, rfc_tid);
    memcpy(out + 20, ref + 20, 56); /* SOFTWARE, PRIORITY, ICE-CONTROLLED, USERNAME */
    w.len = 76;
    tdm_stun_put_integrity(&w, rfc_password, strlen(rfc_password));
    tdm_stun_put_fingerprint(&w);
    assert_int_equal(tdm_stun_writer_finish(&w), (int)n);
    assert_memory_equal(out, ref, n);
}

static void rejects_bad_headers(void **state)
{
    (void)state;
    uint8_t buf[256], tmp[260];
    size_t n = load("rfc5769-request.bin", buf, sizeof buf);
    struct tdm_stun_msg m;
    char err[128];

    for (size_t k = 0; k < n; k++) { /* every truncation */
        memcpy(tmp, buf, k);
        int r = tdm_stun_parse(&m, tmp, k, err, sizeof err);
        assert_true(r == TDM_ETRUNC || r == TDM_EINVAL);
        assert_false(m.framed);
    }
    memcpy(tmp, buf, n);
    tmp[n] = 0;
    assert_int_equal(tdm_stun_parse(&m, tmp, n + 1, err, sizeof err), TDM_EINVAL); /* oversized */
    tmp[5] ^= 1;
    assert_int_equal(tdm_stun_parse(&m, tmp, n, err, sizeof err), TDM_EINVAL); /* cookie */
    assert_non_null(strstr(err, "cookie"));
    memcpy(tmp, buf, n);
    tmp[0] |= 0x40;
    assert_int_equal(tdm_stun_parse(&m, tmp, n, NULL, 0), TDM_EINVAL); /* top bits */
    memcpy(tmp, buf, n);
    put16(tmp + 2, 0x56); /* misaligned length */
    assert_int_equal(tdm_stun_parse(&m, tmp, n, NULL, 0), TDM_EINVAL);
    put16(tmp + 2, 0x5c); /* length larger than the datagram */
    assert_int_equal(tdm_stun_parse(&m, tmp, n, NULL, 0), TDM_ETRUNC);
    memcpy(tmp, buf, n);
    put16(tmp + 22, 0x0011); /* SOFTWARE one byte longer: the walk desyncs and overruns */
    assert_int_equal(tdm_stun_parse(&m, tmp, n, NULL, 0), TDM_EINVAL);
    memcpy(tmp, buf, n);
    put16(tmp + 102, 0x0008); /* FINGERPRINT overruns the message */
    assert_int_equal(tdm_stun_parse(&m, tmp, n, NULL, 0), TDM_EINVAL);
    assert_int_equal(tdm_stun_parse(&m, NULL, 0, NULL, 0), TDM_ETRUNC);
}

static void detects_bad_integrity_and_fingerprint(void **state)
{
    (void)state;
    uint8_t buf[256];
    size_t n = load("rfc5769-request.bin", buf, sizeof buf);
    struct tdm_stun_msg m;
    size_t pw = strlen(rfc_password);

    buf[84] ^= 0x01; /* inside the HMAC */
    assert_int_equal(tdm_stun_parse(&m, buf, n, NULL, 0), 0);
    assert_int_equal(tdm_stun_check_integrity(&m, rfc_password, pw), TDM_EAUTH);
    buf[84] ^= 0x01;
    buf[45] ^= 0x01; /* the PRIORITY value, covered by both */
    assert_int_equal(tdm_stun_parse(&m, buf, n, NULL, 0), 0);
    assert_int_equal(tdm_stun_check_integrity(&m, rfc_password, pw), TDM_EAUTH);
    assert_int_equal(tdm_stun_check_fingerprint(&m), TDM_EAUTH);
    buf[45] ^= 0x01;
    buf[n - 1] ^= 0x80; /* the CRC only */
    assert_int_equal(tdm_stun_parse(&m, buf, n, NULL, 0), 0);
    assert_int_equal(tdm_stun_check_integrity(&m, rfc_password, pw), 0);
    assert_int_equal(tdm_stun_check_fingerprint(&m), TDM_EAUTH);
    buf[n - 1] ^= 0x80;

    /* Without FINGERPRINT (length shortened by 8): MI still checks, FP reports absence. */
    put16(buf + 2, (uint16_t)(n - 28));
    assert_int_equal(tdm_stun_parse(&m, buf, n - 8, NULL, 0), 0);
    assert_int_equal(m.fp_off, 0);
    assert_int_equal(tdm_stun_check_fingerprint(&m), TDM_ENOTFOUND);
    assert_int_equal(tdm_stun_check_integrity(&m, rfc_password, pw), 0);
    /* Without MI either. */
    put16(buf + 2, 56);
    assert_int_equal(tdm_stun_parse(&m, buf, 76, NULL, 0), 0);
    assert_int_equal(tdm_stun_check_integrity(&m, rfc_password, pw), TDM_ENOTFOUND);
}

static void duplicate_and_unknown_attributes(void **state)
{
    (void)state;
    uint8_t buf[256];
    struct tdm_stun_writer w;
    tdm_stun_writer_init(&w, buf, sizeof buf, TDM_STUN_BINDING_REQUEST, rfc_tid);
    tdm_stun_put_attr(&w, TDM_STUN_ATTR_USERNAME, "aaaa:bbbb", 9);
    tdm_stun_put_attr(&w, TDM_STUN_ATTR_USERNAME, "cccc:dddd", 9);
    tdm_stun_put_u32(&w, TDM_STUN_ATTR_PRIORITY, 7);
    tdm_stun_put_u32(&w, TDM_STUN_ATTR_PRIORITY, 9);
    tdm_stun_put_u64(&w, TDM_STUN_ATTR_ICE_CONTROLLING, 1);
    tdm_stun_put_u64(&w, TDM_STUN_ATTR_ICE_CONTROLLED, 2);
    tdm_stun_put_attr(&w, 0x0003, "\0\0\0\0", 4); /* CHANGE-REQUEST: required, unknown */
    tdm_stun_put_attr(&w, 0x7F01, "x", 1);        /* required, unknown */
    tdm_stun_put_attr(&w, 0xC057, "\0\1\0\0", 4); /* GOOG-NETWORK-INFO: optional */
    tdm_stun_put_attr(&w, TDM_STUN_ATTR_SOFTWARE, "t", 1);
    tdm_stun_put_integrity(&w, "pw", 2);
    tdm_stun_put_fingerprint(&w);
    int n = tdm_stun_writer_finish(&w);
    assert_true(n > 0);

    struct tdm_stun_msg m;
    assert_int_equal(tdm_stun_parse(&m, buf, (size_t)n, NULL, 0), 0);
    size_t ulen;
    const char *u = tdm_stun_username(&m, &ulen);
    assert_int_equal(ulen, 9);
    assert_memory_equal(u, "aaaa:bbbb", 9);
    assert_int_equal(m.priority, 7);
    assert_int_equal(m.role, TDM_STUN_ROLE_CONTROLLING);
    assert_true(m.tiebreaker == 1);
    assert_int_equal(m.n_unknown, 2);
    assert_int_equal(m.unknown[0], 0x0003);
    assert_int_equal(m.unknown[1], 0x7F01);
    assert_int_equal(tdm_stun_check_integrity(&m, "pw", 2), 0);
    assert_int_equal(tdm_stun_check_fingerprint(&m), 0);
}

/* Build "USERNAME, MI, <extra>, FINGERPRINT" by hand: the writer refuses such messages. */
static size_t with_attr_after_mi(uint8_t *buf, size_t cap, uint16_t type, size_t alen)
{
    struct tdm_stun_writer w;
    tdm_stun_writer_init(&w, buf, cap, TDM_STUN_BINDING_REQUEST, rfc_tid);
    tdm_stun_put_attr(&w, TDM_STUN_ATTR_USERNAME, "aaaa:bbbb", 9);
    tdm_stun_put_integrity(&w, "pw", 2);
    int n = tdm_stun_writer_finish(&w);
    assert_true(n > 0);
    size_t off = (size_t)n;
    put16(buf + off, type);
    put16(buf + off + 2, (uint16_t)alen);
    memset(buf + off + 4, 'z', (alen + 3) & ~3u);
    off += 4 + ((alen + 3) & ~3u);
    put16(buf + 2, (uint16_t)(off + 8 - 20));
    uint32_t crc = tdm_stun_crc32(buf, off) ^ TDM_STUN_FINGERPRINT_XOR;
    put16(buf + off, TDM_STUN_ATTR_FINGERPRINT);
    put16(buf + off + 2, 4);
    put16(buf + off + 4, (uint16_t)(crc >> 16));
    put16(buf + off + 6, (uint16_t)crc);
    return off + 8;
}

static void attributes_after_integrity_are_ignored(void **state)
{
    (void)state;
    uint8_t buf[256];
    size_t n = with_attr_after_mi(buf, sizeof buf, TDM_STUN_ATTR_USE_CANDIDATE, 0);
    struct tdm_stun_msg m;
    assert_int_equal(tdm_stun_parse(&m, buf, n, NULL, 0), 0);
    assert_false(m.use_candidate); /* not covered by the HMAC: must not count */
    assert_int_equal(tdm_stun_check_integrity(&m, "pw", 2), 0);
    assert_int_equal(tdm_stun_check_fingerprint(&m), 0);
    n = with_attr_after_mi(buf, sizeof buf, 0x0003, 4); /* unknown after MI: ignored too */
    assert_int_equal(tdm_stun_parse(&m, buf, n, NULL, 0), 0);
    assert_int_equal(m.n_unknown, 0);
}

static void nothing_after_fingerprint(void **state)
{
    (void)state;
    uint8_t buf[256];
    struct tdm_stun_writer w;
    tdm_stun_writer_init(&w, buf, sizeof buf, TDM_STUN_BINDING_REQUEST, rfc_tid);
    tdm_stun_put_fingerprint(&w);
    int n = tdm_stun_writer_finish(&w);
    assert_int_equal(n, 28);
    put16(buf + 28, TDM_STUN_ATTR_SOFTWARE);
    put16(buf + 30, 0);
    put16(buf + 2, 12);
    struct tdm_stun_msg m;
    assert_int_equal(tdm_stun_parse(&m, buf, 32, NULL, 0), TDM_EINVAL);
    assert_false(m.framed);
    /* And the writer refuses to produce it. */
    tdm_stun_writer_init(&w, buf, sizeof buf, TDM_STUN_BINDING_REQUEST, rfc_tid);
    tdm_stun_put_fingerprint(&w);
    tdm_stun_put_attr(&w, TDM_STUN_ATTR_SOFTWARE, "x", 1);
    assert_int_equal(tdm_stun_writer_finish(&w), TDM_EINVAL);
    tdm_stun_writer_init(&w, buf, sizeof buf, TDM_STUN_BINDING_REQUEST, rfc_tid);
    tdm_stun_put_integrity(&w, "pw", 2);
    tdm_stun_put_u32(&w, TDM_STUN_ATTR_PRIORITY, 1);
    assert_int_equal(tdm_stun_writer_finish(&w), TDM_EINVAL);
}

static void malformed_known_attributes_keep_framing(void **state)
{
    (void)state;
    struct {
        uint16_t type;
        size_t len;
    } cases[] = {
        {TDM_STUN_ATTR_PRIORITY, 3},
        {TDM_STUN_ATTR_USE_CANDIDATE, 4},
        {TDM_STUN_ATTR_ICE_CONTROLLING, 4},
        {TDM_STUN_ATTR_MESSAGE_INTEGRITY, 16},
        {TDM_STUN_ATTR_XOR_MAPPED_ADDRESS, 12},
        {TDM_STUN_ATTR_ERROR_CODE, 2},
        {TDM_STUN_ATTR_USERNAME, 600},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t buf[1024], val[600] = {0};
        struct tdm_stun_writer w;
        tdm_stun_writer_init(&w, buf, sizeof buf, TDM_STUN_BINDING_REQUEST, rfc_tid);
        tdm_stun_put_attr(&w, cases[i].type, val, cases[i].len);
        tdm_stun_put_fingerprint(&w);
        int n = tdm_stun_writer_finish(&w);
        assert_true(n > 0);
        struct tdm_stun_msg m;
        char err[128];
        assert_int_equal(tdm_stun_parse(&m, buf, (size_t)n, err, sizeof err), TDM_EINVAL);
        assert_true(m.framed); /* so an ICE agent may answer 400 */
        assert_memory_equal(m.tid, rfc_tid, 12);
        assert_int_equal(tdm_stun_check_fingerprint(&m), 0);
    }
    /* ERROR-CODE class out of range and XOR-MAPPED-ADDRESS of family 3. */
    uint8_t buf[128];
    struct tdm_stun_writer w;
    tdm_stun_writer_init(&w, buf, sizeof buf, TDM_STUN_BINDING_ERROR, rfc_tid);
    tdm_stun_put_attr(&w, TDM_STUN_ATTR_ERROR_CODE, "\0\0\7\1", 4);
    struct tdm_stun_msg m;
    assert_int_equal(tdm_stun_parse(&m, buf, (size_t)tdm_stun_writer_finish(&w), NULL, 0),
                     TDM_EINVAL);
    tdm_stun_writer_init(&w, buf, sizeof buf, TDM_STUN_BINDING_SUCCESS, rfc_tid);
    tdm_stun_put_attr(&w, TDM_STUN_ATTR_XOR_MAPPED_ADDRESS, "\0\3\0\0\0\0\0\0", 8);
    assert_int_equal(tdm_stun_parse(&m, buf, (size_t)tdm_stun_writer_finish(&w), NULL, 0),
                     TDM_EINVAL);
}

static void error_responses(void **state)
{
    (void)state;
    uint8_t buf[256];
    struct tdm_stun_msg m;
    int n = tdm_stun_build_error(buf, sizeof buf, rfc_tid, 401, NULL, 0, NULL, 0);
    assert_true(n > 0);
    assert_int_equal(tdm_stun_parse(&m, buf, (size_t)n, NULL, 0), 0);
    assert_int_equal(m.type, TDM_STUN_BINDING_ERROR);
    assert_int_equal(m.error_code, 401);
    assert_int_equal(m.reason_len, strlen("Unauthorized"));
    assert_memory_equal(buf + m.reason_off, "Unauthorized", m.reason_len);
    assert_int_equal(m.mi_off, 0); /* RFC 8489 9.1.3: no MI on 401 */
    assert_int_equal(tdm_stun_check_fingerprint(&m), 0);

    n = tdm_stun_build_error(buf, sizeof buf, rfc_tid, 400, NULL, 0, NULL, 0);
    assert_int_equal(tdm_stun_parse(&m, buf, (size_t)n, NULL, 0), 0);
    assert_int_equal(m.error_code, 400);

    n = tdm_stun_build_error(buf, sizeof buf, rfc_tid, 487, NULL, 0, "pw", 2);
    assert_int_equal(tdm_stun_parse(&m, buf, (size_t)n, NULL, 0), 0);
    assert_int_equal(m.error_code, 487);
    assert_int_equal(tdm_stun_check_integrity(&m, "pw", 2), 0);
    assert_int_equal(tdm_stun_check_fingerprint(&m), 0);

    uint16_t unk[3] = {0x0003, 0x7F01, 0x0042};
    n = tdm_stun_build_error(buf, sizeof buf, rfc_tid, 420, unk, 3, "pw", 2);
    assert_int_equal(tdm_stun_parse(&m, buf, (size_t)n, NULL, 0), 0);
    assert_int_equal(m.error_code, 420);
    /* UNKNOWN-ATTRIBUTES follows ERROR-CODE (4 + 17 reason bytes, padded to 24). */
    const uint8_t *ua = buf + 20 + 4 + 24;
    assert_int_equal(ua[0] << 8 | ua[1], TDM_STUN_ATTR_UNKNOWN_ATTRIBUTES);
    assert_int_equal(ua[3], 6);
    assert_int_equal(ua[4] << 8 | ua[5], 0x0003);
    assert_int_equal(ua[6] << 8 | ua[7], 0x7F01);
    assert_int_equal(tdm_stun_build_error(buf, sizeof buf, rfc_tid, 700, NULL, 0, NULL, 0),
                     TDM_EINVAL);
}

static void request_builder_round_trip(void **state)
{
    (void)state;
    uint8_t buf[256];
    struct tdm_stun_request r = {
        .tid = rfc_tid,
        .username = "srv1:brws",
        .username_len = 9,
        .key = "serverpassword0123456789",
        .keylen = 24,
        .priority = 0x6e7f1eff,
        .use_candidate = true,
        .role = TDM_STUN_ROLE_CONTROLLING,
        .tiebreaker = 0x0102030405060708ull,
    };
    int n = tdm_stun_build_binding_request(buf, sizeof buf, &r);
    assert_true(n > 0);
    struct tdm_stun_msg m;
    assert_int_equal(tdm_stun_parse(&m, buf, (size_t)n, NULL, 0), 0);
    assert_int_equal(m.type, TDM_STUN_BINDING_REQUEST);
    assert_int_equal(m.priority, 0x6e7f1eff);
    assert_true(m.use_candidate);
    assert_int_equal(m.role, TDM_STUN_ROLE_CONTROLLING);
    assert_true(m.tiebreaker == 0x0102030405060708ull);
    assert_int_equal(tdm_stun_check_integrity(&m, r.key, r.keylen), 0);
    assert_int_equal(tdm_stun_check_fingerprint(&m), 0);

    char longname[TDM_STUN_MAX_USERNAME + 1];
    memset(longname, 'a', sizeof longname);
    r.username = longname;
    r.username_len = TDM_STUN_MAX_USERNAME + 1;
    uint8_t big[1024];
    assert_int_equal(tdm_stun_build_binding_request(big, sizeof big, &r), TDM_EINVAL);
    r.username_len = TDM_STUN_MAX_USERNAME;
    n = tdm_stun_build_binding_request(big, sizeof big, &r);
    assert_true(n > 0);
    assert_int_equal(tdm_stun_parse(&m, big, (size_t)n, NULL, 0), 0);
    assert_int_equal(m.username_len, TDM_STUN_MAX_USERNAME);
    /* A key longer than the SHA-1 block is hashed first (RFC 2104) and still verifies. */
    r.key = longname;
    r.keylen = 100;
    n = tdm_stun_build_binding_request(big, sizeof big, &r);
    assert_int_equal(tdm_stun_parse(&m, big, (size_t)n, NULL, 0), 0);
    assert_int_equal(tdm_stun_check_integrity(&m, longname, 100), 0);
    assert_int_equal(tdm_stun_check_integrity(&m, longname, 99), TDM_EAUTH);
}

/* Every builder, at every capacity short of what it needs: TDM_ETOOBIG, and not one byte
 * written past the capacity. */
static void builders_respect_capacity(void **state)
{
    (void)state;
    struct tdm_addr a;
    static const uint8_t ip6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
    struct tdm_stun_request r = {.tid = rfc_tid,
                                 .username = "abcd:efgh",
                                 .username_len = 9,
                                 .key = "pw",
                                 .keylen = 2,
                                 .priority = 1,
                                 .role = TDM_STUN_ROLE_CONTROLLING};
    uint16_t unk[2] = {3, 4};
    for (int kind = 0; kind < 4; kind++) {
        uint8_t buf[256];
        int need = 0;
        for (int cap = 0; cap <= 200; cap++) {
            memset(buf, 0xA5, sizeof buf);
            int n;
            switch (kind) {
            case 0:
                tdm_addr_set_v4(&a, 0x7F000001, 5000);
                n = tdm_stun_build_binding_success(buf, (size_t)cap, rfc_tid, &a, "pw", 2);
                break;
            case 1:
                tdm_addr_set_v6(&a, ip6, 5000);
                n = tdm_stun_build_binding_success(buf, (size_t)cap, rfc_tid, &a, "pw", 2);
                break;
            case 2:
                n = tdm_stun_build_error(buf, (size_t)cap, rfc_tid, 420, unk, 2, "pw", 2);
                break;
            default: n = tdm_stun_build_binding_request(buf, (size_t)cap, &r); break;
            }
            for (size_t i = (size_t)cap; i < sizeof buf; i++)
                assert_int_equal(buf[i], 0xA5);
            if (n > 0) {
                need = n;
                assert_int_equal(cap, n); /* first capacity that works is exactly the length */
                break;
            }
            assert_int_equal(n, TDM_ETOOBIG);
        }
        assert_true(need > 0);
    }
    assert_int_equal(tdm_stun_build_binding_success(NULL, 100, rfc_tid, &a, NULL, 0), TDM_EINVAL);
    struct tdm_addr none = {0};
    uint8_t buf[128];
    assert_int_equal(tdm_stun_build_binding_success(buf, sizeof buf, rfc_tid, &none, NULL, 0),
                     TDM_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(crc32_check_value),
        cmocka_unit_test(rfc5769_request),
        cmocka_unit_test(rfc5769_responses),
        cmocka_unit_test(writer_reproduces_rfc_request),
        cmocka_unit_test(rejects_bad_headers),
        cmocka_unit_test(detects_bad_integrity_and_fingerprint),
        cmocka_unit_test(duplicate_and_unknown_attributes),
        cmocka_unit_test(attributes_after_integrity_are_ignored),
        cmocka_unit_test(nothing_after_fingerprint),
        cmocka_unit_test(malformed_known_attributes_keep_framing),
        cmocka_unit_test(error_responses),
        cmocka_unit_test(request_builder_round_trip),
        cmocka_unit_test(builders_respect_capacity),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
