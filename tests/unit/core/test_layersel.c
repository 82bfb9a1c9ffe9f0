/* core/layersel.c: one subscriber's view of a simulcast track stays one stream across layer
 * switches (sequence numbers, timestamps, VP8 picture ids and TL0PICIDX), switches happen
 * only at keyframes of the target layer, a pause closes up, and the descriptor rewriting is
 * bounded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tandem/err.h"
#include "tandem/layersel.h"
#include "tandem/rtp.h"

/* A simulated layer: its own SSRC, numbers, picture ids (15 bits) and TL0PICIDX. */
struct layer {
    uint32_t ssrc;
    uint16_t seq, pid;
    uint32_t ts;
    uint8_t tl0;
};

struct pkt {
    uint8_t b[64];
    struct tdm_rtp_view v;
};

/* One packet: 12-byte header, VP8 descriptor X|S, I|L, M + 15-bit picture id, TL0PICIDX, then
 * a frame tag (keyframe start code when key). */
static void make(struct pkt *p, const struct layer *l, bool key, bool pid15)
{
    memset(p->b, 0, sizeof p->b);
    p->b[0] = 0x80;
    p->b[1] = 96;
    p->b[2] = (uint8_t)(l->seq >> 8);
    p->b[3] = (uint8_t)l->seq;
    for (int i = 0; i < 4; i++) {
        p->b[4 + i] = (uint8_t)(l->ts >> (24 - 8 * i));
        p->b[8 + i] = (uint8_t)(l->ssrc >> (24 - 8 * i));
    }
    uint8_t *d = p->b + 12;
    d[0] = 0x90;
    d[1] = 0xc0;
    size_t n = 2;
    if (pid15) {
        d[n++] = (uint8_t)(0x80 | (l->pid >> 8));
        d[n++] = (uint8_t)l->pid;
    } else {
        d[n++] = (uint8_t)(l->pid & 0x7f);
    }
    d[n++] = l->tl0;
    uint8_t *tag = d + n;
    if (key) {
        tag[3] = 0x9d;
        tag[4] = 0x01;
        tag[5] = 0x2a;
    } else {
        tag[0] = 0x01;
    }
    assert_int_equal(tdm_rtp_parse(&p->v, p->b, 40, NULL, 0), 0);
}

/* Map one frame (one packet) of layer i and return what the subscriber gets, rewritten. */
static int frame(struct tdm_layersel *s, struct layer *l, int i, bool key, int64_t now,
                 struct tdm_rtp_vp8_desc *out_desc, struct tdm_layersel_out *o)
{
    struct pkt p;
    make(&p, l, key, true);
    int r = tdm_layersel_map(s, i, &p.v, key, now, 90000, o);
    l->seq++;
    l->pid = (uint16_t)((l->pid + 1) & 0x7fff);
    l->tl0++;
    l->ts += 3000;
    if (r == TDM_LAYERSEL_FORWARD) {
        uint8_t copy[40];
        memcpy(copy, p.b, sizeof copy);
        assert_int_equal(tdm_layersel_vp8_rewrite(copy + 12, 28, o->pid_off, o->tl0_off), 0);
        assert_int_equal(tdm_rtp_vp8_parse(out_desc, copy + 12, 28), 0);
    }
    return r;
}

static void continuous_across_switches(void **state)
{
    (void)state;
    struct layer l[2] = {{.ssrc = 0x1111, .seq = 100, .pid = 5000, .ts = 1000, .tl0 = 7},
                         {.ssrc = 0x2222, .seq = 60000, .pid = 0x7ffd, .ts = 777, .tl0 = 250}};
    struct tdm_layersel s;
    tdm_layersel_init(&s, 4000, 90000, true);
    struct tdm_layersel_out o;
    struct tdm_rtp_vp8_desc d;
    int64_t now = 0;
    uint16_t want_seq = 4000, want_pid = 0;
    uint8_t want_tl0 = 0;
    uint32_t last_ts = 0;
    for (int f = 0; f < 40; f++, now += 33333) {
        if (f == 10)
            tdm_layersel_set_target(&s, 1);
        if (f == 25)
            tdm_layersel_set_target(&s, 0);
        /* each frame on both layers, the lower first as a browser sends them; keyframes of
         * layer 1 at frame 14, of layer 0 at frame 0 and 30 */
        for (int i = 0; i < 2; i++) {
            bool key = (i == 0 && (f == 0 || f == 30)) || (i == 1 && f == 14);
            int r = frame(&s, &l[i], i, key, now, &d, &o);
            if (r != TDM_LAYERSEL_FORWARD)
                continue;
            if (f == 0) {
                want_pid = d.picture_id;
                want_tl0 = d.tl0picidx;
            } else {
                assert_true(tdm_rtp_ts_newer(o.ts, last_ts));
            }
            assert_int_equal(o.seq, want_seq);
            assert_int_equal(d.picture_id, want_pid);
            assert_int_equal(d.tl0picidx, want_tl0);
            want_seq++;
            want_pid = (uint16_t)((want_pid + 1) & 0x7fff);
            want_tl0++;
            last_ts = o.ts;
            /* layer 0 until the key of layer 1 (frame 14, after layer 0's frame 14); layer 1
             * until layer 0's key at 30 */
            assert_int_equal(i, (f > 14 && f < 30) ? 1 : f == 14 ? i : 0);
            assert_int_equal(o.switched, f == 0 || (f == 14 && i == 1) || f == 30);
        }
    }
    assert_int_equal(s.switches, 3);
    assert_int_equal(want_seq, 4000 + 40 + 1); /* frame 14 came from both layers */
}

