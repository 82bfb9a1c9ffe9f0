/* tandem: the command line. Defaults, then --config FILE, then the other flags. */
#include "app.h"
#include "checkconfig.h"

#include "signal.h"
#include "tandem/err.h"
#include "tandem/invite.h"
#include "tandem/util.h"

#include <openssl/crypto.h>

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: tandem [OPTIONS]\n"
            "Self-hosted video and voice relay (WebRTC SFU) for mentoring programs.\n\n"
            "  --config FILE        read settings from FILE (docs/configuration.md)\n"
            "  --listen ADDR        address for HTTPS and WebSocket (default: all)\n"
            "  --port N             HTTPS port (default 8443; 0 picks a free port)\n"
            "  --cert FILE          TLS certificate, PEM (default certs/dev-cert.pem)\n"
            "  --key FILE           TLS private key, PEM (default certs/dev-key.pem)\n"
            "  --web-root DIR       the pages to serve (default web)\n"
            "  --public-ip ADDR     address to advertise in ICE candidates (1:1 NAT)\n"
            "  --public-url URL     the address people open, https://host[:port]: the\n"
            "                       base of every link made (default https://localhost:PORT)\n"
            "  --media-address A,B  local addresses ICE may use (default: every\n"
            "                       non-loopback interface)\n"
            "  --media-port-base N  UDP port of the first media worker (default 10000)\n"
            "  --media-workers N    media worker threads (default: one per core)\n"
            "  --log-level LEVEL    error, warn, info (default) or debug; only debug\n"
            "                       may show addresses\n"
            "  --invite-key FILE    secret that signs invite links (made if absent;\n"
            "                       default certs/invite.key)\n"
            "  --invite-ledger FILE withdrawn links and use counts, kept across restarts\n"
            "                       (default certs/invite.ledger; \"\" = memory only)\n"
            "  --open-rooms         let anyone with a room link in, without an invite:\n"
            "                       for local development only\n"
            "\n"
            "  tandem invite --room ROOM --role mentee|mentor|coordinator\n"
            "               [--expires 7d] [--uses N] [--public-url URL] [--config FILE]\n"
            "               [--invite-key FILE] [--invite-ledger FILE]\n"
            "                       print an invite link (the token follows '#'); the base\n"
            "                       is server.public_url unless given (--base-url: the same)\n"
            "  tandem invite --list | --revoke ID  [--invite-ledger FILE] [--config FILE]\n"
            "                       the links still valid (id, role, uses, expiry), or\n"
            "                       withdraw one (a running server refuses it within seconds)\n"
            "  tandem console-link [--expires 365d] [--public-url URL] [--config FILE]\n"
            "               [--invite-key FILE] [--invite-ledger FILE]\n"
            "                       print a coordinator console link (PUBLIC_URL/console#c=...)\n"
            "  tandem console-link --revoke ID  [--invite-ledger FILE] [--config FILE]\n"
            "                       withdraw a console link (a running server refuses it\n"
            "                       within seconds)\n"
            "  --check-config       check the config, flags and files (certificate and key,\n"
            "                       web root, invite key and ledger), print OK or what is\n"
            "                       wrong, and exit (0 OK, 1 problems, 2 unreadable config)\n"
            "  --help               show this help and exit\n"
            "  --version            show the version and exit\n");
}

/* A flag's name to the config option it sets. */
static const struct {
    const char *flag;
    const char *option;
} flag_options[] = {
    {"listen", "server.listen"},
    {"port", "server.port"},
    {"cert", "server.cert"},
    {"key", "server.key"},
    {"web-root", "server.web_root"},
    {"public-ip", "server.public_ip"},
    {"media-address", "server.media_addresses"},
    {"log-level", "server.log_level"},
    {"invite-key", "invites.key_file"},
    {"media-port-base", "media.port_base"},
    {"invite-ledger", "invites.ledger_file"},
    {"public-url", "server.public_url"},
    {"media-workers", "media.workers"},
};

