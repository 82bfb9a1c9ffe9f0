/* libFuzzer target: the Opus mixer (core/mix.c) fed what publishers send it, in any order.
 *
 * Input: a config byte (speakers mixed at once, jitter frames, a shared encoder or not), then
 * steps, each decoded with a bounded cursor (missing bytes read as zero): push an RTP payload
 * from a speaker (the next packet of its stream, or a raw sequence number and timestamp; a
 * payload that starts with an Opus TOC from a table of 10 to 60 ms packets and some the
 * mixer must refuse, or raw bytes; a level or none),
 * let time pass and tick, add or remove a speaker or a listener (ids 0..4; 4 is never added
 * as a speaker, so pushes from it are unknown).
 *
 * Invariants: push returns 0 or one of its documented errors; each tick queues at most one
 * output per listener, for a listener that exists, of 1..TDM_MIX_OUT_MAX bytes, with that
 * listener's sequence numbers continuous; at most cfg.active speakers are mixed, all of
 * them added; the counters never go back. Leaks and bad reads: the sanitizers. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tandem/err.h"
#include "tandem/mix.h"

#include <opus/opus.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            abort();                                                                               \
    } while (0)

#define IDS 5
#define MAX_STEPS 400

struct cursor {
    const uint8_t *p;
    size_t n;
};

static uint8_t u8(struct cursor *c)
{
    if (!c->n)
        return 0;
    c->n--;
    return *c->p++;
}

static uint16_t u16(struct cursor *c)
{
    return (uint16_t)(u8(c) << 8 | u8(c));
}

static uint32_t u32(struct cursor *c)
{
    return (uint32_t)u16(c) << 16 | u16(c);
}

struct state {
    struct tdm_mix *m;
    unsigned active;
    bool speaker[IDS], listener[IDS];
    uint16_t seq[IDS];     /* a speaker's next sequence number */
    uint32_t ts[IDS];      /* and timestamp */
    uint16_t out_seq[IDS]; /* a listener's next output sequence number */
    bool out_started[IDS];
    int64_t now;
    struct tdm_mix_stats last;
};

/* Opus TOC bytes (RFC 6716 §3.1): 20 ms SILK NB/WB, hybrid SWB/FB, CELT NB/FB; code 0, 1
 * (two frames: 40 ms) and 3 framings; 10, 40 and 60 ms SILK and CELT packets; and 2.5 and
 * 5 ms CELT ones the mixer must refuse. */
static const uint8_t tocs[] = {0x08, 0x48, 0x68, 0x78, 0x98, 0xf8, 0xf9, 0x0b, 0xe0,
                               0x18, 0x00, 0x10, 0x50, 0x58, 0xf0, 0xe8, 0x61, 0xb8};

static void push(struct state *st, struct cursor *c)
{
    uint8_t flags = u8(c);
    uint32_t id = u8(c) % IDS;
    uint16_t seq;
    uint32_t ts;
    if (flags & 1) {
        seq = u16(c);
        ts = u32(c);
    } else {
        seq = st->seq[id];
        ts = st->ts[id];
    }
    st->seq[id] = (uint16_t)(seq + 1);
    int level = (flags & 2) ? TDM_MIX_NO_LEVEL : (flags & 4 ? (int)u8(c) : (int)(u8(c) & 127));
    uint8_t payload[TDM_MIX_MAX_PAYLOAD + 8];
    size_t len = (flags & 8) ? (size_t)u16(c) % sizeof payload : (size_t)u8(c);
    for (size_t i = 0; i < len; i++)
        payload[i] = u8(c);
    if (len && !(flags & 16))
        payload[0] = tocs[payload[0] % sizeof tocs];
    /* the next packet of the stream follows this one's duration (20 ms when unknown) */
    int dur = len ? opus_packet_get_nb_samples(payload, (opus_int32)len, TDM_MIX_RATE) : 0;
    st->ts[id] = ts + (uint32_t)(dur > 0 ? dur : TDM_MIX_FRAME);
    int r = tdm_mix_push(st->m, id, payload, len, seq, ts, level, st->now);
    CHECK(r == 0 || r == TDM_ENOTFOUND || r == TDM_EINVAL || r == TDM_ETOOBIG || r == TDM_EUNSUPP ||
          r == TDM_EEXIST || r == TDM_EAGAIN);
    if (r == 0)
        CHECK(st->speaker[id]);
    if (len > TDM_MIX_MAX_PAYLOAD)
        CHECK(r != 0);
}

