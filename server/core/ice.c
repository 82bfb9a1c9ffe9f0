#include "tandem/ice.h"
#include "tandem/err.h"
#include "tandem/stun.h"
#include "tandem/util.h"

#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

/* Index entries refer to a session slot; the top bit says the previous credentials of a
 * restarting session (a slot can have two ufrags in the index at once). */
#define REF_EMPTY UINT32_MAX
#define REF_PREV 0x80000000u
#define REF_SLOT(r) ((r) & ~REF_PREV)

struct creds {
    char lufrag[TDM_ICE_UFRAG_LEN + 1];
    char lpwd[TDM_ICE_PWD_LEN + 1];
    char rufrag[TDM_ICE_REMOTE_MAX + 1];
    char rpwd[TDM_ICE_REMOTE_MAX + 1];
    uint16_t rufrag_len, rpwd_len;
    bool has_remote;
};

struct session {
    uint32_t gen; /* high half of the id; bumped on remove so stale ids miss */
    uint32_t next_free;
    bool in_use, nominated, restarting, has_latest;
    uint8_t state; /* enum tdm_ice_state */
    uint8_t n_addrs;
    uint64_t user;
    int64_t since_us; /* creation or last restart: the connect timeout runs from here */
    int64_t last_check_us;
    struct creds cur, prev;
    struct tdm_addr selected; /* valid when nominated */
    struct tdm_addr latest;   /* source of the latest valid check */
    struct tdm_addr addrs[TDM_ICE_MAX_ADDRS];
    int64_t addr_seen_us[TDM_ICE_MAX_ADDRS];
};

/* Both indexes are linear-probing tables whose entries start with this header, so one
 * backward-shift delete serves both. Load stays at or below 1/2 by construction (sized from
 * the session and address bounds), so probes always end on an empty entry. */
struct ent {
    uint32_t hash;
    uint32_t ref;
};

struct addr_ent {
    struct ent h;
    struct tdm_addr addr;
};

struct tdm_ice_table {
    struct session *s;
    size_t max, count;
    uint32_t free_head;
    struct ent *ufrags;
    size_t ufrag_mask;
    struct addr_ent *addrs;
    size_t addr_mask;
    uint64_t seed;
    int64_t connect_timeout_us, consent_timeout_us;
    /* No deadline of any session or address comes before this: tdm_ice_tick scans the table
     * only once it is reached. Lowered by whatever brings a deadline closer; set exactly by
     * each scan. */
    int64_t scan_due;
};

/* --- open addressing --- */

static size_t pow2_at_least(size_t n)
{
    size_t p = 16;
    while (p < n)
        p <<= 1;
    return p;
}

static struct ent *ent_at(void *base, size_t esize, size_t i)
{
    return (struct ent *)((uint8_t *)base + i * esize);
}

/* Backward-shift deletion: later entries of the cluster move up so no tombstones build up. */
static void shift_delete(void *base, size_t esize, size_t mask, size_t i)
{
    size_t j = i;
    for (;;) {
        ent_at(base, esize, i)->ref = REF_EMPTY;
        for (;;) {
            j = (j + 1) & mask;
            struct ent *e = ent_at(base, esize, j);
            if (e->ref == REF_EMPTY)
                return;
            size_t k = e->hash & mask;
            bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
            if (!stays)
                break;
        }
        memcpy(ent_at(base, esize, i), ent_at(base, esize, j), esize);
        i = j;
    }
}

static uint32_t hash_bytes(uint64_t seed, const char *p, size_t len)
{
    uint64_t h = seed ^ 0xcbf29ce484222325ull; /* FNV-1a, seeded, then mixed */
    for (size_t i = 0; i < len; i++)
        h = (h ^ (uint8_t)p[i]) * 0x100000001b3ull;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return (uint32_t)h;
}

static const struct creds *ref_creds(const struct tdm_ice_table *t, uint32_t ref)
{
    const struct session *s = &t->s[REF_SLOT(ref)];
    return (ref & REF_PREV) ? &s->prev : &s->cur;
}

