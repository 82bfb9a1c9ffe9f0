/* The mixer: speakers and listeners, the choice of who is mixed, and the encoders (one
 * shared, one per listener whose own voice is in the mix). include/tandem/mix.h says
 * what it does; mix_speaker.c holds a speaker's jitter buffer and decoder. */
#include "mix_internal.h"

#include "tandem/err.h"

#include <stdlib.h>
#include <string.h>

#define LOUD_MARGIN 6.0f  /* dB a newcomer must be louder than the quietest active one */
#define LOUD_RELEASE 0.1f /* per frame: the smoothed loudness falls slowly, rises at once */
#define LATE_TICKS 5      /* a tick this many frames late skips ahead */
#define DTX_MAX_LEN 2     /* opus_encode's "do not transmit" frames are 1-2 bytes */

struct listener {
    bool used;
    uint32_t id, own;
    OpusEncoder *enc; /* own encoder (NULL: always the shared one) */
    bool own_mode;    /* this tick sends its own encoder's packet */
    unsigned converge;
    int len; /* own encoder's last output; <= DTX_MAX_LEN: silence */
    uint16_t seq;
    uint32_t ts;
    bool talking; /* the last tick sent a packet (else the next one has the marker) */
    bool dtx;     /* in a pause whose first DTX frame went out */
    bool pending;
    struct tdm_mix_out out;
    uint8_t buf[TDM_MIX_OUT_MAX];
};

struct tdm_mix {
    struct tdm_mix_cfg cfg;
    size_t enc_size;
    struct mix_speaker *spk;
    struct listener *lis;
    unsigned act[TDM_MIX_ACTIVE_LIMIT];
    unsigned n_act;

    OpusEncoder *shared;
    bool shared_ran; /* the shared encoder encoded the last tick's frame */
    int shared_len;
    uint8_t shared_buf[TDM_MIX_OUT_MAX];

    int32_t sum[TDM_MIX_FRAME];
    int16_t full[TDM_MIX_FRAME]; /* the sum, saturated: what non-speakers hear */
    int16_t minus[TDM_MIX_FRAME];

    bool clock;
    int64_t deadline;
    size_t drain;
    struct mix_counters c;
    struct tdm_mix_stats st;
};

void tdm_mix_cfg_default(struct tdm_mix_cfg *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->max_speakers = 16;
    cfg->max_listeners = 64;
    cfg->active = 3;
    cfg->jitter_frames = 2;
    cfg->bitrate = 16000;
    cfg->expected_loss_pct = 10;
    cfg->complexity = 5;
    cfg->share_encoder = true;
    cfg->speech_level = 50;
    cfg->hangover_us = 1000000;
    cfg->min_active_us = 500000;
}

static bool cfg_ok(const struct tdm_mix_cfg *c)
{
    return c->max_speakers >= 1 && c->max_speakers <= TDM_MIX_SPEAKERS_LIMIT &&
           c->max_listeners >= 1 && c->max_listeners <= TDM_MIX_LISTENERS_LIMIT && c->active >= 1 &&
           c->active <= TDM_MIX_ACTIVE_LIMIT && c->jitter_frames >= 1 && c->jitter_frames <= 4 &&
           c->bitrate >= 6000 && c->bitrate <= 64000 && c->expected_loss_pct >= 0 &&
           c->expected_loss_pct <= 50 && c->complexity >= 0 && c->complexity <= 10 &&
           c->speech_level >= 0 && c->speech_level <= 127 && c->hangover_us >= 0 &&
           c->min_active_us >= 0;
}

/* 48 kHz mono VOIP with in-band FEC (RFC 6716 §2.1.7), the expected loss it protects
 * against, and DTX (§2.1.9): a quiet listener's stream costs almost nothing. */
static int enc_init(OpusEncoder *e, const struct tdm_mix_cfg *c)
{
    if (opus_encoder_init(e, TDM_MIX_RATE, 1, OPUS_APPLICATION_VOIP) != OPUS_OK)
        return TDM_EINVAL;
    if (opus_encoder_ctl(e, OPUS_SET_BITRATE(c->bitrate)) != OPUS_OK ||
        opus_encoder_ctl(e, OPUS_SET_INBAND_FEC(1)) != OPUS_OK ||
        opus_encoder_ctl(e, OPUS_SET_PACKET_LOSS_PERC(c->expected_loss_pct)) != OPUS_OK ||
        opus_encoder_ctl(e, OPUS_SET_DTX(1)) != OPUS_OK ||
        opus_encoder_ctl(e, OPUS_SET_COMPLEXITY(c->complexity)) != OPUS_OK ||
        opus_encoder_ctl(e, OPUS_SET_SIGNAL(OPUS_SIGNAL_VOICE)) != OPUS_OK)
        return TDM_EINVAL;
    return 0;
}

