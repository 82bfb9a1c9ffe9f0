#include "tandem/sync.h"
#include "tandem/err.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ORIGINS_MAX 64
#define LEAD_LIMIT_US (60LL * 1000000LL)

struct waiter {
    char id[TDM_PARTICIPANT_ID_LEN + 1];
    bool holds; /* false once max wait gave up on it, until it reports ready */
};

struct tdm_sync {
    char **origins; /* normalized "https://host[:port]" */
    size_t n_origins;
    int64_t min_lead_us, max_lead_us, default_lead_us, max_wait_us;

    uint64_t seq;
    uint64_t source_seq; /* seq of the state that loaded the current source */
    bool loaded;
    char source[TDM_SYNC_SOURCE_MAX + 1];
    bool playing, held;
    int64_t position_us, time_us;
    double rate;
    bool coordinators_only, wait_for_all;
    enum tdm_sync_cause cause;
    char by[TDM_PARTICIPANT_ID_LEN + 1];
    int64_t hold_since_us;

    struct waiter waiting[TDM_SYNC_WAITING_MAX];
    size_t n_waiting;
};

void tdm_sync_config_init(struct tdm_sync_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->min_lead_us = 100000;
    cfg->max_lead_us = 1000000;
    cfg->default_lead_us = 250000;
    cfg->max_wait_us = 15000000;
}

/* ---- sources ---- */

static bool media_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-' || c == ' ';
}

static int check_media(const char *name, size_t len, char *err, size_t errlen)
{
    if (len == 0 || len > TDM_SYNC_MEDIA_NAME_MAX)
        return tdm_seterr(err, errlen, TDM_EINVAL, "source: media name of 1 to %d bytes",
                          TDM_SYNC_MEDIA_NAME_MAX);
    if (name[0] == '.' || name[0] == ' ' || name[len - 1] == ' ')
        return tdm_seterr(err, errlen, TDM_EINVAL, "source: media name starts with '.' or space");
    for (size_t i = 0; i < len; i++) {
        if (!media_char(name[i]))
            return tdm_seterr(err, errlen, TDM_EINVAL,
                              "source: byte %zu not allowed in a media name", i + 6);
        if (name[i] == '.' && i + 1 < len && name[i + 1] == '.')
            return tdm_seterr(err, errlen, TDM_EINVAL, "source: \"..\" in a media name");
    }
    return 0;
}

/* RFC 3986 allows more, but these are what break out of an attribute or get "repaired" by
 * browsers (WHATWG URL turns '\' into '/' for https, which would move the host). */
static bool url_char(char c)
{
    if (c < 0x21 || c > 0x7E)
        return false;
    return !strchr("\\\"<>`{}|^", c);
}

static bool host_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-';
}

static char lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* Parses "https://authority[/?#...]" into its normalized origin (lowercase host, port 443
 * dropped). *rest gets the offset after the authority. */
static int parse_https(const char *u, size_t len, char *origin, size_t cap, size_t *rest)
{
    static const char scheme[] = "https://";
    const size_t sl = sizeof scheme - 1;
    if (len <= sl)
        return TDM_EINVAL;
    for (size_t i = 0; i < sl; i++)
        if (lower(u[i]) != scheme[i])
            return TDM_EINVAL;
    size_t end = sl;
    while (end < len && u[end] != '/' && u[end] != '?' && u[end] != '#')
        end++;
    size_t h = sl, he; /* host [h, he) */
    if (h < end && u[h] == '[') {
        he = h + 1;
        while (he < end && u[he] != ']' && (host_char(u[he]) || u[he] == ':'))
            he++;
        if (he >= end || u[he] != ']' || he == h + 1)
            return TDM_EINVAL;
        he++;
    } else {
        he = h;
        while (he < end && host_char(u[he]))
            he++;
    }
    if (he == h || he - h > TDM_SYNC_ORIGIN_MAX - 16)
        return TDM_EINVAL;
    unsigned long port = 443;
    if (he < end) { /* anything but ":digits" here, '@' included, is refused */
        if (u[he] != ':' || end - he < 2 || end - he > 6)
            return TDM_EINVAL;
        port = 0;
        for (size_t i = he + 1; i < end; i++) {
            if (u[i] < '0' || u[i] > '9')
                return TDM_EINVAL;
            port = port * 10 + (unsigned long)(u[i] - '0');
        }
        if (port == 0 || port > 65535)
            return TDM_EINVAL;
    }
    size_t o = 0;
    memcpy(origin, scheme, sl);
    o = sl;
    for (size_t i = h; i < he && o + 1 < cap; i++)
        origin[o++] = lower(u[i]);
    origin[o] = '\0';
    if (port != 443) {
        size_t room = cap - o;
        int n = snprintf(origin + o, room, ":%lu", port);
        if (n < 0 || (size_t)n >= room)
            return TDM_EINVAL;
    }
    *rest = end;
    return 0;
}

