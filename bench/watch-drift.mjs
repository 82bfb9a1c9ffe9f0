#!/usr/bin/env node
// Watch-together in step: how far apart two real pages play one film. A benchmark, run by
// hand; it prints figures and asserts nothing.
//
//   node bench/watch-drift.mjs --all [--rounds 2]        every condition below, one after another
//   node bench/watch-drift.mjs [--rtt 150 --jitter 30] [--shift 2000] [--rounds 3]
//   TANDEM_BIN=build-release/tandem node bench/watch-drift.mjs --all   (default: build-release/)
//
// Two headless Chromium pages on the test page of tests/lib/watchpages.mjs (the real
// watch.mjs and clock.mjs), the real server, a 120 s test film made with ffmpeg. Each round:
// play, a jump while playing, pause, a jump while paused, play, then page B leaves and comes
// back while the film runs. Each page records (wall clock, currentTime) every 10 ms.
//
// Conditions: loopback; --rtt R --jitter J puts tests/lib/delayproxy.mjs between the pages and
// the server (WebSocket and HTTPS: every chunk each way delayed R/2 ± J/2 ms, order kept; this
// machine's kernel has no netem); --shift S moves page B's clock S ms ahead (Date.now and
// performance.timeOrigin), which its clock-offset estimate must absorb.
//
// Printed per condition: drift between the pages once in step (median/p95/p99/max), each page
// against the server's timeline, time to step after each kind of change (both within 30 ms of
// each other and of the timeline for 0.5 s), the late joiner, the clock-offset error, and one
// line per target of the issue: met / not met.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..');
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const ROUNDS = Math.max(1, Math.min(20, Number(opt('--rounds', args.includes('--all') ? '2' : '3'))));

if (!process.env.TANDEM_BIN) {
  for (const d of ['build-release', 'build', 'build-test']) {
    const bin = path.join(ROOT, d, 'tandem');
    if (existsSync(bin)) { process.env.TANDEM_BIN = bin; break; }
  }
}
if (!process.env.TANDEM_SOURCE_DIR) process.env.TANDEM_SOURCE_DIR = ROOT;

const CONDITIONS = args.includes('--all') ? [
  { name: 'loopback' },
  { name: '50 ms RTT ± 30 ms jitter', rtt: 50, jitter: 30 },
  { name: '150 ms RTT ± 30 ms jitter', rtt: 150, jitter: 30 },
  { name: "page B's clock 2 s ahead", shift: 2000 },
] : [{
  name: 'custom',
  rtt: Number(opt('--rtt', '0')),
  jitter: Number(opt('--jitter', '0')),
  shift: Number(opt('--shift', '0')),
}];

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));


async function runCondition(cond) {
  const { startTandem } = await import('../tests/lib/tandem.mjs');
  const { startDelayProxy } = await import('../tests/lib/delayproxy.mjs');
  const W = await import('../tests/lib/watchpages.mjs');
  const dir = mkdtempSync(path.join(tmpdir(), 'tandem-watch-bench-'));
  W.makeFilm(path.join(dir, 'media'), { seconds: 120, name: 'bench.webm' });
  const web = W.makeHarnessRoot(dir);
  const conf = path.join(dir, 'tandem.conf');
  writeFileSync(conf, `[sync]\nmedia_dir = ${path.join(dir, 'media')}\n`);
  // server time = its monotonic clock + (wall - monotonic) fixed at its start: note that now
  const wallMinusMono = () => Date.now() - Number(process.hrtime.bigint()) / 1e6;
  const server = await startTandem({ args: ['--web-root', web, '--config', conf], timeoutMs: 60000 });
  const startSkew = wallMinusMono();
  const delta = () => startSkew - wallMinusMono(); // server time minus wall clock
  let proxy = null;
  let base = server.url;
  if (cond.rtt) {
    const port = Number(new URL(server.url).port);
    proxy = await startDelayProxy({ host: '127.0.0.1', port }, { delayMs: cond.rtt / 2, jitterMs: (cond.jitter || 0) / 2 });
    base = `https://127.0.0.1:${proxy.port}`;
  }
  const errors = [];
  const pages = await Promise.all(['a', 'b'].map((l) => W.launchChromium(l, { errors, timeoutMs: 60000 })));
  const [A, B] = pages;
  // Every page keeps the machine's true clock for the samples; B may get a shifted one.
  for (const [p, shift] of [[A, 0], [B, cond.shift || 0]]) {
    await p.page.addInitScript((s) => {
      const origin = performance.timeOrigin;
      const dateNow = Date.now.bind(Date);
      window.trueWall = () => origin + performance.now();
      window.trueDateNow = dateNow;
      if (s) {
        Object.defineProperty(performance, 'timeOrigin', { get: () => origin + s });
        Date.now = () => dateNow() + s;
      }
    }, shift);
  }
  const res = { drift: [], ideal: [], conv: {}, after1s: [], late: [], lateDrift: [], late5s: [], lateOthersPaused: 0, clock: [] };
  try {
    const room = 'bench-room';
    await W.openHarness(A, base, { room, name: 'A' });
    await W.openHarness(B, base, { room, name: 'B' });
    await A.page.evaluate(() => window.tandem.signaling.send({ type: 'sync.load', source: 'media:bench.webm' }));
    for (const p of pages) await p.page.waitForFunction(() => window.tandem.watch.video.readyState >= 3, null, { timeout: 60000 });
    const t0 = Date.now();
    for (let r = 0; r < ROUNDS; r++) await round(W, A, B, base, room, res, delta, cond.shift || 0);
    console.error(`(${cond.name}: ${ROUNDS} rounds in ${((Date.now() - t0) / 1000).toFixed(0)} s)`);
  } finally {
    await Promise.allSettled(pages.map((p) => p.close()));
    if (proxy) await proxy.close();
    const r = await server.stop();
    rmSync(dir, { recursive: true, force: true });
    if (r.code !== 0) console.error(`server exit ${JSON.stringify(r)}`);
  }
  print(W, cond, res, errors);
}

