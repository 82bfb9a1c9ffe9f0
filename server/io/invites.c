/* Invite links: the server secret, token checks at join, and invite.create for
 * coordinators. The token format and the ledger are in core (tandem/invite.h). */
#include "app.h"
#include "cluster.h"
#include "signal.h"

#include "tandem/err.h"
#include "tandem/util.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LEDGER_MAX 100000
#define INVITE_MAX_LIFETIME_S (366LL * 86400)

int tdm_invites_load_key(const char *path, bool create, uint8_t key[32], char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT && create) {
        uint8_t fresh[32];
        if (RAND_bytes(fresh, sizeof fresh) != 1)
            return tdm_seterr(err, errlen, TDM_ECRYPTO, "no randomness for the invite key");
        int wfd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (wfd < 0)
            return tdm_seterr(err, errlen, TDM_EIO, "cannot create invite key %s: %s", path,
                              strerror(errno));
        ssize_t w = write(wfd, fresh, sizeof fresh);
        close(wfd);
        OPENSSL_cleanse(fresh, sizeof fresh);
        if (w != (ssize_t)sizeof fresh)
            return tdm_seterr(err, errlen, TDM_EIO, "cannot write invite key %s", path);
        fd = open(path, O_RDONLY | O_CLOEXEC);
    }
    if (fd < 0)
        return tdm_seterr(err, errlen, TDM_EIO, "cannot read invite key %s: %s", path,
                          strerror(errno));
    struct stat st;
    ssize_t r = -1;
    if (fstat(fd, &st) == 0 && st.st_size == 32)
        r = read(fd, key, 32);
    close(fd);
    if (r != 32)
        return tdm_seterr(err, errlen, TDM_EINVAL, "invite key %s: must be exactly 32 bytes", path);
    if (st.st_mode & 077)
        TDM_WARN("invite key %s can be read by other users: chmod 600 it", path);
    return 0;
}

/* ---- the ledger journal ----------------------------------------------------------------
 * Withdrawn links and the use counts of limited links outlive a restart: every change
 * appends the entry's new state as one line (tdm_invite_record_format); at start the lines
 * are replayed (the larger count and any withdrawal win) and the file is rewritten with
 * only the entries not yet expired, as it is again whenever it has grown to over twice
 * that. It holds random ids, expiry times and counts: no room, name or address. A write
 * that fails is logged (rate-limited) and the ledger in memory still holds. */

#define JOURNAL_MAX_BYTES (64u << 20) /* far above LEDGER_MAX lines; a larger file is refused */
#define JOURNAL_SLACK 4096

struct compact_ctx {
    FILE *f;
    bool ok;
};

static void write_record(const struct tdm_invite_record *r, void *arg)
{
    struct compact_ctx *cc = arg;
    char line[TDM_INVITE_RECORD_TEXT];
    int n = tdm_invite_record_format(r, line, sizeof line);
    if (n < 0 || fwrite(line, 1, (size_t)n, cc->f) != (size_t)n)
        cc->ok = false;
}

/* Rewrites the journal with the live entries (temporary file, fsync, rename) and opens it
 * for appending. */
static int journal_compact(struct tdm_app *app)
{
    const char *path = app->cfg.invite_ledger_file;
    char tmp[TDM_CONFIG_PATH_MAX + 8];
    if (snprintf(tmp, sizeof tmp, "%s.new", path) >= (int)sizeof tmp)
        return TDM_ETOOBIG;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return TDM_EIO;
    FILE *f = fdopen(fd, "w");
    if (!f) {
        close(fd);
        unlink(tmp);
        return TDM_EIO;
    }
    struct compact_ctx cc = {f, true};
    struct stat st;
    size_t n = tdm_invite_ledger_each(app->invites, tdm_wall_us() / 1000000, write_record, &cc);
    cc.ok = fflush(f) == 0 && cc.ok && fsync(fd) == 0;
    if (fclose(f) != 0 || !cc.ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return TDM_EIO;
    }
    if (app->ledger_fd >= 0)
        close(app->ledger_fd);
    app->ledger_fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
    app->ledger_lines = n;
    if (app->ledger_fd < 0 || fstat(app->ledger_fd, &st) != 0)
        return TDM_EIO;
    app->ledger_ino = (uint64_t)st.st_ino; /* what it holds is in memory already */
    app->ledger_read_off = st.st_size;
    return 0;
}

