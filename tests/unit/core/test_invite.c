#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "tandem/err.h"
#include "tandem/invite.h"
#include "tandem/util.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

static const uint8_t key[32] = "0123456789abcdef0123456789abcdef";
static const uint8_t other_key[32] = "fedcba9876543210fedcba9876543210";
#define NOW 1800000000LL

static int make(char *tok, size_t cap, const char *room, enum tdm_role role, int64_t exp,
                uint16_t uses, struct tdm_invite *inv)
{
    assert_int_equal(tdm_invite_new(inv, room, role, exp, uses), 0);
    return tdm_invite_encode(inv, key, sizeof key, tok, cap);
}

static void round_trip(void **state)
{
    (void)state;
    char tok[TDM_INVITE_TOKEN_MAX + 1];
    struct tdm_invite inv, out;
    int n = make(tok, sizeof tok, "room-42", TDM_ROLE_MENTOR, NOW + 3600, 1, &inv);
    assert_true(n > 0 && n <= TDM_INVITE_TOKEN_MAX);
    assert_int_equal(strlen(tok), (size_t)n);
    assert_int_equal(tdm_invite_decode(tok, (size_t)n, key, sizeof key, NOW, &out, NULL, 0), 0);
    assert_string_equal(out.room, "room-42");
    assert_int_equal(out.role, TDM_ROLE_MENTOR);
    assert_int_equal(out.expires_s, NOW + 3600);
    assert_int_equal(out.uses, 1);
    assert_memory_equal(out.id, inv.id, TDM_INVITE_ID_LEN);
    /* the longest room id still fits the bound */
    char room[TDM_ROOM_ID_MAX + 1];
    memset(room, 'r', TDM_ROOM_ID_MAX);
    room[TDM_ROOM_ID_MAX] = '\0';
    assert_true(make(tok, sizeof tok, room, TDM_ROLE_COORDINATOR, NOW + 1, 0, &inv) > 0);
}

static void forged_altered_expired(void **state)
{
    (void)state;
    char tok[TDM_INVITE_TOKEN_MAX + 1], err[128];
    struct tdm_invite inv, out;
    int n = make(tok, sizeof tok, "room-42", TDM_ROLE_MENTEE, NOW + 60, 0, &inv);
    /* wrong key */
    assert_int_equal(
        tdm_invite_decode(tok, (size_t)n, other_key, sizeof other_key, NOW, &out, err, sizeof err),
        TDM_EAUTH);
    /* every single-character change is refused */
    const char alphabet[] = "AQgw-_09";
    for (int i = 0; i < n; i++) {
        char t2[TDM_INVITE_TOKEN_MAX + 1];
        memcpy(t2, tok, (size_t)n + 1);
        for (size_t a = 0; a < sizeof alphabet - 1; a++) {
            if (alphabet[a] == tok[i])
                continue;
            t2[i] = alphabet[a];
            assert_int_not_equal(
                tdm_invite_decode(t2, (size_t)n, key, sizeof key, NOW, &out, NULL, 0), 0);
        }
    }
    /* expired */
    assert_int_equal(
        tdm_invite_decode(tok, (size_t)n, key, sizeof key, NOW + 60, &out, err, sizeof err),
        TDM_ESTATE);
    /* a mentee token re-signed by someone without the key cannot become coordinator:
       swapping in another token's signature fails */
    char tok2[TDM_INVITE_TOKEN_MAX + 1];
    make(tok2, sizeof tok2, "room-42", TDM_ROLE_COORDINATOR, NOW + 60, 0, &inv);
    char mixed[2 * TDM_INVITE_TOKEN_MAX];
    const char *d1 = strchr(tok, '.'), *d2 = strchr(tok2, '.');
    snprintf(mixed, sizeof mixed, "%.*s%s", (int)(d2 - tok2), tok2, d1);
    assert_int_equal(tdm_invite_decode(mixed, strlen(mixed), key, sizeof key, NOW, &out, NULL, 0),
                     TDM_EAUTH);
}

