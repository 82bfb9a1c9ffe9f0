#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "tandem/config.h"
#include "tandem/err.h"

static char *write_tmp(const char *text)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/tandem-cfg-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

static int load(struct tdm_config *cfg, const char *text, char *err, size_t errlen)
{
    char *path = write_tmp(text);
    tdm_config_defaults(cfg);
    int rc = tdm_config_load_file(cfg, path, err, errlen);
    unlink(path);
    return rc;
}

static void defaults(void **state)
{
    (void)state;
    struct tdm_config cfg;
    tdm_config_defaults(&cfg);
    assert_int_equal(cfg.port, 8443);
    assert_int_equal(cfg.limits.max_participants_per_room, 12);
    assert_int_equal(cfg.limits.max_pending_media, 200);
    assert_int_equal(cfg.limits.ice_timeout_s, 30);
    assert_int_equal(cfg.limits.consent_timeout_s, 30);
    assert_int_equal(cfg.limits.dtls_timeout_s, 30);
    assert_int_equal(cfg.log_level, TDM_LOG_INFO);
    assert_int_equal(cfg.media_mix_speakers, 3);
    char err[256];
    assert_int_equal(tdm_config_validate(&cfg, err, sizeof err), 0);
    /* the server-wide picture bound must hold at least one picture */
    cfg.chat.server_picture_bytes = cfg.chat.max_picture_bytes - 1;
    assert_int_equal(tdm_config_validate(&cfg, err, sizeof err), TDM_EINVAL);
    assert_non_null(strstr(err, "chat.server_picture_bytes"));
    cfg.chat.server_picture_bytes = cfg.chat.max_picture_bytes;
    assert_int_equal(tdm_config_validate(&cfg, err, sizeof err), 0);
}

static void good_file(void **state)
{
    (void)state;
    struct tdm_config cfg;
    char err[256] = "";
    assert_int_equal(load(&cfg,
                          "# comment\n[server]\nport = 9443\nlisten = ::1\n"
                          "media_addresses = 10.0.0.5, fe80::1\nlog_level = debug\n"
                          "[limits]\nmax_rooms = 7\n[media]\nmix_speakers = 8\n",
                          err, sizeof err),
                     0);
    assert_int_equal(cfg.media_mix_speakers, 8);
    assert_int_equal(cfg.port, 9443);
    assert_string_equal(cfg.listen, "::1");
    assert_int_equal(cfg.n_media_addrs, 2);
    assert_string_equal(cfg.media_addrs[1], "fe80::1");
    assert_int_equal(cfg.log_level, TDM_LOG_DEBUG);
    assert_int_equal(cfg.limits.max_rooms, 7);
}

static void bad_files_name_the_key(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        const char *expect;
    } cases[] = {
        {"[server]\nprot = 1\n", "server.prot"},
        {"[sever]\nport = 1\n", "[sever]"},
        {"[server]\nport = 70000\n", "server.port"},
        {"[server]\nport = -1\n", "server.port"},
        {"[server]\nport = 12abc\n", "server.port"},
        {"[server]\nport =\n", "server.port"},
        {"[server]\nlisten = not-an-ip\n", "server.listen"},
        {"[server]\nlog_level = loud\n", "server.log_level"},
        {"[server]\nmedia_addresses = 1.2.3.4, x\n", "server.media_addresses"},
        {"[limits]\nmax_participants_per_room = 1\n", "limits.max_participants_per_room"},
        {"[media]\nmix_speakers = 0\n", "media.mix_speakers"},
        {"[media]\nmix_speakers = 9\n", "media.mix_speakers"},
        {"[limits]\nmax_message_bytes = 99999999999999999999\n", "limits.max_message_bytes"},
        {"[limits]\nmax_pending_media = 0\n", "limits.max_pending_media"},
        {"[limits]\nice_timeout_s = 1\n", "limits.ice_timeout_s"},
        {"[limits]\nconsent_timeout_s = soon\n", "limits.consent_timeout_s"},
        {"[limits]\ndtls_timeout_s = 100000\n", "limits.dtls_timeout_s"},
        {"[chat]\nserver_picture_bytes = 5000000000\n", "chat.server_picture_bytes"},
        {"[invites]\nledger_file = "
         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
         "invites.ledger_file"},
        {"port = 1\n", "tandem-cfg"},
        {"[server\n", "tandem-cfg"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct tdm_config cfg;
        char err[256] = "";
        assert_int_not_equal(load(&cfg, cases[i].text, err, sizeof err), 0);
        if (!strstr(err, cases[i].expect))
            fail_msg("case %zu: \"%s\" does not name %s", i, err, cases[i].expect);
    }
}

static void missing_file(void **state)
{
    (void)state;
    struct tdm_config cfg;
    char err[256];
    tdm_config_defaults(&cfg);
    assert_int_equal(tdm_config_load_file(&cfg, "/nonexistent/tandem.conf", err, sizeof err),
                     TDM_EIO);
    assert_non_null(strstr(err, "/nonexistent/tandem.conf"));
}

