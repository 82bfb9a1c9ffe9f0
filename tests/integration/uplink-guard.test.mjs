// web/js/uplink.mjs, checked in node with time handed in: a line too weak for the camera
// turns it off once ENTER_OF of the last LOOKS looks were weak (not on one bad look), or at
// HEAVY_LOOKS heavy ones in a row; the camera is tried again after a wait
// that doubles when a try fails soon and starts over when one holds, and the figures are read
// from a getStats()-shaped report (Chromium's candidate pair, anyone's remote-inbound-rtp).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  UplinkGuard, uplinkFigures, WEAK_BPS, WEAK_LOSS, LOOKS, ENTER_OF, TRY_FIRST_MS, TRY_MAX_MS, FAIL_MS,
  HEAVY_LOSS, HEAVY_LOOKS, SPAN,
} from '../../web/js/uplink.mjs';

const ENTER_MS = (ENTER_OF - 1) * 1000; // looks a second apart: the ENTER_OF-th weak one
const weak = { available: WEAK_BPS - 20000, loss: 0 };
const good = { available: 900000, loss: 0 };

/** Feeds one look a second from t to t + ms; returns [time, action] for every action. */
function run(g, figures, video, t, ms) {
  const acts = [];
  for (let now = t; now < t + ms; now += 1000) {
    const a = g.update(figures, typeof video === 'function' ? video() : video, now);
    if (a) acts.push([now - t, a]);
  }
  return acts;
}

test('a weak line turns the camera off at the ENTER_OF-th weak look, a good one never', () => {
  const g = new UplinkGuard();
  assert.deepEqual(run(g, good, true, 0, 60000), []);
  const acts = run(g, weak, true, 60000, 2 * ENTER_MS);
  assert.deepEqual(acts[0], [ENTER_MS, 'pause']);
  assert.equal(g.paused, true);
});

test('a bad look now and then (fewer than ENTER_OF in LOOKS) does nothing', () => {
  const g = new UplinkGuard();
  for (let i = 0; i < 30; i++) {
    assert.equal(g.update(i % 3 === 0 ? weak : good, true, i * 1000), null);
  }
});

test('voice loss alone (no estimate, as in Firefox) also counts', () => {
  const g = new UplinkGuard();
  const lossy = { available: null, loss: WEAK_LOSS + 0.05 };
  assert.ok(LOOKS >= ENTER_OF);
  assert.equal(run(g, lossy, true, 0, 2 * ENTER_MS)[0][1], 'pause');
  const unknown = new UplinkGuard();
  assert.deepEqual(run(unknown, { available: null, loss: null }, true, 0, 60000), []);
});

test('no camera sent: nothing to judge', () => {
  const g = new UplinkGuard();
  assert.deepEqual(run(g, weak, false, 0, 60000), []);
});

test('tries again after a wait that doubles while tries fail, and starts over when one holds', () => {
  const g = new UplinkGuard();
  let video = true;
  const waits = [];
  let t = 0;
  let pausedAt = 0;
  for (let round = 0; round < 6; round++) {
    for (;;) { // weak until it pauses
      const a = g.update(weak, video, t);
      t += 1000;
      if (a === 'pause') { video = false; pausedAt = t; break; }
    }
    for (;;) { // paused until it tries again
      const a = g.update(weak, video, t);
      t += 1000;
      if (a === 'resume') { video = true; waits.push(t - pausedAt); break; }
    }
  }
  assert.equal(waits[0], TRY_FIRST_MS);
  for (let i = 1; i < waits.length; i++) assert.equal(waits[i], Math.min(TRY_FIRST_MS * 2 ** i, TRY_MAX_MS));
  // The line recovers: the try holds past FAIL_MS; the next trouble waits the short time again.
  run(g, good, true, t, FAIL_MS + 5000);
  t += FAIL_MS + 5000;
  const acts = run(g, weak, () => !g.paused, t, ENTER_MS + TRY_FIRST_MS + 3000);
  assert.deepEqual(acts.map((a) => a[1]), ['pause', 'resume']);
  assert.equal(acts[1][0] - acts[0][0], TRY_FIRST_MS);
});

test('reset forgets a pause (the person pressed the camera button)', () => {
  const g = new UplinkGuard();
  run(g, weak, true, 0, 2 * ENTER_MS);
  assert.equal(g.paused, true);
  g.reset();
  assert.equal(g.paused, false);
  assert.equal(g.update(good, true, 20000), null);
});

test('heavy loss in the pictures\' reports (a line that carries a fraction of what is sent) turns it off at the second report', () => {
  const g = new UplinkGuard();
  const heavy = { available: null, loss: 0, pictureLoss: HEAVY_LOSS + 0.1 };
  const noNews = { available: null, loss: 0, pictureLoss: null }; // no new report since
  assert.ok(HEAVY_LOOKS < ENTER_OF);
  assert.equal(g.update(heavy, true, 0), null);
  assert.equal(g.update(noNews, true, 1000), null); // one report is not enough, however long
  assert.equal(g.update(heavy, true, 2000), 'pause');
  // a heavy report now and then, with good ones between: never
  const h = new UplinkGuard();
  const goodReport = { ...good, pictureLoss: 0.01 };
  for (let i = 0; i < 30; i++) assert.equal(h.update(i % 2 ? goodReport : heavy, true, i * 1000), null);
  // without the camera sent, nothing to judge
  const off = new UplinkGuard();
  for (let i = 0; i < 10; i++) assert.equal(off.update(heavy, false, i * 1000), null);
});

