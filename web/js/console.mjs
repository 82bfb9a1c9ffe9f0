// The coordinator console (/console#c=<console token>; docs/protocol.md, "Console").
// The token is taken from the fragment, which is then removed from the address bar; it is
// kept for this tab (sessionStorage), and on this device only with "Remember me".
// Room names never leave this browser: the server makes rooms as random ids, and this page
// keeps the name next to each id (localStorage, exported to and imported from a file). The
// links this page made are kept next to their room too; the server says which are still
// valid (console.links) and how many people are in each room now (console.rooms).
import { initI18n, mountLanguagePicker, onLanguageChange, t, currentLanguage, applyTranslations, storage }
  from './i18n.mjs';
import { Signaling } from './signaling.mjs';

const $ = (id) => document.getElementById(id);
const TOKEN_KEY = 'tandem.console.token';
const DATA_KEY = 'tandem.console.rooms';
const ROOM_ID = /^[A-Za-z0-9_-]{3,64}$/;
const LINK_ID = /^[A-Za-z0-9_-]{22}$/;
const NAME_MAX = 80;
const COUNTS_EVERY_MS = 10000;
const ROLE_KEYS = { mentee: 'desk.roleMentee', mentor: 'desk.roleMentor', coordinator: 'desk.roleCoordinator' };

const state = {
  token: null,
  ready: false, // console.ready came: the forms may act
  dead: false, // the console link was refused: nothing more to try
  links: [], // console.links: every valid link
  counts: {}, // room id -> people now
  checkins: {}, // room id -> {fine, some, many}: answers after calls
  said: null, // the last status key and params, to say again in a new language
  drawn: '', // what the last refresh drew
};
const pending = new Map(); // message id -> resolve
let sig = null;

/* ---- storage ---- */

/** The console token: from the fragment (then removed), else this tab's, else this device's. */
function takeToken() {
  const session = storage('sessionStorage');
  const local = storage('localStorage');
  const m = /^#c=([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)$/.exec(window.location.hash);
  if (window.location.hash) history.replaceState(null, '', window.location.pathname);
  if (m) {
    session?.setItem(TOKEN_KEY, m[1]);
    if (local?.getItem(TOKEN_KEY)) local.setItem(TOKEN_KEY, m[1]);
    return m[1];
  }
  return session?.getItem(TOKEN_KEY) || local?.getItem(TOKEN_KEY) || null;
}

function loadData() {
  try {
    const d = JSON.parse(storage('localStorage')?.getItem(DATA_KEY) || 'null');
    return clean(d) || { rooms: [], links: {} };
  } catch {
    return { rooms: [], links: {} };
  }
}

/** What a file or the storage holds, kept only where it has the expected shape. */
function clean(d) {
  if (!d || typeof d !== 'object' || !Array.isArray(d.rooms)) return null;
  const rooms = d.rooms.filter((r) => r && typeof r.id === 'string' && ROOM_ID.test(r.id) &&
    typeof r.name === 'string' && r.name.trim() && r.name.length <= NAME_MAX)
    .map((r) => ({ id: r.id, name: r.name.trim() }));
  const links = {};
  for (const [id, l] of Object.entries(d.links && typeof d.links === 'object' ? d.links : {})) {
    if (LINK_ID.test(id) && l && typeof l.room === 'string' && ROOM_ID.test(l.room) &&
        typeof l.url === 'string' && l.url.length < 600) links[id] = { room: l.room, url: l.url };
  }
  return { rooms, links };
}

let data = loadData();
function saveData() {
  storage('localStorage')?.setItem(DATA_KEY, JSON.stringify(data));
}

/* ---- talking to the server ---- */

function ask(msg) {
  return new Promise((resolve) => {
    const id = sig?.send(msg);
    if (id === null || id === undefined) {
      resolve({ type: 'error', code: 'not_connected' });
      return;
    }
    pending.set(id, resolve);
  });
}

