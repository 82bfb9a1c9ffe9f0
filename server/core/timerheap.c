/* An indexed binary min-heap of deadlines (include/tandem/timerheap.h). Each timer knows
 * its index (pos - 1), so a deadline moves or goes without a search. */
#include "tandem/timerheap.h"

#include "tandem/err.h"

#include <stdlib.h>

void tdm_timerheap_init(struct tdm_timerheap *h)
{
    h->v = NULL;
    h->n = h->cap = 0;
}

void tdm_timerheap_free(struct tdm_timerheap *h)
{
    for (uint32_t i = 0; i < h->n; i++)
        h->v[i]->pos = 0;
    free(h->v);
    tdm_timerheap_init(h);
}

int tdm_timerheap_reserve(struct tdm_timerheap *h, uint32_t cap)
{
    if (cap <= h->cap)
        return 0;
    struct tdm_timer **v = realloc(h->v, (size_t)cap * sizeof *v);
    if (!v)
        return TDM_ENOMEM;
    h->v = v;
    h->cap = cap;
    return 0;
}

static void place(struct tdm_timerheap *h, uint32_t i, struct tdm_timer *t)
{
    h->v[i] = t;
    t->pos = i + 1;
}

/* t, whose slot is i, moves towards the root while earlier than its parent. */
static void sift_up(struct tdm_timerheap *h, uint32_t i, struct tdm_timer *t)
{
    while (i > 0) {
        uint32_t up = (i - 1) / 2;
        if (h->v[up]->at <= t->at)
            break;
        place(h, i, h->v[up]);
        i = up;
    }
    place(h, i, t);
}

/* ... and towards the leaves while later than its earlier child. */
static void sift_down(struct tdm_timerheap *h, uint32_t i, struct tdm_timer *t)
{
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && h->v[c + 1]->at < h->v[c]->at)
            c++;
        if (t->at <= h->v[c]->at)
            break;
        place(h, i, h->v[c]);
        i = c;
    }
    place(h, i, t);
}

int tdm_timerheap_add(struct tdm_timerheap *h, struct tdm_timer *t, int64_t at)
{
    if (t->pos)
        return TDM_EEXIST;
    if (h->n == h->cap)
        return TDM_EFULL;
    t->at = at;
    sift_up(h, h->n++, t);
    return 0;
}

int tdm_timerheap_set(struct tdm_timerheap *h, struct tdm_timer *t, int64_t at)
{
    if (!t->pos)
        return tdm_timerheap_add(h, t, at);
    int64_t was = t->at;
    t->at = at;
    if (at < was)
        sift_up(h, t->pos - 1, t);
    else if (at > was)
        sift_down(h, t->pos - 1, t);
    return 0;
}

void tdm_timerheap_remove(struct tdm_timerheap *h, struct tdm_timer *t)
{
    if (!t->pos || t->pos > h->n || h->v[t->pos - 1] != t)
        return;
    uint32_t i = t->pos - 1;
    t->pos = 0;
    struct tdm_timer *last = h->v[--h->n];
    if (i == h->n)
        return;
    /* the last one fills the hole, then finds its place either way */
    if (i > 0 && last->at < h->v[(i - 1) / 2]->at)
        sift_up(h, i, last);
    else
        sift_down(h, i, last);
}

struct tdm_timer *tdm_timerheap_top(const struct tdm_timerheap *h)
{
    return h->n ? h->v[0] : NULL;
}

struct tdm_timer *tdm_timerheap_pop_due(struct tdm_timerheap *h, int64_t now)
{
    struct tdm_timer *t = tdm_timerheap_top(h);
    if (!t || t->at > now)
        return NULL;
    tdm_timerheap_remove(h, t);
    return t;
}

int64_t tdm_timerheap_next(const struct tdm_timerheap *h)
{
    return h->n ? h->v[0]->at : INT64_MAX;
}