#define POLL_INTERVAL_S 2
#define POLL_MAX_BYTES (1u << 20) /* read per tick, so that a huge append cannot stall the loop */

/* Restores the whole lines of buf[0..len) into l; returns how many bytes they took (a last
 * line without its newline is left for later). */
static size_t restore_lines(struct tdm_invite_ledger *l, const char *buf, size_t len, int64_t now_s,
                            size_t *bad, size_t *full)
{
    size_t used = 0;
    for (;;) {
        const char *nl = memchr(buf + used, '\n', len - used);
        if (!nl)
            return used;
        size_t n = (size_t)(nl - (buf + used));
        struct tdm_invite_record r;
        if (tdm_invite_record_parse(buf + used, n, &r) != 0)
            (*bad)++;
        else if (tdm_invite_ledger_restore(l, &r, now_s) == TDM_ELIMIT)
            (*full)++;
        used += n + 1;
    }
}

/* Reads fd from off to its end (at most max bytes) into l; returns the offset after the
 * last whole line, or -1 on a read error. Lines longer than a record are unreadable. */
static int64_t read_from(int fd, int64_t off, size_t max, struct tdm_invite_ledger *l, size_t *bad,
                         size_t *full)
{
    char buf[8192];
    size_t have = 0, total = 0;
    int64_t now_s = tdm_wall_us() / 1000000;
    while (total < max) {
        ssize_t r = pread(fd, buf + have, sizeof buf - have, (off_t)off + (off_t)have);
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        have += (size_t)r;
        total += (size_t)r;
        size_t used = restore_lines(l, buf, have, now_s, bad, full);
        if (used == 0 && have == sizeof buf) { /* no newline in 8 KiB: skip past it */
            (*bad)++;
            used = have;
        }
        memmove(buf, buf + used, have - used);
        have -= used;
        off += (int64_t)used;
    }
    return off;
}

int tdm_invites_read_ledger(const char *path, struct tdm_invite_ledger *l, size_t *bad,
                            size_t *full)
{
    *bad = *full = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : TDM_EIO;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > JOURNAL_MAX_BYTES) {
        close(fd);
        return TDM_EINVAL;
    }
    int64_t end = read_from(fd, 0, JOURNAL_MAX_BYTES, l, bad, full);
    if (end >= 0 && end < st.st_size)
        (*bad)++; /* the last line cut short by a crash */
    close(fd);
    return end < 0 ? TDM_EIO : 0;
}

/* Replays the journal into the ledger. Bad lines are skipped and counted; a missing file
 * is an empty ledger. */
static int journal_load(struct tdm_app *app)
{
    const char *path = app->cfg.invite_ledger_file;
    struct stat st;
    if (stat(path, &st) == 0 && (st.st_mode & 077))
        TDM_WARN("invite ledger %s can be read by other users: chmod 600 it", path);
    size_t bad = 0, full = 0;
    int rc = tdm_invites_read_ledger(path, app->invites, &bad, &full);
    if (rc == TDM_EINVAL)
        TDM_ERROR("invite ledger %s: not a regular file of at most %u bytes", path,
                  JOURNAL_MAX_BYTES);
    if (rc)
        return rc;
    if (bad)
        TDM_WARN("invite ledger %s: %zu unreadable lines skipped", path, bad);
    if (full)
        TDM_WARN("invite ledger %s: %zu entries did not fit (the ledger is full)", path, full);
    return 0;
}

