// Three Tandem nodes on one Redis, with real room pages (Debian Chromium), inside a private
// network namespace (tests/lib/netns.mjs; root): redis-server on the namespace's loopback,
// the nodes on 198.18.0.1 with HTTPS ports and media ports of their own. Two people open
// the room through different nodes and end up in one call (frames decoded both ways); the
// room's node is killed (SIGKILL, by PID) mid-call and the pages bring the call back on
// another node by themselves, with their pass (no new invite); a once-only link used through
// one node is refused through another. Prints the node-failure timeline (docs/deploy.md
// "Several machines" says what to expect).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { insideNetns, runInNetns, setupNetns, SERVER_ADDR } from '../lib/netns.mjs';
import { mintInvite } from '../lib/tandem.mjs';
import { launchChromium } from '../lib/browsers.mjs';
import { startRedis, startNode, mediaPortBases } from '../lib/cluster.mjs';

const ROOM = 'cluster-call-room';
const MEDIA_WAIT_MS = 45000;
const UI_WAIT_MS = 30000;
// The defaults of docs/configuration.md: a dead node's rooms are free within ttl_ms.
const HEARTBEAT_MS = 2000;
const TTL_MS = 6000;
// The bound the docs promise for a call to be back after its node died: the lease (ttl_ms),
// the pages' reconnect backoff (1, 2, 4, 8 s), ICE and DTLS.
const FAILOVER_BOUND_MS = 30000;

