// The room page (/r/<room-id>): the pre-join form, then who is in the room, live.
// The state lives in one object; render() draws everything from it, so a change of
// language only needs another render().
import { inviteToken } from './invite.mjs';
import {
  initI18n, mountLanguagePicker, onLanguageChange, t, isolate,
} from './i18n.mjs';
import { Signaling } from './signaling.mjs';
import { ROLES, checkName, loadRemembered, remember, forget } from './profile.mjs';
import { errorText, lostText, DEFAULT_MAX_PARTICIPANTS } from './errors.mjs';
import { renderParticipants } from './participants.mjs';

const ROOM_ID = /^[A-Za-z0-9_-]{3,64}$/;
const JOIN_TIMEOUT_MS = 20000;
const NOTICE_MS = 10000;
const NAME_PROBLEM_KEYS = { empty: 'name.empty', long: 'name.long', chars: 'name.chars' };
const REASON_KEYS = {
  leave: 'room.leftAnnounce',
  disconnect: 'room.leftAnnounce',
  timeout: 'room.timeoutAnnounce',
  removed: 'room.removedAnnounce',
};

const $ = (id) => document.getElementById(id);
const ui = {
  prejoin: $('prejoin'), form: $('join-form'), name: $('name'), nameError: $('name-error'),
  role: $('role'), remember: $('remember'), joinError: $('join-error'), join: $('join-button'),
  room: $('room'), roomTitle: $('room-title'), status: $('room-status'), list: $('participants'),
  leave: $('leave-button'), left: $('left'), leftTitle: $('left-title'), rejoin: $('rejoin-button'),
  notice: $('room-notice'),
  banner: $('banner'), bannerText: $('banner-text'), bannerButton: $('banner-button'),
  announcer: $('announcer'), badLink: $('bad-link'),
};

/** The room id from /r/<room-id>, or null. The fragment (a later invite token) is left as is. */
function roomFromPath(pathname) {
  const m = /^\/r\/([^/]+)$/.exec(pathname);
  return m && ROOM_ID.test(m[1]) ? m[1] : null;
}

const state = {
  room: roomFromPath(window.location.pathname),
  phase: 'prejoin', // prejoin | joining | in-room | left
  me: null, // {id, name, role} from welcome
  others: new Map(), // id -> {id, name, role}, in order of arrival
  maxParticipants: DEFAULT_MAX_PARTICIPANTS,
  wish: null, // {name, role} the person asked to join with
  nameProblem: null, // key of a problem with the typed name
  joinError: null, // {code, field, ...} the server refused the join with
  conn: 'ok', // ok | lost | failed
  lostCode: 0,
  joinId: null,
  everJoined: false, // joined since the last Join press: a new welcome means "back again"
  notice: null, // a server error not about joining, shown for a while
};

let sig = null;
let joinTimer = 0;
let noticeTimer = 0;

function signaling() {
  if (sig) return sig;
  sig = new Signaling();
  sig.addEventListener('open', sendJoin);
  sig.addEventListener('message', (ev) => onMessage(ev.detail.msg));
  sig.addEventListener('lost', (ev) => {
    clearTimeout(joinTimer);
    state.conn = 'lost';
    state.lostCode = ev.detail.code;
    render();
  });
  sig.addEventListener('gaveup', () => {
    state.conn = 'failed';
    render();
  });
  return sig;
}

function sendJoin() {
  if (!state.wish) return;
  state.joinId = sig.send({ type: 'join', room: state.room, name: state.wish.name, role: state.wish.role,
    token: inviteToken() });
  clearTimeout(joinTimer);
  // A join that gets no answer is treated as a lost connection: the retry joins again.
  joinTimer = setTimeout(() => sig?.drop(), JOIN_TIMEOUT_MS);
}

function startJoin() {
  state.phase = 'joining';
  state.joinError = null;
  render();
  if (sig && (sig.connected || sig.waiting)) {
    if (sig.connected) sendJoin();
    else sig.retryNow();
    return;
  }
  signaling().connect();
}

function onMessage(msg) {
  switch (msg.type) {
    case 'welcome': return onWelcome(msg);
    case 'joined': return onJoined(msg.participant);
    case 'left': return onLeft(msg);
    case 'error': return onError(msg);
    default: return undefined; // pong, and types of later versions
  }
}

function onWelcome(msg) {
  clearTimeout(joinTimer);
  const wasInRoom = state.everJoined;
  state.me = msg.you;
  state.others = new Map((msg.participants || []).map((p) => [p.id, p]));
  if (Number.isInteger(msg.room?.max_participants)) state.maxParticipants = msg.room.max_participants;
  state.phase = 'in-room';
  state.conn = 'ok';
  state.everJoined = true;
  sig.resetBackoff();
  sig.setKeepalive(msg.keepalive_s);
  render();
  if (wasInRoom) announce(t('room.backAnnounce'));
  else ui.roomTitle.focus();
}

function onJoined(p) {
  if (!p || typeof p.id !== 'string' || state.phase !== 'in-room') return;
  state.others.set(p.id, p);
  render();
  announce(t('room.joinedAnnounce', { name: isolate(p.name) }));
}

