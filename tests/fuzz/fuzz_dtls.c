/* libFuzzer target: arbitrary datagrams into a DTLS server endpoint, either fresh or
 * mid-handshake (it has already answered a real ClientHello and waits for flight 5).
 *
 * Input: byte 0 = flags (bit 0: mid-handshake; bit 1: fire the retransmission timer
 * between datagrams), then datagrams, each a 2-byte big-endian length and that many bytes
 * (the last one takes whatever remains). At most MAX_DGRAMS datagrams per input. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ssl.h>

#include "tandem/cert.h"
#include "tandem/dtls.h"

#define MAX_DGRAMS 16
#define WALL_US 1767225600000000LL

static SSL_CTX *g_server_ctx, *g_client_ctx;
static struct tdm_fingerprint g_client_fp, g_server_fp;
static uint8_t g_hello[TDM_DTLS_SLOT_BYTES];
static size_t g_hello_len;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    struct tdm_cert *s = NULL, *c = NULL;
    struct tdm_dtls *client = NULL;
    if (tdm_cert_create(&s, WALL_US) || tdm_cert_create(&c, WALL_US) ||
        tdm_cert_ssl_ctx_new(s, NULL, &g_server_ctx) ||
        tdm_cert_ssl_ctx_new(c, NULL, &g_client_ctx))
        abort();
    tdm_cert_fingerprint(s, &g_server_fp);
    tdm_cert_fingerprint(c, &g_client_fp);
    /* A real ClientHello from our own client endpoint, to bring servers mid-handshake. */
    if (tdm_dtls_create(&client, g_client_ctx, TDM_DTLS_CLIENT, &g_server_fp) ||
        tdm_dtls_start(client, 0))
        abort();
    int n = tdm_dtls_poll_datagram(client, g_hello, sizeof g_hello);
    if (n <= 0)
        abort();
    g_hello_len = (size_t)n;
    tdm_dtls_destroy(client);
    tdm_cert_destroy(s);
    tdm_cert_destroy(c);
    return 0;
}

static void drain(struct tdm_dtls *d)
{
    uint8_t buf[TDM_DTLS_SLOT_BYTES];
    struct tdm_dtls_event ev;
    while (tdm_dtls_poll_datagram(d, buf, sizeof buf) > 0)
        ;
    while (tdm_dtls_poll_event(d, &ev))
        if (ev.type == TDM_DTLS_EV_CONNECTED)
            abort(); /* nobody here holds the client's key: authenticating is impossible */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tdm_dtls *d = NULL;
    int64_t now = 1000000;
    if (size < 1)
        return 0;
    uint8_t flags = data[0];
    size_t off = 1;
    if (tdm_dtls_create(&d, g_server_ctx, TDM_DTLS_SERVER, &g_client_fp) != 0)
        abort();
    if (flags & 1) {
        tdm_dtls_feed(d, g_hello, g_hello_len, now);
        drain(d);
    }
    for (int i = 0; i < MAX_DGRAMS && off < size; i++) {
        size_t len = size - off;
        if (len >= 2) {
            size_t want = (size_t)data[off] << 8 | data[off + 1];
            off += 2;
            len = size - off;
            if (want < len)
                len = want;
        }
        if (len > 0)
            tdm_dtls_feed(d, data + off, len, now);
        off += len;
        drain(d);
        if (flags & 2) {
            int64_t dl = tdm_dtls_deadline(d);
            if (dl != TDM_DTLS_NO_DEADLINE) {
                now = dl;
                tdm_dtls_handle_timeout(d, now);
                drain(d);
            }
        }
    }
    tdm_dtls_close(d, now);
    drain(d);
    tdm_dtls_destroy(d);
    return 0;
}
