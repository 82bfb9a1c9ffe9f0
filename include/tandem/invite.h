/* Invite tokens: a signed statement "this link lets its holder into room R as role X until
 * time T, at most N times", carried in the room link's fragment (after '#') so it never
 * reaches request lines, logs or Referer headers.
 *
 * Token text: base64url(payload) "." base64url(HMAC-SHA256(secret, payload)), where
 * payload = version(1) role(1) expires(8, Unix seconds, big-endian) uses(2, 0 = unlimited)
 * id(16 random bytes) room_len(1) room(room_len). Verification is constant-time.
 * The ledger counts uses and holds revocations; it keeps no room names and no people. */
#ifndef TANDEM_INVITE_H
#define TANDEM_INVITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tandem/room.h"

#define TDM_INVITE_VERSION 1
#define TDM_INVITE_ID_LEN 16
#define TDM_INVITE_KEY_MIN 32
#define TDM_INVITE_TOKEN_MAX 256 /* characters; longer input is refused unread */
#define TDM_INVITE_ID_TEXT 23    /* base64url of the id + NUL */

struct tdm_invite {
    enum tdm_role role;
    int64_t expires_s; /* Unix seconds */
    uint16_t uses;     /* 0 = unlimited */
    uint8_t id[TDM_INVITE_ID_LEN];
    char room[TDM_ROOM_ID_MAX + 1];
};

/* Makes a new invite with a random id. Returns 0, TDM_EINVAL (bad room) or TDM_ECRYPTO. */
int tdm_invite_new(struct tdm_invite *inv, const char *room, enum tdm_role role, int64_t expires_s,
                   uint16_t uses);

/* Writes the token text into out (NUL-terminated). key: at least TDM_INVITE_KEY_MIN bytes.
 * Returns the length or TDM_ETOOBIG / TDM_EINVAL / TDM_ECRYPTO. */
int tdm_invite_encode(const struct tdm_invite *inv, const uint8_t *key, size_t keylen, char *out,
                      size_t cap);

/* Checks a token. Returns 0 with *out filled, or:
 *   TDM_EINVAL  malformed (err says how), TDM_EAUTH  forged or altered,
 *   TDM_ESTATE  expired (now_s >= expires_s). The signature is checked before anything in
 * the payload is believed. */
int tdm_invite_decode(const char *tok, size_t len, const uint8_t *key, size_t keylen, int64_t now_s,
                      struct tdm_invite *out, char *err, size_t errlen);

/* The invite id as base64url text (for `tandem invite --revoke` and logs). */
void tdm_invite_id_text(const uint8_t id[TDM_INVITE_ID_LEN], char out[TDM_INVITE_ID_TEXT]);
int tdm_invite_id_parse(const char *text, size_t len, uint8_t id[TDM_INVITE_ID_LEN]);

/* Person passes: the first join with a limited link gives its holder a pass, so that a
 * reload, a reconnect or a server restart brings the same person back without using the
 * link again. A pass is signed like a token, with its own version byte (a pass is never
 * taken for a token, nor a token for a pass): payload = version(1) role(1) expires(8) uses(2)
 * link id(16) person id(16, random) room_len(1) room. It names the link, so it expires with
 * it and is withdrawn with it (the ledger holds only the link's entry); the server keeps no
 * list of passes. */
#define TDM_PASS_VERSION 2

struct tdm_pass {
    struct tdm_invite link; /* the link the pass was made for */
    uint8_t person[TDM_INVITE_ID_LEN];
};

/* A pass for link with a new random person id. Returns 0 or TDM_ECRYPTO. */
int tdm_pass_new(struct tdm_pass *pass, const struct tdm_invite *link);
/* As tdm_invite_encode; the text fits in TDM_INVITE_TOKEN_MAX. */
int tdm_pass_encode(const struct tdm_pass *pass, const uint8_t *key, size_t keylen, char *out,
                    size_t cap);
/* As tdm_invite_decode: 0, TDM_EINVAL (malformed, or a token), TDM_EAUTH (forged) or
 * TDM_ESTATE (its link expired). */
int tdm_pass_decode(const char *text, size_t len, const uint8_t *key, size_t keylen, int64_t now_s,
                    struct tdm_pass *out, char *err, size_t errlen);

/* Console capabilities: a long-lived statement "the holder may run the coordinator console
 * until time T", carried in the console link's fragment. Signed with the invite key, but over
 * a distinct domain (the MAC covers TDM_CONSOLE_DOMAIN, then the payload) and with its own
 * version byte, so that an invite or a pass is never taken for a console token, nor the other
 * way round. payload = version(1) expires(8) id(16 random). It is withdrawn by its id in the
 * invite ledger, like a link. */
#define TDM_CONSOLE_VERSION 3
#define TDM_CONSOLE_DOMAIN "tandem console capability"

