/* The chat and watch-together channels of a room, on the control thread
 * (docs/protocol-sync-chat.md): the room's tdm_sync and tdm_chat, one timer at their
 * earliest deadline, the participants' access tokens and the pictures' unguessable keys.
 *
 * Life cycle: created on a room's first join (tdm_channels_joined), destroyed when its last
 * participant leaves (tdm_channels_leaving, called before the room goes away): the chat wipes
 * every text and picture then. The room's `channels` slot (tandem/room.h) points here. */
#ifndef TANDEM_IO_CHANNELS_H
#define TANDEM_IO_CHANNELS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto.h"
#include "tandem/chat.h"
#include "tandem/room.h"
#include "tandem/sync.h"

struct tdm_app;
struct tdm_conn;

/* 128 random bits, base64url: the participant's access token and each picture's key. */
#define TDM_CHANNELS_TOKEN_LEN 22

struct tdm_channels;

/* The channels of p's room (NULL when they could not be made). */
struct tdm_channels *tdm_channels_of(const struct tdm_participant *p);
struct tdm_sync *tdm_channels_sync(struct tdm_channels *ch);
struct tdm_chat *tdm_channels_chat(struct tdm_channels *ch);

/* p has just joined (welcome and joined are sent): makes the room's channels on its first
 * join, gives p an access token, and sends p the sync.state and chat.history of a late
 * joiner. */
void tdm_channels_joined(struct tdm_app *app, struct tdm_participant *p);
/* p resumed after a cut: it is sent the current sync.state (a page starts its film state
 * afresh at every welcome) and, with chat_too (it may have missed messages), chat.history,
 * with its access token (which lived on while it was away). */
void tdm_channels_resync(struct tdm_app *app, struct tdm_participant *p, bool chat_too);
/* p is about to leave its room (still in it, its connection already detached): it stops
 * holding the film, its upload is dropped, its token dies; with p the last one, the channels
 * are destroyed (everything wiped). */
void tdm_channels_leaving(struct tdm_app *app, struct tdm_participant *p);

/* Re-arms the room's timer after anything that may have moved a deadline. */
/* The conversation card on everyone's screen (signal_aids.c): its name and who put it there
 * (*by), or NULL. set with card NULL takes it off. */
const char *tdm_channels_card(struct tdm_channels *ch, const char **by);
void tdm_channels_set_card(struct tdm_channels *ch, const char *card, const char *by);
void tdm_channels_rearm(struct tdm_channels *ch);

/* Builds the sync.state message for the current state (new reference). */
json_t *tdm_channels_sync_state(struct tdm_channels *ch, int64_t now_us);
/* Builds one chat message object (new reference); pictures get their /p/ URL. */
json_t *tdm_channels_message_json(struct tdm_channels *ch, const struct tdm_chat_message *m);
/* A message's reactions, as in chat.reaction (new reference). */
json_t *tdm_channels_reactions_json(const struct tdm_chat_message *m);
/* Gives a newly posted picture message its unguessable key. Returns 0 or TDM_E*. */
int tdm_channels_picture_added(struct tdm_channels *ch, uint64_t msg_id);

/* For the HTTPS routes (http.c). True when token belongs to someone in room_id now. */
bool tdm_channels_token_ok(struct tdm_app *app, const char *room_id, const char *token,
                           size_t token_len);
/* The picture with key in room_id, when token is a participant's of that room and the
 * picture's bytes are still held. The view is borrowed until the chat next changes. */
const struct tdm_chat_message *tdm_channels_picture(struct tdm_app *app, const char *room_id,
                                                    const char *key, size_t key_len);

/* Handlers (handlers.c holds the table): signal_sync.c and signal_chat.c. */
#define TDM_CHANNELS_HANDLER(name)                                                                 \
    void tdm_on_##name(struct tdm_app *app, struct tdm_conn *c, json_t *msg, json_t *id,           \
                       struct tdm_proto_err *e)
TDM_CHANNELS_HANDLER(time_ping);
TDM_CHANNELS_HANDLER(sync_load);
TDM_CHANNELS_HANDLER(sync_play);
TDM_CHANNELS_HANDLER(sync_pause);
TDM_CHANNELS_HANDLER(sync_seek);
TDM_CHANNELS_HANDLER(sync_rate);
TDM_CHANNELS_HANDLER(sync_buffering);
TDM_CHANNELS_HANDLER(sync_control);
TDM_CHANNELS_HANDLER(sync_wait_all);
TDM_CHANNELS_HANDLER(chat_send);
TDM_CHANNELS_HANDLER(chat_picture);
TDM_CHANNELS_HANDLER(chat_picture_chunk);
TDM_CHANNELS_HANDLER(chat_react);
TDM_CHANNELS_HANDLER(chat_delete);

/* Core result + "field: reason" to a wire error (docs/protocol-sync-chat.md, last section). */
void tdm_channels_error(struct tdm_proto_err *e, int rc, const char *err);

#endif