static OpusEncoder *enc_new(const struct tdm_mix *m)
{
    OpusEncoder *e = malloc(m->enc_size);
    if (e && enc_init(e, &m->cfg) != 0) {
        free(e);
        return NULL;
    }
    return e;
}

struct tdm_mix *tdm_mix_create(const struct tdm_mix_cfg *cfg)
{
    struct tdm_mix_cfg c;
    if (cfg)
        c = *cfg;
    else
        tdm_mix_cfg_default(&c);
    int esize = opus_encoder_get_size(1);
    if (!cfg_ok(&c) || esize <= 0)
        return NULL;
    struct tdm_mix *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->cfg = c;
    m->enc_size = (size_t)esize;
    m->spk = calloc(c.max_speakers, sizeof *m->spk);
    m->lis = calloc(c.max_listeners, sizeof *m->lis);
    m->shared = m->spk && m->lis ? enc_new(m) : NULL;
    opus_int32 la = 0;
    if (!m->shared || opus_encoder_ctl(m->shared, OPUS_GET_LOOKAHEAD(&la)) != OPUS_OK) {
        tdm_mix_destroy(m);
        return NULL;
    }
    m->st.encoder_delay_us = (int)((int64_t)la * 1000000 / TDM_MIX_RATE);
    return m;
}

void tdm_mix_destroy(struct tdm_mix *m)
{
    if (!m)
        return;
    for (size_t i = 0; m->spk && i < m->cfg.max_speakers; i++)
        if (m->spk[i].used)
            mix_speaker_free(&m->spk[i]);
    for (size_t i = 0; m->lis && i < m->cfg.max_listeners; i++)
        free(m->lis[i].enc);
    free(m->spk);
    free(m->lis);
    free(m->shared);
    free(m);
}

static struct mix_speaker *speaker(struct tdm_mix *m, uint32_t id)
{
    for (size_t i = 0; i < m->cfg.max_speakers; i++)
        if (m->spk[i].used && m->spk[i].id == id)
            return &m->spk[i];
    return NULL;
}

static struct listener *listener(struct tdm_mix *m, uint32_t id)
{
    for (size_t i = 0; i < m->cfg.max_listeners; i++)
        if (m->lis[i].used && m->lis[i].id == id)
            return &m->lis[i];
    return NULL;
}

int tdm_mix_add_speaker(struct tdm_mix *m, uint32_t id)
{
    if (id == TDM_MIX_NO_SPEAKER)
        return TDM_EINVAL;
    if (speaker(m, id))
        return TDM_EEXIST;
    for (size_t i = 0; i < m->cfg.max_speakers; i++)
        if (!m->spk[i].used)
            return mix_speaker_init(&m->spk[i], id);
    return TDM_EFULL;
}

int tdm_mix_remove_speaker(struct tdm_mix *m, uint32_t id)
{
    struct mix_speaker *s = speaker(m, id);
    if (!s)
        return TDM_ENOTFOUND;
    unsigned idx = (unsigned)(s - m->spk);
    for (unsigned i = 0; i < m->n_act; i++)
        if (m->act[i] == idx) {
            m->act[i] = m->act[--m->n_act];
            break;
        }
    mix_speaker_free(s);
    return 0;
}

int tdm_mix_add_listener(struct tdm_mix *m, uint32_t id, uint32_t own_speaker, uint16_t first_seq,
                         uint32_t first_ts)
{
    if (listener(m, id))
        return TDM_EEXIST;
    struct listener *l = NULL;
    for (size_t i = 0; i < m->cfg.max_listeners && !l; i++)
        if (!m->lis[i].used)
            l = &m->lis[i];
    if (!l)
        return TDM_EFULL;
    bool own_enc = !m->cfg.share_encoder || own_speaker != TDM_MIX_NO_SPEAKER;
    OpusEncoder *enc = own_enc ? enc_new(m) : NULL;
    if (own_enc && !enc)
        return TDM_ENOMEM;
    memset(l, 0, sizeof *l);
    l->used = true;
    l->id = id;
    l->own = own_speaker;
    l->enc = enc;
    l->own_mode = !m->cfg.share_encoder;
    l->seq = first_seq;
    l->ts = first_ts;
    return 0;
}

