#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "tandem/err.h"
#include "tandem/forward.h"
#include "tandem/rtp.h"
#include "tandem/seqmap.h"

/* Chromium's offer numbers its extensions audio-level 1, abs-send-time 2, transport-cc 3,
 * mid 4 (tests/data/sdp/chromium-offer-av.sdp); the server's offers to subscribers number
 * them mid 1, audio-level 2, abs-send-time 3, transport-cc 4 (sdp_offer.c). */
static void chromium_ids(uint8_t ids[TDM_SDP_EXT_COUNT])
{
    memset(ids, 0, TDM_SDP_EXT_COUNT);
    ids[TDM_SDP_EXT_AUDIO_LEVEL] = 1;
    ids[TDM_SDP_EXT_ABS_SEND_TIME] = 2;
    ids[TDM_SDP_EXT_TWCC] = 3;
    ids[TDM_SDP_EXT_MID] = 4;
}

static void server_ids(uint8_t ids[TDM_SDP_EXT_COUNT])
{
    memset(ids, 0, TDM_SDP_EXT_COUNT);
    ids[TDM_SDP_EXT_MID] = 1;
    ids[TDM_SDP_EXT_AUDIO_LEVEL] = 2;
    ids[TDM_SDP_EXT_ABS_SEND_TIME] = 3;
    ids[TDM_SDP_EXT_TWCC] = 4;
}

/* An Opus packet as Chromium sends it: one-byte extensions audio-level (id 1, 1 byte),
 * abs-send-time (id 2, 3 bytes), mid (id 4, "0"), padded to 8 bytes; 4 payload bytes. */
static size_t audio_packet(uint8_t *p)
{
    static const uint8_t pkt[] = {
        0x90, 0x6f, 0x12, 0x34, 0x00, 0x00, 0x10, 0x00, 0xca, 0xfe, 0xba, 0xbe, /* header */
        0xbe, 0xde, 0x00, 0x02,                                                 /* 2 words */
        0x10, 0x85, 0x22, 0x01, 0x02, 0x03, 0x40, '0',                          /* elements */
        0xde, 0xad, 0xbe, 0xef,                                                 /* payload */
    };
    memcpy(p, pkt, sizeof pkt);
    return sizeof pkt;
}

static void extmap_renames_and_neutralises(void **state)
{
    (void)state;
    uint8_t in[TDM_SDP_EXT_COUNT], out[TDM_SDP_EXT_COUNT];
    chromium_ids(in);
    server_ids(out);
    struct tdm_fwd_extmap m;
    assert_int_equal(tdm_fwd_extmap_build(&m, in, out), 0);
    assert_false(m.identity);
    assert_int_equal(m.map[1], 2); /* audio level keeps its meaning */
    assert_int_equal(m.map[2], 3); /* abs-send-time */
    assert_int_equal(m.map[3], 4); /* transport-cc */
    assert_int_equal(m.map[4], 5); /* mid: the subscriber's mid differs, renamed to unused 5 */
    assert_int_equal(m.map[9], 5); /* anything else too */
}

static void extmap_identity_when_ids_agree(void **state)
{
    (void)state;
    uint8_t in[TDM_SDP_EXT_COUNT] = {0}, out[TDM_SDP_EXT_COUNT] = {0};
    in[TDM_SDP_EXT_AUDIO_LEVEL] = out[TDM_SDP_EXT_AUDIO_LEVEL] = 1;
    in[TDM_SDP_EXT_ABS_SEND_TIME] = out[TDM_SDP_EXT_ABS_SEND_TIME] = 2;
    struct tdm_fwd_extmap m;
    assert_int_equal(tdm_fwd_extmap_build(&m, in, out), 0);
    assert_true(m.identity);
    /* A mid on both sides under one id is still renamed: the value would be wrong. */
    in[TDM_SDP_EXT_MID] = out[TDM_SDP_EXT_MID] = 3;
    assert_int_equal(tdm_fwd_extmap_build(&m, in, out), 0);
    assert_false(m.identity);
    assert_int_equal(m.map[3], 4);
}

