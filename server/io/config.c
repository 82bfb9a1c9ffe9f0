/* Config file reader: GLib's GKeyFile is the parser (groups, keys, comments, escapes);
 * this file maps keys to typed fields and checks every value. */
#include "tandem/config.h"
#include "tandem/err.h"
#include "tandem/sync.h"

#include <arpa/inet.h>
#include <errno.h>
#include <glib.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum kind {
    K_STR,
    K_U32,
    K_ADDR,
    K_ADDR_LIST,
    K_LOGLEVEL,
    K_BOOL,
    K_ORIGIN_LIST,
    K_URL,
    K_TURN_URLS,
    K_HOSTPORT,
    K_REDIS,
    K_NAME,
    K_PAGE_URL
};

struct option_def {
    const char *name; /* "group.key" */
    enum kind kind;
    size_t offset;
    size_t size; /* for strings: buffer size */
    uint32_t min, max;
};

#define STR(n, f)                                                                                  \
    {                                                                                              \
        n, K_STR, offsetof(struct tdm_config, f), sizeof(((struct tdm_config *)0)->f), 0, 0        \
    }
#define ADDR(n, f)                                                                                 \
    {                                                                                              \
        n, K_ADDR, offsetof(struct tdm_config, f), sizeof(((struct tdm_config *)0)->f), 0, 0       \
    }
#define U32(n, f, lo, hi)                                                                          \
    {                                                                                              \
        n, K_U32, offsetof(struct tdm_config, f), sizeof(uint32_t), lo, hi                         \
    }

