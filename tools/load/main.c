/* tandem-load: the command line, the scenarios, the shard threads and the phases
 * (set-up, warm-up, measurement, drain). See load.h and docs/benchmarks.md. */
#include <getopt.h>
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include "load.h"
#include "tandem/cert.h"
#include "tandem/invite.h"
#include "tandem/room.h"
#include "tandem/util.h"

#define TICK_MS 5

static void usage(FILE *f)
{
    fprintf(f,
            "usage: tandem-load [options]\n"
            "Real WebRTC participants without a browser (ICE with libnice, DTLS, SRTP, Opus,\n"
            "VP8-shaped video) against a running Tandem; prints progress, a table and JSON.\n\n"
            "Server:\n"
            "  --url URL            signaling URL (default wss://127.0.0.1:8443/ws)\n"
            "  --invite-key FILE    the server's invite key: mint a token per room (rooms are\n"
            "                       closed); without it the server must run with --open-rooms\n"
            "  --server-pid PID     read the server's CPU and peak memory from /proc\n"
            "  --local-address A    address the ICE agents use (default 127.0.0.1)\n"
            "  --tcp                ICE-TCP only (active) instead of UDP\n"
            "Scenario (one of; default --calls 1):\n"
            "  --calls N            N one-to-one calls (2N participants, rooms of 2)\n"
            "  --rooms R --group G  R rooms of G participants, everyone publishes\n"
            "  --subscribers S      one publisher and S receivers in one room (the receivers\n"
            "                       receive only: no pub connection)\n"
            "  --idle-pub           fan-out receivers hold an idle pub connection instead (as\n"
            "                       pages did before media.receive_only)\n"
            "  --audio-only         publish audio only\n"
            "Media:\n"
            "  --video-kbps K       video rate per publisher (default 1000)\n"
            "  --fps F              video pictures per second (default 30)\n"
            "  --keyframe-ms MS     periodic keyframe interval (default 3000)\n"
            "  --nack               receivers NACK video gaps (loss is then after repair)\n"
            "  --drop-rx PERMILLE   receivers discard that share of video packets on arrival,\n"
            "                       as a lossy downlink would (with --nack: the server resends)\n"
            "Run:\n"
            "  --duration S         measured seconds (default 10)\n"
            "  --warmup S           seconds of media before measuring (default 2)\n"
            "  --setup-timeout S    seconds for joins, ICE and DTLS (default 30)\n"
            "  --threads T          client threads (default 1)\n"
            "  --join-spacing-ms MS between two joins (default 20)\n"
            "  --room-prefix P      room ids start with P (default ld)\n"
            "  --json FILE          also write the JSON result to FILE\n"
            "  --quiet              no progress or per-connection messages\n"
            "Exit: 0 done, 1 nothing connected, 2 usage error.\n");
}

static int parse_url(struct ld_opts *o)
{
    const char *u = o->url;
    if (strncmp(u, "wss://", 6) != 0)
        return -1;
    u += 6;
    const char *slash = strchr(u, '/');
    const char *hostend = slash ? slash : u + strlen(u);
    const char *colon = NULL;
    if (*u == '[') {
        const char *rb = memchr(u, ']', (size_t)(hostend - u));
        if (!rb)
            return -1;
        colon = rb[1] == ':' ? rb + 1 : NULL;
        snprintf(o->host, sizeof o->host, "%.*s", (int)(rb - u - 1), u + 1);
    } else {
        colon = memchr(u, ':', (size_t)(hostend - u));
        snprintf(o->host, sizeof o->host, "%.*s", (int)((colon ? colon : hostend) - u), u);
    }
    o->port = colon ? atoi(colon + 1) : 443;
    snprintf(o->path, sizeof o->path, "%s", slash ? slash : "/ws");
    return o->host[0] && o->port > 0 && o->port < 65536 ? 0 : -1;
}