/** Records (true wall clock, currentTime, paused) every `ms` in the page. */
function startSampling(p, ms) {
  return p.page.evaluate((every) => {
    const t = window.tandem;
    t.samples = [];
    clearInterval(t.sampler);
    t.sampler = setInterval(() => {
      const v = t.watch.video;
      if (t.samples.length < 30000) t.samples.push([window.trueWall(), v.currentTime, v.paused ? 1 : 0]);
    }, every);
  }, ms);
}
const takeSamples = (p) => p.page.evaluate(() => window.tandem.samples.slice());

/** Sends one sync operation from page p; resolves with the state it caused. */
async function op(p, msg) {
  return p.page.evaluate((m) => new Promise((resolve) => {
    const t = window.tandem;
    const before = t.watch.state?.seq ?? -1;
    const id = t.signaling.send({ ...m, seq: t.watch.state?.seq });
    const on = (ev) => {
      const x = ev.detail.msg;
      if (x.ref === id || (x.type === 'sync.state' && x.seq > before && x.by === t.welcome.you.id)) {
        t.signaling.removeEventListener('message', on);
        resolve(x);
      }
    };
    t.signaling.addEventListener('message', on);
  }), msg);
}

/** The page's clock-offset estimate against the truth (server and pages share one machine). */
async function clockError(p, delta) {
  const s = await p.page.evaluate(() => {
    let gap = 0; // this page's clock minus the true wall clock (its shift, if any)
    for (let i = 0; i < 20; i++) gap += performance.timeOrigin + performance.now() - window.trueDateNow();
    return { est: window.tandem.clock.offset, rtt: window.tandem.clock.rtt, gap: gap / 20 };
  });
  return { err: s.est - (delta() - s.gap), rtt: s.rtt };
}

async function round(W, A, B, base, room, res, delta) {
  const segments = [];
  await op(A, { type: 'sync.pause' });
  await op(A, { type: 'sync.seek', position: 1 });
  await sleep(800);
  await Promise.all([startSampling(A, 10), startSampling(B, 10)]);
  const mark = async (kind, p, msg, holdMs) => {
    const st = await op(p, msg);
    segments.push({ kind, st, atWall: st.at - delta() });
    await sleep(holdMs);
  };
  await mark('play', A, { type: 'sync.play' }, 6000);
  await mark('seek (playing)', B, { type: 'sync.seek', position: 30 }, 6000);
  await mark('pause', A, { type: 'sync.pause' }, 2500);
  await mark('seek (paused)', B, { type: 'sync.seek', position: 60 }, 2500);
  await mark('play', B, { type: 'sync.play' }, 6000);
  const a = await takeSamples(A);
  const b = await takeSamples(B);
  for (const p of [A, B]) res.clock.push(await clockError(p, delta));
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i];
    const end = i + 1 < segments.length ? segments[i + 1].atWall : a.at(-1)[0];
    const t = convergence(W, a, b, s, end, delta);
    (res.conv[s.kind] ||= []).push(t);
    const late = W.drifts(a, b, s.atWall + 1000, end);
    res.after1s.push(late.length ? Math.max(...late) : Infinity);
    if (s.st.playing && t !== null) {
      res.drift.push(...W.drifts(a, b, s.atWall + t, end));
      res.ideal.push(...idealErrors(a, s.st, s.atWall + t, end, delta), ...idealErrors(b, s.st, s.atWall + t, end, delta));
    }
  }
  // B leaves and comes back while the film runs
  await B.page.goto('about:blank');
  await startSampling(A, 10);
  const opened = Date.now();
  await W.openHarness(B, base, { room, name: 'B' });
  await startSampling(B, 10);
  await B.page.waitForFunction(() => window.tandem.watch.video.readyState >= 3, null, { timeout: 60000 });
  const ready = await B.page.evaluate(() => window.trueWall());
  await B.page.waitForFunction(() => !window.tandem.watch.video.paused, null, { timeout: 60000 });
  await sleep(8000);
  const a2 = await takeSamples(A);
  const b2 = await takeSamples(B);
  const conv = W.convergedAt(b2, a2, opened, 30, 500);
  res.late.push(conv === null ? null : conv - opened);
  if (conv !== null) res.lateDrift.push(...W.drifts(b2, a2, conv));
  const after5 = W.drifts(b2, a2, ready + 5000);
  res.late5s.push(after5.length ? Math.max(...after5) : Infinity);
  res.lateOthersPaused += a2.filter((x) => x[2] === 1).length;
}

