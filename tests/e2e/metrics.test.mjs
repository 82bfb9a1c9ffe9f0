// The metrics endpoint during a real call (docs/metrics.md): two Chromium pages join a
// closed room with invite links and call through the SFU inside a private network
// namespace; the endpoint (on the namespace's loopback) is scraped during the call. The
// counters must have moved (2 participants, 4 connected media connections, forwarded
// packets and bytes growing between two scrapes, worker CPU), and no scrape may hold an
// address, the room, a name, a token or a participant id. Everything stopped by PID.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { insideNetns, runInNetns, setupNetns, SERVER_ADDR, PEER_ADDR } from '../lib/netns.mjs';
import { startTandem, stopCleanly, mintInvite } from '../lib/tandem.mjs';
import { launchChromium } from '../lib/browsers.mjs';
import { pageJoin, pageStats } from '../lib/callclient.mjs';
import { metricsConfig, metricsUrl, scrape, parseMetrics, assertPrivate } from '../lib/metrics.mjs';

const ROOM = 'metrics-call-room-x7';
const NAMES = ['Amina Metricsperson', 'Jan Metricsperson'];

if (!insideNetns()) {
  test('metrics during a call (in a private network namespace)', { timeout: 300000 }, async () => {
    await runInNetns(import.meta.url, { timeoutMs: 280000 });
  });
} else {
  let server = null;
  let url = null;
  const browsers = [];

  before(async () => {
    setupNetns();
    server = await startTandem({ listen: SERVER_ADDR, openRooms: false,
      args: ['--media-address', SERVER_ADDR, '--config', metricsConfig('127.0.0.1:0')] });
    url = await metricsUrl(server);
  }, { timeout: 60000 });

  after(async (t) => {
    await Promise.all(browsers.map((b) => b.close().catch(() => {})));
    if (server) await stopCleanly(t, server);
  }, { timeout: 60000 });

  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  test('the counters move during a call and the scrape says nothing about who', { timeout: 200000 }, async (t) => {
    const tokens = NAMES.map(() => mintInvite({ room: ROOM, role: 'mentee', uses: 1 }));
    const ids = [];
    for (let i = 0; i < NAMES.length; i++) {
      const b = await launchChromium(`metrics-${i}`);
      browsers.push(b);
      await b.page.goto(`${server.url}/`);
      ids.push(await b.page.evaluate(pageJoin, { wsUrl: server.wsUrl, room: ROOM, name: NAMES[i], token: tokens[i] }));
    }
    // Until both decode each other's video (bounded), then two scrapes 2 s apart.
    const deadline = Date.now() + 60000;
    let ok = false;
    while (!ok && Date.now() < deadline) {
      const s = await Promise.all(browsers.map((b) => b.page.evaluate(pageStats)));
      ok = s.every((x, i) => (x.remote[ids[1 - i]]?.framesDecoded ?? 0) > 10);
      if (!ok) await sleep(250);
    }
    assert.ok(ok, `the pages do not see each other\n${server.stderr.slice(-3000)}`);
    const first = await scrape(url);
    await sleep(2000);
    const second = await scrape(url);
    assert.equal(second.status, 200);
    const a = parseMetrics(first.text);
    const m = parseMetrics(second.text);
    t.diagnostic(second.text.split('\n').filter((l) => l && !l.startsWith('#')).join(' | '));
    assert.equal(m.get('tandem_rooms'), 1);
    assert.equal(m.get('tandem_participants'), 2);
    assert.equal(m.get('tandem_connections{state="ws_joined"}'), 2);
    assert.equal(m.get('tandem_media_connections{state="connected"}'), 4, 'pub and sub of each page');
    assert.equal(m.get('tandem_media_connections{state="setting_up"}'), 0);
    assert.ok(m.get('tandem_forwarded_packets_total') > a.get('tandem_forwarded_packets_total'),
      'forwarded packets grow during the call');
    assert.ok(a.get('tandem_forwarded_packets_total') > 0);
    assert.ok(m.get('tandem_forwarded_bytes_total') > m.get('tandem_forwarded_packets_total') * 50);
    assert.ok(m.get('tandem_rtp_received_packets_total') > 0);
    assert.ok(m.get('tandem_loss_reports_total{direction="up"}') > 0, 'our reports to publishers counted');
    assert.equal(m.get('tandem_joins_total'), 2);
    const cpu = [...m].filter(([k]) => k.startsWith('tandem_worker_cpu_seconds_total')).map(([, v]) => v);
    assert.ok(cpu.length >= 1 && cpu.some((v) => v > 0), 'some worker used CPU');
    for (const r of [first, second]) {
      assertPrivate(r.text, [ROOM, ...NAMES, ...NAMES.map((n) => n.split(' ')[0]), ...tokens, ...ids,
        SERVER_ADDR, PEER_ADDR, '127.0.0.1']);
    }
  });
}
