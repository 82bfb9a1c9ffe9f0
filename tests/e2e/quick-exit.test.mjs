// End to end: the quick exit (web/js/quickexit.mjs) on the real pages, during a real call
// through the SFU (server and Debian Chromium in a private network namespace, as in
// call-page.test.mjs). The button and Shift pressed three times each: the camera and
// microphone tracks end, the other person sees the participant leave, the page becomes
// /neutral.html and Back does not bring the room back. Shift twice, a letter, and Shift
// again does nothing. The landing page and the 404 page have the button too. A server with
// pages.quick_exit_url sends the exit there, and what Tandem kept in localStorage is gone;
// /safety.html says what the browser still shows, in the page's language, at 360 px.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { insideNetns, runInNetns, setupNetns, SERVER_ADDR } from '../lib/netns.mjs';
import { startTandem, SOURCE_DIR } from '../lib/tandem.mjs';
import { launchChromium } from '../lib/browsers.mjs';

const ARTIFACTS = path.join(SOURCE_DIR, 'tests', 'e2e', 'artifacts');
const WAIT_MS = 30000;
const ROOM = 'quick-exit-room';

if (!insideNetns()) {
  test('quick exit from a call (in a private network namespace)', { timeout: 300000 }, async () => {
    await runInNetns(import.meta.url, { timeoutMs: 280000 });
  });
} else {
  let server = null;
  const people = [];

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    setupNetns();
    server = await startTandem({ listen: SERVER_ADDR, args: ['--media-address', SERVER_ADDR] });
  }, { timeout: 60000 });

  after(async () => {
    await Promise.all(people.map((p) => p.browser.close().catch(() => {})));
    const r = server ? await server.stop() : { code: 0 };
    assert.equal(r.code, 0, server?.stderr);
    assert.doesNotMatch(server?.stderr || '', /ERROR: (AddressSanitizer|LeakSanitizer)|runtime error/);
  }, { timeout: 60000 });

  async function join(label) {
    const browser = await launchChromium(label);
    const { page } = browser;
    page.setDefaultTimeout(WAIT_MS);
    const person = { label, browser, page, id: null, errors: [] };
    people.push(person);
    page.on('pageerror', (err) => person.errors.push(err.message));
    await page.goto(`${server.url}/r/${ROOM}`);
    await page.getByLabel('Your name').fill(label);
    await page.getByRole('button', { name: 'Join', exact: true }).click();
    await page.getByRole('heading', { name: 'In the room', exact: true }).waitFor();
    person.id = await page.$eval('#participants .tile[data-self="true"]', (li) => li.dataset.participantId);
    // publishing: the camera and microphone tracks are live
    await page.waitForFunction(() => window.tandemCall.pub?.getSenders().filter((s) => s.track?.readyState === 'live').length === 2);
    return person;
  }

  /** Runs exit() in p's page and checks what must have happened before the page changed.
   *  A listener that runs after the quick exit's own (bubble phase on window, for a click
   *  and for a key) writes the state of the old page's tracks to the console. */
  async function exitAndCheck(p, exit, watcher) {
    const { page } = p;
    await page.evaluate(() => {
      const tracks = window.tandemCall.pub.getSenders().map((s) => s.track).filter(Boolean);
      const report = () => console.log(`tracks at exit: ${JSON.stringify(tracks.map((t) => t.readyState))}`);
      window.addEventListener('click', report);
      window.addEventListener('keydown', report);
    });
    let tracksAtExit = null;
    const seen = new Promise((resolve) => {
      const onConsole = (msg) => {
        const m = /^tracks at exit: (.*)$/.exec(msg.text());
        if (!m) return;
        const states = JSON.parse(m[1]);
        if (states.includes('live') && tracksAtExit === null) return; // a key before the third
        tracksAtExit = states;
        page.off('console', onConsole);
        resolve();
      };
      page.on('console', onConsole);
    });
    const historyBefore = await page.evaluate(() => history.length);
    await exit();
    await Promise.race([seen, new Promise((_, reject) => setTimeout(() => reject(new Error('no report of the tracks')), WAIT_MS))]);
    await page.waitForURL('**/neutral.html');
    assert.deepEqual(tracksAtExit, ['ended', 'ended'], 'camera and microphone stop');
    assert.equal(await page.title(), 'Simple lentil soup');
    assert.equal(await page.evaluate(() => history.length), historyBefore, 'the room page was replaced, not added to');
    assert.equal(await page.$('[data-quick-exit]'), null, 'the neutral page does not look like Tandem');
    // the other person sees them go
    await watcher.page.waitForFunction((id) => !document.querySelector(`#participants .tile[data-participant-id="${id}"]`), p.id);
    // Back does not return to the room
    await page.goBack().catch(() => {});
    assert.ok(!page.url().includes(`/r/${ROOM}`), `Back shows ${page.url()}`);
  }

  test('the Quick exit button: media stops, the others see the person leave, a neutral page', { timeout: 120000 }, async () => {
    const amina = await join('Amina');
    const jan = await join('Jan');
    await jan.page.waitForFunction((id) => document.querySelector(`#participants .tile[data-participant-id="${id}"]`), amina.id);
    await exitAndCheck(amina, () => amina.page.getByRole('button', { name: 'Quick exit' }).click({ noWaitAfter: true }), jan);
    await amina.page.goto(`${server.url}/neutral.html`);
    await amina.page.screenshot({ path: path.join(ARTIFACTS, 'quick-exit-neutral.png') });
  });

  test('Shift three times leaves; Shift twice with a letter between does not', { timeout: 120000 }, async () => {
    const jan = people.find((p) => p.label === 'Jan');
    const omar = await join('Omar');
    await omar.page.locator('body').click({ position: { x: 5, y: 200 } });
    await omar.page.keyboard.press('Shift');
    await omar.page.keyboard.press('Shift');
    await omar.page.keyboard.press('a');
    await omar.page.keyboard.press('Shift');
    // past the one-second window: still in the room
    await omar.page.waitForTimeout(1200);
    assert.equal(new URL(omar.page.url()).pathname, `/r/${ROOM}`);
    assert.equal(await omar.page.locator('#room').isVisible(), true);
    // and typing a capital letter in the name box of a chat would not count either: Shift+A
    await omar.page.keyboard.press('Shift+A');
    await omar.page.keyboard.press('Shift+B');
    await omar.page.keyboard.press('Shift+C');
    assert.equal(new URL(omar.page.url()).pathname, `/r/${ROOM}`);
    await exitAndCheck(omar, async () => {
      for (let i = 0; i < 3; i += 1) await omar.page.keyboard.press('Shift', { noWaitAfter: true });
    }, jan);
  });

  test('the landing page and the not-found page have it too', { timeout: 60000 }, async () => {
    const { page } = people[0];
    for (const where of ['/', '/no-such-page']) {
      await page.goto(`${server.url}${where}`);
      await page.getByRole('button', { name: 'Quick exit' }).click({ noWaitAfter: true });
      await page.waitForURL('**/neutral.html');
    }
    for (const p of people) assert.deepEqual(p.errors, [], `${p.label}: page errors`);
  });

  test('pages.quick_exit_url: the exit goes there, and localStorage keeps nothing of Tandem', { timeout: 90000 }, async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'tandem-qe-'));
    const conf = path.join(dir, 'tandem.conf');
    // a page of this server stands for the NGO's chosen site (tests send nothing off the machine)
    writeFileSync(conf, '[pages]\nquick_exit_url = /neutral-fr.html?from=exit\n');
    const other = await startTandem({ listen: SERVER_ADDR, args: ['--config', conf, '--media-address', SERVER_ADDR, '--media-port-base', '0'] });
    try {
      const { page } = people[0];
      await page.goto(`${other.url}/`);
      await page.evaluate(() => {
        localStorage.setItem('tandem.remembered.name', 'Amina');
        localStorage.setItem('other.site', 'kept');
      });
      // the destination is known before the press (mode.json), so the exit does not wait
      await page.waitForFunction(() => performance.getEntriesByType('resource').some((e) => e.name.endsWith('/mode.json') && e.responseEnd > 0));
      await page.getByRole('button', { name: 'Quick exit' }).click({ noWaitAfter: true });
      await page.waitForURL('**/neutral-fr.html?from=exit');
      assert.equal(await page.evaluate(() => localStorage.getItem('tandem.remembered.name')), null);
      assert.equal(await page.evaluate(() => localStorage.getItem('other.site')), 'kept');
    } finally {
      const r = await other.stop();
      rmSync(dir, { recursive: true, force: true });
      assert.equal(r.code, 0, other.stderr);
    }
  });

  test('/safety.html: plain words in the page\'s language, linked from the pages, fits a phone', { timeout: 60000 }, async () => {
    const { page } = people[0];
    await page.setViewportSize({ width: 360, height: 640 });
    await page.goto(`${server.url}/r/${ROOM}`);
    const link = page.getByRole('link', { name: 'What stays on my device after a quick exit?' });
    assert.equal(await link.getAttribute('href'), '/safety.html');
    await page.goto(`${server.url}/safety.html`);
    await page.getByRole('heading', { name: 'After a quick exit' }).waitFor();
    await page.selectOption('#lang-select', 'fa');
    await page.getByRole('heading', { name: 'پس از خروج سریع' }).waitFor();
    assert.equal(await page.evaluate(() => document.documentElement.dir), 'rtl');
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), 'nothing scrolls sideways');
    await page.screenshot({ path: path.join(ARTIFACTS, 'safety-fa-360.png'), fullPage: true });
    await page.selectOption('#lang-select', 'en');
  });
}
