// End to end: the mentoring aids in the real room page (web/js/aids.mjs), three people
// through the real server in its default mode (invite links), Debian Chromium with fake
// camera and microphone in a private network namespace:
// - raise hand: the mentee raises a hand, both others see it on her tile; the coordinator
//   lowers it for her; the mentor raises and lowers his own; a mentee cannot lower another's,
//   and bad cards and times are refused with the field named;
// - a conversation card put on the screens by the mentor shows on every page, also on the
//   page of someone who joins later, and goes when taken away;
// - the next call: the mentee proposes a time, the mentor says yes, both pages offer the
//   calendar file, which is downloaded and parsed back (VEVENT with DTSTART/DTEND of the
//   proposal);
// - the check-in after leaving: answered with "Some problems", the coordinator's console
//   counts it for the room (one answer per token: tests/unit/core/test_checkin.c).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { insideNetns, runInNetns, setupNetns, SERVER_ADDR } from '../lib/netns.mjs';
import { startTandem, mintInvite, newLedgerPath, inviteKeyPath, SOURCE_DIR, TANDEM_BIN } from '../lib/tandem.mjs';
import { launchChromium } from '../lib/browsers.mjs';
import { client, closeAllClients } from '../lib/wsclient.mjs';

const ARTIFACTS = path.join(SOURCE_DIR, 'tests', 'e2e', 'artifacts');
const WAIT_MS = 30000;
const ROOM = 'aids-room';
const PHONE = { width: 360, height: 640 };

