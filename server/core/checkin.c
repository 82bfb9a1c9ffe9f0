/* Check-in answers counted per room (tandem/checkin.h). Two small tables searched linearly:
 * a few thousand entries at most, touched a few times per call. Tokens are compared in
 * constant time. */
#include "tandem/checkin.h"

#include "tandem/err.h"
#include "tandem/util.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct token {
    char tok[TDM_CHECKIN_TOKEN_LEN + 1]; /* "" = free */
    char room[TDM_ROOM_ID_MAX + 1];
    int64_t issued_us;
};

struct room_counts {
    char room[TDM_ROOM_ID_MAX + 1]; /* "" = free */
    struct tdm_checkin_counts c;
    int64_t last_us;
};

struct tdm_checkin {
    struct token *tokens;
    size_t max_tokens;
    struct room_counts *rooms;
    size_t max_rooms;
};

struct tdm_checkin *tdm_checkin_create(size_t max_tokens, size_t max_rooms)
{
    if (max_tokens == 0 || max_rooms == 0)
        return NULL;
    struct tdm_checkin *ck = calloc(1, sizeof *ck);
    if (!ck)
        return NULL;
    ck->tokens = calloc(max_tokens, sizeof *ck->tokens);
    ck->rooms = calloc(max_rooms, sizeof *ck->rooms);
    if (!ck->tokens || !ck->rooms) {
        tdm_checkin_destroy(ck);
        return NULL;
    }
    ck->max_tokens = max_tokens;
    ck->max_rooms = max_rooms;
    return ck;
}

void tdm_checkin_destroy(struct tdm_checkin *ck)
{
    if (!ck)
        return;
    if (ck->tokens)
        OPENSSL_cleanse(ck->tokens, ck->max_tokens * sizeof *ck->tokens);
    free(ck->tokens);
    free(ck->rooms);
    free(ck);
}

static bool token_live(const struct token *t, int64_t now)
{
    return t->tok[0] && now - t->issued_us < TDM_CHECKIN_TOKEN_TTL_US;
}

int tdm_checkin_issue(struct tdm_checkin *ck, const char *room_id, const uint8_t rnd[16],
                      int64_t now, char *out, size_t outlen)
{
    if (!room_id || !tdm_room_id_valid(room_id, strlen(room_id)) ||
        outlen < TDM_CHECKIN_TOKEN_LEN + 1)
        return TDM_EINVAL;
    /* a free or expired slot, else the oldest */
    struct token *slot = &ck->tokens[0];
    for (size_t i = 0; i < ck->max_tokens; i++) {
        struct token *t = &ck->tokens[i];
        if (!token_live(t, now)) {
            slot = t;
            break;
        }
        if (t->issued_us < slot->issued_us)
            slot = t;
    }
    if (tdm_b64url_encode(rnd, 16, slot->tok, sizeof slot->tok) != TDM_CHECKIN_TOKEN_LEN)
        return TDM_EINVAL;
    snprintf(slot->room, sizeof slot->room, "%s", room_id);
    slot->issued_us = now;
    memcpy(out, slot->tok, TDM_CHECKIN_TOKEN_LEN + 1);
    return 0;
}

int tdm_checkin_parse_answer(const char *s, enum tdm_checkin_answer *out)
{
    static const char *const names[TDM_CHECKIN_N] = {"fine", "some", "many"};
    for (int i = 0; s && i < TDM_CHECKIN_N; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = (enum tdm_checkin_answer)i;
            return 0;
        }
    return TDM_EINVAL;
}

static struct room_counts *find_room(const struct tdm_checkin *ck, const char *room, int64_t now)
{
    for (size_t i = 0; i < ck->max_rooms; i++) {
        struct room_counts *r = &ck->rooms[i];
        if (r->room[0] && now - r->last_us < TDM_CHECKIN_ROOM_TTL_US && strcmp(r->room, room) == 0)
            return r;
    }
    return NULL;
}

static struct room_counts *new_room(struct tdm_checkin *ck, const char *room, int64_t now)
{
    struct room_counts *slot = &ck->rooms[0];
    for (size_t i = 0; i < ck->max_rooms; i++) {
        struct room_counts *r = &ck->rooms[i];
        if (!r->room[0] || now - r->last_us >= TDM_CHECKIN_ROOM_TTL_US) {
            slot = r;
            break;
        }
        if (r->last_us < slot->last_us)
            slot = r;
    }
    memset(slot, 0, sizeof *slot);
    snprintf(slot->room, sizeof slot->room, "%s", room);
    return slot;
}

int tdm_checkin_answer(struct tdm_checkin *ck, const char *token, size_t token_len,
                       enum tdm_checkin_answer a, int64_t now)
{
    if (!token || token_len != TDM_CHECKIN_TOKEN_LEN || (unsigned)a >= TDM_CHECKIN_N)
        return TDM_EINVAL;
    struct token *hit = NULL;
    for (size_t i = 0; i < ck->max_tokens; i++) {
        struct token *t = &ck->tokens[i];
        /* every live slot is compared, in constant time, whatever matched before */
        if (token_live(t, now) && CRYPTO_memcmp(t->tok, token, TDM_CHECKIN_TOKEN_LEN) == 0)
            hit = t;
    }
    if (!hit)
        return TDM_ENOTFOUND;
    struct room_counts *r = find_room(ck, hit->room, now);
    if (!r)
        r = new_room(ck, hit->room, now);
    if (r->c.n[a] < UINT32_MAX)
        r->c.n[a]++;
    r->last_us = now;
    OPENSSL_cleanse(hit, sizeof *hit);
    return 0;
}

int tdm_checkin_note_poor(struct tdm_checkin *ck, const char *room_id, int64_t now)
{
    if (!room_id || !room_id[0] || strlen(room_id) > TDM_ROOM_ID_MAX)
        return TDM_EINVAL;
    struct room_counts *r = find_room(ck, room_id, now);
    if (!r)
        r = new_room(ck, room_id, now);
    if (r->c.poor < UINT32_MAX)
        r->c.poor++;
    r->last_us = now;
    return 0;
}

void tdm_checkin_counts(const struct tdm_checkin *ck, const char *room_id, int64_t now,
                        struct tdm_checkin_counts *out)
{
    memset(out, 0, sizeof *out);
    const struct room_counts *r = room_id ? find_room(ck, room_id, now) : NULL;
    if (r)
        *out = r->c;
}
