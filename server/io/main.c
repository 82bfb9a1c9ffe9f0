/* tandem: the command line. Defaults, then --config FILE, then the other flags. */
#include "app.h"

#include "tandem/err.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

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
            "  --media-address A,B  local addresses ICE may use (default: every\n"
            "                       non-loopback interface)\n"
            "  --log-level LEVEL    error, warn, info (default) or debug; only debug\n"
            "                       may show addresses\n"
            "  --help               show this help and exit\n"
            "  --version            show the version and exit\n");
}

/* A flag's name to the config option it sets. */
static const struct {
    const char *flag;
    const char *option;
} flag_options[] = {
    {"listen", "server.listen"},         {"port", "server.port"},
    {"cert", "server.cert"},             {"key", "server.key"},
    {"web-root", "server.web_root"},     {"public-ip", "server.public_ip"},
    {"media-address", "server.media_addresses"}, {"log-level", "server.log_level"},
};

static void raise_fd_limit(void)
{
    /* libnice and GLib abort when they run out of descriptors: take what the hard limit
     * allows (the connection cap stays far below it). */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int main(int argc, char **argv)
{
    static struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},   {"listen", required_argument, NULL, 0},
        {"port", required_argument, NULL, 0},       {"cert", required_argument, NULL, 0},
        {"key", required_argument, NULL, 0},        {"web-root", required_argument, NULL, 0},
        {"public-ip", required_argument, NULL, 0},  {"media-address", required_argument, NULL, 0},
        {"log-level", required_argument, NULL, 0},  {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},        {NULL, 0, NULL, 0},
    };
    static struct tdm_app app;
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
