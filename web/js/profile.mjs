// The person's name and role: checked by the rules of docs/protocol.md before joining, and
// kept on this device only when the person asks for it ("remember me", off by default: a
// shared or inspected phone must not reveal who used it).
import { storage, currentLanguage, REMEMBERED_LANG_KEY } from './i18n.mjs';

export const ROLES = ['mentee', 'mentor', 'coordinator'];
export const NAME_MAX_BYTES = 64;

const NAME_KEY = 'tandem.remembered.name';
const ROLE_KEY = 'tandem.remembered.role';
// C0 and C1 controls and DEL: protocol.md refuses control characters in names.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/u;

/** Checks a display name; returns { name } (trimmed) or { problem: 'empty'|'long'|'chars' }. */
export function checkName(raw) {
  const name = String(raw ?? '').trim();
  if (!name) return { problem: 'empty' };
  if (CONTROL.test(name)) return { problem: 'chars' };
  if (new TextEncoder().encode(name).length > NAME_MAX_BYTES) return { problem: 'long' };
  return { name };
}

/** { name, role } remembered on this device, or null. */
export function loadRemembered() {
  const local = storage('localStorage');
  const name = local?.getItem(NAME_KEY);
  if (!name) return null;
  const role = local.getItem(ROLE_KEY);
  return { name, role: ROLES.includes(role) ? role : 'mentee' };
}

export function remember({ name, role }) {
  const local = storage('localStorage');
  if (!local) return;
  local.setItem(NAME_KEY, name);
  local.setItem(ROLE_KEY, role);
  local.setItem(REMEMBERED_LANG_KEY, currentLanguage());
  // the camera, microphone and speaker chosen in this tab (media.mjs) are kept too
  const session = storage('sessionStorage');
  for (const kind of ['audio', 'video', 'speaker']) {
    const id = session?.getItem(`tandem.device.${kind}`);
    if (id) local.setItem(`tandem.remembered.device.${kind}`, id);
  }
}

/** Removes everything Tandem kept on this device. */
export function forget() {
  const local = storage('localStorage');
  if (!local) return;
  for (const key of [NAME_KEY, ROLE_KEY, REMEMBERED_LANG_KEY]) local.removeItem(key);
  for (const kind of ['audio', 'video', 'speaker']) local.removeItem(`tandem.remembered.device.${kind}`);
  // and the person passes of limited links (invite.mjs)
  for (let i = local.length - 1; i >= 0; i -= 1) {
    const key = local.key(i);
    if (key?.startsWith('tandem.remembered.pass.')) local.removeItem(key);
  }
}
