#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "tandem/err.h"
#include "tandem/ice.h"
#include "tandem/stun.h"

#define SEC 1000000LL

static const char browser_ufrag[] = "Brws";
static const char browser_pwd[] = "browserpassword+0123456";

struct fx {
    struct tdm_ice_table *t;
    uint64_t id;
    struct tdm_ice_creds c;
};

static int setup(void **state)
{
    static struct fx f;
    memset(&f, 0, sizeof f);
    f.t = tdm_ice_table_create(8);
    assert_non_null(f.t);
    assert_int_equal(tdm_ice_session_add(f.t, 0, 77, &f.id), 0);
    assert_int_equal(tdm_ice_session_local_creds(f.t, f.id, &f.c), 0);
    assert_int_equal(tdm_ice_session_set_remote(f.t, f.id, browser_ufrag, strlen(browser_ufrag),
                                                browser_pwd, strlen(browser_pwd)),
                     0);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    tdm_ice_table_destroy(f->t);
    return 0;
}

struct req {
    const char *lufrag; /* the server's ufrag: first half of USERNAME */
    const char *rufrag; /* the browser's */
    const char *key;    /* the server's password */
    bool use_candidate;
    uint8_t role;
};

static uint8_t tid_counter;

/* A connectivity check as a browser sends it (RFC 8445 7.2.2): USERNAME "server:browser",
 * keyed with the server's password, ICE-CONTROLLING, PRIORITY, FINGERPRINT. */
static size_t browser_check(uint8_t *buf, size_t cap, const struct req *q, uint8_t tid[12])
{
    char user[600];
    snprintf(user, sizeof user, "%s:%s", q->lufrag, q->rufrag);
    memset(tid, 0, 12);
    tid[0] = 0x42;
    tid[11] = ++tid_counter;
    struct tdm_stun_request r = {
        .tid = tid,
        .username = user,
        .username_len = strlen(user),
        .key = q->key,
        .keylen = q->key ? strlen(q->key) : 0,
        .priority = 0x6e7f00ff,
        .use_candidate = q->use_candidate,
        .role = q->role ? q->role : TDM_STUN_ROLE_CONTROLLING,
        .tiebreaker = 0x1122334455667788ull,
    };
    int n = tdm_stun_build_binding_request(buf, cap, &r);
    assert_true(n > 0);
    return (size_t)n;
}

struct result {
    int ret;
    uint8_t out[256];
    size_t out_len;
    uint64_t sid;
    enum tdm_ice_event ev;
    struct tdm_stun_msg resp;
};

static void feed(struct tdm_ice_table *t, const uint8_t *p, size_t len, const struct tdm_addr *from,
                 int64_t now, struct result *r)
{
    memset(r, 0, sizeof *r);
    r->ret = tdm_ice_handle_stun(t, p, len, from, now, r->out, sizeof r->out, &r->out_len, &r->sid,
                                 &r->ev);
    if (r->out_len)
        assert_int_equal(tdm_stun_parse(&r->resp, r->out, r->out_len, NULL, 0), 0);
}

static struct result *check_from(struct fx *f, const struct tdm_addr *from, int64_t now,
                                 bool use_candidate)
{
    static struct result r;
    uint8_t buf[256], tid[12];
    struct req q = {f->c.ufrag, browser_ufrag, f->c.pwd, use_candidate, 0};
    size_t n = browser_check(buf, sizeof buf, &q, tid);
    feed(f->t, buf, n, from, now, &r);
    return &r;
}

static bool is_ice_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
}

static void local_credentials(void **state)
{
    struct fx *f = *state;
    assert_int_equal(strlen(f->c.ufrag), TDM_ICE_UFRAG_LEN);
    assert_int_equal(strlen(f->c.pwd), TDM_ICE_PWD_LEN);
    for (size_t i = 0; i < TDM_ICE_PWD_LEN; i++)
        assert_true(is_ice_char(f->c.pwd[i]));
    for (size_t i = 0; i < TDM_ICE_UFRAG_LEN; i++)
        assert_true(is_ice_char(f->c.ufrag[i]));
    uint64_t id2;
    struct tdm_ice_creds c2;
    assert_int_equal(tdm_ice_session_add(f->t, 0, 78, &id2), 0);
    assert_int_equal(tdm_ice_session_local_creds(f->t, id2, &c2), 0);
    assert_string_not_equal(c2.ufrag, f->c.ufrag);
    assert_string_not_equal(c2.pwd, f->c.pwd);
    assert_int_equal(tdm_ice_session_state(f->t, id2), TDM_ICE_NEW);
    uint64_t user;
    assert_int_equal(tdm_ice_session_user(f->t, id2, &user), 0);
    assert_int_equal(user, 78);
}

