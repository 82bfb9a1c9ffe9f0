// End to end: the server's downlink estimate per subscriber (server/sfu/downlink.c), from
// Chromium's own transport-cc feedback. Two Debian Chromium pages (720p fake camera, ~0.7
// Mbit/s) call through the server inside a private network namespace (tests/lib/netns.mjs);
// the metrics endpoint (docs/metrics.md) says how many subscriber connections have an
// estimate, how many are weak (under 300 kbit/s) and their sum. Then one page's downlink is
// policed to 200 kbit/s with nftables (on the input hook, matching the port of that page's
// "sub" connection: only that person is squeezed): its estimate must fall under 300 kbit/s
// while the other's stays above, and rise again once the policer is gone. The pictures keep
// decoding on the free line throughout. Needs root and nft. Everything stopped by PID.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { insideNetns, runInNetns, setupNetns, policePort, unpolice, SERVER_ADDR } from '../lib/netns.mjs';
import { startTandem, stopCleanly } from '../lib/tandem.mjs';
import { launchChromium } from '../lib/browsers.mjs';
import { pageJoin, pageStats } from '../lib/callclient.mjs';
import { metricsConfig, metricsUrl, scrape, parseMetrics } from '../lib/metrics.mjs';

const ROOM = 'downlink-estimate-room';
const CAP_KBIT = 200;

