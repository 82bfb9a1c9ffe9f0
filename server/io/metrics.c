/* The metrics registry and its Prometheus text endpoint (metrics.h, docs/metrics.md).
 *
 * The endpoint is a small HTTP/1.x responder on a socket of its own, on the control thread's
 * GLib loop: GET /metrics answers the text format 0.0.4, anything else 404 or 405. Each
 * scrape is bounded (8 at once, a 2 KiB request, 5 s in all) and written without blocking,
 * so a client that connects and stalls costs a slot, never the loop. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* accept4 */
#endif
#include "metrics.h"
#include "app.h"
#include "gate.h"
#include "signal.h"

#include "tandem/err.h"
#include "tandem/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <glib-unix.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct tdm_mx_worker tdm_mx_workers[TDM_MX_MAX_WORKERS];
struct tdm_mx_control tdm_mx_control;

#define MX_MAX_CLIENTS 8
#define MX_REQ_MAX 2048
#define MX_TIMEOUT_MS 5000

struct mx_client {
    struct tdm_metrics *m;
    int fd; /* -1: free slot */
    guint watch, timer;
    char req[MX_REQ_MAX];
    size_t have;
    GString *out; /* the whole response once the request is in */
    size_t sent;
    int64_t since_us; /* accepted then */
};

struct tdm_metrics {
    struct tdm_app *app;
    int fd;
    guint watch;
    int64_t start_s;
    struct mx_client clients[MX_MAX_CLIENTS];
};

/* ---- the registry --------------------------------------------------------------------- */

void tdm_mx_worker_thread_started(unsigned index)
{
    struct tdm_mx_worker *w = tdm_mx_worker(index);
    clockid_t cid;
    if (pthread_getcpuclockid(pthread_self(), &cid) != 0)
        return;
    atomic_store_explicit(&w->cpu_clock, (int)cid, memory_order_relaxed);
    atomic_store_explicit(&w->has_clock, true, memory_order_release);
}

void tdm_mx_worker_thread_stopped(unsigned index)
{
    atomic_store_explicit(&tdm_mx_worker(index)->has_clock, false, memory_order_release);
}

/* The codes a join, a link check or a console hello can be refused with (docs/protocol.md);
 * the label values are these fixed strings, never the text that came in. */
static const char *const invite_codes[TDM_MX_INVITE_CODES] = {
    "invite_required", "invite_invalid",  "invite_expired",  "invite_used",
    "invite_revoked",  "console_invalid", "console_expired", "console_revoked",
};
/* the message types they answer, in enum tdm_mx_invite_at order, and their label values */
static const char *const invite_types[TDM_MX_AT_N] = {"join", "invite.check", "console.hello"};
static const char *const invite_at[TDM_MX_AT_N] = {"join", "check", "console"};

void tdm_mx_message_refused(const char *type, const char *code)
{
    size_t a = 0, i = 0;
    while (a < TDM_MX_AT_N && strcmp(type, invite_types[a]) != 0)
        a++;
    while (i < TDM_MX_INVITE_CODES && strcmp(code, invite_codes[i]) != 0)
        i++;
    if (a < TDM_MX_AT_N && i < TDM_MX_INVITE_CODES)
        tdm_mx_control.invite_refused[a][i]++;
}

/* ---- the text format ---------------------------------------------------------------------- */

static void head(GString *s, const char *name, const char *type, const char *help)
{
    g_string_append_printf(s, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void one(GString *s, const char *name, const char *type, const char *help, uint64_t v)
{
    head(s, name, type, help);
    g_string_append_printf(s, "%s %llu\n", name, (unsigned long long)v);
}

static uint64_t rd(_Atomic uint64_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

/* Sums a worker counter over every worker slot (unused slots stay 0). */
static uint64_t sum_at(size_t off)
{
    uint64_t t = 0;
    for (unsigned i = 0; i < TDM_MX_MAX_WORKERS; i++)
        t += rd((_Atomic uint64_t *)(void *)((char *)&tdm_mx_workers[i] + off));
    return t;
}
#define SUM(field) sum_at(offsetof(struct tdm_mx_worker, field))

static void render_process(struct tdm_metrics *m, GString *s)
{
    struct timespec ts;
    double cpu = 0;
    if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) == 0)
        cpu = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
    head(s, "tandem_build_info", "gauge", "Always 1; the version as a label.");
    g_string_append_printf(s, "tandem_build_info{version=\"%s\"} 1\n", TANDEM_VERSION);
    one(s, "tandem_start_time_seconds", "gauge", "When the metrics listener started (Unix time).",
        (uint64_t)m->start_s);
    head(s, "tandem_process_cpu_seconds_total", "counter", "CPU time of the whole process.");
    g_string_append_printf(s, "tandem_process_cpu_seconds_total %.3f\n", cpu);
    long pages = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
            rss = 0;
        fclose(f);
    }
    one(s, "tandem_process_resident_memory_bytes", "gauge", "Resident memory (VmRSS).",
        (uint64_t)rss * (uint64_t)sysconf(_SC_PAGESIZE));
}

