// End to end: Join pressed on a slow link, before the room page's scripts and translations have
// arrived (Debian's Chromium, the real server and pages). The page's own files are held back
// in the browser (/js/ and /i18n/ by 1.5 s each, so a module and each of its imports wait),
// and Join is pressed the moment the name field shows, with Enter and with a click. Wanted:
// the form is never submitted by the browser (no request or address with ?name=, which would
// put the name in the request line and the history); the button said it was not ready, or the
// join followed. With only the translations slow, a Join pressed once the form is wired
// joins by itself when the page is ready.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTandem, stopCleanly } from '../lib/tandem.mjs';
import { launchChromium } from '../lib/browsers.mjs';

const DELAY_MS = 1500;
const WAIT_MS = 20000; // bound on every wait for the page

let server = null;
let browser = null;

before(async () => {
  server = await startTandem();
  browser = await launchChromium('slow');
}, { timeout: 90000 });

after(async () => {
  if (browser) await browser.close();
  if (server) await server.stop();
}, { timeout: 60000 });

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A fresh page whose requests matching `slow` are held back DELAY_MS (or until `hold`
 *  resolves); it records every URL the page requests or navigates to, and its script errors. */
async function slowPage(slow, hold = null) {
  const page = await browser.page.context().newPage();
  page.setDefaultTimeout(WAIT_MS);
  const seen = { urls: [], errors: [] };
  page.on('request', (r) => seen.urls.push(r.url()));
  page.on('framenavigated', (f) => { if (f === page.mainFrame()) seen.urls.push(f.url()); });
  page.on('pageerror', (e) => seen.errors.push(e.message));
  await page.route(slow, async (route) => {
    await (hold || sleep(DELAY_MS));
    try {
      await route.continue();
    } catch {
      // the page went away meanwhile
    }
  });
  return { page, seen };
}

/** What the Join button says and whether it takes a join, right now. */
function button(page) {
  return page.locator('#join-button').evaluate((b) => ({
    text: b.textContent.trim(), disabled: b.disabled, ariaDisabled: b.getAttribute('aria-disabled'),
  }));
}

const notReady = (b) => (b.disabled || b.ariaDisabled === 'true') && b.text !== 'Join';

function assertNoFormInUrl(seen, page) {
  const leaked = seen.urls.filter((u) => /[?&](name|role|voice-only|remember)=/.test(u));
  assert.deepEqual(leaked, [], 'the browser submitted the join form itself');
  assert.equal(new URL(page.url()).search, '', 'a query in the address');
}

/** Waits (bounded) until the page is in the room, or its Join button is ready; says which. */
async function joinedOrReady(page) {
  const inRoom = page.getByRole('heading', { name: 'In the room', exact: true });
  const ready = page.locator('#join-button:not([disabled])[aria-disabled="false"]');
  await inRoom.or(ready).first().waitFor();
  return (await inRoom.isVisible()) ? 'joined' : 'ready';
}

for (const how of ['Enter', 'click']) {
  test(`Join pressed (${how}) while the page loads slowly: never a native submission`, { timeout: 120000 }, async (t) => {
    const { page, seen } = await slowPage(/\/(js|i18n)\//);
    try {
      await page.goto(`${server.url}/r/slow-join-${how}`, { waitUntil: 'commit' });
      const name = page.locator('#name');
      await name.waitFor({ state: 'visible' });
      await name.fill('Amina');
      const pressedOn = await button(page);
      if (how === 'Enter') await name.press('Enter', { noWaitAfter: true });
      else await page.locator('#join-button').click({ force: true, noWaitAfter: true });
      const outcome = await joinedOrReady(page);
      t.diagnostic(`pressed on ${JSON.stringify(pressedOn)}: ${outcome === 'joined' ? 'joined' : 'not taken, the button became ready'}`);
      assertNoFormInUrl(seen, page);
      if (outcome === 'ready') {
        // The press was lost, which is fine only if the button said so when it was pressed.
        assert.ok(notReady(pressedOn), `a Join on a ready-looking button did nothing: ${JSON.stringify(pressedOn)}`);
        assert.equal(await name.inputValue(), 'Amina', 'the name typed early is still there');
        await page.getByRole('button', { name: 'Join', exact: true }).click();
        await page.getByRole('heading', { name: 'In the room', exact: true }).waitFor();
      }
      assertNoFormInUrl(seen, page);
      assert.deepEqual(seen.errors, [], 'script errors on the page');
    } finally {
      await page.close();
    }
  });
}

test('Join pressed while only the translations are on their way: the join follows by itself', { timeout: 120000 }, async () => {
  let release;
  const held = new Promise((r) => { release = r; }); // the translations come when the test says
  const { page, seen } = await slowPage(/\/i18n\//, held);
  try {
    await page.goto(`${server.url}/r/slow-join-i18n`, { waitUntil: 'commit' });
    await page.locator('#name').fill('Jan');
    // Wired (no longer disabled as in the HTML) but still getting ready.
    await page.locator('#join-button:not([disabled])[aria-disabled="true"]').waitFor();
    const pressedOn = await button(page);
    await page.locator('#join-button').click({ force: true });
    release();
    assert.ok(notReady(pressedOn), `the button does not say it is getting ready: ${JSON.stringify(pressedOn)}`);
    assert.equal(pressedOn.text, 'Getting ready…');
    await page.getByRole('heading', { name: 'In the room', exact: true }).waitFor();
    assertNoFormInUrl(seen, page);
    assert.deepEqual(seen.errors, [], 'script errors on the page');
  } finally {
    release();
    await page.close();
  }
});

test('a query left on a room link (by an older page) leaves the address and the history', { timeout: 30000 }, async () => {
  const page = await browser.page.context().newPage();
  try {
    await page.goto(`${server.url}/r/slow-join-query?name=Amina&role=mentee#t=abc`);
    await page.waitForFunction(() => window.location.search === '');
    assert.equal(new URL(page.url()).hash, '#t=abc', 'the invite token stays');
  } finally {
    await page.close();
  }
});

test('the server is stopped cleanly', { timeout: 30000 }, async (t) => {
  const s = server;
  server = null;
  await stopCleanly(t, s);
});
