// A voice-like sound for Chromium's fake microphone (--use-file-for-fake-audio-capture), made
// here: the default fake microphone beeps 20 ms twice a second and is silent otherwise, and
// Opus sends in-band FEC (LBRR) only for frames it takes for speech, so with the beep a test
// cannot see what FEC does. This is a pulse train at a gliding pitch (110-190 Hz) through two
// formant resonators, with a syllable rhythm (4 a second, never quite silent): Opus codes it
// as speech (SILK). 48 kHz mono 16-bit WAV; Chromium loops the file.
import { writeFileSync } from 'node:fs';

const RATE = 48000;

/** A resonator (two-pole band-pass) at hz with bandwidth bw. */
function resonator(hz, bw) {
  const r = Math.exp((-Math.PI * bw) / RATE);
  const a1 = 2 * r * Math.cos((2 * Math.PI * hz) / RATE);
  const a2 = -r * r;
  let y1 = 0;
  let y2 = 0;
  return (x) => {
    const y = (1 - r) * x + a1 * y1 + a2 * y2;
    y2 = y1;
    y1 = y;
    return y;
  };
}

/** Writes seconds of the sound to file (a path); returns file. */
export function writeVoiceWav(file, seconds = 8) {
  const n = Math.round(seconds * RATE);
  const pcm = new Float64Array(n);
  const f1 = resonator(650, 90);
  const f2 = resonator(1150, 120);
  const f3 = resonator(2500, 200);
  let phase = 0;
  let peak = 0;
  for (let i = 0; i < n; i++) {
    const t = i / RATE;
    const pitch = 150 + 40 * Math.sin(2 * Math.PI * 0.7 * t); // intonation
    phase += pitch / RATE;
    const pulse = phase >= 1 ? 1 : 0;
    if (phase >= 1) phase -= 1;
    const source = pulse - 0.02 * (Math.random() - 0.5); // a little breath noise
    const syllable = 0.35 + 0.65 * Math.abs(Math.sin(Math.PI * 4 * t * 0.5 + 0.3 * Math.sin(2 * Math.PI * 0.3 * t)));
    const v = (f1(source) + 0.6 * f2(source) + 0.25 * f3(source)) * syllable;
    pcm[i] = v;
    peak = Math.max(peak, Math.abs(v));
  }
  const data = Buffer.alloc(n * 2);
  const gain = peak > 0 ? (0.5 * 32767) / peak : 0; // about -6 dBFS at the loudest
  for (let i = 0; i < n; i++) data.writeInt16LE(Math.round(pcm[i] * gain), i * 2);
  const h = Buffer.alloc(44);
  h.write('RIFF', 0);
  h.writeUInt32LE(36 + data.length, 4);
  h.write('WAVE', 8);
  h.write('fmt ', 12);
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20); // PCM
  h.writeUInt16LE(1, 22); // mono
  h.writeUInt32LE(RATE, 24);
  h.writeUInt32LE(RATE * 2, 28);
  h.writeUInt16LE(2, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36);
  h.writeUInt32LE(data.length, 40);
  writeFileSync(file, Buffer.concat([h, data]));
  return file;
}
