// Screen sharing in a call (docs/protocol.md "Screen sharing"): a mentor and a mentee look
// at one screen together (a CV, job ads, a letter from the council).
// - "Share my screen" on a computer (hidden where getDisplayMedia does not exist: most
//   phones); a phone still sees what others share. The screen goes as one more video track
//   on the page's "pub" connection, named in the pub offer (`screen`: its mid).
// - One sharer at a time: the server refuses a second one (share_busy), and someone whose
//   video a coordinator stopped (forbidden); the offer is then taken back.
// - The share ends with the button, the browser's own "Stop sharing" (the track ends), or
//   leaving; everyone gets {"type": "share", participant, on}. A new pair of connections
//   shares the screen again by itself (session.mjs shareAgain(); the others see it go and come
//   back); only if that fails ("sharelost": the screen ended, or someone else shares now)
//   does the share end here too.
// - The others see the screen big (msid "screen" in their sub offer) and the faces in a
//   strip; the server gives it priority over the camera thumbnails (media.layout tile
//   "screen"). Nothing is recorded: the picture goes from the sharer to the others only.
//
// Usage: const share = new ScreenShare(ui, {t, call, announce, notice, nameOf});
//   share.reset(me, welcome) on welcome; share.handle(msg) for every message (true: ours);
//   share.render() after the room is drawn; share.stop() when the person leaves.

/** Whether this browser can share a screen (not most phones). */
export function canShareScreen() {
  return typeof globalThis.navigator?.mediaDevices?.getDisplayMedia === 'function';
}

const REFUSAL_KEYS = { share_busy: 'share.busy', forbidden: 'share.forbidden' };

export class ScreenShare {
  /** Whose screen the room sees (participant id), or null. */
  sharer = null;
  #ui;
  #t;
  #call;
  #announce;
  #notice;
  #nameOf;
  #me = null;
  #track = null; // our screen while we share it
  #busy = false; // starting or stopping
  #shown = null; // the track in the stage's video

  constructor(ui, { t, call, announce, notice, nameOf }) {
    this.#ui = ui;
    this.#t = t;
    this.#call = call;
    this.#announce = announce;
    this.#notice = notice;
    this.#nameOf = nameOf;
    ui.button.hidden = !canShareScreen();
    ui.button.addEventListener('click', () => (this.#track ? this.#stopSharing() : this.#start()));
    ui.full.addEventListener('click', () => {
      if (document.fullscreenElement) document.exitFullscreen?.();
      else ui.stage.requestFullscreen?.().catch(() => {});
    });
    call.addEventListener('tracks', () => this.render());
    call.addEventListener('sharelost', (ev) => this.#ended(ev.detail?.code));
  }

  /** A (re)join: who shares now is in welcome's participants ("share": true). */
  reset(me, welcome) {
    this.#me = me?.id ?? null;
    this.#dropTrack();
    const p = (welcome?.participants || []).find((x) => x && x.share === true && typeof x.id === 'string');
    this.sharer = p ? p.id : null;
    this.render();
  }

  /** Handles {"type": "share"} and "left" of the sharer; returns true for "share". */
  handle(msg) {
    if (msg.type === 'left' && msg.id === this.sharer) {
      this.sharer = null;
      this.render();
      return false; // room.mjs says who left
    }
    if (msg.type === 'mod.muted' && msg.target === this.#me && msg.kind === 'video' && this.#track) {
      this.#stopSharing(); // the coordinator's rule is the camera's
      return false;
    }
    if (msg.type !== 'share' || typeof msg.participant !== 'string') return false;
    const on = msg.on === true;
    if (on === (this.sharer === msg.participant)) return true;
    if (!on && this.sharer !== msg.participant) return true;
    this.sharer = on ? msg.participant : null;
    if (msg.participant !== this.#me) {
      const name = this.#nameOf(msg.participant);
      if (name !== null) this.#announce(this.#t(on ? 'share.startedAnnounce' : 'share.stoppedAnnounce', { name }));
    }
    this.render();
    return true;
  }

  /** Stops our share (the person leaves). */
  stop() {
    this.#dropTrack();
    this.sharer = null;
    this.render();
  }

  render() {
    const ui = this.#ui;
    const mine = this.#track !== null;
    ui.button.setAttribute('aria-pressed', String(mine));
    ui.label.textContent = this.#t(mine ? 'share.stop' : 'share.start');
    ui.button.disabled = this.#busy;
    ui.mine.hidden = !mine;
    // The others' screen, big: shown while the server sends it and the room says whose.
    const track = !mine && this.sharer && this.sharer !== this.#me ? this.#call.screen : null;
    ui.stage.hidden = !track;
    ui.room.classList.toggle('sharing', Boolean(track));
    if (track) {
      const name = this.#nameOf(this.sharer);
      ui.title.textContent = this.#t('share.by', { name: name ?? '' });
    }
    if (track !== this.#shown) {
      this.#shown = track;
      ui.video.srcObject = track ? new MediaStream([track]) : null;
      if (track) ui.video.play().catch(() => {}); // muted: no gesture needed
    }
  }

  async #start() {
    if (this.#busy || !canShareScreen()) return;
    if (this.sharer && this.sharer !== this.#me) {
      this.#notice('share.busy'); // the server would refuse it too
      return;
    }
    let stream;
    try {
      stream = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: { ideal: 10, max: 15 } }, audio: false });
    } catch (err) {
      if (err?.name !== 'NotAllowedError' && err?.name !== 'AbortError') this.#notice('share.failed');
      return; // the person closed the browser's picker: nothing to say
    }
    const track = stream.getVideoTracks()[0];
    if (!track) return;
    if ('contentHint' in track) track.contentHint = 'detail'; // text stays sharp
    this.#busy = true;
    this.#track = track;
    this.render();
    track.addEventListener('ended', () => {
      if (this.#track === track) this.#stopSharing(); // the browser's own "Stop sharing"
    });
    let sent = false;
    try {
      await this.#call.shareScreen(track);
      sent = true;
    } catch (err) {
      if (this.#track === track) this.#dropTrack();
      this.#notice(REFUSAL_KEYS[err?.code] || 'share.failed');
    }
    // Stopped while the server was still answering: stop sending it now.
    if (sent && this.#track !== track) await this.#call.shareScreen(null).catch(() => {});
    this.#busy = false;
    this.render();
  }

  async #stopSharing() {
    if (!this.#track) return;
    this.#dropTrack();
    if (this.#busy) return; // #start stops it once the server answered
    this.#busy = true;
    this.render();
    try {
      await this.#call.shareScreen(null);
    } catch {
      // a pair being rebuilt carries no screen anyway
    } finally {
      this.#busy = false;
      this.render();
    }
  }

  /** The pair of connections was rebuilt and the new one could not share the screen again
   *  (code: the server's refusal, if it refused). */
  #ended(code) {
    if (!this.#track) return;
    console.info('tandem share: new connections, the screen is no longer shared');
    this.#dropTrack();
    if (REFUSAL_KEYS[code]) this.#notice(REFUSAL_KEYS[code]);
    this.render();
  }

  #dropTrack() {
    const track = this.#track;
    this.#track = null;
    track?.stop();
  }
}
