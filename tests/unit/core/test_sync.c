#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "tandem/err.h"
#include "tandem/sync.h"

#define A "AAAAAAAAAAAAAAAAAAAAAA"
#define B "BBBBBBBBBBBBBBBBBBBBBB"
#define C "CCCCCCCCCCCCCCCCCCCCCC"
#define SEC 1000000LL
#define T0 (1700000000LL * SEC) /* a wall-clock-like server time */

static const char *const origins[] = {"https://films.example.org", "HTTPS://Cdn.Example.NET:8443"};

static struct tdm_sync *mk(bool wait_all)
{
    struct tdm_sync_config cfg;
    tdm_sync_config_init(&cfg);
    cfg.allowed_origins = origins;
    cfg.n_allowed_origins = 2;
    cfg.wait_for_all = wait_all;
    struct tdm_sync *s = NULL;
    char err[128];
    assert_int_equal(tdm_sync_create(&cfg, &s, err, sizeof err), 0);
    assert_non_null(s);
    return s;
}

static struct tdm_sync_op mkop(enum tdm_sync_op_kind kind, const char *sender)
{
    struct tdm_sync_op op;
    memset(&op, 0, sizeof op);
    op.kind = kind;
    op.sender = sender;
    op.role = TDM_ROLE_MENTEE;
    return op;
}

static int apply(struct tdm_sync *s, struct tdm_sync_op op, int64_t now)
{
    char err[128] = "";
    int rc = tdm_sync_apply(s, &op, now, err, sizeof err);
    if (rc < 0)
        assert_true(err[0] != '\0'); /* every refusal says why */
    return rc;
}

static int do_load(struct tdm_sync *s, const char *src, int64_t now)
{
    struct tdm_sync_op op = mkop(TDM_SYNC_OP_LOAD, A);
    op.source = src;
    op.source_len = strlen(src);
    return apply(s, op, now);
}

static int do_simple(struct tdm_sync *s, enum tdm_sync_op_kind k, const char *who, int64_t now)
{
    return apply(s, mkop(k, who), now);
}

static int do_seek(struct tdm_sync *s, const char *who, double pos, int64_t now)
{
    struct tdm_sync_op op = mkop(TDM_SYNC_OP_SEEK, who);
    op.position_s = pos;
    return apply(s, op, now);
}

static int do_rate(struct tdm_sync *s, const char *who, double rate, int64_t now)
{
    struct tdm_sync_op op = mkop(TDM_SYNC_OP_RATE, who);
    op.rate = rate;
    return apply(s, op, now);
}

static int do_flag(struct tdm_sync *s, enum tdm_sync_op_kind k, const char *who, bool flag,
                   int64_t now)
{
    struct tdm_sync_op op = mkop(k, who);
    op.flag = flag;
    return apply(s, op, now);
}

static struct tdm_sync_state snap(struct tdm_sync *s, int64_t now)
{
    struct tdm_sync_state st;
    tdm_sync_snapshot(s, now, &st);
    return st;
}

