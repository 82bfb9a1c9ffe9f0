/* The connection gate: Tandem's own HTTPS listening socket on the GLib loop, in front of
 * libwebsockets. lws gives every connection it accepts an HTTP header buffer from a small
 * pool at once, before a byte of TLS (lib/roles/h1: adoption attaches the "ah"), so a few
 * dozen sockets that send nothing used to lock everyone else out. The gate holds each new
 * connection as a bare descriptor (no TLS state, no header buffer) until its whole TLS
 * ClientHello has arrived, with a short deadline and caps per address and in all, and only
 * then hands it to lws (lws_adopt_descriptor_vhost_via_info). Connections in lws that have
 * not yet made their first request are bounded the same way. docs/architecture.md has the
 * design and its figures. Control thread only. */
#ifndef TANDEM_IO_GATE_H
#define TANDEM_IO_GATE_H

#include <libwebsockets.h>
#include <stdint.h>

struct tdm_app;
struct tdm_gate;

/* Binds and listens on cfg.listen (every address, IPv6 and IPv4, when empty) and cfg.port,
 * and starts accepting on app->loop into app->vhost. Fills *port with the bound port (the
 * chosen one for port 0). Returns 0 or a TDM_E* code after logging why. */
int tdm_gate_start(struct tdm_app *app, int *port);
/* Stops accepting and closes the connections still waiting for their ClientHello. Call after
 * lws_context_destroy (whose closes call tdm_gate_forget). NULL-safe via app->gate. */
void tdm_gate_stop(struct tdm_app *app);

/* From the protocol callbacks: wsi made its first request (an HTTP request or a WebSocket
 * that was accepted), so it no longer counts as a handshake. */
void tdm_gate_requested(struct tdm_app *app, struct lws *wsi);
/* wsi is being destroyed (LWS_CALLBACK_WSI_DESTROY). */
void tdm_gate_forget(struct tdm_app *app, struct lws *wsi);

/* For the metrics: connections held now and refusals so far (all zero before start). */
struct tdm_gate_stats {
    uint32_t waiting_hello; /* TCP connections whose ClientHello has not all arrived */
    uint32_t handshaking;   /* in TLS, or before their first request */
    uint64_t refused;       /* over a per-address cap (new connections or handshakes) */
    uint64_t evicted;       /* closed to make room for a newcomer */
    uint64_t timed_out;     /* no whole ClientHello, or no request, in time */
    uint64_t not_tls;       /* did not start with a TLS ClientHello */
};
void tdm_gate_stats(const struct tdm_app *app, struct tdm_gate_stats *out);

#endif
