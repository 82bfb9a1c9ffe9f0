/* tdm_seqmap_pad: the numbers a padding probe takes on a consumer's media SSRC. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tandem/err.h"
#include "tandem/seqmap.h"

static uint16_t map(struct tdm_seqmap *m, uint16_t seq, int want)
{
    uint16_t o = 0;
    uint32_t ts;
    assert_int_equal(tdm_seqmap_map(m, 7, seq, 9000, 0, 90000, &o, &ts), want);
    return o;
}

static void pad_takes_the_next_number(void **state)
{
    (void)state;
    struct tdm_seqmap m;
    tdm_seqmap_init(&m, 100, 5000);
    uint16_t seq;
    uint32_t ts;
    assert_int_equal(tdm_seqmap_pad(&m, &seq, &ts), TDM_ESTATE); /* nothing forwarded yet */
    assert_int_equal(map(&m, 10, TDM_SEQMAP_FORWARD), 100);
    assert_int_equal(map(&m, 11, TDM_SEQMAP_FORWARD), 101);
    assert_int_equal(tdm_seqmap_pad(&m, &seq, &ts), 0);
    assert_int_equal(seq, 102);
    assert_int_equal(ts, 5000);
    assert_int_equal(tdm_seqmap_pad(&m, &seq, &ts), 0);
    assert_int_equal(seq, 103);
    assert_int_equal(map(&m, 12, TDM_SEQMAP_FORWARD), 104); /* media continues after */
    assert_int_equal(map(&m, 11, TDM_SEQMAP_OLD), 0);       /* older than the pad: discarded */
    /* a gap outstanding (13 missing): no pad, and 13 still gets its number */
    assert_int_equal(map(&m, 14, TDM_SEQMAP_FORWARD), 106);
    assert_int_equal(tdm_seqmap_pad(&m, &seq, &ts), 0); /* 14 is the newest and last */
    assert_int_equal(seq, 107);
    assert_int_equal(map(&m, 13, TDM_SEQMAP_OLD), 0); /* refused: 105 would be wrong now */
    /* a late packet does not stop it: the newest was still the last numbered */
    assert_int_equal(map(&m, 17, TDM_SEQMAP_FORWARD), 110);
    assert_int_equal(map(&m, 16, TDM_SEQMAP_FORWARD), 109);
    assert_int_equal(tdm_seqmap_pad(&m, &seq, &ts), 0);
    assert_int_equal(seq, 111);
    tdm_seqmap_switch(&m, 8);
    assert_int_equal(tdm_seqmap_pad(&m, &seq, &ts), TDM_ESTATE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(pad_takes_the_next_number)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
