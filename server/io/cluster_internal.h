/* Shared between cluster.c (the Redis connection, heartbeats, the node list) and
 * cluster_join.c (routing joins, the shared invite ledger). Control thread only. */
#ifndef TANDEM_IO_CLUSTER_INTERNAL_H
#define TANDEM_IO_CLUSTER_INTERNAL_H

#include "cluster.h"
#include "signal.h"

#include <glib.h>
#include <hiredis/async.h>

#define CL_PREFIX "tandem:"
#define CL_ROOM_KEY_MAX 64
#define CL_PASSWORD_MAX 512
#define CL_URL_MAX (TDM_CONFIG_PUBLIC_URL_MAX + 1)
/* requests waiting for Redis at once: beyond this, joins are answered "unavailable" at once
 * (Redis is too slow to keep up; waiting longer helps nobody) */
#define CL_MAX_PENDING 4096
/* node addresses remembered for the WebSocket origin check: a page loaded from a node that
 * died since comes to the others with that node's origin */
#define CL_MAX_KNOWN 64

enum cl_kind { CL_JOIN, CL_CHECK, CL_HEARTBEAT, CL_REFRESH, CL_OTHER };

/* One request sent to Redis; hiredis hands it back exactly once (reply, or NULL when the
 * connection goes). */
struct cl_pending {
    struct tdm_cluster *cl;
    struct cl_pending *prev, *next; /* oldest first */
    int64_t sent_us;
    enum cl_kind kind;
    /* CL_JOIN and CL_CHECK (invite.check) */
    struct tdm_conn *c; /* NULL once the connection closed */
    struct tdm_join_req req;
    json_t *id;
    /* CL_REFRESH: the room whose lease is renewed */
    char room[TDM_ROOM_ID_MAX + 1];
};

/* A room held here: its lease in the directory runs until lease_until_us (monotonic). */
struct cl_room {
    int64_t lease_until_us;
};

struct cl_node {
    char name[TDM_CLUSTER_NAME_MAX + 1];
    char url[CL_URL_MAX]; /* https://host[:port] */
};

struct tdm_cluster {
    struct tdm_app *app;
    redisAsyncContext *ac;
    GSource *src;      /* hiredis's GLib source for ac */
    GSource *dead_src; /* a source hiredis let go of, destroyed from an idle callback */
    bool connected;
    bool stopping;
    int64_t connect_started_us;
    char name[TDM_CLUSTER_NAME_MAX + 1];
    char url[CL_URL_MAX];
    char password[CL_PASSWORD_MAX + 1];
    uint8_t room_key[32]; /* HMAC key of the room names in Redis (from the invite key) */
    GHashTable *rooms;    /* room id (owned char*) -> struct cl_room* */
    struct cl_pending *head, *tail;
    size_t n_pending;
    guint beat_timer, check_timer, reap_idle;
    struct cl_node nodes[TDM_CLUSTER_MAX_NODES];
    size_t n_nodes;
    char known[CL_MAX_KNOWN][CL_URL_MAX]; /* every node URL seen, oldest overwritten first */
    char rev_seen[48]; /* the last entry of the withdrawals stream read ("0": none yet) */
    bool rev_reading;  /* an XREAD is on its way */
    size_t n_known, next_known;
    char csp[TDM_CLUSTER_MAX_NODES * (2 * CL_URL_MAX + 8) + 1];
};

/* cluster.c */
struct cl_pending *tdm_cl_pending_new(struct tdm_cluster *cl, enum cl_kind kind);
/* Sends argv as one command with p as its privdata (fn answers it). Returns 0, or -1 when
 * Redis is not connected (p is freed with fn's NULL answer). */
int tdm_cl_send(struct tdm_cluster *cl, struct cl_pending *p, redisCallbackFn *fn, int argc,
                const char **argv, const size_t *lens);
/* Unlinks and frees p (after its callback ran). */
void tdm_cl_pending_free(struct cl_pending *p);
/* A fire-and-forget command: errors are counted and logged (rate-limited) only. */
void tdm_cl_fire(struct tdm_cluster *cl, int argc, const char **argv, const size_t *lens);
void tdm_cl_room_key(const struct tdm_cluster *cl, const char *room, char out[CL_ROOM_KEY_MAX]);
/* "wss://host[:port]/ws" for an https node URL. */
void tdm_cl_ws_url(const char *https_url, char *out, size_t cap);

/* cluster_join.c */
extern const char tdm_cl_refresh_script[];
void tdm_cl_on_connected(struct tdm_cluster *cl);
/* Reads the withdrawals other nodes made since the last read (at each heartbeat). */
void tdm_cl_read_withdrawals(struct tdm_cluster *cl);

#endif
