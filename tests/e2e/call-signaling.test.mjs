// End to end, without media flowing: the room page's side of the media protocol
// (web/js/call.mjs, session.mjs, docs/protocol.md "Media") against the real server, with the page's
// WebSocket routed through playwright so that a test can stand in for the server's media
// part. Covers what is hard to provoke with a real SFU: a server that answers offers with
// not_implemented, refused devices, a burst of sub offers (only the newest is answered),
// the server releasing our media (a new pair of connections), and a signaling reconnect
// (the page resumes its session: the same participant and connections). No ICE candidate of anyone points anywhere (the stand-in's
// SDPs have none), so the browser sends no media traffic at all.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import WebSocket from 'ws';
import { startTandem, SOURCE_DIR } from '../lib/tandem.mjs';
import { CHROMIUM_ARGS } from '../lib/browsers.mjs';

const WAIT_MS = 15000;
let server = null;
let context = null;
let profile = null;
const sockets = [];

/** A captured server sub offer (tests/data/sdp), without candidates: nothing to reach. */
function serverOffer(n) {
  const text = readFileSync(path.join(SOURCE_DIR, 'tests', 'data', 'sdp', `chromium-av-server-offer${n}.sdp`), 'utf8');
  return text.split(/\r?\n/).filter((l) => !/^a=(candidate|end-of-candidates)/.test(l)).join('\r\n');
}

/** An answer to the page's pub offer, made from the offer itself (valid, reaching nowhere). */
function answerTo(offer) {
  return offer.split(/\r?\n/)
    .filter((l) => !/^a=(candidate|end-of-candidates|ssrc|msid)/.test(l))
    .map((l) => l.replace(/^a=sendonly$/, 'a=recvonly').replace(/^a=setup:actpass$/, 'a=setup:passive'))
    .join('\r\n');
}

const fingerprint = (sdp) => /a=fingerprint:(.+)/.exec(sdp)?.[1];

/**
 * Routes the page's WebSocket to the real server; `media(msg, toPage, ws)` sees every
 * media message of the page (offer, answer, candidate, media.receive_only) instead of the
 * server. Returns the
 * log of what the page sent, and the live route.
 */
async function routeMedia(page, media) {
  const log = { sent: [], routes: [] };
  await page.routeWebSocket(/\/ws$/, (ws) => {
    const upstream = ws.connectToServer();
    log.routes.push(ws);
    const toPage = (msg) => ws.send(JSON.stringify(msg));
    ws.onMessage((data) => {
      const msg = JSON.parse(String(data));
      log.sent.push(msg);
      if (['offer', 'answer', 'candidate', 'media.receive_only'].includes(msg.type)) media(msg, toPage, ws);
      else upstream.send(data);
    });
    upstream.onMessage((data) => ws.send(data));
  });
  return log;
}

async function openPage(init) {
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT_MS);
  page.errors = [];
  page.on('pageerror', (err) => page.errors.push(err.message));
  page.on('console', (msg) => {
    if (msg.type() === 'error') page.errors.push(`console: ${msg.text()}`);
  });
  if (init) await page.addInitScript(init);
  return page;
}

async function join(page, room, name) {
  await page.goto(`${server.url}/r/${room}`);
  await page.getByLabel('Your name').fill(name);
  await page.getByRole('button', { name: 'Join', exact: true }).click();
  await page.getByRole('heading', { name: 'In the room', exact: true }).waitFor();
}

/** A bare protocol client in the room (someone else is there). */
function joinBySocket(room, name) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(server.wsUrl, 'tandem.v1', { rejectUnauthorized: false });
    sockets.push(ws);
    const timer = setTimeout(() => reject(new Error(`${name}: no welcome`)), WAIT_MS);
    ws.on('open', () => ws.send(JSON.stringify({ type: 'join', id: 1, room, name, role: 'mentor' })));
    ws.on('message', (data) => {
      const msg = JSON.parse(String(data));
      if (msg.ref !== 1) return;
      clearTimeout(timer);
      if (msg.type === 'welcome') resolve(msg);
      else reject(new Error(`${name}: ${data}`));
    });
    ws.on('error', reject);
  });
}