static const struct option_def options[] = {
    ADDR("server.listen", listen),
    U32("server.port", port, 0, 65535),
    STR("server.cert", cert),
    STR("server.key", key),
    STR("server.web_root", web_root),
    ADDR("server.public_ip", public_ip),
    {"server.public_url", K_URL, offsetof(struct tdm_config, public_url), 0, 0, 0},
    {"server.media_addresses", K_ADDR_LIST, 0, 0, 0, 0},
    {"server.log_level", K_LOGLEVEL, 0, 0, 0, 0},
    U32("limits.max_rooms", limits.max_rooms, 1, 100000),
    U32("limits.max_participants_per_room", limits.max_participants_per_room, 2, 100),
    U32("limits.max_connections", limits.max_connections, 1, 100000),
    U32("limits.max_message_bytes", limits.max_message_bytes, 1024, 16 * 1024 * 1024),
    U32("limits.messages_per_second", limits.messages_per_second, 1, 10000),
    U32("limits.message_burst", limits.message_burst, 1, 100000),
    U32("limits.idle_timeout_s", limits.idle_timeout_s, 5, 3600),
    U32("limits.max_connections_per_address", limits.max_connections_per_address, 1, 100000),
    U32("limits.max_pending_media", limits.max_pending_media, 1, 100000),
    U32("limits.ice_timeout_s", limits.ice_timeout_s, 5, 300),
    U32("limits.consent_timeout_s", limits.consent_timeout_s, 5, 300),
    U32("limits.dtls_timeout_s", limits.dtls_timeout_s, 2, 300),
    U32("limits.max_new_connections", limits.max_new_connections, 1, 100000),
    U32("limits.max_new_connections_per_address", limits.max_new_connections_per_address, 1,
        100000),
    U32("limits.hello_timeout_s", limits.hello_timeout_s, 1, 60),
    U32("limits.max_handshakes", limits.max_handshakes, 1, 10000),
    U32("limits.max_handshakes_per_address", limits.max_handshakes_per_address, 1, 10000),
    U32("limits.handshake_timeout_s", limits.handshake_timeout_s, 1, 60),
    U32("limits.resume_grace_s", limits.resume_grace_s, 0, 120),
    U32("media.port_base", media_port_base, 0, 65535),
    U32("media.workers", media_workers, 1, 64),
    {"media.ice_udp", K_BOOL, offsetof(struct tdm_config, media_ice_udp), sizeof(uint32_t), 0, 1},
    {"media.ice_tcp", K_BOOL, offsetof(struct tdm_config, media_ice_tcp), sizeof(uint32_t), 0, 1},
    U32("media.mix_speakers", media_mix_speakers, 1, 8), /* TDM_MIX_ACTIVE_LIMIT */
    {"invites.open_rooms", K_BOOL, offsetof(struct tdm_config, open_rooms), sizeof(uint32_t), 0, 1},
    STR("invites.key_file", invite_key_file),
    STR("invites.ledger_file", invite_ledger_file),
    STR("sync.media_dir", sync_media_dir),
    {"sync.allowed_origins", K_ORIGIN_LIST, 0, 0, 0, 0},
    U32("sync.max_wait_s", sync_max_wait_s, 1, 3600),
    U32("chat.max_messages", chat.max_messages, 1, 10000),
    U32("chat.max_picture_bytes", chat.max_picture_bytes, 1024, 16 * 1024 * 1024),
    U32("chat.picture_budget_bytes", chat.picture_budget_bytes, 1024, 1024 * 1024 * 1024),
    U32("chat.server_picture_bytes", chat.server_picture_bytes, 1024, UINT32_MAX),
    U32("chat.messages_per_second", chat.messages_per_second, 1, 1000),
    U32("chat.message_burst", chat.message_burst, 1, 10000),
    U32("chat.pictures_per_minute", chat.pictures_per_minute, 1, 6000),
    U32("chat.picture_burst", chat.picture_burst, 1, 1000),
    U32("chat.max_uploads", chat.max_uploads, 1, 100),
    U32("chat.upload_idle_s", chat.upload_idle_s, 1, 3600),
    {"chat.allow_metadata", K_BOOL, offsetof(struct tdm_config, chat.allow_metadata),
     sizeof(uint32_t), 0, 1},
    {"turn.urls", K_TURN_URLS, 0, 0, 0, 0},
    STR("turn.secret_file", turn_secret_file),
    /* ten minutes (a TURN allocation is refreshed every ten) to a week */
    U32("turn.ttl_s", turn_ttl_s, 600, 7 * 86400),
    {"metrics.listen", K_HOSTPORT, offsetof(struct tdm_config, metrics_listen),
     sizeof(((struct tdm_config *)0)->metrics_listen), 0, 0},
    {"cluster.redis", K_REDIS, offsetof(struct tdm_config, cluster_redis),
     sizeof(((struct tdm_config *)0)->cluster_redis), 0, 0},
    STR("cluster.password_file", cluster_password_file),
    {"cluster.node_url", K_URL, offsetof(struct tdm_config, cluster_node_url), 0, 0, 0},
    {"cluster.node_name", K_NAME, offsetof(struct tdm_config, cluster_node_name),
     sizeof(((struct tdm_config *)0)->cluster_node_name), 0, 0},
    U32("cluster.heartbeat_ms", cluster_heartbeat_ms, 100, 60000),
    U32("cluster.ttl_ms", cluster_ttl_ms, 500, 600000),
    U32("cluster.timeout_ms", cluster_timeout_ms, 50, 30000),
    {"pages.quick_exit_url", K_PAGE_URL, offsetof(struct tdm_config, quick_exit_url),
     sizeof(((struct tdm_config *)0)->quick_exit_url), 0, 0},
};

