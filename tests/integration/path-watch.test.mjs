// web/js/pathwatch.mjs, checked in node with time handed in: a dead path under media is
// called dead within FAST_STALL_MS and a look; a quiet line, a short gap, someone else's
// media stopping (told or not, while the server's reports still come) are not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  PathWatch, received, WATCH_MS, FAST_STALL_MS, STALL_MS, BUSY_LOOKS,
} from '../../web/js/pathwatch.mjs';

/** A connection's counters: packets of `size` bytes every `every` ms while `live(t)`;
 *  more sources (the server's reports on the same connection) in `also`. */
function line(every, size = 200, also = []) {
  return { sources: [{ every, size, next: every, live: null }, ...also.map((a) => ({ ...a, next: a.every }))], packets: 0, bytes: 0 };
}
function advance(l, t, live) {
  for (const src of l.sources) {
    while (src.next <= t) {
      if ((src.live || live)(src.next)) {
        l.packets += 1;
        l.bytes += src.size;
      }
      src.next += src.every;
    }
  }
}

/** Looks at pub then sub every WATCH_MS from 0 to endMs; returns [time, why] of each call. */
function run({ sub, pub, subLive = () => true, pubLive = () => true, endMs, watch = new PathWatch(), at = {} }) {
  const calls = [];
  for (let t = WATCH_MS; t <= endMs; t += WATCH_MS) {
    at[t]?.(watch);
    for (const [label, l, live] of [['pub', pub, pubLive], ['sub', sub, subLive]]) {
      if (!l) continue;
      advance(l, t, live);
      const why = watch.look(label, { bytes: l.bytes, packets: l.packets }, t + (label === 'sub' ? 1 : 0));
      if (why) calls.push([t, why]);
    }
  }
  return calls;
}

const CUT = 10000;

test('media stop on both connections at once: dead within FAST_STALL_MS and a look', () => {
  for (const rtcp of [500, 900, 1500]) { // the server's reports on pub: 0.5 to 1.5 s apart
    const calls = run({
      sub: line(15), pub: line(rtcp, 80), subLive: (t) => t < CUT, pubLive: (t) => t < CUT, endMs: CUT + 5000,
    });
    assert.equal(calls.length, 1, JSON.stringify(calls));
    const after = calls[0][0] - CUT;
    assert.ok(after >= FAST_STALL_MS - WATCH_MS && after <= FAST_STALL_MS + WATCH_MS, `${after} ms (reports ${rtcp} ms apart)`);
    assert.match(calls[0][1], /nothing received on sub/);
  }
});

test('a page that receives only: its one connection is judged alone', () => {
  const calls = run({ sub: line(20), subLive: (t) => t < CUT, endMs: CUT + 3000 });
  assert.equal(calls.length, 1);
  assert.ok(calls[0][0] - CUT <= FAST_STALL_MS + WATCH_MS);
});

test('a quiet line never restarts: a DTX voice, the odd report, then nothing at all', () => {
  // 400 ms apart: some looks see nothing, so the line is neither busy nor steady
  assert.deepEqual(run({ sub: line(400, 60), pub: line(1000, 80), endMs: 60000 }), []);
  assert.deepEqual(run({
    sub: line(400, 60), pub: line(1000, 80), subLive: (t) => t < CUT, pubLive: (t) => t < CUT, endMs: CUT + 20000,
  }), []);
});

test('a short gap in busy media (under FAST_STALL_MS) is no dead path', () => {
  const gap = (t) => t < CUT || t > CUT + FAST_STALL_MS - 2 * WATCH_MS;
  assert.deepEqual(run({ sub: line(20), pub: line(1000, 80), subLive: gap, pubLive: gap, endMs: CUT + 10000 }), []);
});

