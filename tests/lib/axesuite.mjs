// The axe-core check of every page a person sees (tests/e2e/axe*.test.mjs): axe-core (the npm
// package, injected by the test only; Tandem never serves it) runs the WCAG 2.1 A and AA
// rules on the landing page, the join page of a room, the room in a call with another person
// (fake camera, both tiles), the chat open, the "Ideas" dialog open, a coordinator's "Manage
// the call" dialog, the "you have left" screen with the check-in, the coordinator's console
// with a room and a link, the safety page, the not-found page and where Quick exit goes; in
// the given languages, screen sizes and colour schemes. Real server and SFU in a private
// network namespace, Debian's Chromium. It prints the number of violations of every page and
// fails listing each one (rule, impact, the first elements it found).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { insideNetns, runInNetns, setupNetns, SERVER_ADDR } from './netns.mjs';
import { startTandem, mintInvite, newLedgerPath, inviteKeyPath, SOURCE_DIR, TANDEM_BIN } from './tandem.mjs';
import { launchChromium } from './browsers.mjs';

const AXE = path.join(SOURCE_DIR, 'node_modules', 'axe-core', 'axe.min.js');
const AXE_SOURCE = readFileSync(AXE, 'utf8');
const WCAG21_AA = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];
const RTL = ['ar', 'fa'];
const WAIT_MS = 30000; // bound on every wait on a page
const MEDIA_WAIT_MS = 45000;
const ROOM = 'axe-room';

/** Runs axe-core on the page as it is now; returns its violations, shortened. */
async function axeViolations(page) {
  // (not page.addScriptTag: the pages' Content-Security-Policy refuses inline scripts, as it
  // should; DevTools' evaluate is not bound by it)
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) await page.evaluate(AXE_SOURCE);
  return page.evaluate(async (tags) => {
    const r = await window.axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, count: v.nodes.length,
      targets: v.nodes.slice(0, 3).map((n) => n.target.join(' ')),
      why: v.nodes[0]?.failureSummary?.split('\n').slice(0, 2).join(' ') || '' }));
  }, WCAG21_AA);
}

async function chooseLanguage(page, lang) {
  await page.locator('#lang-select').selectOption(lang);
  const dir = RTL.includes(lang) ? 'rtl' : 'ltr';
  await page.waitForFunction(([l, d]) => document.documentElement.lang === l &&
    document.documentElement.dir === d, [lang, dir], { timeout: WAIT_MS });
}

/** The suite, for the test file at metaUrl: langs (the first is English or another left to
 *  right one), sizes [{width, height}], schemes ('light', 'dark': the pages follow the
 *  device's, app.css). */