void tdm_config_defaults(struct tdm_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->port = 8443;
    snprintf(cfg->cert, sizeof cfg->cert, "certs/dev-cert.pem");
    snprintf(cfg->key, sizeof cfg->key, "certs/dev-key.pem");
    snprintf(cfg->web_root, sizeof cfg->web_root, "web");
    snprintf(cfg->invite_key_file, sizeof cfg->invite_key_file, "certs/invite.key");
    snprintf(cfg->invite_ledger_file, sizeof cfg->invite_ledger_file, "certs/invite.ledger");
    cfg->log_level = TDM_LOG_INFO;
    cfg->media_port_base = 10000;
    cfg->media_ice_udp = cfg->media_ice_tcp = 1;
    cfg->media_mix_speakers = 3;
    cfg->sync_max_wait_s = 15;
    cfg->turn_ttl_s = 86400; /* longer than any call: docs/turn.md "Long calls" */
    /* a dead node's rooms come back elsewhere within about ttl_ms (docs/deploy.md) */
    cfg->cluster_heartbeat_ms = 2000;
    cfg->cluster_ttl_ms = 6000;
    cfg->cluster_timeout_ms = 1000;
    cfg->chat = (struct tdm_chat_limits){
        .max_messages = 200,
        .max_picture_bytes = 2 * 1024 * 1024,
        .picture_budget_bytes = 20 * 1024 * 1024,
        .server_picture_bytes = 256 * 1024 * 1024,
        .messages_per_second = 5,
        .message_burst = 10,
        .pictures_per_minute = 30,
        .picture_burst = 3,
        .max_uploads = 4,
        .upload_idle_s = 30,
    };
    cfg->limits = (struct tdm_limits){
        .max_rooms = 500,
        .max_participants_per_room = 12,
        .max_connections = 2000,
        .max_message_bytes = 65536,
        .messages_per_second = 20,
        .message_burst = 50,
        .idle_timeout_s = 45,
        /* generous: a shelter or a library puts many people behind one address */
        .max_connections_per_address = 50,
        /* an attacker's half-made connections cost sockets, OpenSSL objects and timers: a
         * few hundred cover a burst of real joins */
        .max_pending_media = 200,
        .ice_timeout_s = 30,
        .consent_timeout_s = 30, /* RFC 7675 */
        .dtls_timeout_s = 30,
        /* Sockets that send nothing cost a descriptor and a few hundred bytes while the
         * gate waits for their ClientHello; a real browser sends it at once. */
        .max_new_connections = 1024,
        .max_new_connections_per_address = 32,
        .hello_timeout_s = 3,
        /* Each of these holds OpenSSL state and an HTTP header buffer (about 5 KiB) */
        .max_handshakes = 256,
        .max_handshakes_per_address = 32,
        .handshake_timeout_s = 5,
        /* a Wi-Fi to mobile switch or a lift takes seconds; a closed lid is not a blip */
        .resume_grace_s = 25,
    };
}

static bool addr_ok(const char *v)
{
    unsigned char buf[16];
    return inet_pton(AF_INET, v, buf) == 1 || inet_pton(AF_INET6, v, buf) == 1;
}

static int set_u32(uint32_t *dst, const struct option_def *o, const char *v, char *err,
                   size_t errlen)
{
    char *end;
    errno = 0;
    if (!*v || *v == '-' || *v == '+')
        goto bad;
    unsigned long long n = strtoull(v, &end, 10);
    if (errno || *end || n < o->min || n > o->max)
        goto bad;
    *dst = (uint32_t)n;
    return 0;
bad:
    return tdm_seterr(err, errlen, TDM_EINVAL,
                      "%s: expected a whole number from %u to %u, got \"%.40s\"", o->name, o->min,
                      o->max, v);
}

static int set_addr_list(struct tdm_config *cfg, const char *v, char *err, size_t errlen)
{
    char buf[TDM_CONFIG_MAX_MEDIA_ADDRS * 64];
    if (strlen(v) >= sizeof buf)
        return tdm_seterr(err, errlen, TDM_EINVAL, "server.media_addresses: too long");
    memcpy(buf, v, strlen(v) + 1);
    cfg->n_media_addrs = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
        if (cfg->n_media_addrs == TDM_CONFIG_MAX_MEDIA_ADDRS)
            return tdm_seterr(err, errlen, TDM_EINVAL,
                              "server.media_addresses: at most %d addresses",
                              TDM_CONFIG_MAX_MEDIA_ADDRS);
        if (!addr_ok(tok))
            return tdm_seterr(err, errlen, TDM_EINVAL,
                              "server.media_addresses: \"%.40s\" is not an IP address", tok);
        snprintf(cfg->media_addrs[cfg->n_media_addrs++], 64, "%s", tok);
    }
    return 0;
}

/* The sync core parses origins (its rules are the ones sources are checked against), so a
 * throwaway instance validates each; they also go into the CSP header, hence the bounds. */
static int set_origin_list(struct tdm_config *cfg, const char *v, char *err, size_t errlen)
{
    char buf[TDM_CONFIG_MAX_ORIGINS * (TDM_CONFIG_ORIGIN_MAX + 2)];
    if (strlen(v) >= sizeof buf)
        return tdm_seterr(err, errlen, TDM_EINVAL, "sync.allowed_origins: too long");
    memcpy(buf, v, strlen(v) + 1);
    cfg->n_sync_origins = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
        if (cfg->n_sync_origins == TDM_CONFIG_MAX_ORIGINS || strlen(tok) > TDM_CONFIG_ORIGIN_MAX)
            return tdm_seterr(err, errlen, TDM_EINVAL,
                              "sync.allowed_origins: at most %d origins of %d bytes",
                              TDM_CONFIG_MAX_ORIGINS, TDM_CONFIG_ORIGIN_MAX);
        struct tdm_sync_config sc;
        struct tdm_sync *s = NULL;
        const char *one[1] = {tok};
        tdm_sync_config_init(&sc);
        sc.allowed_origins = one;
        sc.n_allowed_origins = 1;
        int rc = tdm_sync_create(&sc, &s, NULL, 0);
        tdm_sync_destroy(s);
        if (rc != 0 || strpbrk(tok, ";'\""))
            return tdm_seterr(err, errlen, TDM_EINVAL,
                              "sync.allowed_origins: \"%.40s\" is not https://host[:port]", tok);
        snprintf(cfg->sync_origins[cfg->n_sync_origins++], TDM_CONFIG_ORIGIN_MAX + 1, "%s", tok);
    }
    return 0;
}