function onLeft(msg) {
  const p = state.others.get(msg.id);
  if (!p) return;
  state.others.delete(msg.id);
  render();
  const key = Object.hasOwn(REASON_KEYS, msg.reason) ? REASON_KEYS[msg.reason] : 'room.leftAnnounce';
  announce(t(key, { name: isolate(p.name) }));
}

function onError(err) {
  if (err.ref !== undefined && err.ref === state.joinId) {
    // The join was refused: back to the form, with the reason. room_full may be retried
    // by pressing Join again.
    clearTimeout(joinTimer);
    sig.close();
    sig = null;
    state.phase = 'prejoin';
    state.conn = 'ok';
    state.joinError = err;
    state.me = null;
    state.others.clear();
    state.everJoined = false;
    render();
    ui.joinError.focus();
    return;
  }
  if (err.code === 'already_joined') return;
  state.notice = err;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => {
    state.notice = null;
    render();
  }, NOTICE_MS);
  render();
}

function leave() {
  clearTimeout(joinTimer);
  sig?.leave();
  sig = null;
  state.phase = 'left';
  state.conn = 'ok';
  state.everJoined = false;
  state.me = null;
  state.others.clear();
  render();
  ui.leftTitle.focus();
}

function announce(text) {
  // A fresh node per message makes screen readers speak it even when the text repeats.
  const p = document.createElement('p');
  p.textContent = text;
  ui.announcer.replaceChildren(p);
}

function onSubmit(ev) {
  ev.preventDefault();
  if (state.phase === 'joining') return;
  const checked = checkName(ui.name.value);
  state.nameProblem = checked.problem ? NAME_PROBLEM_KEYS[checked.problem] : null;
  state.joinError = null;
  if (state.nameProblem) {
    render();
    ui.name.focus();
    return;
  }
  const role = ROLES.includes(ui.role.value) ? ui.role.value : 'mentee';
  state.wish = { name: checked.name, role };
  if (ui.remember.checked) remember(state.wish);
  else forget();
  startJoin();
}

function show(el, visible) {
  el.hidden = !visible;
}

function renderBanner() {
  const reconnecting = state.phase === 'joining' || state.phase === 'in-room';
  const visible = reconnecting && state.conn !== 'ok';
  show(ui.banner, visible);
  if (!visible) return;
  const failed = state.conn === 'failed';
  ui.banner.classList.toggle('failed', failed);
  let text = lostText(state.lostCode);
  if (failed) text = t('conn.failed');
  else if (!state.everJoined) text = t('conn.unreachable');
  ui.bannerText.textContent = text;
  ui.bannerButton.textContent = failed ? t('conn.tryAgain') : t('conn.tryNow');
}

function renderForm() {
  const joining = state.phase === 'joining';
  ui.join.textContent = joining ? t('prejoin.joining') : t('prejoin.join');
  ui.join.setAttribute('aria-disabled', String(joining));
  ui.form.setAttribute('aria-busy', String(joining));
  show(ui.nameError, Boolean(state.nameProblem));
  ui.nameError.textContent = state.nameProblem ? t(state.nameProblem) : '';
  ui.name.setAttribute('aria-invalid', String(Boolean(state.nameProblem) ||
    (state.joinError?.code === 'bad_field' && state.joinError.field === 'name')));
  show(ui.joinError, Boolean(state.joinError));
  ui.joinError.textContent = state.joinError
    ? errorText(state.joinError, { maxParticipants: state.maxParticipants }) : '';
}

function renderRoom() {
  const people = state.me ? [state.me, ...state.others.values()] : [];
  renderParticipants(ui.list, people, state.me?.id);
  ui.list.setAttribute('aria-busy', String(state.conn !== 'ok'));
  show(ui.notice, Boolean(state.notice));
  ui.notice.textContent = state.notice ? errorText(state.notice) : '';
  ui.status.textContent = state.conn === 'ok'
    ? t('room.status', { count: people.length })
    : t('room.statusReconnecting');
  ui.room.dataset.count = String(people.length);
}

function render() {
  if (!state.room) {
    show(ui.badLink, true);
    show(ui.prejoin, false);
    return;
  }
  const inRoom = state.phase === 'in-room';
  show(ui.prejoin, state.phase === 'prejoin' || state.phase === 'joining');
  show(ui.room, inRoom);
  show(ui.left, state.phase === 'left');
  renderBanner();
  renderForm();
  if (inRoom) renderRoom();
}

function setUpForm() {
  const saved = loadRemembered();
  if (saved) {
    ui.name.value = saved.name;
    ui.role.value = saved.role;
    ui.remember.checked = true;
  }
  ui.form.addEventListener('submit', onSubmit);
  ui.name.addEventListener('input', () => {
    if (!state.nameProblem) return;
    state.nameProblem = null;
    render();
  });
  ui.leave.addEventListener('click', leave);
  ui.rejoin.addEventListener('click', startJoin);
  ui.bannerButton.addEventListener('click', () => {
    if (!sig) return;
    state.conn = 'lost';
    render();
    sig.retryNow();
  });
}

async function main() {
  await initI18n();
  mountLanguagePicker($('lang-select'));
  onLanguageChange(render);
  setUpForm();
  render();
}

main();