function onMessage(msg) {
  if (msg.type === 'console.ready') {
    state.ready = true;
    $('new-room').setAttribute('aria-busy', 'false');
    say('desk.ready');
    refresh();
    return;
  }
  if (msg.ref !== undefined && pending.has(msg.ref)) {
    const resolve = pending.get(msg.ref);
    pending.delete(msg.ref);
    if (msg.type === 'error' && /^console_/.test(msg.code)) refused(msg.code);
    resolve(msg);
    return;
  }
  if (msg.type === 'error' && /^console_/.test(msg.code)) refused(msg.code);
}

/** The console link does not (or no longer) work: say why and stop. */
function refused(code) {
  state.ready = false;
  state.dead = true;
  storage('sessionStorage')?.removeItem(TOKEN_KEY);
  storage('localStorage')?.removeItem(TOKEN_KEY);
  if (code === 'console_expired') say('desk.expired');
  else if (code === 'console_revoked') say('desk.revoked');
  else say('desk.invalid');
  sig?.close();
  render();
}

function connect() {
  sig = new Signaling();
  sig.addEventListener('open', () => {
    const id = sig.send({ type: 'console.hello', token: state.token });
    pending.set(id, (m) => {
      if (m.type === 'error' && !/^console_/.test(m.code)) refused('console_invalid');
    });
  });
  sig.addEventListener('message', (ev) => onMessage(ev.detail.msg));
  sig.addEventListener('lost', () => {
    state.ready = false;
    for (const resolve of pending.values()) resolve({ type: 'error', code: 'not_connected' });
    pending.clear();
    if (!state.dead) say('desk.lost');
  });
  sig.addEventListener('gaveup', () => say('desk.lost'));
  sig.connect();
}

/** Asks for the valid links and the people in each room; then draws. */
async function refresh() {
  if (!state.ready) return;
  const [links, rooms] = await Promise.all([
    ask({ type: 'console.links' }),
    ask({ type: 'console.rooms', rooms: data.rooms.map((r) => r.id).slice(0, 500) }),
  ]);
  if (links.type === 'console.links') {
    state.links = links.links;
    // a link of ours that is no longer valid is forgotten (expired, withdrawn, used up)
    const valid = new Set(state.links.map((l) => l.invite_id));
    for (const id of Object.keys(data.links)) if (!valid.has(id)) delete data.links[id];
    saveData();
  }
  if (rooms.type === 'console.rooms') {
    state.counts = rooms.counts;
    state.checkins = rooms.checkins && typeof rooms.checkins === 'object' ? rooms.checkins : {};
  }
  // the periodic refresh draws only what changed: a redraw would close an open list or
  // move the keyboard focus under the coordinator's hands
  const drawn = JSON.stringify([state.links, state.counts, state.checkins, data]);
  if (drawn === state.drawn) return;
  state.drawn = drawn;
  render();
}

/* ---- drawing ---- */

function say(key, params = {}) {
  state.said = { key, params };
  $('desk-state').textContent = t(key, params);
}

function when(seconds) {
  return new Intl.DateTimeFormat(currentLanguage(), { dateStyle: 'medium', timeStyle: 'short' })
    .format(new Date(seconds * 1000));
}

function linkText(l) {
  const left = l.uses ? t('desk.usesLeft', { count: l.uses - l.used }) : t('desk.usesUnlimited');
  return t('desk.linkWhat', { role: t(ROLE_KEYS[l.role] || 'desk.roleMentee'), until: when(l.expires_s), left });
}

function linkItem(l, url) {
  const li = $('link-tpl').content.firstElementChild.cloneNode(true);
  applyTranslations(li);
  li.dataset.id = l.invite_id;
  li.querySelector('.link-what').textContent = linkText(l);
  const urlEl = li.querySelector('.link-url');
  if (url) urlEl.textContent = url;
  else urlEl.remove();
  for (const sel of ['.copy', '.qr', '.share']) if (!url) li.querySelector(sel).remove();
  if (url) {
    li.querySelector('.copy').addEventListener('click', () => copy(url, urlEl));
    li.querySelector('.qr').addEventListener('click', () => showQr(url, linkText(l)));
    const share = li.querySelector('.share');
    if (typeof navigator.share === 'function') {
      share.hidden = false;
      share.addEventListener('click', () => navigator.share({ url }).catch(() => {}));
    }
  }
  li.querySelector('.withdraw').addEventListener('click', () => withdraw(l));
  return li;
}

