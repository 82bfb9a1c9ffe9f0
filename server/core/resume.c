/* Resume tokens (include/tandem/resume.h). A flat array: the table holds one entry per
 * participant on the server at most, a resume is rare (one per cut connection, once per
 * connection), and a lookup must touch every entry anyway to stay constant-time. */
#include "tandem/resume.h"
#include "tandem/err.h"
#include "tandem/util.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

struct entry {
    char room[TDM_ROOM_ID_MAX + 1];
    char pid[TDM_PARTICIPANT_ID_LEN + 1];
    uint8_t secret[TDM_RESUME_SECRET_LEN];
    int64_t until; /* 0: connected (no expiry) */
};

struct tdm_resume_table {
    size_t n, max;
    struct entry *e;
};

int tdm_resume_create(size_t max_entries, struct tdm_resume_table **out)
{
    *out = NULL;
    if (max_entries == 0)
        return TDM_EINVAL;
    struct tdm_resume_table *t = calloc(1, sizeof *t);
    if (!t)
        return TDM_ENOMEM;
    t->e = calloc(max_entries, sizeof *t->e);
    if (!t->e) {
        free(t);
        return TDM_ENOMEM;
    }
    t->max = max_entries;
    *out = t;
    return 0;
}

void tdm_resume_destroy(struct tdm_resume_table *t)
{
    if (!t)
        return;
    OPENSSL_cleanse(t->e, t->max * sizeof *t->e);
    free(t->e);
    free(t);
}

static struct entry *find(const struct tdm_resume_table *t, const char *pid)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->e[i].pid, pid) == 0)
            return &t->e[i];
    return NULL;
}

static void drop(struct tdm_resume_table *t, struct entry *e)
{
    *e = t->e[--t->n];
    OPENSSL_cleanse(&t->e[t->n], sizeof *t->e);
}

int tdm_resume_issue(struct tdm_resume_table *t, const char *room, const char *pid, char *out,
                     size_t cap)
{
    size_t rl = room ? strlen(room) : 0, pl = pid ? strlen(pid) : 0;
    if (cap < TDM_RESUME_TOKEN_LEN + 1 || rl == 0 || rl > TDM_ROOM_ID_MAX || pl == 0 ||
        pl > TDM_PARTICIPANT_ID_LEN)
        return TDM_EINVAL;
    out[0] = '\0';
    struct entry *e = find(t, pid);
    if (!e) {
        if (t->n >= t->max)
            return TDM_EFULL;
        e = &t->e[t->n];
        memset(e, 0, sizeof *e);
        memcpy(e->room, room, rl);
        memcpy(e->pid, pid, pl);
        if (RAND_bytes(e->secret, sizeof e->secret) != 1)
            return TDM_ECRYPTO; /* not counted: the slot stays free */
        t->n++;
    } else if (RAND_bytes(e->secret, sizeof e->secret) != 1) {
        drop(t, e); /* the old token must not outlive a failed rotation */
        return TDM_ECRYPTO;
    }
    e->until = 0;
    if (tdm_b64url_encode(e->secret, sizeof e->secret, out, cap) != TDM_RESUME_TOKEN_LEN)
        return TDM_EINVAL;
    return 0;
}

int tdm_resume_suspend(struct tdm_resume_table *t, const char *pid, int64_t until)
{
    struct entry *e = find(t, pid);
    if (!e)
        return TDM_ENOTFOUND;
    e->until = until > 0 ? until : 1;
    return 0;
}

int tdm_resume_take(struct tdm_resume_table *t, const char *token, size_t len, int64_t now,
                    char room[TDM_ROOM_ID_MAX + 1], char pid[TDM_PARTICIPANT_ID_LEN + 1])
{
    uint8_t secret[TDM_RESUME_SECRET_LEN + 1];
    room[0] = pid[0] = '\0';
    if (!token || len != TDM_RESUME_TOKEN_LEN ||
        tdm_b64url_decode(token, len, secret, sizeof secret) != TDM_RESUME_SECRET_LEN)
        return TDM_ENOTFOUND;
    /* Every entry is compared, and the match is picked without a branch on the secret. */
    size_t hit = SIZE_MAX;
    for (size_t i = 0; i < t->n; i++) {
        size_t eq = (size_t)tdm_ct_equal(t->e[i].secret, secret, TDM_RESUME_SECRET_LEN);
        hit = (hit & (eq - 1)) | (i & (0 - eq));
    }
    OPENSSL_cleanse(secret, sizeof secret);
    if (hit == SIZE_MAX)
        return TDM_ENOTFOUND;
    struct entry *e = &t->e[hit];
    if (e->until && now >= e->until)
        return TDM_ESTATE;
    memcpy(room, e->room, sizeof e->room);
    memcpy(pid, e->pid, sizeof e->pid);
    drop(t, e);
    return 0;
}

void tdm_resume_forget(struct tdm_resume_table *t, const char *pid)
{
    struct entry *e = t ? find(t, pid) : NULL;
    if (e)
        drop(t, e);
}

int64_t tdm_resume_deadline(const struct tdm_resume_table *t)
{
    int64_t d = INT64_MAX;
    for (size_t i = 0; i < t->n; i++)
        if (t->e[i].until && t->e[i].until < d)
            d = t->e[i].until;
    return d;
}

bool tdm_resume_pop_expired(struct tdm_resume_table *t, int64_t now, char room[TDM_ROOM_ID_MAX + 1],
                            char pid[TDM_PARTICIPANT_ID_LEN + 1])
{
    for (size_t i = 0; i < t->n; i++) {
        struct entry *e = &t->e[i];
        if (e->until && now >= e->until) {
            memcpy(room, e->room, sizeof e->room);
            memcpy(pid, e->pid, sizeof e->pid);
            drop(t, e);
            return true;
        }
    }
    return false;
}

size_t tdm_resume_count(const struct tdm_resume_table *t)
{
    return t->n;
}