static void extmap_drops_what_subscriber_lacks(void **state)
{
    (void)state;
    uint8_t in[TDM_SDP_EXT_COUNT], out[TDM_SDP_EXT_COUNT] = {0};
    chromium_ids(in);
    out[TDM_SDP_EXT_ABS_SEND_TIME] = 1; /* the subscriber took only abs-send-time, as 1 */
    struct tdm_fwd_extmap m;
    assert_int_equal(tdm_fwd_extmap_build(&m, in, out), 0);
    assert_int_equal(m.map[2], 1);
    assert_int_equal(m.map[1], 2); /* audio level -> lowest unused id, 2: ignored there */
    assert_int_equal(m.map[4], 2);
}

static void rewrite_sets_fields_and_keeps_values(void **state)
{
    (void)state;
    uint8_t in[64], out[64];
    size_t len = audio_packet(in);
    struct tdm_rtp_view v, w;
    assert_int_equal(tdm_rtp_parse(&v, in, len, NULL, 0), 0);
    uint8_t pub[TDM_SDP_EXT_COUNT], sub[TDM_SDP_EXT_COUNT];
    chromium_ids(pub);
    server_ids(sub);
    struct tdm_fwd_extmap m;
    assert_int_equal(tdm_fwd_extmap_build(&m, pub, sub), 0);
    struct tdm_fwd_out o = {
        .ssrc = 0x01020304, .seq = 65535, .ts = 0xfffffff0, .pt = 109, .extmap = &m};
    assert_int_equal(tdm_fwd_rewrite(out, sizeof out, &v, &o), (int)len);
    assert_int_equal(tdm_rtp_parse(&w, out, len, NULL, 0), 0);
    assert_int_equal(w.ssrc, 0x01020304);
    assert_int_equal(w.seq, 65535);
    assert_int_equal(w.ts, 0xfffffff0);
    assert_int_equal(w.pt, 109);
    assert_false(w.marker);
    uint8_t level;
    bool voice;
    assert_int_equal(tdm_rtp_ext_audio_level(&w, 2, &level, &voice), 0);
    assert_int_equal(level, 5);
    assert_true(voice);
    size_t off, elen;
    assert_int_equal(tdm_rtp_ext_find(&w, 3, &off, &elen), 0); /* abs-send-time, as it came */
    assert_int_equal(elen, 3);
    assert_memory_equal(out + off, "\x01\x02\x03", 3);
    char mid[8];
    assert_int_equal(tdm_rtp_ext_mid(&w, 1, mid, sizeof mid), TDM_ENOTFOUND);
    assert_memory_equal(out + w.payload_off, "\xde\xad\xbe\xef", 4);
    assert_int_equal(in[1], 0x6f);
}

static void rewrite_keeps_marker_and_refuses_small_buffer(void **state)
{
    (void)state;
    uint8_t in[64], out[64];
    size_t len = audio_packet(in);
    in[1] |= 0x80;
    struct tdm_rtp_view v;
    assert_int_equal(tdm_rtp_parse(&v, in, len, NULL, 0), 0);
    struct tdm_fwd_out o = {.ssrc = 1, .seq = 2, .ts = 3, .pt = 96, .extmap = NULL};
    assert_int_equal(tdm_fwd_rewrite(out, len - 1, &v, &o), TDM_ETOOBIG);
    assert_int_equal(tdm_fwd_rewrite(out, sizeof out, &v, &o), (int)len);
    assert_int_equal(out[1], 0x80 | 96);
    assert_memory_equal(out + 12, in + 12, len - 12); /* no map: extensions as they were */
}

static void remap_two_byte_form(void **state)
{
    (void)state;
    uint8_t p[] = {0x90, 0x60, 0,    1,    0,    0,   0,    1,    0,    0,    0,    1,   0x10,
                   0x00, 0x00, 0x02, 0x04, 0x01, '0', 0x02, 0x00, 0x00, 0x00, 0x00, 0xaa};
    struct tdm_rtp_view v;
    assert_int_equal(tdm_rtp_parse(&v, p, sizeof p, NULL, 0), 0);
    assert_int_equal(v.ext_form, TDM_RTP_EXT_TWO_BYTE);
    struct tdm_fwd_extmap m;
    memset(&m, 0, sizeof m);
    for (int i = 1; i < 256; i++)
        m.map[i] = 7;
    m.map[2] = 9;
    assert_int_equal(tdm_fwd_remap_ext(p, sizeof p, &v, &m), 0);
    assert_int_equal(p[16], 7);    /* id 4 (mid) renamed */
    assert_int_equal(p[19], 9);    /* id 2 mapped, zero-length element */
    assert_int_equal(p[18], '0');  /* data untouched */
    assert_int_equal(p[20], 0x00); /* padding untouched */
}

