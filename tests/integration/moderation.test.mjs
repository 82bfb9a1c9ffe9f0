// Coordinator moderation in closed rooms: every action is checked against the role the
// invite token gave, never what a page claims.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTandem, mintInvite } from '../lib/tandem.mjs';
import { client as wsClient, closeAllClients } from '../lib/wsclient.mjs';

let srv;
before(async () => { srv = await startTandem({ openRooms: false }); });
after(async () => {
  closeAllClients();
  const r = await srv.stop();
  assert.equal(r.code, 0, srv.stderr);
});

async function enter(room, role, name = role) {
  const c = await wsClient(srv.wsUrl);
  c.send({ type: 'join', id: 'j', room, name, role: 'coordinator', token: mintInvite({ room, role }) });
  c.first = await c.next((m) => ['welcome', 'lobby', 'error'].includes(m.type));
  return c;
}

test('a mentee cannot moderate, whatever it sends', async () => {
  const coord = await enter('mod-room-1', 'coordinator');
  const mentee = await enter('mod-room-1', 'mentee');
  assert.equal(mentee.first.you.role, 'mentee');
  const target = coord.first.you.id;
  for (const msg of [{ type: 'mod.lock', locked: true }, { type: 'mod.lobby', lobby: true },
    { type: 'mod.remove', target }, { type: 'mod.mute', target, kind: 'audio' },
    { type: 'mod.end' }, { type: 'mod.admit', lobby_id: 'x' }]) {
    mentee.send(msg);
    assert.equal((await mentee.next('error')).code, 'forbidden', msg.type);
  }
  coord.send({ type: 'ping', id: 'ok' });
  assert.equal((await coord.next('pong')).ref, 'ok');
  coord.ws.close(); mentee.ws.close();
});

test('a locked room refuses newcomers but not coordinators', async () => {
  const coord = await enter('mod-room-2', 'coordinator');
  coord.send({ type: 'mod.lock', locked: true });
  assert.equal((await coord.next('room.state')).locked, true);
  const late = await enter('mod-room-2', 'mentee');
  assert.equal(late.first.code, 'room_locked');
  const coord2 = await enter('mod-room-2', 'coordinator');
  assert.equal(coord2.first.type, 'welcome');
  assert.equal(coord2.first.room.locked, true);
  coord.send({ type: 'mod.lock', locked: false });
  await coord2.next('room.state');
  const now = await enter('mod-room-2', 'mentee');
  assert.equal(now.first.type, 'welcome');
  for (const c of [coord, coord2, late, now]) c.ws.close();
});

test('the lobby: newcomers wait until a coordinator or mentor admits them', async () => {
  const coord = await enter('mod-room-3', 'coordinator');
  const mentor = await enter('mod-room-3', 'mentor');
  coord.send({ type: 'mod.lobby', lobby: true });
  await coord.next('room.state');
  const mentee = await enter('mod-room-3', 'mentee', 'Amina');
  assert.equal(mentee.first.type, 'lobby');
  const w1 = await coord.next('lobby.waiting');
  const w2 = await mentor.next('lobby.waiting');
  assert.equal(w1.name, 'Amina');
  assert.equal(w1.lobby_id, w2.lobby_id);
  mentee.send({ type: 'ping', id: 'waiting' }); // a waiting page can still keep alive
  await mentee.next('pong');
  mentor.send({ type: 'mod.admit', lobby_id: w1.lobby_id });
  const welcome = await mentee.next('welcome');
  assert.equal(welcome.you.role, 'mentee');
  await coord.next((m) => m.type === 'joined' && m.participant.name === 'Amina');
  // denied: told so and closed
  const other = await enter('mod-room-3', 'mentee', 'Other');
  const w3 = await coord.next((m) => m.type === 'lobby.waiting' && m.name === 'Other');
  coord.send({ type: 'mod.deny', lobby_id: w3.lobby_id });
  assert.equal((await other.error('not_admitted')).code, 'not_admitted');
  assert.equal((await other.waitClose()).code, 1000);
  coord.send({ type: 'mod.admit', lobby_id: 'nobody' });
  assert.equal((await coord.next('error')).code, 'not_found');
  for (const c of [coord, mentor, mentee]) c.ws.close();
});

test('mod.end sends the people waiting in the lobby away too, saying who ended it', async () => {
  const coord = await enter('mod-room-end-lobby', 'coordinator');
  coord.send({ type: 'mod.lobby', lobby: true });
  await coord.next('room.state');
  const waiter = await enter('mod-room-end-lobby', 'mentee');
  assert.equal(waiter.first.type, 'lobby');
  await coord.next('lobby.waiting');
  coord.send({ type: 'mod.end' });
  const ended = await waiter.next('ended');
  assert.equal(ended.by, coord.first.you.id);
  assert.equal((await waiter.waitClose()).code, 1000);
  assert.equal((await coord.waitClose()).code, 1000);
});

