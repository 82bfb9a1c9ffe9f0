// A voice-like sound for Chromium's fake microphone (--use-file-for-fake-audio-capture), made
// here: the default fake microphone beeps 20 ms twice a second and is silent otherwise, and
// Opus sends in-band FEC (LBRR) only for frames it takes for speech, so with the beep a test
// cannot see what FEC does. Best is speech (espeak-ng): libopus's speech/music analysis
// takes the synthetic sound below for music and codes it with CELT, which has no FEC, until
// the expected loss passes about 8 %. The fallback (no espeak-ng) is a pulse train at a
// gliding pitch (110-190 Hz) through three formant resonators, with a syllable rhythm (4 a
// second, dips between them). 48 kHz mono 16-bit WAV; Chromium loops the file.
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';

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

function writeWav(file, pcm, gain) {
  const n = pcm.length;
  const data = Buffer.alloc(n * 2);
  for (let i = 0; i < n; i++) data.writeInt16LE(Math.max(-32768, Math.min(32767, Math.round(pcm[i] * gain))), i * 2);
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

const SPEECH = 'Hello everyone, thank you for joining the call today. We are going to talk about ' +
  'the schedule for next week, and who can help with the evening meals. Please say if the ' +
  'sound is clear for you.';

/** Speech from espeak-ng (Opus takes it for speech: SILK, FEC on every voiced frame), made
 *  into a 48 kHz mono WAV at file. Returns file, or null without espeak-ng. */
export function writeSpeechWav(file) {
  const raw = `${file}.espeak.wav`;
  try {
    execFileSync('espeak-ng', ['-v', 'en', '-s', '150', '-w', raw, SPEECH], { stdio: 'ignore', timeout: 30000 });
  } catch {
    return null;
  }
  const b = readFileSync(raw);
  rmSync(raw, { force: true });
  // RIFF chunks: fmt (rate, 16-bit mono expected) and data
  let rate = 0;
  let pcm = null;
  for (let off = 12; off + 8 <= b.length;) {
    const id = b.toString('ascii', off, off + 4);
    const len = b.readUInt32LE(off + 4);
    const body = off + 8;
    if (id === 'fmt ') {
      if (b.readUInt16LE(body) !== 1 || b.readUInt16LE(body + 2) !== 1 || b.readUInt16LE(body + 14) !== 16) return null;
      rate = b.readUInt32LE(body + 4);
    } else if (id === 'data') {
      const n = Math.floor(Math.min(len, b.length - body) / 2);
      pcm = new Float64Array(n);
      for (let i = 0; i < n; i++) pcm[i] = b.readInt16LE(body + 2 * i);
    }
    off = body + len + (len & 1);
  }
  if (!rate || !pcm || pcm.length < rate) return null;
  const n = Math.floor((pcm.length * RATE) / rate); // linear resampling to 48 kHz
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const x = (i * rate) / RATE;
    const k = Math.floor(x);
    const f = x - k;
    out[i] = pcm[k] * (1 - f) + (k + 1 < pcm.length ? pcm[k + 1] : 0) * f;
  }
  return writeWav(file, out, 1);
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
    // syllables, 4 a second: voiced for 72 % of each, then a near-silent dip (-34 dB), as
    // between syllables of speech (Opus's voice detection keeps its noise floor low)
    const u = (4 * t + 0.2 * Math.sin(2 * Math.PI * 0.3 * t)) % 1;
    const syllable = 0.02 + (u < 0.72 ? 0.98 * Math.sin((Math.PI * u) / 0.72) : 0);
    const v = (f1(source) + 0.6 * f2(source) + 0.25 * f3(source)) * syllable;
    pcm[i] = v;
    peak = Math.max(peak, Math.abs(v));
  }
  return writeWav(file, pcm, peak > 0 ? (0.5 * 32767) / peak : 0); // about -6 dBFS at the loudest
}
