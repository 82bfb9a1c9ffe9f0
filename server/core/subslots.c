/* m-section slots of a subscriber's connection and its offer/answer cycle (JSEP, RFC 8829
 * §5.2.2: recycling through inactive; RFC 3264 §8: one outstanding offer). See
 * include/tandem/subslots.h. */
#include "tandem/subslots.h"

#include "tandem/err.h"

#include <string.h>

void tdm_subslots_init(struct tdm_subslots *s)
{
    memset(s, 0, sizeof *s);
}

int tdm_subslots_find(const struct tdm_subslots *s, uint64_t key)
{
    if (!key)
        return TDM_ENOTFOUND;
    for (uint32_t i = 0; i < s->n; i++)
        if (s->s[i].key == key)
            return (int)i;
    return TDM_ENOTFOUND;
}

/* Free for a new track: nothing carried, and both the latest offer and the latest answer
 * agree the m-section is inactive (or it never appeared). */
static bool reusable(const struct tdm_subslot *t)
{
    return !t->dead && !t->key && !t->offered && !t->answered;
}

int tdm_subslots_add(struct tdm_subslots *s, uint64_t key, enum tdm_sdp_kind kind)
{
    if (!key || (kind != TDM_SDP_AUDIO && kind != TDM_SDP_VIDEO))
        return TDM_EINVAL;
    if (tdm_subslots_find(s, key) >= 0)
        return TDM_EEXIST;
    int pick = -1;
    for (uint32_t i = 0; i < s->n && pick < 0; i++)
        if (reusable(&s->s[i]) && (s->s[i].kind == kind || !s->s[i].in_sdp))
            pick = (int)i;
    if (pick < 0) {
        if (s->n >= TDM_SUBSLOTS_MAX)
            return TDM_EFULL;
        pick = (int)s->n++;
        memset(&s->s[pick], 0, sizeof s->s[pick]);
    }
    s->s[pick].key = key;
    s->s[pick].kind = (uint8_t)kind;
    s->dirty = true;
    return pick;
}

int tdm_subslots_remove(struct tdm_subslots *s, uint64_t key)
{
    int i = tdm_subslots_find(s, key);
    if (i < 0)
        return i;
    s->s[i].key = 0;
    /* A slot that was never offered needs no inactive offer; any other does. */
    if (s->s[i].in_sdp)
        s->dirty = true;
    return i;
}

bool tdm_subslots_in_offer(const struct tdm_subslots *s, size_t i)
{
    if (i >= s->n || s->s[i].dead)
        return false;
    return s->s[i].key || s->s[i].in_sdp;
}

bool tdm_subslots_live(const struct tdm_subslots *s, size_t i)
{
    return i < s->n && s->s[i].key && s->s[i].answered == s->s[i].key;
}

bool tdm_subslots_want_offer(const struct tdm_subslots *s)
{
    return s->dirty && !s->pending;
}

int64_t tdm_subslots_offer(struct tdm_subslots *s)
{
    if (s->pending)
        return TDM_EAGAIN;
    for (uint32_t i = 0; i < s->n; i++) {
        struct tdm_subslot *t = &s->s[i];
        if (!tdm_subslots_in_offer(s, i))
            continue;
        t->offered = t->key;
        t->in_sdp = true;
    }
    s->pending = true;
    s->dirty = false;
    return ++s->rev;
}

int tdm_subslots_answered(struct tdm_subslots *s, int64_t rev)
{
    if (!s->pending || rev != s->rev)
        return TDM_ESTATE;
    for (uint32_t i = 0; i < s->n; i++)
        s->s[i].answered = s->s[i].offered;
    s->pending = false;
    return 0;
}

uint64_t tdm_subslots_reject(struct tdm_subslots *s, size_t i)
{
    if (i >= s->n)
        return 0;
    struct tdm_subslot *t = &s->s[i];
    uint64_t key = t->key;
    t->dead = true;
    t->key = t->offered = t->answered = 0;
    return key;
}

void tdm_subslots_abandon(struct tdm_subslots *s)
{
    s->pending = false;
    s->dirty = true;
}
