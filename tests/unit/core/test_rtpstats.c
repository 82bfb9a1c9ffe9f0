#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tandem/err.h"
#include "tandem/rtcp.h"
#include "tandem/rtpstats.h"

#define MS 1000

static void in_order_across_wrap(void **state)
{
    (void)state;
    struct tdm_rtpstats_rx s;
    struct tdm_rtcp_rb rb;
    tdm_rtpstats_rx_init(&s, 0xabc, 48000);
    assert_int_equal(tdm_rtpstats_rx_report(&s, 0, &rb), TDM_EAGAIN);
    for (int i = 0; i < 100; i++)
        assert_int_equal(tdm_rtpstats_rx_on_packet(&s, (uint16_t)(65500 + i),
                                                   0xffffff00u + 960u * (unsigned)i, i * 20 * MS,
                                                   100),
                         0);
    assert_int_equal(tdm_rtpstats_rx_report(&s, 2000 * MS, &rb), 0);
    assert_int_equal(rb.ssrc, 0xabc);
    assert_int_equal(rb.ext_highest_seq, 65536 + 63);
    assert_int_equal(rb.cumulative_lost, 0);
    assert_int_equal(rb.fraction_lost, 0);
    assert_int_equal(rb.jitter, 0); /* steady pacing, across the timestamp wrap too */
    assert_int_equal(rb.lsr, 0);
    assert_int_equal(rb.dlsr, 0);
}

static void loss_and_fraction_per_interval(void **state)
{
    (void)state;
    struct tdm_rtpstats_rx s;
    struct tdm_rtcp_rb rb;
    tdm_rtpstats_rx_init(&s, 1, 90000);
    assert_int_equal(tdm_rtpstats_rx_interval_expected(&s), 0);
    for (int i = 0; i < 100; i++)
        if (i % 4 != 1)
            tdm_rtpstats_rx_on_packet(&s, (uint16_t)i, 0, 0, 1);
    assert_int_equal(tdm_rtpstats_rx_interval_expected(&s), 100);
    assert_int_equal(tdm_rtpstats_rx_report(&s, 0, &rb), 0);
    assert_int_equal(tdm_rtpstats_rx_interval_expected(&s), 0);
    assert_int_equal(rb.cumulative_lost, 25);
    assert_int_equal(rb.fraction_lost, 64); /* 25 / 100 * 256 */
    for (int i = 100; i < 200; i++)
        if (i != 150)
            tdm_rtpstats_rx_on_packet(&s, (uint16_t)i, 0, 0, 1);
    assert_int_equal(tdm_rtpstats_rx_interval_expected(&s), 100);
    assert_int_equal(tdm_rtpstats_rx_report(&s, 0, &rb), 0);
    assert_int_equal(rb.cumulative_lost, 26);
    assert_int_equal(rb.fraction_lost, 2); /* 1 / 100 * 256 */
    /* A late packet (49 behind) arrives: counted, loss goes down. */
    assert_int_equal(tdm_rtpstats_rx_on_packet(&s, 150, 0, 0, 1), 0);
    assert_int_equal(tdm_rtpstats_rx_lost(&s), 25);
    assert_int_equal(tdm_rtpstats_rx_ext_highest(&s), 199);
    /* More than 100 behind looks like a restart (A.1), not a late packet. */
    assert_int_equal(tdm_rtpstats_rx_on_packet(&s, 1, 0, 0, 1), TDM_EAGAIN);
    /* Empty interval: nothing expected, fraction 0. */
    assert_int_equal(tdm_rtpstats_rx_report(&s, 0, &rb), 0);
    assert_int_equal(tdm_rtpstats_rx_report(&s, 0, &rb), 0);
    assert_int_equal(rb.fraction_lost, 0);
}

