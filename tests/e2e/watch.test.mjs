// End to end: watch together in two headless Chromium pages against the real server.
// A 20 s test film (made here with ffmpeg) in a temporary media folder; Amina loads it and
// plays, Jan pauses, Amina jumps, Jan comes back late. Each page records (wall clock,
// currentTime) every 20 ms and the test compares the two: the bounds are loose enough not
// to flake on a busy machine and tight enough to fail when sync is broken (a page that
// ignored the effective time or never corrected drift would be hundreds of ms off).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startTandem } from '../lib/tandem.mjs';
import {
  makeFilm, makeHarnessRoot, launchChromium, openHarness, startSampling, takeSamples, drifts,
  stats, convergedAt,
} from '../lib/watchpages.mjs';

const WAIT_MS = 15000;
const ROOM = 'watch-e2e';
let dir;
let server;
let amina;
let jan;
const errors = [];

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'tandem-watch-e2e-'));
  makeFilm(path.join(dir, 'media'), { seconds: 20, name: 'test film.webm' });
  const web = makeHarnessRoot(dir);
  server = await startTandem({ args: ['--web-root', web, '--config', writeConf(dir)] });
  [amina, jan] = await Promise.all([launchChromium('amina', { errors }), launchChromium('jan', { errors })]);
});

after(async () => {
  await Promise.allSettled([amina?.close(), jan?.close()]);
  const r = server ? await server.stop() : { code: 0 };
  rmSync(dir, { recursive: true, force: true });
  assert.equal(r.code, 0, server?.stderr);
  assert.doesNotMatch(server?.stderr || '', /ERROR: (AddressSanitizer|LeakSanitizer)|runtime error/);
});

function writeConf(d) {
  const file = path.join(d, 'tandem.conf');
  writeFileSync(file, `[sync]\nmedia_dir = ${path.join(d, 'media')}\n`);
  return file;
}

const video = (b, expr) => b.page.evaluate(`(() => { const v = window.tandem.watch.video; return ${expr}; })()`);

/** Waits until fn holds in the page of b (bounded). */
function until(b, fn, arg) {
  return b.page.waitForFunction(fn, arg, { timeout: WAIT_MS });
}

/** Both videos play and their currentTime passed `t`. */
async function bothPastTime(t) {
  await Promise.all([amina, jan].map((b) => until(b, (x) => {
    const v = window.tandem.watch.video;
    return !v.paused && v.currentTime > x;
  }, t)));
}

function report(label, s) {
  const f = (x) => x.toFixed(1);
  console.log(`# ${label}: n=${s.n} median=${f(s.median)} ms p95=${f(s.p95)} ms max=${f(s.max)} ms`);
}