static size_t ufrag_find(const struct tdm_ice_table *t, const char *u, size_t len, uint32_t h)
{
    for (size_t i = h & t->ufrag_mask;; i = (i + 1) & t->ufrag_mask) {
        const struct ent *e = &t->ufrags[i];
        if (e->ref == REF_EMPTY)
            return i;
        const struct creds *c = ref_creds(t, e->ref);
        if (e->hash == h && strlen(c->lufrag) == len && memcmp(c->lufrag, u, len) == 0)
            return i;
    }
}

static void ufrag_insert(struct tdm_ice_table *t, uint32_t ref)
{
    const char *u = ref_creds(t, ref)->lufrag;
    uint32_t h = hash_bytes(t->seed, u, strlen(u));
    size_t i = ufrag_find(t, u, strlen(u), h);
    t->ufrags[i] = (struct ent){h, ref};
}

static void ufrag_remove(struct tdm_ice_table *t, const char *u)
{
    size_t len = strlen(u);
    size_t i = ufrag_find(t, u, len, hash_bytes(t->seed, u, len));
    if (t->ufrags[i].ref != REF_EMPTY)
        shift_delete(t->ufrags, sizeof(struct ent), t->ufrag_mask, i);
}

static size_t addr_find(const struct tdm_ice_table *t, const struct tdm_addr *a, uint32_t h)
{
    for (size_t i = h & t->addr_mask;; i = (i + 1) & t->addr_mask) {
        const struct addr_ent *e = &t->addrs[i];
        if (e->h.ref == REF_EMPTY || (e->h.hash == h && tdm_addr_equal(&e->addr, a)))
            return i;
    }
}

static void addr_index_remove(struct tdm_ice_table *t, const struct tdm_addr *a, uint32_t slot)
{
    size_t i = addr_find(t, a, tdm_addr_hash(a, t->seed));
    if (t->addrs[i].h.ref == slot)
        shift_delete(t->addrs, sizeof(struct addr_ent), t->addr_mask, i);
}

/* --- table and sessions --- */

struct tdm_ice_table *tdm_ice_table_create(size_t max_sessions)
{
    if (max_sessions == 0 || max_sessions > TDM_ICE_MAX_SESSIONS)
        return NULL;
    struct tdm_ice_table *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->max = max_sessions;
    t->ufrag_mask = pow2_at_least(4 * max_sessions) - 1; /* two ufrags per session, load 1/2 */
    t->addr_mask = pow2_at_least(2 * TDM_ICE_MAX_ADDRS * max_sessions) - 1;
    t->s = calloc(max_sessions, sizeof *t->s);
    t->ufrags = malloc((t->ufrag_mask + 1) * sizeof *t->ufrags);
    t->addrs = malloc((t->addr_mask + 1) * sizeof *t->addrs);
    if (!t->s || !t->ufrags || !t->addrs || RAND_bytes((uint8_t *)&t->seed, sizeof t->seed) != 1)
        goto fail;
    for (size_t i = 0; i <= t->ufrag_mask; i++)
        t->ufrags[i].ref = REF_EMPTY;
    for (size_t i = 0; i <= t->addr_mask; i++)
        t->addrs[i].h.ref = REF_EMPTY;
    for (size_t i = 0; i < max_sessions; i++) {
        t->s[i].gen = 1;
        t->s[i].next_free = i + 1 < max_sessions ? (uint32_t)(i + 1) : REF_EMPTY;
    }
    t->free_head = 0;
    t->connect_timeout_us = TDM_ICE_CONNECT_TIMEOUT_US;
    t->consent_timeout_us = TDM_ICE_CONSENT_TIMEOUT_US;
    t->scan_due = INT64_MAX;
    return t;
fail:
    tdm_ice_table_destroy(t);
    return NULL;
}

void tdm_ice_table_destroy(struct tdm_ice_table *t)
{
    if (!t)
        return;
    if (t->s) /* passwords */
        memset(t->s, 0, t->max * sizeof *t->s);
    free(t->s);
    free(t->ufrags);
    free(t->addrs);
    free(t);
}

