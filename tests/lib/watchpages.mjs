// Helpers for the watch-together and chat browser tests and bench/watch-drift.mjs:
// a test film made with Debian's ffmpeg, a copy of web/ with a small test page that mounts
// the watch and chat panels on their own (no call), Chromium started by us so that it can
// be stopped by its PID, and the drift figures between two pages.
import { spawn, execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { reapOnExit } from './reaper.mjs';
import { SOURCE_DIR } from './tandem.mjs';

export const CHROMIUM_ARGS = ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic',
  '--no-first-run', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--autoplay-policy=no-user-gesture-required', '--ignore-certificate-errors',
  '--no-default-browser-check', '--password-store=basic', '--mute-audio',
  // a hidden or headless page must keep its timers and its film running at full pace
  '--disable-background-timer-throttling', '--disable-renderer-backgrounding',
  '--disable-backgrounding-occluded-windows'];

/**
 * A film of `seconds` s, 320x240 at 25 fps with its time and frame number drawn on every
 * frame, VP8 + Opus in WebM (every browser plays it), a keyframe every 0.4 s so that
 * seeking is quick. Returns the file's path.
 */
export function makeFilm(dir, { seconds = 20, name = 'test film.webm' } = {}) {
  mkdirSync(dir, { recursive: true });
  const out = path.join(dir, name);
  const text = "drawtext=text='%{pts\\:hms} frame %{n}':x=10:y=10:fontsize=24:fontcolor=white:box=1:boxcolor=black";
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', `testsrc=size=320x240:rate=25:duration=${seconds}`,
    '-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=48000:duration=${seconds}`,
    '-vf', text, '-c:v', 'libvpx', '-b:v', '300k', '-g', '10', '-deadline', 'realtime',
    '-c:a', 'libopus', '-b:a', '48k', '-shortest', out], { stdio: ['ignore', 'ignore', 'pipe'] });
  return out;
}

const HARNESS_HTML = `<!doctype html>
<html lang="en" dir="ltr">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Tandem: watch and chat test page</title>
  <link rel="icon" href="/img/icon.svg" type="image/svg+xml">
  <link rel="stylesheet" href="/css/app.css">
  <link rel="stylesheet" href="/css/watch.css">
  <link rel="stylesheet" href="/css/chat.css">
  <script type="module" src="/harness.mjs"></script>
</head>
<body><main id="main" class="page"><div id="watch"></div><div id="chat"></div></main></body>
</html>
`;

// Joins ?room=&name=&role= and mounts both panels, as the room page does.
const HARNESS_JS = `import { Signaling } from '/js/signaling.mjs';
import { initI18n, t } from '/js/i18n.mjs';
import { ServerClock } from '/js/clock.mjs';
import { mountWatch } from '/js/watch.mjs';
import { mountChat } from '/js/chat.mjs';

const q = new URLSearchParams(location.search);
const join = { type: 'join', room: q.get('room'), name: q.get('name'), role: q.get('role') || 'mentee' };
await initI18n();
const signaling = new Signaling();
const clock = new ServerClock(signaling);
const watch = mountWatch(document.getElementById('watch'), { signaling, t, clock, participants: [] });
const chat = mountChat(document.getElementById('chat'), { signaling, t, participants: [] });
const tandem = { signaling, clock, watch, chat, welcome: null, samples: [] };
window.tandem = tandem;
signaling.addEventListener('open', () => signaling.send(join));
signaling.addEventListener('message', (ev) => {
  const msg = ev.detail.msg;
  if (msg.type !== 'welcome') return;
  tandem.welcome = msg;
  signaling.resetBackoff();
  signaling.setKeepalive(msg.keepalive_s);
  clock.seed(msg.server_time);
  clock.start();
});
signaling.connect();
`;

/** A copy of web/ with the test page at /harness.html. Returns its path. */
export function makeHarnessRoot(dir) {
  const root = path.join(dir, 'web');
  cpSync(path.join(SOURCE_DIR, 'web'), root, { recursive: true });
  writeFileSync(path.join(root, 'harness.html'), HARNESS_HTML);
  writeFileSync(path.join(root, 'harness.mjs'), HARNESS_JS);
  return root;
}

/** Kills child (SIGTERM, then SIGKILL after graceMs); resolves when it is gone. */
export function killChild(child, graceMs = 5000) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => { try { process.kill(child.pid, 'SIGKILL'); } catch { /* gone */ } }, graceMs);
    child.once('exit', () => { clearTimeout(t); resolve(); });
    try { process.kill(child.pid, 'SIGTERM'); } catch { clearTimeout(t); resolve(); }
  });
}

