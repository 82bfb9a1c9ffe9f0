// End to end: the chat in two headless Chromium pages against the real server. Amina writes
// (Arabic and emoji, and something that looks like HTML), sends a phone photo that carries
// its GPS position and a rotation in Exif, Jan sees the text as text and the photo upright
// and without any metadata, reacts, and comes back later to the same history.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startTandem } from '../lib/tandem.mjs';
import { makeHarnessRoot, launchChromium, openHarness } from '../lib/watchpages.mjs';

const WAIT_MS = 15000;
const ROOM = 'chat-e2e';
let dir;
let server;
let amina;
let jan;
const errors = [];

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'tandem-chat-e2e-'));
  const web = makeHarnessRoot(dir);
  server = await startTandem({ args: ['--web-root', web] });
  [amina, jan] = await Promise.all([launchChromium('amina', { errors }), launchChromium('jan', { errors })]);
});

after(async () => {
  await Promise.allSettled([amina?.close(), jan?.close()]);
  const r = server ? await server.stop() : { code: 0 };
  rmSync(dir, { recursive: true, force: true });
  assert.equal(r.code, 0, server?.stderr);
  assert.doesNotMatch(server?.stderr || '', /ERROR: (AddressSanitizer|LeakSanitizer)|runtime error/);
});

/** A 640x480 JPEG photo as a phone writes it: Exif with Orientation 6 (turn 90° to show)
 *  and a GPS position (52° 22' 12.34" N). */
function phonePhoto() {
  const plain = path.join(dir, 'plain.jpg');
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i',
    'testsrc=size=640x480', '-frames:v', '1', '-pix_fmt', 'yuvj420p', plain]);
  const jpg = readFileSync(plain);
  const tiff = Buffer.alloc(92);
  tiff.write('MM', 0, 'latin1');
  tiff.writeUInt16BE(42, 2);
  tiff.writeUInt32BE(8, 4);
  const entry = (at, tag, type, count, value) => {
    tiff.writeUInt16BE(tag, at); tiff.writeUInt16BE(type, at + 2); tiff.writeUInt32BE(count, at + 4);
    if (type === 3) tiff.writeUInt16BE(value, at + 8); else tiff.writeUInt32BE(value, at + 8);
  };
  tiff.writeUInt16BE(2, 8); // IFD0: orientation, GPS pointer
  entry(10, 0x0112, 3, 1, 6);
  entry(22, 0x8825, 4, 1, 38);
  tiff.writeUInt32BE(0, 34);
  tiff.writeUInt16BE(2, 38); // GPS IFD: latitude ref, latitude
  entry(40, 0x0001, 2, 2, 0);
  tiff.write('N', 48, 'latin1');
  entry(52, 0x0002, 5, 3, 68);
  tiff.writeUInt32BE(0, 64);
  for (const [i, [n, d]] of [[52, 1], [22, 1], [1234, 100]].entries()) {
    tiff.writeUInt32BE(n, 68 + i * 8); tiff.writeUInt32BE(d, 72 + i * 8);
  }
  const body = Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), tiff]);
  const len = Buffer.alloc(2);
  len.writeUInt16BE(body.length + 2);
  const photo = Buffer.concat([jpg.subarray(0, 2), Buffer.from([0xff, 0xe1]), len, body, jpg.subarray(2)]);
  const file = path.join(dir, 'IMG_2024.jpg');
  writeFileSync(file, photo);
  return file;
}

const texts = (b) => b.page.$$eval('.chat-log .chat-body', (els) => els.map((e) => e.textContent));

async function write(b, text) {
  await b.page.locator('#chat-text').fill(text);
  await b.page.locator('.chat-send').click();
}