/** Waits (bounded) until fn() is truthy; returns its value. */
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function until(fn, what, ms = WAIT_MS) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`still waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

before(async () => {
  server = await startTandem();
  profile = mkdtempSync(path.join(tmpdir(), 'tandem-e2e-callsig-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium', ignoreDefaultArgs: ['--mute-audio'], args: CHROMIUM_ARGS,
    ignoreHTTPSErrors: true, locale: 'en-US', viewport: { width: 1280, height: 800 },
  });
}, { timeout: 60000 });

after(async () => {
  for (const ws of sockets) ws.terminate();
  try {
    await Promise.race([context?.close(), new Promise((r) => setTimeout(r, 20000))]);
  } finally {
    if (server) await server.stop();
    rmSync(profile, { recursive: true, force: true });
  }
}, { timeout: 60000 });

test('a server without media: the room works, the page says so plainly, the camera goes off', { timeout: 60000 }, async () => {
  const page = await openPage();
  await routeMedia(page, (msg, toPage) => toPage({
    type: 'error', code: 'not_implemented', message: 'media is not carried by this server yet', field: 'type', ref: msg.id,
  }));
  await joinBySocket('no-media-room', 'Jan');
  await join(page, 'no-media-room', 'Amina');
  await page.getByText('Video calls are not available on this server yet.').waitFor();
  await page.getByText('You are in the room. 2 people are here.').waitFor();
  assert.equal(await page.getByRole('button', { name: 'Mute' }).count(), 0, 'no microphone button');
  assert.equal(await page.getByRole('button', { name: 'Stop camera' }).count(), 0, 'no camera button');
  assert.equal(await page.locator('#room-notice').isHidden(), true, 'no generic error notice');
  assert.equal(await page.evaluate(() => window.tandemCall.pub), null);
  await page.waitForFunction(() => document.querySelector('#participants .tile[data-self="true"]').dataset.video === 'off');
  await page.getByRole('button', { name: 'Leave' }).click();
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('refused and missing devices are explained in plain words; the room still works', { timeout: 60000 }, async () => {
  const noAnswer = () => {}; // offers go nowhere: this test is about devices
  const denied = await openPage(() => {
    navigator.mediaDevices.getUserMedia = () => Promise.reject(new DOMException('no', 'NotAllowedError'));
  });
  await routeMedia(denied, noAnswer);
  await join(denied, 'devices-room', 'Amina');
  await denied.locator('#device-notice').getByText('Your browser does not allow this page to use your camera and microphone.').waitFor();
  await denied.locator('#device-notice').getByRole('button', { name: 'Try again' }).waitFor();
  await denied.getByRole('button', { name: 'Unmute' }).waitFor(); // nothing to send: shown as off

  const noCamera = await openPage(() => {
    const real = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
    navigator.mediaDevices.getUserMedia = (c) => (c.video
      ? Promise.reject(new DOMException('no camera', 'NotFoundError')) : real(c));
  });
  await routeMedia(noCamera, noAnswer);
  await join(noCamera, 'devices-room', 'Jan');
  await noCamera.locator('#device-notice').getByText('No camera was found. You are in the call with your voice only.').waitFor();
  await noCamera.getByRole('button', { name: 'Mute' }).waitFor(); // the microphone works
  await noCamera.getByRole('button', { name: 'Start camera' }).waitFor();
  await denied.getByText('You are in the room. 2 people are here.').waitFor();
  for (const p of [denied, noCamera]) {
    assert.deepEqual(p.errors, []);
    await p.getByRole('button', { name: 'Leave' }).click();
    await p.close();
  }
});

test('refused devices: the page receives only (no pub connection), and publishes once they are allowed', { timeout: 60000 }, async () => {
  const page = await openPage(() => {
    const real = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
    let refuse = true;
    window.allowDevices = () => { refuse = false; };
    navigator.mediaDevices.getUserMedia = (c) => (refuse
      ? Promise.reject(new DOMException('no', 'NotAllowedError')) : real(c));
  });
  const log = await routeMedia(page, (msg, toPage) => {
    if (msg.type === 'media.receive_only') toPage({ type: 'offer', pc: 'sub', sdp: serverOffer(1), rev: 1 });
    if (msg.type === 'offer') toPage({ type: 'answer', pc: 'pub', sdp: answerTo(msg.sdp), ref: msg.id });
  });
  await join(page, 'receive-only-room', 'Amina');
  await page.locator('#device-notice').getByText('Your browser does not allow this page to use your camera and microphone.').waitFor();
  const sent = (type, pc) => log.sent.filter((m) => m.type === type && (!pc || m.pc === pc));
  await until(() => sent('answer', 'sub').some((m) => m.rev === 1), 'the answer to the sub offer');
  assert.equal(sent('media.receive_only').length, 1);
  assert.equal(sent('offer').length, 0, 'no pub offer while there is nothing to send');
  assert.equal(await page.evaluate(() => window.tandemCall.pub), null);
  await page.evaluate(() => { window.firstSub = window.tandemCall.sub; });

  // The person allows the devices after all: a pub connection is made and offered; the sub
  // connection stays.
  await page.evaluate(() => window.allowDevices());
  await page.locator('#device-notice').getByRole('button', { name: 'Try again' }).click();
  await until(() => sent('offer', 'pub').length === 1, 'a pub offer');
  assert.match(sent('offer', 'pub')[0].sdp, /a=sendonly/);
  await page.getByRole('button', { name: 'Mute' }).waitFor();
  assert.equal(await page.evaluate(() => window.tandemCall.pub !== null && window.tandemCall.sub === window.firstSub), true);
  assert.equal(sent('media.receive_only').length, 1);
  assert.deepEqual(page.errors, []);
  await page.getByRole('button', { name: 'Leave' }).click();
  await page.close();
});

test('sub offers in a burst: only the newest is answered, tracks mapped by msid', { timeout: 60000 }, async () => {
  const page = await openPage();
  const log = await routeMedia(page, (msg, toPage) => {
    if (msg.type !== 'offer') return;
    toPage({ type: 'answer', pc: 'pub', sdp: answerTo(msg.sdp), ref: msg.id });
    for (const rev of [1, 2, 3]) toPage({ type: 'offer', pc: 'sub', sdp: serverOffer(rev === 1 ? 1 : 3), rev });
  });
  await join(page, 'burst-room', 'Amina');
  const answers = () => log.sent.filter((m) => m.type === 'answer' && m.pc === 'sub').map((m) => m.rev);
  await until(() => answers().includes(3), 'the answer to rev 3');
  assert.ok(!answers().includes(2), `rev 2 was superseded, yet answered: ${answers()}`);
  const owners = await page.evaluate(() => window.tandemCall.trackOwners());
  assert.deepEqual(Object.values(owners).sort(), ['stream-bob', 'stream-bob', 'stream-carol', 'stream-carol']);
  // Candidates go to the server only after the first offer/answer, with the protocol's fields.
  const cands = log.sent.filter((m) => m.type === 'candidate');
  for (const c of cands) {
    assert.ok(c.candidate === null || (typeof c.candidate.candidate === 'string' && 'sdpMid' in c.candidate), JSON.stringify(c));
  }
  assert.deepEqual(page.errors, []);
  await page.getByRole('button', { name: 'Leave' }).click();
  await page.close();
});

test('the server releases our media: a new pair, and offers for the old pair are ignored', { timeout: 60000 }, async () => {
  const page = await openPage();
  let offers = 0;
  const log = await routeMedia(page, (msg, toPage) => {
    if (msg.type !== 'offer') return;
    offers += 1;
    if (offers === 2) toPage({ type: 'offer', pc: 'sub', sdp: serverOffer(1), rev: 5 }); // was on its way
    toPage({ type: 'answer', pc: 'pub', sdp: answerTo(msg.sdp), ref: msg.id });
    // The new pair's first offer comes a little later, so that a page that kept rev 5
    // would have answered it by then.
    const rev = offers === 1 ? 1 : 6;
    setTimeout(() => toPage({ type: 'offer', pc: 'sub', sdp: serverOffer(1), rev }), offers === 1 ? 0 : 1000);
  });
  await join(page, 'release-room', 'Amina');
  const pubOffers = () => log.sent.filter((m) => m.type === 'offer' && m.pc === 'pub');
  const subAnswers = () => log.sent.filter((m) => m.type === 'answer' && m.pc === 'sub').map((m) => m.rev);
  await until(() => subAnswers().includes(1), 'the first sub answer');
  await page.evaluate(() => { window.firstPub = window.tandemCall.pub; });
  log.routes.at(-1).send(JSON.stringify({
    type: 'error', code: 'media_unavailable', pc: 'sub',
    message: 'the media connection was lost (ICE consent expired): close both connections and send a new pub offer',
  }));
  await until(() => pubOffers().length === 2, 'a new pub offer');
  const [first, second] = pubOffers();
  assert.notEqual(fingerprint(second.sdp), fingerprint(first.sdp), 'a new RTCPeerConnection');
  assert.equal(await page.evaluate(() => window.tandemCall.pub !== window.firstPub), true);
  await until(() => subAnswers().includes(6), 'the answer to the new pair\'s offer');
  assert.ok(!subAnswers().includes(5), `an offer for the released pair was answered: ${subAnswers()}`);
  assert.deepEqual(page.errors, []);
  await page.getByRole('button', { name: 'Leave' }).click();
  await page.close();
});

test('after a signaling reconnect the page resumes: same participant, same connections', { timeout: 60000 }, async () => {
  const page = await openPage();
  const log = await routeMedia(page, (msg, toPage) => {
    if (msg.type === 'offer') toPage({ type: 'answer', pc: 'pub', sdp: answerTo(msg.sdp), ref: msg.id });
  });
  await join(page, 'reconnect-room', 'Amina');
  const pubOffers = () => log.sent.filter((m) => m.type === 'offer' && m.pc === 'pub');
  await until(() => pubOffers().length === 1, 'the first pub offer');
  await page.evaluate(() => { window.firstPub = window.tandemCall.pub; });
  const selfBefore = await page.$eval('#participants .tile[data-self="true"]', (li) => li.dataset.participantId);
  log.routes.at(-1).close({ code: 1011, reason: 'test' });
  await page.locator('#banner').waitFor({ state: 'visible' });
  await page.locator('#banner').waitFor({ state: 'hidden' });
  // docs/protocol.md "Resuming after a cut": resume with the welcome's token, not join
  const resumes = log.sent.filter((m) => m.type === 'resume');
  assert.equal(resumes.length, 1);
  assert.match(resumes[0].token, /^[A-Za-z0-9_-]{43}$/);
  assert.equal(log.sent.filter((m) => m.type === 'join').length, 1, 'no second join');
  const selfAfter = await page.$eval('#participants .tile[data-self="true"]', (li) => li.dataset.participantId);
  assert.equal(selfAfter, selfBefore, 'the same participant');
  assert.equal(await page.evaluate(() => window.tandemCall.pub === window.firstPub), true, 'the same connections');
  await sleep(2000); // the page's resend after a resume (RESUME_SETTLE_MS) has happened
  assert.equal(pubOffers().length, 1, 'no new pair: the answered pub offer is not sent again');
  assert.deepEqual(page.errors, []);
  await page.close();
});
