// End to end: watching together and the chat in the real room page (web/room.html,
// web/js/panels.mjs), during a real call through the SFU. As in call-page.test.mjs, the
// server and two Debian Chromium browsers (fake camera and microphone) run inside a private
// network namespace. Amina opens "Watch", chooses the test film (made here with ffmpeg);
// Jan's player opens by itself; both play in step (drift from (wall clock, currentTime)
// samples of both pages; the bound is loose, figures belong to bench/watch-drift.mjs); Jan
// pauses, Amina jumps; the call's video keeps being decoded while they watch. Then the chat:
// an unread count on Jan's Chat button, the text and a picture (a PNG made here) inline.
// Screenshots go to tests/e2e/artifacts/ (git-ignored).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { insideNetns, runInNetns, setupNetns, SERVER_ADDR } from '../lib/netns.mjs';
import { startTandem, SOURCE_DIR } from '../lib/tandem.mjs';
import { launchChromium } from '../lib/browsers.mjs';
import { makeFilm, drifts, stats } from '../lib/watchpages.mjs';

const ARTIFACTS = path.join(SOURCE_DIR, 'tests', 'e2e', 'artifacts');
const WAIT_MS = 30000; // bound on every wait (a busy test machine is slow)
const ROOM = 'watch-chat-room';
const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 800 };
const FILM = 'a walk in the park.webm';

