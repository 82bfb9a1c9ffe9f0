// A UDP relay that delays, jitters and drops datagrams: netem in user space, for kernels
// without sch_netem (this machine's). Browsers reach the server's media ports through it: the
// server advertises the relay's address (--public-ip), the test's nftables rule drops media
// sent to the server's own address from anyone but the relay, so every datagram of the call
// passes here, both ways.
//
// For every client address a socket of its own talks to the server, so the server sees one
// peer per browser, as behind a NAT. Each direction of each client keeps its order: a
// datagram leaves at max(now + delay ± jitter, the previous one's time), as behind a queue
// (jitter without reordering, like netem with a rate). Losses are drawn per datagram.
//
// Usage: const r = await startUdpRelay({ listen: '198.18.0.3', ports: [20000], target: '198.18.0.1' });
//        r.set({ delayMs: 75, jitterMs: 25, lossPercent: 2 }); ... r.counts(); await r.close();
//        r.inject(buf) sends a datagram of the test's own to the server from every client socket.
import dgram from 'node:dgram';

const MAX_CLIENTS = 64;

export async function startUdpRelay({ listen, ports, target }) {
  let cfg = { delayMs: 0, jitterMs: 0, lossPercent: 0 };
  let closed = false;
  const counts = { forwarded: 0, dropped: 0, clients: 0 };
  const sockets = [];

  const bind = (sock, port, addr) => new Promise((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(port, addr, () => { sock.off('error', reject); resolve(); });
  });

  /** Sends after the configured delay, keeping this lane's order; drops at random. One
   *  queue and one timer per lane: a datagram never overtakes one still waiting. */
  function later(lane, send) {
    if (closed) return;
    if (cfg.lossPercent > 0 && Math.random() * 100 < cfg.lossPercent) {
      counts.dropped++;
      return;
    }
    const now = performance.now();
    const d = Math.max(0, cfg.delayMs + (Math.random() * 2 - 1) * cfg.jitterMs);
    lane.due = Math.max(now + d, lane.due);
    lane.queue.push({ at: lane.due, send });
    if (!lane.timer) arm(lane);
  }

  function arm(lane) {
    lane.timer = setTimeout(() => {
      lane.timer = null;
      const now = performance.now();
      while (lane.queue.length && lane.queue[0].at <= now + 0.5) {
        const { send } = lane.queue.shift();
        if (closed) return;
        counts.forwarded++;
        send();
      }
      if (lane.queue.length) arm(lane);
    }, Math.max(0, lane.queue[0].at - performance.now()));
  }

  const allClients = []; // {c, port}: every client's server-side socket, for inject()

  for (const port of ports) {
    const front = dgram.createSocket('udp4');
    await bind(front, port, listen);
    sockets.push(front);
    const clients = new Map(); // "addr:port" -> { up, lanes }
    front.on('message', async (msg, rinfo) => {
      const key = `${rinfo.address}:${rinfo.port}`;
      let c = clients.get(key);
      if (!c) {
        if (clients.size >= MAX_CLIENTS || closed) return;
        const up = dgram.createSocket('udp4');
        const lane = () => ({ due: 0, queue: [], timer: null });
        c = { up, toServer: lane(), toClient: lane(), ready: null };
        clients.set(key, c);
        counts.clients++;
        sockets.push(up);
        up.on('message', (back) => later(c.toClient, () => front.send(back, rinfo.port, rinfo.address)));
        up.on('error', () => {});
        c.ready = bind(up, 0, listen);
        allClients.push({ c, port });
      }
      await c.ready;
      later(c.toServer, () => c.up.send(msg, port, target));
    });
    front.on('error', () => {});
  }

  return {
    set(next) {
      cfg = { ...cfg, ...next };
    },
    counts: () => ({ ...counts }),
    /** Sends `datagram` to the server from every client's socket, at once: to the server it
     *  comes from that client's own address and port (as a forger on the path would send).
     *  Resolves with how many were sent. */
    async inject(datagram) {
      let n = 0;
      for (const { c, port } of allClients) {
        await c.ready;
        await new Promise((resolve) => c.up.send(datagram, port, target, resolve));
        n++;
      }
      return n;
    },
    async close() {
      closed = true;
      await Promise.all(sockets.map((s) => new Promise((r) => {
        try { s.close(r); } catch { r(); }
      })));
    },
  };
}
