/* Tandem's configuration: built-in defaults, then a config file (INI-style key file, see
 * docs/configuration.md), then command-line flags. Every key is checked; unknown keys and
 * bad values are errors that name the key. */
#ifndef TANDEM_CONFIG_H
#define TANDEM_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "tandem/log.h"
#include "tandem/turn.h"

#define TDM_CONFIG_PATH_MAX 1024
#define TDM_CONFIG_MAX_MEDIA_ADDRS 8
/* sync.allowed_origins: a few https origins, short enough to fit the CSP header */
#define TDM_CONFIG_MAX_ORIGINS 4
#define TDM_CONFIG_ORIGIN_MAX 64

struct tdm_limits {
    uint32_t max_rooms;
    uint32_t max_participants_per_room;
    uint32_t max_connections;
    uint32_t max_message_bytes;
    uint32_t messages_per_second;
    uint32_t message_burst;
    uint32_t idle_timeout_s;
    uint32_t max_connections_per_address;
    /* media connections being set up (ICE and DTLS not done yet), per server */
    uint32_t max_pending_media;
    uint32_t ice_timeout_s;     /* ICE must connect within this, or everything is released */
    uint32_t consent_timeout_s; /* a connected peer silent for this long is released */
    uint32_t dtls_timeout_s;    /* the DTLS handshake must finish within this */
    /* The connection gate (server/io/gate.c): TCP connections whose TLS ClientHello has not
     * all arrived, and connections in TLS that have not made their first request. */
    uint32_t max_new_connections;
    uint32_t max_new_connections_per_address;
    uint32_t hello_timeout_s;
    uint32_t max_handshakes;
    uint32_t max_handshakes_per_address;
    uint32_t handshake_timeout_s;
    /* a participant whose signaling connection dropped is kept this long for its page to
     * resume (docs/protocol.md "Resuming after a cut"); 0: no resume, it leaves at once */
    uint32_t resume_grace_s;
};

/* Chat bounds per room (docs/protocol-sync-chat.md). */
struct tdm_chat_limits {
    uint32_t max_messages;         /* history kept */
    uint32_t max_picture_bytes;    /* one picture */
    uint32_t picture_budget_bytes; /* all pictures of a room */
    uint32_t server_picture_bytes; /* all pictures and uploads of every room together */
    uint32_t messages_per_second;  /* texts and reactions per participant */
    uint32_t message_burst;
    uint32_t pictures_per_minute; /* pictures per participant */
    uint32_t picture_burst;
    uint32_t max_uploads;    /* uploads in flight per room */
    uint32_t upload_idle_s;  /* an upload without a piece for this long is dropped */
    uint32_t allow_metadata; /* 0 or 1: accept pictures that still carry Exif/XMP */
};

#define TDM_CONFIG_PAGE_URL_MAX 512
#define TDM_CONFIG_PUBLIC_URL_MAX 200
#define TDM_CLUSTER_NAME_MAX 32 /* [A-Za-z0-9._-] */

