// The person's own camera and microphone. Settings suit weak links and cheap phones
// (640x360 at 24 frames a second, mono speech with echo cancellation and noise
// suppression); when the camera cannot be used the call goes on with voice only, and every
// device problem has a plain sentence (MEDIA_PROBLEM_KEYS) instead of a browser's error name.
//
// A turned-off camera is stopped, not only disabled: its light goes out and nothing is
// captured. A muted microphone is disabled (the browser sends silence), so that unmuting
// is instant and asks nothing again.
//
// Events (CustomEvent): "change" whenever a track starts, stops, mutes or ends.
import { storage } from './i18n.mjs';

export const VIDEO_CONSTRAINTS = {
  width: { ideal: 640 },
  height: { ideal: 360 },
  frameRate: { ideal: 24, max: 24 },
  facingMode: { ideal: 'user' },
};
export const AUDIO_CONSTRAINTS = {
  echoCancellation: true,
  noiseSuppression: true,
  autoGainControl: true,
  channelCount: { ideal: 1 },
};

// Translation keys, written out in full so tests/integration/pages.test.mjs can check them.
export const MEDIA_PROBLEM_KEYS = {
  denied: 'device.denied',
  notFound: 'device.notFound',
  noCamera: 'device.noCamera',
  noMicrophone: 'device.noMicrophone',
  busy: 'device.busy',
  constraints: 'device.constraints',
  unsupported: 'device.unsupported',
  failed: 'device.failed',
};

const VOICE_ONLY_KEY = 'tandem.voiceOnly';
const SAVE_DATA_KEY = 'tandem.saveData';

/** Whether the person turned the others' video off to save data in this tab. */
export function saveDataWish() {
  return storage('sessionStorage')?.getItem(SAVE_DATA_KEY) === '1';
}

export function rememberSaveData(on) {
  const s = storage('sessionStorage');
  if (!s) return;
  if (on) s.setItem(SAVE_DATA_KEY, '1');
  else s.removeItem(SAVE_DATA_KEY);
}

/** Whether the person chose "voice only" earlier in this tab (sessionStorage: gone with it). */
export function voiceOnlyWish() {
  return storage('sessionStorage')?.getItem(VOICE_ONLY_KEY) === '1';
}

export function rememberVoiceOnly(on) {
  const s = storage('sessionStorage');
  if (!s) return;
  if (on) s.setItem(VOICE_ONLY_KEY, '1');
  else s.removeItem(VOICE_ONLY_KEY);
}

/** A problem name (a key of MEDIA_PROBLEM_KEYS) for a getUserMedia error. */
export function problemOf(err, kind = 'both') {
  switch (err?.name) {
    case 'NotAllowedError':
    case 'SecurityError':
    case 'PermissionDeniedError':
      return 'denied';
    case 'NotFoundError':
    case 'DevicesNotFoundError':
      if (kind === 'video') return 'noCamera';
      if (kind === 'audio') return 'noMicrophone';
      return 'notFound';
    case 'NotReadableError':
    case 'TrackStartError':
    case 'AbortError':
      return 'busy';
    case 'OverconstrainedError':
    case 'ConstraintNotSatisfiedError':
      return 'constraints';
    case 'TypeError':
      return 'unsupported';
    default:
      return 'failed';
  }
}

function canCapture() {
  return Boolean(navigator.mediaDevices?.getUserMedia);
}

// The camera, microphone and speaker the person chose (devices.mjs): for this tab, and on
// this device too when the person ticked "Remember me" (profile.mjs keeps them then).
const DEVICE_KEYS = { audio: 'tandem.device.audio', video: 'tandem.device.video', speaker: 'tandem.device.speaker' };
const REMEMBERED_DEVICE_KEYS = {
  audio: 'tandem.remembered.device.audio',
  video: 'tandem.remembered.device.video',
  speaker: 'tandem.remembered.device.speaker',
};
const DEVICE_ID = /^[\x21-\x7e]{1,256}$/;
const REMEMBERED_NAME_KEY = 'tandem.remembered.name'; // set only with "Remember me" (profile.mjs)

/** The device id chosen for kind ('audio' | 'video' | 'speaker'): in this tab, or
 *  remembered on this device; null when none. */
