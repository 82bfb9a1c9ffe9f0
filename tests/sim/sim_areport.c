/* Receiver reports on the audio a page receives, and what the server's reports say of the
 * page's own voice, as a browser keeps them: each received audio SSRC gets a report block
 * (RFC 3550 §6.4.2: fraction lost over the interval, cumulative lost, highest sequence
 * number), and the fraction lost the server reports for the page's voice is remembered
 * (a browser sets its Opus encoder's expected loss, and so its in-band FEC, from it). */
#include "sim_internal.h"

#include <string.h>

void sim_areport_on_rtp(struct sim_peer *p, const struct tdm_rtp_view *v)
{
    struct sim_arx *r = NULL;
    for (unsigned i = 0; i < p->n_arx && !r; i++)
        if (p->arx[i].ssrc == v->ssrc)
            r = &p->arx[i];
    if (!r) {
        if (p->n_arx == SIM_MAX_ARX)
            return;
        r = &p->arx[p->n_arx++];
        memset(r, 0, sizeof *r);
        r->ssrc = v->ssrc;
        r->base = v->seq;
        r->highest = v->seq;
    }
    r->received++;
    int64_t ext = r->highest + (int16_t)(v->seq - (uint16_t)r->highest);
    if (ext > r->highest)
        r->highest = ext;
}

size_t sim_areport_blocks(struct sim_peer *p, struct tdm_rtcp_rb *rb, size_t max)
{
    size_t n = 0;
    for (unsigned i = 0; i < p->n_arx && n < max; i++) {
        struct sim_arx *r = &p->arx[i];
        uint32_t expected = (uint32_t)(r->highest - r->base + 1);
        uint32_t exp_int = expected - r->expected_prior;
        uint32_t rec_int = r->received - r->received_prior;
        r->expected_prior = expected;
        r->received_prior = r->received;
        int32_t lost_int = (int32_t)(exp_int - rec_int);
        uint8_t frac = exp_int && lost_int > 0 ? (uint8_t)(((uint32_t)lost_int << 8) / exp_int) : 0;
        int32_t cum = (int32_t)(expected - r->received);
        rb[n++] = (struct tdm_rtcp_rb){.ssrc = r->ssrc,
                                       .fraction_lost = frac,
                                       .cumulative_lost = cum < 0 ? 0 : cum,
                                       .ext_highest_seq = (uint32_t)r->highest};
    }
    return n;
}

void sim_areport_on_pub_report(struct sim_peer *p, const struct tdm_rtcp_pkt *pk)
{
    uint32_t sender;
    int n = tdm_rtcp_parse_rr(pk, &sender);
    for (int i = 0; i < n; i++) {
        struct tdm_rtcp_rb rb;
        if (tdm_rtcp_report_block(pk, (unsigned)i, &rb) == 0 && rb.ssrc == p->a_ssrc) {
            p->st.audio_loss_told = rb.fraction_lost;
            p->st.audio_reports++;
        }
    }
}
