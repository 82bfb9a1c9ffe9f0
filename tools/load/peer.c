/* tandem-load: one connection to the server (a page's RTCPeerConnection): a NiceAgent in
 * full mode, controlling, against Tandem's ICE-lite; DTLS as the client once ICE is up
 * (core/dtls.c over OpenSSL); SRTP from the exported keys (core/srtp.c over libsrtp2). */
#include <string.h>

#include "load.h"
#include "tandem/rtp.h"
#include "tandem/util.h"

static void shard_count(struct ld_conn *c, int up, int failed)
{
    struct ld_shard *sh = c->p->sh;
    g_mutex_lock(&sh->lock);
    sh->st.conns_up += up;
    sh->st.conns_failed += failed;
    g_mutex_unlock(&sh->lock);
}

static void fail(struct ld_conn *c, const char *why)
{
    if (c->failed)
        return;
    c->failed = true;
    if (!c->p->sh->g->o.quiet)
        g_printerr("tandem-load: %s %s connection failed: %s\n", c->p->name,
                   c->is_sub ? "sub" : "pub", why);
    shard_count(c, c->dtls_up ? -1 : 0, 1);
}

/* Sends what DTLS queued and acts on its events. */
static void pump(struct ld_conn *c, int64_t now)
{
    uint8_t d[TDM_DTLS_SLOT_BYTES];
    int n;
    while ((n = tdm_dtls_poll_datagram(c->dtls, d, sizeof d)) > 0)
        nice_agent_send(c->agent, c->stream, 1, (guint)n, (const gchar *)d);
    struct tdm_dtls_event ev;
    while (tdm_dtls_poll_event(c->dtls, &ev)) {
        if (ev.type == TDM_DTLS_EV_CONNECTED) {
            struct tdm_srtp_keys k;
            int rc = tdm_dtls_take_keys(c->dtls, &k);
            if (rc == 0)
                rc = tdm_srtp_create(&c->srtp, &k);
            tdm_srtp_keys_wipe(&k);
            if (rc != 0) {
                fail(c, "SRTP keys");
                continue;
            }
            c->dtls_up = true;
            shard_count(c, 1, 0);
        } else if (ev.type == TDM_DTLS_EV_FAILED) {
            fail(c, tdm_dtls_fail_name(ev.fail));
        } else {
            fail(c, "DTLS closed by the server");
        }
    }
}

/* --drop-rx: a video packet lost on the way down, before SRTP sees it (the header is in
 * the clear), so a resent copy is new to the replay window as it would be. */
static bool lossy_link(struct ld_conn *c, const uint8_t *pkt)
{
    int drop = c->p->sh->g->o.drop_rx_permille;
    if (drop <= 0 || !c->is_sub || (pkt[1] & 0x7f) != c->video_pt ||
        g_random_int_range(0, 1000) >= drop)
        return false;
    g_mutex_lock(&c->p->sh->lock);
    c->p->sh->st.dropped_rx++;
    g_mutex_unlock(&c->p->sh->lock);
    return true;
}

static void on_recv(NiceAgent *agent, guint stream, guint comp, guint len, gchar *buf,
                    gpointer data)
{
    struct ld_conn *c = data;
    if (len == 0 || c->failed)
        return;
    int64_t now = tdm_now_us();
    uint8_t b0 = (uint8_t)buf[0];
    if (b0 >= 20 && b0 <= 63) {
        tdm_dtls_feed(c->dtls, (const uint8_t *)buf, len, now);
        pump(c, now);
        return;
    }
    if (b0 < 128 || b0 > 191 || !c->srtp || len > LD_PKT_MAX + TDM_SRTP_MAX_TRAILER)
        return;
    uint8_t pkt[LD_PKT_MAX + TDM_SRTP_MAX_TRAILER];
    memcpy(pkt, buf, len);
    if (tdm_rtp_is_rtcp(pkt, len)) {
        int n = tdm_srtp_unprotect_rtcp(c->srtp, pkt, len);
        if (n > 0)
            ld_media_on_rtcp(c, pkt, (size_t)n, now);
    } else if (lossy_link(c, pkt)) {
        return;
    } else {
        int n = tdm_srtp_unprotect_rtp(c->srtp, pkt, len);
        if (n > 0) {
            ld_media_on_rtp(c, pkt, (size_t)n, now);
        } else {
            g_mutex_lock(&c->p->sh->lock);
            c->p->sh->st.bad_pkts++;
            g_mutex_unlock(&c->p->sh->lock);
        }
    }
}

