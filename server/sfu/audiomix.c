/* The Opus mix for audio-only listeners in group calls (issue 16; docs/architecture.md
 * "Opus mix for listeners without video"). A participant who takes no video (data saver, automatic
 * or chosen audio only) in a room where at least two others publish audio hears them through one
 * stream: a mix m-section (msid "mix") is added to their sub offer; once the page has answered it
 * and the sub connection has keys (mix_live) the fan-out pauses their per-speaker audio consumers,
 * which stay negotiated, so that going back to video mode resumes them at once. The room's
 * mixer (core/mix.c) exists while it has a listener: producers' packets are pushed from the
 * fan-out, ticks come through the core's deadlines every 20 ms, and each listener's packet
 * leaves like a forwarded one (transport-wide number, SRTP on their sub connection). */
#include "sfu_internal.h"

#include "tandem/err.h"
#include "tandem/util.h"

#include <string.h>

#define AMIX_MIN_SPEAKERS 2 /* others who publish audio: below that, a mix saves nothing */

void amix_mark(struct tdm_sfu *s, struct room *r)
{
    r->mix_check = true;
    s->mix_check = true;
}

static bool is_voice(const struct prod *pr)
{
    return pr->kind == TDM_SDP_AUDIO && pr->codec == TDM_SDP_CODEC_OPUS && !pr->base &&
           pr->key < TDM_MIX_NO_SPEAKER;
}

static uint32_t own_voice(const struct part *q)
{
    for (uint32_t i = 0; i < q->n_prods; i++)
        if (is_voice(q->prods[i]))
            return (uint32_t)q->prods[i]->key;
    return TDM_MIX_NO_SPEAKER;
}

static bool wants_mix(const struct part *q)
{
    if (!part_receives(q) || q->mix_refused || !q->pt_for[TDM_SDP_CODEC_OPUS])
        return false;
    if (!q->no_video_in && !q->audio_only && q->ao_mode != TDM_SFU_AO_AUDIO)
        return false;
    unsigned voices = 0;
    for (uint32_t i = 0; i < q->room->n_parts; i++) {
        const struct part *o = q->room->parts[i];
        if (o != q && own_voice(o) != TDM_MIX_NO_SPEAKER)
            voices++;
    }
    return voices >= AMIX_MIN_SPEAKERS;
}

static bool ensure_mixer(struct tdm_sfu *s, struct room *r, int64_t now)
{
    if (r->mix)
        return true;
    struct tdm_mix_cfg cfg;
    tdm_mix_cfg_default(&cfg);
    /* every voice of a large room can be heard; listeners beyond the default 64 (~470 bytes
     * each, allocated with the mixer) keep their separate streams */
    cfg.max_speakers = TDM_MIX_SPEAKERS_LIMIT;
    if (s->cfg.mix_speakers >= 1 && s->cfg.mix_speakers <= TDM_MIX_ACTIVE_LIMIT)
        cfg.active = s->cfg.mix_speakers;
    r->mix = tdm_mix_create(&cfg);
    if (!r->mix)
        return false;
    r->mix_due = now;
    s->st.mix_rooms++;
    sfu_wake_room(s, r);
    return true;
}

/* What the room's mixer decoded since last counted, into the server's counters (after each
 * tick, and before the mixer goes). */
static void count_mix(struct tdm_sfu *s, struct room *r)
{
    struct tdm_mix_stats ms;
    tdm_mix_get_stats(r->mix, &ms);
    s->st.mix_frames += ms.frames_decoded - r->mix_seen.frames_decoded;
    s->st.mix_frames_fec += ms.frames_fec - r->mix_seen.frames_fec;
    s->st.mix_frames_plc += ms.frames_plc - r->mix_seen.frames_plc;
    s->st.mix_frames_skipped += ms.frames_skipped - r->mix_seen.frames_skipped;
    s->st.mix_delay_sum_us += ms.delay_sum_us - r->mix_seen.delay_sum_us;
    r->mix_seen = ms;
}

/* The mixer and its listeners leave the gauges. */
static void uncount_mixer(struct tdm_sfu *s, struct room *r)
{
    count_mix(s, r);
    memset(&r->mix_seen, 0, sizeof r->mix_seen);
    s->st.mix_rooms--;
    s->st.mix_listeners -= r->mix_listeners;
    r->mix_listeners = 0;
}

