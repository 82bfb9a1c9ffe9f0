/* A simulated page's transport-cc feedback on its "sub" connection, as a browser sends it
 * (draft-holmer-rmcat-transport-wide-cc-extensions-01 §3.1; libwebrtc's receive side):
 * every packet that carries the transport-wide number is logged with its arrival time, and
 * every SIM_TWCC_FB_US a feedback reports the numbers from the first not yet reported to
 * the highest received, the missing ones as lost. */
#include "sim_internal.h"

#include "tandem/rtp.h"
#include "tandem/sdp.h"
#include "tandem/twcc.h"

#include <stdlib.h>
#include <string.h>

#define FB_US 100000 /* Chromium: every 50-250 ms by rate; 100 ms here */
#define BATCH 512

struct sim_twcc {
    bool started;
    int64_t next, hi; /* extended numbers: the first not reported, the highest received */
    int64_t at[SIM_TWCC_RING];
    int64_t seq[SIM_TWCC_RING];
    uint8_t fb_count;
    int64_t next_fb_us;
    uint64_t feedbacks;
};

/* transport-cc as Chromium answers it: the offered extension id and the feedback type. */
size_t sim_twcc_answer(struct sim_peer *p, const struct tdm_sdp_media *m, char *o, size_t cap)
{
    for (size_t j = 0; j < m->n_extmaps; j++) {
        if (tdm_sdp_ext_classify(m->extmaps[j].uri) != TDM_SDP_EXT_TWCC)
            continue;
        p->twcc_id = (uint8_t)m->extmaps[j].id;
        return (size_t)snprintf(o, cap, "a=extmap:%u %s\r\na=rtcp-fb:%u transport-cc\r\n",
                                m->extmaps[j].id, m->extmaps[j].uri, m->codecs[0].pt);
    }
    return 0;
}

void sim_twcc_free(struct sim_peer *p)
{
    free(p->twcc);
    p->twcc = NULL;
}

void sim_twcc_on_rtp(struct sim_peer *p, const struct tdm_rtp_view *v, int64_t now)
{
    uint16_t s16;
    if (!p->twcc_id || tdm_rtp_ext_twcc_seq(v, p->twcc_id, &s16) != 0)
        return;
    if (!p->twcc && !(p->twcc = calloc(1, sizeof *p->twcc)))
        return;
    struct sim_twcc *t = p->twcc;
    int64_t e = s16;
    if (!t->started) {
        t->started = true;
        t->next = t->hi = e;
        t->next_fb_us = now + FB_US;
    } else {
        e = t->hi + (int16_t)(s16 - (uint16_t)t->hi);
    }
    if (e < t->next || e <= t->hi - SIM_TWCC_RING)
        return; /* reported as lost already: a browser does not take that back either */
    size_t k = (size_t)((uint64_t)e % SIM_TWCC_RING);
    t->at[k] = now;
    t->seq[k] = e;
    if (e > t->hi)
        t->hi = e;
}

static void send_fb(struct sim_peer *p, const struct tdm_twcc_status *st, size_t n)
{
    struct sim_twcc *t = p->twcc;
    size_t off = 0;
    while (off < n) {
        int64_t first = 0;
        for (size_t i = off; i < n && !first; i++)
            first = st[i].received ? st[i].arrival_us : 0;
        struct tdm_twcc_fb fb = {.sender_ssrc = p->conn[1].rtcp_ssrc,
                                 .media_ssrc = 1,
                                 .base_seq = st[off].seq,
                                 .ref_time = (int32_t)(first / TDM_TWCC_REF_US),
                                 .fb_count = t->fb_count++};
        uint8_t b[SIM_PKT_MAX];
        size_t used = 0;
        int len = tdm_twcc_build(b, 1200, &fb, st + off, n - off, &used);
        if (len <= 0 || used == 0)
            return;
        int m = tdm_srtp_protect_rtcp(p->conn[1].srtp, b, (size_t)len, sizeof b);
        if (m > 0)
            sim_send_up(&p->conn[1], b, (size_t)m);
        t->feedbacks++;
        off += used;
    }
}

void sim_twcc_tick(struct sim_peer *p, int64_t now)
{
    struct sim_twcc *t = p->twcc;
    if (!t || !t->started || now < t->next_fb_us || !p->conn[1].srtp)
        return;
    t->next_fb_us = now + FB_US;
    if (t->hi < t->next)
        return;
    if (t->hi - t->next >= SIM_TWCC_RING)
        t->next = t->hi - SIM_TWCC_RING + 1;
    struct tdm_twcc_status st[BATCH];
    while (t->next <= t->hi) {
        size_t n = 0;
        for (; t->next <= t->hi && n < BATCH; t->next++, n++) {
            size_t k = (size_t)((uint64_t)t->next % SIM_TWCC_RING);
            bool got = t->seq[k] == t->next && t->at[k];
            st[n] = (struct tdm_twcc_status){(uint16_t)t->next, got, got ? t->at[k] : 0};
        }
        send_fb(p, st, n);
    }
}

int64_t sim_twcc_next(const struct sim_peer *p)
{
    return p->twcc && p->twcc->started && p->conn[1].srtp ? p->twcc->next_fb_us : INT64_MAX;
}

uint64_t sim_twcc_feedbacks(const struct sim_peer *p)
{
    return p->twcc ? p->twcc->feedbacks : 0;
}
