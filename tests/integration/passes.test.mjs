// Uses count people, not connections: the first join with a limited link gives a person pass
// (welcome.pass); reloads, reconnects and restarts come back in with it without using the
// link again, and nobody else gets in with the used-up link.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startTandem, mintInvite, newLedgerPath } from '../lib/tandem.mjs';
import { client as wsClient, closeAllClients } from '../lib/wsclient.mjs';

let srv;

before(async () => { srv = await startTandem({ openRooms: false }); });
after(async () => {
  closeAllClients();
  const r = await srv.stop();
  assert.equal(r.code, 0, srv.stderr);
});

/** Joins room on server with {token} or {pass}; resolves {c, m} with welcome or error. */
async function join(server, room, creds, name = 'Someone') {
  const c = await wsClient(server.wsUrl);
  c.send({ type: 'join', id: 1, room, name, role: 'mentee', ...creds });
  return { c, m: await c.next((x) => x.type === 'welcome' || x.type === 'error') };
}

/** A WebSocket cut without a close handshake (a phone losing its network). */
function cut(x) {
  x.c.ws.terminate();
}

/** The expiry (Unix seconds) signed into a token or pass (include/tandem/invite.h). */
function expiresOf(text) {
  const payload = Buffer.from(text.split('.')[0], 'base64url');
  return Number(payload.readBigUInt64BE(2));
}

test('a once-only link: its person comes back with the pass, a second person does not', async () => {
  const once = mintInvite({ room: 'pass-room', role: 'mentor', uses: 1 });
  const first = await join(srv, 'pass-room', { token: once });
  assert.equal(first.m.type, 'welcome');
  assert.equal(typeof first.m.pass, 'string');
  assert.ok(first.m.pass.length <= 256);
  assert.notEqual(first.m.pass, once);
  const { pass } = first.m;

  cut(first); // the network drops; the page reconnects with its pass
  const back = await join(srv, 'pass-room', { pass });
  assert.equal(back.m.type, 'welcome', JSON.stringify(back.m));
  assert.equal(back.m.you.role, 'mentor', 'the pass keeps the role of its link');
  assert.equal(back.m.pass, undefined, 'no second pass for the same person');

  const forwarded = await join(srv, 'pass-room', { token: once }, 'Someone else');
  assert.equal(forwarded.m.code, 'invite_used', 'a forwarded once-only link stays used');

  back.c.ws.close(); // a reload: the page closes, the new one joins with the pass
  await back.c.waitClose();
  const reload = await join(srv, 'pass-room', { pass, token: once });
  assert.equal(reload.m.type, 'welcome', 'the pass wins over the used-up link beside it');
  assert.doesNotMatch(srv.stderr, new RegExp(pass.split('.')[1]), 'no pass in the log');
  for (const x of [reload, forwarded]) x.c.ws.close();
});

test('an unlimited link needs no pass', async () => {
  const open = mintInvite({ room: 'pass-room', role: 'mentee' });
  const a = await join(srv, 'pass-room', { token: open });
  assert.equal(a.m.type, 'welcome');
  assert.equal(a.m.pass, undefined);
  cut(a);
  const b = await join(srv, 'pass-room', { token: open });
  assert.equal(b.m.type, 'welcome');
  b.c.ws.close();
});

