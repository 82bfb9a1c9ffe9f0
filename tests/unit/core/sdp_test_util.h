/* Helpers shared by the tests of server/core/sdp_*.c: loading the captured browser SDPs in
 * tests/data/sdp/ (see its README.md), a small valid description to break on purpose, and the
 * server parameters the browser-acceptance captures were made with. */
#ifndef TANDEM_SDP_TEST_UTIL_H
#define TANDEM_SDP_TEST_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tandem/err.h"
#include "tandem/sdp.h"

static inline char *sdp_slurp(const char *name, size_t *len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/sdp/%s", TANDEM_TEST_DATA, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    char *buf = malloc(TDM_SDP_MAX_BYTES + 1);
    assert_non_null(buf);
    *len = fread(buf, 1, TDM_SDP_MAX_BYTES, f);
    buf[*len] = '\0';
    fclose(f);
    return buf;
}

/* Parses a captured file; fails the test with the parser's message. Free with tdm_sdp_free. */
static inline struct tdm_sdp *sdp_load(const char *name)
{
    size_t len;
    char *text = sdp_slurp(name, &len), err[256] = "";
    struct tdm_sdp *d = tdm_sdp_new();
    assert_non_null(d);
    int rc = tdm_sdp_parse((const uint8_t *)text, len, d, err, sizeof err);
    if (rc != 0)
        fail_msg("%s: %d %s", name, rc, err);
    free(text);
    return d;
}

/* Parses a string; returns the code and leaves the message in err. */
static inline int sdp_try(const char *text, char *err, size_t errlen)
{
    struct tdm_sdp *d = tdm_sdp_new();
    assert_non_null(d);
    err[0] = '\0';
    int rc = tdm_sdp_parse((const uint8_t *)text, strlen(text), d, err, errlen);
    tdm_sdp_free(d);
    return rc;
}

#define SDP_FP                                                                                     \
    "a=fingerprint:sha-256 "                                                                       \
    "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:"   \
    "EE:FF\r\n"

/* Session part of a minimal valid offer: one audio m-section follows with SDP_AUDIO. */
#define SDP_HEAD                                                                                   \
    "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"                                            \
    "a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuv\r\n" SDP_FP
#define SDP_AUDIO                                                                                  \
    "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=rtcp-mux\r\n"             \
    "a=setup:actpass\r\na=sendrecv\r\na=rtpmap:111 opus/48000/2\r\n"
#define SDP_MIN SDP_HEAD "a=group:BUNDLE 0\r\n" SDP_AUDIO

/* Expects parse(text) to fail with code and a message containing want. */
#define SDP_EXPECT_ERR(text, code, want)                                                           \
    do {                                                                                           \
        char err_[256];                                                                            \
        int rc_ = sdp_try((text), err_, sizeof err_);                                              \
        if (rc_ != (code) || !strstr(err_, (want)))                                                \
            fail_msg("want %d \"%s\", got %d \"%s\"", (code), (want), rc_, err_);                  \
    } while (0)

/* The server side used for the captures in tests/data/sdp (sess_version varies per step). */
static inline void sdp_test_local(struct tdm_sdp_local *l, uint64_t version)
{
    memset(l, 0, sizeof *l);
    l->sess_id = 4242424242ULL;
    l->sess_version = version;
    strcpy(l->ice_ufrag, "tdmUfrag1");
    strcpy(l->ice_pwd, "tdmPasswordPasswordPass1");
    for (int i = 0; i < 32; i++)
        l->fingerprint[i] = (uint8_t)(i * 7 + 1);
    l->n_codec_pref = 3;
    l->codec_pref[0] = TDM_SDP_CODEC_VP8;
    l->codec_pref[1] = TDM_SDP_CODEC_H264;
    l->codec_pref[2] = TDM_SDP_CODEC_VP9;
    l->rtx = true;
    l->n_cands = 2;
    l->cands[0] = (struct tdm_sdp_candidate){.transport = TDM_SDP_UDP,
                                             .type = TDM_SDP_HOST,
                                             .component = 1,
                                             .port = 40000,
                                             .priority = 2130706431,
                                             .foundation = "1",
                                             .address = "198.18.0.1"};
    l->cands[1] = (struct tdm_sdp_candidate){.transport = TDM_SDP_TCP,
                                             .type = TDM_SDP_HOST,
                                             .tcptype = TDM_SDP_TCP_PASSIVE,
                                             .component = 1,
                                             .port = 40001,
                                             .priority = 1694498815,
                                             .foundation = "2",
                                             .address = "198.18.0.1"};
}