int tdm_ice_table_set_timeouts(struct tdm_ice_table *t, int64_t connect_timeout_us,
                               int64_t consent_timeout_us)
{
    if (connect_timeout_us <= 0 || consent_timeout_us <= 0)
        return TDM_EINVAL;
    t->connect_timeout_us = connect_timeout_us;
    t->consent_timeout_us = consent_timeout_us;
    t->scan_due = INT64_MIN; /* every deadline moved: scan at the next tick */
    return 0;
}

size_t tdm_ice_table_count(const struct tdm_ice_table *t)
{
    return t->count;
}

static struct session *get(const struct tdm_ice_table *t, uint64_t id)
{
    uint64_t slot = id & 0xFFFFFFFFu;
    if (slot >= t->max)
        return NULL;
    struct session *s = &t->s[slot];
    return s->in_use && s->gen == (uint32_t)(id >> 32) ? s : NULL;
}

/* Something at now_us may expire from now_us + the shorter timeout on: scan by then. */
static void scan_by(struct tdm_ice_table *t, int64_t now_us)
{
    int64_t span = t->connect_timeout_us < t->consent_timeout_us ? t->connect_timeout_us
                                                                 : t->consent_timeout_us;
    int64_t at = now_us > INT64_MAX - span ? INT64_MAX : now_us + span;
    if (at < t->scan_due)
        t->scan_due = at;
}

static uint64_t id_of(const struct tdm_ice_table *t, const struct session *s)
{
    return (uint64_t)s->gen << 32 | (uint64_t)(s - t->s);
}

/* RFC 8839 5.4 ice-char: tdm_random_id speaks base64url, whose '-' and '_' are not
 * ice-chars (browsers refuse them), so they become '+' and '/'. nchars: a multiple of 4. */
static int random_ice_chars(char *out, size_t nchars)
{
    char buf[64];
    int r = tdm_random_id(buf, sizeof buf, nchars / 4 * 3);
    if (r < 0)
        return r;
    for (size_t i = 0; i < nchars; i++)
        out[i] = buf[i] == '-' ? '+' : buf[i] == '_' ? '/' : buf[i];
    out[nchars] = '\0';
    return 0;
}

static int new_local_creds(struct tdm_ice_table *t, struct creds *c)
{
    memset(c, 0, sizeof *c);
    for (int tries = 0; tries < 4; tries++) { /* 72-bit ufrags: a clash is near impossible */
        if (random_ice_chars(c->lufrag, TDM_ICE_UFRAG_LEN) < 0)
            return TDM_ECRYPTO;
        uint32_t h = hash_bytes(t->seed, c->lufrag, TDM_ICE_UFRAG_LEN);
        if (t->ufrags[ufrag_find(t, c->lufrag, TDM_ICE_UFRAG_LEN, h)].ref == REF_EMPTY)
            return random_ice_chars(c->lpwd, TDM_ICE_PWD_LEN) < 0 ? TDM_ECRYPTO : 0;
    }
    return TDM_EEXIST;
}

int tdm_ice_session_add(struct tdm_ice_table *t, int64_t now_us, uint64_t user, uint64_t *id)
{
    if (t->free_head == REF_EMPTY)
        return TDM_EFULL;
    uint32_t slot = t->free_head;
    struct session *s = &t->s[slot];
    uint32_t gen = s->gen, next = s->next_free;
    memset(s, 0, sizeof *s);
    s->gen = gen;
    int r = new_local_creds(t, &s->cur);
    if (r < 0) {
        s->next_free = next;
        return r;
    }
    t->free_head = next;
    s->next_free = REF_EMPTY;
    s->in_use = true;
    s->state = TDM_ICE_NEW;
    s->user = user;
    s->since_us = now_us;
    s->last_check_us = now_us;
    ufrag_insert(t, slot);
    t->count++;
    scan_by(t, now_us);
    *id = id_of(t, s);
    return 0;
}

