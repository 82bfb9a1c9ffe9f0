// Attack and probe helpers for the connection gate (issue 11 part 2): sockets that connect
// to the HTTPS port and send nothing (or trickle a ClientHello), reopened as soon as they
// close, and timed page loads and joins from another address. Used by
// tests/integration/idle-flood.test.mjs and bench/idle-flood.mjs.
import net from 'node:net';
import https from 'node:https';
import WebSocket from 'ws';

// The start of a real-looking TLS 1.2 ClientHello record: a 512-byte handshake record that
// a trickling attacker never finishes.
const HELLO_START = Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]);

/** A complete, valid TLS 1.2 ClientHello record (ECDHE with AES-GCM, x25519 or P-256): the
 *  server starts a handshake for it, which the attacker then never continues. */
export function clientHello() {
  const u16 = (n) => [n >> 8, n & 0xff];
  const ext = (type, data) => [...u16(type), ...u16(data.length), ...data];
  const exts = [
    ...ext(0x000a, [0, 4, 0x00, 0x1d, 0x00, 0x17]), // supported_groups
    ...ext(0x000b, [1, 0]), // ec_point_formats: uncompressed
    ...ext(0x000d, [0, 6, 0x04, 0x03, 0x08, 0x04, 0x04, 0x01]), // signature_algorithms
  ];
  const random = [...Array(32)].map(() => Math.floor(Math.random() * 256));
  const body = [0x03, 0x03, ...random, 0, ...u16(4), 0xc0, 0x2b, 0xc0, 0x2f, 1, 0,
    ...u16(exts.length), ...exts];
  const hs = [1, 0, ...u16(body.length), ...body];
  return Buffer.from([0x16, 0x03, 0x01, ...u16(hs.length), ...hs]);
}

/**
 * Holds `count` sockets to host:port, spread evenly over the source addresses `sources`
 * (all of 127/8 is loopback), reopening each as soon as it closes. `trickle`: each socket
 * sends one byte of a ClientHello every `trickleMs`. `hello`: each sends a whole
 * ClientHello at once and then nothing (a TLS handshake left hanging). Returns { stop(), stats }, stats
 * counting opens and closes; stop() destroys every socket and stops reopening.
 */
export function holdIdle({ host, port, count, sources = ['127.0.0.2'], trickle = false,
  trickleMs = 1000, hello = false }) {
  const helloBytes = clientHello();
  const stats = { opened: 0, closed: 0, errors: 0 };
  const sockets = new Set();
  let stopped = false;
  const open = (i) => {
    if (stopped) return;
    const s = net.connect({ host, port, localAddress: sources[i % sources.length] });
    let sent = 0;
    let timer = null;
    let connected = false;
    sockets.add(s);
    s.on('connect', () => {
      stats.opened++;
      connected = true;
      if (hello) s.write(helloBytes);
      if (trickle) {
        timer = setInterval(() => {
          if (sent < HELLO_START.length) s.write(HELLO_START.subarray(sent, sent + 1));
          sent++;
        }, trickleMs);
      }
    });
    s.on('error', () => { stats.errors++; });
    s.resume(); // discard what the server sends (a ServerHello), so its close is seen
    s.on('close', (hadError) => {
      if (timer) clearInterval(timer);
      sockets.delete(s);
      if (connected) stats.closed++;
      // as soon as it closes; after a failed connect (ports in TIME_WAIT), a moment later
      if (connected) setImmediate(() => open(i));
      else setTimeout(() => open(i), 20);
    });
  };
  for (let i = 0; i < count; i++) open(i);
  return {
    stats,
    get live() { return sockets.size; },
    stop() {
      stopped = true;
      for (const s of sockets) s.destroy();
      sockets.clear();
    },
  };
}

/** holdIdle in a worker thread (its event loop apart from the probes'). Resolves once
 *  `count` sockets were opened at least once (or after waitMs) to { stats, stop() };
 *  stop() resolves once every socket is closed. */
export async function holdIdleInWorker(opts, waitMs = 10000) {
  const { Worker } = await import('node:worker_threads');
  const worker = new Worker(new URL('./idleflood-worker.mjs', import.meta.url), { workerData: opts });
  const flood = { stats: { opened: 0, closed: 0, errors: 0 }, live: 0 };
  let exited = false;
  const exit = new Promise((resolve) => worker.on('exit', () => { exited = true; resolve(); }));
  worker.on('message', (m) => { flood.stats = m.stats; if (m.live !== undefined) flood.live = m.live; });
  flood.stop = async () => {
    if (!exited) worker.postMessage({ stop: true });
    const t = setTimeout(() => worker.terminate(), 5000);
    await exit;
    clearTimeout(t);
  };
  const deadline = Date.now() + waitMs;
  while (flood.stats.opened < opts.count && Date.now() < deadline && !exited)
    await new Promise((r) => setTimeout(r, 20));
  return flood;
}

/** Milliseconds for a full HTTPS GET of `path` (a new connection each time), from
 *  `localAddress`; rejects after `timeoutMs`. */
export function timePageLoad({ host, port, path = '/', localAddress = '127.0.0.1',
  timeoutMs = 10000 }) {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = https.get({ host, port, path, localAddress, agent: false,
      rejectUnauthorized: false, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => {
        if (res.statusCode !== 200) reject(new Error(`status ${res.statusCode}`));
        else resolve(performance.now() - t0);
      });
    });
    req.on('timeout', () => req.destroy(new Error(`no page within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

/** Milliseconds from opening a WebSocket to the `welcome` of a real `join` with `token`
 *  (a new connection each time, closed afterwards); rejects on an error or after
 *  `timeoutMs`. */
export function timeJoin({ host, port, room, token, role = 'mentee',
  localAddress = '127.0.0.1', timeoutMs = 10000 }) {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`wss://${host}:${port}/ws`, ['tandem.v1'], {
      rejectUnauthorized: false, localAddress, handshakeTimeout: timeoutMs,
    });
    const timer = setTimeout(() => { ws.terminate(); reject(new Error(`no welcome within ${timeoutMs} ms`)); },
      timeoutMs);
    ws.on('open', () => ws.send(JSON.stringify({ type: 'join', id: 1, room, name: 'Probe', role, token })));
    ws.on('message', (data) => {
      const m = JSON.parse(data.toString());
      if (m.type !== 'welcome' && m.type !== 'error') return;
      clearTimeout(timer);
      ws.close();
      if (m.type === 'welcome') resolve(performance.now() - t0);
      else reject(new Error(`join refused: ${m.code}`));
    });
    ws.on('error', (e) => { clearTimeout(timer); reject(e); });
  });
}

/** p50, p99 and max of a list of milliseconds. */
export function percentiles(ms) {
  const s = [...ms].sort((a, b) => a - b);
  const at = (q) => s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)];
  return { n: s.length, p50: at(0.5), p99: at(0.99), max: s[s.length - 1] };
}

/** VmRSS of a process in KiB (Linux). */
export async function vmRssKiB(pid) {
  const { readFile } = await import('node:fs/promises');
  const m = /VmRSS:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

/** CPU seconds a process has used so far, user + system (Linux, 100 ticks a second). */
export async function cpuSeconds(pid) {
  const { readFile } = await import('node:fs/promises');
  const f = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}
