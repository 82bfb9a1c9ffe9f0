// End to end: reconnection without leaving (docs/protocol.md "Resuming after a cut" and "ICE
// restarts"), with the real room page in two Debian Chromium browsers and the SFU inside a
// private network namespace (tests/lib/netns.mjs).
// (a) One page's WebSocket is given up as dead mid-call (the page's test hook, as after two
//     lost pings): the other page sees "reconnecting" then "reconnected" for the same
//     participant id, never "left" or "joined"; pictures keep decoding both ways; nobody
//     restarts ICE (the media path was never at fault).
// (b) An ICE restart on the live call (the page's test hook: restartIce() on "pub",
//     media.restart for "sub"): new ICE credentials on both connections, the same
//     RTCPeerConnections and DTLS certificate, pictures keep decoding, nobody leaves.
// (d) A third page reaches the server through a TCP relay the test controls, and the relay
//     drops every connection at once (no WebSocket close frame, as when a network goes):
//     the others see "reconnecting" and "reconnected", never "left"; its media goes on, and
//     nobody restarts ICE.
// (c) The page's path dies mid-call (nftables drops everything on every local port its two
//     connections gathered, so no other candidate pair can take over, as when Wi-Fi goes):
//     the page notices (web/js/pathwatch.mjs), restarts ICE (new ports, new credentials) and
//     voice and pictures are back both ways within BACK_MS of the cut, without a new pair
//     or a rejoin.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { insideNetns, runInNetns, setupNetns, SERVER_ADDR } from '../lib/netns.mjs';
import { startTandem } from '../lib/tandem.mjs';
import { launchChromium } from '../lib/browsers.mjs';
import { startDelayProxy } from '../lib/delayproxy.mjs';

const MEDIA_WAIT_MS = 45000;
const UI_WAIT_MS = 30000;
const BACK_MS = 2000; // issue 15: media back within 2 s of a path change
const ROOM = 'call-reconnect-room';

