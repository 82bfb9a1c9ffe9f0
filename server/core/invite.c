#include "tandem/invite.h"
#include "tandem/err.h"
#include "tandem/util.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAYLOAD_FIXED (1 + 1 + 8 + 2 + TDM_INVITE_ID_LEN + 1)
#define PAYLOAD_MAX (PAYLOAD_FIXED + TDM_INVITE_ID_LEN + TDM_ROOM_ID_MAX) /* a pass's */
#define MAC_LEN 32

int tdm_invite_new(struct tdm_invite *inv, const char *room, enum tdm_role role, int64_t expires_s,
                   uint16_t uses)
{
    memset(inv, 0, sizeof *inv);
    size_t n = room ? strlen(room) : 0;
    if (!tdm_room_id_valid(room, n) || role > TDM_ROLE_COORDINATOR || expires_s <= 0)
        return TDM_EINVAL;
    if (RAND_bytes(inv->id, TDM_INVITE_ID_LEN) != 1)
        return TDM_ECRYPTO;
    memcpy(inv->room, room, n + 1);
    inv->role = role;
    inv->expires_s = expires_s;
    inv->uses = uses;
    return 0;
}

/* person: NULL for a token (version 1), the person id for a pass (version 2). */
static size_t payload_write(const struct tdm_invite *inv, const uint8_t *person, uint8_t *p)
{
    size_t rl = strlen(inv->room), fixed = PAYLOAD_FIXED;
    p[0] = person ? TDM_PASS_VERSION : TDM_INVITE_VERSION;
    p[1] = (uint8_t)inv->role;
    for (int i = 0; i < 8; i++)
        p[2 + i] = (uint8_t)((uint64_t)inv->expires_s >> (56 - 8 * i));
    p[10] = (uint8_t)(inv->uses >> 8);
    p[11] = (uint8_t)inv->uses;
    memcpy(p + 12, inv->id, TDM_INVITE_ID_LEN);
    if (person) {
        memcpy(p + 12 + TDM_INVITE_ID_LEN, person, TDM_INVITE_ID_LEN);
        fixed += TDM_INVITE_ID_LEN;
    }
    p[fixed - 1] = (uint8_t)rl;
    memcpy(p + fixed, inv->room, rl);
    return fixed + rl;
}

static int mac(const uint8_t *key, size_t keylen, const uint8_t *p, size_t n, uint8_t out[MAC_LEN])
{
    unsigned int len = 0;
    if (!HMAC(EVP_sha256(), key, (int)keylen, p, n, out, &len) || len != MAC_LEN)
        return TDM_ECRYPTO;
    return 0;
}

static int encode(const struct tdm_invite *inv, const uint8_t *person, const uint8_t *key,
                  size_t keylen, char *out, size_t cap)
{
    uint8_t payload[PAYLOAD_MAX], tag[MAC_LEN];
    if (keylen < TDM_INVITE_KEY_MIN || !tdm_room_id_valid(inv->room, strlen(inv->room)))
        return TDM_EINVAL;
    size_t n = payload_write(inv, person, payload);
    if (mac(key, keylen, payload, n, tag))
        return TDM_ECRYPTO;
    int a = tdm_b64url_encode(payload, n, out, cap);
    if (a < 0 || (size_t)a + 2 > cap)
        return TDM_ETOOBIG;
    out[a] = '.';
    int b = tdm_b64url_encode(tag, MAC_LEN, out + a + 1, cap - (size_t)a - 1);
    if (b < 0)
        return TDM_ETOOBIG;
    return a + 1 + b;
}

int tdm_invite_encode(const struct tdm_invite *inv, const uint8_t *key, size_t keylen, char *out,
                      size_t cap)
{
    return encode(inv, NULL, key, keylen, out, cap);
}

