// A call that adapts to each person's line (docs/protocol.md "media.layout",
// "media.speaker", "media.audio_only"; docs/architecture.md "Allocation"):
//  - the camera is sent as simulcast: up to three VP8 layers (rid q, h, f: a quarter, half
//    and all of the camera's resolution), one layer only when the camera is small or the page
//    saves data. The server forwards each other person the one layer that fits their line.
//  - the page tells the server how big each tile is on screen, in device pixels, and which
//    are hidden, so a thumbnail never gets the top layer and a hidden tile no video at all.
//  - the server names the active speaker (from the audio level of everyone's packets) and
//    says when this page's line is too weak for any picture (voice only for now).

// rid order is the server's layer order: lowest first (docs/protocol.md).
const LAYERS = [
  { rid: 'q', scaleResolutionDownBy: 4, maxBitrate: 150000 },
  { rid: 'h', scaleResolutionDownBy: 2, maxBitrate: 500000 },
  { rid: 'f', scaleResolutionDownBy: 1, maxBitrate: 1500000 },
];
const SMALL_CAMERA_PX = 360; // below this height a quarter picture is a stamp: one layer
const LAYOUT_DELAY_MS = 300; // a resize in progress sends one message, not dozens
const MAX_TILES = 64; // protocol.md

/** sendEncodings for the camera's transceiver: three layers, or null (one, the default). */
export function videoEncodings(track, { saveData = false } = {}) {
  if (saveData || typeof RTCRtpSender === 'undefined') return null;
  const height = track?.getSettings?.().height;
  if (height && height < SMALL_CAMERA_PX) return null;
  return LAYERS.map((l) => ({ ...l }));
}

/** Whether this transceiver sends simulcast (its bitrate is then the server's business). */
export function isSimulcast(sender) {
  return (sender?.getParameters?.().encodings?.length || 0) > 1;
}

/** Watches the tiles of list (li[data-participant-id], not data-self) and sends
 *  {type: "media.layout", tiles: [...]} whenever their size or visibility changes. Extra
 *  elements (the shared screen: data-participant-id "screen") are reported too. */
export class LayoutReporter {
  #list;
  #extra = [];
  #send;
  #timer = 0;
  #last = '';
  #visible = new Map(); // li -> intersecting the viewport
  #resize;
  #intersect;
  #mutate;

  constructor(list, send) {
    this.#list = list;
    this.#send = send;
    this.#resize = new ResizeObserver(() => this.schedule());
    this.#intersect = new IntersectionObserver((entries) => {
      for (const e of entries) this.#visible.set(e.target, e.isIntersecting);
      this.schedule();
    });
    this.#mutate = new MutationObserver(() => this.#observeTiles());
    this.#mutate.observe(list, { childList: true });
    this.#observeTiles();
  }

  /** Reports el (data-participant-id) as well, while it is not hidden. */
  watch(el) {
    this.#extra.push(el);
    this.#resize.observe(el);
    this.#intersect.observe(el);
    new MutationObserver(() => this.schedule()).observe(el, { attributes: true, attributeFilter: ['hidden'] });
  }

  #observeTiles() {
    for (const li of this.#list.children) {
      this.#resize.observe(li);
      this.#intersect.observe(li);
    }
    this.schedule();
  }

  /** Send again soon (after a layout change the observers cannot see, e.g. a sheet opened). */
  schedule() {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#report(), LAYOUT_DELAY_MS);
  }

  /** Forget what was sent (a new connection: the server knows nothing yet). */
  reset() {
    this.#last = '';
    this.schedule();
  }

  #report() {
    const dpr = window.devicePixelRatio || 1;
    const tiles = [];
    for (const li of [...this.#extra.filter((e) => !e.hidden), ...this.#list.children]) {
      if (li.dataset.self === 'true' || !li.dataset.participantId || tiles.length >= MAX_TILES) continue;
      const r = li.getBoundingClientRect();
      // A hidden tab still counts as shown: its person comes back to a live picture.
      const shown = !li.hidden && this.#visible.get(li) !== false;
      tiles.push({
        participant: li.dataset.participantId,
        width: Math.min(16384, Math.round(r.width * dpr)),
        height: Math.min(16384, Math.round(r.height * dpr)),
        visible: shown && r.width > 0 && r.height > 0,
      });
    }
    const key = JSON.stringify(tiles);
    if (key === this.#last) return;
    if (this.#send({ type: 'media.layout', tiles }) !== null) this.#last = key;
  }
}

/** Marks the tile of the server's active speaker (null: nobody). */
export function markActiveSpeaker(list, id) {
  for (const li of list.children) li.classList.toggle('active-speaker', li.dataset.participantId === id);
}