if (!insideNetns()) {
  test('downlink estimates from transport-cc (in a private network namespace)', { timeout: 400000 }, async () => {
    await runInNetns(import.meta.url, { timeoutMs: 380000 });
  });
} else {
  let server = null;
  let url = null;
  const browsers = [];
  const ids = [];
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  const clearRules = () => unpolice('downlink');
  const police = (port, kbit) => policePort('downlink', port, kbit);
  async function figures() {
    const m = parseMetrics((await scrape(url)).text);
    const n = m.get('tandem_downlink_estimates');
    return {
      feedback: m.get('tandem_twcc_feedback_total'), probes: m.get('tandem_probe_packets_total'),
      n, weak: m.get('tandem_downlink_estimates_weak'),
      meanKbit: n ? Math.round(m.get('tandem_downlink_estimate_bps_sum') / n / 1000) : 0,
      sumKbit: Math.round(m.get('tandem_downlink_estimate_bps_sum') / 1000),
    };
  }
  async function decoded() {
    const s = await Promise.all(browsers.map((b) => b.page.evaluate(pageStats)));
    return s.map((x, i) => x.remote[ids[1 - i]]?.framesDecoded ?? 0);
  }
  /** The local UDP port of a page's "sub" connection (its selected candidate pair). */
  function subPort(b) {
    return b.page.evaluate(async () => {
      const r = await window.tdm.sub.getStats();
      let port = 0;
      r.forEach((s) => {
        if (s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded') {
          const c = r.get(s.localCandidateId);
          if (c) port = c.port;
        }
      });
      return port;
    });
  }

  before(async () => {
    setupNetns();
    clearRules();
    server = await startTandem({ listen: SERVER_ADDR,
      args: ['--media-address', SERVER_ADDR, '--config', metricsConfig('127.0.0.1:0')] });
    url = await metricsUrl(server);
  }, { timeout: 60000 });

  after(async () => {
    clearRules();
    await Promise.all(browsers.map((b) => b.close().catch(() => {})));
    if (server) await server.stop();
  }, { timeout: 60000 });

  test('Chromium reports its downlink and the server estimates it, while pictures decode', { timeout: 150000 }, async (t) => {
    for (const name of ['Amina', 'Jan']) {
      const b = await launchChromium(`downlink-${name}`);
      browsers.push(b);
      await b.page.goto(`${server.url}/`);
      ids.push(await b.page.evaluate(pageJoin, { wsUrl: server.wsUrl, room: ROOM, name, width: 1280, height: 720 }));
    }
    const deadline = Date.now() + 60000;
    let ok = false;
    while (!ok && Date.now() < deadline) {
      ok = (await decoded()).every((f) => f > 10);
      if (!ok) await sleep(250);
    }
    assert.ok(ok, `the pages do not see each other\n${server.stderr.slice(-3000)}`);
    await sleep(5000); // the estimates settle
    const a = await figures();
    const f0 = await decoded();
    await sleep(3000);
    const b = await figures();
    const f1 = await decoded();
    t.diagnostic(`after 5 s of call: ${JSON.stringify(a)}; 3 s later ${JSON.stringify(b)}; frames decoded ${f0} -> ${f1}`);
    assert.equal(b.n, 2, 'both sub connections have an estimate');
    assert.ok(b.feedback > a.feedback + 2 * 10, 'transport-cc feedback keeps coming (about 10/s per page)');
    assert.ok(b.meanKbit > 300, `estimates too low for a free line: ${JSON.stringify(b)}`);
    assert.equal(b.weak, 0);
    // 5 frames a second at least (the fake camera sends 20; a loaded machine decodes fewer).
    assert.ok(f1.every((f, i) => f > f0[i] + 15), `pictures stopped: ${f0} -> ${f1}`);
  });

  test(`one person's downlink policed to ${CAP_KBIT} kbit/s: only their estimate falls, and it recovers`, { timeout: 150000 }, async (t) => {
    const port = await subPort(browsers[0]);
    assert.ok(port > 0, 'no selected candidate pair on the sub connection');
    const before = await figures();
    police(port, CAP_KBIT);
    const t0 = Date.now();
    let now = before;
    while (now.weak !== 1 && Date.now() - t0 < 15000) {
      await sleep(250);
      now = await figures();
    }
    const down = (Date.now() - t0) / 1000;
    t.diagnostic(`policed at ${CAP_KBIT} kbit/s: one weak estimate after ${down.toFixed(1)} s: ${JSON.stringify(now)}`);
    assert.equal(now.weak, 1, `the policed person's estimate did not fall under 300 kbit/s: ${JSON.stringify(now)}`);
    // Over the next 5 s the policed estimate stays mostly weak. It is sampled, not read
    // once: a probe that passes in the policer's burst lifts it for a moment until the loss
    // that follows takes it back (core/gcc.c; docs/architecture.md says so).
    let weakSamples = 0;
    let samples = 0;
    let held = now;
    for (const until = Date.now() + 5000; Date.now() < until; samples++) {
      await sleep(250);
      held = await figures();
      weakSamples += held.weak === 1 ? 1 : 0;
    }
    const f0 = await decoded();
    const tf0 = Date.now();
    t.diagnostic(`over the next 5 s: weak in ${weakSamples} of ${samples} samples; last ${JSON.stringify(held)} (the free person's estimate is the sum minus the weak one's)`);
    assert.ok(weakSamples * 2 >= samples, `the policed estimate was weak in only ${weakSamples} of ${samples} samples`);
    assert.equal(held.n, 2);
    assert.ok(held.sumKbit > 300, `the other estimate fell too: ${JSON.stringify(held)}`);
    clearRules();
    const t1 = Date.now();
    now = held;
    while (now.weak !== 0 && Date.now() - t1 < 20000) {
      await sleep(250);
      now = await figures();
    }
    const up = (Date.now() - t1) / 1000;
    const f1 = await decoded();
    t.diagnostic(`policer removed: no weak estimate after ${up.toFixed(1)} s: ${JSON.stringify(now)}; frames ${f0} -> ${f1}`);
    assert.equal(now.weak, 0, `the estimate did not recover within 20 s: ${JSON.stringify(now)}`);
    const secs = (Date.now() - tf0) / 1000;
    assert.ok(f1[1] > f0[1] + 5 * secs, `the free person's picture stopped: ${f0} -> ${f1} in ${secs} s`);
  });

  test('the server stops cleanly (exit 0, no sanitizer report)', { timeout: 60000 }, async (t) => {
    await Promise.all(browsers.map((b) => b.close()));
    browsers.length = 0;
    const s = server;
    server = null;
    await stopCleanly(t, s);
  });
}
