// End to end: real calls through the SFU. The server and several Debian Chromium browsers
// run inside a private network namespace (tests/lib/netns.mjs); each page runs the test
// client of tests/lib/callclient.mjs (the media protocol of docs/protocol.md). Asserted
// with getStats(): everyone decodes everyone else's video (framesDecoded > 0 and growing)
// and hears their audio (totalAudioEnergy and the samples played from what arrived grow:
// not the packets, which Opus DTX leaves out in the fake microphone's pauses), with 2, 3 and 4 people, and after one
// leaves and comes back. Figures (join to first remote frame, negotiated DTLS/SRTP) are
// printed as diagnostics. Every browser and the server are stopped by PID.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { insideNetns, runInNetns, setupNetns, SERVER_ADDR } from '../lib/netns.mjs';
import { startTandem, stopCleanly } from '../lib/tandem.mjs';
import { launchChromium } from '../lib/browsers.mjs';
import { pageJoin, pageLeave, pageStats } from '../lib/callclient.mjs';

const MEDIA_WAIT_MS = 30000; // bound on every wait for media
const ROOM = 'call-e2e-room';

if (!insideNetns()) {
  test('calls through the SFU (in a private network namespace)', { timeout: 580000 }, async () => {
    await runInNetns(import.meta.url, { timeoutMs: 560000 });
  });
} else {
  let server = null;
  const people = []; // { label, browser, id }

  before(async () => {
    setupNetns();
    server = await startTandem({ listen: SERVER_ADDR, args: ['--media-address', SERVER_ADDR] });
  }, { timeout: 60000 });

  after(async () => {
    await Promise.all(people.map((p) => p.browser.close().catch(() => {})));
    if (server) await server.stop();
  }, { timeout: 60000 });

  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  async function join(label) {
    const browser = await launchChromium(label);
    await browser.page.goto(`${server.url}/`);
    const id = await browser.page.evaluate(pageJoin, { wsUrl: server.wsUrl, room: ROOM, name: label });
    const person = { label, browser, id };
    people.push(person);
    return person;
  }

  const stats = (p) => p.browser.page.evaluate(pageStats);

  /** Waits (bounded) until p receives video and audio from every id in `from`, with the
   *  decoded frame count still growing; returns p's stats. */
  async function waitForMedia(p, from) {
    const deadline = Date.now() + MEDIA_WAIT_MS;
    let s = null;
    let ok = false;
    while (Date.now() < deadline) {
      s = await stats(p);
      ok = from.every((id) => {
        const r = s.remote[id];
        return r && r.framesDecoded > 0 && r.audioEnergy > 0 && r.heardSamples > 0;
      });
      if (ok) break;
      await sleep(250);
    }
    assert.ok(ok, `${p.label} does not receive everyone: ${JSON.stringify(s)}\nserver: ${server.stderr.slice(-3000)}`);
    const before = s;
    await sleep(1500);
    const later = await stats(p);
    for (const id of from) {
      assert.ok(later.remote[id].framesDecoded > before.remote[id].framesDecoded,
        `${p.label}: video from ${id} stopped: ${JSON.stringify(later.remote[id])}`);
      // 1.5 s or more passed: at least half a second of it played from what came, louder than nothing
      const heard = later.remote[id].heardSamples - before.remote[id].heardSamples;
      assert.ok(heard > 24000 && later.remote[id].audioEnergy > before.remote[id].audioEnergy,
        `${p.label}: audio from ${id} stopped (${heard} samples heard): ${JSON.stringify(later.remote[id])}`);
    }
    assert.deepEqual(later.errors, [], `${p.label}: errors ${JSON.stringify(later.errors)}`);
    return later;
  }

  function report(t, p, s) {
    const rx = Object.entries(s.remote).map(([id, r]) => `${people.find((q) => q.id === id)?.label ?? id.slice(0, 6)}: ` +
      `${r.framesDecoded} frames ${r.frameWidth}px ${r.fps ?? '-'} fps, audio energy ${r.audioEnergy?.toFixed(4)}, ` +
      `level ${r.audioLevel?.toFixed(3)}, nacks ${r.nacks ?? 0}, plis ${r.plis ?? 0}, lost ${r.videoLost ?? 0}`).join('; ');
    t.diagnostic(`${p.label} receives ${rx}`);
    const first = Object.entries(s.firstFrameMs).map(([id, ms]) => `${people.find((q) => q.id === id)?.label ?? '?'} ${ms} ms`);
    t.diagnostic(`${p.label} join to first remote frame: ${first.join(', ')}`);
    t.diagnostic(`${p.label} transports ${JSON.stringify(s.transport)}; sends ${JSON.stringify(s.sent)}`);
  }

  const others = (p) => people.filter((q) => q !== p && q.id).map((q) => q.id);

  test('two people see and hear each other', { timeout: 120000 }, async (t) => {
    const a = await join('amina');
    const b = await join('jan');
    for (const p of [a, b]) report(t, p, await waitForMedia(p, others(p)));
    const s = await stats(a);
    assert.equal(s.transport.pub.dtlsState, 'connected');
    assert.equal(s.transport.sub.dtlsState, 'connected');
  });

  test('three and four people each receive all others', { timeout: 180000 }, async (t) => {
    await join('sara');
    for (const p of people) await waitForMedia(p, others(p));
    await join('omar');
    for (const p of people) report(t, p, await waitForMedia(p, others(p)));
  });

  test('one leaves and comes back: media resumes', { timeout: 180000 }, async (t) => {
    const jan = people.find((p) => p.label === 'jan');
    const oldId = jan.id;
    await jan.browser.page.evaluate(pageLeave);
    jan.id = null;
    // The others stop receiving Jan: his m-sections go inactive and no frames arrive.
    for (const p of people.filter((q) => q !== jan)) {
      const deadline = Date.now() + MEDIA_WAIT_MS;
      let gone = false;
      while (!gone && Date.now() < deadline) {
        gone = await p.browser.page.evaluate((id) => !document.getElementById(`v-${id}`), oldId);
        if (!gone) await sleep(200);
      }
      assert.ok(gone, `${p.label} still shows Jan after he left`);
    }
    await jan.browser.page.goto(`${server.url}/`);
    jan.id = await jan.browser.page.evaluate(pageJoin, { wsUrl: server.wsUrl, room: ROOM, name: 'jan' });
    assert.notEqual(jan.id, oldId);
    for (const p of people) report(t, p, await waitForMedia(p, others(p)));
  });

  test('the server stops cleanly (exit 0, no sanitizer report)', { timeout: 60000 }, async (t) => {
    await Promise.all(people.map((p) => p.browser.close()));
    people.length = 0;
    const s = server;
    server = null;
    await stopCleanly(t, s);
  });
}
