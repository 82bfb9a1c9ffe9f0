#include "tandem/chat.h"
#include "tandem/err.h"
#include "tandem/util.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

/* ---- the chat ---- */

struct msg {
    struct tdm_chat_message v; /* the view; its pointers alias the owned fields below */
    char *text;
    uint8_t *pic;
    struct tdm_chat_reaction *reactions;
};

struct limiter {
    char id[TDM_PARTICIPANT_ID_LEN + 1];
    struct tdm_bucket msgs, pics;
    uint64_t used; /* for least-recently-used replacement */
};

struct upload {
    char owner[TDM_PARTICIPANT_ID_LEN + 1];
    uint64_t id;
    enum tdm_chat_image type;
    /* cap bytes (grown as pieces arrive, never beyond size), got of them received. The
     * pool holds the whole announced size from the start, so growing never overcommits it;
     * the memory itself follows what was sent, so an abandoned upload costs what it got. */
    uint8_t *buf;
    size_t size, got, cap;
    char *caption; /* not NUL-terminated */
    size_t caption_len;
    int64_t last_us;
};

struct tdm_chat {
    struct tdm_chat_config cfg;
    struct msg **msgs; /* oldest first, ids increasing; cfg.max_messages slots */
    size_t n;
    uint64_t next_id;
    size_t pic_bytes;
    struct limiter *lim; /* cfg.max_senders slots */
    size_t n_lim;
    uint64_t use_clock;
    struct upload *up; /* cfg.max_uploads slots */
    size_t n_up;
    uint64_t next_upload;
};

static void drop_upload(struct tdm_chat *c, struct upload *u);

/* The server-wide picture pool: taken when an upload starts or a picture is stored, given
 * back when either goes (a finished upload gives its bytes back just before they are
 * stored, which takes them again). */
static bool pool_has(const struct tdm_chat *c, size_t bytes, size_t freed)
{
    const struct tdm_chat_pool *p = c->cfg.pool;
    return !p || p->used - freed + bytes <= p->cap;
}

static void pool_take(struct tdm_chat *c, size_t bytes)
{
    if (c->cfg.pool)
        c->cfg.pool->used += bytes;
}

static void pool_give(struct tdm_chat *c, size_t bytes)
{
    if (c->cfg.pool)
        c->cfg.pool->used -= bytes;
}

void tdm_chat_config_init(struct tdm_chat_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->max_messages = 200;
    cfg->max_picture_bytes = 2u << 20;
    cfg->picture_budget_bytes = 20u << 20;
    cfg->messages_per_s = 5;
    cfg->message_burst = 10;
    cfg->pictures_per_s = 0.5;
    cfg->picture_burst = 3;
    cfg->max_senders = 64;
    cfg->max_uploads = 4;
    cfg->upload_idle_us = 30 * 1000000LL;
}

int tdm_chat_create(const struct tdm_chat_config *cfg, struct tdm_chat **out, char *err,
                    size_t errlen)
{
    *out = NULL;
    if (!cfg->max_messages || cfg->max_messages > 100000 || !cfg->max_picture_bytes ||
        cfg->picture_budget_bytes < cfg->max_picture_bytes || !cfg->max_senders ||
        cfg->max_senders > 100000 || !cfg->max_uploads || cfg->max_uploads > 1000 ||
        cfg->upload_idle_us <= 0)
        return tdm_seterr(err, errlen, TDM_EINVAL, "chat: a bound is zero or inconsistent");
    if (!(cfg->messages_per_s > 0 && cfg->message_burst >= 1 && cfg->pictures_per_s > 0 &&
          cfg->picture_burst >= 1))
        return tdm_seterr(err, errlen, TDM_EINVAL, "chat: rates must be > 0 and bursts >= 1");
    struct tdm_chat *c = calloc(1, sizeof *c);
    if (!c)
        return TDM_ENOMEM;
    c->cfg = *cfg;
    c->msgs = calloc(cfg->max_messages, sizeof *c->msgs);
    c->lim = calloc(cfg->max_senders, sizeof *c->lim);
    c->up = calloc(cfg->max_uploads, sizeof *c->up);
    if (!c->msgs || !c->lim || !c->up) {
        tdm_chat_destroy(c);
        return TDM_ENOMEM;
    }
    c->next_id = 1;
    c->next_upload = 1;
    *out = c;
    return 0;
}

