// End to end: a "works only once" link survives a reload. Chromium opens the room with a
// once-only link, joins, reloads and joins again (back in the room, with the person pass the
// page kept in sessionStorage); a second browser with the same link is told it was used.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTandem, mintInvite, stopCleanly, newLedgerPath } from '../lib/tandem.mjs';
import { launchChromium } from '../lib/browsers.mjs';

const WAIT_MS = 20000;
let server = null;
const browsers = [];
const pageErrors = [];

const ledger = newLedgerPath();
const start = (port = 0) => startTandem({ openRooms: false, args: ['--invite-ledger', ledger, '--port', String(port)] });
before(async () => { server = await start(); });
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

async function fillAndJoin(page, name) {
  await page.getByLabel('Your name').fill(name);
  await page.getByRole('button', { name: 'Join', exact: true }).click();
}

const inRoom = (page) => page.getByRole('heading', { name: 'In the room', exact: true }).waitFor();

test('a once-only link: reload and back in; a second browser is refused; a restart and back in', { timeout: 180000 }, async () => {
  const token = mintInvite({ room: 'e2e-pass-room', role: 'mentee', uses: 1 });
  const link = `${server.url}/r/e2e-pass-room#t=${token}`;
  const { page } = await browser('amina');
  await page.goto(link);
  await fillAndJoin(page, 'Amina');
  await inRoom(page);
  const kept = await page.evaluate(() => sessionStorage.getItem('tandem.pass.e2e-pass-room'));
  assert.ok(kept && JSON.parse(kept).pass, 'the pass is kept for this tab');
  assert.equal(await page.evaluate(() => localStorage.length), 0, 'nothing on the device without "remember me"');

  await page.reload();
  await fillAndJoin(page, 'Amina');
  await inRoom(page);

  // A second person with the forwarded link is told at once, before typing a name.
  const other = await browser('someone-else');
  await other.page.goto(link);
  await other.page.getByText('This link has already been used').waitFor();
  assert.equal(await other.page.getByLabel('Your name').isVisible(), false);

  // The server restarts (same key, ledger and address): the page comes back by itself.
  const tile = await page.evaluate(() => document.querySelector('#participants .tile-name')?.textContent);
  assert.equal(tile, 'Amina');
  const { port } = server;
  const r = await server.stop();
  assert.equal(r.code, 0, server.stderr);
  server = await start(port);
  await page.waitForFunction(() => document.getElementById('announcer')?.textContent
    .includes('You are back in the room'), null, { timeout: 40000 });
  assert.equal(await page.evaluate(() => document.body.dataset.phase), 'in-room');
  assert.match(server.stderr, /joined as mentee/);

  // A link cut short by a messenger app: said at once, in the page's language. (about:blank
  // between: a link that differs only after '#' would not load the page again.)
  await other.page.goto('about:blank');
  await other.page.goto(`${server.url}/r/e2e-pass-room#t=${token.slice(0, 60)}`);
  await other.page.getByText('This link is not complete: perhaps it was cut short').waitFor();
  await other.page.locator('#lang-select').selectOption('fr');
  await other.page.getByText('Ce lien n’est pas complet').waitFor();
  // An expired one, likewise.
  const old = mintInvite({ room: 'e2e-pass-room', role: 'mentee', expires: '1s' });
  await new Promise((r) => setTimeout(r, 2100)); // the token's own expiry
  await other.page.goto('about:blank');
  await other.page.goto(`${server.url}/r/e2e-pass-room#t=${old}`);
  await other.page.getByText('Ce lien est trop ancien').waitFor();
  assert.deepEqual(pageErrors, []);
});
