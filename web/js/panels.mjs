// The room page's two panels beside the call: "Watch together" (watch.mjs) and the chat
// (chat.mjs). Both ride on the page's signaling connection; they are mounted when that
// connection is made (before `welcome`, so that they see it) and destroyed when the person
// leaves. This module only opens and closes them, keeps the unread count, and marks the
// layout on the room section for the CSS:
//   #room[data-watching="true"]  the player is open: on a phone it takes the screen and the
//                                call shrinks to a strip of small tiles
//   #room[data-chat="open"]      the chat is open: beside the call, or a sheet on a phone
//   #room[data-chat-size="full"] on a phone the sheet covers the whole call; by default it
//                                takes the lower part, so that faces stay in sight
import { mountWatch } from './watch.mjs';
import { mountChat } from './chat.mjs';

export class Panels {
  #ui;
  #t;
  #sig = null;
  #watchOpen = false;
  #chatOpen = false;
  #unread = 0;
  #chatFull = false; // the phone's chat sheet covers the whole screen (the person chose it)
  #source = null; // the film last seen in a sync.state, to open the player when it changes
  #mutedByClose = false; // the film's sound was turned off because the player was closed
  watch = null;
  chat = null;

  /** ui: {room, watchArea, watchClose, watchButton, chatArea, chatClose, chatButton,
   *  chatUnread}; t: the i18n function. */
  constructor(ui, t) {
    this.#ui = ui;
    this.#t = t;
    ui.watchButton.addEventListener('click', () => this.setWatch(!this.#watchOpen));
    ui.watchClose.addEventListener('click', () => {
      this.setWatch(false);
      ui.watchButton.focus();
    });
    ui.chatButton.addEventListener('click', () => this.setChat(!this.#chatOpen));
    ui.chatSize?.addEventListener('click', () => {
      this.#chatFull = !this.#chatFull;
      this.#render();
    });
    ui.chatClose.addEventListener('click', () => {
      this.setChat(false);
      ui.chatButton.focus();
    });
    document.addEventListener('keydown', (ev) => {
      if (ev.key !== 'Escape' || !this.#chatOpen || ev.defaultPrevented) return;
      this.setChat(false);
      ui.chatButton.focus();
    });
    this.#render();
  }

  /** Mounts both panels on a new signaling connection (idempotent for the same one). */
  attach(signaling) {
    if (this.#sig === signaling) return;
    this.detach();
    this.#sig = signaling;
    this.watch = mountWatch(this.#ui.watchArea, { signaling, t: this.#t, participants: [] });
    this.chat = mountChat(this.#ui.chatArea, { signaling, t: this.#t, participants: [] });
    this.chat.addEventListener('message', this.#onChat);
    signaling.addEventListener('message', this.#onMessage);
    this.#render();
  }

  /** Leaving: the panels go with everything they held (the server forgets it too). */
  detach() {
    if (!this.#sig) return;
    this.#sig.removeEventListener('message', this.#onMessage);
    this.chat.removeEventListener('message', this.#onChat);
    this.watch.destroy();
    this.chat.destroy();
    this.watch = null;
    this.chat = null;
    this.#sig = null;
    this.#watchOpen = false;
    this.#chatOpen = false;
    this.#unread = 0;
    this.#source = null;
    this.#mutedByClose = false;
    this.#render();
  }

  retranslate() {
    this.watch?.retranslate();
    this.chat?.retranslate();
    this.#render();
  }

  setWatch(open) {
    if (!this.watch) return;
    this.#watchOpen = open;
    // A closed player keeps the film in step (so that opening it again shows the right
    // spot) but does not play its sound over the call.
    const v = this.watch.video;
    if (!open && !v.muted) {
      v.muted = true;
      this.#mutedByClose = true;
    } else if (open && this.#mutedByClose) {
      v.muted = false;
      this.#mutedByClose = false;
    }
    this.watch.retranslate(); // redraws its sound button
    this.#render();
  }

  setChat(open) {
    if (!this.chat) return;
    this.#chatOpen = open;
    if (open) this.#unread = 0;
    this.#render();
    if (open) this.chat.ui.text.focus({ preventScroll: true });
  }

  #onChat = (ev) => {
    if (ev.detail.mine || (this.#chatOpen && document.visibilityState === 'visible')) return;
    this.#unread += 1;
    this.#render();
  };

  // Someone chose a film: the player opens for everyone (it can be closed again).
  #onMessage = (ev) => {
    const msg = ev.detail.msg;
    if (msg.type !== 'sync.state') return;
    const source = typeof msg.source === 'string' && msg.source ? msg.source : null;
    if (source === this.#source) return;
    this.#source = source;
    if (!source) return;
    // the film is chosen: its chooser folds away and the film comes into view
    this.watch.ui.source.open = false;
    if (!this.#watchOpen) this.setWatch(true);
    this.#ui.watchArea.scrollTop = 0;
  };

  #render() {
    const ui = this.#ui;
    const mounted = Boolean(this.#sig);
    ui.watchButton.hidden = !mounted;
    ui.chatButton.hidden = !mounted;
    ui.watchArea.hidden = !this.#watchOpen;
    ui.chatArea.hidden = !this.#chatOpen;
    ui.room.dataset.watching = String(this.#watchOpen);
    ui.room.dataset.chat = this.#chatOpen ? 'open' : 'closed';
    ui.room.dataset.chatSize = this.#chatFull ? 'full' : 'part';
    if (ui.chatSize) {
      const key = this.#chatFull ? 'room.chatSmaller' : 'room.chatBigger';
      ui.chatSize.setAttribute('aria-pressed', String(this.#chatFull));
      ui.chatSize.setAttribute('aria-label', this.#t(key));
      ui.chatSize.title = this.#t(key);
    }
    ui.watchButton.setAttribute('aria-expanded', String(this.#watchOpen));
    ui.chatButton.setAttribute('aria-expanded', String(this.#chatOpen));
    ui.watchButton.dataset.active = String(this.#watchOpen);
    ui.chatButton.dataset.active = String(this.#chatOpen);
    const unread = this.#unread > 0 ? this.#t('room.chatUnread', { count: this.#unread }) : '';
    ui.chatUnread.hidden = !unread;
    ui.chatUnread.textContent = this.#unread > 99 ? '99+' : String(this.#unread);
    ui.chatButton.setAttribute('aria-label', unread ? `${this.#t('room.chat')}: ${unread}` : this.#t('room.chat'));
  }
}