static void sources_validated(void **state)
{
    (void)state;
    struct tdm_sync *s = mk(false);
    const char *ok[] = {"media:film.mp4",
                        "media:My Film 2.webm",
                        "https://films.example.org/a/b.mp4?t=1#x",
                        "https://FILMS.example.org/x.mp4",
                        "https://films.example.org:443/x.mp4",
                        "https://cdn.example.net:8443/v.webm",
                        "https://films.example.org"};
    const char *bad[] = {"media:",
                         "media:../etc/passwd",
                         "media:a/b.mp4",
                         "media:.hidden.mp4",
                         "media:a..b.mp4",
                         "media: lead.mp4",
                         "media:tab\there.mp4",
                         "media:My Film (2).webm",
                         "http://films.example.org/x.mp4",
                         "https://evil.example.com/x.mp4",
                         "https://films.example.org.evil.com/x.mp4",
                         "https://films.example.org@evil.com/x.mp4",
                         "https://evil.com\\@films.example.org/x.mp4",
                         "https://evil.com#@films.example.org",
                         "https://films.example.org:8443/x.mp4",
                         "https://cdn.example.net/v.webm",
                         "https://films.example.org:/x",
                         "https://films.example.org:99999/x",
                         "https://films.example.org/a b.mp4",
                         "https://films.example.org/\"onload=x",
                         "https:///x.mp4",
                         "https://",
                         "javascript:alert(1)",
                         "file:///etc/passwd",
                         "https://films.example.org/\xc3\xa9.mp4"};
    char err[128];
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        assert_int_equal(tdm_sync_source_check(s, ok[i], strlen(ok[i]), err, sizeof err), 0);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = tdm_sync_source_check(s, bad[i], strlen(bad[i]), err, sizeof err);
        if (rc == 0)
            fail_msg("accepted %s", bad[i]);
        assert_true(rc == TDM_EINVAL || rc == TDM_EPERM);
    }
    assert_int_equal(tdm_sync_source_check(s, "https://evil.example.com/x", 26, err, sizeof err),
                     TDM_EPERM);
    char big[TDM_SYNC_SOURCE_MAX + 2];
    memcpy(big, "https://films.example.org/", 26);
    memset(big + 26, 'a', sizeof big - 27);
    big[sizeof big - 1] = '\0';
    assert_int_equal(tdm_sync_source_check(s, big, TDM_SYNC_SOURCE_MAX, err, sizeof err), 0);
    assert_int_equal(tdm_sync_source_check(s, big, TDM_SYNC_SOURCE_MAX + 1, err, sizeof err),
                     TDM_EINVAL);
    tdm_sync_destroy(s);
}

static void create_refuses_bad_config(void **state)
{
    (void)state;
    struct tdm_sync_config cfg;
    struct tdm_sync *s = (struct tdm_sync *)1;
    char err[128];
    const char *bad_origins[][1] = {
        {"http://a.example"}, {"https://a.example/path"}, {"https://u@a.example"}, {""}};
    for (size_t i = 0; i < 4; i++) {
        tdm_sync_config_init(&cfg);
        cfg.allowed_origins = bad_origins[i];
        cfg.n_allowed_origins = 1;
        assert_int_equal(tdm_sync_create(&cfg, &s, err, sizeof err), TDM_EINVAL);
        assert_null(s);
    }
    tdm_sync_config_init(&cfg);
    cfg.min_lead_us = 2 * SEC;
    assert_int_equal(tdm_sync_create(&cfg, &s, err, sizeof err), TDM_EINVAL);
    tdm_sync_config_init(&cfg);
    cfg.max_wait_us = -1;
    assert_int_equal(tdm_sync_create(&cfg, &s, err, sizeof err), TDM_EINVAL);
}

static void nothing_before_load(void **state)
{
    (void)state;
    struct tdm_sync *s = mk(false);
    assert_int_equal(do_simple(s, TDM_SYNC_OP_PLAY, A, T0), TDM_EINVAL);
    assert_int_equal(do_simple(s, TDM_SYNC_OP_PAUSE, A, T0), TDM_EINVAL);
    assert_int_equal(do_seek(s, A, 3, T0), TDM_EINVAL);
    assert_int_equal(do_rate(s, A, 1.5, T0), TDM_EINVAL);
    assert_int_equal(do_flag(s, TDM_SYNC_OP_BUFFERING, A, true, T0), TDM_EINVAL);
    assert_int_equal(do_simple(s, (enum tdm_sync_op_kind)99, A, T0), TDM_EINVAL);
    assert_int_equal(do_simple(s, (enum tdm_sync_op_kind) - 1, A, T0), TDM_EINVAL);
    /* policy can be set before a film */
    assert_int_equal(do_flag(s, TDM_SYNC_OP_SET_WAIT_ALL, A, true, T0), 1);
    struct tdm_sync_state st = snap(s, T0);
    assert_false(st.loaded);
    assert_int_equal(st.seq, 1);
    assert_string_equal(st.source, "");
    tdm_sync_destroy(s);
}

