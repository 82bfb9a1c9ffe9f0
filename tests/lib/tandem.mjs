// Starts the real tandem binary for a test and stops it again, by its PID.
// Usage: const srv = await startTandem({ args: [...] }); ... await srv.stop();
// TANDEM_TEST_LOG=<file>: every test server logs at debug level, appended to that file (for a
// developer chasing a failure; debug lines may show loopback addresses).
import { spawn, execFileSync } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { mkdtempSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { reapOnExit } from './reaper.mjs';

export const SOURCE_DIR = process.env.TANDEM_SOURCE_DIR ||
  path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
export const TANDEM_BIN = process.env.TANDEM_BIN || path.join(SOURCE_DIR, 'build', 'tandem');

let certDir = null;
/** A throwaway self-signed P-256 certificate for 127.0.0.1/localhost, made once per process. */
export function testCertificate() {
  if (!certDir) {
    certDir = mkdtempSync(path.join(tmpdir(), 'tandem-cert-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256',
      '-nodes', '-days', '2', '-subj', '/CN=localhost',
      '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:198.18.0.1',
      '-keyout', path.join(certDir, 'key.pem'), '-out', path.join(certDir, 'cert.pem')],
      { stdio: 'ignore' });
    process.on('exit', () => rmSync(certDir, { recursive: true, force: true }));
  }
  return { cert: path.join(certDir, 'cert.pem'), key: path.join(certDir, 'key.pem') };
}

/** The invite key the test servers use (tandem makes it on first start). */
export function inviteKeyPath() {
  testCertificate();
  return path.join(certDir, 'invite.key');
}

let ledgers = 0;
/** A path for a new invite ledger (the withdrawn links and uses a server keeps across
 *  restarts), in this process's temporary folder. */
export function newLedgerPath() {
  testCertificate();
  ledgers += 1;
  return path.join(certDir, `invite-${ledgers}.ledger`);
}

/** Mints an invite token with the real `tandem invite` command and the test servers' key. */
export function mintInvite({ room, role, expires = '1h', uses = 0 }) {
  // The links a test mints are noted in a ledger of their own (servers keep theirs).
  const out = execFileSync(TANDEM_BIN, ['invite', '--room', room, '--role', role, '--expires',
    expires, '--uses', String(uses), '--invite-key', inviteKeyPath(), '--base-url', 'https://x',
    '--invite-ledger', path.join(certDir, 'minted.ledger')],
  { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return out.trim().split('#t=')[1];
}

/**
 * Start tandem on a free port (--port 0; the server reports the port it bound).
 * Resolves once the server logs that it listens; rejects on exit or after timeoutMs.
 */
export function startTandem({ args = [], env = {}, timeoutMs = process.env.TANDEM_WRAPPER ? 60000 : 45000, listen = '127.0.0.1',
  wrapper = null, openRooms = true } = {}) {
  if (!existsSync(TANDEM_BIN)) throw new Error(`tandem binary not found: ${TANDEM_BIN}`);
  const { cert, key } = testCertificate();
  // Each server its own invite ledger, unless the test names one (to restart with it).
  const ledger = args.includes('--invite-ledger') ? [] : ['--invite-ledger', newLedgerPath()];
  const argv = ['--listen', listen, '--port', '0', '--cert', cert, '--key', key,
    '--web-root', path.join(SOURCE_DIR, 'web'), '--invite-key', inviteKeyPath(), ...ledger,
    ...(openRooms ? ['--open-rooms'] : []),
    // Media on free ports unless the test names them (tests run side by side).
    ...(args.includes('--media-port-base') || args.includes('--config') ? [] : ['--media-port-base', '0']),
    ...args, ...(process.env.TANDEM_TEST_LOG ? ['--log-level', 'debug'] : [])];
  // TANDEM_WRAPPER="valgrind --leak-check=full --error-exitcode=99" runs the server under a tool.
  if (!wrapper && process.env.TANDEM_WRAPPER) wrapper = process.env.TANDEM_WRAPPER.split(/\s+/);
  const cmd = wrapper ? wrapper[0] : TANDEM_BIN;
  const cmdArgs = wrapper ? [...wrapper.slice(1), TANDEM_BIN, ...argv] : argv;
  const child = spawn(cmd, cmdArgs, {
    env: { ...process.env, ASAN_OPTIONS: 'detect_leaks=1:abort_on_error=0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Killed when this test process ends, whatever path it takes (tests/lib/reaper.mjs).
  reapOnExit(child);
  let stderr = '';
  let exited = null;
  const exitPromise = new Promise((resolve) => child.on('exit', (code, signal) => {
    exited = { code, signal };
    resolve(exited);
  }));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`tandem did not start within ${timeoutMs} ms:\n${stderr}`));
    }, timeoutMs);
    child.stdout.on('data', (d) => { stderr += d; });
    child.stderr.on('data', (d) => {
      if (process.env.TANDEM_TEST_LOG) appendFileSync(process.env.TANDEM_TEST_LOG, d);
      stderr += d;
      const m = /listening on https:\/\/([^\s:]+|\[[^\]]+\]):(\d+)/.exec(stderr);
      if (m && timer) {
        clearTimeout(timer);
        const host = m[1];
        const port = Number(m[2]);
        resolve({
          pid: child.pid, port, host,
          url: `https://${host}:${port}`,
          wsUrl: `wss://${host}:${port}/ws`,
          get stderr() { return stderr; },
          get exited() { return exited; },
          /** SIGTERM by PID, wait (bounded) for exit; SIGKILL if it hangs. Returns {code, signal}. */
          async stop(graceMs = 10000) {
            if (exited) return exited;
            try { process.kill(child.pid, 'SIGTERM'); } catch { /* exiting already: exitPromise says how */ }
            const t = setTimeout(() => { try { process.kill(child.pid, 'SIGKILL'); } catch {} }, graceMs);
            const r = await exitPromise;
            clearTimeout(t);
            return r;
          },
        });
      }
    });
    child.on('exit', () => {
      clearTimeout(timer);
      reject(new Error(`tandem exited early (${JSON.stringify(exited)}):\n${stderr}`));
    });
    child.on('error', (err) => { // could not be started at all (a missing wrapper)
      clearTimeout(timer);
      reject(new Error(`cannot start ${cmd}: ${err.message}`));
    });
  });
}

/** Stops a server at the end of a test file: prints each media worker's closing counters as
 *  diagnostics of test context t, and asserts exit 0 and no sanitizer report. */
export async function stopCleanly(t, server) {
  const r = await server.stop();
  const err = server.stderr;
  for (const line of err.split('\n').filter((l) => /media w\d+: RTP in/.test(l))) t.diagnostic(line.replace(/^\S+ +\S+ +/, ''));
  assert.doesNotMatch(err, /AddressSanitizer|LeakSanitizer|runtime error:|UndefinedBehaviorSanitizer/, err.slice(-4000));
  assert.deepEqual(r, { code: 0, signal: null }, err.slice(-4000));
}

/** A UDP port on 127.0.0.1 that was free a moment ago (for --media-port-base). */
export function freeUdpPort() {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    s.on('error', reject);
    s.bind(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}
