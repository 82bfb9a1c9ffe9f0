// End to end: screen sharing on the real room page (web/js/share.mjs, docs/protocol.md
// "Screen sharing") through the SFU, in a private network namespace (tests/lib/netns.mjs).
// Amina (Chromium) presses "Share my screen": headless Chromium with the fake media flags of
// tests/lib/browsers.mjs picks a fake 800x600 "screen" by itself. Jan (Chromium) sees it big
// and decodes it (getStats inbound-rtp framesDecoded of the track with msid "screen"
// growing). Amina's connections are rebuilt (her "pub" connection closes: the server releases
// her media with media_unavailable, as after a lost connection, and her page builds a new
// pair): the new pair shares the screen again by itself, Jan decodes it again, and Amina's
// button says "Stop sharing" throughout. Ngozi joins later on a 360 px phone and sees it
// too; Jan's own share is refused ("Someone is already sharing"), and the server refuses a
// raw second sharer (share_busy) and a malformed screen; "Stop sharing" takes it away at
// Jan's; a sharer who leaves ends the share. Firefox ESR decodes the shared screen, then
// shares its own and Jan decodes it. Firefox runs on a virtual X screen (Xvfb, started and
// stopped here by its PID): headless Firefox has no screen to capture (getDisplayMedia fails
// with NotFoundError; its fake devices are a camera and a microphone only), on a display it
// shares the whole of it. Last, Ngozi starts sharing while Amina's pair is rebuilt: Amina's
// screen is refused on her new pair and her page says so.
// Screenshots go to tests/e2e/artifacts/ (git-ignored).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { insideNetns, runInNetns, setupNetns, SERVER_ADDR } from '../lib/netns.mjs';
import { startTandem, SOURCE_DIR } from '../lib/tandem.mjs';
import { launchFirefox, startXvfb } from '../lib/browsers.mjs';
import { joinRoomPage } from '../lib/roompage.mjs';
import { client, closeAllClients } from '../lib/wsclient.mjs';

const ARTIFACTS = path.join(SOURCE_DIR, 'tests', 'e2e', 'artifacts');
const MEDIA_WAIT_MS = 45000; // bound on every wait for media (a busy test machine is slow)
const UI_WAIT_MS = 30000;
const ROOM = 'call-share-room';
const PHONE = { width: 360, height: 740 };
const DESKTOP = { width: 1280, height: 800 };

