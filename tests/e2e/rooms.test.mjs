// End to end: the real server, Debian's Chromium (two browsers, two people), the real pages.
// Landing page -> new room link -> Amina (mentee) and Jan (mentor) join -> both see both ->
// Jan leaves -> Amina sees only herself; an Arabic name; a full room; a lost connection.
// Screenshots go to tests/e2e/artifacts/ (git-ignored).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import WebSocket from 'ws';
import { startTandem, SOURCE_DIR } from '../lib/tandem.mjs';

const ARTIFACTS = path.join(SOURCE_DIR, 'tests', 'e2e', 'artifacts');
const WAIT_MS = 15000; // every wait on the DOM is bounded by this
const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 800 };
// /work/shared/notes/browser-testing.md: Debian's Chromium, nothing downloaded, no traffic
// to anywhere but the test server.
const CHROMIUM_ARGS = ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic',
  '--no-first-run', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
  '--disable-features=WebRtcHideLocalIpsWithMdns', '--autoplay-policy=no-user-gesture-required',
  '--ignore-certificate-errors'];

const ARABIC_NAME = 'سلمى';

let server = null;
const contexts = [];
const tempDirs = [];
const socketClients = [];
const pageErrors = [];
let link = null; // the room link made on the landing page
let amina = null; // page 1
let jan = null; // page 2

