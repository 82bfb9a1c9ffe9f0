// End to end: a call over a bad network. Two Debian Chromium pages and the server run in a
// private network namespace (tests/lib/netns.mjs); nftables rules in that namespace drop media
// packets at random (every UDP datagram from or to the server's media ports, both ways) and
// then police the server's downlink to a slow line. The rules sit on the input hook, where the
// receiving side takes packets in: dropped on output, the sender would get an error for the
// datagram and know, which a real network never tells it. What a person would notice is asserted from
// getStats(): the picture keeps moving (frames decoded per second, freeze time), the voice keeps
// being heard (samples played from what arrived), the losses really happened (packetsLost grows) and were repaired (NACKs answered,
// the publisher retransmitting what the server asked for), and on the slow line the
// publishers come down to a rate that fits instead of losing ever more.
// Needs root and `nft` (nftables, installed by scripts/install-deps.sh test); this machine's
// kernel has no netem, so delay and jitter are tested in call-delay.test.mjs, through a
// user-space relay (tests/lib/udprelay.mjs).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { insideNetns, runInNetns, setupNetns, SERVER_ADDR } from '../lib/netns.mjs';
import { startTandem, stopCleanly } from '../lib/tandem.mjs';
import { pairCall } from '../lib/paircall.mjs';
import { writeSpeechWav, writeVoiceWav } from '../lib/voicewav.mjs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const MEDIA_WAIT_MS = 30000;
const ROOM = 'weak-network-room';
const PORT_BASE = 20000;
const WORKERS = 2;
const PORTS = `${PORT_BASE}-${PORT_BASE + WORKERS - 1}`;
const LOSS_PERCENT = 5;
const WINDOW_MS = 12000;
const SLOW_KBIT_PER_PERSON = 350;
// The voice keeps coming: most of a window is played from what arrived (not concealed). Not
// the packet count: with Opus DTX (usedtx=1) a pause in the sentence sends one every 400 ms.
const HEARD_SHARE = 0.6;
const voiceFlows = (r) => r.heardSecs > HEARD_SHARE * r.secs && r.audioEnergy > 0;