/* A forwarded track of participant `who`, with the subscriber's payload types. */
static inline void sdp_test_track(struct tdm_sdp_track *t, const struct tdm_sdp *sub,
                                  enum tdm_sdp_kind k, const char *mid, const char *who,
                                  uint32_t ssrc, enum tdm_sdp_codec_id codec, bool active)
{
    memset(t, 0, sizeof *t);
    t->kind = k;
    t->active = active;
    snprintf(t->mid, sizeof t->mid, "%s", mid);
    snprintf(t->stream_id, sizeof t->stream_id, "stream-%s", who);
    snprintf(t->track_id, sizeof t->track_id, "%s-%s", who, k == TDM_SDP_AUDIO ? "audio" : "video");
    snprintf(t->cname, sizeof t->cname, "cname-%s", who);
    t->ssrc = ssrc;
    t->rtx_ssrc = k == TDM_SDP_VIDEO ? ssrc + 1 : 0;
    t->n_codecs = 1;
    t->codecs[0].codec = codec;
    assert_int_equal(tdm_sdp_pick_pts(sub, codec, &t->codecs[0].pt, &t->codecs[0].rtx_pt), 0);
    t->codecs[0].fb = k == TDM_SDP_VIDEO ? 0x1f : TDM_SDP_FB_TRANSPORT_CC;
}

/* The three server offers of the captures: 1 alice joins (mids 2, 3), 2 alice leaves (mids 2,
 * 3 recycled inactive), 3 bob takes mids 2, 3 and carol adds 4, 5 (VP9). Builds offers 1..step
 * on top of the server's answer to `browser_offer`; returns the last. */
static inline struct tdm_sdp *sdp_test_offer_steps(const struct tdm_sdp *browser_offer, int step)
{
    struct tdm_sdp_local l;
    struct tdm_sdp_nego *nego = malloc(sizeof *nego);
    struct tdm_sdp *cur = tdm_sdp_new();
    char err[256];
    sdp_test_local(&l, 1);
    assert_int_equal(tdm_sdp_answer(browser_offer, &l, NULL, 0, cur, nego, err, sizeof err), 0);
    for (int s = 1; s <= step; s++) {
        struct tdm_sdp_track t[4];
        size_t nt = 2;
        const char *who = s == 3 ? "bob" : "alice";
        uint32_t base = s == 3 ? 3333 : 1111;
        sdp_test_local(&l, 1 + (uint64_t)s);
        sdp_test_track(&t[0], browser_offer, TDM_SDP_AUDIO, "2", who, base, TDM_SDP_CODEC_OPUS,
                       s != 2);
        sdp_test_track(&t[1], browser_offer, TDM_SDP_VIDEO, "3", who, s == 3 ? 4444 : 2222,
                       TDM_SDP_CODEC_VP8, s != 2);
        if (s == 3) {
            sdp_test_track(&t[2], browser_offer, TDM_SDP_AUDIO, "4", "carol", 5555,
                           TDM_SDP_CODEC_OPUS, true);
            sdp_test_track(&t[3], browser_offer, TDM_SDP_VIDEO, "5", "carol", 6666,
                           TDM_SDP_CODEC_VP9, true);
            nt = 4;
        }
        struct tdm_sdp *next = tdm_sdp_new();
        int rc = tdm_sdp_offer(cur, &l, t, nt, next, err, sizeof err);
        if (rc != 0)
            fail_msg("offer %d: %s", s, err);
        tdm_sdp_free(cur);
        cur = next;
    }
    free(nego);
    return cur;
}

#endif
