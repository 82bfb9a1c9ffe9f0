/* How each person's connection is doing, as everyone in the room is told (docs/protocol.md
 * "media.quality"): good, fair or poor, from what the server measures anyway:
 *   - the loss in our reports to the person's "pub" connection (their uplink);
 *   - the loss and round trip in their reports on "sub" (their downlink);
 *   - automatic audio only (their downlink cannot carry a picture).
 * Poor: audio only, or a tenth lost either way, or a round trip of 600 ms; fair: 3 % lost or
 * 300 ms; good otherwise. A worse level is announced when it held for WORSE_US, a better one
 * after BETTER_US, so a tile's mark does not blink. No content, no address: a level. */
#include "sfu_internal.h"

#define LOOK_US 1000000   /* how often */
#define FRESH_US 5000000  /* a report older than this says nothing any more */
#define WORSE_US 2000000  /* a worse level held this long is announced */
#define BETTER_US 6000000 /* a better one this long */
#define LOSS_POOR 26      /* 10 % of 256 */
#define LOSS_FAIR 8       /* 3 % */
#define RTT_POOR_US 600000
#define RTT_FAIR_US 300000

static enum tdm_sfu_quality level_now(const struct part *q, int64_t now)
{
    unsigned loss = 0;
    int64_t rtt = 0;
    if (q->up_frac_us && now - q->up_frac_us < FRESH_US)
        loss = q->up_frac;
    for (uint32_t i = 0; i < q->n_cons; i++) {
        const struct cons *c = q->cons[i];
        if (!c->live || !c->rep_us || now - c->rep_us >= FRESH_US)
            continue;
        if (c->rep_frac > loss)
            loss = c->rep_frac;
        if (c->rtt_us > rtt)
            rtt = c->rtt_us;
    }
    if (q->audio_only || loss >= LOSS_POOR || rtt >= RTT_POOR_US)
        return TDM_SFU_Q_POOR;
    if (loss >= LOSS_FAIR || rtt >= RTT_FAIR_US)
        return TDM_SFU_Q_FAIR;
    return TDM_SFU_Q_GOOD;
}

/* Everyone in q's room hears of q's new level (q too: its own page shows it). */
static void announce(struct tdm_sfu *s, struct part *q, enum tdm_sfu_quality l)
{
    s->st.quality_now[q->quality]--;
    s->st.quality_now[l]++;
    s->st.quality_changes[l]++;
    q->quality = (uint8_t)l;
    struct room *r = q->room;
    for (uint32_t i = 0; i < r->n_parts; i++) {
        struct tdm_sfu_event *e = sfu_event_new(TDM_SFU_EV_QUALITY, r->id, r->parts[i]->id);
        if (!e)
            return;
        memcpy(e->subject, q->id, sizeof e->subject);
        e->level = (uint8_t)l;
        sfu_event_push(s, e);
    }
}

void quality_join(struct tdm_sfu *s, struct part *q)
{
    q->quality = TDM_SFU_Q_GOOD; /* until measured otherwise: nobody is told "good" */
    q->q_pending = TDM_SFU_Q_GOOD;
    s->st.quality_now[TDM_SFU_Q_GOOD]++;
}

void quality_leave(struct tdm_sfu *s, struct part *q)
{
    s->st.quality_now[q->quality]--;
}

void quality_note_uplink(struct part *q, uint8_t fraction_lost, int64_t now)
{
    if (q->up_frac_us != now || fraction_lost > q->up_frac)
        q->up_frac = fraction_lost; /* the worst stream of one report */
    q->up_frac_us = now;
}

void quality_tick(struct tdm_sfu *s, struct part *q, int64_t now)
{
    if (!q->next_quality_us)
        q->next_quality_us = now + LOOK_US;
    if (now < q->next_quality_us)
        return;
    q->next_quality_us = now + LOOK_US;
    enum tdm_sfu_quality l = level_now(q, now);
    if (l != q->q_pending) {
        q->q_pending = (uint8_t)l;
        q->q_since_us = now;
    }
    if (l == q->quality)
        return;
    int64_t need = l > q->quality ? WORSE_US : BETTER_US;
    if (now - q->q_since_us >= need)
        announce(s, q, l);
}

int64_t quality_deadline(const struct part *q)
{
    return q->next_quality_us ? q->next_quality_us : SFU_POLL; /* the first starts the clock */
}