export function axeSuite(metaUrl, { langs: LANGS, sizes: SIZES, schemes: SCHEMES }) {
if (!insideNetns()) {
  test('axe-core finds no WCAG 2.1 AA violation on any page (in a private network namespace)', { timeout: 580000 }, async () => {
    await runInNetns(metaUrl, { timeoutMs: 560000 });
  });
} else {
  let server = null;
  const browsers = [];
  const errors = [];
  const ledger = newLedgerPath();
  const results = []; // {page, lang, size, violations}

  before(async () => {
    setupNetns();
    server = await startTandem({ listen: SERVER_ADDR, openRooms: false,
      args: ['--media-address', SERVER_ADDR, '--invite-ledger', ledger] });
  }, { timeout: 60000 });

  after(async () => {
    await Promise.all(browsers.map((b) => b.close().catch(() => {})));
    if (server) await server.stop();
  }, { timeout: 60000 });

  async function open(label) {
    const b = await launchChromium(label);
    browsers.push(b);
    b.page.setDefaultTimeout(WAIT_MS);
    b.page.on('pageerror', (err) => errors.push(`${label}: ${err.message}`));
    return b.page;
  }

  /** axe on the page at both sizes, light and dark, in its current language; the results
   *  are kept. */
  async function check(page, name, lang) {
    for (const size of SIZES) {
      await page.setViewportSize(size);
      for (const scheme of SCHEMES) {
        await page.emulateMedia({ colorScheme: scheme });
        const violations = await axeViolations(page);
        results.push({ name, lang, size: `${size.width}x${size.height}`, scheme, violations });
      }
    }
    await page.emulateMedia({ colorScheme: 'light' });
  }

  const linkFor = (role) => `${server.url}/r/${ROOM}#t=${mintInvite({ room: ROOM, role })}`;

  test(`every page, in ${LANGS.join(', ')}, at ${SIZES.map((s) => `${s.width}x${s.height}`).join(' and ')}`, { timeout: 480000 }, async () => {
    const page = await open('amina');

    for (const lang of LANGS) {
      for (const [name, where] of [['landing', '/'], ['safety', '/safety.html'], ['not-found', '/no-such-page']]) {
        await page.goto(`${server.url}${where}`);
        await chooseLanguage(page, lang);
        await check(page, name, lang);
      }
      // where Quick exit goes (a page in the page's language: web/js/quickexit.mjs)
      await page.goto(`${server.url}/${lang === 'en' ? 'neutral.html' : `neutral-${lang}.html`}`);
      assert.equal(await page.evaluate(() => document.documentElement.lang), lang);
      await check(page, 'quick-exit', lang);
    }

    // The coordinator's console, with a room and a link in it.
    const consoleUrl = execFileSync(TANDEM_BIN, ['console-link', '--invite-key', inviteKeyPath(),
      '--invite-ledger', ledger, '--public-url', server.url], { encoding: 'utf8' }).trim();
    await page.goto(consoleUrl);
    await page.locator('#new-room-card').waitFor(); // (shown once the console is ready)
    await page.locator('#room-name').fill('Amira and Jo');
    await page.locator('#make-room').click();
    const room = page.locator('#room-list > li').first();
    await room.waitFor();
    await room.locator('button[type="submit"]').click();
    await room.locator('.link').first().waitFor();
    for (const lang of LANGS) {
      await chooseLanguage(page, lang);
      await check(page, 'console', lang);
    }

    // Someone else in the call, so that there are two tiles with video: a coordinator, whose
    // "Manage the call" dialog is checked too.
    const other = await open('jan');
    await other.goto(linkFor('coordinator'));
    await other.locator('#name').fill('Jan');
    await other.locator('#join-button').click();
    await other.locator('#room-title').waitFor();

    const link = linkFor('mentee');
    try {
      await callPages(page, other, link);
    } finally {
      report();
    }
    assert.equal(results.length, 11 * LANGS.length * SIZES.length * SCHEMES.length, 'every page was checked');
    assert.deepEqual(violationLines(), [], 'axe-core violations');
    assert.deepEqual(errors, [], 'errors on the pages');
  });

  /** The join page, the call, its chat and dialogs, the page after leaving, in each language. */
  async function callPages(page, other, link) {
    for (const lang of LANGS) {
      await page.goto('about:blank');
      await page.goto(link);
      await chooseLanguage(page, lang);
      await page.locator('#join-button:not([disabled])').waitFor();
      await check(page, 'join', lang);

      await page.locator('#name').fill(lang === 'ar' ? 'أمينة' : 'Amina');
      await page.locator('#join-button').click();
      await page.locator('#room-title').waitFor();
      await page.waitForFunction(() => window.tandemCall?.status === 'connected' &&
        window.tandemCall.participantsWithMedia().length === 1, null, { timeout: MEDIA_WAIT_MS });
      await check(page, 'room', lang);

      await page.locator('#chat-button').click();
      await page.locator('#side-panel').waitFor();
      await check(page, 'room+chat', lang);
      await page.locator('#chat-close').click();
      await page.locator('#side-panel').waitFor({ state: 'hidden' });

      await page.locator('#ideas-button').click();
      await page.locator('#ideas-dialog[open]').waitFor();
      await check(page, 'room+ideas', lang);
      await page.locator('#ideas-close').click();
      await page.locator('#ideas-dialog').waitFor({ state: 'hidden' });

      await chooseLanguage(other, lang);
      await other.locator('#manage-button').click();
      await other.locator('#manage-dialog[open] #mod-people li').first().waitFor();
      await check(other, 'room+manage', lang);
      await other.locator('#manage-close').click();
      await other.locator('#manage-dialog').waitFor({ state: 'hidden' });

      await page.locator('#leave-button').click();
      await page.locator('#checkin:not([hidden]) h2').waitFor();
      await check(page, 'left+check-in', lang);
    }
  }

  /** The number of violations of every page checked. */
  function report() {
    for (const r of results) {
      const n = r.violations.reduce((sum, v) => sum + v.count, 0);
      console.log(`axe: ${r.name.padEnd(14)} ${r.lang} ${r.size.padEnd(9)} ${r.scheme.padEnd(5)} ${n} violation(s)` +
        (n ? ` (${r.violations.map((v) => v.id).join(', ')})` : ''));
    }
  }

  /** Every violation: page, rule, impact, the first elements, what to fix. */
  function violationLines() {
    return results.flatMap((r) => r.violations.map((v) =>
      `${r.name} ${r.lang} ${r.size} ${r.scheme}: ${v.id} (${v.impact}, ${v.count}x) at ${v.targets.join(' | ')}: ${v.why}`));
  }
}
}
