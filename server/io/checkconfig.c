/* tandem --check-config: everything the start would refuse, found without starting (no
 * port is bound, nothing is created), so that a changed config or a renewed certificate
 * can be checked before a restart or a SIGHUP. */
#include "checkconfig.h"
#include "app.h"
#include "cluster.h"
#include "tlsfiles.h"

#include "tandem/err.h"
#include "tandem/util.h"

#include <errno.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define EXPIRY_WARN_S (14 * 86400) /* certbot renews 30 days ahead: 14 left means it did not */

struct report {
    FILE *out;
    unsigned problems, warnings;
};

static void problem(struct report *r, const char *what)
{
    fprintf(r->out, "error: %s\n", what);
    r->problems++;
}

static void warning(struct report *r, const char *what)
{
    fprintf(r->out, "warning: %s\n", what);
    r->warnings++;
}

/* The folder a file to be made lands in must let us write. */
static void check_creatable(struct report *r, const char *key, const char *path)
{
    char dir[TDM_CONFIG_PATH_MAX], msg[TDM_CONFIG_PATH_MAX + 160];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == dir)
        dir[1] = 0;
    else
        *slash = 0;
    if (access(dir, W_OK | X_OK) != 0) {
        snprintf(msg, sizeof msg, "%s: %s does not exist and its folder %s is not writable (%s)",
                 key, path, dir, strerror(errno));
        problem(r, msg);
    }
}

static void check_tls(struct report *r, const struct tdm_config *cfg, int64_t now_s)
{
    char err[TDM_CONFIG_PATH_MAX * 2 + 200], msg[sizeof err + 64], until[32];
    int64_t not_after = 0;
    if (tdm_tlsfiles_check(cfg->cert, cfg->key, &not_after, err, sizeof err)) {
        problem(r, err);
        return;
    }
    time_t t = (time_t)not_after;
    struct tm tm;
    strftime(until, sizeof until, "%Y-%m-%d %H:%M UTC", gmtime_r(&t, &tm));
    if (not_after <= now_s) {
        snprintf(msg, sizeof msg, "TLS certificate %s expired on %s", cfg->cert, until);
        problem(r, msg);
    } else if (not_after - now_s < EXPIRY_WARN_S) {
        snprintf(msg, sizeof msg,
                 "TLS certificate %s expires soon, on %s (is certbot renewing it?)", cfg->cert,
                 until);
        warning(r, msg);
    } else {
        fprintf(r->out, "certificate: %s, valid until %s\n", cfg->cert, until);
    }
}

static void check_invites(struct report *r, const struct tdm_config *cfg)
{
    char err[TDM_CONFIG_PATH_MAX + 200], msg[sizeof err + 64];
    uint8_t key[32];
    struct stat st;
    if (stat(cfg->invite_key_file, &st) != 0 && errno == ENOENT) {
        fprintf(r->out, "invite key: %s will be made at the first start\n", cfg->invite_key_file);
        check_creatable(r, "invites.key_file", cfg->invite_key_file);
    } else if (tdm_invites_load_key(cfg->invite_key_file, false, key, err, sizeof err)) {
        snprintf(msg, sizeof msg, "invites.key_file: %s", err);
        problem(r, msg);
    }
    OPENSSL_cleanse(key, sizeof key);
    const char *ledger = cfg->invite_ledger_file;
    if (!ledger[0]) {
        warning(r, "invites.ledger_file is \"\": withdrawn links come back after a restart");
    } else if (stat(ledger, &st) != 0) {
        check_creatable(r, "invites.ledger_file", ledger);
    } else if (!S_ISREG(st.st_mode) || access(ledger, R_OK | W_OK) != 0) {
        snprintf(msg, sizeof msg,
                 "invites.ledger_file: %s must be a file tandem can read and "
                 "write",
                 ledger);
        problem(r, msg);
    }
}

static void check_folder(struct report *r, const char *key, const char *path)
{
    char real[PATH_MAX], msg[TDM_CONFIG_PATH_MAX + 160];
    struct stat st;
    if (!realpath(path, real) || stat(real, &st) != 0 || !S_ISDIR(st.st_mode) ||
        access(real, R_OK | X_OK) != 0) {
        snprintf(msg, sizeof msg, "%s: %s is not a folder tandem can read", key, path);
        problem(r, msg);
    }
}

/* Several nodes: the password file, and Redis itself (reached, password taken, PING). */
static void check_cluster(struct report *r, const struct tdm_config *cfg)
{
    char err[TDM_CONFIG_PATH_MAX + 200], name[TDM_CLUSTER_NAME_MAX + 1];
    if (!cfg->cluster_redis[0])
        return;
    tdm_config_cluster_name(cfg, name);
    fprintf(r->out, "cluster: node %s (%s), Redis at %s\n", name, cfg->cluster_node_url,
            cfg->cluster_redis);
    if (tdm_cluster_probe(cfg, err, sizeof err)) {
        snprintf(err + strlen(err), sizeof err - strlen(err),
                 " (Tandem starts anyway and joins wait until Redis answers)");
        warning(r, err);
    } else {
        fprintf(r->out, "cluster: Redis answers\n");
    }
    if (!cfg->cluster_password_file[0])
        warning(r, "cluster.password_file is not set: keep Redis on a private network, with a "
                   "password (docs/deploy.md)");
}

int tdm_check_config(const struct tdm_config *cfg, FILE *out)
{
    struct report r = {.out = out};
    char err[512], msg[TDM_CONFIG_PATH_MAX + 160];
    if (tdm_config_validate(cfg, err, sizeof err))
        problem(&r, err);
    check_folder(&r, "server.web_root", cfg->web_root);
    snprintf(msg, sizeof msg, "%s/index.html", cfg->web_root);
    if (access(msg, R_OK) != 0)
        warning(&r, "server.web_root has no readable index.html: is it Tandem's web folder?");
    check_tls(&r, cfg, tdm_wall_us() / 1000000);
    check_invites(&r, cfg);
    if (cfg->sync_media_dir[0])
        check_folder(&r, "sync.media_dir", cfg->sync_media_dir);
    if (cfg->n_turn_urls && cfg->turn_secret_file[0]) {
        char secret[TDM_TURN_SECRET_MAX + 1];
        size_t len = 0;
        if (tdm_turn_read_secret(cfg->turn_secret_file, secret, &len, err, sizeof err))
            problem(&r, err);
        OPENSSL_cleanse(secret, sizeof secret);
    }
    check_cluster(&r, cfg);
    if (cfg->open_rooms)
        warning(&r, "invites.open_rooms is on: anyone with a room link gets in (development "
                    "only)");
    if (!cfg->public_url[0])
        warning(&r, "server.public_url is not set: links will start with https://localhost");
    if (cfg->port && cfg->port < 1024 && geteuid() != 0)
        fprintf(out,
                "note: port %u needs root or CAP_NET_BIND_SERVICE (the systemd unit gives "
                "it)\n",
                (unsigned)cfg->port);
    if (r.problems)
        fprintf(out, "%u error%s, %u warning%s\n", r.problems, r.problems == 1 ? "" : "s",
                r.warnings, r.warnings == 1 ? "" : "s");
    else
        fprintf(out, "OK%s\n", r.warnings ? " (with warnings above)" : "");
    return r.problems ? 1 : 0;
}