static int int_arg(const char *s, int lo, int hi, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < lo || v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

static int parse_args(int argc, char **argv, struct ld_opts *o)
{
    static const struct option lo[] = {
        {"url", 1, 0, 'u'},         {"invite-key", 1, 0, 'k'},
        {"server-pid", 1, 0, 'p'},  {"local-address", 1, 0, 'l'},
        {"tcp", 0, 0, 'T'},         {"calls", 1, 0, 'c'},
        {"rooms", 1, 0, 'r'},       {"group", 1, 0, 'g'},
        {"subscribers", 1, 0, 's'}, {"audio-only", 0, 0, 'a'},
        {"video-kbps", 1, 0, 'v'},  {"fps", 1, 0, 'f'},
        {"keyframe-ms", 1, 0, 'K'}, {"duration", 1, 0, 'd'},
        {"warmup", 1, 0, 'w'},      {"setup-timeout", 1, 0, 'S'},
        {"threads", 1, 0, 't'},     {"join-spacing-ms", 1, 0, 'J'},
        {"room-prefix", 1, 0, 'R'}, {"json", 1, 0, 'j'},
        {"quiet", 0, 0, 'q'},       {"nack", 0, 0, 'N'},
        {"drop-rx", 1, 0, 'D'},     {"idle-pub", 0, 0, 'I'},
        {"help", 0, 0, 'h'},        {0, 0, 0, 0},
    };
    int c, bad = 0;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 'u': o->url = optarg; break;
        case 'k': o->invite_key = optarg; break;
        case 'p': bad |= int_arg(optarg, 1, 1 << 30, &o->server_pid); break;
        case 'l': o->local_address = optarg; break;
        case 'T': o->tcp = true; break;
        case 'c': o->scenario = LD_PAIRS, bad |= int_arg(optarg, 1, 5000, &o->calls); break;
        case 'r': o->scenario = LD_ROOMS, bad |= int_arg(optarg, 1, 2000, &o->rooms); break;
        case 'g': bad |= int_arg(optarg, 2, 100, &o->group); break;
        case 's': o->scenario = LD_FANOUT, bad |= int_arg(optarg, 1, 5000, &o->subscribers); break;
        case 'a': o->audio_only = true; break;
        case 'v': bad |= int_arg(optarg, 30, 20000, &o->video_kbps); break;
        case 'f': bad |= int_arg(optarg, 1, 60, &o->fps); break;
        case 'K': bad |= int_arg(optarg, 100, 600000, &o->keyframe_ms); break;
        case 'd': bad |= int_arg(optarg, 1, 86400, &o->duration_s); break;
        case 'w': bad |= int_arg(optarg, 0, 3600, &o->warmup_s); break;
        case 'S': bad |= int_arg(optarg, 1, 3600, &o->setup_timeout_s); break;
        case 't': bad |= int_arg(optarg, 1, 64, &o->threads); break;
        case 'J': bad |= int_arg(optarg, 0, 10000, &o->join_spacing_ms); break;
        case 'R': o->room_prefix = optarg; break;
        case 'j': o->json_path = optarg; break;
        case 'q': o->quiet = true; break;
        case 'N': o->nack = true; break;
        case 'I': o->idle_pub = true; break;
        case 'D': bad |= int_arg(optarg, 0, 500, &o->drop_rx_permille); break;
        case 'h': usage(stdout); exit(0);
        default: bad = -1;
        }
    }
    if (o->scenario == LD_ROOMS && o->group == 0)
        o->group = 4;
    if (bad || optind < argc || parse_url(o) != 0 || strlen(o->room_prefix) > 20) {
        usage(stderr);
        return -1;
    }
    return 0;
}

static int read_key(const char *path, uint8_t key[32])
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, key, 32);
    uint8_t extra;
    ssize_t m = read(fd, &extra, 1);
    close(fd);
    return n == 32 && m == 0 ? 0 : -1;
}

/* Room, name, role in the scenario, token. Returns the number of participants or -1. */
static int plan(struct ld_global *g, struct ld_part *all, int n, const char *run)
{
    const struct ld_opts *o = &g->o;
    for (int i = 0; i < n; i++) {
        struct ld_part *p = &all[i];
        int room = o->scenario == LD_PAIRS ? i / 2 : o->scenario == LD_ROOMS ? i / o->group : 0;
        p->gindex = i;
        p->sends = o->scenario != LD_FANOUT || i == 0;
        p->fanout = o->scenario == LD_PAIRS   ? 1
                    : o->scenario == LD_ROOMS ? o->group - 1
                                              : (i == 0 ? o->subscribers : 0);
        snprintf(p->room, sizeof p->room, "%s-%s-%d", o->room_prefix, run, room);
        snprintf(p->name, sizeof p->name, "load %d", i);
        if (o->invite_key) {
            struct tdm_invite inv;
            int64_t exp = tdm_wall_us() / 1000000 + 86400;
            if (tdm_invite_new(&inv, p->room, TDM_ROLE_MENTEE, exp, 0) != 0 ||
                tdm_invite_encode(&inv, g->invite_key, 32, p->token, sizeof p->token) < 0)
                return -1;
        }
        ld_part_media_init(p);
    }
    return n;
}

