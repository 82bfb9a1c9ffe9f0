// The room page (/r/<room-id>): the pre-join form with a small camera preview, then the
// call: one tile per person (video, or their initial when the camera is off), microphone,
// camera and leave controls. This file holds the page's state and its talk with the server;
// render() (roomview.mjs) draws everything from the state, so a change of language only needs
// another render(). The call itself is in call.mjs, the person's own camera and microphone in
// media.mjs, the tiles in tiles.mjs.
import { inviteToken, inviteTokenCut, storedPass, keepPass, dropPass, checkLink } from './invite.mjs';
import {
  initI18n, mountLanguagePicker, onLanguageChange, t, isolate,
} from './i18n.mjs';
import { Signaling, defaultUrl } from './signaling.mjs';
import { NodeRoute } from './nodes.mjs';
import { ROLES, checkName, loadRemembered, remember, forget } from './profile.mjs';
import { DEFAULT_MAX_PARTICIPANTS } from './errors.mjs';
import { clearTiles, resumeAudio, bindMixAudio, tilesWithMedia, markSpeaking, markQuality } from './tiles.mjs';
import { LayoutReporter, markActiveSpeaker } from './adapt.mjs';
import { UplinkGuard } from './uplink.mjs';
import { Call } from './call.mjs';
import { LocalMedia, voiceOnlyWish, rememberVoiceOnly, saveDataWish, rememberSaveData } from './media.mjs';
import { Panels } from './panels.mjs';
import { onQuickExit } from './quickexit.mjs';
import { Moderation } from './moderation.mjs';
import { DevicePanel } from './devices.mjs';
import { Aids } from './aids.mjs';
import { ScreenShare } from './share.mjs';
import { $, ui, fragmentRole, roomView } from './roomview.mjs';

const ROOM_ID = /^[A-Za-z0-9_-]{3,64}$/;
const JOIN_TIMEOUT_MS = 20000;
// The form waits this long at most for the translation file before it is ready anyway (the
// English written in the page stands in for what has not arrived).
const READY_WAIT_MS = 4000;
const NOTICE_MS = 10000;
const NAME_PROBLEM_KEYS = { empty: 'name.empty', long: 'name.long', chars: 'name.chars' };
const REASON_KEYS = {
  leave: 'room.leftAnnounce',
  disconnect: 'room.leftAnnounce',
  timeout: 'room.timeoutAnnounce',
  removed: 'room.removedAnnounce',
};

const MOD_MUTED_KEYS = { audio: 'call.mutedAudio', video: 'call.mutedVideo' };

/** The room id from /r/<room-id>, or null. The fragment (a later invite token) is left as is. */
function roomFromPath(pathname) {
  const m = /^\/r\/([^/]+)$/.exec(pathname);
  return m && ROOM_ID.test(m[1]) ? m[1] : null;
}

const state = {
  room: roomFromPath(window.location.pathname),
  phase: 'prejoin', // prejoin | joining | in-room | left
  ready: false, // the translations are here (or READY_WAIT_MS passed): Join may start a join
  joinPending: false, // Join was pressed while getting ready: it joins when ready
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
  notice: null, // a server error not about joining (or a plain key), shown for a while
  remoteStates: new Map(), // id -> {audio, video} from media.state
  wantCamera: true, // the camera should be on (false: voice only, or turned off)
  previewAsked: false, // the person pressed "Check my camera" (or the browser already allowed it)
  locked: { audio: false, video: false }, // a coordinator turned it off and did not allow it back
  audioBlocked: false, // the browser wants a tap before it plays the others' sound
  lobbyWaiting: false, // the room has a lobby: waiting to be let in
  endedBy: null, // 'removed' | 'ended' | 'replaced': the server ended this person's call
  roomState: { locked: false, lobby: false },
  pass: undefined, // the person pass of a limited link (invite.mjs), once the server gave it
  linkProblem: null, // {code} when the link is dead (invite.check): said before the form
  linkRole: null, // the role the link gives (invite.check), said in words above the form
  savedRole: null, // the role kept with "remember me" (open-rooms mode only)
  resume: null, // the resume token of the latest welcome (protocol.md "Resuming after a cut")
  resuming: false, // the connection dropped in the room: the next one sends resume, not join
  resumeId: null,
  away: new Set(), // ids of others whose connection dropped (the server waits for them)
};

