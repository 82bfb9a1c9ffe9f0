// The server's clock, as seen from this page (docs/protocol-sync-chat.md, "Clock sync"):
// NTP-style time.ping exchanges (RFC 5905 section 8): 5 on joining, 200 ms apart, then one
// every 20 s. Queueing only ever adds delay, so the sample with the lowest round trip of the
// last 8 gives the offset. Watch-together acts at server times through this offset.
//
// Local time is performance.timeOrigin + performance.now(): it does not step when the
// device's wall clock is corrected, unlike Date.now().

const DEFAULTS = { burst: 5, burstGapMs: 200, periodMs: 20000, keep: 8 };

/** Milliseconds on this page's steady clock (epoch-based, so it reads like Date.now()). */
export function localNow() {
  return performance.timeOrigin + performance.now();
}

/**
 * Events: 'change' (a better or newer estimate: detail {offset, rtt}).
 * Usage: const clock = new ServerClock(signaling); clock.start() after welcome.
 */
export class ServerClock extends EventTarget {
  #signaling;
  #opts;
  #samples = []; // {offset, rtt}, the last `keep`
  #best = null;
  #timers = [];
  #interval = 0;
  #pending = new Set(); // t1 of pings in flight

  constructor(signaling, opts = {}) {
    super();
    this.#signaling = signaling;
    this.#opts = { ...DEFAULTS, ...opts };
    signaling.addEventListener('message', this.#onMessage);
  }

  /** A first estimate from welcome's server_time (half a round trip off at worst), until
   *  the pongs come. */
  seed(serverTime) {
    if (this.#best || !Number.isFinite(serverTime)) return;
    this.#best = { offset: serverTime - localNow(), rtt: Infinity };
    this.#emit();
  }

  /** Starts the exchanges: a burst now, then one every periodMs. */
  start() {
    this.stop();
    for (let i = 0; i < this.#opts.burst; i++) {
      this.#timers.push(setTimeout(() => this.ping(), i * this.#opts.burstGapMs));
    }
    this.#interval = setInterval(() => this.ping(), this.#opts.periodMs);
  }

  stop() {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers = [];
    clearInterval(this.#interval);
    this.#interval = 0;
  }

  /** Sends one time.ping now. */
  ping() {
    const t1 = localNow();
    if (this.#signaling.send({ type: 'time.ping', t1 }) !== null) {
      this.#pending.add(t1);
      if (this.#pending.size > 32) this.#pending.delete(this.#pending.values().next().value);
    }
  }

  /** True once at least one estimate exists. */
  get ready() {
    return this.#best !== null;
  }

  /** Server clock minus local clock, in ms (0 before any estimate). */
  get offset() {
    return this.#best ? this.#best.offset : 0;
  }

  /** Round trip of the sample in use, in ms (Infinity for the welcome seed). */
  get rtt() {
    return this.#best ? this.#best.rtt : Infinity;
  }

  /** The server's time now, in ms. */
  serverNow() {
    return localNow() + this.offset;
  }

  /** Local steady-clock time (as localNow()) at which the server's clock reads serverMs. */
  toLocal(serverMs) {
    return serverMs - this.offset;
  }

  destroy() {
    this.stop();
    this.#signaling.removeEventListener('message', this.#onMessage);
  }

  #onMessage = (ev) => {
    const msg = ev.detail.msg;
    if (msg.type !== 'time.pong') return;
    const t4 = localNow();
    const { t1, t2, t3 } = msg;
    if (![t1, t2, t3].every(Number.isFinite) || !this.#pending.delete(t1)) return;
    const rtt = (t4 - t1) - (t3 - t2);
    if (rtt < 0) return;
    const offset = ((t2 - t1) + (t3 - t4)) / 2;
    this.#samples.push({ offset, rtt });
    if (this.#samples.length > this.#opts.keep) this.#samples.shift();
    this.#best = this.#samples.reduce((a, b) => (b.rtt < a.rtt ? b : a));
    this.#emit();
  };

  #emit() {
    this.dispatchEvent(new CustomEvent('change', { detail: { offset: this.offset, rtt: this.rtt } }));
  }
}