/* Every few seconds: lines that `tandem invite` appended since (a new link, a withdrawal)
 * take effect without a restart. Our own lines are read again too; restoring them changes
 * nothing (the larger count, the later expiry, any withdrawal win). */
static gboolean on_ledger_poll(gpointer data)
{
    struct tdm_app *app = data;
    struct stat st;
    int fd = open(app->cfg.invite_ledger_file, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return G_SOURCE_CONTINUE;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
        if ((uint64_t)st.st_ino != app->ledger_ino || st.st_size < app->ledger_read_off) {
            app->ledger_ino = (uint64_t)st.st_ino; /* replaced by someone else: read it all */
            app->ledger_read_off = 0;
        }
        size_t bad = 0, full = 0;
        int64_t before = app->ledger_read_off;
        int64_t off =
            st.st_size > app->ledger_read_off
                ? read_from(fd, app->ledger_read_off, POLL_MAX_BYTES, app->invites, &bad, &full)
                : app->ledger_read_off;
        if (off >= 0)
            app->ledger_read_off = off;
        /* lines not of our own making (tandem invite --revoke): the other nodes learn them */
        if (off > before && (uint64_t)(off - before) > app->ledger_own_bytes)
            tdm_cluster_publish_revocations(app, true);
        app->ledger_own_bytes = 0;
        if (bad || full)
            tdm_log_limited(&app->ledger_log, 5, tdm_now_us(), TDM_LOG_WARN,
                            "invite ledger: %zu appended lines unreadable, %zu did not fit", bad,
                            full);
    }
    close(fd);
    return G_SOURCE_CONTINUE;
}

int tdm_invites_append_record(const char *path, const struct tdm_invite_record *r)
{
    char line[TDM_INVITE_RECORD_TEXT];
    int n = tdm_invite_record_format(r, line, sizeof line);
    if (n < 0)
        return TDM_EIO;
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return TDM_EIO;
    /* one write of one short line: appends from the server and from here do not mix */
    ssize_t w = write(fd, line, (size_t)n);
    return close(fd) == 0 && w == n ? 0 : TDM_EIO;
}

/* Appends the current state of id's entry. */
static void journal_note(struct tdm_app *app, const uint8_t id[TDM_INVITE_ID_LEN])
{
    struct tdm_invite_record r;
    if (app->ledger_fd < 0 || !tdm_invite_ledger_get(app->invites, id, &r))
        return;
    char line[TDM_INVITE_RECORD_TEXT];
    int n = tdm_invite_record_format(&r, line, sizeof line);
    if (n >= 0)
        app->ledger_own_bytes += (uint64_t)n;
    if (n < 0 || write(app->ledger_fd, line, (size_t)n) != n) {
        app->ledger_errors++;
        tdm_log_limited(&app->ledger_log, 5, tdm_now_us(), TDM_LOG_WARN,
                        "invite ledger: a change could not be saved (%llu so far); it holds "
                        "until the server stops",
                        (unsigned long long)app->ledger_errors);
        return;
    }
    if (++app->ledger_lines > 2 * tdm_invite_ledger_count(app->invites) + JOURNAL_SLACK &&
        journal_compact(app) != 0)
        TDM_WARN("invite ledger: could not be rewritten; appending goes on");
}