function render() {
  const live = state.ready;
  $('new-room-card').hidden = !live;
  $('rooms').hidden = !live;
  const list = $('room-list');
  // where the focus was, to put it back on the same control after the redraw
  const active = document.activeElement;
  const focusedRoom = active?.closest?.('.room')?.dataset.room;
  const focusedLink = active?.closest?.('.link')?.dataset.id;
  const focusedControl = active?.name || active?.className;
  const kept = new Map(); // keep each room's form choices across a redraw
  for (const li of list.children) kept.set(li.dataset.room, li.querySelector('.link-form'));
  list.replaceChildren();
  $('no-rooms').hidden = data.rooms.length > 0;
  const byRoom = new Map();
  const others = [];
  for (const l of state.links) {
    const mine = data.links[l.invite_id];
    const room = mine && data.rooms.some((r) => r.id === mine.room) ? mine.room : null;
    if (room) {
      if (!byRoom.has(room)) byRoom.set(room, []);
      byRoom.get(room).push(l);
    } else {
      others.push(l);
    }
  }
  for (const r of data.rooms) {
    const li = $('room-tpl').content.firstElementChild.cloneNode(true);
    applyTranslations(li);
    li.dataset.room = r.id;
    li.querySelector('.room-name').textContent = r.name;
    const n = state.counts[r.id] ?? 0;
    li.querySelector('.room-people').textContent = n ? t('desk.people', { count: n }) : t('desk.nobody');
    // the check-in after calls: counts only, no names (docs/protocol.md "Mentoring aids")
    const ck = state.checkins?.[r.id];
    const ckEl = li.querySelector('.room-checkins');
    ckEl.hidden = !ck;
    if (ck) {
      const answers = (Number(ck.fine) || 0) + (Number(ck.some) || 0) + (Number(ck.many) || 0);
      const lines = [];
      if (answers) lines.push(t('desk.checkins', { fine: Number(ck.fine) || 0, some: Number(ck.some) || 0, many: Number(ck.many) || 0 }));
      // how often someone's connection became poor during calls (media.quality), a count only
      if (Number(ck.poor) > 0) lines.push(t('desk.weakMoments', { count: Number(ck.poor) }));
      ckEl.textContent = lines.join(' · ');
    }
    const form = li.querySelector('.link-form');
    const old = kept.get(r.id);
    if (old) for (const name of ['role', 'expires', 'uses']) form.elements[name].value = old.elements[name].value;
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      makeLink(r.id, form);
    });
    const links = li.querySelector('.link-list');
    for (const l of byRoom.get(r.id) || []) links.append(linkItem(l, data.links[l.invite_id].url));
    list.append(li);
  }
  $('other-links').hidden = !live || others.length === 0;
  $('other-list').replaceChildren(...others.map((l) => linkItem(l, null)));
  if (focusedRoom) {
    const roomEl = list.querySelector(`[data-room="${focusedRoom}"]`);
    const linkEl = focusedLink ? roomEl?.querySelector(`[data-id="${focusedLink}"]`) : null;
    const scope = linkEl || roomEl;
    const same = [...(scope?.querySelectorAll('select, button') || [])]
      .find((el) => (el.name || el.className) === focusedControl);
    (same || roomEl?.querySelector('.link-form button'))?.focus();
  }
}

/* ---- actions ---- */

async function makeRoom(ev) {
  ev.preventDefault();
  if (!state.ready) {
    say(state.dead ? 'desk.invalid' : 'desk.connecting');
    return;
  }
  const input = $('room-name');
  const name = input.value.trim();
  if (!name) {
    input.focus();
    say('desk.nameNeeded');
    return;
  }
  const m = await ask({ type: 'console.room.create' });
  if (m.type !== 'console.room') {
    say('desk.failed');
    return;
  }
  data.rooms.push({ id: m.room, name: name.slice(0, NAME_MAX) });
  saveData();
  input.value = '';
  say('desk.roomMade', { name: name.slice(0, NAME_MAX) });
  render();
  $('room-list').lastElementChild?.querySelector('select')?.focus();
}