/* The whole exchange as a browser sees it: check, validated response, nomination. */
static void end_to_end(void **state)
{
    struct fx *f = *state;
    struct tdm_addr v4, v6;
    tdm_addr_set_v4(&v4, 0xC6120002u, 50123); /* 198.18.0.2 */
    static const uint8_t ip6[16] = {0x20, 0x01, 0x0d, 0xb8, [14] = 0xab, [15] = 0xcd};
    tdm_addr_set_v6(&v6, ip6, 40000);
    uint8_t buf[256], tid[12];
    struct req q = {f->c.ufrag, browser_ufrag, f->c.pwd, false, 0};
    size_t n = browser_check(buf, sizeof buf, &q, tid);
    struct result r;
    feed(f->t, buf, n, &v4, 1 * SEC, &r);
    assert_int_equal(r.ret, 0);
    assert_int_equal(r.sid, f->id);
    assert_int_equal(r.ev, TDM_ICE_EV_NONE);
    assert_int_equal(r.resp.type, TDM_STUN_BINDING_SUCCESS);
    assert_memory_equal(r.resp.tid, tid, 12);
    assert_int_equal(tdm_stun_check_integrity(&r.resp, f->c.pwd, strlen(f->c.pwd)), 0);
    assert_int_equal(tdm_stun_check_integrity(&r.resp, browser_pwd, strlen(browser_pwd)),
                     TDM_EAUTH);
    assert_int_equal(tdm_stun_check_fingerprint(&r.resp), 0);
    assert_true(r.resp.has_xor_mapped);
    assert_true(tdm_addr_equal(&r.resp.xor_mapped, &v4));
    assert_int_equal(tdm_ice_session_state(f->t, f->id), TDM_ICE_CHECKING);

    uint64_t sid, user;
    struct tdm_addr to;
    assert_int_equal(tdm_ice_lookup_addr(f->t, &v4, &sid, &user), 0);
    assert_int_equal(sid, f->id);
    assert_int_equal(user, 77);
    assert_int_equal(tdm_ice_session_send_addr(f->t, f->id, &to), TDM_EAGAIN);
    assert_true(tdm_addr_equal(&to, &v4));

    struct result *rr = check_from(f, &v4, 2 * SEC, true);
    assert_int_equal(rr->ret, 0);
    assert_int_equal(rr->ev, TDM_ICE_EV_CONNECTED);
    assert_int_equal(tdm_ice_session_state(f->t, f->id), TDM_ICE_CONNECTED);
    assert_int_equal(tdm_ice_session_send_addr(f->t, f->id, &to), 0);
    assert_true(tdm_addr_equal(&to, &v4));
    assert_int_equal(check_from(f, &v4, 3 * SEC, true)->ev, TDM_ICE_EV_NONE);

    /* The browser moves to IPv6 (network change): new nomination, new selected address. */
    rr = check_from(f, &v6, 4 * SEC, true);
    assert_int_equal(rr->ret, 0);
    assert_int_equal(rr->ev, TDM_ICE_EV_ADDR_CHANGED);
    assert_true(tdm_addr_equal(&rr->resp.xor_mapped, &v6));
    assert_int_equal(tdm_stun_check_integrity(&rr->resp, f->c.pwd, strlen(f->c.pwd)), 0);
    assert_int_equal(tdm_ice_session_send_addr(f->t, f->id, &to), 0);
    assert_true(tdm_addr_equal(&to, &v6));
    assert_int_equal(tdm_ice_lookup_addr(f->t, &v6, &sid, NULL), 0);
    assert_int_equal(tdm_ice_lookup_addr(f->t, &v4, &sid, NULL), 0);
    struct tdm_addr tcp = v4;
    tcp.transport = TDM_ADDR_TCP; /* same ip:port over ICE-TCP is another peer */
    assert_int_equal(tdm_ice_lookup_addr(f->t, &tcp, &sid, NULL), TDM_ENOTFOUND);
}

static void expect_error(const struct result *r, int ret, int code, bool with_mi, const char *pw)
{
    assert_int_equal(r->ret, ret);
    assert_true(r->out_len > 0);
    assert_int_equal(r->resp.type, TDM_STUN_BINDING_ERROR);
    assert_int_equal(r->resp.error_code, code);
    assert_int_equal(tdm_stun_check_fingerprint(&r->resp), 0);
    if (with_mi)
        assert_int_equal(tdm_stun_check_integrity(&r->resp, pw, strlen(pw)), 0);
    else
        assert_int_equal(r->resp.mi_off, 0);
    assert_int_equal(r->ev, TDM_ICE_EV_NONE);
}

