/* The mentoring aids of a call (docs/protocol.md "Mentoring aids"): raise hand, conversation
 * cards on everyone's screen, the next call proposed and confirmed, and the check-in after the
 * call. The server relays and checks; it keeps a raised hand and the card on screen while the
 * room exists, the check-in counts per room (tandem/checkin.h), and nothing of the next call. */
#include "app.h"
#include "channels.h"
#include "metrics.h"
#include "signal.h"

#include "tandem/checkin.h"
#include "tandem/err.h"
#include "tandem/util.h"

#include <openssl/rand.h>
#include <string.h>

#define CARD_MAX 32
#define PLAN_ID_LEN 11               /* base64url of 8 random bytes */
#define PLAN_AHEAD_S (400LL * 86400) /* a date more than a year away is a typing slip */
#define PLAN_MINUTES_MIN 10
#define PLAN_MINUTES_MAX 240

static bool slug_ok(const char *s, size_t n)
{
    if (n == 0 || n > CARD_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
            return false;
    return true;
}

static void to_room(struct tdm_participant *p, json_t *msg)
{
    tdm_room_broadcast(p->room, NULL, msg);
}

/* ---- raise hand ---- */

static void hand_changed(struct tdm_participant *p, const struct tdm_participant *by)
{
    json_t *m = json_pack("{s:s, s:s, s:b}", "type", "hand", "participant", p->id, "raised",
                          p->hand_raised);
    if (m && by && by != p)
        json_object_set_new(m, "by", json_string(by->id));
    to_room(p, m);
}

void tdm_on_hand_raise(struct tdm_app *app, struct tdm_conn *c, json_t *msg, json_t *id,
                       struct tdm_proto_err *e)
{
    (void)app, (void)msg, (void)id, (void)e;
    struct tdm_participant *p = c->participant;
    if (p->hand_raised)
        return;
    p->hand_raised = true;
    hand_changed(p, p);
}

/* hand.lower {participant?}: one's own hand, or (a coordinator) anyone's. */
void tdm_on_hand_lower(struct tdm_app *app, struct tdm_conn *c, json_t *msg, json_t *id,
                       struct tdm_proto_err *e)
{
    (void)app, (void)id;
    struct tdm_participant *me = c->participant, *p = me;
    const char *pid = NULL;
    size_t n;
    if (!tdm_proto_string(msg, "participant", 1, TDM_PARTICIPANT_ID_LEN, false, &pid, &n, e))
        return;
    if (pid && strcmp(pid, me->id) != 0) {
        if (me->role != TDM_ROLE_COORDINATOR) {
            tdm_proto_set(e, "forbidden", NULL, "only a coordinator can lower another's hand");
            return;
        }
        p = tdm_room_find(me->room, pid);
        if (!p) {
            tdm_proto_set(e, "bad_field", "participant", "no such participant in this room");
            return;
        }
    }
    if (!p->hand_raised)
        return;
    p->hand_raised = false;
    hand_changed(p, me);
}

/* ---- conversation cards ---- */

static json_t *card_msg(const char *card, const char *by)
{
    return json_pack("{s:s, s:s?, s:s}", "type", "card", "card", card, "by", by);
}

/* card.show {card}: the card (a name from the pages' set, [a-z0-9-]) goes on every screen. */
void tdm_on_card_show(struct tdm_app *app, struct tdm_conn *c, json_t *msg, json_t *id,
                      struct tdm_proto_err *e)
{
    (void)app, (void)id;
    const char *card;
    size_t n;
    if (!tdm_proto_string(msg, "card", 1, CARD_MAX, true, &card, &n, e))
        return;
    if (!slug_ok(card, n) || strlen(card) != n) {
        tdm_proto_set(e, "bad_field", "card", "card: a card name (a-z, 0-9, -)");
        return;
    }
    struct tdm_channels *ch = tdm_channels_of(c->participant);
    if (ch)
        tdm_channels_set_card(ch, card, c->participant->id);
    to_room(c->participant, card_msg(card, c->participant->id));
}

void tdm_on_card_hide(struct tdm_app *app, struct tdm_conn *c, json_t *msg, json_t *id,
                      struct tdm_proto_err *e)
{
    (void)app, (void)msg, (void)id, (void)e;
    struct tdm_channels *ch = tdm_channels_of(c->participant);
    if (ch)
        tdm_channels_set_card(ch, NULL, NULL);
    to_room(c->participant, card_msg(NULL, c->participant->id));
}

/* ---- the next call (relayed, never kept) ---- */

/* plan.propose {at: Unix seconds, minutes}: from now to a year ahead, 10..240 minutes. */
void tdm_on_plan_propose(struct tdm_app *app, struct tdm_conn *c, json_t *msg, json_t *id,
                         struct tdm_proto_err *e)
{
    (void)app, (void)id;
    json_t *at = json_object_get(msg, "at"), *mins = json_object_get(msg, "minutes");
    int64_t now_s = tdm_proto_server_us() / 1000000;
    if (!json_is_integer(at) || json_integer_value(at) < now_s - 60 ||
        json_integer_value(at) > now_s + PLAN_AHEAD_S) {
        tdm_proto_set(e, "bad_field", "at", "at: a time from now to a year ahead (Unix seconds)");
        return;
    }
    if (!json_is_integer(mins) || json_integer_value(mins) < PLAN_MINUTES_MIN ||
        json_integer_value(mins) > PLAN_MINUTES_MAX) {
        tdm_proto_set(e, "bad_field", "minutes", "minutes: %d to %d", PLAN_MINUTES_MIN,
                      PLAN_MINUTES_MAX);
        return;
    }
    char plan[PLAN_ID_LEN + 1];
    if (tdm_random_id(plan, sizeof plan, 8) != 0) {
        tdm_proto_set(e, "internal", NULL, "no randomness");
        return;
    }
    to_room(c->participant, json_pack("{s:s, s:s, s:I, s:I, s:s}", "type", "plan", "plan", plan,
                                      "at", json_integer_value(at), "minutes",
                                      json_integer_value(mins), "by", c->participant->id));
}

/* plan.answer {plan, yes}: relayed to the room as it is (the pages know their proposals). */
void tdm_on_plan_answer(struct tdm_app *app, struct tdm_conn *c, json_t *msg, json_t *id,
                        struct tdm_proto_err *e)
{
    (void)app, (void)id;
    const char *plan;
    size_t n;
    if (!tdm_proto_string(msg, "plan", PLAN_ID_LEN, PLAN_ID_LEN, true, &plan, &n, e))
        return;
    uint8_t raw[8];
    if (tdm_b64url_decode(plan, n, raw, sizeof raw) != 8) {
        tdm_proto_set(e, "bad_field", "plan", "plan: the id of a proposal");
        return;
    }
    json_t *yes = json_object_get(msg, "yes");
    if (!json_is_boolean(yes)) {
        tdm_proto_set(e, "bad_field", "yes", "yes: true or false");
        return;
    }
    to_room(c->participant, json_pack("{s:s, s:s, s:b, s:s}", "type", "plan.answer", "plan", plan,
                                      "yes", json_is_true(yes), "by", c->participant->id));
}

/* ---- check-in ---- */

void tdm_aids_welcome(struct tdm_app *app, struct tdm_participant *p, json_t *welcome)
{
    uint8_t rnd[16];
    char tok[TDM_CHECKIN_TOKEN_LEN + 1];
    if (!app->checkin || !welcome || RAND_bytes(rnd, sizeof rnd) != 1 ||
        tdm_checkin_issue(app->checkin, tdm_room_id(p->room), rnd, tdm_now_us(), tok, sizeof tok) !=
            0)
        return;
    json_object_set_new(welcome, "checkin", json_string(tok));
}

void tdm_aids_joined(struct tdm_app *app, struct tdm_participant *p)
{
    (void)app;
    struct tdm_channels *ch = tdm_channels_of(p);
    const char *by = NULL;
    const char *card = ch ? tdm_channels_card(ch, &by) : NULL;
    if (card && p->user)
        tdm_conn_send(p->user, card_msg(card, by));
}

/* checkin {token, answer}: needs no join (the page asks once the person has left). */
void tdm_on_checkin(struct tdm_app *app, struct tdm_conn *c, json_t *msg, json_t *id,
                    struct tdm_proto_err *e)
{
    const char *tok, *ans;
    size_t tn, an;
    enum tdm_checkin_answer a;
    if (!tdm_proto_string(msg, "token", 1, 64, true, &tok, &tn, e) ||
        !tdm_proto_string(msg, "answer", 1, 8, true, &ans, &an, e))
        return;
    if (tdm_checkin_parse_answer(ans, &a) != 0) {
        tdm_proto_set(e, "bad_field", "answer", "answer: fine, some or many");
        return;
    }
    if (!app->checkin || tdm_checkin_answer(app->checkin, tok, tn, a, tdm_now_us()) != 0) {
        tdm_proto_set(e, "bad_field", "token", "this check-in was answered already or has expired");
        return;
    }
    tdm_mx_control.checkins[a]++;
    json_t *m = json_pack("{s:s}", "type", "checkin.thanks");
    if (m && id)
        json_object_set(m, "ref", id);
    tdm_conn_send(c, m);
}
