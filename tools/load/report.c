/* tandem-load: /proc readings and the final table and JSON. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "load.h"

/* utime and stime from /proc/<pid>/stat (fields 14 and 15, after the command in
 * parentheses), VmHWM and VmRSS from /proc/<pid>/status. pid 0: this process. */
int ld_proc_read(int pid, struct ld_proc *out)
{
    char path[64], buf[4096];
    memset(out, 0, sizeof *out);
    snprintf(path, sizeof path, pid ? "/proc/%d/stat" : "/proc/self/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return TDM_EIO;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *s = strrchr(buf, ')');
    unsigned long ut = 0, st = 0;
    /* after ")": state(3) ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
     * utime(14) stime(15) */
    if (!s || sscanf(s + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return TDM_EINVAL;
    double hz = (double)sysconf(_SC_CLK_TCK);
    out->utime_s = (double)ut / hz;
    out->stime_s = (double)st / hz;
    snprintf(path, sizeof path, pid ? "/proc/%d/status" : "/proc/self/status", pid);
    if (!(f = fopen(path, "r")))
        return TDM_EIO;
    while (fgets(buf, sizeof buf, f)) {
        if (strncmp(buf, "VmHWM:", 6) == 0)
            out->hwm_kib = strtol(buf + 6, NULL, 10);
        else if (strncmp(buf, "VmRSS:", 6) == 0)
            out->rss_kib = strtol(buf + 6, NULL, 10);
    }
    fclose(f);
    if (pid == 0 && (f = fopen("/proc/loadavg", "r"))) {
        if (fscanf(f, "%lf", &out->load1) != 1)
            out->load1 = -1;
        fclose(f);
    }
    return 0;
}

void ld_stats_add(struct ld_stats *sum, const struct ld_stats *s)
{
    uint64_t *a = &sum->sent_pkts;
    const uint64_t *b = &s->sent_pkts;
    size_t n = (size_t)((const uint64_t *)&s->jitter_n - b) + 1;
    for (size_t i = 0; i < n; i++)
        a[i] += b[i];
    for (size_t i = 0; i <= LD_HIST_BINS; i++)
        sum->hist[i] += s->hist[i];
    if (s->delay_max_us > sum->delay_max_us)
        sum->delay_max_us = s->delay_max_us;
    sum->delay_n += s->delay_n;
    sum->conns_up += s->conns_up;
    sum->conns_failed += s->conns_failed;
    sum->joined += s->joined;
}

static const char *scenario_name(const struct ld_opts *o)
{
    return o->scenario == LD_PAIRS ? "pairs" : o->scenario == LD_ROOMS ? "rooms" : "fanout";
}

struct figures {
    uint64_t sent, expected, received;
    double loss, p50, p99, max, jitter, srv_cpu, srv_us_pkt, srv_us_mbit, me_cpu, mbit_out;
};

static void figures(const struct ld_stats *s, double secs, const struct ld_proc *srv0,
                    const struct ld_proc *srv1, const struct ld_proc *me0,
                    const struct ld_proc *me1, bool have_srv, struct figures *f)
{
    memset(f, 0, sizeof *f);
    f->sent = s->m_sent_audio + s->m_sent_video;
    f->expected = s->m_expected;
    f->received = s->m_recv_audio + s->m_recv_video;
    f->loss =
        f->expected
            ? 100.0 *
                  (double)(f->expected - (f->received < f->expected ? f->received : f->expected)) /
                  (double)f->expected
            : 0;
    f->p50 = ld_hist_quantile_ms(s, 0.50);
    f->p99 = ld_hist_quantile_ms(s, 0.99);
    f->max = (double)s->delay_max_us / 1000.0;
    f->jitter = s->jitter_n ? (double)s->jitter_sum_us / (double)s->jitter_n / 1000.0 : 0;
    double srv = have_srv ? (srv1->utime_s + srv1->stime_s) - (srv0->utime_s + srv0->stime_s) : 0;
    double me = (me1->utime_s + me1->stime_s) - (me0->utime_s + me0->stime_s);
    f->srv_cpu = secs > 0 ? 100.0 * srv / secs : 0;
    f->me_cpu = secs > 0 ? 100.0 * me / secs : 0;
    f->srv_us_pkt = f->received ? srv * 1e6 / (double)f->received : 0;
    f->mbit_out = secs > 0 ? (double)s->m_recv_bytes * 8 / 1e6 / secs : 0;
    f->srv_us_mbit = f->mbit_out > 0 ? srv * 1e6 / secs / f->mbit_out : 0;
}

static json_t *num(double v, double scale)
{
    return json_real(round(v * scale) / scale);
}

static json_t *count(uint64_t v)
{
    return json_integer((json_int_t)v);
}

/* The result as one JSON line on stdout (and into --json FILE). srv1: NULL without a server
 * pid. */
static void print_json(const struct ld_global *g, const struct ld_stats *s, const struct figures *f,
                       double secs, const struct ld_proc *srv1, const struct ld_proc *me1)
{
    const struct ld_opts *o = &g->o;
    json_t *j =
        json_pack("{s:s, s:i, s:i, s:i, s:i, s:b, s:i, s:s, s:o, s:i, s:i, s:i}", "scenario",
                  scenario_name(o), "calls", o->scenario == LD_PAIRS ? o->calls : 0, "rooms",
                  o->rooms, "group", o->group, "subscribers", o->subscribers, "audio_only",
                  o->audio_only, "video_kbps", o->audio_only ? 0 : o->video_kbps, "transport",
                  o->tcp ? "tcp" : "udp", "seconds", num(secs, 100), "joined", s->joined,
                  "connections_up", s->conns_up, "connections_failed", s->conns_failed);
    if (o->scenario == LD_FANOUT)
        json_object_set_new(j, "receive_only", json_boolean(!o->idle_pub));
    json_object_update_new(
        j, json_pack("{s:o, s:o, s:o, s:o, s:{s:o, s:o, s:o}, s:o}", "packets_sent", count(f->sent),
                     "packets_forwarded_expected", count(f->expected), "packets_received",
                     count(f->received), "loss_pct", num(f->loss, 1e4), "delay_ms", "p50",
                     num(f->p50, 1e3), "p99", num(f->p99, 1e3), "max", num(f->max, 1e3),
                     "jitter_ms", num(f->jitter, 1e3)));
    json_object_update_new(
        j, json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "nacks_sent",
                     count(s->nacks_out), "late", count(s->late_pkts), "nacks", count(s->nacks_in),
                     "resent", count(s->resent), "plis", count(s->plis_in), "duplicates",
                     count(s->dup_pkts), "dropped_rx", count(s->dropped_rx), "bad",
                     count(s->bad_pkts), "received_mbit_s", num(f->mbit_out, 100)));
    json_object_set_new(j, "server",
                        json_pack("{s:i, s:o, s:o, s:o, s:I, s:I}", "pid", srv1 ? o->server_pid : 0,
                                  "cpu_pct", num(f->srv_cpu, 100), "us_per_packet",
                                  num(f->srv_us_pkt, 1e3), "us_per_mbit", num(f->srv_us_mbit, 10),
                                  "vmhwm_kib", (json_int_t)(srv1 ? srv1->hwm_kib : 0), "vmrss_kib",
                                  (json_int_t)(srv1 ? srv1->rss_kib : 0)));
    json_object_update_new(
        j, json_pack("{s:o, s:i, s:{s:I, s:o, s:o}}", "client_cpu_pct", num(f->me_cpu, 100),
                     "client_threads", o->threads, "machine", "cores",
                     (json_int_t)sysconf(_SC_NPROCESSORS_ONLN), "load_before",
                     num(g->load_before, 100), "load_end", num(me1->load1, 100)));
    char *text = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
    json_decref(j);
    if (!text)
        return;
    printf("%s\n", text);
    if (o->json_path) {
        FILE *jf = fopen(o->json_path, "w");
        if (jf) {
            fprintf(jf, "%s\n", text);
            fclose(jf);
        } else {
            fprintf(stderr, "tandem-load: cannot write %s\n", o->json_path);
        }
    }
    free(text);
}

void ld_report(const struct ld_global *g, const struct ld_stats *s, double secs,
               const struct ld_proc *srv0, const struct ld_proc *srv1, const struct ld_proc *me0,
               const struct ld_proc *me1, bool have_srv)
{
    const struct ld_opts *o = &g->o;
    struct figures f;
    figures(s, secs, srv0, srv1, me0, me1, have_srv, &f);
    printf("\n%-34s %s\n", "scenario", scenario_name(o));
    printf("%-34s %d joined, %d connections up, %d failed\n", "participants", s->joined,
           s->conns_up, s->conns_failed);
    printf("%-34s %.1f s\n", "measured", secs);
    printf("%-34s %llu (audio %llu, video %llu)\n", "packets sent (measured)",
           (unsigned long long)f.sent, (unsigned long long)s->m_sent_audio,
           (unsigned long long)s->m_sent_video);
    printf("%-34s %llu\n", "packets to forward (sent x receivers)", (unsigned long long)f.expected);
    printf("%-34s %llu (audio %llu, video %llu)\n", "packets received (measured, unique)",
           (unsigned long long)f.received, (unsigned long long)s->m_recv_audio,
           (unsigned long long)s->m_recv_video);
    printf("%-34s %.3f %%\n", "loss", f.loss);
    printf("%-34s p50 %.2f  p99 %.2f  max %.2f ms\n", "one-way delay", f.p50, f.p99, f.max);
    printf("%-34s %.2f ms\n", "jitter (RFC 3550, mean of streams)", f.jitter);
    printf("%-34s receivers nacked %llu, late %llu; publishers nacked %llu, resent %llu, "
           "pli %llu, keyframes %llu; dup %llu bad %llu dropped on arrival %llu\n",
           "feedback", (unsigned long long)s->nacks_out, (unsigned long long)s->late_pkts,
           (unsigned long long)s->nacks_in, (unsigned long long)s->resent,
           (unsigned long long)s->plis_in, (unsigned long long)s->keyframes,
           (unsigned long long)s->dup_pkts, (unsigned long long)s->bad_pkts,
           (unsigned long long)s->dropped_rx);
    printf("%-34s %.1f Mbit/s\n", "received by the clients", f.mbit_out);
    if (have_srv) {
        printf("%-34s %.1f %% of a core, %.2f us per forwarded packet, %.0f us per Mbit\n",
               "server CPU", f.srv_cpu, f.srv_us_pkt, f.srv_us_mbit);
        printf("%-34s peak %.1f MiB (VmHWM), now %.1f MiB\n", "server memory",
               (double)srv1->hwm_kib / 1024, (double)srv1->rss_kib / 1024);
    }
    printf("%-34s %.1f %% of a core (%d threads)\n", "tandem-load CPU", f.me_cpu, o->threads);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    printf("%-34s %ld cores, load average %.2f before the run, %.2f at the end\n", "machine", cores,
           g->load_before, me1->load1);
    if (f.me_cpu > 85.0 * o->threads)
        printf("warning: tandem-load used %.0f %% of its %d thread(s): the generator, not the "
               "server, may be the limit (--threads)\n",
               f.me_cpu, o->threads);
    if (g->load_before > 1.0)
        printf("warning: the load average was %.1f before the run: other work shared the "
               "machine, these are not capacity figures\n",
               g->load_before);
    print_json(g, s, &f, secs, have_srv ? srv1 : NULL, me1);
}
