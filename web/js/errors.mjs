// Plain words for every error code of docs/protocol.md and for the ways a connection ends.
// Keys are written out in full (no built keys) so tests/integration/pages.test.mjs can check
// that every one of them exists in every translation file.
import { t } from './i18n.mjs';

const ERROR_KEYS = {
  bad_json: 'error.bad_json',
  bad_utf8: 'error.bad_utf8',
  binary_unsupported: 'error.binary_unsupported',
  too_big: 'error.too_big',
  unknown_type: 'error.unknown_type',
  missing_field: 'error.missing_field',
  bad_field: 'error.bad_field',
  not_joined: 'error.not_joined',
  already_joined: 'error.already_joined',
  room_full: 'error.room_full',
  server_full: 'error.server_full',
  rate_limited: 'error.rate_limited',
  not_implemented: 'error.not_implemented',
  forbidden: 'error.forbidden',
  internal: 'error.internal',
  invite_required: 'error.invite_required',
  invite_invalid: 'error.invite_invalid',
  invite_expired: 'error.invite_expired',
  invite_used: 'error.invite_used',
  invite_revoked: 'error.invite_revoked',
  invite_cut: 'error.invite_cut', // the page's own: the link's token is not whole
  room_locked: 'error.room_locked',
  not_admitted: 'error.not_admitted',
  not_found: 'error.not_found',
};

const FIELD_KEYS = {
  name: 'error.bad_field_name',
  room: 'error.bad_field_room',
  role: 'error.bad_field_role',
};

/** Default of limits.max_participants_per_room, for servers that do not say. */
export const DEFAULT_MAX_PARTICIPANTS = 12;

/** The sentence for a server error message {type: "error", code, field, ...}. */
export function errorText(err, { maxParticipants = DEFAULT_MAX_PARTICIPANTS } = {}) {
  if (err.code === 'bad_field' && Object.hasOwn(FIELD_KEYS, err.field)) {
    return t(FIELD_KEYS[err.field]);
  }
  if (err.code === 'room_full') {
    const max = Number.isInteger(err.max_participants) ? err.max_participants : maxParticipants;
    return t('error.room_full', { count: max });
  }
  if (Object.hasOwn(ERROR_KEYS, err.code)) return t(ERROR_KEYS[err.code]);
  return t('error.unknown', { code: String(err.code ?? '') });
}

/** The banner text while reconnecting after the connection closed with `code`. */
export function lostText(code) {
  if (code === 1001) return t('conn.restarting');
  return t('conn.lost');
}
