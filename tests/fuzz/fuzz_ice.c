/* libFuzzer target: datagrams into an ICE-lite table with one session.
 *
 * An input whose first byte is below 0x80 is one raw datagram from a fixed address (the
 * RFC 5769 seeds are such). Otherwise the rest is a script of operations, so the fuzzer
 * can reach the authenticated paths without guessing the session's random password: it
 * asks for a correctly keyed check and then mangles it, or steps time, restarts, removes.
 * Invariants: every response parses with a good FINGERPRINT, success responses verify with
 * the session's password and carry the sender's address, and the tables stay consistent. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tandem/err.h"
#include "tandem/ice.h"
#include "tandem/stun.h"

#define SEC 1000000LL

struct run {
    struct tdm_ice_table *t;
    uint64_t id;
    struct tdm_ice_creds c;
    struct tdm_addr addrs[4];
    int64_t now;
    const uint8_t *p;
    size_t left;
};

/* An invariant that failed names its line, then aborts so libFuzzer keeps the input. */
#define check(cond) ((cond) ? (void)0 : fail_at(__LINE__, #cond))

static void fail_at(int line, const char *what)
{
    fprintf(stderr, "invariant failed at line %d: %s\n", line, what);
    abort();
}

static uint8_t next(struct run *r)
{
    if (!r->left)
        return 0;
    r->left--;
    return *r->p++;
}

static void feed(struct run *r, const uint8_t *d, size_t len, const struct tdm_addr *from)
{
    uint8_t out[128];
    size_t out_len;
    uint64_t sid;
    enum tdm_ice_event ev;
    uint8_t *copy = malloc(len ? len : 1); /* exact size, so ASan sees overreads */
    if (!copy)
        return;
    memcpy(copy, d, len);
    int ret =
        tdm_ice_handle_stun(r->t, copy, len, from, r->now, out, sizeof out, &out_len, &sid, &ev);
    free(copy);
    check(out_len <= sizeof out);
    if (out_len) {
        struct tdm_stun_msg m;
        check(tdm_stun_parse(&m, out, out_len, NULL, 0) == 0);
        check(tdm_stun_check_fingerprint(&m) == 0);
        if (ret == 0) {
            check(m.type == TDM_STUN_BINDING_SUCCESS);
            struct tdm_addr mapped = m.xor_mapped; /* STUN says nothing of the transport */
            mapped.transport = from->transport;
            check(tdm_addr_equal(&mapped, from));
            check(sid != 0);
            uint64_t found;
            check(tdm_ice_lookup_addr(r->t, from, &found, NULL) == 0 && found == sid);
        } else {
            check(m.type == TDM_STUN_BINDING_ERROR);
        }
    }
    if (ev != TDM_ICE_EV_NONE)
        check(tdm_ice_session_state(r->t, sid) == TDM_ICE_CONNECTED);
}

/* A check keyed with the session's current password, then maybe one byte flipped. */
static void keyed_check(struct run *r, bool mangle)
{
    uint8_t flags = next(r), buf[600], tid[12] = {0};
    char user[64];
    tid[0] = next(r);
    snprintf(user, sizeof user, "%s:%s", r->c.ufrag, (flags & 8) ? "Wrong" : "Brws");
    struct tdm_stun_request q = {
        .tid = tid,
        .username = user,
        .username_len = strlen(user),
        .key = r->c.pwd,
        .keylen = (flags & 16) ? 0 : strlen(r->c.pwd),
        .priority = next(r),
        .use_candidate = flags & 1,
        .role = (flags >> 1) & 3,
        .tiebreaker = flags,
    };
    int n = tdm_stun_build_binding_request(buf, sizeof buf, &q);
    check(n > 0);
    if (mangle) {
        uint8_t pos = next(r);
        buf[pos % (size_t)n] ^= next(r) | 1;
    }
    feed(r, buf, (size_t)n, &r->addrs[(flags >> 5) & 3]);
}

static void step(struct run *r, uint8_t op)
{
    struct tdm_ice_expired ex[2];
    uint64_t sid;
    switch (op % 8) {
    case 0: {
        size_t len = next(r);
        len = len < r->left ? len : r->left;
        feed(r, r->p, len, &r->addrs[op >> 6]);
        r->p += len;
        r->left -= len;
        break;
    }
    case 1: keyed_check(r, false); break;
    case 2: keyed_check(r, true); break;
    case 3:
        r->now += (int64_t)next(r) * SEC / 4;
        tdm_ice_tick(r->t, r->now, ex, 2, NULL);
        break;
    case 4:
        tdm_ice_session_set_remote(r->t, r->id, "Brws", 4, "browserpassword+0123456", 23);
        break;
    case 5:
        if (tdm_ice_session_restart(r->t, r->id, r->now) == 0)
            check(tdm_ice_session_local_creds(r->t, r->id, &r->c) == 0);
        break;
    case 6:
        tdm_ice_session_remove(r->t, r->id);
        check(tdm_ice_session_add(r->t, r->now, 1, &r->id) == 0);
        check(tdm_ice_session_local_creds(r->t, r->id, &r->c) == 0);
        break;
    default: {
        struct tdm_addr to;
        int sr = tdm_ice_session_send_addr(r->t, r->id, &to);
        check(sr != 0 || tdm_ice_session_state(r->t, r->id) >= TDM_ICE_CONNECTED);
        if (sr == 0 || sr == TDM_EAGAIN)
            check(to.family == TDM_ADDR_V4 || to.family == TDM_ADDR_V6);
        tdm_ice_lookup_addr(r->t, &r->addrs[op >> 6], &sid, NULL);
        break;
    }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct run r = {.p = data, .left = size, .now = SEC};
    r.t = tdm_ice_table_create(2);
    if (!r.t)
        return 0;
    check(tdm_ice_session_add(r.t, 0, 1, &r.id) == 0);
    check(tdm_ice_session_local_creds(r.t, r.id, &r.c) == 0);
    static const uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
    tdm_addr_set_v4(&r.addrs[0], 0xC6120002u, 50000);
    tdm_addr_set_v4(&r.addrs[1], 0xC6120002u, 50001);
    tdm_addr_set_v6(&r.addrs[2], v6, 50000);
    r.addrs[3] = r.addrs[0];
    r.addrs[3].transport = TDM_ADDR_TCP;
    if (size && data[0] < 0x80) {
        feed(&r, data, size, &r.addrs[0]);
    } else {
        next(&r);
        for (int ops = 0; r.left && ops < 256; ops++)
            step(&r, next(&r));
    }
    check(tdm_ice_table_count(r.t) == 1);
    tdm_ice_table_destroy(r.t);
    return 0;
}
