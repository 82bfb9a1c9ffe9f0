/* The signaling handler table (docs/protocol.md): one small handler per message type. */
#include "channels.h"
#include "signal.h"

#include <string.h>

static const struct tdm_handler handlers[] = {
    {"join", false, 0, tdm_on_join},
    {"leave", false, TDM_HANDLER_NEEDS_JOINED, tdm_on_leave},
    {"ping", false, 0, tdm_on_ping},
    {"offer", false, TDM_HANDLER_NEEDS_JOINED, tdm_media_on_offer},
    {"answer", false, TDM_HANDLER_NEEDS_JOINED, tdm_media_on_answer},
    {"candidate", false, TDM_HANDLER_NEEDS_JOINED, tdm_media_on_candidate},
    {"media.state", false, TDM_HANDLER_NEEDS_JOINED, tdm_media_on_state},
    {"media.receive", false, TDM_HANDLER_NEEDS_JOINED, tdm_media_on_receive},
    {"media.layout", false, TDM_HANDLER_NEEDS_JOINED, tdm_media_on_layout},
    {"media.audio_only", false, TDM_HANDLER_NEEDS_JOINED, tdm_media_on_audio_only},
    {"ice.servers", false, TDM_HANDLER_NEEDS_JOINED, tdm_on_ice_servers},
    {"time.ping", false, 0, tdm_on_time_ping},
    {"sync.load", false, TDM_HANDLER_NEEDS_JOINED, tdm_on_sync_load},
    {"sync.play", false, TDM_HANDLER_NEEDS_JOINED, tdm_on_sync_play},
    {"sync.pause", false, TDM_HANDLER_NEEDS_JOINED, tdm_on_sync_pause},
    {"sync.seek", false, TDM_HANDLER_NEEDS_JOINED, tdm_on_sync_seek},
    {"sync.rate", false, TDM_HANDLER_NEEDS_JOINED, tdm_on_sync_rate},
    {"sync.buffering", false, TDM_HANDLER_NEEDS_JOINED, tdm_on_sync_buffering},
    {"sync.control", false, TDM_HANDLER_NEEDS_JOINED, tdm_on_sync_control},
    {"sync.wait_all", false, TDM_HANDLER_NEEDS_JOINED, tdm_on_sync_wait_all},
    {"chat.send", false, TDM_HANDLER_NEEDS_JOINED, tdm_on_chat_send},
    {"chat.picture", false, TDM_HANDLER_NEEDS_JOINED, tdm_on_chat_picture},
    {"chat.picture.chunk", false, TDM_HANDLER_NEEDS_JOINED, tdm_on_chat_picture_chunk},
    {"chat.react", false, TDM_HANDLER_NEEDS_JOINED, tdm_on_chat_react},
    {"chat.delete", false, TDM_HANDLER_NEEDS_JOINED, tdm_on_chat_delete},
    {"invite.create", false, TDM_HANDLER_NEEDS_JOINED, tdm_on_invite_create},
    {"invite.revoke", false, TDM_HANDLER_NEEDS_JOINED, tdm_on_invite_revoke},
    {"invite.check", false, 0, tdm_on_invite_check},
    {"console.hello", false, 0, tdm_on_console_hello},
    {"console.room.create", false, 0, tdm_on_console_room_create},
    {"console.link.create", false, 0, tdm_on_console_link_create},
    {"console.links", false, 0, tdm_on_console_links},
    {"console.link.revoke", false, 0, tdm_on_console_link_revoke},
    {"console.rooms", false, 0, tdm_on_console_rooms},
    {"mod.lock", false, TDM_HANDLER_NEEDS_JOINED, tdm_on_mod_lock},
    {"mod.lobby", false, TDM_HANDLER_NEEDS_JOINED, tdm_on_mod_lobby},
    {"mod.admit", false, TDM_HANDLER_NEEDS_JOINED, tdm_on_mod_admit},
    {"mod.deny", false, TDM_HANDLER_NEEDS_JOINED, tdm_on_mod_deny},
    {"mod.remove", false, TDM_HANDLER_NEEDS_JOINED, tdm_on_mod_remove},
    {"mod.mute", false, TDM_HANDLER_NEEDS_JOINED, tdm_on_mod_mute},
    {"mod.end", false, TDM_HANDLER_NEEDS_JOINED, tdm_on_mod_end},
};

const struct tdm_handler *tdm_signal_find_handler(const char *type)
{
    for (size_t i = 0; i < sizeof handlers / sizeof handlers[0]; i++) {
        const struct tdm_handler *h = &handlers[i];
        if (h->prefix ? strncmp(type, h->type, strlen(h->type)) == 0 : strcmp(type, h->type) == 0)
            return h;
    }
    return NULL;
}