/* Reads a payload of the given version; person receives a pass's person id. */
static int payload_read(const uint8_t *p, size_t n, uint8_t version, struct tdm_invite *out,
                        uint8_t *person, char *err, size_t errlen)
{
    size_t fixed = PAYLOAD_FIXED + (version == TDM_PASS_VERSION ? TDM_INVITE_ID_LEN : 0);
    if (n < PAYLOAD_FIXED || p[0] != version)
        return tdm_seterr(err, errlen, TDM_EINVAL, "unknown token version");
    if (n < fixed)
        return tdm_seterr(err, errlen, TDM_EINVAL, "inconsistent token payload");
    size_t rl = p[fixed - 1];
    if (fixed + rl != n || p[1] > TDM_ROLE_COORDINATOR)
        return tdm_seterr(err, errlen, TDM_EINVAL, "inconsistent token payload");
    /* The decode buffer has slack past PAYLOAD_MAX, so n alone does not bound rl. */
    if (rl > TDM_ROOM_ID_MAX)
        return tdm_seterr(err, errlen, TDM_EINVAL, "bad room in token");
    uint64_t exp = 0;
    for (int i = 0; i < 8; i++)
        exp = (exp << 8) | p[2 + i];
    if (exp > INT64_MAX)
        return tdm_seterr(err, errlen, TDM_EINVAL, "bad expiry");
    memset(out, 0, sizeof *out);
    out->role = (enum tdm_role)p[1];
    out->expires_s = (int64_t)exp;
    out->uses = (uint16_t)(p[10] << 8 | p[11]);
    memcpy(out->id, p + 12, TDM_INVITE_ID_LEN);
    if (person)
        memcpy(person, p + 12 + TDM_INVITE_ID_LEN, TDM_INVITE_ID_LEN);
    memcpy(out->room, p + fixed, rl);
    out->room[rl] = '\0';
    if (!tdm_room_id_valid(out->room, rl))
        return tdm_seterr(err, errlen, TDM_EINVAL, "bad room in token");
    return 0;
}

static int decode(const char *tok, size_t len, uint8_t version, const uint8_t *key, size_t keylen,
                  int64_t now_s, struct tdm_invite *out, uint8_t *person, char *err, size_t errlen)
{
    uint8_t payload[PAYLOAD_MAX + 3], tag[MAC_LEN + 3], want[MAC_LEN];
    memset(out, 0, sizeof *out);
    if (keylen < TDM_INVITE_KEY_MIN)
        return tdm_seterr(err, errlen, TDM_EINVAL, "server key too short");
    if (!tok || len == 0 || len > TDM_INVITE_TOKEN_MAX)
        return tdm_seterr(err, errlen, TDM_EINVAL, "token missing or too long");
    const char *dot = memchr(tok, '.', len);
    if (!dot)
        return tdm_seterr(err, errlen, TDM_EINVAL, "token has no signature");
    size_t plen = (size_t)(dot - tok), slen = len - plen - 1;
    int n = tdm_b64url_decode(tok, plen, payload, sizeof payload);
    int t = tdm_b64url_decode(dot + 1, slen, tag, sizeof tag);
    if (n < 0 || t != MAC_LEN)
        return tdm_seterr(err, errlen, TDM_EINVAL, "token is not well-formed");
    if (mac(key, keylen, payload, (size_t)n, want))
        return TDM_ECRYPTO;
    /* Nothing in the payload is read before the signature is known to be ours. */
    if (!tdm_ct_equal(want, tag, MAC_LEN))
        return tdm_seterr(err, errlen, TDM_EAUTH, "token signature does not match");
    int rc = payload_read(payload, (size_t)n, version, out, person, err, errlen);
    if (rc)
        return rc;
    if (now_s >= out->expires_s)
        return tdm_seterr(err, errlen, TDM_ESTATE, "token expired");
    return 0;
}

int tdm_invite_decode(const char *tok, size_t len, const uint8_t *key, size_t keylen, int64_t now_s,
                      struct tdm_invite *out, char *err, size_t errlen)
{
    return decode(tok, len, TDM_INVITE_VERSION, key, keylen, now_s, out, NULL, err, errlen);
}

int tdm_pass_new(struct tdm_pass *pass, const struct tdm_invite *link)
{
    pass->link = *link;
    return RAND_bytes(pass->person, TDM_INVITE_ID_LEN) == 1 ? 0 : TDM_ECRYPTO;
}

int tdm_pass_encode(const struct tdm_pass *pass, const uint8_t *key, size_t keylen, char *out,
                    size_t cap)
{
    return encode(&pass->link, pass->person, key, keylen, out, cap);
}

