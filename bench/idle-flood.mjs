#!/usr/bin/env node
// Issue 11 part 2, measured: while 2,000 sockets that send nothing (or trickle a ClientHello,
// or leave a TLS handshake hanging) are held against the HTTPS port and reopened as soon as
// they close, how long does a new page load and a new join (a real `join` with an invite)
// from another address take? A benchmark, run by hand; it prints figures and asserts nothing.
//
//   node bench/idle-flood.mjs [--sockets 2000] [--tries 100] [--only idle-1,trickle]
//   TANDEM_BIN=build-rel/tandem node bench/idle-flood.mjs   (default: build-rel/tandem)
//
// The server runs with its default limits and closed rooms (invites needed). Attacks, one
// after the other, each from a worker thread (its event loop apart from the probes'):
//   none       no attack
//   idle-1     sockets that send nothing, all from 127.0.0.2
//   idle-50    sockets that send nothing, from 127.0.0.2 to 127.0.0.51
//   trickle    one byte of a ClientHello per second per socket, from 50 addresses
//   hello      a whole ClientHello, then nothing (a TLS handshake left hanging), 50 addresses
// Each probe is a page load (HTTPS GET /, a new connection) then a join (a new WebSocket,
// join with a valid mentee invite, until `welcome`) from 127.0.0.1, one after the other.
// Printed per attack: p50 / p99 / max of both in ms, failures (over 10 s or refused), the
// attack sockets opened and closed while it ran, the server's CPU use, and its VmRSS (from /proc) before,
// at the end of the attack, and 6 s after the last attack (the server trims every 5 s).
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..');
process.env.TANDEM_SOURCE_DIR ||= ROOT;
process.env.TANDEM_BIN ||= path.join(ROOT, 'build-rel', 'tandem');
if (!existsSync(process.env.TANDEM_BIN)) {
  console.error(`no server binary at ${process.env.TANDEM_BIN}: build it, or set TANDEM_BIN`);
  process.exit(2);
}
const { startTandem, mintInvite } = await import('../tests/lib/tandem.mjs');
const { holdIdleInWorker, timePageLoad, timeJoin, percentiles, vmRssKiB, cpuSeconds } =
  await import('../tests/lib/idleflood.mjs');

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const SOCKETS = Number(opt('sockets', 2000));
const TRIES = Number(opt('tries', 100));
const addrs = (n) => Array.from({ length: n }, (_, i) => `127.0.0.${i + 2}`);
const ATTACKS = [
  { name: 'none' },
  { name: 'idle-1', sources: addrs(1) },
  { name: 'idle-50', sources: addrs(50) },
  { name: 'trickle', sources: addrs(50), trickle: true, trickleMs: 1000 },
  { name: 'hello', sources: addrs(50), hello: true },
];
const only = opt('only', null)?.split(',');

const srv = await startTandem({ openRooms: false });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const fmt = (p) => `p50 ${p.p50.toFixed(1)}  p99 ${p.p99.toFixed(1)}  max ${p.max.toFixed(1)}`;
const mib = (k) => `${(k / 1024).toFixed(1)} MiB`;
try {
  const token = mintInvite({ room: 'bench-room', role: 'mentee' });
  const at = { host: '127.0.0.1', port: srv.port, timeoutMs: 10000 };
  const rssStart = await vmRssKiB(srv.pid);
  console.log(`server VmRSS at rest: ${mib(rssStart)}; ${SOCKETS} attack sockets, ${TRIES} tries`);
  for (const a of ATTACKS) {
    if (only && !only.includes(a.name)) continue;
    const before = await vmRssKiB(srv.pid);
    const flood = a.name === 'none' ? null : await holdIdleInWorker({
      host: '127.0.0.1', port: srv.port, count: SOCKETS, sources: a.sources,
      trickle: a.trickle, trickleMs: a.trickleMs, hello: a.hello,
    }, 30000);
    if (flood) await sleep(3000); // past the first hello deadline: sockets are being reopened
    const pages = [], joins = [];
    const cpu0 = await cpuSeconds(srv.pid), t0 = performance.now();
    let failures = 0, peak = 0;
    const why = new Map();
    const fail = (what) => (e) => {
      failures++;
      const k = `${what}: ${e.message}`;
      why.set(k, (why.get(k) || 0) + 1);
    };
    for (let i = 0; i < TRIES; i++) {
      await timePageLoad({ ...at, path: '/' }).then((ms) => pages.push(ms), fail('page'));
      await timeJoin({ ...at, room: 'bench-room', token }).then((ms) => joins.push(ms), fail('join'));
      if (i % 10 === 0) peak = Math.max(peak, await vmRssKiB(srv.pid));
    }
    const during = await vmRssKiB(srv.pid);
    const cpu = (await cpuSeconds(srv.pid) - cpu0) / ((performance.now() - t0) / 1000);
    peak = Math.max(peak, during);
    const stats = flood ? { ...flood.stats } : null;
    if (flood) await flood.stop();
    console.log(`\n${a.name}:`);
    if (pages.length) console.log(`  page load ms  ${fmt(percentiles(pages))}`);
    if (joins.length) console.log(`  join ms       ${fmt(percentiles(joins))}`);
    console.log(`  failures      ${failures} of ${2 * TRIES}`);
    for (const [k, n] of why) console.log(`    ${n} x ${k}`);
    if (stats) console.log(`  attack        ${stats.opened} sockets opened, ${stats.closed} closed by the server`);
    console.log(`  server CPU    ${(100 * cpu).toFixed(0)} % of one core while probing`);
    console.log(`  VmRSS         before ${mib(before)}, during ${mib(during)} (peak seen ${mib(peak)})`);
  }
  await sleep(6000);
  console.log(`\nserver VmRSS 6 s after the last attack: ${mib(await vmRssKiB(srv.pid))}`);
} finally {
  const r = await srv.stop();
  if (r.code !== 0) console.error(`server exit ${JSON.stringify(r)}\n${srv.stderr}`);
  const lines = srv.stderr.split('\n').filter((l) => /gate:/.test(l));
  console.log(`\nthe server's gate log lines (${lines.length}):\n${lines.slice(-6).join('\n')}`);
}
