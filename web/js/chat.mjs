// The chat of a room (docs/protocol-sync-chat.md): texts with emoji, reactions, and
// pictures. A picture is drawn again through a canvas before it leaves the device: that
// applies the camera's orientation and drops Exif, with the GPS position a phone writes
// there, which for the people this service is for can be the address of a shelter.
// Names and texts are people's text: textContent only, dir="auto", never HTML.
//
// Usage: const chat = mountChat(container, {signaling, t, me, room, participants});
// mount before (or when) `welcome` arrives; chat.destroy() when leaving. The panel is an
// EventTarget: 'message' (detail {message, mine}) for an unread badge.

// Translation keys, in one table (every visible string is in web/i18n/*.json).
const K = {
  heading: 'talk.heading',
  empty: 'talk.empty',
  label: 'talk.label',
  send: 'talk.send',
  emoji: 'talk.emoji',
  picture: 'talk.picture',
  react: 'talk.react',
  reactWith: 'talk.reactWith',
  reactionCount: 'talk.reactionCount',
  remove: 'talk.delete',
  you: 'talk.you',
  pictureFrom: 'talk.pictureFrom',
  pictureGone: 'talk.pictureGone',
  sending: 'talk.sending',
  preparing: 'talk.preparing',
  cancel: 'talk.cancel',
  someone: 'talk.someone',
  errTooFast: 'talk.errTooFast',
  errPictureBig: 'talk.errPictureBig',
  errPicture: 'talk.errPicture',
  errBusy: 'talk.errBusy',
  errGone: 'talk.errGone',
  errForbidden: 'talk.errForbidden',
  errLong: 'talk.errLong',
  errGeneric: 'talk.errGeneric',
  errLost: 'talk.errLost',
};

const TEXT_MAX_BYTES = 2000;
const PICTURE_MAX_BYTES = 2 * 1024 * 1024;
const PICTURE_MAX_SIDE = 2048;
const UNACKED_MAX = 4; // pieces in flight (the protocol allows 4)
// The server allows 20 messages a second per connection (burst 50); pieces leave at most
// 12 a second so that keep-alives and texts still fit.
const PIECES_PER_S = 12;
const COMPOSE_EMOJI = ['😀', '😂', '😊', '😍', '🙏', '👍', '❤️', '😢', '😮', '🎉', '👋', '☕'];
const REACT_EMOJI = ['👍', '❤️', '😂', '😮', '😢', '🙏'];

const encoder = new TextEncoder();

function el(tag, props = {}, children = []) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'class') e.className = v;
    else if (k in e) e[k] = v;
    else e.setAttribute(k, v);
  }
  e.append(...children);
  return e;
}

/** What the server accepts as a text: LF newlines only, no other control characters, no
 *  white space at the ends (docs/protocol-sync-chat.md, chat.send). */
export function cleanText(s) {
  return s.replace(/\r\n?/g, '\n').replace(/\t/g, ' ')
    .replace(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/g, '').trim();
}

