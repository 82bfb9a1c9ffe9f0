/* The worker's deadlines (server/sfu/sfu.c, out.c): each participant sits in the heap at the
 * earliest of its parts' deadlines, exactly, after every input; a time-out ticks only what
 * is due; a deadline that another participant's input brings closer (a subscriber's PLI or
 * NACK asks the publisher for a keyframe that its throttle holds back) is honoured at that
 * time. A publisher amina (one video track) and a subscriber jan, both connections keyed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sfu_internal.h"
#include "sfu_test_util.h"
#include "tandem/rtcp.h"

#define FAR 1000000000 /* the allocation's and the quality's clocks, out of the way */

struct fixture {
    struct test_core t;
    struct room *r;
    struct part *a, *j;
    struct prod *pv;
    struct cons *c;                 /* jan's consumer of amina's video */
    struct tdm_srtp *apage, *jpage; /* the pages' sides of amina's pub, jan's sub */
};

/* A keyed connection of q (kind), as if ICE and DTLS had come up; *page gets the page's
 * SRTP side. Its address: 10.1.0.<host>:5000. */
static struct peer *keyed(struct fixture *f, struct part *q, enum peer_kind kind, uint8_t host,
                          struct tdm_srtp **page, int64_t now)
{
    struct tdm_sfu *s = f->t.sfu;
    struct peer *p = peer_create(s, q, kind, now);
    assert_non_null(p);
    struct tdm_srtp_keys k = {.profile = TDM_SRTP_AEAD_AES_128_GCM}, kp;
    k.len = tdm_srtp_key_salt_len(k.profile);
    for (size_t i = 0; i < k.len; i++) {
        k.local[i] = (uint8_t)(i + host);
        k.remote[i] = (uint8_t)(100 + i + host);
    }
    kp = k;
    memcpy(kp.local, k.remote, k.len);
    memcpy(kp.remote, k.local, k.len);
    assert_int_equal(tdm_srtp_create(&p->srtp, &k), 0);
    assert_int_equal(tdm_srtp_create(page, &kp), 0);
    p->pending = false; /* DTLS is up */
    s->st.pending--;
    p->have_dst = true;
    p->dst.sock = 0;
    tdm_addr_set_v4(&p->dst.remote, 0x0a010000u | host, 5000);
    return p;
}

/* What the end of an input does (an input that changes nothing: a TCP connection nobody
 * uses closed). */
static void end_input(struct fixture *f)
{
    tdm_sfu_handle_path_closed(f->t.sfu, UINT64_MAX);
}

static void setup(struct fixture *f, int64_t now)
{
    assert_int_equal(test_core_make(&f->t), 0);
    struct tdm_sfu *s = f->t.sfu;
    f->r = roster_room(s, "room", true);
    f->a = roster_add(s, f->r, "amina");
    f->j = roster_add(s, f->r, "jan");
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
    f->a->pub = keyed(f, f->a, PEER_PUB, 1, &f->apage, now);
    f->j->recv_only = true;
    f->j->pt_for[TDM_SDP_CODEC_VP8] = 96;
    f->j->sub = keyed(f, f->j, PEER_SUB, 2, &f->jpage, now);
    roster_subscribe_all(s, f->r);
    assert_int_equal(f->j->n_cons, 1);
    f->c = f->j->cons[0];
    f->c->live = true;
    /* (no offers here: nego.c is not under test) */
    f->a->offer_wanted = f->j->offer_wanted = s->offers_wanted = false;
    /* the first time-out starts everyone's clocks; then they are put far away, so that the
     * keyframe request below is the earliest thing either participant has to do */
    tdm_sfu_handle_timeout(s, now);
    tdm_sfu_transmits_done(s);
    for (struct part **q = (struct part *[]){f->a, f->j, NULL}; *q; q++) {
        (*q)->next_alloc_us = FAR;
        (*q)->next_quality_us = FAR;
        sfu_wake(s, *q);
    }
    f->j->sub->next_rtcp_us = FAR; /* (amina's pub has none: next_rtcp_us unset) */
    /* whatever the first allocation asked of amina is forgotten: a fresh throttle */
    tdm_rtx_kf_throttle_init(&f->pv->kf, SFU_KF_INTERVAL_US);
    sfu_wake(s, f->a);
    end_input(f);
    tdm_sfu_transmits_done(s);
}

static void teardown(struct fixture *f)
{
    tdm_srtp_destroy(f->apage);
    tdm_srtp_destroy(f->jpage);
    test_core_free(&f->t);
}

