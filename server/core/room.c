#include "tandem/room.h"
#include "tandem/err.h"
#include "tandem/util.h"

#include <stdlib.h>
#include <string.h>

struct tdm_room {
    char id[TDM_ROOM_ID_MAX + 1];
    uint32_t log_id;
    struct tdm_room *next_in_bucket;
    size_t count;
    size_t cap;
    void *user;
    void *channels;
    bool locked, lobby;
    struct tdm_participant **members; /* arrival order, cap entries */
};

struct tdm_rooms {
    size_t max_rooms;
    size_t max_per_room;
    size_t count;
    size_t nbuckets; /* power of two */
    uint32_t next_room_log_id;
    uint32_t next_participant_log_id;
    struct tdm_room **buckets;
};

const char *tdm_role_name(enum tdm_role role)
{
    switch (role) {
    case TDM_ROLE_MENTOR: return "mentor";
    case TDM_ROLE_COORDINATOR: return "coordinator";
    case TDM_ROLE_MENTEE:
    default: return "mentee";
    }
}

int tdm_role_parse(const char *s, size_t len, enum tdm_role *out)
{
    static const struct {
        const char *name;
        enum tdm_role role;
    } roles[] = {{"mentee", TDM_ROLE_MENTEE},
                 {"mentor", TDM_ROLE_MENTOR},
                 {"coordinator", TDM_ROLE_COORDINATOR}};
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++) {
        if (strlen(roles[i].name) == len && memcmp(roles[i].name, s, len) == 0) {
            *out = roles[i].role;
            return 0;
        }
    }
    return TDM_EINVAL;
}

bool tdm_room_id_valid(const char *s, size_t len)
{
    if (!s || len < TDM_ROOM_ID_MIN || len > TDM_ROOM_ID_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_';
        if (!ok)
            return false;
    }
    return true;
}

/* FNV-1a: room ids are random or chosen by a coordinator; the table is bounded by
 * max_rooms and sized so chains stay short. */
