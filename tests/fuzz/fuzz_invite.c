/* libFuzzer target: invite tokens (tdm_invite_decode/encode) and the use/revocation ledger.
 *
 * Input: byte 0 picks a mode (value % 4), the rest is its data.
 *  0  token text, decoded with the fixed server key, as a token and as a person pass. The
 *     fuzzer cannot forge signatures, so this covers everything read before the check.
 *  1  payload bytes that the harness signs with the fixed key itself (as the server would),
 *     so the payload reader after the signature check is reached with arbitrary bytes.
 *  3  one line of the ledger journal (a file read at start): a record that parses formats
 *     back to a line that parses to the same record, and restoring it keeps the ledger sane.
 *  2  a script of ledger operations (use, check, revoke, revoked, time steps) on a small
 *     ledger, compared after every step with a plain list model of the documented rules.
 * Invariants: decode returns only documented codes; a decoded invite is sane; any decoded
 * invite re-encodes to the very same token (base64url here is canonical), which decodes to
 * the same fields; decode writes nothing past out->room (the struct's padding after it stays
 * as decode cleared it); the other key never accepts; the ledger agrees with the model. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "tandem/err.h"
#include "tandem/invite.h"
#include "tandem/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t key[32] = "tandem-fuzz-key-0123456789abcdef";
static const uint8_t other_key[32] = "tandem-fuzz-key-fedcba9876543210";
#define NOW_S 1800000000LL

/* An invariant that failed names its line, then aborts so libFuzzer keeps the input. */
#define check(cond) ((cond) ? (void)0 : fail_at(__LINE__, #cond))

static void fail_at(int line, const char *what)
{
    fprintf(stderr, "invariant failed at line %d: %s\n", line, what);
    abort();
}

static bool same_invite(const struct tdm_invite *a, const struct tdm_invite *b)
{
    return a->role == b->role && a->expires_s == b->expires_s && a->uses == b->uses &&
           memcmp(a->id, b->id, TDM_INVITE_ID_LEN) == 0 && strcmp(a->room, b->room) == 0;
}

/* The same text read as a person pass (version 2): only documented codes; a pass that
 * decodes re-encodes to the same text; nothing is both a token and a pass. */
static void pass_checked(const char *copy, size_t len, bool signed_by_us, int token_rc)
{
    struct tdm_pass pass, again;
    char err[128] = "";
    int rc = tdm_pass_decode(copy, len, key, sizeof key, NOW_S, &pass, err, sizeof err);
    check(rc == 0 || rc == TDM_EINVAL || rc == TDM_EAUTH || rc == TDM_ESTATE);
    check(rc == 0 || err[0] != '\0');
    check(!(signed_by_us && rc == TDM_EAUTH));
    check(!((rc == 0 || rc == TDM_ESTATE) && (token_rc == 0 || token_rc == TDM_ESTATE)));
    if (rc == 0 || rc == TDM_ESTATE) {
        check(pass.link.role <= TDM_ROLE_COORDINATOR);
        check(tdm_room_id_valid(pass.link.room, strlen(pass.link.room)));
        char out[TDM_INVITE_TOKEN_MAX + 64];
        int n = tdm_pass_encode(&pass, key, sizeof key, out, sizeof out);
        check(n > 0 && (size_t)n == len && memcmp(out, copy, len) == 0);
        check(tdm_pass_decode(out, (size_t)n, key, sizeof key, NOW_S, &again, NULL, 0) == rc);
        check(memcmp(again.person, pass.person, TDM_INVITE_ID_LEN) == 0);
        check(same_invite(&again.link, &pass.link));
    }
}

/* The same text read as a console capability: only documented codes; never both a console
 * token and an invite or a pass (a text signed here as an invite is never a console token:
 * its MAC covers no domain); one that decodes re-encodes to the same text. */
static void console_checked(const char *copy, size_t len, bool signed_by_us, int token_rc)
{
    struct tdm_console_cap cap, again;
    char err[128] = "";
    int rc = tdm_console_decode(copy, len, key, sizeof key, NOW_S, &cap, err, sizeof err);
    check(rc == 0 || rc == TDM_EINVAL || rc == TDM_EAUTH || rc == TDM_ESTATE);
    check(rc == 0 || err[0] != '\0');
    check(!(signed_by_us && (rc == 0 || rc == TDM_ESTATE)));
    check(!((rc == 0 || rc == TDM_ESTATE) && (token_rc == 0 || token_rc == TDM_ESTATE)));
    if (rc == 0 || rc == TDM_ESTATE) {
        char out[TDM_INVITE_TOKEN_MAX + 64];
        int n = tdm_console_encode(&cap, key, sizeof key, out, sizeof out);
        check(n > 0 && (size_t)n == len && memcmp(out, copy, len) == 0);
        check(tdm_console_decode(out, (size_t)n, key, sizeof key, NOW_S, &again, NULL, 0) == rc);
        check(again.expires_s == cap.expires_s && memcmp(again.id, cap.id, TDM_INVITE_ID_LEN) == 0);
    }
}