/* Each participant's place in the heap is what its deadline functions say now. */
static void check_exact(struct fixture *f)
{
    struct tdm_sfu *s = f->t.sfu;
    for (uint32_t i = 0; i < f->r->n_parts; i++) {
        const struct part *q = f->r->parts[i];
        int64_t want = INT64_MAX, x[4 + SFU_MAX_PRODS];
        size_t n = 0;
        x[n++] = q->pub ? peer_deadline(s, q->pub) : INT64_MAX;
        x[n++] = q->sub ? peer_deadline(s, q->sub) : INT64_MAX;
        x[n++] = dl_deadline(q->sub, s->timeout_us);
        x[n++] = alloc_deadline(q);
        for (uint32_t k = 0; k < q->n_prods; k++)
            x[n++] = fb_prod_deadline(q->prods[k]);
        for (size_t k = 0; k < n; k++)
            if (x[k] != SFU_POLL && x[k] < want)
                want = x[k];
        if (q->sub_retry_us && q->sub_retry_us < want)
            want = q->sub_retry_us;
        if (quality_deadline(q) != SFU_POLL && quality_deadline(q) < want)
            want = quality_deadline(q);
        assert_true(tdm_timer_queued(&q->timer.node));
        assert_int_equal(q->timer.node.at, want);
    }
}

/* PLIs queued to amina since the last look (the queue is emptied). */
static int plis_to_amina(struct fixture *f)
{
    size_t n;
    struct tdm_sfu_transmit *tx = tdm_sfu_transmits(f->t.sfu, &n);
    int found = 0;
    for (size_t i = 0; i < n; i++) {
        if (!tdm_addr_equal(&tx[i].to.remote, &f->a->pub->dst.remote))
            continue;
        uint8_t buf[TDM_SFU_TX_BUF];
        memcpy(buf, tx[i].buf, tx[i].len);
        int len = tdm_srtp_unprotect_rtcp(f->apage, buf, tx[i].len);
        if (len <= 0)
            continue;
        struct tdm_rtcp_iter it;
        struct tdm_rtcp_pkt pk;
        tdm_rtcp_iter_init(&it, buf, (size_t)len);
        while (tdm_rtcp_iter_next(&it, &pk, NULL, 0) == 1)
            found += pk.type == TDM_RTCP_PSFB && pk.count == TDM_RTCP_FMT_PLI;
    }
    tdm_sfu_transmits_done(f->t.sfu);
    return found;
}

/* jan's page sends RTCP on its sub connection: a PLI for its consumer, or a NACK of seq. */
static void jan_sends(struct fixture *f, bool nack, uint16_t seq, int64_t now)
{
    uint8_t buf[TDM_SFU_TX_BUF];
    int n = nack ? tdm_rtcp_build_nack(buf, 1200, 0x1234, f->c->ssrc, &seq, 1)
                 : tdm_rtcp_build_pli(buf, 1200, 0x1234, f->c->ssrc);
    assert_true(n > 0);
    n = tdm_srtp_protect_rtcp(f->jpage, buf, (size_t)n, sizeof buf);
    assert_true(n > 0);
    fb_on_rtcp(f->t.sfu, f->j->sub, buf, (size_t)n, now);
}

/* amina's page sends video packet seq (SRTP) on her pub connection: the start of a VP8
 * keyframe (descriptor, frame tag, start code, size) or of another picture. */
static void amina_sends(struct fixture *f, uint16_t seq, bool key, int64_t now)
{
    uint8_t buf[TDM_SFU_TX_BUF];
    size_t len = tdm_rtp_write_header(buf, 96, true, seq, seq * 3000u, 0xabcd, 0);
    uint8_t vp8[] = {0x10, 0x00, 0x00, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00};
    vp8[1] = key ? 0x00 : 0x01; /* the frame tag's P bit: 0 for a keyframe */
    memcpy(buf + len, vp8, sizeof vp8);
    int n = tdm_srtp_protect_rtp(f->apage, buf, len + sizeof vp8, sizeof buf);
    assert_true(n > 0);
    fan_on_rtp(f->t.sfu, f->a->pub, buf, (size_t)n, now);
}

/* jan's PLI comes 100 ms after a keyframe request went to amina: held back by the throttle,
 * it moves amina's deadline from far away to the throttle's end, and goes out then, not
 * before; with the wake in fb_want_keyframe left out, it would wait for her next own one. */