export function chosenDevice(kind) {
  const id = storage('sessionStorage')?.getItem(DEVICE_KEYS[kind]) ??
    storage('localStorage')?.getItem(REMEMBERED_DEVICE_KEYS[kind]);
  return id && DEVICE_ID.test(id) ? id : null;
}

export function rememberDevice(kind, id) {
  const s = storage('sessionStorage');
  const local = storage('localStorage');
  const keep = Boolean(local?.getItem(REMEMBERED_NAME_KEY));
  if (id && !DEVICE_ID.test(id)) return;
  if (s) {
    if (id) s.setItem(DEVICE_KEYS[kind], id);
    else s.removeItem(DEVICE_KEYS[kind]);
  }
  if (local && keep) {
    if (id) local.setItem(REMEMBERED_DEVICE_KEYS[kind], id);
    else local.removeItem(REMEMBERED_DEVICE_KEYS[kind]);
  }
}

/** Sound of the call out of the chosen speaker, where the browser lets a page choose one. */
export function applySpeaker(el) {
  const id = chosenDevice('speaker');
  if (id && typeof el?.setSinkId === 'function' && el.sinkId !== id) el.setSinkId(id).catch(() => {});
}

/** The constraints of kind with the chosen device: `exact` asks for that one only, else it
 *  is a wish (a device that is gone, unplugged since, does not stop the call). */
function constraintsFor(kind, exact = false) {
  const base = kind === 'audio' ? { ...AUDIO_CONSTRAINTS } : { ...VIDEO_CONSTRAINTS };
  const device = chosenDevice(kind);
  if (device) {
    base.deviceId = exact ? { exact: device } : { ideal: device };
    delete base.facingMode; // the chosen camera, whichever side it faces
  }
  return base;
}

/** getUserMedia: the chosen devices first (browsers weigh an `ideal` device id against the
 *  other wishes and may open another camera), then with the choice as a wish only (the device
 *  is gone), then without the size and rate wishes when the camera refuses them. */
async function capture(audio, video) {
  const ask = (exact) => navigator.mediaDevices.getUserMedia({
    audio: audio ? constraintsFor('audio', exact) : false, video: video ? constraintsFor('video', exact) : false,
  });
  const chosen = (audio && chosenDevice('audio')) || (video && chosenDevice('video'));
  if (chosen) {
    try {
      return await ask(true);
    } catch (err) {
      if (!['constraints', 'notFound'].includes(problemOf(err))) throw err;
    }
  }
  try {
    return await ask(false);
  } catch (err) {
    if (!video || problemOf(err) !== 'constraints') throw err;
    return navigator.mediaDevices.getUserMedia({ audio: audio ? constraintsFor('audio') : false, video: true });
  }
}

export class LocalMedia extends EventTarget {
  audioTrack = null;
  videoTrack = null;
  micMuted = false;
  /** The last device problem (a key of MEDIA_PROBLEM_KEYS), or null. */
  problem = null;
  #busy = null;
  // Whether the camera should be on: a camera that arrives after the person said "off" (a
  // slow getUserMedia still on its way) is stopped at once.
  #wantVideo = false;
  // Between start() and stop(): a device that arrives after stop() is stopped at once.
  #active = false;

  get micOn() {
    return Boolean(this.audioTrack) && !this.micMuted;
  }

  get cameraOn() {
    return Boolean(this.videoTrack);
  }

  /**
   * Starts the microphone and, unless voiceOnly, the camera. Never rejects: whatever could
   * not start is left null and this.problem says why. When the camera fails for a reason
   * other than a refusal, the microphone is tried alone (the call goes on with voice only).
   */
  start({ voiceOnly = false } = {}) {
    this.#wantVideo = !voiceOnly;
    this.#active = true;
    if (voiceOnly) this.#stopTrack('videoTrack');
    return this.#serial(() => this.#start());
  }