async function openBrowser(label) {
  const dir = mkdtempSync(path.join(tmpdir(), 'tandem-e2e-chromium-'));
  tempDirs.push(dir);
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: '/usr/bin/chromium',
    ignoreDefaultArgs: ['--mute-audio'],
    args: CHROMIUM_ARGS,
    ignoreHTTPSErrors: true,
    locale: 'en-US',
    viewport: DESKTOP,
  });
  contexts.push(context);
  const page = context.pages()[0] || await context.newPage();
  page.setDefaultTimeout(WAIT_MS);
  page.on('pageerror', (err) => pageErrors.push(`${label}: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') pageErrors.push(`${label} console: ${msg.text()}`);
  });
  return { context, page };
}

/** The names on the tiles of a page, in order. */
function namesOn(page) {
  return page.$$eval('#participants .tile-name', (els) => els.map((e) => e.textContent));
}

/** Waits (bounded) until the page lists exactly `expected` (any order). */
async function waitForNames(page, expected) {
  try {
    await page.waitForFunction((want) => {
      const got = [...document.querySelectorAll('#participants .tile-name')].map((e) => e.textContent);
      return got.length === want.length && want.every((n) => got.includes(n));
    }, expected, { timeout: WAIT_MS });
  } catch (err) {
    throw new Error(`expected ${JSON.stringify(expected)}, page lists ${JSON.stringify(await namesOn(page))}: ${err.message}`);
  }
}

async function join(page, name, role) {
  // The link decides the role: on an open-rooms server (no invite token), #role= in the link.
  await page.evaluate((r) => { window.location.hash = `role=${r}`; }, role);
  await page.getByText(`You are joining as a ${role}`).waitFor();
  await page.getByLabel('Your name').fill(name);
  await page.getByRole('button', { name: 'Join', exact: true }).click();
  await page.getByRole('heading', { name: 'In the room', exact: true }).waitFor();
}

/** Waits until the screen-reader announcer says `text` (Unicode isolates around names removed). */
async function waitForAnnouncement(page, text) {
  await page.waitForFunction((want) => document.getElementById('announcer').textContent
    .replace(/[\u2066-\u2069]/g, '') === want, text, { timeout: WAIT_MS });
}

/** Visible controls smaller than 44 x 44 CSS pixels (WCAG 2.5.5); a checkbox counts with its
 *  label, which takes the same taps. */
function smallTargets(page) {
  return page.$$eval('button, a[href], select, input, textarea', (els) => els.flatMap((el) => {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) return [];
    let { width, height } = r;
    if (el.type === 'checkbox' && el.labels?.[0]) {
      const l = el.labels[0].getBoundingClientRect();
      width += l.width;
      height = Math.max(height, l.height);
    }
    return width >= 44 && height >= 44 ? [] : [`${el.id || el.textContent.trim()}: ${Math.round(width)}x${Math.round(height)}`];
  }));
}

/** Name of the tile marked "you" on a page. */
function selfName(page) {
  return page.$eval('#participants .tile[data-self="true"] .tile-name', (e) => e.textContent);
}

/** A bare protocol client that joins a room (fills it up for the room_full case). */
function joinBySocket(room, name) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(server.wsUrl, 'tandem.v1', { rejectUnauthorized: false });
    socketClients.push(ws);
    const timer = setTimeout(() => reject(new Error(`${name}: no welcome`)), WAIT_MS);
    ws.on('open', () => ws.send(JSON.stringify({ type: 'join', id: 1, room, name, role: 'mentee' })));
    ws.on('message', (data) => {
      const msg = JSON.parse(data.toString());
      if (msg.ref !== 1) return;
      clearTimeout(timer);
      if (msg.type === 'welcome') resolve(msg);
      else reject(new Error(`${name}: ${data}`));
    });
    ws.on('error', reject);
  });
}

before(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  server = await startTandem();
  ({ page: amina } = await openBrowser('amina'));
  ({ page: jan } = await openBrowser('jan'));
}, { timeout: 120000 });

/** p, or a rejection after ms (so that a stuck browser cannot keep the server running). */
function bounded(p, ms) {
  let timer;
  const late = new Promise((resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`still waiting after ${ms} ms`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

after(async () => {
  for (const ws of socketClients) ws.terminate();
  try {
    await Promise.all(contexts.map((c) => bounded(c.close(), 20000).catch(() => {})));
  } finally {
    if (server) await server.stop();
    for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  }
}, { timeout: 60000 });

test('the landing page makes a room link', { timeout: 60000 }, async () => {
  await amina.goto(`${server.url}/`);
  await amina.getByRole('button', { name: 'Create a room link' }).click();
  const shown = (await amina.locator('#room-link').textContent()).trim();
  assert.match(shown, new RegExp(`^${server.url.replace(/[.]/g, '\\.')}/r/[A-Za-z0-9_-]{22}$`));
  link = shown;
  await amina.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });
  await amina.getByRole('button', { name: 'Copy the link' }).click();
  await amina.getByText('The link is copied').waitFor();
  assert.equal(await amina.evaluate(() => navigator.clipboard.readText()), link);
  await amina.screenshot({ path: path.join(ARTIFACTS, 'landing.png'), fullPage: true, animations: 'disabled' });
  await amina.getByRole('link', { name: 'Go to the room' }).click();
  await amina.waitForURL(link);
  await amina.getByRole('heading', { name: 'Welcome' }).waitFor();
});

test('a name is needed before joining', { timeout: 30000 }, async () => {
  await amina.setViewportSize(PHONE);
  assert.deepEqual(await smallTargets(amina), [], 'touch targets on the join form');
  await amina.setViewportSize(DESKTOP);
  await amina.getByRole('button', { name: 'Join', exact: true }).click();
  await amina.getByText('Please write your name.').waitFor();
  assert.equal(await amina.evaluate(() => document.activeElement.id), 'name');
  assert.equal(await amina.getByLabel('Your name').getAttribute('aria-invalid'), 'true');
});

test('two people join and each sees both', { timeout: 60000 }, async () => {
  assert.ok(link, 'no room link from the landing page');
  await jan.goto(link);
  await join(amina, 'Amina', 'mentee');
  await join(jan, 'Jan', 'mentor');
  await waitForNames(amina, ['Amina', 'Jan']);
  await waitForNames(jan, ['Amina', 'Jan']);
  assert.equal(await selfName(amina), 'Amina');
  assert.equal(await selfName(jan), 'Jan');
  const janTileOnAmina = amina.locator('#participants .tile', { hasText: 'Jan' });
  assert.equal((await janTileOnAmina.locator('.tile-role').textContent()).trim(), 'Mentor');
  assert.equal(await amina.locator('#participants .tile-name').first().getAttribute('dir'), 'auto');
  await amina.getByText('You are in the room. 2 people are here.').waitFor();
  await jan.getByText('You are in the room. 2 people are here.').waitFor();
  await waitForAnnouncement(amina, 'Jan joined the room.');
  // "Remember me" is off unless ticked: nothing about the person stays on the device.
  assert.deepEqual(await jan.evaluate(() => Object.keys(localStorage)), []);
  assert.deepEqual(pageErrors, [], 'errors in the pages (CSP violations show here too)');

  await amina.screenshot({ path: path.join(ARTIFACTS, 'room-two-participants.png'), fullPage: true, animations: 'disabled' });
  await amina.setViewportSize(PHONE);
  await amina.screenshot({ path: path.join(ARTIFACTS, 'room-two-participants-phone.png'), fullPage: true, animations: 'disabled' });
  assert.deepEqual(await smallTargets(amina), [], 'touch targets in the room');
  assert.equal(await amina.evaluate(() => document.documentElement.scrollWidth <= innerWidth), true, 'no sideways scrolling on a phone');
  await amina.setViewportSize(DESKTOP);
});

test('when one leaves, the other sees only herself', { timeout: 60000 }, async () => {
  await jan.getByRole('button', { name: 'Leave' }).click();
  await jan.getByRole('heading', { name: 'You have left the room' }).waitFor();
  await waitForNames(amina, ['Amina']);
  await amina.getByText('You are in the room. Only you are here for now.').waitFor();
  await waitForAnnouncement(amina, 'Jan left the room.');
});

test('an Arabic name and the Arabic pages read right to left', { timeout: 60000 }, async () => {
  // A fragment (where invite tokens will travel) is left as it is by the page.
  await jan.goto('about:blank'); // the same URL with a fragment alone would not reload
  await jan.goto(`${link}#later-invite-token`);
  await jan.locator('#lang-select').selectOption('ar');
  await jan.waitForFunction(() => document.documentElement.dir === 'rtl' &&
    document.documentElement.lang === 'ar' && document.getElementById('join-button').textContent === 'انضمام');
  await jan.locator('#name').fill(ARABIC_NAME);
  await jan.locator('#join-button').click();
  await waitForNames(jan, ['Amina', ARABIC_NAME]);
  assert.equal(jan.url(), `${link}#later-invite-token`);
  await waitForNames(amina, ['Amina', ARABIC_NAME]);
  const tile = amina.locator('#participants .tile-name', { hasText: ARABIC_NAME });
  assert.equal(await tile.textContent(), ARABIC_NAME);
  assert.equal(await tile.getAttribute('dir'), 'auto');
  assert.equal(await tile.evaluate((e) => getComputedStyle(e).direction), 'rtl');
  assert.equal(await amina.evaluate(() => document.documentElement.dir), 'ltr');
  await jan.setViewportSize(PHONE);
  await jan.screenshot({ path: path.join(ARTIFACTS, 'room-arabic-phone.png'), fullPage: true, animations: 'disabled' });
  await jan.setViewportSize(DESKTOP);
  await jan.locator('#lang-select').selectOption('en');
  await jan.getByRole('button', { name: 'Leave' }).click();
  await waitForNames(amina, ['Amina']);
});