int tdm_pass_decode(const char *text, size_t len, const uint8_t *key, size_t keylen, int64_t now_s,
                    struct tdm_pass *out, char *err, size_t errlen)
{
    memset(out->person, 0, sizeof out->person);
    return decode(text, len, TDM_PASS_VERSION, key, keylen, now_s, &out->link, out->person, err,
                  errlen);
}

void tdm_invite_id_text(const uint8_t id[TDM_INVITE_ID_LEN], char out[TDM_INVITE_ID_TEXT])
{
    tdm_b64url_encode(id, TDM_INVITE_ID_LEN, out, TDM_INVITE_ID_TEXT);
}

int tdm_invite_id_parse(const char *text, size_t len, uint8_t id[TDM_INVITE_ID_LEN])
{
    if (len != TDM_INVITE_ID_TEXT - 1)
        return TDM_EINVAL;
    return tdm_b64url_decode(text, len, id, TDM_INVITE_ID_LEN) == TDM_INVITE_ID_LEN ? 0
                                                                                    : TDM_EINVAL;
}

/* --- console capabilities --- */

#define CONSOLE_PAYLOAD (1 + 8 + TDM_INVITE_ID_LEN)
#define CONSOLE_DOMAIN_LEN (sizeof TDM_CONSOLE_DOMAIN) /* its NUL too: a clear end */

int tdm_console_new(struct tdm_console_cap *cap, int64_t expires_s)
{
    memset(cap, 0, sizeof *cap);
    if (expires_s <= 0)
        return TDM_EINVAL;
    cap->expires_s = expires_s;
    return RAND_bytes(cap->id, TDM_INVITE_ID_LEN) == 1 ? 0 : TDM_ECRYPTO;
}

/* The MAC input: the domain, then the payload. */
static int console_mac(const uint8_t *key, size_t keylen, const uint8_t *p, size_t n,
                       uint8_t out[MAC_LEN])
{
    uint8_t buf[CONSOLE_DOMAIN_LEN + CONSOLE_PAYLOAD + 3];
    if (n > CONSOLE_PAYLOAD + 3)
        return TDM_EINVAL;
    memcpy(buf, TDM_CONSOLE_DOMAIN, CONSOLE_DOMAIN_LEN);
    memcpy(buf + CONSOLE_DOMAIN_LEN, p, n);
    return mac(key, keylen, buf, CONSOLE_DOMAIN_LEN + n, out);
}

int tdm_console_encode(const struct tdm_console_cap *cap, const uint8_t *key, size_t keylen,
                       char *out, size_t outcap)
{
    uint8_t payload[CONSOLE_PAYLOAD], tag[MAC_LEN];
    if (keylen < TDM_INVITE_KEY_MIN || cap->expires_s <= 0)
        return TDM_EINVAL;
    payload[0] = TDM_CONSOLE_VERSION;
    for (int i = 0; i < 8; i++)
        payload[1 + i] = (uint8_t)((uint64_t)cap->expires_s >> (56 - 8 * i));
    memcpy(payload + 9, cap->id, TDM_INVITE_ID_LEN);
    if (console_mac(key, keylen, payload, sizeof payload, tag))
        return TDM_ECRYPTO;
    int a = tdm_b64url_encode(payload, sizeof payload, out, outcap);
    if (a < 0 || (size_t)a + 2 > outcap)
        return TDM_ETOOBIG;
    out[a] = '.';
    int b = tdm_b64url_encode(tag, MAC_LEN, out + a + 1, outcap - (size_t)a - 1);
    if (b < 0)
        return TDM_ETOOBIG;
    return a + 1 + b;
}