static int check_url(const struct tdm_sync *s, const char *u, size_t len, char *err, size_t errlen)
{
    for (size_t i = 0; i < len; i++)
        if (!url_char(u[i]))
            return tdm_seterr(err, errlen, TDM_EINVAL, "source: byte %zu not allowed in a URL", i);
    char origin[TDM_SYNC_ORIGIN_MAX + 1];
    size_t rest;
    if (parse_https(u, len, origin, sizeof origin, &rest) < 0)
        return tdm_seterr(err, errlen, TDM_EINVAL, "source: not an https URL with a plain host");
    for (size_t i = 0; i < s->n_origins; i++)
        if (strcmp(s->origins[i], origin) == 0)
            return 0;
    return tdm_seterr(err, errlen, TDM_EPERM, "source: origin not allowed");
}

int tdm_sync_source_check(const struct tdm_sync *s, const char *src, size_t len, char *err,
                          size_t errlen)
{
    if (!src || len == 0 || len > TDM_SYNC_SOURCE_MAX)
        return tdm_seterr(err, errlen, TDM_EINVAL, "source: 1 to %d bytes", TDM_SYNC_SOURCE_MAX);
    if (len > 6 && memcmp(src, "media:", 6) == 0)
        return check_media(src + 6, len - 6, err, errlen);
    return check_url(s, src, len, err, errlen);
}

/* ---- create / destroy ---- */

static int add_origin(struct tdm_sync *s, const char *o, char *err, size_t errlen)
{
    char norm[TDM_SYNC_ORIGIN_MAX + 1];
    size_t len = o ? strnlen(o, TDM_SYNC_ORIGIN_MAX + 1) : 0, rest;
    if (len == 0 || len > TDM_SYNC_ORIGIN_MAX)
        return tdm_seterr(err, errlen, TDM_EINVAL, "origins: 1 to %d bytes", TDM_SYNC_ORIGIN_MAX);
    for (size_t i = 0; i < len; i++)
        if (!url_char(o[i]))
            return tdm_seterr(err, errlen, TDM_EINVAL, "origins: bad byte in \"%.*s\"", (int)len,
                              o);
    if (parse_https(o, len, norm, sizeof norm, &rest) < 0 || rest != len)
        return tdm_seterr(err, errlen, TDM_EINVAL, "origins: \"%.*s\" is not https://host[:port]",
                          (int)len, o);
    s->origins[s->n_origins] = strdup(norm);
    if (!s->origins[s->n_origins])
        return TDM_ENOMEM;
    s->n_origins++;
    return 0;
}

int tdm_sync_create(const struct tdm_sync_config *cfg, struct tdm_sync **out, char *err,
                    size_t errlen)
{
    int rc = 0;
    *out = NULL;
    if (cfg->min_lead_us < 0 || cfg->min_lead_us > cfg->max_lead_us ||
        cfg->max_lead_us > LEAD_LIMIT_US || cfg->default_lead_us < 0 ||
        cfg->default_lead_us > LEAD_LIMIT_US)
        return tdm_seterr(err, errlen, TDM_EINVAL, "leads: need 0 <= min <= max <= 60 s");
    if (cfg->max_wait_us < 0 || cfg->max_wait_us > 3600LL * 1000000LL)
        return tdm_seterr(err, errlen, TDM_EINVAL, "max_wait: 0 to 1 hour");
    if (cfg->n_allowed_origins > ORIGINS_MAX || (cfg->n_allowed_origins && !cfg->allowed_origins))
        return tdm_seterr(err, errlen, TDM_EINVAL, "origins: at most %d", ORIGINS_MAX);
    struct tdm_sync *s = calloc(1, sizeof *s);
    if (!s)
        return TDM_ENOMEM;
    if (cfg->n_allowed_origins) {
        s->origins = calloc(cfg->n_allowed_origins, sizeof *s->origins);
        if (!s->origins) {
            rc = TDM_ENOMEM;
            goto out;
        }
    }
    for (size_t i = 0; i < cfg->n_allowed_origins; i++)
        if ((rc = add_origin(s, cfg->allowed_origins[i], err, errlen)) < 0)
            goto out;
    s->min_lead_us = cfg->min_lead_us;
    s->max_lead_us = cfg->max_lead_us;
    s->default_lead_us = cfg->default_lead_us;
    s->max_wait_us = cfg->max_wait_us;
    s->wait_for_all = cfg->wait_for_all;
    s->rate = 1.0;
out:
    if (rc < 0)
        tdm_sync_destroy(s);
    else
        *out = s;
    return rc;
}

