// Closed rooms (the default): joins need an invite token signed by the server's key.
// Tokens are minted with the real `tandem invite` command.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTandem, mintInvite } from '../lib/tandem.mjs';
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
