/* Recognises the first TLS record a client sends (RFC 8446 §5.1, RFC 5246 §6.2.1): a
 * handshake record carrying a ClientHello. The connection gate (server/io/gate.c) holds a
 * new connection, with no TLS state, until this whole record has arrived. */
#ifndef TANDEM_TLSHELLO_H
#define TANDEM_TLSHELLO_H

#include <stddef.h>
#include <stdint.h>

#define TDM_TLSHELLO_HEADER 5
/* RFC 8446 §5.1: a record's fragment is at most 2^14 bytes. */
#define TDM_TLSHELLO_MAX (TDM_TLSHELLO_HEADER + 16384)

/* Looks at the first len bytes a client sent (borrows p until return). Returns 0 when they
 * hold a complete handshake record that starts a ClientHello; a positive count: the bytes
 * needed in all before that can be told (len < that count); TDM_EINVAL: not a TLS
 * ClientHello record (plain HTTP on the HTTPS port, garbage). */
int tdm_tlshello_check(const uint8_t *p, size_t len);

#endif