test('forged, altered, misplaced, expired and withdrawn passes are refused', async () => {
  const two = mintInvite({ room: 'pass-room', role: 'mentee', uses: 2 });
  const got = await join(srv, 'pass-room', { token: two });
  const { pass } = got.m;
  const [payload, sig] = pass.split('.');
  const flip = (s, i) => s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1);
  const cases = [
    ['altered payload', { pass: `${flip(payload, 5)}.${sig}` }, 'invite_invalid'],
    ['altered signature', { pass: `${payload}.${flip(sig, 3)}` }, 'invite_invalid'],
    ['garbage', { pass: 'nothing.here' }, 'invite_invalid'],
    ['a token given as a pass', { pass: two }, 'invite_invalid'],
    ['a pass given as a token', { token: pass }, 'invite_invalid'],
    ['too long', { pass: 'A'.repeat(300) }, 'bad_field'],
    ['not a string', { pass: 7 }, 'bad_field'],
  ];
  for (const [what, creds, code] of cases) {
    const x = await join(srv, 'pass-room', creds);
    assert.equal(x.m.code, code, what);
    x.c.ws.close();
  }
  // Replayed in another room: refused, though the link and the pass are sound.
  const elsewhere = await join(srv, 'other-pass-room', { pass });
  assert.equal(elsewhere.m.code, 'invite_invalid');
  assert.equal(elsewhere.m.field, 'pass');
  elsewhere.c.ws.close();
  got.c.ws.close();

  // Expires with its link.
  const brief = mintInvite({ room: 'pass-room', role: 'mentee', uses: 1, expires: '3s' });
  const b = await join(srv, 'pass-room', { token: brief });
  assert.equal(b.m.type, 'welcome');
  cut(b);
  await new Promise((r) => setTimeout(r, expiresOf(b.m.pass) * 1000 - Date.now() + 100));
  const late = await join(srv, 'pass-room', { pass: b.m.pass });
  assert.equal(late.m.code, 'invite_expired');
  late.c.ws.close();
});

test('withdrawing a link shuts out the person who used it', async () => {
  const coord = await join(srv, 'kept-pass-room', { token: mintInvite({ room: 'kept-pass-room', role: 'coordinator' }) });
  assert.equal(coord.m.you.role, 'coordinator');
  coord.c.send({ type: 'invite.create', id: 2, role: 'mentee', expires_s: 3600, uses: 1 });
  const inv = await coord.c.next('invite');
  const mentee = await join(srv, 'kept-pass-room', { token: inv.token });
  assert.equal(typeof mentee.m.pass, 'string');
  cut(mentee);
  coord.c.send({ type: 'invite.revoke', id: 3, invite_id: inv.invite_id });
  await coord.c.next('invite.revoked');
  const back = await join(srv, 'kept-pass-room', { pass: mentee.m.pass });
  assert.equal(back.m.code, 'invite_revoked');

  // mod.remove with withdraw_link: the pass of the removed person is dead too.
  coord.c.send({ type: 'invite.create', id: 4, role: 'mentee', expires_s: 3600, uses: 1 });
  const inv2 = await coord.c.next('invite');
  const other = await join(srv, 'kept-pass-room', { token: inv2.token });
  coord.c.send({ type: 'mod.remove', id: 5, target: other.m.you.id, withdraw_link: true });
  await coord.c.next('invite.revoked');
  await other.c.waitClose();
  const again = await join(srv, 'kept-pass-room', { pass: other.m.pass });
  assert.equal(again.m.code, 'invite_revoked');

  // mod.remove alone: the link stays, but the pass of the person taken out is spent.
  const many = mintInvite({ room: 'kept-pass-room', role: 'mentee', uses: 5 });
  const third = await join(srv, 'kept-pass-room', { token: many });
  const fourth = await join(srv, 'kept-pass-room', { token: many });
  coord.c.send({ type: 'mod.remove', id: 6, target: third.m.you.id });
  await third.c.waitClose();
  const removed = await join(srv, 'kept-pass-room', { pass: third.m.pass });
  assert.equal(removed.m.code, 'invite_used', 'taken out: their use is spent');
  cut(fourth);
  const stays = await join(srv, 'kept-pass-room', { pass: fourth.m.pass });
  assert.equal(stays.m.type, 'welcome', 'the others with the same link are not touched');
  for (const x of [coord, back, again, removed, stays]) x.c.ws.close();
});

