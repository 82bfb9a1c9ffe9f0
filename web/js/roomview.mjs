// The room page's view: render() draws the form, the call's controls and notices, the tiles
// and the "you have left" page from the page's state (room.mjs, which holds it and talks to
// the server), so a change of language only needs another render().
import { t } from './i18n.mjs';
import { errorText, lostText } from './errors.mjs';
import { renderTiles, bindMixAudio, markQuality } from './tiles.mjs';
import { MEDIA_PROBLEM_KEYS } from './media.mjs';
import { ROLES } from './profile.mjs';

export const $ = (id) => document.getElementById(id);
export const ui = {
  prejoin: $('prejoin'), form: $('join-form'), name: $('name'), nameError: $('name-error'),
  joinAs: $('join-as'), remember: $('remember'), joinError: $('join-error'), join: $('join-button'),
  voiceOnly: $('voice-only'),
  preview: $('preview'), previewVideo: $('preview-video'), previewText: $('preview-text'),
  previewButton: $('preview-button'),
  room: $('room'), roomTitle: $('room-title'), status: $('room-status'), list: $('participants'), mixAudio: $('mix-audio'), weakNotice: $('weak-notice'), weakText: $('weak-text'), weakVideo: $('weak-video'), upNotice: $('uplink-notice'), upCamera: $('uplink-camera'),
  leave: $('leave-button'), left: $('left'), leftTitle: $('left-title'), rejoin: $('rejoin-button'),
  leftText: $('left-text'), lobbyWait: $('lobby-wait'),
  notice: $('room-notice'),
  callNotice: $('call-notice'), callText: $('call-text'), callRetry: $('call-retry'),
  deviceNotice: $('device-notice'), deviceText: $('device-text'), deviceRetry: $('device-retry'),
  hear: $('hear-button'), mic: $('mic-button'), micLabel: $('mic-label'),
  camera: $('camera-button'), cameraLabel: $('camera-label'),
  saver: $('saver-button'), saverLabel: $('saver-label'),
  banner: $('banner'), bannerText: $('banner-text'), bannerButton: $('banner-button'),
  announcer: $('announcer'), badLink: $('bad-link'), badLinkText: $('bad-link-text'),
};

// What the call bar and the call notice say, by call.status (call.mjs).
const CALL_TEXT_KEYS = {
  reconnecting: 'call.reconnecting',
  busy: 'call.busy',
  failed: 'call.failed',
  unavailable: 'call.unavailable',
};

// What the page says when the server ended the call for this person.
const END_KEYS = {
  removed: { heading: 'end.removedHeading', text: 'end.removedText' },
  ended: { heading: 'end.endedHeading', text: 'end.endedText' },
  // The same person came in again elsewhere (another tab, a second device with the pass).
  replaced: { heading: 'end.replacedHeading', text: 'end.replacedText', rejoin: true },
};

const JOIN_AS_KEYS = { mentee: 'prejoin.asMentee', mentor: 'prejoin.asMentor', coordinator: 'prejoin.asCoordinator' };

export function show(el, visible) {
  el.hidden = !visible;
}

/** The role of a link without an invite token (a server in open-rooms mode, for trying
 *  Tandem out): #role=mentor in the link; else the remembered one; else mentee. */
export function fragmentRole() {
  const role = new URLSearchParams(window.location.hash.slice(1)).get('role');
  return ROLES.includes(role) ? role : null;
}

/** The plain sentence for a device problem of media.mjs. */
function problemText(problem) {
  return Object.hasOwn(MEDIA_PROBLEM_KEYS, problem) ? t(MEDIA_PROBLEM_KEYS[problem]) : t('device.failed');
}