static void render_control(struct tdm_metrics *m, GString *s)
{
    struct tdm_app *app = m->app;
    uint64_t joined = 0, lobby = 0, open = 0;
    for (struct tdm_conn *c = app->conns; c; c = c->next) {
        if (c->participant)
            joined++;
        else if (c->lobby)
            lobby++;
        else
            open++;
    }
    struct tdm_gate_stats g;
    tdm_gate_stats(app, &g);
    one(s, "tandem_rooms", "gauge", "Rooms open now.",
        app->rooms ? tdm_rooms_count(app->rooms) : 0);
    one(s, "tandem_participants", "gauge", "People in a room now (joined).", joined);
    head(s, "tandem_connections", "gauge",
         "Connections to the HTTPS port by state: tls_hello (waiting for the ClientHello), "
         "tls_handshake (in TLS, no request yet), ws_open (signaling, not in a room), ws_lobby "
         "(waiting to be let in), ws_joined (in a room).");
    g_string_append_printf(s,
                           "tandem_connections{state=\"tls_hello\"} %u\n"
                           "tandem_connections{state=\"tls_handshake\"} %u\n"
                           "tandem_connections{state=\"ws_open\"} %llu\n"
                           "tandem_connections{state=\"ws_lobby\"} %llu\n"
                           "tandem_connections{state=\"ws_joined\"} %llu\n",
                           g.waiting_hello, g.handshaking, (unsigned long long)open,
                           (unsigned long long)lobby, (unsigned long long)joined);
    uint64_t peers = SUM(peers), setting_up = SUM(peers_setting_up);
    head(s, "tandem_media_connections", "gauge",
         "Media connections (a page has two: pub and sub) by state.");
    g_string_append_printf(s,
                           "tandem_media_connections{state=\"setting_up\"} %llu\n"
                           "tandem_media_connections{state=\"connected\"} %llu\n",
                           (unsigned long long)setting_up,
                           (unsigned long long)(peers >= setting_up ? peers - setting_up : 0));
    static const char *const why[TDM_MX_REFUSED_N] = {
        "ws_server_full", "ws_per_address", "ws_other_origin", "ws_bad_path",
        "flooding",       "too_big",        "unmasked_frame",
    };
    head(s, "tandem_connections_refused_total", "counter",
         "Connections refused or closed early, by reason.");
    const struct {
        const char *reason;
        uint64_t n;
    } gate[] = {{"tls_per_address", g.refused},
                {"tls_evicted", g.evicted},
                {"tls_timeout", g.timed_out},
                {"not_tls", g.not_tls},
                {"media_busy", SUM(refused_busy)}};
    for (size_t i = 0; i < sizeof gate / sizeof gate[0]; i++)
        g_string_append_printf(s, "tandem_connections_refused_total{reason=\"%s\"} %llu\n",
                               gate[i].reason, (unsigned long long)gate[i].n);
    for (size_t i = 0; i < TDM_MX_REFUSED_N; i++)
        g_string_append_printf(s, "tandem_connections_refused_total{reason=\"%s\"} %llu\n", why[i],
                               (unsigned long long)tdm_mx_control.refused[i]);
    one(s, "tandem_joins_total", "counter", "Joins that got a welcome.", tdm_mx_control.joins);
    head(s, "tandem_reconnects_total", "counter",
         "Joins with a person pass (a page back after a reload, a lost connection or a restart; "
         "links with a use limit only), and those of them that replaced a connection the "
         "server still held.");
    g_string_append_printf(s,
                           "tandem_reconnects_total{kind=\"pass\"} %llu\n"
                           "tandem_reconnects_total{kind=\"replaced\"} %llu\n",
                           (unsigned long long)tdm_mx_control.rejoins_pass,
                           (unsigned long long)tdm_mx_control.rejoins_replaced);
    head(s, "tandem_cluster_events_total", "counter",
         "Several nodes on Redis: joins answered moved (sent to the room's node), joins "
         "answered unavailable (Redis could not be reached), Redis connections lost or timed "
         "out. Always 0 on a server alone.");
    g_string_append_printf(s,
                           "tandem_cluster_events_total{event=\"moved\"} %llu\n"
                           "tandem_cluster_events_total{event=\"unavailable\"} %llu\n"
                           "tandem_cluster_events_total{event=\"redis_lost\"} %llu\n",
                           (unsigned long long)tdm_mx_control.cluster_moved,
                           (unsigned long long)tdm_mx_control.cluster_unavailable,
                           (unsigned long long)tdm_mx_control.cluster_redis_lost);
    head(s, "tandem_resumes_total", "counter",
         "Pages back after a signaling cut as the same participant (resume), and resume tokens "
         "refused (wrong, spent or expired).");
    g_string_append_printf(s,
                           "tandem_resumes_total{result=\"ok\"} %llu\n"
                           "tandem_resumes_total{result=\"refused\"} %llu\n",
                           (unsigned long long)tdm_mx_control.resumes,
                           (unsigned long long)tdm_mx_control.resumes_refused);
    head(s, "tandem_checkins_total", "counter",
         "Answers to \"Did the call work well for you?\" after a call.");
    g_string_append_printf(s,
                           "tandem_checkins_total{answer=\"fine\"} %llu\n"
                           "tandem_checkins_total{answer=\"some_problems\"} %llu\n"
                           "tandem_checkins_total{answer=\"many_problems\"} %llu\n",
                           (unsigned long long)tdm_mx_control.checkins[0],
                           (unsigned long long)tdm_mx_control.checkins[1],
                           (unsigned long long)tdm_mx_control.checkins[2]);
    head(s, "tandem_invite_refusals_total", "counter",
         "Links refused, by error code and where: join, check (invite.check), console "
         "(console.hello).");
    for (size_t a = 0; a < TDM_MX_AT_N; a++)
        for (size_t i = 0; i < TDM_MX_INVITE_CODES; i++) {
            bool console_code = strncmp(invite_codes[i], "console_", 8) == 0;
            if (console_code != (a == TDM_MX_AT_CONSOLE))
                continue; /* a code that cannot happen there */
            g_string_append_printf(s, "tandem_invite_refusals_total{at=\"%s\",code=\"%s\"} %llu\n",
                                   invite_at[a], invite_codes[i],
                                   (unsigned long long)tdm_mx_control.invite_refused[a][i]);
        }
}

