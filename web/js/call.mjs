// The call: two RTCPeerConnections with the server (docs/protocol.md "Media",
// docs/architecture.md). "pub" carries this page's microphone and camera: the page offers,
// the server answers. "sub" carries everyone else's tracks: the server offers, with a
// revision "rev" that grows with every offer, and the page answers. Every received track
// belongs to the participant named by its msid stream id.
//
// A Session (session.mjs) is one such pair. A new Session replaces the old one after every
// join (the participant id is new). When the network changes or a connection's path fails,
// the pair is first mended in place by an ICE restart (protocol.md "ICE restarts"): "pub"
// offers with restartIce(), and the server, which alone offers on "sub", is asked for a sub
// offer with new credentials (media.restart). DTLS, SRTP keys and the server's producers
// stay; media moves to the new path. Only if that does not bring media back within
// ICE_RESTART_MS (or the server released our media: error media_unavailable) does a new
// pair replace the old one, with a new DTLS fingerprint that tells the server to start
// afresh.
//
// A signaling cut does not touch the pair: the page resumes its session on a new WebSocket
// (room.mjs) and resumed() sends again what may have been lost with the old one.
//
// A page with nothing to send (camera and microphone both refused or missing) receives only
// (protocol.md "Receiving only"): its pair starts without "pub" (media.receive_only instead
// of the pub offer, so the server holds no idle connection for it), and "pub" is made and
// offered once a track comes (the person allowed the microphone after all). A server
// without media.receive_only (unknown_type) gets the pub offer as before.
//
// Events (CustomEvent):
//   status  the connection status changed (call.status, see STATUS)
//   tracks  call.remote (Map participant id -> {audio, video} MediaStreamTracks) changed
//   levels  {speaking: Set of participant ids, this page's own included}
//   speaker    call.speaker (the server's active speaker, or null) changed
//   uplink     {available, loss, pictureLoss, look}: this page's "pub" line, once a second
//              (look: true), and at each new report on its pictures (uplink.mjs)
//   quality    call.quality changed (someone's connection: good, fair, poor)
//   audioonly  call.audioOnly or call.linePaused changed: the server stopped (true) or resumed
//              video for this page, or some pictures, because of its line (adapt.mjs)
//   sharelost  the person's shared screen is no longer sent: a new pair did not share it
//              again (detail.code: the server's refusal, e.g. share_busy, if it refused)
import { isSimulcast } from './adapt.mjs';
import { Session } from './session.mjs';
import { uplinkFigures } from './uplink.mjs';
import { PathWatch, received, STALL_MS, WATCH_MS } from './pathwatch.mjs';

/** idle: no call; connecting; connected; reconnecting: a new pair is on its way; busy: the
 *  server cannot set up media now (retrying); failed: retries ran out (retry() starts
 *  again); unavailable: this server carries no media at all (not_implemented). */
export const STATUS = ['idle', 'connecting', 'connected', 'reconnecting', 'busy', 'failed', 'unavailable'];

const DISCONNECTED_GRACE_MS = 1500; // a short network blip (or a busy phone) mends itself; then an ICE restart
const ICE_RESTART_MS = 6000; // an ICE restart must bring the connections back within this
const MAX_RESTARTS_IN_ROW = 1; // a restart that did not mend the pair: a new pair
// A path that dies silently is noticed from what the connections receive (pathwatch.mjs).
const UPLINK_LOOK_MS = 1000; // uplink.mjs judges one look a second (the server reports once a second)
const NETWORK_SETTLE_MS = 1000; // a network change: restart once the new path is usable
const RESUME_SETTLE_MS = 1500; // after a resume, what the server kept for us arrives first
const RESTART_BASE_MS = 1000;
const RESTART_MAX_MS = 30000;
const RESTART_MAX_ATTEMPTS = 8; // about two minutes of tries, then ask the person
const MAX_REMEMBERED_IDS = 256;
const LEVEL_INTERVAL_MS = 500;
const SPEAKING_LEVEL = 0.04; // audioLevel (0..1, linear): clear speech is well above

