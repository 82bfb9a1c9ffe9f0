// One Session of the call (call.mjs): a pair of RTCPeerConnections with the server, "pub"
// (this page's microphone, camera and shared screen; the page offers) and "sub" (everyone
// else's tracks; the server offers), and their negotiation: offers and answers, trickled
// candidates, ICE restarts and what is sent again after a resume. The Call (call.mjs) owns
// the current Session, replaces it by a new pair when it cannot be mended, and decides when
// to restart ICE; a Session calls back into it (send, onConnectionState, checkConnected,
// setRemote, fail), and the Call ignores what a replaced Session says.
//
// The page's sending side never needs renegotiation: "pub" always offers one audio and one
// video m-section (sendonly), and turning the camera or microphone on or off swaps the
// track with replaceTrack (the server keeps the producer while the SSRC stays the same).
import { videoEncodings } from './adapt.mjs';

const RTC_CONFIG = { bundlePolicy: 'max-bundle', rtcpMuxPolicy: 'require' };
const CONNECT_TIMEOUT_MS = 25000; // from an answer to a connected transport
const STEP_TIMEOUT_MS = 15000; // one offer/answer step of the browser; a stuck one would block all later offers
const CANDIDATE_MAX = 512; // protocol.md

/** mid -> {kind, stream} for every m-section of an SDP the remote side sends on. */
export function sendingSections(sdp) {
  const out = new Map();
  let cur = null;
  const flush = () => {
    if (cur && cur.mid !== null && cur.port !== '0' && cur.stream && cur.stream !== '-' &&
      (cur.dir === 'sendonly' || cur.dir === 'sendrecv')) {
      out.set(cur.mid, { kind: cur.kind, stream: cur.stream });
    }
  };
  for (const line of sdp.split(/\r?\n/)) {
    if (line.startsWith('m=')) {
      flush();
      const [kind, port] = line.slice(2).split(' ');
      cur = { kind, port, mid: null, stream: null, dir: 'sendrecv' };
    } else if (cur) {
      let m;
      if ((m = /^a=mid:(\S+)/.exec(line))) cur.mid = m[1];
      else if ((m = /^a=msid:(\S+)/.exec(line))) cur.stream = m[1];
      else if ((m = /^a=ssrc:\d+ msid:(\S+)/.exec(line)) && !cur.stream) cur.stream = m[1];
      else if (/^a=(sendonly|recvonly|sendrecv|inactive)$/.test(line)) cur.dir = line.slice(2);
    }
  }
  flush();
  return out;
}