static void render_media(GString *s)
{
    one(s, "tandem_rtp_received_packets_total", "counter",
        "RTP packets received from publishers (after SRTP).", SUM(rtp_in));
    one(s, "tandem_forwarded_packets_total", "counter", "RTP packets sent to subscribers.",
        SUM(fwd_packets));
    one(s, "tandem_forwarded_bytes_total", "counter",
        "Bytes of RTP sent to subscribers (SRTP, without UDP/IP headers).", SUM(fwd_bytes));
    one(s, "tandem_nacks_received_total", "counter", "Packets NACKed by subscribers.",
        SUM(nacks_in));
    one(s, "tandem_nacks_sent_total", "counter", "Packets NACKed to publishers.", SUM(nacks_out));
    one(s, "tandem_retransmitted_packets_total", "counter",
        "Packets resent to subscribers for their NACKs.", SUM(resent));
    one(s, "tandem_plis_received_total", "counter",
        "Keyframe requests (PLI, FIR) from subscribers.", SUM(plis_in));
    one(s, "tandem_plis_sent_total", "counter", "Keyframe requests sent to publishers.",
        SUM(plis_out));
    head(s, "tandem_loss_fraction_sum", "counter",
         "Sum of the fraction lost (0 to 1) of every receiver report: up = publisher to "
         "server (our reports), down = server to subscriber (theirs). Divide by "
         "tandem_loss_reports_total for the mean.");
    g_string_append_printf(s,
                           "tandem_loss_fraction_sum{direction=\"up\"} %.4f\n"
                           "tandem_loss_fraction_sum{direction=\"down\"} %.4f\n",
                           (double)SUM(loss_up_sum) / 256.0, (double)SUM(loss_down_sum) / 256.0);
    one(s, "tandem_twcc_feedback_total", "counter",
        "Transport-cc feedback packets from subscribers (their downlink reports).",
        SUM(twcc_feedback));
    one(s, "tandem_probe_packets_total", "counter",
        "Padding packets sent to probe subscribers' downlinks.", SUM(probes_sent));
    one(s, "tandem_downlink_estimates", "gauge",
        "Subscriber connections with a downlink estimate (from transport-cc).", SUM(est_subs));
    one(s, "tandem_downlink_estimates_weak", "gauge",
        "Of those, estimated under 300 kbit/s (a weak downlink).", SUM(est_weak));
    one(s, "tandem_downlink_estimate_bps_sum", "gauge",
        "Sum of the downlink estimates (bit/s): divide by tandem_downlink_estimates for the "
        "mean.",
        SUM(est_sum_bps));
    one(s, "tandem_layer_switches_total", "counter",
        "Simulcast layer changes of subscribers (the allocation following their lines).",
        SUM(layer_switches));
    one(s, "tandem_audio_only_total", "counter",
        "Times a subscriber's line went automatic audio only.", SUM(audio_only_on));
    one(s, "tandem_mix_rooms", "gauge", "Rooms with an Opus mix for listeners without video.",
        SUM(mix_rooms));
    one(s, "tandem_mix_listeners", "gauge", "Participants hearing the others through the mix.",
        SUM(mix_listeners));
    one(s, "tandem_mix_packets_total", "counter", "Mixed Opus packets sent to listeners.",
        SUM(mix_packets));
    head(s, "tandem_mix_frames_total", "counter",
         "Speakers' packets (20 ms from browsers) taken into mixes: decoded from their own "
         "packet, rebuilt from the next packet's in-band FEC, or concealed (lost or late).");
    g_string_append_printf(s,
                           "tandem_mix_frames_total{from=\"packet\"} %llu\n"
                           "tandem_mix_frames_total{from=\"fec\"} %llu\n"
                           "tandem_mix_frames_total{from=\"concealed\"} %llu\n",
                           (unsigned long long)SUM(mix_frames),
                           (unsigned long long)SUM(mix_frames_fec),
                           (unsigned long long)SUM(mix_frames_plc));
    one(s, "tandem_mix_skipped_total", "counter",
        "Speakers' packets the mixers passed over without decoding: not among the voices mixed.",
        SUM(mix_frames_skipped));
    head(s, "tandem_mix_delay_seconds_sum", "counter",
         "Time from a frame's arrival to its playout in the mix, summed over the frames decoded "
         "from their own packet: divide by tandem_mix_frames_total{from=\"packet\"}.");
    g_string_append_printf(s, "tandem_mix_delay_seconds_sum %.6f\n",
                           (double)SUM(mix_delay_sum_us) / 1e6);
    head(s, "tandem_connection_quality_changes_total", "counter",
         "Times a participant's connection was rated fair or poor (media.quality).");
    g_string_append_printf(s,
                           "tandem_connection_quality_changes_total{level=\"fair\"} %llu\n"
                           "tandem_connection_quality_changes_total{level=\"poor\"} %llu\n",
                           (unsigned long long)SUM(quality_fair),
                           (unsigned long long)SUM(quality_poor));
    head(s, "tandem_connection_quality", "gauge", "Participants whose connection is rated so now.");
    g_string_append_printf(s,
                           "tandem_connection_quality{level=\"fair\"} %llu\n"
                           "tandem_connection_quality{level=\"poor\"} %llu\n",
                           (unsigned long long)SUM(now_fair), (unsigned long long)SUM(now_poor));
    head(s, "tandem_loss_reports_total", "counter", "Receiver report blocks counted above.");
    g_string_append_printf(s,
                           "tandem_loss_reports_total{direction=\"up\"} %llu\n"
                           "tandem_loss_reports_total{direction=\"down\"} %llu\n",
                           (unsigned long long)SUM(loss_up_n),
                           (unsigned long long)SUM(loss_down_n));
}

