/* The forwarding hot path, in process: one publisher's SRTP video stream (1200-byte
 * VP8-like payload) fanned out to N subscribers. Per packet: SRTP unprotect once with the
 * publisher's inbound session and parse the header; per subscriber: copy into a scratch
 * buffer, rewrite SSRC / sequence / timestamp (tdm_rtp_set_*), protect with that
 * subscriber's outbound session. Optionally one UDP sendto per forwarded packet to a
 * loopback socket of our own that nobody reads: once its queue is full the kernel drops
 * at that socket, after the whole send path and loopback receive path, so the figure is
 * the sender's cost (syscall, copy, UDP/IP, loopback) without a reader's wake-up.
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
#include "tandem/rtp.h"
#include "tandem/srtp.h"

#define PAYLOAD 1200
#define HDR 32 /* 12 fixed + 4 + 16 of one-byte header extensions, as browsers send */
#define PKT_CAP (1500 + TDM_SRTP_MAX_TRAILER)
#define BATCH 256
#define TARGET_FORWARDS 200000
#define MAX_SUBS 100

struct sink {
    int tx, rx;
    struct sockaddr_in dst;
};

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

struct fanout {
    struct tdm_srtp *pub_in, *pub_peer;
    struct tdm_srtp *subs[MAX_SUBS];
    struct tdm_srtp *sub_peer[MAX_SUBS];
    uint16_t seq_off[MAX_SUBS];
    uint32_t ts_off[MAX_SUBS];
};

/* Forward one received packet to n subscribers; returns bytes protected (kept live). */
static size_t forward_one(struct fanout *f, int n, uint8_t *pkt, size_t len,
                          const struct sink *sink)
{
    static uint8_t scratch[PKT_CAP];
    struct tdm_rtp_view v;
    size_t total = 0;
    int plain = tdm_srtp_unprotect_rtp(f->pub_in, pkt, len);
    if (plain < 0)
        die("unprotect", plain);
    if (tdm_rtp_parse(&v, pkt, (size_t)plain, NULL, 0) != 0)
        die("parse", TDM_EINVAL);
    for (int i = 0; i < n; i++) {
        memcpy(scratch, pkt, (size_t)plain);
        tdm_rtp_set_ssrc(scratch, (size_t)plain, 0x50000000u + (uint32_t)i);
        tdm_rtp_set_seq(scratch, (size_t)plain, (uint16_t)(v.seq + f->seq_off[i]));
        tdm_rtp_set_ts(scratch, (size_t)plain, v.ts + f->ts_off[i]);
        int m = tdm_srtp_protect_rtp(f->subs[i], scratch, (size_t)plain, sizeof scratch);
        if (m < 0)
            die("subscriber protect", m);
        if (sink && sendto(sink->tx, scratch, (size_t)m, 0, (const struct sockaddr *)&sink->dst,
                           sizeof sink->dst) != m)
            die("sendto", 0);
        total += (size_t)m;
    }
    return total;
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

static void free_fanout(struct fanout *f, int n)
{
    tdm_srtp_destroy(f->pub_in);
    tdm_srtp_destroy(f->pub_peer);
    for (int i = 0; i < n; i++) {
        tdm_srtp_destroy(f->subs[i]);
        tdm_srtp_destroy(f->sub_peer[i]);
    }
}

/* ns per forwarded packet (time / (packets * n)) over about TARGET_FORWARDS forwards. */
static struct figure run_fanout(enum tdm_srtp_profile prof, int n, const struct sink *sink)
{
    static uint8_t pkts[BATCH][PKT_CAP];
    static struct samples sm;
    size_t lens[BATCH], sum = 0;
    struct fanout f;
    uint16_t seq = 1000;
    uint32_t ts = 90000;
    memset(&f, 0, sizeof f);
    sm.n = 0;
    make_pair(prof, &f.pub_in, &f.pub_peer);
    for (int i = 0; i < n; i++) {
        make_pair(prof, &f.subs[i], &f.sub_peer[i]);
        f.seq_off[i] = (uint16_t)(i * 7919);
        f.ts_off[i] = (uint32_t)i * 104729u;
    }
    int group = SAMPLE_WORK / n > 0 ? SAMPLE_WORK / n : 1; /* packets per sample */
    for (int done = 0; done < TARGET_FORWARDS / n; done += BATCH) {
        make_batch(f.pub_peer, pkts, lens, &seq, &ts);
        for (int i = 0; i + group <= BATCH; i += group) {
            int64_t t0 = now_ns();
            for (int k = i; k < i + group; k++)
                sum += forward_one(&f, n, pkts[k], lens[k], sink);
            add_sample(&sm, now_ns() - t0, group * n);
        }
    }
    if (sum == 0)
        die("nothing forwarded", 0);
    free_fanout(&f, n);
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

static void open_sink(struct sink *s)
{
    socklen_t alen = sizeof s->dst;
    memset(&s->dst, 0, sizeof s->dst);
    s->dst.sin_family = AF_INET;
    s->dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s->rx = socket(AF_INET, SOCK_DGRAM, 0);
    s->tx = socket(AF_INET, SOCK_DGRAM, 0);
    if (s->rx < 0 || s->tx < 0 ||
        bind(s->rx, (struct sockaddr *)&s->dst, sizeof s->dst) != 0 || /* port 0: any */
        getsockname(s->rx, (struct sockaddr *)&s->dst, &alen) != 0)
        die("loopback socket", 0);
}

int main(void)
{
    static const struct {
        enum tdm_srtp_profile prof;
        const char *name;
    } profiles[] = {{TDM_SRTP_AEAD_AES_128_GCM, "AEAD_AES_128_GCM"},
                    {TDM_SRTP_AES128_CM_SHA1_80, "AES_CM_128_HMAC_SHA1_80"}};
    static const int ns[] = {1, 10, 100};
    struct sink sink;
    if (tdm_srtp_global_init() != 0)
        die("srtp init", TDM_ECRYPTO);
    open_sink(&sink);
    printf("forwarding hot path: %d-byte RTP packets (%d payload), one publisher to N "
           "subscribers\n",
           HDR + PAYLOAD, PAYLOAD);
    printf("per packet: unprotect once + parse; per subscriber: copy, rewrite SSRC/seq/ts, "
           "protect\n");
    printf("thread CPU time; best / median of samples of ~%d operations\n\n", SAMPLE_WORK);
    for (size_t p = 0; p < sizeof profiles / sizeof profiles[0]; p++) {
        struct figure bare = run_bare_protect(profiles[p].prof);
        struct figure unprot = run_bare_unprotect(profiles[p].prof);
        printf("%s: bare protect %.0f / %.0f ns, bare unprotect %.0f / %.0f ns\n", profiles[p].name,
               bare.best, bare.median, unprot.best, unprot.median);
        printf("  %4s  %20s  %6s  %24s\n", "N", "ns/fwd (best/median)", "ratio",
               "+sendto ns/fwd (best/med)");
        for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
            struct figure fwd = run_fanout(profiles[p].prof, ns[i], NULL);
            struct figure snd = run_fanout(profiles[p].prof, ns[i], &sink);
            printf("  %4d  %9.0f / %8.0f  %6.2f  %11.0f / %10.0f\n", ns[i], fwd.best, fwd.median,
                   fwd.best / bare.best, snd.best, snd.median);
        }
        printf("  (ratio = best ns per forwarded packet / best bare protect)\n\n");
    }
    close(sink.rx);
    close(sink.tx);
    return 0;
}