static void malformed(void **state)
{
    (void)state;
    struct tdm_invite out;
    const char *bad[] = {"", ".", "abc", "abc.", ".abc", "a.b.c", "!!!.???", "AAAA.AAAA"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(
            tdm_invite_decode(bad[i], strlen(bad[i]), key, sizeof key, NOW, &out, NULL, 0),
            TDM_EINVAL);
    char huge[TDM_INVITE_TOKEN_MAX + 10];
    memset(huge, 'A', sizeof huge);
    huge[100] = '.';
    assert_int_equal(tdm_invite_decode(huge, sizeof huge, key, sizeof key, NOW, &out, NULL, 0),
                     TDM_EINVAL);
    assert_int_equal(tdm_invite_decode("a.b", 3, key, 8, NOW, &out, NULL, 0), TDM_EINVAL);
    struct tdm_invite inv;
    assert_int_equal(tdm_invite_new(&inv, "ab", TDM_ROLE_MENTEE, NOW, 0), TDM_EINVAL);
    assert_int_equal(tdm_invite_new(&inv, "a/bc", TDM_ROLE_MENTEE, NOW, 0), TDM_EINVAL);
}

/* Fuzz finding: a correctly signed payload whose room is 65..67 bytes (the decode buffer's
 * slack) was copied into out->room (65 bytes) before the room was checked, writing past it
 * into the struct's padding. Only the key's holder can sign, but decode must stay in bounds. */
static void signed_room_too_long(void **state)
{
    (void)state;
    for (size_t rl = TDM_ROOM_ID_MAX - 1; rl <= TDM_ROOM_ID_MAX + 3; rl++) {
        uint8_t p[32 + TDM_ROOM_ID_MAX + 3] = {TDM_INVITE_VERSION, TDM_ROLE_MENTEE};
        p[5] = 0x7F; /* expiry about 2^39 s: far in the future */
        p[12 + TDM_INVITE_ID_LEN] = (uint8_t)rl;
        size_t n = 13 + TDM_INVITE_ID_LEN + rl;
        memset(p + 13 + TDM_INVITE_ID_LEN, 'r', rl);
        uint8_t tag[32];
        unsigned int tlen = 0;
        assert_non_null(HMAC(EVP_sha256(), key, sizeof key, p, n, tag, &tlen));
        char tok[2 * TDM_INVITE_TOKEN_MAX];
        int a = tdm_b64url_encode(p, n, tok, sizeof tok);
        assert_true(a > 0);
        tok[a] = '.';
        int b = tdm_b64url_encode(tag, sizeof tag, tok + a + 1, sizeof tok - (size_t)a - 1);
        assert_true(b > 0);
        /* decode clears *out first; nothing past room may be written after that */
        union {
            struct tdm_invite inv;
            uint8_t bytes[sizeof(struct tdm_invite)];
        } out;
        int rc =
            tdm_invite_decode(tok, (size_t)(a + 1 + b), key, sizeof key, NOW, &out.inv, NULL, 0);
        assert_int_equal(rc, rl <= TDM_ROOM_ID_MAX ? 0 : TDM_EINVAL);
        for (size_t i = offsetof(struct tdm_invite, room) + sizeof out.inv.room;
             i < sizeof out.bytes; i++)
            assert_int_equal(out.bytes[i], 0);
    }
}

/* A pass names its link and a person; it is neither a token nor taken for one. */
static void passes(void **state)
{
    (void)state;
    char tok[TDM_INVITE_TOKEN_MAX + 1], text[TDM_INVITE_TOKEN_MAX + 1], err[128];
    char room[TDM_ROOM_ID_MAX + 1];
    memset(room, 'r', TDM_ROOM_ID_MAX);
    room[TDM_ROOM_ID_MAX] = '\0';
    struct tdm_invite link, inv;
    struct tdm_pass pass, again, out;
    int n = make(tok, sizeof tok, room, TDM_ROLE_MENTOR, NOW + 600, 1, &link);
    assert_int_equal(tdm_pass_new(&pass, &link), 0);
    assert_int_equal(tdm_pass_new(&again, &link), 0);
    assert_memory_not_equal(pass.person, again.person, TDM_INVITE_ID_LEN);
    int m = tdm_pass_encode(&pass, key, sizeof key, text, sizeof text);
    assert_true(m > 0 && m <= TDM_INVITE_TOKEN_MAX); /* the longest room still fits */
    assert_int_equal(tdm_pass_decode(text, (size_t)m, key, sizeof key, NOW, &out, err, sizeof err),
                     0);
    assert_memory_equal(out.link.id, link.id, TDM_INVITE_ID_LEN);
    assert_memory_equal(out.person, pass.person, TDM_INVITE_ID_LEN);
    assert_string_equal(out.link.room, room);
    assert_int_equal(out.link.role, TDM_ROLE_MENTOR);
    assert_int_equal(out.link.expires_s, NOW + 600);
    assert_int_equal(out.link.uses, 1);
    /* expires with its link; another key's or an altered pass is forged */
    assert_int_equal(
        tdm_pass_decode(text, (size_t)m, key, sizeof key, NOW + 600, &out, err, sizeof err),
        TDM_ESTATE);
    assert_int_equal(
        tdm_pass_decode(text, (size_t)m, other_key, sizeof other_key, NOW, &out, err, sizeof err),
        TDM_EAUTH);
    text[3] = text[3] == 'A' ? 'B' : 'A';
    assert_int_not_equal(tdm_pass_decode(text, (size_t)m, key, sizeof key, NOW, &out, NULL, 0), 0);
    text[3] = text[3] == 'A' ? 'B' : 'A';
    /* a token is not a pass, and a pass is not a token, though both are signed alike */
    assert_int_equal(tdm_pass_decode(tok, (size_t)n, key, sizeof key, NOW, &out, NULL, 0),
                     TDM_EINVAL);
    assert_int_equal(tdm_invite_decode(text, (size_t)m, key, sizeof key, NOW, &inv, NULL, 0),
                     TDM_EINVAL);
}

/* A console capability round-trips; it is neither an invite nor a pass, and neither of
 * those is taken for it (the MAC covers a distinct domain). */
static void console_caps(void **state)
{
    (void)state;
    char text[TDM_INVITE_TOKEN_MAX + 1], tok[TDM_INVITE_TOKEN_MAX + 1],
        ptext[TDM_INVITE_TOKEN_MAX + 1];
    struct tdm_console_cap cap, other, out;
    struct tdm_invite link, inv;
    struct tdm_pass pass, pout;
    assert_int_equal(tdm_console_new(&cap, NOW + 600), 0);
    assert_int_equal(tdm_console_new(&other, NOW + 600), 0);
    assert_memory_not_equal(cap.id, other.id, TDM_INVITE_ID_LEN);
    assert_int_equal(tdm_console_new(&other, 0), TDM_EINVAL);
    int m = tdm_console_encode(&cap, key, sizeof key, text, sizeof text);
    assert_true(m > 0 && m < 100);
    assert_int_equal(tdm_console_decode(text, (size_t)m, key, sizeof key, NOW, &out, NULL, 0), 0);
    assert_memory_equal(out.id, cap.id, TDM_INVITE_ID_LEN);
    assert_int_equal(out.expires_s, NOW + 600);
    assert_int_equal(tdm_console_decode(text, (size_t)m, key, sizeof key, NOW + 600, &out, NULL, 0),
                     TDM_ESTATE);
    assert_int_equal(
        tdm_console_decode(text, (size_t)m, other_key, sizeof other_key, NOW, &out, NULL, 0),
        TDM_EAUTH);
    text[5] = text[5] == 'A' ? 'B' : 'A';
    assert_int_not_equal(tdm_console_decode(text, (size_t)m, key, sizeof key, NOW, &out, NULL, 0),
                         0);
    text[5] = text[5] == 'A' ? 'B' : 'A';
    assert_int_equal(tdm_console_decode(text, 0, key, sizeof key, NOW, &out, NULL, 0), TDM_EINVAL);
    assert_int_equal(tdm_console_decode(text, (size_t)m - 1, key, sizeof key, NOW, &out, NULL, 0),
                     TDM_EINVAL);
    /* an invite or a pass is no console token, and a console token no invite or pass */
    int n = make(tok, sizeof tok, "room1", TDM_ROLE_COORDINATOR, NOW + 600, 0, &link);
    assert_int_not_equal(tdm_console_decode(tok, (size_t)n, key, sizeof key, NOW, &out, NULL, 0),
                         0);
    assert_int_equal(tdm_pass_new(&pass, &link), 0);
    int p = tdm_pass_encode(&pass, key, sizeof key, ptext, sizeof ptext);
    assert_int_not_equal(tdm_console_decode(ptext, (size_t)p, key, sizeof key, NOW, &out, NULL, 0),
                         0);
    assert_int_not_equal(tdm_invite_decode(text, (size_t)m, key, sizeof key, NOW, &inv, NULL, 0),
                         0);
    assert_int_not_equal(tdm_pass_decode(text, (size_t)m, key, sizeof key, NOW, &pout, NULL, 0), 0);
    /* a payload of the console's form signed as an invite (no domain) is refused */
    uint8_t payload[25], tag[32];
    unsigned int tl = 0;
    payload[0] = TDM_CONSOLE_VERSION;
    for (int i = 0; i < 8; i++)
        payload[1 + i] = (uint8_t)((uint64_t)(NOW + 600) >> (56 - 8 * i));
    memset(payload + 9, 7, 16);
    assert_non_null(HMAC(EVP_sha256(), key, sizeof key, payload, sizeof payload, tag, &tl));
    char forged[128];
    int a = tdm_b64url_encode(payload, sizeof payload, forged, sizeof forged);
    forged[a] = '.';
    int b = tdm_b64url_encode(tag, 32, forged + a + 1, sizeof forged - (size_t)a - 1);
    assert_int_equal(
        tdm_console_decode(forged, (size_t)(a + 1 + b), key, sizeof key, NOW, &out, NULL, 0),
        TDM_EAUTH);
}

static void ledger_uses_and_revocation(void **state)
{
    (void)state;
    struct tdm_invite_ledger *l = tdm_invite_ledger_create(4);
    struct tdm_invite once, twice, unlimited;
    char tok[TDM_INVITE_TOKEN_MAX + 1];
    make(tok, sizeof tok, "room", TDM_ROLE_MENTEE, NOW + 100, 1, &once);
    make(tok, sizeof tok, "room", TDM_ROLE_MENTEE, NOW + 100, 2, &twice);
    make(tok, sizeof tok, "room", TDM_ROLE_MENTEE, NOW + 100, 0, &unlimited);
    assert_int_equal(tdm_invite_ledger_check(l, &once), 0);
    assert_int_equal(tdm_invite_ledger_use(l, &once, NOW), 0);
    assert_int_equal(tdm_invite_ledger_check(l, &once), TDM_EFULL);
    assert_int_equal(tdm_invite_ledger_use(l, &once, NOW), TDM_EFULL);
    assert_int_equal(tdm_invite_ledger_use(l, &twice, NOW), 0);
    assert_int_equal(tdm_invite_ledger_use(l, &twice, NOW), 0);
    assert_int_equal(tdm_invite_ledger_use(l, &twice, NOW), TDM_EFULL);
    for (int i = 0; i < 10; i++)
        assert_int_equal(tdm_invite_ledger_use(l, &unlimited, NOW), 0);
    assert_int_equal(tdm_invite_ledger_revoke(l, unlimited.id, unlimited.expires_s, NOW), 0);
    assert_true(tdm_invite_ledger_revoked(l, unlimited.id));
    assert_int_equal(tdm_invite_ledger_use(l, &unlimited, NOW), TDM_EPERM);
    /* full of live entries: refused; once they expire, the space comes back */
    struct tdm_invite a, b;
    make(tok, sizeof tok, "room", TDM_ROLE_MENTEE, NOW + 100, 1, &a);
    make(tok, sizeof tok, "room", TDM_ROLE_MENTEE, NOW + 100, 1, &b);
    assert_int_equal(tdm_invite_ledger_use(l, &a, NOW), 0);
    assert_int_equal(tdm_invite_ledger_use(l, &b, NOW), TDM_ELIMIT);
    assert_int_equal(tdm_invite_ledger_use(l, &b, NOW + 101), 0);
    tdm_invite_ledger_destroy(l);
    /* revoking into a full ledger: refused while the others live, taken once one expired */
    struct tdm_invite_ledger *small = tdm_invite_ledger_create(2);
    struct tdm_invite x, y, c;
    make(tok, sizeof tok, "room", TDM_ROLE_MENTEE, NOW + 100, 1, &x);
    make(tok, sizeof tok, "room", TDM_ROLE_MENTEE, NOW + 300, 1, &y);
    make(tok, sizeof tok, "room", TDM_ROLE_MENTEE, NOW + 500, 1, &c);
    assert_int_equal(tdm_invite_ledger_use(small, &x, NOW), 0);
    assert_int_equal(tdm_invite_ledger_use(small, &y, NOW), 0);
    assert_int_equal(tdm_invite_ledger_revoke(small, c.id, c.expires_s, NOW + 50), TDM_ELIMIT);
    assert_false(tdm_invite_ledger_revoked(small, c.id));
    assert_int_equal(tdm_invite_ledger_revoke(small, c.id, c.expires_s, NOW + 150), 0);
    assert_true(tdm_invite_ledger_revoked(small, c.id));
    assert_int_equal(tdm_invite_ledger_use(small, &y, NOW + 150), TDM_EFULL); /* y was kept */
    tdm_invite_ledger_destroy(small);
}

static void id_text(void **state)
{
    (void)state;
    struct tdm_invite inv;
    char text[TDM_INVITE_ID_TEXT];
    uint8_t id[TDM_INVITE_ID_LEN];
    assert_int_equal(tdm_invite_new(&inv, "room", TDM_ROLE_MENTEE, NOW, 0), 0);
    tdm_invite_id_text(inv.id, text);
    assert_int_equal(strlen(text), TDM_INVITE_ID_TEXT - 1);
    assert_int_equal(tdm_invite_id_parse(text, strlen(text), id), 0);
    assert_memory_equal(id, inv.id, TDM_INVITE_ID_LEN);
    assert_int_equal(tdm_invite_id_parse("short", 5, id), TDM_EINVAL);
}

struct collect {
    struct tdm_invite_record r[8];
    size_t n;
};

static void collect_one(const struct tdm_invite_record *r, void *arg)
{
    struct collect *c = arg;
    if (c->n < 8)
        c->r[c->n++] = *r;
}

/* What a restart replays: saved records merge (larger count, later expiry, revoked wins),
 * expired ones are skipped, and each lists back what it holds. */
static void ledger_save_and_restore(void **state)
{
    (void)state;
    struct tdm_invite_ledger *l = tdm_invite_ledger_create(4);
    struct tdm_invite once, open_link;
    char tok[TDM_INVITE_TOKEN_MAX + 1];
    make(tok, sizeof tok, "room", TDM_ROLE_MENTEE, NOW + 100, 1, &once);
    make(tok, sizeof tok, "room", TDM_ROLE_MENTOR, NOW + 200, 0, &open_link);
    assert_int_equal(tdm_invite_ledger_use(l, &once, NOW), 0);
    assert_int_equal(tdm_invite_ledger_revoke(l, open_link.id, open_link.expires_s, NOW), 0);
    struct collect saved = {0};
    assert_int_equal(tdm_invite_ledger_each(l, NOW, collect_one, &saved), 2);
    assert_int_equal(tdm_invite_ledger_each(l, NOW + 150, collect_one, &(struct collect){0}), 1);
    tdm_invite_ledger_destroy(l);

    /* a fresh ledger (the server restarted) from the saved lines */
    struct tdm_invite_ledger *again = tdm_invite_ledger_create(4);
    for (size_t i = 0; i < saved.n; i++) {
        char line[TDM_INVITE_RECORD_TEXT];
        int n = tdm_invite_record_format(&saved.r[i], line, sizeof line);
        assert_true(n > 0 && line[n - 1] == '\n');
        struct tdm_invite_record back;
        assert_int_equal(tdm_invite_record_parse(line, (size_t)n - 1, &back), 0);
        assert_memory_equal(&back, &saved.r[i], sizeof back);
        assert_int_equal(tdm_invite_ledger_restore(again, &back, NOW + 1), 0);
    }
    assert_int_equal(tdm_invite_ledger_use(again, &once, NOW + 1), TDM_EFULL);
    assert_int_equal(tdm_invite_ledger_use(again, &open_link, NOW + 1), TDM_EPERM);
    /* an older line of the same entry (fewer uses, not withdrawn) takes nothing back */
    struct tdm_invite_record older = {.expires_s = open_link.expires_s, .used = 0};
    memcpy(older.id, open_link.id, TDM_INVITE_ID_LEN);
    assert_int_equal(tdm_invite_ledger_restore(again, &older, NOW + 1), 0);
    assert_true(tdm_invite_ledger_revoked(again, open_link.id));
    /* expired records are skipped, nonsense expiry refused */
    struct tdm_invite_record dead = {.expires_s = NOW - 1, .revoked = true};
    memset(dead.id, 7, sizeof dead.id);
    assert_int_equal(tdm_invite_ledger_restore(again, &dead, NOW), 0);
    assert_false(tdm_invite_ledger_revoked(again, dead.id));
    dead.expires_s = 0;
    assert_int_equal(tdm_invite_ledger_restore(again, &dead, NOW), TDM_EINVAL);
    assert_int_equal(tdm_invite_ledger_count(again), 2);
    tdm_invite_ledger_destroy(again);
}

/* Journal lines are outside input (a file someone may have edited or a crash cut short). */
static void record_lines_refused(void **state)
{
    (void)state;
    struct tdm_invite_record r;
    const char *good = "AAECAwQFBgcICQoLDA0ODw 1800000100 3 r";
    assert_int_equal(tdm_invite_record_parse(good, strlen(good), &r), 0);
    assert_int_equal(r.expires_s, 1800000100LL);
    assert_int_equal(r.used, 3);
    assert_true(r.revoked);
    assert_int_equal(r.id[15], 15);
    const char *bad[] = {
        "",
        "AAECAwQFBgcICQoLDA0ODw",
        "AAECAwQFBgcICQoLDA0ODw 1800000100 3",
        "AAECAwQFBgcICQoLDA0ODw 1800000100 3 x",
        "AAECAwQFBgcICQoLDA0ODw 1800000100 3 r ",
        "AAECAwQFBgcICQoLDA0ODw  1800000100 3 r",
        "AAECAwQFBgcICQoLDA0ODw 01800000100 3 r",
        "AAECAwQFBgcICQoLDA0ODw -1800000100 3 r",
        "AAECAwQFBgcICQoLDA0ODw 0 3 r",
        "AAECAwQFBgcICQoLDA0ODw 1800000100 65536 r",
        "AAECAwQFBgcICQoLDA0ODw 99999999999999999999 1 r",
        "AAECAwQFBgcICQoLDA0OD! 1800000100 3 r",
        "AAECAwQFBgcICQoLDA0ODwA 1800000100 3 r",
        "AAECAwQFBgcICQoLDA0ODw 1800000100 3 r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(tdm_invite_record_parse(bad[i], strlen(bad[i]), &r), TDM_EINVAL);
    /* NUL inside the given length */
    char nul[] = "AAECAwQFBgcICQoLDA0ODw 18\0000000100 3 r";
    assert_int_equal(tdm_invite_record_parse(nul, sizeof nul - 1, &r), TDM_EINVAL);
}

/* Lines with what the link allows (for tandem invite --list), and the older lines without. */
static void record_lines_with_link(void **state)
{
    (void)state;
    struct tdm_invite_ledger *l = tdm_invite_ledger_create(8);
    struct tdm_invite inv;
    struct tdm_invite_record r, back;
    char line[TDM_INVITE_RECORD_TEXT];
    assert_int_equal(tdm_invite_new(&inv, "room-42", TDM_ROLE_COORDINATOR, NOW + 60, 65535), 0);
    assert_int_equal(tdm_invite_ledger_note(l, &inv, NOW), 0);
    assert_true(tdm_invite_ledger_get(l, inv.id, &r));
    assert_true(r.known);
    assert_int_equal(r.used, 0);
    assert_int_equal(tdm_invite_ledger_use(l, &inv, NOW), 0);
    assert_true(tdm_invite_ledger_get(l, inv.id, &r));
    assert_int_equal(r.used, 1);
    r.expires_s = 4611686018427387904LL; /* 2^62: the longest line */
    int n = tdm_invite_record_format(&r, line, sizeof line);
    assert_true(n > 0);
    assert_non_null(strstr(line, " 65535 coordinator\n"));
    assert_int_equal(tdm_invite_record_parse(line, (size_t)n - 1, &back), 0);
    assert_true(back.known);
    assert_int_equal(back.role, TDM_ROLE_COORDINATOR);
    assert_int_equal(back.uses, 65535);
    assert_int_equal(back.used, 1);
    /* an older line: no link details */
    r.known = false;
    n = tdm_invite_record_format(&r, line, sizeof line);
    assert_int_equal(tdm_invite_record_parse(line, (size_t)n - 1, &back), 0);
    assert_false(back.known);
    /* restore learns the details; a bare withdrawal line keeps them */
    struct tdm_invite_ledger *m = tdm_invite_ledger_create(8);
    r.known = true;
    r.revoked = false;
    assert_int_equal(tdm_invite_ledger_restore(m, &r, NOW), 0);
    r.known = false;
    r.revoked = true;
    assert_int_equal(tdm_invite_ledger_restore(m, &r, NOW), 0);
    assert_true(tdm_invite_ledger_get(m, inv.id, &back));
    assert_true(back.known && back.revoked);
    assert_int_equal(back.role, TDM_ROLE_COORDINATOR);
    const char *bad[] = {" 1 mentee", " 1 boss",    " 65536 mentee", " 01 mentee", " 1",
                         " 1 ",       "  1 mentee", " 1 mentee ",    " x mentee"};
    char id[TDM_INVITE_ID_TEXT];
    tdm_invite_id_text(inv.id, id);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(line, sizeof line, "%s 100 0 u%s", id, bad[i]);
        int want = i == 0 ? 0 : TDM_EINVAL;
        assert_int_equal(tdm_invite_record_parse(line, strlen(line), &back), want);
    }
    tdm_invite_ledger_destroy(l);
    tdm_invite_ledger_destroy(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip),
        cmocka_unit_test(forged_altered_expired),
        cmocka_unit_test(malformed),
        cmocka_unit_test(signed_room_too_long),
        cmocka_unit_test(passes),
        cmocka_unit_test(console_caps),
        cmocka_unit_test(ledger_uses_and_revocation),
        cmocka_unit_test(id_text),
        cmocka_unit_test(ledger_save_and_restore),
        cmocka_unit_test(record_lines_refused),
        cmocka_unit_test(record_lines_with_link),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
