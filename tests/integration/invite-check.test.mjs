// invite.check: the room page asks, before anyone types a name, whether its link (or the
// person pass it holds) would let it in; the same codes as join, nothing used or recorded.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTandem, mintInvite } from '../lib/tandem.mjs';
import { client as wsClient, closeAllClients } from '../lib/wsclient.mjs';

let srv;
let checker;
let nextId = 1;

before(async () => {
  srv = await startTandem({ openRooms: false });
  checker = await wsClient(srv.wsUrl);
});
after(async () => {
  closeAllClients();
  const r = await srv.stop();
  assert.equal(r.code, 0, srv.stderr);
});

/** Sends invite.check on one long-lived, never joined connection; resolves with the answer. */
async function check(fields) {
  const id = nextId++;
  checker.send({ type: 'invite.check', id, ...fields });
  return checker.next((m) => m.ref === id);
}

async function join(room, creds) {
  const c = await wsClient(srv.wsUrl);
  c.send({ type: 'join', id: 1, room, name: 'Someone', role: 'mentee', ...creds });
  return { c, m: await c.next((x) => x.type === 'welcome' || x.type === 'error') };
}

test('a live link is ok, with its role; checking uses nothing', async () => {
  const once = mintInvite({ room: 'check-room', role: 'mentor', uses: 1 });
  for (let i = 0; i < 3; i++) {
    const ok = await check({ room: 'check-room', token: once });
    assert.equal(ok.type, 'invite.ok');
    assert.equal(ok.role, 'mentor');
    assert.ok(ok.expires_s > Date.now() / 1000);
  }
  const first = await join('check-room', { token: once });
  assert.equal(first.m.type, 'welcome', 'three checks did not use the once-only link');
  assert.equal((await check({ room: 'check-room', token: once })).code, 'invite_used');
  const withPass = await check({ room: 'check-room', pass: first.m.pass });
  assert.equal(withPass.type, 'invite.ok', 'its person, with the pass, may come back');
  assert.equal(withPass.role, 'mentor');
  first.c.ws.close();
});

test('dead links say why, as join would', async () => {
  const good = mintInvite({ room: 'check-room', role: 'mentee' });
  const coord = await join('check-room', { token: mintInvite({ room: 'check-room', role: 'coordinator' }) });
  coord.c.send({ type: 'invite.create', id: 2, role: 'mentee', expires_s: 3600 });
  const made = await coord.c.next('invite');
  coord.c.send({ type: 'invite.revoke', id: 3, invite_id: made.invite_id });
  await coord.c.next('invite.revoked');
  const brief = mintInvite({ room: 'check-room', role: 'mentee', expires: '1s' });
  await new Promise((r) => setTimeout(r, 2100)); // the token's own expiry
  const cases = [
    ['no token', {}, 'invite_required'],
    ['cut short by a messenger app', { token: good.slice(0, -10) }, 'invite_invalid'],
    ['for another room', { token: mintInvite({ room: 'other-room', role: 'mentee' }) }, 'invite_invalid'],
    ['withdrawn', { token: made.token }, 'invite_revoked'],
    ['expired', { token: brief }, 'invite_expired'],
    ['a pass that is not one', { pass: good }, 'invite_invalid'],
    ['too long', { token: 'A'.repeat(300) }, 'bad_field'],
  ];
  for (const [what, fields, code] of cases) {
    const m = await check({ room: 'check-room', ...fields });
    assert.equal(m.type, 'error', what);
    assert.equal(m.code, code, what);
  }
  assert.equal((await check({ token: good })).code, 'missing_field');
  assert.equal((await check({ room: 'no/such', token: good })).code, 'bad_field');
  assert.equal((await check({ room: 'check-room', token: good })).type, 'invite.ok', 'the connection still works');
  coord.c.ws.close();
});

test('checks are rate-limited like any message', async () => {
  const c = await wsClient(srv.wsUrl);
  const tok = mintInvite({ room: 'check-room', role: 'mentee' });
  for (let i = 0; i < 80; i++) c.send({ type: 'invite.check', id: i, room: 'check-room', token: tok });
  assert.equal((await c.error('rate_limited')).code, 'rate_limited');
  c.ws.close();
});
