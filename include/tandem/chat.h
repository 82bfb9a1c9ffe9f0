/* Per-room chat, sans-IO: texts, pictures and emoji reactions, kept in memory only while the
 * room exists (never on disk), so a late joiner gets the recent history. The io layer turns
 * the JSON of docs/protocol-sync-chat.md into these calls (base64 already decoded) and the
 * returned message views back into JSON. Not thread-safe: the control thread owns each chat.
 *
 * Bounds: a ring of the last max_messages messages (the oldest is dropped) and a byte budget
 * for all pictures of the room (the oldest pictures lose their bytes first; their message
 * stays, with picture == NULL, so the pages show "no longer available"). Each participant has
 * two token buckets (texts and reactions; pictures), so flooding gets TDM_EAGAIN.
 *
 * Privacy: message text, names and picture bytes are wiped (OPENSSL_cleanse) before they are
 * freed, when a message is deleted or dropped, when a picture is evicted, and on destroy.
 *
 * Time: now_us is an argument, microseconds on the sync channel's server clock (see
 * tandem/sync.h: monotonic, offset to read like Unix time), since it is also the message's
 * time; a clock stepping back would stall the token buckets until it caught up. */
#ifndef TANDEM_CHAT_H
#define TANDEM_CHAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tandem/room.h"

#define TDM_CHAT_TEXT_MAX 2000      /* bytes of UTF-8 in a text or a caption */
#define TDM_CHAT_EMOJI_MAX 32       /* bytes of UTF-8 in one reaction */
#define TDM_CHAT_IMAGE_DIM_MAX 8192 /* pixels, width and height */
#define TDM_CHAT_REACTIONS_MAX 16   /* different emoji on one message */
#define TDM_CHAT_REACTORS_MAX 64    /* participants behind one emoji on one message */

/* ---- picture sniffing ------------------------------------------------------------------ */

enum tdm_chat_image {
    TDM_CHAT_IMAGE_NONE = 0,
    TDM_CHAT_IMAGE_JPEG,
    TDM_CHAT_IMAGE_PNG,
    TDM_CHAT_IMAGE_WEBP,
};

struct tdm_chat_image_info {
    enum tdm_chat_image type;
    uint32_t width, height;
    /* Exif/XMP (JPEG APP1, WebP EXIF/XMP chunks) or PNG eXIf/tEXt/zTXt/iTXt: where a phone
     * writes the place a photo was taken. */
    bool metadata;
};

/* Identifies a picture by its bytes and reads its dimensions, walking its structure with
 * bounds checks: PNG (signature, IHDR first with its CRC, every chunk in bounds, IDAT, IEND
 * last, nothing after), JPEG (SOI, marker segments up to the first SOS, a SOF0/1/2 frame of
 * 8-bit samples, FF D9 at the very end) and WebP (RIFF size equal to the file, a VP8, VP8L
 * or VP8X first chunk, every chunk in bounds). Borrows p until return.
 * Returns 0, TDM_EINVAL (not one of the three, or malformed), TDM_ETRUNC (cut short),
 * TDM_EUNSUPP (a JPEG kind browsers do not show: lossless, arithmetic, 12-bit, DNL) or
 * TDM_ETOOBIG (wider or taller than TDM_CHAT_IMAGE_DIM_MAX). err says what and where. */
int tdm_chat_image_sniff(const uint8_t *p, size_t len, struct tdm_chat_image_info *out, char *err,
                         size_t errlen);

/* "image/jpeg", "image/png", "image/webp"; NULL for TDM_CHAT_IMAGE_NONE. */
const char *tdm_chat_image_mime(enum tdm_chat_image type);
/* The reverse (exact, lowercase). Returns 0 or TDM_EINVAL. */
int tdm_chat_image_parse_mime(const char *s, size_t len, enum tdm_chat_image *out);

/* ---- the chat --------------------------------------------------------------------------- */

/* Picture bytes held by all rooms together (stored pictures and uploads on their way), so
 * that many rooms cannot add up to more memory than the server has. Owned by the caller and
 * shared by the chats of one thread; each chat returns what it took when it is destroyed. */
struct tdm_chat_pool {
    size_t used;
    size_t cap;
};