if (!insideNetns()) {
  test('the mentoring aids in the room page (in a private network namespace)', { timeout: 400000 }, async () => {
    await runInNetns(import.meta.url, { timeoutMs: 380000 });
  });
} else {
  let server = null;
  const people = [];
  const ledger = newLedgerPath();

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    setupNetns();
    server = await startTandem({ listen: SERVER_ADDR, openRooms: false,
      args: ['--media-address', SERVER_ADDR, '--invite-ledger', ledger] });
  }, { timeout: 60000 });

  after(async () => {
    closeAllClients();
    await Promise.all(people.map((p) => p.browser.close().catch(() => {})));
    const r = server ? await server.stop() : { code: 0 };
    assert.equal(r.code, 0, server?.stderr);
    assert.doesNotMatch(server?.stderr || '', /ERROR: (AddressSanitizer|LeakSanitizer)|runtime error/);
    for (const p of people) assert.deepEqual(p.errors, [], `${p.label}: page errors`);
  }, { timeout: 60000 });

  const linkFor = (role) => `${server.url}/r/${ROOM}#t=${mintInvite({ room: ROOM, role })}`;

  async function open(label, role) {
    const browser = await launchChromium(label);
    const { page } = browser;
    page.setDefaultTimeout(WAIT_MS);
    const person = { label, browser, page, errors: [] };
    people.push(person);
    page.on('pageerror', (err) => person.errors.push(err.message));
    await page.setViewportSize(PHONE);
    await page.goto(linkFor(role));
    await page.getByLabel('Your name').fill(label);
    await page.getByRole('button', { name: 'Join', exact: true }).click();
    await page.getByRole('heading', { name: 'In the room', exact: true }).waitFor();
    person.id = await page.$eval('#participants .tile[data-self="true"]', (li) => li.dataset.participantId);
    return person;
  }

  const handOn = (p, id, raised) => p.page.waitForFunction(([pid, want]) => {
    const li = document.querySelector(`#participants .tile[data-participant-id="${pid}"]`);
    return li && (li.dataset.hand === 'true') === want && Boolean(li.querySelector('.tile-hand')) === want;
  }, [id, raised]);

  test('raise hand, a card on every screen, the next call, the check-in', { timeout: 300000 }, async () => {
    const cora = await open('Cora', 'coordinator');
    const amina = await open('Amina', 'mentee');
    const jan = await open('Jan', 'mentor');
    for (const p of [cora, amina, jan]) {
      await p.page.waitForFunction(() => document.querySelectorAll('#participants .tile').length === 3);
    }

    // raise hand: everyone sees it; the coordinator lowers it
    await amina.page.getByRole('button', { name: 'Raise hand' }).click();
    for (const p of [cora, amina, jan]) await handOn(p, amina.id, true);
    assert.equal(await amina.page.getByRole('button', { name: 'Lower hand' }).getAttribute('aria-pressed'), 'true');
    assert.equal(await jan.page.locator('.tile-hand button').count(), 0, 'a mentor cannot lower another\'s hand');
    await cora.page.screenshot({ path: path.join(ARTIFACTS, 'aids-hand-360.png') });
    await cora.page.getByRole('button', { name: /^Lower .?Amina.?’s hand$/ }).click();
    for (const p of [cora, amina, jan]) await handOn(p, amina.id, false);
    await jan.page.getByRole('button', { name: 'Raise hand' }).click();
    await handOn(amina, jan.id, true);
    await jan.page.getByRole('button', { name: 'Lower hand' }).click();
    await handOn(amina, jan.id, false);
    // a mentee may not lower someone else's hand: the server says no
    await cora.page.getByRole('button', { name: 'Raise hand' }).click();
    await handOn(amina, cora.id, true);
    const sock = await client(wsUrl());
    sock.send({ type: 'join', id: 1, room: ROOM, name: 'Sam', role: 'mentee', token: mintInvite({ room: ROOM, role: 'mentee' }) });
    await sock.next('welcome');
    sock.send({ type: 'hand.lower', id: 2, participant: cora.id });
    assert.equal((await sock.next('error')).code, 'forbidden');
    sock.send({ type: 'card.show', id: 3, card: '../x' });
    assert.equal((await sock.next('error')).field, 'card');
    sock.send({ type: 'plan.propose', id: 4, at: 1, minutes: 30 });
    assert.equal((await sock.next('error')).field, 'at');
    sock.send({ type: 'leave', id: 5 });
    sock.ws.close();
    await handOn(jan, cora.id, true);

    // a card for every screen
    await jan.page.getByRole('button', { name: 'Ideas' }).click();
    const dialog = jan.page.getByRole('dialog', { name: 'Ideas for your call' });
    await dialog.waitFor();
    await dialog.locator('[data-card="show-tell"]').click();
    for (const p of [cora, amina, jan]) {
      await p.page.locator('#card-area[data-card="show-tell"]').waitFor();
      await p.page.getByRole('heading', { name: 'Show and tell' }).waitFor();
    }
    await amina.page.getByText(/^.?Jan.? shows this card to everyone$/).waitFor();
    await jan.page.getByText('You show this card to everyone').waitFor();
    await amina.page.screenshot({ path: path.join(ARTIFACTS, 'aids-card-360.png') });

    // the next call: Amina proposes, Jan says yes, both can save it
    await amina.page.getByRole('button', { name: 'Ideas' }).click();
    const when = new Date(Date.now() + 3 * 86400000);
    when.setHours(15, 30, 0, 0);
    const local = new Date(when.getTime() - when.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
    await amina.page.getByLabel('Day and time').fill(local);
    await amina.page.getByLabel('How long').selectOption('45');
    await amina.page.getByRole('button', { name: 'Propose this time' }).click();
    await amina.page.locator('.plan[data-state="open"]').getByText('Waiting for an answer').waitFor();
    await jan.page.locator('.plan[data-state="open"]').getByText(/^.?Amina.? proposes the next call/).waitFor();
    await jan.page.getByRole('button', { name: 'Yes, that works' }).click();
    for (const p of [amina, jan]) await p.page.locator('.plan[data-state="agreed"]').waitFor();
    const [download] = await Promise.all([
      amina.page.waitForEvent('download'),
      amina.page.getByRole('button', { name: 'Add to my calendar' }).click(),
    ]);
    const ics = readFileSync(await download.path(), 'utf8');
    assert.match(ics, /^BEGIN:VCALENDAR\r\n/);
    const field = (name) => new RegExp(`\\r\\n${name}:([^\\r]*)\\r\\n`).exec(ics)?.[1];
    const atS = Math.floor(when.getTime() / 1000);
    const utc = (s) => new Date(s * 1000).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
    assert.equal(field('DTSTART'), utc(atS));
    assert.equal(field('DTEND'), utc(atS + 45 * 60));
    assert.equal(field('SUMMARY'), 'Tandem call');
    assert.ok(!ics.includes('Amina') && !ics.includes('#t='), 'no names and no invite token in the file');
    assert.equal((ics.match(/BEGIN:VEVENT/g) || []).length, 1);

    // a late joiner sees the card that is on the screens
    const omar = await open('Omar', 'mentee');
    await omar.page.locator('#card-area[data-card="show-tell"]').waitFor();
    await jan.page.getByRole('button', { name: 'Take the card away' }).click();
    for (const p of [cora, amina, jan, omar]) await p.page.locator('#card-area').waitFor({ state: 'hidden' });

    // the check-in after leaving
    await amina.page.getByRole('button', { name: 'Leave' }).click();
    await amina.page.getByRole('heading', { name: 'Did the call work well for you?' }).waitFor();
    await amina.page.screenshot({ path: path.join(ARTIFACTS, 'aids-checkin-360.png') });
    await amina.page.getByRole('button', { name: 'Some problems' }).click();
    await amina.page.getByText('Thank you for your answer.').waitFor();
    // counted for the room: the coordinator's console sees the count (and nothing else)
    const counts = await consoleCounts(ROOM);
    // poor: weak moments (media.quality), a count that depends on the machine's load here
    const { poor, ...answers } = counts.checkins?.[ROOM] ?? {};
    assert.deepEqual(answers, { fine: 0, some: 1, many: 0 });
    assert.ok(Number.isInteger(poor) && poor >= 0, `the weak-moment count: ${poor}`);
  });

  function wsUrl() {
    return `${server.url.replace(/^https/, 'wss')}/ws`;
  }

  /** console.rooms through a console link made by the real `tandem console-link`. */
  async function consoleCounts(room) {
    const link = execFileSync(TANDEM_BIN, ['console-link', '--invite-key', inviteKeyPath(),
      '--invite-ledger', ledger, '--public-url', server.url], { encoding: 'utf8' }).trim();
    const ws = await client(wsUrl());
    try {
      ws.send({ type: 'console.hello', id: 1, token: link.split('#c=')[1] });
      await ws.next('console.ready');
      ws.send({ type: 'console.rooms', id: 2, rooms: [room] });
      return await ws.next('console.rooms');
    } finally {
      ws.ws.close();
    }
  }
}