static void remap_stops_at_malformed_element(void **state)
{
    (void)state;
    uint8_t p[64];
    size_t len = audio_packet(p);
    struct tdm_rtp_view v;
    assert_int_equal(tdm_rtp_parse(&v, p, len, NULL, 0), 0);
    struct tdm_fwd_extmap m;
    memset(&m, 0, sizeof m);
    for (int i = 1; i < 256; i++)
        m.map[i] = 3;
    /* After parsing, the second element's length grows past the block. */
    p[18] = 0x2f;
    assert_int_equal(tdm_fwd_remap_ext(p, len, &v, &m), TDM_EINVAL);
    assert_int_equal(p[16] >> 4, 3); /* the first one was renamed before the bad one */
    assert_int_equal(p[18], 0x2f);
    /* id 15 ends the block (RFC 8285 §4.2): nothing after it is touched. */
    len = audio_packet(p);
    p[16] = 0xf0;
    assert_int_equal(tdm_fwd_remap_ext(p, len, &v, &m), 0);
    assert_int_equal(p[18], 0x22);
}

/* A subscriber id over 14 (possible in the two-byte form) cannot be written into a one-byte
 * element: it becomes the neutral id, never 15 (which ends the block) or 0 (padding). Found
 * by fuzz_forward. */
static void remap_one_byte_never_writes_big_ids(void **state)
{
    (void)state;
    uint8_t in[TDM_SDP_EXT_COUNT] = {0}, out[TDM_SDP_EXT_COUNT] = {0};
    in[TDM_SDP_EXT_AUDIO_LEVEL] = 1;
    out[TDM_SDP_EXT_AUDIO_LEVEL] = 96;
    struct tdm_fwd_extmap m;
    assert_int_equal(tdm_fwd_extmap_build(&m, in, out), 0);
    uint8_t p[64];
    size_t len = audio_packet(p);
    struct tdm_rtp_view v, w;
    assert_int_equal(tdm_rtp_parse(&v, p, len, NULL, 0), 0);
    assert_int_equal(tdm_fwd_remap_ext(p, len, &v, &m), 0);
    assert_int_equal(p[16] >> 4, m.neutral);
    assert_int_equal(tdm_rtp_parse(&w, p, len, NULL, 0), 0);
    assert_int_equal(w.payload_len, 4);
}

/* A publisher's stream with a loss, forwarded through seqmap and rewrite at virtual time: the
 * subscriber sees its own SSRC and a continuous numbering with the same gap. */
static void forward_steps_through_loss(void **state)
{
    (void)state;
    struct tdm_seqmap sm;
    tdm_seqmap_init(&sm, 1000, 5000);
    uint8_t in[64], out[64];
    size_t len = audio_packet(in);
    uint16_t expect[] = {1000, 1001, 1003, 1004};
    uint16_t seqs[] = {0x1234, 0x1235, 0x1237, 0x1238};
    for (size_t i = 0; i < 4; i++) {
        in[2] = (uint8_t)(seqs[i] >> 8);
        in[3] = (uint8_t)seqs[i];
        uint32_t ts = 0x1000 + 960 * (uint32_t)(seqs[i] - 0x1234);
        in[4] = (uint8_t)(ts >> 24), in[5] = (uint8_t)(ts >> 16);
        in[6] = (uint8_t)(ts >> 8), in[7] = (uint8_t)ts;
        struct tdm_rtp_view v, w;
        assert_int_equal(tdm_rtp_parse(&v, in, len, NULL, 0), 0);
        struct tdm_fwd_out o = {.ssrc = 42, .pt = 111};
        assert_int_equal(
            tdm_seqmap_map(&sm, v.ssrc, v.seq, v.ts, (int64_t)i * 20000, 48000, &o.seq, &o.ts),
            TDM_SEQMAP_FORWARD);
        assert_int_equal(tdm_fwd_rewrite(out, sizeof out, &v, &o), (int)len);
        assert_int_equal(tdm_rtp_parse(&w, out, len, NULL, 0), 0);
        assert_int_equal(w.seq, expect[i]);
        assert_int_equal(w.ts - 5000, ts - 0x1000);
        assert_int_equal(w.ssrc, 42);
    }
}