/* Forget every speaker; the mixer goes with its last listener. */
static void drop_mixer(struct tdm_sfu *s, struct room *r)
{
    for (uint32_t i = 0; i < r->n_parts; i++)
        for (uint32_t k = 0; k < r->parts[i]->n_prods; k++)
            r->parts[i]->prods[k]->in_mix = false;
    uncount_mixer(s, r);
    tdm_mix_destroy(r->mix);
    r->mix = NULL;
    sfu_wake_room(s, r);
}

static uint32_t fresh_ssrc(struct tdm_sfu *s, const struct part *q)
{
    for (;;) {
        uint32_t v = sfu_rand32_nonzero(s);
        bool used = q->sub && v == q->sub->rtcp_ssrc;
        for (uint32_t i = 0; i < q->n_cons && !used; i++)
            used = q->cons[i]->ssrc == v;
        if (!used)
            return v;
    }
}

static void mark_offer(struct tdm_sfu *s, struct part *q)
{
    q->offer_wanted = true; /* sfu.c makes the offer after this input */
    s->offers_wanted = true;
}

/* Into the mixer as a listener; the numbering continues where an earlier entry left it. */
static int add_listener(struct part *q, int64_t now)
{
    uint32_t ts = q->mix_ts;
    if (q->mix_out_us && now > q->mix_out_us)
        ts += (uint32_t)((now - q->mix_out_us) / TDM_MIX_TICK_US + 1) * TDM_MIX_FRAME;
    q->mix_own = own_voice(q);
    return tdm_mix_add_listener(q->room->mix, (uint32_t)q->mix_key, q->mix_own, q->mix_seq, ts);
}

static void start_listening(struct tdm_sfu *s, struct part *q, int64_t now)
{
    uint64_t key = s->next_key++;
    if (key >= TDM_MIX_NO_SPEAKER || !ensure_mixer(s, q->room, now))
        return;
    int slot = tdm_subslots_add(&q->slots, key, TDM_SDP_AUDIO);
    if (slot < 0)
        return; /* TDM_EFULL: separate streams */
    q->mix_key = key;
    q->mix_slot = slot;
    q->mix_ssrc = fresh_ssrc(s, q);
    q->mix_seq = (uint16_t)sfu_rand32(s); /* RFC 3550 §5.1: random starts */
    q->mix_ts = sfu_rand32(s);
    q->mix_out_us = 0;
    q->slot_cons[slot] = NULL;
    q->slot_codec[slot] = TDM_SDP_CODEC_OPUS;
    tdm_rtpstats_tx_init(&q->mix_tx, q->mix_ssrc, TDM_MIX_RATE);
    if (add_listener(q, now) != 0) {
        tdm_subslots_remove(&q->slots, key);
        q->mix_key = 0;
        return;
    }
    mark_offer(s, q);
}

static void stop_listening(struct tdm_sfu *s, struct part *q)
{
    if (!q->mix_key)
        return;
    if (q->room->mix)
        tdm_mix_remove_listener(q->room->mix, (uint32_t)q->mix_key);
    tdm_subslots_remove(&q->slots, q->mix_key);
    q->mix_key = 0;
    q->mix_live = false;
    mark_offer(s, q);
}

static void add_speakers(struct room *r)
{
    for (uint32_t i = 0; i < r->n_parts; i++) {
        struct part *o = r->parts[i];
        for (uint32_t k = 0; k < o->n_prods; k++) {
            struct prod *pr = o->prods[k];
            if (is_voice(pr) && !pr->in_mix)
                pr->in_mix = tdm_mix_add_speaker(r->mix, (uint32_t)pr->key) == 0;
        }
    }
}

void amix_sync(struct tdm_sfu *s, struct room *r, int64_t now)
{
    r->mix_check = false;
    unsigned listeners = 0;
    for (uint32_t i = 0; i < r->n_parts; i++) {
        struct part *q = r->parts[i];
        bool want = wants_mix(q);
        if (want && !q->mix_key)
            start_listening(s, q, now);
        else if (!want)
            stop_listening(s, q);
        else if (q->mix_own != own_voice(q)) { /* a new microphone track: leave it out */
            tdm_mix_remove_listener(r->mix, (uint32_t)q->mix_key);
            if (add_listener(q, now) != 0)
                stop_listening(s, q);
        }
        q->mix_live = q->mix_key && q->sub && q->sub->srtp &&
                      tdm_subslots_live(&q->slots, (size_t)q->mix_slot);
        listeners += q->mix_key != 0;
    }
    if (!listeners && r->mix) {
        drop_mixer(s, r);
    } else if (r->mix) {
        add_speakers(r);
        s->st.mix_listeners += listeners - r->mix_listeners;
        r->mix_listeners = listeners;
    }
}