void tdm_sync_destroy(struct tdm_sync *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n_origins; i++)
        free(s->origins[i]);
    free(s->origins);
    free(s);
}

/* ---- time and position ---- */

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

static int64_t position_at(const struct tdm_sync *s, int64_t t)
{
    if (!s->playing || t <= s->time_us)
        return s->position_us;
    /* t - time_us < 2^62 and rate <= 2, so the double is exact enough and cannot overflow. */
    double adv = (double)(t - s->time_us) * s->rate;
    double room = (double)(TDM_SYNC_POSITION_MAX_US - s->position_us);
    if (adv >= room)
        return TDM_SYNC_POSITION_MAX_US;
    return s->position_us + (int64_t)adv;
}

/* The moment a change takes effect: the request (or now + default lead) clamped into
 * [now + min_lead, now + max_lead], and never before the current state's own time, so
 * time_us only moves forward and a pending state is never rewritten in its past. */
static int64_t effective_at(const struct tdm_sync *s, const struct tdm_sync_op *op, int64_t now)
{
    int64_t lo = now + s->min_lead_us, hi = now + s->max_lead_us, at;
    if (op && op->has_at) {
        double want = op->at_ms * 1000.0; /* finite: checked by validate_values */
        at = want <= (double)lo ? lo : want >= (double)hi ? hi : (int64_t)want;
    } else {
        at = clamp64(now + s->default_lead_us, lo, hi);
    }
    return at < s->time_us ? s->time_us : at;
}

static void commit(struct tdm_sync *s, enum tdm_sync_cause cause, const char *by)
{
    s->seq++;
    s->cause = cause;
    if (by)
        memcpy(s->by, by, strlen(by) + 1); /* validated: <= TDM_PARTICIPANT_ID_LEN */
    else
        s->by[0] = '\0';
}

/* Re-anchors the state at `at`, at the position the old state reaches there. */
static void anchor(struct tdm_sync *s, int64_t at)
{
    s->position_us = position_at(s, at);
    s->time_us = at;
}

/* ---- buffering ---- */

static bool anyone_holds(const struct tdm_sync *s)
{
    for (size_t i = 0; i < s->n_waiting; i++)
        if (s->waiting[i].holds)
            return true;
    return false;
}

static size_t find_waiter(const struct tdm_sync *s, const char *id)
{
    for (size_t i = 0; i < s->n_waiting; i++)
        if (strcmp(s->waiting[i].id, id) == 0)
            return i;
    return SIZE_MAX;
}

static void remove_waiter(struct tdm_sync *s, size_t i)
{
    memmove(&s->waiting[i], &s->waiting[i + 1], (s->n_waiting - i - 1) * sizeof s->waiting[0]);
    s->n_waiting--;
}

static void hold(struct tdm_sync *s, int64_t now)
{
    anchor(s, effective_at(s, NULL, now));
    s->playing = false;
    s->held = true;
    s->hold_since_us = now;
}

static void resume(struct tdm_sync *s, int64_t now)
{
    anchor(s, effective_at(s, NULL, now));
    s->playing = true;
    s->held = false;
}

/* After the waiting set lost someone: resume a held room nobody holds any more. */
static enum tdm_sync_cause after_ready(struct tdm_sync *s, int64_t now, enum tdm_sync_cause plain)
{
    if (s->held && !anyone_holds(s)) {
        resume(s, now);
        return TDM_SYNC_CAUSE_RESUME;
    }
    return plain;
}