/* Decodes tok (an exact-size copy, so ASan sees overreads) and checks what came back. */
static void decode_checked(const char *tok, size_t len, bool signed_by_us)
{
    char *copy = malloc(len ? len : 1);
    if (!copy)
        abort();
    memcpy(copy, tok, len);
    union { /* decode clears *out first: the bytes past room must stay zero */
        struct tdm_invite inv;
        uint8_t bytes[sizeof(struct tdm_invite)];
    } u;
    struct tdm_invite again;
    char err[128] = "";
    int rc = tdm_invite_decode(copy, len, key, sizeof key, NOW_S, &u.inv, err, sizeof err);
    for (size_t i = offsetof(struct tdm_invite, room) + sizeof u.inv.room; i < sizeof u; i++)
        check(u.bytes[i] == 0);
    const struct tdm_invite inv = u.inv;
    check(rc == 0 || rc == TDM_EINVAL || rc == TDM_EAUTH || rc == TDM_ESTATE);
    check(rc == 0 || err[0] != '\0');
    check(!(signed_by_us && rc == TDM_EAUTH)); /* a good signature is never called forged */
    int other = tdm_invite_decode(copy, len, other_key, sizeof other_key, NOW_S, &again, NULL, 0);
    check(other == TDM_EINVAL || other == TDM_EAUTH);
    if (rc == 0 || rc == TDM_ESTATE) {
        check(inv.role <= TDM_ROLE_COORDINATOR);
        check(tdm_room_id_valid(inv.room, strlen(inv.room)));
        check(rc == TDM_ESTATE ? inv.expires_s <= NOW_S : inv.expires_s > NOW_S);
        char out[TDM_INVITE_TOKEN_MAX + 64];
        int n = tdm_invite_encode(&inv, key, sizeof key, out, sizeof out);
        check(n > 0 && (size_t)n == len && memcmp(out, copy, len) == 0);
        check(tdm_invite_decode(out, (size_t)n, key, sizeof key, NOW_S, &again, NULL, 0) == rc);
        check(same_invite(&inv, &again));
        char idt[TDM_INVITE_ID_TEXT];
        uint8_t id[TDM_INVITE_ID_LEN];
        tdm_invite_id_text(inv.id, idt);
        check(tdm_invite_id_parse(idt, strlen(idt), id) == 0);
        check(memcmp(id, inv.id, TDM_INVITE_ID_LEN) == 0);
    }
    pass_checked(copy, len, signed_by_us, rc);
    console_checked(copy, len, signed_by_us, rc);
    free(copy);
}

/* base64url(payload) "." base64url(HMAC-SHA256(key, payload)), as the server makes them. */
static void signed_payload(const uint8_t *p, size_t n)
{
    char tok[2 * TDM_INVITE_TOKEN_MAX];
    uint8_t tag[32];
    unsigned int tlen = 0;
    if (n > TDM_INVITE_TOKEN_MAX)
        return;
    if (!HMAC(EVP_sha256(), key, (int)sizeof key, p, n, tag, &tlen) || tlen != sizeof tag)
        abort();
    int a = tdm_b64url_encode(p, n, tok, sizeof tok);
    check(a >= 0);
    tok[a] = '.';
    int b = tdm_b64url_encode(tag, sizeof tag, tok + a + 1, sizeof tok - (size_t)a - 1);
    check(b > 0);
    decode_checked(tok, (size_t)a + 1 + (size_t)b, true);
}

/* --- ledger model: a list with the documented rules, pruned exactly when the ledger is --- */

#define IDS 8
#define MODEL_MAX 16

struct mentry {
    uint8_t id[TDM_INVITE_ID_LEN];
    int64_t expires_s;
    uint16_t used;
    bool revoked;
};

struct model {
    struct mentry e[MODEL_MAX];
    size_t n, max;
};

static struct mentry *model_find(struct model *m, const uint8_t *id)
{
    for (size_t i = 0; i < m->n; i++)
        if (memcmp(m->e[i].id, id, TDM_INVITE_ID_LEN) == 0)
            return &m->e[i];
    return NULL;
}

/* Full: drop what expired by now_s, then insert if room is left. */
static struct mentry *model_insert(struct model *m, const uint8_t *id, int64_t exp, int64_t now)
{
    if (m->n >= m->max) {
        size_t k = 0;
        for (size_t i = 0; i < m->n; i++)
            if (m->e[i].expires_s > now)
                m->e[k++] = m->e[i];
        m->n = k;
    }
    if (m->n >= m->max)
        return NULL;
    struct mentry *e = &m->e[m->n++];
    memset(e, 0, sizeof *e);
    memcpy(e->id, id, TDM_INVITE_ID_LEN);
    e->expires_s = exp;
    return e;
}

static int model_use(struct model *m, const struct tdm_invite *inv, int64_t now)
{
    struct mentry *e = model_find(m, inv->id);
    if (e && e->revoked)
        return TDM_EPERM;
    if (inv->uses == 0)
        return 0;
    if (!e && !(e = model_insert(m, inv->id, inv->expires_s, now)))
        return TDM_ELIMIT;
    if (e->used >= inv->uses)
        return TDM_EFULL;
    e->used++;
    return 0;
}

