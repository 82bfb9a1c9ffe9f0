// Issue 11 part 2: sockets that connect to the HTTPS port and send nothing (or trickle a
// ClientHello), held and reopened as soon as they close, from one address and from many,
// must not keep anyone else out: a page load and a real join with an invite from another
// address each complete quickly, every time. Before the gate, 64 such sockets
// (lws's header pool) stopped every page and join for seconds. bench/idle-flood.mjs
// measures the same with 2,000 sockets and 100 tries.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTandem, mintInvite } from '../lib/tandem.mjs';
import { holdIdleInWorker, timePageLoad, timeJoin, cpuSeconds } from '../lib/idleflood.mjs';

const ATTACK = 300; // well over the old pool of 64, small enough for a shared test machine
const TRIES = 20;
// The target is under 1 s (bench/idle-flood.mjs measures it: p99 under 150 ms). The test's
// bound is looser because it runs beside other tests on two cores, in a sanitizer build:
// tries took up to 1.25 s there. A locked-out server keeps new people waiting 8-10 s (until
// lws's time-out), which this bound still catches.
const LIMIT_MS = 3000;

let srv;
let flood = null;
before(async () => { srv = await startTandem({ openRooms: false }); });
after(async () => {
  if (flood) await flood.stop();
  const r = await srv.stop();
  assert.equal(r.code, 0, srv.stderr);
  // counts only: no client address in the log at the default level
  const rest = srv.stderr.replace(/listening on https:\/\/\S+/, '');
  assert.doesNotMatch(rest, /127\.0\.0\.\d/);
});

/** Every page load and join from 127.0.0.1 finishes within limitMs, `tries` times. */
async function probe(label, { limitMs = LIMIT_MS, tries = TRIES } = {}) {
  const token = mintInvite({ room: 'flood-room', role: 'mentee' });
  const at = { host: '127.0.0.1', port: srv.port, timeoutMs: limitMs };
  for (let i = 0; i < tries; i++) {
    const page = await timePageLoad({ ...at, path: '/' }).catch((e) => assert.fail(
      `${label}: page load ${i + 1}: ${e.message}`));
    const join = await timeJoin({ ...at, room: 'flood-room', token }).catch((e) => assert.fail(
      `${label}: join ${i + 1}: ${e.message}`));
    assert.ok(page < limitMs && join < limitMs, `${label}: ${page} ms, ${join} ms`);
  }
}

/** Runs the probe while an attack (holdIdle options) holds its sockets; stops it on every
 *  path. */
async function underAttack(opts, label, probeOpts) {
  const count = opts.count ?? ATTACK;
  flood = await holdIdleInWorker({ host: '127.0.0.1', port: srv.port, count, ...opts });
  try {
    assert.ok(flood.stats.opened >= count, `only ${flood.stats.opened} attack sockets opened`);
    await probe(label, probeOpts);
  } finally {
    await flood.stop();
    flood = null;
  }
}

const addrs = (n) => Array.from({ length: n }, (_, i) => `127.0.0.${i + 2}`);

test('without an attack, pages and joins are quick', async () => {
  await probe('no attack');
});

test('idle sockets from one address keep nobody else out', async () => {
  await underAttack({ sources: addrs(1) }, 'idle, one address');
});

test('idle sockets from 50 addresses keep nobody else out', async () => {
  await underAttack({ sources: addrs(50) }, 'idle, 50 addresses');
});

test('sockets trickling a ClientHello keep nobody else out', async () => {
  await underAttack({ sources: addrs(10), trickle: true, trickleMs: 500 }, 'trickle');
});

test('handshakes left hanging after a whole ClientHello keep nobody else out', async () => {
  // 100 (over the old pool of 64), within the caps: what they hold, not how fast they churn
  // (bench/idle-flood.mjs has the 2,000-socket figures)
  await underAttack({ count: 100, sources: addrs(10), hello: true }, 'hello then silence');
});

test('out of file descriptors: the server pauses accepting, frees silent sockets, serves on', async () => {
  // A server whose open-files limit the attack can exhaust (the caps per address are not
  // reached: 6 sockets from each of 50 addresses).
  const small = await startTandem({ openRooms: false, wrapper: ['prlimit', '--nofile=160:160', '--'] });
  const saved = srv;
  srv = small;
  try {
    assert.match(small.stderr, /open-files limit \(160\) is below/);
    // not the 1 s of the other attacks: connections wait in the kernel's queue while the
    // server has no descriptor to take them with; what matters is that they get in and
    // that the server neither aborts nor spins
    const cpu0 = await cpuSeconds(small.pid), t0 = performance.now();
    await underAttack({ sources: addrs(50) }, 'out of descriptors', { limitMs: 5000, tries: 5 });
    const cpu = (await cpuSeconds(small.pid) - cpu0) / ((performance.now() - t0) / 1000);
    assert.ok(cpu < 0.9, `the server used ${(100 * cpu).toFixed(0)} % of a core: spinning?`);
    assert.match(small.stderr, /gate: out of file descriptors/);
  } finally {
    srv = saved;
    const r = await small.stop();
    assert.equal(r.code, 0, small.stderr);
  }
});