test('two pages load, play, pause, seek and stay in step', async () => {
  await openHarness(amina, server.url, { room: ROOM, name: 'Amina' });
  await openHarness(jan, server.url, { room: ROOM, name: 'Jan', role: 'mentor' });
  // the library lists the film; Amina shows it to both
  await until(amina, () => [...document.querySelectorAll('.watch-library option')].some((o) => o.value === 'test film.webm'));
  await amina.page.evaluate(() => {
    document.querySelector('.watch-source').open = true;
    document.querySelector('.watch-library').value = 'test film.webm';
  });
  await amina.page.locator('.watch-library + button').click();
  for (const b of [amina, jan]) await until(b, () => window.tandem.watch.video.readyState >= 3);
  assert.equal(await video(jan, 'decodeURIComponent(new URL(v.currentSrc).pathname)'), '/media/test film.webm');

  await Promise.all([startSampling(amina.page), startSampling(jan.page)]);
  const playAt = Date.now();
  await amina.page.locator('.watch-play').click();
  await bothPastTime(5);
  let a = await takeSamples(amina.page);
  let j = await takeSamples(jan.page);
  const start = a.find((x) => x[2] === 0)[0]; // first sample playing
  const conv = convergedAt(a, j, start);
  assert.ok(conv !== null, 'the pages never came within 30 ms of each other');
  console.log(`# play: converged ${(conv - start).toFixed(0)} ms after the film started (${(start - playAt).toFixed(0)} ms after the click)`);
  const play = stats(drifts(a, j, start + 1500));
  report('drift while playing', play);
  assert.ok(play.n > 100, `only ${play.n} samples`);
  assert.ok(play.p95 < 150, `p95 drift ${play.p95} ms`);
  assert.ok(play.max < 400, `max drift ${play.max} ms`);
  // both started within a short time of each other
  const jStart = j.find((x) => x[2] === 0)[0];
  assert.ok(Math.abs(jStart - start) < 250, `started ${Math.abs(jStart - start)} ms apart`);

  // Jan pauses: both stop at the same frame
  await jan.page.locator('.watch-play').click();
  for (const b of [amina, jan]) await until(b, () => window.tandem.watch.video.paused && window.tandem.watch.state?.playing === false);
  await until(amina, () => !window.tandem.watch.video.seeking);
  await until(jan, () => !window.tandem.watch.video.seeking);
  const [pa, pj] = [await video(amina, 'v.currentTime'), await video(jan, 'v.currentTime')];
  assert.ok(Math.abs(pa - pj) < 0.1, `paused at ${pa} and ${pj}`);
  const st = await amina.page.evaluate(() => window.tandem.watch.state);
  assert.equal(st.cause, 'pause');
  assert.ok(Math.abs(pa - st.position) < 0.1);

  // Amina jumps to 12 s (the slider, as a person would), then plays again
  await amina.page.evaluate(() => {
    const s = document.querySelector('.watch-seek');
    s.value = '12';
    s.dispatchEvent(new Event('input'));
    s.dispatchEvent(new Event('change'));
  });
  for (const b of [amina, jan]) {
    await until(b, () => {
      const v = window.tandem.watch.video;
      return v.paused && !v.seeking && Math.abs(v.currentTime - 12) < 0.1;
    });
  }
  await Promise.all([startSampling(amina.page), startSampling(jan.page)]);
  await amina.page.locator('.watch-play').click();
  await bothPastTime(16);
  a = await takeSamples(amina.page);
  j = await takeSamples(jan.page);
  const restart = a.find((x) => x[2] === 0)[0];
  const after = stats(drifts(a, j, restart + 1500));
  report('drift after seek', after);
  assert.ok(after.p95 < 150, `p95 drift after seek ${after.p95} ms`);
  assert.deepEqual(errors, []);
});

test('a late joiner catches up with a film already playing', async () => {
  // Amina pauses at 2 s so the film has room to run, then plays; Jan leaves and comes back
  await amina.page.evaluate(() => {
    const s = document.querySelector('.watch-seek');
    s.value = '2';
    s.dispatchEvent(new Event('change'));
  });
  await until(amina, () => { const v = window.tandem.watch.video; return v.currentTime > 1.9 && v.currentTime < 4; });
  await jan.page.goto('about:blank');
  const state = await amina.page.evaluate(() => window.tandem.watch.state);
  if (!state.playing) await amina.page.locator('.watch-play').click();
  await until(amina, () => !window.tandem.watch.video.paused && window.tandem.watch.video.currentTime > 3);
  await startSampling(amina.page);
  const back = Date.now();
  await openHarness(jan, server.url, { room: ROOM, name: 'Jan', role: 'mentor' });
  await startSampling(jan.page);
  await until(jan, () => !window.tandem.watch.video.paused && window.tandem.watch.video.currentTime > 0);
  await until(amina, (t0) => window.tandem.samples.at(-1)[0] > t0 + 5000, back);
  const a = await takeSamples(amina.page);
  const j = await takeSamples(jan.page);
  const jStart = j.find((x) => x[2] === 0)[0];
  const conv = convergedAt(j, a, jStart, 50);
  assert.ok(conv !== null, 'the late joiner never came within 50 ms');
  console.log(`# late join: playing ${(jStart - back).toFixed(0)} ms after opening the page, within 50 ms ${(conv - jStart).toFixed(0)} ms later`);
  const late = stats(drifts(j, a, conv));
  report('drift after the late join converged', late);
  assert.ok(late.p95 < 150, `p95 drift ${late.p95} ms`);
  assert.deepEqual(errors, []);
});
