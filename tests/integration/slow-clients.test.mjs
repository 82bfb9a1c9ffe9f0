// Slow clients (a TCP connection that never starts TLS, headers that trickle in) are cut off
// after the server's handshake time-out, and the server keeps serving everyone else.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import https from 'node:https';
import { startTandem } from '../lib/tandem.mjs';

let srv;
before(async () => { srv = await startTandem(); });
after(async () => {
  const r = await srv.stop();
  assert.equal(r.code, 0, srv.stderr);
});

function get(path) {
  return new Promise((resolve, reject) => {
    const req = https.get({ host: '127.0.0.1', port: srv.port, path, rejectUnauthorized: false,
      timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/** Resolves with the ms until the server closed the socket; rejects after limitMs. */
function closedWithin(sock, limitMs) {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => { sock.destroy(); reject(new Error(`still open after ${limitMs} ms`)); }, limitMs);
    sock.on('close', () => { clearTimeout(t); resolve(Date.now() - start); });
    sock.on('error', () => {});
  });
}

test('a connection that never starts TLS is closed, others are served meanwhile', async () => {
  const idle = net.connect(srv.port, '127.0.0.1');
  const closed = closedWithin(idle, 25000);
  const page = await get('/');
  assert.equal(page.status, 200);
  const ms = await closed;
  assert.ok(ms >= 1000, `closed too early (${ms} ms)`);
});

test('headers trickling in byte by byte are cut off', async () => {
  const sock = tls.connect({ host: '127.0.0.1', port: srv.port, rejectUnauthorized: false });
  await new Promise((r) => sock.once('secureConnect', r));
  const closed = closedWithin(sock, 25000);
  const head = 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ' + 'a'.repeat(40);
  let i = 0;
  const drip = setInterval(() => { if (!sock.destroyed && i < head.length) sock.write(head[i++]); }, 500);
  try {
    await closed;
  } finally {
    clearInterval(drip);
  }
  assert.ok(i < head.length, 'the server waited for the whole trickle');
  assert.equal((await get('/')).status, 200);
});

test('oversized request headers are refused', async () => {
  const r = await new Promise((resolve) => {
    const req = https.get({ host: '127.0.0.1', port: srv.port, path: '/', rejectUnauthorized: false,
      headers: { 'X-Big': 'b'.repeat(16000) }, timeout: 5000 }, (res) => { res.resume(); resolve(res.statusCode); });
    req.on('error', () => resolve('closed'));
    req.on('timeout', () => { req.destroy(); resolve('timeout'); });
  });
  assert.notEqual(r, 200);
  assert.notEqual(r, 'timeout');
  assert.equal((await get('/')).status, 200);
});

test('pages carry the security headers; unknown paths and traversal get 404', async () => {
  const page = await get('/r/some-room');
  assert.equal(page.status, 200);
  assert.match(page.headers['content-security-policy'], /default-src 'self'/);
  assert.doesNotMatch(page.headers['content-security-policy'], /https?:\/\//);
  assert.equal(page.headers['referrer-policy'], 'no-referrer');
  assert.equal(page.headers['x-content-type-options'], 'nosniff');
  assert.match(page.headers['strict-transport-security'], /max-age=\d+/);
  for (const p of ['/../../etc/passwd', '/%2e%2e/%2e%2e/etc/passwd', '/js/', '/.git/config',
    '/r/a', '/CMakeLists.txt', '/js/..%2f..%2fCMakeLists.txt']) {
    assert.equal((await get(p)).status, 404, p);
  }
});