static void wrong_credentials_get_401(void **state)
{
    struct fx *f = *state;
    uint64_t id2;
    struct tdm_ice_creds c2;
    assert_int_equal(tdm_ice_session_add(f->t, 0, 2, &id2), 0);
    assert_int_equal(tdm_ice_session_local_creds(f->t, id2, &c2), 0);
    struct tdm_addr a;
    tdm_addr_set_v4(&a, 0x0A000001, 1234);
    uint8_t buf[256], tid[12];
    struct result r;
    struct {
        struct req q;
        int ret;
    } cases[] = {
        {{f->c.ufrag, browser_ufrag, c2.pwd, false, 0}, TDM_EAUTH}, /* other session's pwd */
        {{c2.ufrag, browser_ufrag, f->c.pwd, false, 0}, TDM_EAUTH}, /* and the reverse */
        {{f->c.ufrag, "Xxxx", f->c.pwd, false, 0}, TDM_EAUTH},      /* wrong remote ufrag */
        {{"AAAAAAAAAAAA", browser_ufrag, f->c.pwd, false, 0}, TDM_ENOTFOUND},
        {{"short", browser_ufrag, f->c.pwd, false, 0}, TDM_ENOTFOUND},
        {{f->c.ufrag, "", f->c.pwd, false, 0}, TDM_EAUTH},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = browser_check(buf, sizeof buf, &cases[i].q, tid);
        feed(f->t, buf, n, &a, SEC, &r);
        expect_error(&r, cases[i].ret, 401, false, NULL);
        assert_int_equal(r.sid, 0);
        assert_memory_equal(r.resp.tid, tid, 12);
    }
    /* USERNAME without a colon. */
    struct tdm_stun_request nq = {.tid = tid,
                                  .username = f->c.ufrag,
                                  .username_len = 12,
                                  .key = f->c.pwd,
                                  .keylen = strlen(f->c.pwd)};
    int n = tdm_stun_build_binding_request(buf, sizeof buf, &nq);
    feed(f->t, buf, (size_t)n, &a, SEC, &r);
    expect_error(&r, TDM_ENOTFOUND, 401, false, NULL);
    /* Nothing was learned from any of them. */
    uint64_t sid;
    assert_int_equal(tdm_ice_lookup_addr(f->t, &a, &sid, NULL), TDM_ENOTFOUND);
    assert_int_equal(tdm_ice_session_state(f->t, f->id), TDM_ICE_NEW);
    assert_int_equal(tdm_ice_session_state(f->t, id2), TDM_ICE_NEW);
}

static void bad_requests(void **state)
{
    struct fx *f = *state;
    struct tdm_addr a;
    tdm_addr_set_v4(&a, 0x0A000001, 1234);
    uint8_t buf[256], tid[12] = {1, 2, 3};
    struct result r;
    struct tdm_stun_writer w;

    /* No USERNAME, then no MESSAGE-INTEGRITY: 400 without MI. */
    tdm_stun_writer_init(&w, buf, sizeof buf, TDM_STUN_BINDING_REQUEST, tid);
    tdm_stun_put_integrity(&w, f->c.pwd, strlen(f->c.pwd));
    tdm_stun_put_fingerprint(&w);
    feed(f->t, buf, (size_t)tdm_stun_writer_finish(&w), &a, SEC, &r);
    expect_error(&r, TDM_EINVAL, 400, false, NULL);
    struct req q = {f->c.ufrag, browser_ufrag, NULL, false, 0};
    size_t n = browser_check(buf, sizeof buf, &q, tid);
    feed(f->t, buf, n, &a, SEC, &r);
    expect_error(&r, TDM_EINVAL, 400, false, NULL);
    /* A malformed PRIORITY in sound framing: 400. */
    tdm_stun_writer_init(&w, buf, sizeof buf, TDM_STUN_BINDING_REQUEST, tid);
    tdm_stun_put_attr(&w, TDM_STUN_ATTR_PRIORITY, "abc", 3);
    tdm_stun_put_fingerprint(&w);
    feed(f->t, buf, (size_t)tdm_stun_writer_finish(&w), &a, SEC, &r);
    expect_error(&r, TDM_EINVAL, 400, false, NULL);

    /* Dropped without a word: no FINGERPRINT, a bad one, junk, truncation. */
    q.key = f->c.pwd;
    n = browser_check(buf, sizeof buf, &q, tid);
    size_t cut = n - 8; /* without FINGERPRINT */
    buf[2] = (uint8_t)((cut - 20) >> 8);
    buf[3] = (uint8_t)(cut - 20);
    feed(f->t, buf, cut, &a, SEC, &r);
    assert_int_equal(r.ret, TDM_EINVAL);
    assert_int_equal(r.out_len, 0);
    n = browser_check(buf, sizeof buf, &q, tid);
    buf[n - 1] ^= 1;
    feed(f->t, buf, n, &a, SEC, &r);
    assert_int_equal(r.ret, TDM_EINVAL);
    assert_int_equal(r.out_len, 0);
    buf[n - 1] ^= 1;
    for (size_t k = 0; k < n; k++) {
        feed(f->t, buf, k, &a, SEC, &r);
        assert_int_equal(r.out_len, 0);
    }
    static const uint8_t junk[32] = {0x00, 0x01, 0x00, 0x0c, 0xde, 0xad};
    feed(f->t, junk, sizeof junk, &a, SEC, &r);
    assert_int_equal(r.ret, TDM_EINVAL);
    assert_int_equal(r.out_len, 0);

    /* A Binding indication (keepalive) and a stray success response: ignored. */
    tdm_stun_writer_init(&w, buf, sizeof buf, TDM_STUN_BINDING_INDICATION, tid);
    tdm_stun_put_fingerprint(&w);
    feed(f->t, buf, (size_t)tdm_stun_writer_finish(&w), &a, SEC, &r);
    assert_int_equal(r.ret, 0);
    assert_int_equal(r.out_len, 0);
    n = (size_t)tdm_stun_build_binding_success(buf, sizeof buf, tid, &a, f->c.pwd, 32);
    feed(f->t, buf, n, &a, SEC, &r);
    assert_int_equal(r.ret, TDM_EINVAL);
    assert_int_equal(r.out_len, 0);
    assert_int_equal(tdm_ice_session_state(f->t, f->id), TDM_ICE_NEW);
}