int tdm_console_decode(const char *text, size_t len, const uint8_t *key, size_t keylen,
                       int64_t now_s, struct tdm_console_cap *out, char *err, size_t errlen)
{
    uint8_t payload[CONSOLE_PAYLOAD + 3], tag[MAC_LEN + 3], want[MAC_LEN];
    memset(out, 0, sizeof *out);
    if (keylen < TDM_INVITE_KEY_MIN)
        return tdm_seterr(err, errlen, TDM_EINVAL, "server key too short");
    if (!text || len == 0 || len > TDM_INVITE_TOKEN_MAX)
        return tdm_seterr(err, errlen, TDM_EINVAL, "token missing or too long");
    const char *dot = memchr(text, '.', len);
    if (!dot)
        return tdm_seterr(err, errlen, TDM_EINVAL, "token has no signature");
    size_t plen = (size_t)(dot - text), slen = len - plen - 1;
    /* an invite's payload is longer: it does not fit here and is refused unread */
    int n = tdm_b64url_decode(text, plen, payload, sizeof payload);
    int t = tdm_b64url_decode(dot + 1, slen, tag, sizeof tag);
    if (n < 0 || t != MAC_LEN)
        return tdm_seterr(err, errlen, TDM_EINVAL, "token is not well-formed");
    if (console_mac(key, keylen, payload, (size_t)n, want))
        return TDM_ECRYPTO;
    if (!tdm_ct_equal(want, tag, MAC_LEN))
        return tdm_seterr(err, errlen, TDM_EAUTH, "token signature does not match");
    if ((size_t)n != CONSOLE_PAYLOAD || payload[0] != TDM_CONSOLE_VERSION)
        return tdm_seterr(err, errlen, TDM_EINVAL, "not a console token");
    uint64_t exp = 0;
    for (int i = 0; i < 8; i++)
        exp = (exp << 8) | payload[1 + i];
    if (exp == 0 || exp > INT64_MAX)
        return tdm_seterr(err, errlen, TDM_EINVAL, "bad expiry");
    out->expires_s = (int64_t)exp;
    memcpy(out->id, payload + 9, TDM_INVITE_ID_LEN);
    if (now_s >= out->expires_s)
        return tdm_seterr(err, errlen, TDM_ESTATE, "token expired");
    return 0;
}

/* --- ledger: open addressing keyed by the random id (already uniformly distributed) --- */

struct entry {
    uint8_t id[TDM_INVITE_ID_LEN];
    int64_t expires_s; /* 0 = empty slot */
    uint16_t used;
    bool revoked;
    bool known; /* role and uses below are the link's */
    uint8_t role;
    uint16_t uses;
};

static void learn(struct entry *e, const struct tdm_invite *inv)
{
    e->known = true;
    e->role = (uint8_t)inv->role;
    e->uses = inv->uses;
}

struct tdm_invite_ledger {
    size_t cap; /* power of two, at least twice max */
    size_t max;
    size_t count;
    struct entry *slots;
};

struct tdm_invite_ledger *tdm_invite_ledger_create(size_t max_entries)
{
    if (max_entries == 0 || max_entries > (1u << 24))
        return NULL;
    struct tdm_invite_ledger *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->max = max_entries;
    l->cap = 16;
    while (l->cap < 2 * max_entries)
        l->cap <<= 1;
    l->slots = calloc(l->cap, sizeof *l->slots);
    if (!l->slots) {
        free(l);
        return NULL;
    }
    return l;
}

void tdm_invite_ledger_destroy(struct tdm_invite_ledger *l)
{
    if (!l)
        return;
    free(l->slots);
    free(l);
}

static size_t slot_of(const struct tdm_invite_ledger *l, const uint8_t id[TDM_INVITE_ID_LEN])
{
    size_t h;
    memcpy(&h, id, sizeof h);
    return h & (l->cap - 1);
}

static struct entry *find(const struct tdm_invite_ledger *l, const uint8_t id[TDM_INVITE_ID_LEN])
{
    for (size_t i = slot_of(l, id), k = 0; k < l->cap; i = (i + 1) & (l->cap - 1), k++) {
        struct entry *e = &l->slots[i];
        if (e->expires_s == 0)
            return NULL;
        if (memcmp(e->id, id, TDM_INVITE_ID_LEN) == 0)
            return e;
    }
    return NULL;
}

/* Drops entries past their expiry (a dead token can never be used again anyway) and
 * rebuilds the table; called only when it is full, so the cost is amortised. */
