/* The bottom of the SFU core: the transmit queue the caller drains after each input, the
 * events for the control thread, the participants and rooms whose deadlines may have moved
 * (sfu.c recomputes them), and the randomness handed in with the config. */
#include "sfu_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint32_t sfu_rand32(struct tdm_sfu *s)
{
    return s->cfg.rand32(s->cfg.rand_ctx);
}

uint32_t sfu_rand32_nonzero(struct tdm_sfu *s)
{
    uint32_t v = 0;
    for (int i = 0; i < 64 && v == 0; i++)
        v = sfu_rand32(s);
    return v ? v : 1;
}

/* ---- deadlines ------------------------------------------------------------------------ */

static void mark(struct tdm_sfu *s, struct sfu_timer *t)
{
    if (t->dirty)
        return;
    t->dirty = true;
    s->dirty[s->n_dirty++] = t; /* each timer once: room for all of them */
}

void sfu_wake(struct tdm_sfu *s, struct part *q)
{
    if (q)
        mark(s, &q->timer);
}

void sfu_wake_room(struct tdm_sfu *s, struct room *r)
{
    if (r)
        mark(s, &r->timer);
}

bool sfu_timer_add(struct tdm_sfu *s, struct sfu_timer *t, bool room)
{
    if (s->n_timed == s->cap_timed) {
        uint32_t cap = s->cap_timed ? 2 * s->cap_timed : 16;
        struct sfu_timer **d = realloc(s->dirty, cap * sizeof *d);
        if (d)
            s->dirty = d;
        struct sfu_timer **u = d ? realloc(s->due, cap * sizeof *u) : NULL;
        if (u)
            s->due = u;
        struct sfu_timer **o = u ? realloc(s->poll, cap * sizeof *o) : NULL;
        if (o)
            s->poll = o;
        if (!o || tdm_timerheap_reserve(&s->timers, cap) != 0)
            return false;
        s->cap_timed = cap;
    }
    s->n_timed++;
    *t = (struct sfu_timer){.node.at = INT64_MAX, .room = room};
    mark(s, t);
    return true;
}

/* Take t out of list l (of n), where flag says it is. */
static void unlist(struct sfu_timer **l, uint32_t *n, struct sfu_timer *t, bool *flag)
{
    for (uint32_t i = 0; *flag && i < *n; i++)
        if (l[i] == t) {
            l[i] = l[--*n];
            *flag = false;
        }
}

void sfu_timer_poll(struct tdm_sfu *s, struct sfu_timer *t, bool poll)
{
    if (poll && !t->polled) {
        t->polled = true;
        s->poll[s->n_poll++] = t;
    } else if (!poll) {
        unlist(s->poll, &s->n_poll, t, &t->polled);
    }
}

void sfu_timer_remove(struct tdm_sfu *s, struct sfu_timer *t)
{
    tdm_timerheap_remove(&s->timers, &t->node);
    unlist(s->dirty, &s->n_dirty, t, &t->dirty);
    unlist(s->poll, &s->n_poll, t, &t->polled);
    s->n_timed--;
}

struct tdm_sfu_transmit *sfu_tx_slot(struct tdm_sfu *s)
{
    if (s->n_tx == s->cap_tx) {
        s->st.tx_full++; /* as a full socket buffer would drop it */
        return NULL;
    }
    return &s->tx[s->n_tx];
}

void sfu_tx_commit(struct tdm_sfu *s, struct tdm_sfu_transmit *t, const struct tdm_sfu_path *to,
                   size_t len)
{
    if (!t || t != &s->tx[s->n_tx] || len > sizeof t->buf)
        return;
    t->to = *to;
    t->len = len;
    s->n_tx++;
}

struct tdm_sfu_event *sfu_event_new(enum tdm_sfu_event_kind k, const char *room, const char *pid)
{
    struct tdm_sfu_event *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    e->kind = k;
    snprintf(e->room, sizeof e->room, "%s", room);
    snprintf(e->pid, sizeof e->pid, "%s", pid);
    return e;
}

void sfu_event_push(struct tdm_sfu *s, struct tdm_sfu_event *e)
{
    e->next = NULL;
    if (s->ev_tail)
        s->ev_tail->next = e;
    else
        s->ev_head = e;
    s->ev_tail = e;
}

void sfu_error(struct tdm_sfu *s, const char *room, const char *pid, const char *ref,
               const char *code, const char *field, const char *pc, const char *fmt, ...)
{
    struct tdm_sfu_event *e = sfu_event_new(TDM_SFU_EV_ERROR, room, pid);
    if (!e)
        return;
    e->code = code;
    e->field = field;
    e->pc = pc;
    e->ref = ref ? strdup(ref) : NULL;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    sfu_event_push(s, e);
}
