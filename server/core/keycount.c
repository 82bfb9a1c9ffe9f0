#include "tandem/keycount.h"
#include "tandem/err.h"

#include <stdlib.h>

struct slot {
    uint64_t key;
    uint32_t count; /* 0 = empty */
};

struct tdm_keycount {
    size_t mask;
    size_t max;
    size_t size;
    struct slot *slots;
};

struct tdm_keycount *tdm_keycount_create(size_t max_keys)
{
    if (max_keys == 0 || max_keys > (1u << 24))
        return NULL;
    struct tdm_keycount *k = calloc(1, sizeof *k);
    if (!k)
        return NULL;
    size_t cap = 16;
    while (cap < 2 * max_keys) /* load factor <= 1/2 keeps probes short */
        cap <<= 1;
    k->slots = calloc(cap, sizeof *k->slots);
    if (!k->slots) {
        free(k);
        return NULL;
    }
    k->mask = cap - 1;
    k->max = max_keys;
    return k;
}

void tdm_keycount_destroy(struct tdm_keycount *k)
{
    if (k) {
        free(k->slots);
        free(k);
    }
}

/* Keys are keyed hashes already; mixing once more guards against poor callers. */
static size_t home(const struct tdm_keycount *k, uint64_t key)
{
    key ^= key >> 33;
    key *= 0xff51afd7ed558ccdULL;
    key ^= key >> 33;
    return (size_t)key & k->mask;
}

static size_t find(const struct tdm_keycount *k, uint64_t key)
{
    size_t i = home(k, key);
    while (k->slots[i].count && k->slots[i].key != key)
        i = (i + 1) & k->mask;
    return i;
}

int tdm_keycount_inc(struct tdm_keycount *k, uint64_t key, uint32_t limit)
{
    size_t i = find(k, key);
    struct slot *s = &k->slots[i];
    if (s->count) {
        if (s->count >= limit)
            return TDM_EFULL;
        return (int)++s->count;
    }
    if (limit == 0)
        return TDM_EFULL;
    if (k->size >= k->max)
        return TDM_ELIMIT;
    s->key = key;
    s->count = 1;
    k->size++;
    return 1;
}

void tdm_keycount_dec(struct tdm_keycount *k, uint64_t key)
{
    size_t i = find(k, key);
    if (!k->slots[i].count || --k->slots[i].count)
        return;
    k->size--;
    /* Backward-shift deletion: move later members of the probe run into the hole. */
    size_t hole = i;
    for (size_t j = (i + 1) & k->mask; k->slots[j].count; j = (j + 1) & k->mask) {
        size_t h = home(k, k->slots[j].key);
        /* j may move into the hole if its home is not in (hole, j] cyclically */
        if (((j - h) & k->mask) >= ((j - hole) & k->mask)) {
            k->slots[hole] = k->slots[j];
            k->slots[j].count = 0;
            hole = j;
        }
    }
}

uint32_t tdm_keycount_get(const struct tdm_keycount *k, uint64_t key)
{
    return k->slots[find(k, key)].count;
}

size_t tdm_keycount_size(const struct tdm_keycount *k)
{
    return k->size;
}
