// The people in the room as video tiles: one <li> per participant, kept by id so that a join
// or a leave touches one element only. A tile shows the person's video, or their initial
// when their camera is off or no picture has arrived; remote sound plays through a separate
// <audio> element (the <video> stays muted, so that its autoplay is never blocked).
// Names are people's text: textContent only, dir="auto", never innerHTML.
//
// The list gets data-count and data-layout ("solo", "pair": one large picture with yours in a
// corner, "grid" for groups), and data-size ("s" 3-4, "m" 5-9, "l" 10-12) for the CSS.
import { t } from './i18n.mjs';
import { applySpeaker } from './media.mjs';

const ROLE_KEYS = { mentee: 'role.mentee', mentor: 'role.mentor', coordinator: 'role.coordinator' };
const PALETTE_SIZE = 6;

/** Per tile: what is bound to its media elements, so that a render only changes what moved. */
const bound = new WeakMap();

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

function el(tag, className) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  return e;
}

/** A copy of an icon from a <template> in the page (SVG is written in the HTML, not here). */
function icon(templateId) {
  const tpl = document.getElementById(templateId);
  return tpl ? tpl.content.firstElementChild.cloneNode(true) : document.createTextNode('');
}

function createTile(p, isSelf) {
  const li = el('li', 'tile');
  li.dataset.participantId = p.id;
  li.dataset.video = 'off';
  const media = el('div', 'tile-media');
  media.setAttribute('aria-hidden', 'true');
  const avatar = el('span', `avatar ${colourClass(p.id)}`);
  const video = el('video');
  video.muted = true;
  video.defaultMuted = true;
  video.setAttribute('muted', '');
  video.autoplay = true;
  video.playsInline = true;
  video.setAttribute('playsinline', '');
  video.disablePictureInPicture = true;
  // A picture shows only once frames arrive: until then (and when they stop) the initial.
  for (const ev of ['playing', 'resize', 'emptied']) video.addEventListener(ev, () => refreshVideo(li));
  media.append(avatar, video);
  const label = el('div', 'tile-label');
  const name = el('span', 'tile-name');
  name.dir = 'auto';
  name.translate = false; // browser translation must not "translate" people's names
  const meta = el('span', 'tile-meta');
  const role = el('span', 'tile-role');
  const you = el('span', 'badge');
  meta.append(role, you);
  const mic = el('span', 'tile-mic-off');
  const micText = el('span', 'visually-hidden');
  mic.append(icon('icon-mic-off'), micText);
  const cam = el('span', 'visually-hidden tile-cam-off');
  // Their connection dropped and the server waits for them to come back (protocol.md).
  const away = el('span', 'tile-away');
  away.hidden = true;
  const quality = el('span', 'tile-quality');
  quality.hidden = true;
  label.append(mic, name, meta, away, quality, cam);
  li.append(media, label);
  if (!isSelf) {
    const audio = el('audio');
    audio.autoplay = true;
    li.append(audio);
  }
  bound.set(li, { video: null, audio: null, wantVideo: false });
  return li;
}

/** Video shown when a track is bound, wanted (camera on), and pictures have arrived. */
function refreshVideo(li) {
  const b = bound.get(li);
  const video = li.querySelector('video');
  const track = b?.video;
  const live = Boolean(track) && track.readyState === 'live' && !track.muted;
  const on = Boolean(b?.wantVideo) && live && video.videoWidth > 0;
  li.dataset.video = on ? 'on' : 'off';
}

function bindVideo(li, track, wantVideo) {
  const b = bound.get(li);
  b.wantVideo = wantVideo;
  if (b.video !== track) {
    if (b.video) b.video.removeEventListener('mute', b.onMute);
    if (b.video) b.video.removeEventListener('unmute', b.onMute);
    b.video = track;
    b.onMute = () => refreshVideo(li);
    track?.addEventListener('mute', b.onMute);
    track?.addEventListener('unmute', b.onMute);
    const video = li.querySelector('video');
    video.srcObject = track ? new MediaStream([track]) : null;
    if (track) video.play().catch(() => {}); // muted: allowed; a failure only leaves the initial
  }
  refreshVideo(li);
}

function bindAudio(li, track, onBlocked) {
  const b = bound.get(li);
  const audio = li.querySelector('audio');
  if (!audio || b.audio === track) return;
  b.audio = track;
  audio.srcObject = track ? new MediaStream([track]) : null;
  if (track) playAudio(audio, onBlocked);
}

function playAudio(audio, onBlocked) {
  applySpeaker(audio);
  audio.play().catch((err) => {
    // The browser wants a tap before it plays sound (autoplay policy).
    if (err?.name === 'NotAllowedError') onBlocked?.();
  });
}

function updateLabel(li, p, isSelf, state, videoPaused = false, away = false, linePaused = false) {
  li.querySelector('.avatar').textContent = initial(p.name);
  li.querySelector('.tile-name').textContent = p.name;
  li.querySelector('.tile-role').textContent = roleText(p.role);
  const you = li.querySelector('.badge');
  you.hidden = !isSelf;
  you.textContent = isSelf ? t('room.you') : '';
  const micOff = state.audio === false;
  const mic = li.querySelector('.tile-mic-off');
  mic.hidden = !micOff;
  mic.lastElementChild.textContent = micOff ? t('tile.micOff') : '';
  const awayEl = li.querySelector('.tile-away');
  awayEl.hidden = !away;
  awayEl.textContent = away ? t('tile.reconnecting') : '';
  li.dataset.away = away ? 'true' : 'false';
  const cam = li.querySelector('.tile-cam-off');
  if (state.video === false) cam.textContent = t('tile.cameraOff');
  else if (videoPaused) cam.textContent = t('tile.videoPaused');
  else cam.textContent = linePaused ? t('tile.linePaused') : '';
  li.classList.toggle('self', isSelf);
  if (isSelf) li.dataset.self = 'true';
  else delete li.dataset.self;
}

