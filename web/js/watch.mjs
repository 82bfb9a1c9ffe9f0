// Watch together (docs/protocol-sync-chat.md): one film, in step for everyone in the room.
// The server holds the state (film, playing or paused, position at a server time, speed)
// and sends it whole after every change; each page acts at the announced server time,
// through the clock offset that clock.mjs measures.
//
// Keeping in step: a page compares where its film is with where the state says it should
// be. Under 20 ms it does nothing; up to about a second it plays a few percent faster or
// slower (pitch kept) until it is back in step; past that it jumps.
//
// Usage: const panel = mountWatch(container, {signaling, t, me, room, participants, clock});
// mount before (or when) `welcome` arrives; panel.destroy() when leaving.
import { ServerClock } from './clock.mjs';

// Translation keys, in one table (every visible string is in web/i18n/*.json).
const K = {
  heading: 'watch.heading',
  empty: 'watch.empty',
  play: 'watch.play',
  pause: 'watch.pause',
  back: 'watch.back10',
  forward: 'watch.forward10',
  position: 'watch.position',
  speed: 'watch.speed',
  speedNormal: 'watch.speedNormal',
  soundOff: 'watch.soundOff',
  soundOn: 'watch.soundOn',
  fullscreen: 'watch.fullscreen',
  choose: 'watch.choose',
  library: 'watch.library',
  libraryEmpty: 'watch.libraryEmpty',
  show: 'watch.show',
  address: 'watch.address',
  addressHint: 'watch.addressHint',
  waitAll: 'watch.waitAll',
  waitAllHint: 'watch.waitAllHint',
  coordOnly: 'watch.coordOnly',
  onlyCoord: 'watch.onlyCoordinators',
  waitingFor: 'watch.waitingFor',
  heldFor: 'watch.heldFor',
  loading: 'watch.loading',
  byPlay: 'watch.byPlay',
  byPause: 'watch.byPause',
  bySeek: 'watch.bySeek',
  byRate: 'watch.byRate',
  byLoad: 'watch.byLoad',
  resumed: 'watch.resumed',
  someone: 'watch.someone',
  errForbidden: 'watch.errForbidden',
  errConflict: 'watch.errConflict',
  errSource: 'watch.errSource',
  errOrigin: 'watch.errOrigin',
  errAddress: 'watch.errAddress',
  errTooFast: 'watch.errTooFast',
  errPlayback: 'watch.errPlayback',
  errGeneric: 'watch.errGeneric',
  tapToPlay: 'watch.tapToPlay',
};

const CAUSE_KEYS = { play: K.byPlay, pause: K.byPause, seek: K.bySeek, rate: K.byRate, load: K.byLoad };
const SPEEDS = [0.75, 1, 1.25, 1.5];
const TICK_MS = 100;
const DEADBAND_S = 0.02; // leave alone: no one sees or hears 20 ms
const NUDGE_DONE_S = 0.008; // a nudge stops once this close (hysteresis)
const NUDGE_MAX = 0.05; // at most 5 % faster or slower
const NUDGE_HORIZON_S = 1; // aim to close a gap within about a second
const SEEK_S = 1; // past this, jump instead of nudging
const PAUSED_SLACK_S = 0.04;
const WAITING_REPORT_MS = 400;
const LATE_START_S = 0.1; // later than this, jumping ahead beats nudging
const JOIN_LEAD_S = 0.5; // joining a running film: jump this far ahead, then wait for it
const MAX_LEAD_S = 4;
const SETTLE_MS = 300; // no correction this soon after play() // a short stall is not worth telling everyone

function el(tag, props = {}, children = []) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'class') e.className = v;
    else if (k in e) e[k] = v;
    else e.setAttribute(k, v);
  }
  e.append(...children);
  return e;
}