/** The page's render(), drawing from these (room.mjs makes them all before the first call). */
export function roomView({ state, local, call, uplink, mod, aids, share, onAudioBlocked }) {
  let previewTrack = null;

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
    const known = state.linkRole || fragmentRole();
    show(ui.joinAs, Boolean(known));
    ui.joinAs.textContent = known ? t(JOIN_AS_KEYS[known]) : '';
    const joining = state.phase === 'joining';
    const waiting = joining || !state.ready;
    let label = t('prejoin.join');
    if (joining) label = t('prejoin.joining');
    else if (!state.ready) label = t('prejoin.gettingReady');
    ui.join.textContent = label;
    // Wired now: the button takes presses again (one while getting ready is kept for later).
    ui.join.disabled = false;
    ui.join.setAttribute('aria-disabled', String(waiting));
    ui.form.setAttribute('aria-busy', String(waiting));
    show(ui.nameError, Boolean(state.nameProblem));
    ui.nameError.textContent = state.nameProblem ? t(state.nameProblem) : '';
    ui.name.setAttribute('aria-invalid', String(Boolean(state.nameProblem) ||
      (state.joinError?.code === 'bad_field' && state.joinError.field === 'name')));
    show(ui.joinError, Boolean(state.joinError));
    ui.joinError.textContent = state.joinError
      ? errorText(state.joinError, { maxParticipants: state.maxParticipants }) : '';
  }

  function renderPreview() {
    const track = state.phase === 'prejoin' || state.phase === 'joining' ? local.videoTrack : null;
    if (track !== previewTrack) {
      previewTrack = track;
      ui.previewVideo.srcObject = track ? new MediaStream([track]) : null;
      if (track) ui.previewVideo.play().catch(() => {});
    }
    ui.preview.dataset.video = track ? 'on' : 'off';
    let text = t('prejoin.previewHint');
    if (local.problem) text = problemText(local.problem);
    else if (ui.voiceOnly.checked) text = t('prejoin.previewVoiceOnly');
    ui.previewText.textContent = text;
    show(ui.previewButton, !track && !ui.voiceOnly.checked && state.phase === 'prejoin');
  }

  function renderControls() {
    const unavailable = call.status === 'unavailable';
    show(ui.mic, !unavailable);
    show(ui.camera, !unavailable);
    ui.mic.dataset.on = String(local.micOn);
    ui.micLabel.textContent = local.micOn ? t('call.mute') : t('call.unmute');
    ui.mic.setAttribute('aria-disabled', String(state.locked.audio && !local.micOn));
    ui.camera.dataset.on = String(local.cameraOn);
    ui.cameraLabel.textContent = local.cameraOn ? t('call.cameraOff') : t('call.cameraOn');
    ui.camera.setAttribute('aria-disabled', String(state.locked.video && !local.cameraOn));
    ui.saver.setAttribute('aria-pressed', String(!call.receiveVideo));
    ui.saverLabel.textContent = call.receiveVideo ? t('call.saveData') : t('call.showVideos');
    show(ui.saver, call.status !== 'unavailable');
    show(ui.hear, state.audioBlocked && call.remote.size > 0);

    let callKey = CALL_TEXT_KEYS[call.status];
    if (call.blocked && (call.status === 'reconnecting' || call.status === 'failed')) {
      callKey = call.iceServers.length ? 'call.blockedRelay' : 'call.blocked';
    }
    show(ui.callNotice, Boolean(callKey));
    ui.callNotice.dataset.kind = call.status === 'failed' ? 'problem' : 'info';
    ui.callText.textContent = callKey ? t(callKey) : '';
    show(ui.callRetry, call.status === 'failed');
    show(ui.weakNotice, (call.audioOnly || call.linePaused.size > 0) && call.status === 'connected');
    ui.weakText.textContent = t(call.audioOnly ? 'call.weakVoiceOnly' : 'call.weakSomePaused');
    show(ui.upNotice, uplink.paused && call.status === 'connected');
    ui.list.dataset.audioOnly = String(call.audioOnly);
    ui.callRetry.textContent = t('device.retry');
    show(ui.deviceNotice, Boolean(local.problem) && !unavailable);
    ui.deviceText.textContent = local.problem ? problemText(local.problem) : '';
  }

  function renderRoom() {
    const people = state.me ? [state.me, ...state.others.values()] : [];
    renderTiles(ui.list, people, {
      selfId: state.me?.id,
      local: { audio: local.audioTrack, video: local.videoTrack },
      // Without media on this server, "microphone off" on your own tile would only confuse.
      localState: call.status === 'unavailable' ? {} : { audio: local.micOn, video: local.cameraOn },
      remote: call.remote,
      states: state.remoteStates,
      videoPaused: !call.receiveVideo,
      linePaused: call.linePaused,
      reconnecting: state.away,
      onAudioBlocked,
    });
    bindMixAudio(ui.mixAudio, call.mix, onAudioBlocked);
    markQuality(ui.list, call.quality);
    call.setRoomSize(people.length);
    mod.render([...state.others.values()]);
    aids.render(people);
    share.render();
    renderControls();
    ui.list.setAttribute('aria-busy', String(state.conn !== 'ok'));
    show(ui.notice, Boolean(state.notice));
    let noticeText = '';
    if (state.notice?.key) noticeText = t(state.notice.key);
    else if (state.notice) noticeText = errorText(state.notice);
    ui.notice.textContent = noticeText;
    ui.status.textContent = state.conn === 'ok'
      ? t('room.status', { count: people.length })
      : t('room.statusReconnecting');
    ui.room.dataset.count = String(people.length);
  }

  /** "Camera and sound" goes with the person: under the preview, then in the room's head. */
  function placeDevices(inRoom) {
    const panel = $('devices');
    const slot = inRoom ? $('devices-in-room') : ui.preview;
    if (inRoom ? panel.parentElement !== slot : panel.previousElementSibling !== slot) {
      if (inRoom) slot.append(panel);
      else slot.after(panel);
    }
  }

  function render() {
    if (!state.room || state.linkProblem) {
      show(ui.badLink, true);
      show(ui.prejoin, false);
      ui.badLinkText.textContent = state.linkProblem ? errorText(state.linkProblem) : t('badLink.text');
      return;
    }
    if (!state.ready) { // only the button changes while the words have not come
      renderForm();
      return;
    }
    const inRoom = state.phase === 'in-room';
    document.body.dataset.phase = state.phase;
    placeDevices(inRoom);
    show(ui.prejoin, state.phase === 'prejoin' || state.phase === 'joining');
    renderPreview();
    show(ui.room, inRoom);
    show(ui.left, state.phase === 'left');
    const end = state.endedBy && END_KEYS[state.endedBy];
    ui.leftTitle.textContent = end ? t(end.heading) : t('left.heading');
    ui.leftText.textContent = end ? t(end.text) : t('left.text');
    show(ui.rejoin, !end || end.rejoin === true);
    show(ui.lobbyWait, state.lobbyWaiting && state.phase === 'joining');
    renderBanner();
    renderForm();
    if (inRoom) renderRoom();
  }

  return render;
}
