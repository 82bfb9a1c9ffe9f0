// Two people in a call, for the network e2e tests (call-weak-network, call-delay): each a
// Debian Chromium page running tests/lib/callclient.mjs, and what each receives from the
// other over a window of time, read from getStats() at its two ends.
import assert from 'node:assert/strict';
import { launchChromium } from './browsers.mjs';
import { pageJoin, pageStats } from './callclient.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** server: from startTandem; the pages join `room` with `size` ({width, height}) video;
 *  voiceWav: a WAV file the fake microphones play instead of their beep (voicewav.mjs). */
export function pairCall(server, { room, size = {}, mediaWaitMs = 30000, voiceWav = null }) {
  const people = []; // {label, browser, id}
  const stats = (p) => p.browser.page.evaluate(pageStats);
  const other = (p) => people.find((q) => q !== p);

  async function join(label) {
    const browser = await launchChromium(label, { args: voiceWav ? [`--use-file-for-fake-audio-capture=${voiceWav}`] : [] });
    await browser.page.goto(`${server.url}/`);
    const id = await browser.page.evaluate(pageJoin, { wsUrl: server.wsUrl, room, name: label, ...size });
    const person = { label, browser, id };
    people.push(person);
    return person;
  }

  /** Waits (bounded) until p decodes the other's video and hears them. */
  async function waitForMedia(p) {
    const from = other(p).id;
    const deadline = Date.now() + mediaWaitMs;
    let s = null;
    while (Date.now() < deadline) {
      s = await stats(p);
      const r = s.remote[from];
      if (r && r.framesDecoded > 0 && r.audioEnergy > 0) return s;
      await sleep(250);
    }
    assert.fail(`${p.label} receives nothing from ${other(p).label}: ${JSON.stringify(s)}`);
  }

  /** Per person: what they received from the other and sent during the next `ms`. */
  async function window(ms) {
    const a = await Promise.all(people.map(stats));
    await sleep(ms);
    const b = await Promise.all(people.map(stats));
    return people.map((p, i) => {
      const from = other(p).id;
      const r0 = a[i].remote[from];
      const r1 = b[i].remote[from];
      const s0 = a[i].sent;
      const s1 = b[i].sent;
      const secs = ms / 1000;
      return {
        label: p.label,
        secs,
        rttMs: Math.round(1000 * (b[i].rtt?.sub ?? NaN)),
        fps: (r1.framesDecoded - r0.framesDecoded) / secs,
        freezeShare: (r1.freezeSeconds - r0.freezeSeconds) / secs,
        videoLost: r1.videoLost - r0.videoLost,
        videoPackets: r1.videoPackets - r0.videoPackets,
        nacksSent: (r1.nacks ?? 0) - (r0.nacks ?? 0),
        plisSent: (r1.plis ?? 0) - (r0.plis ?? 0),
        audioPackets: r1.audioPackets - r0.audioPackets,
        audioLost: r1.audioLost - r0.audioLost,
        // What a person hears, which packet counts no longer tell (Opus DTX: a pause sends a
        // packet every 400 ms): seconds played out, and of them decoded from what came.
        audioSecs: (r1.totalSamples - r0.totalSamples) / 48000,
        heardSecs: (r1.totalSamples - r1.concealedSamples - (r0.totalSamples - r0.concealedSamples)) / 48000,
        audioEnergy: r1.audioEnergy - r0.audioEnergy,
        concealed: (r1.concealedSamples - r0.concealedSamples) / Math.max(1, r1.totalSamples - r0.totalSamples),
        silentConcealed: ((r1.silentConcealed ?? 0) - (r0.silentConcealed ?? 0)) / Math.max(1, r1.totalSamples - r0.totalSamples),
        // what is heard as a broken voice: concealment less that of silence (with Opus DTX a
        // lost packet of a pause is concealed as silence until the next: no voice is missing)
        voiceConcealed: (r1.concealedSamples - r0.concealedSamples - ((r1.silentConcealed ?? 0) - (r0.silentConcealed ?? 0))) /
          Math.max(1, r1.totalSamples - r0.totalSamples),
        // the audio jitter buffer: its mean delay and target over the window (ms)
        jbMs: (1000 * ((r1.jbDelay ?? 0) - (r0.jbDelay ?? 0))) / Math.max(1, (r1.jbEmitted ?? 0) - (r0.jbEmitted ?? 0)),
        jbTargetMs: (1000 * ((r1.jbTarget ?? 0) - (r0.jbTarget ?? 0))) / Math.max(1, (r1.jbEmitted ?? 0) - (r0.jbEmitted ?? 0)),
        fecPackets: (r1.fecPackets ?? 0) - (r0.fecPackets ?? 0),
        sentKbit: ((s1.videoBytes - s0.videoBytes) * 8) / ms,
        retransmitted: s1.retransmitted - s0.retransmitted,
        nacksReceived: s1.nacksReceived - s0.nacksReceived,
        targetKbit: Math.round((s1.targetBitrate || 0) / 1000),
        audioSentKbit: (((s1.audioBytes ?? 0) - (s0.audioBytes ?? 0)) * 8) / ms,
        audioSentPackets: (s1.audioPackets ?? 0) - (s0.audioPackets ?? 0),
        audioReportedLoss: s1.audioReportedLoss ?? null,
        errors: b[i].errors,
      };
    });
  }

  return { people, join, stats, waitForMedia, window, voiceWav, closeAll: () => Promise.all(people.map((p) => p.browser.close().catch(() => {}))) };
}