static void remb_target_rules(void **state)
{
    (void)state;
    const uint64_t floor = 100000, cap = 2000000;
    assert_int_equal(tdm_fwd_remb_target(NULL, 0, floor, cap), cap);
    struct tdm_fwd_remb_in in[3] = {
        {.remb_bps = 0, .video_streams = 1, .rate_bps = 500000},        /* no report yet */
        {.remb_bps = 3000000, .video_streams = 2, .rate_bps = 1600000}, /* congested */
        {.remb_bps = 5000000, .video_streams = 1, .rate_bps = 600000},  /* fine */
    };
    assert_int_equal(tdm_fwd_remb_target(in, 3, floor, cap), 1500000);
    in[1].remb_bps = 90000; /* a struggling subscriber: the floor, not less */
    assert_int_equal(tdm_fwd_remb_target(in, 3, floor, cap), floor);
    in[1].video_streams = 0; /* treated as one */
    in[1].remb_bps = 800000;
    assert_int_equal(tdm_fwd_remb_target(in, 3, floor, cap), 800000);
    in[1].remb_bps = 0;
    assert_int_equal(tdm_fwd_remb_target(in, 2, floor, cap), cap);
}

/* A receiver that has not climbed yet (REMB just above what it receives, as Chromium's
 * receive-side estimate starts) does not hold the publisher back; one whose estimate fell
 * below its incoming rate (congestion) does. */
static void remb_ignores_receivers_still_climbing(void **state)
{
    (void)state;
    struct tdm_fwd_remb_in in = {.remb_bps = 360000, .video_streams = 1, .rate_bps = 300000};
    assert_int_equal(tdm_fwd_remb_target(&in, 1, 150000, 2000000), 2000000);
    in.remb_bps = 290000; /* within 5 % of the incoming rate: noise, not congestion */
    assert_int_equal(tdm_fwd_remb_target(&in, 1, 150000, 2000000), 2000000);
    in.remb_bps = 255000; /* 0.85 x incoming: the AIMD decrease */
    assert_int_equal(tdm_fwd_remb_target(&in, 1, 150000, 2000000), 255000);
    in.rate_bps = 0; /* nothing measured yet (or nothing sent): no evidence of congestion */
    assert_int_equal(tdm_fwd_remb_target(&in, 1, 150000, 2000000), 2000000);
}

/* The loss-based estimate: cut on heavy loss from what was sent, grow slowly on a clean
 * line, hold in between, let go once it passes the cap. */
static void loss_estimate_rules(void **state)
{
    (void)state;
    const uint64_t cap = 2000000;
    /* no loss and nothing known: no limit */
    assert_int_equal(tdm_fwd_loss_estimate(0, 640000, 0, cap), 0);
    /* 50 % lost (128/256): a quarter off what was sent */
    uint64_t e = tdm_fwd_loss_estimate(0, 640000, 128, cap);
    assert_int_equal(e, 640000 / 512 * 384);
    /* still losing: cut again, from the estimate when it is below the rate sent */
    uint64_t e2 = tdm_fwd_loss_estimate(e, 640000, 128, cap);
    assert_true(e2 < e);
    /* 5 % lost (13/256): held */
    assert_int_equal(tdm_fwd_loss_estimate(e2, 300000, 13, cap), e2);
    /* clean (1/256): 5 % up */
    assert_int_equal(tdm_fwd_loss_estimate(100000, 100000, 1, cap), 100000 + 5000 + 1);
    /* past the cap: no longer a limit */
    assert_int_equal(tdm_fwd_loss_estimate(1950000, 1900000, 0, cap), 0);
    /* total loss with nothing sent and nothing known: nothing to cut from */
    assert_int_equal(tdm_fwd_loss_estimate(0, 0, 255, cap), 0);
    /* total loss: never 0 (0 means "no limit") */
    assert_true(tdm_fwd_loss_estimate(1, 0, 255, cap) >= 1);
}