static void on_state(NiceAgent *agent, guint stream, guint comp, guint state, gpointer data)
{
    struct ld_conn *c = data;
    if (c->failed)
        return;
    if ((state == NICE_COMPONENT_STATE_CONNECTED || state == NICE_COMPONENT_STATE_READY) &&
        !c->ice_up) {
        c->ice_up = true;
        int64_t now = tdm_now_us();
        tdm_dtls_start(c->dtls, now);
        pump(c, now);
    } else if (state == NICE_COMPONENT_STATE_FAILED) {
        fail(c, "ICE");
    }
}

int ld_conn_open(struct ld_conn *c, struct ld_part *p, bool is_sub)
{
    const struct ld_opts *o = &p->sh->g->o;
    memset(c, 0, sizeof *c);
    c->p = p;
    c->is_sub = is_sub;
    c->created_us = tdm_now_us();
    if (tdm_dtls_create(&c->dtls, p->sh->g->ssl_ctx, TDM_DTLS_CLIENT, NULL) != 0)
        return TDM_ECRYPTO;
    c->agent = nice_agent_new_full(p->sh->ctx, NICE_COMPATIBILITY_RFC5245,
                                   NICE_AGENT_OPTION_REGULAR_NOMINATION |
                                       NICE_AGENT_OPTION_CONSENT_FRESHNESS);
    if (!c->agent)
        return TDM_ENOMEM;
    g_object_set(c->agent, "controlling-mode", TRUE, "upnp", FALSE, "ice-tcp", o->tcp, "ice-udp",
                 !o->tcp, NULL);
    NiceAddress addr;
    nice_address_init(&addr);
    if (!nice_address_set_from_string(&addr, o->local_address))
        return TDM_EINVAL;
    nice_agent_add_local_address(c->agent, &addr);
    c->stream = nice_agent_add_stream(c->agent, 1);
    if (c->stream == 0)
        return TDM_EFULL;
    g_signal_connect(c->agent, "component-state-changed", G_CALLBACK(on_state), c);
    nice_agent_attach_recv(c->agent, c->stream, 1, p->sh->ctx, on_recv, c);
    if (!nice_agent_gather_candidates(c->agent, c->stream))
        return TDM_EIO;
    return 0;
}

void ld_conn_close(struct ld_conn *c)
{
    if (c->agent) {
        nice_agent_attach_recv(c->agent, c->stream, 1, c->p->sh->ctx, NULL, NULL);
        g_signal_handlers_disconnect_by_data(c->agent, c);
        nice_agent_remove_stream(c->agent, c->stream);
        g_object_unref(c->agent);
        c->agent = NULL;
    }
    if (c->dtls)
        tdm_dtls_destroy(c->dtls);
    c->dtls = NULL;
    if (c->srtp)
        tdm_srtp_destroy(c->srtp);
    c->srtp = NULL;
}