/** base64url without padding (RFC 4648 section 5), as the protocol's `data`. */
export function toBase64url(bytes) {
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    bin += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** The picture drawn again as a JPEG of at most 2048 pixels a side: orientation applied,
 *  every byte of metadata left behind. Resolves with the bytes. */
export async function reencodePicture(file, maxSide = PICTURE_MAX_SIDE) {
  const bitmap = await createImageBitmap(file, { imageOrientation: 'from-image' });
  try {
    for (const [side, quality] of [[maxSide, 0.85], [maxSide, 0.7], [Math.round(maxSide / 2), 0.7]]) {
      const scale = Math.min(1, side / Math.max(bitmap.width, bitmap.height));
      const canvas = document.createElement('canvas');
      canvas.width = Math.max(1, Math.round(bitmap.width * scale));
      canvas.height = Math.max(1, Math.round(bitmap.height * scale));
      const ctx = canvas.getContext('2d');
      ctx.fillStyle = '#ffffff'; // JPEG has no transparency
      ctx.fillRect(0, 0, canvas.width, canvas.height);
      ctx.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
      const blob = await new Promise((resolve) => canvas.toBlob(resolve, 'image/jpeg', quality));
      if (!blob) throw new Error('the browser could not encode the picture');
      const bytes = new Uint8Array(await blob.arrayBuffer());
      if (bytes.length <= PICTURE_MAX_BYTES) return bytes;
    }
    throw Object.assign(new Error('picture too big'), { code: 'picture_too_big' });
  } finally {
    bitmap.close();
  }
}

export function mountChat(container, opts) {
  return new ChatPanel(container, opts);
}

export class ChatPanel extends EventTarget {
  #o;
  #names = new Map();
  #access = null;
  #items = new Map(); // message id -> {li, message}
  #mine = new Map(); // request id -> kind ('text', 'react', 'delete')
  #upload = null;
  #error = null;
  ui = {};

  /** opts: signaling (signaling.mjs), t (i18n), me {id, name, role}, room (id),
   *  participants (array of {id, name, role}). */
  constructor(container, opts) {
    super();
    this.#o = opts;
    for (const p of opts.participants || []) this.#names.set(p.id, p.name);
    this.#build(container);
    opts.signaling.addEventListener('message', this.#onMessage);
    opts.signaling.addEventListener('lost', this.#onLost);
    this.retranslate();
  }

  destroy() {
    this.#o.signaling.removeEventListener('message', this.#onMessage);
    this.#o.signaling.removeEventListener('lost', this.#onLost);
    this.#upload = null;
    this.ui.root.remove();
  }

  // ---- the DOM ----

  #build(container) {
    const u = this.ui;
    u.heading = el('h2', { class: 'chat-heading', id: 'chat-heading' });
    u.empty = el('p', { class: 'chat-empty hint' });
    u.log = el('ol', { class: 'chat-log', role: 'log', 'aria-live': 'polite', 'aria-labelledby': 'chat-heading' });
    u.error = el('p', { class: 'alert chat-error', role: 'alert', hidden: true });
    u.progress = el('progress', { class: 'chat-progress', max: 1, value: 0 });
    u.progressText = el('span', { class: 'chat-progress-text' });
    u.cancel = el('button', { type: 'button', class: 'button chat-cancel' });
    u.uploading = el('div', { class: 'chat-uploading', hidden: true, role: 'status' },
      [u.progressText, u.progress, u.cancel]);
    u.label = el('label', { htmlFor: 'chat-text', class: 'visually-hidden' });
    u.text = el('textarea', { id: 'chat-text', class: 'chat-text', dir: 'auto', rows: 2, enterKeyHint: 'send', autocomplete: 'off' });
    u.send = el('button', { type: 'submit', class: 'button primary chat-send' });
    u.emojiButton = el('button', { type: 'button', class: 'button chat-emoji-button', 'aria-expanded': 'false', 'aria-controls': 'chat-emoji' });
    u.emoji = el('div', { class: 'chat-emoji', id: 'chat-emoji', hidden: true },
      COMPOSE_EMOJI.map((e) => el('button', { type: 'button', class: 'chat-emoji-pick', textContent: e })));
    // Hidden from everyone: the picture button is the control people reach and hear; it
    // opens this chooser (a hidden file input still opens it when clicked by the script).
    u.file = el('input', { type: 'file', accept: 'image/*', id: 'chat-file', hidden: true });
    u.pictureButton = el('button', { type: 'button', class: 'button chat-picture-button' });
    u.form = el('form', { class: 'chat-form', noValidate: true }, [
      u.label, u.text, el('div', { class: 'chat-tools' }, [u.emojiButton, u.pictureButton, u.file, u.send]), u.emoji]);
    u.root = el('section', { class: 'chat', 'aria-labelledby': 'chat-heading' },
      [u.heading, u.empty, u.log, u.uploading, u.error, u.form]);
    container.append(u.root);

    u.form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      this.#sendText();
    });
    u.text.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
        ev.preventDefault();
        this.#sendText();
      }
    });
    u.emojiButton.addEventListener('click', () => {
      u.emoji.hidden = !u.emoji.hidden;
      u.emojiButton.setAttribute('aria-expanded', String(!u.emoji.hidden));
    });
    u.emoji.addEventListener('click', (ev) => {
      const pick = ev.target.closest('.chat-emoji-pick');
      if (pick) this.#insert(pick.textContent);
    });
    u.pictureButton.addEventListener('click', () => u.file.click());
    u.file.addEventListener('change', () => {
      const f = u.file.files[0];
      u.file.value = '';
      if (f) this.sendPicture(f);
    });
    u.cancel.addEventListener('click', () => this.#endUpload(null));
  }

  /** Sets every label again (after a change of language). */
  retranslate() {
    const { t } = this.#o;
    const u = this.ui;
    u.heading.textContent = t(K.heading);
    u.empty.textContent = t(K.empty);
    u.label.textContent = t(K.label);
    u.send.textContent = t(K.send);
    u.emojiButton.textContent = '🙂';
    u.emojiButton.setAttribute('aria-label', t(K.emoji));
    u.emojiButton.title = t(K.emoji);
    u.pictureButton.textContent = t(K.picture);
    u.cancel.textContent = t(K.cancel);
    for (const { li, message } of this.#items.values()) this.#fill(li, message);
    this.#renderState();
  }

  #insert(s) {
    const ta = this.ui.text;
    const start = ta.selectionStart ?? ta.value.length;
    const end = ta.selectionEnd ?? start;
    ta.value = ta.value.slice(0, start) + s + ta.value.slice(end);
    ta.selectionStart = ta.selectionEnd = start + s.length;
    ta.focus();
  }

  // ---- sending ----

  #request(msg, kind) {
    const id = this.#o.signaling.send(msg);
    if (id === null) {
      this.#showError(K.errLost);
      return null;
    }
    this.#mine.set(id, kind);
    if (this.#mine.size > 256) this.#mine.delete(this.#mine.keys().next().value);
    return id;
  }

  #sendText() {
    const text = cleanText(this.ui.text.value);
    if (!text) return;
    if (encoder.encode(text).length > TEXT_MAX_BYTES) {
      this.#showError(K.errLong);
      return;
    }
    if (this.#request({ type: 'chat.send', text }, 'text') !== null) this.ui.text.value = '';
  }

  react(messageId, emoji) {
    this.#request({ type: 'chat.react', message: messageId, emoji }, 'react');
  }

  remove(messageId) {
    this.#request({ type: 'chat.delete', message: messageId }, 'delete');
  }

  /** Re-encodes a picture file and uploads it in pieces. Resolves when it is posted or
   *  refused (the panel shows what happened). */
  async sendPicture(file, caption = '') {
    if (this.#upload) return;
    const up = { state: 'preparing', bytes: null, upload: 0, offset: 0, acked: 0, inFlight: new Set(),
      beginId: 0, chunk: 0, lastSent: 0, tokens: UNACKED_MAX * 2, timer: 0 };
    this.#upload = up;
    this.#showError(null);
    this.#renderState();
    try {
      up.bytes = await reencodePicture(file);
    } catch (err) {
      if (this.#upload === up) this.#endUpload(err?.code === 'picture_too_big' ? K.errPictureBig : K.errPicture);
      return;
    }
    if (this.#upload !== up) return; // cancelled meanwhile
    up.state = 'sending';
    const msg = { type: 'chat.picture', mime: 'image/jpeg', size: up.bytes.length };
    const c = cleanText(caption);
    if (c) msg.caption = c;
    up.beginId = this.#o.signaling.send(msg);
    if (up.beginId === null) this.#endUpload(K.errLost);
    this.#renderState();
  }

  #pump() {
    const up = this.#upload;
    if (!up || up.state !== 'sending' || !up.upload) return;
    clearTimeout(up.timer);
    const now = performance.now();
    up.tokens = Math.min(UNACKED_MAX * 2, up.tokens + ((now - up.lastSent) / 1000) * PIECES_PER_S);
    up.lastSent = now;
    while (up.inFlight.size < UNACKED_MAX && up.offset < up.bytes.length && up.tokens >= 1) {
      const piece = up.bytes.subarray(up.offset, up.offset + up.chunk);
      const id = this.#o.signaling.send({ type: 'chat.picture.chunk', upload: up.upload, offset: up.offset, data: toBase64url(piece) });
      if (id === null) {
        this.#endUpload(K.errLost);
        return;
      }
      up.inFlight.add(id);
      up.offset += piece.length;
      up.tokens -= 1;
    }
    if (up.inFlight.size < UNACKED_MAX && up.offset < up.bytes.length) {
      up.timer = setTimeout(() => this.#pump(), Math.ceil(1000 / PIECES_PER_S));
    }
  }

  #endUpload(errorKey) {
    const up = this.#upload;
    if (up) clearTimeout(up.timer);
    this.#upload = null;
    this.#showError(errorKey);
    this.#renderState();
  }

  /** Replies about the upload in flight; true when msg was one. */
  #onUploadReply(msg) {
    const up = this.#upload;
    if (!up || msg.ref === undefined) return false;
    if (msg.ref === up.beginId) {
      if (msg.type === 'chat.upload') {
        up.upload = msg.upload;
        up.chunk = Math.max(1, Math.min(msg.chunk_bytes || 36864, 36864));
        this.#pump();
      } else if (msg.type === 'error') {
        this.#endUpload(this.#errorKey(msg));
      }
      return true;
    }
    if (!up.inFlight.has(msg.ref)) return false;
    up.inFlight.delete(msg.ref);
    if (msg.type === 'chat.upload') {
      up.acked = msg.received;
      this.#pump();
      this.#renderState();
    } else if (msg.type === 'chat.message') {
      this.#add(msg.message, true);
      this.#endUpload(null);
    } else if (msg.type === 'error') {
      this.#endUpload(this.#errorKey(msg));
    }
    return true;
  }

  // ---- receiving ----

  #onLost = () => {
    if (this.#upload) this.#endUpload(K.errLost);
  };

  #onMessage = (ev) => {
    const msg = ev.detail.msg;
    if (this.#onUploadReply(msg)) return;
    switch (msg.type) {
      case 'welcome':
        this.#o.me = msg.you;
        this.#o.room = msg.room?.id;
        this.#names.set(msg.you.id, msg.you.name);
        for (const p of msg.participants || []) this.#names.set(p.id, p.name);
        break;
      case 'joined':
        this.#names.set(msg.participant.id, msg.participant.name);
        break;
      case 'chat.history':
        this.#access = msg.access;
        this.#items.clear();
        this.ui.log.replaceChildren();
        for (const m of msg.messages || []) this.#add(m, false, true);
        this.#renderState();
        break;
      case 'chat.message':
        // one of mine went through: an earlier refusal no longer applies
        if (this.#mine.delete(msg.ref)) this.#showError(null);
        this.#add(msg.message, msg.ref !== undefined);
        break;
      case 'chat.reaction': {
        this.#mine.delete(msg.ref);
        const item = this.#items.get(msg.message);
        if (item) {
          item.message.reactions = msg.reactions;
          this.#fillReactions(item.li, item.message);
        }
        break;
      }
      case 'chat.deleted': {
        this.#mine.delete(msg.ref);
        const item = this.#items.get(msg.message);
        if (item) {
          item.li.remove();
          this.#items.delete(msg.message);
          this.#renderState();
        }
        break;
      }
      case 'error':
        if (this.#mine.has(msg.ref)) {
          this.#mine.delete(msg.ref);
          this.#showError(this.#errorKey(msg));
        }
        break;
      default:
    }
  };

  #errorKey(msg) {
    switch (msg.code) {
      case 'rate_limited': return K.errTooFast;
      case 'picture_too_big': return K.errPictureBig;
      case 'limit_reached': return K.errBusy;
      case 'not_found': return K.errGone;
      case 'forbidden': return K.errForbidden;
      case 'bad_field':
        return ['data', 'mime', 'size', 'offset', 'upload'].includes(msg.field) ? K.errPicture : K.errGeneric;
      default: return K.errGeneric;
    }
  }

  #showError(key) {
    this.#error = key;
    this.ui.error.hidden = !key;
    if (key) this.ui.error.textContent = this.#o.t(key);
  }

  // ---- drawing ----

  #add(m, mine, quiet = false) {
    if (!m || typeof m.id !== 'number' || this.#items.has(m.id)) return;
    const li = el('li', { class: 'chat-msg' });
    li.dataset.id = String(m.id);
    this.#items.set(m.id, { li, message: m });
    this.#fill(li, m);
    this.ui.log.append(li);
    li.scrollIntoView?.({ block: 'nearest' });
    this.#renderState();
    if (!quiet) this.dispatchEvent(new CustomEvent('message', { detail: { message: m, mine } }));
  }

  #fill(li, m) {
    const { t } = this.#o;
    const me = this.#o.me;
    const fromMe = me && m.from?.id === me.id;
    li.classList.toggle('chat-mine', Boolean(fromMe));
    const name = el('span', { class: 'chat-name', dir: 'auto', translate: false, textContent: m.from?.name || t(K.someone) });
    const time = el('time', { class: 'chat-time' });
    const when = new Date(m.time);
    if (!Number.isNaN(when.getTime())) {
      time.dateTime = when.toISOString();
      time.textContent = when.toLocaleTimeString(document.documentElement.lang || undefined, { hour: '2-digit', minute: '2-digit' });
    }
    const meta = el('div', { class: 'chat-meta' }, [name, time]);
    if (fromMe) meta.append(el('span', { class: 'chat-you', textContent: t(K.you) }));
    const parts = [meta];
    if (m.picture) parts.push(this.#picture(m));
    if (typeof m.text === 'string') parts.push(el('p', { class: 'chat-body', dir: 'auto', textContent: m.text }));
    const reactions = el('div', { class: 'chat-reactions' });
    parts.push(reactions);
    li.replaceChildren(...parts);
    this.#fillReactions(li, m);
  }

  #picture(m) {
    const { t } = this.#o;
    const who = m.from?.name || t(K.someone);
    const gone = el('p', { class: 'chat-picture-gone hint', textContent: t(K.pictureGone) });
    if (!m.picture.available || !m.picture.url || !this.#access) return gone;
    const img = el('img', {
      class: 'chat-picture', alt: m.text ? m.text : t(K.pictureFrom, { name: who }),
      loading: 'lazy', decoding: 'async', width: m.picture.width, height: m.picture.height,
    });
    img.src = `${m.picture.url}?${new URLSearchParams({ access: this.#access })}`;
    img.addEventListener('error', () => img.replaceWith(gone));
    // A tap shows it larger, in place (no new tab: its address holds this person's token).
    const zoom = el('button', { type: 'button', class: 'chat-picture-zoom', 'aria-pressed': 'false' }, [img]);
    zoom.addEventListener('click', () => {
      const on = zoom.getAttribute('aria-pressed') !== 'true';
      zoom.setAttribute('aria-pressed', String(on));
    });
    return zoom;
  }

  #fillReactions(li, m) {
    const { t } = this.#o;
    const me = this.#o.me;
    const box = li.querySelector('.chat-reactions');
    const buttons = (m.reactions || []).map((r) => {
      const b = el('button', { type: 'button', class: 'chat-reaction', textContent: `${r.emoji} ${r.count}` });
      b.setAttribute('aria-pressed', String(Boolean(me && r.who?.includes(me.id))));
      b.setAttribute('aria-label', t(K.reactionCount, { emoji: r.emoji, count: r.count }));
      b.addEventListener('click', () => this.react(m.id, r.emoji));
      return b;
    });
    const palette = el('div', { class: 'chat-react-palette', hidden: true }, REACT_EMOJI.map((e) => {
      const b = el('button', { type: 'button', class: 'chat-react-pick', textContent: e });
      b.setAttribute('aria-label', t(K.reactWith, { emoji: e }));
      b.addEventListener('click', () => {
        palette.hidden = true;
        this.react(m.id, e);
      });
      return b;
    }));
    const open = el('button', { type: 'button', class: 'button chat-react', textContent: t(K.react), 'aria-expanded': 'false' });
    open.addEventListener('click', () => {
      palette.hidden = !palette.hidden;
      open.setAttribute('aria-expanded', String(!palette.hidden));
    });
    const parts = [...buttons, open];
    if (me && (m.from?.id === me.id || me.role === 'coordinator')) {
      const del = el('button', { type: 'button', class: 'button chat-delete', textContent: t(K.remove) });
      del.addEventListener('click', () => this.remove(m.id));
      parts.push(del);
    }
    parts.push(palette);
    box.replaceChildren(...parts);
  }

  #renderState() {
    const { t } = this.#o;
    const u = this.ui;
    u.empty.hidden = this.#items.size > 0;
    const up = this.#upload;
    u.uploading.hidden = !up;
    u.pictureButton.disabled = Boolean(up);
    if (up) {
      const size = up.bytes ? up.bytes.length : 0;
      u.progress.value = size ? up.acked / size : 0;
      u.progressText.textContent = up.state === 'preparing'
        ? t(K.preparing)
        : t(K.sending, { percent: size ? Math.round((100 * up.acked) / size) : 0 });
    }
    if (this.#error) u.error.textContent = t(this.#error);
  }
}
