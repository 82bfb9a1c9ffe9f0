#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tandem/chat.h"
#include "tandem/err.h"

#define MS 1000LL
#define SEC 1000000LL
#define T0 (1700000000LL * SEC)

static const struct tdm_chat_sender amina = {"AAAAAAAAAAAAAAAAAAAAAA", "Amina", TDM_ROLE_MENTEE};
static const struct tdm_chat_sender jan = {"BBBBBBBBBBBBBBBBBBBBBB", "Jan", TDM_ROLE_MENTOR};
static const struct tdm_chat_sender coord = {"CCCCCCCCCCCCCCCCCCCCCC", "Sam", TDM_ROLE_COORDINATOR};

/* A chat whose rate limits stay out of the way unless a test wants them. */
static struct tdm_chat *mk(size_t max_messages, size_t budget, bool limits)
{
    struct tdm_chat_config cfg;
    tdm_chat_config_init(&cfg);
    if (max_messages)
        cfg.max_messages = max_messages;
    if (budget) {
        cfg.picture_budget_bytes = budget;
        cfg.max_picture_bytes = budget < cfg.max_picture_bytes ? budget : cfg.max_picture_bytes;
    }
    if (!limits) {
        cfg.messages_per_s = cfg.pictures_per_s = 1e9;
        cfg.message_burst = cfg.picture_burst = 1e9;
    }
    struct tdm_chat *c = NULL;
    assert_int_equal(tdm_chat_create(&cfg, &c, NULL, 0), 0);
    return c;
}

static uint8_t *load(const char *name, size_t *len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/chat/%s", TANDEM_TEST_DATA, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    uint8_t *buf = malloc(1 << 16);
    assert_non_null(buf);
    *len = fread(buf, 1, 1 << 16, f);
    fclose(f);
    return buf;
}

static int say(struct tdm_chat *c, const struct tdm_chat_sender *who, const char *text, int64_t now)
{
    char err[128] = "";
    int rc = tdm_chat_send_text(c, who, text, strlen(text), now, NULL, err, sizeof err);
    if (rc < 0)
        assert_true(err[0] != '\0');
    return rc;
}

/* Sends a fixture; the chat takes the buffer whatever happens (ASan checks the frees). */
static int show(struct tdm_chat *c, const struct tdm_chat_sender *who, const char *file,
                const char *mime, int64_t now, const struct tdm_chat_message **out)
{
    size_t len;
    uint8_t *p = load(file, &len);
    char err[128] = "";
    int rc = tdm_chat_send_picture(c, who, mime, strlen(mime), p, len, NULL, 0, now, out, err,
                                   sizeof err);
    if (rc < 0)
        assert_true(err[0] != '\0');
    return rc;
}

static int react(struct tdm_chat *c, const struct tdm_chat_sender *who, uint64_t id,
                 const char *emoji, bool *added)
{
    return tdm_chat_react(c, who, id, emoji, strlen(emoji), T0, added, NULL, NULL, 0);
}

static void config_checked(void **state)
{
    (void)state;
    struct tdm_chat_config cfg;
    struct tdm_chat *c = (struct tdm_chat *)1;
    tdm_chat_config_init(&cfg);
    assert_int_equal(cfg.max_messages, 200);
    assert_int_equal(cfg.max_picture_bytes, 2 << 20);
    assert_int_equal(cfg.picture_budget_bytes, 20 << 20);
    cfg.picture_budget_bytes = cfg.max_picture_bytes - 1;
    assert_int_equal(tdm_chat_create(&cfg, &c, NULL, 0), TDM_EINVAL);
    assert_null(c);
    tdm_chat_config_init(&cfg);
    cfg.max_messages = 0;
    assert_int_equal(tdm_chat_create(&cfg, &c, NULL, 0), TDM_EINVAL);
    tdm_chat_config_init(&cfg);
    cfg.pictures_per_s = 0;
    assert_int_equal(tdm_chat_create(&cfg, &c, NULL, 0), TDM_EINVAL);
}