struct tdm_chat_config {
    struct tdm_chat_pool *pool;  /* NULL: no server-wide bound */
    size_t max_messages;         /* default 200 */
    size_t max_picture_bytes;    /* one picture, default 2 MiB */
    size_t picture_budget_bytes; /* all pictures of the room, default 20 MiB (>= one) */
    double messages_per_s;       /* texts and reactions: default 5/s, */
    double message_burst;        /* burst 10 */
    double pictures_per_s;       /* default 0.5/s (one every 2 s), */
    double picture_burst;        /* burst 3 */
    size_t max_senders;          /* rate-limit entries kept, least recently used go: 64 */
    bool allow_metadata;         /* default false: pictures with metadata are refused */
    size_t max_uploads;          /* chunked uploads in flight in the room, default 4 */
    int64_t upload_idle_us;      /* an upload with no chunk for this long is dropped: 30 s */
};

/* Who acts. Borrowed until return; id and name NUL-terminated. */
struct tdm_chat_sender {
    const char *id;   /* participant id, 1..TDM_PARTICIPANT_ID_LEN printable ASCII */
    const char *name; /* display name, a text field of 1..TDM_NAME_MAX bytes */
    enum tdm_role role;
};

struct tdm_chat_reaction {
    char emoji[TDM_CHAT_EMOJI_MAX + 1];
    size_t count;                            /* >= 1 */
    char (*who)[TDM_PARTICIPANT_ID_LEN + 1]; /* count ids, in order of reaction */
};

/* A read-only view of one message, owned by the chat: valid until the next call that
 * modifies the chat (send, react, delete, left, destroy). */
struct tdm_chat_message {
    uint64_t id; /* 1, 2, 3, ... in order of acceptance, never reused in a room */
    int64_t time_us;
    char sender_id[TDM_PARTICIPANT_ID_LEN + 1];
    char sender_name[TDM_NAME_MAX + 1];
    const char *text; /* NUL-terminated; NULL for a picture without caption */
    size_t text_len;
    enum tdm_chat_image picture_type; /* TDM_CHAT_IMAGE_NONE for a text message */
    const uint8_t *picture;           /* NULL once evicted by the picture budget */
    size_t picture_len;               /* the original size, even once evicted */
    uint32_t width, height;
    const struct tdm_chat_reaction *reactions;
    size_t n_reactions;
};

struct tdm_chat;

void tdm_chat_config_init(struct tdm_chat_config *cfg);
/* Returns 0 with *out, TDM_EINVAL (a zero or inconsistent bound) or TDM_ENOMEM. */
int tdm_chat_create(const struct tdm_chat_config *cfg, struct tdm_chat **out, char *err,
                    size_t errlen);
/* Wipes and frees every message and picture. */
void tdm_chat_destroy(struct tdm_chat *c);

/* A text message: tdm_text_field_ok with newlines allowed (no CR, no tab, no leading or
 * trailing white space), 1..TDM_CHAT_TEXT_MAX bytes. Copies text. *out (may be NULL) gets
 * the stored message for the broadcast. Returns 0, TDM_EINVAL, TDM_EAGAIN (rate limit) or
 * TDM_ENOMEM. */
int tdm_chat_send_text(struct tdm_chat *c, const struct tdm_chat_sender *from, const char *text,
                       size_t len, int64_t now_us, const struct tdm_chat_message **out, char *err,
                       size_t errlen);

/* A picture with an optional caption (caption_len 0: none). declared is the MIME type the
 * page announced; it must equal what the bytes are. TAKES OWNERSHIP of bytes in every case,
 * success or error: bytes must come from malloc, and the chat wipes and frees them (at once
 * on error). Returns 0, TDM_EINVAL (declared type, caption, metadata or a bad picture),
 * TDM_ETRUNC / TDM_EUNSUPP (see tdm_chat_image_sniff), TDM_ETOOBIG (over max_picture_bytes
 * or TDM_CHAT_IMAGE_DIM_MAX), TDM_EAGAIN (rate limit) or TDM_ENOMEM.
 *
 * Errors of this module fill err with "<field>: <reason>", <field> being the wire field
 * at fault (text, caption, mime, data, size, upload, offset, emoji, message), so the io layer
 * can answer bad_field with that field; a refused picture's bytes are "data". */
int tdm_chat_send_picture(struct tdm_chat *c, const struct tdm_chat_sender *from,
                          const char *declared, size_t declared_len, uint8_t *bytes, size_t len,
                          const char *caption, size_t caption_len, int64_t now_us,
                          const struct tdm_chat_message **out, char *err, size_t errlen);