int tdm_ice_session_remove(struct tdm_ice_table *t, uint64_t id)
{
    struct session *s = get(t, id);
    if (!s)
        return TDM_ENOTFOUND;
    uint32_t slot = (uint32_t)(s - t->s);
    ufrag_remove(t, s->cur.lufrag);
    if (s->restarting)
        ufrag_remove(t, s->prev.lufrag);
    for (size_t i = 0; i < s->n_addrs; i++)
        addr_index_remove(t, &s->addrs[i], slot);
    uint32_t gen = s->gen + 1 ? s->gen + 1 : 1;
    memset(s, 0, sizeof *s);
    s->gen = gen;
    s->next_free = t->free_head;
    t->free_head = slot;
    t->count--;
    return 0;
}

int tdm_ice_session_local_creds(const struct tdm_ice_table *t, uint64_t id,
                                struct tdm_ice_creds *out)
{
    const struct session *s = get(t, id);
    if (!s)
        return TDM_ENOTFOUND;
    memcpy(out->ufrag, s->cur.lufrag, sizeof out->ufrag);
    memcpy(out->pwd, s->cur.lpwd, sizeof out->pwd);
    return 0;
}

static bool ice_chars(const char *p, size_t len, size_t min, size_t max)
{
    if (!p || len < min || len > max)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = p[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '+' || c == '/';
        if (!ok)
            return false;
    }
    return true;
}

int tdm_ice_session_set_remote(struct tdm_ice_table *t, uint64_t id, const char *ufrag,
                               size_t ufrag_len, const char *pwd, size_t pwd_len)
{
    struct session *s = get(t, id);
    if (!s)
        return TDM_ENOTFOUND;
    if (!ice_chars(ufrag, ufrag_len, 4, TDM_ICE_REMOTE_MAX) ||
        !ice_chars(pwd, pwd_len, 22, TDM_ICE_REMOTE_MAX))
        return TDM_EINVAL;
    struct creds *c = &s->cur;
    memcpy(c->rufrag, ufrag, ufrag_len);
    c->rufrag[ufrag_len] = '\0';
    c->rufrag_len = (uint16_t)ufrag_len;
    memcpy(c->rpwd, pwd, pwd_len);
    c->rpwd[pwd_len] = '\0';
    c->rpwd_len = (uint16_t)pwd_len;
    c->has_remote = true;
    return 0;
}

int tdm_ice_session_restart(struct tdm_ice_table *t, uint64_t id, int64_t now_us)
{
    struct session *s = get(t, id);
    if (!s)
        return TDM_ENOTFOUND;
    uint32_t slot = (uint32_t)(s - t->s);
    struct creds fresh;
    int r = new_local_creds(t, &fresh);
    if (r < 0)
        return r;
    if (s->restarting) /* restarted again before the last one was used */
        ufrag_remove(t, s->prev.lufrag);
    ufrag_remove(t, s->cur.lufrag);
    s->prev = s->cur;
    s->cur = fresh;
    s->restarting = true;
    ufrag_insert(t, slot | REF_PREV);
    ufrag_insert(t, slot);
    s->since_us = now_us;
    scan_by(t, now_us);
    memset(&fresh, 0, sizeof fresh);
    return 0;
}

int tdm_ice_session_state(const struct tdm_ice_table *t, uint64_t id)
{
    const struct session *s = get(t, id);
    return s ? s->state : TDM_ENOTFOUND;
}

int tdm_ice_session_user(const struct tdm_ice_table *t, uint64_t id, uint64_t *user)
{
    const struct session *s = get(t, id);
    if (!s)
        return TDM_ENOTFOUND;
    *user = s->user;
    return 0;
}

int tdm_ice_session_send_addr(const struct tdm_ice_table *t, uint64_t id, struct tdm_addr *out)
{
    const struct session *s = get(t, id);
    if (!s)
        return TDM_ENOTFOUND;
    if (s->nominated) {
        *out = s->selected;
        return 0;
    }
    if (s->has_latest) {
        *out = s->latest;
        return TDM_EAGAIN;
    }
    return TDM_ENOTFOUND;
}