static void role_conflict_and_unknown_attributes(void **state)
{
    struct fx *f = *state;
    struct tdm_addr a;
    tdm_addr_set_v4(&a, 0x0A000001, 1234);
    uint8_t buf[256], tid[12];
    struct result r;
    struct req q = {f->c.ufrag, browser_ufrag, f->c.pwd, true, TDM_STUN_ROLE_CONTROLLED};
    size_t n = browser_check(buf, sizeof buf, &q, tid);
    feed(f->t, buf, n, &a, SEC, &r);
    expect_error(&r, TDM_ESTATE, 487, true, f->c.pwd);
    assert_int_equal(r.sid, f->id);
    assert_int_equal(tdm_ice_session_state(f->t, f->id), TDM_ICE_NEW);

    struct tdm_stun_writer w;
    tdm_stun_writer_init(&w, buf, sizeof buf, TDM_STUN_BINDING_REQUEST, tid);
    char user[64];
    snprintf(user, sizeof user, "%s:%s", f->c.ufrag, browser_ufrag);
    tdm_stun_put_attr(&w, TDM_STUN_ATTR_USERNAME, user, strlen(user));
    tdm_stun_put_attr(&w, 0x0003, "\0\0\0\0", 4); /* CHANGE-REQUEST: not for ICE */
    tdm_stun_put_integrity(&w, f->c.pwd, strlen(f->c.pwd));
    tdm_stun_put_fingerprint(&w);
    feed(f->t, buf, (size_t)tdm_stun_writer_finish(&w), &a, SEC, &r);
    expect_error(&r, TDM_EUNSUPP, 420, true, f->c.pwd);
    uint64_t sid;
    assert_int_equal(tdm_ice_lookup_addr(f->t, &a, &sid, NULL), TDM_ENOTFOUND);
}

static void consent_expires_with_stepped_time(void **state)
{
    struct fx *f = *state;
    struct tdm_addr a;
    tdm_addr_set_v4(&a, 0xC6120002u, 50000);
    struct tdm_ice_expired ex[4];
    int64_t next;
    assert_int_equal(check_from(f, &a, 1 * SEC, true)->ev, TDM_ICE_EV_CONNECTED);
    /* Browsers check every few seconds (RFC 7675 5.1): a minute of that keeps consent. */
    int64_t now = 1 * SEC;
    for (int i = 0; i < 12; i++) {
        now += 5 * SEC;
        assert_int_equal(check_from(f, &a, now, false)->ret, 0);
        assert_int_equal(tdm_ice_tick(f->t, now, ex, 4, &next), 0);
        /* A lower bound between scans: never later than the real deadline. */
        assert_true(next > now && next <= now + TDM_ICE_CONSENT_TIMEOUT_US);
    }
    /* Then silence. */
    int64_t last = now;
    for (int64_t s = 1; s < 30; s++)
        assert_int_equal(tdm_ice_tick(f->t, last + s * SEC, ex, 4, &next), 0);
    assert_int_equal(tdm_ice_tick(f->t, last + 30 * SEC - 1, ex, 4, &next), 0);
    assert_true(next == last + 30 * SEC);
    assert_int_equal(tdm_ice_tick(f->t, last + 30 * SEC, ex, 4, &next), 1);
    assert_int_equal(ex[0].session_id, f->id);
    assert_int_equal(ex[0].user, 77);
    assert_int_equal(ex[0].reason, TDM_ICE_EXPIRED_CONSENT);
    assert_int_equal(tdm_ice_session_state(f->t, f->id), TDM_ICE_FAILED);
    assert_int_equal(tdm_ice_tick(f->t, last + 31 * SEC, ex, 4, &next), 0); /* reported once */
    assert_true(next == INT64_MAX);
    /* A late check is refused until the caller removes the session. */
    struct result *r = check_from(f, &a, last + 32 * SEC, false);
    expect_error(r, TDM_ESTATE, 401, false, NULL);
    assert_int_equal(tdm_ice_session_remove(f->t, f->id), 0);
    uint64_t sid;
    assert_int_equal(tdm_ice_lookup_addr(f->t, &a, &sid, NULL), TDM_ENOTFOUND);
    assert_int_equal(check_from(f, &a, last + 33 * SEC, false)->ret, TDM_ENOTFOUND);
}