static void texts(void **state)
{
    (void)state;
    struct tdm_chat *c = mk(0, 0, false);
    const struct tdm_chat_message *m = NULL;
    const char *hello = "Hello \xd9\x85\xd8\xb1\xd8\xad\xd8\xa8\xd8\xa7 \xf0\x9f\x98\x8a\nbye";
    assert_int_equal(tdm_chat_send_text(c, &amina, hello, strlen(hello), T0, &m, NULL, 0), 0);
    assert_non_null(m);
    assert_int_equal(m->id, 1);
    assert_int_equal(m->time_us, T0);
    assert_string_equal(m->text, hello);
    assert_int_equal(m->text_len, strlen(hello));
    assert_string_equal(m->sender_id, amina.id);
    assert_string_equal(m->sender_name, "Amina");
    assert_int_equal(m->picture_type, TDM_CHAT_IMAGE_NONE);
    assert_int_equal(m->n_reactions, 0);
    assert_int_equal(say(c, &jan, "second", T0 + 1), 0);
    assert_int_equal(tdm_chat_at(c, 1)->id, 2);

    /* An override could make a line read as someone else's; the marks stay allowed. */
    assert_int_equal(say(c, &jan, "\xe2\x80\xae:animA ,olleh", T0 + 1), TDM_EINVAL);
    assert_int_equal(say(c, &jan, "ok \xe2\x81\xa7x", T0 + 1), TDM_EINVAL);
    assert_int_equal(say(c, &jan, "\xd9\x85\xe2\x80\x8f 42", T0 + 1), 0);
    const struct tdm_chat_sender rlo = {"CAAAAAAAAAAAAAAAAAAAAA", "Jan\xe2\x80\xae",
                                        TDM_ROLE_MENTEE};
    assert_int_equal(say(c, &rlo, "hi", T0 + 1), TDM_EINVAL);

    char big[TDM_CHAT_TEXT_MAX + 2];
    memset(big, 'x', sizeof big);
    big[TDM_CHAT_TEXT_MAX] = '\0';
    assert_int_equal(say(c, &amina, big, T0), 0);
    big[TDM_CHAT_TEXT_MAX] = 'x';
    big[TDM_CHAT_TEXT_MAX + 1] = '\0';
    assert_int_equal(say(c, &amina, big, T0), TDM_EINVAL);
    const char *bad[] = {
        "",        " lead",       "trail\n",       "cr\r\nlf",     "tab\there",
        "nul\x01", "c1 \xc2\x85", "bad \xff utf8", "cut \xe2\x82", "overlong \xc0\xaf"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(say(c, &amina, bad[i], T0), TDM_EINVAL);
    struct tdm_chat_sender nobody = {"", "X", TDM_ROLE_MENTEE};
    assert_int_equal(say(c, &nobody, "hi", T0), TDM_EINVAL);
    struct tdm_chat_sender noname = {"DDDDDDDDDDDDDDDDDDDDDD", " X", TDM_ROLE_MENTEE};
    assert_int_equal(say(c, &noname, "hi", T0), TDM_EINVAL);
    assert_int_equal(say(c, NULL, "hi", T0), TDM_EINVAL);
    assert_int_equal(tdm_chat_count(c), 4);
    tdm_chat_destroy(c);
}

static void text_rate_limit(void **state)
{
    (void)state;
    struct tdm_chat *c = mk(0, 0, true); /* 5/s, burst 10 */
    for (int i = 0; i < 10; i++)
        assert_int_equal(say(c, &amina, "hi", T0), 0);
    assert_int_equal(say(c, &amina, "hi", T0), TDM_EAGAIN);
    assert_int_equal(say(c, &jan, "me too", T0), 0); /* per participant */
    assert_int_equal(say(c, &amina, "hi", T0 + 199 * MS), TDM_EAGAIN);
    assert_int_equal(say(c, &amina, "hi", T0 + 200 * MS), 0); /* one token per 200 ms */
    assert_int_equal(say(c, &amina, "hi", T0 + 200 * MS), TDM_EAGAIN);
    /* reactions draw on the same bucket */
    assert_int_equal(react(c, &amina, 1, "\xf0\x9f\x91\x8d", NULL), TDM_EAGAIN);
    assert_int_equal(tdm_chat_count(c), 12);
    /* a participant who left starts afresh (its id is never reused by the room) */
    tdm_chat_participant_left(c, amina.id);
    assert_int_equal(say(c, &amina, "back", T0 + 200 * MS), 0);
    tdm_chat_destroy(c);
}

static void limiter_table_bounded(void **state)
{
    (void)state;
    struct tdm_chat_config cfg;
    tdm_chat_config_init(&cfg);
    cfg.max_senders = 2;
    cfg.message_burst = 1;
    struct tdm_chat *c = NULL;
    assert_int_equal(tdm_chat_create(&cfg, &c, NULL, 0), 0);
    assert_int_equal(say(c, &amina, "a", T0), 0);
    assert_int_equal(say(c, &jan, "b", T0), 0);
    assert_int_equal(say(c, &jan, "b", T0), TDM_EAGAIN);
    assert_int_equal(say(c, &coord, "c", T0), 0); /* replaces Amina's, the stalest */
    assert_int_equal(say(c, &jan, "b", T0), TDM_EAGAIN);
    assert_int_equal(say(c, &coord, "c", T0), TDM_EAGAIN);
    tdm_chat_destroy(c);
}

static void history_ring(void **state)
{
    (void)state;
    struct tdm_chat *c = mk(5, 0, false);
    char text[16];
    for (int i = 1; i <= 8; i++) {
        snprintf(text, sizeof text, "m%d", i);
        assert_int_equal(say(c, i % 2 ? &amina : &jan, text, T0 + i), 0);
    }
    assert_int_equal(tdm_chat_count(c), 5);
    for (size_t i = 0; i < 5; i++) { /* a late joiner sees 4..8, oldest first */
        const struct tdm_chat_message *m = tdm_chat_at(c, i);
        assert_int_equal(m->id, i + 4);
        snprintf(text, sizeof text, "m%zu", i + 4);
        assert_string_equal(m->text, text);
    }
    assert_null(tdm_chat_at(c, 5));
    assert_null(tdm_chat_find(c, 3));
    assert_non_null(tdm_chat_find(c, 6));
    assert_null(tdm_chat_find(c, 9));
    tdm_chat_destroy(c);
}

static void pictures(void **state)
{
    (void)state;
    struct tdm_chat *c = mk(0, 0, false);
    const struct tdm_chat_message *m = NULL;
    assert_int_equal(show(c, &amina, "red_24x10.png", "image/png", T0, &m), 0);
    assert_int_equal(m->picture_type, TDM_CHAT_IMAGE_PNG);
    assert_int_equal(m->width, 24);
    assert_int_equal(m->height, 10);
    assert_int_equal(m->picture_len, 101);
    assert_non_null(m->picture);
    assert_null(m->text);
    assert_int_equal(tdm_chat_picture_bytes(c), 101);
    assert_int_equal(show(c, &amina, "red_24x10.jpg", "image/jpeg", T0, NULL), 0);
    assert_int_equal(show(c, &amina, "red_24x10_alpha.webp", "image/webp", T0, NULL), 0);
    /* refused, and the bytes freed all the same (the leak checker would say otherwise) */
    assert_int_equal(show(c, &amina, "jpeg_named.png", "image/png", T0, NULL), TDM_EINVAL);
    assert_int_equal(show(c, &amina, "red_24x10.png", "image/gif", T0, NULL), TDM_EINVAL);
    assert_int_equal(show(c, &amina, "truncated.png", "image/png", T0, NULL), TDM_ETRUNC);
    assert_int_equal(show(c, &amina, "huge_100000.png", "image/png", T0, NULL), TDM_ETOOBIG);
    assert_int_equal(show(c, &amina, "exif.jpg", "image/jpeg", T0, NULL), TDM_EINVAL);
    assert_int_equal(tdm_chat_count(c), 3);
    /* with a caption */
    size_t len;
    uint8_t *p = load("red_24x10.jpg", &len);
    const char *cap = "the bill \xe2\x80\x93 what does line 3 mean?";
    assert_int_equal(
        tdm_chat_send_picture(c, &jan, "image/jpeg", 10, p, len, cap, strlen(cap), T0, &m, NULL, 0),
        0);
    assert_string_equal(m->text, cap);
    p = load("red_24x10.jpg", &len);
    assert_int_equal(
        tdm_chat_send_picture(c, &jan, "image/jpeg", 10, p, len, " x", 2, T0, &m, NULL, 0),
        TDM_EINVAL);
    tdm_chat_destroy(c);
}

static void picture_limits(void **state)
{
    (void)state;
    struct tdm_chat_config cfg;
    tdm_chat_config_init(&cfg);
    cfg.max_picture_bytes = 100; /* the PNG fixture is 101 bytes, the lossy WebP 80 */
    struct tdm_chat *c = NULL;
    assert_int_equal(tdm_chat_create(&cfg, &c, NULL, 0), 0);
    /* refused for its size before it costs a token */
    assert_int_equal(show(c, &amina, "red_24x10.png", "image/png", T0, NULL), TDM_ETOOBIG);
    /* 1 per 2 s, burst 3 */
    for (int i = 0; i < 3; i++)
        assert_int_equal(show(c, &amina, "red_24x10_lossy.webp", "image/webp", T0, NULL), 0);
    assert_int_equal(show(c, &amina, "red_24x10_lossy.webp", "image/webp", T0, NULL), TDM_EAGAIN);
    assert_int_equal(show(c, &jan, "red_24x10_lossy.webp", "image/webp", T0, NULL), 0);
    assert_int_equal(show(c, &amina, "red_24x10_lossy.webp", "image/webp", T0 + 1999 * MS, NULL),
                     TDM_EAGAIN);
    assert_int_equal(show(c, &amina, "red_24x10_lossy.webp", "image/webp", T0 + 2 * SEC, NULL), 0);
    assert_int_equal(show(c, &amina, "red_24x10_lossy.webp", "image/webp", T0 + 2 * SEC, NULL),
                     TDM_EAGAIN);
    assert_int_equal(say(c, &amina, "texts still go", T0 + 2 * SEC), 0);
    tdm_chat_destroy(c);
}

static void metadata_policy(void **state)
{
    (void)state;
    struct tdm_chat_config cfg;
    tdm_chat_config_init(&cfg);
    cfg.allow_metadata = true;
    struct tdm_chat *c = NULL;
    assert_int_equal(tdm_chat_create(&cfg, &c, NULL, 0), 0);
    assert_int_equal(show(c, &amina, "exif.jpg", "image/jpeg", T0, NULL), 0);
    tdm_chat_destroy(c);
    c = mk(0, 0, false);
    assert_int_equal(show(c, &amina, "exif.jpg", "image/jpeg", T0, NULL), TDM_EINVAL);
    tdm_chat_destroy(c);
}

static void picture_budget_eviction(void **state)
{
    (void)state;
    struct tdm_chat *c = mk(0, 3 * 101, false); /* room for three PNG fixtures */
    assert_int_equal(show(c, &amina, "red_24x10.png", "image/png", T0, NULL), 0);
    assert_int_equal(say(c, &jan, "nice", T0), 0);
    assert_int_equal(show(c, &jan, "red_24x10.png", "image/png", T0, NULL), 0);
    assert_int_equal(show(c, &amina, "red_24x10.png", "image/png", T0, NULL), 0);
    assert_int_equal(tdm_chat_picture_bytes(c), 303);
    assert_int_equal(show(c, &jan, "red_24x10.png", "image/png", T0, NULL), 0);
    assert_int_equal(tdm_chat_picture_bytes(c), 303);
    const struct tdm_chat_message *first = tdm_chat_at(c, 0);
    assert_int_equal(first->id, 1);
    assert_null(first->picture); /* the oldest picture went, its message stays */
    assert_int_equal(first->picture_len, 101);
    assert_int_equal(first->picture_type, TDM_CHAT_IMAGE_PNG);
    assert_non_null(tdm_chat_at(c, 2)->picture);
    assert_int_equal(tdm_chat_count(c), 5);
    /* a smaller picture needs only part of the room: one more eviction */
    assert_int_equal(show(c, &jan, "red_24x10_lossless.webp", "image/webp", T0, NULL), 0);
    assert_null(tdm_chat_at(c, 2)->picture);
    assert_non_null(tdm_chat_at(c, 3)->picture);
    assert_int_equal(tdm_chat_picture_bytes(c), 2 * 101 + 36);
    /* deleting a picture gives its bytes back */
    assert_int_equal(tdm_chat_delete(c, &amina, 4, NULL, 0), 0);
    assert_int_equal(tdm_chat_picture_bytes(c), 101 + 36);
    tdm_chat_destroy(c);
}

static void ring_drops_pictures_too(void **state)
{
    (void)state;
    struct tdm_chat *c = mk(2, 0, false);
    assert_int_equal(show(c, &amina, "red_24x10.png", "image/png", T0, NULL), 0);
    assert_int_equal(say(c, &jan, "a", T0), 0);
    assert_int_equal(say(c, &jan, "b", T0), 0);
    assert_int_equal(tdm_chat_picture_bytes(c), 0);
    tdm_chat_destroy(c);
}

static void reactions_toggle(void **state)
{
    (void)state;
    struct tdm_chat *c = mk(0, 0, false);
    assert_int_equal(say(c, &amina, "we did it", T0), 0);
    const char *thumbs = "\xf0\x9f\x91\x8d", *heart = "\xe2\x9d\xa4\xef\xb8\x8f";
    bool added = false;
    const struct tdm_chat_message *m = NULL;
    assert_int_equal(tdm_chat_react(c, &jan, 1, thumbs, 4, T0, &added, &m, NULL, 0), 0);
    assert_true(added);
    assert_int_equal(m->n_reactions, 1);
    assert_string_equal(m->reactions[0].emoji, thumbs);
    assert_int_equal(m->reactions[0].count, 1);
    assert_string_equal(m->reactions[0].who[0], jan.id);
    assert_int_equal(react(c, &amina, 1, thumbs, &added), 0);
    assert_true(added);
    assert_int_equal(react(c, &amina, 1, heart, &added), 0);
    m = tdm_chat_find(c, 1);
    assert_int_equal(m->n_reactions, 2);
    assert_int_equal(m->reactions[0].count, 2);
    assert_string_equal(m->reactions[0].who[1], amina.id);
    /* toggling off: Jan's thumb goes, Amina's stays */
    assert_int_equal(react(c, &jan, 1, thumbs, &added), 0);
    assert_false(added);
    m = tdm_chat_find(c, 1);
    assert_int_equal(m->reactions[0].count, 1);
    assert_string_equal(m->reactions[0].who[0], amina.id);
    /* the last one off removes the emoji */
    assert_int_equal(react(c, &amina, 1, thumbs, &added), 0);
    m = tdm_chat_find(c, 1);
    assert_int_equal(m->n_reactions, 1);
    assert_string_equal(m->reactions[0].emoji, heart);
    assert_int_equal(react(c, &amina, 99, heart, &added), TDM_ENOTFOUND);
    tdm_chat_destroy(c);
}

static void emoji_rules(void **state)
{
    (void)state;
    struct tdm_chat *c = mk(0, 0, false);
    assert_int_equal(say(c, &amina, "x", T0), 0);
    const char *good[] = {"\xf0\x9f\x91\x8d",                                /* thumbs up */
                          "\xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd",                /* skin tone */
                          "\xf0\x9f\x87\xa9\xf0\x9f\x87\xaa",                /* flag */
                          "\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9\xe2" /* family, ZWJ */
                          "\x80\x8d\xf0\x9f\x91\xa7",
                          "\xc2\xa9"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        assert_int_equal(react(c, &amina, 1, good[i], NULL), 0);
    const char *bad[] = {"a",
                         "1",
                         ":)",
                         "\x01",
                         "\xf0\x9f\x91\x8d ",
                         "\xc2\x85",                     /* C1 control */
                         "\xe2\x80\xae\xf0\x9f\x91\x8d", /* right-to-left override */
                         "\xe2\x81\xa6",                 /* bidi isolate */
                         "\xe2\x80\xa8",                 /* line separator */
                         "\xef\xbb\xbf",                 /* BOM */
                         "\xf0\x9f\x91",                 /* cut */
                         "\xed\xa0\x80",                 /* surrogate */
                         "",
                         "1\xef\xb8\x8f\xe2\x83\xa3"}; /* keycap: has a digit */
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(react(c, &amina, 1, bad[i], NULL), TDM_EINVAL);
    char long_emoji[40] = "";
    for (int i = 0; i < 9; i++)
        strcat(long_emoji, "\xf0\x9f\x91\x8d"); /* 36 bytes */
    assert_int_equal(react(c, &amina, 1, long_emoji, NULL), TDM_EINVAL);
    long_emoji[32] = '\0';
    assert_int_equal(react(c, &amina, 1, long_emoji, NULL), 0);
    tdm_chat_destroy(c);
}

static void reaction_bounds(void **state)
{
    (void)state;
    struct tdm_chat *c = mk(0, 0, false);
    assert_int_equal(say(c, &amina, "x", T0), 0);
    char e[8];
    for (int i = 0; i < TDM_CHAT_REACTIONS_MAX; i++) {
        snprintf(e, sizeof e, "\xf0\x9f\x98%c", (char)(0x80 + i)); /* U+1F600.. */
        assert_int_equal(react(c, &amina, 1, e, NULL), 0);
    }
    assert_int_equal(react(c, &amina, 1, "\xf0\x9f\x99\x80", NULL), TDM_EFULL);
    for (int i = 0; i < TDM_CHAT_REACTORS_MAX - 1; i++) { /* Amina is the first */
        char id[TDM_PARTICIPANT_ID_LEN + 1];
        snprintf(id, sizeof id, "p%d", i);
        struct tdm_chat_sender s = {id, "P", TDM_ROLE_MENTEE};
        assert_int_equal(react(c, &s, 1, "\xf0\x9f\x98\x80", NULL), 0);
    }
    assert_int_equal(tdm_chat_find(c, 1)->reactions[0].count, TDM_CHAT_REACTORS_MAX);
    assert_int_equal(react(c, &jan, 1, "\xf0\x9f\x98\x80", NULL), TDM_EFULL);
    tdm_chat_destroy(c);
}

static void deletion(void **state)
{
    (void)state;
    struct tdm_chat *c = mk(0, 0, false);
    assert_int_equal(say(c, &amina, "oops, my address", T0), 0);
    assert_int_equal(say(c, &jan, "ok", T0), 0);
    assert_int_equal(show(c, &amina, "red_24x10.png", "image/png", T0, NULL), 0);
    assert_int_equal(tdm_chat_delete(c, &jan, 1, NULL, 0), TDM_EPERM);
    assert_int_equal(tdm_chat_delete(c, &amina, 1, NULL, 0), 0);
    assert_null(tdm_chat_find(c, 1));
    assert_int_equal(tdm_chat_delete(c, &amina, 1, NULL, 0), TDM_ENOTFOUND);
    assert_int_equal(tdm_chat_delete(c, &coord, 2, NULL, 0), 0); /* a coordinator moderates */
    assert_int_equal(tdm_chat_count(c), 1);
    assert_int_equal(tdm_chat_at(c, 0)->id, 3);
    assert_int_equal(say(c, &jan, "next", T0), 0);
    assert_int_equal(tdm_chat_at(c, 1)->id, 4); /* ids are never reused */
    assert_int_equal(react(c, &jan, 1, "\xf0\x9f\x91\x8d", NULL), TDM_ENOTFOUND);
    struct tdm_chat_sender bad = {NULL, "X", TDM_ROLE_COORDINATOR};
    assert_int_equal(tdm_chat_delete(c, &bad, 3, NULL, 0), TDM_EINVAL);
    tdm_chat_destroy(c); /* the PNG still held is wiped and freed here */
}

static int begin(struct tdm_chat *c, const struct tdm_chat_sender *who, const char *mime,
                 size_t size, int64_t now, uint64_t *id)
{
    char err[128] = "";
    int rc =
        tdm_chat_upload_begin(c, who, mime, strlen(mime), size, NULL, 0, now, id, err, sizeof err);
    if (rc < 0)
        assert_true(err[0] != '\0');
    return rc;
}

static int chunk(struct tdm_chat *c, const struct tdm_chat_sender *who, uint64_t id, size_t off,
                 const uint8_t *p, size_t len, const struct tdm_chat_message **out)
{
    return tdm_chat_upload_chunk(c, who, id, off, p, len, T0, NULL, out, NULL, 0);
}

static void chunked_upload(void **state)
{
    (void)state;
    struct tdm_chat *c = mk(0, 0, false);
    size_t len, got = 0;
    uint8_t *png = load("red_24x10.png", &len);
    uint64_t id = 0;
    const char *cap = "our bill";
    assert_int_equal(
        tdm_chat_upload_begin(c, &amina, "image/png", 9, len, cap, strlen(cap), T0, &id, NULL, 0),
        0);
    assert_true(id > 0);
    assert_int_equal(tdm_chat_upload_chunk(c, &amina, id, 0, png, 40, T0, &got, NULL, NULL, 0), 0);
    assert_int_equal(got, 40);
    assert_int_equal(chunk(c, &jan, id, 40, png + 40, 40, NULL), TDM_ENOTFOUND); /* not his */
    assert_int_equal(chunk(c, &amina, id + 1, 40, png + 40, 40, NULL), TDM_ENOTFOUND);
    assert_int_equal(chunk(c, &amina, id, 40, png + 40, 40, NULL), 0);
    assert_int_equal(tdm_chat_count(c), 0);
    const struct tdm_chat_message *m = NULL;
    assert_int_equal(chunk(c, &amina, id, 80, png + 80, len - 80, &m), 1);
    assert_non_null(m);
    assert_int_equal(m->picture_type, TDM_CHAT_IMAGE_PNG);
    assert_int_equal(m->picture_len, len);
    assert_memory_equal(m->picture, png, len);
    assert_string_equal(m->text, cap);
    assert_int_equal(chunk(c, &amina, id, len, png, 1, NULL), TDM_ENOTFOUND); /* finished */
    free(png);
    tdm_chat_destroy(c);
}

/* Abandoned uploads hold what they were sent, not what they announced (40 of 2 MiB used to
 * take 80 MiB at once); a whole picture sent in small pieces still arrives intact. */
static void uploads_hold_what_they_got(void **state)
{
    (void)state;
    enum { UPLOADS = 40, PIECE = 4096, BIG = 2 << 20 };
    struct tdm_chat_config cfg;
    tdm_chat_config_init(&cfg);
    cfg.messages_per_s = cfg.pictures_per_s = 1e9;
    cfg.message_burst = cfg.picture_burst = 1e9;
    cfg.max_uploads = UPLOADS;
    struct tdm_chat_pool pool = {.used = 0, .cap = (size_t)UPLOADS * BIG};
    cfg.pool = &pool;
    struct tdm_chat *c = NULL;
    assert_int_equal(tdm_chat_create(&cfg, &c, NULL, 0), 0);
    static uint8_t piece[3 * PIECE];
    memset(piece, 0x42, sizeof piece);
    char ids[UPLOADS][TDM_PARTICIPANT_ID_LEN + 1];
    for (int i = 0; i < UPLOADS; i++) {
        snprintf(ids[i], sizeof ids[i], "U%021d", i);
        struct tdm_chat_sender who = {ids[i], "Someone", TDM_ROLE_MENTEE};
        uint64_t id;
        assert_int_equal(begin(c, &who, "image/png", BIG, T0, &id), 0);
        assert_int_equal(tdm_chat_upload_bytes_held(c), (size_t)i * PIECE); /* nothing yet */
        assert_int_equal(chunk(c, &who, id, 0, piece, PIECE, NULL), 0);
    }
    assert_int_equal(pool.used, (size_t)UPLOADS * BIG); /* the pool reserves what is announced */
    assert_int_equal(tdm_chat_upload_bytes_held(c), (size_t)UPLOADS * PIECE);
    /* Growing doubles (few copies) but never past twice the bytes received, nor the size. */
    struct tdm_chat_sender first = {ids[0], "Someone", TDM_ROLE_MENTEE};
    uint64_t id;
    assert_int_equal(begin(c, &first, "image/png", 5 * PIECE + 7, T0, &id), 0);
    size_t off = 0;
    for (size_t len = 1000; off + len <= 5 * PIECE + 7; off += len) {
        assert_int_equal(chunk(c, &first, id, off, piece, len, NULL), 0);
        size_t held = tdm_chat_upload_bytes_held(c) - (UPLOADS - 1) * (size_t)PIECE;
        assert_true(held >= off + len && held <= 2 * (off + len) && held <= 5 * PIECE + 7);
    }
    tdm_chat_upload_expire(c, T0 + cfg.upload_idle_us);
    assert_int_equal(tdm_chat_upload_bytes_held(c), 0);
    assert_int_equal(pool.used, 0);
    tdm_chat_destroy(c);

    /* A real picture in pieces of 7 bytes: the moves keep every byte. */
    c = mk(0, 0, false);
    size_t len;
    uint8_t *png = load("red_24x10.png", &len);
    assert_int_equal(begin(c, &amina, "image/png", len, T0, &id), 0);
    const struct tdm_chat_message *m = NULL;
    int rc = 0;
    for (off = 0; off < len; off += 7)
        rc = chunk(c, &amina, id, off, png + off, len - off < 7 ? len - off : 7, &m);
    assert_int_equal(rc, 1);
    assert_memory_equal(m->picture, png, len);
    free(png);
    tdm_chat_destroy(c);
}

static void upload_refusals(void **state)
{
    (void)state;
    struct tdm_chat *c = mk(0, 0, false);
    size_t len;
    uint8_t *png = load("red_24x10.png", &len);
    uint64_t id = 0;
    /* out of order: the upload is dropped */
    assert_int_equal(begin(c, &amina, "image/png", len, T0, &id), 0);
    assert_int_equal(chunk(c, &amina, id, 10, png, 10, NULL), TDM_EINVAL);
    assert_int_equal(chunk(c, &amina, id, 0, png, 10, NULL), TDM_ENOTFOUND);
    /* more than announced, or empty */
    assert_int_equal(begin(c, &amina, "image/png", 50, T0, &id), 0);
    assert_int_equal(chunk(c, &amina, id, 0, png, 51, NULL), TDM_EINVAL);
    assert_int_equal(begin(c, &amina, "image/png", 50, T0, &id), 0);
    assert_int_equal(chunk(c, &amina, id, 0, png, 0, NULL), TDM_EINVAL);
    /* a second begin replaces the first */
    uint64_t first, second;
    assert_int_equal(begin(c, &amina, "image/png", len, T0, &first), 0);
    assert_int_equal(begin(c, &amina, "image/png", len, T0, &second), 0);
    assert_int_equal(chunk(c, &amina, first, 0, png, len, NULL), TDM_ENOTFOUND);
    /* mislabeled: refused on the last piece, and gone */
    assert_int_equal(begin(c, &amina, "image/jpeg", len, T0, &id), 0);
    char err[128];
    assert_int_equal(
        tdm_chat_upload_chunk(c, &amina, id, 0, png, len, T0, NULL, NULL, err, sizeof err),
        TDM_EINVAL);
    assert_non_null(strstr(err, "mime:"));
    assert_int_equal(chunk(c, &amina, id, 0, png, len, NULL), TDM_ENOTFOUND);
    /* a truncated picture is a bad "data" field */
    assert_int_equal(begin(c, &amina, "image/png", len - 20, T0, &id), 0);
    assert_int_equal(
        tdm_chat_upload_chunk(c, &amina, id, 0, png, len - 20, T0, NULL, NULL, err, sizeof err),
        TDM_ETRUNC);
    assert_true(strncmp(err, "data: png:", 10) == 0);
    /* begin checks what it can */
    assert_int_equal(begin(c, &amina, "image/gif", len, T0, &id), TDM_EINVAL);
    assert_int_equal(begin(c, &amina, "image/png", 0, T0, &id), TDM_EINVAL);
    assert_int_equal(tdm_chat_upload_begin(c, &amina, "image/png", 9, (2 << 20) + 1, NULL, 0, T0,
                                           &id, err, sizeof err),
                     TDM_ETOOBIG);
    assert_true(strncmp(err, "size:", 5) == 0);
    assert_int_equal(tdm_chat_count(c), 0);
    /* left mid-upload: dropped */
    assert_int_equal(begin(c, &jan, "image/png", len, T0, &id), 0);
    tdm_chat_participant_left(c, jan.id);
    assert_int_equal(chunk(c, &jan, id, 0, png, len, NULL), TDM_ENOTFOUND);
    /* destroyed mid-upload: wiped and freed (the leak checker watches) */
    assert_int_equal(begin(c, &coord, "image/png", len, T0, &id), 0);
    assert_int_equal(chunk(c, &coord, id, 0, png, 10, NULL), 0);
    free(png);
    tdm_chat_destroy(c);
}

static void upload_limits(void **state)
{
    (void)state;
    struct tdm_chat *c = mk(0, 0, true);
    uint64_t id;
    /* the picture token is taken at begin: burst 3 */
    for (int i = 0; i < 3; i++)
        assert_int_equal(begin(c, &amina, "image/png", 100, T0, &id), 0);
    assert_int_equal(begin(c, &amina, "image/png", 100, T0, &id), TDM_EAGAIN);
    /* at most four in flight in the room */
    struct tdm_chat_sender s[5];
    char ids[5][TDM_PARTICIPANT_ID_LEN + 1];
    for (int i = 0; i < 5; i++) {
        snprintf(ids[i], sizeof ids[i], "u%d", i);
        s[i] = (struct tdm_chat_sender){ids[i], "U", TDM_ROLE_MENTEE};
    }
    for (int i = 0; i < 3; i++) /* Amina's is the first of four: a refused begin kept it */
        assert_int_equal(begin(c, &s[i], "image/png", 100, T0, &id), 0);
    assert_int_equal(begin(c, &s[3], "image/png", 100, T0, &id), TDM_EFULL);
    /* idle uploads expire */
    assert_int_equal(tdm_chat_next_deadline(c), T0 + 30 * SEC);
    assert_int_equal(tdm_chat_upload_expire(c, T0 + 30 * SEC - 1), 0);
    assert_int_equal(begin(c, &s[3], "image/png", 100, T0 + 10 * SEC, &id), TDM_EFULL);
    assert_int_equal(tdm_chat_upload_expire(c, T0 + 30 * SEC), 4);
    assert_int_equal(tdm_chat_next_deadline(c), INT64_MAX);
    assert_int_equal(begin(c, &s[4], "image/png", 100, T0 + 30 * SEC, &id), 0);
    assert_int_equal(tdm_chat_next_deadline(c), T0 + 60 * SEC);
    tdm_chat_destroy(c);
}

/* Two rooms share one server-wide picture pool: uploads and stored pictures count, what one
 * room holds can refuse the other, and everything is given back (deletion, eviction, a
 * replaced or cancelled upload, destroy). */
static void server_picture_pool(void **state)
{
    (void)state;
    size_t len;
    uint8_t *png = load("red_24x10.png", &len);
    struct tdm_chat_pool pool = {.used = 0, .cap = 3 * len};
    struct tdm_chat_config cfg;
    tdm_chat_config_init(&cfg);
    cfg.messages_per_s = cfg.pictures_per_s = 1e9;
    cfg.message_burst = cfg.picture_burst = 1e9;
    cfg.pool = &pool;
    struct tdm_chat *a = NULL, *b = NULL;
    assert_int_equal(tdm_chat_create(&cfg, &a, NULL, 0), 0);
    assert_int_equal(tdm_chat_create(&cfg, &b, NULL, 0), 0);
    const struct tdm_chat_message *m = NULL;
    assert_int_equal(show(a, &amina, "red_24x10.png", "image/png", T0, &m), 0);
    uint64_t first = m->id;
    assert_int_equal(pool.used, len);
    uint64_t up = 0, up2 = 0;
    char err[128] = "";
    assert_int_equal(
        tdm_chat_upload_begin(b, &jan, "image/png", 9, len, NULL, 0, T0, &up, err, sizeof err), 0);
    assert_int_equal(pool.used, 2 * len);
    /* a replaced upload gives its bytes back before the new one takes them */
    assert_int_equal(
        tdm_chat_upload_begin(b, &jan, "image/png", 9, len, NULL, 0, T0, &up, err, sizeof err), 0);
    assert_int_equal(pool.used, 2 * len);
    assert_int_equal(show(b, &coord, "red_24x10.png", "image/png", T0, NULL), 0);
    assert_int_equal(pool.used, 3 * len);
    /* full: room a is refused, with a message that says to try later */
    assert_int_equal(show(a, &amina, "red_24x10.png", "image/png", T0, NULL), TDM_EFULL);
    assert_int_equal(
        tdm_chat_upload_begin(a, &amina, "image/png", 9, len, NULL, 0, T0, &up2, err, sizeof err),
        TDM_EFULL);
    assert_non_null(strstr(err, "try again later"));
    /* the upload in b finishes: its bytes move from "on their way" to "stored" */
    assert_int_equal(chunk(b, &jan, up, 0, png, len, &m), 1);
    assert_int_equal(pool.used, 3 * len);
    /* a deletion in a gives room to a */
    assert_int_equal(tdm_chat_delete(a, &amina, first, NULL, 0), 0);
    assert_int_equal(pool.used, 2 * len);
    assert_int_equal(
        tdm_chat_upload_begin(a, &amina, "image/png", 9, len, NULL, 0, T0, &up2, err, sizeof err),
        0);
    assert_int_equal(pool.used, 3 * len);
    tdm_chat_upload_cancel(a, amina.id);
    assert_int_equal(pool.used, 2 * len);
    tdm_chat_destroy(b);
    assert_int_equal(pool.used, 0);
    tdm_chat_destroy(a);
    assert_int_equal(pool.used, 0);
    free(png);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(config_checked),
        cmocka_unit_test(texts),
        cmocka_unit_test(uploads_hold_what_they_got),
        cmocka_unit_test(text_rate_limit),
        cmocka_unit_test(limiter_table_bounded),
        cmocka_unit_test(history_ring),
        cmocka_unit_test(pictures),
        cmocka_unit_test(picture_limits),
        cmocka_unit_test(metadata_policy),
        cmocka_unit_test(picture_budget_eviction),
        cmocka_unit_test(ring_drops_pictures_too),
        cmocka_unit_test(reactions_toggle),
        cmocka_unit_test(emoji_rules),
        cmocka_unit_test(reaction_bounds),
        cmocka_unit_test(deletion),
        cmocka_unit_test(chunked_upload),
        cmocka_unit_test(upload_refusals),
        cmocka_unit_test(upload_limits),
        cmocka_unit_test(server_picture_pool),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
