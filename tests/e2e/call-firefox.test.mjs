// End to end: a two-party call between Firefox ESR (puppeteer-core over WebDriver BiDi) and
// Chromium (playwright-core) through the SFU, inside a private network namespace
// (tests/lib/netns.mjs). Each side must decode the other's video and hear its audio. Also
// reports what each browser negotiated with our DTLS 1.2 server (getStats where the browser
// has transport stats, and the server's own log line per connection). Firefox honours the
// server's usedtx=1: silence goes at a few packets a second, and nothing is counted lost.
// Then Firefox on the real room page (issue 15): it publishes three simulcast layers
// (web/js/adapt.mjs) and the Chromium client, telling the server how big it shows Firefox
// (media.layout), decodes the full layer for a large tile and the lowest for a small one;
// an ICE restart and a dead path (nftables) are mended on the same connections; a new camera
// track mid-call goes into the same simulcast sender without a new offer.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { insideNetns, runInNetns, setupNetns, SERVER_ADDR } from '../lib/netns.mjs';
import { startTandem, stopCleanly } from '../lib/tandem.mjs';
import { launchChromium, launchFirefox } from '../lib/browsers.mjs';
import { pageJoin, pageStats } from '../lib/callclient.mjs';

const MEDIA_WAIT_MS = 40000;
const UI_WAIT_MS = 30000;
const RESTART_BOUND_MS = 7500; // from a dead path to the page's ICE restart
const ROOM = 'call-firefox-room';

