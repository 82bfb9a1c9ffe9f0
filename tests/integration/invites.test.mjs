// Closed rooms (the default): joins need an invite token signed by the server's key.
// Tokens are minted with the real `tandem invite` command.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, appendFileSync, statSync } from 'node:fs';
import { startTandem, mintInvite, newLedgerPath } from '../lib/tandem.mjs';
import { client as wsClient, closeAllClients } from '../lib/wsclient.mjs';

let srv;
const client = () => wsClient(srv.wsUrl);

before(async () => { srv = await startTandem({ openRooms: false }); });
after(async () => {
  closeAllClients();
  const r = await srv.stop();
  assert.equal(r.code, 0, srv.stderr);
  assert.doesNotMatch(srv.stderr, /OPEN ROOMS/);
});

async function tryJoin(room, token, role = 'mentee') {
  const c = await client();
  const msg = { type: 'join', id: 1, room, name: 'Someone', role };
  if (token !== undefined) msg.token = token;
  c.send(msg);
  const m = await c.next((x) => x.type === 'welcome' || x.type === 'error');
  return { c, m };
}

test('without a token a closed room is refused', async () => {
  const { m } = await tryJoin('closed-room');
  assert.equal(m.code, 'invite_required');
});

test('a valid token lets in, with the role the token names', async () => {
  const tok = mintInvite({ room: 'closed-room', role: 'mentor' });
  const { c, m } = await tryJoin('closed-room', tok, 'coordinator');
  assert.equal(m.type, 'welcome');
  assert.equal(m.you.role, 'mentor', 'the page cannot choose a role above its token');
  c.ws.close();
});

test('forged, altered, expired, wrong-room and used-up tokens are refused', async () => {
  const good = mintInvite({ room: 'closed-room', role: 'mentee' });
  const [payload, sig] = good.split('.');
  const flip = (s, i) => s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1);
  const cases = [
    ['garbage', 'not-a-token', 'invite_invalid'],
    ['altered payload', `${flip(payload, 3)}.${sig}`, 'invite_invalid'],
    ['altered signature', `${payload}.${flip(sig, 5)}`, 'invite_invalid'],
    ['signature of another token', `${mintInvite({ room: 'closed-room', role: 'coordinator' }).split('.')[0]}.${sig}`, 'invite_invalid'],
    ['for another room', mintInvite({ room: 'other-room', role: 'mentee' }), 'invite_invalid'],
    ['expired', mintInvite({ room: 'closed-room', role: 'mentee', expires: '1s' }), 'invite_expired', 2100],
    ['too long', 'A'.repeat(300), 'bad_field'],
    ['not a string', 42, 'bad_field'],
  ];
  for (const [what, tok, code, waitMs] of cases) {
    if (waitMs) await new Promise((r) => setTimeout(r, waitMs)); // the token's own expiry
    const { c, m } = await tryJoin('closed-room', tok);
    assert.equal(m.code, code, what);
    c.ws.close();
  }
  const once = mintInvite({ room: 'closed-room', role: 'mentee', uses: 1 });
  const first = await tryJoin('closed-room', once);
  assert.equal(first.m.type, 'welcome');
  const second = await tryJoin('closed-room', once);
  assert.equal(second.m.code, 'invite_used');
  first.c.ws.close();
});

test('a coordinator makes and withdraws links; a mentee may not', async () => {
  const coord = await tryJoin('team-room', mintInvite({ room: 'team-room', role: 'coordinator' }));
  assert.equal(coord.m.you.role, 'coordinator');
  coord.c.send({ type: 'invite.create', id: 2, role: 'mentee', expires_s: 3600, uses: 2 });
  const inv = await coord.c.next('invite');
  assert.equal(inv.ref, 2);
  const mentee = await tryJoin('team-room', inv.token);
  assert.equal(mentee.m.you.role, 'mentee');
  mentee.c.send({ type: 'invite.create', role: 'coordinator' });
  assert.equal((await mentee.c.next('error')).code, 'forbidden');
  coord.c.send({ type: 'invite.revoke', invite_id: inv.invite_id });
  await coord.c.next('invite.revoked');
  const late = await tryJoin('team-room', inv.token);
  assert.equal(late.m.code, 'invite_revoked');
  coord.c.send({ type: 'invite.create', role: 'boss' });
  assert.equal((await coord.c.next('error')).field, 'role');
  coord.c.send({ type: 'invite.create', role: 'mentee', expires_s: 10 });
  assert.equal((await coord.c.next('error')).field, 'expires_s');
  for (const x of [coord, mentee, late]) x.c.ws.close();
});

