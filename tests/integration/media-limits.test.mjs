// Media set-up limits (limits.max_pending_media, limits.ice_timeout_s, limits.dtls_timeout_s):
// connections that never finish ICE and DTLS are bounded in number and in time. Pages here
// send real browser offers but never do ICE, which is exactly what a flood of half-made
// connections looks like. Another room keeps being served throughout.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { startTandem, SOURCE_DIR, freeUdpPort } from '../lib/tandem.mjs';
import { client, closeAllClients } from '../lib/wsclient.mjs';
// Bad values of these keys are refused at start with the key named: tests/unit/io/test_config.c.

const sdpFile = (name) => readFileSync(`${SOURCE_DIR}/tests/data/sdp/${name}`, 'utf8');
let srv;


before(async () => {
  srv = await startTandem({
    args: ['--config', new URL('./data/media-limits.conf', import.meta.url).pathname,
      '--media-address', '127.0.0.1', '--media-port-base', String(await freeUdpPort())],
  });
});

after(async () => {
  closeAllClients();
  const r = await srv.stop();
  assert.equal(r.code, 0, `server exit ${JSON.stringify(r)}\n${srv.stderr}`);
  assert.doesNotMatch(srv.stderr, /ERROR: (AddressSanitizer|LeakSanitizer)|runtime error/);
});

async function joined(room, name) {
  const c = await client(srv.wsUrl);
  c.send({ type: 'join', id: 1, room, name, role: 'mentee' });
  await c.next('welcome');
  return c;
}

test('half-made media connections: at most max_pending_media, released after the time-outs', { timeout: 60000 }, async () => {
  const other = await joined('quiet-room', 'Omar'); // never sends media
  const a = await joined('flood-room', 'A');
  const b = await joined('flood-room', 'B');
  const c = await joined('flood-room-2', 'C');
  a.send({ type: 'offer', id: 2, pc: 'pub', sdp: sdpFile('chromium-offer-av.sdp') });
  assert.equal((await a.next((m) => m.type === 'answer' || m.type === 'error', 10000)).type, 'answer');
  b.send({ type: 'offer', id: 2, pc: 'pub', sdp: sdpFile('chromium-offer-av.sdp') });
  // B's pub connection makes two pending (A's sub connection waits for an answer: none yet).
  assert.equal((await b.next((m) => m.type === 'answer' || m.type === 'error', 10000)).type, 'answer');
  const t0 = Date.now();
  c.send({ type: 'offer', id: 2, pc: 'pub', sdp: sdpFile('chromium-offer-av.sdp') });
  const refused = await c.next((m) => m.ref === 2, 10000);
  assert.equal(refused.type, 'error', JSON.stringify(refused));
  assert.equal(refused.code, 'media_unavailable');
  assert.equal(refused.pc, 'pub');
  // Another room is served at once.
  other.send({ type: 'ping', id: 'p1' });
  assert.equal((await other.next('pong', 5000)).ref, 'p1');
  // Nobody does ICE: within ICE's 5 s (+ DTLS's 2 s) A and B are told and everything is freed.
  for (const x of [a, b]) {
    const lost = await x.next((m) => m.type === 'error' && m.code === 'media_unavailable', 15000);
    assert.match(lost.message, /lost/, JSON.stringify(lost));
  }
  const waited = Date.now() - t0;
  assert.ok(waited < 12000, `released only after ${waited} ms`);
  // Now C gets its answer.
  c.send({ type: 'offer', id: 3, pc: 'pub', sdp: sdpFile('chromium-offer-av.sdp') });
  assert.equal((await c.next((m) => m.ref === 3, 10000)).type, 'answer');
  assert.match(srv.stderr, /connections are being set up \(limits\.max_pending_media\)/);
});