/* The server's answer (pub) or offer (sub): its credentials, fingerprint and candidates. */
int ld_conn_remote(struct ld_conn *c, const struct ld_sdp_info *info)
{
    char err[128];
    struct tdm_fingerprint fp;
    if (tdm_cert_fingerprint_parse((const uint8_t *)info->fp, strlen(info->fp), &fp, err,
                                   sizeof err) != 0)
        return TDM_EINVAL;
    if (c->remote_set) /* a renegotiation: same transport */
        return 0;
    if (tdm_dtls_set_remote_fingerprint(c->dtls, &fp, tdm_now_us()) != 0)
        return TDM_ESTATE;
    if (!nice_agent_set_remote_credentials(c->agent, c->stream, info->ufrag, info->pwd))
        return TDM_EINVAL;
    GSList *list = NULL;
    bool tcp = c->p->sh->g->o.tcp;
    for (int i = 0; i < info->n_cand; i++) {
        if (info->cand[i].tcp != tcp)
            continue;
        NiceCandidate *nc =
            nice_agent_parse_remote_candidate_sdp(c->agent, c->stream, info->cand[i].text);
        if (nc)
            list = g_slist_append(list, nc);
    }
    int n = list ? nice_agent_set_remote_candidates(c->agent, c->stream, 1, list) : 0;
    g_slist_free_full(list, (GDestroyNotify)nice_candidate_free);
    if (n <= 0)
        return TDM_ENOTFOUND;
    c->remote_set = true;
    return 0;
}

void ld_conn_tick(struct ld_conn *c, int64_t now)
{
    if (!c->dtls || c->failed)
        return;
    if (c->ice_up && tdm_dtls_deadline(c->dtls) <= now) {
        tdm_dtls_handle_timeout(c->dtls, now);
        pump(c, now);
    }
    int64_t limit = (int64_t)c->p->sh->g->o.setup_timeout_s * 1000000;
    if (!c->dtls_up && c->remote_set && now - c->created_us > limit)
        fail(c, c->ice_up ? "DTLS time-out" : "ICE time-out");
}

bool ld_conn_ready(const struct ld_conn *c)
{
    return c->srtp && c->dtls_up && !c->failed;
}

/* pkt has room for the SRTP trailer (LD_PKT_MAX + TDM_SRTP_MAX_TRAILER). */
int ld_conn_send_rtp(struct ld_conn *c, uint8_t *pkt, size_t len)
{
    if (!ld_conn_ready(c))
        return TDM_ESTATE;
    int n = tdm_srtp_protect_rtp(c->srtp, pkt, len, LD_PKT_MAX + TDM_SRTP_MAX_TRAILER);
    if (n < 0)
        return n;
    return nice_agent_send(c->agent, c->stream, 1, (guint)n, (const gchar *)pkt) == n ? 0
                                                                                      : TDM_EAGAIN;
}

/* Protects pkts[0..n) in place (each with room for the trailer) and sends them with one
 * call: libnice hands a UDP batch to one sendmmsg. Returns how many went out, or < 0. */
int ld_conn_send_batch(struct ld_conn *c, uint8_t *const *pkts, const size_t *lens, size_t n)
{
    GOutputVector vec[LD_BATCH];
    NiceOutputMessage msg[LD_BATCH];
    if (!ld_conn_ready(c) || n > LD_BATCH)
        return TDM_ESTATE;
    guint m = 0;
    for (size_t i = 0; i < n; i++) {
        int k = tdm_srtp_protect_rtp(c->srtp, pkts[i], lens[i], LD_PKT_MAX + TDM_SRTP_MAX_TRAILER);
        if (k < 0)
            continue;
        vec[m] = (GOutputVector){pkts[i], (gsize)k};
        msg[m] = (NiceOutputMessage){&vec[m], 1};
        m++;
    }
    gint sent = nice_agent_send_messages_nonblocking(c->agent, c->stream, 1, msg, m, NULL, NULL);
    return sent < 0 ? TDM_EAGAIN : sent;
}

void ld_conn_send_rtcp(struct ld_conn *c, uint8_t *pkt, size_t len)
{
    if (!ld_conn_ready(c))
        return;
    int n = tdm_srtp_protect_rtcp(c->srtp, pkt, len, LD_PKT_MAX + TDM_SRTP_MAX_TRAILER);
    if (n > 0 && nice_agent_send(c->agent, c->stream, 1, (guint)n, (const gchar *)pkt) == n) {
        g_mutex_lock(&c->p->sh->lock);
        c->p->sh->st.rtcp_out++;
        g_mutex_unlock(&c->p->sh->lock);
    }
}