// Sending settings by the number of people: the server forwards every stream to everyone
// (no simulcast), so each page receives (n - 1) of them. The tiles also get smaller.
const TIERS = [
  { upTo: 2, maxBitrate: 800000, maxFramerate: 24, scale: 1 },
  { upTo: 4, maxBitrate: 500000, maxFramerate: 24, scale: 1 },
  { upTo: 6, maxBitrate: 350000, maxFramerate: 20, scale: 1.5 },
  { upTo: Infinity, maxBitrate: 250000, maxFramerate: 15, scale: 2 },
];


export class Call extends EventTarget {
  status = 'idle';
  /** participant id -> {audio, video}: the tracks received from each person. */
  remote = new Map();
  /** The others' voices in one track, mixed by the server while this page takes no video in
   *  a group call (their own audio tracks are quiet meanwhile), or null. */
  mix = null;
  /** The room's shared screen as received (msid "screen"; whose it is: the "share" message). */
  screen = null;
  /** The server's active speaker (participant id) or null; audio only for a weak line. */
  speaker = null;
  audioOnly = false;
  /** The people whose camera picture the server holds back because this page's line cannot
   *  carry it (media.paused): their tiles show their initial, and the page says why. */
  linePaused = new Set();
  /** Each person's connection as the server rates it (media.quality): id -> level. */
  quality = new Map();
  #sendFn;
  #session = null;
  #selfId = null;
  #tracks = { audio: null, video: null };
  #ids = new Set();
  #attempts = 0;
  #restartTimer = 0;
  #graceTimer = 0;
  #levelTimer = 0;
  #watchTimer = 0;
  #watching = false;
  #uplinkAt = 0;
  #uplinkHistory = []; // uplink.mjs: the voice's counts of the last looks
  #watch = new PathWatch();
  #roomSize = 1;
  #speaking = '';
  #receiveVideo = true;
  #iceServers = [];
  #iceTtlMs = 0;
  #iceAt = 0;
  #everConnected = false;
  #blocked = false;
  #nothingToSend = false;
  #noReceiveOnly = false; // the server answered media.receive_only with unknown_type
  #networkTimer = 0;
  /** ICE restarts tried since the page opened (for tests and diagnostics). */
  iceRestarts = 0;

