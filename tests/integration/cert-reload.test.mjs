// The hardened service's certificate handling: `tandem --check-config` finds what a start
// would refuse, and SIGHUP loads renewed certificate files for new connections while the
// connections already open (a call's signaling) stay up.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, copyFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { startTandem, stopCleanly, TANDEM_BIN, SOURCE_DIR, inviteKeyPath } from '../lib/tandem.mjs';
import { client, closeAllClients } from '../lib/wsclient.mjs';

const dir = mkdtempSync(path.join(tmpdir(), 'tandem-reload-'));
after(() => { closeAllClients(); rmSync(dir, { recursive: true, force: true }); });

/** A self-signed P-256 pair whose subject names it, e.g. dir/a-cert.pem and dir/a-key.pem. */
function makePair(name, days = 30) {
  const cert = path.join(dir, `${name}-cert.pem`);
  const key = path.join(dir, `${name}-key.pem`);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256',
    '-nodes', '-days', String(days), '-subj', `/CN=tandem-${name}`,
    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', key, '-out', cert],
  { stdio: 'ignore' });
  return { cert, key };
}

/** The common name of the certificate a fresh TLS connection to the server is given. */
function servedName(port) {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', rejectUnauthorized: false });
    const t = setTimeout(() => { s.destroy(); reject(new Error('no TLS handshake within 5 s')); }, 5000);
    s.on('secureConnect', () => {
      clearTimeout(t);
      const cn = s.getPeerCertificate().subject.CN;
      s.end();
      resolve(cn);
    });
    s.on('error', (e) => { clearTimeout(t); reject(e); });
  });
}

function waitForLog(srv, re, ms = 5000) {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const poll = () => {
      const m = re.exec(srv.stderr);
      if (m) return resolve(m);
      if (Date.now() - t0 > ms) return reject(new Error(`no log line ${re} within ${ms} ms:\n${srv.stderr}`));
      setTimeout(poll, 20);
    };
    poll();
  });
}

function check(args) {
  return spawnSync(TANDEM_BIN, ['--check-config', '--web-root', path.join(SOURCE_DIR, 'web'),
    '--invite-key', inviteKeyPath(), '--invite-ledger', path.join(dir, 'check.ledger'),
    '--public-url', 'https://calls.example.org', ...args], { encoding: 'utf8', timeout: 10000 });
}

test('--check-config: OK for a good setup, each fault named with exit 1', () => {
  const a = makePair('a');
  const b = makePair('b');
  let r = check(['--cert', a.cert, '--key', a.key]);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^OK$/m);
  assert.match(r.stdout, /certificate: .*a-cert\.pem, valid until \d{4}-/);

  r = check(['--cert', a.cert, '--key', b.key]);
  assert.equal(r.status, 1, r.stdout);
  assert.match(r.stdout, /error: TLS key .*b-key\.pem does not belong to the certificate/);
  assert.doesNotMatch(r.stdout, /^OK/m);

  r = check(['--cert', path.join(dir, 'missing.pem'), '--key', a.key, '--web-root', path.join(dir, 'nowhere')]);
  assert.equal(r.status, 1);
  assert.match(r.stdout, /error: TLS certificate .*missing\.pem cannot be read/);
  assert.match(r.stdout, /error: server\.web_root: .*nowhere is not a folder/);
  assert.match(r.stdout, /2 errors/);

  const soon = makePair('soon', 2);
  r = check(['--cert', soon.cert, '--key', soon.key]);
  assert.equal(r.status, 0);
  assert.match(r.stdout, /warning: TLS certificate .* expires soon/);

  // a bad value in the config is the config reader's error, exit 2, before any check
  r = check(['--cert', a.cert, '--key', a.key, '--port', '70000']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /server\.port/);
});

test('SIGHUP: new connections get the renewed certificate, an open WebSocket stays', async (t) => {
  const a = makePair('a');
  const b = makePair('b');
  const mismatched = makePair('c');
  const live = { cert: path.join(dir, 'live-cert.pem'), key: path.join(dir, 'live-key.pem') };
  copyFileSync(a.cert, live.cert);
  copyFileSync(a.key, live.key);
  const srv = await startTandem({ args: ['--cert', live.cert, '--key', live.key] });
  try {
    assert.equal(await servedName(srv.port), 'tandem-a');
    const ws = await client(srv.wsUrl);
    ws.send({ type: 'join', id: 1, room: 'reload-room', name: 'Amina', role: 'mentee' });
    await ws.next('welcome');

    // certbot's way: new files renamed into place, then the deploy hook sends SIGHUP
    copyFileSync(b.cert, live.cert + '.new');
    copyFileSync(b.key, live.key + '.new');
    renameSync(live.cert + '.new', live.cert);
    renameSync(live.key + '.new', live.key);
    process.kill(srv.pid, 'SIGHUP');
    await waitForLog(srv, /certificate reloaded from .*live-cert\.pem \(valid until \d{4}-/);
    assert.equal(await servedName(srv.port), 'tandem-b');

    // the WebSocket opened before the reload still carries messages both ways
    const other = await client(srv.wsUrl);
    other.send({ type: 'join', id: 1, room: 'reload-room', name: 'Jan', role: 'mentor' });
    await other.next('welcome');
    assert.equal((await ws.next('joined')).participant.name, 'Jan');
    assert.equal(ws.closed, null);

    // a half-written renewal (key of another certificate) is refused; the last good pair stays
    copyFileSync(mismatched.key, live.key);
    process.kill(srv.pid, 'SIGHUP');
    await waitForLog(srv, /certificate reload failed, keeping the current certificate: TLS key .* does not belong/);
    assert.equal(await servedName(srv.port), 'tandem-b');
    ws.ws.close();
    other.ws.close();
  } finally {
    await stopCleanly(t, srv);
  }
});