static void waits_for_a_keyframe_and_pauses(void **state)
{
    (void)state;
    struct layer l = {.ssrc = 9, .seq = 65530, .pid = 0x7ffe, .ts = 0, .tl0 = 0};
    struct tdm_layersel s;
    tdm_layersel_init(&s, 10, 0, true);
    struct tdm_layersel_out o;
    struct tdm_rtp_vp8_desc d;
    assert_true(tdm_layersel_waiting(&s));
    assert_int_equal(frame(&s, &l, 0, false, 0, &d, &o), TDM_LAYERSEL_DROP); /* no key yet */
    assert_int_equal(frame(&s, &l, 0, true, 33333, &d, &o), TDM_LAYERSEL_FORWARD);
    assert_false(tdm_layersel_waiting(&s));
    assert_int_equal(o.seq, 10);
    uint16_t pid = d.picture_id;
    assert_int_equal(frame(&s, &l, 0, false, 66666, &d, &o), TDM_LAYERSEL_FORWARD);
    assert_int_equal(d.picture_id, (pid + 1) & 0x7fff); /* across the 15-bit wrap */
    tdm_layersel_set_target(&s, TDM_LAYERSEL_NONE);
    assert_false(tdm_layersel_waiting(&s));
    for (int i = 0; i < 5; i++)
        assert_int_equal(frame(&s, &l, 0, i == 2, 100000 + i * 33333, &d, &o), TDM_LAYERSEL_DROP);
    tdm_layersel_set_target(&s, 0);
    assert_int_equal(frame(&s, &l, 0, false, 300000, &d, &o), TDM_LAYERSEL_DROP);
    assert_int_equal(frame(&s, &l, 0, true, 333333, &d, &o), TDM_LAYERSEL_FORWARD);
    assert_int_equal(o.seq, 12);                        /* no gap for what was paused */
    assert_int_equal(d.picture_id, (pid + 2) & 0x7fff); /* nor in the picture ids */
}

static void rewrite_bounds_and_widths(void **state)
{
    (void)state;
    uint8_t d7[] = {0x90, 0x80, 0x7f, 0x00};
    assert_int_equal(tdm_layersel_vp8_rewrite(d7, sizeof d7, 3, 0), 0);
    assert_int_equal(d7[2], 2); /* 7-bit picture id wraps in 7 bits */
    uint8_t d15[] = {0x90, 0xc0, 0xff, 0xff, 0xfe, 0x00};
    assert_int_equal(tdm_layersel_vp8_rewrite(d15, sizeof d15, 1, 3), 0);
    assert_int_equal(d15[2], 0x80);
    assert_int_equal(d15[3], 0x00);
    assert_int_equal(d15[4], 0x01); /* TL0PICIDX wraps in 8 bits */
    uint8_t plain[] = {0x10, 0x00};
    assert_int_equal(tdm_layersel_vp8_rewrite(plain, sizeof plain, 7, 7), 0);
    assert_int_equal(plain[0], 0x10);
    for (size_t n = 0; n < 5; n++) {
        uint8_t t[] = {0x90, 0xc0, 0xff, 0xff, 0xfe};
        assert_int_equal(tdm_layersel_vp8_rewrite(t, n, 1, 1), TDM_ETRUNC);
    }
    struct tdm_layersel s;
    tdm_layersel_init(&s, 0, 0, false);
    struct pkt p;
    struct layer l = {.ssrc = 1};
    make(&p, &l, true, false);
    struct tdm_layersel_out o;
    assert_int_equal(tdm_layersel_map(&s, 0, &p.v, true, 0, 0, &o), TDM_EINVAL);
    tdm_layersel_set_target(&s, 7); /* out of range: no video */
    assert_int_equal(tdm_layersel_map(&s, 0, &p.v, true, 0, 90000, &o), TDM_LAYERSEL_DROP);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(continuous_across_switches),
        cmocka_unit_test(waits_for_a_keyframe_and_pauses),
        cmocka_unit_test(rewrite_bounds_and_widths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
