/* TURN for the pages (docs/turn.md): the secret shared with coturn, read at start, and
 * `ice_servers` (in welcome, and on request with ice.servers) with credentials made for
 * each joined participant. */
#include "app.h"
#include "signal.h"

#include "tandem/err.h"
#include "tandem/turn.h"
#include "tandem/util.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SECRET_FILE_MAX 1024

int tdm_turn_read_secret(const char *path, char out[TDM_TURN_SECRET_MAX + 1], size_t *out_len,
                         char *err, size_t errlen)
{
    char buf[SECRET_FILE_MAX + 1];
    *out_len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return tdm_seterr(err, errlen, TDM_EIO, "turn.secret_file %s: cannot read it: %s", path,
                          strerror(errno));
    struct stat st;
    ssize_t n = -1;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size <= SECRET_FILE_MAX)
        n = read(fd, buf, SECRET_FILE_MAX);
    close(fd);
    if (n < 0)
        return tdm_seterr(err, errlen, TDM_EINVAL,
                          "turn.secret_file %s: not a regular file of at most %d bytes", path,
                          SECRET_FILE_MAX);
    size_t len = (size_t)n;
    while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
        len--;
    int rc = tdm_turn_secret_check(buf, len);
    if (rc == 0) {
        memcpy(out, buf, len);
        out[len] = '\0';
        *out_len = len;
    }
    OPENSSL_cleanse(buf, sizeof buf);
    if (rc != 0)
        return tdm_seterr(err, errlen, TDM_EINVAL,
                          "turn.secret_file %s: the secret must be one line of %d to %d printable "
                          "characters without spaces (the same as coturn's static-auth-secret)",
                          path, TDM_TURN_SECRET_MIN, TDM_TURN_SECRET_MAX);
    if (st.st_mode & 077)
        TDM_WARN("turn.secret_file %s can be read by other users: chmod 600 it", path);
    return 0;
}

int tdm_turn_start(struct tdm_app *app)
{
    char err[TDM_CONFIG_PATH_MAX + 200];
    app->turn_secret_len = 0;
    if (app->cfg.n_turn_urls == 0 || !app->cfg.turn_secret_file[0])
        return 0;
    int rc = tdm_turn_read_secret(app->cfg.turn_secret_file, app->turn_secret,
                                  &app->turn_secret_len, err, sizeof err);
    if (rc) {
        TDM_ERROR("%s", err);
        return rc;
    }
    TDM_INFO("TURN: %zu server URL(s), credentials valid for %u s", app->cfg.n_turn_urls,
             app->cfg.turn_ttl_s);
    return 0;
}

void tdm_turn_stop(struct tdm_app *app)
{
    OPENSSL_cleanse(app->turn_secret, sizeof app->turn_secret);
    app->turn_secret_len = 0;
}

json_t *tdm_turn_ice_servers(struct tdm_app *app)
{
    if (app->turn_secret_len == 0)
        return NULL;
    uint8_t id[TDM_TURN_ID_BYTES];
    char user[TDM_TURN_USERNAME_MAX], cred[TDM_TURN_CREDENTIAL_MAX];
    /* The wall clock: coturn compares the expiry with its own. */
    uint64_t expiry = (uint64_t)(tdm_wall_us() / 1000000) + app->cfg.turn_ttl_s;
    if (RAND_bytes(id, sizeof id) != 1 ||
        tdm_turn_credential(app->turn_secret, app->turn_secret_len, expiry, id, user, sizeof user,
                            cred, sizeof cred) != 0)
        return NULL;
    json_t *urls = json_array();
    for (size_t i = 0; urls && i < app->cfg.n_turn_urls; i++)
        json_array_append_new(urls, json_string(app->cfg.turn_urls[i]));
    json_t *server =
        json_pack("{s:o, s:s, s:s}", "urls", urls, "username", user, "credential", cred);
    OPENSSL_cleanse(cred, sizeof cred);
    return server ? json_pack("[o]", server) : NULL;
}

void tdm_turn_add_to(struct tdm_app *app, json_t *msg)
{
    json_t *servers = tdm_turn_ice_servers(app);
    if (!msg || !servers)
        return;
    json_object_set_new(msg, "ice_servers", servers);
    json_object_set_new(msg, "ice_servers_ttl_s", json_integer(app->cfg.turn_ttl_s));
}

void tdm_on_ice_servers(struct tdm_app *app, struct tdm_conn *c, json_t *msg, json_t *id,
                        struct tdm_proto_err *e)
{
    (void)msg;
    (void)e;
    json_t *reply = json_pack("{s:s}", "type", "ice.servers");
    if (!reply)
        return;
    if (app->turn_secret_len == 0)
        json_object_set_new(reply, "ice_servers", json_array());
    else
        tdm_turn_add_to(app, reply);
    if (id)
        json_object_set(reply, "ref", id);
    tdm_conn_send(c, reply);
}
