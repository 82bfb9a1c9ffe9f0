/* What a datagram on a shared WebRTC port is, from its first bytes (RFC 7983 7, with the
 * RTP/RTCP split of RFC 5761 4). Pure function of the bytes; borrows p until return. */
#ifndef TANDEM_DEMUX_H
#define TANDEM_DEMUX_H

#include <stddef.h>
#include <stdint.h>

enum tdm_demux_kind {
    TDM_DEMUX_DROP = 0, /* ZRTP, TURN channels, QUIC, empty, too short, or anything else */
    TDM_DEMUX_STUN,     /* first byte 0..3 */
    TDM_DEMUX_DTLS,     /* first byte 20..63 */
    TDM_DEMUX_RTP,      /* first byte 128..191, second byte not 192..223 */
    TDM_DEMUX_RTCP,     /* first byte 128..191, second byte (M bit + PT) 192..223 */
};

/* Smallest datagram of each kind: below it the packet is dropped here, so a handler can read
 * the fixed header without checking again (it must still check everything past it). */
#define TDM_DEMUX_MIN_STUN 20 /* STUN header */
#define TDM_DEMUX_MIN_DTLS 13 /* DTLS record header */
#define TDM_DEMUX_MIN_RTP 12  /* RTP fixed header */
#define TDM_DEMUX_MIN_RTCP 8  /* RTCP header + sender SSRC */

enum tdm_demux_kind tdm_demux_classify(const uint8_t *p, size_t len);

#endif
