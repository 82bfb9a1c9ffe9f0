/* The m-sections of one subscriber's "sub" connection, and the server-offers/browser-answers
 * cycle on it. Sans-IO bookkeeping, no SDP text: the io layer turns the slots into tracks for
 * tdm_sdp_offer.
 *
 * Each slot is one m-section, named by its index (the mid is the decimal index). A slot
 * carries one forwarded track (a producer, named by a caller's non-zero key) or nothing.
 * When a track goes, its slot is offered inactive and may carry a new track of the same
 * kind only once the browser has answered that offer (JSEP, RFC 8829 §5.2.2 and §5.3.1: a
 * recycled m-section keeps its mid; replacing a live track in place would not fire
 * `ontrack`). So the SDP stays bounded by the largest number of tracks present at once, not
 * by how many ever came and went. A slot the browser rejects (port 0) is dead for good: a
 * rejected m-section may only come back under a new mid.
 *
 * Offers: only one is outstanding at a time (the page answers each before the next is
 * made); changes while one is pending are remembered (`dirty`) for the next. Each offer has
 * a revision number; an answer naming another revision is stale.
 *
 * Plain value, embedded in the caller's state; no allocation. */
#ifndef TANDEM_SUBSLOTS_H
#define TANDEM_SUBSLOTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tandem/sdp.h"

#define TDM_SUBSLOTS_MAX TDM_SDP_MAX_MEDIA

struct tdm_subslot {
    uint64_t key;      /* the track carried now, 0: none */
    uint64_t offered;  /* the track in the latest offer, 0: inactive or not in it */
    uint64_t answered; /* the track the latest accepted answer agreed to, 0: none */
    uint8_t kind;      /* enum tdm_sdp_kind */
    bool in_sdp;       /* appeared in an offer: its m-section exists from then on */
    bool dead;         /* rejected by the browser */
};

struct tdm_subslots {
    uint32_t n; /* slots used, in m-section order */
    bool pending;
    bool dirty;
    int64_t rev; /* revision of the latest offer, 0 before the first */
    struct tdm_subslot s[TDM_SUBSLOTS_MAX];
};

void tdm_subslots_init(struct tdm_subslots *s);

/* Give track `key` (non-zero) of `kind` (AUDIO or VIDEO) a slot: a free slot of that kind
 * (lowest index first), a never-offered free slot of any kind, else a new one. Returns the
 * slot index, or TDM_EINVAL (key 0, bad kind), TDM_EEXIST (key already has a slot),
 * TDM_EFULL (TDM_SUBSLOTS_MAX slots, none free). */
int tdm_subslots_add(struct tdm_subslots *s, uint64_t key, enum tdm_sdp_kind kind);

/* The track `key` is gone: its slot goes inactive in the next offer. Returns the slot index
 * or TDM_ENOTFOUND. */
int tdm_subslots_remove(struct tdm_subslots *s, uint64_t key);

/* Slot index of `key`, or TDM_ENOTFOUND. */
int tdm_subslots_find(const struct tdm_subslots *s, uint64_t key);

/* Whether slot i belongs in the next offer (it carries a track, or its m-section exists and
 * is not dead), and whether it is written active. */
bool tdm_subslots_in_offer(const struct tdm_subslots *s, size_t i);

/* The slot carries its track and the browser has agreed to it: media may flow. */
bool tdm_subslots_live(const struct tdm_subslots *s, size_t i);

/* An offer is wanted: something changed since the latest offer and none is pending. */
bool tdm_subslots_want_offer(const struct tdm_subslots *s);

/* Begin an offer of the current slots. Returns its revision (> 0), or TDM_EAGAIN while
 * another offer awaits its answer. */
int64_t tdm_subslots_offer(struct tdm_subslots *s);

/* The browser's answer to revision rev was accepted. Returns 0, or TDM_ESTATE when rev is
 * not the pending offer's (stale or unknown: ignore the answer). */
int tdm_subslots_answered(struct tdm_subslots *s, int64_t rev);

/* The browser rejected slot i in the answer just accepted: dead, its track dropped. Returns
 * the key it carried (0 if none), so the caller can drop that consumer. */
uint64_t tdm_subslots_reject(struct tdm_subslots *s, size_t i);

/* The pending offer failed (answer refused, or never sent): no longer pending, and a new
 * offer is wanted. */
void tdm_subslots_abandon(struct tdm_subslots *s);

#endif