/** "1:05" or "1:02:03" for seconds. */
export function formatTime(s) {
  if (!Number.isFinite(s) || s < 0) s = 0;
  const whole = Math.floor(s);
  const h = Math.floor(whole / 3600);
  const m = Math.floor((whole % 3600) / 60);
  const sec = String(whole % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}

/** Where the film should be at server time S under state st (seconds). */
export function targetPosition(st, S) {
  if (!st) return 0;
  const p = st.playing ? st.position + ((S - st.at) / 1000) * st.rate : st.position;
  return Math.max(0, p);
}

/** The playbackRate that closes a drift (seconds, positive = ahead) within about a second,
 *  bounded to a few percent so that nobody hears it. */
export function nudgedRate(rate, drift) {
  const delta = Math.max(-NUDGE_MAX, Math.min(NUDGE_MAX, drift / NUDGE_HORIZON_S));
  return rate * (1 - delta);
}

export function mountWatch(container, opts) {
  return new WatchPanel(container, opts);
}

export class WatchPanel {
  #o;
  #clock;
  #ownClock = false;
  #names = new Map();
  #state = null; // the newest sync.state
  #prev = null; // the state in effect until #state.at
  #loaded = null; // source the video element holds
  #access = null;
  #mediaFolder = false;
  #timer = 0;
  #atTimer = 0;
  #nudging = false;
  #mine = new Map(); // id of a request -> its type, for errors
  #waitingSince = 0;
  #reportedWaiting = false;
  #waitTimer = 0;
  #error = null;
  #dragging = false;
  #blocked = false; // autoplay refused until a tap
  #startTimer = 0;
  #joinLead = JOIN_LEAD_S; // how far ahead to jump, doubled while jumps land behind
  #jumped = false; // a jump ahead is under way (not yet started playing)
  #startLatency = 20; // ms from play() to a moving film, learnt (#learnLatency)
  #starting = null; // {calledAt, from} of the last play()
  #playCalledAt = -Infinity;
  ui = {};

  /**
   * opts: signaling (signaling.mjs), t (i18n), me {id, name, role}, room (id),
   * participants (array of {id, name, role}), clock (a ServerClock; made here if absent).
   */
  constructor(container, opts) {
    this.#o = opts;
    this.#clock = opts.clock || null;
    if (!this.#clock) {
      this.#clock = new ServerClock(opts.signaling);
      this.#ownClock = true;
    }
    for (const p of opts.participants || []) this.#names.set(p.id, p.name);
    if (opts.me) this.#names.set(opts.me.id, opts.me.name);
    this.#build(container);
    opts.signaling.addEventListener('message', this.#onMessage);
    this.#timer = setInterval(() => this.#tick(), TICK_MS);
    if (this.#ownClock && opts.signaling.connected) this.#clock.start();
    this.retranslate();
  }

  get video() {
    return this.ui.video;
  }

  get state() {
    return this.#state;
  }

  destroy() {
    clearInterval(this.#timer);
    clearTimeout(this.#atTimer);
    clearTimeout(this.#waitTimer);
    clearTimeout(this.#startTimer);
    this.#o.signaling.removeEventListener('message', this.#onMessage);
    if (this.#ownClock) this.#clock.destroy();
    this.ui.video.pause();
    this.ui.video.removeAttribute('src');
    this.ui.video.load();
    this.ui.root.remove();
  }

  // ---- the DOM ----

  #build(container) {
    const u = this.ui;
    u.heading = el('h2', { class: 'watch-heading', id: 'watch-heading' });
    u.video = el('video', { class: 'watch-video', playsInline: true, preload: 'auto' });
    u.video.disableRemotePlayback = true;
    u.video.preservesPitch = true;
    u.empty = el('p', { class: 'watch-empty' });
    u.stage = el('div', { class: 'watch-stage' }, [u.video, u.empty]);
    u.status = el('p', { class: 'watch-status', role: 'status', 'aria-live': 'polite' });
    u.start = el('button', { type: 'button', class: 'button primary big watch-start', hidden: true });
    u.error = el('p', { class: 'alert watch-error', role: 'alert', hidden: true });
    u.play = el('button', { type: 'button', class: 'button primary watch-play' });
    u.back = el('button', { type: 'button', class: 'button watch-skip' });
    u.forward = el('button', { type: 'button', class: 'button watch-skip' });
    u.seek = el('input', { type: 'range', class: 'watch-seek', min: '0', max: '0', step: '1', value: '0' });
    u.time = el('span', { class: 'watch-time', 'aria-hidden': 'true' });
    u.rate = el('select', { class: 'watch-rate' });
    u.mute = el('button', { type: 'button', class: 'button watch-mute' });
    u.full = el('button', { type: 'button', class: 'button watch-full' });
    u.controls = el('div', { class: 'watch-controls' }, [
      u.play, u.back, u.forward, el('div', { class: 'watch-seekbar' }, [u.seek, u.time]), u.rate, u.mute, u.full]);
    u.library = el('select', { class: 'watch-library', id: 'watch-library' });
    u.libraryLabel = el('label', { htmlFor: 'watch-library' });
    u.libraryShow = el('button', { type: 'button', class: 'button' });
    u.libraryField = el('div', { class: 'field' }, [u.libraryLabel, el('div', { class: 'watch-row' }, [u.library, u.libraryShow])]);
    u.address = el('input', { type: 'url', id: 'watch-address', inputMode: 'url', autocomplete: 'off', spellcheck: false });
    u.addressLabel = el('label', { htmlFor: 'watch-address' });
    u.addressHint = el('p', { class: 'hint', id: 'watch-address-hint' });
    u.address.setAttribute('aria-describedby', 'watch-address-hint');
    u.addressShow = el('button', { type: 'button', class: 'button' });
    u.addressField = el('div', { class: 'field' }, [u.addressLabel, u.addressHint, el('div', { class: 'watch-row' }, [u.address, u.addressShow])]);
    u.summary = el('summary');
    u.source = el('details', { class: 'watch-source' }, [u.summary, u.libraryField, u.addressField]);
    u.waitAll = el('input', { type: 'checkbox', id: 'watch-wait-all' });
    u.waitAllLabel = el('label', { htmlFor: 'watch-wait-all' });
    u.waitAllHint = el('p', { class: 'hint', id: 'watch-wait-all-hint' });
    u.waitAll.setAttribute('aria-describedby', 'watch-wait-all-hint');
    u.coordOnly = el('input', { type: 'checkbox', id: 'watch-coord-only' });
    u.coordOnlyLabel = el('label', { htmlFor: 'watch-coord-only' });
    u.coordOnlyBox = el('div', { class: 'check' }, [u.coordOnly, u.coordOnlyLabel]);
    u.options = el('div', { class: 'watch-options' }, [
      el('div', { class: 'check' }, [u.waitAll, u.waitAllLabel, u.waitAllHint]), u.coordOnlyBox]);
    u.root = el('section', { class: 'watch', 'aria-labelledby': 'watch-heading' },
      [u.heading, u.stage, u.start, u.status, u.error, u.controls, u.source, u.options]);
    container.append(u.root);
    this.#wire();
  }

  #wire() {
    const u = this.ui;
    u.play.addEventListener('click', () => this.#send({ type: this.#effective()?.playing ? 'sync.pause' : 'sync.play' }));
    u.back.addEventListener('click', () => this.#seekBy(-10));
    u.forward.addEventListener('click', () => this.#seekBy(10));
    u.seek.addEventListener('input', () => {
      this.#dragging = true;
      u.time.textContent = this.#timeText(Number(u.seek.value));
    });
    u.seek.addEventListener('change', () => {
      this.#dragging = false;
      this.#send({ type: 'sync.seek', position: Number(u.seek.value) });
    });
    u.rate.addEventListener('change', () => this.#send({ type: 'sync.rate', rate: Number(u.rate.value) }));
    u.mute.addEventListener('click', () => {
      u.video.muted = !u.video.muted;
      this.#render();
    });
    u.full.addEventListener('click', () => {
      if (document.fullscreenElement) document.exitFullscreen?.();
      else u.stage.requestFullscreen?.().catch(() => {});
    });
    u.libraryShow.addEventListener('click', () => {
      if (u.library.value) this.#send({ type: 'sync.load', source: `media:${u.library.value}` });
    });
    u.addressShow.addEventListener('click', () => this.#loadAddress());
    // The browser refused to start sound without a tap: this tap starts it here only.
    u.start.addEventListener('click', () => {
      this.#blocked = false;
      this.#tick();
    });
    u.address.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter') this.#loadAddress();
    });
    u.waitAll.addEventListener('change', () => this.#send({ type: 'sync.wait_all', enabled: u.waitAll.checked }));
    u.coordOnly.addEventListener('change', () => this.#send({ type: 'sync.control', coordinators_only: u.coordOnly.checked }));
    const v = u.video;
    v.addEventListener('waiting', () => this.#bufferingStarts());
    v.addEventListener('canplay', () => this.#bufferingEnds());
    v.addEventListener('playing', () => this.#bufferingEnds());
    v.addEventListener('loadedmetadata', () => this.#render());
    v.addEventListener('error', () => {
      if (this.#loaded) this.#showError(K.errPlayback);
    });
  }

  /** Sets every label again (after a change of language). */
  retranslate() {
    const { t } = this.#o;
    const u = this.ui;
    u.heading.textContent = t(K.heading);
    u.empty.textContent = t(K.empty);
    u.back.textContent = t(K.back);
    u.forward.textContent = t(K.forward);
    u.seek.setAttribute('aria-label', t(K.position));
    u.rate.setAttribute('aria-label', t(K.speed));
    u.rate.replaceChildren(...SPEEDS.map((s) => el('option', {
      value: String(s), textContent: s === 1 ? t(K.speedNormal) : `${s}×`,
    })));
    u.full.textContent = t(K.fullscreen);
    u.summary.textContent = t(K.choose);
    u.libraryLabel.textContent = t(K.library);
    u.libraryShow.textContent = t(K.show);
    u.addressLabel.textContent = t(K.address);
    u.addressHint.textContent = t(K.addressHint);
    u.addressShow.textContent = t(K.show);
    u.waitAllLabel.textContent = t(K.waitAll);
    u.waitAllHint.textContent = t(K.waitAllHint);
    u.coordOnlyLabel.textContent = t(K.coordOnly);
    if (u.library.options.length === 1 && !u.library.options[0].value) {
      u.library.options[0].textContent = t(K.libraryEmpty);
    }
    this.#render();
  }

  // ---- messages ----

  #onMessage = (ev) => {
    const msg = ev.detail.msg;
    switch (msg.type) {
      case 'welcome':
        this.#o.me = msg.you;
        this.#o.room = msg.room?.id;
        this.#names.set(msg.you.id, msg.you.name);
        for (const p of msg.participants || []) this.#names.set(p.id, p.name);
        this.#state = null;
        this.#prev = null;
        if (this.#ownClock) {
          this.#clock.seed(msg.server_time);
          this.#clock.start();
        }
        break;
      case 'joined':
        this.#names.set(msg.participant.id, msg.participant.name);
        break;
      case 'sync.state':
        this.#onState(msg);
        break;
      case 'error':
        if (this.#mine.has(msg.ref)) this.#onError(msg);
        break;
      default:
        if (msg.ref !== undefined) this.#mine.delete(msg.ref);
    }
  };

  #onState(st) {
    if (st.ref !== undefined) this.#mine.delete(st.ref);
    if (typeof st.access === 'string') {
      this.#access = st.access;
      this.#mediaFolder = st.media === true;
      this.#fetchLibrary();
    }
    if (this.#state && st.seq < this.#state.seq) return; // an older state: a newer one holds
    if (this.#state && st.seq === this.#state.seq && st.access === undefined) return;
    // The state in effect until the new one's time: the newest whose time has come.
    const now = this.#clock.serverNow();
    if (this.#state && this.#state.at <= now) this.#prev = this.#state;
    this.#state = st;
    if (st.seq > 0) this.#error = null;
    // The controls show the newest state at once (they must not fight the person's hand
    // every tick, so they are set here only).
    this.ui.waitAll.checked = Boolean(st.wait_for_all);
    this.ui.coordOnly.checked = Boolean(st.coordinators_only);
    this.ui.rate.value = String(SPEEDS.includes(st.rate) ? st.rate : 1);
    if (st.source !== this.#loaded) this.#load(st.source);
    clearTimeout(this.#atTimer);
    clearTimeout(this.#startTimer);
    this.#startTimer = 0;
    const wait = st.at - now - (st.playing ? this.#startLatency : 0);
    if (wait > 0) this.#atTimer = setTimeout(() => this.#tick(), wait);
    this.#tick();
  }

  #onError(msg) {
    const type = this.#mine.get(msg.ref);
    this.#mine.delete(msg.ref);
    let key = K.errGeneric;
    if (msg.code === 'forbidden') key = msg.field === 'source' ? K.errOrigin : K.errForbidden;
    else if (msg.code === 'conflict') key = K.errConflict;
    else if (msg.code === 'rate_limited') key = K.errTooFast;
    else if (msg.code === 'bad_field' && (msg.field === 'source' || type === 'sync.load')) key = K.errSource;
    this.#showError(key);
  }

  #showError(key) {
    this.#error = key;
    this.#render();
  }

  #send(msg) {
    if (this.#state?.seq !== undefined && msg.type !== 'sync.buffering') msg.seq = this.#state.seq;
    const id = this.#o.signaling.send(msg);
    if (id !== null && msg.type !== 'sync.buffering') this.#mine.set(id, msg.type);
    if (this.#mine.size > 64) this.#mine.delete(this.#mine.keys().next().value);
    this.#error = null;
    return id;
  }

  #seekBy(ds) {
    const st = this.#effective();
    if (!st) return;
    let p = targetPosition(st, this.#clock.serverNow()) + ds;
    const d = this.ui.video.duration;
    if (Number.isFinite(d)) p = Math.min(p, Math.max(0, d - 0.5));
    this.#send({ type: 'sync.seek', position: Math.max(0, p) });
  }

  #loadAddress() {
    const text = this.ui.address.value.trim();
    let url;
    try {
      url = new URL(text);
    } catch {
      url = null;
    }
    if (!url || url.protocol !== 'https:' || url.username || url.password) {
      this.#showError(K.errAddress);
      return;
    }
    this.#send({ type: 'sync.load', source: url.href });
  }

  // ---- the film ----

  #srcOf(source) {
    if (source.startsWith('media:')) {
      const q = new URLSearchParams({ room: this.#o.room || '', access: this.#access || '' });
      return `/media/${encodeURIComponent(source.slice(6))}?${q}`;
    }
    return source;
  }

  #load(source) {
    const v = this.ui.video;
    this.#loaded = source;
    this.#nudging = false;
    if (!source) {
      v.pause();
      v.removeAttribute('src');
      v.load();
    } else {
      v.src = this.#srcOf(source);
      v.load();
      // Until it can play, this page holds up a room that waits for everyone.
      this.#bufferingStarts(true);
    }
    this.#render();
  }

  async #fetchLibrary() {
    const u = this.ui;
    if (!this.#mediaFolder || !this.#access) {
      u.libraryField.hidden = true;
      return;
    }
    try {
      const q = new URLSearchParams({ room: this.#o.room || '', access: this.#access });
      const res = await fetch(`/media/?${q}`, { credentials: 'same-origin', cache: 'no-store' });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const { files } = await res.json();
      const opts = files.map((f) => el('option', { value: f.name, textContent: f.name, dir: 'auto' }));
      if (!opts.length) opts.push(el('option', { value: '', textContent: this.#o.t(K.libraryEmpty) }));
      u.library.replaceChildren(...opts);
      u.libraryField.hidden = false;
    } catch {
      u.libraryField.hidden = true;
    }
  }

  /** The state to follow now: the newest, once its time has come; before, the one it
   *  replaces. A start is taken a little early, by the time this browser needs to get a
   *  film going, so that the picture moves at the effective time itself. */
  #effective() {
    const st = this.#state;
    if (!st) return null;
    const early = st.playing && !this.#prev?.playing ? this.#startLatency : 0;
    return st.at - early <= this.#clock.serverNow() || !this.#prev ? st : this.#prev;
  }

  #tick() {
    const st = this.#effective();
    const v = this.ui.video;
    if (st && st.source && this.#loaded === st.source && v.readyState >= 1 && !v.seeking) {
      this.#follow(st, v);
    }
    this.#render();
  }

  #follow(st, v) {
    const S = this.#clock.serverNow();
    let target = targetPosition(st, S);
    const d = v.duration;
    if (Number.isFinite(d) && target >= d) target = d;
    const next = this.#state;
    if (!st.playing || (Number.isFinite(d) && target >= d)) {
      if (!v.paused) v.pause();
      // A play is coming: be at its position already, so that it starts at once.
      const want = next !== st && next.playing ? next.position : target;
      if (Math.abs(v.currentTime - want) > PAUSED_SLACK_S) v.currentTime = want;
      v.playbackRate = st.rate;
      this.#nudging = false;
      return;
    }
    if (v.paused) {
      this.#startAt(st, v, st.position + ((S - st.at) / 1000) * st.rate);
      return;
    }
    this.#learnLatency(v);
    // A film that has just been started is left alone for a moment: its media clock is
    // still settling, and changing its rate then makes some browsers stumble.
    if (performance.now() - this.#playCalledAt < SETTLE_MS) return;
    const drift = v.currentTime - target;
    const abs = Math.abs(drift);
    if (abs > SEEK_S) {
      // Far off (a jump while playing, a long stall): stop, jump a little ahead, and start
      // again when the room's film gets there (#startAt), rather than lag by the seek time.
      v.pause();
      this.#jumped = true;
      v.currentTime = target + this.#joinLead * st.rate;
      this.#nudging = false;
    } else if (abs > DEADBAND_S || (this.#nudging && abs > NUDGE_DONE_S)) {
      this.#nudging = true;
      // in steps of 1 %: a rate that changes every tick makes the audio stumble
      const r = Math.round(nudgedRate(st.rate, drift) * 100) / 100;
      if (v.playbackRate !== r) v.playbackRate = r;
    } else {
      this.#nudging = false;
      if (v.playbackRate !== st.rate) v.playbackRate = st.rate;
    }
  }

  /** Starts a paused film that should be playing; `target` is where the room's film is now
   *  (before a start: less than the position, by the time still to wait). When the film
   *  waits at a point the room has not reached, play() is called when the room gets there,
   *  less this browser's start-up time. Otherwise (joining a running film, after a jump) a
   *  seek and play() would leave it behind by however long those took: so it jumps a little
   *  ahead and waits there. */
  #startAt(st, v, target) {
    v.playbackRate = st.rate;
    if (this.#blocked || this.#startTimer) return;
    const ahead = v.currentTime - target; // seconds of film until the room is here
    const waitMs = (ahead / st.rate) * 1000 - this.#startLatency;
    if (ahead > -LATE_START_S && waitMs <= 5) {
      this.#play(v); // on time, or a little late: the nudge closes that
    } else if (ahead > 0 && ahead < MAX_LEAD_S * 2 && v.readyState >= 3) {
      // the jump landed ahead with time to spare: the lead may shrink again
      if (ahead > this.#joinLead / 2) this.#joinLead = Math.max(JOIN_LEAD_S, this.#joinLead * 0.75);
      this.#startTimer = setTimeout(() => {
        this.#startTimer = 0;
        const now = this.#effective();
        if (now?.playing && v.paused && !v.seeking) this.#play(v);
        else this.#tick();
      }, waitMs);
    } else if (ahead <= 0 || ahead >= MAX_LEAD_S * 2) {
      // Landed behind: the jump took longer than the lead (a slow network or device), so
      // the next one aims further ahead.
      if (ahead <= 0 && this.#jumped) this.#joinLead = Math.min(MAX_LEAD_S, this.#joinLead * 2);
      this.#jumped = true;
      v.currentTime = Math.max(0, target) + this.#joinLead * st.rate;
    }
  }

  /** Learns how long this browser takes from play() to a moving film (the media clock
   *  starts late by that much), from the first ticks after a start. */
  #learnLatency(v) {
    const m = this.#starting;
    if (!m || v.currentTime - m.from < 0.05) return;
    this.#starting = null;
    const moved = ((v.currentTime - m.from) / v.playbackRate) * 1000;
    const sample = performance.now() - moved - m.calledAt;
    if (sample < 0 || sample > 500) return;
    this.#startLatency = Math.min(250, 0.7 * this.#startLatency + 0.3 * sample);
  }

  #play(v) {
    this.#jumped = false;
    this.#playCalledAt = performance.now();
    this.#starting = { calledAt: this.#playCalledAt, from: v.currentTime };
    v.play().catch((err) => {
      if (err?.name === 'NotAllowedError') this.#blocked = true;
    });
  }

  // ---- buffering reports ----

  #bufferingStarts(now = false) {
    if (this.#reportedWaiting || this.#waitTimer || !this.#loaded) return;
    const report = () => {
      this.#waitTimer = 0;
      const v = this.ui.video;
      if (v.readyState >= 3 || !this.#state?.source) return; // it recovered meanwhile
      this.#reportedWaiting = true;
      this.#send({ type: 'sync.buffering', waiting: true });
    };
    if (now) report();
    else this.#waitTimer = setTimeout(report, WAITING_REPORT_MS);
  }

  #bufferingEnds() {
    clearTimeout(this.#waitTimer);
    this.#waitTimer = 0;
    if (!this.#reportedWaiting) return;
    this.#reportedWaiting = false;
    this.#send({ type: 'sync.buffering', waiting: false });
  }

  // ---- drawing ----

  #name(id) {
    return this.#names.get(id) || this.#o.t(K.someone);
  }

  #timeText(pos) {
    const d = this.ui.video.duration;
    return Number.isFinite(d) ? `${formatTime(pos)} / ${formatTime(d)}` : formatTime(pos);
  }

  #statusText(st) {
    const { t } = this.#o;
    if (!st || !st.source) return '';
    const others = (st.waiting || []).filter((id) => id !== this.#o.me?.id).map((id) => this.#name(id));
    if (st.held && others.length) return t(K.heldFor, { names: others.join(', ') });
    if (st.held || (st.waiting || []).includes(this.#o.me?.id)) return t(K.loading);
    if (others.length) return t(K.waitingFor, { names: others.join(', ') });
    if (st.cause === 'resume') return t(K.resumed);
    const key = CAUSE_KEYS[st.cause];
    if (!key || !st.by) return '';
    return t(key, { name: this.#name(st.by), time: formatTime(st.position) });
  }

  #render() {
    const { t } = this.#o;
    const u = this.ui;
    const st = this.#effective();
    const newest = this.#state;
    const loaded = Boolean(newest?.source);
    const me = this.#o.me;
    const mayControl = !newest?.coordinators_only || me?.role === 'coordinator';
    const playing = Boolean(st?.playing) || Boolean(newest?.held);
    u.empty.hidden = loaded;
    u.video.hidden = !loaded;
    u.play.textContent = playing ? t(K.pause) : t(K.play);
    for (const b of [u.play, u.back, u.forward, u.seek, u.rate]) b.disabled = !loaded || !mayControl;
    u.source.hidden = !mayControl;
    u.waitAll.disabled = !mayControl;
    u.coordOnlyBox.hidden = me?.role !== 'coordinator';
    u.mute.textContent = u.video.muted ? t(K.soundOn) : t(K.soundOff);
    const d = u.video.duration;
    u.seek.max = String(Number.isFinite(d) ? Math.floor(d) : 0);
    if (!this.#dragging) {
      const pos = st ? Math.min(targetPosition(st, this.#clock.serverNow()), Number.isFinite(d) ? d : Infinity) : 0;
      u.seek.value = String(Math.floor(pos));
      u.seek.setAttribute('aria-valuetext', formatTime(pos));
      u.time.textContent = this.#timeText(pos);
    }
    const status = !mayControl && loaded
      ? [this.#statusText(newest), t(K.onlyCoord)].filter(Boolean).join(' ')
      : this.#statusText(newest);
    if (u.status.textContent !== status) u.status.textContent = status;
    u.start.hidden = !this.#blocked;
    u.start.textContent = t(K.tapToPlay);
    u.error.hidden = !this.#error;
    if (this.#error) u.error.textContent = t(this.#error);
  }
}
