/* The forwarding hot path, in process, through the real SFU core: one publisher's SRTP video
 * stream (1200-byte VP8-like payload) fanned out to N subscribers, each a simulated page
 * (tests/sim) that joined, negotiated and connected (ICE, DTLS, SRTP) through the core first.
 * Timed per packet: tdm_sfu_handle_datagram (SRTP unprotect, parse, find the producer,
 * receive log; per subscriber: renumber, rewrite, keep for resends, count, protect, queue)
 * and handing the queued datagrams back (tdm_sfu_transmits_done: no syscall).
 *
 * Reports ns per forwarded packet = time / (packets * N), next to the cost of a bare
 * protect of the same packet, for AEAD_AES_128_GCM and AES_CM_128_HMAC_SHA1_80.
 * Build without sanitizers for meaningful figures (e.g. -DCMAKE_BUILD_TYPE=Release). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "tandem/err.h"
#include "tandem/log.h"
#include "tandem/rtp.h"
#include "tandem/sfu.h"
#include "tandem/srtp.h"

#include "sim.h"

#define PAYLOAD 1200
#define HDR 32 /* 12 fixed + 4 + 16 of one-byte header extensions, as browsers send */
#define PKT_CAP (1500 + TDM_SRTP_MAX_TRAILER)
#define BATCH 256
#define TARGET_FORWARDS 200000
#define MAX_SUBS 100

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void die(const char *what, int rc)
{
    fprintf(stderr, "bench_forward: %s: %s\n", what, rc < 0 ? tdm_strerror(rc) : "failed");
    exit(1);
}

/* Keys for one association, and the session of each end (peer = the browser side). */
static void make_pair(enum tdm_srtp_profile prof, struct tdm_srtp **sfu, struct tdm_srtp **peer)
{
    struct tdm_srtp_keys k, kp;
    memset(&k, 0, sizeof k);
    k.profile = prof;
    k.len = tdm_srtp_key_salt_len(prof);
    if (RAND_bytes(k.local, (int)k.len) != 1 || RAND_bytes(k.remote, (int)k.len) != 1)
        die("RAND_bytes", 0);
    kp = k;
    memcpy(kp.local, k.remote, k.len);
    memcpy(kp.remote, k.local, k.len);
    int rc = tdm_srtp_create(sfu, &k);
    if (rc == 0)
        rc = tdm_srtp_create(peer, &kp);
    if (rc)
        die("tdm_srtp_create", rc);
    tdm_srtp_keys_wipe(&k);
    tdm_srtp_keys_wipe(&kp);
}

/* An RTP packet as Chrome sends VP8: one-byte extensions (abs-send-time id 2,
 * transport-wide-cc id 3, mid id 4), VP8 payload descriptor with a 15-bit picture id
 * (RFC 7741 4.2), then compressed data (random bytes look the same to AES). */
static size_t make_packet(uint8_t *p, uint16_t seq, uint32_t ts, uint32_t ssrc, bool marker)
{
    /* clang-format off */
    const uint8_t hdr[HDR] = {
        0x90, (uint8_t)(96 | (marker ? 0x80 : 0)), (uint8_t)(seq >> 8), (uint8_t)seq,
        (uint8_t)(ts >> 24), (uint8_t)(ts >> 16), (uint8_t)(ts >> 8), (uint8_t)ts,
        (uint8_t)(ssrc >> 24), (uint8_t)(ssrc >> 16), (uint8_t)(ssrc >> 8), (uint8_t)ssrc,
        0xbe, 0xde, 0, 4,                          /* one-byte form, 4 words */
        0x22, 0x12, 0x34, 0x56,                    /* id 2 abs-send-time */
        0x31, (uint8_t)(seq >> 8), (uint8_t)seq,   /* id 3 transport-wide-cc */
        0x40, '0',                                 /* id 4 mid "0" */
        0, 0, 0, 0, 0, 0, 0,                       /* padding to 4 words */
    };
    /* clang-format on */
    memcpy(p, hdr, HDR);
    p[HDR + 0] = 0x90; /* X=1 S=1 PID=0 */
    p[HDR + 1] = 0x80; /* I: picture id present */
    p[HDR + 2] = (uint8_t)(0x80 | ((seq >> 8) & 0x7f));
    p[HDR + 3] = (uint8_t)seq;
    RAND_bytes(p + HDR + 4, PAYLOAD - 4);
    return HDR + PAYLOAD;
}