static void tick(struct state *st, struct cursor *c)
{
    uint8_t step = u8(c);
    st->now += (int64_t)(step & 0x7f) * 1000 * ((step & 0x80) ? 20 : 1);
    (void)tdm_mix_tick(st->m, st->now);
    bool seen[IDS] = {false};
    struct tdm_mix_out o;
    for (int n = 0; tdm_mix_next_output(st->m, &o); n++) {
        CHECK(n < IDS && o.listener < IDS && st->listener[o.listener] && !seen[o.listener]);
        seen[o.listener] = true;
        CHECK(o.payload && o.len >= 1 && o.len <= TDM_MIX_OUT_MAX);
        CHECK(o.seq == st->out_seq[o.listener]);
        st->out_seq[o.listener] = (uint16_t)(o.seq + 1);
    }
    uint32_t ids[TDM_MIX_ACTIVE_LIMIT + 1];
    size_t k = tdm_mix_active(st->m, ids, TDM_MIX_ACTIVE_LIMIT + 1);
    CHECK(k <= st->active);
    for (size_t i = 0; i < k; i++)
        CHECK(ids[i] < IDS && st->speaker[ids[i]]);
    struct tdm_mix_stats s;
    tdm_mix_get_stats(st->m, &s);
    CHECK(s.ticks >= st->last.ticks && s.frames_decoded >= st->last.frames_decoded &&
          s.frames_fec >= st->last.frames_fec && s.frames_plc >= st->last.frames_plc &&
          s.frames_skipped >= st->last.frames_skipped && s.outputs >= st->last.outputs &&
          s.encodes >= st->last.encodes);
    /* a tick decodes at most 60 ms of each speaker it mixes, and of each whose packets
     * carry no level: at most 3 packets a speaker */
    CHECK(s.frames_decoded + s.frames_fec + s.frames_plc -
              (st->last.frames_decoded + st->last.frames_fec + st->last.frames_plc) <=
          3u * IDS);
    st->last = s;
}

static void membership(struct state *st, struct cursor *c, uint8_t op)
{
    uint32_t id = u8(c) % IDS;
    int r;
    switch (op) {
    case 0:
        r = tdm_mix_add_speaker(st->m, id);
        CHECK(r == 0 || r == TDM_EEXIST || r == TDM_EFULL || r == TDM_ENOMEM);
        if (r == 0)
            st->speaker[id] = true;
        break;
    case 1:
        r = tdm_mix_remove_speaker(st->m, id);
        CHECK(r == (st->speaker[id] ? 0 : TDM_ENOTFOUND));
        st->speaker[id] = false;
        break;
    case 2: {
        uint8_t own = u8(c);
        uint16_t first = u16(c);
        uint32_t own_id = own % (IDS + 1) == IDS ? TDM_MIX_NO_SPEAKER : own % IDS;
        r = tdm_mix_add_listener(st->m, id, own_id, first, u32(c));
        CHECK(r == 0 || r == TDM_EEXIST || r == TDM_EFULL || r == TDM_ENOMEM);
        CHECK((r == TDM_EEXIST) == st->listener[id]);
        if (r == 0) {
            st->listener[id] = true;
            st->out_seq[id] = first;
        }
        break;
    }
    default:
        r = tdm_mix_remove_listener(st->m, id);
        CHECK(r == (st->listener[id] ? 0 : TDM_ENOTFOUND));
        st->listener[id] = false;
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cursor c = {data, size};
    uint8_t conf = u8(&c);
    struct tdm_mix_cfg cfg;
    tdm_mix_cfg_default(&cfg);
    cfg.max_speakers = 4;
    cfg.max_listeners = 4;
    cfg.active = 1u + conf % 3;
    cfg.jitter_frames = 1u + (conf >> 2) % 4;
    cfg.share_encoder = !(conf & 0x40);
    cfg.complexity = 0; /* the same code paths, faster */
    static struct state st;
    memset(&st, 0, sizeof st);
    st.m = tdm_mix_create(&cfg);
    CHECK(st.m);
    st.active = cfg.active;
    st.now = 1000000000000LL;
    for (int i = 0; i < 3; i++) { /* a call in progress: three speakers, two listeners */
        CHECK(tdm_mix_add_speaker(st.m, (uint32_t)i) == 0);
        st.speaker[i] = true;
        st.seq[i] = (uint16_t)(1000 * i);
        st.ts[i] = 77777u * (uint32_t)i;
    }
    for (int i = 0; i < 2; i++) {
        CHECK(tdm_mix_add_listener(st.m, (uint32_t)i, (uint32_t)i, 500, 0) == 0);
        st.listener[i] = true;
        st.out_seq[i] = 500;
    }
    for (int step = 0; step < MAX_STEPS && c.n > 0; step++) {
        uint8_t op = u8(&c) % 8;
        if (op < 3)
            push(&st, &c);
        else if (op < 5)
            tick(&st, &c);
        else
            membership(&st, &c, u8(&c) % 4);
    }
    tdm_mix_destroy(st.m);
    return 0;
}