/** Starts Debian's Chromium with a DevTools port; resolves with { pid, page, close() }. */
export async function launchChromium(label, { timeoutMs = 30000, errors = [] } = {}) {
  const { chromium } = await import('playwright-core');
  const dir = mkdtempSync(path.join(tmpdir(), `tandem-watch-${label}-`));
  const child = spawn('/usr/bin/chromium', [...CHROMIUM_ARGS, '--remote-debugging-port=0',
    '--remote-debugging-address=127.0.0.1', `--user-data-dir=${dir}`, 'about:blank'],
  { stdio: ['ignore', 'ignore', 'pipe'] });
  reapOnExit(child); // a browser the test could not close is killed when the test process ends
  let err = '';
  let browser;
  try {
    const endpoint = await new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`${label}: Chromium did not start:\n${err}`)), timeoutMs);
      child.stderr.on('data', (d) => {
        err += d;
        const m = /DevTools listening on (ws:\/\/\S+)/.exec(err);
        if (m) { clearTimeout(t); resolve(m[1]); }
      });
      child.on('exit', (code) => { clearTimeout(t); reject(new Error(`${label}: Chromium exited (${code}):\n${err}`)); });
    });
    browser = await chromium.connectOverCDP(endpoint, { timeout: timeoutMs });
  } catch (e) {
    await killChild(child);
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  const context = browser.contexts()[0];
  const page = context.pages()[0] || await context.newPage();
  page.setDefaultTimeout(timeoutMs);
  page.on('pageerror', (e) => errors.push(`${label}: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`${label} console: ${m.text()}`); });
  return {
    label, pid: child.pid, page,
    async close() {
      try { await Promise.race([browser.close(), new Promise((r) => setTimeout(r, 5000))]); } catch { /* killed below */ }
      await killChild(child);
      // Chromium's helpers may still be writing there for a moment after it exits
      try { rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 300 }); } catch { /* a temp dir */ }
    },
  };
}

/** Opens the test page in `b` and waits (bounded) until it has joined and has a clock. */
export async function openHarness(b, baseUrl, { room, name, role = 'mentee' }) {
  const q = new URLSearchParams({ room, name, role });
  await b.page.goto(`${baseUrl}/harness.html?${q}`);
  await b.page.waitForFunction(() => window.tandem?.welcome && window.tandem.clock.rtt < Infinity);
}

/** Starts recording (wall clock, currentTime) every `everyMs` in the page; wall clock is
 *  performance.timeOrigin + performance.now(), the same clock in every page on one machine. */
export function startSampling(page, everyMs = 20) {
  return page.evaluate((ms) => {
    const t = window.tandem;
    t.samples = [];
    clearInterval(t.sampler);
    t.sampler = setInterval(() => {
      const v = t.watch.video;
      t.samples.push([performance.timeOrigin + performance.now(), v.currentTime, v.paused ? 1 : 0,
        t.clock.offset]);
      if (t.samples.length > 20000) t.samples.shift();
    }, ms);
  }, everyMs);
}

export function takeSamples(page) {
  return page.evaluate(() => window.tandem.samples.slice());
}

/** currentTime of samples `s` at wall time w, linear between neighbours (null outside). */
function interpolate(s, w) {
  let lo = 0;
  let hi = s.length - 1;
  if (!s.length || w < s[0][0] || w > s[hi][0]) return null;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (s[mid][0] <= w) lo = mid; else hi = mid;
  }
  const [w0, c0] = s[lo];
  const [w1, c1] = s[hi];
  return w1 === w0 ? c0 : c0 + ((c1 - c0) * (w - w0)) / (w1 - w0);
}

/** |a - b| in ms for every sample of a in [from, to] (wall ms), with b interpolated. */
export function drifts(a, b, from = -Infinity, to = Infinity) {
  const out = [];
  for (const [w, c] of a) {
    if (w < from || w > to) continue;
    const other = interpolate(b, w);
    if (other !== null) out.push(Math.abs(c - other) * 1000);
  }
  return out;
}

export function stats(values) {
  if (!values.length) return { n: 0, median: NaN, p95: NaN, p99: NaN, max: NaN };
  const v = [...values].sort((x, y) => x - y);
  const q = (p) => v[Math.min(v.length - 1, Math.floor(p * v.length))];
  return { n: v.length, median: q(0.5), p95: q(0.95), p99: q(0.99), max: v[v.length - 1] };
}

/** Wall time (ms) after `from` at which the drift first stays under `limitMs` for `holdMs`. */
export function convergedAt(a, b, from, limitMs = 30, holdMs = 500) {
  let since = null;
  for (const [w, c] of a) {
    if (w < from) continue;
    const other = interpolate(b, w);
    if (other === null) continue;
    if (Math.abs(c - other) * 1000 <= limitMs) {
      if (since === null) since = w;
      if (w - since >= holdMs) return since;
    } else {
      since = null;
    }
  }
  return null;
}