static void drop_picture(struct tdm_chat *c, struct msg *m)
{
    if (!m->pic)
        return;
    OPENSSL_cleanse(m->pic, m->v.picture_len);
    free(m->pic);
    m->pic = NULL;
    m->v.picture = NULL;
    c->pic_bytes -= m->v.picture_len;
    pool_give(c, m->v.picture_len);
}

static void free_msg(struct tdm_chat *c, struct msg *m)
{
    drop_picture(c, m);
    if (m->text) {
        OPENSSL_cleanse(m->text, m->v.text_len);
        free(m->text);
    }
    for (size_t i = 0; i < m->v.n_reactions; i++)
        free(m->reactions[i].who);
    free(m->reactions);
    OPENSSL_cleanse(m, sizeof *m); /* the sender's name */
    free(m);
}

void tdm_chat_destroy(struct tdm_chat *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++)
        free_msg(c, c->msgs[i]);
    free(c->msgs);
    free(c->lim);
    while (c->up && c->n_up)
        drop_upload(c, &c->up[0]);
    free(c->up);
    free(c);
}

/* ---- senders and rate limits ---- */

static bool id_ok(const char *id)
{
    size_t n = id ? strnlen(id, TDM_PARTICIPANT_ID_LEN + 1) : 0;
    if (n == 0 || n > TDM_PARTICIPANT_ID_LEN)
        return false;
    for (size_t i = 0; i < n; i++)
        if (id[i] < 0x21 || id[i] > 0x7E)
            return false;
    return true;
}

/* Chat text keeps the bidi marks (they are how mixed-direction text is written) but not
 * the embeddings, overrides and isolates: the page shows each message in its own dir="auto"
 * element, yet an override still reorders the message itself, e.g. to forge a quoted
 * "name: text" line that reads as someone else's. */
static const char k_no_overrides[] =
    "no text-direction embedding, override or isolate characters (U+202A to U+202E, "
    "U+2066 to U+2069)";

static int check_sender(const struct tdm_chat_sender *from, char *err, size_t errlen)
{
    if (!from || !id_ok(from->id))
        return tdm_seterr(err, errlen, TDM_EINVAL, "sender: bad participant id");
    size_t n = from->name ? strnlen(from->name, TDM_NAME_MAX + 1) : 0;
    if (!tdm_text_field_ok(from->name, n, TDM_NAME_MAX, false) ||
        tdm_text_has_bidi_controls(from->name, n, true))
        return tdm_seterr(err, errlen, TDM_EINVAL, "name: bad display name");
    return 0;
}

static struct limiter *limiter_for(struct tdm_chat *c, const char *id, int64_t now)
{
    struct limiter *l = NULL;
    for (size_t i = 0; i < c->n_lim; i++)
        if (strcmp(c->lim[i].id, id) == 0)
            l = &c->lim[i];
    if (!l) {
        if (c->n_lim < c->cfg.max_senders) {
            l = &c->lim[c->n_lim++];
        } else { /* replacing the stalest costs at most one fresh burst for someone idle */
            l = &c->lim[0];
            for (size_t i = 1; i < c->n_lim; i++)
                if (c->lim[i].used < l->used)
                    l = &c->lim[i];
        }
        memcpy(l->id, id, strlen(id) + 1);
        tdm_bucket_init(&l->msgs, c->cfg.messages_per_s, c->cfg.message_burst, now);
        tdm_bucket_init(&l->pics, c->cfg.pictures_per_s, c->cfg.picture_burst, now);
    }
    l->used = ++c->use_clock;
    return l;
}

