#include "tandem/tlshello.h"
#include "tandem/err.h"

#define CONTENT_HANDSHAKE 22 /* RFC 8446 §5.1 ContentType handshake */
#define HANDSHAKE_CLIENT_HELLO 1

int tdm_tlshello_check(const uint8_t *p, size_t len)
{
    if (len < 1)
        return TDM_TLSHELLO_HEADER;
    if (p[0] != CONTENT_HANDSHAKE)
        return TDM_EINVAL;
    /* legacy_record_version: 3.x for every TLS and SSL 3 (0x0301 or 0x0303 in practice) */
    if (len >= 2 && p[1] != 3)
        return TDM_EINVAL;
    if (len < TDM_TLSHELLO_HEADER)
        return TDM_TLSHELLO_HEADER;
    size_t frag = (size_t)p[3] << 8 | p[4];
    if (frag == 0 || frag > TDM_TLSHELLO_MAX - TDM_TLSHELLO_HEADER)
        return TDM_EINVAL;
    if (len == TDM_TLSHELLO_HEADER) /* the handshake type is not here yet */
        return (int)(TDM_TLSHELLO_HEADER + frag);
    if (p[TDM_TLSHELLO_HEADER] != HANDSHAKE_CLIENT_HELLO)
        return TDM_EINVAL;
    if (len < TDM_TLSHELLO_HEADER + frag)
        return (int)(TDM_TLSHELLO_HEADER + frag);
    return 0;
}
