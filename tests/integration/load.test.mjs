// tandem-load against a real server on loopback: two one-to-one calls for three seconds,
// with invite tokens minted from the server's key, full ICE (libnice), DTLS, SRTP, Opus and
// VP8-shaped video. Correctness only (no timing assertions): every connection comes up,
// packets arrive, and none of the measured packets is lost on loopback.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startTandem, stopCleanly, freeUdpPort, inviteKeyPath } from '../lib/tandem.mjs';
import { reapOnExit } from '../lib/reaper.mjs';

const LOAD_BIN = process.env.TANDEM_LOAD_BIN ||
  path.join(path.dirname(process.env.TANDEM_BIN || 'build/tandem'), 'tandem-load');
let srv;
let dir;

before(async () => {
  srv = await startTandem({
    openRooms: false,
    args: ['--media-address', '127.0.0.1', '--media-port-base', String(await freeUdpPort()),
      '--media-workers', '1'],
  });
  dir = mkdtempSync(path.join(tmpdir(), 'tandem-load-'));
});

after(async (t) => {
  if (srv) await stopCleanly(t, srv);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Runs tandem-load to its end (bounded), returning its exit code, stdout and stderr. */
function runLoad(args, timeoutMs = 60000) {
  return new Promise((resolve, reject) => {
    const child = spawn(LOAD_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    reapOnExit(child);
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    const timer = setTimeout(() => {
      try { process.kill(child.pid, 'SIGKILL'); } catch { /* gone */ }
      reject(new Error(`tandem-load did not finish within ${timeoutMs} ms:\n${err}`));
    }, timeoutMs);
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('exit', (code, signal) => { clearTimeout(timer); resolve({ code, signal, out, err }); });
  });
}

test('tandem-load --help names the scenarios', async () => {
  assert.ok(existsSync(LOAD_BIN), `${LOAD_BIN} not built`);
  const r = await runLoad(['--help']);
  assert.equal(r.code, 0);
  for (const flag of ['--calls', '--rooms', '--group', '--subscribers', '--audio-only', '--server-pid']) {
    assert.match(r.out, new RegExp(flag));
  }
  const bad = await runLoad(['--calls', 'zero']);
  assert.equal(bad.code, 2);
});

test('two one-to-one calls for 3 s: every connection up, packets received, no loss', async (t) => {
  const json = path.join(dir, 'result.json');
  const r = await runLoad(['--url', srv.wsUrl, '--invite-key', inviteKeyPath(), '--server-pid',
    String(srv.pid), '--calls', '2', '--duration', '3', '--warmup', '1', '--setup-timeout', '20',
    '--json', json, '--quiet']);
  t.diagnostic(r.out.trim().split('\n').slice(0, -1).join('\n'));
  assert.equal(r.code, 0, `exit ${r.code} ${r.signal}\n${r.err}`);
  assert.doesNotMatch(r.err, /AddressSanitizer|LeakSanitizer|runtime error:/, r.err);
  const res = JSON.parse(readFileSync(json, 'utf8'));
  assert.equal(res.joined, 4);
  assert.equal(res.connections_up, 8, r.out);
  assert.equal(res.connections_failed, 0);
  assert.ok(res.packets_sent > 0);
  assert.ok(res.packets_received > 0);
  assert.equal(res.packets_received, res.packets_forwarded_expected, 'no measured packet lost');
  assert.equal(res.loss_pct, 0);
  assert.equal(res.bad, 0);
  assert.ok(res.server.vmhwm_kib > 0, 'the server\'s memory was read from /proc');
  // The server's closing counters show what went through it.
  assert.match(srv.stderr, /media w0: pub connection up/);
});

test('fan-out receivers receive only: no pub connection, every packet arrives', async (t) => {
  const json = path.join(dir, 'fanout.json');
  const before = (srv.stderr.match(/media w0: pub connection up/g) || []).length;
  const r = await runLoad(['--url', srv.wsUrl, '--invite-key', inviteKeyPath(), '--subscribers', '3',
    '--duration', '3', '--warmup', '1', '--setup-timeout', '20', '--json', json, '--quiet']);
  t.diagnostic(r.out.trim().split('\n').slice(0, -1).join('\n'));
  assert.equal(r.code, 0, `exit ${r.code} ${r.signal}\n${r.err}`);
  const res = JSON.parse(readFileSync(json, 'utf8'));
  assert.equal(res.receive_only, true);
  assert.equal(res.joined, 4);
  // the publisher's pub connection and three sub connections, nothing else
  assert.equal(res.connections_up, 4, r.out);
  assert.equal(res.connections_failed, 0);
  assert.ok(res.packets_received > 0);
  assert.equal(res.packets_received, res.packets_forwarded_expected, 'no measured packet lost');
  assert.equal(res.bad, 0);
  const after = (srv.stderr.match(/media w0: pub connection up/g) || []).length;
  assert.equal(after - before, 1, 'only the publisher made a pub connection');
  // --idle-pub: the receivers hold an idle pub connection as before
  const idle = await runLoad(['--url', srv.wsUrl, '--invite-key', inviteKeyPath(), '--subscribers', '2',
    '--idle-pub', '--duration', '1', '--warmup', '1', '--setup-timeout', '20', '--json', json, '--quiet']);
  assert.equal(idle.code, 0, idle.err);
  const resIdle = JSON.parse(readFileSync(json, 'utf8'));
  assert.equal(resIdle.receive_only, false);
  assert.equal(resIdle.connections_up, 5, idle.out);
});

test('a lossy downlink (3 % of video dropped on arrival) is repaired by NACKs and the server\'s resends', async (t) => {
  const json = path.join(dir, 'lossy.json');
  const r = await runLoad(['--url', srv.wsUrl, '--invite-key', inviteKeyPath(), '--calls', '1',
    '--duration', '3', '--warmup', '1', '--setup-timeout', '20', '--drop-rx', '30', '--nack',
    '--json', json, '--quiet']);
  t.diagnostic(r.out.trim().split('\n').slice(0, -1).join('\n'));
  assert.equal(r.code, 0, `exit ${r.code} ${r.signal}\n${r.err}`);
  const res = JSON.parse(readFileSync(json, 'utf8'));
  assert.equal(res.connections_up, 4, r.out);
  assert.ok(res.dropped_rx > 0, 'packets were dropped');
  assert.ok(res.nacks_sent > 0, 'the receivers asked for them');
  // Each NACK is sent once and a resent copy can be dropped too: most, not all, come back.
  assert.ok(res.late >= res.nacks_sent / 2, `${res.late} of ${res.nacks_sent} came back`);
  const missing = res.packets_forwarded_expected - res.packets_received;
  assert.ok(missing < res.dropped_rx / 4, `${missing} missing after repair, ${res.dropped_rx} dropped`);
  assert.equal(res.bad, 0, 'resent packets unprotect (the replay window never saw them)');
});