/* server.public_url and cluster.node_url: https://host[:port], a slash at the end tolerated
 * (and dropped). No path, query, fragment or user: links are <base>/r/<room>#t=..., and the
 * pages live at the root. Host: a DNS name or an IPv4 address ([A-Za-z0-9.-]) or a bracketed
 * IPv6 address. dst holds TDM_CONFIG_PUBLIC_URL_MAX + 1 bytes. */
static int set_https_url(char *dst, const char *name, const char *v, char *err, size_t errlen)
{
    static const char scheme[] = "https://";
    size_t n = strlen(v);
    if (n && v[n - 1] == '/')
        n--;
    if (n == 0 && !*v) {
        dst[0] = '\0';
        return 0;
    }
    const char *p = v + sizeof scheme - 1, *end = v + n;
    if (n > TDM_CONFIG_PUBLIC_URL_MAX || strncmp(v, scheme, sizeof scheme - 1) != 0 || p >= end)
        goto bad;
    if (*p == '[') {
        const char *close = memchr(p, ']', (size_t)(end - p));
        if (!close || close == p + 1)
            goto bad;
        for (const char *q = p + 1; q < close; q++)
            if (!g_ascii_isxdigit(*q) && *q != ':' && *q != '.')
                goto bad;
        p = close + 1;
    } else {
        const char *h = p;
        while (p < end && (g_ascii_isalnum(*p) || *p == '.' || *p == '-'))
            p++;
        if (p == h || *h == '.' || *h == '-' || p[-1] == '-')
            goto bad;
    }
    if (p < end && *p == ':') {
        const char *d = ++p;
        unsigned long port = 0;
        while (p < end && g_ascii_isdigit(*p) && p - d < 5)
            port = port * 10 + (unsigned long)(*p++ - '0');
        if (p == d || port == 0 || port > 65535)
            goto bad;
    }
    if (p != end)
        goto bad;
    memcpy(dst, v, n);
    dst[n] = '\0';
    return 0;
bad:
    return tdm_seterr(err, errlen, TDM_EINVAL,
                      "%s: expected https://host or https://host:port (no path, query or "
                      "fragment), got \"%.60s\"",
                      name, v);
}

/* cluster.redis: "" (off), an IP literal and port, or "unix:" and an absolute path. */
static int set_redis(char *dst, size_t cap, const char *v, char *err, size_t errlen)
{
    char host[64];
    uint16_t port;
    bool ok = !*v || (strncmp(v, "unix:/", 6) == 0 && strlen(v) > 6) ||
              (tdm_config_parse_hostport(v, host, sizeof host, &port) == 0 && port != 0);
    if (!ok || strlen(v) >= cap || strlen(v) >= 108 /* sun_path */)
        return tdm_seterr(err, errlen, TDM_EINVAL,
                          "cluster.redis: expected \"\" (off), ADDRESS:PORT with an IP address "
                          "(like 10.0.0.5:6379) or unix:/path/to/redis.sock, got \"%.60s\"",
                          v);
    memcpy(dst, v, strlen(v) + 1);
    return 0;
}

static bool name_char(char ch)
{
    return g_ascii_isalnum(ch) || ch == '.' || ch == '_' || ch == '-';
}

static int set_name(char *dst, size_t cap, const char *v, char *err, size_t errlen)
{
    size_t n = strlen(v);
    bool ok = n < cap;
    for (size_t i = 0; ok && i < n; i++)
        ok = name_char(v[i]);
    if (!ok)
        return tdm_seterr(err, errlen, TDM_EINVAL,
                          "cluster.node_name: up to %d characters of A-Z a-z 0-9 . _ -, got "
                          "\"%.60s\"",
                          TDM_CLUSTER_NAME_MAX, v);
    memcpy(dst, v, n + 1);
    return 0;
}

