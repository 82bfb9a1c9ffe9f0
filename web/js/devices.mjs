// "Camera and sound" (room.html #devices), before and during the call: which camera and
// which microphone (a switch in the call keeps it going: media.mjs useDevice, then
// replaceTrack in session.mjs), a live level of the microphone, a short tune to test the
// speaker, the speaker itself where the browser lets a page choose it (setSinkId), and on a
// phone one tap for the other camera (front or back). The choice is kept for this tab, and
// on the device with "Remember me" (media.mjs chosenDevice). Nothing here leaves the page.

import { applySpeaker, chosenDevice, rememberDevice } from './media.mjs';

const LEVEL_MS = 100;
const NOTES = [523.25, 659.25, 783.99]; // a short rising tune (C5, E5, G5)
const NOTE_S = 0.18;

/** The words for a device: its own label, or "Camera 2" before the browser tells labels. */
const NAME_KEYS = { videoinput: 'devices.cameraN', audioinput: 'devices.microphoneN', audiooutput: 'devices.speakerN' };
function deviceName(d, i, t) {
  if (d.label) return d.label;
  return t(NAME_KEYS[d.kind] ?? 'devices.microphoneN', { number: i + 1 });
}
const canChooseSpeaker = () => typeof HTMLMediaElement !== 'undefined' && 'setSinkId' in HTMLMediaElement.prototype;

export class DevicePanel {
  #ui;
  #local;
  #t;
  #audio = null; // AudioContext, made on the first need (a tap unlocks it on phones)
  #meter = null; // {track, source, analyser, timer}
  #cameras = [];

  /** ui: {root (details), camera, microphone, level, speaker, note, flip, output, outputField,
   *  list (the tiles, whose sound goes to the chosen speaker)}; local: LocalMedia. */
  constructor(ui, local, t) {
    this.#ui = ui;
    this.#local = local;
    this.#t = t;
    ui.camera.addEventListener('change', () => local.useDevice('video', ui.camera.value));
    ui.microphone.addEventListener('change', () => local.useDevice('audio', ui.microphone.value));
    ui.flip.addEventListener('click', () => this.#otherCamera());
    ui.speaker.addEventListener('click', () => this.#playTune());
    ui.output?.addEventListener('change', () => this.#useSpeaker(ui.output.value));
    ui.root.addEventListener('toggle', () => this.refresh());
    local.addEventListener('change', () => this.refresh());
    navigator.mediaDevices?.addEventListener?.('devicechange', () => this.refresh());
  }

  /** Lists the devices again and follows the tracks in use (after a change of either). */
  async refresh() {
    const ui = this.#ui;
    this.#followLevel();
    let devices = [];
    try {
      devices = await navigator.mediaDevices.enumerateDevices();
    } catch {
      // no devices to list (an old browser): the lists stay empty
    }
    this.#cameras = devices.filter((d) => d.kind === 'videoinput' && d.deviceId);
    const mics = devices.filter((d) => d.kind === 'audioinput' && d.deviceId && d.deviceId !== 'communications');
    this.#fill(ui.camera, this.#cameras, this.#local.videoTrack);
    this.#fill(ui.microphone, mics, this.#local.audioTrack);
    if (ui.output) {
      const outs = canChooseSpeaker() ? devices.filter((d) => d.kind === 'audiooutput' && d.deviceId) : [];
      ui.outputField.hidden = outs.length < 2;
      this.#fill(ui.output, outs, null);
      const chosen = chosenDevice('speaker');
      if (chosen && outs.some((d) => d.deviceId === chosen)) ui.output.value = chosen;
    }
    // One tap for the other camera: on a touch screen with more than one camera.
    const touch = window.matchMedia?.('(pointer: coarse)').matches || navigator.maxTouchPoints > 0;
    ui.flip.hidden = !(touch && this.#cameras.length > 1 && this.#local.videoTrack);
  }

  #fill(select, list, track) {
    const options = list.map((d, i) => {
      const o = document.createElement('option');
      o.value = d.deviceId;
      o.textContent = deviceName(d, i, this.#t);
      return o;
    });
    const same = options.length === select.options.length &&
      options.every((o, i) => o.value === select.options[i].value && o.textContent === select.options[i].textContent);
    if (!same) select.replaceChildren(...options);
    const inUse = track?.getSettings?.().deviceId;
    if (inUse && list.some((d) => d.deviceId === inUse)) select.value = inUse;
    select.disabled = list.length < 2;
  }

  /** The call's sound (every tile's audio) and the test tune out of this speaker. */
  #useSpeaker(id) {
    rememberDevice('speaker', id);
    for (const el of this.#ui.list?.querySelectorAll('audio') ?? []) applySpeaker(el);
    if (this.#audio && typeof this.#audio.setSinkId === 'function') this.#audio.setSinkId(id).catch(() => {});
  }

  /** The next camera of the list (a phone: from the front one to the back one and back). */
  #otherCamera() {
    if (this.#cameras.length < 2) return;
    const now = this.#local.videoTrack?.getSettings?.().deviceId;
    const i = this.#cameras.findIndex((d) => d.deviceId === now);
    const next = this.#cameras[(i + 1) % this.#cameras.length];
    this.#local.useDevice('video', next.deviceId);
  }

  #context() {
    const Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return null;
    if (!this.#audio) {
      this.#audio = new Ctx();
      const out = chosenDevice('speaker');
      if (out && typeof this.#audio.setSinkId === 'function') this.#audio.setSinkId(out).catch(() => {});
    }
    this.#audio.resume?.().catch(() => {});
    return this.#audio;
  }

  /** The level meter runs while the panel is open and a microphone is there. */
  #followLevel() {
    const track = this.#ui.root.open ? this.#local.audioTrack : null;
    if (this.#meter?.track === track) return;
    this.#stopLevel();
    if (!track) return;
    const ctx = this.#context();
    if (!ctx) return;
    const source = ctx.createMediaStreamSource(new MediaStream([track]));
    const analyser = ctx.createAnalyser();
    analyser.fftSize = 512;
    source.connect(analyser);
    const samples = new Float32Array(analyser.fftSize);
    const timer = setInterval(() => {
      analyser.getFloatTimeDomainData(samples);
      let sum = 0;
      for (const v of samples) sum += v * v;
      const rms = Math.sqrt(sum / samples.length);
      // speech sits near 0.02 to 0.2: a square root spreads it over the bar
      this.#ui.level.value = track.enabled ? Math.min(1, Math.sqrt(rms) * 1.6) : 0;
    }, LEVEL_MS);
    this.#meter = { track, source, analyser, timer };
  }

  #stopLevel() {
    if (!this.#meter) return;
    clearInterval(this.#meter.timer);
    this.#meter.source.disconnect();
    this.#meter = null;
    this.#ui.level.value = 0;
  }

  /** Three short notes through the speaker (or headphones) the page plays sound on. */
  #playTune() {
    const ctx = this.#context();
    if (!ctx) return;
    const start = ctx.currentTime + 0.05;
    NOTES.forEach((freq, i) => {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.frequency.value = freq;
      const at = start + i * NOTE_S;
      gain.gain.setValueAtTime(0.0001, at);
      gain.gain.exponentialRampToValueAtTime(0.25, at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, at + NOTE_S - 0.01);
      osc.connect(gain).connect(ctx.destination);
      osc.start(at);
      osc.stop(at + NOTE_S);
    });
    this.#ui.note.textContent = this.#t('devices.speakerPlaying');
  }

  /** Everything stops (leaving the room, quick exit). */
  stop() {
    this.#stopLevel();
    this.#audio?.close().catch(() => {});
    this.#audio = null;
  }
}