test('texts, a photo without its GPS, reactions and deletion reach the other page', async () => {
  await openHarness(amina, server.url, { room: ROOM, name: 'Amina' });
  await openHarness(jan, server.url, { room: ROOM, name: 'Jan', role: 'mentor' });

  const hello = 'مرحبا Jan 👋\nHow are you?';
  await write(amina, hello);
  await jan.page.waitForFunction((want) => [...document.querySelectorAll('.chat-body')].some((e) => e.textContent === want), hello, { timeout: WAIT_MS });
  const item = jan.page.locator('.chat-msg').first();
  assert.equal(await item.locator('.chat-name').textContent(), 'Amina');
  assert.equal(await item.locator('.chat-name').getAttribute('dir'), 'auto');
  assert.equal(await item.locator('.chat-body').getAttribute('dir'), 'auto');
  assert.equal(await amina.page.locator('#chat-text').inputValue(), '', 'the box empties once sent');

  // text that looks like HTML stays text
  const html = '<img src=x onerror="window.pwned=1"><b>bold</b>';
  await write(amina, html);
  await jan.page.waitForFunction((want) => [...document.querySelectorAll('.chat-body')].some((e) => e.textContent === want), html, { timeout: WAIT_MS });
  assert.equal(await jan.page.locator('.chat-body img, .chat-body b').count(), 0);
  assert.equal(await jan.page.evaluate(() => window.pwned), undefined);

  // a phone photo, chosen as a person does (the picture button opens the file chooser of a
  // hidden input): re-encoded on Amina's page, so it arrives upright and without Exif
  const [chooser] = await Promise.all([amina.page.waitForEvent('filechooser', { timeout: WAIT_MS }),
    amina.page.locator('.chat-picture-button').click()]);
  await chooser.setFiles(phonePhoto());
  const img = jan.page.locator('.chat-picture');
  await img.waitFor({ timeout: WAIT_MS });
  await jan.page.waitForFunction(() => document.querySelector('.chat-picture')?.complete && document.querySelector('.chat-picture').naturalWidth > 0, null, { timeout: WAIT_MS });
  const seen = await jan.page.evaluate(async () => {
    const el = document.querySelector('.chat-picture');
    const bytes = new Uint8Array(await (await fetch(el.src)).arrayBuffer());
    const text = Array.from(bytes, (b) => String.fromCharCode(b)).join('');
    return { w: el.naturalWidth, h: el.naturalHeight, exif: text.includes('Exif'), gps: text.includes('MM\0*'),
      jpeg: bytes[0] === 0xff && bytes[1] === 0xd8, src: el.getAttribute('src') };
  });
  assert.deepEqual([seen.w, seen.h], [480, 640], 'the Exif orientation was applied before upload');
  assert.equal(seen.jpeg, true);
  assert.equal(seen.exif, false, 'no Exif left');
  assert.equal(seen.gps, false, 'no TIFF/GPS block left');
  assert.match(seen.src, /^\/p\/chat-e2e\/[A-Za-z0-9_-]{22}\?access=[A-Za-z0-9_-]{22}$/);
  await amina.page.locator('.chat-uploading').waitFor({ state: 'hidden', timeout: WAIT_MS });

  // Jan reacts to the first message; Amina sees it, and it is marked as Jan's on his page
  const first = jan.page.locator('.chat-msg').first();
  await first.locator('.chat-react').click();
  await first.locator('.chat-react-pick').first().click();
  const onAmina = amina.page.locator('.chat-msg').first().locator('.chat-reaction');
  await onAmina.waitFor({ timeout: WAIT_MS });
  assert.equal((await onAmina.textContent()).trim(), '👍 1');
  assert.equal(await onAmina.getAttribute('aria-pressed'), 'false');
  assert.equal(await first.locator('.chat-reaction').getAttribute('aria-pressed'), 'true');
  // Amina adds hers to the same emoji by pressing it
  await onAmina.click();
  await jan.page.waitForFunction(() => document.querySelector('.chat-msg .chat-reaction')?.textContent.trim() === '👍 2', null, { timeout: WAIT_MS });

  // Amina deletes the HTML-looking message: it goes from both pages; Jan may not delete hers
  assert.equal(await jan.page.locator('.chat-msg').nth(1).locator('.chat-delete').count(), 0);
  await amina.page.locator('.chat-msg').nth(1).locator('.chat-delete').click();
  await jan.page.waitForFunction((gone) => ![...document.querySelectorAll('.chat-body')].some((e) => e.textContent === gone), html, { timeout: WAIT_MS });
  assert.deepEqual(await texts(jan), [hello]);

  // Jan comes back: the same history, the photo included
  await jan.page.goto('about:blank');
  await openHarness(jan, server.url, { room: ROOM, name: 'Jan', role: 'mentor' });
  await jan.page.locator('.chat-picture').waitFor({ timeout: WAIT_MS });
  assert.deepEqual(await texts(jan), [hello]);
  assert.equal(await jan.page.locator('.chat-msg').first().locator('.chat-reaction').textContent(), '👍 2');
  assert.deepEqual(errors, []);
});

test('writing too fast gets a plain message, and the chat still works afterwards', async () => {
  // what the alert shows, as it happens (a later message that gets through clears it)
  await amina.page.evaluate(() => {
    const el = document.querySelector('.chat-error');
    window.shownErrors = [];
    new MutationObserver(() => {
      if (!el.hidden) window.shownErrors.push(el.textContent);
    }).observe(el, { attributes: true, childList: true, characterData: true, subtree: true });
  });
  // 14 sends at once (a person's fingers are slower than this; a stuck key or a script is not)
  await amina.page.evaluate(() => {
    const box = document.getElementById('chat-text');
    for (let i = 0; i < 14; i++) {
      box.value = `quick ${i}`;
      document.querySelector('.chat-send').click();
    }
  });
  await amina.page.waitForFunction(() => window.shownErrors.length > 0, null, { timeout: WAIT_MS });
  const shown = await amina.page.evaluate(() => window.shownErrors);
  const plain = await amina.page.evaluate(() => window.tandem.chat.constructor && document.documentElement.lang);
  assert.equal(plain, 'en');
  assert.ok(shown.every((x) => x.length > 0 && !/rate_limited/.test(x)), JSON.stringify(shown));
  // the server answered rate_limited: not every message made it
  await jan.page.waitForFunction(() => [...document.querySelectorAll('.chat-body')].some((e) => e.textContent.startsWith('quick')), null, { timeout: WAIT_MS });
  const got = (await texts(jan)).filter((x) => x.startsWith('quick'));
  assert.ok(got.length < 14, `${got.length} of 14 arrived`);
  // a second later writing works again (5 per second)
  await amina.page.waitForTimeout(1200);
  await write(amina, 'calm again');
  await jan.page.waitForFunction(() => [...document.querySelectorAll('.chat-body')].some((e) => e.textContent === 'calm again'), null, { timeout: WAIT_MS });
  assert.deepEqual(errors, []);
});