test('remove, mute and end', async () => {
  const coord = await enter('mod-room-4', 'coordinator');
  const mentor = await enter('mod-room-4', 'mentor');
  const mentee = await enter('mod-room-4', 'mentee');
  const bystander = await enter('mod-room-5', 'mentee');
  coord.send({ type: 'mod.mute', target: mentor.first.you.id, kind: 'audio', may_unmute: false });
  const muted = await mentor.next('mod.muted');
  assert.equal(muted.kind, 'audio');
  assert.equal(muted.may_unmute, false);
  await mentee.next('mod.muted');
  coord.send({ type: 'mod.mute', target: mentor.first.you.id, kind: 'screen' });
  assert.equal((await coord.next('error')).field, 'kind');

  coord.send({ type: 'mod.remove', target: mentee.first.you.id });
  await mentee.next('removed');
  assert.equal((await mentee.waitClose()).code, 1000);
  assert.equal((await mentor.next('left')).reason, 'removed');

  coord.send({ type: 'mod.end' });
  await mentor.next('ended');
  assert.equal((await mentor.waitClose()).code, 1000);
  assert.equal((await coord.waitClose()).code, 1000);
  // another room never noticed
  bystander.send({ type: 'ping', id: 'b' });
  assert.equal((await bystander.next('pong')).ref, 'b');
  // only what every joiner gets after welcome (docs/protocol-sync-chat.md)
  assert.deepEqual(bystander.queue.map((m) => m.type), ['sync.state', 'chat.history']);
  // the ended room is gone: a newcomer finds it empty
  const fresh = await enter('mod-room-4', 'mentor');
  assert.deepEqual(fresh.first.participants, []);
  fresh.ws.close(); bystander.ws.close();
});

test('remove with withdraw_link: a multi-use link cannot bring the person back', async () => {
  const room = 'mod-room-6';
  const coord = await enter(room, 'coordinator');
  const shared = mintInvite({ room, role: 'mentee' }); // many uses
  const join = async (name) => {
    const c = await wsClient(srv.wsUrl);
    c.send({ type: 'join', id: 'j', room, name, role: 'mentee', token: shared });
    c.first = await c.next((m) => ['welcome', 'error'].includes(m.type));
    return c;
  };
  const mentee = await join('Troll');
  assert.equal(mentee.first.type, 'welcome');
  coord.send({ type: 'mod.remove', id: 'r0', target: mentee.first.you.id, withdraw_link: 'yes' });
  assert.equal((await coord.next('error')).field, 'withdraw_link');
  coord.send({ type: 'mod.remove', id: 'r1', target: mentee.first.you.id, withdraw_link: true });
  const revoked = await coord.next('invite.revoked');
  assert.equal(revoked.ref, 'r1');
  assert.match(revoked.invite_id, /^[A-Za-z0-9_-]+$/);
  await mentee.next('removed');
  assert.equal((await mentee.waitClose()).code, 1000);
  const back = await join('Troll');
  assert.equal(back.first.code, 'invite_revoked', JSON.stringify(back.first));
  // a plain remove (without withdraw_link) leaves the link working
  const other = mintInvite({ room, role: 'mentee' });
  const a = await wsClient(srv.wsUrl);
  a.send({ type: 'join', id: 'j', room, name: 'Amina', role: 'mentee', token: other });
  const w = await a.next('welcome');
  coord.send({ type: 'mod.remove', target: w.you.id });
  await a.next('removed');
  const again = await wsClient(srv.wsUrl);
  again.send({ type: 'join', id: 'j', room, name: 'Amina', role: 'mentee', token: other });
  assert.equal((await again.next((m) => ['welcome', 'error'].includes(m.type))).type, 'welcome');
  coord.ws.close(); again.ws.close();
});

// Issue 11 part 1: a coordinator naming itself in mod.remove killed the server (its own
// participant was gone when the handler went on). Alone and with others in the room.
test('a coordinator cannot remove itself: refused, and the server goes on', async () => {
  const bystander = await enter('mod-room-7b', 'mentee');
  const alone = await enter('mod-room-7', 'coordinator');
  alone.send({ type: 'mod.remove', id: 's1', target: alone.first.you.id });
  let err = await alone.next('error');
  assert.equal(err.code, 'bad_field');
  assert.equal(err.field, 'target');
  assert.equal(err.ref, 's1');
  assert.match(err.message, /leave/);
  alone.send({ type: 'ping', id: 'still' }); // still in its room
  assert.equal((await alone.next('pong')).ref, 'still');

  const coord = await enter('mod-room-8', 'coordinator');
  const mentee = await enter('mod-room-8', 'mentee');
  coord.send({ type: 'mod.remove', id: 's2', target: coord.first.you.id, withdraw_link: true });
  err = await coord.next('error');
  assert.equal(err.code, 'bad_field');
  assert.equal(err.ref, 's2');
  // nothing happened: no invite withdrawn, nobody left, and the room still works
  coord.send({ type: 'mod.mute', id: 'm', target: mentee.first.you.id, kind: 'video' });
  await mentee.next('mod.muted');
  assert.deepEqual(coord.queue.filter((m) => ['invite.revoked', 'left', 'removed'].includes(m.type)), []);
  assert.deepEqual(mentee.queue.filter((m) => m.type === 'left'), []);
  for (const c of [bystander, alone, coord, mentee]) {
    c.send({ type: 'ping', id: 'p' });
    assert.equal((await c.next('pong')).ref, 'p');
  }
  // a fresh connection is still served
  const fresh = await enter('mod-room-9', 'mentor');
  assert.equal(fresh.first.type, 'welcome');
  for (const c of [bystander, alone, coord, mentee, fresh]) c.ws.close();
});

