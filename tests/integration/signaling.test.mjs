// Drives the real tandem binary with real WebSocket clients (the `ws` package):
// joins, presence, leave, and every kind of malformed input from docs/protocol.md.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTandem } from '../lib/tandem.mjs';
import { client as wsClient, closeAllClients } from '../lib/wsclient.mjs';

let srv;
const client = (opts) => wsClient(srv.wsUrl, opts);

before(async () => {
  srv = await startTandem({
    args: ['--config', new URL('./data/small-limits.conf', import.meta.url).pathname],
  });
});

after(async () => {
  closeAllClients();
  const r = await srv.stop();
  assert.equal(r.code, 0, `server exit ${JSON.stringify(r)}\n${srv.stderr}`);
  assert.doesNotMatch(srv.stderr, /ERROR: (AddressSanitizer|LeakSanitizer)|runtime error/);
});

async function joined(room, name, role = 'mentee') {
  const c = await client();
  c.send({ type: 'join', id: 1, room, name, role });
  c.welcome = await c.next('welcome');
  return c;
}

test('two clients join, see each other, one leaves', async () => {
  const a = await joined('room-alpha', 'Amina', 'mentee');
  assert.equal(a.welcome.ref, 1);
  assert.equal(a.welcome.protocol, 1);
  assert.equal(a.welcome.you.name, 'Amina');
  assert.match(a.welcome.you.id, /^[A-Za-z0-9_-]{22}$/);
  assert.deepEqual(a.welcome.participants, []);
  assert.equal(typeof a.welcome.server_time, 'number');

  const b = await joined('room-alpha', 'Jan', 'mentor');
  assert.deepEqual(b.welcome.participants, [a.welcome.you]);
  const j = await a.next('joined');
  assert.deepEqual(j.participant, b.welcome.you);
  assert.notEqual(a.welcome.you.id, b.welcome.you.id);

  b.send({ type: 'leave' });
  const l = await a.next('left');
  assert.equal(l.id, b.welcome.you.id);
  assert.equal(l.reason, 'leave');
  assert.equal((await b.waitClose()).code, 1000);

  // closing without leave is seen as a disconnect
  const c = await joined('room-alpha', 'Ngozi', 'coordinator');
  await a.next('joined');
  c.ws.close();
  assert.equal((await a.next('left')).reason, 'disconnect');
  a.ws.close();
});

test('a cut connection resumes as the same participant; others never see it leave', async () => {
  const a = await joined('resume-room', 'Amina');
  const b = await joined('resume-room', 'Jan');
  await a.next('joined');
  assert.match(b.welcome.resume, /^[A-Za-z0-9_-]{43}$/);
  assert.equal(b.welcome.resume_grace_s, 2);
  b.ws.terminate(); // no close frame: a phone losing its network
  assert.equal((await a.next('reconnecting')).id, b.welcome.you.id);
  a.send({ type: 'chat.send', id: 2, text: 'still there?' });
  await a.next('chat.message');

  // a wrong token, then the right one on the same connection: one try per connection
  const wrong = await client();
  wrong.send({ type: 'resume', id: 1, token: 'A'.repeat(43) });
  assert.equal((await wrong.next('error')).code, 'resume_failed');
  wrong.send({ type: 'resume', id: 2, token: b.welcome.resume });
  assert.equal((await wrong.next('error')).code, 'resume_failed');
  wrong.ws.close();

  const back = await client();
  back.send({ type: 'resume', id: 3, token: b.welcome.resume });
  const w = await back.next('welcome');
  assert.equal(w.ref, 3);
  assert.equal(w.you.id, b.welcome.you.id, 'the same participant');
  assert.deepEqual(w.participants, [a.welcome.you]);
  assert.notEqual(w.resume, b.welcome.resume, 'a new token each time');
  assert.equal((await back.next('chat.message')).message.text, 'still there?', 'what it missed');
  assert.equal((await a.next('reconnected')).id, b.welcome.you.id);

  // spent: the first token cannot be used again
  const replay = await client();
  replay.send({ type: 'resume', id: 1, token: b.welcome.resume });
  assert.equal((await replay.next('error')).code, 'resume_failed');
  replay.ws.close();

  // a second cut and no resume: gone after the grace period
  back.ws.terminate();
  await a.next('reconnecting');
  const l = await a.next('left', 8000);
  assert.equal(l.id, b.welcome.you.id);
  const late = await client();
  late.send({ type: 'resume', id: 1, token: w.resume });
  assert.equal((await late.next('error')).code, 'resume_failed');
  late.ws.close();
  a.ws.close();
});

test('rooms are separate and ids are new at every join', async () => {
  const a = await joined('room-one', 'A');
  const b = await joined('room-two', 'B');
  assert.deepEqual(b.welcome.participants, []);
  const a2 = await joined('room-one', 'A');
  assert.notEqual(a2.welcome.you.id, a.welcome.you.id);
  await a.next('joined');
  // b saw nothing of room-one
  b.send({ type: 'ping', id: 'p' });
  const pong = await b.next('pong');
  assert.equal(pong.ref, 'p');
  // only what every joiner gets after welcome (docs/protocol-sync-chat.md)
  assert.deepEqual(b.queue.map((m) => m.type), ['sync.state', 'chat.history']);
  for (const c of [a, b, a2]) c.ws.close();
});