static int take(struct tdm_chat *c, const char *id, bool picture, int64_t now, char *err,
                size_t errlen)
{
    struct limiter *l = limiter_for(c, id, now);
    if (!tdm_bucket_take(picture ? &l->pics : &l->msgs, 1.0, now))
        return tdm_seterr(err, errlen, TDM_EAGAIN, "%s: too many, wait a moment",
                          picture ? "picture" : "message");
    return 0;
}

void tdm_chat_participant_left(struct tdm_chat *c, const char *participant_id)
{
    if (!id_ok(participant_id))
        return;
    tdm_chat_upload_cancel(c, participant_id);
    for (size_t i = 0; i < c->n_lim; i++) {
        if (strcmp(c->lim[i].id, participant_id) == 0) {
            c->lim[i] = c->lim[--c->n_lim];
            return;
        }
    }
}

/* ---- history ---- */

static size_t find_index(const struct tdm_chat *c, uint64_t id)
{
    size_t lo = 0, hi = c->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c->msgs[mid]->v.id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < c->n && c->msgs[lo]->v.id == id ? lo : SIZE_MAX;
}

static void remove_at(struct tdm_chat *c, size_t i)
{
    free_msg(c, c->msgs[i]);
    memmove(&c->msgs[i], &c->msgs[i + 1], (c->n - i - 1) * sizeof c->msgs[0]);
    c->n--;
}

/* Makes room for a message carrying `pic` picture bytes: the ring drops its oldest message,
 * then the oldest pictures give their bytes back until the new one fits the budget. */
static void make_room(struct tdm_chat *c, size_t pic)
{
    if (c->n == c->cfg.max_messages)
        remove_at(c, 0);
    for (size_t i = 0; i < c->n && c->pic_bytes + pic > c->cfg.picture_budget_bytes; i++)
        drop_picture(c, c->msgs[i]);
}

static struct msg *new_msg(const struct tdm_chat_sender *from, const char *text, size_t len,
                           int64_t now)
{
    struct msg *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    if (len) {
        m->text = malloc(len + 1);
        if (!m->text) {
            free(m);
            return NULL;
        }
        memcpy(m->text, text, len);
        m->text[len] = '\0';
        m->v.text = m->text;
        m->v.text_len = len;
    }
    memcpy(m->v.sender_id, from->id, strlen(from->id) + 1);
    memcpy(m->v.sender_name, from->name, strlen(from->name) + 1);
    m->v.time_us = now;
    return m;
}

static void append(struct tdm_chat *c, struct msg *m, const struct tdm_chat_message **out)
{
    make_room(c, m->v.picture_len);
    m->v.id = c->next_id++;
    c->msgs[c->n++] = m;
    if (m->pic) {
        c->pic_bytes += m->v.picture_len;
        pool_take(c, m->v.picture_len);
    }
    if (out)
        *out = &m->v;
}

int tdm_chat_send_text(struct tdm_chat *c, const struct tdm_chat_sender *from, const char *text,
                       size_t len, int64_t now_us, const struct tdm_chat_message **out, char *err,
                       size_t errlen)
{
    int rc = check_sender(from, err, errlen);
    if (rc < 0)
        return rc;
    if (!tdm_text_field_ok(text, len, TDM_CHAT_TEXT_MAX, true))
        return tdm_seterr(err, errlen, TDM_EINVAL,
                          "text: 1 to %d bytes of text, no control characters, trimmed",
                          TDM_CHAT_TEXT_MAX);
    if (tdm_text_has_bidi_controls(text, len, false))
        return tdm_seterr(err, errlen, TDM_EINVAL, "text: %s", k_no_overrides);
    if ((rc = take(c, from->id, false, now_us, err, errlen)) < 0)
        return rc;
    struct msg *m = new_msg(from, text, len, now_us);
    if (!m)
        return TDM_ENOMEM;
    append(c, m, out);
    return 0;
}

