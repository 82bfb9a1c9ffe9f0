// A TCP proxy on loopback that delays every chunk, each way, by base ± jitter ms while
// keeping byte order (a chunk never leaves before the one before it): a slow, jittery path
// for the WebSocket and HTTPS traffic of tests and benchmarks, on machines whose kernel has
// no netem. TLS passes through untouched. Bounded: at most maxPending bytes wait per
// direction (the sender is paused beyond that), at most maxConnections at once.
import net from 'node:net';

/**
 * Starts the proxy in front of target {host, port}. Options: delayMs (each way), jitterMs
 * (uniform ±), maxPending (bytes per direction), maxConnections.
 * Resolves with {port, url(base), close()}.
 */
export function startDelayProxy(target, { delayMs = 25, jitterMs = 15, maxPending = 4 << 20, maxConnections = 64 } = {}) {
  const sockets = new Set();
  const delay = () => Math.max(0, delayMs + (Math.random() * 2 - 1) * jitterMs);

  function pipe(from, to) {
    let last = 0; // when the previous chunk leaves
    let pending = 0;
    from.on('data', (chunk) => {
      const now = performance.now();
      last = Math.max(last, now + delay());
      pending += chunk.length;
      if (pending > maxPending) from.pause();
      setTimeout(() => {
        pending -= chunk.length;
        if (!to.destroyed) to.write(chunk);
        if (from.isPaused() && pending <= maxPending / 2) from.resume();
      }, last - now);
    });
    // the end follows the last chunk
    from.on('end', () => setTimeout(() => to.end(), Math.max(0, last - performance.now()) + 1));
  }

  const server = net.createServer((client) => {
    if (sockets.size >= maxConnections * 2) {
      client.destroy();
      return;
    }
    const upstream = net.connect(target.port, target.host);
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
        close() {
          for (const s of sockets) s.destroy();
          return new Promise((r) => server.close(() => r()));
        },
      });
    });
  });
}