async function makeLink(room, form) {
  if (!state.ready) return;
  const m = await ask({
    type: 'console.link.create', room, role: form.elements.role.value,
    expires_s: Number(form.elements.expires.value), uses: Number(form.elements.uses.value),
  });
  if (m.type !== 'console.link') {
    say('desk.failed');
    return;
  }
  const url = m.url || `${window.location.origin}/r/${room}#t=${m.token}`;
  data.links[m.invite_id] = { room, url };
  saveData();
  say('desk.linkMade');
  await refresh();
}

async function withdraw(l) {
  if (!state.ready || !window.confirm(t('desk.confirmWithdraw'))) return;
  const m = await ask({ type: 'console.link.revoke', invite_id: l.invite_id });
  if (m.type !== 'console.link.revoked') {
    say('desk.failed');
    return;
  }
  delete data.links[l.invite_id];
  saveData();
  say('desk.withdrawn');
  await refresh();
}

async function copy(text, el) {
  try {
    await navigator.clipboard.writeText(text);
    say('desk.copied');
    return;
  } catch {
    // not allowed here: select the link so the person can copy it
  }
  const range = document.createRange();
  range.selectNodeContents(el);
  const sel = window.getSelection();
  sel.removeAllRanges();
  sel.addRange(range);
  say('desk.copySelected');
}

async function showQr(url, what) {
  const dialog = $('qr-dialog');
  try {
    const { drawQr } = await import('./qr.mjs');
    drawQr($('qr-canvas'), url);
  } catch {
    say('desk.failed');
    return;
  }
  $('qr-what').textContent = what;
  dialog.showModal();
}

function exportNames() {
  const blob = new Blob([JSON.stringify({ tandem_console: 1, ...data }, null, 2)], { type: 'application/json' });
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = 'tandem-rooms.json';
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10000);
  say('desk.exported');
}

async function importNames(file) {
  let d = null;
  try {
    d = clean(JSON.parse(await file.text()));
  } catch {
    d = null;
  }
  if (!d) {
    say('desk.importBad');
    return;
  }
  let added = 0;
  for (const r of d.rooms) {
    const have = data.rooms.find((x) => x.id === r.id);
    if (have) have.name = r.name;
    else {
      data.rooms.push(r);
      added += 1;
    }
  }
  Object.assign(data.links, d.links);
  saveData();
  say('desk.imported', { count: added });
  await refresh();
  render();
}

/* ---- start ---- */

// Wired before anything is awaited: the forms are method="dialog", so nothing is ever sent
// by the browser itself (no ?name= in an address), whatever is pressed while getting ready.
$('new-room').addEventListener('submit', makeRoom);
$('export').addEventListener('click', exportNames);
$('import').addEventListener('click', () => $('import-file').click());
$('import-file').addEventListener('change', (ev) => {
  const f = ev.target.files?.[0];
  ev.target.value = '';
  if (f) importNames(f);
});
state.token = takeToken();
const remember = $('remember');
remember.checked = Boolean(storage('localStorage')?.getItem(TOKEN_KEY));
remember.addEventListener('change', () => {
  const local = storage('localStorage');
  if (remember.checked && state.token) local?.setItem(TOKEN_KEY, state.token);
  else local?.removeItem(TOKEN_KEY);
});
onLanguageChange(() => {
  if (state.said) say(state.said.key, state.said.params);
  render();
});
setInterval(() => {
  if (state.ready && !document.hidden) refresh();
}, COUNTS_EVERY_MS);

await initI18n();
mountLanguagePicker($('lang-select'));
if (!state.token) {
  state.dead = true;
  say('desk.noToken');
} else {
  say('desk.connecting');
  connect();
}
render();
