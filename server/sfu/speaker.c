/* The room's active speaker (docs/protocol.md "media.speaker"): the loudest voice from the
 * audio-level header extension (RFC 6464) of everyone's packets, smoothed in fanout.c
 * (prod.level_ema); every page is told when it changes, and the allocation (alloc.c) gives
 * the speaker's picture first. */
#include "sfu_internal.h"

#include <string.h>

#define SPEAKER_US 300000       /* how often the active speaker is chosen */
#define SPEAKER_MIN_SCORE 960   /* level_ema of someone speaking: above -67 dBov (x16) */
#define SPEAKER_HOLD_US 1500000 /* a speaker stays at least this long */

static uint16_t loudness(const struct part *p, int64_t now)
{
    uint16_t best = 0;
    for (uint32_t k = 0; k < p->n_prods; k++) {
        const struct prod *pr = p->prods[k];
        if (pr->kind == TDM_SDP_AUDIO && now - pr->last_rtp_us < 500000 && !p->block_audio &&
            pr->level_ema > best)
            best = pr->level_ema; /* a silent (DTX) or muted microphone sends nothing */
    }
    return best;
}

/* The loudest person, when they speak; kept at least SPEAKER_HOLD_US and until someone is
 * clearly louder (4 dB), so the highlight does not jump between two voices. */
void speaker_tick(struct tdm_sfu *s, struct room *r, int64_t now)
{
    if (now < r->next_speaker_us)
        return;
    r->next_speaker_us = now + SPEAKER_US;
    const struct part *best = NULL;
    uint16_t best_l = 0, cur_l = 0;
    for (uint32_t i = 0; i < r->n_parts; i++) {
        uint16_t l = loudness(r->parts[i], now);
        if (strcmp(r->parts[i]->id, r->speaker) == 0)
            cur_l = l;
        if (l > best_l) {
            best_l = l;
            best = r->parts[i];
        }
    }
    if (!best || best_l < SPEAKER_MIN_SCORE || strcmp(best->id, r->speaker) == 0)
        return;
    if (cur_l >= SPEAKER_MIN_SCORE &&
        (now - r->speaker_us < SPEAKER_HOLD_US || best_l < cur_l + 64))
        return;
    memcpy(r->speaker, best->id, sizeof r->speaker);
    r->speaker_us = now;
    for (uint32_t i = 0; i < r->n_parts; i++) {
        struct tdm_sfu_event *e = sfu_event_new(TDM_SFU_EV_SPEAKER, r->id, r->parts[i]->id);
        if (!e)
            return;
        memcpy(e->subject, r->speaker, sizeof e->subject);
        sfu_event_push(s, e);
    }
}
