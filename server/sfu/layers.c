/* Simulcast in the SFU core: a track sent as up to SFU_MAX_LAYERS rid streams (RFC 8853)
 * is a base producer and one producer per further layer, each with its own SSRC, receive
 * log, reports and keyframe requests. Browsers that send rid simulcast signal no SSRCs
 * (Chromium), or SSRCs without saying which rid they carry (Firefox), so each layer's SSRC,
 * and its RTX SSRC, is learnt from the rid / repaired-rid header extension of its first
 * packet (RFC 8852 §3).
 *
 * The send history is kept here too: one per producer (per layer), holding each packet once
 * as it came from the publisher, shared by every subscriber. Each video consumer keeps only
 * how it rewrote each packet (struct sfu_sent, 24 bytes), so a NACK is answered by rewriting
 * the stored original again. */
#include "sfu_internal.h"

#include "tandem/err.h"

#include <stdlib.h>
#include <string.h>

#define REBIND_QUIET_US 2000000 /* a layer silent this long may take a new SSRC */
#define SENT_EMPTY 0xff

static struct prod *layer_new(struct tdm_sfu *s, const struct prod *base, int i, const char *rid)
{
    struct prod *pr = calloc(1, sizeof *pr);
    if (!pr)
        return NULL;
    pr->key = s->next_key++;
    pr->owner = base->owner;
    pr->kind = base->kind;
    pr->codec = base->codec;
    pr->pt = base->pt;
    pr->rtx_pt = base->rtx_pt;
    pr->clock = base->clock;
    pr->fb = base->fb;
    memcpy(pr->ext, base->ext, sizeof pr->ext);
    memcpy(pr->mid, base->mid, sizeof pr->mid);
    memcpy(pr->track_id, base->track_id, sizeof pr->track_id);
    memcpy(pr->rid, rid, sizeof pr->rid);
    pr->base = (struct prod *)base;
    pr->layer = (uint8_t)i;
    tdm_rtpstats_rx_init(&pr->rx, 0, pr->clock);
    tdm_rtx_kf_throttle_init(&pr->kf, SFU_KF_INTERVAL_US);
    if (pr->fb & TDM_SDP_FB_NACK) {
        pr->nack = tdm_nack_rx_create(NULL);
        if (!pr->nack || !layers_hist_init(pr)) {
            tdm_nack_rx_destroy(pr->nack);
            free(pr);
            return NULL;
        }
    }
    return pr;
}

bool layers_make(struct tdm_sfu *s, struct prod *base, const struct tdm_sdp_nego_media *nm)
{
    if (base->kind != TDM_SDP_VIDEO || nm->n_rids == 0)
        return true;
    struct part *o = base->owner;
    /* SSRCs are learnt from the rid extension: those of the SDP say nothing of the layer. */
    base->ssrc = base->rtx_ssrc = 0;
    memcpy(base->rid, nm->rids[0], sizeof base->rid);
    base->layers[0] = base;
    base->n_layers = 1;
    for (size_t i = 1; i < nm->n_rids && i < SFU_MAX_LAYERS; i++) {
        if (o->n_prods >= SFU_MAX_PRODS)
            break; /* fewer layers: the track still works */
        struct prod *pr = layer_new(s, base, (int)i, nm->rids[i]);
        if (!pr)
            return false;
        base->layers[base->n_layers++] = pr;
        o->prods[o->n_prods++] = pr;
    }
    return true;
}

void layers_free(struct prod *base)
{
    struct part *o = base->owner;
    for (uint8_t i = 1; i < base->n_layers; i++) {
        struct prod *pr = base->layers[i];
        for (uint32_t k = 0; k < o->n_prods; k++) {
            if (o->prods[k] == pr) {
                o->prods[k] = o->prods[--o->n_prods];
                break;
            }
        }
        tdm_nack_rx_destroy(pr->nack);
        tdm_rtx_hist_destroy(pr->hist);
        free(pr);
        base->layers[i] = NULL;
    }
    base->n_layers = 0;
    tdm_rtx_hist_destroy(base->hist);
    base->hist = NULL;
}

bool layers_hist_init(struct prod *pr)
{
    pr->hist = tdm_rtx_hist_create(SFU_RTX_SLOTS, SFU_RTX_SLOT_BYTES);
    if (pr->hist)
        tdm_rtx_hist_set_limits(pr->hist, 1000000, 0); /* per subscriber: sfu_sent */
    return pr->hist != NULL;
}

/* Whether extension `id` of v holds exactly the string want. */
static bool ext_is(const struct tdm_rtp_view *v, uint8_t id, const char *want)
{
    size_t off, len;
    if (!id || tdm_rtp_ext_find(v, id, &off, &len) != 0)
        return false;
    return len == strlen(want) && memcmp(v->buf + off, want, len) == 0;
}

static bool may_bind(const struct prod *pr, uint32_t have, int64_t now)
{
    return !have || now - pr->last_rtp_us > REBIND_QUIET_US;
}