static void play_pause_projection(void **state)
{
    (void)state;
    struct tdm_sync *s = mk(false);
    assert_int_equal(do_load(s, "media:film.mp4", T0), 1);
    struct tdm_sync_state st = snap(s, T0);
    assert_true(st.loaded);
    assert_string_equal(st.source, "media:film.mp4");
    assert_false(st.playing);
    assert_int_equal(st.time_us, T0 + 250000); /* default lead */
    assert_int_equal(st.seq, 1);
    assert_int_equal(st.cause, TDM_SYNC_CAUSE_LOAD);
    assert_string_equal(st.by, A);

    assert_int_equal(do_simple(s, TDM_SYNC_OP_PLAY, B, T0 + SEC), 1);
    st = snap(s, T0 + SEC);
    assert_true(st.playing);
    assert_int_equal(st.position_us, 0);
    assert_int_equal(st.time_us, T0 + SEC + 250000);
    assert_string_equal(st.by, B);
    /* before the effective time the pending state comes back as is */
    st = snap(s, T0 + SEC + 100000);
    assert_int_equal(st.time_us, T0 + SEC + 250000);
    assert_int_equal(st.position_us, 0);
    /* ten seconds after it took effect */
    st = snap(s, T0 + 11 * SEC + 250000);
    assert_int_equal(st.position_us, 10 * SEC);
    assert_int_equal(st.time_us, T0 + 11 * SEC + 250000);

    assert_int_equal(do_simple(s, TDM_SYNC_OP_PAUSE, A, T0 + 21 * SEC), 1);
    st = snap(s, T0 + 100 * SEC); /* late joiner much later: still paused there */
    assert_false(st.playing);
    assert_int_equal(st.position_us, 20 * SEC);
    assert_int_equal(st.seq, 3);
    /* accepted no-ops */
    assert_int_equal(do_simple(s, TDM_SYNC_OP_PAUSE, B, T0 + 101 * SEC), 0);
    assert_int_equal(snap(s, T0 + 101 * SEC).seq, 3);
    tdm_sync_destroy(s);
}

static void seek_keeps_play_state(void **state)
{
    (void)state;
    struct tdm_sync *s = mk(false);
    do_load(s, "media:film.mp4", T0);
    do_simple(s, TDM_SYNC_OP_PLAY, A, T0);
    assert_int_equal(do_seek(s, B, 600.5, T0 + 5 * SEC), 1);
    struct tdm_sync_state st = snap(s, T0 + 5 * SEC);
    assert_true(st.playing);
    assert_int_equal(st.position_us, 600500000);
    assert_int_equal(st.time_us, T0 + 5 * SEC + 250000);
    st = snap(s, T0 + 7 * SEC + 250000);
    assert_int_equal(st.position_us, 602500000);
    tdm_sync_destroy(s);
}

static void rate_change_while_playing(void **state)
{
    (void)state;
    struct tdm_sync *s = mk(false);
    do_load(s, "media:film.mp4", T0);
    do_simple(s, TDM_SYNC_OP_PLAY, A, T0);                  /* plays from T0+0.25 s */
    assert_int_equal(do_rate(s, B, 2.0, T0 + 10 * SEC), 1); /* effective T0+10.25 s */
    struct tdm_sync_state st = snap(s, T0 + 10 * SEC);
    assert_int_equal(st.position_us, 10 * SEC); /* 10 s at rate 1 up to the change */
    assert_true(st.rate == 2.0);
    st = snap(s, T0 + 15 * SEC + 250000);
    assert_int_equal(st.position_us, 20 * SEC); /* then 5 s at rate 2 */
    assert_int_equal(do_rate(s, B, 2.0, T0 + 16 * SEC), 0);
    assert_int_equal(do_rate(s, B, 0.5, T0 + 20 * SEC), 1);
    st = snap(s, T0 + 24 * SEC + 250000);
    assert_int_equal(st.position_us, 30 * SEC + 2 * SEC); /* 10 s at x2, then 4 s at x0.5 */
    /* rate while paused changes nothing but the rate */
    do_simple(s, TDM_SYNC_OP_PAUSE, A, T0 + 30 * SEC);
    int64_t p = snap(s, T0 + 31 * SEC).position_us;
    assert_int_equal(do_rate(s, A, 1.25, T0 + 31 * SEC), 1);
    assert_int_equal(snap(s, T0 + 40 * SEC).position_us, p);
    tdm_sync_destroy(s);
}