int tdm_ice_lookup_addr(const struct tdm_ice_table *t, const struct tdm_addr *from,
                        uint64_t *session_id, uint64_t *user)
{
    const struct addr_ent *e = &t->addrs[addr_find(t, from, tdm_addr_hash(from, t->seed))];
    if (e->h.ref == REF_EMPTY)
        return TDM_ENOTFOUND;
    const struct session *s = &t->s[e->h.ref];
    *session_id = id_of(t, s);
    if (user)
        *user = s->user;
    return 0;
}

/* --- validated addresses --- */

static void drop_session_addr(struct session *s, size_t k)
{
    s->addrs[k] = s->addrs[s->n_addrs - 1];
    s->addr_seen_us[k] = s->addr_seen_us[s->n_addrs - 1];
    s->n_addrs--;
}

/* Make room in a full list: the address seen longest ago that is not the selected one. */
static void evict_oldest(struct tdm_ice_table *t, struct session *s, uint32_t slot)
{
    size_t victim = TDM_ICE_MAX_ADDRS;
    for (size_t i = 0; i < s->n_addrs; i++) {
        if (s->nominated && tdm_addr_equal(&s->addrs[i], &s->selected))
            continue;
        if (victim == TDM_ICE_MAX_ADDRS || s->addr_seen_us[i] < s->addr_seen_us[victim])
            victim = i;
    }
    addr_index_remove(t, &s->addrs[victim], slot);
    drop_session_addr(s, victim);
}

/* Map `from` to this session: a successful check proves the sender knows its password, so
 * an address another session had (a NAT reusing a port) moves here. */
static void remember_addr(struct tdm_ice_table *t, struct session *s, const struct tdm_addr *a,
                          int64_t now_us)
{
    uint32_t slot = (uint32_t)(s - t->s);
    for (size_t i = 0; i < s->n_addrs; i++) {
        if (tdm_addr_equal(&s->addrs[i], a)) {
            s->addr_seen_us[i] = now_us;
            return;
        }
    }
    if (s->n_addrs == TDM_ICE_MAX_ADDRS)
        evict_oldest(t, s, slot);
    uint32_t h = tdm_addr_hash(a, t->seed);
    struct addr_ent *e = &t->addrs[addr_find(t, a, h)];
    if (e->h.ref != REF_EMPTY) {
        struct session *other = &t->s[e->h.ref];
        for (size_t i = 0; i < other->n_addrs; i++)
            if (tdm_addr_equal(&other->addrs[i], a)) {
                drop_session_addr(other, i);
                break;
            }
    }
    e->h = (struct ent){h, slot};
    e->addr = *a;
    s->addrs[s->n_addrs] = *a;
    s->addr_seen_us[s->n_addrs++] = now_us;
}

/* --- connectivity checks --- */

struct check {
    struct session *s;
    const struct creds *c;
    bool prev; /* matched the credentials from before a restart */
};

/* Find the session of USERNAME "localufrag:remoteufrag" (RFC 8445 7.2.2). */
static int find_check_session(const struct tdm_ice_table *t, const struct tdm_stun_msg *m,
                              struct check *ck)
{
    size_t ulen;
    const char *u = tdm_stun_username(m, &ulen);
    const char *colon = memchr(u, ':', ulen);
    if (!colon)
        return TDM_ENOTFOUND;
    size_t llen = (size_t)(colon - u), rlen = ulen - llen - 1;
    if (llen != TDM_ICE_UFRAG_LEN)
        return TDM_ENOTFOUND;
    uint32_t ref = t->ufrags[ufrag_find(t, u, llen, hash_bytes(t->seed, u, llen))].ref;
    if (ref == REF_EMPTY)
        return TDM_ENOTFOUND;
    ck->s = &t->s[REF_SLOT(ref)];
    ck->prev = (ref & REF_PREV) != 0;
    ck->c = ref_creds(t, ref);
    if (ck->s->state == TDM_ICE_FAILED)
        return TDM_ESTATE;
    if (rlen == 0 || rlen > TDM_ICE_REMOTE_MAX)
        return TDM_EAUTH;
    if (ck->c->has_remote &&
        (rlen != ck->c->rufrag_len || memcmp(colon + 1, ck->c->rufrag, rlen) != 0))
        return TDM_EAUTH;
    return 0;
}

