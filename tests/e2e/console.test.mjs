// End to end: the coordinator console. Chromium opens the console link, makes a room (its
// name stays in the browser) and two links; two browsers join through them, one reloads and
// comes back; the coordinator withdraws a link and its holder cannot come back. The room's
// name never appears in a request, a WebSocket frame or the server's log. Screenshots of the
// console on a phone and a laptop go to tests/e2e/artifacts/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TANDEM_BIN, startTandem, stopCleanly, newLedgerPath, inviteKeyPath } from '../lib/tandem.mjs';
import { launchChromium } from '../lib/browsers.mjs';
import jsQR from 'jsqr';

const WAIT_MS = 20000;
const ARTIFACTS = path.join(path.dirname(fileURLToPath(import.meta.url)), 'artifacts');
const ROOM_NAME = 'Zephyrine and Quillon';
let server = null;
const browsers = [];
const pageErrors = [];
const ledger = newLedgerPath();
let exported = null; // the room names file the first test saved

before(async () => { server = await startTandem({ openRooms: false, args: ['--invite-ledger', ledger] }); });
after(async (t) => {
  await Promise.all(browsers.map((b) => b.close()));
  if (server) await stopCleanly(t, server);
});

async function browser(label) {
  const b = await launchChromium(label);
  browsers.push(b);
  b.page.setDefaultTimeout(WAIT_MS);
  b.page.on('pageerror', (err) => pageErrors.push(`${label}: ${err.message}`));
  return b;
}

/** Everything a page sends: request lines (with bodies) and WebSocket frames. */
function recordTraffic(page) {
  const sent = [];
  page.on('request', (r) => sent.push(`${r.method()} ${r.url()} ${r.postData() || ''}`));
  page.on('websocket', (ws) => ws.on('framesent', (f) => sent.push(String(f.payload))));
  return sent;
}

async function join(page, url, name) {
  await page.goto('about:blank');
  await page.goto(url);
  await page.getByLabel('Your name').fill(name);
  await page.getByRole('button', { name: 'Join', exact: true }).click();
  await page.getByRole('heading', { name: 'In the room', exact: true }).waitFor();
}

