/* libFuzzer target: stamping a transport-wide sequence number into an RTP packet the server
 * forwards (core/twcc.c tdm_twcc_stamp walks the publisher's extension block).
 *
 * Input: the first byte picks the extension id (1..255), the rest is the RTP packet. The
 * stamp must stay in bounds; when it succeeds the result must parse as RTP, carry the number
 * under that id, and keep the payload bytes; stamping again must overwrite in place. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tandem/rtp.h"
#include "tandem/twcc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            abort();                                                                               \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t buf[2048];
    if (size < 1 || size - 1 > 1500)
        return 0;
    unsigned id = data[0] ? data[0] : 1;
    size_t len = size - 1;
    memcpy(buf, data + 1, len);
    struct tdm_rtp_view before;
    bool was_rtp = tdm_rtp_parse(&before, data + 1, len, NULL, 0) == 0;
    int n = tdm_twcc_stamp(buf, len, sizeof buf, id, 0x1234);
    if (n < 0) {
        CHECK(memcmp(buf, data + 1, len) == 0); /* unchanged on error */
        return 0;
    }
    CHECK((size_t)n >= len && (size_t)n <= len + 8);
    struct tdm_rtp_view v;
    if (!was_rtp || tdm_rtp_parse(&v, buf, (size_t)n, NULL, 0) != 0)
        return 0; /* not RTP to begin with: only the bounds matter */
    uint16_t seq = 0;
    CHECK(tdm_rtp_ext_twcc_seq(&v, (uint8_t)id, &seq) == 0 && seq == 0x1234);
    CHECK(v.payload_len == before.payload_len);
    CHECK(memcmp(v.buf + v.payload_off, before.buf + before.payload_off, v.payload_len) == 0);
    CHECK(tdm_twcc_stamp(buf, (size_t)n, sizeof buf, id, 0x4321) == n);
    return 0;
}
