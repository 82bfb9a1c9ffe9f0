// End to end: "Camera and sound" (web/js/devices.mjs) on a phone (touch, 360 x 640) with two
// cameras and several microphones (Chromium's fake devices), through the real server and SFU
// in a private network namespace. Before the call: both lists, a moving microphone level,
// the speaker tune, a camera chosen. In the call: another camera from the list, the one-tap
// front/back switch, another microphone; each time the page swaps the track in the same
// connection (RTCRtpSender.replaceTrack: no new offer) and the other person keeps decoding
// frames and receiving sound. Screenshots go to <build dir>/screenshots/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { startTandem, TANDEM_BIN } from '../lib/tandem.mjs';
import { insideNetns, runInNetns, setupNetns, SERVER_ADDR } from '../lib/netns.mjs';
import { CHROMIUM_ARGS } from '../lib/browsers.mjs';

const SHOTS = path.join(path.dirname(TANDEM_BIN), 'screenshots');
const WAIT_MS = 30000;
const MEDIA_WAIT_MS = 45000;
const ROOM = 'devices-room';
const ARGS = CHROMIUM_ARGS.map((a) => (a === '--use-fake-device-for-media-stream'
  ? '--use-fake-device-for-media-stream=device-count=2' : a));

/** "Check my camera", unless the page starts the preview by itself: it does where the browser
 *  already allows camera and microphone (autoPreview in room.mjs), which a fake-UI Chromium
 *  may say at once, so the button can go away between the look and the tap. */
async function startPreview(page) {
  await page.waitForFunction(() => document.getElementById('preview').dataset.video === 'on' ||
    !document.getElementById('preview-button').hidden);
  if (await page.locator('#preview-button').isVisible()) {
    await page.locator('#preview-button').click({ timeout: 5000 }).catch(() => {});
  }
  await page.waitForFunction(() => document.getElementById('preview').dataset.video === 'on');
}

/** In the page: what this page receives (frames decoded, audio samples heard: played from
 *  what came, not concealed; not packets, which Opus DTX leaves out in pauses) and sends. */
function mediaFigures() {
  const hook = window.tandemCall;
  if (!hook.sub || !hook.pub) return Promise.resolve(null);
  return Promise.all([hook.sub.getStats(), hook.pub.getStats()]).then(([sub]) => {
    const out = { frames: 0, heard: 0 };
    sub.forEach((s) => {
      if (s.type !== 'inbound-rtp') return;
      if (s.kind === 'video') out.frames += s.framesDecoded || 0;
      else out.heard += (s.totalSamplesReceived || 0) - (s.concealedSamples || 0);
    });
    const senders = hook.pub.getSenders();
    const video = senders.find((x) => x.track?.kind === 'video')?.track;
    const audio = senders.find((x) => x.track?.kind === 'audio')?.track;
    out.videoDevice = video?.getSettings().deviceId || null;
    out.audioDevice = audio?.getSettings().deviceId || null;
    out.videoTrack = video?.id || null;
    return out;
  });
}