test('figures from a getStats report', () => {
  const report = new Map([
    ['a', { type: 'candidate-pair', nominated: false, state: 'succeeded', availableOutgoingBitrate: 5 }],
    ['b', { type: 'candidate-pair', nominated: true, state: 'succeeded', availableOutgoingBitrate: 81234 }],
    ['c', { type: 'remote-inbound-rtp', kind: 'audio', ssrc: 1, fractionLost: 0.12, packetsLost: 10 }],
    ['d', { type: 'remote-inbound-rtp', kind: 'video', ssrc: 2, fractionLost: 0.5, packetsLost: 500 }],
    ['e', { type: 'outbound-rtp', kind: 'audio', ssrc: 1, packetsSent: 1000 }],
  ]);
  const history = [];
  // the first look has nothing to count from
  assert.deepEqual(uplinkFigures(report, history), { available: 81234, loss: null, pictureLoss: null });
  assert.deepEqual(uplinkFigures(new Map()), { available: null, loss: null, pictureLoss: null });
  // the server's fractionLost (raised for its listeners' sake) is not this line's loss: the
  // count of lost packets against the packets sent is, of every stream sent and reported
  const look = (lost, sent, vlost = 0, vsent = 0) => new Map([
    ['c', { type: 'remote-inbound-rtp', kind: 'audio', ssrc: 1, fractionLost: 0.2, packetsLost: lost }],
    ['e', { type: 'outbound-rtp', kind: 'audio', ssrc: 1, packetsSent: sent }],
    ['v', { type: 'remote-inbound-rtp', kind: 'video', ssrc: 2, fractionLost: 0, packetsLost: vlost }],
    ['w', { type: 'outbound-rtp', kind: 'video', ssrc: 2, packetsSent: vsent }],
    ['x', { type: 'outbound-rtp', kind: 'video', ssrc: 3, packetsSent: vsent * 2 }], // not reported on: left out
  ]);
  assert.equal(uplinkFigures(look(10, 1010), history).loss, null); // too few packets yet
  assert.equal(uplinkFigures(look(12, 1100), history).loss, 0.02);
  // counted over the last SPAN looks only
  assert.equal(SPAN, 2);
  assert.equal(uplinkFigures(look(22, 1150), history).loss, (22 - 10) / (1150 - 1000));
  assert.equal(uplinkFigures(look(22, 1200), history).loss, (22 - 10) / (1200 - 1010));
  assert.equal(uplinkFigures(look(22, 1250), history).loss, (22 - 12) / (1250 - 1100));
  // the pictures' loss counts with the voice's
  const h2 = [];
  uplinkFigures(look(0, 1000, 0, 3000), h2);
  assert.equal(uplinkFigures(look(5, 1050, 395, 3450), h2).loss, 400 / 500);
  // the pictures' new reports, once each: the worst of the layers sent since their last one
  const h3 = [];
  const pics = (ts, a, b, sentA, sentB) => new Map([
    ['v1', { type: 'remote-inbound-rtp', kind: 'video', ssrc: 5, fractionLost: a, packetsLost: 0, timestamp: ts }],
    ['v2', { type: 'remote-inbound-rtp', kind: 'video', ssrc: 6, fractionLost: b, packetsLost: 0, timestamp: ts + 300 }],
    ['o1', { type: 'outbound-rtp', kind: 'video', ssrc: 5, packetsSent: sentA }],
    ['o2', { type: 'outbound-rtp', kind: 'video', ssrc: 6, packetsSent: sentB }],
  ]);
  assert.equal(uplinkFigures(pics(1000, 0, 0, 100, 1), h3).pictureLoss, null); // nothing to count from
  assert.equal(uplinkFigures(pics(2000, 0.25, 0.73, 200, 90), h3).pictureLoss, 0.73);
  assert.equal(uplinkFigures(pics(2000, 0.25, 0.73, 250, 150), h3).pictureLoss, null); // seen
  // a layer not sent (here the second) reports nothing lost: it does not count
  assert.equal(uplinkFigures(pics(3000, 0.4, 0, 300, 152), h3).pictureLoss, 0.4);
  // a new connection (its counts start again): nothing known until enough was sent
  assert.equal(uplinkFigures(look(0, 5), history).loss, null);
  assert.equal(uplinkFigures(look(3, 105), history).loss, 0.03);
});

test('reports between the looks count for the heavy rule only', () => {
  const g = new UplinkGuard();
  const between = { available: 1000, loss: 1, pictureLoss: 0, look: false }; // weak figures, not a look
  for (let i = 0; i < 10; i++) assert.equal(g.update(between, true, i * 300), null);
  const heavy = { available: null, loss: null, pictureLoss: HEAVY_LOSS + 0.3, look: false };
  assert.equal(g.update(heavy, true, 4000), null);
  assert.equal(g.update(heavy, true, 4600), 'pause');
  const h = [];
  const r = (ts, sent) => new Map([['v', { type: 'remote-inbound-rtp', kind: 'video', ssrc: 1, fractionLost: 0.5, packetsLost: 3, timestamp: ts }],
    ['o', { type: 'outbound-rtp', kind: 'video', ssrc: 1, packetsSent: sent }]]);
  uplinkFigures(r(7, 400), h, false);
  assert.deepEqual(uplinkFigures(r(8, 500), h, false), { available: null, loss: null, pictureLoss: 0.5 });
  assert.equal(h.length, 0); // the counts wait for the next look
});