static void render_workers(GString *s)
{
    head(s, "tandem_worker_cpu_seconds_total", "counter", "CPU time of each media worker thread.");
    for (unsigned i = 0; i < TDM_MX_MAX_WORKERS; i++) {
        struct tdm_mx_worker *w = &tdm_mx_workers[i];
        struct timespec ts;
        /* The workers stop only after the control loop (and so every scrape) has ended. */
        if (!atomic_load_explicit(&w->has_clock, memory_order_acquire) ||
            clock_gettime((clockid_t)atomic_load_explicit(&w->cpu_clock, memory_order_relaxed),
                          &ts) != 0)
            continue;
        g_string_append_printf(s, "tandem_worker_cpu_seconds_total{worker=\"%u\"} %.3f\n", i,
                               (double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
    }
    head(s, "tandem_worker_queue_depth", "gauge",
         "Commands from the control thread waiting for each media worker.");
    for (unsigned i = 0; i < TDM_MX_MAX_WORKERS; i++) {
        struct tdm_mx_worker *w = &tdm_mx_workers[i];
        if (!atomic_load_explicit(&w->has_clock, memory_order_acquire))
            continue;
        uint64_t done = atomic_load(&w->cmds_done), posted = atomic_load(&w->cmds_posted);
        g_string_append_printf(s, "tandem_worker_queue_depth{worker=\"%u\"} %llu\n", i,
                               (unsigned long long)(posted > done ? posted - done : 0));
    }
}

static GString *render(struct tdm_metrics *m)
{
    GString *s = g_string_sized_new(8192);
    render_process(m, s);
    render_control(m, s);
    render_media(s);
    render_workers(s);
    return s;
}

/* ---- the listener ------------------------------------------------------------------------- */

static void client_drop(struct mx_client *c)
{
    if (c->watch)
        g_source_remove(c->watch);
    if (c->timer)
        g_source_remove(c->timer);
    if (c->out)
        g_string_free(c->out, TRUE);
    close(c->fd);
    *c = (struct mx_client){.m = c->m, .fd = -1};
}

static gboolean on_client_timeout(gpointer data)
{
    struct mx_client *c = data;
    c->timer = 0; /* this source ends with the return */
    client_drop(c);
    return G_SOURCE_REMOVE;
}

static void respond(struct mx_client *c, const char *status, const char *type, GString *body)
{
    c->out = g_string_sized_new(body ? body->len + 256 : 256);
    g_string_append_printf(c->out,
                           "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                           "Cache-Control: no-store\r\nConnection: close\r\n\r\n",
                           status, type, body ? body->len : 0);
    if (body)
        g_string_append_len(c->out, body->str, (gssize)body->len);
}

/* The request line only: "GET /metrics HTTP/1.x" (a query string is ignored). */
static void answer(struct mx_client *c)
{
    const char *r = c->req;
    if (strncmp(r, "GET ", 4) != 0) {
        respond(c, "405 Method Not Allowed", "text/plain", NULL);
        return;
    }
    const char *path = r + 4, *sp = strchr(path, ' ');
    size_t n = sp ? (size_t)(sp - path) : 0;
    const char *q = memchr(path, '?', n);
    if (q)
        n = (size_t)(q - path);
    if (n != 8 || strncmp(path, "/metrics", 8) != 0 || strncmp(sp + 1, "HTTP/1.", 7) != 0) {
        respond(c, "404 Not Found", "text/plain", NULL);
        return;
    }
    GString *body = render(c->m);
    respond(c, "200 OK", "text/plain; version=0.0.4; charset=utf-8", body);
    g_string_free(body, TRUE);
}

static gboolean on_client(gint fd, GIOCondition cond, gpointer data);

static void client_want(struct mx_client *c, GIOCondition cond)
{
    if (c->watch)
        g_source_remove(c->watch);
    c->watch = g_unix_fd_add(c->fd, cond, on_client, c);
}

static gboolean on_client(gint fd, GIOCondition cond, gpointer data)
{
    struct mx_client *c = data;
    (void)cond;
    if (!c->out) {
        ssize_t n = read(fd, c->req + c->have, sizeof c->req - 1 - c->have);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return G_SOURCE_CONTINUE;
        if (n <= 0)
            goto drop;
        c->have += (size_t)n;
        c->req[c->have] = '\0';
        if (!strstr(c->req, "\r\n\r\n") && !strstr(c->req, "\n\n")) {
            if (c->have < sizeof c->req - 1)
                return G_SOURCE_CONTINUE;
            respond(c, "431 Request Header Fields Too Large", "text/plain", NULL);
        } else {
            answer(c);
        }
        /* this source ends with the return; the next one waits to write */
        c->watch = g_unix_fd_add(c->fd, G_IO_OUT, on_client, c);
        return G_SOURCE_REMOVE;
    }
    ssize_t n = send(fd, c->out->str + c->sent, c->out->len - c->sent, MSG_NOSIGNAL);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return G_SOURCE_CONTINUE;
    if (n > 0)
        c->sent += (size_t)n;
    if (n > 0 && c->sent < c->out->len)
        return G_SOURCE_CONTINUE;
drop:
    c->watch = 0; /* this source ends with the return */
    client_drop(c);
    return G_SOURCE_REMOVE;
}

static gboolean on_accept(gint fd, GIOCondition cond, gpointer data)
{
    struct tdm_metrics *m = data;
    (void)cond;
    for (int k = 0; k < 16; k++) {
        int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0)
            break;
        /* A free slot, else the oldest: a client that connected and stalled must not keep
         * the scraper out for the whole time-out. */
        struct mx_client *c = NULL, *oldest = &m->clients[0];
        for (size_t i = 0; i < MX_MAX_CLIENTS && !c; i++) {
            if (m->clients[i].fd < 0)
                c = &m->clients[i];
            else if (m->clients[i].since_us < oldest->since_us)
                oldest = &m->clients[i];
        }
        if (!c) {
            client_drop(oldest);
            c = oldest;
        }
        c->fd = cfd;
        c->since_us = tdm_now_us();
        client_want(c, G_IO_IN);
        c->timer = g_timeout_add(MX_TIMEOUT_MS, on_client_timeout, c);
    }
    return G_SOURCE_CONTINUE;
}

static int listen_on(struct tdm_metrics *m, const char *spec, char *shown, size_t shown_cap)
{
    char host[64];
    uint16_t port;
    struct sockaddr_storage ss = {0};
    socklen_t sl;
    if (tdm_config_parse_hostport(spec, host, sizeof host, &port) != 0)
        return TDM_EINVAL;
    bool v6 = strchr(host, ':') != NULL;
    if (v6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons(port);
        inet_pton(AF_INET6, host, &a->sin6_addr);
        sl = sizeof *a;
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_port = htons(port);
        inet_pton(AF_INET, host, &a->sin_addr);
        sl = sizeof *a;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
    if (fd < 0)
        return TDM_EIO;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (v6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&ss, sl) != 0 || listen(fd, 16) != 0 ||
        getsockname(fd, (struct sockaddr *)&ss, &sl) != 0) {
        close(fd);
        return TDM_EIO;
    }
    port =
        ntohs(v6 ? ((struct sockaddr_in6 *)&ss)->sin6_port : ((struct sockaddr_in *)&ss)->sin_port);
    snprintf(shown, shown_cap, "http://%s%s%s:%u/metrics", v6 ? "[" : "", host, v6 ? "]" : "",
             port);
    m->fd = fd;
    return 0;
}

static bool loopback(const char *spec)
{
    return strncmp(spec, "127.", 4) == 0 || strncmp(spec, "[::1]:", 6) == 0;
}

int tdm_metrics_start(struct tdm_app *app)
{
    const char *spec = app->cfg.metrics_listen;
    char shown[128];
    if (!spec[0])
        return 0;
    struct tdm_metrics *m = calloc(1, sizeof *m);
    if (!m)
        return TDM_ENOMEM;
    m->app = app;
    m->start_s = tdm_wall_us() / 1000000;
    for (size_t i = 0; i < MX_MAX_CLIENTS; i++)
        m->clients[i] = (struct mx_client){.m = m, .fd = -1};
    int rc = listen_on(m, spec, shown, sizeof shown);
    if (rc != 0) {
        TDM_ERROR("metrics: cannot listen on %s (metrics.listen): %s", spec,
                  rc == TDM_EIO ? strerror(errno) : "not ADDRESS:PORT");
        free(m);
        return rc;
    }
    m->watch = g_unix_fd_add(m->fd, G_IO_IN, on_accept, m);
    app->metrics = m;
    /* The configured listen address is the operator's own, not a client's. */
    TDM_INFO("metrics on %s", shown);
    if (!loopback(spec))
        TDM_WARN("metrics: %s is not a loopback address; the endpoint has no password: let "
                 "only your monitoring reach it (firewall)",
                 spec);
    return 0;
}

void tdm_metrics_stop(struct tdm_app *app)
{
    struct tdm_metrics *m = app->metrics;
    if (!m)
        return;
    for (size_t i = 0; i < MX_MAX_CLIENTS; i++)
        if (m->clients[i].fd >= 0)
            client_drop(&m->clients[i]);
    if (m->watch)
        g_source_remove(m->watch);
    close(m->fd);
    free(m);
    app->metrics = NULL;
}