static void set_by_name(void **state)
{
    (void)state;
    struct tdm_config cfg;
    char err[256];
    tdm_config_defaults(&cfg);
    assert_int_equal(tdm_config_set(&cfg, "server.port", "0", err, sizeof err), 0);
    assert_int_equal(cfg.port, 0);
    assert_int_equal(tdm_config_set(&cfg, "server.nope", "1", err, sizeof err), TDM_EINVAL);
    char longpath[2000];
    memset(longpath, 'a', sizeof longpath - 1);
    longpath[sizeof longpath - 1] = '\0';
    assert_int_equal(tdm_config_set(&cfg, "server.cert", longpath, err, sizeof err), TDM_EINVAL);
}

/* The in-memory reader (the fuzz target's entry) agrees with the file reader. */
/* server.public_url: the base of links, https://host[:port] and nothing more. */
static void public_url(void **state)
{
    (void)state;
    struct tdm_config cfg;
    char err[256];
    tdm_config_defaults(&cfg);
    assert_string_equal(cfg.public_url, "");
    const char *good[][2] = {
        {"https://tandem.example.org", "https://tandem.example.org"},
        {"https://tandem.example.org/", "https://tandem.example.org"},
        {"https://calls.ngo-x.example:8443", "https://calls.ngo-x.example:8443"},
        {"https://192.0.2.7:443/", "https://192.0.2.7:443"},
        {"https://[2001:db8::1]:8443", "https://[2001:db8::1]:8443"},
        {"", ""},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        assert_int_equal(tdm_config_set(&cfg, "server.public_url", good[i][0], err, sizeof err), 0);
        assert_string_equal(cfg.public_url, good[i][1]);
    }
    const char *bad[] = {"http://tandem.example.org",
                         "tandem.example.org",
                         "https://",
                         "https:///r/x",
                         "https://a.example/base",
                         "https://a.example?x=1",
                         "https://a.example#t=1",
                         "https://user@a.example",
                         "https://a.example:0",
                         "https://a.example:65536",
                         "https://a.example:123456",
                         "https://a b",
                         "https://-a.example",
                         "https://[zz::1]",
                         "https://[]",
                         "/",
                         "HTTPS://a",
                         "https://a.example:",
                         "https://a.example//"};
    tdm_config_set(&cfg, "server.public_url", "https://kept.example", err, sizeof err);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(tdm_config_set(&cfg, "server.public_url", bad[i], err, sizeof err),
                         TDM_EINVAL);
        assert_non_null(strstr(err, "server.public_url"));
        assert_string_equal(cfg.public_url, "https://kept.example");
    }
    char longer[TDM_CONFIG_PUBLIC_URL_MAX + 16] = "https://";
    memset(longer + 8, 'a', sizeof longer - 9);
    longer[sizeof longer - 1] = '\0';
    assert_int_equal(tdm_config_set(&cfg, "server.public_url", longer, err, sizeof err),
                     TDM_EINVAL);
}

static void load_from_memory(void **state)
{
    (void)state;
    static const char text[] = "[server]\nport = 9443\n[limits]\nmax_rooms = 7\n";
    struct tdm_config cfg;
    char err[256] = "";
    tdm_config_defaults(&cfg);
    /* not NUL-terminated: the length bounds the read */
    assert_int_equal(tdm_config_load_data(&cfg, text, sizeof text - 1, "mem", err, sizeof err), 0);
    assert_int_equal(cfg.port, 9443);
    assert_int_equal(cfg.limits.max_rooms, 7);
    tdm_config_defaults(&cfg);
    assert_int_equal(tdm_config_load_data(&cfg, text, 0, "mem", err, sizeof err), 0);
    assert_int_equal(cfg.port, 8443);
    assert_int_equal(tdm_config_load_data(&cfg, "[server]\nprot = 1\n", 18, "mem", err, sizeof err),
                     TDM_EINVAL);
    assert_non_null(strstr(err, "mem: "));
    assert_non_null(strstr(err, "server.prot"));
    assert_int_equal(tdm_config_load_data(&cfg, "[server\n", 8, "mem", err, sizeof err),
                     TDM_EINVAL);
    assert_non_null(strstr(err, "mem: "));
}

static void metrics_listen(void **state)
{
    (void)state;
    struct tdm_config cfg;
    char err[256] = "", host[64];
    uint16_t port;
    tdm_config_defaults(&cfg);
    assert_string_equal(cfg.metrics_listen, ""); /* off unless set */
    static const char *const good[] = {"127.0.0.1:9464", "[::1]:9464", "10.0.0.2:0",
                                       "0.0.0.0:65535", ""};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        assert_int_equal(tdm_config_set(&cfg, "metrics.listen", good[i], err, sizeof err), 0);
        assert_string_equal(cfg.metrics_listen, good[i]);
    }
    assert_int_equal(tdm_config_parse_hostport("[::1]:9464", host, sizeof host, &port), 0);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 9464);
    static const char *const bad[] = {"9464",
                                      "localhost:9464",
                                      "127.0.0.1",
                                      "127.0.0.1:",
                                      "127.0.0.1:65536",
                                      "127.0.0.1:-1",
                                      "127.0.0.1:94a4",
                                      "::1:9464",
                                      "[127.0.0.1]:9464",
                                      "[::1]9464",
                                      ":9464",
                                      "127.0.0.1:9464 ",
                                      "http://127.0.0.1:9464"};
    tdm_config_set(&cfg, "metrics.listen", "127.0.0.1:9464", err, sizeof err);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(tdm_config_set(&cfg, "metrics.listen", bad[i], err, sizeof err),
                         TDM_EINVAL);
        assert_non_null(strstr(err, "metrics.listen"));
        assert_string_equal(cfg.metrics_listen, "127.0.0.1:9464");
    }
}