/* size_field: the wire field carrying the size ("data" whole, "size" for an upload). */
static int picture_checks(struct tdm_chat *c, const struct tdm_chat_sender *from,
                          const char *size_field, const char *declared, size_t declared_len,
                          size_t len, const char *caption, size_t caption_len,
                          enum tdm_chat_image *type, char *err, size_t errlen)
{
    int rc = check_sender(from, err, errlen);
    if (rc < 0)
        return rc;
    if (len > c->cfg.max_picture_bytes)
        return tdm_seterr(err, errlen, TDM_ETOOBIG, "%s: %zu bytes, at most %zu", size_field, len,
                          c->cfg.max_picture_bytes);
    if (tdm_chat_image_parse_mime(declared, declared_len, type) < 0)
        return tdm_seterr(err, errlen, TDM_EINVAL, "mime: image/jpeg, image/png or image/webp");
    if (caption_len && !tdm_text_field_ok(caption, caption_len, TDM_CHAT_TEXT_MAX, true))
        return tdm_seterr(err, errlen, TDM_EINVAL,
                          "caption: 1 to %d bytes of text, no control characters, trimmed",
                          TDM_CHAT_TEXT_MAX);
    if (caption_len && tdm_text_has_bidi_controls(caption, caption_len, false))
        return tdm_seterr(err, errlen, TDM_EINVAL, "caption: %s", k_no_overrides);
    return 0;
}

static void wipe_free(uint8_t *p, size_t len)
{
    if (p) {
        OPENSSL_cleanse(p, len);
        free(p);
    }
}

/* Checks the bytes and posts them. Takes ownership of bytes, even on error. */
static int post_picture(struct tdm_chat *c, const struct tdm_chat_sender *from,
                        enum tdm_chat_image type, uint8_t *bytes, size_t len, const char *caption,
                        size_t caption_len, int64_t now, const struct tdm_chat_message **out,
                        char *err, size_t errlen)
{
    struct tdm_chat_image_info info;
    char why[128] = "";
    struct msg *m = NULL;
    int rc = tdm_chat_image_sniff(bytes, len, &info, why, sizeof why);
    if (rc < 0)
        rc = tdm_seterr(err, errlen, rc, "data: %s", why);
    else if (info.type != type)
        rc = tdm_seterr(err, errlen, TDM_EINVAL, "mime: declared %s but the data is %s",
                        tdm_chat_image_mime(type), tdm_chat_image_mime(info.type));
    else if (info.metadata && !c->cfg.allow_metadata)
        rc = tdm_seterr(err, errlen, TDM_EINVAL,
                        "data: carries Exif/XMP/text metadata (the page re-encodes pictures)");
    else if (!(m = new_msg(from, caption, caption_len, now)))
        rc = TDM_ENOMEM;
    if (rc < 0) {
        wipe_free(bytes, len);
        return rc;
    }
    m->pic = bytes;
    m->v.picture = bytes;
    m->v.picture_len = len;
    m->v.picture_type = type;
    m->v.width = info.width;
    m->v.height = info.height;
    append(c, m, out);
    return 0;
}

int tdm_chat_send_picture(struct tdm_chat *c, const struct tdm_chat_sender *from,
                          const char *declared, size_t declared_len, uint8_t *bytes, size_t len,
                          const char *caption, size_t caption_len, int64_t now_us,
                          const struct tdm_chat_message **out, char *err, size_t errlen)
{
    enum tdm_chat_image type;
    int rc = picture_checks(c, from, "data", declared, declared_len, len, caption, caption_len,
                            &type, err, errlen);
    if (rc >= 0 && !pool_has(c, len, 0))
        rc = tdm_seterr(err, errlen, TDM_EFULL,
                        "data: the server holds as many pictures as it "
                        "may right now; try again later");
    if (rc < 0 || (rc = take(c, from->id, true, now_us, err, errlen)) < 0) {
        wipe_free(bytes, len);
        return rc;
    }
    return post_picture(c, from, type, bytes, len, caption, caption_len, now_us, out, err, errlen);
}

/* ---- chunked uploads ---- */