int tdm_mix_remove_listener(struct tdm_mix *m, uint32_t id)
{
    struct listener *l = listener(m, id);
    if (!l)
        return TDM_ENOTFOUND;
    free(l->enc);
    memset(l, 0, sizeof *l);
    return 0;
}

int tdm_mix_push(struct tdm_mix *m, uint32_t speaker_id, const uint8_t *payload, size_t len,
                 uint16_t seq, uint32_t ts, int level, int64_t now_us)
{
    struct mix_speaker *s = speaker(m, speaker_id);
    if (!s)
        return TDM_ENOTFOUND;
    int rc = 0, samples = 0;
    const unsigned char *frames[48];
    opus_int16 sizes[48];
    unsigned char toc;
    if (!payload || len == 0 || level < TDM_MIX_NO_LEVEL || level > 127)
        rc = TDM_EINVAL;
    else if (len > TDM_MIX_MAX_PAYLOAD)
        rc = TDM_ETOOBIG;
    else if (opus_packet_parse(payload, (opus_int32)len, &toc, frames, sizes, NULL) <= 0)
        rc = TDM_EINVAL; /* RFC 6716 §3.4: the framing must be valid */
    else if ((samples = opus_packet_get_nb_samples(payload, (opus_int32)len, TDM_MIX_RATE)) <
                 TDM_MIX_MIN_SAMPLES ||
             samples > TDM_MIX_MAX_SAMPLES || samples % TDM_MIX_MIN_SAMPLES != 0)
        rc = TDM_EUNSUPP; /* 2.5 and 5 ms packets, and those over 60 ms */
    if (rc != 0) {
        m->c.packets_rejected++;
        return rc;
    }
    return mix_speaker_push(s, &m->c, payload, len, (unsigned)samples, seq, ts, level, now_us);
}

/* The loudest speaker speaking now and not mixed yet, or -1. */
static int best_candidate(const struct tdm_mix *m)
{
    int best = -1;
    for (unsigned i = 0; i < m->cfg.max_speakers; i++) {
        const struct mix_speaker *s = &m->spk[i];
        if (s->used && s->speaking && !s->active && (best < 0 || s->loud > m->spk[best].loud))
            best = (int)i;
    }
    return best;
}

static void activate(struct tdm_mix *m, unsigned slot, unsigned idx, int64_t now_us)
{
    m->act[slot] = idx;
    m->spk[idx].active = true;
    m->spk[idx].active_since_us = now_us;
}

/* Who is mixed this frame: the active ones stay until quiet for the hang-over; free places
 * go to the loudest speaking ones; when full, one newcomer per frame may take the quietest
 * one's place if louder by LOUD_MARGIN and that one has had its minimum time. */
static void choose(struct tdm_mix *m, int64_t now_us)
{
    for (unsigned i = 0; i < m->cfg.max_speakers; i++) {
        struct mix_speaker *s = &m->spk[i];
        if (!s->used)
            continue;
        float l = (float)(127 - s->level);
        s->loud = l > s->loud ? l : s->loud + (l - s->loud) * LOUD_RELEASE;
        s->speaking = s->sounding && s->level <= m->cfg.speech_level;
        if (s->speaking)
            s->last_voice_us = now_us;
    }
    for (unsigned i = m->n_act; i-- > 0;) {
        struct mix_speaker *s = &m->spk[m->act[i]];
        if (now_us - s->last_voice_us > m->cfg.hangover_us) {
            s->active = false;
            m->act[i] = m->act[--m->n_act];
        }
    }
    int c;
    while ((c = best_candidate(m)) >= 0 && m->n_act < m->cfg.active)
        activate(m, m->n_act++, (unsigned)c, now_us);
    if (c < 0 || m->n_act == 0)
        return;
    unsigned q = 0;
    for (unsigned i = 1; i < m->n_act; i++)
        if (m->spk[m->act[i]].loud < m->spk[m->act[q]].loud)
            q = i;
    struct mix_speaker *quiet = &m->spk[m->act[q]];
    if (m->spk[c].loud > quiet->loud + LOUD_MARGIN &&
        now_us - quiet->active_since_us >= m->cfg.min_active_us) {
        quiet->active = false;
        activate(m, q, (unsigned)c, now_us);
    }
}

