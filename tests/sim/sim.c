/* The simulator's network and loop: packets in flight in a time-ordered heap, each page's
 * up and down links, the SFU core fed at virtual time, and the routing of what it sends
 * (by destination address) and of its events (by participant). */
#include "sim_internal.h"

#include "tandem/err.h"
#include "tandem/srtp.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#define SIM_MAX_STEPS 5000000

struct flight {
    int64_t at;
    uint64_t order; /* FIFO among equal times */
    struct sim_peer *peer;
    int conn;
    bool to_server;
    struct tdm_addr addr; /* the page's address when sent: the source up, the destination down */
    size_t len;
    uint8_t buf[SIM_PKT_MAX];
};

struct sim {
    int64_t now;
    uint64_t rng, order;
    SSL_CTX *ctx;
    struct tdm_cert *cert;
    struct tdm_sfu *sfu;
    struct tdm_addr server;
    struct sim_peer *peers[SIM_MAX_PEERS];
    unsigned n_peers;
    const char *profiles;
    struct flight **heap;
    size_t n_heap, cap_heap;
};

uint32_t sim_rand(struct sim *s)
{
    /* xorshift64*: deterministic for a seed */
    s->rng ^= s->rng >> 12;
    s->rng ^= s->rng << 25;
    s->rng ^= s->rng >> 27;
    return (uint32_t)((s->rng * 2685821657736338717ull) >> 32);
}

static uint32_t core_rand(void *ctx)
{
    return sim_rand(ctx);
}

/* ---- the heap of packets in flight --------------------------------------------------- */

static bool earlier(const struct flight *a, const struct flight *b)
{
    return a->at < b->at || (a->at == b->at && a->order < b->order);
}

static void heap_push(struct sim *s, struct flight *f)
{
    if (s->n_heap == s->cap_heap) {
        size_t nc = s->cap_heap ? s->cap_heap * 2 : 256;
        struct flight **nh = realloc(s->heap, nc * sizeof *nh);
        if (!nh) {
            free(f);
            return;
        }
        s->heap = nh;
        s->cap_heap = nc;
    }
    size_t i = s->n_heap++;
    while (i && earlier(f, s->heap[(i - 1) / 2])) {
        s->heap[i] = s->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    s->heap[i] = f;
}

static struct flight *heap_pop(struct sim *s)
{
    struct flight *top = s->heap[0], *last = s->heap[--s->n_heap];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= s->n_heap)
            break;
        if (c + 1 < s->n_heap && earlier(s->heap[c + 1], s->heap[c]))
            c++;
        if (!earlier(s->heap[c], last))
            break;
        s->heap[i] = s->heap[c];
        i = c;
    }
    if (s->n_heap)
        s->heap[i] = last;
    return top;
}

/* A packet on a link: random loss, then the rate cap's queue (dropped when it would wait
 * longer than the queue allows, as a short tail-drop buffer does) or its policer (dropped
 * when the bucket lacks its bytes), then delay and jitter without reordering. */
static void transmit(struct sim *s, struct sim_link_state *l, struct sim_peer *p, int conn,
                     bool to_server, const uint8_t *buf, size_t len)
{
    if (len > SIM_PKT_MAX || p->left)
        return;
    if (l->cfg.loss > 0 && sim_rand(s) < (uint32_t)(l->cfg.loss * 4294967295.0))
        return;
    int64_t t = s->now;
    if (l->cfg.rate_bps && l->cfg.burst_bytes) {
        uint64_t full = l->cfg.burst_bytes * 8 * 1000000u, need = len * 8 * 1000000u;
        l->tokens += (uint64_t)(t - l->tokens_at) * l->cfg.rate_bps;
        l->tokens = l->tokens > full ? full : l->tokens;
        l->tokens_at = t;
        if (l->tokens < need)
            return;
        l->tokens -= need;
    } else if (l->cfg.rate_bps) {
        int64_t start = l->busy_until > t ? l->busy_until : t;
        if (start - t > l->cfg.queue_us)
            return;
        l->busy_until = start + (int64_t)(len * 8 * 1000000ull / l->cfg.rate_bps);
        t = l->busy_until;
    }
    t += l->cfg.delay_us;
    if (l->cfg.jitter_us > 0)
        t += sim_rand(s) % (uint32_t)l->cfg.jitter_us;
    if (t < l->last_arrival)
        t = l->last_arrival;
    l->last_arrival = t;
    struct flight *f = malloc(sizeof *f);
    if (!f)
        return;
    *f = (struct flight){.at = t,
                         .order = s->order++,
                         .peer = p,
                         .conn = conn,
                         .to_server = to_server,
                         .addr = p->conn[conn].addr,
                         .len = len};
    memcpy(f->buf, buf, len);
    heap_push(s, f);
}

