// End to end: the join page and the call page in every language on a 360 x 640 phone, in
// Debian's Chromium, through the real server and SFU (in a private network namespace, like
// tests/e2e/call-page.test.mjs). For each language: Join is on the screen without scrolling,
// the page says in words who the link lets in, no button's text overflows it, nothing
// scrolls sideways; with the camera refused, "Check my camera" stays inside its box; in the
// call, every control's label fits its button (on and off: "Mute"/"Unmute", "Stop camera"/
// "Start camera"). A browser whose language Tandem does not speak is offered every language.
// Screenshots of every language go to <build dir>/screenshots/ (next to TANDEM_BIN).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { startTandem, mintInvite, SOURCE_DIR, TANDEM_BIN } from '../lib/tandem.mjs';
import { insideNetns, runInNetns, setupNetns, SERVER_ADDR } from '../lib/netns.mjs';
import { CHROMIUM_ARGS } from '../lib/browsers.mjs';

const SHOTS = path.join(path.dirname(TANDEM_BIN), 'screenshots');
const PHONE = { width: 360, height: 640 };
const WAIT_MS = 30000; // bound on every wait on the page
const MEDIA_WAIT_MS = 45000;
const ROOM = 'languages-room';
const I18N = path.join(SOURCE_DIR, 'web', 'i18n');
const DICTS = Object.fromEntries(readdirSync(I18N).filter((f) => f.endsWith('.json'))
  .map((f) => [path.basename(f, '.json'), JSON.parse(readFileSync(path.join(I18N, f), 'utf8'))]));