static void another_participants_pli_is_honoured(void **state)
{
    (void)state;
    struct fixture f = {0};
    int64_t t0 = 1000000;
    setup(&f, t0);
    struct tdm_sfu *s = f.t.sfu;
    check_exact(&f);
    assert_true(tdm_sfu_deadline(s) > t0 + 10 * SFU_KF_INTERVAL_US);

    jan_sends(&f, false, 0, t0); /* the first: at once */
    end_input(&f);
    assert_int_equal(plis_to_amina(&f), 1);
    check_exact(&f);

    int64_t t1 = t0 + 100000;
    jan_sends(&f, false, 0, t1); /* held back */
    end_input(&f);
    assert_int_equal(plis_to_amina(&f), 0);
    check_exact(&f);
    assert_int_equal(f.a->timer.node.at, t0 + SFU_KF_INTERVAL_US);
    assert_int_equal(tdm_sfu_deadline(s), t0 + SFU_KF_INTERVAL_US);

    tdm_sfu_handle_timeout(s, t0 + SFU_KF_INTERVAL_US - 1); /* (a caller's early call) */
    assert_int_equal(plis_to_amina(&f), 0);
    tdm_sfu_handle_timeout(s, t0 + SFU_KF_INTERVAL_US);
    assert_int_equal(plis_to_amina(&f), 1);
    check_exact(&f);
    assert_true(tdm_sfu_deadline(s) > t0 + 10 * SFU_KF_INTERVAL_US);
    teardown(&f);
}

/* A NACK from jan for a packet the server never had: a keyframe from amina instead (the
 * same throttle); and amina's own packets: a gap makes her NACK due 5 ms later, its repair
 * takes it away again. The heap stays exact through all of it. */
static void nacks_either_way_keep_the_heap_exact(void **state)
{
    (void)state;
    struct fixture f = {0};
    int64_t t0 = 1000000, now = t0;
    setup(&f, t0);
    struct tdm_sfu *s = f.t.sfu;
    for (uint16_t seq = 100; seq < 104; seq++) {
        amina_sends(&f, seq, seq == 100, now += 1000);
        end_input(&f);
        check_exact(&f);
    }
    tdm_sfu_transmits_done(s);
    fb_want_keyframe(s, f.pv, now); /* a request just went */
    end_input(&f);
    assert_int_equal(plis_to_amina(&f), 1);
    int64_t asked = now;

    jan_sends(&f, true, 7, now += 1000); /* never sent to jan: a keyframe instead */
    end_input(&f);
    check_exact(&f);
    assert_int_equal(f.a->timer.node.at, asked + SFU_KF_INTERVAL_US);

    amina_sends(&f, 106, false, now += 1000); /* 104 and 105 missing */
    end_input(&f);
    check_exact(&f);
    int64_t nack_at = f.a->timer.node.at;
    assert_true(nack_at > now && nack_at < now + 10000); /* before the keyframe's */
    assert_int_equal(tdm_sfu_deadline(s), nack_at);
    amina_sends(&f, 104, false, now += 100);
    amina_sends(&f, 105, false, now += 100);
    end_input(&f);
    check_exact(&f);
    assert_int_equal(f.a->timer.node.at, asked + SFU_KF_INTERVAL_US); /* moved back later */
    tdm_sfu_transmits_done(s);
    tdm_sfu_handle_timeout(s, asked + SFU_KF_INTERVAL_US);
    assert_int_equal(plis_to_amina(&f), 1);
    check_exact(&f);
    teardown(&f);
}

/* A time-out ticks what is due, and what waits for any time-out: a participant who just
 * joined starts its allocation's and quality's clocks at the next one, as when every
 * time-out ticked everyone, without a wake-up of its own. */
static void a_newcomer_starts_at_the_next_time_out(void **state)
{
    (void)state;
    struct fixture f = {0};
    int64_t t0 = 1000000;
    setup(&f, t0);
    struct tdm_sfu *s = f.t.sfu;
    f.a->next_alloc_us = t0 + 200000;
    sfu_wake(s, f.a);
    end_input(&f);
    struct part *n = roster_add(s, f.r, "ngozi");
    assert_non_null(n);
    end_input(&f);
    check_exact(&f);
    assert_int_equal(tdm_sfu_deadline(s), t0 + 200000); /* not hers */
    assert_true(n->timer.polled);
    tdm_sfu_handle_timeout(s, t0 + 200000);
    assert_int_equal(f.a->next_alloc_us, t0 + 400000); /* amina's allocation ran */
    assert_int_equal(n->next_alloc_us, t0 + 400000);   /* ngozi's clocks started */
    assert_int_equal(n->next_quality_us, t0 + 200000 + 1000000);
    assert_false(n->timer.polled);
    assert_int_equal(f.j->next_alloc_us, FAR); /* jan's did not move */
    check_exact(&f);
    assert_int_equal(tdm_sfu_deadline(s), t0 + 400000);
    roster_remove(s, n, t0 + 200000); /* out of the heap */
    end_input(&f);
    check_exact(&f);
    teardown(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(another_participants_pli_is_honoured),
        cmocka_unit_test(nacks_either_way_keep_the_heap_exact),
        cmocka_unit_test(a_newcomer_starts_at_the_next_time_out),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