test('after a restart (same key and ledger) the pass still lets its person in', async () => {
  const ledger = newLedgerPath();
  const start = () => startTandem({ openRooms: false, args: ['--invite-ledger', ledger] });
  const one = await start();
  const once = mintInvite({ room: 'restart-room', role: 'mentee', uses: 1 });
  const withdrawn = mintInvite({ room: 'restart-room', role: 'mentee', uses: 1 });
  const unlimited = mintInvite({ room: 'restart-room', role: 'mentor' });
  const first = await join(one, 'restart-room', { token: once });
  assert.equal((await join(one, 'restart-room', { token: unlimited })).m.type, 'welcome');
  const gone = await join(one, 'restart-room', { token: withdrawn });
  assert.equal(first.m.type, 'welcome');
  assert.equal(gone.m.type, 'welcome');
  const coord = await join(one, 'restart-room', { token: mintInvite({ room: 'restart-room', role: 'coordinator' }) });
  coord.c.send({ type: 'mod.remove', id: 2, target: gone.m.you.id, withdraw_link: true });
  await coord.c.next('invite.revoked');
  closeAllClients();
  assert.equal((await one.stop()).code, 0, one.stderr);

  const two = await start();
  try {
    const back = await join(two, 'restart-room', { pass: first.m.pass });
    assert.equal(back.m.type, 'welcome', JSON.stringify(back.m));
    const second = await join(two, 'restart-room', { token: once }, 'Someone else');
    assert.equal(second.m.code, 'invite_used');
    const shut = await join(two, 'restart-room', { pass: gone.m.pass });
    assert.equal(shut.m.code, 'invite_revoked');
    const again = await join(two, 'restart-room', { token: unlimited });
    assert.equal(again.m.type, 'welcome', 'an unlimited link comes back by itself');
  } finally {
    closeAllClients();
    assert.equal((await two.stop()).code, 0, two.stderr);
  }
});

test('back while the old connection still holds the seat: the old one goes, lock and all', async () => {
  // A room of two: a connection the server has not yet seen die must not keep its person out.
  const dir = mkdtempSync(path.join(tmpdir(), 'tandem-pass-'));
  const conf = path.join(dir, 'two.conf');
  writeFileSync(conf, '[limits]\nmax_participants_per_room = 2\n');
  const small = await startTandem({ openRooms: false, args: ['--config', conf] });
  try {
    const coord = await join(small, 'pair-room', { token: mintInvite({ room: 'pair-room', role: 'coordinator' }) });
    const once = mintInvite({ room: 'pair-room', role: 'mentee', uses: 1 });
    const first = await join(small, 'pair-room', { token: once });
    assert.equal(first.m.type, 'welcome');
    await coord.c.next('joined');
    coord.c.send({ type: 'mod.lock', id: 2, locked: true });
    await coord.c.next('room.state');

    // The old connection is still open as far as the server knows (a silent network loss).
    const back = await join(small, 'pair-room', { pass: first.m.pass });
    assert.equal(back.m.type, 'welcome', `not room_full nor room_locked: ${JSON.stringify(back.m)}`);
    assert.equal((await first.c.next('replaced')).type, 'replaced');
    assert.equal((await first.c.waitClose()).code, 1000);
    assert.equal((await coord.c.next('left')).id, first.m.you.id);
    assert.equal((await coord.c.next('joined')).participant.id, back.m.you.id);
    assert.deepEqual(back.m.participants.map((p) => p.id), [coord.m.you.id], 'no ghost of itself');

    // Gone for good, then back: the lock holds for the pass as for anyone new.
    back.c.ws.close();
    await coord.c.next('left');
    const locked = await join(small, 'pair-room', { pass: first.m.pass });
    assert.equal(locked.m.code, 'room_locked');
    coord.c.send({ type: 'mod.lock', id: 3, locked: false });
    await coord.c.next('room.state');
    const open = await join(small, 'pair-room', { pass: first.m.pass });
    assert.equal(open.m.type, 'welcome');
    const full = await join(small, 'pair-room', { token: mintInvite({ room: 'pair-room', role: 'mentee' }) });
    assert.equal(full.m.code, 'room_full', 'a newcomer still finds the room full');
    assert.equal(full.m.max_participants, 2, 'the page can say the real limit');
  } finally {
    closeAllClients();
    assert.equal((await small.stop()).code, 0, small.stderr);
    rmSync(dir, { recursive: true, force: true });
  }
});