let sig = null;
const route = new NodeRoute(defaultUrl()); // several nodes: where the connection goes
let joinTimer = 0;
let noticeTimer = 0;
let sentState = ''; // the last media.state sent, so that only changes are sent
const local = new LocalMedia();
const panels = new Panels({
  room: ui.room, watchArea: $('watch-area'), watchClose: $('watch-close'), watchButton: $('watch-button'),
  chatArea: $('side-panel'), chatClose: $('chat-close'), chatButton: $('chat-button'), chatUnread: $('chat-unread'),
  chatSize: $('chat-size'),
}, t);
const mod = new Moderation({
  manageButton: $('manage-button'), dialog: $('manage-dialog'), close: $('manage-close'),
  lock: $('mod-lock'), lobby: $('mod-lobby'), end: $('mod-end'), endConfirm: $('mod-end-yes'),
  mayUnmute: $('mod-may-unmute'), people: $('mod-people'), inviteRole: $('mod-invite-role'),
  inviteExpiry: $('mod-invite-expiry'), inviteOnce: $('mod-invite-once'), inviteMake: $('mod-invite-make'),
  links: $('mod-links'), message: $('mod-message'), lobbyList: $('lobby-list'),
}, { t, send: (msg) => sig?.send(msg) ?? null, roomId: state.room ?? '' });
const call = new Call((msg) => sig?.send(msg) ?? null);
const uplink = new UplinkGuard();
// How big each person's tile is, for the server's choice of picture layer (adapt.mjs).
const layout = new LayoutReporter($('participants'),
  (msg) => (state.phase === 'in-room' && state.me ? call.send(msg) : null));
const devices = new DevicePanel({
  root: $('devices'), camera: $('camera-select'), microphone: $('mic-select'), level: $('mic-level'),
  speaker: $('speaker-test'), note: $('speaker-note'), flip: $('flip-camera'),
  output: $('speaker-select'), outputField: $('speaker-field'), list: $('participants'),
}, local, t);
if (saveDataWish()) call.setReceiveVideo(false); // sent with the next join

// Quick exit (quickexit.mjs): the camera light goes out and the others see the person leave
// before the page is replaced.
onQuickExit(() => {
  sig?.leave();
  call.stop();
  local.stop();
  devices.stop();
});

const aids = new Aids({
  handButton: $('hand-button'), handLabel: $('hand-label'), ideasButton: $('ideas-button'),
  dialog: $('ideas-dialog'), close: $('ideas-close'), cards: $('ideas-cards'),
  planWhen: $('plan-when'), planMinutes: $('plan-minutes'), planPropose: $('plan-propose'),
  planError: $('plan-error'), cardArea: $('card-area'), planArea: $('plan-area'),
  list: ui.list, checkin: $('checkin'),
}, { t, send: (msg) => sig?.send(msg) ?? null, wsUrl: defaultUrl(), announce: (text) => announce(text) });
const share = new ScreenShare({
  button: $('share-button'), label: $('share-label'), mine: $('share-mine'), stage: $('share-stage'),
  title: $('share-title'), video: $('share-video'), full: $('share-full'), room: ui.room,
}, {
  t, call, announce: (text) => announce(text), notice: (key) => showNotice({ key }),
  nameOf: (id) => {
    const name = id === state.me?.id ? state.me.name : state.others.get(id)?.name;
    return typeof name === 'string' ? isolate(name) : null;
  },
});
layout.watch($('share-stage'));
const render = roomView({ state, local, call, uplink, mod, aids, share, onAudioBlocked });