static int16_t sat16(int32_t v)
{
    return v > INT16_MAX ? INT16_MAX : v < INT16_MIN ? INT16_MIN : (int16_t)v;
}

/* The sum of the active speakers, once; `full` is what a listener who is not in it hears. */
static void sum_active(struct tdm_mix *m)
{
    memset(m->sum, 0, sizeof m->sum);
    for (unsigned i = 0; i < m->n_act; i++) {
        const struct mix_speaker *s = &m->spk[m->act[i]];
        if (!s->sounding)
            continue;
        for (size_t k = 0; k < TDM_MIX_FRAME; k++)
            m->sum[k] += s->pcm[k];
    }
    for (size_t k = 0; k < TDM_MIX_FRAME; k++)
        m->full[k] = sat16(m->sum[k]);
}

/* The listener's own voice, when it is in this frame's mix. */
static const struct mix_speaker *own_voice(const struct tdm_mix *m, const struct listener *l)
{
    if (l->own == TDM_MIX_NO_SPEAKER)
        return NULL;
    for (unsigned i = 0; i < m->n_act; i++) {
        const struct mix_speaker *s = &m->spk[m->act[i]];
        if (s->id == l->own && s->sounding)
            return s;
    }
    return NULL;
}

/* Which encoder each listener's packet comes from this frame. Entering their own: a copy
 * of the shared encoder (the state is one flat block, opus.h), so the listener's decoder
 * sees no seam. Leaving it: their encoder hears the shared audio until the two have
 * converged (or both are silent), and when nobody used the shared encoder in the last
 * frame it takes over this listener's state instead. Returns how many use the shared one. */
static unsigned pick_encoders(struct tdm_mix *m)
{
    unsigned shared_users = 0;
    bool shared_taken = false;
    for (size_t i = 0; i < m->cfg.max_listeners; i++) {
        struct listener *l = &m->lis[i];
        if (!l->used || !m->cfg.share_encoder)
            continue;
        if (own_voice(m, l)) {
            if (!l->own_mode)
                memcpy(l->enc, m->shared, m->enc_size);
            l->own_mode = true;
            l->converge = TDM_MIX_CONVERGE_FRAMES;
        } else if (l->own_mode) {
            bool silent = m->shared_ran && m->shared_len <= DTX_MAX_LEN && l->len <= DTX_MAX_LEN;
            if (l->converge > 0 && !silent) {
                l->converge--;
            } else {
                l->own_mode = false;
                if (!m->shared_ran && !shared_taken) {
                    memcpy(m->shared, l->enc, m->enc_size);
                    shared_taken = true;
                }
            }
        }
        shared_users += !l->own_mode;
    }
    return shared_users;
}

static int encode(struct tdm_mix *m, OpusEncoder *e, const int16_t *pcm, uint8_t *out)
{
    m->st.encodes++;
    int n = opus_encode(e, pcm, TDM_MIX_FRAME, out, TDM_MIX_OUT_MAX);
    return n > 0 ? n : 0; /* an encoder error: nothing sent this frame */
}

/* Each listener's payload for this frame. Of a pause's DTX frames only the first is sent,
 * as browsers do: it tells the listener's decoder that the silence is DTX, so the browser
 * plays comfort noise and counts no concealment (getStats concealedSamples) until the next
 * packet; without it the pause looks like loss. The first packet after the silence carries
 * the marker (RFC 3551 §4.1). */
static void queue(struct tdm_mix *m, struct listener *l, const uint8_t *p, int len)
{
    uint32_t ts = l->ts;
    l->ts += TDM_MIX_FRAME;
    if (len <= DTX_MAX_LEN && l->dtx) {
        l->talking = false;
        return;
    }
    l->dtx = len <= DTX_MAX_LEN;
    l->out = (struct tdm_mix_out){.listener = l->id,
                                  .payload = p,
                                  .len = (size_t)len,
                                  .seq = l->seq++,
                                  .ts = ts,
                                  .marker = !l->talking};
    l->talking = true;
    l->pending = true;
    m->st.outputs++;
}

