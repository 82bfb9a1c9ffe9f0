/* Rooms and their participants, as the control thread sees them. Sans-IO: no sockets,
 * no JSON. A room is created by its first join and destroyed when its last participant
 * leaves. Participant ids are 128 random bits (base64url, 22 characters), new at every join.
 * Not thread-safe: the control thread owns the registry. */
#ifndef TANDEM_ROOM_H
#define TANDEM_ROOM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TDM_ROOM_ID_MIN 3
#define TDM_ROOM_ID_MAX 64
#define TDM_NAME_MAX 64           /* display name, bytes of UTF-8 */
#define TDM_PARTICIPANT_ID_LEN 22 /* base64url of 16 random bytes */

enum tdm_role { TDM_ROLE_MENTEE = 0, TDM_ROLE_MENTOR, TDM_ROLE_COORDINATOR };

struct tdm_rooms;
struct tdm_room;

struct tdm_participant {
    char id[TDM_PARTICIPANT_ID_LEN + 1];
    char name[TDM_NAME_MAX + 1];
    enum tdm_role role;
    uint32_t log_id; /* short opaque number for log lines ("p17") */
    struct tdm_room *room;
    void *user; /* the io layer's connection; borrowed, never freed here */
    /* moderation: a coordinator stopped this person's microphone / camera; unless the
     * matching may_unmute is set, the server keeps forwarding none of it */
    bool muted_audio, muted_video;
    bool may_unmute_audio, may_unmute_video;
    bool hand_raised; /* raise hand (docs/protocol.md "Mentoring aids") */
    /* screen sharing (docs/protocol.md "Screen sharing"): 0 not, 1 asked (an offer naming
     * its screen is with the media worker), 2 shown to the room */
    uint8_t share;
};

/* "mentee" / "mentor" / "coordinator" <-> enum. Parse returns 0 or TDM_EINVAL. */
const char *tdm_role_name(enum tdm_role role);
int tdm_role_parse(const char *s, size_t len, enum tdm_role *out);

/* Room ids: TDM_ROOM_ID_MIN..MAX bytes of [A-Za-z0-9_-]. */
bool tdm_room_id_valid(const char *s, size_t len);

struct tdm_rooms *tdm_rooms_create(size_t max_rooms, size_t max_participants_per_room);
/* Frees every room and participant still registered. */
void tdm_rooms_destroy(struct tdm_rooms *rs);
size_t tdm_rooms_count(const struct tdm_rooms *rs);
struct tdm_room *tdm_rooms_find(struct tdm_rooms *rs, const char *room_id);

/* Adds a participant to room_id (creating the room if needed). name must already be a
 * validated display name (tdm_text_field_ok). On success *out is owned by the registry
 * until tdm_rooms_leave. Returns 0, TDM_EINVAL (bad id or name), TDM_EFULL (room full),
 * TDM_ELIMIT (max rooms reached), TDM_ENOMEM or TDM_ECRYPTO (no randomness). */
int tdm_rooms_join(struct tdm_rooms *rs, const char *room_id, const char *name, enum tdm_role role,
                   void *user, struct tdm_participant **out);

/* Removes and frees p; destroys its room when it was the last one. Returns true when the
 * room was destroyed. p is invalid afterwards. */
bool tdm_rooms_leave(struct tdm_rooms *rs, struct tdm_participant *p);

const char *tdm_room_id(const struct tdm_room *r);
uint32_t tdm_room_log_id(const struct tdm_room *r);
size_t tdm_room_count(const struct tdm_room *r);
size_t tdm_room_capacity(const struct tdm_room *r);
/* i-th participant in order of arrival, or NULL. */
struct tdm_participant *tdm_room_participant(const struct tdm_room *r, size_t i);
struct tdm_participant *tdm_room_find(const struct tdm_room *r, const char *participant_id);
/* Opaque per-room pointers, never freed here: `user` belongs to the media side,
 * `channels` to the control thread's chat and watch-together state. */
void tdm_room_set_user(struct tdm_room *r, void *user);
void *tdm_room_user(const struct tdm_room *r);
void tdm_room_set_channels(struct tdm_room *r, void *channels);
/* Moderation flags of a room: locked (no new joins but coordinators'), lobby (newcomers
 * wait until a coordinator or mentor admits them). */
void tdm_room_set_locked(struct tdm_room *r, bool locked);
bool tdm_room_locked(const struct tdm_room *r);
void tdm_room_set_lobby(struct tdm_room *r, bool lobby);
bool tdm_room_lobby(const struct tdm_room *r);
void *tdm_room_channels(const struct tdm_room *r);

#endif