struct tdm_config {
    char listen[64]; /* bind address; "" = every address */
    uint32_t port;   /* 0 = any free port (tests) */
    char cert[TDM_CONFIG_PATH_MAX];
    char key[TDM_CONFIG_PATH_MAX];
    char web_root[TDM_CONFIG_PATH_MAX];
    char public_ip[64]; /* advertised in ICE candidates behind 1:1 NAT; "" = none */
    /* the base of every printed and page-made link, https://host[:port] without a slash at
     * the end; "" = https://localhost:<port> */
    char public_url[TDM_CONFIG_PUBLIC_URL_MAX + 1];
    char media_addrs[TDM_CONFIG_MAX_MEDIA_ADDRS][64]; /* "" entries unused; none = auto */
    size_t n_media_addrs;
    enum tdm_log_level log_level;
    struct tdm_limits limits;
    /* media workers: worker i listens on UDP port media_port_base + i on each address */
    uint32_t media_port_base;
    uint32_t media_workers;      /* 1..64; 0 = one per core */
    uint32_t media_ice_udp;      /* offer UDP candidates (1) */
    uint32_t media_ice_tcp;      /* offer passive ICE-TCP candidates, RFC 6544 (1) */
    uint32_t media_mix_speakers; /* the Opus mix: voices mixed at once, 1..8 (3) */
    /* invites: rooms are closed unless open_rooms (local development only) */
    uint32_t open_rooms;                       /* 0 or 1 */
    char invite_key_file[TDM_CONFIG_PATH_MAX]; /* made (32 random bytes, mode 0600) if absent */
    /* withdrawn links and use counts of limited links, kept across restarts ("" = memory) */
    char invite_ledger_file[TDM_CONFIG_PATH_MAX];
    /* watch-together: films served from this folder as /media/<name> ("" = none) and https
     * origins a film may also come from (they join the pages' CSP media-src) */
    char sync_media_dir[TDM_CONFIG_PATH_MAX];
    char sync_origins[TDM_CONFIG_MAX_ORIGINS][TDM_CONFIG_ORIGIN_MAX + 1];
    size_t n_sync_origins;
    uint32_t sync_max_wait_s; /* wait-for-everyone bound per hold */
    struct tdm_chat_limits chat;
    /* TURN (docs/turn.md): the URLs handed to joined pages with short-lived credentials made
     * from the secret shared with coturn (use-auth-secret); none = no TURN */
    char turn_urls[TDM_TURN_MAX_URLS][TDM_TURN_URL_MAX + 1];
    size_t n_turn_urls;
    char turn_secret_file[TDM_CONFIG_PATH_MAX];
    uint32_t turn_ttl_s; /* how long a credential is valid */
    /* the Prometheus endpoint's own listener, "ADDR:PORT" or "[V6]:PORT" (docs/metrics.md);
     * "" = off. Plain HTTP: meant for loopback or a private network. */
    char metrics_listen[64];
    /* More than one node on Redis (docs/deploy.md "Several machines"): "" = one process,
     * as ever. "ADDR:PORT" / "[V6]:PORT" (an IP literal: no DNS lookup may block the loop) or
     * "unix:/path". */
    char cluster_redis[TDM_CONFIG_PATH_MAX];
    char cluster_password_file[TDM_CONFIG_PATH_MAX]; /* Redis AUTH password; "" = none */
    /* this node's own address (https://host[:port]): pages are sent here for its rooms */
    char cluster_node_url[TDM_CONFIG_PUBLIC_URL_MAX + 1];
    char cluster_node_name[TDM_CLUSTER_NAME_MAX + 1]; /* "" = made from node_url */
    uint32_t cluster_heartbeat_ms; /* liveness and room leases are refreshed this often */
    uint32_t cluster_ttl_ms;       /* ...and lapse this long after the last refresh */
    uint32_t cluster_timeout_ms;   /* a Redis reply later than this counts as Redis down */
    /* where Quick exit takes a page: an https:// address or a path on this server; "" = the
     * neutral page in the page's language (web/neutral*.html) */
    char quick_exit_url[TDM_CONFIG_PAGE_URL_MAX + 1];
};

/* Fills cfg with the embedded defaults. */
void tdm_config_defaults(struct tdm_config *cfg);

/* Reads a config file over cfg. Returns 0, or TDM_EINVAL/TDM_EIO with a message in err
 * that names the file, group and key. */
int tdm_config_load_file(struct tdm_config *cfg, const char *path, char *err, size_t errlen);
/* The same from memory: data[0..len) need not be NUL-terminated (borrowed until return);
 * `name` stands for the path in messages. Returns 0 or TDM_EINVAL with err. */
int tdm_config_load_data(struct tdm_config *cfg, const char *data, size_t len, const char *name,
                         char *err, size_t errlen);

/* Sets one option by its "group.key" name from a string (used by the file reader and by
 * command-line flags). Returns 0 or TDM_EINVAL with a message naming the key. */
int tdm_config_set(struct tdm_config *cfg, const char *name, const char *value, char *err,
                   size_t errlen);

/* Splits "ADDR:PORT" or "[V6ADDR]:PORT" (an IP literal, a port 0 to 65535; 0 picks a free
 * one) into host (NUL-terminated) and port. Returns 0 or TDM_EINVAL. */
int tdm_config_parse_hostport(const char *v, char *host, size_t hostcap, uint16_t *port);

/* The node name cluster.node_name gives, or one made from cluster.node_url (its host and
 * port, other characters as '_'), NUL-terminated in out. */
void tdm_config_cluster_name(const struct tdm_config *cfg, char out[TDM_CLUSTER_NAME_MAX + 1]);

/* Checks the combination (e.g. cert without key). Returns 0 or TDM_EINVAL with err. */
int tdm_config_validate(const struct tdm_config *cfg, char *err, size_t errlen);

#endif
