/* Resuming after a cut (docs/protocol.md "Resuming after a cut"). A joined page's socket
 * that goes without the page's goodbye (no close frame, or close code 4000) does not take
 * the participant out of the room at once: a "ghost" connection (a heap copy of the closing
 * one, without a socket) holds it for limits.resume_grace_s, and queues what the
 * participant is sent meanwhile under the usual bounds. The others are told "reconnecting".
 * A page that comes back with its resume token gets the same participant (id, room, media
 * connections in the worker, chat and watch-together access), the fresh welcome and what
 * was queued; the others are told "reconnected". After the grace period it leaves as it
 * did before resume existed. Everything that acts on participants (mod.remove, mod.end, a
 * pass holder's new join) works on a ghost as on a live connection; its token dies with it.
 * Control thread only. */
#include "app.h"
#include "channels.h"
#include "metrics.h"
#include "signal.h"

#include "tandem/err.h"
#include "tandem/resume.h"
#include "tandem/util.h"

#include <stdlib.h>
#include <string.h>

#define RESUME_LOG_PER_10S 100

static void ghost_link(struct tdm_app *app, struct tdm_conn *g)
{
    g->prev = NULL;
    g->next = app->ghosts;
    if (app->ghosts)
        app->ghosts->prev = g;
    app->ghosts = g;
}

static void ghost_free(struct tdm_app *app, struct tdm_conn *g)
{
    if (g->prev)
        g->prev->next = g->next;
    else
        app->ghosts = g->next;
    if (g->next)
        g->next->prev = g->prev;
    tdm_conn_free_queue(g);
    free(g);
}

/* Frees ghosts whose participant left (their callers are done with them by now). */
static void sweep(struct tdm_app *app)
{
    struct tdm_conn *g = app->ghosts;
    while (g) {
        struct tdm_conn *next = g->next;
        if (!g->participant)
            ghost_free(app, g);
        g = next;
    }
}

static gboolean on_sweep(gpointer ud)
{
    struct tdm_app *app = ud;
    app->ghost_sweep = 0;
    sweep(app);
    return G_SOURCE_REMOVE;
}

static gboolean on_grace_timer(gpointer ud);

/* The timer follows the earliest end of a grace period (only with a main loop: in-process
 * drivers call tdm_away_expire themselves). */
static void arm(struct tdm_app *app)
{
    if (!app->loop || !app->resume)
        return;
    if (app->resume_source)
        g_source_remove(app->resume_source);
    app->resume_source = 0;
    int64_t d = tdm_resume_deadline(app->resume);
    if (d == INT64_MAX)
        return;
    int64_t ms = (d - tdm_now_us() + 999) / 1000;
    app->resume_source = g_timeout_add((guint)(ms < 1        ? 1
                                               : ms > 600000 ? 600000
                                                             : ms),
                                       on_grace_timer, app);
}

static gboolean on_grace_timer(gpointer ud)
{
    struct tdm_app *app = ud;
    app->resume_source = 0;
    tdm_away_expire(app, tdm_now_us());
    arm(app);
    return G_SOURCE_REMOVE;
}

int tdm_away_start(struct tdm_app *app)
{
    if (app->cfg.limits.resume_grace_s == 0)
        return 0;
    /* One token per participant: every participant holds a connection or a ghost, and
     * ghosts are bounded by the participants. */
    size_t max = (size_t)app->cfg.limits.max_rooms * app->cfg.limits.max_participants_per_room;
    if (max > app->cfg.limits.max_connections)
        max = app->cfg.limits.max_connections;
    return tdm_resume_create(max ? max : 1, &app->resume);
}

void tdm_away_stop(struct tdm_app *app)
{
    if (app->resume_source)
        g_source_remove(app->resume_source);
    if (app->ghost_sweep)
        g_source_remove(app->ghost_sweep);
    app->resume_source = app->ghost_sweep = 0;
    for (struct tdm_conn *g = app->ghosts; g; g = g->next)
        if (g->participant)
            tdm_signal_leave_room(app, g, "disconnect");
    sweep(app);
    tdm_resume_destroy(app->resume);
    app->resume = NULL;
}

void tdm_away_add_token(struct tdm_app *app, const struct tdm_participant *p, json_t *msg)
{
    char token[TDM_RESUME_TOKEN_LEN + 1];
    if (!app->resume)
        return;
    int rc = tdm_resume_issue(app->resume, tdm_room_id(p->room), p->id, token, sizeof token);
    if (rc != 0) {
        TDM_WARN("p%u: no resume token (%s): a cut will be a leave", p->log_id, tdm_strerror(rc));
        return;
    }
    json_object_set_new(msg, "resume", json_string(token));
    json_object_set_new(msg, "resume_grace_s", json_integer(app->cfg.limits.resume_grace_s));
}