static void raise_fd_limit(void)
{
    /* GLib aborts when it runs out of descriptors (its wake-up pipes): take what the hard limit
     * allows (the connection cap stays far below it). */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

#define LIST_MAX 100000 /* as many entries as the server's ledger holds */

static void print_link(const struct tdm_invite_record *r, void *arg)
{
    char id[TDM_INVITE_ID_TEXT], when[32], uses[16];
    time_t t = (time_t)r->expires_s;
    struct tm tm;
    (void)arg;
    tdm_invite_id_text(r->id, id);
    strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", gmtime_r(&t, &tm));
    if (!r->known)
        snprintf(uses, sizeof uses, "%u/?", (unsigned)r->used);
    else if (r->uses)
        snprintf(uses, sizeof uses, "%u/%u", (unsigned)r->used, (unsigned)r->uses);
    else
        snprintf(uses, sizeof uses, "%u/-", (unsigned)r->used);
    printf("%s  %-11s  %-9s  %s  %s\n", id, r->known ? tdm_role_name(r->role) : "?", uses, when,
           r->revoked ? "withdrawn" : "valid");
}

/* tandem invite --list: the links of the ledger not yet expired. */
static int invite_list(const char *ledger)
{
    struct tdm_invite_ledger *l = tdm_invite_ledger_create(LIST_MAX);
    size_t bad, full;
    if (!l || tdm_invites_read_ledger(ledger, l, &bad, &full) != 0) {
        fprintf(stderr, "tandem invite: cannot read the invite ledger %s\n", ledger);
        tdm_invite_ledger_destroy(l);
        return 1;
    }
    printf("%-22s  %-11s  %-9s  %-20s  %s\n", "id", "role", "used/max", "expires", "state");
    size_t n = tdm_invite_ledger_each(l, tdm_wall_us() / 1000000, print_link, NULL);
    fprintf(stderr, "%zu links (\"-\": no limit; \"?\": not known, e.g. withdrawn by id)%s\n", n,
            bad ? "; some lines of the ledger were unreadable" : "");
    tdm_invite_ledger_destroy(l);
    return 0;
}

/* tandem invite --revoke ID: appends a withdrawal; a running server reads it within seconds. */
static int invite_revoke(const char *ledger, const char *idtext)
{
    struct tdm_invite_record r = {.revoked = true};
    if (tdm_invite_id_parse(idtext, strlen(idtext), r.id) != 0) {
        fprintf(stderr, "tandem invite: --revoke: the invite id printed when the link was made "
                        "(22 characters; see --list)\n");
        return 2;
    }
    r.expires_s = tdm_wall_us() / 1000000 + 366LL * 86400; /* past any link's expiry */
    if (tdm_invites_append_record(ledger, &r) != 0) {
        fprintf(stderr, "tandem invite: cannot write the invite ledger %s: %s\n", ledger,
                strerror(errno));
        return 1;
    }
    fprintf(stderr, "withdrawn: %s (a running server refuses it within seconds)\n", idtext);
    return 0;
}

/* What `tandem invite` and `tandem console-link` share: the settings that say where the
 * key and the ledger are and which address links start with. */
struct link_settings {
    const char *prog; /* for messages: "tandem invite" */
    struct tdm_config cfg;
    const char *base, *keyfile, *ledger, *revoke;
};

/* One option both sub-commands take; returns 1 when it was one (0: not one, 2: bad). */
static int link_option(struct link_settings *ls, int ch, const char *arg)
{
    char err[512];
    switch (ch) {
    case 'b': ls->base = arg; return 1;
    case 'k': ls->keyfile = arg; return 1;
    case 'l': ls->ledger = arg; return 1;
    case 'X': ls->revoke = arg; return 1;
    case 'c':
        if (tdm_config_load_file(&ls->cfg, arg, err, sizeof err)) {
            fprintf(stderr, "%s: %s\n", ls->prog, err);
            return 2;
        }
        return 1;
    default: return 0;
    }
}

/* After the options, whatever their order: the flags win over the config file. Returns 0 or
 * an exit code. */
static int link_settle(struct link_settings *ls, int argc, char **argv)
{
    char err[512];
    if (optind < argc) {
        fprintf(stderr, "%s: unexpected argument \"%s\"\n", ls->prog, argv[optind]);
        return 2;
    }
    if (!ls->ledger)
        ls->ledger = ls->cfg.invite_ledger_file;
    if (ls->base && tdm_config_set(&ls->cfg, "server.public_url", ls->base, err, sizeof err)) {
        fprintf(stderr, "%s: %s\n", ls->prog, err);
        return 2;
    }
    return 0;
}

/* --list and --revoke need the ledger. Returns 0 or an exit code. */
static int link_need_ledger(const struct link_settings *ls)
{
    if (ls->ledger[0])
        return 0;
    fprintf(stderr, "%s: the invite ledger is off (invites.ledger_file = \"\")\n", ls->prog);
    return 2;
}

/* Reads the invite key (made if absent) for signing; the caller wipes it after. */
static int link_load_key(const struct link_settings *ls, uint8_t key[32])
{
    char err[512];
    if (tdm_invites_load_key(ls->keyfile ? ls->keyfile : ls->cfg.invite_key_file, true, key, err,
                             sizeof err)) {
        fprintf(stderr, "%s: %s\n", ls->prog, err);
        return 1;
    }
    return 0;
}

/* The address links start with: server.public_url, else this machine on the port. */
static void link_base(const struct link_settings *ls, char *out, size_t cap)
{
    if (ls->cfg.public_url[0])
        snprintf(out, cap, "%s", ls->cfg.public_url);
    else
        snprintf(out, cap, "https://localhost:%u", ls->cfg.port);
}

#define LINK_OPTIONS                                                                               \
    {"config", required_argument, NULL, 'c'}, {"public-url", required_argument, NULL, 'b'},        \
        {"base-url", required_argument, NULL, 'b'}, {"invite-key", required_argument, NULL, 'k'},  \
        {"invite-ledger", required_argument, NULL, 'l'},                                           \
    {                                                                                              \
        "revoke", required_argument, NULL, 'X'                                                     \
    }

/* tandem invite: signs a link with the server's invite key; needs no running server. */
static int invite_main(int argc, char **argv)
{
    static struct option opts[] = {
        {"room", required_argument, NULL, 'r'},
        {"role", required_argument, NULL, 'R'},
        {"expires", required_argument, NULL, 'e'},
        {"uses", required_argument, NULL, 'u'},
        {"list", no_argument, NULL, 'L'},
        LINK_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    static struct link_settings ls = {.prog = "tandem invite"};
    const char *room = NULL, *role_s = NULL, *expires = "7d";
    bool list = false;
    long uses = 0;
    char *end;
    int ch, idx, rc;
    tdm_config_defaults(&ls.cfg);
    optind = 1;
    while ((ch = getopt_long(argc, argv, "", opts, &idx)) != -1) {
        if ((rc = link_option(&ls, ch, optarg)) == 2)
            return 2;
        if (rc == 1)
            continue;
        switch (ch) {
        case 'r': room = optarg; break;
        case 'R': role_s = optarg; break;
        case 'e': expires = optarg; break;
        case 'L': list = true; break;
        case 'u':
            uses = strtol(optarg, &end, 10);
            if (*end || uses < 0 || uses > 1000) {
                fprintf(stderr, "tandem invite: --uses: a number from 0 (unlimited) to 1000\n");
                return 2;
            }
            break;
        default: fprintf(stderr, "tandem invite: see tandem --help\n"); return 2;
        }
    }
    if ((rc = link_settle(&ls, argc, argv)) != 0)
        return rc;
    if ((list || ls.revoke) && (rc = link_need_ledger(&ls)) != 0)
        return rc;
    if (list)
        return invite_list(ls.ledger);
    if (ls.revoke)
        return invite_revoke(ls.ledger, ls.revoke);
    enum tdm_role role;
    int64_t lifetime;
    if (!room || !tdm_room_id_valid(room, strlen(room))) {
        fprintf(stderr, "tandem invite: --room: 3 to 64 characters of A-Z a-z 0-9 _ -\n");
        return 2;
    }
    if (!role_s || tdm_role_parse(role_s, strlen(role_s), &role)) {
        fprintf(stderr, "tandem invite: --role: mentee, mentor or coordinator\n");
        return 2;
    }
    if (tdm_invites_parse_duration(expires, &lifetime)) {
        fprintf(stderr, "tandem invite: --expires: like 30m, 12h or 7d (at most a year)\n");
        return 2;
    }
    uint8_t key[32];
    if ((rc = link_load_key(&ls, key)) != 0)
        return rc;
    struct tdm_invite inv;
    char tok[TDM_INVITE_TOKEN_MAX + 1], idtext[TDM_INVITE_ID_TEXT],
        base[TDM_CONFIG_PUBLIC_URL_MAX + 32];
    rc = tdm_invite_new(&inv, room, role, tdm_wall_us() / 1000000 + lifetime, (uint16_t)uses);
    if (rc == 0)
        rc = tdm_invite_encode(&inv, key, sizeof key, tok, sizeof tok);
    OPENSSL_cleanse(key, sizeof key);
    if (rc < 0) {
        fprintf(stderr, "tandem invite: %s\n", tdm_strerror(rc));
        return 1;
    }
    tdm_invite_id_text(inv.id, idtext);
    link_base(&ls, base, sizeof base);
    printf("%s/r/%s#t=%s\n", base, room, tok);
    fprintf(stderr, "invite id %s (%s, %s)\n", idtext, tdm_role_name(role),
            uses ? "limited uses" : "unlimited uses");
    /* in the ledger, so that --list shows it (and a running server, within seconds) */
    struct tdm_invite_record rec = {
        .expires_s = inv.expires_s, .known = true, .role = role, .uses = inv.uses};
    memcpy(rec.id, inv.id, TDM_INVITE_ID_LEN);
    if (ls.ledger[0] && tdm_invites_append_record(ls.ledger, &rec) != 0)
        fprintf(stderr,
                "tandem invite: the link works, but the ledger %s could not note it "
                "(--list will not show it)\n",
                ls.ledger);
    return 0;
}

/* tandem console-link: a console capability signed with the invite key, or --revoke ID. */
static int console_main(int argc, char **argv)
{
    static struct option opts[] = {
        {"expires", required_argument, NULL, 'e'},
        LINK_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    static struct link_settings ls = {.prog = "tandem console-link"};
    const char *expires = "365d";
    int ch, idx, rc;
    tdm_config_defaults(&ls.cfg);
    optind = 1;
    while ((ch = getopt_long(argc, argv, "", opts, &idx)) != -1) {
        if ((rc = link_option(&ls, ch, optarg)) == 2)
            return 2;
        if (rc == 1)
            continue;
        if (ch == 'e') {
            expires = optarg;
            continue;
        }
        fprintf(stderr, "tandem console-link: see tandem --help\n");
        return 2;
    }
    if ((rc = link_settle(&ls, argc, argv)) != 0)
        return rc;
    if (ls.revoke)
        return (rc = link_need_ledger(&ls)) != 0 ? rc : invite_revoke(ls.ledger, ls.revoke);
    int64_t lifetime;
    if (tdm_invites_parse_duration(expires, &lifetime)) {
        fprintf(stderr, "tandem console-link: --expires: like 30d or 365d (at most a year)\n");
        return 2;
    }
    uint8_t key[32];
    if ((rc = link_load_key(&ls, key)) != 0)
        return rc;
    struct tdm_console_cap cap;
    char tok[TDM_INVITE_TOKEN_MAX + 1], idtext[TDM_INVITE_ID_TEXT],
        base[TDM_CONFIG_PUBLIC_URL_MAX + 32];
    rc = tdm_console_new(&cap, tdm_wall_us() / 1000000 + lifetime);
    if (rc == 0)
        rc = tdm_console_encode(&cap, key, sizeof key, tok, sizeof tok);
    OPENSSL_cleanse(key, sizeof key);
    if (rc < 0) {
        fprintf(stderr, "tandem console-link: %s\n", tdm_strerror(rc));
        return 1;
    }
    tdm_invite_id_text(cap.id, idtext);
    link_base(&ls, base, sizeof base);
    printf("%s/console#c=%s\n", base, tok);
    fprintf(stderr, "console link id %s (withdraw it with: tandem console-link --revoke %s)\n",
            idtext, idtext);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "invite") == 0)
        return invite_main(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "console-link") == 0)
        return console_main(argc - 1, argv + 1);
    static struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"listen", required_argument, NULL, 0},
        {"port", required_argument, NULL, 0},
        {"cert", required_argument, NULL, 0},
        {"key", required_argument, NULL, 0},
        {"web-root", required_argument, NULL, 0},
        {"public-ip", required_argument, NULL, 0},
        {"media-address", required_argument, NULL, 0},
        {"log-level", required_argument, NULL, 0},
        {"help", no_argument, NULL, 'h'},
        {"invite-key", required_argument, NULL, 0},
        {"open-rooms", no_argument, NULL, 'O'},
        {"version", no_argument, NULL, 'V'},
        {"media-port-base", required_argument, NULL, 0},
        {"media-workers", required_argument, NULL, 0},
        {"invite-ledger", required_argument, NULL, 0},
        {"public-url", required_argument, NULL, 0},
        {"check-config", no_argument, NULL, 'C'},
        {NULL, 0, NULL, 0},
    };
    static struct tdm_app app;
    bool check_only = false;
    char err[512];
    tdm_config_defaults(&app.cfg);

    /* First pass: --help, --version, --config (the file is read before the other flags). */
    int idx, ch;
    const char *config_path = NULL;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, "", longopts, &idx)) != -1) {
        if (ch == 'h') {
            usage(stdout);
            return 0;
        }
        if (ch == 'V') {
            printf("tandem %s\n", TANDEM_VERSION);
            return 0;
        }
        if (ch == 'c')
            config_path = optarg;
        if (ch == '?') {
            fprintf(stderr, "tandem: unknown or incomplete option \"%s\" (see --help)\n",
                    argv[optind - 1]);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "tandem: unexpected argument \"%s\" (see --help)\n", argv[optind]);
        return 2;
    }
    if (config_path && tdm_config_load_file(&app.cfg, config_path, err, sizeof err)) {
        fprintf(stderr, "tandem: %s\n", err);
        return 2;
    }
    optind = 1;
    while ((ch = getopt_long(argc, argv, "", longopts, &idx)) != -1) {
        if (ch == 'O')
            app.cfg.open_rooms = 1;
        if (ch == 'C')
            check_only = true;
        if (ch != 0)
            continue;
        for (size_t i = 0; i < sizeof flag_options / sizeof flag_options[0]; i++) {
            if (strcmp(longopts[idx].name, flag_options[i].flag) != 0)
                continue;
            if (tdm_config_set(&app.cfg, flag_options[i].option, optarg, err, sizeof err)) {
                fprintf(stderr, "tandem: --%s: %s\n", flag_options[i].flag, err);
                return 2;
            }
        }
    }
    if (check_only)
        return tdm_check_config(&app.cfg, stdout);
    tdm_log_set_level(app.cfg.log_level);
    raise_fd_limit();
    TDM_INFO("tandem %s starting", TANDEM_VERSION);
    if (tdm_app_start(&app) != 0) {
        tdm_app_stop(&app);
        return 1;
    }
    tdm_app_run(&app);
    tdm_app_stop(&app);
    return 0;
}