void tdm_config_cluster_name(const struct tdm_config *cfg, char out[TDM_CLUSTER_NAME_MAX + 1])
{
    if (cfg->cluster_node_name[0]) {
        snprintf(out, TDM_CLUSTER_NAME_MAX + 1, "%s", cfg->cluster_node_name);
        return;
    }
    const char *u = cfg->cluster_node_url;
    if (strncmp(u, "https://", 8) == 0)
        u += 8;
    size_t i = 0;
    for (; u[i] && i < TDM_CLUSTER_NAME_MAX; i++)
        out[i] = name_char(u[i]) ? u[i] : '_';
    out[i] = '\0';
}

/* pages.quick_exit_url: "", a path on this server ("/x", not "//x"), or an https:// address
 * with a host; only the characters a URL may carry unescaped (RFC 3986), so that it can go
 * into JSON and a location without surprises. */
static bool page_url_ok(const char *v, size_t cap)
{
    size_t n = strlen(v);
    if (n == 0)
        return true;
    if (n >= cap)
        return false;
    if (v[0] == '/') {
        if (v[1] == '/' || v[1] == '\\')
            return false;
    } else if (strncmp(v, "https://", 8) != 0 || !g_ascii_isalnum(v[8])) {
        return false;
    }
    for (const char *p = v; *p; p++)
        if (!g_ascii_isalnum(*p) && !strchr("-._~:/?#[]@!$&()*+,;=%", *p))
            return false;
    return true;
}

int tdm_config_parse_hostport(const char *v, char *host, size_t hostcap, uint16_t *port)
{
    const char *colon = strrchr(v, ':'), *h = v, *hend = colon;
    if (!colon || colon == v)
        return TDM_EINVAL;
    if (*v == '[') { /* [v6]:port */
        if (colon[-1] != ']')
            return TDM_EINVAL;
        h = v + 1;
        hend = colon - 1;
    } else if (memchr(v, ':', (size_t)(colon - v))) {
        return TDM_EINVAL; /* an IPv6 address needs its brackets */
    }
    size_t hl = (size_t)(hend - h);
    if (hl == 0 || hl >= hostcap || hl >= 64)
        return TDM_EINVAL;
    char buf[64];
    memcpy(buf, h, hl);
    buf[hl] = '\0';
    unsigned char bin[16];
    bool v6 = *v == '[';
    if (inet_pton(v6 ? AF_INET6 : AF_INET, buf, bin) != 1)
        return TDM_EINVAL;
    const char *d = colon + 1;
    unsigned long n = 0;
    if (!*d || strlen(d) > 5)
        return TDM_EINVAL;
    for (; *d; d++) {
        if (!g_ascii_isdigit(*d))
            return TDM_EINVAL;
        n = n * 10 + (unsigned long)(*d - '0');
    }
    if (n > 65535)
        return TDM_EINVAL;
    memcpy(host, buf, hl + 1);
    *port = (uint16_t)n;
    return 0;
}