/* Toggles from's reaction `emoji` on message msg_id: 1..TDM_CHAT_EMOJI_MAX bytes of UTF-8
 * with no ASCII at all (so no letters, digits or controls: reactions are pictures, not
 * words), no C1 controls, and no bidi or line-separator characters. *added (may be NULL)
 * tells whether the reaction is now on (true) or was removed. Returns 0, TDM_EINVAL,
 * TDM_ENOTFOUND (no such message), TDM_EFULL (TDM_CHAT_REACTIONS_MAX emoji or
 * TDM_CHAT_REACTORS_MAX people), TDM_EAGAIN or TDM_ENOMEM. */
int tdm_chat_react(struct tdm_chat *c, const struct tdm_chat_sender *from, uint64_t msg_id,
                   const char *emoji, size_t len, int64_t now_us, bool *added,
                   const struct tdm_chat_message **out, char *err, size_t errlen);

/* Deletes a message (wiped, gone from the history) when from sent it or is a coordinator.
 * Returns 0, TDM_ENOTFOUND, TDM_EPERM or TDM_EINVAL. */
int tdm_chat_delete(struct tdm_chat *c, const struct tdm_chat_sender *from, uint64_t msg_id,
                    char *err, size_t errlen);

/* Chunked uploads, for pictures larger than one signaling message (docs/protocol-sync-chat.md).
 * begin validates what can be checked up front (sender, MIME type, caption, 1..max_picture_bytes
 * of size), takes the picture token and reserves the buffer; a participant has at most one
 * upload, so a new begin drops its previous one. Returns 0 with *upload_id, TDM_EINVAL,
 * TDM_ETOOBIG, TDM_EAGAIN, TDM_EFULL (max_uploads in flight in the room) or TDM_ENOMEM. */
int tdm_chat_upload_begin(struct tdm_chat *c, const struct tdm_chat_sender *from,
                          const char *declared, size_t declared_len, size_t size,
                          const char *caption, size_t caption_len, int64_t now_us,
                          uint64_t *upload_id, char *err, size_t errlen);

/* The next piece of from's upload: copied (bytes borrowed until return); offset must be the
 * number of bytes received so far. Returns 0 (more expected; *received, may be NULL, says how
 * many), 1 when the picture is complete and posted (*out as for tdm_chat_send_picture), or
 * TDM_ENOTFOUND (no such upload of from's: expired, replaced or never begun), TDM_EINVAL (out
 * of order, empty or beyond the announced size: the upload is dropped), or on the last piece
 * any error of tdm_chat_send_picture (the upload is gone either way). */
int tdm_chat_upload_chunk(struct tdm_chat *c, const struct tdm_chat_sender *from,
                          uint64_t upload_id, size_t offset, const uint8_t *bytes, size_t len,
                          int64_t now_us, size_t *received, const struct tdm_chat_message **out,
                          char *err, size_t errlen);

/* Bytes the room's uploads in flight hold now: at most twice what they received, never
 * more than they announced (memory grows with the pieces, the pool is reserved at begin). */
size_t tdm_chat_upload_bytes_held(const struct tdm_chat *c);
/* Drops the participant's upload in flight, if any (wiped). */
void tdm_chat_upload_cancel(struct tdm_chat *c, const char *participant_id);
/* Drops uploads idle for upload_idle_us or more; returns how many. */
size_t tdm_chat_upload_expire(struct tdm_chat *c, int64_t now_us);
/* When tdm_chat_upload_expire has work next, or INT64_MAX. */
int64_t tdm_chat_next_deadline(const struct tdm_chat *c);

/* The participant left: forget its rate-limit state and drop its upload (its messages stay). */
void tdm_chat_participant_left(struct tdm_chat *c, const char *participant_id);

/* The history for a late joiner, oldest first: i in [0, count). Views as above. */
size_t tdm_chat_count(const struct tdm_chat *c);
const struct tdm_chat_message *tdm_chat_at(const struct tdm_chat *c, size_t i);
const struct tdm_chat_message *tdm_chat_find(const struct tdm_chat *c, uint64_t msg_id);
/* Bytes of picture data currently held (<= picture_budget_bytes). */
size_t tdm_chat_picture_bytes(const struct tdm_chat *c);

#endif
