// End to end: the Opus mix for a listener without video in a group call (issue 16;
// server/sfu/audiomix.c, docs/architecture.md "Opus mix"). Three Debian Chromium pages on the
// real room page, with the server, in a private network namespace (tests/lib/netns.mjs).
// One person presses "Save data": from then on the server sends that page one mixed audio
// stream (msid "mix") and pauses the per-speaker ones. Asserted from getStats() through the
// page's test hook (window.tandemCall): the mix track's inbound-rtp packets and samples grow
// and carry sound while the others' fake microphones beep, the per-speaker audio streams stop
// growing, and the two others still hear and see each other. Pressed again, the separate
// streams come back.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { insideNetns, runInNetns, setupNetns, SERVER_ADDR } from '../lib/netns.mjs';
import { startTandem, stopCleanly } from '../lib/tandem.mjs';
import { joinRoomPage } from '../lib/roompage.mjs';

const MEDIA_WAIT_MS = 45000; // bound on every wait for media (a busy test machine is slow)
const UI_WAIT_MS = 30000;
const ROOM = 'call-mix-room';
const WINDOW_MS = 4000;
const HEARD_SHARE = 0.8; // of the mix window played from what came (with no DTX frame sent: 67 %)

if (!insideNetns()) {
  test('a listener without video hears a group call through the mix (in a private network namespace)',
    { timeout: 400000 }, async () => {
      await runInNetns(import.meta.url, { timeoutMs: 380000 });
    });
} else {
  let server = null;
  const people = []; // { label, browser, page, id, log }
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  before(async () => {
    setupNetns();
    server = await startTandem({ listen: SERVER_ADDR, args: ['--media-address', SERVER_ADDR] });
  }, { timeout: 60000 });

  after(async () => {
    await Promise.all(people.map((p) => p.browser.close().catch(() => {})));
    if (server) await server.stop();
  }, { timeout: 60000 });

  async function join(label) {
    const person = await joinRoomPage(server.url, ROOM, label, { uiWaitMs: UI_WAIT_MS });
    people.push(person);
    return person;
  }

  /** In the page: per sender (participant id, or "mix"), its inbound-rtp audio and video. */
  function pageStats() {
    const hook = window.tandemCall;
    const out = { mix: hook.mixTrack(), remote: {} };
    if (!hook.sub) return Promise.resolve(out);
    const owners = hook.trackOwners();
    if (out.mix) owners[out.mix] = 'mix';
    return hook.sub.getStats().then((sub) => {
      sub.forEach((s) => {
        if (s.type !== 'inbound-rtp' || !owners[s.trackIdentifier]) return;
        const e = out.remote[owners[s.trackIdentifier]] ||= { packets: 0, samples: 0, heard: 0, concealed: 0, silent: 0, energy: 0, level: 0, frames: 0 };
        if (s.kind === 'video') e.frames = s.framesDecoded || 0;
        else {
          // heard: samples played from what came (not concealed)
          Object.assign(e, { packets: s.packetsReceived || 0, samples: s.totalSamplesReceived || 0,
            heard: (s.totalSamplesReceived || 0) - (s.concealedSamples || 0), concealed: s.concealedSamples || 0,
            silent: s.silentConcealedSamples || 0, energy: s.totalAudioEnergy || 0 });
          e.level = Math.max(e.level, s.audioLevel || 0);
        }
      });
      return out;
    });
  }
  const stats = (p) => p.page.evaluate(pageStats);
  const logs = () => people.map((q) => `${q.label} (${q.id}): ${q.log.slice(-8).join(' | ')}`).join('\n');
  const fail = (what) => `${what}\n${logs()}\nserver: ${server.stderr.slice(-3000)}`;

  /** Polls (bounded) until ok(stats of p) holds; returns those stats. */
  async function until(p, ok, what) {
    const deadline = Date.now() + MEDIA_WAIT_MS;
    let s = null;
    while (Date.now() < deadline) {
      s = await stats(p);
      if (ok(s)) return s;
      await sleep(250);
    }
    assert.fail(fail(`${p.label}: ${what}: ${JSON.stringify(s)}`));
  }

  /** p hears (samples played from what came and the energy grow: not packets, which Opus
   *  DTX leaves out in the fake microphones' pauses) and, with video, sees every id in from. */
  async function receives(p, from, { video = true } = {}) {
    const s0 = await until(p, (s) => from.every((id) => s.remote[id]?.heard > 0 && (!video || s.remote[id].frames > 0)),
      `does not receive ${from}`);
    await until(p, (s) => from.every((id) => s.remote[id].heard > s0.remote[id].heard + 4800 &&
      s.remote[id].energy > s0.remote[id].energy && (!video || s.remote[id].frames > s0.remote[id].frames)),
    `media from ${from} stopped`);
  }

  /** The largest audioLevel of the mix track over ms, sampled every 100 ms. */
  async function mixLevel(p, ms) {
    let level = 0;
    for (const end = Date.now() + ms; Date.now() < end;) {
      level = Math.max(level, (await stats(p)).remote.mix?.level || 0);
      await sleep(100);
    }
    return level;
  }

  test('three people hear and see each other', { timeout: 150000 }, async () => {
    await join('Amina');
    await join('Jan');
    await join('Ngozi');
    for (const p of people) await receives(p, people.filter((q) => q !== p).map((q) => q.id));
  });

  test('"Save data": one mixed audio stream instead of one per speaker; the others still hear each other',
    { timeout: 150000 }, async (t) => {
      const [a, b, c] = people;
      const clicked = Date.now();
      await c.page.locator('#saver-button').click();
      const on = await until(c, (s) => s.mix && s.remote.mix?.heard > 0, 'no mix track heard');
      t.diagnostic(`the mix flows ${Date.now() - clicked} ms after "Save data"`);
      await sleep(1000); // what was on its way in the separate streams arrives
      const s0 = await stats(c);
      const level = await mixLevel(c, WINDOW_MS);
      const s1 = await stats(c);
      const d = (k) => s1.remote.mix[k] - s0.remote.mix[k];
      const mix = { packets: d('packets'), samples: d('samples'), heard: d('heard'), concealed: d('concealed'), silent: d('silent') };
      const separate = [a.id, b.id].map((id) => (s1.remote[id]?.packets || 0) - (s0.remote[id]?.packets || 0));
      t.diagnostic(`in ${WINDOW_MS} ms Ngozi got ${mix.packets} packets and ${mix.samples} samples of the mix, ` +
        `${mix.heard} heard, ${mix.concealed} concealed (${mix.silent} of them silent) ` +
        `(largest audioLevel ${level.toFixed(3)}), ${separate.join(' and ')} packets of Amina's and Jan's own streams`);
      assert.equal(on.mix, s1.mix);
      // What Ngozi hears, not packets: the mix's encoder uses DTX (core/mix.c), so in the
      // fake microphones' pauses it sends one every 400 ms (95-168 packets were seen in this
      // window). Its pauses are comfort noise, not concealment; a mix that does not flow is
      // concealed (or not played) nearly all the time.
      assert.ok(mix.samples > 48 * WINDOW_MS * 0.5, fail(`the mix is hardly played out: ${JSON.stringify(mix)}`));
      assert.ok(mix.heard > 48 * WINDOW_MS * HEARD_SHARE, fail(`the mix is hardly heard: ${JSON.stringify(mix)}`));
      assert.ok(level > 0, fail('the mix is silent while the others beep'));
      for (const n of separate) assert.ok(n <= 5, fail(`a per-speaker stream still flows: ${separate}`));
      await receives(a, [b.id]);
      await receives(b, [a.id]);
    });

  test('"Show videos" again: the separate streams come back', { timeout: 120000 }, async () => {
    const [a, b, c] = people;
    await c.page.locator('#saver-button').click();
    await receives(c, [a.id, b.id], { video: false });
    await until(c, (s) => !s.mix, 'the mix track is still there');
  });

  test('the server stops cleanly (exit 0, no sanitizer report)', { timeout: 60000 }, async (t) => {
    await Promise.all(people.map((p) => p.browser.close()));
    people.length = 0;
    const s = server;
    server = null;
    await stopCleanly(t, s);
  });
}
