// The coordinator's controls in the room page (docs/protocol.md "Invites", "Moderation"):
// lock the room, the waiting room (lobby) with Let in / Say no, mute someone's microphone or
// camera, take someone out of the call, end the call for everyone, and make or withdraw
// invite links. The server checks every action against the role in the person's invite
// token; this module only shows the controls to the roles that may use them and shows what
// the server answered. Mentors see the waiting list too (they may let people in).
//
// Usage: const mod = new Moderation(ui, {t, send, roomId});
//   mod.reset(me, roomState) on welcome (me null when leaving);
//   mod.handle(msg) for every server message: true when it was for this module;
//   mod.render(others) whenever the page renders.

const EXPIRY_S = { day: 86400, week: 604800, month: 2592000 };
// A link the server made on its server.public_url (invite.url).
const isHttpsUrl = (text) => {
  try {
    return new URL(text).protocol === 'https:';
  } catch {
    return false;
  }
};
const ROLES = ['mentee', 'mentor', 'coordinator'];
const ROLE_KEYS = { mentee: 'role.mentee', mentor: 'role.mentor', coordinator: 'role.coordinator' };
const roleKey = (role) => (Object.hasOwn(ROLE_KEYS, role) ? ROLE_KEYS[role] : ROLE_KEYS.mentee);

function el(tag, props = {}, children = []) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k in e && typeof v !== 'string') e[k] = v;
    else if (k === 'textContent' || k === 'className') e[k] = v;
    else e.setAttribute(k, v);
  }
  e.append(...children);
  return e;
}

export class Moderation {
  #withdraw = false; // "also stop the link they used", while a removal is being confirmed
  #ui;
  #t;
  #send;
  #roomId;
  #me = null;
  #roomState = { locked: false, lobby: false };
  // What the coordinator just chose, shown until the server's room.state (or an error)
  // answers: a redraw in between must not flip the box back.
  #pendingRoom = {};
  #waiting = new Map(); // lobby_id -> {name, role}
  #links = []; // {invite_id, role, expires_s, uses, url, revoked}
  #mine = new Map(); // request id -> what it was, for the answer or error
  #confirm = null; // 'end' or a participant id to remove: the second press does it
  #others = [];
  #message = null; // {text, problem}