bool tdm_away_begin(struct tdm_app *app, struct tdm_conn *c)
{
    struct tdm_participant *p = c->participant;
    /* Not when the page said goodbye, the server closed it on purpose (flooding, too slow)
     * or is stopping. */
    if (!app->resume || !p || c->peer_closed || c->close_code || app->shutting_down)
        return false;
    int64_t now = tdm_now_us();
    if (tdm_resume_suspend(app->resume, p->id,
                           now + (int64_t)app->cfg.limits.resume_grace_s * 1000000) != 0)
        return false; /* it had no token */
    struct tdm_conn *g = malloc(sizeof *g);
    if (!g) {
        tdm_resume_forget(app->resume, p->id);
        return false;
    }
    *g = *c; /* identity, invite, pass, and the queue of what was not sent yet */
    g->wsi = NULL;
    g->linked = false;
    g->ghost = true;
    g->rx = NULL;
    g->rx_len = g->rx_cap = 0;
    g->lobby = NULL;
    c->outq_head = c->outq_tail = NULL;
    c->outq_msgs = 0;
    c->outq_bytes = 0;
    c->participant = NULL;
    p->user = g;
    ghost_link(app, g);
    tdm_room_broadcast(p->room, p, json_pack("{s:s, s:s}", "type", "reconnecting", "id", p->id));
    tdm_log_limited(&app->presence_log, RESUME_LOG_PER_10S, now, TDM_LOG_INFO,
                    "r%u: p%u reconnecting (kept %us)", tdm_room_log_id(p->room), p->log_id,
                    app->cfg.limits.resume_grace_s);
    arm(app);
    return true;
}

void tdm_away_ghost_left(struct tdm_app *app, struct tdm_conn *ghost)
{
    (void)ghost;
    if (app->loop && !app->ghost_sweep)
        app->ghost_sweep = g_idle_add(on_sweep, app);
}

void tdm_away_expire(struct tdm_app *app, int64_t now)
{
    char room_id[TDM_ROOM_ID_MAX + 1], pid[TDM_PARTICIPANT_ID_LEN + 1];
    while (app->resume && tdm_resume_pop_expired(app->resume, now, room_id, pid)) {
        struct tdm_room *room = tdm_rooms_find(app->rooms, room_id);
        struct tdm_participant *p = room ? tdm_room_find(room, pid) : NULL;
        struct tdm_conn *g = p ? p->user : NULL;
        if (g && g->ghost)
            tdm_signal_leave_room(app, g, "timeout");
    }
    sweep(app);
}

/* Moves the participant of `old` (a ghost, or a connection the server still thinks alive)
 * onto c. Returns whether everything sent to the participant since the cut is in c's
 * queue (a ghost that kept all of it), after the welcome. */
static bool adopt(struct tdm_app *app, struct tdm_conn *c, struct tdm_participant *p, json_t *id)
{
    struct tdm_conn *old = p->user;
    bool complete = old->ghost && !old->close_code;
    c->participant = p;
    c->inv = old->inv;
    c->has_person = old->has_person;
    memcpy(c->person, old->person, sizeof c->person);
    p->user = c;
    old->participant = NULL;
    tdm_conn_send(c, tdm_welcome_json(app, p, id)); /* with the next token */
    if (!tdm_conn_take_queue(c, old))
        complete = false;
    if (old->ghost) {
        ghost_free(app, old);
    } else {
        /* The page has given this one up; what was written to it may never have arrived. */
        complete = false;
        tdm_conn_close(old, LWS_CLOSE_STATUS_NORMAL, "resumed");
    }
    return complete;
}

void tdm_on_resume(struct tdm_app *app, struct tdm_conn *c, json_t *msg, json_t *id,
                   struct tdm_proto_err *e)
{
    const char *token;
    size_t len;
    if (c->participant || c->lobby) {
        tdm_proto_set(e, "already_joined", NULL, "this connection has already joined a room");
        return;
    }
    if (c->console) {
        tdm_proto_set(e, "forbidden", NULL, "a console connection cannot join a room");
        return;
    }
    if (!tdm_proto_string(msg, "token", 1, 64, true, &token, &len, e))
        return;
    /* One try per connection: guessing needs a connection per guess, and connections are
     * limited per address (limits.max_connections_per_address) like joins. */
    if (c->resume_tried) {
        tdm_proto_set(e, "resume_failed", NULL, "one resume per connection: join instead");
        return;
    }
    c->resume_tried = true;
    char room_id[TDM_ROOM_ID_MAX + 1], pid[TDM_PARTICIPANT_ID_LEN + 1];
    int64_t now = tdm_now_us();
    int rc =
        app->resume ? tdm_resume_take(app->resume, token, len, now, room_id, pid) : TDM_ENOTFOUND;
    struct tdm_room *room = rc == 0 ? tdm_rooms_find(app->rooms, room_id) : NULL;
    struct tdm_participant *p = room ? tdm_room_find(room, pid) : NULL;
    if (!p || !p->user) {
        tdm_mx_control.resumes_refused++;
        tdm_proto_set(e, "resume_failed", NULL,
                      "this session cannot be resumed (over, or the token is not valid): join");
        return;
    }
    bool was_away = ((struct tdm_conn *)p->user)->ghost;
    bool complete = adopt(app, c, p, id);
    tdm_mx_control.resumes++;
    /* after what was kept: the film's state as it is now, and the chat when some of it
     * may be missing */
    tdm_channels_resync(app, p, !complete);
    if (!complete)
        tdm_aids_joined(app, p); /* the card on screen, if any */
    tdm_media_resumed(app, p);
    if (was_away)
        tdm_room_broadcast(room, p, json_pack("{s:s, s:s}", "type", "reconnected", "id", p->id));
    if (!complete && tdm_lobby_may_admit(p))
        tdm_lobby_announce_all(app, c);
    tdm_log_limited(&app->presence_log, RESUME_LOG_PER_10S, now, TDM_LOG_INFO, "r%u: p%u resumed%s",
                    tdm_room_log_id(room), p->log_id, complete ? "" : " (state sent again)");
    arm(app);
}