test('the console makes a room and links; people join; a withdrawn link keeps its holder out', { timeout: 240000 }, async () => {
  const consoleUrl = execFileSync(TANDEM_BIN, ['console-link', '--invite-key', inviteKeyPath(),
    '--invite-ledger', ledger, '--public-url', server.url], { encoding: 'utf8' }).trim();
  assert.match(consoleUrl, /\/console#c=/);
  const token = consoleUrl.split('#c=')[1];

  const coord = await browser('coordinator');
  const cp = coord.page;
  const traffic = recordTraffic(cp);
  cp.on('dialog', (d) => d.accept());
  await cp.goto(consoleUrl);
  await cp.getByText('Ready.', { exact: true }).waitFor();
  assert.equal(await cp.evaluate(() => window.location.hash), '', 'the token left the address bar');
  assert.equal(await cp.evaluate(() => sessionStorage.getItem('tandem.console.token')), token);
  assert.equal(await cp.evaluate(() => localStorage.getItem('tandem.console.token')), null,
    'on the device only with "Remember me"');

  await cp.getByLabel('Name of the room (for you only)').fill(ROOM_NAME);
  await cp.getByRole('button', { name: 'Make the room' }).click();
  const room = cp.locator('#room-list > li').filter({ hasText: ROOM_NAME });
  await room.waitFor();
  // a once-only mentee link and an unlimited mentor link
  await room.getByLabel('Who is the link for?').selectOption('mentee');
  await room.getByLabel('How many people?').selectOption('1');
  await room.getByRole('button', { name: 'Make a link' }).click();
  await room.locator('.link').nth(0).waitFor();
  await room.getByLabel('Who is the link for?').selectOption('mentor');
  await room.getByLabel('How many people?').selectOption('0');
  await room.getByRole('button', { name: 'Make a link' }).click();
  await room.locator('.link').nth(1).waitFor();
  const linkOf = async (role) => room.locator('.link').filter({ hasText: role }).locator('.link-url').textContent();
  const menteeUrl = await linkOf('Mentee');
  const mentorUrl = await linkOf('Mentor');
  assert.match(menteeUrl, /\/r\/[A-Za-z0-9_-]{22}#t=/);
  assert.match(await room.locator('.link').filter({ hasText: 'Mentee' }).textContent(), /1 use left/);

  const mentee = await browser('mentee');
  const mentor = await browser('mentor');
  await join(mentee.page, menteeUrl, 'Mentee One');
  await join(mentor.page, mentorUrl, 'Mentor One');

  // The console, reloaded: the room, its links and its people are there again.
  await cp.reload();
  await cp.getByText('Ready.', { exact: true }).waitFor();
  await room.getByText('2 people here now').waitFor();
  assert.equal(await room.locator('.link').count(), 1, 'the once-only link is used up: no longer listed');

  // The names go to a file for another device (and come back from one: the second test).
  const [download] = await Promise.all([cp.waitForEvent('download'),
    cp.getByRole('button', { name: 'Save room names to a file' }).click()]);
  const saved = JSON.parse(readFileSync(await download.path(), 'utf8'));
  assert.equal(saved.rooms.length, 1);
  assert.equal(saved.rooms[0].name, ROOM_NAME);
  exported = saved;

  // The mentee reloads and comes back in with the pass the page kept.
  await mentee.page.reload();
  await mentee.page.getByLabel('Your name').fill('Mentee One');
  await mentee.page.getByRole('button', { name: 'Join', exact: true }).click();
  await mentee.page.getByRole('heading', { name: 'In the room', exact: true }).waitFor();

  // Screenshots, phone and laptop (looked at by hand; not compared).
  mkdirSync(ARTIFACTS, { recursive: true });
  await cp.setViewportSize({ width: 390, height: 844 });
  await cp.screenshot({ path: path.join(ARTIFACTS, 'console-phone.png'), fullPage: true });
  await cp.setViewportSize({ width: 1366, height: 768 });
  await cp.screenshot({ path: path.join(ARTIFACTS, 'console-laptop.png'), fullPage: true });

  // The QR code drawn in the page reads back as the link.
  await cp.setViewportSize({ width: 390, height: 844 });
  await room.locator('.link').filter({ hasText: 'Mentor' }).getByRole('button', { name: 'QR code' }).click();
  await cp.locator('#qr-dialog').waitFor();
  const img = await cp.evaluate(() => {
    const c = document.getElementById('qr-canvas');
    return { w: c.width, h: c.height, px: Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data) };
  });
  assert.equal(jsQR(Uint8ClampedArray.from(img.px), img.w, img.h)?.data, mentorUrl);
  await cp.screenshot({ path: path.join(ARTIFACTS, 'console-qr-phone.png') });
  await cp.getByRole('button', { name: 'Close' }).click();
  await cp.setViewportSize({ width: 1366, height: 768 });

  // The coordinator withdraws the mentor link: its holder cannot come back.
  await room.locator('.link').filter({ hasText: 'Mentor' }).getByRole('button', { name: 'Withdraw' }).click();
  await cp.getByText('The link is withdrawn.').waitFor();
  // (the page says so first, then asks the server for the links and redraws the list)
  await room.locator('.link').first().waitFor({ state: 'detached', timeout: 10000 }).catch(() => {});
  assert.equal(await room.locator('.link').count(), 0);
  await mentor.page.goto('about:blank');
  await mentor.page.goto(mentorUrl);
  // (Said before the name field when the page's link check says so; else the join is refused.)
  const withdrawn = mentor.page.getByText('This link was withdrawn');
  try {
    await mentor.page.getByLabel('Your name').fill('Mentor One', { timeout: 3000 });
    await mentor.page.getByRole('button', { name: 'Join', exact: true }).click({ timeout: 3000 });
  } catch { /* the form was already replaced by the link's problem */ }
  await withdrawn.waitFor();
  assert.equal(await mentor.page.getByRole('heading', { name: 'In the room', exact: true }).isVisible(), false);

  // In Arabic, right to left, on a phone (looked at by hand).
  await cp.locator('#lang-select').selectOption('ar');
  await cp.getByRole('heading', { name: 'لوحة المنسّق' }).waitFor();
  await cp.setViewportSize({ width: 390, height: 844 });
  await cp.screenshot({ path: path.join(ARTIFACTS, 'console-phone-ar.png'), fullPage: true });

  // The room's name went nowhere: not in a request, a frame or the log.
  assert.ok(traffic.some((s) => s.includes('console.link.create')), 'frames were recorded');
  for (const s of traffic) {
    assert.ok(!s.includes(ROOM_NAME) && !s.includes('Zephyrine'), `the room name was sent: ${s.slice(0, 200)}`);
    assert.ok(!/^GET .*#/.test(s) && !s.includes(`GET ${consoleUrl}`), 'no fragment in a request');
  }
  assert.ok(!server.stderr.includes('Zephyrine'), 'the room name is in the log');
  assert.ok(!server.stderr.includes(token), 'the console token is in the log');
  assert.deepEqual(pageErrors, []);
});

test('pressed before the script is ready, the new-room form sends nothing by itself', { timeout: 120000 }, async () => {
  const consoleUrl = execFileSync(TANDEM_BIN, ['console-link', '--invite-key', inviteKeyPath(),
    '--invite-ledger', ledger, '--public-url', server.url], { encoding: 'utf8' }).trim();
  const { page } = await browser('slow-console');
  const urls = [];
  page.on('request', (r) => urls.push(r.url()));
  page.on('framenavigated', (f) => { if (f === page.mainFrame()) urls.push(f.url()); });
  // the page's scripts come 1.5 s late: the form shows before anything is wired
  await page.route(/\/js\//, async (route) => {
    await new Promise((r) => setTimeout(r, 1500));
    try { await route.continue(); } catch { /* the page went away meanwhile */ }
  });
  await page.goto(consoleUrl, { waitUntil: 'commit' });
  const field = page.locator('#room-name');
  await field.waitFor({ state: 'attached' });
  await field.evaluate((el, name) => {
    el.closest('section').hidden = false; // as a fast finger on a half-loaded page could
    el.value = name;
    el.form.requestSubmit();
  }, ROOM_NAME);
  await page.getByText('Ready.', { exact: true }).waitFor();
  assert.ok(urls.every((u) => !u.includes('?') && !u.includes('Zephyrine')), urls.join('\n'));
  assert.equal(new URL(page.url()).pathname, '/console');

  // Another device: the names come from the file the first test saved, with the room's link.
  if (exported) {
    await page.locator('#import-file').setInputFiles({ name: 'tandem-rooms.json', mimeType: 'application/json',
      buffer: Buffer.from(JSON.stringify(exported)) });
    await page.getByText('1 room added.').waitFor();
    const room = page.locator('#room-list > li').filter({ hasText: ROOM_NAME });
    await room.waitFor();
    await room.getByText('1 person here now').or(room.getByText('2 people here now')).waitFor();
    await page.locator('#import-file').setInputFiles({ name: 'x.json', mimeType: 'application/json',
      buffer: Buffer.from('{"not": "ours"}') });
    await page.getByText('This file has no room names from a Tandem console.').waitFor();
  }
});