if (!insideNetns()) {
  test('camera and microphone choice before and during a call (in a private network namespace)', { timeout: 400000 }, async () => {
    await runInNetns(import.meta.url, { timeoutMs: 380000 });
  });
} else {
  let server = null;
  const contexts = [];
  const dirs = [];
  const errors = [];

  async function open(label, phone) {
    const dir = mkdtempSync(path.join(tmpdir(), `tandem-devices-${label}-`));
    dirs.push(dir);
    const context = await chromium.launchPersistentContext(dir, {
      executablePath: '/usr/bin/chromium', ignoreDefaultArgs: ['--mute-audio'], args: ARGS,
      ignoreHTTPSErrors: true, locale: 'en-US', timeout: WAIT_MS,
      ...(phone ? { viewport: { width: 360, height: 640 }, isMobile: true, hasTouch: true } : { viewport: { width: 1280, height: 800 } }),
    });
    contexts.push(context);
    const page = context.pages()[0] || await context.newPage();
    page.setDefaultTimeout(WAIT_MS);
    page.on('pageerror', (err) => errors.push(`${label}: ${err.message}`));
    return page;
  }

  /** Waits until the other page has decoded `more` frames and heard `more` 20 ms of audio
   *  beyond the figures `from`. */
  async function keepsFlowing(other, from, more = 30) {
    await other.waitForFunction(async ([f, n]) => {
      const hook = window.tandemCall;
      const stats = await hook.sub.getStats();
      let frames = 0;
      let audio = 0;
      stats.forEach((s) => {
        if (s.type === 'inbound-rtp' && s.kind === 'video') frames += s.framesDecoded || 0;
        if (s.type === 'inbound-rtp' && s.kind === 'audio') audio += (s.totalSamplesReceived || 0) - (s.concealedSamples || 0);
      });
      return frames >= f.frames + n && audio >= f.heard + n * 960;
    }, [from, more], { timeout: MEDIA_WAIT_MS, polling: 250 });
  }

  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    setupNetns();
    server = await startTandem({ listen: SERVER_ADDR, args: ['--media-address', SERVER_ADDR] });
  }, { timeout: 60000 });

  after(async () => {
    await Promise.all(contexts.map((c) => Promise.race([c.close(), new Promise((r) => setTimeout(r, 10000))]).catch(() => {})));
    if (server) await server.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }, { timeout: 60000 });

  test('choose, hear, see, and switch mid-call without breaking the call', { timeout: 300000 }, async () => {
    const phone = await open('phone', true);
    await phone.goto(`${server.url}/r/${ROOM}`);
    await startPreview(phone);
    await phone.locator('#devices summary').click();
    await phone.waitForFunction(() => document.getElementById('camera-select').options.length === 2 &&
      document.getElementById('mic-select').options.length >= 2);
    const cameras = await phone.locator('#camera-select option').evaluateAll((os) => os.map((o) => [o.value, o.textContent]));
    const mics = await phone.locator('#mic-select option').evaluateAll((os) => os.map((o) => [o.value, o.textContent]));
    assert.ok(cameras.every(([, name]) => name.trim()), 'every camera has a name');
    // The microphone level moves with the (fake, beeping) microphone.
    await phone.waitForFunction(() => document.getElementById('mic-level').value > 0.05, null, { timeout: 10000 });
    // The speaker tune.
    await phone.locator('#speaker-test').click();
    await phone.getByText('You should hear three short notes now.').waitFor();
    // Another camera before the call: the preview follows.
    const start = await phone.evaluate(() => document.getElementById('camera-select').value);
    const second = cameras.find(([id]) => id !== start)[0];
    await phone.locator('#camera-select').selectOption(second);
    await phone.waitForFunction((id) => document.getElementById('preview-video').srcObject?.getVideoTracks()[0]?.getSettings().deviceId === id, second);
    await phone.screenshot({ path: path.join(SHOTS, 'devices-join-phone.png'), fullPage: true });

    await phone.locator('#name').fill('Amina');
    await phone.locator('#join-button').click();
    const laptop = await open('laptop', false);
    await laptop.goto(`${server.url}/r/${ROOM}#role=mentor`);
    await laptop.locator('#name').fill('Jan');
    await laptop.locator('#join-button').click();
    for (const p of [phone, laptop]) {
      await p.waitForFunction(() => window.tandemCall.status === 'connected' &&
        window.tandemCall.participantsWithMedia().length === 1, null, { timeout: MEDIA_WAIT_MS });
    }
    // The chosen camera is the one the call sends.
    let sent = await phone.evaluate(mediaFigures);
    assert.equal(sent.videoDevice, second, 'the call sends the camera chosen before it');
    await keepsFlowing(laptop, await laptop.evaluate(mediaFigures));
    await phone.evaluate(() => { window.pubBefore = window.tandemCall.pub; });
    assert.equal(await phone.locator('#devices-in-room #devices').count(), 1, 'the panel is in the room');

    // 1. Another camera from the list, mid-call.
    await phone.locator('#camera-select').selectOption(start);
    await phone.waitForFunction(async (id) => {
      const s = window.tandemCall.pub.getSenders().find((x) => x.track?.kind === 'video');
      return s?.track?.getSettings().deviceId === id;
    }, start);
    await keepsFlowing(laptop, await laptop.evaluate(mediaFigures));

    // 2. The one-tap front/back switch of a phone.
    const flip = phone.locator('#flip-camera');
    await flip.waitFor({ timeout: 10000 }).catch(async () => {
      const why = await phone.evaluate(() => ({ hidden: document.getElementById('flip-camera').hidden,
        coarse: matchMedia('(pointer: coarse)').matches, open: document.getElementById('devices').open,
        rect: JSON.stringify(document.getElementById('flip-camera').getBoundingClientRect()) }));
      assert.fail(`a touch screen with two cameras has no switch: ${JSON.stringify(why)}`);
    });
    sent = await phone.evaluate(mediaFigures);
    await flip.click();
    await phone.waitForFunction((id) => {
      const s = window.tandemCall.pub.getSenders().find((x) => x.track?.kind === 'video');
      return s?.track && s.track.getSettings().deviceId !== id;
    }, sent.videoDevice);
    await keepsFlowing(laptop, await laptop.evaluate(mediaFigures));

    // 3. Another microphone.
    sent = await phone.evaluate(mediaFigures);
    const otherMic = mics.find(([id]) => id !== sent.audioDevice && id !== 'default')[0];
    await phone.locator('#mic-select').selectOption(otherMic);
    await phone.waitForFunction((id) => {
      const s = window.tandemCall.pub.getSenders().find((x) => x.track?.kind === 'audio');
      return s?.track?.getSettings().deviceId === id;
    }, otherMic);
    await keepsFlowing(laptop, await laptop.evaluate(mediaFigures));

    // Every switch used the same connection (replaceTrack): no new peer connection.
    assert.equal(await phone.evaluate(() => window.pubBefore === window.tandemCall.pub), true, 'the same publishing connection');
    // The old devices were let go: one camera and one microphone track live.
    const live = await phone.evaluate(() => window.tandemCall.pub.getSenders().filter((s) => s.track?.readyState === 'live').length);
    assert.equal(live, 2);
    await phone.screenshot({ path: path.join(SHOTS, 'devices-call-phone.png') });
    assert.deepEqual(errors, [], 'errors on the pages');
  });

  test('"Remember me" keeps the chosen camera on the device; without it a new tab forgets', { timeout: 200000 }, async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'tandem-devices-remember-'));
    dirs.push(dir);
    const context = await chromium.launchPersistentContext(dir, {
      executablePath: '/usr/bin/chromium', args: ARGS, ignoreHTTPSErrors: true, locale: 'en-US',
      timeout: WAIT_MS, viewport: { width: 1280, height: 800 },
    });
    contexts.push(context);
    const chooseAndJoin = async (remember) => {
      const page = await context.newPage();
      page.setDefaultTimeout(WAIT_MS);
      page.on('pageerror', (err) => errors.push(`remember: ${err.message}`));
      await page.goto(`${server.url}/r/${ROOM}-remember`);
      await startPreview(page);
      await page.locator('#devices summary').click();
      await page.waitForFunction(() => document.getElementById('camera-select').options.length === 2);
      // the speaker list is there exactly when the browser can choose one and has two
      const outputs = await page.evaluate(async () => ('setSinkId' in HTMLMediaElement.prototype
        ? (await navigator.mediaDevices.enumerateDevices()).filter((d) => d.kind === 'audiooutput' && d.deviceId).length : 0));
      assert.equal(await page.locator('#speaker-field').isVisible(), outputs >= 2, `${outputs} outputs`);
      const ids = await page.locator('#camera-select option').evaluateAll((os) => os.map((o) => o.value));
      const now = await page.evaluate(() => document.getElementById('camera-select').value);
      const other = ids.find((id) => id !== now);
      await page.locator('#camera-select').selectOption(other);
      await page.locator('#name').fill('Omar');
      if (remember) await page.getByLabel('Remember me on this device').check();
      await page.locator('#join-button').click();
      await page.getByRole('heading', { name: 'In the room', exact: true }).waitFor();
      await page.getByRole('button', { name: 'Leave' }).click();
      await page.close();
      return other;
    };
    const opened = async () => {
      const page = await context.newPage();
      page.setDefaultTimeout(WAIT_MS);
      await page.goto(`${server.url}/r/${ROOM}-remember`);
      // a remembered person's page may start the preview by itself
      await page.waitForFunction(() => document.getElementById('preview').dataset.video === 'on' ||
        !document.getElementById('preview-button').hidden);
      // (the page may start it between the look and the tap: then the tap finds no button)
      if (await page.locator('#preview-button').isVisible()) await page.locator('#preview-button').click({ timeout: 5000 }).catch(() => {});
      await page.waitForFunction(() => document.getElementById('preview').dataset.video === 'on');
      const id = await page.evaluate(() => document.getElementById('preview-video').srcObject?.getVideoTracks()[0]?.getSettings().deviceId);
      await page.close();
      return id;
    };
    const kept = await chooseAndJoin(true);
    assert.equal(await opened(), kept, 'a new tab opens the remembered camera');
    // "Remember me" unticked at the next join: the device forgets the choice too
    const page = await context.newPage();
    await page.goto(`${server.url}/r/${ROOM}-remember`);
    assert.equal(await page.evaluate(() => localStorage.getItem('tandem.remembered.device.video')), kept);
    await page.getByLabel('Remember me on this device').uncheck();
    await page.locator('#join-button').click();
    await page.getByRole('heading', { name: 'In the room', exact: true }).waitFor();
    assert.equal(await page.evaluate(() => localStorage.getItem('tandem.remembered.device.video')), null);
    await page.getByRole('button', { name: 'Leave' }).click();
    await page.close();
    assert.deepEqual(errors, [], 'errors on the pages');
  });
}
