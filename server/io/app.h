/* The control thread's application state: configuration, the libwebsockets context on the
 * GLib main loop, the room registry and the open signaling connections. */
#ifndef TANDEM_IO_APP_H
#define TANDEM_IO_APP_H

#include <glib.h>
#include <libwebsockets.h>
#include <stdbool.h>

#include "tandem/chat.h"
#include "tandem/config.h"
#include "tandem/log.h"
#include "tandem/invite.h"
#include "tandem/keycount.h"
#include "tandem/room.h"
#include "tandem/turn.h"
#include <jansson.h>

struct tdm_conn;
struct tdm_gate;
struct tdm_media;
struct tdm_metrics;
struct tdm_cluster;

struct tdm_app {
    struct tdm_config cfg;
    GMainLoop *loop;
    struct lws_context *lws;
    struct lws_vhost *vhost;
    struct tdm_gate *gate; /* accepts connections and hands them to lws (gate.h) */
    struct tdm_rooms *rooms;
    struct tdm_checkin *checkin;             /* check-in counts per room (tandem/checkin.h) */
    struct tdm_media *media;                 /* the media workers (media.h), NULL when stopped */
    struct tdm_metrics *metrics;             /* the metrics listener (metrics.h), or NULL */
    struct tdm_cluster *cluster;             /* Redis (cluster.h); NULL: one process alone */
    char web_root_real[TDM_CONFIG_PATH_MAX]; /* realpath of cfg.web_root */
    char http_headers[2048];                 /* security headers added to every page */
    size_t http_headers_len;
    uint32_t n_conns;
    uint32_t next_conn_log_id;
    bool shutting_down;
    guint sig_sources[3];       /* SIGINT, SIGTERM, SIGHUP (certificate reload) */
    void *tls_ctx;              /* the HTTPS vhost's SSL_CTX, for the SIGHUP reload */
    guint trim_source;          /* gives freed memory back to the system (app.c) */
    uint32_t closed_since_trim; /* connections closed since the last trim */
    struct tdm_log_limiter bad_input_log;
    /* joins and leaves: a client churning through rooms must not flood the log either */
    struct tdm_log_limiter presence_log;
    struct tdm_conn *conns; /* doubly linked list of open signaling connections */
    uint8_t invite_key[32];
    /* set by the media side: stop forwarding what moderation muted for p */
    void (*media_block)(struct tdm_app *app, struct tdm_participant *p);
    struct tdm_keycount *conns_per_addr; /* keyed by a salted hash: no address is kept */
    uint8_t addr_salt[16];
    struct tdm_invite_ledger *invites;
    struct tdm_chat_pool chat_pool; /* picture bytes of all rooms (chat.server_picture_bytes) */
    int ledger_fd;                  /* the ledger journal, open for appending; -1: memory only */
    size_t ledger_lines;            /* lines in it, to know when to rewrite it compactly */
    uint64_t ledger_errors;         /* failed writes (the ledger in memory still holds) */
    struct tdm_log_limiter ledger_log;
    /* lines appended by `tandem invite` (a new link, --revoke) are read every few seconds */
    guint ledger_poll;
    uint64_t ledger_ino;       /* the journal file read so far... */
    int64_t ledger_read_off;   /* ...up to here */
    uint64_t ledger_own_bytes; /* appended by this server since the last poll */
    /* the secret shared with coturn (turn.secret_file); length 0: no TURN */
    char turn_secret[TDM_TURN_SECRET_MAX + 1];
    size_t turn_secret_len;
    /* resume after a cut (signal_resume.c): tokens, the ghosts holding participants whose
     * socket went (linked by their next/prev), the grace timer and the sweep of dead ones */
    struct tdm_resume_table *resume;
    struct tdm_conn *ghosts;
    guint resume_source, ghost_sweep;
};

/* ice_servers.c: TURN for the pages (docs/turn.md). tdm_turn_start reads the shared secret
 * when TURN is configured (0, or a TDM_E* code after logging why). */
int tdm_turn_start(struct tdm_app *app);
/* Reads and checks the secret shared with coturn (also for --check-config): 0, or a TDM_E*
 * code with the reason in err. The secret is NUL-terminated in out. */
int tdm_turn_read_secret(const char *path, char out[TDM_TURN_SECRET_MAX + 1], size_t *out_len,
                         char *err, size_t errlen);
void tdm_turn_stop(struct tdm_app *app);
/* [{urls, username, credential}] with a fresh credential, or NULL without TURN. */
json_t *tdm_turn_ice_servers(struct tdm_app *app);
/* Adds ice_servers and ice_servers_ttl_s to msg when TURN is configured. */
void tdm_turn_add_to(struct tdm_app *app, json_t *msg);

/* invites.c: the invite secret (read, or made on first start) and the ledger. */
int tdm_invites_start(struct tdm_app *app);
void tdm_invites_stop(struct tdm_app *app);
/* Reads the key file, creating it (32 random bytes, mode 0600) when create is true and it
 * does not exist. Returns 0 or a TDM_E* code with err filled. */
int tdm_invites_load_key(const char *path, bool create, uint8_t key[32], char *err, size_t errlen);
/* For `tandem invite`: replays the ledger journal at path into l (a missing file is an
 * empty ledger), counting unreadable lines and lines that did not fit. Returns 0 or
 * TDM_EIO / TDM_EINVAL (not a regular file, or too large). */
int tdm_invites_read_ledger(const char *path, struct tdm_invite_ledger *l, size_t *bad,
                            size_t *full);
/* Appends r as one line to the journal at path (made, mode 0600, if absent); a running
 * server reads it within seconds. Returns 0 or TDM_EIO. */
int tdm_invites_append_record(const char *path, const struct tdm_invite_record *r);

/* Creates the lws context on a fresh GMainLoop and starts listening. Returns 0 or a TDM_E*
 * code after logging why. */
int tdm_app_start(struct tdm_app *app);
/* Runs the loop until SIGINT/SIGTERM, then closes every connection and frees everything. */
void tdm_app_run(struct tdm_app *app);
void tdm_app_stop(struct tdm_app *app);
/* The pages' security headers again (the cluster's node list, in connect-src, changed). */
void tdm_app_headers_changed(struct tdm_app *app);

/* Protocol callbacks (http.c, signal.c). */
int tdm_http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                      size_t len);
int tdm_signal_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                        size_t len);
size_t tdm_signal_session_size(void);
/* True when name[0..len) is a film the server would serve from its media folder
 * (/media/<name>): a valid name of a regular file there. Control thread. */
bool tdm_http_film_exists(const char *name, size_t len);
/* Asks every signaling connection to close with 1001 (server shutdown). */
void tdm_signal_close_all(struct tdm_app *app);

#endif