function layoutOf(count) {
  if (count <= 1) return 'solo';
  return count === 2 ? 'pair' : 'grid';
}

function sizeOf(count) {
  if (count <= 4) return 's';
  return count <= 9 ? 'm' : 'l';
}

/**
 * Makes `list` (a <ul>) show `people` in this order. Options:
 *   selfId      the id of "you"
 *   local       { audio, video } this page's own tracks (video shown mirrored), or nulls
 *   localState  { audio, video } booleans: microphone and camera on
 *   remote      Map id -> { audio, video } received tracks
 *   states      Map id -> { audio, video } from media.state (absent: unknown, taken as on)
 *   videoPaused true: this page asked for nobody's video (data saver); tiles say so
 *   linePaused  Set of ids whose picture the server holds back for this page's weak line
 *   reconnecting  Set of ids whose connection dropped (the server waits for them): labelled
 *   onAudioBlocked  called when the browser refuses to play sound before a tap
 * Existing tiles are kept and moved, new ones created, missing ones removed.
 */
export function renderTiles(list, people, opts) {
  const {
    selfId, local = {}, localState = {}, remote = new Map(), states = new Map(), videoPaused = false,
    linePaused = new Set(), reconnecting = new Set(), onAudioBlocked,
  } = opts;
  const existing = new Map();
  for (const li of list.children) existing.set(li.dataset.participantId, li);
  let before = list.firstElementChild;
  for (const p of people) {
    const isSelf = p.id === selfId;
    let li = existing.get(p.id);
    if (li && (li.dataset.self === 'true') !== isSelf) li = null; // a rejoin may reuse nothing
    if (li) existing.delete(p.id);
    else li = createTile(p, isSelf);
    if (isSelf) {
      updateLabel(li, p, true, localState);
      bindVideo(li, local.video || null, Boolean(localState.video));
    } else {
      const state = states.get(p.id) || {};
      const tracks = remote.get(p.id) || {};
      const held = linePaused.has(p.id);
      updateLabel(li, p, false, state, videoPaused, reconnecting.has(p.id), held);
      bindVideo(li, tracks.video || null, state.video !== false && !videoPaused && !held);
      bindAudio(li, tracks.audio || null, onAudioBlocked);
    }
    if (li !== before) list.insertBefore(li, before);
    else before = before.nextElementSibling;
  }
  for (const li of existing.values()) unbind(li);
  list.dataset.count = String(people.length);
  list.dataset.layout = layoutOf(people.length);
  list.dataset.size = sizeOf(people.length);
}

function unbind(li) {
  const b = bound.get(li);
  if (b?.video) {
    b.video.removeEventListener('mute', b.onMute);
    b.video.removeEventListener('unmute', b.onMute);
  }
  for (const m of li.querySelectorAll('video, audio')) m.srcObject = null;
  li.remove();
}

/** Removes every tile (leaving the room): no element keeps a track alive. */
export function clearTiles(list) {
  for (const li of [...list.children]) unbind(li);
}

/** Plays the server's mix of the others' voices (call.mix) in its own <audio> element, or
 *  stops it (track null); again: play once more (after a tap). */
export function bindMixAudio(audio, track, onBlocked, again = false) {
  const now = audio.srcObject?.getTracks()[0] || null;
  if (now !== track) audio.srcObject = track ? new MediaStream([track]) : null;
  if (track && (now !== track || again)) playAudio(audio, onBlocked);
  else if (track) applySpeaker(audio); // a speaker chosen since

}

/** Plays every remote <audio> again, after a tap (the "Tap here to hear" button). */
export function resumeAudio(list, onBlocked) {
  for (const audio of list.querySelectorAll('audio')) {
    if (audio.srcObject) playAudio(audio, onBlocked);
  }
}

/** The ids of remote tiles that have a received track bound (for tests, see room.mjs). */
export function tilesWithMedia(list) {
  return [...list.children].filter((li) => {
    const b = bound.get(li);
    return li.dataset.self !== 'true' && (b?.video || b?.audio);
  }).map((li) => li.dataset.participantId);
}

/** Marks the tiles of the people whose sound is above the speaking threshold. */
export function markSpeaking(list, speakingIds) {
  for (const li of list.children) li.classList.toggle('speaking', speakingIds.has(li.dataset.participantId));
}

/** Marks each tile with its person's connection when it is not good (media.quality: id ->
 *  "good" | "fair" | "poor"); a good one shows nothing. */
export function markQuality(list, levels) {
  for (const li of list.children) {
    const q = li.querySelector('.tile-quality');
    if (!q) continue;
    const level = levels.get(li.dataset.participantId);
    const bad = level === 'fair' || level === 'poor';
    q.hidden = !bad;
    q.dataset.level = bad ? level : '';
    q.textContent = bad ? t(level === 'poor' ? 'tile.connPoor' : 'tile.connFair') : '';
  }
}
