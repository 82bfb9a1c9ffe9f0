/* Media workers, the process-wide part, on the control thread: the DTLS identity, the
 * media addresses, starting and stopping the workers, pinning rooms to them and posting
 * commands. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "media_worker.h"

#include "tandem/err.h"
#include "tandem/log.h"
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

int tdm_media_start(const struct tdm_config *cfg, tdm_media_deliver_fn deliver, void *ctx,
                    struct tdm_media **out)
{
    struct tdm_media *m = calloc(1, sizeof *m);
    if (!m)
        return TDM_ENOMEM;
    m->deliver = deliver;
    m->deliver_ctx = ctx;
    m->port_base = cfg->media_port_base;
    atomic_init(&m->events_in_flight, 0);
    atomic_init(&m->stopping, false);
    struct tdm_sfu_config *c = &m->sfu;
    c->ice_udp = cfg->media_ice_udp != 0;
    c->ice_tcp = cfg->media_ice_tcp != 0;
    c->mix_speakers = cfg->media_mix_speakers;
    /* Two connections per page, and a page may linger while its replacement connects. */
    c->max_sessions = 2 * (size_t)cfg->limits.max_connections + 16;
    c->ice_timeout_us = (int64_t)cfg->limits.ice_timeout_s * 1000000;
    c->consent_timeout_us = (int64_t)cfg->limits.consent_timeout_s * 1000000;
    c->dtls_timeout_us = (int64_t)cfg->limits.dtls_timeout_s * 1000000;
    /* A packet's fan-out fits in the queue whatever the room size. */
    c->tx_slots = 1024 + 4 * (size_t)cfg->limits.max_participants_per_room;
    if (cfg->public_ip[0]) {
        uint8_t ip[16];
        if (inet_pton(AF_INET, cfg->public_ip, ip) == 1)
            tdm_addr_set_v4(&c->public_addr, ntohl(*(uint32_t *)(void *)ip), 0);
        else if (inet_pton(AF_INET6, cfg->public_ip, ip) == 1)
            tdm_addr_set_v6(&c->public_addr, ip, 0);
    }
    int rc = identity(m);
    if (rc == 0)
        rc = media_addresses(m, cfg);
    if (rc != 0) {
        TDM_ERROR("media: could not start (%s)", tdm_strerror(rc));
        tdm_media_stop(m);
        return rc;
    }
    c->ssl_ctx = m->ssl_ctx;
    memcpy(c->fingerprint, m->fingerprint, sizeof c->fingerprint);
    if (m->n_addrs == 0)
        TDM_WARN("media: no usable address (set server.media_addresses): calls cannot connect");
    m->n_workers = worker_count(cfg);
    /* Rooms are spread over the workers: each holds its share of the bound, at least 1. */
    c->max_pending = (cfg->limits.max_pending_media + m->n_workers - 1) / m->n_workers;
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
    if (m->port_base)
        TDM_INFO("media: %u worker%s, UDP ports %u..%u on %u address%s", m->n_workers,
                 m->n_workers == 1 ? "" : "s", m->port_base, m->port_base + m->n_workers - 1,
                 m->n_addrs, m->n_addrs == 1 ? "" : "es");
    else
        for (unsigned i = 0; i < m->n_workers; i++)
            TDM_INFO("media: worker %u on UDP port %u (free port) on %u address%s", i,
                     m->workers[i]->port, m->n_addrs, m->n_addrs == 1 ? "" : "es");
    *out = m;
    return 0;
}

void tdm_media_stop(struct tdm_media *m)
{
    if (!m)
        return;
    atomic_store(&m->stopping, true);
    for (unsigned i = 0; m->workers && i < m->n_workers; i++) {
        if (!m->workers[i])
            continue;
        mw_quit(m->workers[i]);
        mw_destroy(m->workers[i]);
    }
    /* Events already attached to the control context hold memory until dispatched: let
     * them run (they only free themselves now). Bounded: each iteration dispatches. */
    for (int i = 0; i < 10000 && atomic_load(&m->events_in_flight) > 0; i++)
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

void tdm_media_post(struct tdm_media *m, unsigned w, struct tdm_sfu_cmd *cmd)
{
    if (!m || w >= m->n_workers || atomic_load(&m->stopping)) {
        tdm_sfu_cmd_free(cmd);
        return;
    }
    mw_post_cmd(m->workers[w], cmd);
}
