// A person on the real room page (web/room.html) in Debian Chromium, for the e2e tests that
// need the page's own behaviour (its guards, notices, the mix): joined through the form as a
// person would, with the page's console and errors kept for the test's messages.
import { launchChromium } from './browsers.mjs';

/** Opens `${base}/r/${room}`, types the name, presses Join and waits for the room; returns
 *  {label, browser, page, id, log, errors} (id: the participant id of its own tile). */
export async function joinRoomPage(base, room, label, { viewport = { width: 1280, height: 800 }, uiWaitMs = 30000 } = {}) {
  const browser = await launchChromium(label);
  const { page } = browser;
  const person = { label, browser, page, id: null, log: [], errors: [] };
  page.on('console', (msg) => person.log.push(`${msg.type()}: ${msg.text()}`));
  page.on('pageerror', (err) => {
    person.errors.push(err.message);
    person.log.push(`pageerror: ${err.message}`);
  });
  await page.setViewportSize(viewport);
  await page.goto(`${base}/r/${room}`);
  await page.getByLabel('Your name').fill(label);
  await page.getByRole('button', { name: 'Join', exact: true }).click();
  await page.getByRole('heading', { name: 'In the room', exact: true }).waitFor({ timeout: uiWaitMs });
  person.id = await page.$eval('#participants .tile[data-self="true"]', (li) => li.dataset.participantId);
  return person;
}
