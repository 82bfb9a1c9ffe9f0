/* Several Tandem nodes behind one name, sharing a room directory and the invite ledger in
 * Redis (docs/deploy.md "Several machines", docs/protocol.md "moved"). Off unless
 * cluster.redis is set: then app->cluster is NULL and none of this runs.
 *
 * What Redis holds (keys under "tandem:"; no room names, no people, no addresses):
 *   node:<name>   this node's https URL, PX ttl: the node is alive (heartbeat)
 *   nodes         the set of node names that ever said so (dead ones are dropped)
 *   room:<h>      the name of the node that holds the room, PX ttl, refreshed by the holder
 *                 only while it still holds it; h = HMAC(invite key, room id), 128 bits
 *   use:<id>      uses of a limited link, expiring with the link
 *   rev:<id>      a withdrawn link or a person taken out, expiring with the link
 *   withdrawals   a stream of withdrawals (id, until), read by every node into its own
 *                 ledger at each heartbeat (console links, passes, listings)
 * A room whose holder's node key is gone is free: the next join claims it.
 *
 * All Redis I/O is hiredis's async API on the control thread's GLib loop; a reply later
 * than cluster.timeout_ms drops the connection (its requests are answered "unavailable")
 * and a new one is tried at the next heartbeat. While Redis cannot be reached, calls go on
 * (media never waits for Redis), joins into a room this node holds under a lease that has
 * not lapsed are let in on the local ledger (limited links excepted), and other joins are
 * refused with "unavailable" (the page tries again): no room is served on two nodes, and
 * no once-only link is used twice. */
#ifndef TANDEM_IO_CLUSTER_H
#define TANDEM_IO_CLUSTER_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "tandem/config.h"
#include "tandem/invite.h"

struct tdm_app;
struct tdm_conn;
struct tdm_join_req;
struct tdm_cluster;

#define TDM_CLUSTER_MAX_NODES 16 /* nodes listed to pages (welcome.nodes) and in the CSP */

/* Starts the cluster side when cluster.redis is set (app->cluster stays NULL otherwise):
 * reads the password file and connects (in the background: a Redis that is down at start
 * is retried). Returns 0 or a TDM_E* code after logging why. */
int tdm_cluster_start(struct tdm_app *app);
void tdm_cluster_stop(struct tdm_app *app);

/* Reads the password file (also for --check-config): 0, or TDM_EIO/TDM_EINVAL with err. The
 * password is NUL-terminated in out (cap bytes). */
int tdm_cluster_read_password(const char *path, char *out, size_t cap, char *err, size_t errlen);
/* --check-config: connects with a blocking client (at most timeout_ms), authenticates and
 * pings. 0, or TDM_EIO with what failed in err. */
int tdm_cluster_probe(const struct tdm_config *cfg, char *err, size_t errlen);

/* The join of c (its checks passed, req filled) goes to Redis first: routed to the room's
 * node (a `moved` reply), refused (a withdrawn or used-up link), or claimed here; then the
 * join continues with tdm_join_routed. Takes a reference on id. */
void tdm_cluster_join(struct tdm_app *app, struct tdm_conn *c, const struct tdm_join_req *req,
                      json_t *id);
/* invite.check of a link that passed the node's own checks (req: its invite, role, pass):
 * the shared ledger's verdict goes to c as invite.ok or the error join would give. When
 * Redis cannot answer, the node's own verdict (invite.ok) stands: the join decides anyway.
 * Takes a reference on id. */
void tdm_cluster_check(struct tdm_app *app, struct tdm_conn *c, const struct tdm_join_req *req,
                       json_t *id);
/* True while c's join waits for Redis. */
bool tdm_cluster_joining(const struct tdm_conn *c);
/* c closes while its join waits for Redis: the answer is dropped. */
void tdm_cluster_conn_closed(struct tdm_app *app, struct tdm_conn *c);
/* A join that used a limited link's use in Redis was then refused here (room full, locked):
 * the use is given back. */
void tdm_cluster_refund(struct tdm_app *app, const struct tdm_invite *inv);
/* The last participant left room_id: the directory entry goes (if still ours). */
void tdm_cluster_room_closed(struct tdm_app *app, const char *room_id);
/* A link or person id withdrawn until expires_s: every node refuses it from now on. */
void tdm_cluster_revoke(struct tdm_app *app, const uint8_t id[TDM_INVITE_ID_LEN],
                        int64_t expires_s);
/* Every withdrawal and use count of the local ledger into Redis again; announce: the other
 * nodes' ledgers learn the withdrawals too (after a ledger poll read lines of `tandem
 * invite --revoke`). */
void tdm_cluster_publish_revocations(struct tdm_app *app, bool announce);

/* Adds "nodes": the WebSocket URLs of the live nodes, to welcome (pages fail over to them). */
void tdm_cluster_add_to(struct tdm_app *app, json_t *welcome);
/* True when origin ("https://host[:port]") is server.public_url or a live node's URL. */
bool tdm_cluster_origin_ok(const struct tdm_app *app, const char *origin);
/* " https://a wss://a https://b wss://b ..." for the CSP's connect-src ("" when alone). */
const char *tdm_cluster_csp_sources(const struct tdm_app *app);

#endif