void sim_send_up(struct sim_conn *c, const uint8_t *p, size_t len)
{
    transmit(c->peer->sim, &c->peer->up, c->peer, c->idx, true, p, len);
}

/* ---- the core's output --------------------------------------------------------------- */

static struct sim_peer *peer_at(struct sim *s, const struct tdm_addr *a, int *conn)
{
    for (unsigned i = 0; i < s->n_peers; i++)
        for (int k = 0; k < 2; k++)
            if (tdm_addr_equal(&s->peers[i]->conn[k].addr, a)) {
                *conn = k;
                return s->peers[i];
            }
    return NULL;
}

static void drain(struct sim *s)
{
    size_t n;
    struct tdm_sfu_transmit *tx = tdm_sfu_transmits(s->sfu, &n);
    for (size_t i = 0; i < n; i++) {
        int conn;
        struct sim_peer *p = peer_at(s, &tx[i].to.remote, &conn);
        if (p)
            transmit(s, &p->down, p, conn, false, tx[i].buf, tx[i].len);
    }
    tdm_sfu_transmits_done(s->sfu);
    struct tdm_sfu_event *ev;
    while ((ev = tdm_sfu_poll_event(s->sfu))) {
        for (unsigned i = 0; i < s->n_peers; i++)
            if (strcmp(s->peers[i]->name, ev->pid) == 0 && !s->peers[i]->left)
                sim_peer_on_event(s->peers[i], ev, s->now);
        tdm_sfu_event_free(ev);
    }
}

void sim_command(struct sim *s, struct tdm_sfu_cmd *cmd)
{
    tdm_sfu_handle_command(s->sfu, cmd, s->now);
    drain(s);
}

/* ---- life cycle ---------------------------------------------------------------------- */

struct sim *sim_create(uint64_t seed)
{
    struct sim *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->rng = seed ? seed : 1;
    s->now = 1000000;                               /* virtual time starts at 1 s */
    tdm_addr_set_v4(&s->server, 0x0a000001, 10000); /* 10.0.0.1:10000 */
    struct tdm_fingerprint fp;
    if (tdm_srtp_global_init() != 0 || tdm_cert_create(&s->cert, 1700000000000000) != 0 ||
        tdm_cert_ssl_ctx_new(s->cert, NULL, &s->ctx) != 0)
        goto fail;
    tdm_cert_fingerprint(s->cert, &fp);
    struct tdm_sfu_config c = {.ssl_ctx = s->ctx,
                               .n_socks = 1,
                               .ice_udp = true,
                               .max_sessions = 4 * SIM_MAX_PEERS,
                               .max_pending = 2 * SIM_MAX_PEERS,
                               .ice_timeout_us = 30000000,
                               .consent_timeout_us = 30000000,
                               .dtls_timeout_us = 10000000,
                               .wall_offset_us = 1700000000000000,
                               .rand32 = core_rand,
                               .rand_ctx = s};
    memcpy(c.fingerprint, fp.digest, sizeof c.fingerprint);
    c.socks[0] = s->server;
    if (tdm_sfu_create(&c, &s->sfu) != 0)
        goto fail;
    return s;
fail:
    sim_destroy(s);
    return NULL;
}

void sim_destroy(struct sim *s)
{
    if (!s)
        return;
    tdm_sfu_destroy(s->sfu);
    for (unsigned i = 0; i < s->n_peers; i++) {
        sim_peer_free(s->peers[i]);
        free(s->peers[i]);
    }
    while (s->n_heap)
        free(heap_pop(s));
    free(s->heap);
    if (s->ctx)
        SSL_CTX_free(s->ctx);
    tdm_cert_destroy(s->cert);
    free(s);
}