static int op_buffering(struct tdm_sync *s, const struct tdm_sync_op *op, int64_t now, char *err,
                        size_t errlen)
{
    size_t i = find_waiter(s, op->sender);
    if (!op->flag) {
        if (i == SIZE_MAX)
            return 0;
        remove_waiter(s, i);
        commit(s, after_ready(s, now, TDM_SYNC_CAUSE_BUFFERING), op->sender);
        return 1;
    }
    if (i != SIZE_MAX)
        return 0; /* still waiting; a given-up waiter must report ready first */
    if (s->n_waiting == TDM_SYNC_WAITING_MAX)
        return tdm_seterr(err, errlen, TDM_EFULL, "waiting: %d participants already wait",
                          TDM_SYNC_WAITING_MAX);
    struct waiter *w = &s->waiting[s->n_waiting++];
    memcpy(w->id, op->sender, strlen(op->sender) + 1);
    w->holds = true;
    enum tdm_sync_cause cause = TDM_SYNC_CAUSE_BUFFERING;
    if (s->wait_for_all && s->playing) {
        hold(s, now);
        cause = TDM_SYNC_CAUSE_HOLD;
    }
    commit(s, cause, op->sender);
    return 1;
}

/* ---- operations ---- */

static int op_load(struct tdm_sync *s, const struct tdm_sync_op *op, int64_t now, char *err,
                   size_t errlen)
{
    int rc = tdm_sync_source_check(s, op->source, op->source_len, err, errlen);
    if (rc < 0)
        return rc;
    memcpy(s->source, op->source, op->source_len);
    s->source[op->source_len] = '\0';
    s->time_us = effective_at(s, op, now);
    s->position_us = 0;
    s->playing = s->held = false;
    s->rate = 1.0;
    s->loaded = true;
    s->n_waiting = 0; /* a new film: everyone reports afresh */
    commit(s, TDM_SYNC_CAUSE_LOAD, op->sender);
    s->source_seq = s->seq;
    return 1;
}

static int op_play(struct tdm_sync *s, const struct tdm_sync_op *op, int64_t now)
{
    if (s->playing || s->held)
        return 0;
    anchor(s, effective_at(s, op, now));
    if (s->wait_for_all && anyone_holds(s)) {
        s->held = true;
        s->hold_since_us = now;
    } else {
        s->playing = true;
    }
    commit(s, TDM_SYNC_CAUSE_PLAY, op->sender);
    return 1;
}

static int op_pause(struct tdm_sync *s, const struct tdm_sync_op *op, int64_t now)
{
    if (!s->playing && !s->held)
        return 0;
    anchor(s, effective_at(s, op, now));
    s->playing = s->held = false;
    commit(s, TDM_SYNC_CAUSE_PAUSE, op->sender);
    return 1;
}

static int op_seek(struct tdm_sync *s, const struct tdm_sync_op *op, int64_t now)
{
    s->time_us = effective_at(s, op, now);
    s->position_us = (int64_t)llround(op->position_s * 1e6);
    if (s->position_us > TDM_SYNC_POSITION_MAX_US)
        s->position_us = TDM_SYNC_POSITION_MAX_US;
    commit(s, TDM_SYNC_CAUSE_SEEK, op->sender);
    return 1;
}

static int op_rate(struct tdm_sync *s, const struct tdm_sync_op *op, int64_t now)
{
    if (op->rate == s->rate)
        return 0;
    anchor(s, effective_at(s, op, now));
    s->rate = op->rate;
    commit(s, TDM_SYNC_CAUSE_RATE, op->sender);
    return 1;
}

static int op_wait_all(struct tdm_sync *s, const struct tdm_sync_op *op, int64_t now)
{
    if (op->flag == s->wait_for_all)
        return 0;
    s->wait_for_all = op->flag;
    if (s->wait_for_all && s->playing && anyone_holds(s))
        hold(s, now);
    else if (!s->wait_for_all && s->held)
        resume(s, now);
    commit(s, TDM_SYNC_CAUSE_WAIT_ALL, op->sender);
    return 1;
}