test('ping answers with the server time and echoes t', async () => {
  const c = await client();
  const before = Date.now();
  c.send({ type: 'ping', id: 7, t: 1234.5 });
  const p = await c.next('pong');
  assert.equal(p.ref, 7);
  assert.equal(p.t, 1234.5);
  assert.ok(Math.abs(p.server_time - before) < 5000);
  c.ws.close();
});

// Each entry: what is sent, the error code expected, and the field named (if any).
const malformed = [
  ['not json', '{"type": "join", ', 'bad_json'],
  ['a JSON array', '[1,2,3]', 'bad_json'],
  ['a JSON string', '"join"', 'bad_json'],
  ['duplicate keys', '{"type":"ping","type":"join"}', 'bad_json'],
  ['empty object', {}, 'missing_field', 'type'],
  ['type not a string', { type: 5 }, 'bad_field', 'type'],
  ['type too long', { type: 'x'.repeat(100) }, 'bad_field', 'type'],
  ['unknown type', { type: 'dance', id: 3 }, 'unknown_type', 'type', 3],
  ['bad id', { type: 'ping', id: { a: 1 } }, 'bad_field', 'id'],
  ['negative id', { type: 'ping', id: -1 }, 'bad_field', 'id'],
  ['leave before join', { type: 'leave', id: 'x' }, 'not_joined', undefined, 'x'],
  ['reserved media type', { type: 'offer', sdp: 'v=0' }, 'not_joined'],
  ['ping with a string t', { type: 'ping', t: 'now' }, 'bad_field', 't'],
  ['join without room', { type: 'join', name: 'A', role: 'mentee' }, 'missing_field', 'room'],
  ['join without name', { type: 'join', room: 'abcd', role: 'mentee' }, 'missing_field', 'name'],
  ['join without role', { type: 'join', room: 'abcd', name: 'A' }, 'missing_field', 'role'],
  ['room id too short', { type: 'join', room: 'ab', name: 'A', role: 'mentee' }, 'bad_field', 'room'],
  ['room id with slash', { type: 'join', room: '../etc', name: 'A', role: 'mentee' }, 'bad_field', 'room'],
  ['room id too long', { type: 'join', room: 'a'.repeat(65), name: 'A', role: 'mentee' }, 'bad_field', 'room'],
  ['room not a string', { type: 'join', room: 42, name: 'A', role: 'mentee' }, 'bad_field', 'room'],
  ['empty name', { type: 'join', room: 'abcd', name: '', role: 'mentee' }, 'bad_field', 'name'],
  ['name with control char', { type: 'join', room: 'abcd', name: 'A\u0007B', role: 'mentee' }, 'bad_field', 'name'],
  ['name with NUL (refused by the JSON parser)', { type: 'join', room: 'abcd', name: 'A\u0000B', role: 'mentee' }, 'bad_json'],
  ['name too long', { type: 'join', room: 'abcd', name: 'é'.repeat(33), role: 'mentee' }, 'bad_field', 'name'],
  ['name padded', { type: 'join', room: 'abcd', name: ' A ', role: 'mentee' }, 'bad_field', 'name'],
  // bidi controls make a name read as someone else's ("Jan" + RLO + "animA" shows as "JanAmina")
  ...['\u202e', '\u202a', '\u202d', '\u2066', '\u2067', '\u2068', '\u2069', '\u200e', '\u200f', '\u061c'].map((ch) =>
    [`name with U+${ch.codePointAt(0).toString(16).toUpperCase()}`, { type: 'join', room: 'abcd', name: `Jan${ch}animA`, role: 'mentee' }, 'bad_field', 'name']),
  ['unknown role', { type: 'join', room: 'abcd', name: 'A', role: 'admin' }, 'bad_field', 'role'],
  ['role not a string', { type: 'join', room: 'abcd', name: 'A', role: ['mentor'] }, 'bad_field', 'role'],
];

test('malformed messages get their error codes and the connection stays usable', async () => {
  const c = await client();
  for (const [what, msg, code, field, ref] of malformed) {
    c.send(msg);
    const e = await c.next('error');
    assert.equal(e.code, code, what);
    if (field) assert.equal(e.field, field, what);
    if (ref !== undefined) assert.equal(e.ref, ref, what);
    assert.ok(e.message.length > 0, what);
  }
  // invalid UTF-8 in a text frame (ws lets us send raw bytes as text)
  c.ws.send(Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]), { binary: false });
  assert.equal((await c.next('error')).code, 'bad_utf8');
  c.ws.send(Buffer.from([1, 2, 3]), { binary: true });
  assert.equal((await c.next('error')).code, 'binary_unsupported');
  // still usable: join works after all of that
  c.send({ type: 'join', id: 9, room: 'after-garbage', name: 'Still here', role: 'mentor' });
  assert.equal((await c.next('welcome')).ref, 9);
  c.send({ type: 'join', room: 'other', name: 'Again', role: 'mentor' });
  assert.equal((await c.next('error')).code, 'already_joined');
  c.ws.close();
});