/* What an audio publisher is told: the worst loss at once, bounded, falling slowly. */
static void audio_loss_rules(void **state)
{
    (void)state;
    assert_int_equal(tdm_fwd_audio_loss(0, 0), 0);
    /* a listener losing 5 % (13/256): said at once */
    assert_int_equal(tdm_fwd_audio_loss(0, 13), 13);
    /* a listener losing 60 %: bounded */
    assert_int_equal(tdm_fwd_audio_loss(13, 154), TDM_FWD_AUDIO_LOSS_MAX);
    assert_int_equal(tdm_fwd_audio_loss(200, 0),
                     TDM_FWD_AUDIO_LOSS_MAX - TDM_FWD_AUDIO_LOSS_MAX / 4);
    /* the loss went away: a quarter less per report, never below the target, down to 0 */
    uint8_t h = 40;
    int reports = 0;
    while (h > 0 && reports < 100) {
        uint8_t next = tdm_fwd_audio_loss(h, 0);
        assert_true(next < h);
        assert_true(next >= h - h / 4 - 1);
        h = next;
        reports++;
    }
    assert_int_equal(h, 0);
    assert_true(reports > 5 && reports < 20);
    assert_int_equal(tdm_fwd_audio_loss(40, 35), 35);
}

/* The active speaker's loudness: a DTX pause fades a voice as fast as the same silence
 * sent in full, not 20 times slower for the 20 times fewer packets. */
static void level_fades_in_time(void **state)
{
    (void)state;
    uint16_t full = 0, dtx = 0;
    uint32_t ts = 1000;
    for (int i = 0; i < 100; i++, ts += 960) /* two seconds of speech at -30 dBov */
        full = dtx = tdm_fwd_level_ema(full, 30, true, i ? 960 : 0, 48000);
    assert_true(full > 1400 && full <= 97 * 16);
    /* one second of silence: 50 packets, or with DTX 10 frames of hangover, then one packet
     * per 400 ms (Opus's comfort noise) and the first DTX frame after each */
    for (int i = 0; i < 50; i++)
        full = tdm_fwd_level_ema(full, 127, false, 960, 48000);
    for (int i = 0; i < 10; i++)
        dtx = tdm_fwd_level_ema(dtx, 127, false, 960, 48000);
    dtx = tdm_fwd_level_ema(dtx, 127, false, 20 * 960, 48000);
    dtx = tdm_fwd_level_ema(dtx, 127, false, 960, 48000);
    dtx = tdm_fwd_level_ema(dtx, 127, false, 19 * 960, 48000);
    assert_true(full < 100);
    assert_int_equal(dtx, full);
    /* 10 ms packets: one step each, as before */
    assert_int_equal(tdm_fwd_level_ema(1600, 0, true, 480, 48000), 1600 + (127 * 16 - 1600) / 16);
    /* a packet from the past counts as one frame; a wild jump ahead as at most 64 */
    assert_int_equal(tdm_fwd_level_ema(1600, 127, false, (uint32_t)-960, 48000), 1500);
    uint16_t far = tdm_fwd_level_ema(1600, 127, false, 48000 * 600, 48000);
    assert_int_equal(far, tdm_fwd_level_ema(1600, 127, false, 64 * 960, 48000));
    assert_true(far < 1600 / 32);
    /* a clock the SDP did not give (0): no division by zero */
    (void)tdm_fwd_level_ema(1600, 10, true, 960, 0);
}

/* A voice's charge: what it carried while speaking stays through a DTX pause, fading. */
static void voice_charge_holds(void **state)
{
    (void)state;
    uint64_t held = 0;
    for (int i = 0; i < 10; i++) /* speaking: 40 kbit/s on the wire */
        held = tdm_fwd_voice_hold(held, 40000);
    assert_int_equal(held, 40000);
    /* a pause of 5 s (ten measurements) at 3 kbit/s: most of the share kept */
    for (int i = 0; i < 10; i++)
        held = tdm_fwd_voice_hold(held, 3000);
    assert_true(held > 34000 && held < 40000);
    /* louder again: at once */
    assert_int_equal(tdm_fwd_voice_hold(held, 45000), 45000);
    /* a listener silent for two minutes: next to what the pause sends */
    for (int i = 0; i < 240; i++)
        held = tdm_fwd_voice_hold(held, 3000);
    assert_true(held < 4000);
    /* charged: the rate while talking, the held figure in a pause */
    assert_int_equal(tdm_fwd_voice_charge(40000, 39000), 39000);
    assert_int_equal(tdm_fwd_voice_charge(40000, 3000), 40000);
}