test('a restart keeps withdrawn links withdrawn and used-up links used up', async () => {
  const ledger = newLedgerPath();
  const start = () => startTandem({ openRooms: false, args: ['--invite-ledger', ledger] });
  let one = await start();
  const join = async (server, room, token) => {
    const c = await wsClient(server.wsUrl);
    c.send({ type: 'join', id: 1, room, name: 'Someone', role: 'mentee', token });
    return { c, m: await c.next((x) => x.type === 'welcome' || x.type === 'error') };
  };
  const coordTok = mintInvite({ room: 'kept-room', role: 'coordinator' });
  const once = mintInvite({ room: 'kept-room', role: 'mentee', uses: 1 });
  const twice = mintInvite({ room: 'kept-room', role: 'mentee', uses: 2 });
  const open = mintInvite({ room: 'kept-room', role: 'mentee' });
  const coord = await join(one, 'kept-room', coordTok);
  assert.equal(coord.m.type, 'welcome');
  coord.c.send({ type: 'invite.create', id: 2, role: 'mentee', expires_s: 3600 });
  const made = await coord.c.next('invite');
  coord.c.send({ type: 'invite.revoke', id: 3, invite_id: made.invite_id });
  await coord.c.next('invite.revoked');
  assert.equal((await join(one, 'kept-room', once)).m.type, 'welcome');
  assert.equal((await join(one, 'kept-room', twice)).m.type, 'welcome');
  assert.equal((await join(one, 'kept-room', made.token)).m.code, 'invite_revoked');
  closeAllClients();
  assert.equal((await one.stop()).code, 0, one.stderr);
  assert.equal(statSync(ledger).mode & 0o777, 0o600, 'the ledger is private to the server');
  const text = readFileSync(ledger, 'utf8');
  assert.doesNotMatch(text, /kept-room|Someone|127\.0\.0\.1/, 'no room, name or address in it');

  // A line cut short by a crash and a line of nonsense are skipped, with a warning.
  appendFileSync(ledger, 'not a ledger line\nAAECAwQFBgcICQoLDA0ODw 18');
  const two = await start();
  assert.match(two.stderr, /invite ledger .*: 2 unreadable lines skipped/);
  assert.match(two.stderr, /invite ledger: 3 links remembered/);
  assert.equal((await join(two, 'kept-room', once)).m.code, 'invite_used');
  assert.equal((await join(two, 'kept-room', made.token)).m.code, 'invite_revoked');
  assert.equal((await join(two, 'kept-room', twice)).m.type, 'welcome', 'its second use');
  assert.equal((await join(two, 'kept-room', twice)).m.code, 'invite_used');
  assert.equal((await join(two, 'kept-room', open)).m.type, 'welcome');
  closeAllClients();
  assert.equal((await two.stop()).code, 0, two.stderr);
  // Rewritten at start: only the three live entries, one line each, plus today's changes.
  const lines = readFileSync(ledger, 'utf8').trim().split('\n');
  assert.ok(lines.length >= 3 && lines.length <= 5, lines.join('\n'));

  // A ledger that cannot be read stops the server with a clear message.
  const bad = startTandem({ openRooms: false, args: ['--invite-ledger', '/proc/version'] });
  await assert.rejects(bad, /invite ledger \/proc\/version: cannot read or write it/);
});