static void connect_timeout(void **state)
{
    struct fx *f = *state;
    struct tdm_ice_expired ex[2];
    int64_t next;
    assert_int_equal(tdm_ice_table_set_timeouts(f->t, 5 * SEC, 10 * SEC), 0);
    assert_int_equal(tdm_ice_table_set_timeouts(f->t, 0, 10 * SEC), TDM_EINVAL);
    uint64_t ids[3];
    for (int i = 0; i < 3; i++)
        assert_int_equal(tdm_ice_session_add(f->t, 1 * SEC, 100 + (uint64_t)i, &ids[i]), 0);
    /* f->id was added at 0; checks without nomination do not count as connected. */
    struct tdm_addr a;
    tdm_addr_set_v4(&a, 0x0A000001, 1);
    assert_int_equal(check_from(f, &a, 4 * SEC, false)->ret, 0);
    assert_int_equal(tdm_ice_tick(f->t, 4 * SEC, ex, 2, &next), 0);
    assert_true(next == 5 * SEC);
    assert_int_equal(tdm_ice_tick(f->t, 5 * SEC, ex, 2, &next), 1);
    assert_int_equal(ex[0].session_id, f->id);
    assert_int_equal(ex[0].reason, TDM_ICE_EXPIRED_CONNECT);
    assert_true(next == 6 * SEC);
    /* Three expire at once with room for two: the third comes on the next call. */
    assert_int_equal(tdm_ice_tick(f->t, 6 * SEC, ex, 2, &next), 2);
    assert_true(next == 6 * SEC);
    assert_int_equal(tdm_ice_tick(f->t, 6 * SEC, ex, 2, &next), 1);
    assert_int_equal(ex[0].user, 102);
    assert_int_equal(tdm_ice_tick(f->t, 6 * SEC, ex, 2, &next), 0);
}

/* The tick skips its scan until something may be due: whatever brings a deadline closer
 * (a new session, a check that turns a connect deadline into a nearer consent one) must make
 * the next tick look again. */
static void tick_sees_sessions_added_later(void **state)
{
    struct fx *f = *state;
    struct tdm_ice_expired ex[2];
    int64_t next;
    assert_int_equal(tdm_ice_table_set_timeouts(f->t, 20 * SEC, 5 * SEC), 0);
    assert_true(tdm_ice_deadline(f->t) == INT64_MIN); /* scan at the next tick */
    assert_int_equal(tdm_ice_tick(f->t, 0, ex, 2, &next), 0);
    assert_true(next == 20 * SEC);               /* f->id's connect deadline */
    assert_true(tdm_ice_deadline(f->t) == next); /* the same, without a scan */
    /* Nominated at 10 s: consent now runs out at 15 s, before the old scan time. */
    struct tdm_addr a;
    tdm_addr_set_v4(&a, 0x0A000001, 1);
    assert_int_equal(check_from(f, &a, 10 * SEC, true)->ev, TDM_ICE_EV_CONNECTED);
    assert_true(tdm_ice_deadline(f->t) <= 15 * SEC);
    assert_int_equal(tdm_ice_tick(f->t, 15 * SEC - 1, ex, 2, &next), 0);
    assert_true(next == 15 * SEC);
    assert_int_equal(tdm_ice_tick(f->t, 15 * SEC, ex, 2, &next), 1);
    assert_int_equal(ex[0].reason, TDM_ICE_EXPIRED_CONSENT);
    assert_int_equal(tdm_ice_session_remove(f->t, f->id), 0);
    assert_int_equal(tdm_ice_tick(f->t, 16 * SEC, ex, 2, &next), 0);
    assert_true(next == INT64_MAX); /* an empty table: no timer */
    /* A session added to the empty table expires on time. */
    uint64_t id;
    assert_int_equal(tdm_ice_session_add(f->t, 17 * SEC, 5, &id), 0);
    assert_int_equal(tdm_ice_tick(f->t, 18 * SEC, ex, 2, &next), 0);
    assert_true(next > 18 * SEC && next <= 37 * SEC);
    assert_int_equal(tdm_ice_tick(f->t, 37 * SEC, ex, 2, &next), 1);
    assert_int_equal(ex[0].user, 5);
    assert_int_equal(ex[0].reason, TDM_ICE_EXPIRED_CONNECT);
}

static void capacity_and_stale_ids(void **state)
{
    struct fx *f = *state;
    uint64_t ids[8];
    ids[0] = f->id;
    for (int i = 1; i < 8; i++)
        assert_int_equal(tdm_ice_session_add(f->t, 0, 0, &ids[i]), 0);
    uint64_t extra;
    assert_int_equal(tdm_ice_session_add(f->t, 0, 0, &extra), TDM_EFULL);
    assert_int_equal(tdm_ice_table_count(f->t), 8);
    assert_int_equal(tdm_ice_session_remove(f->t, ids[3]), 0);
    assert_int_equal(tdm_ice_session_remove(f->t, ids[3]), TDM_ENOTFOUND);
    assert_int_equal(tdm_ice_session_add(f->t, 0, 0, &extra), 0);
    assert_true(extra != ids[3]); /* same slot, new generation */
    assert_int_equal(tdm_ice_session_state(f->t, ids[3]), TDM_ENOTFOUND);
    struct tdm_ice_creds c;
    assert_int_equal(tdm_ice_session_local_creds(f->t, ids[3], &c), TDM_ENOTFOUND);
    assert_int_equal(tdm_ice_session_state(f->t, 0), TDM_ENOTFOUND);
    assert_int_equal(tdm_ice_session_state(f->t, 0xFFFFFFFFFFFFull), TDM_ENOTFOUND);
    assert_null(tdm_ice_table_create(0));
    assert_null(tdm_ice_table_create(TDM_ICE_MAX_SESSIONS + 1));
}

