// The invite token travels in the link's fragment ("#t=<token>"), which browsers never send
// to the server in requests or Referer headers. The page hands it over in `join` only.
//
// A limited link ("works only once") is used up by its person's first join; the server then
// gives a person pass (welcome.pass) that brings the same person back in after a reload, a
// lost connection or a server restart without using the link again. The page keeps it for
// this tab (sessionStorage), and on the device (localStorage) only with "remember me".
import { storage } from './i18n.mjs';
import { defaultUrl, PROTOCOL } from './signaling.mjs';

const TOKEN_RE = /^[A-Za-z0-9_-]{1,200}\.[A-Za-z0-9_-]{43}$/;
const PASS_RE = /^[A-Za-z0-9_-]{1,210}\.[A-Za-z0-9_-]{43}$/;
const SESSION_PREFIX = 'tandem.pass.';
const DEVICE_PREFIX = 'tandem.remembered.pass.';

/** True when the link has a token that is not whole (a messenger app cut the link short, or
 *  only part of it was copied). */
export function inviteTokenCut() {
  const t = new URLSearchParams(location.hash.slice(1)).get('t');
  return t !== null && !TOKEN_RE.test(t);
}

/** The invite token from this page's link, or undefined when there is none. */
export function inviteToken() {
  const params = new URLSearchParams(location.hash.slice(1));
  const t = params.get('t');
  return t && TOKEN_RE.test(t) ? t : undefined;
}

// The link a pass belongs to is named by its token's signature: enough to tell links apart,
// and no key to the room by itself.
const linkOf = (token) => token?.split('.')[1] ?? '';

function read(store, key) {
  try {
    const v = JSON.parse(store?.getItem(key) ?? 'null');
    return v && typeof v.pass === 'string' && PASS_RE.test(v.pass) && typeof v.link === 'string' ? v : null;
  } catch {
    return null;
  }
}

/** The pass kept for room and this page's link, or undefined. A page opened without a
 *  token (the fragment lost) uses the pass of the room whatever link it came from. */
export function storedPass(room, token = inviteToken()) {
  const kept = read(storage('sessionStorage'), SESSION_PREFIX + room) ||
    read(storage('localStorage'), DEVICE_PREFIX + room);
  if (!kept || (token && kept.link !== linkOf(token))) return undefined;
  return kept.pass;
}

/** Keeps the pass of welcome for room; on the device too only when remember is true. */
export function keepPass(room, pass, { remember = false, token = inviteToken() } = {}) {
  if (typeof pass !== 'string' || !PASS_RE.test(pass)) return;
  const value = JSON.stringify({ link: linkOf(token), pass });
  try {
    storage('sessionStorage')?.setItem(SESSION_PREFIX + room, value);
    if (remember) storage('localStorage')?.setItem(DEVICE_PREFIX + room, value);
  } catch {
    // storage full or refused: the pass lasts as long as this page
  }
}

/** Forgets the pass of room (refused by the server: withdrawn or expired). */
export function dropPass(room) {
  storage('sessionStorage')?.removeItem(SESSION_PREFIX + room);
  storage('localStorage')?.removeItem(DEVICE_PREFIX + room);
}

const CHECK_TIMEOUT_MS = 10000;

/** Asks the server at once whether creds ({token} or {pass}) let into room (protocol.md
 *  invite.check), on a short connection of its own. Resolves with the answer (invite.ok or
 *  an error), or null when none came: then the page simply waits for the join's answer. */
export function checkLink(room, creds, { url = defaultUrl(), timeoutMs = CHECK_TIMEOUT_MS } = {}) {
  return new Promise((resolve) => {
    let ws;
    let settled = false;
    let timer = 0;
    const done = (answer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      try {
        ws?.close(1000);
      } catch {
        // already closing
      }
      resolve(answer);
    };
    try {
      ws = new WebSocket(url, PROTOCOL);
    } catch {
      done(null);
      return;
    }
    timer = setTimeout(() => done(null), timeoutMs);
    ws.addEventListener('open', () => ws.send(JSON.stringify({ type: 'invite.check', id: 1, room, ...creds })));
    ws.addEventListener('message', (ev) => {
      let msg = null;
      try {
        msg = JSON.parse(ev.data);
      } catch {
        return;
      }
      if (msg && msg.ref === 1) done(msg);
    });
    ws.addEventListener('close', () => done(null));
  });
}