static void effective_at_clamped(void **state)
{
    (void)state;
    struct tdm_sync *s = mk(false);
    do_load(s, "media:film.mp4", T0);
    int64_t now = T0 + 10 * SEC;
    struct tdm_sync_op op = mkop(TDM_SYNC_OP_SEEK, A);
    op.has_at = true;
    op.at_ms = (double)(now + 500000) / 1000.0; /* inside the window: kept */
    op.position_s = 1;
    assert_int_equal(apply(s, op, now), 1);
    assert_int_equal(snap(s, now).time_us, now + 500000);
    now += 10 * SEC;
    op.at_ms = (double)(now + 3600 * SEC) / 1000.0; /* far future: max lead */
    assert_int_equal(apply(s, op, now), 1);
    assert_int_equal(snap(s, now).time_us, now + SEC);
    now += 10 * SEC;
    op.at_ms = (double)(now - 5 * SEC) / 1000.0; /* past: min lead */
    assert_int_equal(apply(s, op, now), 1);
    assert_int_equal(snap(s, now).time_us, now + 100000);
    op.at_ms = -1e300;
    assert_int_equal(apply(s, op, now), TDM_EINVAL);
    /* a pending state is never rewritten in its past: time_us does not go backwards */
    now += 10 * SEC;
    op.at_ms = (double)(now + SEC) / 1000.0;
    assert_int_equal(apply(s, op, now), 1);
    op.at_ms = (double)(now + 100000) / 1000.0;
    assert_int_equal(apply(s, op, now + 1000), 1);
    assert_int_equal(snap(s, now).time_us, now + SEC);
    tdm_sync_destroy(s);
}

static void conflicting_commands_last_wins(void **state)
{
    (void)state;
    struct tdm_sync *s = mk(false);
    do_load(s, "media:film.mp4", T0);
    do_simple(s, TDM_SYNC_OP_PLAY, A, T0);
    uint64_t seen = snap(s, T0).seq; /* both A and B saw this state */
    int64_t now = T0 + 60 * SEC;
    struct tdm_sync_op pa = mkop(TDM_SYNC_OP_PAUSE, A), sb = mkop(TDM_SYNC_OP_SEEK, B);
    pa.has_base_seq = sb.has_base_seq = true;
    pa.base_seq = sb.base_seq = seen;
    sb.position_s = 30;
    assert_int_equal(apply(s, pa, now), 1);
    /* B's seek is stale but does not contradict: rebased on the paused state, it wins */
    assert_int_equal(apply(s, sb, now + 10), 1);
    struct tdm_sync_state st = snap(s, now + 5 * SEC);
    assert_false(st.playing);
    assert_int_equal(st.position_us, 30 * SEC);
    assert_int_equal(st.seq, seen + 2);
    assert_string_equal(st.by, B);
    /* A stale play acts on the current position, not on what its sender saw */
    struct tdm_sync_op pb = mkop(TDM_SYNC_OP_PLAY, B);
    pb.has_base_seq = true;
    pb.base_seq = seen;
    assert_int_equal(apply(s, pb, now + 20), 1);
    st = snap(s, now + 20);
    assert_true(st.playing);
    assert_int_equal(st.position_us, 30 * SEC);
    /* two seeks at the same moment: the later arrival wins */
    assert_int_equal(do_seek(s, A, 100, now + 30), 1);
    assert_int_equal(do_seek(s, B, 200, now + 30), 1);
    assert_int_equal(snap(s, now + 30).position_us, 200 * SEC);
    tdm_sync_destroy(s);
}