static void address_bounds_and_moves(void **state)
{
    struct fx *f = *state;
    struct tdm_addr a[10];
    for (int i = 0; i < 10; i++)
        tdm_addr_set_v4(&a[i], 0x0A000001, (uint16_t)(1000 + i));
    assert_int_equal(check_from(f, &a[0], SEC, true)->ev, TDM_ICE_EV_CONNECTED);
    for (int i = 1; i < 10; i++)
        assert_int_equal(check_from(f, &a[i], SEC + i, false)->ret, 0);
    uint64_t sid;
    int mapped = 0;
    for (int i = 0; i < 10; i++)
        mapped += tdm_ice_lookup_addr(f->t, &a[i], &sid, NULL) == 0;
    assert_int_equal(mapped, TDM_ICE_MAX_ADDRS);
    assert_int_equal(tdm_ice_lookup_addr(f->t, &a[0], &sid, NULL), 0); /* selected: kept */
    assert_int_equal(tdm_ice_lookup_addr(f->t, &a[9], &sid, NULL), 0); /* newest: kept */
    assert_int_equal(tdm_ice_lookup_addr(f->t, &a[1], &sid, NULL), TDM_ENOTFOUND);

    /* Another session proves a[9] is now its own (a NAT reused the port). */
    uint64_t id2;
    struct tdm_ice_creds c2;
    assert_int_equal(tdm_ice_session_add(f->t, 0, 5, &id2), 0);
    assert_int_equal(tdm_ice_session_local_creds(f->t, id2, &c2), 0);
    uint8_t buf[256], tid[12];
    struct req q = {c2.ufrag, "Peer2", c2.pwd, true, 0};
    struct result r;
    feed(f->t, buf, browser_check(buf, sizeof buf, &q, tid), &a[9], 2 * SEC, &r);
    assert_int_equal(r.ev, TDM_ICE_EV_CONNECTED); /* remote not set yet: accepted */
    assert_int_equal(tdm_ice_lookup_addr(f->t, &a[9], &sid, NULL), 0);
    assert_int_equal(sid, id2);

    /* Addresses unseen for the consent timeout go; the selected one stays. */
    int64_t now = 2 * SEC;
    struct tdm_ice_expired ex[2];
    for (int i = 0; i < 7; i++) {
        now += 5 * SEC;
        check_from(f, &a[0], now, false);
        feed(f->t, buf, browser_check(buf, sizeof buf, &q, tid), &a[9], now, &r);
        assert_int_equal(tdm_ice_tick(f->t, now, ex, 2, NULL), 0);
    }
    assert_int_equal(tdm_ice_lookup_addr(f->t, &a[0], &sid, NULL), 0);
    assert_int_equal(sid, f->id);
    for (int i = 1; i < 9; i++)
        assert_int_equal(tdm_ice_lookup_addr(f->t, &a[i], &sid, NULL), TDM_ENOTFOUND);
}

static void remote_credentials(void **state)
{
    struct fx *f = *state;
    assert_int_equal(tdm_ice_session_set_remote(f->t, f->id, "ab", 2, browser_pwd, 23), TDM_EINVAL);
    assert_int_equal(tdm_ice_session_set_remote(f->t, f->id, "ab-d", 4, browser_pwd, 23),
                     TDM_EINVAL);
    assert_int_equal(tdm_ice_session_set_remote(f->t, f->id, "abcd", 4, "short", 5), TDM_EINVAL);
    char big[300];
    memset(big, 'a', sizeof big);
    assert_int_equal(tdm_ice_session_set_remote(f->t, f->id, big, 257, browser_pwd, 23),
                     TDM_EINVAL);
    assert_int_equal(tdm_ice_session_set_remote(f->t, f->id, big, 256, big, 256), 0);
    assert_int_equal(tdm_ice_session_set_remote(f->t, 12345, "abcd", 4, browser_pwd, 23),
                     TDM_ENOTFOUND);
    /* Before the answer arrives, any remote half passes; after, only the right one. */
    uint64_t id2;
    struct tdm_ice_creds c2;
    assert_int_equal(tdm_ice_session_add(f->t, 0, 5, &id2), 0);
    assert_int_equal(tdm_ice_session_local_creds(f->t, id2, &c2), 0);
    struct tdm_addr a;
    tdm_addr_set_v4(&a, 0x0A000001, 1);
    uint8_t buf[256], tid[12];
    struct result r;
    struct req q = {c2.ufrag, "Early", c2.pwd, false, 0};
    feed(f->t, buf, browser_check(buf, sizeof buf, &q, tid), &a, SEC, &r);
    assert_int_equal(r.ret, 0);
    assert_int_equal(tdm_ice_session_set_remote(f->t, id2, "Right", 5, browser_pwd, 23), 0);
    feed(f->t, buf, browser_check(buf, sizeof buf, &q, tid), &a, SEC, &r);
    expect_error(&r, TDM_EAUTH, 401, false, NULL);
    q.rufrag = "Right";
    feed(f->t, buf, browser_check(buf, sizeof buf, &q, tid), &a, SEC, &r);
    assert_int_equal(r.ret, 0);
}

