// End to end: forged DTLS datagrams from a participant's own address and port do not end
// their call (RFC 6347 4.1.2.7: invalid records are discarded silently). Two Debian Chromium
// pages call through the user-space UDP relay (tests/lib/udprelay.mjs) in a private network
// namespace; once both see and hear each other, the relay sends forged records to the server
// from every browser's socket: the 5-tuple of a connected participant. The call must keep
// decoding pictures and sound, no page may be told media_unavailable, and the server counts
// what it discarded.
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

const ROOM = 'dtls-garbage-room';
const RELAY_ADDR = '198.18.0.3';
const PORT = 21100;

/** One DTLS 1.2 record (RFC 6347 4.1) with `body`, its length field as given or true. */
function record(type, epoch, seq, body, { version = 0xfefd, claimed = body.length } = {}) {
  const h = Buffer.alloc(13);
  h[0] = type;
  h.writeUInt16BE(version, 1);
  h.writeUInt16BE(epoch, 3);
  h.writeUIntBE(seq, 5, 6);
  h.writeUInt16BE(claimed, 11);
  return Buffer.concat([h, body]);
}

/** What a forger could send: records too short for the cipher (these ended the call before
 *  the fix), a bogus fatal alert, unknown types, plaintext out of place, bad lengths, junk. */
function forgeries() {
  const f = [
    record(21, 1, 1000, Buffer.from([2, 40])), // "fatal handshake_failure", unencrypted
    record(23, 1, 1001, Buffer.from([1, 2, 3])),
    record(20, 1, 1002, Buffer.from([1])),
    record(22, 1, 1003, Buffer.alloc(20, 7)),
    record(23, 1, 1004, Buffer.alloc(60, 9)), // right size, wrong tag
    record(25, 1, 1005, Buffer.alloc(40, 1)),
    record(23, 0, 1006, Buffer.alloc(40, 1)),
    record(22, 0, 1007, Buffer.from([1, 0, 0x5a, 0x5a, 0, 0, 0, 0, 0, 0, 0x5a, 0x5a])),
    record(23, 1, 1008, Buffer.alloc(40, 1), { claimed: 900 }),
    record(23, 1, 1009, Buffer.alloc(40, 1), { version: 0x0303 }),
    Buffer.from([23, 0xfe, 0xfd, 0, 1]),
  ];
  for (let i = 0; i < 20; i++) {
    const b = Buffer.alloc(1 + Math.floor(Math.random() * 300));
    for (let k = 0; k < b.length; k++) b[k] = Math.floor(Math.random() * 256);
    b[0] = 20 + (b[0] % 44); // RFC 7983: what the server's demultiplexer hands to DTLS
    f.push(b);
  }
  return f;
}

if (!insideNetns()) {
  test('forged DTLS datagrams from a participant\'s address do not end the call (private network namespace)', { timeout: 240000 }, async () => {
    await runInNetns(import.meta.url, { timeoutMs: 220000 });
  });
} else {
  let server = null;
  let relay = null;
  let dir = null;
  let call = null;

  before(async () => {
    setupNetns();
    execFileSync('ip', ['addr', 'add', `${RELAY_ADDR}/24`, 'dev', 'sfu1']);
    // Only the relay may talk to the server's media port: every datagram passes through it.
    execFileSync('nft', ['-f', '-'], {
      input: `table inet relayonly {
  chain rx {
    type filter hook input priority 0; policy accept;
    ip daddr ${SERVER_ADDR} udp dport ${PORT} ip saddr != ${RELAY_ADDR} counter drop
  }
}\n`,
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    relay = await startUdpRelay({ listen: RELAY_ADDR, target: SERVER_ADDR, ports: [PORT] });
    dir = mkdtempSync(path.join(tmpdir(), 'tandem-dtlsjunk-'));
    const conf = path.join(dir, 'tandem.conf');
    writeFileSync(conf, '[media]\nice_tcp = false\n');
    server = await startTandem({
      listen: SERVER_ADDR,
      args: ['--config', conf, '--media-address', SERVER_ADDR, '--public-ip', RELAY_ADDR,
        '--media-port-base', String(PORT), '--media-workers', '1'],
    });
    call = pairCall(server, { room: ROOM });
  }, { timeout: 60000 });

  after(async () => {
    if (call) await call.closeAll();
    if (server) await server.stop();
    if (relay) await relay.close();
    try { execFileSync('nft', ['delete', 'table', 'inet', 'relayonly'], { stdio: 'ignore' }); } catch { /* gone */ }
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, { timeout: 60000 });

  test('a call keeps its pictures and sound while forged DTLS arrives from both participants\' 5-tuples', { timeout: 150000 }, async (t) => {
    await call.join('amina');
    await call.join('jan');
    for (const p of call.people) await call.waitForMedia(p);
    const sockets = relay.counts().clients;
    assert.ok(sockets >= 4, `every connection goes through the relay (${sockets} sockets)`);
    let sent = 0;
    for (let round = 0; round < 3; round++)
      for (const d of forgeries()) sent += await relay.inject(d);
    t.diagnostic(`${sent} forged datagrams sent from ${sockets} participant sockets`);
    let rows;
    try {
      rows = await call.window(4000);
    } catch (e) { // a page lost the other's tracks
      const pages = await Promise.all(call.people.map(call.stats));
      assert.fail(`the call broke (${e.message}): ${JSON.stringify(pages.map((s) => ({ errors: s.errors, log: s.log.slice(-6) })))}`);
    }
    for (const r of rows) {
      t.diagnostic(`${r.label} after the forgeries: ${r.fps.toFixed(1)} fps, audio ${r.audioPackets} packets, ` +
        `${r.heardSecs.toFixed(1)} of ${r.audioSecs.toFixed(1)} s heard, errors ${JSON.stringify(r.errors)}`);
      assert.deepEqual(r.errors, [], `${r.label} was told of an error`);
      assert.ok(r.fps >= 10, `${r.label}: the picture stopped: ${JSON.stringify(r)}`);
      // heard, not packets: Opus DTX leaves them out in the fake microphone's pauses
      assert.ok(r.heardSecs > 0.6 * r.secs && r.audioEnergy > 0, `${r.label}: the voice stopped: ${JSON.stringify(r)}`);
    }
    for (const p of call.people) {
      const s = await call.stats(p);
      assert.ok(!s.log.some((l) => /media_unavailable|failed/.test(l)), `${p.label}: ${JSON.stringify(s.log)}`);
    }
  });

  test('the server discarded them, said so without addresses, and stops cleanly', { timeout: 60000 }, async (t) => {
    await call.closeAll();
    call.people.length = 0;
    const log = server.stderr;
    assert.match(log, /invalid DTLS datagram discarded/);
    assert.doesNotMatch(log, /connection failed/);
    assert.doesNotMatch(log, /invalid DTLS[^\n]*\d+\.\d+\.\d+\.\d+/, 'no address in the line');
    await stopCleanly(t, server);
    const m = /invalid DTLS datagrams (\d+)/.exec(server.stderr);
    t.diagnostic(`server: ${m ? m[1] : '?'} invalid DTLS datagrams counted`);
    assert.ok(m && Number(m[1]) > 0, 'the worker counted the discarded datagrams');
    server = null;
  });
}