static struct upload *find_upload(struct tdm_chat *c, const char *owner)
{
    for (size_t i = 0; i < c->n_up; i++)
        if (strcmp(c->up[i].owner, owner) == 0)
            return &c->up[i];
    return NULL;
}

static void drop_upload(struct tdm_chat *c, struct upload *u)
{
    pool_give(c, u->size);
    wipe_free(u->buf, u->cap);
    wipe_free((uint8_t *)u->caption, u->caption_len);
    *u = c->up[--c->n_up];
}

static int new_upload(struct tdm_chat *c, const struct tdm_chat_sender *from,
                      enum tdm_chat_image type, size_t size, const char *caption,
                      size_t caption_len, int64_t now, uint64_t *upload_id)
{
    struct upload *u = &c->up[c->n_up];
    memset(u, 0, sizeof *u);
    u->caption = caption_len ? malloc(caption_len) : NULL;
    if (caption_len && !u->caption)
        return TDM_ENOMEM;
    if (caption_len)
        memcpy(u->caption, caption, caption_len);
    memcpy(u->owner, from->id, strlen(from->id) + 1);
    u->id = c->next_upload++;
    u->type = type;
    u->size = size;
    u->caption_len = caption_len;
    u->last_us = now;
    c->n_up++;
    pool_take(c, size);
    *upload_id = u->id;
    return 0;
}

int tdm_chat_upload_begin(struct tdm_chat *c, const struct tdm_chat_sender *from,
                          const char *declared, size_t declared_len, size_t size,
                          const char *caption, size_t caption_len, int64_t now_us,
                          uint64_t *upload_id, char *err, size_t errlen)
{
    enum tdm_chat_image type;
    int rc = picture_checks(c, from, "size", declared, declared_len, size, caption, caption_len,
                            &type, err, errlen);
    if (rc < 0)
        return rc;
    if (size == 0)
        return tdm_seterr(err, errlen, TDM_EINVAL, "size: at least one byte");
    struct upload *old = find_upload(c, from->id);
    if (!old && c->n_up == c->cfg.max_uploads)
        return tdm_seterr(err, errlen, TDM_EFULL, "upload: %zu pictures already on their way",
                          c->n_up);
    if (!pool_has(c, size, old ? old->size : 0))
        return tdm_seterr(err, errlen, TDM_EFULL,
                          "size: the server holds as many pictures as "
                          "it may right now; try again later");
    if ((rc = take(c, from->id, true, now_us, err, errlen)) < 0)
        return rc;
    if (old) /* one upload per participant: a new one replaces a stuck one */
        drop_upload(c, old);
    return new_upload(c, from, type, size, caption, caption_len, now_us, upload_id);
}

/* Room for `need` bytes: at least double what is held (few copies for a whole picture),
 * never more than announced. Moved by hand, not realloc, so the old copy is wiped. */
static int upload_reserve(struct upload *u, size_t need)
{
    if (need <= u->cap)
        return 0;
    size_t cap = u->cap > u->size / 2 ? u->size : 2 * u->cap;
    if (cap < need)
        cap = need;
    uint8_t *nb = malloc(cap);
    if (!nb)
        return TDM_ENOMEM;
    if (u->got)
        memcpy(nb, u->buf, u->got);
    wipe_free(u->buf, u->cap);
    u->buf = nb;
    u->cap = cap;
    return 0;
}

size_t tdm_chat_upload_bytes_held(const struct tdm_chat *c)
{
    size_t n = 0;
    for (size_t i = 0; i < c->n_up; i++)
        n += c->up[i].cap;
    return n;
}

