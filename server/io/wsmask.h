/* Unmasked WebSocket client frames (RFC 6455 5.1), which libwebsockets 4.1 accepts: see
 * wsmask.c for how they are found and refused. */
#ifndef TANDEM_IO_WSMASK_H
#define TANDEM_IO_WSMASK_H

#include <stdbool.h>

#include <libwebsockets.h>

/* True when the connection sent an unmasked frame that lws could not be made to refuse
 * itself (its first byte had already been handed over): close it with 1002. */
bool tdm_wsmask_unmasked(struct lws *wsi);

#endif
