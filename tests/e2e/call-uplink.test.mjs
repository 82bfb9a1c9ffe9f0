// End to end: a person whose own line cannot carry their camera (docs/architecture.md
// "Uplink", web/js/uplink.mjs). Two Debian Chromium room pages and the server in a private
// network namespace (tests/lib/netns.mjs); nftables polices what each page sends to the
// server's media ports at 80 kbit/s per connection (a meter keyed by the page's UDP source
// port: each "pub" connection gets its own thin uplink, as two people on two prepaid phones).
// What a person would notice, from getStats() and the page: within 5 s each page turns its
// camera off and says why ("Weak connection: your camera is off..."); their voice then
// reaches the other under 2 % concealed (issue 15); after the policer is lifted, the camera is tried
// again by itself and pictures come back.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { insideNetns, runInNetns, setupNetns, SERVER_ADDR } from '../lib/netns.mjs';
import { startTandem } from '../lib/tandem.mjs';
import { joinRoomPage } from '../lib/roompage.mjs';

const ROOM = 'call-uplink-room';
const PORT_BASE = 21000;
const UP_KBIT = 80;
const UI_WAIT_MS = 30000;
const MEDIA_WAIT_MS = 45000;
const PAUSE_WAIT_MS = 20000; // how long to wait at most, for the message when it fails
const PAUSE_TARGET_MS = 5000; // issue 15: that person's video stops within 5 s
const CONCEALED_MAX = 0.02; // issue 15: their voice reaches the others under 2 % concealed
const RETRY_WAIT_MS = 45000; // the first retry comes 15 s after the pause