static void prune(struct tdm_invite_ledger *l, int64_t now_s)
{
    struct entry *old = l->slots;
    struct entry *fresh = calloc(l->cap, sizeof *fresh);
    if (!fresh)
        return;
    l->slots = fresh;
    l->count = 0;
    for (size_t i = 0; i < l->cap; i++) {
        if (old[i].expires_s == 0 || old[i].expires_s <= now_s)
            continue;
        size_t j = slot_of(l, old[i].id);
        while (l->slots[j].expires_s)
            j = (j + 1) & (l->cap - 1);
        l->slots[j] = old[i];
        l->count++;
    }
    free(old);
}

static struct entry *insert(struct tdm_invite_ledger *l, const uint8_t id[TDM_INVITE_ID_LEN],
                            int64_t expires_s, int64_t now_s)
{
    if (l->count >= l->max)
        prune(l, now_s);
    if (l->count >= l->max)
        return NULL;
    size_t i = slot_of(l, id);
    while (l->slots[i].expires_s)
        i = (i + 1) & (l->cap - 1);
    struct entry *e = &l->slots[i];
    memcpy(e->id, id, TDM_INVITE_ID_LEN);
    e->expires_s = expires_s;
    l->count++;
    return e;
}

int tdm_invite_ledger_use(struct tdm_invite_ledger *l, const struct tdm_invite *inv, int64_t now_s)
{
    struct entry *e = find(l, inv->id);
    if (e && e->revoked)
        return TDM_EPERM;
    if (inv->uses == 0)
        return 0; /* unlimited: nothing to count */
    if (!e && !(e = insert(l, inv->id, inv->expires_s, now_s)))
        return TDM_ELIMIT;
    if (e->used >= inv->uses)
        return TDM_EFULL;
    e->used++;
    learn(e, inv);
    return 0;
}

int tdm_invite_ledger_note(struct tdm_invite_ledger *l, const struct tdm_invite *inv, int64_t now_s)
{
    struct entry *e = find(l, inv->id);
    if (!e && !(e = insert(l, inv->id, inv->expires_s, now_s)))
        return TDM_ELIMIT;
    learn(e, inv);
    return 0;
}

int tdm_invite_ledger_check(const struct tdm_invite_ledger *l, const struct tdm_invite *inv)
{
    const struct entry *e = find(l, inv->id);
    if (e && e->revoked)
        return TDM_EPERM;
    if (e && inv->uses && e->used >= inv->uses)
        return TDM_EFULL;
    return 0;
}

int tdm_invite_ledger_revoke(struct tdm_invite_ledger *l, const uint8_t id[TDM_INVITE_ID_LEN],
                             int64_t expires_s, int64_t now_s)
{
    struct entry *e = find(l, id);
    if (!e && !(e = insert(l, id, expires_s, now_s)))
        return TDM_ELIMIT;
    e->revoked = true;
    if (expires_s > e->expires_s)
        e->expires_s = expires_s;
    return 0;
}

bool tdm_invite_ledger_revoked(const struct tdm_invite_ledger *l,
                               const uint8_t id[TDM_INVITE_ID_LEN])
{
    const struct entry *e = find(l, id);
    return e && e->revoked;
}

int tdm_invite_ledger_restore(struct tdm_invite_ledger *l, const struct tdm_invite_record *r,
                              int64_t now_s)
{
    if (r->expires_s <= 0)
        return TDM_EINVAL;
    if (r->expires_s <= now_s)
        return 0; /* a dead token can never be used again anyway */
    struct entry *e = find(l, r->id);
    if (!e && !(e = insert(l, r->id, r->expires_s, now_s)))
        return TDM_ELIMIT;
    if (r->used > e->used)
        e->used = r->used;
    if (r->expires_s > e->expires_s)
        e->expires_s = r->expires_s;
    e->revoked = e->revoked || r->revoked;
    if (r->known) {
        e->known = true;
        e->role = (uint8_t)r->role;
        e->uses = r->uses;
    }
    return 0;
}

static void record_of(const struct entry *e, struct tdm_invite_record *out)
{
    memset(out, 0, sizeof *out);
    memcpy(out->id, e->id, TDM_INVITE_ID_LEN);
    out->expires_s = e->expires_s;
    out->used = e->used;
    out->revoked = e->revoked;
    out->known = e->known;
    out->role = (enum tdm_role)e->role;
    out->uses = e->uses;
}