static void mix_frame(struct tdm_mix *m, int64_t now_us)
{
    for (size_t i = 0; i < m->cfg.max_listeners; i++)
        if (m->lis[i].pending) {
            m->lis[i].pending = false;
            m->st.outputs_dropped++;
        }
    m->drain = 0;
    /* the choice comes first, from the levels the packets carry (RFC 6464); only the
     * speakers it keeps are decoded, and those whose packets carry no level */
    unsigned jf = m->cfg.jitter_frames;
    for (size_t i = 0; i < m->cfg.max_speakers; i++) {
        struct mix_speaker *s = &m->spk[i];
        if (!s->used)
            continue;
        s->played = false;
        int lv = mix_speaker_peek(s, jf);
        s->sounding = lv != MIX_SILENT;
        s->level = lv == MIX_SILENT || lv == TDM_MIX_NO_LEVEL ? 127 : lv;
        if (lv == TDM_MIX_NO_LEVEL)
            mix_speaker_play(s, &m->c, jf, true, now_us);
    }
    choose(m, now_us);
    for (size_t i = 0; i < m->cfg.max_speakers; i++) {
        struct mix_speaker *s = &m->spk[i];
        if (s->used && !s->played)
            mix_speaker_play(s, &m->c, jf, s->active, now_us);
    }
    sum_active(m);
    unsigned shared_users = pick_encoders(m);
    m->shared_ran = shared_users > 0;
    if (m->shared_ran)
        m->shared_len = encode(m, m->shared, m->full, m->shared_buf);
    for (size_t i = 0; i < m->cfg.max_listeners; i++) {
        struct listener *l = &m->lis[i];
        if (!l->used)
            continue;
        if (!l->own_mode) {
            queue(m, l, m->shared_buf, m->shared_len);
            continue;
        }
        const struct mix_speaker *own = own_voice(m, l);
        const int16_t *pcm = m->full;
        if (own) {
            for (size_t k = 0; k < TDM_MIX_FRAME; k++)
                m->minus[k] = sat16(m->sum[k] - own->pcm[k]);
            pcm = m->minus;
        }
        l->len = encode(m, l->enc, pcm, l->buf);
        queue(m, l, l->buf, l->len);
    }
    m->st.ticks++;
}

int64_t tdm_mix_tick(struct tdm_mix *m, int64_t now_us)
{
    if (!m->clock) {
        m->clock = true;
        m->deadline = now_us;
    }
    if (now_us < m->deadline)
        return m->deadline;
    mix_frame(m, now_us);
    m->deadline += TDM_MIX_TICK_US;
    if (now_us - m->deadline > LATE_TICKS * TDM_MIX_TICK_US)
        m->deadline = now_us + TDM_MIX_TICK_US;
    return m->deadline;
}

bool tdm_mix_next_output(struct tdm_mix *m, struct tdm_mix_out *out)
{
    for (; m->drain < m->cfg.max_listeners; m->drain++) {
        struct listener *l = &m->lis[m->drain];
        if (l->used && l->pending) {
            l->pending = false;
            *out = l->out;
            m->drain++;
            return true;
        }
    }
    return false;
}

size_t tdm_mix_active(const struct tdm_mix *m, uint32_t *ids, size_t max)
{
    size_t n = 0;
    for (unsigned i = 0; i < m->n_act && n < max; i++)
        ids[n++] = m->spk[m->act[i]].id;
    return n;
}

void tdm_mix_get_stats(const struct tdm_mix *m, struct tdm_mix_stats *out)
{
    *out = m->st;
    out->frames_decoded = m->c.frames_decoded;
    out->frames_fec = m->c.frames_fec;
    out->frames_plc = m->c.frames_plc;
    out->frames_skipped = m->c.frames_skipped;
    out->packets_late = m->c.packets_late;
    out->packets_dropped = m->c.packets_dropped;
    out->packets_rejected = m->c.packets_rejected;
    out->restarts = m->c.restarts;
    out->delay_sum_us = m->c.delay_sum_us;
    out->delay_max_us = m->c.delay_max_us;
}
