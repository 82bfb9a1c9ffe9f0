/* Deadlines of many objects, the earliest first: an indexed binary min-heap. Each object
 * embeds a struct tdm_timer (by value; its fields are the heap's) and keeps it in at most
 * one heap; its deadline can be moved either way or taken out in O(log n), and the
 * earliest is read in O(1). The SFU core keeps one per media worker, of its participants
 * and rooms, so that a time-out touches only what is due.
 *
 * Only tdm_timerheap_reserve allocates: insertions beyond the reserved room fail
 * (TDM_EFULL) instead of growing the array, so the caller reserves when its table of
 * objects grows and nothing on a per-packet path allocates. No locks, no logs, no clock:
 * times are the caller's (monotonic microseconds; INT64_MAX: never). */
#ifndef TANDEM_TIMERHEAP_H
#define TANDEM_TIMERHEAP_H

#include <stdbool.h>
#include <stdint.h>

struct tdm_timer {
    int64_t at;   /* the deadline the heap orders by */
    uint32_t pos; /* 1 + its index in the heap; 0: in none */
};

struct tdm_timerheap {
    struct tdm_timer **v;
    uint32_t n, cap;
};

/* An empty heap without room (tdm_timerheap_reserve gives it some). */
void tdm_timerheap_init(struct tdm_timerheap *h);
void tdm_timerheap_free(struct tdm_timerheap *h);
/* Room for cap timers at least: 0, or TDM_ENOMEM (the heap is then as it was). */
int tdm_timerheap_reserve(struct tdm_timerheap *h, uint32_t cap);

static inline bool tdm_timer_queued(const struct tdm_timer *t)
{
    return t->pos != 0;
}

/* Put t (in no heap) in at `at`: 0, TDM_EFULL (no room reserved), TDM_EEXIST (queued). */
int tdm_timerheap_add(struct tdm_timerheap *h, struct tdm_timer *t, int64_t at);
/* Move t's deadline to `at`, earlier or later; a t in no heap is added (as above). */
int tdm_timerheap_set(struct tdm_timerheap *h, struct tdm_timer *t, int64_t at);
/* Take t out (nothing when it is in no heap). */
void tdm_timerheap_remove(struct tdm_timerheap *h, struct tdm_timer *t);
/* The timer with the earliest deadline (it stays queued), or NULL when empty. */
struct tdm_timer *tdm_timerheap_top(const struct tdm_timerheap *h);
/* Take out and return the earliest timer if its deadline is at or before now; else NULL. */
struct tdm_timer *tdm_timerheap_pop_due(struct tdm_timerheap *h, int64_t now);
/* The earliest deadline, INT64_MAX when empty. */
int64_t tdm_timerheap_next(const struct tdm_timerheap *h);

#endif