static int model_check(struct model *m, const struct tdm_invite *inv)
{
    struct mentry *e = model_find(m, inv->id);
    if (e && e->revoked)
        return TDM_EPERM;
    if (e && inv->uses && e->used >= inv->uses)
        return TDM_EFULL;
    return 0;
}

static int model_revoke(struct model *m, const uint8_t *id, int64_t exp, int64_t now)
{
    struct mentry *e = model_find(m, id);
    if (!e && !(e = model_insert(m, id, exp, now)))
        return TDM_ELIMIT;
    e->revoked = true;
    if (exp > e->expires_s)
        e->expires_s = exp;
    return 0;
}

struct cursor {
    const uint8_t *p;
    size_t n;
};

static uint8_t u8(struct cursor *c)
{
    if (!c->n)
        return 0;
    c->n--;
    return *c->p++;
}

/* Ids that share their first bytes (the ledger's hash) collide on purpose. */
static void make_id(uint8_t id[TDM_INVITE_ID_LEN], unsigned k)
{
    memset(id, 0, TDM_INVITE_ID_LEN);
    id[0] = (uint8_t)(k % 3);
    id[TDM_INVITE_ID_LEN - 1] = (uint8_t)k;
}

/* Expiries are never 0 (the ledger's empty-slot mark; no token carries it). */
static int64_t expiry(struct cursor *c, int64_t now)
{
    uint8_t b = u8(c);
    if (b == 0xFF)
        return INT64_MAX;
    int64_t e = now + ((int64_t)(b & 0x7F) - 32) * 60;
    return e > 0 ? e : 1;
}

static void ledger_script(const uint8_t *data, size_t size)
{
    struct cursor c = {data, size};
    struct model m = {.max = 1 + u8(&c) % 6};
    struct tdm_invite_ledger *l = tdm_invite_ledger_create(m.max);
    check(l != NULL);
    int64_t now = NOW_S;
    for (int step = 0; step < 512 && c.n; step++) {
        uint8_t op = u8(&c);
        struct tdm_invite inv = {.role = TDM_ROLE_MENTEE};
        make_id(inv.id, u8(&c) % IDS);
        switch (op % 5) {
        case 0:
            inv.uses = u8(&c) % 4;
            inv.expires_s = expiry(&c, now);
            check(tdm_invite_ledger_use(l, &inv, now) == model_use(&m, &inv, now));
            break;
        case 1:
            inv.uses = u8(&c) % 4;
            check(tdm_invite_ledger_check(l, &inv) == model_check(&m, &inv));
            break;
        case 2: {
            int64_t exp = expiry(&c, now);
            check(tdm_invite_ledger_revoke(l, inv.id, exp, now) ==
                  model_revoke(&m, inv.id, exp, now));
            break;
        }
        case 3: now += (int64_t)u8(&c) * 30; break;
        default: break;
        }
        for (unsigned k = 0; k < IDS; k++) { /* the whole visible state, every step */
            struct tdm_invite probe = {.uses = 3};
            make_id(probe.id, k);
            struct mentry *e = model_find(&m, probe.id);
            check(tdm_invite_ledger_revoked(l, probe.id) == (e && e->revoked));
            check(tdm_invite_ledger_check(l, &probe) == model_check(&m, &probe));
        }
    }
    tdm_invite_ledger_destroy(l);
}

static void journal_line(const uint8_t *data, size_t size)
{
    char *copy = malloc(size ? size : 1); /* exact size: ASan sees overreads */
    if (!copy)
        abort();
    memcpy(copy, data, size);
    struct tdm_invite_record r, again;
    int rc = tdm_invite_record_parse(copy, size, &r);
    check(rc == 0 || rc == TDM_EINVAL);
    if (rc == 0) {
        char line[TDM_INVITE_RECORD_TEXT];
        int n = tdm_invite_record_format(&r, line, sizeof line);
        check(n > 0 && line[n - 1] == '\n');
        check(tdm_invite_record_parse(line, (size_t)n - 1, &again) == 0);
        check(memcmp(&r, &again, sizeof r) == 0);
        check(r.expires_s > 0);
        struct tdm_invite_ledger *l = tdm_invite_ledger_create(2);
        check(l != NULL);
        int rr = tdm_invite_ledger_restore(l, &r, NOW_S);
        check(rr == 0);
        struct tdm_invite_record got;
        bool have = tdm_invite_ledger_get(l, r.id, &got);
        check(have == (r.expires_s > NOW_S));
        check(!have || (got.used == r.used && got.revoked == r.revoked));
        check(tdm_invite_ledger_count(l) == (have ? 1u : 0u));
        tdm_invite_ledger_destroy(l);
    }
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    switch (data[0] % 4) {
    case 0: decode_checked((const char *)data + 1, size - 1, false); break;
    case 1: signed_payload(data + 1, size - 1); break;
    case 3: journal_line(data + 1, size - 1); break;
    default: ledger_script(data + 1, size - 1); break;
    }
    return 0;
}
