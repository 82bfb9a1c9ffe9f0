/* Media signaling: offers, answers, candidates and media state, relayed between the
 * control thread and the room's media worker. (Placeholder until the media workers land.) */
#include "app.h"
#include "signal.h"

void tdm_media_on_offer(struct tdm_app *app, struct tdm_conn *c, json_t *msg, json_t *id,
                        struct tdm_proto_err *e)
{
    tdm_proto_set(e, "not_implemented", "type", "media is not carried by this server yet");
}

void tdm_media_on_answer(struct tdm_app *app, struct tdm_conn *c, json_t *msg, json_t *id,
                         struct tdm_proto_err *e)
{
    tdm_proto_set(e, "not_implemented", "type", "media is not carried by this server yet");
}

void tdm_media_on_candidate(struct tdm_app *app, struct tdm_conn *c, json_t *msg, json_t *id,
                            struct tdm_proto_err *e)
{
    tdm_proto_set(e, "not_implemented", "type", "media is not carried by this server yet");
}

void tdm_media_on_state(struct tdm_app *app, struct tdm_conn *c, json_t *msg, json_t *id,
                        struct tdm_proto_err *e)
{
    tdm_proto_set(e, "not_implemented", "type", "media is not carried by this server yet");
}

void tdm_media_participant_joined(struct tdm_app *app, struct tdm_participant *p)
{
}

void tdm_media_participant_leaving(struct tdm_app *app, struct tdm_participant *p)
{
}
