// End to end: the coordinator's controls in the real room page (web/js/moderation.mjs) with
// the server in its default mode, closed rooms: everyone comes in with an invite link minted
// by the real `tandem invite` command. Server and Debian Chromium (fake camera and
// microphone) run in a private network namespace so that the call is real. The coordinator
// turns off a mentee's microphone (the mentee's page says so and cannot turn it on again),
// locks the room (a newcomer reads the refusal in plain words), makes a one-use link in the
// page that a newcomer then joins with, opens the waiting room and lets someone in, takes
// the mentee out of the call (the page says so and does not reconnect), and ends the call
// for everyone. The landing page says where links come from. Screenshots of the controls
// go to tests/e2e/artifacts/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { insideNetns, runInNetns, setupNetns, SERVER_ADDR } from '../lib/netns.mjs';
import { startTandem, mintInvite, SOURCE_DIR } from '../lib/tandem.mjs';
import { launchChromium } from '../lib/browsers.mjs';

const ARTIFACTS = path.join(SOURCE_DIR, 'tests', 'e2e', 'artifacts');
const WAIT_MS = 30000;
const ROOM = 'mod-page-room';
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };

if (!insideNetns()) {
  test('the coordinator\'s controls in the room page (in a private network namespace)', { timeout: 400000 }, async () => {
    await runInNetns(import.meta.url, { timeoutMs: 380000 });
  });
} else {
  let server = null;
  const people = [];

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    setupNetns();
    server = await startTandem({ listen: SERVER_ADDR, openRooms: false, args: ['--media-address', SERVER_ADDR] });
  }, { timeout: 60000 });

  after(async () => {
    await Promise.all(people.map((p) => p.browser.close().catch(() => {})));
    const r = server ? await server.stop() : { code: 0 };
    assert.equal(r.code, 0, server?.stderr);
    assert.doesNotMatch(server?.stderr || '', /ERROR: (AddressSanitizer|LeakSanitizer)|runtime error/);
    for (const p of people) assert.deepEqual(p.errors, [], `${p.label}: page errors`);
  }, { timeout: 60000 });

  async function open(label, link) {
    const browser = await launchChromium(label);
    const { page } = browser;
    page.setDefaultTimeout(WAIT_MS);
    const person = { label, browser, page, errors: [] };
    people.push(person);
    page.on('pageerror', (err) => person.errors.push(err.message));
    await page.setViewportSize(DESKTOP);
    await page.goto(link);
    await page.getByLabel('Your name').fill(label);
    await page.getByRole('button', { name: 'Join', exact: true }).click();
    return person;
  }

  const linkFor = (role, uses = 0) => `${server.url}/r/${ROOM}#t=${mintInvite({ room: ROOM, role, uses })}`;
  const inRoom = (p) => p.page.getByRole('heading', { name: 'In the room', exact: true }).waitFor();
  const count = (p, n) => p.page.waitForFunction((k) => document.querySelectorAll('#participants .tile').length === k, n);

  test('mute, lock, a link made in the page, the waiting room, remove, end', { timeout: 300000 }, async () => {
    const cora = await open('Cora', linkFor('coordinator'));
    await inRoom(cora);
    const amina = await open('Amina', linkFor('mentee', 1));
    await inRoom(amina);
    await count(cora, 2);
    // the mentee has no Manage button; the coordinator has
    assert.equal(await amina.page.locator('#manage-button').isHidden(), true);
    await cora.page.getByRole('button', { name: 'Manage' }).click();
    const dialog = cora.page.getByRole('dialog', { name: 'Manage the call' });
    await dialog.waitFor();

    // microphone off, and not allowed back on
    await dialog.getByLabel('They may turn it on again themselves').uncheck();
    const aminaRow = dialog.locator('.mod-person', { hasText: 'Amina' });
    await aminaRow.getByRole('button', { name: 'Turn off microphone' }).click();
    await amina.page.getByText('A coordinator turned off your microphone.').waitFor();
    await amina.page.waitForFunction(() => document.getElementById('mic-button').dataset.on === 'false');
    assert.equal(await amina.page.getAttribute('#mic-button', 'aria-disabled'), 'true');
    await amina.page.locator('#mic-button').dispatchEvent('click'); // aria-disabled: Playwright would not click it
    await amina.page.getByText('A coordinator turned this off.', { exact: false }).waitFor();
    assert.equal(await amina.page.locator('#mic-button').getAttribute('data-on'), 'false');

    // lock: a newcomer with a good link reads why they cannot come in
    await dialog.getByLabel('Lock the room').check();
    await cora.page.waitForFunction(() => document.getElementById('mod-lock').checked);
    const omar = await open('Omar', linkFor('mentee'));
    await omar.page.getByText('The room is closed for newcomers right now.', { exact: false }).waitFor();
    // Unlock. The box keeps what the coordinator chose at once, before the server answers
    // (a redraw in between used to flip it back: a flake, and a confusing flicker).
    const shown = await cora.page.evaluate(() => {
      const box = document.getElementById('mod-lock');
      box.click();
      return box.checked;
    });
    assert.equal(shown, false, 'the lock box shows the choice at once');
    await cora.page.waitForFunction(() => !document.getElementById('mod-lock').checked);

    // a one-use link made in the page: Omar comes in with it
    await dialog.getByLabel('For a').selectOption('mentee');
    await dialog.getByLabel('Works for').selectOption('day');
    await dialog.getByRole('button', { name: 'Make a link' }).click();
    const made = dialog.locator('.mod-link').first();
    await made.waitFor();
    const link = await made.inputValue();
    assert.match(link, new RegExp(`^${server.url}/r/${ROOM}#t=[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]{43}$`));
    await dialog.getByText('Works once, until', { exact: false }).waitFor();
    await cora.page.setViewportSize(PHONE);
    await cora.page.screenshot({ path: path.join(ARTIFACTS, 'coordinator-controls-phone.png') });
    await cora.page.setViewportSize(DESKTOP);
    await cora.page.screenshot({ path: path.join(ARTIFACTS, 'coordinator-controls.png') });
    await omar.page.goto('about:blank');
    await omar.page.goto(link);
    await omar.page.getByLabel('Your name').fill('Omar');
    await omar.page.getByRole('button', { name: 'Join', exact: true }).click();
    await inRoom(omar);
    await count(cora, 3);

    // the waiting room: Lina waits until Cora lets her in
    await dialog.getByLabel('Waiting room').check();
    await cora.page.waitForFunction(() => document.getElementById('mod-lobby').checked);
    await dialog.getByRole('button', { name: 'Close' }).click();
    const lina = await open('Lina', linkFor('mentee'));
    await lina.page.getByText('Please wait a moment: someone in the room will let you in.').waitFor();
    await cora.page.getByText('Lina is waiting to come in.').waitFor();
    await cora.page.getByRole('button', { name: 'Let in' }).click();
    await inRoom(lina);
    await count(cora, 4);

    // Amina is taken out: her page says so and does not come back by itself
    await cora.page.getByRole('button', { name: 'Manage' }).click();
    await aminaRow.getByRole('button', { name: 'Take out of the call' }).click();
    await dialog.getByRole('button', { name: 'Yes, take Amina out' }).click();
    await amina.page.getByRole('heading', { name: 'You are no longer in the call' }).waitFor();
    assert.equal(await amina.page.locator('#rejoin-button').isHidden(), true);
    await count(cora, 3);
    // her link was for one use: she cannot walk back in with it, nor with the pass her page
    // kept; the page says so as soon as it opens, before the name
    await amina.page.reload();
    await amina.page.getByText('This link has already been used.', { exact: false }).waitFor();
    assert.equal(await amina.page.getByLabel('Your name').isVisible(), false);

    // Lina came with a link for many people: taken out with that link stopped, it does not
    // bring her back (and the coordinator is told the link is withdrawn)
    const linaRow = dialog.locator('.mod-person', { hasText: 'Lina' });
    await linaRow.getByRole('button', { name: 'Take out of the call' }).click();
    await dialog.getByLabel('Also stop the link they used', { exact: false }).check();
    await dialog.getByRole('button', { name: 'Yes, take Lina out' }).click();
    await lina.page.getByRole('heading', { name: 'You are no longer in the call' }).waitFor();
    await count(cora, 2);
    await lina.page.reload();
    await lina.page.getByText('This link was withdrawn.', { exact: false }).waitFor();

    // the end, for everyone
    await dialog.getByRole('button', { name: 'End the call for everyone' }).click();
    await dialog.getByRole('button', { name: 'Yes, end the call now' }).click();
    await omar.page.getByRole('heading', { name: 'The call has ended' }).waitFor();
  });

  test('the landing page of a server with closed rooms says where links come from', { timeout: 60000 }, async () => {
    const { page } = people[0];
    await page.goto(`${server.url}/`);
    await page.getByRole('heading', { name: 'Your conversation link' }).waitFor();
    assert.equal(await page.locator('#create-button').isVisible(), false, 'no room links that nobody could use');
    const mode = await page.evaluate(() => fetch('/mode.json').then((r) => r.json()));
    assert.deepEqual(mode, { rooms: 'closed', quick_exit: '' });
  });
}
