// The WebSocket client of docs/protocol.md: one connection per page, JSON text frames,
// keep-alive pings, detection of a silent dead connection, and reconnection with bounded
// exponential backoff. It knows nothing of rooms: the page listens to its events.
//
// Events (CustomEvent, data in .detail):
//   open               the connection is up (send join, or resume, now)
//   message  {msg}     one server message (a parsed JSON object)
//   lost     {code, attempt, delayMs}  the connection dropped; a new try follows in delayMs
//   gaveup   {code}    the tries ran out; call retryNow() to start again
//   closed   {code}    the connection ended because the page asked for it (leave/close)

export const PROTOCOL = 'tandem.v1';
/** Close code of a connection given up as dead: the server keeps the participant for a
 *  resume (protocol.md "Resuming after a cut"); any other close is a goodbye. */
export const CLOSE_BACK_SOON = 4000;

const DEFAULTS = {
  baseDelayMs: 1000, // first retry after about 1 s, then 2, 4, 8, 16...
  maxDelayMs: 20000, // ...never more than 20 s apart...
  maxAttempts: 10, // ...about two and a half minutes in all, then ask the person.
  keepaliveS: 15, // protocol.md: until welcome says otherwise
  leaveGraceMs: 3000, // how long to wait for the server's close after leave
};

/** wss://<this host>/ws: the server that served the page. */
export function defaultUrl(loc = window.location) {
  return `${loc.protocol === 'http:' ? 'ws' : 'wss'}://${loc.host}/ws`;
}

export class Signaling extends EventTarget {
  #url;
  #opts;
  #ws = null;
  #nextId = 1;
  #attempt = 0;
  #retryTimer = 0;
  #pingTimer = 0;
  #leaveTimer = 0;
  #keepaliveMs;
  #lastRx = 0;
  #intentional = false;
  #waiting = false;