static void ice_restart(void **state)
{
    struct fx *f = *state;
    struct tdm_addr a, b;
    tdm_addr_set_v4(&a, 0x0A000001, 1111);
    tdm_addr_set_v4(&b, 0x0A000002, 2222);
    assert_int_equal(check_from(f, &a, SEC, true)->ev, TDM_ICE_EV_CONNECTED);
    struct tdm_ice_creds old = f->c;
    assert_int_equal(tdm_ice_session_restart(f->t, f->id, 2 * SEC), 0);
    assert_int_equal(tdm_ice_session_local_creds(f->t, f->id, &f->c), 0);
    assert_string_not_equal(old.ufrag, f->c.ufrag);
    assert_string_not_equal(old.pwd, f->c.pwd);
    assert_int_equal(tdm_ice_session_state(f->t, f->id), TDM_ICE_CONNECTED);

    uint8_t buf[256], tid[12];
    struct result r;
    struct req oldq = {old.ufrag, browser_ufrag, old.pwd, false, 0};
    feed(f->t, buf, browser_check(buf, sizeof buf, &oldq, tid), &a, 3 * SEC, &r);
    assert_int_equal(r.ret, 0); /* consent check in flight with the old credentials */
    assert_int_equal(tdm_stun_check_integrity(&r.resp, old.pwd, strlen(old.pwd)), 0);

    assert_int_equal(tdm_ice_session_set_remote(f->t, f->id, "NewB", 4, browser_pwd, 23), 0);
    struct req newq = {f->c.ufrag, "NewB", f->c.pwd, false, 0};
    feed(f->t, buf, browser_check(buf, sizeof buf, &newq, tid), &a, 4 * SEC, &r);
    assert_int_equal(r.ret, 0);
    assert_int_equal(r.ev, TDM_ICE_EV_NONE);
    assert_int_equal(tdm_stun_check_integrity(&r.resp, f->c.pwd, strlen(f->c.pwd)), 0);
    /* Once the new credentials are in use the old ones are gone. */
    feed(f->t, buf, browser_check(buf, sizeof buf, &oldq, tid), &a, 5 * SEC, &r);
    expect_error(&r, TDM_ENOTFOUND, 401, false, NULL);
    /* Nomination over another path after the restart. */
    newq.use_candidate = true;
    feed(f->t, buf, browser_check(buf, sizeof buf, &newq, tid), &b, 6 * SEC, &r);
    assert_int_equal(r.ev, TDM_ICE_EV_ADDR_CHANGED);
    struct tdm_addr to;
    assert_int_equal(tdm_ice_session_send_addr(f->t, f->id, &to), 0);
    assert_true(tdm_addr_equal(&to, &b));
    /* Two restarts in a row, then removal: nothing left in the indexes. */
    assert_int_equal(tdm_ice_session_restart(f->t, f->id, 7 * SEC), 0);
    assert_int_equal(tdm_ice_session_restart(f->t, f->id, 7 * SEC), 0);
    assert_int_equal(tdm_ice_session_remove(f->t, f->id), 0);
    feed(f->t, buf, browser_check(buf, sizeof buf, &newq, tid), &b, 8 * SEC, &r);
    assert_int_equal(r.ret, TDM_ENOTFOUND);
    assert_int_equal(tdm_ice_table_count(f->t), 0);
}

/* A restart from a new address (the page's network changed, its old path is dead): the
 * first check with the new credentials moves media there before the nomination; later
 * unnominated checks from elsewhere do not, the nomination decides. */
