// A TCP proxy on loopback that delays every chunk, each way, by base ± jitter ms while
// keeping byte order (a chunk never leaves before the one before it): a slow, jittery path
// for the WebSocket and HTTPS traffic of tests and benchmarks, on machines whose kernel has
// no netem. TLS passes through untouched. Bounded: at most maxPending bytes wait per
// direction (the sender is paused beyond that), at most maxConnections at once.
import net from 'node:net';

/**
 * Starts the proxy in front of target {host, port}. Options: delayMs (each way), jitterMs
 * (uniform ±), maxPending (bytes per direction), maxConnections.
 * Resolves with {port, cut(), close()}.
 */
export function startDelayProxy(target, { delayMs = 25, jitterMs = 15, maxPending = 4 << 20, maxConnections = 64 } = {}) {
  const sockets = new Set();
  const delay = () => Math.max(0, delayMs + (Math.random() * 2 - 1) * jitterMs);

  // One queue and one timer per direction: chunks leave strictly in order (timers of
  // different lengths may fire out of order, which would corrupt the TLS stream).
  function pipe(from, to) {
    const queue = []; // [release time, chunk | null for the end]
    let last = 0; // release time of the newest chunk
    let pending = 0;
    let timer = null;
    const drain = () => {
      timer = null;
      const now = performance.now();
      while (queue.length && queue[0][0] <= now + 0.5) {
        const [, chunk] = queue.shift();
        if (chunk === null) {
          to.end();
          continue;
        }
        pending -= chunk.length;
        if (!to.destroyed) to.write(chunk);
      }
      if (from.isPaused() && pending <= maxPending / 2) from.resume();
      if (queue.length) timer = setTimeout(drain, Math.max(0, queue[0][0] - now));
    };
    const push = (chunk) => {
      const now = performance.now();
      last = Math.max(last, now + delay());
      queue.push([last, chunk]);
      if (chunk) {
        pending += chunk.length;
        if (pending > maxPending) from.pause();
      }
      if (!timer) timer = setTimeout(drain, Math.max(0, queue[0][0] - now));
    };
    from.on('data', push);
    from.on('end', () => push(null)); // the end follows the last chunk
    from.on('close', () => { if (timer && to.destroyed) clearTimeout(timer); });
  }

  const server = net.createServer({ allowHalfOpen: true }, (client) => {
    if (sockets.size >= maxConnections * 2) {
      client.destroy();
      return;
    }
    const upstream = net.connect({ port: target.port, host: target.host, allowHalfOpen: true });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.setNoDelay(true);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => { client.destroy(); upstream.destroy(); });
    }
    pipe(client, upstream);
    pipe(upstream, client);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      resolve({
        port,
        /** Drops every connection now (no TLS or WebSocket goodbye, as when a network
         *  goes), and keeps listening for new ones. */
        cut() {
          for (const s of sockets) s.destroy();
        },
        close() {
          for (const s of sockets) s.destroy();
          return new Promise((r) => server.close(() => r()));
        },
      });
    });
  });
}
