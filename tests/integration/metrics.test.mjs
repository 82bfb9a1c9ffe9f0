// The metrics endpoint without a call (docs/metrics.md): off unless configured, a value
// that is not ADDRESS:PORT refused at start, GET /metrics only, stalled clients cannot keep
// a scraper out, and link refusals counted by code, with nothing of what came in (token,
// room, name, address) in the scrape. The call itself is in tests/e2e/metrics.test.mjs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import net from 'node:net';
import { startTandem, stopCleanly, mintInvite, TANDEM_BIN, testCertificate } from '../lib/tandem.mjs';
import { client as wsClient, closeAllClients } from '../lib/wsclient.mjs';
import { metricsConfig, metricsUrl, scrape, parseMetrics, assertPrivate } from '../lib/metrics.mjs';

let srv;
let url;

before(async () => {
  srv = await startTandem({ openRooms: false, args: ['--config', metricsConfig()] });
  url = await metricsUrl(srv);
});
after(async (t) => {
  closeAllClients();
  if (srv) await stopCleanly(t, srv);
});

test('off unless metrics.listen is set', async (t) => {
  const plain = await startTandem();
  try {
    await new Promise((r) => setTimeout(r, 300));
    assert.doesNotMatch(plain.stderr, /metrics on/);
  } finally {
    await stopCleanly(t, plain);
  }
});

test('a metrics.listen that is not ADDRESS:PORT is refused before anything starts', async () => {
  const { cert, key } = testCertificate();
  for (const bad of ['localhost:9464', '127.0.0.1', '::1:9464', '127.0.0.1:70000']) {
    const r = await new Promise((resolve) => {
      execFile(TANDEM_BIN, ['--config', metricsConfig(bad), '--cert', cert, '--key', key, '--port', '0'],
        { timeout: 10000 }, (err, stdout, stderr) => resolve({ code: err ? err.code : 0, stderr }));
    });
    assert.equal(r.code, 2, `${bad}: ${r.stderr}`);
    assert.match(r.stderr, /metrics\.listen/);
  }
});

test('GET /metrics answers the text format; other paths and methods do not', async () => {
  const r = await scrape(url);
  assert.equal(r.status, 200);
  assert.equal(r.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
  const m = parseMetrics(r.text);
  assert.equal(m.get('tandem_rooms'), 0);
  assert.equal(m.get('tandem_participants'), 0);
  assert.ok(m.has('tandem_worker_cpu_seconds_total{worker="0"}'), r.text);
  assert.equal(m.get('tandem_worker_queue_depth{worker="0"}'), 0);
  assert.equal((await scrape(url.replace('/metrics', '/'))).status, 404);
  assert.equal((await scrape(`${url}x`)).status, 404);
  assert.equal((await scrape(url, { method: 'POST' })).status, 405);
});

test('clients that connect and send nothing do not keep the scraper out', async () => {
  const { port, hostname } = new URL(url);
  const idle = [];
  for (let i = 0; i < 20; i++) {
    idle.push(await new Promise((resolve, reject) => {
      const s = net.connect(Number(port), hostname, () => resolve(s));
      s.on('error', reject);
    }));
  }
  const t0 = Date.now();
  const r = await scrape(url);
  assert.equal(r.status, 200);
  assert.ok(Date.now() - t0 < 2000, `the scrape took ${Date.now() - t0} ms`);
  for (const s of idle) s.destroy();
});

test('link refusals are counted by code and where, and nothing of them shows', async () => {
  const room = 'metrics-hidden-room';
  const good = mintInvite({ room, role: 'mentee', uses: 1 });
  const forged = `${good.slice(0, -4)}AAAA`;
  const other = mintInvite({ room: 'metrics-other-room', role: 'mentor' });
  const c = await wsClient(srv.wsUrl);
  let id = 1;
  const ask = async (msg) => {
    const ref = id++;
    c.send({ ...msg, id: ref });
    return c.next((m) => m.ref === ref);
  };
  assert.equal((await ask({ type: 'invite.check', room, token: forged })).code, 'invite_invalid');
  assert.equal((await ask({ type: 'invite.check', room, token: other })).code, 'invite_invalid');
  assert.equal((await ask({ type: 'invite.check', room })).code, 'invite_required');
  assert.equal((await ask({ type: 'console.hello', token: forged })).code, 'console_invalid');
  assert.equal((await ask({ type: 'join', room, name: 'Hidden Person', role: 'mentee', token: forged })).code,
    'invite_invalid');
  const welcome = await ask({ type: 'join', room, name: 'Hidden Person', role: 'mentee', token: good });
  assert.equal(welcome.type, 'welcome');
  const again = await wsClient(srv.wsUrl);
  again.send({ type: 'join', id: 1, room, name: 'Second Person', role: 'mentee', token: good });
  assert.equal((await again.next((m) => m.ref === 1)).code, 'invite_used');

  const r = await scrape(url);
  const m = parseMetrics(r.text);
  assert.equal(m.get('tandem_invite_refusals_total{at="check",code="invite_invalid"}'), 2);
  assert.equal(m.get('tandem_invite_refusals_total{at="check",code="invite_required"}'), 1);
  assert.equal(m.get('tandem_invite_refusals_total{at="console",code="console_invalid"}'), 1);
  assert.equal(m.get('tandem_invite_refusals_total{at="join",code="invite_invalid"}'), 1);
  assert.equal(m.get('tandem_invite_refusals_total{at="join",code="invite_used"}'), 1);
  assert.equal(m.get('tandem_joins_total'), 1);
  assert.equal(m.get('tandem_rooms'), 1);
  assert.equal(m.get('tandem_participants'), 1);
  assert.equal(m.get('tandem_connections{state="ws_joined"}'), 1);
  assert.equal(m.get('tandem_connections{state="ws_open"}'), 1);
  assertPrivate(r.text, [room, 'metrics-other-room', 'Hidden Person', 'Second Person', good, forged,
    other, welcome.you.id, welcome.pass]);
});