static int op_control(struct tdm_sync *s, const struct tdm_sync_op *op, char *err, size_t errlen)
{
    if (op->role != TDM_ROLE_COORDINATOR)
        return tdm_seterr(err, errlen, TDM_EPERM, "role: only a coordinator sets control");
    if (op->flag == s->coordinators_only)
        return 0;
    s->coordinators_only = op->flag;
    commit(s, TDM_SYNC_CAUSE_CONTROL, op->sender);
    return 1;
}

/* ---- validation and dispatch ---- */

static bool sender_ok(const char *id)
{
    if (!id)
        return false;
    size_t n = strnlen(id, TDM_PARTICIPANT_ID_LEN + 1);
    if (n == 0 || n > TDM_PARTICIPANT_ID_LEN)
        return false;
    for (size_t i = 0; i < n; i++)
        if (id[i] < 0x21 || id[i] > 0x7E)
            return false;
    return true;
}

static int validate_values(const struct tdm_sync_op *op, char *err, size_t errlen)
{
    /* |at| <= 2^62 us in ms: anything farther is garbage, and it keeps the clamp exact. */
    if (op->has_at && !(fabs(op->at_ms) <= (double)TDM_SYNC_TIME_MAX / 1000.0))
        return tdm_seterr(err, errlen, TDM_EINVAL, "at: not a finite time");
    if (op->kind == TDM_SYNC_OP_SEEK &&
        !(op->position_s >= 0.0 && op->position_s <= TDM_SYNC_POSITION_MAX_US / 1e6))
        return tdm_seterr(err, errlen, TDM_EINVAL, "position: 0 to %lld seconds",
                          TDM_SYNC_POSITION_MAX_US / 1000000LL);
    if (op->kind == TDM_SYNC_OP_RATE &&
        !(op->rate >= TDM_SYNC_RATE_MIN && op->rate <= TDM_SYNC_RATE_MAX))
        return tdm_seterr(err, errlen, TDM_EINVAL, "rate: %.2f to %.2f", TDM_SYNC_RATE_MIN,
                          TDM_SYNC_RATE_MAX);
    return 0;
}

static bool needs_control(enum tdm_sync_op_kind k)
{
    return k != TDM_SYNC_OP_BUFFERING && k != TDM_SYNC_OP_SET_CONTROL;
}

static bool needs_source(enum tdm_sync_op_kind k)
{
    return k == TDM_SYNC_OP_PLAY || k == TDM_SYNC_OP_PAUSE || k == TDM_SYNC_OP_SEEK ||
           k == TDM_SYNC_OP_RATE || k == TDM_SYNC_OP_BUFFERING;
}

static int check_op(const struct tdm_sync *s, const struct tdm_sync_op *op, int64_t now, char *err,
                    size_t errlen)
{
    if (now < 0 || now > TDM_SYNC_TIME_MAX)
        return tdm_seterr(err, errlen, TDM_EINVAL, "now: out of range");
    if ((unsigned)op->kind >= TDM_SYNC_OP_COUNT_)
        return tdm_seterr(err, errlen, TDM_EINVAL, "type: unknown sync operation");
    if (!sender_ok(op->sender))
        return tdm_seterr(err, errlen, TDM_EINVAL, "sender: bad participant id");
    int rc = validate_values(op, err, errlen);
    if (rc < 0)
        return rc;
    if (op->has_base_seq && op->base_seq > s->seq)
        return tdm_seterr(err, errlen, TDM_EINVAL, "seq: newer than the room's state");
    if (needs_control(op->kind) && s->coordinators_only && op->role != TDM_ROLE_COORDINATOR)
        return tdm_seterr(err, errlen, TDM_EPERM, "role: control is for coordinators only");
    if (needs_source(op->kind) && !s->loaded)
        return tdm_seterr(err, errlen, TDM_EINVAL, "source: nothing loaded yet");
    if (op->has_base_seq && s->loaded && op->base_seq < s->source_seq)
        return tdm_seterr(err, errlen, TDM_ESTATE, "seq: based on a previous film");
    return 0;
}