test('an oversized message is refused with too_big and 1009, fragments count too', async () => {
  const c = await client();
  c.send({ type: 'ping', pad: 'x'.repeat(9000) }); // over the 8192-byte test limit
  assert.equal((await c.error('too_big')).code, 'too_big');
  assert.equal((await c.waitClose()).code, 1009);

  // The same limit holds across fragments of one message: 3 x 4000 bytes.
  const d = await client();
  const part = 'y'.repeat(4000);
  d.ws.send(`{"type":"ping","pad":"${part}`, { fin: false });
  d.ws.send(part, { fin: false });
  d.ws.send(`${part}"}`, { fin: true });
  assert.equal((await d.error('too_big')).code, 'too_big');
  assert.equal((await d.waitClose()).code, 1009);

  // Fragments under the limit are reassembled.
  const e = await client();
  e.ws.send('{"type":"ping",', { fin: false });
  e.ws.send('"id":"frag"}', { fin: true });
  assert.equal((await e.next('pong')).ref, 'frag');
  e.ws.close();
});

test('a flood is rate-limited, then closed with 1008; other rooms do not notice', async () => {
  const calm1 = await joined('calm-room', 'Calm one');
  const calm2 = await joined('calm-room', 'Calm two');
  await calm1.next('joined');
  const f = await joined('flood-room', 'Flooder');
  for (let i = 0; i < 400; i++) f.send({ type: 'ping' });
  assert.equal((await f.error('rate_limited')).code, 'rate_limited');
  assert.equal((await f.waitClose()).code, 1008);
  // the calm room still works, promptly
  calm2.send({ type: 'ping', id: 'calm' });
  assert.equal((await calm2.next('pong', 2000)).ref, 'calm');
  assert.equal(calm1.queue.filter((m) => m.type === 'error').length, 0);
  calm1.ws.close();
  calm2.ws.close();
});

test('room and server caps answer room_full and server_full', async () => {
  // small-limits.conf: 3 participants per room, 6 rooms
  const members = [];
  for (let i = 0; i < 3; i++) members.push(await joined('full-room', `P${i}`));
  const extra = await client();
  extra.send({ type: 'join', id: 'x', room: 'full-room', name: 'Late', role: 'mentee' });
  const e = await extra.error('room_full');
  assert.equal(e.ref, 'x');
  // the refused client can still join another room
  extra.send({ type: 'join', room: 'other-room', name: 'Late', role: 'mentee' });
  await extra.next('welcome');
  for (const m of members) m.ws.close();
  extra.ws.close();
  await new Promise((r) => setTimeout(r, 0));

  const rooms = [];
  let full = null;
  for (let i = 0; i < 10 && !full; i++) {
    const c = await client();
    c.send({ type: 'join', room: `cap-room-${i}`, name: 'N', role: 'mentee' });
    const m = await c.next((x) => x.type === 'welcome' || x.type === 'error');
    if (m.type === 'error') full = m; else rooms.push(c);
  }
  assert.equal(full?.code, 'server_full');
  assert.ok(rooms.length >= 1 && rooms.length <= 6);
  for (const c of rooms) c.ws.close();
});

test('WebSocket without the tandem.v1 subprotocol or from another origin is refused', async () => {
  await assert.rejects(client({ protocol: null }));
  await assert.rejects(client({ protocol: 'chat' }));
  await assert.rejects(client({ headers: { Origin: 'https://evil.example' } }));
  const ok = await client({ headers: { Origin: `https://127.0.0.1:${srv.port}` } });
  ok.ws.close();
});

test('the server is still healthy: a fresh pair can meet', async () => {
  const a = await joined('health-check', 'A');
  const b = await joined('health-check', 'B');
  assert.equal((await a.next('joined')).participant.name, 'B');
  a.ws.close();
  b.ws.close();
});

test('an idle connection is closed after the idle time-out', async () => {
  const a = await joined('idle-room', 'Watcher');
  const idle = await joined('idle-room', 'Sleeper');
  await a.next('joined');
  // idle_timeout_s is 5 in the test config; the watcher keeps itself alive.
  const keep = setInterval(() => a.send({ type: 'ping' }), 1000);
  try {
    // A silent page may be on a dead network: it is "reconnecting" for resume_grace_s (2 in
    // the test config), then gone.
    assert.equal((await a.next('reconnecting', 12000)).id, idle.welcome.you.id);
    const l = await a.next('left', 12000);
    assert.equal(l.id, idle.welcome.you.id);
    assert.equal(l.reason, 'timeout');
  } finally {
    clearInterval(keep);
  }
  a.ws.close();
});
