/* A bounded table of counters keyed by 64-bit keys (for example a keyed hash of a client
 * address: the address itself is not kept). Open addressing with backward-shift deletion,
 * so removals leave no tombstones. Not thread-safe. */
#ifndef TANDEM_KEYCOUNT_H
#define TANDEM_KEYCOUNT_H

#include <stddef.h>
#include <stdint.h>

struct tdm_keycount;

/* max_keys distinct keys at most. NULL on bad size or no memory. */
struct tdm_keycount *tdm_keycount_create(size_t max_keys);
void tdm_keycount_destroy(struct tdm_keycount *k);
/* Adds one to key's counter if it stays <= limit. Returns the new count, TDM_EFULL when the
 * key is at its limit, TDM_ELIMIT when the table holds max_keys keys. */
int tdm_keycount_inc(struct tdm_keycount *k, uint64_t key, uint32_t limit);
/* Takes one away; the key disappears at zero. No effect on unknown keys. */
void tdm_keycount_dec(struct tdm_keycount *k, uint64_t key);
uint32_t tdm_keycount_get(const struct tdm_keycount *k, uint64_t key);
size_t tdm_keycount_size(const struct tdm_keycount *k);

#endif