int tdm_sync_apply(struct tdm_sync *s, const struct tdm_sync_op *op, int64_t now_us, char *err,
                   size_t errlen)
{
    int rc = check_op(s, op, now_us, err, errlen);
    if (rc < 0)
        return rc;
    switch (op->kind) {
    case TDM_SYNC_OP_LOAD: return op_load(s, op, now_us, err, errlen);
    case TDM_SYNC_OP_PLAY: return op_play(s, op, now_us);
    case TDM_SYNC_OP_PAUSE: return op_pause(s, op, now_us);
    case TDM_SYNC_OP_SEEK: return op_seek(s, op, now_us);
    case TDM_SYNC_OP_RATE: return op_rate(s, op, now_us);
    case TDM_SYNC_OP_BUFFERING: return op_buffering(s, op, now_us, err, errlen);
    case TDM_SYNC_OP_SET_CONTROL: return op_control(s, op, err, errlen);
    case TDM_SYNC_OP_SET_WAIT_ALL: return op_wait_all(s, op, now_us);
    case TDM_SYNC_OP_COUNT_: break;
    }
    return tdm_seterr(err, errlen, TDM_EINVAL, "type: unknown sync operation");
}

int tdm_sync_participant_left(struct tdm_sync *s, const char *participant_id, int64_t now_us)
{
    if (!sender_ok(participant_id) || now_us < 0 || now_us > TDM_SYNC_TIME_MAX)
        return 0;
    size_t i = find_waiter(s, participant_id);
    if (i == SIZE_MAX)
        return 0;
    remove_waiter(s, i);
    commit(s, after_ready(s, now_us, TDM_SYNC_CAUSE_LEFT), NULL);
    return 1;
}

int tdm_sync_tick(struct tdm_sync *s, int64_t now_us)
{
    if (!s->held || now_us < 0 || now_us > TDM_SYNC_TIME_MAX || now_us < tdm_sync_next_deadline(s))
        return 0;
    for (size_t i = 0; i < s->n_waiting; i++)
        s->waiting[i].holds = false;
    resume(s, now_us);
    commit(s, TDM_SYNC_CAUSE_RESUME, NULL);
    return 1;
}

int64_t tdm_sync_next_deadline(const struct tdm_sync *s)
{
    return s->held ? s->hold_since_us + s->max_wait_us : INT64_MAX;
}

/* ---- read side ---- */

void tdm_sync_snapshot(const struct tdm_sync *s, int64_t now_us, struct tdm_sync_state *out)
{
    out->seq = s->seq;
    out->loaded = s->loaded;
    memcpy(out->source, s->source, sizeof out->source);
    out->playing = s->playing;
    out->held = s->held;
    out->position_us = s->position_us;
    out->time_us = s->time_us;
    if (now_us > s->time_us && now_us <= TDM_SYNC_TIME_MAX) {
        out->position_us = position_at(s, now_us);
        out->time_us = now_us;
    }
    out->rate = s->rate;
    out->coordinators_only = s->coordinators_only;
    out->wait_for_all = s->wait_for_all;
    out->n_waiting = s->n_waiting;
    out->cause = s->cause;
    memcpy(out->by, s->by, sizeof out->by);
}

size_t tdm_sync_waiting_count(const struct tdm_sync *s)
{
    return s->n_waiting;
}

const char *tdm_sync_waiting_id(const struct tdm_sync *s, size_t i)
{
    return i < s->n_waiting ? s->waiting[i].id : NULL;
}

const char *tdm_sync_cause_name(enum tdm_sync_cause cause)
{
    static const char *const names[] = {"none",     "load", "play",      "pause",
                                        "seek",     "rate", "buffering", "control",
                                        "wait_all", "hold", "resume",    "left"};
    if ((unsigned)cause >= sizeof names / sizeof names[0])
        return "none";
    return names[cause];
}

/* ---- clock sync ---- */

int tdm_sync_time_pong(double t1_ms, int64_t recv_us, int64_t send_us, struct tdm_sync_pong *out,
                       char *err, size_t errlen)
{
    /* 2^53: the largest magnitude whose integers a JSON number still carries exactly. */
    if (!(fabs(t1_ms) <= 9007199254740992.0))
        return tdm_seterr(err, errlen, TDM_EINVAL, "t1: not a finite time");
    if (recv_us < 0 || send_us < recv_us || send_us > TDM_SYNC_TIME_MAX)
        return tdm_seterr(err, errlen, TDM_EINVAL, "server times out of order");
    out->t1_ms = t1_ms;
    out->t2_ms = (double)recv_us / 1000.0;
    out->t3_ms = (double)send_us / 1000.0;
    return 0;
}