bool tdm_invite_ledger_get(const struct tdm_invite_ledger *l, const uint8_t id[TDM_INVITE_ID_LEN],
                           struct tdm_invite_record *out)
{
    const struct entry *e = find(l, id);
    if (!e)
        return false;
    record_of(e, out);
    return true;
}

size_t tdm_invite_ledger_each(const struct tdm_invite_ledger *l, int64_t now_s,
                              void (*fn)(const struct tdm_invite_record *r, void *arg), void *arg)
{
    size_t n = 0;
    for (size_t i = 0; i < l->cap; i++) {
        const struct entry *e = &l->slots[i];
        if (e->expires_s == 0 || e->expires_s <= now_s)
            continue;
        struct tdm_invite_record r;
        record_of(e, &r);
        fn(&r, arg);
        n++;
    }
    return n;
}

size_t tdm_invite_ledger_count(const struct tdm_invite_ledger *l)
{
    return l->count;
}

#define RECORD_EXPIRES_MAX (1LL << 62)

int tdm_invite_record_format(const struct tdm_invite_record *r, char *out, size_t cap)
{
    char id[TDM_INVITE_ID_TEXT];
    tdm_invite_id_text(r->id, id);
    int n;
    if (r->known && r->role <= TDM_ROLE_COORDINATOR)
        n = snprintf(out, cap, "%s %lld %u %c %u %s\n", id, (long long)r->expires_s,
                     (unsigned)r->used, r->revoked ? 'r' : 'u', (unsigned)r->uses,
                     tdm_role_name(r->role));
    else
        n = snprintf(out, cap, "%s %lld %u %c\n", id, (long long)r->expires_s, (unsigned)r->used,
                     r->revoked ? 'r' : 'u');
    return n < 0 || (size_t)n >= cap ? TDM_ETOOBIG : n;
}

/* A decimal number in [lo, hi] without sign, spaces or leading zeros; advances *p. */
static bool take_number(const char **p, const char *end, int64_t lo, int64_t hi, int64_t *out)
{
    const char *s = *p;
    if (s >= end || *s < '0' || *s > '9' ||
        (*s == '0' && s + 1 < end && s[1] >= '0' && s[1] <= '9'))
        return false;
    int64_t v = 0;
    for (; s < end && *s >= '0' && *s <= '9'; s++) {
        if (v > (hi - (*s - '0')) / 10)
            return false;
        v = v * 10 + (*s - '0');
    }
    if (v < lo)
        return false;
    *p = s;
    *out = v;
    return true;
}

int tdm_invite_record_parse(const char *line, size_t len, struct tdm_invite_record *r)
{
    const size_t idlen = TDM_INVITE_ID_TEXT - 1;
    const char *p = line, *end = line + len;
    int64_t exp, used;
    memset(r, 0, sizeof *r);
    if (len < idlen + 6 || len > TDM_INVITE_RECORD_TEXT || tdm_invite_id_parse(p, idlen, r->id))
        return TDM_EINVAL;
    p += idlen;
    if (p >= end || *p++ != ' ' || !take_number(&p, end, 1, RECORD_EXPIRES_MAX, &exp))
        return TDM_EINVAL;
    if (p >= end || *p++ != ' ' || !take_number(&p, end, 0, UINT16_MAX, &used))
        return TDM_EINVAL;
    if (end - p < 2 || p[0] != ' ' || (p[1] != 'r' && p[1] != 'u'))
        return TDM_EINVAL;
    r->expires_s = exp;
    r->used = (uint16_t)used;
    r->revoked = p[1] == 'r';
    p += 2;
    if (p == end)
        return 0;
    int64_t uses;
    if (*p++ != ' ' || !take_number(&p, end, 0, UINT16_MAX, &uses) || p >= end || *p++ != ' ' ||
        tdm_role_parse(p, (size_t)(end - p), &r->role) != 0)
        return TDM_EINVAL;
    r->known = true;
    r->uses = (uint16_t)uses;
    return 0;
}