static size_t hash_id(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

struct tdm_rooms *tdm_rooms_create(size_t max_rooms, size_t max_participants_per_room)
{
    if (max_rooms == 0 || max_participants_per_room == 0 || max_rooms > 1000000 ||
        max_participants_per_room > 10000)
        return NULL;
    struct tdm_rooms *rs = calloc(1, sizeof *rs);
    if (!rs)
        return NULL;
    rs->max_rooms = max_rooms;
    rs->max_per_room = max_participants_per_room;
    rs->nbuckets = 16;
    while (rs->nbuckets < max_rooms)
        rs->nbuckets <<= 1;
    rs->buckets = calloc(rs->nbuckets, sizeof *rs->buckets);
    if (!rs->buckets) {
        free(rs);
        return NULL;
    }
    return rs;
}

static void room_free(struct tdm_room *r)
{
    for (size_t i = 0; i < r->count; i++)
        free(r->members[i]);
    free(r->members);
    free(r);
}

void tdm_rooms_destroy(struct tdm_rooms *rs)
{
    if (!rs)
        return;
    for (size_t b = 0; b < rs->nbuckets; b++) {
        struct tdm_room *r = rs->buckets[b];
        while (r) {
            struct tdm_room *next = r->next_in_bucket;
            room_free(r);
            r = next;
        }
    }
    free(rs->buckets);
    free(rs);
}

size_t tdm_rooms_count(const struct tdm_rooms *rs)
{
    return rs->count;
}

struct tdm_room *tdm_rooms_find(struct tdm_rooms *rs, const char *room_id)
{
    struct tdm_room *r = rs->buckets[hash_id(room_id) & (rs->nbuckets - 1)];
    for (; r; r = r->next_in_bucket)
        if (strcmp(r->id, room_id) == 0)
            return r;
    return NULL;
}

static struct tdm_room *room_create(struct tdm_rooms *rs, const char *room_id)
{
    struct tdm_room *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->members = calloc(rs->max_per_room, sizeof *r->members);
    if (!r->members) {
        free(r);
        return NULL;
    }
    memcpy(r->id, room_id, strlen(room_id) + 1);
    r->cap = rs->max_per_room;
    r->log_id = ++rs->next_room_log_id;
    size_t b = hash_id(room_id) & (rs->nbuckets - 1);
    r->next_in_bucket = rs->buckets[b];
    rs->buckets[b] = r;
    rs->count++;
    return r;
}

static void room_unlink(struct tdm_rooms *rs, struct tdm_room *r)
{
    struct tdm_room **pp = &rs->buckets[hash_id(r->id) & (rs->nbuckets - 1)];
    while (*pp && *pp != r)
        pp = &(*pp)->next_in_bucket;
    if (*pp)
        *pp = r->next_in_bucket;
    rs->count--;
}

int tdm_rooms_join(struct tdm_rooms *rs, const char *room_id, const char *name, enum tdm_role role,
                   void *user, struct tdm_participant **out)
{
    *out = NULL;
    size_t name_len = name ? strlen(name) : 0;
    if (!room_id || !tdm_room_id_valid(room_id, strlen(room_id)) ||
        !tdm_text_field_ok(name, name_len, TDM_NAME_MAX, false) ||
        tdm_text_has_bidi_controls(name, name_len, true))
        return TDM_EINVAL;
    struct tdm_room *r = tdm_rooms_find(rs, room_id);
    if (r && r->count >= r->cap)
        return TDM_EFULL;
    if (!r && rs->count >= rs->max_rooms)
        return TDM_ELIMIT;
    struct tdm_participant *p = calloc(1, sizeof *p);
    if (!p)
        return TDM_ENOMEM;
    if (tdm_random_id(p->id, sizeof p->id, 16) != 0) {
        free(p);
        return TDM_ECRYPTO;
    }
    if (!r && !(r = room_create(rs, room_id))) {
        free(p);
        return TDM_ENOMEM;
    }
    memcpy(p->name, name, name_len + 1);
    p->role = role;
    p->user = user;
    p->room = r;
    p->log_id = ++rs->next_participant_log_id;
    r->members[r->count++] = p;
    *out = p;
    return 0;
}

bool tdm_rooms_leave(struct tdm_rooms *rs, struct tdm_participant *p)
{
    struct tdm_room *r = p->room;
    size_t i = 0;
    while (i < r->count && r->members[i] != p)
        i++;
    if (i < r->count) {
        memmove(&r->members[i], &r->members[i + 1], (r->count - i - 1) * sizeof *r->members);
        r->count--;
    }
    free(p);
    if (r->count > 0)
        return false;
    room_unlink(rs, r);
    room_free(r);
    return true;
}

const char *tdm_room_id(const struct tdm_room *r)
{
    return r->id;
}

uint32_t tdm_room_log_id(const struct tdm_room *r)
{
    return r->log_id;
}

size_t tdm_room_count(const struct tdm_room *r)
{
    return r->count;
}

size_t tdm_room_capacity(const struct tdm_room *r)
{
    return r->cap;
}

struct tdm_participant *tdm_room_participant(const struct tdm_room *r, size_t i)
{
    return i < r->count ? r->members[i] : NULL;
}

struct tdm_participant *tdm_room_find(const struct tdm_room *r, const char *participant_id)
{
    if (!participant_id ||
        strnlen(participant_id, TDM_PARTICIPANT_ID_LEN + 1) != TDM_PARTICIPANT_ID_LEN)
        return NULL;
    for (size_t i = 0; i < r->count; i++)
        if (tdm_ct_equal(r->members[i]->id, participant_id, TDM_PARTICIPANT_ID_LEN))
            return r->members[i];
    return NULL;
}

void tdm_room_set_user(struct tdm_room *r, void *user)
{
    r->user = user;
}

void *tdm_room_user(const struct tdm_room *r)
{
    return r->user;
}

void tdm_room_set_channels(struct tdm_room *r, void *channels)
{
    r->channels = channels;
}

void *tdm_room_channels(const struct tdm_room *r)
{
    return r->channels;
}

void tdm_room_set_locked(struct tdm_room *r, bool locked)
{
    r->locked = locked;
}

bool tdm_room_locked(const struct tdm_room *r)
{
    return r->locked;
}

void tdm_room_set_lobby(struct tdm_room *r, bool lobby)
{
    r->lobby = lobby;
}

bool tdm_room_lobby(const struct tdm_room *r)
{
    return r->lobby;
}
