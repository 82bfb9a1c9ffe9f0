/* Signaling protocol v1 helpers (docs/protocol.md): parse a frame into a JSON object,
 * read typed fields with their limits, and build the error reply. jansson is the parser. */
#ifndef TANDEM_IO_PROTO_H
#define TANDEM_IO_PROTO_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TDM_PROTO_VERSION 1
/* WebSocket close code of a page that gave up a connection that seemed dead and will send
 * resume on its next one (docs/protocol.md "Resuming after a cut"). */
#define TDM_CLOSE_BACK_SOON 4000
#define TDM_PROTO_TYPE_MAX 32
#define TDM_PROTO_ID_MAX 64

/* A protocol error: code from docs/protocol.md, the offending field (or NULL), a message. */
struct tdm_proto_err {
    const char *code;
    const char *field;
    char message[160];
    unsigned max_participants; /* room_full: the room's limit, sent along (0: not sent) */
};

/* Parses one text frame. Returns NULL with e filled (bad_utf8, bad_json) when the frame is
 * not a JSON object. Otherwise returns the object (caller owns it: json_decref) with *id set
 * to its valid "id" (borrowed, or NULL) and *type to its type string (borrowed); when the
 * type or the id is missing or malformed, *type is NULL and e says why, so the error can
 * still carry "ref". */
json_t *tdm_proto_parse(const char *buf, size_t len, const char **type, json_t **id,
                        struct tdm_proto_err *e);

/* Reads a required/optional string field of min..max bytes. Returns false with e filled
 * when absent-but-required, not a string, or out of bounds. *out is borrowed. */
bool tdm_proto_string(json_t *msg, const char *field, size_t min, size_t max, bool required,
                      const char **out, size_t *out_len, struct tdm_proto_err *e);
/* Reads an optional finite number. *present tells whether it was there. */
bool tdm_proto_number(json_t *msg, const char *field, double *out, bool *present,
                      struct tdm_proto_err *e);

void tdm_proto_set(struct tdm_proto_err *e, const char *code, const char *field, const char *fmt,
                   ...) __attribute__((format(printf, 4, 5)));

/* {"type":"error","code":...,"message":...,"field"?:...,"ref"?:id}. New reference. */
json_t *tdm_proto_error_msg(const struct tdm_proto_err *e, json_t *id);

/* Server time: a monotonic clock plus the wall-clock offset fixed at start-up, so it reads
 * like Unix time but never steps. In µs (for the sync and chat cores' now) and in ms with µs
 * resolution (for "server_time", time.pong). */
int64_t tdm_proto_server_us(void);
double tdm_proto_server_time(void);

#endif