static void duplicates_make_loss_negative(void **state)
{
    (void)state;
    struct tdm_rtpstats_rx s;
    struct tdm_rtcp_rb rb;
    tdm_rtpstats_rx_init(&s, 1, 90000);
    for (int i = 0; i < 10; i++) {
        tdm_rtpstats_rx_on_packet(&s, (uint16_t)(7 + i), 0, 0, 1);
        tdm_rtpstats_rx_on_packet(&s, (uint16_t)(7 + i), 0, 0, 1);
    }
    assert_int_equal(tdm_rtpstats_rx_report(&s, 0, &rb), 0);
    assert_int_equal(rb.cumulative_lost, -10);
    assert_int_equal(rb.fraction_lost, 0);
}

static void big_jump_restarts_after_confirmation(void **state)
{
    (void)state;
    struct tdm_rtpstats_rx s;
    tdm_rtpstats_rx_init(&s, 1, 90000);
    for (int i = 0; i < 10; i++)
        tdm_rtpstats_rx_on_packet(&s, (uint16_t)i, 0, 0, 1);
    assert_int_equal(tdm_rtpstats_rx_on_packet(&s, 20000, 0, 0, 1), TDM_EAGAIN);
    assert_int_equal(tdm_rtpstats_rx_ext_highest(&s), 9);
    assert_int_equal(tdm_rtpstats_rx_on_packet(&s, 10, 0, 0, 1), 0); /* back to normal */
    assert_int_equal(tdm_rtpstats_rx_on_packet(&s, 30000, 0, 0, 1), TDM_EAGAIN);
    assert_int_equal(tdm_rtpstats_rx_on_packet(&s, 30001, 0, 0, 1), 0);
    assert_int_equal(tdm_rtpstats_rx_ext_highest(&s), 30001);
    assert_int_equal(tdm_rtpstats_rx_lost(&s), 0);
    /* A gap under 3000 is ordinary loss. */
    assert_int_equal(tdm_rtpstats_rx_on_packet(&s, 32000, 0, 0, 1), 0);
    assert_int_equal(tdm_rtpstats_rx_lost(&s), 1998);
}

/* Reference: RFC 3550 §6.4.1 in floating point, J += (|D| - J) / 16. */
static void jitter_matches_reference(void **state)
{
    (void)state;
    struct tdm_rtpstats_rx s;
    tdm_rtpstats_rx_init(&s, 1, 90000);
    double j = 0;
    int64_t prev_transit = 0;
    uint32_t rng = 99;
    int64_t base = 1000000000000000LL; /* a large monotonic clock value */
    for (int i = 0; i < 2000; i++) {
        rng = rng * 1103515245u + 12345u;
        int64_t delay_us = (int64_t)((rng >> 16) % 30000); /* network delay 0..30 ms */
        int64_t send_us = i * 33333LL;
        uint32_t ts = 0xfff00000u + (uint32_t)(send_us * 90 / 1000);
        int64_t now = base + send_us + delay_us;
        tdm_rtpstats_rx_on_packet(&s, (uint16_t)(65000 + i), ts, now, 1);
        int64_t transit = (now - base) * 90 / 1000 - send_us * 90 / 1000;
        if (i > 0) {
            double d = (double)llabs(transit - prev_transit);
            j += (d - j) / 16;
        }
        prev_transit = transit;
    }
    double got = tdm_rtpstats_rx_jitter(&s);
    assert_true(got > 100);
    assert_true(got > j - 3 && got < j + 3);
}

static void reordered_packets_leave_jitter_alone(void **state)
{
    (void)state;
    struct tdm_rtpstats_rx s;
    tdm_rtpstats_rx_init(&s, 1, 48000);
    tdm_rtpstats_rx_on_packet(&s, 1, 0, 0, 1);
    tdm_rtpstats_rx_on_packet(&s, 3, 1920, 40 * MS, 1);
    tdm_rtpstats_rx_on_packet(&s, 2, 960, 90 * MS, 1); /* 70 ms late */
    assert_int_equal(tdm_rtpstats_rx_jitter(&s), 0);
    tdm_rtpstats_rx_on_packet(&s, 4, 2880, 70 * MS, 1); /* 10 ms late: 480 ticks */
    assert_int_equal(tdm_rtpstats_rx_jitter(&s), 30);
}

