// A WebSocket test client for the signaling protocol: it queues incoming messages so a
// test can await the next one of a type, with a bounded wait.
import WebSocket from 'ws';

const open = new Set();
/** Terminates every client still open (call from an after hook). */
export function closeAllClients() {
  for (const c of open) c.ws.terminate();
}

/** A client that queues incoming messages so tests can await the next one of a type. */
export function client(wsUrl, { protocol = 'tandem.v1', headers = {} } = {}) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl, protocol ? [protocol] : [], {
      rejectUnauthorized: false, headers,
    });
    const c = { ws, queue: [], waiters: [], closed: null };
    ws.on('message', (data, isBinary) => {
      const msg = JSON.parse(data.toString());
      const i = c.waiters.findIndex((w) => w.pred(msg));
      if (i >= 0) c.waiters.splice(i, 1)[0].resolve(msg);
      else c.queue.push(msg);
    });
    ws.on('close', (code, reason) => {
      c.closed = { code, reason: reason.toString() };
      open.delete(c);
      for (const w of c.waiters) w.reject(new Error(`closed ${code} ${reason}`));
      c.waiters = [];
    });
    ws.on('open', () => { open.add(c); resolve(c); });
    ws.on('error', reject);
    c.send = (obj) => ws.send(typeof obj === 'string' ? obj : JSON.stringify(obj));
    c.next = (pred, ms = 5000) => {
      const p = typeof pred === 'string' ? (m) => m.type === pred : pred;
      const i = c.queue.findIndex(p);
      if (i >= 0) return Promise.resolve(c.queue.splice(i, 1)[0]);
      return new Promise((res, rej) => {
        const w = { pred: p, resolve: (m) => { clearTimeout(t); res(m); }, reject: rej };
        const t = setTimeout(() => {
          c.waiters.splice(c.waiters.indexOf(w), 1);
          rej(new Error(`no message matching ${pred} within ${ms} ms; queue: ${JSON.stringify(c.queue)}`));
        }, ms);
        c.waiters.push(w);
      });
    };
    c.waitClose = (ms = 5000) => new Promise((res, rej) => {
      if (c.closed) return res(c.closed);
      const t = setTimeout(() => rej(new Error('not closed')), ms);
      ws.once('close', (code, reason) => { clearTimeout(t); res({ code, reason: reason.toString() }); });
    });
    c.error = (code) => c.next((m) => m.type === 'error' && m.code === code);
  });
}