  constructor(url = defaultUrl(), opts = {}) {
    super();
    this.#url = url;
    this.#opts = { ...DEFAULTS, ...opts };
    this.#keepaliveMs = this.#opts.keepaliveS * 1000;
    document.addEventListener('visibilitychange', this.#onVisible);
    window.addEventListener('online', this.#onOnline);
  }

  get connected() {
    return this.#ws !== null && this.#ws.readyState === WebSocket.OPEN;
  }

  /** True while a new try is scheduled or the tries ran out. */
  get waiting() {
    return this.#waiting;
  }

  connect() {
    this.#intentional = false;
    this.#attempt = 0;
    this.#open();
  }

  /** Sends one message with a fresh id; returns the id, or null when not connected. */
  send(msg) {
    if (!this.connected) return null;
    const id = this.#nextId++;
    this.#ws.send(JSON.stringify({ ...msg, id }));
    return id;
  }

  /** The server the connection goes to (wss://host/ws). */
  get url() {
    return this.#url;
  }

  /** The next connection goes to url (nodes.mjs: another node holds the room, or the last
   *  one was lost). With now, the current connection is let go and the new one opens at
   *  once, as a fresh start (no try is counted). */
  moveTo(url, { now = false } = {}) {
    this.#url = url;
    if (!now || this.#intentional) return;
    const ws = this.#ws;
    this.#ws = null;
    this.#stopKeepalive();
    ws?.close();
    this.#cancelRetry();
    this.#open();
  }

  /** The connection works (the room said welcome): the next loss starts the backoff anew. */
  resetBackoff() {
    this.#attempt = 0;
  }

  /** Pings every `seconds` (the server's keepalive_s), within sane bounds. */
  setKeepalive(seconds) {
    if (!Number.isFinite(seconds) || seconds <= 0) return;
    this.#keepaliveMs = Math.min(Math.max(seconds * 1000, 2000), 60000);
    if (this.connected) this.#startKeepalive();
  }

  /** Try again at once (button "Try now", or the device came back online). */
  retryNow() {
    if (this.#intentional || this.#ws) return;
    this.#attempt = 0;
    this.#open();
  }

  /** Gives up the current connection as lost (e.g. a join got no answer) and retries; the
   *  page may then resume its session on the next one. */
  drop() {
    if (this.#intentional) return;
    const ws = this.#ws;
    this.#ws = null;
    this.#stopKeepalive();
    ws?.close(CLOSE_BACK_SOON);
    this.#lost(1006);
  }

  /** Says leave, then closes; no reconnection follows, and this object is done. */
  leave() {
    this.#finish();
    const ws = this.#ws;
    if (!ws) return;
    if (ws.readyState !== WebSocket.OPEN) {
      ws.close(1000);
      return;
    }
    ws.send(JSON.stringify({ type: 'leave' }));
    // The server closes with 1000 after leave; close ourselves if it does not.
    this.#leaveTimer = setTimeout(() => ws.close(1000), this.#opts.leaveGraceMs);
  }

  /** Closes without leave (the server tells the others "disconnect"); no reconnection,
   *  and this object is done. */
  close() {
    this.#finish();
    this.#ws?.close(1000);
  }

  #finish() {
    this.#intentional = true;
    this.#cancelRetry();
    document.removeEventListener('visibilitychange', this.#onVisible);
    window.removeEventListener('online', this.#onOnline);
  }

  #emit(type, detail = {}) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  #open() {
    this.#cancelRetry();
    let ws;
    try {
      ws = new WebSocket(this.#url, PROTOCOL);
    } catch {
      this.#lost(0);
      return;
    }
    this.#ws = ws;
    ws.addEventListener('open', () => {
      if (this.#ws !== ws) return;
      this.#lastRx = Date.now();
      this.#startKeepalive();
      this.#emit('open');
    });
    ws.addEventListener('message', (ev) => {
      if (this.#ws !== ws) return;
      this.#lastRx = Date.now();
      if (typeof ev.data !== 'string') return;
      let msg;
      try {
        msg = JSON.parse(ev.data);
      } catch {
        return;
      }
      if (msg && typeof msg === 'object' && typeof msg.type === 'string') {
        this.#emit('message', { msg });
      }
    });
    ws.addEventListener('close', (ev) => {
      if (this.#ws !== ws) return;
      this.#ws = null;
      this.#stopKeepalive();
      clearTimeout(this.#leaveTimer);
      if (this.#intentional) this.#emit('closed', { code: ev.code });
      else this.#lost(ev.code);
    });
  }

  #lost(code) {
    this.#attempt += 1;
    this.#waiting = true;
    if (this.#attempt > this.#opts.maxAttempts) {
      this.#emit('gaveup', { code });
      return;
    }
    const base = Math.min(this.#opts.maxDelayMs, this.#opts.baseDelayMs * 2 ** (this.#attempt - 1));
    // Jitter, so that a room full of people does not come back in the same millisecond.
    const delayMs = Math.round(base * (0.8 + Math.random() * 0.4));
    this.#emit('lost', { code, attempt: this.#attempt, delayMs });
    this.#retryTimer = setTimeout(() => this.#open(), delayMs);
  }

  #cancelRetry() {
    clearTimeout(this.#retryTimer);
    this.#retryTimer = 0;
    this.#waiting = false;
  }

  #startKeepalive() {
    this.#stopKeepalive();
    this.#pingTimer = setInterval(() => this.#tick(), this.#keepaliveMs);
  }

  #stopKeepalive() {
    clearInterval(this.#pingTimer);
    this.#pingTimer = 0;
  }

  // On a weak mobile link a connection can die without any close event for minutes: if two
  // pings in a row got no answer, give it up and build a new one.
  #tick() {
    if (!this.connected) return;
    if (Date.now() - this.#lastRx > 2 * this.#keepaliveMs + 5000) {
      this.drop();
      return;
    }
    this.send({ type: 'ping', t: Date.now() });
  }

  // Timers sleep in a hidden tab: check the connection as soon as the person looks again.
  #onVisible = () => {
    if (document.visibilityState === 'visible') this.#tick();
  };

  #onOnline = () => {
    if (this.#waiting) this.retryNow();
  };
}