if (!insideNetns()) {
  test('watching together and the chat in the room page, during a call', { timeout: 400000 }, async () => {
    await runInNetns(import.meta.url, { timeoutMs: 380000 });
  });
} else {
  let server = null;
  let dir = null;
  const people = [];

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    setupNetns();
    dir = mkdtempSync(path.join(tmpdir(), 'tandem-room-watch-'));
    makeFilm(path.join(dir, 'media'), { seconds: 30, name: FILM });
    const conf = path.join(dir, 'tandem.conf');
    writeFileSync(conf, `[sync]\nmedia_dir = ${path.join(dir, 'media')}\n`);
    server = await startTandem({ listen: SERVER_ADDR, args: ['--media-address', SERVER_ADDR, '--config', conf] });
  }, { timeout: 60000 });

  after(async () => {
    await Promise.all(people.map((p) => p.browser.close().catch(() => {})));
    const r = server ? await server.stop() : { code: 0 };
    if (dir) rmSync(dir, { recursive: true, force: true });
    assert.equal(r.code, 0, server?.stderr);
    assert.doesNotMatch(server?.stderr || '', /ERROR: (AddressSanitizer|LeakSanitizer)|runtime error/);
    for (const p of people) assert.deepEqual(p.errors, [], `${p.label}: page errors`);
  }, { timeout: 60000 });

  async function join(label) {
    const browser = await launchChromium(label);
    const { page } = browser;
    const person = { label, browser, page, errors: [] };
    people.push(person);
    page.on('pageerror', (err) => person.errors.push(err.message));
    page.setDefaultTimeout(WAIT_MS);
    await page.setViewportSize(DESKTOP);
    await page.goto(`${server.url}/r/${ROOM}`);
    await page.getByLabel('Your name').fill(label);
    await page.getByRole('button', { name: 'Join', exact: true }).click();
    await page.getByRole('heading', { name: 'In the room', exact: true }).waitFor();
    return person;
  }

  const video = (p, expr) => p.page.evaluate(`(() => { const v = window.tandemCall.panels.watch.video; return ${expr}; })()`);

  /** Frames of the other person's camera decoded so far (getStats of the sub connection). */
  const framesDecoded = (p) => p.page.evaluate(async () => {
    const sub = window.tandemCall.sub;
    if (!sub) return 0;
    let n = 0;
    (await sub.getStats()).forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'video') n += s.framesDecoded || 0;
    });
    return n;
  });

  /** Records (wall clock, currentTime) every 20 ms in the page. */
  const startSampling = (p) => p.page.evaluate(() => {
    window.samples = [];
    clearInterval(window.sampler);
    window.sampler = setInterval(() => {
      const v = window.tandemCall.panels.watch.video;
      if (window.samples.length < 5000) window.samples.push([performance.timeOrigin + performance.now(), v.currentTime]);
    }, 20);
  });
  const takeSamples = (p) => p.page.evaluate(() => {
    clearInterval(window.sampler);
    return window.samples;
  });

  async function shot(p, name, viewport) {
    await p.page.setViewportSize(viewport);
    await p.page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    await p.page.screenshot({ path: path.join(ARTIFACTS, name), animations: 'disabled' });
  }

  test('a film in step for both, while the call goes on', { timeout: 200000 }, async () => {
    const amina = await join('Amina');
    const jan = await join('Jan');
    // the call is up: each decodes the other's camera
    for (const p of [amina, jan]) await p.page.waitForFunction(() => window.tandemCall.participantsWithMedia().length === 1);

    // Amina opens the player and chooses the film from the organisation's folder
    await amina.page.getByRole('button', { name: 'Watch', exact: true }).click();
    assert.equal(await amina.page.getAttribute('#watch-button', 'aria-expanded'), 'true');
    await amina.page.locator('.watch-source summary').click();
    await amina.page.waitForFunction((f) => [...document.querySelectorAll('.watch-library option')].some((o) => o.value === f), FILM);
    await amina.page.getByLabel('Films of your organisation').selectOption(FILM);
    await amina.page.locator('.watch-library + button').click();

    // Jan's player opens by itself with the same film
    await jan.page.locator('#watch-area').waitFor({ state: 'visible' });
    for (const p of [amina, jan]) await p.page.waitForFunction(() => window.tandemCall.panels.watch.video.readyState >= 3);
    assert.equal(await video(jan, 'decodeURIComponent(new URL(v.currentSrc).pathname)'), `/media/${FILM}`);

    // play: both move, in step
    const framesBefore = await framesDecoded(jan);
    await Promise.all([amina, jan].map(startSampling));
    await amina.page.locator('.watch-play').click();
    for (const p of [amina, jan]) await p.page.waitForFunction(() => window.tandemCall.panels.watch.video.currentTime > 4);
    const [sa, sj] = await Promise.all([amina, jan].map(takeSamples));
    // from 1.5 s after the first sample that moved, both are playing
    const moved = sa.find(([, c], i) => i > 0 && c > sa[0][1] + 0.05);
    assert.ok(moved, 'the film did not start');
    const d = stats(drifts(sa, sj, moved[0] + 1500));
    console.log(`# drift while playing, Amina vs Jan: n=${d.n} median=${d.median.toFixed(1)} ms p95=${d.p95.toFixed(1)} ms max=${d.max.toFixed(1)} ms`);
    assert.ok(d.n > 20, `too few samples: ${d.n}`);
    assert.ok(d.p95 < 250, `the pages are not in step: p95 ${d.p95} ms`);

    // the call went on while watching: Jan still decodes Amina's camera
    await jan.page.waitForFunction(async (n) => {
      let f = 0;
      (await window.tandemCall.sub.getStats()).forEach((s) => {
        if (s.type === 'inbound-rtp' && s.kind === 'video') f += s.framesDecoded || 0;
      });
      return f > n + 20;
    }, framesBefore);
    console.log(`# Jan decoded ${await framesDecoded(jan) - framesBefore} frames of Amina's camera while watching`);

    await shot(amina, 'room-watching-desktop.png', DESKTOP);
    await shot(jan, 'room-watching-phone.png', PHONE);
    assert.equal(await jan.page.evaluate(() => document.documentElement.scrollWidth <= innerWidth), true,
      'no sideways scrolling on a phone');
    // on a phone the people are a strip under the film
    const [film, strip] = await Promise.all(['#watch-area', '#participants'].map((s) => jan.page.locator(s).boundingBox()));
    assert.ok(strip.y >= film.y + film.height - 1 && strip.height < 200, `film ${JSON.stringify(film)}, people ${JSON.stringify(strip)}`);
    await jan.page.setViewportSize(DESKTOP);

    // Jan pauses: Amina's film stops at the same spot
    await jan.page.locator('.watch-play').click();
    for (const p of [amina, jan]) await p.page.waitForFunction(() => window.tandemCall.panels.watch.video.paused);
    const [pa, pj] = await Promise.all([amina, jan].map((p) => p.page.waitForFunction(() => {
      const w = window.tandemCall.panels.watch;
      return w.state && !w.state.playing && Math.abs(w.video.currentTime - w.state.position) < 0.05 && w.video.currentTime;
    }).then((h) => h.jsonValue())));
    assert.ok(Math.abs(pa - pj) < 0.1, `paused at ${pa} and ${pj}`);

    // Amina jumps to 20 s: Jan's film is there too
    await amina.page.evaluate(() => {
      const s = document.querySelector('.watch-seek');
      s.value = '20';
      s.dispatchEvent(new Event('change'));
    });
    for (const p of [amina, jan]) {
      await p.page.waitForFunction(() => {
        const v = window.tandemCall.panels.watch.video;
        return !v.seeking && Math.abs(v.currentTime - 20) < 0.1;
      });
    }

    // closing the player leaves the call as it was, the film silent
    await jan.page.getByRole('button', { name: 'Close the film' }).click();
    assert.equal(await jan.page.locator('#watch-area').isHidden(), true);
    assert.equal(await video(jan, 'v.muted'), true);
    assert.equal(await jan.page.evaluate(() => document.activeElement.id), 'watch-button');
  });

  test('the chat: an unread count, a text and a picture', { timeout: 120000 }, async () => {
    const [amina, jan] = people;
    const png = path.join(dir, 'bill.png');
    execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i',
      'testsrc=size=320x240:rate=1', '-frames:v', '1', png]);

    await amina.page.getByRole('button', { name: 'Chat', exact: true }).click();
    await amina.page.getByLabel('Your message').fill('Did you like the film? 🙂');
    await amina.page.getByLabel('Your message').press('Enter');
    // Jan's chat is closed: his button counts it
    await jan.page.locator('#chat-unread:not([hidden])').waitFor();
    assert.equal(await jan.page.textContent('#chat-unread'), '1');
    assert.match(await jan.page.getAttribute('#chat-button', 'aria-label'), /1 new message/);

    await amina.page.setInputFiles('#chat-file', png);
    await jan.page.waitForFunction(() => document.querySelectorAll('.chat-picture img, img.chat-picture').length > 0 ||
      [...document.querySelectorAll('.chat-log img')].some((i) => i.complete && i.naturalWidth > 0));
    assert.equal(await jan.page.textContent('#chat-unread'), '2');

    await jan.page.setViewportSize(PHONE);
    await jan.page.locator('#chat-button').click();
    await jan.page.locator('#chat-unread').waitFor({ state: 'hidden' });
    await jan.page.waitForFunction(() => [...document.querySelectorAll('.chat-log img')].some((i) => i.complete && i.naturalWidth > 0));
    const texts = await jan.page.$$eval('.chat-body', (els) => els.map((e) => e.textContent));
    assert.ok(texts.includes('Did you like the film? 🙂'), JSON.stringify(texts));
    // on a phone the chat is a sheet over part of the call: the faces stay in sight (under
    // it while a film is open, above it otherwise)
    const sheet = await jan.page.locator('#side-panel').boundingBox();
    // the other person's face (one's own small picture may sit under the sheet)
    const face = await jan.page.locator('#participants .tile:not([data-self="true"])').first().boundingBox();
    assert.ok(sheet.width >= PHONE.width - 1 && sheet.height < PHONE.height * 0.7, JSON.stringify(sheet));
    assert.ok(face && (face.y + 40 < sheet.y || face.y + face.height - 40 > sheet.y + sheet.height),
      `a face outside the sheet: face ${JSON.stringify(face)}, sheet ${JSON.stringify(sheet)}`);
    await jan.page.getByLabel('Your message').fill('Yes! The end was so sweet.');
    await shot(jan, 'room-chat-phone.png', PHONE);
    // the person can make it cover the whole screen, and smaller again
    await jan.page.getByRole('button', { name: 'Make the chat bigger' }).click();
    await jan.page.waitForFunction((h) => {
      const r = document.getElementById('side-panel').getBoundingClientRect();
      return r.top < 1 && r.bottom > h - 1;
    }, PHONE.height);
    await shot(jan, 'room-chat-phone-full.png', PHONE);
    await jan.page.getByRole('button', { name: 'Make the chat smaller' }).click();
    await jan.page.waitForFunction((h) => document.getElementById('side-panel').getBoundingClientRect().height < h * 0.7, PHONE.height);
    // Escape closes it and gives the focus back to the Chat button
    await jan.page.keyboard.press('Escape');
    assert.equal(await jan.page.locator('#side-panel').isHidden(), true);
    assert.equal(await jan.page.evaluate(() => document.activeElement.id), 'chat-button');

    // leaving takes the panels away; joining again starts with empty ones
    await amina.page.getByRole('button', { name: 'Leave' }).click();
    assert.equal(await amina.page.evaluate(() => window.tandemCall.panels.watch), null);
    assert.equal(await amina.page.locator('#side-panel').isHidden(), true);
  });
}
