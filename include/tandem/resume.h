/* Resume tokens (docs/protocol.md "Resuming after a cut"): one secret per participant that
 * lets a page whose WebSocket dropped take its participant back on a new connection, within
 * a bounded grace period after the cut.
 *
 * A token is 32 random bytes from OpenSSL's generator (43 characters of base64url), bound to
 * one participant (room id + participant id). It is single use: tdm_resume_take spends it,
 * and the caller issues the next one (rotation). Issuing a token for a participant replaces
 * its earlier one. While the participant's connection is up its token does not expire; once
 * suspended (the connection went) it works until the given deadline, and the participant
 * is handed back by tdm_resume_pop_expired after that. Forgetting a participant (it left,
 * was removed, the call ended) kills its token.
 *
 * Lookups compare the presented token with every stored one in constant time (no early
 * exit, no data-dependent branch on the secret). Sans-IO: time is an argument. Bounded:
 * at most max_entries participants. Not thread-safe (the control thread owns it). */
#ifndef TANDEM_RESUME_H
#define TANDEM_RESUME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tandem/room.h"

#define TDM_RESUME_SECRET_LEN 32
#define TDM_RESUME_TOKEN_LEN 43 /* base64url of TDM_RESUME_SECRET_LEN bytes, no padding */

struct tdm_resume_table;

int tdm_resume_create(size_t max_entries, struct tdm_resume_table **out);
void tdm_resume_destroy(struct tdm_resume_table *t); /* NULL is fine */

/* A new token for participant pid of room, replacing its earlier one; written to out
 * (NUL-terminated, cap >= TDM_RESUME_TOKEN_LEN + 1). The participant counts as connected
 * (no expiry). Returns 0, TDM_EINVAL (bad ids, small cap), TDM_EFULL (max_entries other
 * participants hold tokens) or TDM_ECRYPTO (no randomness). */
int tdm_resume_issue(struct tdm_resume_table *t, const char *room, const char *pid, char *out,
                     size_t cap);

/* pid's connection went: its token works until `until` (monotonic microseconds). Returns 0
 * or TDM_ENOTFOUND. */
int tdm_resume_suspend(struct tdm_resume_table *t, const char *pid, int64_t until);

/* Spends a token: 0 with the room and participant it was bound to (the entry is gone; the
 * caller issues a new token). TDM_ENOTFOUND: no such token (wrong, spent, forgotten,
 * malformed); TDM_ESTATE: it expired (its participant is still handed out by
 * tdm_resume_pop_expired). */
int tdm_resume_take(struct tdm_resume_table *t, const char *token, size_t len, int64_t now,
                    char room[TDM_ROOM_ID_MAX + 1], char pid[TDM_PARTICIPANT_ID_LEN + 1]);

/* pid left for good: its token dies. No effect when it has none. */
void tdm_resume_forget(struct tdm_resume_table *t, const char *pid);

/* The earliest deadline of a suspended participant (INT64_MAX: none). */
int64_t tdm_resume_deadline(const struct tdm_resume_table *t);

/* One suspended participant whose deadline is <= now, removed from the table: true with its
 * room and id; false when none. */
bool tdm_resume_pop_expired(struct tdm_resume_table *t, int64_t now, char room[TDM_ROOM_ID_MAX + 1],
                            char pid[TDM_PARTICIPANT_ID_LEN + 1]);

size_t tdm_resume_count(const struct tdm_resume_table *t);

#endif