static gboolean tick(gpointer data)
{
    struct ld_shard *sh = data;
    int64_t now = tdm_now_us();
    for (int i = 0; i < sh->n_parts; i++) {
        struct ld_part *p = &sh->parts[i];
        if (!p->ws_started && now >= p->join_at_us) {
            p->ws_started = true;
            ld_sig_connect(p);
        }
        ld_sig_tick(p, now);
        ld_part_send_due(p, now);
        ld_part_reports(p, now);
        ld_conn_tick(&p->pub, now);
        ld_conn_tick(&p->sub, now);
    }
    return G_SOURCE_CONTINUE;
}

static void shard_finish(struct ld_shard *sh)
{
    uint64_t jsum = 0, jn = 0;
    for (int i = 0; i < sh->n_parts; i++) {
        struct ld_part *p = &sh->parts[i];
        p->closing = true;
        for (int k = 0; k < p->sub.nrx; k++) {
            struct ld_rx *r = &p->sub.rx[k];
            if (r->received < 2)
                continue;
            jsum += (uint64_t)(r->jitter * 1e6 / (r->video ? 90000.0 : 48000.0));
            jn++;
        }
        ld_conn_close(&p->pub);
        ld_conn_close(&p->sub);
    }
    g_mutex_lock(&sh->lock);
    sh->st.jitter_sum_us += jsum;
    sh->st.jitter_n += jn;
    g_mutex_unlock(&sh->lock);
}

static gpointer shard_main(gpointer data)
{
    struct ld_shard *sh = data;
    g_main_context_push_thread_default(sh->ctx);
    if (sh->lws) {
        GSource *t = g_timeout_source_new(TICK_MS);
        g_source_set_callback(t, tick, sh, NULL);
        g_source_attach(t, sh->ctx);
        g_main_loop_run(sh->loop);
        g_source_destroy(t);
        g_source_unref(t);
        shard_finish(sh);
    }
    g_main_context_pop_thread_default(sh->ctx);
    return NULL;
}

static void snapshot(struct ld_shard *sh, int n, struct ld_stats *sum)
{
    memset(sum, 0, sizeof *sum);
    for (int i = 0; i < n; i++) {
        g_mutex_lock(&sh[i].lock);
        ld_stats_add(sum, &sh[i].st);
        g_mutex_unlock(&sh[i].lock);
    }
}

static const char *const phase_names[] = {"set-up", "warm-up", "measuring", "drain", "stop"};

static void progress(const struct ld_global *g, struct ld_shard *sh, int n, int64_t t0,
                     int want_conns, int parts)
{
    if (g->o.quiet)
        return;
    struct ld_stats *s = g_new0(struct ld_stats, 1);
    snapshot(sh, n, s);
    uint64_t got = s->m_recv_audio + s->m_recv_video;
    double p99 = ld_hist_quantile_ms(s, 0.99);
    struct ld_proc sp = {0};
    if (g->o.server_pid)
        ld_proc_read(g->o.server_pid, &sp);
    fprintf(stderr,
            "[%5.1fs] %-9s joined %d/%d  connections %d/%d (failed %d)  sent %llu  received %llu "
            "(measured %llu/%llu)  p99 %.2f ms  server %.1f MiB\n",
            (double)(tdm_now_us() - t0) / 1e6,
            phase_names[atomic_load(&((struct ld_global *)g)->phase)], s->joined, parts,
            s->conns_up, want_conns, s->conns_failed, (unsigned long long)s->sent_pkts,
            (unsigned long long)s->recv_pkts, (unsigned long long)got,
            (unsigned long long)s->m_expected, p99, (double)sp.rss_kib / 1024);
    g_free(s);
}