static void stale_seq_rules(void **state)
{
    (void)state;
    struct tdm_sync *s = mk(false);
    do_load(s, "media:one.mp4", T0);
    uint64_t first = snap(s, T0).seq;
    do_simple(s, TDM_SYNC_OP_PLAY, A, T0);
    struct tdm_sync_op op = mkop(TDM_SYNC_OP_PAUSE, B);
    op.has_base_seq = true;
    op.base_seq = 999; /* from the future */
    assert_int_equal(apply(s, op, T0 + SEC), TDM_EINVAL);
    assert_int_equal(do_load(s, "media:two.mp4", T0 + 2 * SEC), 1);
    /* B paused while seeing film one: refused, it meant another film */
    op.base_seq = first + 1;
    char err[128];
    assert_int_equal(tdm_sync_apply(s, &op, T0 + 3 * SEC, err, sizeof err), TDM_ESTATE);
    assert_non_null(strstr(err, "seq"));
    /* a stale load is refused the same way */
    struct tdm_sync_op ld = mkop(TDM_SYNC_OP_LOAD, B);
    ld.source = "media:three.mp4";
    ld.source_len = strlen(ld.source);
    ld.has_base_seq = true;
    ld.base_seq = first;
    assert_int_equal(apply(s, ld, T0 + 3 * SEC), TDM_ESTATE);
    assert_string_equal(snap(s, T0 + 3 * SEC).source, "media:two.mp4");
    /* based on the current film's load seq: fine */
    op.base_seq = snap(s, T0).seq;
    op.kind = TDM_SYNC_OP_PLAY;
    assert_int_equal(apply(s, op, T0 + 4 * SEC), 1);
    tdm_sync_destroy(s);
}

static void control_restriction(void **state)
{
    (void)state;
    struct tdm_sync *s = mk(false);
    do_load(s, "media:film.mp4", T0);
    struct tdm_sync_op ctl = mkop(TDM_SYNC_OP_SET_CONTROL, A);
    ctl.flag = true;
    ctl.role = TDM_ROLE_MENTOR;
    assert_int_equal(apply(s, ctl, T0), TDM_EPERM);
    ctl.role = TDM_ROLE_COORDINATOR;
    assert_int_equal(apply(s, ctl, T0), 1);
    assert_int_equal(apply(s, ctl, T0), 0);
    assert_true(snap(s, T0).coordinators_only);
    assert_int_equal(snap(s, T0).cause, TDM_SYNC_CAUSE_CONTROL);
    uint64_t seq = snap(s, T0).seq;
    const enum tdm_sync_op_kind restricted[] = {TDM_SYNC_OP_PLAY, TDM_SYNC_OP_PAUSE,
                                                TDM_SYNC_OP_SEEK, TDM_SYNC_OP_RATE,
                                                TDM_SYNC_OP_LOAD, TDM_SYNC_OP_SET_WAIT_ALL};
    for (size_t i = 0; i < sizeof restricted / sizeof restricted[0]; i++) {
        struct tdm_sync_op op = mkop(restricted[i], B);
        op.role = TDM_ROLE_MENTOR;
        op.rate = 1.5;
        op.source = "media:x.mp4";
        op.source_len = 11;
        op.flag = true;
        assert_int_equal(apply(s, op, T0 + SEC), TDM_EPERM);
    }
    assert_int_equal(snap(s, T0).seq, seq);
    /* buffering reports are not control */
    assert_int_equal(do_flag(s, TDM_SYNC_OP_BUFFERING, B, true, T0 + SEC), 1);
    struct tdm_sync_op play = mkop(TDM_SYNC_OP_PLAY, C);
    play.role = TDM_ROLE_COORDINATOR;
    assert_int_equal(apply(s, play, T0 + SEC), 1);
    ctl.flag = false;
    assert_int_equal(apply(s, ctl, T0 + 2 * SEC), 1);
    assert_int_equal(do_simple(s, TDM_SYNC_OP_PAUSE, B, T0 + 3 * SEC), 1);
    tdm_sync_destroy(s);
}