test('someone else\'s media stop while the server\'s reports still come: no restart', () => {
  for (const [pubEvery, subEvery] of [[1000, 1500], [1400, 600], [600, 1400]]) {
    // the path lives on: the server's reports come on both connections (0.5 to 1.5 s apart)
    const reports = { every: subEvery, size: 70, live: () => true };
    const calls = run({
      sub: line(20, 200, [reports]), pub: line(pubEvery, 80), subLive: (t) => t < CUT + 120, endMs: CUT + 20000,
    });
    assert.deepEqual(calls, [], `reports ${pubEvery}/${subEvery} ms apart`);
  }
});

test('someone left or turned their devices off (the page is told): no restart', () => {
  const calls = run({
    sub: line(20), pub: line(1000, 80), subLive: (t) => t < CUT, pubLive: (t) => t < CUT, endMs: CUT + 2000,
    at: { [CUT + WATCH_MS]: (w) => w.calm() },
  });
  assert.deepEqual(calls, []);
  // and the path must be busy for BUSY_LOOKS looks again before a stop counts
  const w = new PathWatch();
  run({ sub: line(20), pub: line(1000, 80), endMs: 5000, watch: w });
  w.calm();
  const l = line(20);
  let why = null;
  for (let i = 1; i < BUSY_LOOKS; i++) {
    advance(l, i * WATCH_MS, () => true);
    why ||= w.look('sub', { bytes: l.bytes, packets: l.packets }, 5000 + i * WATCH_MS);
  }
  for (let t = BUSY_LOOKS * WATCH_MS; t < 4000; t += WATCH_MS) why ||= w.look('sub', { bytes: l.bytes, packets: l.packets }, 5000 + t);
  assert.equal(why, null);
});

test('a steady slow line that stops: dead after STALL_MS', () => {
  // 6 packets a second: under the busy rate, but something at every look
  const calls = run({ sub: line(160, 100), subLive: (t) => t < CUT, endMs: CUT + 5000 });
  assert.equal(calls.length, 1);
  assert.ok(calls[0][0] - CUT >= STALL_MS - WATCH_MS && calls[0][0] - CUT <= STALL_MS + 2 * WATCH_MS, `${calls[0][0] - CUT}`);
  assert.match(calls[0][1], /steady/);
});

test('after a call for a restart the watch starts over (no second call at once)', () => {
  const w = new PathWatch();
  const calls = run({ sub: line(20), pub: line(700, 80), subLive: (t) => t < CUT, pubLive: (t) => t < CUT, endMs: CUT + 6000, watch: w });
  assert.equal(calls.length, 1);
  assert.equal(w.carriesSince(CUT, ['pub', 'sub']), false);
});

test('figures from getStats: Chromium\'s transport, else Firefox\'s selected pair', () => {
  assert.deepEqual(received(new Map([
    ['t', { type: 'transport', bytesReceived: 1234, packetsReceived: 9 }],
    ['p', { type: 'candidate-pair', nominated: true, state: 'succeeded', bytesReceived: 99 }],
  ])), { bytes: 1234, packets: 9 });
  assert.deepEqual(received(new Map([
    ['p0', { type: 'candidate-pair', selected: false, bytesReceived: 5 }],
    ['p1', { type: 'candidate-pair', selected: true, bytesReceived: 77 }],
  ])), { bytes: 77, packets: -1 });
  assert.deepEqual(received(new Map()), { bytes: -1, packets: -1 });
});

test('the look in which the path dies sees a few packets only: still called dead in time', () => {
  // packets every 20 ms; the cut 5 ms after a look: the next look sees one packet or none
  for (const offset of [5, 60, 120, 200, 245]) {
    const cut = CUT + offset;
    const calls = run({ sub: line(20), pub: line(1000, 80), subLive: (t) => t < cut, pubLive: (t) => t < cut, endMs: CUT + 4000 });
    assert.equal(calls.length, 1, `cut +${offset}`);
    assert.ok(calls[0][0] - cut <= FAST_STALL_MS + 2 * WATCH_MS, `cut +${offset}: ${calls[0][0] - cut} ms`);
    assert.doesNotMatch(calls[0][1], /steady/);
  }
});