/* A check authenticated: consent, address, nomination (RFC 8445 7.3.1.5, RFC 7675 5.1). */
static enum tdm_ice_event record_check(struct tdm_ice_table *t, struct check *ck,
                                       const struct tdm_addr *from, bool use_candidate,
                                       int64_t now_us)
{
    struct session *s = ck->s;
    bool renewed = false;
    if (s->restarting && !ck->prev) { /* the peer has the new credentials: retire the old */
        ufrag_remove(t, s->prev.lufrag);
        memset(&s->prev, 0, sizeof s->prev);
        s->restarting = false;
        renewed = true;
    }
    s->last_check_us = now_us;
    s->latest = *from;
    s->has_latest = true;
    remember_addr(t, s, from, now_us);
    scan_by(t, now_us); /* a new address, or a consent deadline that replaces a connect one */
    if (s->state == TDM_ICE_NEW)
        s->state = TDM_ICE_CHECKING;
    /* The first check of an ICE restart from another address: the peer moved, and its old
     * path is most often dead by now. Media follows it at once, not only at its nomination,
     * which a controlling browser sends once it has a response and has selected the pair. */
    if (!use_candidate && renewed && s->nominated && !tdm_addr_equal(&s->selected, from)) {
        s->selected = *from;
        return TDM_ICE_EV_ADDR_CHANGED;
    }
    if (!use_candidate)
        return TDM_ICE_EV_NONE;
    if (!s->nominated) {
        s->nominated = true;
        s->selected = *from;
        s->state = TDM_ICE_CONNECTED;
        return TDM_ICE_EV_CONNECTED;
    }
    s->state = TDM_ICE_CONNECTED;
    if (tdm_addr_equal(&s->selected, from))
        return TDM_ICE_EV_NONE;
    s->selected = *from;
    return TDM_ICE_EV_ADDR_CHANGED;
}

static int reply_error(const struct tdm_stun_msg *m, int code, const struct creds *c, uint8_t *out,
                       size_t cap, size_t *out_len, int ret)
{
    const char *key = c ? c->lpwd : NULL;
    int n = tdm_stun_build_error(out, cap, m->tid, code, m->unknown,
                                 m->n_unknown < TDM_STUN_MAX_UNKNOWN ? m->n_unknown
                                                                     : TDM_STUN_MAX_UNKNOWN,
                                 key, key ? strlen(key) : 0);
    if (n > 0)
        *out_len = (size_t)n;
    return ret;
}