static void wait_for_everyone(void **state)
{
    (void)state;
    struct tdm_sync *s = mk(true);
    do_load(s, "media:film.mp4", T0);
    do_simple(s, TDM_SYNC_OP_PLAY, A, T0); /* plays from T0+0.25 s */
    assert_int_equal(tdm_sync_next_deadline(s), INT64_MAX);
    int64_t now = T0 + 10 * SEC + 250000;
    assert_int_equal(do_flag(s, TDM_SYNC_OP_BUFFERING, B, true, now), 1);
    struct tdm_sync_state st = snap(s, now);
    assert_false(st.playing);
    assert_true(st.held);
    assert_int_equal(st.cause, TDM_SYNC_CAUSE_HOLD);
    assert_int_equal(st.position_us, 10 * SEC + 250000); /* pauses at its effective time */
    assert_int_equal(st.n_waiting, 1);
    assert_string_equal(tdm_sync_waiting_id(s, 0), B);
    assert_null(tdm_sync_waiting_id(s, 1));
    assert_int_equal(tdm_sync_next_deadline(s), now + 15 * SEC);
    /* a second report, and play while held, change nothing */
    assert_int_equal(do_flag(s, TDM_SYNC_OP_BUFFERING, B, true, now + SEC), 0);
    assert_int_equal(do_simple(s, TDM_SYNC_OP_PLAY, A, now + SEC), 0);
    assert_int_equal(do_flag(s, TDM_SYNC_OP_BUFFERING, C, true, now + SEC), 1);
    assert_int_equal(do_flag(s, TDM_SYNC_OP_BUFFERING, B, false, now + 2 * SEC), 1);
    assert_true(snap(s, now + 2 * SEC).held); /* C still waits */
    assert_int_equal(do_flag(s, TDM_SYNC_OP_BUFFERING, C, false, now + 3 * SEC), 1);
    st = snap(s, now + 3 * SEC);
    assert_true(st.playing);
    assert_false(st.held);
    assert_int_equal(st.cause, TDM_SYNC_CAUSE_RESUME);
    assert_int_equal(st.time_us, now + 3 * SEC + 250000);
    assert_int_equal(st.position_us, 10 * SEC + 250000); /* from where it was held */
    assert_int_equal(tdm_sync_next_deadline(s), INT64_MAX);
    tdm_sync_destroy(s);
}

static void wait_bounded_by_max_wait(void **state)
{
    (void)state;
    struct tdm_sync *s = mk(true);
    do_load(s, "media:film.mp4", T0);
    do_simple(s, TDM_SYNC_OP_PLAY, A, T0);
    int64_t now = T0 + 30 * SEC;
    struct tdm_sync_state st;
    /* max wait: resumes anyway, and the slow one no longer holds the room */
    assert_int_equal(do_flag(s, TDM_SYNC_OP_BUFFERING, C, true, now), 1);
    assert_true(snap(s, now).held);
    assert_int_equal(tdm_sync_tick(s, now + 15 * SEC - 1), 0);
    assert_int_equal(tdm_sync_tick(s, now + 15 * SEC), 1);
    st = snap(s, now + 15 * SEC);
    assert_true(st.playing);
    assert_int_equal(st.cause, TDM_SYNC_CAUSE_RESUME);
    assert_int_equal(st.n_waiting, 1); /* still shown as waiting */
    assert_int_equal(tdm_sync_tick(s, now + 16 * SEC), 0);
    assert_int_equal(do_flag(s, TDM_SYNC_OP_BUFFERING, C, true, now + 16 * SEC), 0);
    assert_true(snap(s, now + 16 * SEC).playing);
    /* ready, then waiting again: holds again */
    assert_int_equal(do_flag(s, TDM_SYNC_OP_BUFFERING, C, false, now + 17 * SEC), 1);
    assert_int_equal(do_flag(s, TDM_SYNC_OP_BUFFERING, C, true, now + 18 * SEC), 1);
    assert_true(snap(s, now + 18 * SEC).held);
    /* the waiting one leaves: the room goes on */
    assert_int_equal(tdm_sync_participant_left(s, B, now + 19 * SEC), 0);
    assert_int_equal(tdm_sync_participant_left(s, C, now + 19 * SEC), 1);
    st = snap(s, now + 19 * SEC);
    assert_true(st.playing);
    assert_int_equal(st.n_waiting, 0);
    /* pause while held drops the intent to play */
    do_flag(s, TDM_SYNC_OP_BUFFERING, B, true, now + 20 * SEC);
    assert_true(snap(s, now + 20 * SEC).held);
    assert_int_equal(do_simple(s, TDM_SYNC_OP_PAUSE, A, now + 21 * SEC), 1);
    assert_false(snap(s, now + 21 * SEC).held);
    assert_int_equal(do_flag(s, TDM_SYNC_OP_BUFFERING, B, false, now + 22 * SEC), 1);
    assert_false(snap(s, now + 22 * SEC).playing);
    tdm_sync_destroy(s);
}