static void lsr_and_dlsr(void **state)
{
    (void)state;
    struct tdm_rtpstats_rx s;
    struct tdm_rtcp_rb rb;
    tdm_rtpstats_rx_init(&s, 1, 90000);
    tdm_rtpstats_rx_on_packet(&s, 1, 0, 0, 1);
    tdm_rtpstats_rx_on_sr(&s, 0x0001000200030004ull, 1000 * MS);
    assert_int_equal(tdm_rtpstats_rx_report(&s, 1500 * MS, &rb), 0);
    assert_int_equal(rb.lsr, 0x00020003);
    assert_int_equal(rb.dlsr, 32768);
    assert_int_equal(tdm_rtpstats_rx_report(&s, 900 * MS, &rb), 0); /* clock went back */
    assert_int_equal(rb.dlsr, 0);
}

static void ntp_conversion(void **state)
{
    (void)state;
    assert_true(tdm_rtpstats_ntp_from_wall_us(0) == 2208988800ull << 32);
    assert_true(tdm_rtpstats_ntp_from_wall_us(1500000) == ((2208988801ull << 32) | 0x80000000u));
    assert_true(tdm_rtpstats_ntp_from_wall_us(-500000) == ((2208988799ull << 32) | 0x80000000u));
    assert_int_equal(tdm_rtpstats_ntp_mid32(0x1122334455667788ull), 0x33445566);
    /* 2036-02-07 06:28:16 UTC is where the 32-bit NTP seconds field wraps (era 1). */
    uint64_t era1 = tdm_rtpstats_ntp_from_wall_us(2085978496LL * 1000000);
    assert_int_equal((uint32_t)(era1 >> 32), 0);
}

static void sender_report_pair(void **state)
{
    (void)state;
    struct tdm_rtpstats_tx s;
    struct tdm_rtcp_sr sr;
    tdm_rtpstats_tx_init(&s, 0x5151, 90000);
    assert_int_equal(tdm_rtpstats_tx_sr(&s, 0, 0, &sr), TDM_EAGAIN);
    tdm_rtpstats_tx_on_packet(&s, 0xffffff00u, 1000, 1000 * MS);
    tdm_rtpstats_tx_on_packet(&s, 0xffffff00u, 1000, 1001 * MS);       /* same frame */
    tdm_rtpstats_tx_on_packet(&s, 0xffffff00u - 3000, 500, 1002 * MS); /* older: ignored */
    int64_t wall = 1700000000LL * 1000000 + 250000;
    assert_int_equal(tdm_rtpstats_tx_sr(&s, wall, 1500 * MS, &sr), 0);
    assert_int_equal(sr.ssrc, 0x5151);
    assert_int_equal(sr.packet_count, 3);
    assert_int_equal(sr.octet_count, 2500);
    assert_true(sr.ntp == tdm_rtpstats_ntp_from_wall_us(wall));
    assert_int_equal(sr.rtp_ts, (uint32_t)(0xffffff00u + 45000)); /* wraps past 2^32 */
    assert_int_equal(sr.nblocks, 0);
    /* Clock going backwards does not move the timestamp back. */
    assert_int_equal(tdm_rtpstats_tx_sr(&s, wall, 900 * MS, &sr), 0);
    assert_int_equal(sr.rtp_ts, 0xffffff00u);
}