/* Runs the phases; returns the measured seconds. */
static double run_phases(struct ld_global *g, struct ld_shard *sh, int n, int parts, int want_conns,
                         struct ld_proc pr[4])
{
    const struct ld_opts *o = &g->o;
    int64_t t0 = tdm_now_us();
    int64_t setup_end =
        t0 + (int64_t)parts * o->join_spacing_ms * 1000 + (int64_t)o->setup_timeout_s * 1000000;
    struct ld_stats *s = g_new0(struct ld_stats, 1);
    for (;;) { /* set-up: until every connection is up, or failed, or the time is over */
        g_usleep(200000);
        snapshot(sh, n, s);
        if (s->conns_up + s->conns_failed >= want_conns || tdm_now_us() > setup_end)
            break;
        if ((tdm_now_us() - t0) / 200000 % 5 == 0)
            progress(g, sh, n, t0, want_conns, parts);
    }
    g_free(s);
    atomic_store(&g->phase, LD_PH_WARMUP);
    progress(g, sh, n, t0, want_conns, parts);
    for (int i = 0; i < o->warmup_s; i++)
        g_usleep(1000000);
    if (o->server_pid)
        ld_proc_read(o->server_pid, &pr[0]);
    ld_proc_read(0, &pr[2]);
    int64_t m0 = tdm_now_us();
    atomic_store(&g->phase, LD_PH_MEASURE);
    for (int i = 0; i < o->duration_s; i++) {
        g_usleep((gulong)(m0 + (int64_t)(i + 1) * 1000000 - tdm_now_us()));
        progress(g, sh, n, t0, want_conns, parts);
    }
    atomic_store(&g->phase, LD_PH_DRAIN);
    int64_t m1 = tdm_now_us();
    if (o->server_pid)
        ld_proc_read(o->server_pid, &pr[1]);
    ld_proc_read(0, &pr[3]);
    g_usleep(1000000);
    atomic_store(&g->phase, LD_PH_STOP);
    return (double)(m1 - m0) / 1e6;
}

static int participants_of(const struct ld_opts *o, int *want_conns)
{
    int n = o->scenario == LD_PAIRS   ? 2 * o->calls
            : o->scenario == LD_ROOMS ? o->rooms * o->group
                                      : 1 + o->subscribers;
    /* a pub connection for everyone who publishes (and fan-out receivers with --idle-pub),
     * and a sub connection for everyone who receives */
    *want_conns = o->scenario != LD_FANOUT ? 2 * n : o->idle_pub ? 2 * n - 1 : n;
    return n;
}

static int setup_global(struct ld_global *g)
{
    struct tdm_cert *cert = NULL;
    if (tdm_srtp_global_init() != 0 || tdm_cert_create(&cert, tdm_wall_us()) != 0 ||
        tdm_cert_ssl_ctx_new(cert, NULL, &g->ssl_ctx) != 0) {
        tdm_cert_destroy(cert);
        fprintf(stderr, "tandem-load: cannot set up DTLS or SRTP\n");
        return -1;
    }
    snprintf(g->fingerprint, sizeof g->fingerprint, "%s", tdm_cert_fingerprint_sdp(cert));
    tdm_cert_destroy(cert);
    if (g->o.invite_key && read_key(g->o.invite_key, g->invite_key) != 0) {
        fprintf(stderr, "tandem-load: cannot read a 32-byte invite key from %s\n", g->o.invite_key);
        return -1;
    }
    if (ld_opus_prepare(g, 500) != 0) {
        fprintf(stderr, "tandem-load: cannot encode the Opus loop\n");
        return -1;
    }
    return 0;
}

/* Deals the planned participants out to the shards: consecutive participants (the members
 * of one room) go to different shards. Returns the array the shards point into. */
static struct ld_part *deal(struct ld_global *g, struct ld_shard *sh, struct ld_part *all, int n)
{
    struct ld_part *sorted = calloc((size_t)n, sizeof *sorted);
    if (!sorted)
        return NULL;
    int64_t t0 = tdm_now_us();
    int k = 0;
    for (int s = 0; s < g->o.threads; s++) {
        sh[s].g = g;
        sh[s].index = s;
        g_mutex_init(&sh[s].lock);
        sh[s].ctx = g_main_context_new();
        sh[s].loop = g_main_loop_new(sh[s].ctx, FALSE);
        sh[s].parts = sorted + k;
        for (int i = s; i < n; i += g->o.threads) {
            sorted[k] = all[i];
            sorted[k].sh = &sh[s];
            sorted[k].join_at_us = t0 + (int64_t)i * g->o.join_spacing_ms * 1000;
            if (sorted[k].sends && !g->o.audio_only)
                sorted[k].rtx = calloc(LD_RTX_SLOTS, sizeof *sorted[k].rtx);
            k++;
            sh[s].n_parts++;
        }
    }
    return sorted;
}

