/* The bottom of the SFU core: the transmit queue the caller drains after each input, the
 * events for the control thread, the earliest deadline noticed, and the randomness handed
 * in with the config. */
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

void sfu_due(struct tdm_sfu *s, int64_t t)
{
    if (t < s->next_due)
        s->next_due = t;
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