/** ms after the effective time until both pages are in step with the server's timeline. */
function convergence(W, a, b, seg, end, delta) {
  const st = seg.st;
  if (!st.playing) {
    const ok = (s) => s.find((x) => x[0] >= seg.atWall && x[2] === 1 && Math.abs(x[1] - st.position) < 0.04)?.[0];
    const ta = ok(a);
    const tb = ok(b);
    return ta && tb ? Math.max(ta, tb) - seg.atWall : null;
  }
  const hold = 500;
  let since = null;
  for (const [w, c] of a) {
    if (w < seg.atWall || w > end) continue;
    const target = st.position + ((w + delta() - st.at) / 1000) * st.rate;
    const other = W.drifts([[w, c]], b)[0];
    const fine = other !== undefined && other <= 30 && Math.abs(c - target) * 1000 <= 30;
    if (fine) {
      if (since === null) since = w;
      if (w - since >= hold) return since - seg.atWall;
    } else {
      since = null;
    }
  }
  return null;
}

function idealErrors(s, st, from, to, delta) {
  const out = [];
  for (const [w, c, paused] of s) {
    if (w < from || w > to || paused) continue;
    out.push((c - (st.position + ((w + delta() - st.at) / 1000) * st.rate)) * 1000);
  }
  return out;
}

function print(W, cond, res, errors) {
  const f = (x) => (x === null || x === undefined || Number.isNaN(x) ? 'n/a' : x.toFixed(1));
  const line = (label, s) => console.log(`  ${label.padEnd(50)} n=${String(s.n).padStart(6)}  median ${f(s.median).padStart(7)}  p95 ${f(s.p95).padStart(7)}  p99 ${f(s.p99).padStart(7)}  max ${f(s.max).padStart(7)}`);
  console.log(`\n== ${cond.name}: ${ROUNDS} rounds (ms)`);
  const drift = W.stats(res.drift);
  line('drift between the pages, once in step', drift);
  line('each page vs the server timeline, in step', W.stats(res.ideal.map(Math.abs)));
  console.log(`    (signed median ${f(W.stats(res.ideal).median)} ms; positive = ahead of the timeline)`);
  for (const [kind, ts] of Object.entries(res.conv)) {
    const ok = ts.filter((x) => x !== null);
    line(`time to step after ${kind}`, W.stats(ok));
    if (ok.length < ts.length) console.log(`    ${ts.length - ok.length} of ${ts.length} never got within 30 ms for 0.5 s`);
  }
  line('worst drift from 1 s after a change, per change', W.stats(res.after1s));
  const late = res.late.filter((x) => x !== null);
  line('late join: page opened -> in step (30 ms)', W.stats(late));
  line('late joiner vs the other page, once in step', W.stats(res.lateDrift));
  line('late joiner: worst drift from 5 s after ready', W.stats(res.late5s));
  line('|clock offset error| per page', W.stats(res.clock.map((c) => Math.abs(c.err))));
  line('RTT of the sample the clock uses', W.stats(res.clock.map((c) => c.rtt)));
  const target = (what, ok) => console.log(`  target ${what}: ${ok ? 'met' : 'NOT met'}`);
  target('drift p95 < 50 ms', drift.p95 < 50);
  target('drift p99 < 100 ms', drift.p99 < 100);
  target('within 100 ms of each other 1 s after every play/pause/seek', res.after1s.every((x) => x <= 100));
  target('late joiner within 200 ms 5 s after its media is ready', res.late5s.every((x) => x <= 200));
  target('nobody paused for the late joiner', res.lateOthersPaused === 0);
  if (errors.length) console.log(`  page errors: ${errors.join('; ')}`);
}

// (last: the helpers above are defined by now)
for (const cond of CONDITIONS) await runCondition(cond);
