/* RFC 6455 5.1: "The server MUST close the connection upon receiving a frame that is not
 * masked", with 1002 (7.4.1). libwebsockets 4.1 reads the mask bit and then ignores it, and
 * tells its user nothing about it (no option, no accessor; upstream added the check in
 * 2026, after every release Debian ships). The decrypted bytes pass through exactly one
 * function on their way from OpenSSL to lws, SSL_read, so Tandem defines SSL_read itself:
 * the dynamic linker binds lws's calls to the executable's definition first, which calls
 * OpenSSL's (dlsym RTLD_NEXT) and then follows the WebSocket framing of what it returns.
 *
 * Per TLS connection (SSL ex_data, freed with the SSL): until an HTTP request with
 * "Upgrade: websocket" has ended (an empty line), only header lines are looked at; after
 * it, every frame header is read. A frame without the mask bit gets its three RSV bits set
 * in the buffer before lws sees it: lws then refuses the frame itself, as it does for any
 * RSV bit without a negotiated extension, and closes with 1002 ("rsv bits") without
 * acting on the frame (no answer to an unmasked ping, no message delivered). When the
 * frame's first byte came in an earlier read, it can no longer be changed: the connection
 * is flagged and signal.c closes it with 1002 at its next message instead.
 *
 * DTLS objects (the media workers' own SSL_read calls) pass straight through. Costs: one
 * ex_data lookup per read, a byte loop over HTTP headers only, and per frame a few header
 * bytes; payloads are skipped by length. */
#define _GNU_SOURCE
#include "wsmask.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/ssl.h>

#define LINE_KEEP 40 /* enough of a header line to recognise "upgrade: websocket" */
#define RSV_BITS 0x70

enum stage {
    HTTP_LINE,  /* reading request header lines */
    WS_B0,      /* next byte: FIN, RSV, opcode */
    WS_B1,      /* next byte: MASK, 7-bit length */
    WS_EXT_LEN, /* extended length bytes */
    WS_KEY,     /* masking key bytes */
    WS_PAYLOAD, /* payload bytes, skipped */
    DONE,       /* an unmasked frame was seen, or tracking gave up: nothing more to read */
};

struct track {
    enum stage stage;
    bool upgrade_seen; /* this request asked for "websocket" */
    bool unmasked;     /* flagged for signal.c: the frame's first byte was already gone */
    uint8_t line_len;  /* bytes kept of the current header line (ends at LF) */
    uint8_t line_total;
    char line[LINE_KEEP];
    unsigned need; /* bytes left of the extended length or the key */
    uint64_t len;  /* frame payload length, while being read and then while skipped */
    bool masked;
};

typedef int (*ssl_read_fn)(SSL *, void *, int);
static ssl_read_fn g_real_read;
static int g_idx = -1;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void free_track(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
    (void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
    free(ptr);
}

static void init_once(void)
{
    g_real_read = (ssl_read_fn)(uintptr_t)dlsym(RTLD_NEXT, "SSL_read");
    g_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, free_track);
}

static bool is_upgrade_line(const char *l, size_t n)
{
    static const char name[] = "upgrade:";
    size_t k = sizeof name - 1;
    if (n < k || strncasecmp(l, name, k) != 0)
        return false;
    while (k < n && (l[k] == ' ' || l[k] == '\t'))
        k++;
    size_t end = n;
    while (end > k && (l[end - 1] == ' ' || l[end - 1] == '\t' || l[end - 1] == '\r'))
        end--;
    return end - k == 9 && strncasecmp(l + k, "websocket", 9) == 0;
}

/* One header byte. An empty line ends a request: after an upgrade, frames follow. */
static void http_byte(struct track *t, uint8_t c)
{
    if (c != '\n') {
        if (t->line_total < UINT8_MAX)
            t->line_total++;
        if (t->line_len < LINE_KEEP)
            t->line[t->line_len++] = (char)c;
        return;
    }
    bool empty = t->line_total == 0 || (t->line_total == 1 && t->line[0] == '\r');
    if (empty) {
        if (t->upgrade_seen)
            t->stage = WS_B0;
        t->upgrade_seen = false;
    } else if (t->line_total <= LINE_KEEP && is_upgrade_line(t->line, t->line_len)) {
        t->upgrade_seen = true;
    }
    t->line_len = t->line_total = 0;
}

/* A frame header's second byte: RFC 6455 5.2. */
static void frame_b1(struct track *t, uint8_t c)
{
    t->masked = (c & 0x80) != 0;
    t->len = c & 0x7f;
    t->need = t->len == 126 ? 2 : t->len == 127 ? 8 : 0;
    if (t->need) {
        t->len = 0;
        t->stage = WS_EXT_LEN;
    } else {
        t->need = 4;
        t->stage = WS_KEY;
    }
}

/* Follows the bytes of one read; b0 is where the current frame began in p, or -1 when that
 * byte came in an earlier read. */
static void follow(struct track *t, uint8_t *p, size_t n)
{
    long b0 = -1;
    for (size_t i = 0; i < n && t->stage != DONE;) {
        uint8_t c = p[i];
        switch (t->stage) {
        case HTTP_LINE:
            http_byte(t, c);
            i++;
            break;
        case WS_B0:
            b0 = (long)i;
            t->stage = WS_B1;
            i++;
            break;
        case WS_B1:
            frame_b1(t, c);
            if (!t->masked) {
                if (b0 >= 0)
                    p[b0] |= RSV_BITS; /* lws refuses it and closes with 1002 */
                else
                    t->unmasked = true;
                t->stage = DONE;
            }
            i++;
            break;
        case WS_EXT_LEN:
            t->len = t->len << 8 | c;
            i++;
            if (--t->need == 0) {
                t->need = 4;
                t->stage = WS_KEY;
            }
            break;
        case WS_KEY:
            i++;
            if (--t->need == 0)
                t->stage = t->len ? WS_PAYLOAD : WS_B0;
            break;
        case WS_PAYLOAD: {
            uint64_t skip = t->len < n - i ? t->len : n - i;
            i += (size_t)skip;
            t->len -= skip;
            if (t->len == 0)
                t->stage = WS_B0;
            break;
        }
        case DONE: break;
        }
    }
}

int SSL_read(SSL *s, void *buf, int num)
{
    pthread_once(&g_once, init_once);
    if (!g_real_read)
        return -1;
    int n = g_real_read(s, buf, num);
    if (n <= 0 || g_idx < 0 || SSL_is_dtls(s))
        return n;
    struct track *t = SSL_get_ex_data(s, g_idx);
    if (!t) {
        t = calloc(1, sizeof *t);
        if (!t || !SSL_set_ex_data(s, g_idx, t)) {
            free(t); /* not followed: lws's own checks still apply */
            return n;
        }
    }
    follow(t, buf, (size_t)n);
    return n;
}

bool tdm_wsmask_unmasked(struct lws *wsi)
{
    SSL *s = lws_get_ssl(wsi);
    if (!s || g_idx < 0)
        return false;
    const struct track *t = SSL_get_ex_data(s, g_idx);
    return t && t->unmasked;
}
