/* The signaling handler table (docs/protocol.md): one small handler per message type. */
#include "channels.h"
#include "signal.h"

#include <string.h>

static const struct tdm_handler handlers[] = {
    {"join", 0, tdm_on_join},
    {"resume", 0, tdm_on_resume},
    {"leave", TDM_HANDLER_NEEDS_JOINED, tdm_on_leave},
    {"ping", 0, tdm_on_ping},
    {"offer", TDM_HANDLER_NEEDS_JOINED, tdm_media_on_offer},
    {"answer", TDM_HANDLER_NEEDS_JOINED, tdm_media_on_answer},
    {"candidate", TDM_HANDLER_NEEDS_JOINED, tdm_media_on_candidate},
    {"media.state", TDM_HANDLER_NEEDS_JOINED, tdm_media_on_state},
    {"media.receive", TDM_HANDLER_NEEDS_JOINED, tdm_media_on_receive},
    {"media.restart", TDM_HANDLER_NEEDS_JOINED, tdm_media_on_restart},
    {"media.layout", TDM_HANDLER_NEEDS_JOINED, tdm_media_on_layout},
    {"media.audio_only", TDM_HANDLER_NEEDS_JOINED, tdm_media_on_audio_only},
    {"media.receive_only", TDM_HANDLER_NEEDS_JOINED, tdm_media_on_receive_only},
    {"ice.servers", TDM_HANDLER_NEEDS_JOINED, tdm_on_ice_servers},
    {"time.ping", 0, tdm_on_time_ping},
    {"sync.load", TDM_HANDLER_NEEDS_JOINED, tdm_on_sync_load},
    {"sync.play", TDM_HANDLER_NEEDS_JOINED, tdm_on_sync_play},
    {"sync.pause", TDM_HANDLER_NEEDS_JOINED, tdm_on_sync_pause},
    {"sync.seek", TDM_HANDLER_NEEDS_JOINED, tdm_on_sync_seek},
    {"sync.rate", TDM_HANDLER_NEEDS_JOINED, tdm_on_sync_rate},
    {"sync.buffering", TDM_HANDLER_NEEDS_JOINED, tdm_on_sync_buffering},
    {"sync.control", TDM_HANDLER_NEEDS_JOINED, tdm_on_sync_control},
    {"sync.wait_all", TDM_HANDLER_NEEDS_JOINED, tdm_on_sync_wait_all},
    {"chat.send", TDM_HANDLER_NEEDS_JOINED, tdm_on_chat_send},
    {"chat.picture", TDM_HANDLER_NEEDS_JOINED, tdm_on_chat_picture},
    {"chat.picture.chunk", TDM_HANDLER_NEEDS_JOINED, tdm_on_chat_picture_chunk},
    {"chat.react", TDM_HANDLER_NEEDS_JOINED, tdm_on_chat_react},
    {"chat.delete", TDM_HANDLER_NEEDS_JOINED, tdm_on_chat_delete},
    {"invite.create", TDM_HANDLER_NEEDS_JOINED, tdm_on_invite_create},
    {"invite.revoke", TDM_HANDLER_NEEDS_JOINED, tdm_on_invite_revoke},
    {"invite.check", 0, tdm_on_invite_check},
    {"console.hello", 0, tdm_on_console_hello},
    {"console.room.create", 0, tdm_on_console_room_create},
    {"console.link.create", 0, tdm_on_console_link_create},
    {"console.links", 0, tdm_on_console_links},
    {"console.link.revoke", 0, tdm_on_console_link_revoke},
    {"console.rooms", 0, tdm_on_console_rooms},
    {"mod.lock", TDM_HANDLER_NEEDS_JOINED, tdm_on_mod_lock},
    {"mod.lobby", TDM_HANDLER_NEEDS_JOINED, tdm_on_mod_lobby},
    {"mod.admit", TDM_HANDLER_NEEDS_JOINED, tdm_on_mod_admit},
    {"mod.deny", TDM_HANDLER_NEEDS_JOINED, tdm_on_mod_deny},
    {"mod.remove", TDM_HANDLER_NEEDS_JOINED, tdm_on_mod_remove},
    {"mod.mute", TDM_HANDLER_NEEDS_JOINED, tdm_on_mod_mute},
    {"mod.end", TDM_HANDLER_NEEDS_JOINED, tdm_on_mod_end},
    {"hand.raise", TDM_HANDLER_NEEDS_JOINED, tdm_on_hand_raise},
    {"hand.lower", TDM_HANDLER_NEEDS_JOINED, tdm_on_hand_lower},
    {"card.show", TDM_HANDLER_NEEDS_JOINED, tdm_on_card_show},
    {"card.hide", TDM_HANDLER_NEEDS_JOINED, tdm_on_card_hide},
    {"plan.propose", TDM_HANDLER_NEEDS_JOINED, tdm_on_plan_propose},
    {"plan.answer", TDM_HANDLER_NEEDS_JOINED, tdm_on_plan_answer},
    {"checkin", 0, tdm_on_checkin},
};

const struct tdm_handler *tdm_signal_find_handler(const char *type)
{
    for (size_t i = 0; i < sizeof handlers / sizeof handlers[0]; i++) {
        const struct tdm_handler *h = &handlers[i];
        if (strcmp(type, h->type) == 0)
            return h;
    }
    return NULL;
}
