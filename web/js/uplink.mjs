// A person whose own line cannot carry their camera (docs/architecture.md "Automatic audio
// only"): the page stops sending video before the voice suffers, says so, and tries the
// camera again by itself later. The browser's own estimate of what its "pub" connection can
// send (getStats: the selected candidate pair's availableOutgoingBitrate) and the loss the
// server reports for what this page sends (remote-inbound-rtp packetsLost against the packets
// sent, voice and pictures together, over the last SPAN looks) decide:
//  - weak: the estimate below WEAK_BPS (a voice and the lowest picture need about that), or
//    more than WEAK_LOSS lost, in ENTER_OF of the last LOOKS looks (about one a second: a
//    policed line's loss comes and goes with its bursts);
//  - or heavy: the server's reports on the pictures (their fractionLost, of the last report
//    interval, 0.5-1.5 s) say more than HEAVY_LOSS lost in HEAVY_LOOKS new reports in a row:
//    a line that carries a fraction of what is sent, where the voice starts to lose too, so
//    there is no time to wait. (The cumulative counts tell little of pictures: resent packets
//    count as received, so they showed 34 lost of 900 sent while the reports said 73-77 %.)
//  - then the camera stays off for a wait (TRY_FIRST_MS, doubling up to TRY_MAX_MS after each
//    try that failed within FAIL_MS), and is tried again: with video off the browser has
//    nothing to measure the line with, so only a try can tell that it recovered.
// A browser that reports neither figure (Firefox has no availableOutgoingBitrate) is judged by
// the loss alone. The person can always turn the camera back on themself.

export const WEAK_BPS = 150000;
export const WEAK_LOSS = 0.05;
export const HEAVY_LOSS = 0.2;
export const HEAVY_LOOKS = 2; // new reports, each of its own interval
export const LOOKS = 5;
export const ENTER_OF = 3;
export const TRY_FIRST_MS = 15000;
export const TRY_MAX_MS = 120000;
export const FAIL_MS = 20000;

export const SPAN = 2; // looks the loss is counted over (reports come 0.5-1.5 s apart)
const MIN_SENT = 20; // packets: fewer tell nothing
const PICTURE_MIN_SENT = 10; // packets of a layer between two of its reports

/** Reads the figures the guard needs from a getStats() report of the "pub" connection.
 *  history: an array the caller keeps between looks (the counts of the last looks); counts:
 *  false between those looks (the pictures' newest report only; loss is then null).
 *  Counted: every stream sent (voice, picture, each simulcast layer): a policed line drops
 *  the large picture packets most, and they are many, so their loss shows first. Not the
 *  reports' fractionLost: the server raises that figure for a voice to what the people who
 *  hear it lose on their own lines (so that the browser adds Opus in-band FEC), while the
 *  cumulative count of lost packets stays this line's own. */
export function uplinkFigures(report, history = [], counts = true) {
  let available = null;
  let lost = null;
  let pictureLoss = null;
  const sentBy = new Map(); // ssrc -> packets sent (a report block exists for each)
  const lostBy = new Map();
  const pictures = [];
  report.forEach((r) => {
    if (r.type === 'candidate-pair' && r.nominated && r.state === 'succeeded' &&
      typeof r.availableOutgoingBitrate === 'number') available = r.availableOutgoingBitrate;
    if (r.type === 'remote-inbound-rtp' && typeof r.packetsLost === 'number') lostBy.set(r.ssrc, r.packetsLost);
    if (r.type === 'outbound-rtp' && typeof r.packetsSent === 'number') sentBy.set(r.ssrc, r.packetsSent);
    if (r.type === 'remote-inbound-rtp' && r.kind === 'video' && typeof r.fractionLost === 'number' &&
      typeof r.timestamp === 'number') pictures.push(r);
  });
  // The pictures' new reports (one per layer, each at its own time): the worst of the layers
  // that sent something since their last report (a layer not sent reports nothing lost).
  history.pictures ||= new Map();
  for (const r of pictures) {
    const last = history.pictures.get(r.ssrc);
    const sentNow = sentBy.get(r.ssrc) ?? 0;
    if (last && last.at === r.timestamp) continue;
    history.pictures.set(r.ssrc, { at: r.timestamp, sent: sentNow });
    if (!last || sentNow - last.sent < PICTURE_MIN_SENT) continue;
    pictureLoss = Math.max(pictureLoss ?? 0, r.fractionLost);
  }
  if (history.pictures.size > 16) history.pictures.clear(); // layers come and go with new connections
  // Only streams the server reports on: a picture not yet reported would count as all received.
  let sent = null;
  for (const [ssrc, n] of lostBy) {
    if (!sentBy.has(ssrc)) continue;
    lost = (lost ?? 0) + n;
    sent = (sent ?? 0) + sentBy.get(ssrc);
  }
  let loss = null;
  if (counts && lost !== null && sent !== null) {
    const first = history[0];
    if (first && sent - first.sent >= MIN_SENT) {
      loss = Math.min(1, Math.max(0, (lost - first.lost) / (sent - first.sent)));
    }
    // a new connection, or a stream gone (camera off): count from here
    if (first && (sent < first.sent || lost < first.lost)) history.length = 0;
    history.push({ lost, sent });
    while (history.length > SPAN + 1) history.shift();
  }
  return { available, loss, pictureLoss };
}

/** The decision, from one look at the figures every second or so. Pure: time is handed in. */
export class UplinkGuard {
  paused = false; // the camera is off because of the line
  #looks = []; // the last LOOKS verdicts (true: weak)
  #heavy = 0; // heavy looks in a row
  #tryAt = 0;
  #wait = TRY_FIRST_MS;
  #resumedAt = 0;

  /** figures: {available, loss, pictureLoss, look} (null: not known, or no new report;
   *  look: false for a new report between the looks a second apart, which only the heavy
   *  rule reads); video: the camera is being sent. Returns 'pause', 'resume' or null. */
  update({ available, loss, pictureLoss = null, look = true }, video, now) {
    if (this.paused) {
      if (now < this.#tryAt) return null;
      this.paused = false;
      this.#resumedAt = now;
      this.#looks = [];
      this.#heavy = 0;
      return 'resume';
    }
    const weak = video && ((available !== null && available < WEAK_BPS) ||
      (loss !== null && loss > WEAK_LOSS));
    if (look) this.#looks.push(Boolean(weak));
    if (this.#looks.length > LOOKS) this.#looks.shift();
    if (!video) this.#heavy = 0;
    else if (pictureLoss !== null) this.#heavy = pictureLoss > HEAVY_LOSS ? this.#heavy + 1 : 0;
    if (look && !weak && this.#resumedAt && now - this.#resumedAt > FAIL_MS) {
      this.#resumedAt = 0;
      this.#wait = TRY_FIRST_MS; // it held: the next trouble starts from the short wait
    }
    if (this.#looks.filter(Boolean).length < ENTER_OF && this.#heavy < HEAVY_LOOKS) return null;
    // A try that failed soon: wait longer before the next.
    if (this.#resumedAt && now - this.#resumedAt <= FAIL_MS) this.#wait = Math.min(this.#wait * 2, TRY_MAX_MS);
    this.#resumedAt = 0;
    this.paused = true;
    this.#looks = [];
    this.#heavy = 0;
    this.#tryAt = now + this.#wait;
    return 'pause';
  }

  /** The person chose themself (camera button): the guard forgets its state. */
  reset() {
    this.paused = false;
    this.#looks = [];
    this.#heavy = 0;
    this.#resumedAt = 0;
    this.#wait = TRY_FIRST_MS;
  }
}