/* Runs the shards through the phases, stops them and prints the report. Returns the exit
 * status. */
static int run(struct ld_global *g, struct ld_shard *sh, int n, int want_conns)
{
    int threads = g->o.threads;
    for (int s = 0; s < threads; s++) {
        if (ld_sig_start(&sh[s]) != 0) {
            fprintf(stderr, "tandem-load: cannot make a libwebsockets context\n");
            for (int k = 0; k < s; k++)
                lws_context_destroy(sh[k].lws);
            return 1;
        }
    }
    for (int s = 0; s < threads; s++)
        sh[s].thread = g_thread_new("ld-shard", shard_main, &sh[s]);
    struct ld_proc pr[4];
    memset(pr, 0, sizeof pr);
    double secs = run_phases(g, sh, threads, n, want_conns, pr);
    for (int s = 0; s < threads; s++)
        g_main_loop_quit(sh[s].loop);
    for (int s = 0; s < threads; s++)
        g_thread_join(sh[s].thread);
    for (int s = 0; s < threads; s++) { /* one after the other, as they were made */
        lws_context_destroy(sh[s].lws); /* closes every connection: its queue is freed */
        for (int i = 0; i < sh[s].n_parts; i++)
            ld_sig_forget(&sh[s].parts[i]);
    }
    struct ld_stats *sum = g_new0(struct ld_stats, 1);
    snapshot(sh, threads, sum);
    bool have_srv = g->o.server_pid && pr[1].hwm_kib > 0;
    ld_report(g, sum, secs, &pr[0], &pr[1], &pr[2], &pr[3], have_srv);
    fflush(stdout);
    int rc = sum->conns_up > 0 ? 0 : 1;
    g_free(sum);
    return rc;
}

int main(int argc, char **argv)
{
    static struct ld_global g = {.o = {.url = "wss://127.0.0.1:8443/ws",
                                       .local_address = "127.0.0.1",
                                       .room_prefix = "ld",
                                       .scenario = LD_PAIRS,
                                       .calls = 1,
                                       .video_kbps = 1000,
                                       .fps = 30,
                                       .keyframe_ms = 3000,
                                       .duration_s = 10,
                                       .warmup_s = 2,
                                       .setup_timeout_s = 30,
                                       .threads = 1,
                                       .join_spacing_ms = 20}};
    if (parse_args(argc, argv, &g.o) != 0)
        return 2;
    lws_set_log_level(LLL_ERR, NULL);
    struct ld_proc before;
    ld_proc_read(0, &before);
    g.load_before = before.load1;
    if (setup_global(&g) != 0)
        return 1;
    int want_conns = 0;
    int n = participants_of(&g.o, &want_conns);
    struct ld_part *all = calloc((size_t)n, sizeof *all);
    struct ld_shard *sh = calloc((size_t)g.o.threads, sizeof *sh);
    char run_id[8];
    tdm_random_id(run_id, sizeof run_id, 4);
    for (size_t i = 0; run_id[i]; i++) /* room ids: A-Z a-z 0-9 _ - only */
        if (run_id[i] != '_' && run_id[i] != '-' && !g_ascii_isalnum(run_id[i]))
            run_id[i] = 'x';
    struct ld_part *sorted = NULL;
    if (!all || !sh || plan(&g, all, n, run_id) < 0 || !(sorted = deal(&g, sh, all, n))) {
        fprintf(stderr, "tandem-load: cannot plan %d participants\n", n);
        return 1;
    }
    free(all);
    int rc = run(&g, sh, n, want_conns);
    for (int i = 0; i < n; i++)
        free(sorted[i].rtx);
    for (int s = 0; s < g.o.threads; s++) {
        g_main_loop_unref(sh[s].loop);
        g_main_context_unref(sh[s].ctx);
        g_mutex_clear(&sh[s].lock);
    }
    free(sorted);
    free(sh);
    free(g.opus);
    SSL_CTX_free(g.ssl_ctx);
    return rc;
}
