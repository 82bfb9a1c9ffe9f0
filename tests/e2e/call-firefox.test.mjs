// End to end: a two-party call between Firefox ESR (puppeteer-core over WebDriver BiDi) and
// Chromium (playwright-core) through the SFU, inside a private network namespace
// (tests/lib/netns.mjs). Each side must decode the other's video and hear its audio. Also
// reports what each browser negotiated with our DTLS 1.2 server (getStats where the browser
// has transport stats, and the server's own log line per connection).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { insideNetns, runInNetns, setupNetns, SERVER_ADDR } from '../lib/netns.mjs';
import { startTandem, stopCleanly } from '../lib/tandem.mjs';
import { launchChromium, launchFirefox } from '../lib/browsers.mjs';
import { pageJoin, pageStats } from '../lib/callclient.mjs';

const MEDIA_WAIT_MS = 40000;
const ROOM = 'call-firefox-room';

if (!insideNetns()) {
  test('Firefox and Chromium call through the SFU (in a private network namespace)',
    { timeout: 400000 }, async () => {
      await runInNetns(import.meta.url, { timeoutMs: 380000 });
    });
} else {
  let server = null;
  const people = [];
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  before(async () => {
    setupNetns();
    server = await startTandem({ listen: SERVER_ADDR, args: ['--media-address', SERVER_ADDR] });
  }, { timeout: 60000 });

  after(async () => {
    await Promise.all(people.map((p) => p.browser.close().catch(() => {})));
    if (server) await server.stop();
  }, { timeout: 60000 });

  async function join(label, launch) {
    const browser = await launch(label);
    await browser.page.goto(`${server.url}/`);
    const id = await browser.page.evaluate(pageJoin, { wsUrl: server.wsUrl, room: ROOM, name: label });
    const p = { label, browser, id };
    people.push(p);
    return p;
  }

  async function waitForMedia(p, fromId) {
    const deadline = Date.now() + MEDIA_WAIT_MS;
    let s = null;
    while (Date.now() < deadline) {
      s = await p.browser.page.evaluate(pageStats);
      const r = s.remote[fromId];
      if (r && r.framesDecoded > 0 && r.heardSamples > 0 && r.audioEnergy > 0) break;
      await sleep(300);
    }
    const r = s?.remote[fromId];
    assert.ok(r && r.framesDecoded > 0 && r.heardSamples > 0 && r.audioEnergy > 0,
      `${p.label} does not receive: ${JSON.stringify(s)}\nserver: ${server.stderr.slice(-3000)}`);
    await sleep(1500);
    const later = await p.browser.page.evaluate(pageStats);
    assert.ok(later.remote[fromId].framesDecoded > r.framesDecoded, `${p.label}: video stopped`);
    // what is heard, not packets (Opus DTX leaves them out in a microphone's pauses)
    const heard = later.remote[fromId].heardSamples - r.heardSamples;
    assert.ok(heard > 24000 && later.remote[fromId].audioEnergy > r.audioEnergy,
      `${p.label}: the voice stopped (${heard} samples heard in 1.5 s): ${JSON.stringify(later.remote[fromId])}`);
    assert.deepEqual(later.errors, []);
    return later;
  }

  test('Firefox and Chromium see and hear each other', { timeout: 240000 }, async (t) => {
    const fx = await join('firefox', launchFirefox);
    const cr = await join('chromium', launchChromium);
    for (const [p, q] of [[fx, cr], [cr, fx]]) {
      const s = await waitForMedia(p, q.id);
      const r = s.remote[q.id];
      t.diagnostic(`${p.label} receives ${q.label}: ${r.framesDecoded} frames ${r.frameWidth}px, ` +
        `audio energy ${r.audioEnergy.toFixed(4)}, ${r.audioPackets} audio packets, ` +
        `${(r.heardSamples / 48000).toFixed(1)} s heard of ${(r.totalSamples / 48000).toFixed(1)} s played ` +
        `(${(r.concealedSamples / 48000).toFixed(2)} s concealed, ${(r.silentConcealed / 48000).toFixed(2)} s of it silent); ` +
        `first frame ${s.firstFrameMs[q.id]} ms after joining`);
      t.diagnostic(`${p.label} transport stats: ${JSON.stringify(s.transport)}; sends ${JSON.stringify(s.sent)}`);
    }
    const lines = server.stderr.split('\n').filter((l) => /connection up/.test(l));
    t.diagnostic(`server: ${lines.join(' | ')}`);
    assert.equal(lines.length, 4, 'two connections per browser');
  });

  test('the server stops cleanly (exit 0, no sanitizer report)', { timeout: 60000 }, async (t) => {
    await Promise.all(people.map((p) => p.browser.close()));
    people.length = 0;
    const s = server;
    server = null;
    await stopCleanly(t, s);
  });
}
