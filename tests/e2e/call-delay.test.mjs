// End to end: a call over a long and uneven line (a mentee on a mobile plan far away). Two
// Debian Chromium pages and the server run in a private network namespace
// (tests/lib/netns.mjs). This kernel has no netem, so every media datagram passes a user-space
// relay (tests/lib/udprelay.mjs) that delays it, jitters it and drops some: the server
// advertises the relay's address (--public-ip, as behind 1:1 NAT) and nftables drops media sent
// to the server's own address from anyone but the relay.
// Asserted from getStats(): the round trip the browsers measure really is long, the picture
// keeps moving and the voice keeps coming; with losses on top, NACKs are answered late but
// still in time (packets repaired, not lost for good).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { insideNetns, runInNetns, setupNetns, SERVER_ADDR } from '../lib/netns.mjs';
import { startTandem, stopCleanly } from '../lib/tandem.mjs';
import { pairCall } from '../lib/paircall.mjs';
import { startUdpRelay } from '../lib/udprelay.mjs';

const MEDIA_WAIT_MS = 30000;
const ROOM = 'delay-room';
const RELAY_ADDR = '198.18.0.3';
const PORT_BASE = 21000;
const WORKERS = 1;
const WINDOW_MS = 10000;

if (!insideNetns()) {
  test('a call over a long, jittery and lossy line (in a private network namespace)', { timeout: 300000 }, async () => {
    await runInNetns(import.meta.url, { timeoutMs: 280000 });
  });
} else {
  let server = null;
  let relay = null;
  let dir = null;
  let call = null;
  let people = [];
  let join;
  let window;
  let waitForMedia;
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  before(async () => {
    setupNetns();
    execFileSync('ip', ['addr', 'add', `${RELAY_ADDR}/24`, 'dev', 'sfu1']);
    const ports = `${PORT_BASE}-${PORT_BASE + WORKERS - 1}`;
    // Only the relay may talk to the server's media ports.
    execFileSync('nft', ['-f', '-'], {
      input: `table inet relayonly {
  chain rx {
    type filter hook input priority 0; policy accept;
    ip daddr ${SERVER_ADDR} udp dport ${ports} ip saddr != ${RELAY_ADDR} counter drop
  }
}\n`,
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    relay = await startUdpRelay({
      listen: RELAY_ADDR, target: SERVER_ADDR,
      ports: Array.from({ length: WORKERS }, (_, i) => PORT_BASE + i),
    });
    dir = mkdtempSync(path.join(tmpdir(), 'tandem-delay-'));
    const conf = path.join(dir, 'tandem.conf');
    writeFileSync(conf, '[media]\nice_tcp = false\n'); // UDP only: all of it through the relay
    server = await startTandem({
      listen: SERVER_ADDR,
      args: ['--config', conf, '--media-address', SERVER_ADDR, '--public-ip', RELAY_ADDR,
        '--media-port-base', String(PORT_BASE), '--media-workers', String(WORKERS)],
    });
    call = pairCall(server, { room: ROOM, mediaWaitMs: MEDIA_WAIT_MS });
    ({ people, join, window, waitForMedia } = call);
  }, { timeout: 60000 });

  after(async () => {
    if (call) await call.closeAll();
    if (server) await server.stop();
    if (relay) await relay.close();
    try { execFileSync('nft', ['delete', 'table', 'inet', 'relayonly'], { stdio: 'ignore' }); } catch { /* gone */ }
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, { timeout: 60000 });

  function show(t, what, rows) {
    const c = relay.counts();
    for (const r of rows) {
      t.diagnostic(`${what}: ${r.label} measures ${r.rttMs} ms round trip; receives ${r.fps.toFixed(1)} fps, ` +
        `frozen ${(100 * r.freezeShare).toFixed(1)} %, video lost ${r.videoLost}/${r.videoPackets + r.videoLost}, ` +
        `NACKs sent ${r.nacksSent}, audio ${r.audioPackets} packets, ${(100 * r.concealed).toFixed(1)} % concealed`);
    }
    t.diagnostic(`${what}: relay forwarded ${c.forwarded} datagrams, dropped ${c.dropped}, for ${c.clients} client sockets`);
  }

  test('through the relay without delay: both see and hear each other', { timeout: 120000 }, async (t) => {
    await join('amina');
    await join('jan');
    for (const p of people) await waitForMedia(p);
    const rows = await window(3000);
    show(t, 'direct', rows);
    assert.ok(relay.counts().clients >= 4, 'every connection goes through the relay');
    for (const r of rows) assert.ok(r.fps >= 10, `${r.label}: ${JSON.stringify(r)}`);
  });

  test('300 ms round trip with ±40 ms jitter: the picture moves, the voice comes', { timeout: 120000 }, async (t) => {
    relay.set({ delayMs: 150, jitterMs: 40 }); // each way through the relay: a 300 ms round trip
    await sleep(4000); // the jitter buffers grow to the new line
    const rows = await window(WINDOW_MS);
    show(t, '300 ms', rows);
    for (const r of rows) {
      assert.ok(r.rttMs >= 200 && r.rttMs <= 700, `${r.label}: the delay did not take: ${JSON.stringify(r)}`);
      assert.ok(r.fps >= 12, `${r.label}: the picture slowed down: ${JSON.stringify(r)}`);
      assert.ok(r.freezeShare < 0.1, `${r.label}: the picture froze: ${JSON.stringify(r)}`);
      assert.equal(r.videoLost, 0, `${r.label}: a line that loses nothing lost video: ${JSON.stringify(r)}`);
      assert.ok(r.audioEnergy > 0 && r.concealed < 0.05, `${r.label}: the voice broke up: ${JSON.stringify(r)}`);
      assert.deepEqual(r.errors, []);
    }
  });

  test('the same line with 3 % loss each hop: NACKs repair what is lost, late but in time', { timeout: 120000 }, async (t) => {
    relay.set({ delayMs: 150, jitterMs: 40, lossPercent: 3 });
    await sleep(3000);
    const rows = await window(WINDOW_MS);
    show(t, '300 ms + 3 % loss', rows);
    for (const r of rows) {
      assert.ok(r.nacksSent > 0, `${r.label}: no losses seen, the test did nothing: ${JSON.stringify(r)}`);
      assert.ok(r.fps >= 10, `${r.label}: the picture slowed down: ${JSON.stringify(r)}`);
      assert.ok(r.freezeShare < 0.25, `${r.label}: the picture froze: ${JSON.stringify(r)}`);
      // Lost for good: what no retransmission repaired (Opus has none: audio is concealed).
      // Unrepaired, two hops of 3 % would lose about 6 %; a few gaps at the window's end are
      // still waiting for their retransmission, a round trip away.
      assert.ok(r.videoLost <= r.videoPackets * 0.03, `${r.label}: losses were not repaired: ${JSON.stringify(r)}`);
      assert.ok(r.audioEnergy > 0 && r.concealed < 0.2, `${r.label}: the voice broke up: ${JSON.stringify(r)}`);
    }
    relay.set({ delayMs: 0, jitterMs: 0, lossPercent: 0 });
  });

  test('the server stops cleanly (exit 0, no sanitizer report)', { timeout: 60000 }, async (t) => {
    await Promise.all(people.map((p) => p.browser.close().catch(() => {})));
    people.length = 0;
    await stopCleanly(t, server);
    server = null;
  });
}
