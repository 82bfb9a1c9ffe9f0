// The coordinator console over /ws (docs/protocol.md, "Console"): console.hello takes only a
// console capability (not a forged, expired or withdrawn one, nor an invite), every console
// action is refused `forbidden` to anyone else, and a console makes rooms and links, lists
// and withdraws them and counts the people in rooms.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { TANDEM_BIN, startTandem, mintInvite, inviteKeyPath, newLedgerPath } from '../lib/tandem.mjs';
import { client as wsClient, closeAllClients } from '../lib/wsclient.mjs';

function consoleCli(args) {
  return spawnSync(TANDEM_BIN, ['console-link', '--invite-key', inviteKeyPath(), ...args],
    { encoding: 'utf8', timeout: 20000 });
}

/** A console token made by hand with the server's key (the format of tandem/invite.h). */
function handToken({ expires, domain = 'tandem console capability\0', version = 3 }) {
  const p = Buffer.alloc(25);
  p[0] = version;
  p.writeBigUInt64BE(BigInt(expires), 1);
  randomBytes(16).copy(p, 9);
  const mac = createHmac('sha256', readFileSync(inviteKeyPath()))
    .update(Buffer.concat([Buffer.from(domain, 'latin1'), p])).digest();
  return `${p.toString('base64url')}.${mac.toString('base64url')}`;
}

async function hello(srv, token) {
  const c = await wsClient(srv.wsUrl);
  c.send({ type: 'console.hello', id: 1, token });
  return { c, m: await c.next((x) => x.type === 'console.ready' || x.type === 'error') };
}

async function ask(c, msg) {
  const id = Math.floor(Math.random() * 1e9);
  c.send({ ...msg, id });
  return c.next((x) => x.ref === id);
}