if (!insideNetns()) {
  test('Firefox and Chromium call through the SFU (in a private network namespace)',
    { timeout: 400000 }, async () => {
      await runInNetns(import.meta.url, { timeoutMs: 380000 });
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

  async function join(label, launch) {
    const browser = await launch(label);
    await browser.page.goto(`${server.url}/`);
    const id = await browser.page.evaluate(pageJoin, { wsUrl: server.wsUrl, room: ROOM, name: label });
    const p = { label, browser, id };
    people.push(p);
    return p;
  }

  async function waitForMedia(p, fromId) {
    const deadline = Date.now() + MEDIA_WAIT_MS;
    let s = null;
    while (Date.now() < deadline) {
      s = await p.browser.page.evaluate(pageStats);
      const r = s.remote[fromId];
      if (r && r.framesDecoded > 0 && r.heardSamples > 0 && r.audioEnergy > 0) break;
      await sleep(300);
    }
    const r = s?.remote[fromId];
    assert.ok(r && r.framesDecoded > 0 && r.heardSamples > 0 && r.audioEnergy > 0,
      `${p.label} does not receive: ${JSON.stringify(s)}\nserver: ${server.stderr.slice(-3000)}`);
    await sleep(1500);
    const later = await p.browser.page.evaluate(pageStats);
    assert.ok(later.remote[fromId].framesDecoded > r.framesDecoded, `${p.label}: video stopped`);
    // what is heard, not packets (Opus DTX leaves them out in a microphone's pauses)
    const heard = later.remote[fromId].heardSamples - r.heardSamples;
    assert.ok(heard > 24000 && later.remote[fromId].audioEnergy > r.audioEnergy,
      `${p.label}: the voice stopped (${heard} samples heard in 1.5 s): ${JSON.stringify(later.remote[fromId])}`);
    assert.deepEqual(later.errors, []);
    return later;
  }

  test('Firefox and Chromium see and hear each other', { timeout: 240000 }, async (t) => {
    const fx = await join('firefox', launchFirefox);
    const cr = await join('chromium', launchChromium);
    for (const [p, q] of [[fx, cr], [cr, fx]]) {
      const s = await waitForMedia(p, q.id);
      const r = s.remote[q.id];
      t.diagnostic(`${p.label} receives ${q.label}: ${r.framesDecoded} frames ${r.frameWidth}px, ` +
        `audio energy ${r.audioEnergy.toFixed(4)}, ${r.audioPackets} audio packets, ` +
        `${(r.heardSamples / 48000).toFixed(1)} s heard of ${(r.totalSamples / 48000).toFixed(1)} s played ` +
        `(${(r.concealedSamples / 48000).toFixed(2)} s concealed, ${(r.silentConcealed / 48000).toFixed(2)} s of it silent); ` +
        `first frame ${s.firstFrameMs[q.id]} ms after joining`);
      t.diagnostic(`${p.label} transport stats: ${JSON.stringify(s.transport)}; sends ${JSON.stringify(s.sent)}`);
    }
    const lines = server.stderr.split('\n').filter((l) => /connection up/.test(l));
    t.diagnostic(`server: ${lines.join(' | ')}`);
    assert.equal(lines.length, 4, 'two connections per browser');

    // Opus DTX: the server's answer asks for it (usedtx=1); Firefox honours it. Its fake
    // microphone is a steady tone (50 packets/s), so it publishes silence the way the room
    // page mutes (track.enabled = false: the encoder gets zeros). (A WebAudio silent track
    // cannot serve here: with no sound device Firefox's AudioContext stays suspended.)
    const fmtp = await fx.browser.page.evaluate(() => /a=fmtp:\d+ [^\r\n]*usedtx=1/.test(window.tdm.pub.remoteDescription.sdp));
    assert.ok(fmtp, 'the server\'s answer to Firefox asks for Opus DTX (usedtx=1)');
    const mic = (on) => fx.browser.page.evaluate((v) => {
      window.tdm.pub.getSenders().find((x) => x.track?.kind === 'audio').track.enabled = v;
    }, on);
    await mic(false);
    await sleep(1000); // the encoder's first pause
    const [f0, c0] = await Promise.all([fx.browser.page.evaluate(pageStats), cr.browser.page.evaluate(pageStats)]);
    const w0 = Date.now();
    await sleep(2500);
    const [f1, c1] = await Promise.all([fx.browser.page.evaluate(pageStats), cr.browser.page.evaluate(pageStats)]);
    const secs = (Date.now() - w0) / 1000;
    await mic(true);
    const r0 = c0.remote[fx.id];
    const r1 = c1.remote[fx.id];
    const silence = {
      sentPerSec: +((f1.sent.audioPackets - f0.sent.audioPackets) / secs).toFixed(1),
      receivedPerSec: +((r1.audioPackets - r0.audioPackets) / secs).toFixed(1),
      lost: r1.audioLost - r0.audioLost,
      lostUp: f1.sent.audioLostUp === undefined ? null : f1.sent.audioLostUp - (f0.sent.audioLostUp ?? 0), // the server's RRs
      playedSecs: +((r1.totalSamples - r0.totalSamples) / 48000).toFixed(2),
      concealedSecs: +((r1.concealedSamples - r0.concealedSamples) / 48000).toFixed(2),
    };
    t.diagnostic(`Firefox silent (DTX): ${JSON.stringify(silence)}`);
    assert.ok(silence.sentPerSec < 15, `Firefox ignores usedtx=1: ${silence.sentPerSec} packets/s of silence`);
    // the server forwards the pauses as they are: nothing counted lost on either leg
    assert.ok(silence.receivedPerSec > 0 && silence.lost <= 0 && (silence.lostUp ?? 0) <= 0, `DTX pauses: ${JSON.stringify(silence)}`);
    // and the voice is back at once after the pause
    let back = null;
    for (const end = Date.now() + 10000; Date.now() < end; await sleep(200)) {
      back = (await cr.browser.page.evaluate(pageStats)).remote[fx.id];
      if (back.audioEnergy > r1.audioEnergy && back.audioPackets > r1.audioPackets + 20) break;
    }
    assert.ok(back.audioEnergy > r1.audioEnergy && back.audioPackets > r1.audioPackets + 20,
      `Firefox's voice does not come back after the pause: ${JSON.stringify(back)}`);
  });

  /** Firefox on the real room page (web/js/adapt.mjs decides its layers), through the form. */
  async function roomPage(p, room) {
    const { page } = p.browser;
    p.log = [];
    page.on('console', (m) => p.log.push(`${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => p.log.push(`pageerror: ${e.message}`));
    await page.setViewport({ width: 1280, height: 800 });
    await page.goto(`${server.url}/r/${room}`);
    await page.waitForSelector('#name');
    await page.type('#name', p.label);
    await page.click('#join-button');
    await page.waitForSelector('#room:not([hidden])', { timeout: UI_WAIT_MS });
    p.id = await page.$eval('#participants .tile[data-self="true"]', (li) => li.dataset.participantId);
  }

  /** In the room page: its camera's layers as sent (height by rid), the frames it decodes
   *  from each person, its connections' ICE credentials and its ICE restarts. */
  function roomFigures() {
    const hook = window.tandemCall;
    const ufrag = (d) => /a=ice-ufrag:(\S+)/.exec(d?.sdp || '')?.[1] || null;
    const out = { status: hook.status, restarts: hook.iceRestarts, sent: {}, frames: {} };
    if (!hook.pub || !hook.sub) return out;
    window.tandemPairs ||= new WeakMap();
    if (!window.tandemPairs.has(hook.pub)) window.tandemPairs.set(hook.pub, Math.random());
    Object.assign(out, {
      pair: window.tandemPairs.get(hook.pub), pubState: hook.pub.connectionState, subState: hook.sub.connectionState,
      ufrags: [hook.pub.localDescription, hook.pub.remoteDescription, hook.sub.localDescription,
        hook.sub.remoteDescription].map(ufrag),
      videoTrack: hook.pub.getSenders().find((x) => x.track?.kind === 'video')?.track?.id || null,
    });
    const owners = hook.trackOwners();
    return Promise.all([hook.pub.getStats(), hook.sub.getStats()]).then(([pub, sub]) => {
      pub.forEach((s) => {
        if (s.type === 'outbound-rtp' && s.kind === 'video') out.sent[s.rid || '-'] = s.frameHeight || 0;
      });
      sub.forEach((s) => {
        if (s.type === 'inbound-rtp' && s.kind === 'video' && owners[s.trackIdentifier]) {
          out.frames[owners[s.trackIdentifier]] = s.framesDecoded || 0;
        }
      });
      return out;
    });
  }

  /** In the protocol client: what the page shows of `id` is `height` device pixels high. */
  function sendLayout([id, height]) {
    window.tdm.ws.send(JSON.stringify({ type: 'media.layout',
      tiles: [{ participant: id, width: Math.round((height * 16) / 9), height, visible: true }] }));
  }

  /** Waits (bounded) until cr decodes frames of `from` at `height` px that keep coming. */
  async function arrivesAt(cr, from, height, why) {
    let r = null;
    let at = 0;
    for (const end = Date.now() + MEDIA_WAIT_MS; Date.now() < end; await sleep(300)) {
      r = (await cr.browser.page.evaluate(pageStats)).remote[from.id];
      if (r && Math.abs(r.frameHeight - height) <= 2) {
        if (!at) at = r.framesDecoded;
        else if (r.framesDecoded >= at + 20) return r;
      } else at = 0;
    }
    assert.fail(`${why}: Chromium gets ${JSON.stringify(r)}, not ${height} px frames\n` +
      `${from.label}: ${from.log.slice(-10).join(' | ')}\nserver: ${server.stderr.slice(-2000)}`);
    return r;
  }

  test('Firefox publishes simulcast: a small tile gets a low layer, a large one the full picture',
    { timeout: 240000 }, async (t) => {
    const [fx, cr] = people;
    await roomPage(fx, `${ROOM}-page`);
    await cr.browser.page.goto(`${server.url}/`);
    cr.id = await cr.browser.page.evaluate(pageJoin, { wsUrl: server.wsUrl, room: `${ROOM}-page`, name: 'chromium' });
    // Firefox sends layers once its estimate has grown; the top one when someone wants it.
    await cr.browser.page.evaluate(sendLayout, [fx.id, 720]);
    let f = null;
    for (const end = Date.now() + MEDIA_WAIT_MS; Date.now() < end; await sleep(500)) {
      f = await fx.browser.page.evaluate(roomFigures);
      if (f.sent.q > 0 && f.sent.h > f.sent.q && f.sent.f > f.sent.h) break;
    }
    t.diagnostic(`Firefox sends ${JSON.stringify(f.sent)} (px high, by rid)`);
    assert.ok(f.sent.q > 0 && f.sent.h > f.sent.q && f.sent.f > f.sent.h,
      `Firefox does not send three layers: ${JSON.stringify(f)}\n${fx.log.slice(-10).join(' | ')}`);
    const big = await arrivesAt(cr, fx, f.sent.f, 'a 720 px tile');
    await cr.browser.page.evaluate(sendLayout, [fx.id, 120]);
    const small = await arrivesAt(cr, fx, f.sent.q, 'a 120 px tile');
    t.diagnostic(`Chromium decodes Firefox at ${big.frameHeight} px for a 720 px tile, ` +
      `${small.frameHeight} px for a 120 px one (${small.framesDecoded} frames)`);

    // An ICE restart (the page's own, as after a network change): new credentials on both
    // of Firefox's connections, the same connections, media on both ways.
    const fig = () => fx.browser.page.evaluate(roomFigures);
    const s0 = await fig();
    const c0 = (await cr.browser.page.evaluate(pageStats)).remote[fx.id].framesDecoded;
    const restartAt = Date.now();
    assert.equal(await fx.browser.page.evaluate(() => window.tandemCall.restartIce()), true);
    let s1 = s0;
    let renewed = 0;
    let c1 = c0;
    for (const end = Date.now() + UI_WAIT_MS; Date.now() < end; await sleep(100)) {
      s1 = await fig();
      if (!renewed && s1.ufrags.every((u, i) => u && u !== s0.ufrags[i]) && s1.pubState === 'connected' &&
        s1.subState === 'connected') renewed = Date.now() - restartAt;
      c1 = (await cr.browser.page.evaluate(pageStats)).remote[fx.id].framesDecoded;
      if (renewed && c1 >= c0 + 20 && s1.frames[cr.id] >= s0.frames[cr.id] + 20) break;
    }
    const flowing = Date.now() - restartAt;
    t.diagnostic(`Firefox's ICE restart: new credentials on both connections, connected, after ${renewed} ms; ` +
      `${c1 - c0} frames of Firefox decoded by Chromium and ${s1.frames[cr.id] - s0.frames[cr.id]} the other way ` +
      `${flowing} ms after it began`);
    assert.ok(renewed > 0, `no new credentials: ${JSON.stringify(s0.ufrags)} -> ${JSON.stringify(s1)}\n${fx.log.slice(-10).join(' | ')}`);
    assert.equal(s1.pair, s0.pair, 'the same connections (no new pair)');
    assert.equal(s1.restarts, s0.restarts + 1);
    assert.equal(s1.status, 'connected');
    assert.ok(c1 >= c0 + 20 && s1.frames[cr.id] >= s0.frames[cr.id] + 20,
      `media stopped after the ICE restart: ${c0} -> ${c1}, ${JSON.stringify(s0.frames)} -> ${JSON.stringify(s1.frames)}`);

    // Firefox's path dies (every local port of its two connections dropped, as when Wi-Fi
    // goes): the page notices, restarts ICE on new ports, media comes back, no new pair.
    const ports = await fx.browser.page.evaluate(async () => {
      const all = new Set();
      for (const pc of [window.tandemCall.pub, window.tandemCall.sub]) {
        (await pc.getStats()).forEach((x) => { if (x.type === 'local-candidate' && x.port) all.add(x.port); });
      }
      return [...all];
    });
    await fx.browser.page.evaluate(() => {
      window.tandemTrace = [];
      for (const [name, pc] of [['pub', window.tandemCall.pub], ['sub', window.tandemCall.sub]]) {
        pc.addEventListener('iceconnectionstatechange', () => window.tandemTrace.push(`${Date.now()} ${name} ice ${pc.iceConnectionState}`));
      }
    });
    const p0 = await fig();
    const d0 = (await cr.browser.page.evaluate(pageStats)).remote[fx.id].framesDecoded;
    execFileSync('nft', ['-f', '-'], {
      input: `table inet pathcut {\n  chain rx {\n    type filter hook input priority 0; policy accept;\n` +
        `    udp sport { ${ports.join(', ')} } drop\n    udp dport { ${ports.join(', ')} } drop\n  }\n}\n`,
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    const cut = Date.now();
    let p1 = p0;
    let d1 = d0;
    let restarted = 0;
    try {
      for (const end = Date.now() + 40000; Date.now() < end; await sleep(200)) {
        p1 = await fig();
        if (!restarted && p1.restarts > p0.restarts) restarted = Date.now() - cut;
        d1 = (await cr.browser.page.evaluate(pageStats)).remote[fx.id].framesDecoded;
        if (restarted && d1 >= d0 + 20 && p1.frames[cr.id] >= p0.frames[cr.id] + 20) break;
      }
    } finally {
      execFileSync('nft', ['delete', 'table', 'inet', 'pathcut'], { stdio: 'ignore' });
    }
    const back = Date.now() - cut;
    const trace = await fx.browser.page.evaluate(() => window.tandemTrace);
    t.diagnostic(`Firefox's path cut: ICE restart ${restarted} ms after, media back both ways ${back} ms after; ` +
      `states: ${trace.map((l) => `+${Number(l.split(' ')[0]) - cut} ${l.split(' ').slice(1).join(' ')}`).join(', ')}; ` +
      `${fx.log.filter((l) => /tandem call/.test(l)).slice(-4).join(' | ')}`);
    // Firefox itself calls the path disconnected only after 8 to 10 s (then 1.5 s of grace): the page's own watch
    // (nothing received for 2.5 s) must be first.
    assert.ok(restarted > 0 && restarted < RESTART_BOUND_MS, `no ICE restart within ${RESTART_BOUND_MS} ms of the cut: ` +
      `${restarted} ms, ${JSON.stringify(p1)}\n${fx.log.filter((l) => /tandem call/.test(l)).slice(-4).join(' | ')}`);
    assert.ok(d1 >= d0 + 20 && p1.frames[cr.id] >= p0.frames[cr.id] + 20, `media did not come back: ${d0} -> ${d1}, ` +
      `${JSON.stringify(p0.frames)} -> ${JSON.stringify(p1.frames)}\n${fx.log.slice(-10).join(' | ')}`);
    assert.equal(p1.pair, p0.pair, 'the same connections (no new pair)');

    // Devices mid-call (web/js/devices.mjs): Firefox's fake backend has one camera and one
    // microphone, so its lists show them and cannot switch; a new camera track goes into the
    // same simulcast sender as a switch would (camera off, then on: a new getUserMedia, then
    // replaceTrack, no new offer), and Chromium decodes it.
    const page = fx.browser.page;
    await page.click('#devices summary');
    const lists = await page.evaluate(() => ['camera-select', 'mic-select'].map((id) => {
      const el = document.getElementById(id);
      return { options: [...el.options].map((o) => o.textContent), disabled: el.disabled, value: el.value };
    }));
    t.diagnostic(`Firefox's device lists in the call: ${JSON.stringify(lists)}`);
    assert.ok(lists.every((l) => l.options.length >= 1 && l.options.every((o) => o) && l.value),
      `device lists: ${JSON.stringify(lists)}`);
    const v0 = await fig();
    await page.click('#camera-button');
    await page.waitForFunction(() => !window.tandemCall.pub.getSenders().find((x) => x.track?.kind === 'video'));
    await page.click('#camera-button');
    await page.waitForFunction((old) => {
      const tr = window.tandemCall.pub.getSenders().find((x) => x.track?.kind === 'video')?.track;
      return tr && tr.id !== old && tr.readyState === 'live';
    }, {}, v0.videoTrack);
    const onAt = (await cr.browser.page.evaluate(pageStats)).remote[fx.id].framesDecoded;
    let v1 = v0;
    let seen = onAt;
    for (const end = Date.now() + MEDIA_WAIT_MS; Date.now() < end && seen < onAt + 30; await sleep(300)) {
      seen = (await cr.browser.page.evaluate(pageStats)).remote[fx.id].framesDecoded;
    }
    v1 = await fig();
    t.diagnostic(`Firefox's new camera track: Chromium decoded ${seen - onAt} frames of it; ` +
      `Firefox sends ${JSON.stringify(v1.sent)}`);
    assert.ok(seen >= onAt + 30, `Chromium does not decode Firefox's new camera track: ${onAt} -> ${seen}\n` +
      `${fx.log.slice(-10).join(' | ')}`);
    assert.equal(v1.pair, v0.pair, 'the same connections');
    assert.equal(v1.restarts, v0.restarts, 'no ICE restart');
    assert.deepEqual(v1.ufrags, v0.ufrags, 'no new offer');
  });

  test('the server stops cleanly (exit 0, no sanitizer report)', { timeout: 60000 }, async (t) => {
    await Promise.all(people.map((p) => p.browser.close()));
    people.length = 0;
    const s = server;
    server = null;
    await stopCleanly(t, s);
  });
}