// The order of the picker (web/js/i18n.mjs), which the test also checks.
const LANGS = [...readFileSync(path.join(SOURCE_DIR, 'web', 'js', 'i18n.mjs'), 'utf8')
  .matchAll(/\{\s*tag:\s*'([a-z-]+)'/g)].map((m) => m[1]);

/** Every visible button whose content does not fit it, and every control label that spills
 *  out of its button, as "id or text: why". */
function overflows(page) {
  return page.evaluate(() => {
    const bad = [];
    const visible = (el) => {
      const r = el.getBoundingClientRect();
      return r.width > 0 && r.height > 0 && getComputedStyle(el).visibility !== 'hidden';
    };
    const name = (el) => el.id || el.textContent.trim().slice(0, 40);
    for (const el of document.querySelectorAll('button, a.button')) {
      if (!visible(el)) continue;
      if (el.scrollWidth > el.clientWidth + 1) bad.push(`${name(el)}: ${el.scrollWidth} > ${el.clientWidth} wide`);
      if (el.scrollHeight > el.clientHeight + 1) bad.push(`${name(el)}: ${el.scrollHeight} > ${el.clientHeight} high`);
      const box = el.getBoundingClientRect();
      for (const part of el.querySelectorAll('.control-label, svg')) {
        if (!visible(part)) continue;
        const r = part.getBoundingClientRect();
        if (part.scrollWidth > part.clientWidth + 1) bad.push(`${name(el)}: its label is cut`);
        if (r.left < box.left - 1 || r.right > box.right + 1 || r.top < box.top - 1 || r.bottom > box.bottom + 1) {
          bad.push(`${name(el)}: "${part.textContent.trim()}" spills out of the button`);
        }
      }
    }
    // A word broken in the middle to fit is hard to read: every word of a control's label
    // must fit its width whole.
    const ctx = document.createElement('canvas').getContext('2d');
    for (const label of document.querySelectorAll('.control-label')) {
      if (!visible(label)) continue;
      ctx.font = getComputedStyle(label).font;
      for (const word of label.textContent.trim().split(/\s+/)) {
        const w = ctx.measureText(word).width;
        if (w > label.clientWidth + 1) bad.push(`${name(label.closest('button'))}: the word "${word}" (${Math.round(w)} px) is wider than the button (${label.clientWidth} px)`);
      }
    }
    if (document.documentElement.scrollWidth > window.innerWidth) {
      bad.push(`the page scrolls sideways (${document.documentElement.scrollWidth} > ${window.innerWidth})`);
    }
    return bad;
  });
}

/** Where #id is on the screen: {top, bottom, left, right} and the page's scroll. */
function place(page, id) {
  return page.evaluate((i) => {
    const r = document.getElementById(i).getBoundingClientRect();
    return { top: r.top, bottom: r.bottom, left: r.left, right: r.right, scrollY: window.scrollY, height: window.innerHeight };
  }, id);
}

async function chooseLanguage(page, lang) {
  await page.locator('#lang-select').selectOption(lang);
  await page.waitForFunction((l) => document.documentElement.lang === l, lang, { timeout: WAIT_MS });
}

if (!insideNetns()) {
  test('the pages in every language at 360 x 640 (in a private network namespace)', { timeout: 580000 }, async () => {
    await runInNetns(import.meta.url, { timeoutMs: 560000 });
  });
} else {
  let server = null;
  const contexts = [];
  const dirs = [];
  const errors = [];
  let menteeLink = '';
  let coordinatorLink = '';

  async function open(label, { locale = 'en-US', deny = false } = {}) {
    const dir = mkdtempSync(path.join(tmpdir(), `tandem-lang-${label}-`));
    dirs.push(dir);
    // deny: the camera and microphone are refused, as when a person presses Block.
    const args = deny
      ? [...CHROMIUM_ARGS.filter((a) => a !== '--use-fake-ui-for-media-stream'), '--deny-permission-prompts']
      : CHROMIUM_ARGS;
    const context = await chromium.launchPersistentContext(dir, {
      executablePath: '/usr/bin/chromium', ignoreDefaultArgs: ['--mute-audio'], args,
      ignoreHTTPSErrors: true, locale, viewport: PHONE, timeout: WAIT_MS,
    });
    contexts.push(context);
    const page = context.pages()[0] || await context.newPage();
    page.setDefaultTimeout(WAIT_MS);
    page.on('pageerror', (err) => errors.push(`${label}: ${err.message}`));
    return page;
  }

  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    setupNetns();
    server = await startTandem({ listen: SERVER_ADDR, openRooms: false, args: ['--media-address', SERVER_ADDR] });
    menteeLink = `${server.url}/r/${ROOM}#t=${mintInvite({ room: ROOM, role: 'mentee' })}`;
    coordinatorLink = `${server.url}/r/${ROOM}#t=${mintInvite({ room: ROOM, role: 'coordinator' })}`;
  }, { timeout: 60000 });

  after(async () => {
    await Promise.all(contexts.map((c) => Promise.race([c.close(), new Promise((r) => setTimeout(r, 10000))]).catch(() => {})));
    if (server) await server.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }, { timeout: 60000 });

  test('the picker, the translation files and this test know the same languages', () => {
    assert.deepEqual([...LANGS].sort(), Object.keys(DICTS).sort());
    assert.ok(LANGS.length >= 10, `only ${LANGS.length} languages`);
  });

  test('join page: Join on the screen, the link\'s role in words, nothing overflows', { timeout: 240000 }, async () => {
    const page = await open('join');
    await page.goto(menteeLink);
    for (const lang of LANGS) {
      const d = DICTS[lang];
      await chooseLanguage(page, lang);
      await page.waitForFunction(([join, as]) => document.getElementById('join-button').textContent === join &&
        document.getElementById('join-as').textContent === as, [d['prejoin.join'], d['prejoin.asMentee']]);
      await page.screenshot({ path: path.join(SHOTS, `join-${lang}.png`) });
      assert.equal(await page.locator('#role').count(), 0, 'no "I am a…" picker');
      const join = await place(page, 'join-button');
      assert.equal(join.scrollY, 0, `${lang}: the page opened scrolled`);
      assert.ok(join.top >= 0 && join.bottom <= join.height,
        `${lang}: Join is at ${Math.round(join.top)}-${Math.round(join.bottom)} px, the screen ${join.height} px high`);
      const name = await place(page, 'name');
      assert.ok(name.top >= 0 && name.bottom <= join.top, `${lang}: the name field is hidden (${Math.round(name.top)}-${Math.round(name.bottom)})`);
      assert.deepEqual(await overflows(page), [], `${lang}: join page`);
    }
    // A coordinator's link says so, and Join is still on the screen.
    await page.goto('about:blank');
    await page.goto(coordinatorLink);
    for (const lang of ['en', 'ti', 'fa']) {
      await chooseLanguage(page, lang);
      await page.waitForFunction((as) => document.getElementById('join-as').textContent === as, DICTS[lang]['prejoin.asCoordinator']);
      const join = await place(page, 'join-button');
      assert.ok(join.bottom <= join.height, `${lang}: a coordinator's Join is below the screen`);
    }
  });

  test('landing, not-found and console pages: nothing overflows in any language', { timeout: 240000 }, async () => {
    const page = await open('others');
    const problems = [];
    for (const [where, shot] of [['/', 'landing'], ['/no-such-page', 'not-found'], ['/console', 'console']]) {
      await page.goto(`${server.url}${where}`);
      for (const lang of LANGS) {
        await chooseLanguage(page, lang);
        // (the page's lang changes once its words are in: i18n.mjs setLanguage)
        await page.screenshot({ path: path.join(SHOTS, `${shot}-${lang}.png`) });
        problems.push(...(await overflows(page)).map((b) => `${shot} ${lang}: ${b}`));
      }
    }
    assert.deepEqual(problems, []);
  });

  test('camera refused: "Check my camera" stays inside its box in every language', { timeout: 240000 }, async () => {
    const page = await open('denied', { deny: true });
    await page.goto(menteeLink);
    await page.locator('#preview-button').click();
    await page.waitForFunction((text) => document.getElementById('preview-text').textContent === text, DICTS.en['device.denied']);
    for (const lang of LANGS) {
      await chooseLanguage(page, lang);
      await page.waitForFunction((text) => document.getElementById('preview-text').textContent === text, DICTS[lang]['device.denied']);
      await page.locator('#preview').evaluate((el) => el.scrollIntoView({ block: 'center' }));
      await page.screenshot({ path: path.join(SHOTS, `join-camera-refused-${lang}.png`) });
      const box = await place(page, 'preview');
      const button = await place(page, 'preview-button');
      assert.ok(button.top >= box.top && button.bottom <= box.bottom && button.left >= box.left && button.right <= box.right,
        `${lang}: "Check my camera" (${Math.round(button.top)}-${Math.round(button.bottom)}) is outside its box (${Math.round(box.top)}-${Math.round(box.bottom)})`);
      assert.deepEqual(await overflows(page), [], `${lang}: join page, camera refused`);
    }
  });

  test('a browser in a language Tandem does not speak is offered every language', { timeout: 60000 }, async () => {
    const page = await open('somali', { locale: 'so-SO' });
    await page.goto(menteeLink);
    const notice = page.locator('#lang-notice');
    await notice.waitFor();
    const offered = await notice.locator('.lang-choices button').evaluateAll((bs) => bs.map((b) => [b.lang, b.textContent]));
    assert.deepEqual(offered.map(([l]) => l), LANGS);
    for (const [l, n] of offered) {
      assert.equal(n.toLocaleLowerCase(l), new Intl.DisplayNames([l], { type: 'language' }).of(l).toLocaleLowerCase(l), `${l} named in itself`);
    }
    // By keyboard: Tab into the notice, to Tigrinya, Enter.
    await page.locator('#lang-select').focus();
    let focused = '';
    for (let i = 0; i < 20 && focused !== 'ti'; i++) {
      await page.keyboard.press('Tab');
      focused = await page.evaluate(() => document.activeElement?.lang || '');
    }
    assert.equal(focused, 'ti', 'the Tigrinya button is reached with Tab');
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.documentElement.lang === 'ti' && !document.getElementById('lang-notice'));
    assert.equal(await page.evaluate(() => document.activeElement.id), 'lang-select', 'the focus goes to the language picker');
    await page.screenshot({ path: path.join(SHOTS, 'join-ti-chosen.png') });
    // Remembered for the tab: the next page load speaks Tigrinya and asks no more.
    await page.reload();
    await page.waitForFunction((join) => document.documentElement.lang === 'ti' &&
      document.getElementById('join-button').textContent === join, DICTS.ti['prejoin.join']);
    assert.equal(await page.locator('#lang-notice').count(), 0);
  });

  test('call page: every control fits its button in every language, on and off', { timeout: 300000 }, async () => {
    const mentee = await open('mentee');
    await mentee.goto(menteeLink);
    await mentee.locator('#name').fill('Amina');
    await mentee.locator('#join-button').click();
    const page = await open('coordinator');
    await page.goto(coordinatorLink);
    await page.locator('#name').fill('Jo');
    await page.locator('#join-button').click();
    await page.locator('#room-title').waitFor();
    await page.waitForFunction(() => window.tandemCall.status === 'connected' &&
      window.tandemCall.participantsWithMedia().length === 1, null, { timeout: MEDIA_WAIT_MS });
    assert.equal(await page.locator('#manage-button').isVisible(), true, 'a coordinator has the Manage button');
    const problems = []; // every language is looked at before the test fails
    for (const lang of LANGS) {
      const d = DICTS[lang];
      await chooseLanguage(page, lang);
      await page.waitForFunction((m) => document.getElementById('mic-label').textContent === m, d['call.mute']);
      await page.screenshot({ path: path.join(SHOTS, `call-on-${lang}.png`) });
      problems.push(...(await overflows(page)).map((b) => `${lang}, on: ${b}`));
      await page.locator('#mic-button').click();
      await page.locator('#camera-button').click();
      await page.waitForFunction(([m, c]) => document.getElementById('mic-label').textContent === m &&
        document.getElementById('camera-label').textContent === c, [d['call.unmute'], d['call.cameraOn']]);
      await page.screenshot({ path: path.join(SHOTS, `call-${lang}.png`) });
      problems.push(...(await overflows(page)).map((b) => `${lang}, off: ${b}`));
      await page.locator('#mic-button').click();
      await page.locator('#camera-button').click();
      await page.waitForFunction((c) => document.getElementById('camera-label').textContent === c, d['call.cameraOff']);
    }
    // Wider screens (a big phone sideways, a tablet, a small laptop): one row of controls.
    await page.locator('#mic-button').click();
    await page.locator('#camera-button').click();
    for (const width of [640, 768, 1024]) {
      await page.setViewportSize({ width, height: 720 });
      for (const lang of LANGS) {
        await chooseLanguage(page, lang);
        await page.waitForFunction((m) => document.getElementById('mic-label').textContent === m, DICTS[lang]['call.unmute']);
        problems.push(...(await overflows(page)).map((b) => `${lang} at ${width} px: ${b}`));
      }
    }
    assert.deepEqual(problems, [], 'call controls');
    assert.deepEqual(errors, [], 'errors on the pages');
  });
}
