#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "tandem/demux.h"

static enum tdm_demux_kind first(uint8_t b0, uint8_t b1, size_t len)
{
    uint8_t buf[64] = {0};
    buf[0] = b0;
    buf[1] = b1;
    return tdm_demux_classify(buf, len);
}

static void ranges_of_rfc7983(void **state)
{
    (void)state;
    for (int b = 0; b < 256; b++) {
        enum tdm_demux_kind want = TDM_DEMUX_DROP;
        if (b <= 3)
            want = TDM_DEMUX_STUN;
        else if (b >= 20 && b <= 63)
            want = TDM_DEMUX_DTLS;
        else if (b >= 128 && b <= 191)
            want = TDM_DEMUX_RTP;
        assert_int_equal(first((uint8_t)b, 96, 64), want);
    }
    /* ZRTP (16..19), TURN channels (64..79) and QUIC-looking bytes are not ours. */
    assert_int_equal(first(16, 0, 64), TDM_DEMUX_DROP);
    assert_int_equal(first(64, 0, 64), TDM_DEMUX_DROP);
    assert_int_equal(first(0xC3, 0, 64), TDM_DEMUX_DROP);
}

static void rtcp_by_packet_type(void **state)
{
    (void)state;
    for (int pt = 0; pt < 256; pt++) {
        enum tdm_demux_kind want =
            pt >= 192 && pt <= 223 ? TDM_DEMUX_RTCP : TDM_DEMUX_RTP; /* RFC 5761 4 */
        assert_int_equal(first(0x80, (uint8_t)pt, 64), want);
    }
    assert_int_equal(first(0x81, 200, 28), TDM_DEMUX_RTCP); /* SR */
    assert_int_equal(first(0x8F, 205, 20), TDM_DEMUX_RTCP); /* transport feedback */
    assert_int_equal(first(0x90, 0xE0, 20), TDM_DEMUX_RTP); /* marker + PT 96 */
    assert_int_equal(first(0x80, 111, 20), TDM_DEMUX_RTP);  /* opus */
}

static void too_short_is_dropped(void **state)
{
    (void)state;
    assert_int_equal(tdm_demux_classify(NULL, 0), TDM_DEMUX_DROP);
    assert_int_equal(first(0, 1, 0), TDM_DEMUX_DROP);
    assert_int_equal(first(0, 1, 19), TDM_DEMUX_DROP);
    assert_int_equal(first(0, 1, 20), TDM_DEMUX_STUN);
    assert_int_equal(first(22, 0xfe, 12), TDM_DEMUX_DROP);
    assert_int_equal(first(22, 0xfe, 13), TDM_DEMUX_DTLS);
    assert_int_equal(first(0x80, 96, 1), TDM_DEMUX_DROP);
    assert_int_equal(first(0x80, 96, 11), TDM_DEMUX_DROP);
    assert_int_equal(first(0x80, 96, 12), TDM_DEMUX_RTP);
    assert_int_equal(first(0x80, 200, 7), TDM_DEMUX_DROP);
    assert_int_equal(first(0x80, 200, 8), TDM_DEMUX_RTCP);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ranges_of_rfc7983),
        cmocka_unit_test(rtcp_by_packet_type),
        cmocka_unit_test(too_short_is_dropped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
