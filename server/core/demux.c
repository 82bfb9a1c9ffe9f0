#include "tandem/demux.h"

enum tdm_demux_kind tdm_demux_classify(const uint8_t *p, size_t len)
{
    if (!p || len == 0)
        return TDM_DEMUX_DROP;
    uint8_t b = p[0];
    if (b <= 3)
        return len >= TDM_DEMUX_MIN_STUN ? TDM_DEMUX_STUN : TDM_DEMUX_DROP;
    if (b >= 20 && b <= 63)
        return len >= TDM_DEMUX_MIN_DTLS ? TDM_DEMUX_DTLS : TDM_DEMUX_DROP;
    if (b >= 128 && b <= 191) {
        if (len < 2)
            return TDM_DEMUX_DROP;
        /* RFC 5761 4: RTCP packet types 192..223 land where an RTP marker bit plus payload
         * types 64..95 would, which is why those payload types are never used for RTP. */
        if (p[1] >= 192 && p[1] <= 223)
            return len >= TDM_DEMUX_MIN_RTCP ? TDM_DEMUX_RTCP : TDM_DEMUX_DROP;
        return len >= TDM_DEMUX_MIN_RTP ? TDM_DEMUX_RTP : TDM_DEMUX_DROP;
    }
    /* 16..19 ZRTP, 64..79 TURN channel data, QUIC and the rest: nothing we terminate. */
    return TDM_DEMUX_DROP;
}