int tdm_chat_upload_chunk(struct tdm_chat *c, const struct tdm_chat_sender *from,
                          uint64_t upload_id, size_t offset, const uint8_t *bytes, size_t len,
                          int64_t now_us, size_t *received, const struct tdm_chat_message **out,
                          char *err, size_t errlen)
{
    int rc = check_sender(from, err, errlen);
    if (rc < 0)
        return rc;
    struct upload *u = find_upload(c, from->id);
    if (!u || u->id != upload_id)
        return tdm_seterr(err, errlen, TDM_ENOTFOUND, "upload: no such upload (expired?)");
    /* In order only: WebSocket keeps order, so a gap or overlap is a broken client. */
    if (offset != u->got || len == 0 || len > u->size - u->got || !bytes) {
        drop_upload(c, u);
        return tdm_seterr(err, errlen, TDM_EINVAL, "offset: chunk does not continue the upload");
    }
    if (upload_reserve(u, u->got + len) < 0) {
        drop_upload(c, u);
        return TDM_ENOMEM;
    }
    memcpy(u->buf + u->got, bytes, len);
    u->got += len;
    u->last_us = now_us;
    if (received)
        *received = u->got;
    if (u->got < u->size)
        return 0;
    struct upload done = *u;
    c->up[u - c->up] = c->up[--c->n_up]; /* the buffer moves on to post_picture */
    pool_give(c, done.size);             /* and is taken again once stored */
    rc = post_picture(c, from, done.type, done.buf, done.size, done.caption, done.caption_len,
                      now_us, out, err, errlen);
    wipe_free((uint8_t *)done.caption, done.caption_len);
    return rc < 0 ? rc : 1;
}

void tdm_chat_upload_cancel(struct tdm_chat *c, const char *participant_id)
{
    struct upload *u = id_ok(participant_id) ? find_upload(c, participant_id) : NULL;
    if (u)
        drop_upload(c, u);
}

size_t tdm_chat_upload_expire(struct tdm_chat *c, int64_t now_us)
{
    size_t dropped = 0;
    for (size_t i = 0; i < c->n_up;) {
        if (now_us - c->up[i].last_us >= c->cfg.upload_idle_us) {
            drop_upload(c, &c->up[i]);
            dropped++;
        } else {
            i++;
        }
    }
    return dropped;
}

int64_t tdm_chat_next_deadline(const struct tdm_chat *c)
{
    int64_t t = INT64_MAX;
    for (size_t i = 0; i < c->n_up; i++)
        if (c->up[i].last_us + c->cfg.upload_idle_us < t)
            t = c->up[i].last_us + c->cfg.upload_idle_us;
    return t;
}

/* ---- reactions ---- */

