// `cmake --install` (docs/deploy.md): the binary, the pages, the docs, the sample config, the
// certbot hook and the systemd unit land where the unit and the sample config say; the
// installed binary serves the installed pages and accepts the sample config (with this test's
// certificate, port and state folder); the unit passes `systemd-analyze verify` when that
// tool is there. Everything is installed into a temporary prefix and removed after.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, statSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TANDEM_BIN, SOURCE_DIR, testCertificate } from '../lib/tandem.mjs';
import { reapOnExit } from '../lib/reaper.mjs';

const BUILD_DIR = path.dirname(TANDEM_BIN);
const root = mkdtempSync(path.join(tmpdir(), 'tandem-install-'));
after(() => rmSync(root, { recursive: true, force: true }));

const prefix = path.join(root, 'prefix');
execFileSync('cmake', ['--install', BUILD_DIR, '--prefix', prefix], { stdio: 'ignore' });
const bin = path.join(prefix, 'bin', 'tandem');
const web = path.join(prefix, 'share', 'tandem', 'web');
const doc = path.join(prefix, 'share', 'doc', 'tandem');
const unit = path.join(prefix, 'lib', 'systemd', 'system', 'tandem.service');

test('the layout: binary, pages, docs, sample config, hook, unit, sysusers', () => {
  for (const f of [bin, path.join(web, 'index.html'), path.join(web, 'room.html'), path.join(doc, 'README.md'),
    path.join(doc, 'configuration.md'), path.join(doc, 'tandem.conf.example'), path.join(doc, 'certbot-deploy-hook.sh'),
    unit, path.join(prefix, 'lib', 'sysusers.d', 'tandem.conf')]) {
    assert.ok(existsSync(f), `${f} is not installed`);
  }
  assert.ok(statSync(bin).mode & 0o111, 'the binary is executable');
  assert.ok(statSync(path.join(doc, 'certbot-deploy-hook.sh')).mode & 0o111, 'the hook is executable');
  const u = readFileSync(unit, 'utf8');
  for (const line of ['NoNewPrivileges=yes', 'ProtectSystem=strict', 'StateDirectory=tandem',
    'CapabilityBoundingSet=CAP_NET_BIND_SERVICE', 'ExecReload=/usr/bin/kill -HUP $MAINPID']) {
    assert.ok(u.includes(line), `the unit lacks ${line}`);
  }
  assert.match(u, /^ExecStartPre=\S+\/bin\/tandem --config \/etc\/tandem\/tandem.conf --check-config$/m);
  assert.match(readFileSync(path.join(doc, 'tandem.conf.example'), 'utf8'), /^web_root = \/\S+\/share\/tandem\/web$/m);
});

/** The sample config with this test's certificate, a free port and a state folder of its own. */
function sampleConfig() {
  const { cert, key } = testCertificate();
  const state = path.join(root, 'state');
  execFileSync('mkdir', ['-p', state]);
  const text = readFileSync(path.join(doc, 'tandem.conf.example'), 'utf8')
    .replace(/^cert = .*$/m, `cert = ${cert}`).replace(/^key = .*$/m, `key = ${key}`)
    .replace(/^port = .*$/m, 'port = 0').replace(/^web_root = .*$/m, `web_root = ${web}`)
    .replace(/\/var\/lib\/tandem/g, state).replace(/^listen = 127.0.0.1:9464$/m, 'listen = 127.0.0.1:0');
  const file = path.join(root, 'tandem.conf');
  writeFileSync(file, text);
  return file;
}

test('the installed binary accepts the sample config and serves the installed pages', async () => {
  const conf = sampleConfig();
  const check = execFileSync(bin, ['--config', conf, '--check-config'], { encoding: 'utf8' });
  assert.match(check, /^OK/m);
  const child = spawn(bin, ['--config', conf, '--listen', '127.0.0.1'], { stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ASAN_OPTIONS: 'detect_leaks=1:abort_on_error=0' } });
  reapOnExit(child);
  let log = '';
  const exited = new Promise((r) => child.on('exit', (code, signal) => r({ code, signal })));
  try {
    const port = await new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no start within 15 s:\n${log}`)), 15000);
      child.stderr.on('data', (d) => {
        log += d;
        const m = /listening on https:\/\/127.0.0.1:(\d+)/.exec(log);
        if (m) { clearTimeout(t); resolve(Number(m[1])); }
      });
      child.on('exit', () => reject(new Error(`exited:\n${log}`)));
    });
    const body = await new Promise((resolve, reject) => {
      https.get({ host: '127.0.0.1', port, path: '/', rejectUnauthorized: false, timeout: 5000 }, (res) => {
        let b = '';
        res.on('data', (d) => { b += d; });
        res.on('end', () => resolve({ status: res.statusCode, b }));
      }).on('error', reject);
    });
    assert.equal(body.status, 200);
    assert.equal(body.b, readFileSync(path.join(SOURCE_DIR, 'web', 'index.html'), 'utf8'));
    assert.match(log, /metrics on http:\/\/127.0.0.1:\d+\/metrics/);
    assert.ok(existsSync(path.join(root, 'state', 'invite.key')), 'the invite key is made in the state folder');
  } finally {
    try { process.kill(child.pid, 'SIGTERM'); } catch { /* gone */ }
  }
  assert.deepEqual(await exited, { code: 0, signal: null }, log);
});

test('the unit passes systemd-analyze verify', (t) => {
  let have = true;
  try { execFileSync('systemd-analyze', ['--version'], { stdio: 'ignore' }); } catch { have = false; }
  if (!have) { t.skip('systemd-analyze is not installed'); return; }
  // verify wants every program the unit runs to exist: point it at the installed one.
  const copy = path.join(root, 'tandem.service');
  writeFileSync(copy, readFileSync(unit, 'utf8').replace(/=\/\S*\/bin\/tandem/g, `=${bin}`));
  const out = execFileSync('systemd-analyze', ['verify', '--man=no', copy], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  assert.equal(out.trim(), '');
});
