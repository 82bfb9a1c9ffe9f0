/* libFuzzer target: RTCP compound walking, every reader, SSRC rewriting and the NACK and
 * report builders.
 *
 * Input: one (S)RTCP compound after unprotect. Readers must stay in bounds; a compound
 * that validates must still validate, with the same packet count and lengths, after SSRC
 * rewriting; a NACK rebuilt from what was expanded must expand to the same numbers;
 * transport-cc counts must add up; a report block read must build and read back equal. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tandem/rtcp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            abort();                                                                               \
    } while (0)

static uint8_t out[64];
static struct tdm_rtcp_twcc_status st[65536];

static void nack(const struct tdm_rtcp_pkt *pkt)
{
    struct tdm_rtcp_fb fb;
    if (tdm_rtcp_parse_nack(pkt, &fb) != 0)
        return;
    size_t cap = fb.fci_len / 4 * TDM_RTCP_NACK_PER_FCI;
    uint16_t *seqs = malloc(cap * sizeof *seqs), *seqs2 = malloc(cap * sizeof *seqs2);
    size_t bcap = 12 + 4 * cap;
    uint8_t *buf = malloc(bcap);
    CHECK(seqs && seqs2 && buf);
    size_t n = tdm_rtcp_nack_expand(&fb, seqs, cap);
    CHECK(n >= fb.fci_len / 4 && n <= cap);
    int len = tdm_rtcp_build_nack(buf, bcap, fb.sender_ssrc, fb.media_ssrc, seqs, n);
    CHECK(len > 0 && (size_t)len <= 12 + fb.fci_len);
    struct tdm_rtcp_iter it;
    struct tdm_rtcp_pkt p2;
    struct tdm_rtcp_fb fb2;
    tdm_rtcp_iter_init(&it, buf, (size_t)len);
    CHECK(tdm_rtcp_iter_next(&it, &p2, NULL, 0) == 1);
    CHECK(tdm_rtcp_parse_nack(&p2, &fb2) == 0);
    size_t m = tdm_rtcp_nack_expand(&fb2, seqs2, cap);
    /* Same set: every number of one list is in the other (lists are short enough that
     * a bitmap is the simplest check). */
    static uint8_t in1[8192], in2[8192];
    memset(in1, 0, sizeof in1);
    memset(in2, 0, sizeof in2);
    for (size_t i = 0; i < n; i++)
        in1[seqs[i] >> 3] |= (uint8_t)(1u << (seqs[i] & 7));
    for (size_t i = 0; i < m; i++)
        in2[seqs2[i] >> 3] |= (uint8_t)(1u << (seqs2[i] & 7));
    CHECK(memcmp(in1, in2, sizeof in1) == 0);
    free(seqs);
    free(seqs2);
    free(buf);
}

static void reports(const struct tdm_rtcp_pkt *pkt)
{
    struct tdm_rtcp_sr sr;
    uint32_t ssrc;
    int count = pkt->type == TDM_RTCP_SR ? (tdm_rtcp_parse_sr(pkt, &sr) == 0 ? sr.nblocks : -1)
                                         : tdm_rtcp_parse_rr(pkt, &ssrc);
    for (int i = 0; i < count; i++) {
        struct tdm_rtcp_rb rb, back;
        CHECK(tdm_rtcp_report_block(pkt, (unsigned)i, &rb) == 0);
        int len = tdm_rtcp_build_rr(out, sizeof out, 1, &rb, 1);
        CHECK(len == 32);
        struct tdm_rtcp_iter it;
        struct tdm_rtcp_pkt p2;
        tdm_rtcp_iter_init(&it, out, (size_t)len);
        CHECK(tdm_rtcp_iter_next(&it, &p2, NULL, 0) == 1);
        CHECK(tdm_rtcp_parse_rr(&p2, &ssrc) == 1);
        CHECK(tdm_rtcp_report_block(&p2, 0, &back) == 0);
        CHECK(back.ssrc == rb.ssrc && back.cumulative_lost == rb.cumulative_lost &&
              back.fraction_lost == rb.fraction_lost && back.jitter == rb.jitter &&
              back.ext_highest_seq == rb.ext_highest_seq && back.lsr == rb.lsr &&
              back.dlsr == rb.dlsr);
    }
}

static void feedback(const struct tdm_rtcp_pkt *pkt)
{
    struct tdm_rtcp_fb fb;
    if (tdm_rtcp_parse_fb(pkt, &fb) != 0)
        return;
    CHECK(fb.fci + fb.fci_len <= pkt->p + pkt->len);
    nack(pkt);
    struct tdm_rtcp_twcc tw;
    if (tdm_rtcp_parse_twcc(pkt, &tw, st, sizeof st / sizeof st[0]) == 0) {
        CHECK(tw.status_count > 0);
        CHECK((unsigned)tw.received + tw.lost == tw.status_count);
    }
    int nfir = tdm_rtcp_parse_fir(pkt, &fb);
    for (int i = 0; i < nfir; i++) {
        uint32_t ssrc;
        uint8_t sn;
        CHECK(tdm_rtcp_fir_entry(&fb, (unsigned)i, &ssrc, &sn) == 0);
    }
    struct tdm_rtcp_remb remb;
    uint32_t ssrcs[4];
    (void)tdm_rtcp_parse_remb(pkt, &remb, ssrcs, 4);
    (void)tdm_rtcp_parse_pli(pkt, &fb);
}

static void one(const struct tdm_rtcp_pkt *pkt)
{
    CHECK(pkt->len >= 4 && pkt->body_len <= pkt->len - 4);
    if (pkt->type == TDM_RTCP_SR || pkt->type == TDM_RTCP_RR) {
        reports(pkt);
    } else if (pkt->type == TDM_RTCP_BYE) {
        uint32_t ssrcs[4];
        const uint8_t *reason;
        size_t rlen;
        if (tdm_rtcp_parse_bye(pkt, ssrcs, 4, &reason, &rlen) >= 0 && rlen)
            CHECK(reason + rlen <= pkt->p + 4 + pkt->body_len);
    } else {
        feedback(pkt);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[128];
    int count = tdm_rtcp_validate(data, size, err, sizeof err);
    struct tdm_rtcp_iter it;
    struct tdm_rtcp_pkt pkt;
    int n = 0, r;
    tdm_rtcp_iter_init(&it, data, size);
    while ((r = tdm_rtcp_iter_next(&it, &pkt, err, sizeof err)) == 1) {
        one(&pkt);
        n++;
    }
    /* validate refuses an empty buffer; the iterator just has nothing to give. */
    CHECK(count < 0 ? (r < 0 || size == 0) : (r == 0 && n == count));
    if (count < 0)
        return 0;

    uint8_t *copy = malloc(size);
    CHECK(copy);
    memcpy(copy, data, size);
    uint32_t from = size >= 12 ? ((uint32_t)data[8] << 24 | (uint32_t)data[9] << 16 |
                                  (uint32_t)data[10] << 8 | data[11])
                               : 0;
    CHECK(tdm_rtcp_rewrite_ssrc(copy, size, from, 0xdeadbeef, 7) >= 0);
    CHECK(tdm_rtcp_validate(copy, size, NULL, 0) == count);
    for (size_t i = 0; i < size && i < 4; i++)
        CHECK((copy[i] == data[i]));
    free(copy);
    return 0;
}