static void rtt_from_returning_block(void **state)
{
    (void)state;
    struct tdm_rtpstats_tx s;
    struct tdm_rtcp_sr sr;
    struct tdm_rtcp_rb rb = {0};
    int64_t rtt = -1;
    tdm_rtpstats_tx_init(&s, 1, 48000);
    tdm_rtpstats_tx_on_packet(&s, 0, 100, 0);
    int64_t wall = 1700000000LL * 1000000;
    assert_int_equal(tdm_rtpstats_tx_sr(&s, wall, 1000 * MS, &sr), 0);
    rb.lsr = tdm_rtpstats_ntp_mid32(sr.ntp);
    rb.dlsr = 6554; /* 100 ms at the receiver */
    assert_int_equal(tdm_rtpstats_tx_rtt(&s, &rb, 1300 * MS, &rtt), 0);
    assert_true(rtt > 199 * MS && rtt < 201 * MS);
    /* Several SRs later the first one is still matched. */
    for (int i = 1; i < TDM_RTPSTATS_SR_MEMORY; i++)
        tdm_rtpstats_tx_sr(&s, wall + i * 1000000LL, 1000 * MS + i, &sr);
    assert_int_equal(tdm_rtpstats_tx_rtt(&s, &rb, 1300 * MS, &rtt), 0);
    tdm_rtpstats_tx_sr(&s, wall + 100000000LL, 2000 * MS, &sr);
    assert_int_equal(tdm_rtpstats_tx_rtt(&s, &rb, 1300 * MS, &rtt), TDM_ENOTFOUND);
    rb.lsr = 0;
    assert_int_equal(tdm_rtpstats_tx_rtt(&s, &rb, 1300 * MS, &rtt), TDM_EAGAIN);
    /* DLSR larger than the elapsed time gives 0, not a negative RTT. */
    rb.lsr = tdm_rtpstats_ntp_mid32(sr.ntp);
    rb.dlsr = 65536 * 10;
    assert_int_equal(tdm_rtpstats_tx_rtt(&s, &rb, 2100 * MS, &rtt), 0);
    assert_int_equal(rtt, 0);
}

static void report_block_round_trips_through_rr(void **state)
{
    (void)state;
    struct tdm_rtpstats_rx s;
    struct tdm_rtcp_rb rb, back;
    tdm_rtpstats_rx_init(&s, 0x1234, 90000);
    for (int i = 0; i < 50; i++)
        if (i != 10)
            tdm_rtpstats_rx_on_packet(&s, (uint16_t)(65530 + i), (uint32_t)i * 3000, i * 33 * MS,
                                      1000);
    tdm_rtpstats_rx_on_sr(&s, tdm_rtpstats_ntp_from_wall_us(1700000000LL * 1000000), 1000 * MS);
    assert_int_equal(tdm_rtpstats_rx_report(&s, 1250 * MS, &rb), 0);
    uint8_t out[64];
    int n = tdm_rtcp_build_rr(out, sizeof out, 0x9999, &rb, 1);
    assert_int_equal(n, 32);
    struct tdm_rtcp_iter it;
    struct tdm_rtcp_pkt pkt;
    uint32_t ssrc;
    tdm_rtcp_iter_init(&it, out, (size_t)n);
    assert_int_equal(tdm_rtcp_iter_next(&it, &pkt, NULL, 0), 1);
    assert_int_equal(tdm_rtcp_parse_rr(&pkt, &ssrc), 1);
    assert_int_equal(tdm_rtcp_report_block(&pkt, 0, &back), 0);
    assert_int_equal(back.ssrc, 0x1234);
    assert_int_equal(back.cumulative_lost, 1);
    assert_int_equal(back.fraction_lost, 5); /* 1/50 * 256 */
    assert_int_equal(back.ext_highest_seq, 65536 + 43);
    assert_int_equal(back.dlsr, 16384);
    assert_int_equal(back.lsr, rb.lsr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(in_order_across_wrap),
        cmocka_unit_test(loss_and_fraction_per_interval),
        cmocka_unit_test(duplicates_make_loss_negative),
        cmocka_unit_test(big_jump_restarts_after_confirmation),
        cmocka_unit_test(jitter_matches_reference),
        cmocka_unit_test(reordered_packets_leave_jitter_alone),
        cmocka_unit_test(lsr_and_dlsr),
        cmocka_unit_test(ntp_conversion),
        cmocka_unit_test(sender_report_pair),
        cmocka_unit_test(rtt_from_returning_block),
        cmocka_unit_test(report_block_round_trips_through_rr),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