if (!insideNetns()) {
  test('reconnection without leaving (in a private network namespace)', { timeout: 580000 }, async () => {
    await runInNetns(import.meta.url, { timeoutMs: 560000 });
  });
} else {
  let server = null;
  const people = [];
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  before(async () => {
    setupNetns();
    server = await startTandem({ listen: SERVER_ADDR, args: ['--media-address', SERVER_ADDR] });
  }, { timeout: 60000 });

  after(async () => {
    await Promise.all(people.map((p) => p.browser.close().catch(() => {})));
    if (server) await server.stop();
  }, { timeout: 60000 });

  /** Joins through the room page's form; every signaling message the page receives is
   *  logged (type and id) from the browser's WebSocket frames. */
  async function join(label, base = server.url) {
    const browser = await launchChromium(label);
    const { page } = browser;
    const person = { label, browser, page, id: null, frames: [], errors: [] };
    people.push(person);
    person.log = [];
    page.on('pageerror', (err) => person.errors.push(err.message));
    page.on('console', (msg) => person.log.push(`${Date.now()} ${msg.type()}: ${msg.text()}`));
    page.on('websocket', (ws) => ws.on('framereceived', ({ payload }) => {
      try {
        const m = JSON.parse(String(payload));
        person.frames.push({ type: m.type, id: m.id ?? m.participant?.id ?? m.you?.id, at: Date.now() });
      } catch { /* not JSON */ }
    }));
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.goto(`${base}/r/${ROOM}`);
    await page.getByLabel('Your name').fill(label);
    await page.getByRole('button', { name: 'Join', exact: true }).click();
    await page.getByRole('heading', { name: 'In the room', exact: true }).waitFor({ timeout: UI_WAIT_MS });
    person.id = await page.$eval('#participants .tile[data-self="true"]', (li) => li.dataset.participantId);
    return person;
  }

  /** In the page: frames decoded from each remote participant, the pair's identity. */
  function pageStats() {
    const hook = window.tandemCall;
    const out = { status: hook.status, frames: {}, restarts: hook.iceRestarts };
    if (!hook.sub || !hook.pub) return Promise.resolve(out);
    const owners = hook.trackOwners();
    const ufrag = (d) => /a=ice-ufrag:(\S+)/.exec(d?.sdp || '')?.[1] || null;
    const fp = (d) => /a=fingerprint:(.+)/.exec(d?.sdp || '')?.[1] || null;
    window.tandemPairs ||= new WeakMap();
    if (!window.tandemPairs.has(hook.pub)) window.tandemPairs.set(hook.pub, Math.random());
    Object.assign(out, {
      pair: window.tandemPairs.get(hook.pub),
      pubLocalUfrag: ufrag(hook.pub.localDescription), pubRemoteUfrag: ufrag(hook.pub.remoteDescription),
      subLocalUfrag: ufrag(hook.sub.localDescription), subRemoteUfrag: ufrag(hook.sub.remoteDescription),
      pubFp: fp(hook.pub.localDescription), serverFp: fp(hook.pub.remoteDescription),
    });
    out.audio = {};
    return hook.sub.getStats().then((st) => {
      st.forEach((s) => {
        if (s.type === 'inbound-rtp' && s.kind === 'video' && owners[s.trackIdentifier]) {
          out.frames[owners[s.trackIdentifier]] = s.framesDecoded || 0;
        }
        if (s.type === 'inbound-rtp' && s.kind === 'audio' && owners[s.trackIdentifier]) {
          out.audio[owners[s.trackIdentifier]] = s.packetsReceived || 0;
        }
      });
      return out;
    });
  }
  const stats = (p) => p.page.evaluate(pageStats);

  /** Waits (bounded) until p's decoded frames from `from` exceed `above`. */
  async function framesGrow(p, from, above, waitMs = MEDIA_WAIT_MS) {
    const deadline = Date.now() + waitMs;
    let s = null;
    while (Date.now() < deadline) {
      s = await stats(p);
      if ((s.frames[from.id] ?? 0) > above) return s;
      await sleep(200);
    }
    const logs = people.map((q) => `${q.label}:\n${q.log.filter((l) => /tandem/.test(l)).slice(-12).join('\n')}`).join('\n');
    assert.fail(`${p.label} decodes nothing new from ${from.label} (above ${above}): ${JSON.stringify(s)}\n${logs}\n` +
      `server: ${server.stderr.slice(-2000)}`);
    return s;
  }

  const seen = (p, type, id, since) => p.frames.filter((f) => f.type === type && f.id === id && f.at >= since);

  test('two people in a call', { timeout: 150000 }, async () => {
    const a = await join('Amina');
    const b = await join('Jan');
    await framesGrow(a, b, 0);
    await framesGrow(b, a, 0);
  });

  test('(a) a WebSocket cut: "reconnecting", then the same participant again; media goes on', { timeout: 90000 }, async () => {
    const [a, b] = people;
    const since = Date.now();
    const before = await stats(a);
    const bBefore = await stats(b);
    await b.page.evaluate(() => window.tandemCall.dropSignaling());
    // a sees b "reconnecting" (the tile says so), then "reconnected"
    const label = await a.page.waitForFunction((id) => {
      const tile = document.querySelector(`#participants .tile[data-participant-id="${id}"][data-away="true"]`);
      return tile && !tile.querySelector('.tile-away').hidden && tile.querySelector('.tile-away').textContent;
    }, b.id, { timeout: UI_WAIT_MS, polling: 20 });
    assert.equal(await label.jsonValue(), 'Reconnecting…');
    await a.page.waitForSelector(`#participants .tile[data-participant-id="${b.id}"][data-away="false"]`,
      { timeout: UI_WAIT_MS });
    assert.equal(seen(a, 'reconnecting', b.id, since).length, 1);
    assert.equal(seen(a, 'reconnected', b.id, since).length, 1);
    assert.equal(seen(a, 'left', b.id, since).length, 0, 'never "left"');
    assert.equal(a.frames.filter((f) => f.type === 'joined' && f.at >= since).length, 0, 'never "joined"');
    // b is the same participant, with the same pair of connections
    const selfId = await b.page.$eval('#participants .tile[data-self="true"]', (li) => li.dataset.participantId);
    assert.equal(selfId, b.id);
    const welcome = b.frames.filter((f) => f.type === 'welcome' && f.at >= since);
    assert.equal(welcome.length, 1);
    assert.equal(welcome[0].id, b.id);
    const resumedAt = welcome[0].at;
    // pictures keep decoding both ways, within a few seconds of the resume
    const s = await framesGrow(a, b, before.frames[b.id] + 20, 10000);
    const sb = await framesGrow(b, a, 0, 10000);
    assert.equal(sb.status, 'connected');
    // the media path was never at fault: nobody restarted ICE
    assert.equal(s.restarts, before.restarts, 'a restarted ICE');
    assert.equal(sb.restarts, bBefore.restarts, 'b restarted ICE');
    console.log(`(a) resumed ${resumedAt - since} ms after the cut; a decoded ${s.frames[b.id] - before.frames[b.id]} ` +
      `frames of b meanwhile; b's status ${sb.status}`);
    assert.deepEqual(b.errors, []);
  });

  test('(b) an ICE restart on the live call: new credentials, same DTLS, media goes on', { timeout: 90000 }, async () => {
    const [a, b] = people;
    const since = Date.now();
    const s0 = await stats(b);
    const a0 = await stats(a);
    assert.equal(await b.page.evaluate(() => window.tandemCall.restartIce()), true);
    // both of b's connections renegotiated with new ICE credentials on both sides
    const deadline = Date.now() + UI_WAIT_MS;
    let s1 = s0;
    while (Date.now() < deadline) {
      s1 = await stats(b);
      if (s1.pubLocalUfrag !== s0.pubLocalUfrag && s1.pubRemoteUfrag !== s0.pubRemoteUfrag &&
        s1.subRemoteUfrag !== s0.subRemoteUfrag && s1.subLocalUfrag !== s0.subLocalUfrag) break;
      await sleep(200);
    }
    assert.notEqual(s1.pubLocalUfrag, s0.pubLocalUfrag, 'the page\'s pub credentials changed');
    assert.notEqual(s1.pubRemoteUfrag, s0.pubRemoteUfrag, 'the server\'s pub credentials changed');
    assert.notEqual(s1.subRemoteUfrag, s0.subRemoteUfrag, 'the server\'s sub credentials changed');
    assert.notEqual(s1.subLocalUfrag, s0.subLocalUfrag, 'the page\'s sub credentials changed');
    assert.equal(s1.pair, s0.pair, 'the same RTCPeerConnections');
    assert.equal(s1.pubFp, s0.pubFp, 'the same DTLS certificate');
    assert.equal(s1.serverFp, s0.serverFp);
    assert.equal(s1.restarts, s0.restarts + 1);
    // pictures keep decoding both ways
    const fb = await framesGrow(b, a, s1.frames[a.id] + 20, 15000);
    const fa = await framesGrow(a, b, a0.frames[b.id] + 20, 15000);
    assert.equal(fb.status, 'connected');
    assert.equal(fb.pair, s0.pair, 'no rebuild');
    for (const t of ['left', 'joined', 'reconnecting']) {
      assert.equal(a.frames.filter((f) => f.type === t && f.at >= since).length, 0, `no ${t}`);
    }
    console.log(`(b) after the restart: b decoded ${fb.frames[a.id] - s0.frames[a.id]} frames of a, ` +
      `a ${fa.frames[b.id] - a0.frames[b.id]} of b`);
  });

  /** The local ports of p's two connections: of their selected candidate pairs, and of
   *  every local candidate they gathered. */
  const localPorts = (p) => p.page.evaluate(async () => {
    const hook = window.tandemCall;
    const selected = [];
    const all = new Set();
    for (const pc of [hook.pub, hook.sub]) {
      const st = await pc.getStats();
      st.forEach((t) => {
        if (t.type === 'local-candidate' && t.port) all.add(t.port);
        if (t.type !== 'transport' || !t.selectedCandidatePairId) return;
        const pair = st.get(t.selectedCandidatePairId);
        const local = pair && st.get(pair.localCandidateId);
        if (local) selected.push(local.port);
      });
    }
    return { selected, all: [...all] };
  });

  test('(c) the page\'s path dies (a network change): ICE restart, media back without a rebuild', { timeout: 120000 }, async () => {
    const [a, b] = people;
    const since = Date.now();
    const s0 = await stats(b);
    const a0 = await stats(a);
    await b.page.evaluate(() => {
      window.tandemTrace = [];
      for (const [name, pc] of [['pub', window.tandemCall.pub], ['sub', window.tandemCall.sub]]) {
        pc.addEventListener('iceconnectionstatechange', () => window.tandemTrace.push(`${Date.now()} ${name} ice ${pc.iceConnectionState}`));
        pc.addEventListener('connectionstatechange', () => window.tandemTrace.push(`${Date.now()} ${name} ${pc.connectionState}`));
      }
    });
    const { selected, all: ports } = await localPorts(b);
    assert.equal(selected.length, 2, `b's selected pairs: ${JSON.stringify(selected)}`);
    execFileSync('nft', ['-f', '-'], {
      input: `table inet pathcut {
  chain rx {
    type filter hook input priority 0; policy accept;
    udp sport { ${ports.join(', ')} } counter drop
    udp dport { ${ports.join(', ')} } counter drop
    tcp sport { ${ports.join(', ')} } counter drop
    tcp dport { ${ports.join(', ')} } counter drop
  }
}\n`,
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    const cut = Date.now();
    console.log(`(c) dropping ports ${ports} of b (selected ${selected}) at ${cut}`);
    try {
      // the page notices (nothing arrives any more) and restarts ICE; frames decoded from
      // what was buffered before the cut do not count
      let r = s0;
      const until = Date.now() + 30000;
      while (Date.now() < until && r.restarts === s0.restarts) {
        await sleep(100);
        r = await stats(b);
      }
      const restartedAfter = Date.now() - cut;
      assert.ok(r.restarts > s0.restarts, `no ICE restart within 30 s: ${JSON.stringify(r)}`);
      // When media comes back, each way (issue 15: within 2 s of the path's death): the first
      // look at which more voice packets arrived, and more pictures were decoded, than at the
      // restart (well after the cut: nothing buffered before it is left to decode).
      const ra = await stats(a);
      const base = { 'b hears a': r.audio[a.id], 'b sees a': r.frames[a.id], 'a hears b': ra.audio[b.id], 'a sees b': ra.frames[b.id] };
      const backAt = {};
      const look = async () => {
        const [sa, sb] = await Promise.all([stats(a), stats(b)]);
        const now = { 'b hears a': sb.audio[a.id], 'b sees a': sb.frames[a.id], 'a hears b': sa.audio[b.id], 'a sees b': sa.frames[b.id] };
        const t = Date.now() - cut;
        for (const [k, v] of Object.entries(now)) if (backAt[k] === undefined && v > base[k]) backAt[k] = t;
      };
      for (const until2 = Date.now() + 15000; Date.now() < until2 && Object.keys(backAt).length < 4;) {
        await look();
        await sleep(40);
      }
      const mediaBack = Math.max(...Object.keys(base).map((k) => backAt[k] ?? Infinity));
      const fb = await framesGrow(b, a, r.frames[a.id] + 20, 30000);
      const fa = await framesGrow(a, b, ra.frames[b.id] + 20, 30000);
      const back = Date.now() - cut;
      const now = (await localPorts(b)).selected;
      const why = `cut at ${cut}; b's log:\n${b.log.slice(-20).join('\n')}\nports ${ports} -> ${now}`;
      assert.equal(fb.pair, s0.pair, `the same connections (no rebuild); ${why}`);
      assert.equal(fb.pubFp, s0.pubFp, 'the same DTLS certificate');
      assert.ok(fb.restarts > s0.restarts, `b restarted ICE; ${why}`);
      assert.ok(now.every((port) => !ports.includes(port)), `a new path: ${now}`);
      for (const t of ['left', 'joined']) {
        assert.equal(a.frames.filter((f) => f.type === t && f.at >= since).length, 0, `no ${t}`);
      }
      const trace = await b.page.evaluate(() => window.tandemTrace);
      console.log(`(c) b's connection states after the cut at ${cut}:\n${trace.map((l) => `  +${Number(l.split(' ')[0]) - cut} ms ${l.split(' ').slice(1).join(' ')}`).join('\n')}`);
      console.log(`  log: ${b.log.filter((l) => /ICE restart/.test(l)).map((l) => `+${Number(l.split(' ')[0]) - cut} ms ${l.split(' ').slice(1).join(' ')}`).join('; ')}`);
      console.log(`(c) ICE restart ${restartedAfter} ms after the path died; media back ${mediaBack} ms after it ` +
        `(${Object.entries(backAt).map(([k, v]) => `${k} ${v}`).join(', ')}); 20 frames more each way ${back} ms after it ` +
        `(ports ${ports} -> ${now}; ICE restarts: a ${fa.restarts}, b ${fb.restarts})`);
      assert.ok(mediaBack <= BACK_MS, `media back ${mediaBack} ms after the path died (${JSON.stringify(backAt)}); ${why}`);
    } finally {
      execFileSync('nft', ['delete', 'table', 'inet', 'pathcut'], { stdio: 'ignore' });
    }
  });

  test('(d) the WebSocket is cut without a goodbye (a relay drops it): resumed, never "left"', { timeout: 150000 }, async () => {
    const [a] = people;
    const port = Number(new URL(server.url).port);
    const relay = await startDelayProxy({ host: SERVER_ADDR, port }, { delayMs: 0, jitterMs: 0 });
    try {
      const c = await join('Ines', `https://127.0.0.1:${relay.port}`);
      await framesGrow(a, c, 0);
      const since = Date.now();
      const before = await stats(a);
      const cBefore = await stats(c);
      relay.cut();
      await a.page.waitForFunction((id) => document.querySelector(
        `#participants .tile[data-participant-id="${id}"][data-away="true"]`), c.id, { timeout: UI_WAIT_MS, polling: 20 });
      await a.page.waitForFunction((id) => document.querySelector(
        `#participants .tile[data-participant-id="${id}"][data-away="false"]`), c.id, { timeout: UI_WAIT_MS });
      const back = Date.now() - since;
      assert.equal(seen(a, 'reconnecting', c.id, since).length, 1);
      assert.equal(seen(a, 'reconnected', c.id, since).length, 1);
      assert.equal(seen(a, 'left', c.id, since).length, 0, 'never "left"');
      assert.equal(a.frames.filter((f) => f.type === 'joined' && f.at >= since).length, 0, 'never "joined"');
      assert.equal(await c.page.$eval('#participants .tile[data-self="true"]', (li) => li.dataset.participantId), c.id);
      const s = await framesGrow(a, c, before.frames[c.id] + 20, 15000);
      assert.equal(s.restarts, before.restarts, 'a restarted ICE');
      assert.equal((await stats(c)).restarts, cBefore.restarts, 'Ines restarted ICE');
      console.log(`(d) relay cut: back as the same participant after ${back} ms; a decoded ` +
        `${s.frames[c.id] - before.frames[c.id]} frames of Ines meanwhile`);
    } finally {
      await relay.close();
    }
  });
}