if (!insideNetns()) {
  test('screen sharing through the SFU (in a private network namespace)', { timeout: 580000 }, async () => {
    await runInNetns(import.meta.url, { timeoutMs: 560000 });
  });
} else {
  let server = null;
  let xvfb = null;
  const people = [];
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    setupNetns();
    server = await startTandem({ listen: SERVER_ADDR, args: ['--media-address', SERVER_ADDR] });
  }, { timeout: 60000 });

  after(async () => {
    closeAllClients();
    await Promise.all(people.map((p) => p.browser.close().catch(() => {})));
    if (xvfb) await xvfb.close();
    if (server) await server.stop();
  }, { timeout: 60000 });

  async function join(label, opts = {}) {
    const p = await joinRoomPage(server.url, ROOM, label, { uiWaitMs: UI_WAIT_MS, ...opts });
    people.push(p);
    return p;
  }

  const logs = () => people.map((q) => `${q.label} (${q.id}): ${q.log.slice(-8).join(' | ')}`).join('\n');

  /** In the page: the shared screen as received: its decoded frames and size, or null. */
  function screenStats() {
    const hook = window.tandemCall;
    const id = hook.screenTrack();
    if (!id || !hook.sub) return Promise.resolve(null);
    return hook.sub.getStats().then((report) => {
      let out = null;
      report.forEach((s) => {
        if (s.type === 'inbound-rtp' && s.kind === 'video' && s.trackIdentifier === id) {
          out = { frames: s.framesDecoded || 0, width: s.frameWidth || 0, height: s.frameHeight || 0 };
        }
      });
      return out;
    });
  }

  /** Waits (bounded) until p decodes the shared screen and its frames still grow. */
  async function waitForScreen(p, evaluate = (fn) => p.page.evaluate(fn)) {
    const deadline = Date.now() + MEDIA_WAIT_MS;
    let first = null;
    while (Date.now() < deadline && !(first?.frames > 0)) {
      first = await evaluate(screenStats);
      if (!(first?.frames > 0)) await sleep(250);
    }
    assert.ok(first?.frames > 0, `${p.label} decodes no shared screen: ${JSON.stringify(first)}\n${logs()}\n` +
      `server: ${server.stderr.slice(-3000)}`);
    let later = first;
    while (Date.now() < deadline && later.frames <= first.frames) {
      await sleep(500);
      later = (await evaluate(screenStats)) || later;
    }
    assert.ok(later.frames > first.frames, `${p.label}: the shared screen stopped at ${first.frames} frames`);
    return later;
  }

  async function waitForStage(p, shown) {
    await p.page.waitForFunction((want) => {
      const stage = document.getElementById('share-stage');
      const v = document.getElementById('share-video');
      return want ? !stage.hidden && v.videoWidth > 0 : stage.hidden;
    }, shown, { timeout: MEDIA_WAIT_MS });
  }

  /** Waits for p's button called name; a failure says what the pages logged. */
  async function button(p, name) {
    const b = p.page.getByRole('button', { name, exact: true });
    try {
      await b.waitFor({ timeout: MEDIA_WAIT_MS });
    } catch (err) {
      throw new Error(`${p.label}: no button "${name}": ${err.message}\n${logs()}`);
    }
    return b;
  }

  async function shot(p, name) {
    await sleep(500); // a frame or two
    await p.page.screenshot({ path: path.join(ARTIFACTS, name), animations: 'disabled' });
  }

  test('Amina shares her screen: Jan sees it big and decodes it', { timeout: 150000 }, async () => {
    const a = await join('Amina', { viewport: DESKTOP });
    const b = await join('Jan', { viewport: DESKTOP });
    const share = await button(a, 'Share my screen');
    // The call is up on both sides before sharing (the share renegotiates "pub").
    await a.page.waitForFunction(() => window.tandemCall.status === 'connected', null, { timeout: MEDIA_WAIT_MS });
    await share.click();
    await button(a, 'Stop sharing');
    await a.page.getByText('You are sharing your screen. The others see it.').waitFor({ timeout: UI_WAIT_MS });
    const seen = await waitForScreen(b);
    assert.ok(seen.width >= 320, `the screen arrives too small: ${JSON.stringify(seen)}`);
    await waitForStage(b, true);
    assert.equal(await b.page.evaluate(() => window.tandemCall.sharer()), a.id);
    assert.equal(await b.page.$eval('#share-title', (h) => h.textContent), `Screen shared by \u2068Amina\u2069`);
    // Big: the screen is wider than any face, the faces sit in a strip below it.
    const [stage, tile] = await b.page.evaluate(() => [document.getElementById('share-video').getBoundingClientRect(),
      document.querySelector('#participants .tile').getBoundingClientRect()].map((r) => ({ w: r.width, h: r.height, y: r.y })));
    assert.ok(stage.w > 3 * tile.w && tile.h <= 100 && tile.y > stage.y, `not big: ${JSON.stringify({ stage, tile })}`);
    // Amina does not watch her own screen in the page.
    assert.equal(await a.page.$eval('#share-stage', (s) => s.hidden), true);
    await shot(b, 'call-share-desktop.png');
  });

  test('new connections at the sharer: the screen is shared again without pressing Share', { timeout: 90000 }, async () => {
    const [a, b] = people;
    // Watched in the pages every 20 ms: Jan's page sees the share go (the old pair's screen
    // ended) and come back; Amina's button never goes back to "Share my screen".
    await b.page.evaluate(() => {
      window.shareGone = false;
      setInterval(() => { if (window.tandemCall.sharer() === null) window.shareGone = true; }, 20);
    });
    await a.page.evaluate(() => {
      window.shareDropped = false;
      const button = document.getElementById('share-button');
      setInterval(() => { if (button.getAttribute('aria-pressed') !== 'true') window.shareDropped = true; }, 20);
    });
    // Amina's "pub" connection closes (DTLS close_notify): the server releases her media and
    // says media_unavailable, as for a connection lost for good; the page builds a new pair.
    const oldPair = await a.page.evaluate(() => {
      const pc = window.tandemCall.pub;
      const fingerprint = /a=fingerprint:(.+)/.exec(pc.localDescription.sdp)[1];
      pc.close();
      return fingerprint;
    });
    await a.page.waitForFunction((old) => {
      const sdp = window.tandemCall.pub?.localDescription?.sdp || '';
      return window.tandemCall.status === 'connected' && !sdp.includes(old);
    }, oldPair, { timeout: MEDIA_WAIT_MS });
    await b.page.waitForFunction((id) => window.shareGone && window.tandemCall.sharer() === id &&
      window.tandemCall.screenTrack() !== null, a.id, { timeout: MEDIA_WAIT_MS }).catch((err) => {
      throw new Error(`Jan does not see Amina's screen again: ${err.message}\n${logs()}`);
    });
    await waitForScreen(b);
    await waitForStage(b, true);
    assert.equal(await a.page.evaluate(() => window.shareDropped), false, 'Amina\'s button said "Share my screen" meanwhile');
    await button(a, 'Stop sharing');
    assert.ok(a.log.some((l) => l.includes('media connection was lost')), `no rebuild at Amina's:\n${logs()}`);
  });

  test('a second sharer is refused, on the page and by the server', { timeout: 60000 }, async () => {
    const [a, b] = people;
    await (await button(b, 'Share my screen')).click();
    await b.page.getByText('Someone is already sharing', { exact: false }).waitFor({ timeout: UI_WAIT_MS });
    // A page that does not check first: the server refuses it before the media worker.
    const ws = await client(server.wsUrl);
    ws.send({ type: 'join', id: 1, room: ROOM, name: 'Raw', role: 'mentee' });
    await ws.next('welcome', 10000).then((w) => {
      assert.equal(w.participants.find((p) => p.id === a.id)?.share, true, 'welcome shows who shares');
    });
    ws.send({ type: 'offer', id: 2, pc: 'pub', sdp: 'v=0\r\n', screen: '1' });
    const busy = await ws.next('error', 10000);
    assert.deepEqual([busy.code, busy.ref], ['share_busy', 2]);
    ws.send({ type: 'offer', id: 3, pc: 'pub', sdp: 'v=0\r\n', screen: 'a b' });
    const bad = await ws.next('error', 10000);
    assert.deepEqual([bad.code, bad.field, bad.ref], ['bad_field', 'screen', 3]);
    ws.send({ type: 'leave' });
    await ws.waitClose(10000);
    // Amina's share goes on.
    await waitForScreen(b);
  });

  test('a late joiner on a phone sees the screen', { timeout: 200000 }, async () => {
    const c = await join('Ngozi', { viewport: PHONE });
    await waitForScreen(c);
    await waitForStage(c, true);
    assert.equal(await c.page.evaluate(() => document.documentElement.scrollWidth <= innerWidth), true,
      'no sideways scrolling on a phone');
    const sizes = await c.page.evaluate(() => [...document.querySelectorAll('#share-full, .call-bar .button.control:not([hidden])')]
      .map((e) => e.getBoundingClientRect()).map((r) => Math.min(r.width, r.height)));
    assert.ok(sizes.every((s) => s >= 44), `touch targets under 44 px: ${sizes}`);
    await shot(c, 'call-share-phone.png');
  });

  test('Firefox sees the screen too', { timeout: 200000 }, async () => {
    xvfb = await startXvfb(DESKTOP);
    const ff = await launchFirefox('Firefox', { display: xvfb.display });
    const d = { label: 'Firefox', browser: ff, page: ff.page, log: [], errors: [], id: null };
    people.push(d);
    ff.page.on('console', (m) => d.log.push(`${m.type()}: ${m.text()}`));
    ff.page.on('pageerror', (e) => {
      d.errors.push(e.message);
      d.log.push(`pageerror: ${e.message}`);
    });
    await ff.page.setViewport(DESKTOP);
    await ff.page.goto(`${server.url}/r/${ROOM}`);
    await ff.page.waitForSelector('#name');
    await ff.page.type('#name', 'Lena');
    await ff.page.click('#join-button');
    await ff.page.waitForSelector('#room:not([hidden])', { timeout: UI_WAIT_MS });
    d.id = await ff.page.$eval('#participants .tile[data-self="true"]', (li) => li.dataset.participantId);
    await waitForScreen(d, (fn) => ff.page.evaluate(fn));
    await ff.page.waitForFunction(() => !document.getElementById('share-stage').hidden &&
      document.getElementById('share-video').videoWidth > 0, { timeout: MEDIA_WAIT_MS });
  });

  test('Stop sharing takes it away', { timeout: 200000 }, async () => {
    const [a, b, c, d] = people;
    await (await button(a, 'Stop sharing')).click();
    await button(a, 'Share my screen');
    await Promise.all([b, c].map((p) => waitForStage(p, false)));
    await d.page.waitForFunction(() => document.getElementById('share-stage').hidden, { timeout: MEDIA_WAIT_MS });
    await b.page.waitForFunction(() => window.tandemCall.screenTrack() === null && window.tandemCall.sharer() === null,
      null, { timeout: MEDIA_WAIT_MS });
    // The screen's track is stopped at Amina's (the browser's sharing indicator goes out).
    assert.deepEqual(await a.page.evaluate(() => window.tandemCall.pub.getSenders()
      .filter((s) => s.track?.kind === 'video' && s.track.label.startsWith('screen')).length), 0);
  });

  test('Firefox shares its screen: Jan (Chromium) decodes it', { timeout: 200000 }, async (t) => {
    const [, b, , d] = people;
    const ff = d.page;
    const at = Date.now();
    await ff.click('#share-button');
    // sharing, or the page's notice of why not (headless: NotFoundError, "Your screen could not be shared")
    const outcome = await (await ff.waitForFunction(() => {
      const notice = document.getElementById('room-notice');
      if (!notice.hidden) return notice.textContent.trim();
      return !document.getElementById('share-mine').hidden &&
        document.getElementById('share-button').getAttribute('aria-pressed') === 'true' && 'sharing';
    }, { timeout: UI_WAIT_MS })).jsonValue();
    assert.equal(outcome, 'sharing', `Firefox does not share: ${outcome}\n${logs()}`);
    const sent = await ff.evaluate(() => window.tandemCall.pub.getSenders()
      .filter((s) => s.track?.kind === 'video').map((s) => s.track.label));
    const seen = await waitForScreen(b);
    const seenMs = Date.now() - at;
    await waitForStage(b, true);
    assert.equal(await b.page.evaluate(() => window.tandemCall.sharer()), d.id);
    t.diagnostic(`Firefox sends video tracks ${JSON.stringify(sent)}; Jan decodes its screen ${seenMs} ms after the click: ` +
      JSON.stringify(seen));
    assert.ok(seen.width >= 320, `Firefox's screen arrives too small: ${JSON.stringify(seen)}`);
    await shot(b, 'call-share-firefox.png');
    // Stop sharing: gone at Jan's, the screen's track stopped at Firefox's.
    await ff.click('#share-button');
    await waitForStage(b, false);
    await ff.waitForFunction(() => document.getElementById('share-mine').hidden &&
      window.tandemCall.pub.getSenders().filter((s) => s.track?.kind === 'video').length === 1, { timeout: UI_WAIT_MS });
    assert.deepEqual(d.errors, [], 'Firefox: page errors');
    await d.browser.close();
    people.splice(people.indexOf(d), 1);
    await xvfb.close();
    xvfb = null;
  });

  test('a sharer who leaves ends the share', { timeout: 200000 }, async () => {
    const [a, b, c] = people;
    // Jan shares; Amina sees it; Jan leaves and it is gone.
    await (await button(b, 'Share my screen')).click();
    await button(b, 'Stop sharing');
    await waitForScreen(a);
    await waitForStage(a, true);
    await b.page.getByRole('button', { name: 'Leave' }).click();
    await Promise.all([a, c].map((p) => waitForStage(p, false)));
    assert.equal(await a.page.evaluate(() => window.tandemCall.sharer()), null);
    for (const p of people) assert.deepEqual(p.errors, [], `${p.label}: page errors`);
  });

  test('someone else shares while the sharer\'s connections are rebuilt: the share ends there', { timeout: 120000 }, async () => {
    const [a, , c] = people;
    await (await button(a, 'Share my screen')).click();
    await button(a, 'Stop sharing');
    await waitForStage(c, true);
    // Ngozi presses Share as soon as the room has no sharer, while Amina's page builds its new pair.
    await c.page.evaluate(() => {
      const timer = setInterval(() => {
        if (window.tandemCall.sharer() !== null) return;
        clearInterval(timer);
        document.getElementById('share-button').click();
      }, 20);
    });
    await a.page.evaluate(() => window.tandemCall.pub.close());
    await button(c, 'Stop sharing');
    // Amina's new pair offers her screen again and the server refuses it (share_busy): her page
    // says so and offers to share again; she sees Ngozi's screen.
    await a.page.getByText('Someone is already sharing', { exact: false }).waitFor({ timeout: MEDIA_WAIT_MS });
    await button(a, 'Share my screen');
    assert.ok(a.log.some((l) => l.includes('not shared again on the new connections (share_busy)')), logs());
    assert.equal(await a.page.evaluate(() => window.tandemCall.pub.getSenders()
      .filter((s) => s.track?.kind === 'video' && s.track.label.startsWith('screen')).length), 0);
    await waitForScreen(a);
    assert.equal(await a.page.evaluate(() => window.tandemCall.sharer()), c.id);
    for (const p of people) assert.deepEqual(p.errors, [], `${p.label}: page errors`);
  });
}