int tdm_ice_handle_stun(struct tdm_ice_table *t, const uint8_t *p, size_t len,
                        const struct tdm_addr *from, int64_t now_us, uint8_t *out, size_t out_cap,
                        size_t *out_len, uint64_t *session_id, enum tdm_ice_event *event)
{
    *out_len = 0;
    *session_id = 0;
    *event = TDM_ICE_EV_NONE;
    struct tdm_stun_msg m;
    int pr = tdm_stun_parse(&m, p, len, NULL, 0);
    if (pr < 0 && !m.framed)
        return TDM_EINVAL;
    if (m.type != TDM_STUN_BINDING_REQUEST) /* keepalive indications, stray responses */
        return m.type == TDM_STUN_BINDING_INDICATION ? 0 : TDM_EINVAL;
    /* RFC 8445 7.1.2 / 7.3: checks carry FINGERPRINT; without a good one it is not ours. */
    if (tdm_stun_check_fingerprint(&m) != 0)
        return TDM_EINVAL;
    if (pr < 0 || !m.has_username || !m.mi_off) /* RFC 8489 9.1.3 */
        return reply_error(&m, TDM_STUN_ERR_BAD_REQUEST, NULL, out, out_cap, out_len, TDM_EINVAL);
    struct check ck;
    int r = find_check_session(t, &m, &ck);
    if (r == 0 && tdm_stun_check_integrity(&m, ck.c->lpwd, strlen(ck.c->lpwd)) != 0)
        r = TDM_EAUTH;
    if (r < 0)
        return reply_error(&m, TDM_STUN_ERR_UNAUTHORIZED, NULL, out, out_cap, out_len, r);
    *session_id = id_of(t, ck.s);
    if (m.n_unknown) /* RFC 8489 6.3.1.1, after authentication so the 420 can carry MI */
        return reply_error(&m, TDM_STUN_ERR_UNKNOWN_ATTRIBUTE, ck.c, out, out_cap, out_len,
                           TDM_EUNSUPP);
    /* RFC 8445 7.3.1.1: both sides think they are controlled. A lite agent can never take
     * the controlling role (6.1.1), so it always answers 487 and lets the peer switch. */
    if (m.role == TDM_STUN_ROLE_CONTROLLED)
        return reply_error(&m, TDM_STUN_ERR_ROLE_CONFLICT, ck.c, out, out_cap, out_len, TDM_ESTATE);
    int n =
        tdm_stun_build_binding_success(out, out_cap, m.tid, from, ck.c->lpwd, strlen(ck.c->lpwd));
    if (n < 0)
        return n;
    *out_len = (size_t)n;
    *event = record_check(t, &ck, from, m.use_candidate, now_us);
    return 0;
}

/* --- time --- */

/* Forgets addresses not seen for the consent timeout; returns when the next one would go. */
static int64_t prune_addrs(struct tdm_ice_table *t, struct session *s, int64_t now_us)
{
    uint32_t slot = (uint32_t)(s - t->s);
    int64_t next = INT64_MAX;
    for (size_t i = s->n_addrs; i-- > 0;) {
        if (s->nominated && tdm_addr_equal(&s->addrs[i], &s->selected))
            continue;
        int64_t gone = s->addr_seen_us[i] + t->consent_timeout_us;
        if (now_us >= gone) {
            addr_index_remove(t, &s->addrs[i], slot);
            drop_session_addr(s, i);
        } else if (gone < next) {
            next = gone;
        }
    }
    return next;
}

int64_t tdm_ice_deadline(const struct tdm_ice_table *t)
{
    return t->scan_due;
}

size_t tdm_ice_tick(struct tdm_ice_table *t, int64_t now_us, struct tdm_ice_expired *out,
                    size_t cap, int64_t *next_us)
{
    if (now_us < t->scan_due) { /* nothing can be due yet: no scan */
        if (next_us)
            *next_us = t->scan_due;
        return 0;
    }
    size_t n = 0;
    int64_t next = INT64_MAX;
    for (size_t i = 0; i < t->max; i++) {
        struct session *s = &t->s[i];
        if (!s->in_use || s->state == TDM_ICE_FAILED)
            continue;
        bool connected = s->state == TDM_ICE_CONNECTED;
        int64_t deadline = connected ? s->last_check_us + t->consent_timeout_us
                                     : s->since_us + t->connect_timeout_us;
        if (now_us >= deadline) {
            if (n == cap) {
                next = now_us; /* more to report: call again at once */
                continue;
            }
            out[n].session_id = id_of(t, s);
            out[n].user = s->user;
            out[n].reason = connected ? TDM_ICE_EXPIRED_CONSENT : TDM_ICE_EXPIRED_CONNECT;
            n++;
            s->state = TDM_ICE_FAILED;
            continue;
        }
        if (deadline < next)
            next = deadline;
        int64_t addr_next = prune_addrs(t, s, now_us);
        if (addr_next < next)
            next = addr_next;
    }
    t->scan_due = next;
    if (next_us)
        *next_us = next;
    return n;
}