/* A voice's loss is the share of its time lost: a DTX pause's few packets weigh little. */
static void voice_loss_in_time(void **state)
{
    (void)state;
    /* 50 packets a second, one lost: as reported, over any interval */
    assert_int_equal(tdm_fwd_voice_loss(5, 50, 1000000), 5);
    assert_int_equal(tdm_fwd_voice_loss(10, 25, 500000), 10);
    /* 10 ms packets: more packets than frames, as reported */
    assert_int_equal(tdm_fwd_voice_loss(3, 100, 1000000), 3);
    /* a DTX pause: 1 of 5 in a second (20 %, 51/256) is 2 % of the time */
    assert_int_equal(tdm_fwd_voice_loss(51, 5, 1000000), 5);
    /* all 12 packets of 5 s lost: 12 frames of 250 */
    assert_int_equal(tdm_fwd_voice_loss(255, 12, 5000000), 12);
    /* nothing expected: nothing lost; unknown interval: as reported */
    assert_int_equal(tdm_fwd_voice_loss(0, 0, 1000000), 0);
    assert_int_equal(tdm_fwd_voice_loss(255, 0, 1000000), 0);
    assert_int_equal(tdm_fwd_voice_loss(51, 5, 0), 51);
    assert_int_equal(tdm_fwd_voice_loss(51, 5, -3), 51);
}

/* The resend budget: a full burst at first, then a quarter of the rate (or the floor). */
static void resend_budget(void **state)
{
    (void)state;
    struct tdm_fwd_budget b = {0};
    int64_t now = 1000000;
    size_t sent = 0;
    while (tdm_fwd_budget_take(&b, 1000, 800000, now) && sent < 100000)
        sent += 1000;
    assert_int_equal(sent, 32000); /* the burst */
    /* one second later at 800 kbit/s: 200 kbit/s of resends = 25000 bytes */
    now += 1000000;
    sent = 0;
    while (tdm_fwd_budget_take(&b, 1000, 800000, now) && sent < 100000)
        sent += 1000;
    assert_int_equal(sent, 25000);
    /* nothing sent to this line recently: the 64 kbit/s floor, 8000 bytes a second */
    now += 1000000;
    sent = 0;
    while (tdm_fwd_budget_take(&b, 1000, 0, now) && sent < 100000)
        sent += 1000;
    assert_int_equal(sent, 8000);
    /* time going backwards (a clock step) refills nothing and breaks nothing */
    assert_false(tdm_fwd_budget_take(&b, 1000, 800000, now - 5000000));
    /* a long idle refills to the burst only */
    now += 3600LL * 1000000;
    sent = 0;
    while (tdm_fwd_budget_take(&b, 1000, 800000, now) && sent < 100000)
        sent += 1000;
    assert_int_equal(sent, 32000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(extmap_renames_and_neutralises),
        cmocka_unit_test(extmap_identity_when_ids_agree),
        cmocka_unit_test(extmap_drops_what_subscriber_lacks),
        cmocka_unit_test(rewrite_sets_fields_and_keeps_values),
        cmocka_unit_test(rewrite_keeps_marker_and_refuses_small_buffer),
        cmocka_unit_test(remap_two_byte_form),
        cmocka_unit_test(remap_stops_at_malformed_element),
        cmocka_unit_test(remap_one_byte_never_writes_big_ids),
        cmocka_unit_test(forward_steps_through_loss),
        cmocka_unit_test(remb_target_rules),
        cmocka_unit_test(remb_ignores_receivers_still_climbing),
        cmocka_unit_test(loss_estimate_rules),
        cmocka_unit_test(audio_loss_rules),
        cmocka_unit_test(level_fades_in_time),
        cmocka_unit_test(voice_charge_holds),
        cmocka_unit_test(voice_loss_in_time),
        cmocka_unit_test(resend_budget),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
