/* Rooms, participants, producers and consumers (server/sfu/roster.c), through the core's
 * internal functions: who receives what, and who is marked for a new sub offer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sfu_internal.h"
#include "sfu_test_util.h"

static struct tdm_sdp_nego_media track(enum tdm_sdp_kind kind, const char *mid, uint32_t ssrc)
{
    struct tdm_sdp_nego_media nm;
    memset(&nm, 0, sizeof nm);
    nm.kind = kind;
    snprintf(nm.mid, sizeof nm.mid, "%s", mid);
    nm.n_codecs = 1;
    nm.codecs[0] = (struct tdm_sdp_nego_codec){
        .codec = kind == TDM_SDP_VIDEO ? TDM_SDP_CODEC_VP8 : TDM_SDP_CODEC_OPUS,
        .pt = kind == TDM_SDP_VIDEO ? 96 : 111,
        .rtx_pt = -1,
        .clock = kind == TDM_SDP_VIDEO ? 90000 : 48000,
        .fb = kind == TDM_SDP_VIDEO ? TDM_SDP_FB_NACK | TDM_SDP_FB_NACK_PLI : 0};
    nm.n_ssrcs = 1;
    nm.ssrc[0] = ssrc;
    return nm;
}

static void subscriptions_follow_producers(void **state)
{
    (void)state;
    struct test_core t;
    assert_int_equal(test_core_make(&t), 0);
    struct tdm_sfu *s = t.sfu;
    struct room *r = roster_room(s, "room", true);
    assert_non_null(r);
    assert_ptr_equal(roster_room(s, "room", false), r);
    assert_null(roster_room(s, "other", false));
    struct part *a = roster_add(s, r, "amina"), *j = roster_add(s, r, "jan");
    struct part *c = roster_add(s, r, "ngozi");
    assert_ptr_equal(roster_find(r, "jan"), j);
    struct tdm_sdp_nego_media v = track(TDM_SDP_VIDEO, "1", 1111),
                              au = track(TDM_SDP_AUDIO, "0", 2222);
    struct prod *pv = roster_add_prod(s, a, &v, 0), *pa = roster_add_prod(s, a, &au, 0);
    assert_non_null(pv);
    assert_non_null(pa);
    assert_non_null(pv->nack); /* video with NACK negotiated keeps a receive log */
    assert_null(pa->nack);
    a->published = j->published = true; /* ngozi has not published: she gets nothing yet */
    roster_subscribe_all(s, r);
    assert_true(s->offers_wanted);
    assert_int_equal(j->n_cons, 2);
    assert_int_equal(a->n_cons, 0); /* nobody else publishes */
    assert_int_equal(c->n_cons, 0);
    assert_int_equal(pv->n_cons, 1);
    assert_true(j->cons[0]->ssrc != 0 && j->cons[0]->ssrc != j->cons[1]->ssrc);
    assert_false(j->cons[0]->live); /* not before the answer and the keys */
    /* subscribing again adds nothing */
    roster_subscribe_all(s, r);
    assert_int_equal(j->n_cons, 2);
    /* a producer going away takes its consumers with it and marks their subscribers */
    j->offer_wanted = false;
    roster_remove_prod(s, pv);
    assert_int_equal(j->n_cons, 1);
    assert_true(j->offer_wanted);
    assert_int_equal(a->n_prods, 1);
    /* blocking and data saver only set what the fan-out reads */
    roster_block(s, a, true, false, 1000);
    assert_true(a->block_audio);
    roster_receive_video(s, j, false, 1000);
    assert_true(j->no_video_in);
    /* leaving: the others lose what they received from her */
    roster_remove(s, a, 1000);
    assert_int_equal(j->n_cons, 0);
    assert_null(roster_find(r, "amina"));
    struct tdm_sfu_stats st;
    tdm_sfu_get_stats(s, &st);
    assert_int_equal(st.participants, 2);
    roster_free_room(s, r, 1000);
    tdm_sfu_get_stats(s, &st);
    assert_int_equal(st.rooms, 0);
    assert_int_equal(st.participants, 0);
    test_core_free(&t);
}

static void at_most_sixteen_tracks(void **state)
{
    (void)state;
    struct test_core t;
    assert_int_equal(test_core_make(&t), 0);
    struct room *r = roster_room(t.sfu, "room", true);
    struct part *a = roster_add(t.sfu, r, "amina");
    int made = 0;
    for (int i = 0; i < 20; i++) {
        char mid[8];
        snprintf(mid, sizeof mid, "%d", i);
        struct tdm_sdp_nego_media m = track(TDM_SDP_AUDIO, mid, 100 + (uint32_t)i);
        made += roster_add_prod(t.sfu, a, &m, 0) != NULL;
    }
    assert_int_equal(made, SFU_MAX_PRODS);
    test_core_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(subscriptions_follow_producers),
        cmocka_unit_test(at_most_sixteen_tracks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