static void play_waits_and_option_toggles(void **state)
{
    (void)state;
    struct tdm_sync *s = mk(false);
    do_load(s, "media:film.mp4", T0);
    do_flag(s, TDM_SYNC_OP_BUFFERING, B, true, T0 + SEC);
    /* without wait-for-everyone a buffering participant does not stop the room */
    assert_int_equal(do_simple(s, TDM_SYNC_OP_PLAY, A, T0 + SEC), 1);
    assert_true(snap(s, T0 + SEC).playing);
    /* turning the option on while someone waits holds the room */
    assert_int_equal(do_flag(s, TDM_SYNC_OP_SET_WAIT_ALL, A, true, T0 + 2 * SEC), 1);
    assert_true(snap(s, T0 + 2 * SEC).held);
    /* and turning it off resumes */
    assert_int_equal(do_flag(s, TDM_SYNC_OP_SET_WAIT_ALL, A, false, T0 + 3 * SEC), 1);
    assert_true(snap(s, T0 + 3 * SEC).playing);
    /* play from paused with wait-for-everyone and someone loading: held at once */
    do_simple(s, TDM_SYNC_OP_PAUSE, A, T0 + 4 * SEC);
    do_flag(s, TDM_SYNC_OP_SET_WAIT_ALL, A, true, T0 + 4 * SEC);
    assert_int_equal(do_simple(s, TDM_SYNC_OP_PLAY, A, T0 + 5 * SEC), 1);
    struct tdm_sync_state st = snap(s, T0 + 5 * SEC);
    assert_true(st.held);
    assert_false(st.playing);
    assert_int_equal(st.cause, TDM_SYNC_CAUSE_PLAY);
    /* a new film clears the waiting set and the hold */
    assert_int_equal(do_load(s, "media:other.mp4", T0 + 6 * SEC), 1);
    st = snap(s, T0 + 6 * SEC);
    assert_false(st.held);
    assert_int_equal(st.n_waiting, 0);
    assert_int_equal(tdm_sync_next_deadline(s), INT64_MAX);
    tdm_sync_destroy(s);
}

static void waiting_set_bounded(void **state)
{
    (void)state;
    struct tdm_sync *s = mk(false);
    do_load(s, "media:film.mp4", T0);
    char id[TDM_PARTICIPANT_ID_LEN + 1];
    for (int i = 0; i < TDM_SYNC_WAITING_MAX; i++) {
        snprintf(id, sizeof id, "p%d", i);
        assert_int_equal(do_flag(s, TDM_SYNC_OP_BUFFERING, id, true, T0), 1);
    }
    assert_int_equal(do_flag(s, TDM_SYNC_OP_BUFFERING, A, true, T0), TDM_EFULL);
    assert_int_equal(do_flag(s, TDM_SYNC_OP_BUFFERING, "p3", false, T0), 1);
    assert_int_equal(do_flag(s, TDM_SYNC_OP_BUFFERING, A, true, T0), 1);
    assert_int_equal(tdm_sync_waiting_count(s), TDM_SYNC_WAITING_MAX);
    tdm_sync_destroy(s);
}

