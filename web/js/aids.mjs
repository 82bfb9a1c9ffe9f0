// The mentoring aids of a call (docs/protocol.md "Mentoring aids"):
// - raise hand: for group calls; shown on the person's tile to everyone; lowered by the
//   person, or by a coordinator;
// - conversation cards: either buddy puts a card on both screens (show and tell, open
//   questions, things to do together); anyone takes it away;
// - the next call: one proposes a day and time, another says yes or asks for another time;
//   once agreed, each page can save it as a calendar file (.ics, made here: the server keeps
//   nothing of it);
// - the check-in once the person has left: "Did the call work well for you?", counted per
//   room without a name (the server only counts).
//
// Usage: const aids = new Aids(ui, {t, send, wsUrl});
//   aids.reset(me, welcome) on welcome; aids.handle(msg) for every message (true: ours);
//   aids.render(people) after the tiles are drawn; aids.left() when the person has left.

import { PROTOCOL } from './signaling.mjs';

// Cards: their names on the wire ([a-z0-9-]) and their words.
export const CARDS = [
  { id: 'show-tell', title: 'cards.showTell.title', text: 'cards.showTell.text' },
  { id: 'q-calm', title: 'cards.question', text: 'cards.q.calm' },
  { id: 'q-learn', title: 'cards.question', text: 'cards.q.learn' },
  { id: 'q-meal', title: 'cards.question', text: 'cards.q.meal' },
  { id: 'q-weekend', title: 'cards.question', text: 'cards.q.weekend' },
  { id: 'q-good-at', title: 'cards.question', text: 'cards.q.goodAt' },
  { id: 'q-music', title: 'cards.question', text: 'cards.q.music' },
  { id: 'fun', title: 'cards.fun.title', text: 'cards.fun.text' },
];
const MINUTES = [15, 30, 45, 60, 90];
const CHECKIN_TIMEOUT_MS = 10000;
const CHECKIN_KEYS = { fine: 'aftercall.fine', some: 'aftercall.some', many: 'aftercall.many' };

function el(tag, props = {}, children = []) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'textContent' || k === 'className' || k === 'hidden' || k === 'type') e[k] = v;
    else e.setAttribute(k, v);
  }
  e.append(...children);
  return e;
}

/** An iCalendar line folded at 75 octets (RFC 5545 3.1). */
function fold(line) {
  const bytes = new TextEncoder().encode(line);
  if (bytes.length <= 75) return line;
  const out = [];
  let cur = '';
  let curLen = 0;
  for (const ch of line) {
    const n = new TextEncoder().encode(ch).length;
    if (curLen + n > (out.length ? 74 : 75)) {
      out.push(cur);
      cur = '';
      curLen = 0;
    }
    cur += ch;
    curLen += n;
  }
  out.push(cur);
  return out.join('\r\n ');
}

const icsText = (s) => s.replace(/[\\;,]/g, (c) => `\\${c}`).replace(/\r?\n/g, '\\n');
const icsTime = (ms) => new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');

/** The next call as an iCalendar file: UTC times, a title without names, the page's address
 *  (no invite token: the link stays where the person keeps it). */
export function makeIcs({ uid, atS, minutes, title, description, url, nowMs = Date.now() }) {
  const lines = [
    'BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//Tandem//Next call//EN', 'CALSCALE:GREGORIAN',
    'METHOD:PUBLISH', 'BEGIN:VEVENT', `UID:${uid}@tandem`, `DTSTAMP:${icsTime(nowMs)}`,
    `DTSTART:${icsTime(atS * 1000)}`, `DTEND:${icsTime((atS + minutes * 60) * 1000)}`,
    `SUMMARY:${icsText(title)}`, `DESCRIPTION:${icsText(description)}`, `URL:${url}`,
    'BEGIN:VALARM', 'ACTION:DISPLAY', `DESCRIPTION:${icsText(title)}`, 'TRIGGER:-PT15M', 'END:VALARM',
    'END:VEVENT', 'END:VCALENDAR',
  ];
  return `${lines.map(fold).join('\r\n')}\r\n`;
}

export class Aids {
  #ui;
  #t;
  #send;
  #wsUrl;
  #me = null;
  #names = new Map(); // participant id -> name
  #hands = new Set();
  #card = null; // {id, by}
  #plans = new Map(); // plan id -> {at, minutes, by, answer: null | {yes, by}}
  #checkin = null; // token from welcome
  #checkinState = 'none'; // none | ask | sending | thanks | failed
  #planError = '';

