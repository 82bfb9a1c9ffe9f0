/* The check-in after a call ("Did the call work well for you?"): answers counted per room,
 * anonymously, in memory, for the coordinator (docs/protocol.md "Check-in").
 *
 * When a person joins, the server issues a check-in token bound to the room (not to the
 * person). The page shows the question once the person has left, and answers with the token:
 * one answer per token, within TDM_CHECKIN_TOKEN_TTL_US. A room's counts are kept while
 * answers keep coming, and forgotten TDM_CHECKIN_ROOM_TTL_US after its last answer. Both
 * tables are bounded; when one is full its oldest entry goes. Nothing else is kept: no
 * person, no time of the answer, no order of answers.
 *
 * Sans-IO: the caller hands in the time and the token's random bytes. */
#ifndef TANDEM_CHECKIN_H
#define TANDEM_CHECKIN_H

#include <stddef.h>
#include <stdint.h>

#include "tandem/room.h"

#define TDM_CHECKIN_TOKEN_LEN 22 /* base64url of 16 random bytes */
#define TDM_CHECKIN_TOKEN_TTL_US (2LL * 3600 * 1000000)
#define TDM_CHECKIN_ROOM_TTL_US (30LL * 86400 * 1000000)

enum tdm_checkin_answer { TDM_CHECKIN_FINE, TDM_CHECKIN_SOME, TDM_CHECKIN_MANY, TDM_CHECKIN_N };

struct tdm_checkin_counts {
    uint32_t n[TDM_CHECKIN_N];
    uint32_t poor; /* times someone's connection in the room became poor (media.quality) */
};

struct tdm_checkin;

struct tdm_checkin *tdm_checkin_create(size_t max_tokens, size_t max_rooms);
void tdm_checkin_destroy(struct tdm_checkin *ck);

/* A new token for room_id from 16 random bytes; out gets TDM_CHECKIN_TOKEN_LEN + 1 bytes.
 * Returns 0 or TDM_EINVAL (bad room id). */
int tdm_checkin_issue(struct tdm_checkin *ck, const char *room_id, const uint8_t rnd[16],
                      int64_t now, char *out, size_t outlen);

/* "fine" / "some" / "many" -> answer; 0 or TDM_EINVAL. */
int tdm_checkin_parse_answer(const char *s, enum tdm_checkin_answer *out);

/* Counts one answer and spends the token. Returns 0, TDM_ENOTFOUND (unknown, spent or
 * expired token) or TDM_EINVAL. */
int tdm_checkin_answer(struct tdm_checkin *ck, const char *token, size_t token_len,
                       enum tdm_checkin_answer a, int64_t now);

/* Counts one time a connection in room_id became poor (no person, no time kept beyond the
 * room's own TTL). Returns 0 or TDM_EINVAL (bad room id). */
int tdm_checkin_note_poor(struct tdm_checkin *ck, const char *room_id, int64_t now);

/* The counts of room_id (all zero when none are kept). */
void tdm_checkin_counts(const struct tdm_checkin *ck, const char *room_id, int64_t now,
                        struct tdm_checkin_counts *out);

#endif