if (!insideNetns()) {
  test('a call over a lossy and then a slow network (in a private network namespace)', { timeout: 400000 }, async () => {
    await runInNetns(import.meta.url, { timeoutMs: 380000 });
  });
} else {
  let server = null;
  let call = null;
  let people = [];
  let join;
  let window;
  let waitForMedia;
  let stats;
  let wavDir = null;
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  function nft(script) {
    execFileSync('nft', ['-f', '-'], { input: script, stdio: ['pipe', 'ignore', 'pipe'] });
  }
  function clearRules() {
    try { execFileSync('nft', ['delete', 'table', 'inet', 'weak'], { stdio: 'ignore' }); } catch { /* none */ }
  }
  /** Every UDP datagram from or to the media ports passes the input hook once (server and
   *  browsers share the namespace), so one table covers both directions. */
  function randomLoss(percent) {
    clearRules();
    nft(`table inet weak {
  chain rx {
    type filter hook input priority 0; policy accept;
    udp sport ${PORTS} numgen random mod 100 < ${percent} counter drop
    udp dport ${PORTS} numgen random mod 100 < ${percent} counter drop
  }
}\n`);
  }
  /** Random loss on what the server sends to one page's "sub" connection only. */
  function downlinkLoss(port, percent) {
    clearRules();
    nft(`table inet weak {
  chain rx {
    type filter hook input priority 0; policy accept;
    udp sport ${PORTS} udp dport ${port} numgen random mod 100 < ${percent} counter drop
  }
}\n`);
  }
  /** The local UDP port of a page's "sub" connection (its selected candidate pair). */
  function subPort(p) {
    return p.browser.page.evaluate(async () => {
      const r = await window.tdm.sub.getStats();
      let pairId = null;
      r.forEach((s) => { if (s.type === 'transport' && s.selectedCandidatePairId) pairId = s.selectedCandidatePairId; });
      const pair = pairId && r.get(pairId);
      const local = pair && r.get(pair.localCandidateId);
      return local ? local.port : null;
    });
  }
  /** A policer on what the server sends: a slow downlink shared by the two pages. */
  function slowDownlink(kbit) {
    clearRules();
    const bytes = Math.round((kbit * 1000) / 8);
    nft(`table inet weak {
  chain rx {
    type filter hook input priority 0; policy accept;
    udp sport ${PORTS} limit rate over ${bytes} bytes/second burst ${Math.round(bytes / 4)} bytes counter drop
  }
}\n`);
  }
  function dropCounts() {
    const out = execFileSync('nft', ['list', 'table', 'inet', 'weak'], { encoding: 'utf8' });
    return [...out.matchAll(/counter packets (\d+)/g)].map((m) => Number(m[1]));
  }

  before(async () => {
    setupNetns();
    clearRules();
    server = await startTandem({
      listen: SERVER_ADDR,
      args: ['--media-address', SERVER_ADDR, '--media-port-base', String(PORT_BASE), '--media-workers', String(WORKERS)],
    });
    // 720p: the fake camera then needs about 0.7 Mbit/s, so the slow line is a real squeeze.
    // The microphones speak (voicewav.mjs): Opus protects speech frames with in-band FEC,
    // never the silence between the default fake microphone's beeps.
    wavDir = mkdtempSync(path.join(tmpdir(), 'tandem-weak-'));
    const voiceWav = writeSpeechWav(path.join(wavDir, 'speech.wav')) || writeVoiceWav(path.join(wavDir, 'voice.wav'));
    call = pairCall(server, { room: ROOM, size: { width: 1280, height: 720 }, mediaWaitMs: MEDIA_WAIT_MS, voiceWav });
    ({ people, join, window, waitForMedia, stats } = call);
  }, { timeout: 60000 });

  after(async () => {
    clearRules();
    if (call) await call.closeAll();
    if (server) await server.stop();
    if (wavDir) rmSync(wavDir, { recursive: true, force: true });
  }, { timeout: 60000 });

  function show(t, what, rows) {
    for (const r of rows) {
      t.diagnostic(`${what}: ${r.label} receives ${r.fps.toFixed(1)} fps, frozen ${(100 * r.freezeShare).toFixed(1)} %, ` +
        `video lost ${r.videoLost}/${r.videoPackets + r.videoLost}, NACKs sent ${r.nacksSent}, PLIs sent ${r.plisSent}, ` +
        `audio ${r.audioPackets} packets, ${r.heardSecs.toFixed(1)} of ${r.audioSecs.toFixed(1)} s played decoded (${r.audioLost} lost, ${(100 * r.concealed).toFixed(1)} % concealed, ${(100 * r.voiceConcealed).toFixed(1)} % of voice, ${(100 * r.silentConcealed).toFixed(1)} % concealed silence, jitter buffer ${r.jbMs.toFixed(0)} ms, target ${r.jbTargetMs.toFixed(0)} ms, FEC packets ${r.fecPackets}); ` +
        `sends video ${r.sentKbit.toFixed(0)} kbit/s (target ${r.targetKbit}), NACKs received ${r.nacksReceived}, ` +
        `retransmitted ${r.retransmitted}; sends voice ${r.audioSentKbit.toFixed(1)} kbit/s in ${r.audioSentPackets} packets ` +
        `(${(r.audioSentPackets / r.secs).toFixed(1)} a second), ` +
        `the server reports ${r.audioReportedLoss === null ? '?' : (100 * r.audioReportedLoss).toFixed(1)} % of it lost`);
    }
  }

  test('two people on a clean network see and hear each other', { timeout: 120000 }, async (t) => {
    t.diagnostic(`the microphones play ${path.basename(call.voiceWav)}`);
    await join('amina');
    await join('jan');
    for (const p of people) await waitForMedia(p);
    show(t, 'clean', await window(4000));
  });

  test('data saver: a person who turns the others\' video off gets none, still hears them, and gets it back', { timeout: 120000 }, async (t) => {
    const [amina, jan] = people;
    const receive = (p, video) => p.browser.page.evaluate((v) => window.tdm.ws.send(JSON.stringify({ type: 'media.receive', video: v })), video);
    await receive(amina, false);
    await sleep(1500); // what was already on its way arrives
    let [r] = await window(6000);
    const janRow = (await window(3000))[1];
    t.diagnostic(`saving data: Amina got ${r.fps.toFixed(1)} fps, ${(r.sentKbit).toFixed(0)} kbit/s sent by her; audio ${r.audioPackets} packets, ${r.heardSecs.toFixed(1)} of ${r.audioSecs.toFixed(1)} s heard`);
    const s0 = await stats(amina);
    await sleep(3000);
    const s1 = await stats(amina);
    const bytes = s1.remote[jan.id].videoBytes - s0.remote[jan.id].videoBytes;
    t.diagnostic(`saving data: Amina received ${bytes} bytes of video in 3 s; Jan still receives her at ${janRow.fps.toFixed(1)} fps`);
    assert.ok(bytes < 2000, `video still flows to Amina: ${bytes} bytes in 3 s`);
    assert.ok(r.fps < 1, `Amina still decodes video: ${JSON.stringify(r)}`);
    assert.ok(voiceFlows(r), `Amina's sound stopped: ${JSON.stringify(r)}`);
    assert.ok(janRow.fps >= 8, `Jan stopped receiving Amina: ${JSON.stringify(janRow)}`);
    const on = Date.now();
    await receive(amina, true);
    const before = s1.remote[jan.id].framesDecoded;
    let back = false;
    while (!back && Date.now() - on < 10000) {
      back = (await stats(amina)).remote[jan.id].framesDecoded > before + 5;
      if (!back) await sleep(100);
    }
    assert.ok(back, 'video did not come back to Amina within 10 s');
    t.diagnostic(`video back to Amina ${Date.now() - on} ms after she asked for it`);
    [r] = await window(4000);
    assert.ok(r.fps >= 8, `Amina's video did not resume: ${JSON.stringify(r)}`);
  });

  // The server terminates RTCP: Amina's browser hears only what the server's reports say of
  // her voice. They carry the loss Jan reports for it (server/sfu/feedback.c), so her Opus
  // encoder sends in-band FEC for losses on Jan's line, which her own line does not have.
  test(`with ${LOSS_PERCENT} % lost on one listener's downlink only, the speaker protects her voice for him`,
    { timeout: 120000 }, async (t) => {
      clearRules();
      const [, jan] = people;
      const port = await subPort(jan);
      assert.ok(port, 'Jan\'s sub connection has no selected candidate pair');
      downlinkLoss(port, LOSS_PERCENT);
      await sleep(8000); // Jan's reports on her voice (every 2.5-7.5 s) reach Amina's encoder
      const rows = await window(WINDOW_MS);
      const [dropped] = dropCounts();
      t.diagnostic(`nftables dropped ${dropped} datagrams to Jan`);
      show(t, `${LOSS_PERCENT} % loss to Jan`, rows);
      const [amina, janRow] = rows;
      assert.ok(dropped > 50, `the loss rule dropped too little to mean anything: ${dropped}`);
      assert.ok(janRow.audioLost > 0, `Jan lost no audio: ${JSON.stringify(janRow)}`);
      assert.ok(amina.audioReportedLoss > 0.01, `Amina is not told of Jan's loss: ${JSON.stringify(amina)}`);
      // Her encoder protects her voice: Jan's decoder receives in-band FEC with it (libopus
      // codes FEC only in its speech modes: with the synthetic fallback voice it would not).
      if (call.voiceWav.endsWith('speech.wav')) {
        assert.ok(janRow.fecPackets > 0, `no FEC reaches Jan: ${JSON.stringify(janRow)}`);
      }
      // What Jan hears: concealed voice (FEC-rebuilt frames are not concealed; nor is a DTX
      // pause whose packet was lost, concealed as silence). A starved browser on a loaded
      // machine conceals late audio too, as much on Amina's clean line: what the loss adds
      // is Jan's share less hers. Without FEC that is about the loss.
      const added = janRow.voiceConcealed - amina.voiceConcealed;
      t.diagnostic(`the loss added ${(100 * added).toFixed(1)} % of concealed voice for Jan ` +
        `(${(100 * (janRow.concealed - amina.concealed)).toFixed(1)} % of concealed audio, silence included)`);
      assert.ok(added < LOSS_PERCENT / 100, `Jan's lost audio was not rebuilt: ${JSON.stringify(janRow)}`);
      assert.ok(voiceFlows(janRow), `the voice stopped: ${JSON.stringify(janRow)}`);
      clearRules();
    });

  test(`with ${LOSS_PERCENT} % of media packets lost each way, the picture keeps moving and the voice keeps coming`,
    { timeout: 120000 }, async (t) => {
      randomLoss(LOSS_PERCENT);
      await sleep(3000); // the first losses are repaired; then measure a steady window
      const rows = await window(WINDOW_MS);
      const dropped = dropCounts();
      t.diagnostic(`nftables dropped ${dropped[0]} datagrams from the server and ${dropped[1]} to it`);
      show(t, `${LOSS_PERCENT} % loss`, rows);
      assert.ok(dropped[0] > 50 && dropped[1] > 50, `the loss rules dropped too little to mean anything: ${dropped}`);
      for (const r of rows) {
        // packetsLost counts only what never came, so repaired losses do not show there; the
        // NACKs the page sent do.
        assert.ok(r.nacksSent > 0, `${r.label}: the browser asked for nothing again: ${JSON.stringify(r)}`);
        assert.ok(r.retransmitted > 0, `${r.label}'s browser never resent what the server asked for: ${JSON.stringify(r)}`);
        // Without retransmission, every lost packet breaks a frame until the next keyframe;
        // with it, the picture keeps moving.
        assert.ok(r.fps >= 8, `${r.label}: the picture nearly stopped: ${JSON.stringify(r)}`);
        assert.ok(r.freezeShare < 0.25, `${r.label}: the picture froze too long: ${JSON.stringify(r)}`);
        assert.ok(voiceFlows(r), `${r.label}: the voice stopped: ${JSON.stringify(r)}`);
        assert.deepEqual(r.errors, []);
      }
    });

  test(`on a downlink of ${SLOW_KBIT_PER_PERSON} kbit/s a person, the senders come down to fit and the picture keeps moving`,
    { timeout: 150000 }, async (t) => {
      slowDownlink(SLOW_KBIT_PER_PERSON * people.length);
      // The publishers' rate follows the server's REMB, which follows the subscribers' estimates.
      const deadline = Date.now() + 60000;
      let rows = null;
      let settled = false;
      while (!settled && Date.now() < deadline) {
        rows = await window(4000);
        show(t, 'slow line, adapting', rows);
        settled = rows.every((r) => r.sentKbit < SLOW_KBIT_PER_PERSON - 50); // room for the voice
      }
      assert.ok(settled, `the senders never came down under ${SLOW_KBIT_PER_PERSON - 50} kbit/s: ${JSON.stringify(rows)}`);
      rows = await window(WINDOW_MS);
      show(t, 'slow line, settled', rows);
      for (const r of rows) {
        assert.ok(r.fps >= 5, `${r.label}: the picture nearly stopped on the slow line: ${JSON.stringify(r)}`);
        assert.ok(r.freezeShare < 0.5, `${r.label}: the picture froze most of the time on the slow line: ${JSON.stringify(r)}`);
        assert.ok(voiceFlows(r), `${r.label}: the voice stopped on the slow line: ${JSON.stringify(r)}`);
      }
      clearRules();
    });

  test('the server stops cleanly (exit 0, no sanitizer report)', { timeout: 60000 }, async (t) => {
    await Promise.all(people.map((p) => p.browser.close()));
    people.length = 0;
    const s = server;
    server = null;
    await stopCleanly(t, s);
  });
}
