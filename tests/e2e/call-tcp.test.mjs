// End to end: a two-party Chromium call over ICE-TCP only (RFC 6544: the server's passive
// TCP candidate, RFC 4571 framing), with UDP candidates turned off in the server's config
// (media.ice_udp = false), inside a private network namespace (tests/lib/netns.mjs).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { insideNetns, runInNetns, setupNetns, SERVER_ADDR } from '../lib/netns.mjs';
import { startTandem, stopCleanly } from '../lib/tandem.mjs';
import { launchChromium } from '../lib/browsers.mjs';
import { pageJoin, pageStats } from '../lib/callclient.mjs';

const MEDIA_WAIT_MS = 30000;

if (!insideNetns()) {
  test('a call over ICE-TCP only (in a private network namespace)', { timeout: 300000 }, async () => {
    await runInNetns(import.meta.url, { timeoutMs: 280000 });
  });
} else {
  let server = null;
  let confDir = null;
  const people = [];
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  before(async () => {
    setupNetns();
    confDir = mkdtempSync(path.join(tmpdir(), 'tandem-tcp-'));
    const conf = path.join(confDir, 'tcp-only.conf');
    writeFileSync(conf, '[media]\nice_udp = false\nice_tcp = true\n');
    server = await startTandem({ listen: SERVER_ADDR, args: ['--config', conf, '--media-address', SERVER_ADDR] });
  }, { timeout: 60000 });

  after(async () => {
    await Promise.all(people.map((p) => p.browser.close().catch(() => {})));
    if (server) await server.stop();
    if (confDir) rmSync(confDir, { recursive: true, force: true });
  }, { timeout: 60000 });

  async function join(label) {
    const browser = await launchChromium(label);
    await browser.page.goto(`${server.url}/`);
    const id = await browser.page.evaluate(pageJoin, { wsUrl: server.wsUrl, room: 'tcp-room', name: label });
    const p = { label, browser, id };
    people.push(p);
    return p;
  }

  /** The candidate pair each connection of the page uses (protocol of our side). */
  const pairs = (p) => p.browser.page.evaluate(async () => {
    const out = {};
    for (const [label, pc] of [['pub', window.tdm.pub], ['sub', window.tdm.sub]]) {
      const r = await pc.getStats();
      let pairId = null;
      r.forEach((s) => { if (s.type === 'transport') pairId = s.selectedCandidatePairId; });
      const pair = pairId && r.get(pairId);
      const remote = pair && r.get(pair.remoteCandidateId);
      out[label] = remote ? `${remote.protocol} ${remote.tcpType ?? ''}`.trim() : null;
    }
    return out;
  });

  test('two people see and hear each other over TCP', { timeout: 180000 }, async (t) => {
    const a = await join('amina');
    const b = await join('jan');
    for (const [p, q] of [[a, b], [b, a]]) {
      const deadline = Date.now() + MEDIA_WAIT_MS;
      let s;
      let r;
      do {
        s = await p.browser.page.evaluate(pageStats);
        r = s.remote[q.id];
        if (r && r.framesDecoded > 0 && r.audioEnergy > 0) break;
        await sleep(300);
      } while (Date.now() < deadline);
      assert.ok(r && r.framesDecoded > 0 && r.audioEnergy > 0,
        `${p.label}: ${JSON.stringify(s)}\n${server.stderr.slice(-2000)}`);
      await sleep(1500);
      const later = await p.browser.page.evaluate(pageStats);
      assert.ok(later.remote[q.id].framesDecoded > r.framesDecoded, `${p.label}: video stopped`);
      const used = await pairs(p);
      assert.deepEqual(used, { pub: 'tcp passive', sub: 'tcp passive' });
      t.diagnostic(`${p.label} receives ${q.label} over ${JSON.stringify(used)}: ${later.remote[q.id].framesDecoded} frames, ` +
        `first frame ${later.firstFrameMs[q.id]} ms after joining, audio energy ${later.remote[q.id].audioEnergy.toFixed(4)}`);
    }
  });

  test('the server stops cleanly (exit 0, no sanitizer report)', { timeout: 60000 }, async (t) => {
    await Promise.all(people.map((p) => p.browser.close()));
    people.length = 0;
    const s = server;
    server = null;
    await stopCleanly(t, s);
  });
}