int tdm_config_set(struct tdm_config *cfg, const char *name, const char *value, char *err,
                   size_t errlen)
{
    for (size_t i = 0; i < sizeof options / sizeof options[0]; i++) {
        const struct option_def *o = &options[i];
        if (strcmp(o->name, name) != 0)
            continue;
        char *field = (char *)cfg + o->offset;
        switch (o->kind) {
        case K_U32: return set_u32((uint32_t *)field, o, value, err, errlen);
        case K_ADDR:
            if (*value && !addr_ok(value))
                return tdm_seterr(err, errlen, TDM_EINVAL, "%s: \"%.40s\" is not an IP address",
                                  name, value);
            /* fall through */
        case K_STR:
            if (strlen(value) >= o->size)
                return tdm_seterr(err, errlen, TDM_EINVAL, "%s: longer than %zu bytes", name,
                                  o->size - 1);
            memcpy(field, value, strlen(value) + 1);
            return 0;
        case K_ADDR_LIST: return set_addr_list(cfg, value, err, errlen);
        case K_ORIGIN_LIST: return set_origin_list(cfg, value, err, errlen);
        case K_URL: return set_https_url(field, name, value, err, errlen);
        case K_REDIS: return set_redis(field, o->size, value, err, errlen);
        case K_NAME: return set_name(field, o->size, value, err, errlen);
        case K_TURN_URLS:
            return tdm_turn_parse_urls(value, cfg->turn_urls, &cfg->n_turn_urls, err, errlen);
        case K_HOSTPORT: {
            char host[64];
            uint16_t port;
            if (*value && (strlen(value) >= o->size ||
                           tdm_config_parse_hostport(value, host, sizeof host, &port) != 0))
                return tdm_seterr(err, errlen, TDM_EINVAL,
                                  "%s: expected \"\" (off), ADDRESS:PORT or [IPV6]:PORT with an IP "
                                  "address (like 127.0.0.1:9464), got \"%.60s\"",
                                  name, value);
            memcpy(field, value, strlen(value) + 1);
            return 0;
        }
        case K_PAGE_URL:
            if (!page_url_ok(value, o->size))
                return tdm_seterr(err, errlen, TDM_EINVAL,
                                  "%s: expected \"\" (the neutral page), a path on this server "
                                  "like /leave.html, or an https:// address, got \"%.60s\"",
                                  name, value);
            memcpy(field, value, strlen(value) + 1);
            return 0;
        case K_BOOL:
            if (strcmp(value, "true") == 0 || strcmp(value, "1") == 0)
                *(uint32_t *)field = 1;
            else if (strcmp(value, "false") == 0 || strcmp(value, "0") == 0)
                *(uint32_t *)field = 0;
            else
                return tdm_seterr(err, errlen, TDM_EINVAL,
                                  "%s: expected true or false, got \"%.20s\"", name, value);
            return 0;
        case K_LOGLEVEL:
            if (tdm_log_parse_level(value, &cfg->log_level) != 0)
                return tdm_seterr(err, errlen, TDM_EINVAL,
                                  "%s: expected error, warn, info or debug, got \"%.20s\"", name,
                                  value);
            return 0;
        }
    }
    return tdm_seterr(err, errlen, TDM_EINVAL, "unknown option \"%.80s\"", name);
}

/* A section is known when some option's name starts with "<section>.". */
static bool group_known(const char *group)
{
    size_t n = strlen(group);
    for (size_t i = 0; i < sizeof options / sizeof options[0]; i++)
        if (strncmp(options[i].name, group, n) == 0 && options[i].name[n] == '.')
            return true;
    return false;
}

static int load_group(struct tdm_config *cfg, GKeyFile *kf, const char *path, const char *group,
                      char *err, size_t errlen)
{
    gsize nkeys = 0;
    gchar **keys = g_key_file_get_keys(kf, group, &nkeys, NULL);
    int rc = 0;
    for (gsize k = 0; k < nkeys && rc == 0; k++) {
        char name[128];
        snprintf(name, sizeof name, "%s.%s", group, keys[k]);
        gchar *v = g_key_file_get_string(kf, group, keys[k], NULL);
        char sub[256];
        rc = v ? tdm_config_set(cfg, name, g_strstrip(v), sub, sizeof sub) : TDM_EINVAL;
        if (rc)
            tdm_seterr(err, errlen, rc, "%s: %s", path, v ? sub : name);
        g_free(v);
    }
    g_strfreev(keys);
    return rc;
}

/* Applies every group of a parsed key file; `name` (the path) starts each message. */
static int load_keyfile(struct tdm_config *cfg, GKeyFile *kf, const char *name, char *err,
                        size_t errlen)
{
    gsize ngroups = 0;
    gchar **groups = g_key_file_get_groups(kf, &ngroups);
    int rc = 0;
    for (gsize g = 0; g < ngroups && rc == 0; g++) {
        if (!group_known(groups[g]))
            rc =
                tdm_seterr(err, errlen, TDM_EINVAL, "%s: unknown section [%.60s]", name, groups[g]);
        else
            rc = load_group(cfg, kf, name, groups[g], err, errlen);
    }
    g_strfreev(groups);
    return rc;
}

int tdm_config_load_file(struct tdm_config *cfg, const char *path, char *err, size_t errlen)
{
    GKeyFile *kf = g_key_file_new();
    GError *gerr = NULL;
    int rc = 0;
    if (!g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, &gerr)) {
        rc = tdm_seterr(err, errlen, gerr->domain == G_FILE_ERROR ? TDM_EIO : TDM_EINVAL, "%s: %s",
                        path, gerr->message);
        g_error_free(gerr);
        goto out;
    }
    rc = load_keyfile(cfg, kf, path, err, errlen);