  /** send(msg) sends one message to the server and returns its id, or null when offline. */
  constructor(send) {
    super();
    this.#sendFn = send;
    // Wi-Fi to mobile and back: the old path may be dead before the browser notices.
    const onNetwork = () => {
      clearTimeout(this.#networkTimer);
      this.#networkTimer = setTimeout(() => this.restartIce('network change'), NETWORK_SETTLE_MS);
    };
    globalThis.navigator?.connection?.addEventListener?.('change', onNetwork);
    globalThis.addEventListener?.('online', onNetwork);
  }

  /** The current RTCPeerConnections (tests call getStats() on them), or null. */
  get pub() {
    return this.#session?.pub ?? null;
  }

  get sub() {
    return this.#session?.sub ?? null;
  }

  /** The TURN servers of welcome (docs/turn.md): [{urls, username, credential}], and how
   *  long their credentials stay valid. Used by every new pair of connections. */
  setIceServers(servers, ttlS) {
    const ok = Array.isArray(servers) && servers.every((s) => s && typeof s === 'object' &&
      (typeof s.urls === 'string' || Array.isArray(s.urls)));
    this.#iceServers = ok ? servers : [];
    this.#iceTtlMs = Number.isInteger(ttlS) && ttlS > 0 ? ttlS * 1000 : 0;
    this.#iceAt = Date.now();
  }

  get iceServers() {
    return this.#iceServers;
  }

  /** True when this call never connected and its connections fail: the network seems to
   *  block media (UDP and the media ports), not a passing blip. */
  get blocked() {
    return this.#blocked;
  }

  /** A new pair for participant selfId (after every welcome: a rejoin gets a new id). */
  start(selfId) {
    this.#selfId = selfId;
    this.#attempts = 0;
    this.#everConnected = false;
    this.#blocked = false;
    clearTimeout(this.#restartTimer);
    this.#restartTimer = 0;
    this.#setStatus('connecting');
    this.#newSession(false);
    if (!this.#receiveVideo) this.send({ type: 'media.receive', video: false }); // a new participant
    clearInterval(this.#levelTimer);
    this.#levelTimer = setInterval(() => this.#pollLevels(), LEVEL_INTERVAL_MS);
    clearInterval(this.#watchTimer);
    this.#watchTimer = setInterval(() => this.#watchPaths(), WATCH_MS);
  }

  /** The page resumed its session on a new WebSocket: the call went on; once what the
   *  server kept for us has arrived, send again what the old connection may have lost. */
  resumed() {
    const s = this.#session;
    if (!s || s.closed) return;
    s.after(RESUME_SETTLE_MS, () => s.resend());
  }

  /** Mends the live pair by an ICE restart; a new pair follows if that does not bring it
   *  back within ICE_RESTART_MS. Returns false when no restart was started. */
  restartIce(why) {
    const s = this.#session;
    if (!s || s.closed || !s.answered || !this.#selfId) return false;
    // A restart whose offer/answer is done may be followed by another (the path died again);
    // one still negotiating may not.
    if (s.iceRestarting && (s.restartId !== null || (s.pub && s.pub.signalingState !== 'stable'))) return false;
    if (s.restartsInRow >= MAX_RESTARTS_IN_ROW + 1) {
      this.fail(s, 'ICE restarts did not bring the connection back');
      return true;
    }
    s.iceRestarting = true;
    s.restartAt = Date.now();
    s.restartsInRow += 1;
    const gen = ++s.restartGen;
    this.iceRestarts += 1;
    console.info(`tandem call: ICE restart (${why})`);
    s.restartIce().catch((err) => this.fail(s, `ICE restart: ${err?.message || err}`));
    s.after(ICE_RESTART_MS, () => {
      if (s !== this.#session || s.restartGen !== gen) return;
      // Up now, or packets came on both paths after this restart (it worked; a stall since
      // is a new cut, for the watch to restart again).
      const ok = ((!s.pub || s.pub.connectionState === 'connected') &&
        (!s.sub.remoteDescription || s.sub.connectionState === 'connected')) ||
        this.#watch.carriesSince(s.restartAt + WATCH_MS, this.#paths(s));
      s.iceRestarting = false;
      if (ok) s.restartsInRow = 0;
      // The path may have died again after this restart worked (a second network change):
      // one more restart, then a new pair.
      else if (s.restartsInRow >= MAX_RESTARTS_IN_ROW || !this.restartIce('still not connected')) {
        this.fail(s, 'ICE restart did not bring the connection back');
      }
    });
    return true;
  }

  /** Ends the call (leave, or the room was lost): both connections closed. */
  stop() {
    this.#selfId = null;
    clearTimeout(this.#restartTimer);
    clearTimeout(this.#graceTimer);
    clearInterval(this.#levelTimer);
    clearInterval(this.#watchTimer);
    this.#restartTimer = 0;
    this.#session?.close();
    this.#session = null;
    this.#ids.clear();
    this.#setRemoteMap(new Map());
    this.speaker = null;
    this.audioOnly = false;
    this.linePaused.clear();
    this.quality.clear();
    this.#setStatus('idle');
  }

  /** Try again after "failed" (the person pressed the button). */
  retry() {
    if (!this.#selfId) return;
    this.#attempts = 0;
    this.#setStatus('connecting');
    this.#newSession(true);
  }

  /** Sends track as this person's shared screen (null: stops it); share.mjs. Rejects with
   *  the server's refusal ({code: "share_busy" | "forbidden" | ...}) or when not connected. */
  shareScreen(track) {
    const s = this.#session;
    if (!s) return Promise.reject(Object.assign(new Error('no call'), { code: 'busy_here' }));
    return s.shareScreen(track);
  }

  /** Called by a new Session s once it tried to share again the screen of the pair it
   *  replaced (err: why that failed, or null): "sharelost" when it failed. */
  reshared(s, err) {
    if (s !== this.#session) return; // a newer pair took it over (from s.reshare or s.screen)
    s.reshare = null;
    if (!err) return;
    console.info(`tandem call: the screen is not shared again on the new connections (${err.code || err.message})`);
    this.dispatchEvent(new CustomEvent('sharelost', { detail: { code: err.code ?? null } }));
  }

  /** The tracks to send (null: nothing of that kind); swapped in without renegotiation.
   *  nothingToSend: the devices were refused or are missing (not merely still opening): a
   *  new pair then receives only, and starts sending when a track comes. */
  setLocalTracks(tracks) {
    this.#tracks = { audio: tracks.audio || null, video: tracks.video || null };
    this.#nothingToSend = tracks.nothingToSend === true;
    this.#session?.replaceTracks(this.#tracks).catch(() => {});
  }

  /** Data saver: with false the server sends this page nobody's video (voice only), with
   *  true everyone's again. Kept for later (re)joins. */
  setReceiveVideo(on) {
    if (on === this.#receiveVideo) return;
    this.#receiveVideo = on;
    this.#watch.calm();
    if (this.#selfId) this.send({ type: 'media.receive', video: on });
  }

  get receiveVideo() {
    return this.#receiveVideo;
  }

  /** Sends media.state (microphone and camera on or off). */
  sendMediaState({ audio, video }) {
    if (this.#selfId && this.status !== 'unavailable') {
      this.send({ type: 'media.state', audio: Boolean(audio), video: Boolean(video) });
    }
  }

  /** The number of people in the room: sets how much video this page sends. */
  setRoomSize(n) {
    if (n === this.#roomSize) return;
    this.#roomSize = n;
    this.#applyBitrate();
  }

  /** Handles a server message of the media protocol; returns false for other messages. */
  handle(msg) {
    const s = this.#session;
    if (msg.type === 'answer' && msg.pc === 'pub') {
      s?.onAnswer(msg).then(() => this.#applyBitrate())
        .catch((err) => this.fail(s, `pub answer: ${err?.message || err}`));
      return true;
    }
    if (msg.type === 'offer' && msg.pc === 'sub') {
      s?.onOffer(msg);
      return true;
    }
    if (msg.type === 'ice.servers') {
      // A reply without a list (the server could not make credentials) keeps the old ones.
      if (Array.isArray(msg.ice_servers)) this.setIceServers(msg.ice_servers, msg.ice_servers_ttl_s);
      return true;
    }
    if (msg.type === 'error') return this.#onError(msg);
    if (msg.type === 'media.quality') {
      const id = typeof msg.participant === 'string' ? msg.participant : '';
      if (id && ['good', 'fair', 'poor'].includes(msg.level) && (this.quality.size < 256 || this.quality.has(id))) {
        this.quality.set(id, msg.level);
        this.dispatchEvent(new CustomEvent('quality'));
      }
      return true;
    }
    if (msg.type === 'media.speaker') {
      const id = typeof msg.participant === 'string' && msg.participant ? msg.participant : null;
      if (id !== this.speaker) {
        this.speaker = id;
        this.dispatchEvent(new CustomEvent('speaker'));
      }
      return true;
    }
    if (msg.type === 'media.paused') {
      const id = typeof msg.participant === 'string' ? msg.participant : '';
      if (id && msg.screen !== true && (this.linePaused.size < 256 || !msg.on)) {
        if (msg.on === true) this.linePaused.add(id);
        else this.linePaused.delete(id);
        // (no calm() for the path watch: the first picture and the voices keep flowing, and a
        // path that dies makes the server pause pictures too, which must not hide the death)
        this.dispatchEvent(new CustomEvent('audioonly'));
      }
      return true;
    }
    if (msg.type === 'media.audio_only') {
      this.audioOnly = msg.on === true;
      this.#watch.calm(); // the pictures stop or start on purpose
      this.dispatchEvent(new CustomEvent('audioonly'));
      return true;
    }
    return false;
  }

  /** The person's choice about automatic audio only: "auto", "video" (keep pictures even on
   *  a weak line) or "audio" (docs/protocol.md "media.audio_only"). */
  setAudioOnlyMode(mode) {
    if (this.#selfId) this.send({ type: 'media.audio_only', mode });
    if (mode === 'video' && (this.audioOnly || this.linePaused.size)) {
      this.audioOnly = false;
      this.linePaused.clear();
      this.dispatchEvent(new CustomEvent('audioonly'));
    }
  }

  /** Sends a message, remembering its id so that an error about it is recognised. */
  send(msg) {
    const id = this.#sendFn(msg);
    if (id !== null && id !== undefined) {
      this.#ids.add(id);
      if (this.#ids.size > MAX_REMEMBERED_IDS) this.#ids.delete(this.#ids.values().next().value);
    }
    return id ?? null;
  }

  #onError(err) {
    const s = this.#session;
    const mine = err.ref !== undefined && this.#ids.has(err.ref);
    if (!mine && err.code !== 'media_unavailable' && typeof err.pc !== 'string') return false;
    if (s && err.ref !== undefined && err.ref === s.shareId) {
      s.shareRefused(err).catch((e) => this.fail(s, `share refused: ${e?.message || e}`));
    } else if (s && err.ref !== undefined && err.ref === s.recvOnlyId) {
      if (err.code === 'unknown_type') { // an older server: an idle pub connection, as before
        this.#noReceiveOnly = true;
        s.startPublishing(this.#tracks).catch((e) => this.fail(s, `pub offer: ${e?.message || e}`));
      } else if (err.code === 'not_implemented') this.#unavailable();
      else if (err.code === 'media_unavailable') this.#scheduleRestart('busy');
      else this.fail(s, `receive only refused: ${err.code} ${err.message || ''}`);
    } else if (s && err.ref !== undefined && err.ref === s.pubOfferId) {
      if (err.code === 'not_implemented' || err.code === 'unknown_type') this.#unavailable();
      else if (err.code === 'media_unavailable') this.#scheduleRestart('busy');
      else this.fail(s, `pub offer refused: ${err.code} ${err.message || ''}`);
    } else if (!mine && err.code === 'media_unavailable' && s) {
      this.fail(s, err.message || 'media connection lost'); // the server released our media
    }
    // Errors about candidates, sub answers (the server offers again by itself) and
    // media.state on a server without media need nothing more.
    return true;
  }

  /** Called by a Session when one of its connections changed state. */
  onConnectionState(s) {
    if (s !== this.#session) return;
    const states = [];
    if (s.pub) states.push(s.pub.connectionState);
    if (s.sub.remoteDescription) states.push(s.sub.connectionState);
    if (!states.length) return;
    if (states.includes('failed')) {
      // A path that failed after it worked: mend it in place first (the restart's own bound
      // leads to a new pair if that does not help).
      if (s.everConnected && this.restartIce('connection failed')) return;
      if (s.iceRestarting) return;
      this.fail(s, 'connection failed');
      return;
    }
    clearTimeout(this.#graceTimer);
    if (states.includes('disconnected')) {
      this.#graceTimer = setTimeout(() => {
        if (s === this.#session && [s.pub?.connectionState, s.sub.connectionState].includes('disconnected') &&
          !this.restartIce('connection lost') && !s.iceRestarting) {
          this.fail(s, 'connection lost');
        }
      }, DISCONNECTED_GRACE_MS);
      return;
    }
    if (states.every((st) => st === 'connected')) {
      s.everConnected = true;
      if (s.iceRestarting && s.restartId === null) s.iceRestarting = false; // mended
      s.restartsInRow = 0;
      this.#attempts = 0;
      this.#everConnected = true;
      this.#blocked = false;
      this.#setStatus('connected');
    }
  }

  /** A Session's watchdog: its connections should be up by now. */
  checkConnected(s) {
    if (s !== this.#session) return;
    const pubOk = !s.pub || s.pub.connectionState === 'connected';
    const subOk = !s.sub.remoteDescription || s.sub.connectionState === 'connected';
    if (!pubOk || !subOk) this.fail(s, 'no connection in time');
  }

  /** Something went wrong with Session s: a new pair follows, after a pause. */
  fail(s, why) {
    if (s !== this.#session) return;
    console.warn(`tandem call: ${why}`);
    // Never connected and the transport itself failed: say that the network seems to block
    // calls (rather than "lost"), and whether a relay was tried.
    const transport = why === 'connection failed' || why === 'no connection in time';
    const first = s.pub || s.sub;
    if (!this.#everConnected && transport && first.connectionState !== 'connected') this.#blocked = true;
    this.#scheduleRestart('reconnecting');
  }

  /** Called by a Session after each answered sub offer. */
  setRemote(s, owners, mix, screen) {
    if (s === this.#session) this.#setRemoteMap(owners, mix, screen);
  }

  #setRemoteMap(owners, mix = null, screen = null) {
    const same = owners.size === this.remote.size && [...owners].every(([id, t]) => {
      const old = this.remote.get(id);
      return old && old.audio === t.audio && old.video === t.video;
    });
    if (same && mix === this.mix && screen === this.screen) return;
    this.remote = owners;
    this.#watch.calm(); // tracks came or went: a quiet path now may be no dead one
    this.mix = mix;
    this.screen = screen;
    this.dispatchEvent(new CustomEvent('tracks'));
  }

  #newSession(restart) {
    clearTimeout(this.#graceTimer);
    // Credentials near the end of their life: ask for fresh ones (the next pair uses them).
    if (this.#iceTtlMs && Date.now() - this.#iceAt > this.#iceTtlMs / 2) {
      this.#iceAt = Date.now();
      this.send({ type: 'ice.servers' });
    }
    const old = this.#session;
    // Nothing to send (the devices were refused or are missing): receive only.
    const receiveOnly = this.#nothingToSend && !this.#tracks.audio && !this.#tracks.video && !this.#noReceiveOnly;
    // A screen shared on the old pair is shared again on the new one once its "pub" is
    // answered (Session.shareAgain); a new pair that only receives loses it.
    const shared = old?.carriedScreen() ?? null;
    const reshare = shared && !receiveOnly ? shared : null;
    if (!reshare && (old?.screenOn || old?.reshare)) this.dispatchEvent(new CustomEvent('sharelost'));
    old?.close();
    this.#watch.reset();
    this.#setRemoteMap(new Map());
    this.linePaused.clear(); // the server's new consumers start with every picture on
    const s = new Session(this, this.#tracks, { restart, receiveOnly, reshare });
    this.#session = s;
    s.publish().catch((err) => this.fail(s, `pub offer: ${err?.message || err}`));
    // Alone in the room nothing comes to connect: there is no connection to wait for.
    if (receiveOnly) this.#setStatus('connected');
  }

  #unavailable() {
    clearTimeout(this.#restartTimer);
    this.#restartTimer = 0;
    clearInterval(this.#levelTimer);
    clearInterval(this.#watchTimer);
    this.#giveUp();
    this.#setStatus('unavailable');
  }

  /** The call stops sending (no new pair follows by itself): a screen it shared is lost. */
  #giveUp() {
    const s = this.#session;
    if (s?.screenOn || s?.reshare) this.dispatchEvent(new CustomEvent('sharelost'));
    s?.close();
    this.#session = null;
    this.#setRemoteMap(new Map());
  }

  #scheduleRestart(status) {
    if (!this.#selfId || this.#restartTimer || this.status === 'unavailable') return;
    this.#attempts += 1;
    if (this.#attempts > RESTART_MAX_ATTEMPTS) {
      this.#giveUp();
      this.#setStatus('failed');
      return;
    }
    this.#setStatus(status);
    const base = Math.min(RESTART_MAX_MS, RESTART_BASE_MS * 2 ** (this.#attempts - 1));
    // Jitter, so that a room that lost its network together does not come back at once.
    const delay = Math.round(base * (0.8 + Math.random() * 0.4));
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = 0;
      if (this.#selfId) this.#newSession(true);
    }, delay);
  }

  #setStatus(status) {
    if (status === this.status) return;
    this.status = status;
    this.dispatchEvent(new CustomEvent('status'));
  }

  #applyBitrate() {
    const s = this.#session;
    if (!s?.pubAnswered || s.closed) return;
    const tier = TIERS.find((x) => this.#roomSize <= x.upTo);
    const sender = s.video.sender;
    if (isSimulcast(sender)) return; // the server picks a layer per person instead
    const params = sender.getParameters();
    if (!params.encodings?.length) return;
    Object.assign(params.encodings[0], {
      maxBitrate: tier.maxBitrate, maxFramerate: tier.maxFramerate, scaleResolutionDownBy: tier.scale,
    });
    sender.setParameters(params).catch(() => {}); // an older browser keeps its own choice
  }

  // A connected path that brings nothing any more (Wi-Fi gone, a NAT binding lost): restart
  // ICE at once rather than after the browser's own, much later, "disconnected".
  async #watchPaths() {
    if (this.#watching) return; // a slow getStats on a busy phone: one look at a time
    this.#watching = true;
    try {
      await this.#lookAtPaths();
    } finally {
      this.#watching = false;
    }
  }

  /** The connections of s that the watch looks at (no "pub" while it receives only). */
  #paths(s) {
    return s.pub ? ['pub', 'sub'] : ['sub'];
  }

  /** Someone else's media changed on purpose (left, camera or microphone off, away): their
   *  media pausing now says nothing about this page's path (pathwatch.mjs). */
  othersChanged() {
    this.#watch.calm();
  }

  async #lookAtPaths() {
    const s = this.#session;
    // (looks go on during a restart: the path may die again, and a restart called for while
    // one still negotiates is not started: restartIce())
    if (!s || s.closed || !s.answered) return;
    for (const [label, pc] of [['pub', s.pub], ['sub', s.sub]]) {
      if (!pc) continue; // receiving only
      if (pc.connectionState !== 'connected') {
        this.#watch.look(label, null, Date.now());
        continue;
      }
      let got;
      const now = Date.now();
      try {
        const report = await pc.getStats();
        got = received(report);
        // What this page's own line can send (uplink.mjs decides about the camera).
        // Once a second, and at once when a new report on the pictures came (a heavy loss
        // is acted on without waiting for the next look).
        if (label === 'pub') {
          const look = now - this.#uplinkAt >= UPLINK_LOOK_MS;
          const fig = uplinkFigures(report, this.#uplinkHistory, look);
          if (look) this.#uplinkAt = now;
          if (look || fig.pictureLoss !== null) this.dispatchEvent(new CustomEvent('uplink', { detail: { ...fig, look } }));
        }
      } catch {
        return; // closed meanwhile
      }
      if (s !== this.#session || s.closed) return;
      const dead = this.#watch.look(label, got, Date.now());
      if (dead) {
        this.restartIce(dead);
        return;
      }
    }
    // Every path carries again since a restart: it worked.
    const now = Date.now();
    if (s.iceRestarting && now - s.restartAt > STALL_MS && this.#watch.carriesSince(s.restartAt, this.#paths(s))) {
      s.iceRestarting = false;
      s.restartsInRow = 0;
    }
  }

  // Who is speaking, from the audio levels the browser measures anyway (no extra audio
  // processing on a cheap phone).
  async #pollLevels() {
    const s = this.#session;
    if (!s || s.closed || !s.answered) return;
    const owner = new Map();
    for (const [id, t] of this.remote) if (t.audio) owner.set(t.audio.id, id);
    const speaking = new Set();
    try {
      if (owner.size) {
        (await s.sub.getStats()).forEach((r) => {
          if (r.type === 'inbound-rtp' && r.kind === 'audio' && r.audioLevel > SPEAKING_LEVEL &&
            owner.has(r.trackIdentifier)) speaking.add(owner.get(r.trackIdentifier));
        });
      }
      if (this.#tracks.audio?.enabled && s.pub) {
        (await s.pub.getStats()).forEach((r) => {
          if (r.type === 'media-source' && r.kind === 'audio' && r.audioLevel > SPEAKING_LEVEL) {
            speaking.add(this.#selfId);
          }
        });
      }
    } catch {
      return; // closed meanwhile
    }
    const key = [...speaking].sort().join(',');
    if (key === this.#speaking) return;
    this.#speaking = key;
    this.dispatchEvent(new CustomEvent('levels', { detail: { speaking } }));
  }
}