  /** ui: {manageButton, dialog, close, lock, lobby, end, endConfirm, mayUnmute, people,
   *  inviteRole, inviteExpiry, inviteOnce, inviteMake, links, message, lobbyList}. */
  constructor(ui, { t, send, roomId }) {
    this.#ui = ui;
    this.#t = t;
    this.#send = send;
    this.#roomId = roomId;
    ui.manageButton.addEventListener('click', () => {
      ui.dialog.showModal();
      this.render();
    });
    ui.close.addEventListener('click', () => ui.dialog.close());
    ui.dialog.addEventListener('close', () => {
      this.#confirm = null;
      ui.manageButton.focus();
    });
    ui.lock.addEventListener('change', () => {
      this.#pendingRoom.locked = ui.lock.checked;
      this.#request({ type: 'mod.lock', locked: ui.lock.checked }, 'locked');
    });
    ui.lobby.addEventListener('change', () => {
      this.#pendingRoom.lobby = ui.lobby.checked;
      this.#request({ type: 'mod.lobby', lobby: ui.lobby.checked }, 'lobby');
    });
    ui.end.addEventListener('click', () => {
      this.#confirm = this.#confirm === 'end' ? null : 'end';
      this.render();
      if (this.#confirm) ui.endConfirm.focus();
    });
    ui.endConfirm.addEventListener('click', () => {
      this.#confirm = null;
      this.#request({ type: 'mod.end' }, 'end');
    });
    ui.inviteMake.addEventListener('click', () => {
      const role = ROLES.includes(ui.inviteRole.value) ? ui.inviteRole.value : 'mentee';
      this.#request({
        type: 'invite.create', role, expires_s: EXPIRY_S[ui.inviteExpiry.value] || EXPIRY_S.week,
        uses: ui.inviteOnce.checked ? 1 : 0,
      }, 'invite');
    });
  }

  get isCoordinator() {
    return this.#me?.role === 'coordinator';
  }

  get mayAdmit() {
    return this.#me?.role === 'coordinator' || this.#me?.role === 'mentor';
  }

  reset(me, roomState) {
    this.#me = me;
    if (roomState) this.#roomState = { ...roomState };
    this.#pendingRoom = {};
    this.#waiting.clear();
    this.#mine.clear();
    this.#confirm = null;
    this.#message = null;
    if (!me) {
      this.#links = [];
      if (this.#ui.dialog.open) this.#ui.dialog.close();
    }
  }

  handle(msg) {
    switch (msg.type) {
      case 'room.state':
        this.#roomState = { locked: msg.locked === true, lobby: msg.lobby === true };
        this.#pendingRoom = {};
        this.#answered(msg);
        this.render();
        return false; // the page reads it too
      case 'lobby.waiting':
        if (typeof msg.lobby_id === 'string' && this.#waiting.size < 100) {
          this.#waiting.set(msg.lobby_id, { name: String(msg.name ?? ''), role: String(msg.role ?? '') });
        }
        this.render();
        return true;
      case 'lobby.left':
        this.#waiting.delete(msg.lobby_id);
        this.render();
        return true;
      case 'invite':
        this.#answered(msg);
        if (typeof msg.token === 'string' && typeof msg.invite_id === 'string') {
          // server.public_url, when the server has one; else the address this page came from
          const url = typeof msg.url === 'string' && isHttpsUrl(msg.url) ? msg.url
            : `${location.origin}/r/${encodeURIComponent(this.#roomId)}#t=${msg.token}`;
          this.#links.unshift({ invite_id: msg.invite_id, role: msg.role, expires_s: msg.expires_s, uses: msg.uses, url, revoked: false });
          this.#links.length = Math.min(this.#links.length, 20);
          this.#message = { text: this.#t('manage.linkMade') };
        }
        this.render();
        this.#ui.links.querySelector('input')?.focus();
        return true;
      case 'invite.revoked': {
        this.#answered(msg);
        const link = this.#links.find((l) => l.invite_id === msg.invite_id);
        if (link) link.revoked = true;
        this.#message = { text: this.#t('manage.linkWithdrawn') };
        this.render();
        return true;
      }
      case 'error':
        if (!this.#mine.has(msg.ref)) return false;
        delete this.#pendingRoom[this.#mine.get(msg.ref)]; // refused: show the room as it is
        this.#mine.delete(msg.ref);
        this.#message = { text: this.#errorText(msg), problem: true };
        this.render();
        return true;
      default:
        if (msg.ref !== undefined && this.#mine.has(msg.ref)) this.#mine.delete(msg.ref);
        return false;
    }
  }

  #errorText(msg) {
    if (msg.code === 'forbidden') return this.#t('error.forbidden');
    if (msg.code === 'not_found') return this.#t('error.not_found');
    if (msg.code === 'rate_limited') return this.#t('error.rate_limited');
    return this.#t('manage.failed');
  }

  #answered(msg) {
    if (msg.ref !== undefined) this.#mine.delete(msg.ref);
  }

  #request(msg, what) {
    const id = this.#send(msg);
    if (id !== null && id !== undefined) this.#mine.set(id, what);
    this.#message = null;
    this.render();
  }

  /** The controls for each other person (coordinators only). */
  #personRow(p) {
    const t = this.#t;
    const name = el('span', { className: 'mod-name', dir: 'auto', textContent: p.name });
    const role = el('span', { className: 'mod-role', textContent: t(roleKey(p.role)) });
    const mic = el('button', { type: 'button', className: 'button mod-mute', textContent: t('manage.muteMic') });
    mic.addEventListener('click', () => this.#request({ type: 'mod.mute', target: p.id, kind: 'audio', may_unmute: this.#ui.mayUnmute.checked }, 'mute'));
    const cam = el('button', { type: 'button', className: 'button mod-camera', textContent: t('manage.stopCamera') });
    cam.addEventListener('click', () => this.#request({ type: 'mod.mute', target: p.id, kind: 'video', may_unmute: this.#ui.mayUnmute.checked }, 'mute'));
    const confirming = this.#confirm === p.id;
    const remove = el('button', { type: 'button', className: 'button mod-remove', 'aria-expanded': String(confirming), textContent: t('manage.remove') });
    remove.addEventListener('click', () => {
      this.#confirm = confirming ? null : p.id;
      this.render();
    });
    const row = [el('div', { className: 'mod-who' }, [name, role]), el('div', { className: 'mod-actions' }, [mic, cam, remove])];
    if (confirming) {
      const yes = el('button', { type: 'button', className: 'button danger mod-remove-yes', textContent: t('manage.removeYes', { name: p.name }) });
      yes.addEventListener('click', () => {
        this.#confirm = null;
        this.#request({ type: 'mod.remove', target: p.id, withdraw_link: this.#withdraw }, 'remove');
        this.#withdraw = false;
      });
      // A shared link would let them straight back in: stopping it stops it for everyone.
      const box = el('input', { type: 'checkbox', className: 'mod-withdraw', checked: this.#withdraw });
      box.addEventListener('change', () => { this.#withdraw = box.checked; });
      const label = el('label', { className: 'mod-withdraw-label' }, [box, ` ${t('manage.removeWithdraw')}`]);
      row.push(label, yes);
      queueMicrotask(() => yes.focus());
    }
    return el('li', { className: 'mod-person', 'data-participant-id': p.id }, row);
  }

  #linkRow(link) {
    const t = this.#t;
    const input = el('input', { type: 'text', readOnly: true, value: link.url, className: 'mod-link', 'aria-label': t('manage.linkFor', { role: t(roleKey(link.role)) }) });
    input.addEventListener('focus', () => input.select());
    const copy = el('button', { type: 'button', className: 'button mod-copy', textContent: t('manage.copy') });
    copy.addEventListener('click', async () => {
      input.select();
      try {
        await navigator.clipboard.writeText(link.url);
        this.#message = { text: t('manage.copied') };
      } catch {
        this.#message = { text: t('manage.copyByHand') };
      }
      this.render();
    });
    const revoke = el('button', { type: 'button', className: 'button mod-revoke', textContent: t('manage.withdraw'), disabled: link.revoked });
    revoke.addEventListener('click', () => this.#request({ type: 'invite.revoke', invite_id: link.invite_id }, 'revoke'));
    const until = new Date(link.expires_s * 1000);
    const info = el('p', { className: 'hint', textContent: link.revoked ? t('manage.linkIsWithdrawn')
      : t(link.uses === 1 ? 'manage.linkOnce' : 'manage.linkMany', { date: until.toLocaleDateString(document.documentElement.lang || undefined) }) });
    return el('li', { className: 'mod-link-row' }, [input, el('div', { className: 'mod-actions' }, [copy, revoke]), info]);
  }

  #lobbyRow(lobbyId, w) {
    const t = this.#t;
    const text = el('span', { dir: 'auto', textContent: t('manage.waiting', { name: w.name }) });
    const admit = el('button', { type: 'button', className: 'button primary mod-admit', textContent: t('manage.admit') });
    admit.addEventListener('click', () => {
      this.#waiting.delete(lobbyId);
      this.#request({ type: 'mod.admit', lobby_id: lobbyId }, 'admit');
    });
    const deny = el('button', { type: 'button', className: 'button mod-deny', textContent: t('manage.deny') });
    deny.addEventListener('click', () => {
      this.#waiting.delete(lobbyId);
      this.#request({ type: 'mod.deny', lobby_id: lobbyId }, 'deny');
    });
    return el('li', { className: 'mod-waiting' }, [text, el('div', { className: 'mod-actions' }, [admit, deny])]);
  }

  render(others = this.#others) {
    this.#others = others;
    const ui = this.#ui;
    const t = this.#t;
    ui.manageButton.hidden = !this.isCoordinator;
    // the waiting list, in the room's head, for those who may let people in
    const waiting = this.mayAdmit ? [...this.#waiting] : [];
    ui.lobbyList.hidden = waiting.length === 0;
    ui.lobbyList.replaceChildren(...waiting.map(([id, w]) => this.#lobbyRow(id, w)));
    if (!this.isCoordinator) return;
    ui.lock.checked = this.#pendingRoom.locked ?? this.#roomState.locked;
    ui.lobby.checked = this.#pendingRoom.lobby ?? this.#roomState.lobby;
    ui.endConfirm.hidden = this.#confirm !== 'end';
    ui.end.setAttribute('aria-expanded', String(this.#confirm === 'end'));
    // The list is drawn again on every change: keep the keyboard focus on the same button.
    const active = document.activeElement;
    const focusedId = active?.closest?.('.mod-person')?.dataset.participantId;
    const focusedKind = [...(active?.classList || [])].find((c) => c.startsWith('mod-'));
    ui.people.replaceChildren(...others.map((p) => this.#personRow(p)));
    if (!others.length) ui.people.append(el('li', { className: 'hint', textContent: t('manage.nobody') }));
    if (focusedId && !this.#confirm) {
      const row = ui.people.querySelector(`[data-participant-id="${CSS.escape(focusedId)}"]`);
      (row?.querySelector(`button.${CSS.escape(focusedKind || 'button')}`) || row?.querySelector('button'))?.focus();
    }
    ui.links.replaceChildren(...this.#links.map((l) => this.#linkRow(l)));
    ui.message.hidden = !this.#message;
    ui.message.textContent = this.#message?.text || '';
    ui.message.dataset.kind = this.#message?.problem ? 'problem' : 'info';
  }
}
