/* Media workers as the control thread sees them (docs/architecture.md, "Media").
 *
 * tdm_media_start makes the process-wide DTLS identity and starts media.workers threads,
 * each with its own GMainContext, one UDP socket per media address on port
 * media.port_base + its index, and an SFU core (include/tandem/sfu.h) holding the rooms
 * pinned to it. Everything named tdm_media_* here runs on the control thread.
 *
 * The control thread and the workers talk only by messages that carry ids (room id and
 * participant id strings) and copied text, never pointers to each other's state: a command
 * (struct tdm_sfu_cmd) goes to a worker's context, an event (struct tdm_sfu_event) comes
 * back to the control thread's default context and is handed to the deliver function given
 * at start; each travels as an idle source at G_PRIORITY_DEFAULT attached to the other
 * side's GMainContext (what g_main_context_invoke_full does, without its shortcut of running
 * the function on the calling thread when that thread could acquire the context: during
 * start-up and shutdown that would run worker code on the control thread or the reverse). */
#ifndef TANDEM_IO_MEDIA_H
#define TANDEM_IO_MEDIA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tandem/config.h"
#include "tandem/sfu.h"

struct tdm_media;

/* Called on the control thread for each event of a worker (borrowed for the call). */
typedef void (*tdm_media_deliver_fn)(void *ctx, const struct tdm_sfu_event *ev);

/* Start the workers (after the config is validated, before pages can connect). Returns 0
 * and *out, or a TDM_E* code after logging why. A worker that could bind none of its
 * sockets still runs; its rooms get media_unavailable. */
int tdm_media_start(const struct tdm_config *cfg, tdm_media_deliver_fn deliver, void *ctx,
                    struct tdm_media **out);
/* Stop and join every worker, free everything, and drop events still on their way.
 * Call before lws_context_destroy. NULL is fine. */
void tdm_media_stop(struct tdm_media *m);

/* The worker for a new room: the one with the fewest rooms. Returns its index. */
unsigned tdm_media_pin_room(struct tdm_media *m);
/* A room pinned to worker w closed (its last participant left). */
void tdm_media_unpin_room(struct tdm_media *m, unsigned w);
/* Whether worker w has at least one socket (media can flow through it). */
bool tdm_media_worker_usable(const struct tdm_media *m, unsigned w);

/* Send cmd to worker w; takes ownership of cmd (and its strings) in every case. */
void tdm_media_post(struct tdm_media *m, unsigned w, struct tdm_sfu_cmd *cmd);

#endif
