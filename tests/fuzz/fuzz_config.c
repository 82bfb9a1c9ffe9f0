/* libFuzzer target: the configuration reader (server/io/config.c).
 *
 * Input: a config file as an operator would write it. It is read with tdm_config_load_data
 * (GLib's key-file parser, then every key checked and stored), and independently each of its
 * lines of the form "group.key=value" goes to tdm_config_set, as command-line flags do.
 *
 * Invariants: only 0 or TDM_EINVAL, with a message on refusal; whatever was accepted or
 * half-applied, the configuration stays well-formed: every string NUL-terminated inside its
 * field, every number inside its documented range, the media address list within bounds and
 * made of IP addresses, a known log level, open_rooms 0 or 1; a value tdm_config_set accepts
 * is stored as given; a file that loads, written back as "name=value" flags, gives the same
 * configuration. Nothing crashes or leaks. */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tandem/config.h"
#include "tandem/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define check(cond) ((cond) ? (void)0 : fail_at(__LINE__, #cond))

static void fail_at(int line, const char *what)
{
    fprintf(stderr, "invariant failed at line %d: %s\n", line, what);
    abort();
}

#define TERMINATED(f) (memchr((f), '\0', sizeof(f)) != NULL)

static bool ip_ok(const char *s)
{
    unsigned char buf[16];
    return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

static void check_config(const struct tdm_config *c)
{
    check(TERMINATED(c->listen) && TERMINATED(c->cert) && TERMINATED(c->key) &&
          TERMINATED(c->web_root) && TERMINATED(c->public_ip) && TERMINATED(c->invite_key_file));
    check(!c->listen[0] || ip_ok(c->listen));
    check(!c->public_ip[0] || ip_ok(c->public_ip));
    check(c->port <= 65535);
    check(c->n_media_addrs <= TDM_CONFIG_MAX_MEDIA_ADDRS);
    for (size_t i = 0; i < c->n_media_addrs; i++)
        check(TERMINATED(c->media_addrs[i]) && ip_ok(c->media_addrs[i]));
    check(c->log_level >= TDM_LOG_ERROR && c->log_level <= TDM_LOG_DEBUG);
    check(c->open_rooms <= 1);
    const struct tdm_limits *l = &c->limits;
    check(l->max_rooms >= 1 && l->max_rooms <= 100000);
    check(l->max_participants_per_room >= 2 && l->max_participants_per_room <= 100);
    check(l->max_connections >= 1 && l->max_connections <= 100000);
    check(l->max_message_bytes >= 1024 && l->max_message_bytes <= 16 * 1024 * 1024);
    check(l->messages_per_second >= 1 && l->messages_per_second <= 10000);
    check(l->message_burst >= 1 && l->message_burst <= 100000);
    check(l->idle_timeout_s >= 5 && l->idle_timeout_s <= 3600);
    check(l->max_connections_per_address >= 1 && l->max_connections_per_address <= 100000);
    char err[256];
    int v = tdm_config_validate(c, err, sizeof err);
    check(v == 0 || v == TDM_EINVAL);
}

static bool same_config(const struct tdm_config *a, const struct tdm_config *b)
{
    if (a->n_media_addrs != b->n_media_addrs)
        return false;
    for (size_t i = 0; i < a->n_media_addrs; i++)
        if (strcmp(a->media_addrs[i], b->media_addrs[i]) != 0)
            return false;
    return strcmp(a->listen, b->listen) == 0 && a->port == b->port &&
           strcmp(a->cert, b->cert) == 0 && strcmp(a->key, b->key) == 0 &&
           strcmp(a->web_root, b->web_root) == 0 && strcmp(a->public_ip, b->public_ip) == 0 &&
           a->log_level == b->log_level && memcmp(&a->limits, &b->limits, sizeof a->limits) == 0 &&
           a->open_rooms == b->open_rooms && strcmp(a->invite_key_file, b->invite_key_file) == 0;
}

/* Strings whose stored text must equal what was given (numbers may be written "007"). */
static const char *stored_string(const struct tdm_config *c, const char *name)
{
    static const struct {
        const char *name;
        size_t off;
    } fields[] = {
        {"server.listen", offsetof(struct tdm_config, listen)},
        {"server.cert", offsetof(struct tdm_config, cert)},
        {"server.key", offsetof(struct tdm_config, key)},
        {"server.web_root", offsetof(struct tdm_config, web_root)},
        {"server.public_ip", offsetof(struct tdm_config, public_ip)},
        {"invites.key_file", offsetof(struct tdm_config, invite_key_file)},
    };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (strcmp(fields[i].name, name) == 0)
            return (const char *)c + fields[i].off;
    return NULL;
}

/* strndup may read past n bytes of an unterminated buffer (ASan flags it): copy exactly. */
static char *dup_n(const char *p, size_t n)
{
    char *s = malloc(n + 1);
    if (s) {
        memcpy(s, p, n);
        s[n] = '\0';
    }
    return s;
}

/* Every "name=value" line (NUL-free) through tdm_config_set, as a command-line flag. */
static void flags(const char *text, size_t size)
{
    struct tdm_config cfg;
    tdm_config_defaults(&cfg);
    for (size_t start = 0, lines = 0; start < size && lines < 64; lines++) {
        const char *nl = memchr(text + start, '\n', size - start);
        size_t end = nl ? (size_t)(nl - text) : size;
        const char *eq = memchr(text + start, '=', end - start);
        if (eq && !memchr(text + start, '\0', end - start)) {
            size_t nlen = (size_t)(eq - text) - start, vlen = end - (size_t)(eq - text) - 1;
            char *name = dup_n(text + start, nlen), *value = dup_n(eq + 1, vlen);
            if (!name || !value)
                abort();
            char err[256] = "";
            int rc = tdm_config_set(&cfg, name, value, err, sizeof err);
            check(rc == 0 || (rc == TDM_EINVAL && err[0]));
            const char *s = stored_string(&cfg, name);
            check(rc != 0 || !s || strcmp(s, value) == 0);
            check_config(&cfg);
            free(name);
            free(value);
        }
        start = end + 1;
    }
}

/* A loaded configuration, set again flag by flag from defaults, must come out the same. */
static void replay_as_flags(const struct tdm_config *c)
{
    struct tdm_config again;
    char v[TDM_CONFIG_PATH_MAX * 2], err[256];
    static const char *const strs[] = {"server.listen",   "server.cert",      "server.key",
                                       "server.web_root", "server.public_ip", "invites.key_file"};
    static const char *const levels[] = {"error", "warn", "info", "debug"};
    tdm_config_defaults(&again);
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
        check(tdm_config_set(&again, strs[i], stored_string(c, strs[i]), err, sizeof err) == 0);
    size_t o = 0;
    v[0] = '\0';
    for (size_t i = 0; i < c->n_media_addrs; i++)
        o += (size_t)snprintf(v + o, sizeof v - o, "%s%s", i ? "," : "", c->media_addrs[i]);
    check(tdm_config_set(&again, "server.media_addresses", v, err, sizeof err) == 0);
    check(tdm_config_set(&again, "server.log_level", levels[c->log_level], err, sizeof err) == 0);
    snprintf(v, sizeof v, "%u", c->port);
    check(tdm_config_set(&again, "server.port", v, err, sizeof err) == 0);
    again.limits = c->limits;
    again.open_rooms = c->open_rooms;
    check(same_config(c, &again));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size ? size : 1); /* exact size and no NUL: ASan sees overreads */
    if (!text)
        abort();
    memcpy(text, data, size);
    struct tdm_config cfg;
    char err[512] = "";
    tdm_config_defaults(&cfg);
    int rc = tdm_config_load_data(&cfg, text, size, "fuzz.conf", err, sizeof err);
    check(rc == 0 || (rc == TDM_EINVAL && strncmp(err, "fuzz.conf: ", 11) == 0));
    check_config(&cfg);
    if (rc == 0)
        replay_as_flags(&cfg);
    flags(text, size);
    free(text);
    return 0;
}