/* [cluster]: off by default; Redis as an IP literal or a unix socket; the combination is
 * checked (node_url and public_url needed, ttl at least two heartbeats). */
static void cluster(void **state)
{
    (void)state;
    struct tdm_config cfg;
    char err[256] = "", name[TDM_CLUSTER_NAME_MAX + 1];
    assert_int_equal(load(&cfg, "[cluster]\nredis = 10.0.0.5:6379\n", err, sizeof err), 0);
    assert_string_equal(cfg.cluster_redis, "10.0.0.5:6379");
    assert_int_equal(cfg.cluster_heartbeat_ms, 2000);
    assert_int_equal(cfg.cluster_ttl_ms, 6000);
    assert_int_equal(tdm_config_validate(&cfg, err, sizeof err), TDM_EINVAL);
    assert_non_null(strstr(err, "cluster.node_url"));
    assert_int_equal(
        tdm_config_set(&cfg, "cluster.node_url", "https://n1.example:8443/", err, sizeof err), 0);
    assert_string_equal(cfg.cluster_node_url, "https://n1.example:8443");
    assert_int_equal(tdm_config_validate(&cfg, err, sizeof err), TDM_EINVAL);
    assert_non_null(strstr(err, "server.public_url"));
    assert_int_equal(
        tdm_config_set(&cfg, "server.public_url", "https://calls.example", err, sizeof err), 0);
    assert_int_equal(tdm_config_validate(&cfg, err, sizeof err), 0);
    tdm_config_cluster_name(&cfg, name);
    assert_string_equal(name, "n1.example_8443");
    assert_int_equal(tdm_config_set(&cfg, "cluster.node_name", "node-1", err, sizeof err), 0);
    tdm_config_cluster_name(&cfg, name);
    assert_string_equal(name, "node-1");
    assert_int_equal(tdm_config_set(&cfg, "cluster.ttl_ms", "3000", err, sizeof err), 0);
    assert_int_equal(tdm_config_validate(&cfg, err, sizeof err), TDM_EINVAL);
    assert_non_null(strstr(err, "cluster.ttl_ms"));
    assert_int_equal(tdm_config_set(&cfg, "cluster.ttl_ms", "6000", err, sizeof err), 0);
    assert_int_equal(tdm_config_set(&cfg, "cluster.timeout_ms", "2000", err, sizeof err), 0);
    assert_int_equal(tdm_config_validate(&cfg, err, sizeof err), TDM_EINVAL);
    assert_non_null(strstr(err, "cluster.timeout_ms"));
    assert_int_equal(
        tdm_config_set(&cfg, "cluster.redis", "unix:/run/redis/redis.sock", err, sizeof err), 0);
    static const char *bad_redis[] = {"redis.example:6379", "10.0.0.5", "10.0.0.5:0",     "unix:",
                                      "unix:relative",      "::1:6379", "10.0.0.5:6379 x"};
    for (size_t i = 0; i < sizeof bad_redis / sizeof bad_redis[0]; i++) {
        assert_int_equal(tdm_config_set(&cfg, "cluster.redis", bad_redis[i], err, sizeof err),
                         TDM_EINVAL);
        assert_non_null(strstr(err, "cluster.redis"));
    }
    static const char *bad_names[] = {"a b", "node/1", "x123456789012345678901234567890123"};
    for (size_t i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++)
        assert_int_equal(tdm_config_set(&cfg, "cluster.node_name", bad_names[i], err, sizeof err),
                         TDM_EINVAL);
    assert_int_equal(tdm_config_set(&cfg, "cluster.node_url", "http://n1.example", err, sizeof err),
                     TDM_EINVAL);
    assert_non_null(strstr(err, "cluster.node_url"));
    /* without Redis, a node_url is a mistake, not silently ignored */
    tdm_config_defaults(&cfg);
    assert_int_equal(
        tdm_config_set(&cfg, "cluster.node_url", "https://n1.example", err, sizeof err), 0);
    assert_int_equal(tdm_config_validate(&cfg, err, sizeof err), TDM_EINVAL);
    assert_non_null(strstr(err, "cluster.redis"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults),
        cmocka_unit_test(good_file),
        cmocka_unit_test(bad_files_name_the_key),
        cmocka_unit_test(missing_file),
        cmocka_unit_test(set_by_name),
        cmocka_unit_test(load_from_memory),
        cmocka_unit_test(public_url),
        cmocka_unit_test(metrics_listen),
        cmocka_unit_test(cluster),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