int tdm_invites_start(struct tdm_app *app)
{
    char err[256];
    app->ledger_fd = -1;
    if (tdm_invites_load_key(app->cfg.invite_key_file, true, app->invite_key, err, sizeof err)) {
        TDM_ERROR("%s", err);
        return TDM_EINVAL;
    }
    app->invites = tdm_invite_ledger_create(LEDGER_MAX);
    if (!app->invites)
        return TDM_ENOMEM;
    if (app->cfg.invite_ledger_file[0]) {
        errno = 0;
        int rc = journal_load(app);
        if (rc == 0)
            rc = journal_compact(app);
        if (rc != 0) {
            TDM_ERROR("invite ledger %s: cannot read or write it (%s); without it a restart "
                      "would forget withdrawn links. Fix it, or set invites.ledger_file = \"\" "
                      "to keep the ledger in memory only",
                      app->cfg.invite_ledger_file, errno ? strerror(errno) : tdm_strerror(rc));
            return TDM_EIO;
        }
        TDM_INFO("invite ledger: %zu links remembered", tdm_invite_ledger_count(app->invites));
        app->ledger_poll = g_timeout_add_seconds(POLL_INTERVAL_S, on_ledger_poll, app);
    } else {
        TDM_WARN("invite ledger in memory only: a restart forgets withdrawn links and uses");
    }
    if (app->cfg.public_url[0])
        TDM_INFO("links are made for %s", app->cfg.public_url);
    if (app->cfg.open_rooms)
        TDM_WARN("OPEN ROOMS: anyone who knows a room link can join without an invite. This "
                 "mode is for local development only; never run it for real people.");
    return 0;
}

void tdm_invites_stop(struct tdm_app *app)
{
    if (app->ledger_poll)
        g_source_remove(app->ledger_poll);
    app->ledger_poll = 0;
    if (app->invites && app->ledger_fd >= 0)
        close(app->ledger_fd);
    app->ledger_fd = -1;
    tdm_invite_ledger_destroy(app->invites);
    app->invites = NULL;
    OPENSSL_cleanse(app->invite_key, sizeof app->invite_key);
}

int tdm_invites_check_join(struct tdm_app *app, const char *room, const char *token,
                           size_t token_len, struct tdm_invite *inv_out, enum tdm_role *role,
                           struct tdm_proto_err *e)
{
    struct tdm_invite inv;
    memset(inv_out, 0, sizeof *inv_out);
    char why[128];
    if (!token) {
        if (app->cfg.open_rooms)
            return 0;
        tdm_proto_set(e, "invite_required", "token", "this room needs an invite link");
        return TDM_EPERM;
    }
    int64_t now_s = tdm_wall_us() / 1000000;
    int rc = tdm_invite_decode(token, token_len, app->invite_key, sizeof app->invite_key, now_s,
                               &inv, why, sizeof why);
    if (rc == TDM_ESTATE) {
        tdm_proto_set(e, "invite_expired", "token", "this invite link has expired");
        return rc;
    }
    if (rc != 0) {
        tdm_proto_set(e, "invite_invalid", "token", "this invite link is not valid");
        return rc;
    }
    if (strcmp(inv.room, room) != 0) {
        tdm_proto_set(e, "invite_invalid", "token", "this invite link is for another room");
        return TDM_EPERM;
    }
    rc = tdm_invites_recheck(app, &inv, false, e);
    if (rc != 0)
        return rc;
    *role = inv.role; /* the token decides the role, not the page */
    *inv_out = inv;
    return 0;
}

int tdm_invites_recheck(struct tdm_app *app, const struct tdm_invite *inv, bool counted,
                        struct tdm_proto_err *e)
{
    if (inv->expires_s == 0)
        return 0; /* joined without a token (open rooms) */
    int rc = tdm_invite_ledger_check(app->invites, inv);
    if (rc == TDM_EFULL && counted)
        return 0; /* a pass holder: their use is among those that filled the link */
    if (rc == TDM_EPERM) {
        tdm_proto_set(e, "invite_revoked", "token", "this invite link was withdrawn");
        return rc;
    }
    if (rc == TDM_EFULL) {
        tdm_proto_set(e, "invite_used", "token", "this invite link has already been used");
        return rc;
    }
    if (rc != 0) {
        tdm_proto_set(e, "server_full", NULL, "too many invites in use");
        return rc;
    }
    return 0;
}

