/* Feedback to publishers (server/sfu/feedback.c): keyframe requests wait for keys and are
 * throttled, reports carry a REMB; what is queued is decrypted and parsed as the page would. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sfu_internal.h"
#include "sfu_test_util.h"
#include "tandem/rtcp.h"

struct fixture {
    struct test_core t;
    struct part *a;
    struct prod *pv;
    struct tdm_srtp *page; /* the page's side of the pub connection's SRTP */
};

static void setup(struct fixture *f)
{
    assert_int_equal(test_core_make(&f->t), 0);
    struct tdm_sfu *s = f->t.sfu;
    struct room *r = roster_room(s, "room", true);
    f->a = roster_add(s, r, "amina");
    struct tdm_sdp_nego_media v;
    memset(&v, 0, sizeof v);
    v.kind = TDM_SDP_VIDEO;
    snprintf(v.mid, sizeof v.mid, "1");
    v.n_codecs = 1;
    v.codecs[0] = (struct tdm_sdp_nego_codec){.codec = TDM_SDP_CODEC_VP8,
                                              .pt = 96,
                                              .rtx_pt = -1,
                                              .clock = 90000,
                                              .fb = TDM_SDP_FB_NACK | TDM_SDP_FB_NACK_PLI};
    v.n_ssrcs = 1;
    v.ssrc[0] = 0xabcd;
    f->pv = roster_add_prod(s, f->a, &v, 0);
    assert_non_null(f->pv);
}

/* The pub connection comes up: keys on both sides and a destination. */
static void connect_pub(struct fixture *f, int64_t now)
{
    struct tdm_sfu *s = f->t.sfu;
    struct peer *p = peer_create(s, f->a, PEER_PUB, now);
    assert_non_null(p);
    f->a->pub = p;
    struct tdm_srtp_keys k = {.profile = TDM_SRTP_AEAD_AES_128_GCM}, kp;
    k.len = tdm_srtp_key_salt_len(k.profile);
    for (size_t i = 0; i < k.len; i++) {
        k.local[i] = (uint8_t)i;
        k.remote[i] = (uint8_t)(100 + i);
    }
    kp = k;
    memcpy(kp.local, k.remote, k.len);
    memcpy(kp.remote, k.local, k.len);
    assert_int_equal(tdm_srtp_create(&p->srtp, &k), 0);
    assert_int_equal(tdm_srtp_create(&f->page, &kp), 0);
    p->have_dst = true;
    p->dst.sock = 0;
    tdm_addr_set_v4(&p->dst.remote, 0x0a010001, 5000);
}

/* The RTCP packets of every queued datagram, decrypted; returns how many had type/fmt. */
static int queued(struct fixture *f, uint8_t type, uint8_t fmt, uint64_t *remb)
{
    size_t n;
    struct tdm_sfu_transmit *tx = tdm_sfu_transmits(f->t.sfu, &n);
    int found = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t buf[TDM_SFU_TX_BUF];
        memcpy(buf, tx[i].buf, tx[i].len);
        int len = tdm_srtp_unprotect_rtcp(f->page, buf, tx[i].len);
        assert_true(len > 0);
        struct tdm_rtcp_iter it;
        struct tdm_rtcp_pkt pk;
        tdm_rtcp_iter_init(&it, buf, (size_t)len);
        while (tdm_rtcp_iter_next(&it, &pk, NULL, 0) == 1) {
            if (pk.type != type || (fmt && pk.count != fmt))
                continue;
            found++;
            struct tdm_rtcp_remb r;
            if (remb && tdm_rtcp_parse_remb(&pk, &r, NULL, 0) >= 0)
                *remb = r.bitrate;
        }
    }
    tdm_sfu_transmits_done(f->t.sfu);
    return found;
}

static void teardown(struct fixture *f)
{
    tdm_srtp_destroy(f->page);
    test_core_free(&f->t);
}

static void keyframe_requests_wait_and_are_throttled(void **state)
{
    (void)state;
    struct fixture f = {0};
    setup(&f);
    int64_t now = 1000000;
    /* no keys yet: remembered, nothing sent */
    fb_want_keyframe(f.t.sfu, f.pv, now);
    assert_true(f.pv->kf_wanted);
    assert_int_equal(queued(&f, TDM_RTCP_PSFB, TDM_RTCP_FMT_PLI, NULL), 0);
    connect_pub(&f, now);
    fb_want_keyframe(f.t.sfu, f.pv, now);
    assert_false(f.pv->kf_wanted);
    assert_int_equal(queued(&f, TDM_RTCP_PSFB, TDM_RTCP_FMT_PLI, NULL), 1);
    /* again 100 ms later: held back, due later */
    fb_want_keyframe(f.t.sfu, f.pv, now + 100000);
    assert_int_equal(queued(&f, TDM_RTCP_PSFB, TDM_RTCP_FMT_PLI, NULL), 0);
    int64_t due = fb_prod_deadline(f.pv);
    assert_true(due > now + 100000 && due <= now + SFU_KF_INTERVAL_US);
    fb_prod_tick(f.t.sfu, f.pv, due);
    assert_int_equal(queued(&f, TDM_RTCP_PSFB, TDM_RTCP_FMT_PLI, NULL), 1);
    struct tdm_sfu_stats st;
    tdm_sfu_get_stats(f.t.sfu, &st);
    assert_int_equal(st.plis_out, 2);
    teardown(&f);
}

static void reports_carry_remb(void **state)
{
    (void)state;
    struct fixture f = {0};
    setup(&f);
    int64_t now = 1000000;
    connect_pub(&f, now);
    f.a->pub->next_rtcp_us = now;
    fb_reports(f.t.sfu, f.a->pub, now);
    uint64_t remb = 0;
    assert_int_equal(queued(&f, TDM_RTCP_PSFB, TDM_RTCP_FMT_AFB, &remb), 1);
    /* nobody receives yet: the cap */
    assert_int_equal(remb, SFU_REMB_CAP_BPS);
    /* the next report is 0.5..1.5 s away (RFC 3550 §6.3.1) */
    int64_t next = f.a->pub->next_rtcp_us - now;
    assert_true(next >= SFU_RTCP_INTERVAL_US / 2 && next < SFU_RTCP_INTERVAL_US * 3 / 2);
    fb_reports(f.t.sfu, f.a->pub, now + 1000);
    assert_int_equal(queued(&f, TDM_RTCP_PSFB, TDM_RTCP_FMT_AFB, NULL), 0);
    teardown(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(keyframe_requests_wait_and_are_throttled),
        cmocka_unit_test(reports_carry_remb),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
