/* A stateful, in-process driver of the real signaling handlers (server/io) over a real room
 * registry, invite ledger and chat/watch-together channels. Shared by the fuzz target
 * fuzz_room.c and the model test tests/unit/io/test_signal_model.c (one copy, compiled into
 * both).
 *
 * No socket: connections are opened with wsi NULL (server/io/signal.h), their queued
 * messages are read here (to learn the ids and tokens later steps may name), and a close the
 * server asked for is completed here, as lws would after the flush, only when a step says so:
 * in between, other connections go on (a reply to someone on the way out). The media workers
 * are off (app->media NULL), so media messages get their validation and media_unavailable.
 *
 * After every step the invariants are checked (rh_check): every joined connection's
 * participant points back at it and at a registered room that lists it; every room's count
 * matches the connections that point at it, and no room is empty; every lobby entry waits
 * for a room that exists and has a unique id; closed connections hold nothing; the chat
 * picture pool is empty when no room is. ASan (both builds) catches use after free. */
#ifndef TANDEM_TESTS_ROOM_HARNESS_H
#define TANDEM_TESTS_ROOM_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tandem/room.h"

#define RH_CONNS 8 /* connections a run may use */
#define RH_ROOMS 3 /* room names "room-0".."room-2"; max_rooms is 2, so one can be refused */

struct rh_harness;

/* A fresh server state: defaults with small limits (2 rooms, 4 people each), a fixed invite
 * key and unlimited tokens for every room and role. Quietens the log to errors. NULL on
 * failure. */
struct rh_harness *rh_create(void);
/* Closes every connection still open (as disconnects), checks that no room is left, frees
 * everything. Returns 0, or -1 when something was left over (rh_failure says what); h is
 * freed either way. */
int rh_destroy(struct rh_harness *h);
const char *rh_failure(const struct rh_harness *h);

/* The usual cast: coordinator, mentor and mentee in room-0; a mentee and a coordinator in
 * room-1 (connections 0..4). Returns 0 or -1. */
int rh_populate(struct rh_harness *h);
/* Decodes data into steps (each: an operation, a connection, its fields: every message type,
 * real and stale ids, joins, leaves, disconnects, flushes of pending closes) and runs them,
 * checking the invariants after each. Returns 0, or -1 at the first failure. */
int rh_run(struct rh_harness *h, const uint8_t *data, size_t len);

/* Scripted steps for the model test. Each sends one message (opening the connection first
 * if needed), reads every queue, and checks the invariants; 0 or -1. */
int rh_join(struct rh_harness *h, int conn, int room, enum tdm_role role);
int rh_send(struct rh_harness *h, int conn, const char *json);
/* Completes every close the server asked for (lws would, after the flush). */
int rh_flush(struct rh_harness *h);
/* Drops the connection at once, as a lost socket does. */
int rh_disconnect(struct rh_harness *h, int conn);
int rh_check(struct rh_harness *h);

/* What a connection is and what it was sent. */
const char *rh_participant_id(const struct rh_harness *h, int conn); /* NULL: not joined */
bool rh_is_open(const struct rh_harness *h, int conn);
bool rh_is_closing(const struct rh_harness *h, int conn);
/* The lobby id of the newest lobby.waiting any connection was sent ("" when none). */
const char *rh_last_lobby_id(const struct rh_harness *h);
/* True when conn was sent a message of this type ("error:<code>" for errors) since its log
 * was last cleared; rh_clear_log clears every connection's. */
bool rh_received(const struct rh_harness *h, int conn, const char *what);
void rh_clear_log(struct rh_harness *h);
/* The newest resume token conn was given in a welcome ("" when none). */
const char *rh_resume_token(const struct rh_harness *h, int conn);
/* Ends the grace periods that end within after_us from now, then checks. 0 or -1. */
int rh_expire(struct rh_harness *h, int64_t after_us);
size_t rh_rooms(const struct rh_harness *h);

#endif