test('a stale target: a participant who already left is not found', async () => {
  const coord = await enter('mod-room-10', 'coordinator');
  const mentee = await enter('mod-room-10', 'mentee');
  const gone = mentee.first.you.id;
  coord.send({ type: 'mod.remove', target: gone });
  await mentee.next('removed');
  await coord.next('left');
  for (const msg of [{ type: 'mod.remove', target: gone }, { type: 'mod.remove', target: gone, withdraw_link: true },
    { type: 'mod.mute', target: gone, kind: 'audio' }]) {
    coord.send({ ...msg, id: msg.type });
    const e = await coord.next('error');
    assert.equal(e.code, 'not_found', msg.type);
    assert.equal(e.ref, msg.type);
  }
  coord.ws.close();
});

test('people waiting in the lobby are told when the room closes before they are let in', async () => {
  const coord = await enter('mod-room-11', 'coordinator');
  coord.send({ type: 'mod.lobby', lobby: true });
  await coord.next('room.state');
  const waiting = await enter('mod-room-11', 'mentee', 'Amina');
  assert.equal(waiting.first.type, 'lobby');
  const w = await coord.next('lobby.waiting');
  coord.send({ type: 'leave' });
  assert.equal((await coord.waitClose()).code, 1000);
  assert.equal((await waiting.error('not_admitted')).code, 'not_admitted');
  assert.equal((await waiting.waitClose()).code, 1000);
  // a new room of that name knows nobody waiting
  const next = await enter('mod-room-11', 'coordinator');
  next.send({ type: 'mod.admit', lobby_id: w.lobby_id });
  assert.equal((await next.next('error')).code, 'not_found');
  next.ws.close();
});

test('a single-use link lets one person in, even when two wait in the lobby with it', async () => {
  const room = 'mod-room-12';
  const coord = await enter(room, 'coordinator');
  coord.send({ type: 'mod.lobby', lobby: true });
  await coord.next('room.state');
  const once = mintInvite({ room, role: 'mentee', uses: 1 });
  const wait = async (name) => {
    const c = await wsClient(srv.wsUrl);
    c.send({ type: 'join', id: 'j', room, name, role: 'mentee', token: once });
    assert.equal((await c.next((m) => ['lobby', 'error'].includes(m.type))).type, 'lobby');
    return { c, w: await coord.next((m) => m.type === 'lobby.waiting' && m.name === name) };
  };
  const a = await wait('First');
  const b = await wait('Second');
  coord.send({ type: 'mod.admit', lobby_id: a.w.lobby_id });
  assert.equal((await a.c.next('welcome')).you.name, 'First');
  coord.send({ type: 'mod.admit', lobby_id: b.w.lobby_id });
  assert.equal((await b.c.next((m) => ['welcome', 'error'].includes(m.type))).code, 'invite_used');
  // a link withdrawn while its holder waits no longer lets them in
  coord.send({ type: 'invite.create', id: 'inv', role: 'mentee' });
  const made = await coord.next('invite');
  const c = await wsClient(srv.wsUrl);
  c.send({ type: 'join', id: 'j', room, name: 'Third', role: 'mentee', token: made.token });
  await c.next('lobby');
  const w = await coord.next((m) => m.type === 'lobby.waiting' && m.name === 'Third');
  coord.send({ type: 'invite.revoke', invite_id: made.invite_id });
  await coord.next('invite.revoked');
  coord.send({ type: 'mod.admit', lobby_id: w.lobby_id });
  assert.equal((await c.next((m) => ['welcome', 'error'].includes(m.type))).code, 'invite_revoked');
  coord.send({ type: 'ping', id: 'after' });
  assert.equal((await coord.next('pong')).ref, 'after');
  assert.deepEqual(coord.queue.filter((m) => m.type === 'joined' && m.participant.name !== 'First'), []);
  for (const x of [coord, a.c, b.c, c]) x.ws.close();
});
