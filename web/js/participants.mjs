// The people in the room as tiles: one <li> per participant, kept by id so that a join or a
// leave touches one element only. A later version puts each person's video in the tile.
// Names are people's text: textContent only, dir="auto", never innerHTML.
import { t } from './i18n.mjs';

const ROLE_KEYS = { mentee: 'role.mentee', mentor: 'role.mentor', coordinator: 'role.coordinator' };
const PALETTE_SIZE = 6;

/** The first character a person would see (a whole grapheme, so "É" or an emoji stays whole). */
function initial(name) {
  if (typeof Intl.Segmenter === 'function') {
    const first = new Intl.Segmenter().segment(name)[Symbol.iterator]().next();
    if (!first.done) return first.value.segment;
  }
  return Array.from(name)[0] || '';
}

/** A stable colour per participant id, from a small palette of accessible pairs in app.css. */
function colourClass(id) {
  let h = 0;
  for (let i = 0; i < id.length; i++) h = (h * 31 + id.charCodeAt(i)) >>> 0;
  return `avatar-c${h % PALETTE_SIZE}`;
}

function roleText(role) {
  return Object.hasOwn(ROLE_KEYS, role) ? t(ROLE_KEYS[role]) : role;
}

function createTile(p) {
  const li = document.createElement('li');
  li.className = 'tile';
  li.dataset.participantId = p.id;
  const avatar = document.createElement('span');
  avatar.className = `avatar ${colourClass(p.id)}`;
  avatar.setAttribute('aria-hidden', 'true');
  const name = document.createElement('span');
  name.className = 'tile-name';
  name.dir = 'auto';
  name.translate = false; // browser translation must not "translate" people's names
  const meta = document.createElement('span');
  meta.className = 'tile-meta';
  const role = document.createElement('span');
  role.className = 'tile-role';
  const you = document.createElement('span');
  you.className = 'badge';
  meta.append(role, you);
  li.append(avatar, name, meta);
  return li;
}

function updateTile(li, p, isSelf) {
  li.querySelector('.avatar').textContent = initial(p.name);
  li.querySelector('.tile-name').textContent = p.name;
  li.querySelector('.tile-role').textContent = roleText(p.role);
  const you = li.querySelector('.badge');
  you.hidden = !isSelf;
  you.textContent = isSelf ? t('room.you') : '';
  li.classList.toggle('self', isSelf);
  if (isSelf) li.dataset.self = 'true';
  else delete li.dataset.self;
}

/**
 * Makes `list` (a <ul>) show `people` in this order; selfId marks "you".
 * Existing tiles are kept and moved, new ones created, missing ones removed.
 */
export function renderParticipants(list, people, selfId) {
  const existing = new Map();
  for (const li of list.children) existing.set(li.dataset.participantId, li);
  let before = list.firstElementChild;
  for (const p of people) {
    let li = existing.get(p.id);
    if (li) existing.delete(p.id);
    else li = createTile(p);
    updateTile(li, p, p.id === selfId);
    if (li !== before) list.insertBefore(li, before);
    else before = before.nextElementSibling;
  }
  for (const li of existing.values()) li.remove();
}