/* Decodes one code point of already-validated UTF-8 at s[*i]. */
static uint32_t next_cp(const uint8_t *s, size_t *i)
{
    uint8_t c = s[(*i)++];
    if (c < 0x80)
        return c;
    int n = (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2 : 3;
    uint32_t cp = c & (0x3F >> n);
    while (n--)
        cp = (cp << 6) | (s[(*i)++] & 0x3F);
    return cp;
}

static bool emoji_ok(const char *e, size_t len)
{
    if (!e || len == 0 || len > TDM_CHAT_EMOJI_MAX || !tdm_utf8_valid((const uint8_t *)e, len))
        return false;
    for (size_t i = 0; i < len;) {
        uint32_t cp = next_cp((const uint8_t *)e, &i);
        if (cp < 0xA0 ||                      /* ASCII and C1 controls */
            cp == 0x200E || cp == 0x200F ||   /* LRM, RLM */
            (cp >= 0x2028 && cp <= 0x202E) || /* separators, bidi embeddings/overrides */
            (cp >= 0x2066 && cp <= 0x2069) || /* bidi isolates */
            cp == 0xFEFF)
            return false;
    }
    return true;
}

static int toggle(struct msg *m, const char *id, const char *emoji, size_t len, bool *added)
{
    size_t r = 0;
    while (r < m->v.n_reactions &&
           !(strlen(m->reactions[r].emoji) == len && !memcmp(m->reactions[r].emoji, emoji, len)))
        r++;
    if (r == m->v.n_reactions) {
        if (r == TDM_CHAT_REACTIONS_MAX)
            return TDM_EFULL;
        struct tdm_chat_reaction *nr = realloc(m->reactions, (r + 1) * sizeof *nr);
        if (!nr)
            return TDM_ENOMEM;
        m->reactions = nr;
        m->v.reactions = nr;
        memset(&nr[r], 0, sizeof nr[r]);
        memcpy(nr[r].emoji, emoji, len);
        m->v.n_reactions++;
    }
    struct tdm_chat_reaction *x = &m->reactions[r];
    for (size_t k = 0; k < x->count; k++) {
        if (strcmp(x->who[k], id) == 0) {
            memmove(&x->who[k], &x->who[k + 1], (x->count - k - 1) * sizeof x->who[0]);
            if (--x->count == 0) {
                free(x->who);
                memmove(x, x + 1, (--m->v.n_reactions - r) * sizeof *x);
            }
            *added = false;
            return 0;
        }
    }
    if (x->count == TDM_CHAT_REACTORS_MAX)
        return TDM_EFULL;
    char(*nw)[TDM_PARTICIPANT_ID_LEN + 1] = realloc(x->who, (x->count + 1) * sizeof *nw);
    if (!nw) {
        if (x->count == 0) /* the slot made above for this emoji */
            m->v.n_reactions--;
        return TDM_ENOMEM;
    }
    x->who = nw;
    memcpy(x->who[x->count++], id, strlen(id) + 1);
    *added = true;
    return 0;
}

int tdm_chat_react(struct tdm_chat *c, const struct tdm_chat_sender *from, uint64_t msg_id,
                   const char *emoji, size_t len, int64_t now_us, bool *added,
                   const struct tdm_chat_message **out, char *err, size_t errlen)
{
    bool on = false;
    int rc = check_sender(from, err, errlen);
    if (rc < 0)
        return rc;
    if (!emoji_ok(emoji, len))
        return tdm_seterr(err, errlen, TDM_EINVAL, "emoji: 1 to %d bytes of emoji, no ASCII",
                          TDM_CHAT_EMOJI_MAX);
    size_t i = find_index(c, msg_id);
    if (i == SIZE_MAX)
        return tdm_seterr(err, errlen, TDM_ENOTFOUND, "message: no message %llu",
                          (unsigned long long)msg_id);
    if ((rc = take(c, from->id, false, now_us, err, errlen)) < 0)
        return rc;
    if ((rc = toggle(c->msgs[i], from->id, emoji, len, &on)) < 0)
        return rc == TDM_EFULL ? tdm_seterr(err, errlen, rc, "emoji: too many reactions") : rc;
    if (added)
        *added = on;
    if (out)
        *out = &c->msgs[i]->v;
    return 0;
}

int tdm_chat_delete(struct tdm_chat *c, const struct tdm_chat_sender *from, uint64_t msg_id,
                    char *err, size_t errlen)
{
    if (!from || !id_ok(from->id))
        return tdm_seterr(err, errlen, TDM_EINVAL, "sender: bad participant id");
    size_t i = find_index(c, msg_id);
    if (i == SIZE_MAX)
        return tdm_seterr(err, errlen, TDM_ENOTFOUND, "message: no message %llu",
                          (unsigned long long)msg_id);
    if (from->role != TDM_ROLE_COORDINATOR && strcmp(c->msgs[i]->v.sender_id, from->id) != 0)
        return tdm_seterr(err, errlen, TDM_EPERM, "message: only its sender or a coordinator");
    remove_at(c, i);
    return 0;
}

size_t tdm_chat_count(const struct tdm_chat *c)
{
    return c->n;
}

const struct tdm_chat_message *tdm_chat_at(const struct tdm_chat *c, size_t i)
{
    return i < c->n ? &c->msgs[i]->v : NULL;
}

const struct tdm_chat_message *tdm_chat_find(const struct tdm_chat *c, uint64_t msg_id)
{
    size_t i = find_index(c, msg_id);
    return i == SIZE_MAX ? NULL : &c->msgs[i]->v;
}

size_t tdm_chat_picture_bytes(const struct tdm_chat *c)
{
    return c->pic_bytes;
}