int64_t sim_now(const struct sim *s)
{
    return s->now;
}

struct tdm_sfu *sim_sfu(struct sim *s)
{
    return s->sfu;
}

struct sim_peer *sim_peer_add(struct sim *s, const char *room, const char *name)
{
    if (s->n_peers == SIM_MAX_PEERS)
        return NULL;
    struct sim_peer *p = calloc(1, sizeof *p);
    if (!p || sim_peer_init(p, s, (int)s->n_peers, room, name) != 0) {
        free(p);
        return NULL;
    }
    s->peers[s->n_peers++] = p;
    struct tdm_sfu_cmd cmd = {.kind = TDM_SFU_CMD_JOIN};
    snprintf(cmd.room, sizeof cmd.room, "%s", room);
    snprintf(cmd.pid, sizeof cmd.pid, "%s", name);
    sim_command(s, &cmd);
    return p;
}

void sim_set_srtp_profiles(struct sim *s, const char *profiles)
{
    s->profiles = profiles;
}

const char *sim_srtp_profiles(const struct sim *s)
{
    return s->profiles;
}

void sim_peer_pub_path(const struct sim_peer *p, struct tdm_sfu_path *out)
{
    *out = (struct tdm_sfu_path){.sock = 0, .remote = p->conn[0].addr};
}

void sim_peer_set_links(struct sim_peer *p, const struct sim_link *up, const struct sim_link *down)
{
    if (up)
        p->up.cfg = *up;
    if (down)
        p->down.cfg = *down;
    /* a policer starts with a full bucket */
    p->up.tokens = p->up.cfg.burst_bytes * 8 * 1000000u;
    p->down.tokens = p->down.cfg.burst_bytes * 8 * 1000000u;
    p->up.tokens_at = p->down.tokens_at = p->sim->now;
}

void sim_peer_leave(struct sim_peer *p)
{
    struct tdm_sfu_cmd cmd = {.kind = TDM_SFU_CMD_LEAVE};
    snprintf(cmd.room, sizeof cmd.room, "%s", p->room);
    snprintf(cmd.pid, sizeof cmd.pid, "%s", p->name);
    p->left = true;
    sim_command(p->sim, &cmd);
}

/* ---- the loop ------------------------------------------------------------------------ */

int sim_run_until(struct sim *s, int64_t t)
{
    for (long steps = 0; steps < SIM_MAX_STEPS; steps++) {
        int64_t next = s->n_heap ? s->heap[0]->at : INT64_MAX;
        int64_t d = tdm_sfu_deadline(s->sfu);
        if (d < next)
            next = d;
        for (unsigned i = 0; i < s->n_peers; i++) {
            int64_t x = s->peers[i]->left ? INT64_MAX : sim_peer_next(s->peers[i]);
            if (x < next)
                next = x;
        }
        if (next > t) {
            s->now = t;
            return 0;
        }
        if (next > s->now)
            s->now = next;
        if (s->n_heap && s->heap[0]->at <= s->now) {
            struct flight *f = heap_pop(s);
            if (f->to_server) {
                struct tdm_sfu_path from = {.sock = 0, .remote = f->addr};
                tdm_sfu_handle_datagram(s->sfu, &from, f->buf, f->len, s->now);
                drain(s);
            } else if (!f->peer->left && tdm_addr_equal(&f->addr, &f->peer->conn[f->conn].addr)) {
                /* (a packet to an address the page no longer has is lost) */
                sim_peer_on_datagram(f->peer, f->conn, f->buf, f->len, s->now);
            }
            free(f);
            continue;
        }
        if (tdm_sfu_deadline(s->sfu) <= s->now) {
            tdm_sfu_handle_timeout(s->sfu, s->now);
            drain(s);
        }
        for (unsigned i = 0; i < s->n_peers; i++)
            if (!s->peers[i]->left && sim_peer_next(s->peers[i]) <= s->now)
                sim_peer_tick(s->peers[i], s->now);
    }
    return -1;
}
