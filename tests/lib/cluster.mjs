// Several Tandem nodes on one Redis, for the cluster tests (docs/deploy.md "Several
// machines"): a redis-server started by the test on a loopback port it picked (no
// persistence, a password), and tandem nodes with a [cluster] config each. Everything is
// stopped by its PID.
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { reapOnExit } from './reaper.mjs';
import { startTandem } from './tandem.mjs';

/** A TCP port on host that was free a moment ago. */
export function freeTcpPort(host = '127.0.0.1') {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, host, () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Starts redis-server on host:port (picked when not given), with a password and nothing
 *  written to disk. Resolves {pid, port, address, password, passwordFile, stop()}. */
export async function startRedis({ host = '127.0.0.1', port = 0, timeoutMs = 10000, password = null } = {}) {
  const dir = mkdtempSync(path.join(tmpdir(), 'tandem-redis-'));
  password ||= randomBytes(18).toString('base64url');
  const passwordFile = path.join(dir, 'redis.password');
  writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });
  if (!port) port = await freeTcpPort(host);
  const child = spawn('redis-server', ['--bind', host, '--port', String(port), '--save', '',
    '--appendonly', 'no', '--requirepass', password, '--dir', dir, '--daemonize', 'no',
    '--protected-mode', 'yes', '--loglevel', 'warning'], { stdio: ['ignore', 'pipe', 'pipe'] });
  reapOnExit(child);
  let out = '';
  let exited = null;
  const exit = new Promise((resolve) => child.on('exit', (code, signal) => {
    exited = { code, signal };
    resolve(exited);
  }));
  // Ready when it accepts a connection (at --loglevel warning it says nothing).
  const deadline = Date.now() + timeoutMs;
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { out += d; });
  for (;;) {
    if (exited) throw new Error(`redis-server exited (${JSON.stringify(exited)}): ${out}`);
    const ok = await new Promise((resolve) => {
      const s = net.connect(port, host, () => { s.destroy(); resolve(true); });
      s.on('error', () => resolve(false));
    });
    if (ok) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`redis-server did not listen within ${timeoutMs} ms: ${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    pid: child.pid, port, host, password, passwordFile,
    address: `${host}:${port}`,
    get output() { return out; },
    /** SIGKILL by PID: Redis gone at once (its memory with it); the folder stays for a
     *  restart on the same port with the same password. */
    async kill() {
      try { process.kill(child.pid, 'SIGKILL'); } catch { /* gone */ }
      return exit;
    },
    async stop() {
      if (!exited) {
        try { process.kill(child.pid, 'SIGTERM'); } catch { /* gone */ }
        const t = setTimeout(() => { try { process.kill(child.pid, 'SIGKILL'); } catch {} }, 5000);
        await exit;
        clearTimeout(t);
      }
      rmSync(dir, { recursive: true, force: true });
      return exited;
    },
  };
}

/**
 * Starts one node of a cluster: its own HTTPS port (picked first, as its node_url must name
 * it), its own media ports, the shared invite key (startTandem's), and a [cluster] config.
 * Resolves startTandem's server object plus {name, nodeUrl, configFile}.
 */
export async function startNode({ redis, name, publicUrl, host = '127.0.0.1', mediaPortBase,
  heartbeatMs = 500, ttlMs = 2000, timeoutMs = 400, args = [], openRooms = false, env = {} }) {
  const port = await freeTcpPort(host);
  const nodeUrl = `https://${host}:${port}`;
  const dir = mkdtempSync(path.join(tmpdir(), `tandem-node-${name}-`));
  const configFile = path.join(dir, 'tandem.conf');
  writeFileSync(configFile, [
    '[server]', `public_url = ${publicUrl}`,
    '[cluster]', `redis = ${redis.address}`, `password_file = ${redis.passwordFile}`,
    `node_url = ${nodeUrl}`, `node_name = ${name}`, `heartbeat_ms = ${heartbeatMs}`,
    `ttl_ms = ${ttlMs}`, `timeout_ms = ${timeoutMs}`, ''].join('\n'));
  const srv = await startTandem({ listen: host, openRooms, env,
    args: ['--config', configFile, '--port', String(port), '--media-port-base', String(mediaPortBase),
      '--media-workers', '1', ...args] });
  const stop = srv.stop.bind(srv);
  return Object.assign(srv, {
    name, nodeUrl, configFile,
    async stop(graceMs) {
      const r = await stop(graceMs);
      rmSync(dir, { recursive: true, force: true });
      return r;
    },
    /** SIGKILL by PID: the node dies as a machine would, without a word to Redis. */
    async kill() {
      try { process.kill(srv.pid, 'SIGKILL'); } catch { /* gone */ }
      return stop(1000);
    },
  });
}

/** Media port bases for n nodes that neither collide with each other nor with other
 *  helpers' tests (which use 10000+): 20000 + a random offset, 100 apart. */
export function mediaPortBases(n) {
  const base = 20000 + 100 * Math.floor(Math.random() * 300);
  return Array.from({ length: n }, (_, i) => base + 100 * i);
}