static void restart_moves_media_at_first_check(void **state)
{
    struct fx *f = *state;
    struct tdm_addr a, b, c, to;
    tdm_addr_set_v4(&a, 0x0A000001, 1111);
    tdm_addr_set_v4(&b, 0x0A000002, 2222);
    tdm_addr_set_v4(&c, 0x0A000003, 3333);
    assert_int_equal(check_from(f, &a, SEC, true)->ev, TDM_ICE_EV_CONNECTED);
    assert_int_equal(tdm_ice_session_restart(f->t, f->id, 2 * SEC), 0);
    assert_int_equal(tdm_ice_session_local_creds(f->t, f->id, &f->c), 0);
    assert_int_equal(check_from(f, &b, 3 * SEC, false)->ev, TDM_ICE_EV_ADDR_CHANGED);
    assert_int_equal(tdm_ice_session_send_addr(f->t, f->id, &to), 0);
    assert_true(tdm_addr_equal(&to, &b));
    assert_int_equal(check_from(f, &c, 3 * SEC, false)->ev, TDM_ICE_EV_NONE);
    assert_int_equal(tdm_ice_session_send_addr(f->t, f->id, &to), 0);
    assert_true(tdm_addr_equal(&to, &b));
    assert_int_equal(check_from(f, &c, 4 * SEC, true)->ev, TDM_ICE_EV_ADDR_CHANGED);
    assert_int_equal(tdm_ice_session_send_addr(f->t, f->id, &to), 0);
    assert_true(tdm_addr_equal(&to, &c));
    /* Without a restart an unnominated check never moves media (a stray pair's check). */
    assert_int_equal(check_from(f, &a, 5 * SEC, false)->ev, TDM_ICE_EV_NONE);
    assert_int_equal(tdm_ice_session_send_addr(f->t, f->id, &to), 0);
    assert_true(tdm_addr_equal(&to, &c));
    /* A restart whose first check comes from where media goes already: nothing moves. */
    assert_int_equal(tdm_ice_session_restart(f->t, f->id, 6 * SEC), 0);
    assert_int_equal(tdm_ice_session_local_creds(f->t, f->id, &f->c), 0);
    assert_int_equal(check_from(f, &c, 7 * SEC, false)->ev, TDM_ICE_EV_NONE);
    assert_int_equal(check_from(f, &b, 7 * SEC, false)->ev, TDM_ICE_EV_NONE);
    assert_int_equal(tdm_ice_session_send_addr(f->t, f->id, &to), 0);
    assert_true(tdm_addr_equal(&to, &c));
}

static void small_output_buffer(void **state)
{
    struct fx *f = *state;
    struct tdm_addr a;
    tdm_addr_set_v4(&a, 0x0A000001, 1);
    uint8_t buf[256], tid[12], out[40];
    struct req q = {f->c.ufrag, browser_ufrag, f->c.pwd, true, 0};
    size_t n = browser_check(buf, sizeof buf, &q, tid), out_len = 99;
    uint64_t sid;
    enum tdm_ice_event ev;
    assert_int_equal(
        tdm_ice_handle_stun(f->t, buf, n, &a, SEC, out, sizeof out, &out_len, &sid, &ev),
        TDM_ETOOBIG);
    assert_int_equal(out_len, 0);
    assert_int_equal(tdm_ice_session_state(f->t, f->id), TDM_ICE_NEW); /* nothing recorded */
}

/* Many sessions with removals in between: every live address still maps to its session
 * after backward-shift deletions reshuffled the clusters. */
static void index_survives_churn(void **state)
{
    (void)state;
    struct tdm_ice_table *t = tdm_ice_table_create(64);
    assert_non_null(t);
    uint64_t ids[64];
    struct tdm_ice_creds c[64];
    struct tdm_addr a[64];
    uint8_t buf[256], tid[12];
    struct result r;
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 64; i++) {
            assert_int_equal(tdm_ice_session_add(t, 0, (uint64_t)i, &ids[i]), 0);
            assert_int_equal(tdm_ice_session_local_creds(t, ids[i], &c[i]), 0);
            tdm_addr_set_v4(&a[i], 0x0A000000u + (uint32_t)round, (uint16_t)(2000 + i));
            struct req q = {c[i].ufrag, "Brws", c[i].pwd, true, 0};
            feed(t, buf, browser_check(buf, sizeof buf, &q, tid), &a[i], SEC, &r);
            assert_int_equal(r.ev, TDM_ICE_EV_CONNECTED);
        }
        for (int i = 0; i < 64; i += 2 + round)
            assert_int_equal(tdm_ice_session_remove(t, ids[i]), 0);
        for (int i = 0; i < 64; i++) {
            uint64_t sid, user;
            int ret = tdm_ice_lookup_addr(t, &a[i], &sid, &user);
            if (i % (2 + round) == 0) {
                assert_int_equal(ret, TDM_ENOTFOUND);
            } else {
                assert_int_equal(ret, 0);
                assert_int_equal(sid, ids[i]);
                assert_int_equal(user, (uint64_t)i);
                assert_int_equal(tdm_ice_session_remove(t, ids[i]), 0);
            }
        }
        assert_int_equal(tdm_ice_table_count(t), 0);
    }
    tdm_ice_table_destroy(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(local_credentials, setup, teardown),
        cmocka_unit_test_setup_teardown(end_to_end, setup, teardown),
        cmocka_unit_test_setup_teardown(wrong_credentials_get_401, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(role_conflict_and_unknown_attributes, setup, teardown),
        cmocka_unit_test_setup_teardown(consent_expires_with_stepped_time, setup, teardown),
        cmocka_unit_test_setup_teardown(connect_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(capacity_and_stale_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(address_bounds_and_moves, setup, teardown),
        cmocka_unit_test_setup_teardown(remote_credentials, setup, teardown),
        cmocka_unit_test_setup_teardown(ice_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(tick_sees_sessions_added_later, setup, teardown),
        cmocka_unit_test_setup_teardown(restart_moves_media_at_first_check, setup, teardown),
        cmocka_unit_test_setup_teardown(small_output_buffer, setup, teardown),
        cmocka_unit_test(index_survives_churn),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