test('console.hello refuses what is not a valid console link', async () => {
  const ledger = newLedgerPath();
  const srv = await startTandem({ openRooms: false, args: ['--invite-ledger', ledger,
    '--public-url', 'https://tandem.example'] });
  try {
    const made = consoleCli(['--invite-ledger', ledger, '--public-url', 'https://tandem.example']);
    assert.equal(made.status, 0, made.stderr);
    const url = made.stdout.trim();
    assert.match(url, /^https:\/\/tandem\.example\/console#c=[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    const token = url.split('#c=')[1];
    const cid = /console link id (\S+)/.exec(made.stderr)[1];

    const ok = await hello(srv, token);
    assert.equal(ok.m.type, 'console.ready', JSON.stringify(ok.m));
    assert.equal((await hello(srv, handToken({ expires: Date.now() / 1000 + 600 | 0 }))).m.type,
      'console.ready', 'the format is as documented');

    const cases = [
      ['forged (altered signature)', token.slice(0, -2) + (token.endsWith('AA') ? 'BB' : 'AA'), 'console_invalid'],
      ['forged (no domain)', handToken({ expires: Date.now() / 1000 + 600 | 0, domain: '' }), 'console_invalid'],
      ['an invite', mintInvite({ room: 'some-room', role: 'coordinator' }), 'console_invalid'],
      ['expired', handToken({ expires: Date.now() / 1000 - 5 | 0 }), 'console_expired'],
      ['garbage', 'x'.repeat(300), 'bad_field'],
    ];
    for (const [what, tok, code] of cases) {
      const r = await hello(srv, tok);
      assert.equal(r.m.type, 'error', what);
      assert.equal(r.m.code, code, what);
      assert.equal((await ask(r.c, { type: 'console.room.create' })).code, 'forbidden', what);
    }
    // Rate limited like every message: a burst of guesses is dropped, and said so.
    const guesser = await wsClient(srv.wsUrl);
    for (let i = 0; i < 150; i++) guesser.send({ type: 'console.hello', token: handToken({ expires: 1, domain: '' }) });
    await guesser.error('rate_limited');

    // A console token is no invite either.
    const j = await wsClient(srv.wsUrl);
    j.send({ type: 'join', id: 1, room: 'some-room', name: 'X', role: 'mentee', token });
    assert.equal((await j.next('error')).code, 'invite_invalid');

    // Withdrawn from the shell: refused within seconds, on an open connection too.
    const gone = consoleCli(['--revoke', cid, '--invite-ledger', ledger]);
    assert.equal(gone.status, 0, gone.stderr);
    let code = null;
    for (let i = 0; i < 50 && code !== 'console_revoked'; i++) {
      code = (await ask(ok.c, { type: 'console.links' })).code ?? null;
      if (code !== 'console_revoked') await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(code, 'console_revoked');
    assert.equal((await ask(ok.c, { type: 'console.links' })).code, 'forbidden', 'for good');
    assert.equal((await hello(srv, token)).m.code, 'console_revoked');
  } finally {
    closeAllClients();
    assert.equal((await srv.stop()).code, 0, srv.stderr);
  }
});

test('console actions: rooms, links, list, withdraw, counts; forbidden to participants', async () => {
  const ledger = newLedgerPath();
  const srv = await startTandem({ openRooms: false, args: ['--invite-ledger', ledger] });
  try {
    const token = consoleCli(['--invite-ledger', ledger]).stdout.trim().split('#c=')[1];
    const { c, m } = await hello(srv, token);
    assert.equal(m.type, 'console.ready');

    // A participant (a coordinator, even) is no console.
    const p = await wsClient(srv.wsUrl);
    p.send({ type: 'join', id: 1, room: 'plain-room', name: 'Coord', role: 'coordinator',
      token: mintInvite({ room: 'plain-room', role: 'coordinator' }) });
    await p.next('welcome');
    const actions = [
      { type: 'console.room.create' },
      { type: 'console.link.create', room: 'plain-room', role: 'mentee' },
      { type: 'console.links' },
      { type: 'console.link.revoke', invite_id: 'A'.repeat(22) },
      { type: 'console.rooms', rooms: ['plain-room'] },
    ];
    for (const a of actions) assert.equal((await ask(p, a)).code, 'forbidden', a.type);
    assert.equal((await ask(p, { type: 'console.hello', token })).code, 'forbidden',
      'a connection in a room does not become a console');
    const fresh = await wsClient(srv.wsUrl);
    for (const a of actions) assert.equal((await ask(fresh, a)).code, 'forbidden', a.type);
    // ... and a console joins no room.
    assert.equal((await ask(c, { type: 'join', room: 'plain-room', name: 'C', role: 'mentee',
      token: mintInvite({ room: 'plain-room', role: 'mentee' }) })).code, 'forbidden');

    const room = (await ask(c, { type: 'console.room.create' })).room;
    assert.match(room, /^[A-Za-z0-9_-]{22}$/);
    assert.notEqual((await ask(c, { type: 'console.room.create' })).room, room);

    const once = await ask(c, { type: 'console.link.create', room, role: 'mentee', expires_s: 3600, uses: 1 });
    assert.equal(once.type, 'console.link', JSON.stringify(once));
    assert.equal(once.room, room);
    assert.equal(once.uses, 1);
    assert.equal(once.url, undefined, 'no public_url: the page uses its own address');
    const open = await ask(c, { type: 'console.link.create', room, role: 'mentor' });
    assert.equal(open.uses, 0);
    for (const [bad, field] of [[{ room: 'no' }, 'room'], [{ room, role: 'boss' }, 'role'],
      [{ room, role: 'mentee', expires_s: 5 }, 'expires_s'], [{ room, role: 'mentee', uses: -1 }, 'uses']]) {
      const r = await ask(c, { type: 'console.link.create', role: 'mentee', ...bad });
      assert.equal(r.code, 'bad_field');
      assert.equal(r.field, field);
    }

    let list = (await ask(c, { type: 'console.links' })).links;
    const mine = (id) => list.find((l) => l.invite_id === id);
    assert.deepEqual(mine(once.invite_id), { invite_id: once.invite_id, role: 'mentee',
      expires_s: once.expires_s, uses: 1, used: 0 });
    assert.equal(mine(open.invite_id).role, 'mentor');
    assert.ok(!list.some((l) => 'room' in l), 'the server keeps no room of a link');

    // People in the room: counts, no names.
    const counts0 = (await ask(c, { type: 'console.rooms', rooms: [room, 'plain-room', 'nobody-here'] })).counts;
    assert.deepEqual(counts0, { [room]: 0, 'plain-room': 1, 'nobody-here': 0 });
    const mentee = await wsClient(srv.wsUrl);
    mentee.send({ type: 'join', id: 1, room, name: 'Mentee', role: 'mentee', token: once.token });
    await mentee.next('welcome');
    const counts = await ask(c, { type: 'console.rooms', rooms: [room] });
    assert.deepEqual(counts.counts, { [room]: 1 });
    assert.doesNotMatch(JSON.stringify(counts), /Mentee/);
    list = (await ask(c, { type: 'console.links' })).links;
    assert.equal(mine(once.invite_id), undefined, 'a used-up link is no longer valid');
    for (const bad of [[1], ['a b c'], 'x', Array(501).fill('room1')])
      assert.equal((await ask(c, { type: 'console.rooms', rooms: bad })).code, 'bad_field');

    // Withdrawn: gone from the list, and its holder cannot join.
    const rv = await ask(c, { type: 'console.link.revoke', invite_id: open.invite_id });
    assert.equal(rv.type, 'console.link.revoked');
    list = (await ask(c, { type: 'console.links' })).links;
    assert.equal(mine(open.invite_id), undefined);
    const late = await wsClient(srv.wsUrl);
    late.send({ type: 'join', id: 1, room, name: 'Mentor', role: 'mentor', token: open.token });
    assert.equal((await late.next('error')).code, 'invite_revoked');
    assert.equal((await ask(c, { type: 'console.link.revoke', invite_id: 'bad' })).code, 'bad_field');

    const text = readFileSync(ledger, 'utf8');
    assert.ok(!text.includes(room), 'no room id on disk');
    assert.doesNotMatch(srv.stderr, new RegExp(room), 'no room id in the log');
  } finally {
    closeAllClients();
    assert.equal((await srv.stop()).code, 0, srv.stderr);
  }
});
