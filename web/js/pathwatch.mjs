// Is this page's media path dead? (docs/architecture.md "Reconnection without leaving"). A
// path dies silently when Wi-Fi goes without an event or a NAT binding is lost, and the
// browser itself says "disconnected" only after 5 to 7 s; the page notices much sooner from
// what its connections receive (getStats, one look every quarter second or so), and calls
// for an ICE restart (call.mjs), which brings media back on a new path (issue 15: within 2 s).
//  - fast: a busy connection (it received at every look for BUSY_LOOKS looks, at BUSY_PPS
//    packets a second or more: media; a slower look right after those, as the one in
//    which it died, does not end that) that got nothing for FAST_STALL_MS, while no other
//    connection of the page got anything after it went quiet. The others' media pausing is
//    not a dead path: the server's reports keep coming on the other connection (every 0.5
//    to 1.5 s), a DTX voice still sends every 400 ms, and a change the page is told of
//    (someone left or turned a camera off: calm()) makes the path prove itself busy again;
//  - slow: a steady connection (bytes at every look for STEADY_LOOKS looks) that got
//    nothing for STALL_MS.
// A line that only ever carries the odd report (nobody sends, or a DTX voice alone) is
// never judged by its silence. What remains is a wrong restart when someone else's
// line dies silently (their media stop, our reports happen to be due late): it costs a
// round trip and moves no media, since the old pair keeps working until the new one is up.
// Pure: figures and time are handed in (tests/integration/path-watch.test.mjs).

export const WATCH_MS = 250;
export const BUSY_LOOKS = 4;
export const BUSY_PPS = 15;
export const BUSY_BYTES_PS = 2000; // without a packet count: a voice alone is 3-8 KB/s
export const FAST_STALL_MS = 800;
export const STEADY_LOOKS = 8;
export const STALL_MS = 2500;

/** What a connection received so far, from its getStats() report: {bytes, packets} of its
 *  transport (Chromium), else of its selected candidate pair (Firefox reports no
 *  transport); -1 for what is not known. */
export function received(report) {
  let transport = null;
  let pair = null;
  report.forEach((r) => {
    if (r.type === 'transport' && typeof r.bytesReceived === 'number') transport = r;
    else if (r.type === 'candidate-pair' && typeof r.bytesReceived === 'number' &&
      (r.selected === true || (r.nominated && r.state === 'succeeded'))) pair = r;
  });
  const from = transport || pair;
  if (!from) return { bytes: -1, packets: -1 };
  return { bytes: from.bytesReceived, packets: typeof from.packetsReceived === 'number' ? from.packetsReceived : -1 };
}

function fresh() {
  // bytes/packets: the counts at the last look; lookAt: its time; at: the last look that saw
  // more; after: the look before that one (what came, came after it); steady/busy: looks in
  // a row that saw more (busy: at media's rate)
  return { bytes: -1, packets: -1, lookAt: 0, at: 0, after: 0, grew: false, steady: 0, busy: 0, slow: 0 };
}

export class PathWatch {
  #rx = new Map();

  /** One look at connection `label`: got is received()'s figures, or null while the
   *  connection is not connected. Returns why its path seems dead (then restart ICE), or null. */
  look(label, got, now) {
    let rx = this.#rx.get(label);
    if (!rx) this.#rx.set(label, (rx = fresh()));
    if (!got || got.bytes < 0) {
      Object.assign(rx, fresh());
      return null;
    }
    const prevAt = rx.lookAt;
    rx.lookAt = now;
    if (rx.bytes < 0 || got.bytes < rx.bytes) { // the first look, or a new connection
      Object.assign(rx, { bytes: got.bytes, packets: got.packets, at: 0, after: 0, grew: false, steady: 0, busy: 0, slow: 0 });
      return null;
    }
    if (got.bytes !== rx.bytes) {
      const secs = Math.max(now - prevAt, 1) / 1000;
      const media = got.packets >= 0 && rx.packets >= 0
        ? (got.packets - rx.packets) / secs >= BUSY_PPS
        : (got.bytes - rx.bytes) / secs >= BUSY_BYTES_PS;
      // A slow look right after a busy one keeps the path busy: the look in which a path
      // dies sees only what came before. Any other (a DTX voice, a report after a quiet
      // look, a second slow one) ends it.
      const dying = !media && rx.grew && rx.slow === 0;
      rx.slow = media ? 0 : rx.slow + 1;
      rx.busy = media ? rx.busy + 1 : dying ? rx.busy : 0;
      rx.steady = rx.grew ? rx.steady + 1 : 0;
      Object.assign(rx, { grew: true, bytes: got.bytes, packets: got.packets, at: now, after: prevAt });
      return null;
    }
    rx.grew = false;
    const quiet = now - rx.at;
    // Nothing else came to this page after this connection went quiet.
    const alone = [...this.#rx.values()].every((o) => o === rx || o.bytes < 0 || o.after < rx.at);
    let why = null;
    if (rx.busy >= BUSY_LOOKS && quiet >= FAST_STALL_MS && alone) why = `nothing received on ${label} for ${quiet} ms`;
    else if (rx.steady >= STEADY_LOOKS && quiet >= STALL_MS) why = `nothing received on ${label} for ${quiet} ms (steady)`;
    if (why) this.reset();
    return why;
  }

  /** The others' media changed on purpose (someone left, turned a camera off): a path
   *  that goes quiet now is no dead path, so each must prove itself busy again. */
  calm() {
    for (const rx of this.#rx.values()) rx.busy = 0;
  }

  /** Forget everything (after a restart was called for, or a new pair). */
  reset() {
    this.#rx.clear();
  }

  /** Every one of these connections received something at a look after time t. */
  carriesSince(t, labels) {
    return labels.every((l) => (this.#rx.get(l)?.at ?? 0) > t && this.#rx.get(l).bytes >= 0);
  }
}