out:
    g_key_file_free(kf);
    return rc;
}

int tdm_config_load_data(struct tdm_config *cfg, const char *data, size_t len, const char *name,
                         char *err, size_t errlen)
{
    GKeyFile *kf = g_key_file_new();
    GError *gerr = NULL;
    int rc = 0;
    /* GLib reads (gsize)-1 as "NUL-terminated"; no real buffer is that long. */
    if (len == (size_t)-1) {
        rc = tdm_seterr(err, errlen, TDM_EINVAL, "%s: too long", name);
        goto out;
    }
    if (!g_key_file_load_from_data(kf, data, len, G_KEY_FILE_NONE, &gerr)) {
        rc = tdm_seterr(err, errlen, TDM_EINVAL, "%s: %s", name, gerr->message);
        g_error_free(gerr);
        goto out;
    }
    rc = load_keyfile(cfg, kf, name, err, errlen);
out:
    g_key_file_free(kf);
    return rc;
}

static int validate_cluster(const struct tdm_config *cfg, char *err, size_t errlen)
{
    if (!cfg->cluster_redis[0]) {
        if (cfg->cluster_node_url[0] || cfg->cluster_password_file[0])
            return tdm_seterr(err, errlen, TDM_EINVAL,
                              "cluster: node_url and password_file need cluster.redis");
        return 0;
    }
    if (!cfg->cluster_node_url[0])
        return tdm_seterr(err, errlen, TDM_EINVAL,
                          "cluster.node_url: each node needs its own address (https://host[:port]"
                          ") when cluster.redis is set");
    if (!cfg->public_url[0])
        return tdm_seterr(err, errlen, TDM_EINVAL,
                          "server.public_url: the one name of all nodes is needed when "
                          "cluster.redis is set");
    if (cfg->cluster_ttl_ms < 2 * cfg->cluster_heartbeat_ms)
        return tdm_seterr(err, errlen, TDM_EINVAL,
                          "cluster.ttl_ms: must be at least twice cluster.heartbeat_ms (one "
                          "late heartbeat must not lose the node's rooms)");
    if (cfg->cluster_timeout_ms >= cfg->cluster_heartbeat_ms)
        return tdm_seterr(err, errlen, TDM_EINVAL,
                          "cluster.timeout_ms: must be below cluster.heartbeat_ms");
    return 0;
}

int tdm_config_validate(const struct tdm_config *cfg, char *err, size_t errlen)
{
    if (!cfg->cert[0] || !cfg->key[0])
        return tdm_seterr(err, errlen, TDM_EINVAL, "server.cert and server.key are both needed");
    if (!cfg->web_root[0])
        return tdm_seterr(err, errlen, TDM_EINVAL, "server.web_root: must not be empty");
    if (cfg->limits.message_burst < 1 || cfg->limits.messages_per_second < 1)
        return tdm_seterr(err, errlen, TDM_EINVAL, "limits: message rate must be positive");
    if (!cfg->media_ice_udp && !cfg->media_ice_tcp)
        return tdm_seterr(err, errlen, TDM_EINVAL, "media: ice_udp and ice_tcp cannot both be off");
    /* media.workers 0 means one per core, up to 64: keep the whole range valid. */
    if (cfg->media_port_base + (cfg->media_workers ? cfg->media_workers : 64) - 1 > 65535)
        return tdm_seterr(err, errlen, TDM_EINVAL,
                          "media.port_base: port_base + workers - 1 must stay below 65536");
    if (cfg->chat.picture_budget_bytes < cfg->chat.max_picture_bytes)
        return tdm_seterr(err, errlen, TDM_EINVAL,
                          "chat.picture_budget_bytes: must hold at least one picture "
                          "(chat.max_picture_bytes)");
    if (cfg->chat.server_picture_bytes < cfg->chat.max_picture_bytes)
        return tdm_seterr(err, errlen, TDM_EINVAL,
                          "chat.server_picture_bytes: must hold at least one picture "
                          "(chat.max_picture_bytes)");
    if ((cfg->n_turn_urls > 0) != (cfg->turn_secret_file[0] != '\0'))
        return tdm_seterr(err, errlen, TDM_EINVAL,
                          "turn: urls and secret_file go together (both set, or neither)");
    return validate_cluster(cfg, err, errlen);
}
