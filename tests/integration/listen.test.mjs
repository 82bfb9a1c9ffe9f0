// The HTTPS listener is Tandem's own (server/io/gate.c, in front of libwebsockets): it must
// keep serving on the address asked for, IPv6 included, with port 0 choosing a free port.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTandem } from '../lib/tandem.mjs';
import { timePageLoad } from '../lib/idleflood.mjs';

async function withServer(listen, fn) {
  const srv = await startTandem({ listen });
  try {
    await fn(srv);
  } finally {
    const r = await srv.stop();
    assert.equal(r.code, 0, srv.stderr);
  }
}

test('--listen ::1 serves on IPv6 loopback and says so', async () => {
  await withServer('::1', async (srv) => {
    assert.equal(srv.host, '[::1]');
    assert.ok(srv.port > 0);
    await timePageLoad({ host: '::1', port: srv.port, localAddress: '::1', timeoutMs: 5000 });
    await assert.rejects(timePageLoad({ host: '127.0.0.1', port: srv.port, timeoutMs: 2000 }));
  });
});

test('--listen :: serves IPv6 and IPv4', async () => {
  await withServer('::', async (srv) => {
    await timePageLoad({ host: '::1', port: srv.port, localAddress: '::1', timeoutMs: 5000 });
    await timePageLoad({ host: '127.0.0.1', port: srv.port, timeoutMs: 5000 });
  });
});

test('--listen 127.0.0.1 serves IPv4 only', async () => {
  await withServer('127.0.0.1', async (srv) => {
    await timePageLoad({ host: '127.0.0.1', port: srv.port, timeoutMs: 5000 });
    await assert.rejects(timePageLoad({ host: '::1', port: srv.port, localAddress: '::1',
      timeoutMs: 2000 }));
  });
});
