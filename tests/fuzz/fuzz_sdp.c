/* libFuzzer target: SDP parse, negotiate, write, re-offer.
 *
 * Input: an SDP as a browser would send it over signaling. The parser must stay in bounds and
 * either refuse with a message or give a model that the writer can write and the parser read
 * back to the same text. When the server can answer it, its answer must parse; the server's
 * next offer (two forwarded tracks on top of that answer) must parse, and an answer to that
 * offer must pass tdm_sdp_check_answer. The last input byte picks local options. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tandem/err.h"
#include "tandem/sdp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "CHECK failed line %d: %s (%s)\n", __LINE__, #c, err);                 \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#define OUT_CAP (4 * TDM_SDP_MAX_BYTES)

static struct tdm_sdp *in, *back, *ans, *offer, *self;
static struct tdm_sdp_nego *nego;
static char *out, *out2, err[256];

static void init(void)
{
    in = tdm_sdp_new();
    back = tdm_sdp_new();
    ans = tdm_sdp_new();
    offer = tdm_sdp_new();
    self = tdm_sdp_new();
    nego = malloc(sizeof *nego);
    out = malloc(OUT_CAP);
    out2 = malloc(OUT_CAP);
    if (!in || !back || !ans || !offer || !self || !nego || !out || !out2)
        abort();
}

static void local_init(struct tdm_sdp_local *l, uint8_t opt)
{
    memset(l, 0, sizeof *l);
    l->sess_id = 1;
    l->sess_version = 1;
    strcpy(l->ice_ufrag, "fuzz");
    strcpy(l->ice_pwd, "fuzzfuzzfuzzfuzzfuzzfuzz");
    l->n_codec_pref = 3;
    l->codec_pref[0] = opt & 1 ? TDM_SDP_CODEC_H264 : TDM_SDP_CODEC_VP8;
    l->codec_pref[1] = opt & 1 ? TDM_SDP_CODEC_VP8 : TDM_SDP_CODEC_H264;
    l->codec_pref[2] = TDM_SDP_CODEC_VP9;
    l->rtx = opt & 2;
    l->simulcast = opt & 4;
    l->extmap_allow_mixed = opt & 8;
    l->n_cands = 1;
    l->cands[0] = (struct tdm_sdp_candidate){
        .component = 1, .port = 40000, .priority = 1, .foundation = "1", .address = "198.18.0.1"};
}

/* Writes d; when it fits the parser's bound, parses it back and writes it again: same text. */
static void write_read_back(const struct tdm_sdp *d)
{
    int n = tdm_sdp_write(d, out, OUT_CAP, err, sizeof err);
    CHECK(n > 0);
    if (n > TDM_SDP_MAX_BYTES)
        return;
    CHECK(tdm_sdp_parse((const uint8_t *)out, (size_t)n, back, err, sizeof err) == 0);
    int n2 = tdm_sdp_write(back, out2, OUT_CAP, err, sizeof err);
    CHECK(n2 == n && memcmp(out, out2, (size_t)n) == 0);
}

static void make_track(struct tdm_sdp_track *t, const struct tdm_sdp *sub, bool video)
{
    memset(t, 0, sizeof *t);
    t->kind = video ? TDM_SDP_VIDEO : TDM_SDP_AUDIO;
    t->active = true;
    strcpy(t->mid, video ? "fz-v" : "fz-a");
    strcpy(t->stream_id, "s");
    strcpy(t->track_id, video ? "v" : "a");
    strcpy(t->cname, "c");
    t->ssrc = video ? 2 : 1;
    t->rtx_ssrc = video ? 3 : 0;
    t->n_codecs = 1;
    t->codecs[0].codec = video ? TDM_SDP_CODEC_VP8 : TDM_SDP_CODEC_OPUS;
    if (tdm_sdp_pick_pts(sub, t->codecs[0].codec, &t->codecs[0].pt, &t->codecs[0].rtx_pt) < 0)
        t->n_codecs = 0; /* tdm_sdp_offer refuses it */
}

static void reoffer(const struct tdm_sdp_local *l)
{
    struct tdm_sdp_track t[2];
    make_track(&t[0], in, false);
    make_track(&t[1], in, true);
    int rc = tdm_sdp_offer(ans, l, t, 2, offer, err, sizeof err);
    CHECK(rc == 0 || rc == TDM_EINVAL || rc == TDM_EFULL);
    if (rc != 0)
        return;
    write_read_back(offer);
    /* The server answering its own offer stands in for a browser. */
    struct tdm_sdp_local l2 = *l;
    l2.sess_id = 2;
    if (tdm_sdp_answer(offer, &l2, NULL, 0, self, nego, err, sizeof err) != 0)
        return;
    CHECK(tdm_sdp_check_answer(offer, self, nego, err, sizeof err) == 0);
    CHECK(nego->n_media == offer->n_media);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!in)
        init();
    err[0] = '\0';
    int rc = tdm_sdp_parse(data, size, in, err, sizeof err);
    CHECK(rc == 0 || rc == TDM_EINVAL || rc == TDM_ETRUNC || rc == TDM_ETOOBIG ||
          rc == TDM_EUNSUPP);
    CHECK(rc == 0 || err[0] != '\0');
    if (rc != 0)
        return 0;
    CHECK(in->n_media <= TDM_SDP_MAX_MEDIA && in->n_bundle <= in->n_media);
    write_read_back(in);

    struct tdm_sdp_local l;
    local_init(&l, size ? data[size - 1] : 0);
    rc = tdm_sdp_answer(in, &l, NULL, 0, ans, nego, err, sizeof err);
    CHECK(rc == 0 || rc == TDM_EINVAL || rc == TDM_EUNSUPP);
    if (rc != 0)
        return 0;
    CHECK(ans->n_media == in->n_media && nego->n_media == in->n_media);
    for (size_t i = 0; i < nego->n_media; i++)
        for (size_t k = 0; k < nego->media[i].n_codecs; k++)
            CHECK(tdm_sdp_find_pt(&in->media[i], nego->media[i].codecs[k].pt) != NULL);
    write_read_back(ans);
    reoffer(&l);
    return 0;
}