  async #start() {
    const wantVideo = this.#wantVideo;
    this.problem = null;
    if (!canCapture()) {
      this.problem = 'unsupported';
      return this.#changed();
    }
    const needAudio = !this.audioTrack;
    const needVideo = wantVideo && !this.videoTrack;
    if (!needAudio && !needVideo) return this.#changed();
    try {
      this.#adopt(await capture(needAudio, needVideo));
    } catch (err) {
      const problem = problemOf(err, needAudio && needVideo ? 'both' : needVideo ? 'video' : 'audio');
      if (!(needAudio && needVideo) || problem === 'denied' || problem === 'unsupported') {
        this.problem = problem;
        return this.#changed();
      }
      // Voice only, then, and say what happened to the camera.
      try {
        this.#adopt(await capture(true, false));
        this.problem = problem === 'notFound' ? 'noCamera' : problem;
      } catch (err2) {
        this.problem = problemOf(err2, 'audio');
      }
    }
    return this.#changed();
  }

  /** Turns the camera on (asks the browser again) or off (stops it). Resolves when done. */
  setCamera(on) {
    this.#wantVideo = on;
    if (!on) {
      this.#stopTrack('videoTrack');
      this.#changed();
      return Promise.resolve();
    }
    return this.#serial(async () => {
      if (this.videoTrack || !this.#wantVideo) return;
      this.problem = null;
      if (!canCapture()) {
        this.problem = 'unsupported';
        return;
      }
      try {
        this.#adopt(await capture(false, true));
      } catch (err) {
        this.problem = problemOf(err, 'video');
      }
      this.#changed();
    });
  }

  /** Mutes (disables) or unmutes the microphone; starts it if it never started. */
  setMicrophone(on) {
    this.micMuted = !on;
    if (this.audioTrack) {
      this.audioTrack.enabled = on;
      this.#changed();
      return Promise.resolve();
    }
    if (!on) {
      this.#changed();
      return Promise.resolve();
    }
    return this.#serial(async () => {
      if (this.audioTrack || !canCapture()) return;
      this.problem = null;
      try {
        this.#adopt(await capture(true, false));
      } catch (err) {
        this.problem = problemOf(err, 'audio');
      }
      this.#changed();
    });
  }

  /**
   * Uses another camera or microphone (kind 'audio' | 'video'): the new one is opened first,
   * then put in the old one's place (the call swaps it in with replaceTrack, session.mjs), then
   * the old one stops. Resolves true when the switch happened; a device that cannot open
   * leaves the old one working. Without a running device the choice waits for the next start.
   */
  useDevice(kind, deviceId) {
    const slot = kind === 'audio' ? 'audioTrack' : 'videoTrack';
    rememberDevice(kind, deviceId);
    return this.#serial(async () => {
      if (!this[slot] || !canCapture() || this[slot].getSettings?.().deviceId === deviceId) return false;
      const wish = { ...constraintsFor(kind), deviceId: { exact: deviceId } };
      let stream;
      try {
        stream = await navigator.mediaDevices.getUserMedia({ [kind]: wish });
      } catch (err) {
        this.problem = problemOf(err, kind);
        this.#changed();
        return false;
      }
      if (!this.#active || !this[slot] || (slot === 'videoTrack' && !this.#wantVideo)) {
        for (const track of stream.getTracks()) track.stop();
        return false;
      }
      this.#stopTrack(slot);
      this.#adopt(stream);
      this.problem = null;
      this.#changed();
      return true;
    });
  }

  /** Stops everything (leaving the room): camera and microphone lights go out. */
  stop() {
    this.#wantVideo = false;
    this.#active = false;
    this.#stopTrack('audioTrack');
    this.#stopTrack('videoTrack');
    this.micMuted = false;
    this.problem = null;
    this.#changed();
  }

  #adopt(stream) {
    for (const track of stream.getTracks()) {
      const slot = track.kind === 'audio' ? 'audioTrack' : 'videoTrack';
      if (!this.#active || this[slot] || (slot === 'videoTrack' && !this.#wantVideo)) {
        track.stop(); // one already (a second start raced), or the camera is not wanted now
        continue;
      }
      this[slot] = track;
      if (slot === 'audioTrack') track.enabled = !this.micMuted;
      // A camera unplugged or taken by the system ends its track: show it as off.
      track.addEventListener('ended', () => {
        if (this[slot] !== track) return;
        this[slot] = null;
        this.#changed();
      });
    }
  }

  #stopTrack(slot) {
    const track = this[slot];
    this[slot] = null;
    track?.stop();
  }

  // One getUserMedia at a time: a second tap on "camera on" must not open two cameras.
  #serial(fn) {
    const run = (this.#busy || Promise.resolve()).then(fn, fn);
    this.#busy = run.catch(() => {});
    return run;
  }

  #changed() {
    this.dispatchEvent(new CustomEvent('change'));
  }
}