function signaling() {
  if (sig) return sig;
  sig = new Signaling();
  panels.attach(sig); // the film and the chat ride on the same connection
  sig.addEventListener('open', sendJoin);
  sig.addEventListener('message', (ev) => onMessage(ev.detail.msg));
  sig.addEventListener('lost', (ev) => {
    clearTimeout(joinTimer);
    // In the room with a resume token, the server keeps us for a while and the call goes on
    // (media does not ride on this connection): the next connection resumes. Otherwise the
    // server lets our media go with the connection; the next welcome builds it anew.
    if (state.phase === 'in-room' && state.resume) state.resuming = true;
    else call.stop();
    route.lost(sig); // several nodes: the next try may go to another one
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
  if (state.resuming && state.resume) {
    state.resumeId = sig.send({ type: 'resume', token: state.resume });
    clearTimeout(joinTimer);
    joinTimer = setTimeout(() => sig?.drop(), JOIN_TIMEOUT_MS);
    return;
  }
  // With a pass, the link is not used again: the same person comes back.
  state.pass ??= storedPass(state.room);
  const creds = state.pass ? { pass: state.pass } : { token: inviteToken() };
  state.joinId = sig.send({ type: 'join', room: state.room, name: state.wish.name, role: state.wish.role,
    ...creds });
  clearTimeout(joinTimer);
  // A join that gets no answer is treated as a lost connection: the retry joins again.
  joinTimer = setTimeout(() => sig?.drop(), JOIN_TIMEOUT_MS);
}

function startJoin() {
  state.phase = 'joining';
  state.endedBy = null;
  state.joinError = null;
  state.wantCamera = !ui.voiceOnly.checked;
  // Asked here, in the tap on Join, so that the browser's question follows the person's act.
  if (!state.wantCamera) local.setCamera(false);
  local.start({ voiceOnly: !state.wantCamera });
  render();
  if (sig && (sig.connected || sig.waiting)) {
    if (sig.connected) sendJoin();
    else sig.retryNow();
    return;
  }
  signaling().connect();
}

function onMessage(msg) {
  if (mod.handle(msg) || aids.handle(msg) || share.handle(msg)) return undefined;
  switch (msg.type) {
    case 'welcome': return onWelcome(msg);
    case 'moved': // another node holds the room: join there
      if (route.moved(msg, sig)) clearTimeout(joinTimer);
      return undefined;
    case 'joined': return onJoined(msg.participant);
    case 'left': return onLeft(msg);
    case 'reconnecting': return onAway(msg.id, true);
    case 'reconnected': return onAway(msg.id, false);
    case 'error': return onError(msg);
    case 'media.state': return onMediaState(msg);
    case 'mod.muted': return onModMuted(msg);
    case 'lobby': return onLobby();
    case 'removed': return endByServer('removed');
    case 'ended': return endByServer('ended');
    case 'replaced': return endByServer('replaced');
    case 'room.state':
      state.roomState = { locked: msg.locked === true, lobby: msg.lobby === true };
      return undefined;
    default:
      if (state.phase === 'in-room') call.handle(msg); // answer, offer
      return undefined; // pong, and types of later versions
  }
}

function onWelcome(msg) {
  clearTimeout(joinTimer);
  const resumed = msg.ref !== undefined && msg.ref === state.resumeId && msg.you?.id === state.me?.id;
  state.resumeId = null;
  state.resuming = false;
  state.resume = typeof msg.resume === 'string' ? msg.resume : null;
  if (resumed) {
    onResumed(msg);
    return;
  }
  state.lobbyWaiting = false;
  if (msg.room) state.roomState = { locked: msg.room.locked === true, lobby: msg.room.lobby === true };
  const wasInRoom = state.everJoined;
  if (typeof msg.pass === 'string') {
    state.pass = msg.pass;
    keepPass(state.room, msg.pass, { remember: ui.remember.checked });
  }
  state.me = msg.you;
  state.others = new Map((msg.participants || []).map((p) => [p.id, p]));
  if (Number.isInteger(msg.room?.max_participants)) state.maxParticipants = msg.room.max_participants;
  state.remoteStates = new Map();
  state.away = new Set();
  state.phase = 'in-room';
  state.conn = 'ok';
  state.everJoined = true;
  sig.resetBackoff();
  sig.setKeepalive(msg.keepalive_s);
  route.welcome(msg);
  // A (re)join has a new participant id: a new pair of connections, and our media.state again.
  sentState = '';
  mod.reset(state.me, state.roomState);
  aids.reset(state.me, msg);
  share.reset(state.me, msg);
  call.setIceServers(msg.ice_servers, msg.ice_servers_ttl_s);
  call.start(state.me.id);
  layout.reset(); // a new participant id: the server knows nothing of our tiles yet
  syncLocal();
  keepScreenOn(true);
  render();
  if (wasInRoom) announce(t('room.backAnnounce'));
  else ui.roomTitle.focus();
}

// Back on a new connection as the same participant: the call went on meanwhile, and what
// was said in the room while we were away follows this welcome.
function onResumed(msg) {
  if (msg.room) state.roomState = { locked: msg.room.locked === true, lobby: msg.room.lobby === true };
  state.others = new Map((msg.participants || []).map((p) => [p.id, p]));
  for (const id of [...state.remoteStates.keys()]) if (!state.others.has(id)) state.remoteStates.delete(id);
  for (const id of [...state.away]) if (!state.others.has(id)) state.away.delete(id);
  state.conn = 'ok';
  sig.resetBackoff();
  sig.setKeepalive(msg.keepalive_s);
  call.setIceServers(msg.ice_servers, msg.ice_servers_ttl_s);
  call.resumed();
  sentState = ''; // the others hear our microphone and camera state again
  syncLocal();
  render();
  announce(t('room.backAnnounce'));
}

/** Someone's connection dropped (away) or came back: their tile says so; no leave, no join. */
function onAway(id, away) {
  const p = typeof id === 'string' ? state.others.get(id) : undefined;
  if (!p || state.phase !== 'in-room' || state.away.has(id) === away) return;
  if (away) state.away.add(id);
  else state.away.delete(id);
  call.othersChanged(); // their media may pause: no sign of our own path
  render();
  announce(t(away ? 'room.reconnectingAnnounce' : 'room.reconnectedAnnounce', { name: isolate(p.name) }));
}

// The room has a lobby: the join waits until a coordinator or mentor lets this person in
// (then `welcome` comes) or says no (error not_admitted).
function onLobby() {
  clearTimeout(joinTimer);
  state.lobbyWaiting = true;
  render();
  ui.lobbyWait.focus();
}

/** A coordinator removed this person or ended the call: everything stops, and the page
 *  does not reconnect (a reconnect would walk straight back in). */
function endByServer(why) {
  sig?.close();
  toLeft(why);
}

function onJoined(p) {
  if (!p || typeof p.id !== 'string' || state.phase !== 'in-room') return;
  const known = state.others.has(p.id); // kept for us while we were away, already listed
  state.others.set(p.id, p);
  state.away.delete(p.id);
  // The server does not keep media.state: tell the newcomer whether our camera is on.
  sentState = '';
  syncLocal();
  render();
  if (!known) announce(t('room.joinedAnnounce', { name: isolate(p.name) }));
}

function onLeft(msg) {
  const p = state.others.get(msg.id);
  if (!p) return;
  state.others.delete(msg.id);
  state.remoteStates.delete(msg.id);
  state.away.delete(msg.id);
  call.othersChanged();
  render();
  const key = Object.hasOwn(REASON_KEYS, msg.reason) ? REASON_KEYS[msg.reason] : 'room.leftAnnounce';
  announce(t(key, { name: isolate(p.name) }));
}

function onError(err) {
  if (err.code === 'unavailable' && err.ref !== undefined && err.ref === state.joinId) {
    clearTimeout(joinTimer); // the node cannot reach the room directory: try again later
    sig.drop();
    return;
  }
  if (err.ref !== undefined && err.ref === state.resumeId) {
    // Too late, or the session is over: come in again as a new participant, as before.
    state.resumeId = null;
    state.resuming = false;
    state.resume = null;
    call.stop();
    state.away.clear();
    sendJoin();
    return;
  }
  if (err.ref !== undefined && err.ref === state.joinId) {
    // The join was refused: back to the form, with the reason. room_full may be retried
    // by pressing Join again.
    clearTimeout(joinTimer);
    // A pass refused (its link withdrawn or over) is of no more use.
    if (state.pass && String(err.code).startsWith('invite_')) {
      dropPass(state.room);
      state.pass = undefined;
    }
    sig.close();
    sig = null;
    panels.detach();
    call.stop();
    local.stop(); // the camera light goes out while the person reads why
    state.phase = 'prejoin';
    state.conn = 'ok';
    state.lobbyWaiting = false;
    state.joinError = err;
    state.me = null;
    state.others.clear();
    state.away.clear();
    state.resume = null;
    state.resuming = false;
    state.everJoined = false;
    render();
    ui.joinError.focus();
    return;
  }
  if (err.code === 'already_joined') return;
  if (call.handle(err)) return; // about media: the call notice says what matters
  showNotice(err);
}

function showNotice(notice) {
  state.notice = notice;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => {
    state.notice = null;
    render();
  }, NOTICE_MS);
  render();
}

function onMediaState(msg) {
  if (typeof msg.id !== 'string' || !state.others.has(msg.id)) return;
  state.remoteStates.set(msg.id, { audio: msg.audio !== false, video: msg.video !== false });
  call.othersChanged();
  render();
}

// protocol.md "Moderation": the target's page stops that track.
function onModMuted(msg) {
  if (!state.me || msg.target !== state.me.id || !Object.hasOwn(MOD_MUTED_KEYS, msg.kind)) return;
  state.locked[msg.kind] = msg.may_unmute === false;
  if (msg.kind === 'audio') local.setMicrophone(false);
  else {
    state.wantCamera = false;
    local.setCamera(false);
  }
  showNotice({ key: MOD_MUTED_KEYS[msg.kind] });
}

/** Hands the person's tracks to the call and tells the others when something changed. */
function syncLocal() {
  // Refused or missing devices (not still opening ones): the call receives only.
  const nothingToSend = !local.audioTrack && !local.videoTrack && local.problem !== null;
  call.setLocalTracks({ audio: local.audioTrack, video: local.videoTrack, nothingToSend });
  if (state.phase !== 'in-room') return;
  const now = JSON.stringify({ audio: local.micOn, video: local.cameraOn });
  if (now === sentState) return;
  sentState = now;
  call.sendMediaState({ audio: local.micOn, video: local.cameraOn });
}

function leave() {
  sig?.leave();
  toLeft(null);
}

/** The end of being in the room (left, removed or ended): media, panels and tiles go. */
function toLeft(endedBy) {
  clearTimeout(joinTimer);
  sig = null;
  panels.detach();
  mod.reset(null);
  share.stop();
  call.stop();
  local.stop();
  keepScreenOn(false);
  clearTiles(ui.list);
  state.audioBlocked = false;
  state.locked = { audio: false, video: false };
  state.phase = 'left';
  state.endedBy = endedBy;
  state.conn = 'ok';
  state.everJoined = false;
  state.lobbyWaiting = false;
  state.me = null;
  state.others.clear();
  state.away.clear();
  state.resume = null;
  state.resuming = false;
  aids.left();
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
  ev?.preventDefault(); // never a native submission: it would put the form in a URL
  if (state.phase === 'joining') return;
  if (!state.ready) {
    state.joinPending = true;
    return;
  }
  const checked = checkName(ui.name.value);
  state.nameProblem = checked.problem ? NAME_PROBLEM_KEYS[checked.problem] : null;
  state.joinError = null;
  if (state.nameProblem) {
    render();
    ui.name.focus();
    return;
  }
  // The link decides the role (the server takes it from the token); the page's own guess
  // counts only on a server in open-rooms mode.
  state.wish = { name: checked.name, role: joinRole() };
  rememberVoiceOnly(ui.voiceOnly.checked);
  if (ui.remember.checked) remember(state.wish);
  else forget();
  startJoin();
}

function joinRole() {
  return state.linkRole || fragmentRole() || state.savedRole || 'mentee';
}

function setUpForm() {
  const saved = loadRemembered();
  if (saved && !ui.name.value) { // not over a name typed while the page was loading
    ui.name.value = saved.name;
    state.savedRole = saved.role;
    ui.remember.checked = true;
  }
  ui.form.addEventListener('submit', onSubmit);
  window.addEventListener('hashchange', render); // #role= of an open-rooms link
  ui.name.addEventListener('input', () => {
    if (!state.nameProblem) return;
    state.nameProblem = null;
    render();
  });
  if (voiceOnlyWish()) ui.voiceOnly.checked = true; // (a tick made while loading stays)
  ui.voiceOnly.addEventListener('change', () => {
    rememberVoiceOnly(ui.voiceOnly.checked);
    if (ui.voiceOnly.checked) local.setCamera(false);
    else if (state.previewAsked) local.setCamera(true);
    render();
  });
  ui.previewButton.addEventListener('click', () => {
    state.previewAsked = true;
    local.start({ voiceOnly: false });
  });
  ui.leave.addEventListener('click', leave);
  ui.rejoin.addEventListener('click', startJoin);
  setUpCallControls();
  ui.bannerButton.addEventListener('click', () => {
    if (!sig) return;
    state.conn = 'lost';
    render();
    sig.retryNow();
  });
}

// A phone that dims and locks its screen in a call may also stop its camera: ask it to stay
// on while in the room (Screen Wake Lock; where the browser refuses, nothing changes).
let wakeLock = null;
async function keepScreenOn(on) {
  if (!on) {
    wakeLock?.release().catch(() => {});
    wakeLock = null;
    return;
  }
  if (wakeLock || !navigator.wakeLock || document.visibilityState !== 'visible') return;
  try {
    const lock = await navigator.wakeLock.request('screen');
    if (state.phase !== 'in-room') {
      lock.release().catch(() => {});
      return;
    }
    wakeLock = lock;
    lock.addEventListener('release', () => {
      if (wakeLock === lock) wakeLock = null;
    });
  } catch {
    // battery saver, or not allowed here
  }
}

function onAudioBlocked() {
  if (state.audioBlocked) return;
  state.audioBlocked = true;
  render();
}

function setUpCallControls() {
  ui.mic.addEventListener('click', () => {
    if (ui.mic.getAttribute('aria-disabled') === 'true') {
      showNotice({ key: 'call.locked' });
      return;
    }
    local.setMicrophone(!local.micOn);
  });
  ui.camera.addEventListener('click', () => {
    if (ui.camera.getAttribute('aria-disabled') === 'true') {
      showNotice({ key: 'call.locked' });
      return;
    }
    state.wantCamera = !local.cameraOn;
    uplink.reset(); // the person decides: the line's guard starts over
    local.setCamera(state.wantCamera);
  });
  ui.upCamera.addEventListener('click', () => {
    uplink.reset();
    state.wantCamera = true;
    local.setCamera(true);
    render();
  });
  // Own line too weak for the camera: it goes off before the voice suffers, and is tried
  // again later (uplink.mjs); only when the person wants it on.
  call.addEventListener('uplink', (ev) => {
    const act = uplink.update(ev.detail, local.cameraOn && state.wantCamera !== false, Date.now());
    if (act === 'pause') {
      local.setCamera(false);
      announce(t('call.uplinkWeak'));
    } else if (act === 'resume' && state.wantCamera !== false) {
      local.setCamera(true);
    }
    if (act) render();
  });
  ui.saver.addEventListener('click', () => {
    const save = call.receiveVideo; // pressed while videos come: save data now
    call.setReceiveVideo(!save);
    rememberSaveData(save);
    render();
    announce(t(save ? 'call.saveDataAnnounce' : 'call.showVideosAnnounce'));
  });
  ui.deviceRetry.addEventListener('click', () => local.start({ voiceOnly: !state.wantCamera }));
  ui.callRetry.addEventListener('click', () => call.retry());
  ui.hear.addEventListener('click', () => {
    state.audioBlocked = false;
    resumeAudio(ui.list, onAudioBlocked);
    bindMixAudio(ui.mixAudio, call.mix, onAudioBlocked, true);
    render();
  });
  local.addEventListener('change', () => {
    syncLocal();
    render();
  });
  call.addEventListener('status', () => {
    // Without media on this server, the camera and microphone serve nobody: turn them off.
    if (call.status === 'unavailable') local.stop();
    render();
  });
  call.addEventListener('tracks', render);
  // The browser lets the screen lock go when the tab is hidden: take it again on return.
  document.addEventListener('visibilitychange', () => {
    if (state.phase === 'in-room') keepScreenOn(true);
  });
  call.addEventListener('levels', (ev) => markSpeaking(ui.list, ev.detail.speaking));
  call.addEventListener('speaker', () => markActiveSpeaker(ui.list, call.speaker));
  call.addEventListener('quality', () => markQuality(ui.list, call.quality));
  call.addEventListener('audioonly', render);
  ui.weakVideo.addEventListener('click', () => {
    call.setAudioOnlyMode('video'); // one tap: pictures again, whatever the line
    render();
  });
}

/** Starts the preview at once when the browser already allows camera and microphone (no
 *  question pops up); otherwise it waits for "Check my camera" or Join. */
async function autoPreview() {
  if (ui.voiceOnly.checked || !navigator.permissions?.query) return;
  try {
    const [cam, mic] = await Promise.all(['camera', 'microphone'].map((name) => navigator.permissions.query({ name })));
    if (cam.state !== 'granted' || mic.state !== 'granted' || state.phase !== 'prejoin') return;
  } catch {
    return; // this browser cannot say: wait for the person
  }
  state.previewAsked = true;
  local.start({ voiceOnly: false });
}

// Test hook for end-to-end tests (tests/e2e/call-page.test.mjs), not used by the page:
//   window.tandemCall.pub, .sub     this page's RTCPeerConnections, or null (for getStats())
//   window.tandemCall.participantsWithMedia()  ids of remote tiles that have a received track
//   window.tandemCall.trackOwners()  {receiving track id: participant id} (the trackIdentifier
//                                    of getStats' inbound-rtp entries)
//   window.tandemCall.status         call.status (call.mjs STATUS)
//   window.tandemCall.mixTrack()     the id of the received mix track (call.mix), or null
//   window.tandemCall.screenTrack(), .sharer()  the received shared screen's track id, whose
window.tandemCall = Object.freeze({
  get pub() { return call.pub; },
  get sub() { return call.sub; },
  get status() { return call.status; },
  participantsWithMedia: () => tilesWithMedia(ui.list),
  panels, // .watch (WatchPanel), .chat (ChatPanel), while in a room
  // Test hooks for reconnection (tests/e2e/call-reconnect.test.mjs): give up the WebSocket
  // as a dead one (the page then resumes), and restart ICE on the live connections.
  dropSignaling: () => sig?.drop(),
  restartIce: () => call.restartIce('test'),
  get iceRestarts() { return call.iceRestarts; },
  mixTrack: () => call.mix?.id || null,
  screenTrack: () => call.screen?.id || null, // the room's shared screen as received (share.mjs)
  sharer: () => share.sharer,
  trackOwners: () => Object.fromEntries([...call.remote].flatMap(([id, tr]) => [tr.audio, tr.video]
    .filter(Boolean).map((track) => [track.id, id]))),
});

/** A query on the room link is never Tandem's (the page makes none): one that a native form
 *  submission of an older page put there may hold a name, so it leaves the history entry. */
function dropQuery() {
  if (!window.location.search) return;
  window.history.replaceState(window.history.state, '', window.location.pathname + window.location.hash);
}

function becomeReady() {
  if (state.ready) return;
  state.ready = true;
  render();
  if (state.joinPending) {
    state.joinPending = false;
    onSubmit(null);
  }
}

// The form is wired before anything is awaited: what it needs to join is loaded with this
// module; the translations only change its words, so they come when they come (bounded).
function main() {
  dropQuery();
  const translated = initI18n(); // its first, synchronous step keeps the page's English
  setUpForm();
  onLanguageChange(() => {
    panels.retranslate();
    devices.refresh(); // the names of unnamed devices
    render();
  });
  render();
  if (state.room) checkLinkNow(); // needs no translation to start: the answer renders later
  const readyTimer = setTimeout(becomeReady, READY_WAIT_MS);
  translated.catch(() => {}).then(() => {
    clearTimeout(readyTimer);
    mountLanguagePicker($('lang-select'));
    becomeReady();
    if (state.room && !state.linkProblem) autoPreview();
  });
}

/** Says at once when the link cannot work (cut short, expired, withdrawn, used up), before
 *  anyone types a name; a live link sets the role the link gives. */
async function checkLinkNow() {
  if (inviteTokenCut()) {
    state.linkProblem = { code: 'invite_cut' };
    render();
    $('bad-link-title').focus();
    return;
  }
  const pass = storedPass(state.room);
  const answer = await checkLink(state.room, pass ? { pass } : { token: inviteToken() });
  if (state.phase !== 'prejoin' || state.everJoined || !answer) return;
  if (answer.type === 'invite.ok') {
    if (ROLES.includes(answer.role)) {
      state.linkRole = answer.role;
      render();
    }
    return;
  }
  if (answer.type !== 'error' || !String(answer.code).startsWith('invite_')) return;
  if (pass) dropPass(state.room);
  state.linkProblem = answer;
  local.stop(); // a preview that started by itself has nothing to wait for
  render();
  $('bad-link-title').focus();
}

main();