if (!insideNetns()) {
  test('a call across three nodes on Redis survives its node (in a private network namespace)', { timeout: 400000 }, async () => {
    await runInNetns(import.meta.url, { timeoutMs: 380000 });
  });
} else {
  let redis = null;
  const nodes = [];
  const people = [];

  before(async () => {
    setupNetns();
    redis = await startRedis({ host: '127.0.0.1' }); // the namespace's own loopback
    const bases = mediaPortBases(3);
    for (const [i, name] of ['n1', 'n2', 'n3'].entries()) {
      nodes.push(await startNode({ redis, name, host: SERVER_ADDR, publicUrl: `https://${SERVER_ADDR}`,
        mediaPortBase: bases[i], heartbeatMs: HEARTBEAT_MS, ttlMs: TTL_MS, timeoutMs: 1000,
        args: ['--media-address', SERVER_ADDR] }));
    }
    // The pages' CSP names the other nodes once a heartbeat listed them.
    const until = Date.now() + 15000;
    while (!nodes.every((n) => /cluster: 3 live nodes/.test(n.stderr))) {
      assert.ok(Date.now() < until, 'the nodes did not see each other');
      await sleep(50);
    }
  }, { timeout: 90000 });

  after(async () => {
    await Promise.all(people.map((p) => p.browser.close().catch(() => {})));
    for (const n of nodes) {
      const r = await n.stop();
      if (!n.killed) {
        assert.deepEqual(r, { code: 0, signal: null }, n.stderr.slice(-3000));
        assert.doesNotMatch(n.stderr, /AddressSanitizer|LeakSanitizer|runtime error:/, n.stderr.slice(-3000));
      }
    }
    await redis?.stop();
  }, { timeout: 60000 });

  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  /** Opens the room page of node with the token and joins; every signaling message the page
   *  gets is noted with its time (page.on('websocket')). */
  async function join(label, node, token, browser = null, room = ROOM, { form = true } = {}) {
    browser ||= await launchChromium(label);
    const page = browser.page === undefined || people.some((p) => p.page === browser.page)
      ? await browser.page.context().newPage() : browser.page;
    const person = { label, browser, page, frames: [], sockets: [], errors: [], log: [] };
    page.on('pageerror', (err) => person.errors.push(err.message));
    page.on('console', (msg) => person.log.push(`${msg.type()}: ${msg.text()}`));
    page.on('websocket', (ws) => {
      person.sockets.push({ url: ws.url(), at: Date.now() });
      ws.on('close', () => person.frames.push({ at: Date.now(), type: '(closed)', url: ws.url() }));
      ws.on('framereceived', (f) => {
        try {
          const m = JSON.parse(f.payload);
          person.frames.push({ at: Date.now(), type: m.type, code: m.code, url: ws.url(), msg: m });
        } catch { /* not ours */ }
      });
    });
    await page.setViewportSize({ width: 1280, height: 800 });
    // (DOMContentLoaded: the page's modules run from there; a busy machine may hold "load")
    await page.goto(`${node.url}/r/${room}#t=${token}`, { waitUntil: 'domcontentloaded', timeout: 60000 });
    if (!form) return person;
    await page.getByLabel('Your name').fill(label);
    await page.getByRole('button', { name: 'Join', exact: true }).click();
    return person;
  }

  async function inRoom(person) {
    await person.page.getByRole('heading', { name: 'In the room', exact: true }).waitFor({ timeout: UI_WAIT_MS });
    return person.page.$eval('#participants .tile[data-self="true"]', (li) => li.dataset.participantId);
  }

  /** What p decodes from participant id (getStats through the page's test hook). */
  function framesFrom(p, id) {
    return p.page.evaluate((pid) => {
      const hook = window.tandemCall;
      if (!hook?.sub) return 0;
      const owners = hook.trackOwners();
      return hook.sub.getStats().then((st) => {
        let frames = 0;
        st.forEach((s) => {
          if (s.type === 'inbound-rtp' && s.kind === 'video' && owners[s.trackIdentifier] === pid) frames = s.framesDecoded || 0;
        });
        return frames;
      });
    }, id).catch(() => 0);
  }

  /** Resolves the time at which p decodes growing video from id (bounded). */
  async function decodes(p, id, label) {
    const end = Date.now() + MEDIA_WAIT_MS;
    let first = 0;
    for (;;) {
      const f = await framesFrom(p, id);
      if (f > 0 && !first) first = f;
      else if (first && f > first) return Date.now();
      if (Date.now() > end) {
        throw new Error(`${label}: no video decoded from ${id} (frames ${f}); page: ${p.log.slice(-10).join(' | ')}\n` +
          nodes.map((n) => `${n.name}: ${n.stderr.slice(-1500)}`).join('\n'));
      }
      await sleep(200);
    }
  }

  const nodeOfWs = (url) => nodes.find((n) => n.wsUrl === url)?.name ?? url;

  test('two people joining through different nodes end up in one call; it comes back when the room\'s node dies', { timeout: 300000 }, async () => {
    const once = mintInvite({ room: ROOM, role: 'mentor', uses: 1 }); // Amina's: once only
    const open = mintInvite({ room: ROOM, role: 'mentee' });
    const a = await join('Amina', nodes[0], once);
    people.push(a);
    const aId = await inRoom(a);
    const b = await join('Jan', nodes[1], open);
    people.push(b);
    const bId = await inRoom(b);
    // Jan's page was sent from n2 to the room's node n1.
    const moved = b.frames.find((f) => f.type === 'moved');
    assert.ok(moved, `Jan's page got no moved: ${JSON.stringify(b.frames.map((f) => f.type))}`);
    assert.equal(moved.msg.url, nodes[0].wsUrl);
    // (the page's first socket to n2 is its invite.check, before the form)
    assert.equal(nodeOfWs(b.sockets.at(-1).url), 'n1', `Jan followed moved to n1: ${JSON.stringify(b.sockets)}`);
    await Promise.all([decodes(a, bId, 'Amina'), decodes(b, aId, 'Jan')]);

    // The room's node dies mid-call.
    const seen = { a: a.frames.length, b: b.frames.length };
    const t0 = Date.now();
    nodes[0].killed = true;
    await nodes[0].kill();
    const dump = (err) => {
      const d = (p) => `${p.label}: sockets ${JSON.stringify(p.sockets.map((x) => [x.at - t0, nodeOfWs(x.url)]))}\n` +
        `frames ${JSON.stringify(p.frames.slice(-30).map((f) => [f.at - t0, f.type, f.code, nodeOfWs(f.url)]))}\nlog ${p.log.slice(-15).join(' | ')}`;
      throw new Error(`${err.message}\n${d(a)}\n${d(b)}\n${nodes.slice(1).map((n) => `${n.name}: ${n.stderr.slice(-2000)}`).join('\n')}`);
    };
    const [a2, b2] = await Promise.all([
      a.page.waitForFunction((old) => {
        const li = document.querySelector('#participants .tile[data-self="true"]');
        return li && li.dataset.participantId !== old && document.querySelector('#room:not([hidden])') && li.dataset.participantId;
      }, aId, { timeout: FAILOVER_BOUND_MS + 15000, polling: 100 }).then((h) => h.jsonValue()),
      b.page.waitForFunction((old) => {
        const li = document.querySelector('#participants .tile[data-self="true"]');
        return li && li.dataset.participantId !== old && document.querySelector('#room:not([hidden])') && li.dataset.participantId;
      }, bId, { timeout: FAILOVER_BOUND_MS + 15000, polling: 100 }).then((h) => h.jsonValue()),
    ]).catch(dump);
    // Both see the other again under their new ids, and decode them.
    const [aBack, bBack] = await Promise.all([decodes(a, b2, 'Amina after'), decodes(b, a2, 'Jan after')]);

    const timeline = (p, key) => {
      const after0 = p.frames.slice(seen[key]);
      const at = (pred) => { const f = after0.find(pred); return f ? `${f.at - t0} ms` : '-'; };
      const welcome = after0.find((f) => f.type === 'welcome');
      return {
        lost: at((f) => f.type === '(closed)'),
        moved: after0.filter((f) => f.type === 'moved').map((f) => `${f.at - t0} ms -> ${nodeOfWs(f.msg.url)}`),
        unavailable: after0.filter((f) => f.code === 'unavailable').length,
        welcome: welcome ? `${welcome.at - t0} ms on ${nodeOfWs(welcome.url)}` : '-',
        tries: p.sockets.filter((s) => s.at >= t0).map((s) => `${s.at - t0} ms ${nodeOfWs(s.url)}`),
        welcomeOn: welcome && nodeOfWs(welcome.url),
      };
    };
    const ta = timeline(a, 'a');
    const tb = timeline(b, 'b');
    console.log(`# node-failure timeline (heartbeat ${HEARTBEAT_MS} ms, ttl ${TTL_MS} ms), from SIGKILL of n1:`);
    console.log(`#   Amina: lost ${ta.lost}; tries ${ta.tries.join(', ')}; moved ${ta.moved.join(', ') || '-'}; welcome ${ta.welcome}; decodes Jan ${aBack - t0} ms`);
    console.log(`#   Jan:   lost ${tb.lost}; tries ${tb.tries.join(', ')}; moved ${tb.moved.join(', ') || '-'}; welcome ${tb.welcome}; decodes Amina ${bBack - t0} ms`);
    console.log(`#   call back (both decode both ways) ${Math.max(aBack, bBack) - t0} ms after the kill`);
    assert.ok(ta.welcomeOn && ta.welcomeOn === tb.welcomeOn && ta.welcomeOn !== 'n1', 'one room again, on a live node');
    assert.ok(Math.max(aBack, bBack) - t0 < FAILOVER_BOUND_MS, `the call took ${Math.max(aBack, bBack) - t0} ms to come back`);
    // Amina came back with her pass: her once-only link was not used again.
    const aJoins = a.frames.slice(seen.a).filter((f) => f.type === 'error');
    assert.deepEqual(aJoins.filter((f) => String(f.code).startsWith('invite_')), [], 'no invite refused on the way back');
    assert.deepEqual([...a.errors, ...b.errors], []);
  });

  test('a once-only link used through one node is refused through another', { timeout: 60000 }, async () => {
    // Amina's link (used once, on n1, which is dead now), opened in a fresh tab (no pass)
    // through n3: the shared ledger says it is used.
    const once = mintInvite({ room: 'cluster-once', role: 'mentee', uses: 1 });
    const first = await join('First', nodes[1], once, people[0].browser, 'cluster-once');
    await inRoom(first);
    // The page's check of its link before the form (invite.check) already says so.
    const second = await join('Second', nodes[2], once, people[1].browser, 'cluster-once', { form: false });
    const end = Date.now() + UI_WAIT_MS;
    while (!second.frames.some((f) => f.type === 'error') && Date.now() < end) await sleep(100);
    const err = second.frames.find((f) => f.type === 'error');
    assert.equal(err?.code, 'invite_used', JSON.stringify(second.frames.map((f) => [f.type, f.code])));
    assert.equal(nodeOfWs(err.url), 'n3');
    await second.page.getByText(/already been used/i).first().waitFor({ timeout: UI_WAIT_MS });
    await first.page.close();
    await second.page.close();
  });
}