int tdm_invites_check_pass(struct tdm_app *app, const char *room, const char *text, size_t len,
                           struct tdm_pass *out, enum tdm_role *role, struct tdm_proto_err *e)
{
    struct tdm_pass pass;
    char why[128];
    memset(out, 0, sizeof *out);
    int rc = tdm_pass_decode(text, len, app->invite_key, sizeof app->invite_key,
                             tdm_wall_us() / 1000000, &pass, why, sizeof why);
    if (rc == TDM_ESTATE) {
        tdm_proto_set(e, "invite_expired", "pass", "the invite link of this pass has expired");
        return rc;
    }
    if (rc != 0) {
        tdm_proto_set(e, "invite_invalid", "pass", "this pass is not valid");
        return rc;
    }
    if (strcmp(pass.link.room, room) != 0) {
        tdm_proto_set(e, "invite_invalid", "pass", "this pass is for another room");
        return TDM_EPERM;
    }
    if (tdm_invite_ledger_revoked(app->invites, pass.link.id)) {
        tdm_proto_set(e, "invite_revoked", "pass", "the invite link of this pass was withdrawn");
        return TDM_EPERM;
    }
    if (tdm_invite_ledger_revoked(app->invites, pass.person)) { /* taken out of the call */
        tdm_proto_set(e, "invite_used", "pass", "this invite link has already been used");
        return TDM_EPERM;
    }
    *role = pass.link.role;
    *out = pass;
    return 0;
}

int tdm_invites_make_pass(struct tdm_app *app, const struct tdm_invite *inv, char *out, size_t cap,
                          uint8_t person[TDM_INVITE_ID_LEN])
{
    struct tdm_pass pass;
    if (tdm_pass_new(&pass, inv) != 0)
        return TDM_ECRYPTO;
    int n = tdm_pass_encode(&pass, app->invite_key, sizeof app->invite_key, out, cap);
    if (n < 0)
        return n;
    memcpy(person, pass.person, TDM_INVITE_ID_LEN);
    return 0;
}

int tdm_invites_consume(struct tdm_app *app, const struct tdm_invite *inv)
{
    if (inv->expires_s == 0)
        return 0; /* joined without a token (open rooms) */
    int rc = tdm_invite_ledger_use(app->invites, inv, tdm_wall_us() / 1000000);
    if (rc == 0 && inv->uses)
        journal_note(app, inv->id);
    return rc;
}

int tdm_invites_withdraw_id(struct tdm_app *app, const uint8_t id[TDM_INVITE_ID_LEN],
                            int64_t expires_s)
{
    int64_t now_s = tdm_wall_us() / 1000000;
    tdm_cluster_revoke(app, id, expires_s); /* every node refuses it, also if ours is full */
    if (tdm_invite_ledger_revoke(app->invites, id, expires_s, now_s))
        return TDM_EFULL;
    journal_note(app, id);
    return 0;
}

int tdm_invites_learn_withdrawal(struct tdm_app *app, const uint8_t id[TDM_INVITE_ID_LEN],
                                 int64_t expires_s)
{
    if (tdm_invite_ledger_revoked(app->invites, id))
        return 0;
    if (tdm_invite_ledger_revoke(app->invites, id, expires_s, tdm_wall_us() / 1000000))
        return TDM_EFULL;
    journal_note(app, id);
    return 0;
}

int tdm_invites_withdraw(struct tdm_app *app, const struct tdm_invite *inv)
{
    if (inv->expires_s == 0)
        return TDM_ENOTFOUND;
    return tdm_invites_withdraw_id(app, inv->id, inv->expires_s);
}

void tdm_invites_shut_out(struct tdm_app *app, const struct tdm_conn *c)
{
    if (!c->has_person || c->inv.expires_s == 0)
        return;
    if (tdm_invites_withdraw_id(app, c->person, c->inv.expires_s) != 0)
        TDM_WARN("invite ledger full: a person taken out could come back with their pass");
}

