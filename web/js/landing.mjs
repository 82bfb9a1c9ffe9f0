// The landing page. With open rooms (development) a coordinator makes a new room link here;
// with closed rooms (the default) it says where links come from. The room id is made here, in the
// browser, from 128 random bits (unguessable; the server creates the room at the first join).
import { initI18n, mountLanguagePicker, onLanguageChange, t } from './i18n.mjs';
import { serverMode } from './mode.mjs';

const $ = (id) => document.getElementById(id);

/** base64url without padding (RFC 4648 section 5). */
export function base64url(bytes) {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** 16 random bytes as 22 characters of [A-Za-z0-9_-]. */
export function newRoomId() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return base64url(bytes);
}

let lastSaid = null;

function say(key) {
  lastSaid = key;
  // Replace the node, so that the same sentence twice is spoken twice.
  const p = document.createElement('span');
  p.textContent = t(key);
  $('landing-status').replaceChildren(p);
}

function createLink() {
  const link = `${window.location.origin}/r/${newRoomId()}`;
  $('room-link').textContent = link;
  $('go-link').href = link;
  $('link-box').hidden = false;
  say('landing.ready');
}

/** Copy with the Clipboard API; where it is refused, select the link for the person. */
async function copyLink() {
  const el = $('room-link');
  const text = el.textContent;
  try {
    await navigator.clipboard.writeText(text);
    say('landing.copied');
    return;
  } catch {
    // not allowed here (older browser, no permission): fall through
  }
  const range = document.createRange();
  range.selectNodeContents(el);
  const sel = window.getSelection();
  sel.removeAllRanges();
  sel.addRange(range);
  let copied = false;
  try {
    copied = document.execCommand('copy');
  } catch {
    copied = false;
  }
  say(copied ? 'landing.copied' : 'landing.copySelected');
}

/** Whether this server lets anyone with a room link in ({"rooms": "open"}, development) or
 *  needs invite links (the default). When the server cannot say, the page assumes closed:
 *  a "create a room" button that makes links nobody can use would only confuse. */
async function roomsAreOpen() {
  return (await serverMode()).rooms === 'open';
}

// The page has no form; its buttons are wired before anything is awaited, and stay hidden
// (index.html) until the page knows which of them this server offers.
async function main() {
  $('create-button').addEventListener('click', createLink);
  $('copy-button').addEventListener('click', copyLink);
  onLanguageChange(() => {
    if (lastSaid) $('landing-status').firstChild.textContent = t(lastSaid);
  });
  const [open] = await Promise.all([roomsAreOpen(), initI18n()]);
  $('create-box').hidden = !open;
  $('steps').hidden = !open;
  $('closed-info').hidden = open;
  mountLanguagePicker($('lang-select'));
}

main();