/* ---- the hot path ---------------------------------------------------------------------- */

void amix_push(struct prod *pr, const struct tdm_rtp_view *v, int64_t now)
{
    struct tdm_mix *m = pr->owner->room->mix;
    if (!m || !pr->in_mix)
        return;
    uint8_t level;
    bool voice;
    int lv = TDM_MIX_NO_LEVEL;
    if (pr->ext[TDM_SDP_EXT_AUDIO_LEVEL] &&
        tdm_rtp_ext_audio_level(v, pr->ext[TDM_SDP_EXT_AUDIO_LEVEL], &level, &voice) == 0)
        lv = level;
    /* refused packets (not Opus, not 20 ms, late) are counted by the mixer */
    tdm_mix_push(m, (uint32_t)pr->key, v->buf + v->payload_off, v->payload_len, v->seq, v->ts, lv,
                 now);
}

static struct part *listener(struct room *r, uint32_t id)
{
    for (uint32_t i = 0; i < r->n_parts; i++)
        if (r->parts[i]->mix_key == id)
            return r->parts[i];
    return NULL;
}

static void send_one(struct tdm_sfu *s, struct part *q, const struct tdm_mix_out *o, int64_t now)
{
    struct peer *sp = q->sub;
    struct tdm_sfu_transmit *t = sp && sp->srtp ? sfu_tx_slot(s) : NULL;
    if (!t)
        return; /* no keys (the connection went since the last sync) or no slot */
    uint8_t *b = t->buf;
    size_t hl = tdm_rtp_write_header(b, q->pt_for[TDM_SDP_CODEC_OPUS], o->marker, o->seq, o->ts,
                                     q->mix_ssrc, 0);
    memcpy(b + hl, o->payload, o->len);
    int n = (int)(hl + o->len);
    tdm_rtpstats_tx_on_packet(&q->mix_tx, o->ts, o->len, now);
    n = dl_stamp(sp, b, (size_t)n, 0, now);
    n = tdm_srtp_protect_rtp(sp->srtp, b, (size_t)n, TDM_SFU_TX_BUF);
    if (n < 0) {
        s->st.fwd_errors++;
        return;
    }
    peer_send(s, sp, t, (size_t)n);
    s->st.rtp_out++;
    s->st.mix_packets++;
    s->st.fwd_bytes += (uint64_t)n;
}

void amix_tick(struct tdm_sfu *s, struct room *r, int64_t now)
{
    if (!r->mix || now < r->mix_due)
        return;
    /* a datagram per listener at most: wait for the caller to drain the queue first */
    if (s->cap_tx - s->n_tx < r->n_parts + SFU_TICK_RESERVE)
        return; /* still due */
    r->mix_due = tdm_mix_tick(r->mix, now);
    count_mix(s, r);
    struct tdm_mix_out o;
    while (tdm_mix_next_output(r->mix, &o)) {
        struct part *q = listener(r, o.listener);
        if (!q)
            continue;
        q->mix_seq = (uint16_t)(o.seq + 1);
        q->mix_ts = o.ts;
        q->mix_out_us = now;
        if (q->mix_live)
            send_one(s, q, &o, now);
    }
}

int64_t amix_deadline(const struct room *r)
{
    return r->mix ? r->mix_due : INT64_MAX;
}

/* ---- going -------------------------------------------------------------------------- */

void amix_forget_prod(struct prod *pr)
{
    struct tdm_mix *m = pr->owner->room->mix;
    if (m && pr->in_mix)
        tdm_mix_remove_speaker(m, (uint32_t)pr->key);
    pr->in_mix = false;
}

void amix_part_reset(struct tdm_sfu *s, struct part *p)
{
    if (p->mix_key && p->room->mix)
        tdm_mix_remove_listener(p->room->mix, (uint32_t)p->mix_key);
    p->mix_key = 0;
    p->mix_live = false;
    p->mix_refused = false;
    amix_mark(s, p->room);
}

void amix_room_free(struct tdm_sfu *s, struct room *r)
{
    if (r->mix)
        uncount_mixer(s, r);
    tdm_mix_destroy(r->mix);
    r->mix = NULL;
}