/* Parses "7d", "12h", "30m", "45s" or a plain number of seconds. */
int tdm_invites_parse_duration(const char *s, int64_t *out_s)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || v <= 0)
        return TDM_EINVAL;
    int64_t mult = 1;
    if (*end == 'd')
        mult = 86400, end++;
    else if (*end == 'h')
        mult = 3600, end++;
    else if (*end == 'm')
        mult = 60, end++;
    else if (*end == 's')
        end++;
    if (*end || v > INVITE_MAX_LIFETIME_S / mult)
        return TDM_EINVAL;
    *out_s = v * mult;
    return 0;
}

json_t *tdm_invites_make_link(struct tdm_app *app, const char *room, json_t *msg,
                              struct tdm_proto_err *e)
{
    const char *role_s;
    size_t role_len;
    enum tdm_role role;
    if (!tdm_proto_string(msg, "role", 1, 16, true, &role_s, &role_len, e))
        return NULL;
    if (tdm_role_parse(role_s, role_len, &role)) {
        tdm_proto_set(e, "bad_field", "role", "role: mentor, mentee or coordinator");
        return NULL;
    }
    json_t *jexp = json_object_get(msg, "expires_s"), *juses = json_object_get(msg, "uses");
    json_int_t exp = 7 * 86400, uses = 0;
    if (jexp && (!json_is_integer(jexp) || (exp = json_integer_value(jexp)) < 60 ||
                 exp > INVITE_MAX_LIFETIME_S)) {
        tdm_proto_set(e, "bad_field", "expires_s", "expires_s: 60 to %lld seconds",
                      (long long)INVITE_MAX_LIFETIME_S);
        return NULL;
    }
    if (juses &&
        (!json_is_integer(juses) || (uses = json_integer_value(juses)) < 0 || uses > 1000)) {
        tdm_proto_set(e, "bad_field", "uses", "uses: 0 (unlimited) to 1000");
        return NULL;
    }
    struct tdm_invite inv;
    char tok[TDM_INVITE_TOKEN_MAX + 1], idtext[TDM_INVITE_ID_TEXT];
    if (tdm_invite_new(&inv, room, role, tdm_wall_us() / 1000000 + exp, (uint16_t)uses) ||
        tdm_invite_encode(&inv, app->invite_key, sizeof app->invite_key, tok, sizeof tok) < 0) {
        tdm_proto_set(e, "internal", NULL, "could not make the invite");
        return NULL;
    }
    /* noted, so that the shell (tandem invite --list) and the console see every valid link */
    if (tdm_invite_ledger_note(app->invites, &inv, tdm_wall_us() / 1000000) == 0)
        journal_note(app, inv.id);
    tdm_invite_id_text(inv.id, idtext);
    json_t *r = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I}", "type", "invite", "token", tok,
                          "invite_id", idtext, "role", tdm_role_name(role), "expires_s",
                          (json_int_t)inv.expires_s, "uses", (json_int_t)uses);
    if (r && app->cfg.public_url[0]) /* else the page uses the address it was opened at */
        json_object_set_new(r, "url", json_sprintf("%s/r/%s#t=%s", app->cfg.public_url, room, tok));
    if (!r)
        tdm_proto_set(e, "internal", NULL, "could not make the invite");
    return r;
}

/* invite.create {role, expires_s?, uses?}: a coordinator makes a link for their own room. */
void tdm_on_invite_create(struct tdm_app *app, struct tdm_conn *c, json_t *msg, json_t *id,
                          struct tdm_proto_err *e)
{
    struct tdm_participant *p = c->participant;
    if (p->role != TDM_ROLE_COORDINATOR) {
        tdm_proto_set(e, "forbidden", NULL, "only a coordinator can make invite links");
        return;
    }
    json_t *r = tdm_invites_make_link(app, tdm_room_id(p->room), msg, e);
    if (!r)
        return;
    const char *role = json_string_value(json_object_get(r, "role"));
    if (id)
        json_object_set(r, "ref", id);
    TDM_INFO("r%u: p%u made an invite (%s)", tdm_room_log_id(p->room), p->log_id, role);
    tdm_conn_send(c, r);
}

