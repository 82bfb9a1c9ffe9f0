/* Media workers, the process-wide part: the DTLS identity, the media addresses, starting
 * and stopping the workers, and the mailboxes between them and the control thread. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "media_internal.h"
#include "metrics.h"

#include "app.h"

#include "tandem/err.h"
#include "tandem/util.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Every configured address, or when none is, every non-loopback interface address that is
 * up (IPv4, and IPv6 other than link-local: browsers would need a scope to reach those). */
static int media_addresses(struct tdm_media *m, const struct tdm_config *cfg)
{
    for (size_t i = 0; i < cfg->n_media_addrs && m->n_addrs < MW_MAX_SOCKS; i++) {
        struct tdm_addr *a = &m->addrs[m->n_addrs];
        uint8_t ip[16];
        if (inet_pton(AF_INET, cfg->media_addrs[i], ip) == 1) {
            tdm_addr_set_v4(a, ntohl(*(uint32_t *)(void *)ip), 0);
        } else if (inet_pton(AF_INET6, cfg->media_addrs[i], ip) == 1) {
            tdm_addr_set_v6(a, ip, 0);
        } else {
            continue;
        }
        m->n_addrs++;
    }
    if (cfg->n_media_addrs)
        return 0;
    struct ifaddrs *ifs = NULL;
    if (getifaddrs(&ifs) != 0)
        return TDM_EIO;
    for (struct ifaddrs *i = ifs; i && m->n_addrs < MW_MAX_SOCKS; i = i->ifa_next) {
        if (!i->ifa_addr || !(i->ifa_flags & IFF_UP) || (i->ifa_flags & IFF_LOOPBACK))
            continue;
        int fam = i->ifa_addr->sa_family;
        if (fam != AF_INET && fam != AF_INET6)
            continue;
        socklen_t sl = fam == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
        struct tdm_addr a;
        if (tdm_addr_from_sockaddr(&a, i->ifa_addr, sl) != 0)
            continue;
        if (a.family == TDM_ADDR_V6 && a.ip[0] == 0xfe && (a.ip[1] & 0xc0) == 0x80)
            continue;
        bool dup = false;
        for (unsigned k = 0; k < m->n_addrs; k++)
            dup |= tdm_addr_equal(&m->addrs[k], &a);
        if (!dup)
            m->addrs[m->n_addrs++] = a;
    }
    freeifaddrs(ifs);
    return 0;
}

static int identity(struct tdm_media *m)
{
    int rc = tdm_srtp_global_init();
    if (rc == 0)
        rc = tdm_cert_create(&m->cert, tdm_wall_us());
    if (rc == 0)
        rc = tdm_cert_ssl_ctx_new(m->cert, NULL, &m->ssl_ctx);
    if (rc == 0) {
        struct tdm_fingerprint fp;
        tdm_cert_fingerprint(m->cert, &fp);
        memcpy(m->fingerprint, fp.digest, sizeof m->fingerprint);
    }
    return rc;
}

static unsigned worker_count(const struct tdm_config *cfg)
{
    if (cfg->media_workers)
        return cfg->media_workers;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 64 ? 64 : (unsigned)n;
}

int tdm_media_start(struct tdm_app *app, struct tdm_media **out)
{
    const struct tdm_config *cfg = &app->cfg;
    struct tdm_media *m = calloc(1, sizeof *m);
    if (!m)
        return TDM_ENOMEM;
    m->app = app;
    m->port_base = cfg->media_port_base;
    m->ice_udp = cfg->media_ice_udp != 0;
    m->ice_tcp = cfg->media_ice_tcp != 0;
    atomic_init(&m->replies_in_flight, 0);
    atomic_init(&m->stopping, false);
    /* Two connections per page, and a page may linger while its replacement connects. */
    m->max_sessions = 2 * (size_t)cfg->limits.max_connections + 16;
    m->ice_timeout_us = (int64_t)cfg->limits.ice_timeout_s * 1000000;
    m->consent_timeout_us = (int64_t)cfg->limits.consent_timeout_s * 1000000;
    m->dtls_timeout_us = (int64_t)cfg->limits.dtls_timeout_s * 1000000;
    if (cfg->public_ip[0]) {
        uint8_t ip[16];
        if (inet_pton(AF_INET, cfg->public_ip, ip) == 1)
            tdm_addr_set_v4(&m->public_addr, ntohl(*(uint32_t *)(void *)ip), 0);
        else if (inet_pton(AF_INET6, cfg->public_ip, ip) == 1)
            tdm_addr_set_v6(&m->public_addr, ip, 0);
    }
    int rc = identity(m);
    if (rc == 0)
        rc = media_addresses(m, cfg);
    if (rc != 0) {
        TDM_ERROR("media: could not start (%s)", tdm_strerror(rc));
        tdm_media_stop(m);
        return rc;
    }
    if (m->n_addrs == 0)
        TDM_WARN("media: no usable address (set server.media_addresses): calls cannot connect");
    m->n_workers = worker_count(cfg);
    /* Rooms are spread over the workers: each holds its share of the bound, at least 1. */
    m->max_pending = (cfg->limits.max_pending_media + m->n_workers - 1) / m->n_workers;
    m->workers = calloc(m->n_workers, sizeof *m->workers);
    m->rooms_per_worker = calloc(m->n_workers, sizeof *m->rooms_per_worker);
    if (!m->workers || !m->rooms_per_worker) {
        tdm_media_stop(m);
        return TDM_ENOMEM;
    }
    for (unsigned i = 0; i < m->n_workers; i++) {
        rc = mw_create(m, i, &m->workers[i]);
        if (rc == 0)
            rc = mw_start(m->workers[i]);
        if (rc != 0) {
            TDM_ERROR("media: worker %u: %s", i, tdm_strerror(rc));
            tdm_media_stop(m);
            return rc;
        }
    }
    TDM_INFO("media: %u worker%s, UDP ports %u..%u on %u address%s", m->n_workers,
             m->n_workers == 1 ? "" : "s", m->port_base, m->port_base + m->n_workers - 1,
             m->n_addrs, m->n_addrs == 1 ? "" : "es");
    app->media_block = tdm_media_block;
    *out = m;
    return 0;
}