  /** ui: {handButton, handLabel, ideasButton, dialog, close, cards, planWhen, planMinutes,
   *  planPropose, planError, cardArea, planArea, list (the tiles), checkin}. */
  constructor(ui, { t, send, wsUrl, announce }) {
    this.#ui = ui;
    this.#t = t;
    this.#send = send;
    this.#wsUrl = wsUrl;
    this.announce = announce;
    ui.handButton.addEventListener('click', () => {
      if (!this.#me) return;
      this.#send({ type: this.#hands.has(this.#me.id) ? 'hand.lower' : 'hand.raise' });
    });
    ui.ideasButton.addEventListener('click', () => this.#openDialog());
    ui.close.addEventListener('click', () => this.#closeDialog());
    ui.dialog.addEventListener('cancel', (ev) => {
      ev.preventDefault();
      this.#closeDialog();
    });
    ui.planPropose.addEventListener('click', () => this.#propose());
    for (const m of MINUTES) ui.planMinutes.append(el('option', { value: String(m) }));
    ui.planMinutes.value = '30';
  }

  reset(me, welcome = {}) {
    // the same participant again (a resume after a cut): the card and the plans stay
    const same = Boolean(me && this.#me && me.id === this.#me.id);
    this.#me = me;
    this.#hands = new Set((welcome.participants || []).filter((p) => p.hand === true).map((p) => p.id));
    if (me && welcome.you?.hand === true) this.#hands.add(me.id);
    if (!same) {
      this.#card = null;
      this.#plans.clear();
    }
    if (typeof welcome.checkin === 'string') this.#checkin = welcome.checkin;
    this.#checkinState = 'none';
  }

  handle(msg) {
    switch (msg.type) {
      case 'hand': return this.#onHand(msg);
      case 'card':
        this.#card = typeof msg.card === 'string' && CARDS.some((c) => c.id === msg.card)
          ? { id: msg.card, by: msg.by } : null;
        this.#renderCard();
        return true;
      case 'plan':
        if (typeof msg.plan !== 'string' || !Number.isInteger(msg.at) || !Number.isInteger(msg.minutes)) return true;
        this.#plans.set(msg.plan, { at: msg.at, minutes: msg.minutes, by: msg.by, answer: null });
        if (msg.by !== this.#me?.id) this.announce(this.#planText(msg.plan));
        this.#renderPlans();
        return true;
      case 'plan.answer': {
        const p = this.#plans.get(msg.plan);
        if (p && msg.by !== p.by) p.answer = { yes: msg.yes === true, by: msg.by };
        this.#renderPlans();
        if (p) this.announce(this.#planText(msg.plan));
        return true;
      }
      case 'checkin.thanks':
        return true;
      default:
        return false;
    }
  }

  #onHand(msg) {
    if (typeof msg.participant !== 'string') return true;
    if (msg.raised === true) this.#hands.add(msg.participant);
    else this.#hands.delete(msg.participant);
    if (msg.raised === true && msg.participant !== this.#me?.id) {
      this.announce(this.#t('aids.hand.raised', { name: this.#name(msg.participant) }));
    }
    this.render();
    return true;
  }

  #name(id) {
    return `\u2068${this.#names.get(id) ?? '?'}\u2069`;
  }

  /** After every render of the tiles: hands on tiles, the hand button, card and plans. */
  render(people = null) {
    if (people) this.#names = new Map(people.map((p) => [p.id, p.name]));
    const t = this.#t;
    const mine = Boolean(this.#me && this.#hands.has(this.#me.id));
    this.#ui.handButton.setAttribute('aria-pressed', String(mine));
    // a hand is for group calls: two people just talk (a raised one can still be lowered)
    this.#ui.handButton.hidden = this.#names.size < 3 && !mine;
    this.#ui.handLabel.textContent = t(mine ? 'aids.hand.lower' : 'aids.hand.raise');
    const coordinator = this.#me?.role === 'coordinator';
    for (const li of this.#ui.list.querySelectorAll('.tile[data-participant-id]')) {
      const id = li.dataset.participantId;
      let badge = li.querySelector('.tile-hand');
      if (!this.#hands.has(id)) {
        badge?.remove();
        delete li.dataset.hand;
        continue;
      }
      li.dataset.hand = 'true';
      if (!badge) {
        const icon = this.#ui.handButton.querySelector('svg')?.cloneNode(true);
        icon?.setAttribute('width', '20');
        icon?.setAttribute('height', '20');
        badge = el('div', { className: 'tile-hand' }, [icon ?? '', el('span', { className: 'tile-hand-text' })]);
        li.append(badge);
      }
      badge.querySelector('.tile-hand-text').textContent = t('aids.hand.badge');
      let lower = badge.querySelector('button');
      const mayLower = coordinator && id !== this.#me?.id;
      if (mayLower && !lower) {
        lower = el('button', { type: 'button', className: 'button small' });
        lower.addEventListener('click', () => this.#send({ type: 'hand.lower', participant: id }));
        badge.append(lower);
      } else if (!mayLower && lower) {
        lower.remove();
        lower = null;
      }
      if (lower) lower.textContent = t('aids.hand.lowerFor', { name: this.#name(id) });
    }
    this.#renderCard();
    this.#renderPlans();
    this.#renderCheckin();
  }

  /* ---- the ideas dialog: cards and the next call ---- */

  #openDialog() {
    const { cards } = this.#ui;
    cards.replaceChildren(...CARDS.map((c) => {
      const b = el('button', { type: 'button', className: 'button card-choice', 'data-card': c.id });
      b.append(el('strong', { textContent: this.#t(c.title) }), el('span', { textContent: this.#t(c.text) }));
      b.addEventListener('click', () => {
        this.#send({ type: 'card.show', card: c.id });
        this.#closeDialog();
      });
      return b;
    }));
    const soon = new Date(Date.now() + 7 * 86400000);
    soon.setMinutes(0, 0, 0);
    const local = new Date(soon.getTime() - soon.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
    if (!this.#ui.planWhen.value) this.#ui.planWhen.value = local;
    this.#planError = '';
    this.#ui.planError.hidden = true;
    for (const o of this.#ui.planMinutes.options) o.textContent = this.#t('nextcall.minutes', { n: Number(o.value) });
    if (!this.#ui.dialog.open) this.#ui.dialog.showModal();
  }

  #closeDialog() {
    if (this.#ui.dialog.open) this.#ui.dialog.close();
    this.#ui.ideasButton.focus();
  }

  #propose() {
    const when = new Date(this.#ui.planWhen.value); // datetime-local: the device's time zone
    const atS = Math.floor(when.getTime() / 1000);
    if (!Number.isFinite(atS) || atS * 1000 < Date.now()) {
      this.#ui.planError.textContent = this.#t('nextcall.bad');
      this.#ui.planError.hidden = false;
      this.#ui.planWhen.focus();
      return;
    }
    this.#send({ type: 'plan.propose', at: atS, minutes: Number(this.#ui.planMinutes.value) });
    this.#closeDialog();
  }

  #renderCard() {
    const area = this.#ui.cardArea;
    const card = this.#card && CARDS.find((c) => c.id === this.#card.id);
    area.hidden = !card;
    if (!card) {
      area.replaceChildren();
      return;
    }
    const hide = el('button', { type: 'button', className: 'button' });
    hide.textContent = this.#t('aids.cardHide');
    hide.addEventListener('click', () => this.#send({ type: 'card.hide' }));
    area.replaceChildren(
      el('p', {
        className: 'card-by',
        textContent: this.#card.by === this.#me?.id
          ? this.#t('aids.cardByYou') : this.#t('aids.cardBy', { name: this.#name(this.#card.by) }),
      }),
      el('h2', { className: 'card-title', textContent: this.#t(card.title) }),
      el('p', { className: 'card-text', textContent: this.#t(card.text) }),
      hide,
    );
    area.dataset.card = card.id;
  }

  #when(p) {
    return new Intl.DateTimeFormat(document.documentElement.lang || undefined, {
      weekday: 'long', day: 'numeric', month: 'long', hour: '2-digit', minute: '2-digit',
    }).format(new Date(p.at * 1000));
  }

  #planText(id) {
    const p = this.#plans.get(id);
    const params = { name: this.#name(p.by), when: this.#when(p), minutes: p.minutes };
    if (p.answer?.yes) return this.#t('nextcall.agreed', params);
    if (p.answer?.by === this.#me?.id) return this.#t('nextcall.declinedYou');
    if (p.answer) return this.#t('nextcall.declined', { name: this.#name(p.answer.by) });
    return this.#t(p.by === this.#me?.id ? 'nextcall.mine' : 'nextcall.proposed', params);
  }

  #renderPlans() {
    const area = this.#ui.planArea;
    const items = [...this.#plans.entries()].slice(-2).map(([id, p]) => {
      const li = el('li', { className: 'plan', 'data-plan': id, 'data-state': p.answer ? (p.answer.yes ? 'agreed' : 'declined') : 'open' });
      li.append(el('p', { textContent: this.#planText(id) }));
      if (!p.answer && p.by !== this.#me?.id) {
        for (const yes of [true, false]) {
          const b = el('button', { type: 'button', className: yes ? 'button primary' : 'button' });
          b.textContent = this.#t(yes ? 'nextcall.yes' : 'nextcall.no');
          b.addEventListener('click', () => this.#send({ type: 'plan.answer', plan: id, yes }));
          li.append(b);
        }
      }
      if (p.answer?.yes) {
        const b = el('button', { type: 'button', className: 'button' });
        b.textContent = this.#t('nextcall.download');
        b.addEventListener('click', () => this.#download(id));
        li.append(b);
      }
      return li;
    });
    area.replaceChildren(...items);
    area.hidden = items.length === 0;
  }

  /** The agreed call as a file for the calendar (a Blob: nothing leaves the page). */
  #download(id) {
    const p = this.#plans.get(id);
    if (!p) return;
    const ics = makeIcs({
      uid: id, atS: p.at, minutes: p.minutes, title: this.#t('nextcall.icsTitle'),
      description: this.#t('nextcall.icsText'), url: `${location.origin}${location.pathname}`,
    });
    const url = URL.createObjectURL(new Blob([ics], { type: 'text/calendar' }));
    const a = el('a', { href: url, download: 'tandem-next-call.ics' });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
  }

  /* ---- the check-in, once the person has left ---- */

  left() {
    if (this.#checkin && this.#checkinState === 'none') this.#checkinState = 'ask';
    this.#me = null;
    this.#renderCheckin();
  }

  #renderCheckin() {
    const box = this.#ui.checkin;
    const t = this.#t;
    box.hidden = this.#checkinState === 'none';
    if (box.hidden) return;
    box.dataset.state = this.#checkinState;
    if (this.#checkinState === 'thanks' || this.#checkinState === 'failed') {
      box.replaceChildren(el('p', { role: 'status', textContent: t(this.#checkinState === 'thanks' ? 'aftercall.thanks' : 'aftercall.failed') }));
      return;
    }
    const buttons = Object.entries(CHECKIN_KEYS).map(([answer, key]) => {
      const b = el('button', { type: 'button', className: 'button' });
      b.textContent = t(key);
      b.disabled = this.#checkinState === 'sending';
      b.addEventListener('click', () => this.#answer(answer));
      return b;
    });
    box.replaceChildren(
      el('h2', { textContent: t('aftercall.question') }),
      el('div', { className: 'checkin-answers', role: 'group' }, buttons),
      el('p', { className: 'hint', textContent: t('aftercall.hint') }),
    );
  }

  /** One short WebSocket: the answer, the server's thanks, closed. */
  #answer(answer) {
    if (this.#checkinState !== 'ask') return;
    const token = this.#checkin;
    this.#checkin = null; // one answer per call
    this.#checkinState = 'sending';
    this.#renderCheckin();
    const done = (ok) => {
      clearTimeout(timer);
      this.#checkinState = ok ? 'thanks' : 'failed';
      this.#renderCheckin();
      try {
        ws.close(1000);
      } catch {
        // closed already
      }
    };
    let ws;
    const timer = setTimeout(() => done(false), CHECKIN_TIMEOUT_MS);
    try {
      ws = new WebSocket(this.#wsUrl, PROTOCOL);
    } catch {
      done(false);
      return;
    }
    ws.onopen = () => ws.send(JSON.stringify({ type: 'checkin', id: 'checkin', token, answer }));
    ws.onmessage = (ev) => {
      let msg = null;
      try {
        msg = JSON.parse(ev.data);
      } catch {
        return;
      }
      if (msg?.type === 'checkin.thanks') done(true);
      else if (msg?.type === 'error' && msg.ref === 'checkin') done(false);
    };
    ws.onerror = () => done(false);
  }
}