/** p, or a rejection after ms. */
function within(p, ms, what) {
  let timer;
  const late = new Promise((resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no result after ${ms} ms`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

export class Session {
  closed = false;
  answered = false; // the pub answer is applied, or receive-only was asked: sub offers may follow
  pubOfferId = null;
  recvOnlyId = null; // the id of media.receive_only, while this pair receives only
  pubAnswered = false; // the pub answer is applied
  lastRev = 0;
  nextOffer = null; // the newest sub offer not yet handled
  subBusy = false;
  lastAnswer = null; // {sdp, rev}: the latest sub answer sent (sent again after a resume)
  restartId = null; // the id of a pub offer of an ICE restart awaiting its answer
  iceRestarting = false; // an ICE restart is under way (bounded by ICE_RESTART_MS)
  everConnected = false; // both connections were up once: a failure is mended by a restart
  restartGen = 0; // the latest restart's number (its timer checks that it is still the latest)
  restartsInRow = 0; // restarts since both connections were last seen up
  restartAt = 0;
  screen = null; // the transceiver of the person's shared screen, once shared (share.mjs)
  screenOn = false;
  shareId = null; // the id of a pub offer that starts or stops a share, awaiting its answer
  reshare = null; // the screen the pair this one replaced shared: shared again once "pub" is answered
  #shareWait = null;
  #queued = { pub: [], sub: [] };
  #trickle = { pub: false, sub: false };
  #ended = { pub: false, sub: false };
  #timers = new Set();

  constructor(call, tracks, { restart, receiveOnly = false, reshare = null }) {
    this.call = call;
    this.restart = restart;
    this.reshare = reshare;
    this.pub = null; // null while this pair receives only
    this.sub = this.#connection('sub');
    if (!receiveOnly) this.#makePub(tracks);
  }

  #connection(label) {
    const pc = new RTCPeerConnection({ ...RTC_CONFIG, iceServers: this.call.iceServers });
    pc.addEventListener('icecandidate', (ev) => this.#onCandidate(label, ev.candidate));
    pc.addEventListener('connectionstatechange', () => this.call.onConnectionState(this));
    return pc;
  }

  #makePub(tracks) {
    this.pub = this.#connection('pub');
    const stream = new MediaStream(); // its id is replaced by ours on the server
    const init = { direction: 'sendonly', streams: [stream] };
    this.audio = this.pub.addTransceiver(tracks.audio || 'audio', init);
    // Simulcast layers, unless the camera is small or the page saves data (adapt.mjs).
    const layers = videoEncodings(tracks.video, { saveData: !this.call.receiveVideo });
    this.video = this.pub.addTransceiver(tracks.video || 'video', layers ? { ...init, sendEncodings: layers } : init);
  }

  close() {
    this.closed = true;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    this.pub?.close();
    this.sub.close();
  }

  after(ms, fn) {
    const t = setTimeout(() => {
      this.#timers.delete(t);
      if (!this.closed) fn();
    }, ms);
    this.#timers.add(t);
  }

  replaceTracks({ audio, video }) {
    if (!this.pub) return audio || video ? this.startPublishing({ audio, video }) : Promise.resolve();
    const swaps = [];
    if (this.audio.sender.track !== audio) swaps.push(this.audio.sender.replaceTrack(audio));
    if (this.video.sender.track !== video) swaps.push(this.video.sender.replaceTrack(video));
    return Promise.all(swaps);
  }

  async publish() {
    if (!this.pub) {
      // Nothing to send: the server's sub offers without a pub connection.
      this.recvOnlyId = this.call.send({ type: 'media.receive_only' });
      this.answered = true;
      this.after(CONNECT_TIMEOUT_MS, () => this.call.checkConnected(this));
      this.pumpSub();
      return;
    }
    const offer = await this.pub.createOffer();
    if (this.closed) return;
    await this.pub.setLocalDescription(offer);
    if (this.closed) return;
    this.pubOfferId = this.call.send(this.#pubOffer());
  }

  /** A pub offer; while a screen is shared it names its mid (protocol.md "Screen sharing"). */
  #pubOffer() {
    const msg = { type: 'offer', pc: 'pub', sdp: this.pub.localDescription.sdp };
    if (this.screenOn && this.screen?.mid) msg.screen = this.screen.mid;
    return msg;
  }

  /** Sends track as the screen, or with null stops sending it: a new pub offer. Resolves
   *  when the server answered; rejects with the server's error (the offer is rolled back). */
  async shareScreen(track) {
    // (a pair that receives only has nothing to add a screen to until its devices come back)
    if (this.closed || !this.pub || !this.pubAnswered || this.pub.signalingState !== 'stable' || this.shareId !== null) {
      throw Object.assign(new Error('the connection is busy'), { code: 'busy_here' });
    }
    if (track && !this.screen) {
      this.screen = this.pub.addTransceiver(track, { direction: 'sendonly', streams: [new MediaStream()] });
    } else if (this.screen) {
      await this.screen.sender.replaceTrack(track);
      this.screen.direction = track ? 'sendonly' : 'inactive';
    }
    this.screenOn = Boolean(track);
    await within(this.pub.setLocalDescription(await this.pub.createOffer()), STEP_TIMEOUT_MS, 'share offer');
    if (this.closed) throw new Error('closed');
    const done = new Promise((resolve, reject) => { this.#shareWait = { resolve, reject }; });
    this.shareId = this.call.send(this.#pubOffer());
    if (this.shareId === null) this.#shareDone(new Error('offline'));
    return within(done, STEP_TIMEOUT_MS, 'share answer');
  }

  /** The screen a new pair shares again (its reshare): this pair's share once the server took
   *  it, or the one it was itself to share again; null when none (one still being started or
   *  stopped is lost with this pair). */
  carriedScreen() {
    if (this.reshare) return this.reshare;
    return this.screenOn && this.shareId === null ? this.screen?.sender.track ?? null : null;
  }

  /** Shares again the screen of the pair this one replaced (reshare), as shareScreen() does.
   *  Resolves with null, or with why not: the screen ended meanwhile, or the server refused
   *  it (share_busy: someone else shares now; forbidden). */
  async shareAgain() {
    const track = this.reshare;
    try {
      if (track.readyState !== 'live') throw new Error('the screen ended');
      await this.shareScreen(track);
    } catch (err) {
      return err;
    }
    // Stopped while the offer was on its way (share.mjs found the connection busy).
    if (track.readyState !== 'live') this.shareScreen(null).catch(() => {});
    return null;
  }

  /** The server refused the share offer (share_busy, forbidden, bad_field): take it back. */
  async shareRefused(err) {
    try {
      await this.pub.setLocalDescription({ type: 'rollback' });
      this.screenOn = false;
      this.screen?.sender.replaceTrack(null).catch(() => {});
      if (this.screen) this.screen.direction = 'inactive';
    } finally {
      this.#shareDone(Object.assign(new Error(err.message || err.code), { code: err.code }));
    }
  }

  #shareDone(err) {
    const w = this.#shareWait;
    this.#shareWait = null;
    this.shareId = null;
    if (w && err) w.reject(err);
    else if (w) w.resolve();
  }

  async onAnswer(msg) {
    if (msg.ref !== undefined && msg.ref === this.shareId) {
      try {
        await this.pub.setRemoteDescription({ type: 'answer', sdp: String(msg.sdp) });
        this.#shareDone(null);
      } catch (err) {
        this.#shareDone(err);
        throw err;
      }
      return;
    }
    if (msg.ref !== undefined && msg.ref === this.restartId) {
      this.restartId = null;
      if (typeof msg.sdp !== 'string') throw new Error('pub answer without sdp');
      await this.pub.setRemoteDescription({ type: 'answer', sdp: msg.sdp }); // new ICE credentials
      return;
    }
    if (this.pubAnswered || msg.ref === undefined || msg.ref !== this.pubOfferId) return;
    if (typeof msg.sdp !== 'string') throw new Error('pub answer without sdp');
    this.pubAnswered = true;
    this.answered = true;
    await this.pub.setRemoteDescription({ type: 'answer', sdp: msg.sdp });
    if (this.closed) return;
    this.#startTrickle('pub');
    this.after(CONNECT_TIMEOUT_MS, () => this.call.checkConnected(this));
    this.pumpSub();
    if (this.reshare) this.shareAgain().then((err) => this.call.reshared(this, err));
  }

  onOffer(msg) {
    if (!Number.isSafeInteger(msg.rev) || typeof msg.sdp !== 'string' || msg.rev <= this.lastRev) return;
    // Offers sent before the server saw this pair's pub offer were for the pair it released.
    if (this.restart && !this.answered) return;
    this.lastRev = msg.rev;
    this.nextOffer = msg; // a newer offer replaces one that waits: only the newest is answered
    this.pumpSub();
  }

  /** Answers sub offers one at a time, the newest first; a failure rebuilds the pair. */
  async pumpSub() {
    if (this.subBusy || !this.answered || !this.nextOffer) return;
    this.subBusy = true;
    try {
      while (this.nextOffer && !this.closed) {
        const offer = this.nextOffer;
        this.nextOffer = null;
        await within(this.sub.setRemoteDescription({ type: 'offer', sdp: offer.sdp }), STEP_TIMEOUT_MS, 'sub offer');
        if (this.closed) return;
        const answer = await within(this.sub.createAnswer(), STEP_TIMEOUT_MS, 'sub answer');
        if (this.closed) return;
        await within(this.sub.setLocalDescription(answer), STEP_TIMEOUT_MS, 'sub answer');
        if (this.closed) return;
        // A newer offer came meanwhile: the server would ignore this answer as stale.
        if (this.nextOffer) continue;
        this.lastAnswer = { sdp: this.sub.localDescription.sdp, rev: offer.rev };
        this.call.send({ type: 'answer', pc: 'sub', ...this.lastAnswer });
        this.#startTrickle('sub');
        this.call.setRemote(this, ...this.#owners());
        this.after(CONNECT_TIMEOUT_MS, () => this.call.checkConnected(this));
      }
    } catch (err) {
      if (!this.closed) this.call.fail(this, `sub offer: ${err?.message || err}`);
    } finally {
      this.subBusy = false;
    }
  }

  /** A pair that received only starts sending (tracks came, or an older server refused
   *  media.receive_only): "pub" is made and offered; "sub" goes on as it is. */
  startPublishing(tracks) {
    if (this.pub || this.closed) return Promise.resolve();
    this.recvOnlyId = null;
    this.#makePub(tracks);
    return this.publish();
  }

  /** ICE restart of both connections (RFC 8445 §9): "pub" offers with new credentials, and
   *  the server is asked for a "sub" offer with new ones. The DTLS association stays. */
  async restartIce() {
    if (this.closed || !this.answered) return;
    if (!this.pub) { // receiving only: "sub" alone
      if (this.sub.remoteDescription) this.call.send({ type: 'media.restart', pc: 'sub' });
      return;
    }
    if (!this.pubAnswered || this.pub.signalingState !== 'stable') return;
    // The server's sub offer makes its way while the browser makes the pub offer.
    if (this.sub.remoteDescription) this.call.send({ type: 'media.restart', pc: 'sub' });
    this.pub.restartIce();
    const offer = await within(this.pub.createOffer({ iceRestart: true }), STEP_TIMEOUT_MS, 'restart offer');
    if (this.closed) return;
    await within(this.pub.setLocalDescription(offer), STEP_TIMEOUT_MS, 'restart offer');
    if (this.closed) return;
    this.restartId = this.call.send(this.#pubOffer());
  }

  /** After a resume: what the old WebSocket may have lost on its way to the server. */
  resend() {
    if (this.pub?.signalingState === 'have-local-offer' && this.pub.localDescription) {
      const id = this.call.send(this.#pubOffer());
      if (this.shareId !== null) this.shareId = id;
      else if (this.pubAnswered) this.restartId = id;
      else this.pubOfferId = id;
    }
    // A request lost with the old connection (no offer came since: asking again costs nothing).
    if (!this.pub && this.recvOnlyId !== null && this.lastRev === 0) {
      this.recvOnlyId = this.call.send({ type: 'media.receive_only' });
    }
    // A stale answer is ignored by the server; one it never got unblocks its next offer.
    if (this.lastAnswer) this.call.send({ type: 'answer', pc: 'sub', ...this.lastAnswer });
    if (this.iceRestarting && this.sub.remoteDescription) this.call.send({ type: 'media.restart', pc: 'sub' });
  }

  /** [participant id -> {audio, video}, mix, screen]: the transceivers the server sends on,
   *  by msid; mix: the track of the msid "mix" (the others' voices mixed by the server, for a
   *  listener without video in a group call; docs/architecture.md "Opus mix"), or null;
   *  screen: the track of the msid "screen" (the room's shared screen), or null. */
  #owners() {
    const sections = sendingSections(this.sub.remoteDescription?.sdp || '');
    const owners = new Map();
    let mix = null;
    let screen = null;
    for (const tr of this.sub.getTransceivers()) {
      const info = tr.mid !== null ? sections.get(tr.mid) : undefined;
      const dir = tr.currentDirection;
      if (!info || !tr.receiver.track || (dir !== 'recvonly' && dir !== 'sendrecv')) continue;
      if (info.stream === 'mix') { // no participant id is 3 characters long
        if (info.kind === 'audio') mix = tr.receiver.track;
        continue;
      }
      if (info.stream === 'screen') { // nor 6 characters long
        if (info.kind === 'video') screen = tr.receiver.track;
        continue;
      }
      const entry = owners.get(info.stream) || {};
      const kind = info.kind === 'audio' ? 'audio' : 'video';
      if (!entry[kind]) entry[kind] = tr.receiver.track;
      owners.set(info.stream, entry);
    }
    return [owners, mix, screen];
  }

  // The server is ICE-lite and needs no candidates (protocol.md), but takes them: they are
  // sent once the connection's first offer/answer is complete, so that a server without
  // media gets none.
  #onCandidate(label, c) {
    if (this.#ended[label]) return;
    let payload = null;
    if (c && c.candidate) {
      if (c.candidate.length > CANDIDATE_MAX) return;
      payload = { candidate: c.candidate, sdpMid: c.sdpMid ?? null, sdpMLineIndex: c.sdpMLineIndex ?? null };
    } else {
      this.#ended[label] = true;
    }
    if (this.#trickle[label]) this.call.send({ type: 'candidate', pc: label, candidate: payload });
    else this.#queued[label].push(payload);
  }

  #startTrickle(label) {
    if (this.#trickle[label]) return;
    this.#trickle[label] = true;
    for (const candidate of this.#queued[label].splice(0)) {
      this.call.send({ type: 'candidate', pc: label, candidate });
    }
  }
}