void tdm_media_stop(struct tdm_media *m)
{
    if (!m)
        return;
    atomic_store(&m->stopping, true);
    if (m->app && m->app->media_block == tdm_media_block)
        m->app->media_block = NULL;
    for (unsigned i = 0; m->workers && i < m->n_workers; i++) {
        if (!m->workers[i])
            continue;
        mw_quit(m->workers[i]);
        mw_destroy(m->workers[i]);
    }
    /* Replies already attached to the control context hold memory until dispatched: let
     * them run (they only free themselves now). Bounded: each iteration dispatches. */
    for (int i = 0; i < 10000 && atomic_load(&m->replies_in_flight) > 0; i++)
        g_main_context_iteration(NULL, FALSE);
    free(m->workers);
    free(m->rooms_per_worker);
    if (m->ssl_ctx)
        SSL_CTX_free(m->ssl_ctx);
    tdm_cert_destroy(m->cert);
    free(m);
}

unsigned tdm_media_pin_room(struct tdm_media *m)
{
    unsigned best = 0;
    for (unsigned i = 1; i < m->n_workers; i++)
        if (m->rooms_per_worker[i] < m->rooms_per_worker[best])
            best = i;
    m->rooms_per_worker[best]++;
    return best;
}

void tdm_media_unpin_room(struct tdm_media *m, unsigned w)
{
    if (w < m->n_workers && m->rooms_per_worker[w])
        m->rooms_per_worker[w]--;
}

bool tdm_media_worker_usable(const struct tdm_media *m, unsigned w)
{
    return w < m->n_workers && m->workers[w]->n_socks > 0;
}

/* ---- mailboxes ------------------------------------------------------------------------ */

/* An idle source at default priority on ctx: FIFO with the other messages, never run on
 * the calling thread (see media.h). */
static void post(GMainContext *ctx, GSourceFunc fn, gpointer data, GDestroyNotify notify)
{
    GSource *s = g_idle_source_new();
    g_source_set_priority(s, G_PRIORITY_DEFAULT);
    g_source_set_callback(s, fn, data, notify);
    g_source_attach(s, ctx);
    g_source_unref(s);
}

void tdm_media_cmd_free(struct tdm_media_cmd *cmd)
{
    if (!cmd)
        return;
    free(cmd->ref);
    free(cmd->sdp);
    free(cmd);
}

struct cmd_env {
    struct media_worker *w;
    struct tdm_media_cmd *cmd;
};

static gboolean cmd_dispatch(gpointer data)
{
    struct cmd_env *e = data;
    mw_handle_cmd(e->w, e->cmd);
    return G_SOURCE_REMOVE;
}

static void cmd_env_free(gpointer data)
{
    struct cmd_env *e = data;
    atomic_fetch_add(&tdm_mx_worker(e->w->index)->cmds_done, 1);
    tdm_media_cmd_free(e->cmd);
    free(e);
}

void tdm_media_post(struct tdm_media *m, unsigned w, struct tdm_media_cmd *cmd)
{
    struct cmd_env *e = malloc(sizeof *e);
    if (!m || w >= m->n_workers || !e || atomic_load(&m->stopping)) {
        free(e);
        tdm_media_cmd_free(cmd);
        return;
    }
    e->w = m->workers[w];
    e->cmd = cmd;
    atomic_fetch_add(&tdm_mx_worker(w)->cmds_posted, 1);
    post(e->w->ctx, cmd_dispatch, e, cmd_env_free);
}

void tdm_media_reply_free(struct tdm_media_reply *r)
{
    if (!r)
        return;
    free(r->ref);
    free(r->sdp);
    free(r);
}

struct reply_env {
    struct tdm_media *m;
    struct tdm_media_reply *r;
};

static gboolean reply_dispatch(gpointer data)
{
    struct reply_env *e = data;
    if (!atomic_load(&e->m->stopping))
        tdm_media_deliver(e->m->app, e->r);
    return G_SOURCE_REMOVE;
}

static void reply_env_free(gpointer data)
{
    struct reply_env *e = data;
    tdm_media_reply_free(e->r);
    atomic_fetch_sub(&e->m->replies_in_flight, 1);
    free(e);
}

void tdm_media_reply_post(struct tdm_media *m, struct tdm_media_reply *r)
{
    struct reply_env *e = malloc(sizeof *e);
    if (!e || atomic_load(&m->stopping)) {
        free(e);
        tdm_media_reply_free(r);
        return;
    }
    e->m = m;
    e->r = r;
    atomic_fetch_add(&m->replies_in_flight, 1);
    post(NULL, reply_dispatch, e, reply_env_free);
}