/* invite.check {room, token? | pass?}: whether a link (or a pass) would let its holder into
 * room now, asked by the room page as soon as it opens, so that a dead link says so before
 * anyone types a name. The same checks and codes as join; nothing is used or recorded. */
void tdm_on_invite_check(struct tdm_app *app, struct tdm_conn *c, json_t *msg, json_t *id,
                         struct tdm_proto_err *e)
{
    const char *room, *token, *text;
    size_t room_len, token_len, text_len;
    char room_id[TDM_ROOM_ID_MAX + 1];
    struct tdm_invite inv;
    struct tdm_pass pass;
    enum tdm_role role = TDM_ROLE_MENTEE;
    if (!tdm_proto_string(msg, "room", 0, 4096, true, &room, &room_len, e) ||
        !tdm_proto_string(msg, "token", 1, TDM_INVITE_TOKEN_MAX, false, &token, &token_len, e) ||
        !tdm_proto_string(msg, "pass", 1, TDM_INVITE_TOKEN_MAX, false, &text, &text_len, e))
        return;
    if (!tdm_room_id_valid(room, room_len)) {
        tdm_proto_set(e, "bad_field", "room", "room: %d to %d characters of A-Z a-z 0-9 _ -",
                      TDM_ROOM_ID_MIN, TDM_ROOM_ID_MAX);
        return;
    }
    memcpy(room_id, room, room_len);
    room_id[room_len] = '\0';
    if (text) {
        if (tdm_invites_check_pass(app, room_id, text, text_len, &pass, &role, e) != 0)
            return;
        inv = pass.link;
    } else if (tdm_invites_check_join(app, room_id, token, token_len, &inv, &role, e) != 0) {
        return;
    }
    if (app->cluster && inv.expires_s) { /* used up or withdrawn on another node? */
        struct tdm_join_req req = {.role = role, .inv = inv, .by_pass = text != NULL};
        if (text)
            memcpy(req.person, pass.person, TDM_INVITE_ID_LEN);
        tdm_cluster_check(app, c, &req, id);
        return;
    }
    json_t *r = json_pack("{s:s}", "type", "invite.ok");
    if (r && inv.expires_s) { /* else an open room without a token: the page picks the role */
        json_object_set_new(r, "role", json_string(tdm_role_name(role)));
        json_object_set_new(r, "expires_s", json_integer(inv.expires_s));
    }
    if (r && id)
        json_object_set(r, "ref", id);
    tdm_conn_send(c, r);
}

/* invite.revoke {invite_id, expires_s?}: withdraw a link made for this server. */
void tdm_on_invite_revoke(struct tdm_app *app, struct tdm_conn *c, json_t *msg, json_t *id,
                          struct tdm_proto_err *e)
{
    const char *text;
    size_t len;
    uint8_t iid[TDM_INVITE_ID_LEN];
    if (c->participant->role != TDM_ROLE_COORDINATOR) {
        tdm_proto_set(e, "forbidden", NULL, "only a coordinator can withdraw invite links");
        return;
    }
    if (!tdm_proto_string(msg, "invite_id", 1, 64, true, &text, &len, e))
        return;
    if (tdm_invite_id_parse(text, len, iid)) {
        tdm_proto_set(e, "bad_field", "invite_id", "invite_id: the id given when it was made");
        return;
    }
    if (tdm_invites_withdraw_id(app, iid, tdm_wall_us() / 1000000 + INVITE_MAX_LIFETIME_S)) {
        tdm_proto_set(e, "server_full", NULL, "too many invites in use");
        return;
    }
    json_t *r = json_pack("{s:s, s:s}", "type", "invite.revoked", "invite_id", text);
    if (r && id)
        json_object_set(r, "ref", id);
    tdm_conn_send(c, r);
}