static void bad_values(void **state)
{
    (void)state;
    struct tdm_sync *s = mk(false);
    do_load(s, "media:film.mp4", T0);
    uint64_t seq = snap(s, T0).seq;
    const double bad_pos[] = {NAN, INFINITY, -INFINITY, -0.001, -1, 86400.001, 1e300};
    for (size_t i = 0; i < sizeof bad_pos / sizeof bad_pos[0]; i++)
        assert_int_equal(do_seek(s, A, bad_pos[i], T0), TDM_EINVAL);
    assert_int_equal(do_seek(s, A, 86400, T0), 1);
    assert_int_equal(do_seek(s, A, 0, T0), 1);
    const double bad_rate[] = {NAN, INFINITY, 0, -1, 0.2499, 2.0001, 100};
    for (size_t i = 0; i < sizeof bad_rate / sizeof bad_rate[0]; i++)
        assert_int_equal(do_rate(s, A, bad_rate[i], T0), TDM_EINVAL);
    assert_int_equal(do_rate(s, A, 0.25, T0), 1);
    assert_int_equal(do_rate(s, A, 2.0, T0), 1);
    struct tdm_sync_op op = mkop(TDM_SYNC_OP_PLAY, A);
    op.has_at = true;
    op.at_ms = NAN;
    assert_int_equal(apply(s, op, T0), TDM_EINVAL);
    op.at_ms = INFINITY;
    assert_int_equal(apply(s, op, T0), TDM_EINVAL);
    op = mkop(TDM_SYNC_OP_PLAY, NULL);
    assert_int_equal(apply(s, op, T0), TDM_EINVAL);
    op.sender = "";
    assert_int_equal(apply(s, op, T0), TDM_EINVAL);
    op.sender = "AAAAAAAAAAAAAAAAAAAAAAA"; /* 23 bytes */
    assert_int_equal(apply(s, op, T0), TDM_EINVAL);
    op.sender = "bad id";
    assert_int_equal(apply(s, op, T0), TDM_EINVAL);
    op.sender = A;
    assert_int_equal(apply(s, op, -1), TDM_EINVAL);
    assert_int_equal(apply(s, op, INT64_MAX), TDM_EINVAL);
    struct tdm_sync_op ld = mkop(TDM_SYNC_OP_LOAD, A);
    assert_int_equal(apply(s, ld, T0), TDM_EINVAL); /* NULL source */
    assert_int_equal(snap(s, T0).seq, seq + 4);     /* only the four good ones counted */
    tdm_sync_destroy(s);
}

static void position_capped(void **state)
{
    (void)state;
    struct tdm_sync *s = mk(false);
    do_load(s, "media:film.mp4", T0);
    do_seek(s, A, 86399, T0);
    do_rate(s, A, 2.0, T0);
    do_simple(s, TDM_SYNC_OP_PLAY, A, T0);
    struct tdm_sync_state st = snap(s, T0 + 3600 * SEC);
    assert_int_equal(st.position_us, TDM_SYNC_POSITION_MAX_US);
    st = snap(s, TDM_SYNC_TIME_MAX);
    assert_int_equal(st.position_us, TDM_SYNC_POSITION_MAX_US);
    tdm_sync_destroy(s);
}

static void clock_sync(void **state)
{
    (void)state;
    struct tdm_sync_pong p;
    char err[64];
    assert_int_equal(tdm_sync_time_pong(5000.5, 20 * SEC, 20 * SEC + 30, &p, err, sizeof err), 0);
    assert_true(p.t1_ms == 5000.5);
    assert_true(p.t2_ms == 20000.0);
    assert_true(p.t3_ms == 20000.03);
    assert_int_equal(tdm_sync_time_pong(NAN, 0, 0, &p, err, sizeof err), TDM_EINVAL);
    assert_int_equal(tdm_sync_time_pong(1e300, 0, 0, &p, err, sizeof err), TDM_EINVAL);
    assert_int_equal(tdm_sync_time_pong(1, 10, 9, &p, err, sizeof err), TDM_EINVAL);
}

static void names(void **state)
{
    (void)state;
    assert_string_equal(tdm_sync_cause_name(TDM_SYNC_CAUSE_RESUME), "resume");
    assert_string_equal(tdm_sync_cause_name(TDM_SYNC_CAUSE_LEFT), "left");
    assert_string_equal(tdm_sync_cause_name((enum tdm_sync_cause)77), "none");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sources_validated),
        cmocka_unit_test(create_refuses_bad_config),
        cmocka_unit_test(nothing_before_load),
        cmocka_unit_test(play_pause_projection),
        cmocka_unit_test(seek_keeps_play_state),
        cmocka_unit_test(rate_change_while_playing),
        cmocka_unit_test(effective_at_clamped),
        cmocka_unit_test(conflicting_commands_last_wins),
        cmocka_unit_test(stale_seq_rules),
        cmocka_unit_test(control_restriction),
        cmocka_unit_test(wait_for_everyone),
        cmocka_unit_test(wait_bounded_by_max_wait),
        cmocka_unit_test(play_waits_and_option_toggles),
        cmocka_unit_test(waiting_set_bounded),
        cmocka_unit_test(bad_values),
        cmocka_unit_test(position_capped),
        cmocka_unit_test(clock_sync),
        cmocka_unit_test(names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