/* A batch of SRTP packets as the publisher's browser would send them. */
static void make_batch(struct tdm_srtp *pub_peer, uint8_t (*pkts)[PKT_CAP], size_t *lens,
                       uint16_t *seq, uint32_t *ts)
{
    for (int i = 0; i < BATCH; i++, (*seq)++) {
        bool last_of_frame = (*seq % 3) == 2; /* ~3 packets per frame */
        size_t n = make_packet(pkts[i], *seq, *ts, 0x1234abcd, last_of_frame);
        if (last_of_frame)
            *ts += 3000; /* 30 fps at 90 kHz */
        int m = tdm_srtp_protect_rtp(pub_peer, pkts[i], n, PKT_CAP);
        if (m < 0)
            die("publisher protect", m);
        lens[i] = (size_t)m;
    }
}

/* Timing samples of about SAMPLE_WORK operations each. The machine may be shared with
 * builds, so we report the best sample (the cost on an undisturbed core) and the median. */
#define SAMPLE_WORK 256
#define MAX_SAMPLES 4096

struct samples {
    int n;
    double v[MAX_SAMPLES];
};

struct figure {
    double best, median;
};

static void add_sample(struct samples *s, int64_t ns, int ops)
{
    if (s->n < MAX_SAMPLES)
        s->v[s->n++] = (double)ns / ops;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static struct figure summarize(struct samples *s)
{
    struct figure f = {0, 0};
    if (s->n == 0)
        die("no samples", 0);
    qsort(s->v, (size_t)s->n, sizeof s->v[0], cmp_double);
    f.best = s->v[0];
    f.median = s->v[s->n / 2];
    return f;
}

/* A room of one publisher and n subscribers in the simulator, connected. */
static struct sim *make_room(const char *profiles, int n, struct sim_peer **pub)
{
    struct sim *s = sim_create(42);
    if (!s)
        die("sim_create", 0);
    sim_set_srtp_profiles(s, profiles);
    *pub = sim_peer_add(s, "bench", "publisher");
    if (!*pub)
        die("sim_peer_add", 0);
    sim_peer_publish(*pub, false, true, 1000000);
    struct sim_peer *subs[MAX_SUBS];
    for (int i = 0; i < n; i++) {
        char name[16];
        snprintf(name, sizeof name, "s%d", i);
        /* a page receives once it publishes something: audio */
        if (!(subs[i] = sim_peer_add(s, "bench", name)))
            die("sim_peer_add", 0);
        sim_peer_publish(subs[i], true, false, 0);
    }
    if (sim_run_until(s, sim_now(s) + 5000000) != 0)
        die("sim_run_until", 0);
    for (int i = 0; i < n; i++)
        if (!sim_peer_connected(subs[i]) || !sim_peer_video_from(subs[i], "publisher"))
            die("a subscriber did not connect or receive", 0);
    return s;
}

/* ns per forwarded packet (time / (packets * n)) over about TARGET_FORWARDS forwards. */
static struct figure run_fanout(const char *profiles, int n)
{
    static uint8_t pkts[BATCH][PKT_CAP];
    static struct samples sm;
    size_t lens[BATCH];
    struct sim_peer *pub;
    struct sim *s = make_room(profiles, n, &pub);
    struct tdm_sfu *core = sim_sfu(s);
    struct tdm_sfu_path from;
    sim_peer_pub_path(pub, &from);
    struct tdm_sfu_stats st0, st1;
    tdm_sfu_get_stats(core, &st0);
    int64_t now = sim_now(s);
    sm.n = 0;
    int group = SAMPLE_WORK / n > 0 ? SAMPLE_WORK / n : 1; /* packets per sample */
    long sent = 0;
    for (int done = 0; done < TARGET_FORWARDS / n; done += BATCH) {
        for (int i = 0; i < BATCH; i++) {
            int m = sim_peer_video_packet(pub, pkts[i], PKT_CAP);
            if (m < 0)
                die("publisher packet", m);
            lens[i] = (size_t)m;
        }
        for (int i = 0; i + group <= BATCH; i += group) {
            int64_t t0 = now_ns();
            for (int k = i; k < i + group; k++) {
                now += 1000;
                tdm_sfu_handle_datagram(core, &from, pkts[k], lens[k], now);
                tdm_sfu_transmits_done(core);
            }
            add_sample(&sm, now_ns() - t0, group * n);
            sent += group;
        }
    }
    tdm_sfu_get_stats(core, &st1);
    if (st1.rtp_out - st0.rtp_out != (uint64_t)sent * (uint64_t)n)
        fprintf(stderr, "bench_forward: %llu forwarded, %ld expected\n",
                (unsigned long long)(st1.rtp_out - st0.rtp_out), sent * n);
    sim_destroy(s);
    return summarize(&sm);
}

/* A bare protect of the same packet: sequence number set, then protect; no copy. */
static struct figure run_bare_protect(enum tdm_srtp_profile prof)
{
    static uint8_t pkt[PKT_CAP];
    static struct samples sm;
    struct tdm_srtp *s, *peer;
    sm.n = 0;
    make_pair(prof, &s, &peer);
    size_t n = make_packet(pkt, 1, 90000, 0x1234abcd, false);
    for (int i = 0; i < TARGET_FORWARDS; i += SAMPLE_WORK) {
        int64_t t0 = now_ns();
        for (int k = i; k < i + SAMPLE_WORK; k++) {
            tdm_rtp_set_seq(pkt, n, (uint16_t)k);
            if (tdm_srtp_protect_rtp(s, pkt, n, sizeof pkt) < 0)
                die("bare protect", 0);
        }
        add_sample(&sm, now_ns() - t0, SAMPLE_WORK);
    }
    tdm_srtp_destroy(s);
    tdm_srtp_destroy(peer);
    return summarize(&sm);
}

/* Unprotect alone: the once-per-packet receive cost. */
static struct figure run_bare_unprotect(enum tdm_srtp_profile prof)
{
    static uint8_t pkts[BATCH][PKT_CAP];
    static struct samples sm;
    size_t lens[BATCH];
    struct tdm_srtp *in, *peer;
    uint16_t seq = 1;
    uint32_t ts = 0;
    sm.n = 0;
    make_pair(prof, &in, &peer);
    for (int r = 0; r < 200; r++) {
        make_batch(peer, pkts, lens, &seq, &ts);
        int64_t t0 = now_ns();
        for (int i = 0; i < BATCH; i++)
            if (tdm_srtp_unprotect_rtp(in, pkts[i], lens[i]) < 0)
                die("bare unprotect", 0);
        add_sample(&sm, now_ns() - t0, BATCH);
    }
    tdm_srtp_destroy(in);
    tdm_srtp_destroy(peer);
    return summarize(&sm);
}

/* Optional argument: "gcm" or "cm80" runs that profile only (e.g. under perf). */
int main(int argc, char **argv)
{
    static const struct {
        enum tdm_srtp_profile prof;
        const char *name, *openssl;
    } profiles[] = {
        {TDM_SRTP_AEAD_AES_128_GCM, "AEAD_AES_128_GCM", "SRTP_AEAD_AES_128_GCM"},
        {TDM_SRTP_AES128_CM_SHA1_80, "AES_CM_128_HMAC_SHA1_80", "SRTP_AES128_CM_SHA1_80"}};
    static const int ns[] = {1, 10, 100};
    if (tdm_srtp_global_init() != 0)
        die("srtp init", TDM_ECRYPTO);
    tdm_log_set_level(TDM_LOG_WARN);
    printf("forwarding hot path through the SFU core (tdm_sfu_handle_datagram): %d-byte RTP "
           "packets, one publisher to N connected subscribers\n",
           12 + 1200);
    printf("wall time on one thread; best / median of samples of ~%d forwards\n\n", SAMPLE_WORK);
    const char *only = argc > 1 ? argv[1] : NULL;
    if (only && strcmp(only, "gcm") != 0 && strcmp(only, "cm80") != 0) {
        fprintf(stderr, "usage: bench_forward [gcm|cm80]\n");
        return 2;
    }
    for (size_t p = 0; p < sizeof profiles / sizeof profiles[0]; p++) {
        if (only && (strcmp(only, "gcm") == 0) != (profiles[p].prof == TDM_SRTP_AEAD_AES_128_GCM))
            continue;
        struct figure bare = run_bare_protect(profiles[p].prof);
        struct figure unprot = run_bare_unprotect(profiles[p].prof);
        printf("%s: bare protect %.0f / %.0f ns, bare unprotect %.0f / %.0f ns\n", profiles[p].name,
               bare.best, bare.median, unprot.best, unprot.median);
        printf("  %4s  %20s  %6s\n", "N", "ns/fwd (best/median)", "ratio");
        for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
            struct figure fwd = run_fanout(profiles[p].openssl, ns[i]);
            printf("  %4d  %9.0f / %8.0f  %6.2f\n", ns[i], fwd.best, fwd.median,
                   fwd.best / bare.best);
        }
        printf("  (ratio = best ns per forwarded packet / best bare protect)\n\n");
    }
    return 0;
}