if (!insideNetns()) {
  test('a thin uplink: the camera goes off before the voice suffers (in a private network namespace)', { timeout: 400000 }, async () => {
    await runInNetns(import.meta.url, { timeoutMs: 380000 });
  });
} else {
  let server = null;
  const people = [];
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  function clearRules() {
    try { execFileSync('nft', ['delete', 'table', 'inet', 'uplink'], { stdio: 'ignore' }); } catch { /* none */ }
  }
  function thinUplinks(kbit) {
    clearRules();
    const bytes = Math.round((kbit * 1000) / 8);
    execFileSync('nft', ['-f', '-'], {
      input: `table inet uplink {
  chain rx {
    type filter hook input priority 0; policy accept;
    udp dport ${PORT_BASE} meter up { udp sport limit rate over ${bytes} bytes/second burst ${Math.round(bytes / 4)} bytes } counter drop
  }
}\n`,
      stdio: ['pipe', 'ignore', 'pipe'],
    });
  }
  function dropped() {
    const out = execFileSync('nft', ['list', 'table', 'inet', 'uplink'], { encoding: 'utf8' });
    return Number(/counter packets (\d+)/.exec(out)?.[1] ?? 0);
  }

  before(async () => {
    setupNetns();
    clearRules();
    server = await startTandem({
      listen: SERVER_ADDR,
      args: ['--media-address', SERVER_ADDR, '--media-port-base', String(PORT_BASE), '--media-workers', '1'],
    });
  }, { timeout: 60000 });

  after(async () => {
    clearRules();
    await Promise.all(people.map((p) => p.browser.close().catch(() => {})));
    if (server) await server.stop();
  }, { timeout: 60000 });

  async function join(label) {
    const person = await joinRoomPage(server.url, ROOM, label, { uiWaitMs: UI_WAIT_MS });
    people.push(person);
    return person;
  }

  /** In the page: per remote participant, frames decoded and audio received/concealed; this
   *  page's own camera state and what its browser thinks its uplink can carry. */
  function pageStats() {
    const hook = window.tandemCall;
    const out = { remote: {}, camera: document.querySelector('#uplink-notice')?.hidden === false ? 'paused' : 'as chosen', available: null };
    if (!hook.sub || !hook.pub) return Promise.resolve(out);
    const owners = hook.trackOwners();
    return Promise.all([hook.sub.getStats(), hook.pub.getStats()]).then(([sub, pub]) => {
      sub.forEach((s) => {
        const id = owners[s.trackIdentifier];
        if (s.type !== 'inbound-rtp' || !id) return;
        out.remote[id] ||= { frames: 0, samples: 0, concealed: 0, silent: 0, audioPackets: 0, audioLost: 0 };
        if (s.kind === 'video') out.remote[id].frames = s.framesDecoded || 0;
        if (s.kind === 'audio') {
          Object.assign(out.remote[id], {
            samples: s.totalSamplesReceived || 0, concealed: s.concealedSamples || 0, silent: s.silentConcealedSamples || 0,
            audioPackets: s.packetsReceived || 0, audioLost: s.packetsLost || 0,
          });
        }
      });
      pub.forEach((s) => {
        if (s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded') out.available = s.availableOutgoingBitrate ?? null;
        if (s.type === 'remote-inbound-rtp' && s.kind === 'audio') out.voiceLoss = s.fractionLost ?? null;
      });
      return out;
    });
  }
  const stats = (p) => p.page.evaluate(pageStats);
  const other = (p) => people.find((q) => q !== p);

  async function until(p, what, check, waitMs) {
    const deadline = Date.now() + waitMs;
    let s = null;
    while (Date.now() < deadline) {
      s = await stats(p);
      if (check(s)) return s;
      await sleep(250);
    }
    assert.fail(`${p.label}: ${what} did not happen within ${waitMs} ms: ${JSON.stringify(s)}`);
    return s;
  }

  test('two people in a call see each other', { timeout: 150000 }, async () => {
    await join('Amina');
    await join('Jan');
    for (const p of people) await until(p, 'pictures from the other', (s) => (s.remote[other(p).id]?.frames ?? 0) > 30, MEDIA_WAIT_MS);
  });

  test(`each uplink policed at ${UP_KBIT} kbit/s: the camera goes off, the voice gets through`, { timeout: 150000 }, async (t) => {
    const t0 = Date.now();
    thinUplinks(UP_KBIT);
    for (const p of people) {
      const seen = [];
      await until(p, 'the camera paused for the line', (s) => {
        seen.push(`${((Date.now() - t0) / 1000).toFixed(1)}s:${s.available}/${s.voiceLoss}`);
        return s.camera === 'paused';
      }, PAUSE_WAIT_MS).catch((err) => {
        throw new Error(`${err.message}; its uplink estimate/voice loss over time ${seen.filter((x, i) => i % 4 === 0).join(' ')}; dropped ${dropped()}`);
      });
      const took = Date.now() - t0;
      t.diagnostic(`${p.label}: camera off and told so ${(took / 1000).toFixed(1)} s after the policer ` +
        `(its browser's uplink estimate went ${seen.filter((x, i) => i % 8 === 0).join(' ')})`);
      assert.ok(took <= PAUSE_TARGET_MS, `${p.label}: the camera went off ${took} ms after the policer`);
    }
    assert.ok(dropped() > 0, 'the policer dropped nothing: the test measured nothing');
    await sleep(4000); // what was queued drains, the browser's encoder settles
    const a0 = await Promise.all(people.map(stats));
    await sleep(8000);
    const a1 = await Promise.all(people.map(stats));
    for (const [i, p] of people.entries()) {
      const from = other(p).id;
      const r0 = a0[i].remote[from];
      const r1 = a1[i].remote[from];
      const samples = r1.samples - r0.samples;
      // What is heard, not packets (Opus DTX leaves those out in the fake microphone's pauses):
      // concealed samples, the lost voice the decoder made up; DTX pauses are comfort noise.
      const concealed = (r1.concealed - r0.concealed) / Math.max(1, samples);
      const silent = (r1.silent - r0.silent) / Math.max(1, samples);
      t.diagnostic(`${p.label} hears ${other(p).label} over 8 s with both cameras off: ${r1.audioPackets - r0.audioPackets} packets (${r1.audioLost - r0.audioLost} lost), ` +
        `${(100 * concealed).toFixed(1)} % concealed (${(100 * silent).toFixed(1)} % concealed silence); ` +
        `own uplink estimate ${a1[i].available ?? '?'} bit/s`);
      assert.ok(samples > 48000 * 6, `${p.label} hears almost nothing from ${other(p).label}: ${JSON.stringify([r0, r1])}`);
      // A packet lost in a DTX pause makes the receiver conceal silence until the next one
      // (not heard as a damaged voice): the voice's share is what is held to the target.
      assert.ok(concealed - silent < CONCEALED_MAX, `${p.label}: ${(100 * (concealed - silent)).toFixed(1)} % of the other's voice concealed`);
    }
    for (const p of people) assert.deepEqual(p.errors, [], `${p.label}: errors in the page`);
  });

  test('the policer lifted: the camera is tried again by itself and pictures come back', { timeout: 150000 }, async (t) => {
    clearRules();
    const t0 = Date.now();
    const before = await Promise.all(people.map(stats));
    for (const [i, p] of people.entries()) {
      const from = other(p).id;
      const was = before[i].remote[from]?.frames ?? 0;
      await until(p, 'pictures again', (s) => (s.remote[from]?.frames ?? 0) > was + 30, RETRY_WAIT_MS);
      t.diagnostic(`${p.label} sees ${other(p).label} again ${((Date.now() - t0) / 1000).toFixed(1)} s after the policer was lifted`);
    }
    for (const p of people) assert.equal(await p.page.locator('#uplink-notice').isVisible(), false);
  });
}
