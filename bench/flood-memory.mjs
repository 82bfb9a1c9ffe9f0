#!/usr/bin/env node
// A flood of bad and heavy signaling input against the real server: what it costs in memory
// before, during and after, and whether a calm room on the same server notices. A benchmark,
// run by hand; it prints figures and asserts nothing.
//
//   node bench/flood-memory.mjs [--seconds 20] [--attackers 400] [--after 30] [--media]
//   TANDEM_BIN=build-release/tandem node bench/flood-memory.mjs   (default: build-release/)
//
// The server runs with its default limits (open rooms, so attackers need no invite: the
// worst case). Attackers come from many loopback addresses (127.0.1.x), 40 per address, so
// the per-address cap is not what stops them. Each attacker loops until the flood ends,
// connecting again whenever the server closes it:
//   garbage  non-JSON text as fast as the socket takes it (rate limit, then close 1008)
//   big      one 1 MiB message (refused from its header, before it is buffered)
//   chat     joins one of 200 rooms and sends 2000-byte texts (rate limit; history ring)
//   upload   joins a room and uploads 2 MiB pictures that never finish (upload slots, idle
//            time-out)
//   rooms    joins a new room, leaves, joins the next (room churn up to max_rooms)
//   slow     a TCP connection that never starts TLS (handshake time-out)
// A calm room of two pings every 100 ms and sends a chat line every second throughout.
// With --media (root: it makes a private network namespace, tests/lib/netns.mjs) two
// headless Chromium pages are also in a video call in another room, and their getStats()
// figures (frames per second, freezes, lost packets, jitter, concealed audio) are compared
// at rest and during the flood. Attackers then come from 198.18.0.10-29.
//
// Printed: the server's resident memory (VmRSS from /proc) at rest, at its peak during the
// flood and 1, 5, 15 and 30 s after it ended; the calm room's ping round trip and chat
// delivery (median / p99 / max) before and during the flood; what the attackers got back;
// how many log lines the server wrote during the flood.
import net from 'node:net';
import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import WebSocket from 'ws';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..');
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  if (i < 0) return dflt;
  const v = Number(args[i + 1]);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name}: a positive number`);
  return v;
};
const MEDIA = args.includes('--media');
const SECONDS = opt('seconds', 20);
const ATTACKERS = Math.min(opt('attackers', 400), 1900); // the server allows 2000 connections
const AFTER = opt('after', 30);
const PER_ADDRESS = 40;

if (!process.env.TANDEM_BIN) process.env.TANDEM_BIN = path.join(ROOT, 'build-release', 'tandem');
if (!existsSync(process.env.TANDEM_BIN)) {
  console.error(`no server binary at ${process.env.TANDEM_BIN} (scripts/start.sh builds build-release/)`);
  process.exit(2);
}
const { startTandem } = await import('../tests/lib/tandem.mjs');
const netns = await import('../tests/lib/netns.mjs');
if (MEDIA && isMainThread && !netns.insideNetns()) {
  // Again, inside a private network namespace of its own (browsers and server together).
  const { spawnSync } = await import('node:child_process');
  const r = spawnSync('unshare', ['-n', '--', process.execPath, fileURLToPath(import.meta.url), ...args],
    { stdio: 'inherit', env: { ...process.env, TANDEM_NETNS: '1' }, timeout: (SECONDS + AFTER + 300) * 1000 });
  process.exit(r.status ?? 1);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const quantile = (xs, q) => {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};
const fmt = (xs) => (xs.length ? `${quantile(xs, 0.5).toFixed(1)} / ${quantile(xs, 0.99).toFixed(1)} / ${Math.max(...xs).toFixed(1)} ms (n=${xs.length})` : '-');

function rssKiB(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

// ---- the calm room (a thread of its own: the attackers' event loop must not delay it) --
function calmRoom({ wsUrl }) {
  const open = () => new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl, ['tandem.v1'], { rejectUnauthorized: false });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
  const phase = { name: 'rest' };
  const pings = { rest: [], flood: [], after: [] };
  const chats = { rest: [], flood: [], after: [] };
  const sentAt = new Map();
  let errors = 0;
  let seq = 0;
  let pinger = null;
  let a = null;
  let b = null;
  parentPort.on('message', (m) => {
    if (m.phase) phase.name = m.phase;
    if (m.stop) {
      clearInterval(pinger);
      a?.close();
      b?.close();
      const unanswered = [...sentAt.keys()].filter((x) => x.startsWith('p')).length;
      parentPort.postMessage({ pings, chats, errors, unanswered });
    }
  });
  (async () => {
    a = await open();
    b = await open();
    a.on('message', (d) => {
      const m = JSON.parse(d);
      if (m.type === 'pong' && sentAt.has(m.ref)) {
        pings[phase.name].push(performance.now() - sentAt.get(m.ref));
        sentAt.delete(m.ref);
      }
      if (m.type === 'error') errors++;
    });
    b.on('message', (d) => {
      const m = JSON.parse(d);
      const k = m.type === 'chat.message' && /^calm (\d+)$/.exec(m.message?.text ?? '');
      if (k && sentAt.has(`c${k[1]}`)) {
        chats[phase.name].push(performance.now() - sentAt.get(`c${k[1]}`));
        sentAt.delete(`c${k[1]}`);
      }
      if (m.type === 'error') errors++;
    });
    a.send(JSON.stringify({ type: 'join', room: 'calm-room', name: 'A', role: 'mentor' }));
    b.send(JSON.stringify({ type: 'join', room: 'calm-room', name: 'B', role: 'mentee' }));
    pinger = setInterval(() => {
      const id = `p${++seq}`;
      sentAt.set(id, performance.now());
      a.send(JSON.stringify({ type: 'ping', id }));
      if (seq % 10 === 0) {
        sentAt.set(`c${seq}`, performance.now());
        a.send(JSON.stringify({ type: 'chat.send', text: `calm ${seq}` }));
      }
    }, 100);
    parentPort.postMessage({ ready: true });
  })().catch((err) => parentPort.postMessage({ failed: String(err) }));
}
if (!isMainThread) {
  calmRoom(workerData);
} else {
  await main();
}

// ---- the media call (with --media): two Chromium pages in a room of their own ------------
async function startCall(server) {
  const { launchChromium } = await import('../tests/lib/browsers.mjs');
  const { pageJoin, pageStats } = await import('../tests/lib/callclient.mjs');
  const pages = [];
  for (const label of ['Lina', 'Noor']) {
    const b = await launchChromium(`flood-${label}`);
    pages.push({ label, b });
    await b.page.goto(`${server.url}/`);
    await b.page.evaluate(pageJoin, { wsUrl: server.wsUrl, room: 'media-room', name: label });
  }
  const samples = { rest: [], flood: [], after: [] };
  const take = async () => Promise.all(pages.map(async (p) => {
    const s = await p.b.page.evaluate(pageStats);
    const r = Object.values(s.remote)[0] || {};
    return { t: performance.now(), ...r };
  }));
  // until both decode the other's video
  for (let i = 0; i < 120; i++) {
    const now = await take();
    if (now.every((r) => r.framesDecoded > 0)) break;
    await sleep(250);
  }
  let prev = await take();
  let timer = null;
  const phaseRef = { name: 'rest' };
  const tick = async () => {
    const cur = await take();
    samples[phaseRef.name].push(cur.map((c, i) => ({ prev: prev[i], cur: c })));
    prev = cur;
    timer = setTimeout(tick, 1000);
  };
  timer = setTimeout(tick, 1000);
  return {
    phaseRef,
    /** Per phase and page: fps, freezes, lost packets, jitter-ish concealment. */
    summary() {
      const out = {};
      for (const [ph, list] of Object.entries(samples)) {
        if (!list.length) continue;
        out[ph] = pages.map((p, i) => {
          const first = list[0][i].prev;
          const last = list[list.length - 1][i].cur;
          const dt = (last.t - first.t) / 1000;
          const fpsEach = list.map((x) => (x[i].cur.framesDecoded - x[i].prev.framesDecoded) / ((x[i].cur.t - x[i].prev.t) / 1000));
          return {
            page: p.label,
            fps: (last.framesDecoded - first.framesDecoded) / dt,
            minFps: Math.min(...fpsEach),
            freezes: (last.freezes || 0) - (first.freezes || 0),
            freezeS: (last.freezeSeconds || 0) - (first.freezeSeconds || 0),
            videoLost: (last.videoLost || 0) - (first.videoLost || 0),
            videoPackets: (last.videoPackets || 0) - (first.videoPackets || 0),
            concealed: ((last.concealedSamples || 0) - (first.concealedSamples || 0)) /
              Math.max(1, (last.totalSamples || 0) - (first.totalSamples || 0)),
            seconds: dt,
          };
        });
      }
      return out;
    },
    async stop() {
      clearTimeout(timer);
      await Promise.all(pages.map((p) => p.b.close().catch(() => {})));
    },
  };
}

async function main() {
let listen = '127.0.0.1';
let extra = [];
let attackerAddr = (k) => `127.0.1.${1 + Math.floor(k / PER_ADDRESS)}`;
if (MEDIA) {
  netns.setupNetns();
  const { execFileSync } = await import('node:child_process');
  for (let i = 10; i < 30; i++) execFileSync('ip', ['addr', 'add', `198.18.0.${i}/24`, 'dev', 'sfu1']);
  listen = netns.SERVER_ADDR;
  extra = ['--media-address', netns.SERVER_ADDR];
  attackerAddr = (k) => `198.18.0.${10 + (Math.floor(k / PER_ADDRESS) % 20)}`;
}
const srv = await startTandem({ listen, args: ['--media-workers', '1', ...extra] });
const wsOpts = (localAddress) => ({ rejectUnauthorized: false, localAddress, maxPayload: 1 << 20 });
const call = MEDIA ? await startCall(srv) : null;
const phase = { name: 'rest' };
const calm = new Worker(fileURLToPath(import.meta.url), { workerData: { wsUrl: srv.wsUrl } });
const calmReady = await new Promise((resolve) => calm.once('message', resolve));
if (!calmReady.ready) throw new Error(`calm room: ${calmReady.failed}`);
const setPhase = (name) => {
  phase.name = name;
  calm.postMessage({ phase: name });
  if (call) call.phaseRef.name = name;
};

// ---- memory sampling ----------------------------------------------------------------------
const rss = { rest: [], flood: [] };
const sampler = setInterval(() => {
  if (rss[phase.name]) rss[phase.name].push(rssKiB(srv.pid));
}, 200);

await sleep(MEDIA ? 10000 : 3000); // with a call: ten 1 s media samples at rest
const restKiB = quantile(rss.rest, 0.5);

// ---- the flood ----------------------------------------------------------------------------
const outcome = new Map(); // what attackers got back: error codes, close codes
const count = (k) => outcome.set(k, (outcome.get(k) || 0) + 1);
const sockets = new Set();
let floodEnd = 0;
let roomSeq = 0;
const KINDS = [['garbage', 0.2], ['big', 0.1], ['chat', 0.3], ['upload', 0.2], ['rooms', 0.1], ['slow', 0.1]];
const bigMessage = 'x'.repeat(1 << 20);
const text2000 = 'é'.repeat(1000); // 2000 bytes of UTF-8
const chunk = Buffer.alloc(36864, 0xab).toString('base64url');

function attackOnce(kind, k, localAddress) {
  return new Promise((resolve) => {
    if (Date.now() >= floodEnd) return resolve();
    if (kind === 'slow') {
      const s = net.connect({ host: srv.host, port: srv.port, localAddress });
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => { sockets.delete(s); count('slow: closed by server'); resolve(); });
      return;
    }
    const ws = new WebSocket(srv.wsUrl, ['tandem.v1'], wsOpts(localAddress));
    sockets.add(ws);
    let timer = null;
    const done = () => { clearInterval(timer); sockets.delete(ws); resolve(); };
    ws.on('error', (e) => { count(`${kind}: ${/\d{3}/.exec(e.message)?.[0] ?? 'socket error'}`); });
    ws.on('close', (code) => { count(`${kind}: close ${code}`); done(); });
    ws.on('message', (d) => {
      let m;
      try { m = JSON.parse(d); } catch { return; }
      if (m.type === 'error') count(`${kind}: ${m.code}`);
      if (m.type === 'chat.upload' && m.received === 0) {
        let off = 0;
        const up = m.upload;
        clearInterval(timer);
        timer = setInterval(() => { // a piece every 20 ms, never the last one
          if (ws.readyState !== WebSocket.OPEN) return;
          if (off + 36864 >= 2097152) {
            ws.send(JSON.stringify({ type: 'chat.picture', mime: 'image/jpeg', size: 2097152 }));
            clearInterval(timer);
            return;
          }
          ws.send(JSON.stringify({ type: 'chat.picture.chunk', upload: up, offset: off, data: chunk }));
          off += 36864;
        }, 20);
      }
    });
    ws.on('open', () => {
      const send = (o) => ws.readyState === WebSocket.OPEN && ws.send(typeof o === 'string' ? o : JSON.stringify(o));
      if (kind === 'garbage') timer = setInterval(() => { for (let i = 0; i < 20; i++) send('x{not json'); }, 10);
      else if (kind === 'big') send(bigMessage);
      else if (kind === 'chat') {
        send({ type: 'join', room: `flood-${k % 200}`, name: `F${k}`, role: 'mentee' });
        timer = setInterval(() => send({ type: 'chat.send', text: text2000 }), 25);
      } else if (kind === 'upload') {
        send({ type: 'join', room: `flood-${k % 200}`, name: `U${k}`, role: 'mentee' });
        send({ type: 'chat.picture', mime: 'image/jpeg', size: 2097152 });
      } else if (kind === 'rooms') {
        let n = 0;
        timer = setInterval(() => {
          if (n++ % 2 === 0) send({ type: 'join', room: `churn-${++roomSeq}`, name: 'R', role: 'mentee' });
          else send({ type: 'leave' });
        }, 50);
      }
    });
  });
}

async function attacker(kind, k) {
  const localAddress = attackerAddr(k);
  for (let round = 0; round < 100000 && Date.now() < floodEnd; round++) {
    await attackOnce(kind, k, localAddress);
    await sleep(50); // and again
  }
}

const logBefore = srv.stderr.split('\n').length - 1;
setPhase('flood');
floodEnd = Date.now() + SECONDS * 1000;
const attackers = [];
let k = 0;
for (const [kind, share] of KINDS) {
  for (let i = 0; i < Math.round(ATTACKERS * share); i++, k++) attackers.push(attacker(kind, k));
}
await sleep(SECONDS * 1000);
setPhase('after');
for (const s of sockets) (s.terminate ? s.terminate() : s.destroy());
await Promise.race([Promise.all(attackers), sleep(15000)]);
const logLines = srv.stderr.split('\n').slice(logBefore, -1);
const peakKiB = Math.max(...rss.flood);

const afterKiB = [];
const t0 = Date.now();
for (const at of [1, 5, 15, 30, 60].filter((s) => s <= AFTER)) {
  await sleep(Math.max(0, t0 + at * 1000 - Date.now()));
  afterKiB.push([at, rssKiB(srv.pid)]);
}
clearInterval(sampler);
const calmResult = await new Promise((resolve) => {
  calm.once('message', resolve);
  calm.postMessage({ stop: true });
});
await calm.terminate();
const media = call ? call.summary() : null;
if (call) await call.stop();
const { pings, chats } = calmResult;
const stopped = await srv.stop();

const mib = (kib) => `${(kib / 1024).toFixed(1)} MiB`;
console.log(`flood-memory: ${ATTACKERS} attackers for ${SECONDS} s against ${process.env.TANDEM_BIN}`);
console.log(`  server memory (VmRSS): at rest ${mib(restKiB)}, flood peak ${mib(peakKiB)}`);
for (const [at, kib] of afterKiB) console.log(`    ${String(at).padStart(2)} s after the flood: ${mib(kib)} (${((kib - restKiB) / 1024).toFixed(1)} MiB above rest)`);
console.log(`  calm room ping round trip (median / p99 / max): at rest ${fmt(pings.rest)}`);
console.log(`                                                during the flood ${fmt(pings.flood)}`);
console.log(`  calm room chat delivery A -> B:               at rest ${fmt(chats.rest)}`);
console.log(`                                                during the flood ${fmt(chats.flood)}`);
console.log(`  calm room errors: ${calmResult.errors}; pings unanswered: ${calmResult.unanswered}`);
console.log(`  server log lines written during the flood: ${logLines.length}, most common (numbers as #):`);
const kinds = new Map();
for (const line of logLines) {
  const key = line.replace(/^\S+ \S+ /, '').replace(/\d+/g, '#').slice(0, 90);
  kinds.set(key, (kinds.get(key) || 0) + 1);
}
for (const [key, n] of [...kinds].sort((x, y) => y[1] - x[1]).slice(0, 8)) console.log(`    ${String(n).padStart(6)}  ${key}`);
console.log('  what the attackers got back:');
for (const [key, n] of [...outcome].sort()) console.log(`    ${key.padEnd(40)} ${n}`);
if (media) {
  console.log('  video call in another room (getStats of each page, per phase):');
  console.log('    phase   page  fps (min 1 s)   freezes (s)   video lost/packets   audio concealed');
  for (const [ph, rows] of Object.entries(media)) {
    for (const r of rows) {
      console.log(`    ${ph.padEnd(7)} ${r.page.padEnd(5)} ${r.fps.toFixed(1).padStart(4)} (${r.minFps.toFixed(0).padStart(2)})` +
        `       ${String(r.freezes).padStart(2)} (${r.freezeS.toFixed(2)})   ${String(r.videoLost).padStart(5)}/${String(r.videoPackets).padEnd(6)}` +
        `        ${(100 * r.concealed).toFixed(2)} %   over ${r.seconds.toFixed(0)} s`);
    }
  }
}
console.log(`  server exit: ${JSON.stringify(stopped)}`);
process.exit(0);
}