struct prod *layers_bind(struct part *o, const struct tdm_rtp_view *v, int64_t now)
{
    for (uint32_t i = 0; i < o->n_prods; i++) {
        struct prod *pr = o->prods[i];
        if (!pr->rid[0])
            continue;
        uint8_t mid_id = pr->ext[TDM_SDP_EXT_MID];
        if (mid_id && tdm_rtp_ext_find(v, mid_id, &(size_t){0}, &(size_t){0}) == 0 &&
            !ext_is(v, mid_id, pr->mid))
            continue; /* another m-section's rid of the same name */
        if (v->pt == pr->pt && ext_is(v, pr->ext[TDM_SDP_EXT_RID], pr->rid) &&
            may_bind(pr, pr->ssrc, now)) {
            pr->ssrc = v->ssrc;
            tdm_rtpstats_rx_init(&pr->rx, pr->ssrc, pr->clock);
            return pr;
        }
        if (pr->rtx_pt >= 0 && v->pt == (uint8_t)pr->rtx_pt &&
            ext_is(v, pr->ext[TDM_SDP_EXT_RRID], pr->rid) && may_bind(pr, pr->rtx_ssrc, now)) {
            pr->rtx_ssrc = v->ssrc;
            return pr;
        }
    }
    return NULL;
}

struct prod *layers_at(struct prod *pr, int i)
{
    struct prod *b = pr->base ? pr->base : pr;
    if (i < 0 || i >= b->n_layers)
        return b;
    return b->layers[i];
}

struct prod *layers_key_source(struct cons *c)
{
    int l = c->sel.target != TDM_LAYERSEL_NONE ? c->sel.target : c->sel.cur;
    return layers_at(c->prod, l);
}

bool layers_cons_init(struct tdm_sfu *s, struct cons *c)
{
    const struct prod *pr = c->prod;
    bool vp8 = pr->codec == TDM_SDP_CODEC_VP8 && pr->n_layers > 1;
    tdm_layersel_init(&c->sel, (uint16_t)sfu_rand32(s), sfu_rand32(s), vp8);
    c->max_layer = SFU_MAX_LAYERS - 1;
    c->resend_min_us = 20000;
    if (pr->kind != TDM_SDP_VIDEO)
        return true;
    c->sent = malloc(SFU_RTX_SLOTS * sizeof *c->sent);
    if (!c->sent)
        return false;
    for (size_t i = 0; i < SFU_RTX_SLOTS; i++)
        c->sent[i].layer = SENT_EMPTY;
    return true;
}

void layers_cons_free(struct cons *c)
{
    free(c->sent);
    c->sent = NULL;
}

void layers_note_sent(struct cons *c, const struct tdm_layersel_out *o, int layer, uint16_t in_seq)
{
    struct sfu_sent *e = &c->sent[o->seq % SFU_RTX_SLOTS];
    *e = (struct sfu_sent){.out_seq = o->seq,
                           .in_seq = in_seq,
                           .layer = (uint8_t)layer,
                           .tl0_off = o->tl0_off,
                           .pid_off = o->pid_off,
                           .ts_off = o->ts_off};
}

int layers_resend(struct cons *c, uint16_t out_seq, int64_t now, int64_t min_us, uint8_t *out,
                  size_t cap)
{
    if (!c->sent)
        return TDM_ENOTFOUND;
    struct sfu_sent *e = &c->sent[out_seq % SFU_RTX_SLOTS];
    if (e->layer == SENT_EMPTY || e->out_seq != out_seq)
        return TDM_ENOTFOUND;
    /* A packet of a layer switched away from: the page's decoder starts again at the new
     * layer's keyframe, so resending it would only crowd a line that just proved too thin. */
    if (e->layer != c->sel.cur)
        return TDM_EAGAIN;
    const struct prod *lp = layers_at(c->prod, e->layer);
    const uint8_t *pkt;
    int len = lp->hist ? tdm_rtx_hist_get(lp->hist, e->in_seq, now, &pkt) : TDM_ENOTFOUND;
    if (len < 0)
        return len;
    if (e->resent_us && now - e->resent_us < min_us)
        return TDM_EAGAIN;
    struct tdm_rtp_view v;
    if (tdm_rtp_parse(&v, pkt, (size_t)len, NULL, 0) != 0 || v.ssrc != lp->ssrc)
        return TDM_ENOTFOUND; /* the layer took a new SSRC since */
    struct tdm_fwd_out fo = {
        .ssrc = c->ssrc, .seq = out_seq, .ts = v.ts + e->ts_off, .pt = c->pt, .extmap = &c->extmap};
    int n = tdm_fwd_rewrite(out, cap, &v, &fo);
    if (n < 0)
        return n;
    if (c->sel.vp8)
        tdm_layersel_vp8_rewrite(out + v.payload_off, v.payload_len, e->pid_off, e->tl0_off);
    e->resent_us = now;
    return n;
}