test('a full room says so in plain words', { timeout: 90000 }, async () => {
  const room = `full-${Date.now()}`;
  const first = await joinBySocket(room, 'Guest 1');
  const max = first.room.max_participants;
  for (let i = 2; i <= max; i++) await joinBySocket(room, `Guest ${i}`);
  await jan.goto(`${server.url}/r/${room}`);
  await jan.getByLabel('Your name').fill('Jan');
  await jan.getByRole('button', { name: 'Join', exact: true }).click();
  await jan.getByText(`This room is full (${max} people).`).waitFor();
  assert.equal(await jan.locator('#join-error').evaluate((e) => e === document.activeElement), true);
  await jan.screenshot({ path: path.join(ARTIFACTS, 'room-full.png'), fullPage: true, animations: 'disabled' });
});

test('a lost connection shows a banner, and the page rejoins when the server is back', { timeout: 90000 }, async () => {
  const { port } = server;
  await server.stop();
  await amina.locator('#banner').waitFor({ state: 'visible' });
  assert.match(await amina.locator('#banner-text').textContent(), /Trying to reconnect/);
  await amina.getByRole('button', { name: 'Try now' }).waitFor();
  await amina.screenshot({ path: path.join(ARTIFACTS, 'room-connection-lost.png'), fullPage: true, animations: 'disabled' });
  // The same address again (a restart): the backoff brings the page back by itself.
  server = await startTandem({ args: ['--port', String(port)] });
  await amina.locator('#banner').waitFor({ state: 'hidden', timeout: 45000 });
  await waitForNames(amina, ['Amina']);
  await waitForAnnouncement(amina, 'You are back in the room.');
  await amina.getByText('You are in the room. Only you are here for now.').waitFor();
});