struct tdm_console_cap {
    int64_t expires_s;
    uint8_t id[TDM_INVITE_ID_LEN];
};

/* A new capability with a random id. Returns 0, TDM_EINVAL (expires_s <= 0) or TDM_ECRYPTO. */
int tdm_console_new(struct tdm_console_cap *cap, int64_t expires_s);
/* As tdm_invite_encode. */
int tdm_console_encode(const struct tdm_console_cap *cap, const uint8_t *key, size_t keylen,
                       char *out, size_t outcap);
/* As tdm_invite_decode: 0, TDM_EINVAL (malformed, or an invite or pass), TDM_EAUTH (forged)
 * or TDM_ESTATE (expired). */
int tdm_console_decode(const char *text, size_t len, const uint8_t *key, size_t keylen,
                       int64_t now_s, struct tdm_console_cap *out, char *err, size_t errlen);

/* Use counts and revocations, bounded. Not thread-safe (the control thread owns it). */
struct tdm_invite_ledger;
struct tdm_invite_ledger *tdm_invite_ledger_create(size_t max_entries);
void tdm_invite_ledger_destroy(struct tdm_invite_ledger *l);
/* Records one use of inv if it is neither revoked nor used up. Returns 0, TDM_EPERM
 * (revoked), TDM_EFULL (used up) or TDM_ELIMIT (ledger full of live entries). */
int tdm_invite_ledger_use(struct tdm_invite_ledger *l, const struct tdm_invite *inv, int64_t now_s);
/* Notes a link just made (no use yet), so that it can be listed (tandem invite --list)
 * while it is valid. Returns 0 or TDM_ELIMIT. */
int tdm_invite_ledger_note(struct tdm_invite_ledger *l, const struct tdm_invite *inv,
                           int64_t now_s);
/* The same verdict as tdm_invite_ledger_use without recording anything. */
int tdm_invite_ledger_check(const struct tdm_invite_ledger *l, const struct tdm_invite *inv);
/* Revokes an id until expires_s (INT64_MAX: for ever); a full ledger first drops what
 * expired by now_s. Returns 0 or TDM_ELIMIT (full of live entries). */
int tdm_invite_ledger_revoke(struct tdm_invite_ledger *l, const uint8_t id[TDM_INVITE_ID_LEN],
                             int64_t expires_s, int64_t now_s);
bool tdm_invite_ledger_revoked(const struct tdm_invite_ledger *l,
                               const uint8_t id[TDM_INVITE_ID_LEN]);

/* One ledger entry as it is saved, so that a restart neither forgets a withdrawn link nor
 * gives a used-up one its uses back. */
struct tdm_invite_record {
    uint8_t id[TDM_INVITE_ID_LEN];
    int64_t expires_s;
    uint16_t used;
    bool revoked;
    /* what the link allows, when known (a link made or used here; a withdrawal of an id
     * seen only by its id does not know it) */
    bool known;
    enum tdm_role role;
    uint16_t uses; /* the link's limit, 0 = unlimited */
};
#define TDM_INVITE_RECORD_TEXT 96 /* one line of text, newline and NUL included */

/* Puts a saved entry back. Expired entries are skipped (0); otherwise the entry is merged
 * with what is there (the larger use count, the later expiry, revoked if either is).
 * Returns 0 or TDM_ELIMIT (full of live entries), TDM_EINVAL (expires_s <= 0). */
int tdm_invite_ledger_restore(struct tdm_invite_ledger *l, const struct tdm_invite_record *r,
                              int64_t now_s);
/* The entry for id; false when there is none. */
bool tdm_invite_ledger_get(const struct tdm_invite_ledger *l, const uint8_t id[TDM_INVITE_ID_LEN],
                           struct tdm_invite_record *out);
/* Calls fn for every entry not expired by now_s; returns how many. */
size_t tdm_invite_ledger_each(const struct tdm_invite_ledger *l, int64_t now_s,
                              void (*fn)(const struct tdm_invite_record *r, void *arg), void *arg);
size_t tdm_invite_ledger_count(const struct tdm_invite_ledger *l);

/* A record as one line: "<id base64url> <expires_s> <used> <r|u>[ <uses> <role>]\n" (the
 * last two when known; lines without them, from older servers, are read too). Returns its
 * length or TDM_ETOOBIG. Parse takes one line without its newline: exactly that form
 * (decimal numbers without sign or leading zeros, expires_s 1..2^62, used and uses 0..65535,
 * role mentee, mentor or coordinator), or TDM_EINVAL. */
int tdm_invite_record_format(const struct tdm_invite_record *r, char *out, size_t cap);
int tdm_invite_record_parse(const char *line, size_t len, struct tdm_invite_record *r);

#endif
