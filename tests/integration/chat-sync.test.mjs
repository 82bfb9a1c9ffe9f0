// Watch-together, clock sync and chat against the real server (docs/protocol-sync-chat.md):
// real WebSocket clients, pictures uploaded in pieces and fetched back over HTTPS with the
// access token, films from a media folder with byte ranges. Every wait is bounded.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { mkdtempSync, writeFileSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { startTandem, SOURCE_DIR } from '../lib/tandem.mjs';
import { client as wsClient, closeAllClients } from '../lib/wsclient.mjs';

const FIXTURES = path.join(SOURCE_DIR, 'tests', 'data', 'chat');
const fixture = (name) => readFileSync(path.join(FIXTURES, name));
const ORIGIN = 'https://media.example.org';

let srv;
let dir;
const FILM = randomBytes(100000); // the server only serves bytes: they need not be a film

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'tandem-chat-sync-'));
  const media = path.join(dir, 'media');
  const { mkdirSync } = await import('node:fs');
  mkdirSync(media);
  writeFileSync(path.join(media, 'River film.mp4'), FILM);
  writeFileSync(path.join(media, 'small.webm'), Buffer.from('webm bytes'));
  writeFileSync(path.join(media, '.hidden.mp4'), Buffer.from('hidden'));
  writeFileSync(path.join(media, 'notes.txt'), Buffer.from('not a film'));
  writeFileSync(path.join(dir, 'secret.mp4'), Buffer.from('outside the folder'));
  symlinkSync(path.join(dir, 'secret.mp4'), path.join(media, 'link.mp4'));
  const conf = path.join(dir, 'tandem.conf');
  writeFileSync(conf, [
    '[sync]', `media_dir = ${media}`, `allowed_origins = ${ORIGIN}`, 'max_wait_s = 1',
    '[chat]', 'picture_burst = 100', 'pictures_per_minute = 6000', 'upload_idle_s = 1',
    'max_uploads = 4', 'server_picture_bytes = 6291456', '',
  ].join('\n'));
  srv = await startTandem({ args: ['--config', conf] });
});

after(async () => {
  closeAllClients();
  const r = await srv.stop();
  rmSync(dir, { recursive: true, force: true });
  assert.equal(r.code, 0, `server exit ${JSON.stringify(r)}\n${srv.stderr}`);
  assert.doesNotMatch(srv.stderr, /ERROR: (AddressSanitizer|LeakSanitizer)|runtime error/);
});

/** Joins and reads the three messages every joiner gets, in their order. */
async function joined(room, name, role = 'mentee') {
  const c = await wsClient(srv.wsUrl);
  c.send({ type: 'join', id: 'j', room, name, role });
  c.welcome = await c.next(() => true);
  assert.equal(c.welcome.type, 'welcome', JSON.stringify(c.welcome));
  c.state = await c.next(() => true);
  assert.equal(c.state.type, 'sync.state');
  c.history = await c.next(() => true);
  assert.equal(c.history.type, 'chat.history');
  c.id = c.welcome.you.id;
  c.access = c.history.access;
  c.room = room;
  return c;
}

let nextId = 1;
/** Sends msg with a fresh id and resolves with the reply or error that carries it as ref. */
function ask(c, msg, ms = 5000) {
  const id = nextId++;
  c.send({ ...msg, id });
  return c.next((m) => m.ref === id, ms);
}

function get(urlPath, headers = {}, method = 'GET') {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port: srv.port, path: urlPath, method, headers,
      rejectUnauthorized: false, timeout: 5000 }, (res) => {
      const chunks = [];
      res.on('data', (d) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${urlPath}: timeout`)));
    req.on('error', reject);
    req.end();
  });
}

/** Uploads bytes in pieces of at most `piece` bytes; resolves with the last reply. */
async function upload(c, bytes, mime, { piece = 0, caption } = {}) {
  const begin = await ask(c, { type: 'chat.picture', mime, size: bytes.length, ...(caption ? { caption } : {}) });
  if (begin.type !== 'chat.upload') return begin;
  assert.equal(begin.received, 0);
  const step = piece || begin.chunk_bytes;
  let last;
  for (let off = 0; off < bytes.length; off += step) {
    const data = bytes.subarray(off, off + step).toString('base64url');
    last = await ask(c, { type: 'chat.picture.chunk', upload: begin.upload, offset: off, data });
    if (last.type !== 'chat.upload') return last;
    assert.equal(last.received, Math.min(off + step, bytes.length));
  }
  return last;
}

/** A structurally valid PNG of about `n` bytes (IDAT holds random bytes: the server checks
 *  structure, not pixels), for uploads of several full pieces. */
function bigPng(n) {
  const crcTable = Array.from({ length: 256 }, (_, i) => {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf) => {
    let c = 0xffffffff;
    for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const len = Buffer.alloc(4); len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const sum = Buffer.alloc(4); sum.writeUInt32BE(crc(body));
    return Buffer.concat([len, body, sum]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(640, 0); ihdr.writeUInt32BE(480, 4);
  ihdr[8] = 8; ihdr[9] = 2; // 8-bit RGB
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr), chunk('IDAT', randomBytes(n)), chunk('IEND', Buffer.alloc(0))]);
}

test('time.ping is answered before and after join, with the server times in order', async () => {
  const c = await wsClient(srv.wsUrl);
  const t1 = Date.now() + 0.25;
  const pong = await ask(c, { type: 'time.ping', t1 });
  assert.equal(pong.type, 'time.pong');
  assert.equal(pong.t1, t1);
  assert.ok(pong.t2 <= pong.t3, JSON.stringify(pong));
  // server time reads like Unix time (fixed offset, no steps): close to this machine's clock
  assert.ok(Math.abs(pong.t2 - Date.now()) < 60000);
  const bad = await ask(c, { type: 'time.ping', t1: 'now' });
  assert.deepEqual([bad.code, bad.field], ['bad_field', 't1']);
  const missing = await ask(c, { type: 'time.ping' });
  assert.deepEqual([missing.code, missing.field], ['missing_field', 't1']);
  const huge = await ask(c, { type: 'time.ping', t1: 1e300 });
  assert.deepEqual([huge.code, huge.field], ['bad_field', 't1']);
  // the other channels need a room
  assert.equal((await ask(c, { type: 'chat.send', text: 'hi' })).code, 'not_joined');
  assert.equal((await ask(c, { type: 'sync.play' })).code, 'not_joined');
  assert.equal((await ask(c, { type: 'chat.nonsense' })).code, 'unknown_type');
  const a = await joined('cs-time', 'Amina');
  const p2 = await ask(a, { type: 'time.ping', t1: 5 });
  assert.ok(p2.t2 >= pong.t3, 'server time never goes back');
  c.ws.close(); a.ws.close();
});

test('a joiner gets welcome, then sync.state, then chat.history, with an access token', async () => {
  const a = await joined('cs-join', 'Amina');
  assert.equal(a.state.seq, 0);
  assert.equal(a.state.source, null);
  assert.equal(a.state.playing, false);
  assert.equal(a.state.ref, undefined);
  assert.equal(a.state.media, true);
  assert.match(a.state.access, /^[A-Za-z0-9_-]{22}$/);
  assert.equal(a.history.access, a.state.access);
  assert.deepEqual(a.history.messages, []);
  const b = await joined('cs-join', 'Jan', 'mentor');
  assert.notEqual(b.access, a.access, 'one token per participant');
  a.ws.close(); b.ws.close();
});

test('chat texts reach everyone; bad texts are refused with the field named', async () => {
  const a = await joined('cs-text', 'Amina');
  const b = await joined('cs-text', 'Jan', 'mentor');
  const text = 'Good evening!\nHow was your day? مرحبا 👋';
  const mine = await ask(a, { type: 'chat.send', text });
  assert.equal(mine.type, 'chat.message');
  const theirs = await b.next('chat.message');
  assert.equal(theirs.ref, undefined);
  assert.deepEqual(theirs.message, mine.message);
  assert.equal(mine.message.text, text);
  assert.deepEqual(mine.message.from, { id: a.id, name: 'Amina' });
  assert.ok(mine.message.id >= 1);
  assert.deepEqual(mine.message.reactions, []);
  for (const [bad, code] of [['', 'bad_field'], [' padded', 'bad_field'], ['tab\there', 'bad_field'],
    ['cr\r\nlf', 'bad_field'], ['x'.repeat(2001), 'bad_field'], [42, 'bad_field'], [undefined, 'missing_field'],
    ['\u202e:animA morf', 'bad_field'], ['quote \u2067x', 'bad_field'], ['end \u202c', 'bad_field']]) {
    const r = await ask(a, { type: 'chat.send', text: bad });
    assert.deepEqual([r.type, r.code, r.field], ['error', code, 'text'], JSON.stringify(bad));
  }
  // the marks are how mixed-direction text is written: kept
  const marked = await ask(b, { type: 'chat.send', text: 'مرحبا\u200f 42' });
  assert.equal(marked.message.text, 'مرحبا\u200f 42');
  await a.next('chat.message');
  const second = await ask(b, { type: 'chat.send', text: 'Fine, thanks' });
  assert.ok(second.message.id > mine.message.id, 'ids increase');
  a.ws.close(); b.ws.close();
});

test('a flood of texts is answered rate_limited, and the room still works', async () => {
  const a = await joined('cs-flood', 'Amina');
  const b = await joined('cs-flood', 'Jan', 'mentor');
  const replies = [];
  for (let i = 0; i < 14; i++) replies.push(ask(a, { type: 'chat.send', text: `message ${i}` }));
  const got = await Promise.all(replies);
  const limited = got.filter((m) => m.type === 'error' && m.code === 'rate_limited');
  assert.ok(limited.length >= 2, `${limited.length} of 14 refused`);
  assert.ok(got.filter((m) => m.type === 'chat.message').length >= 5);
  // the other participant is not limited by Amina's flood
  assert.equal((await ask(b, { type: 'chat.send', text: 'still here' })).type, 'chat.message');
  a.ws.close(); b.ws.close();
});

test('reactions toggle, and only the sender or a coordinator deletes', async () => {
  const a = await joined('cs-react', 'Amina');
  const b = await joined('cs-react', 'Jan', 'mentor');
  const c = await joined('cs-react', 'Ngozi', 'coordinator');
  const msg = (await ask(a, { type: 'chat.send', text: 'React to me' })).message;
  const on = await ask(b, { type: 'chat.react', message: msg.id, emoji: '👍🏽' });
  assert.equal(on.type, 'chat.reaction');
  assert.equal(on.on, true);
  assert.equal(on.by, b.id);
  assert.deepEqual(on.reactions, [{ emoji: '👍🏽', count: 1, who: [b.id] }]);
  const seen = await a.next('chat.reaction');
  assert.deepEqual(seen.reactions, on.reactions);
  await ask(c, { type: 'chat.react', message: msg.id, emoji: '👍🏽' });
  const heart = await ask(a, { type: 'chat.react', message: msg.id, emoji: '❤️' });
  assert.deepEqual(heart.reactions.map((r) => [r.emoji, r.count]), [['👍🏽', 2], ['❤️', 1]]);
  const off = await ask(b, { type: 'chat.react', message: msg.id, emoji: '👍🏽' });
  assert.equal(off.on, false);
  assert.deepEqual(off.reactions.map((r) => [r.emoji, r.who]), [['👍🏽', [c.id]], ['❤️', [a.id]]]);
  for (const [emoji, field] of [['ok', 'emoji'], ['👍 ', 'emoji'], ['\u202e👍', 'emoji'], ['👍'.repeat(9), 'emoji']]) {
    const r = await ask(a, { type: 'chat.react', message: msg.id, emoji });
    assert.deepEqual([r.code, r.field], ['bad_field', field], emoji);
  }
  const none = await ask(a, { type: 'chat.react', message: 999999, emoji: '👍' });
  assert.deepEqual([none.code, none.field], ['not_found', 'message']);
  assert.equal((await ask(a, { type: 'chat.react', message: 0, emoji: '👍' })).code, 'bad_field');

  // delete: someone else's message is refused to a mentor, allowed to a coordinator
  assert.equal((await ask(b, { type: 'chat.delete', message: msg.id })).code, 'forbidden');
  const own = (await ask(b, { type: 'chat.send', text: 'oops' })).message;
  const del = await ask(b, { type: 'chat.delete', message: own.id });
  assert.deepEqual([del.type, del.message, del.by], ['chat.deleted', own.id, b.id]);
  assert.equal((await a.next('chat.deleted')).message, own.id);
  assert.equal((await ask(b, { type: 'chat.delete', message: own.id })).code, 'not_found');
  const byCoord = await ask(c, { type: 'chat.delete', message: msg.id });
  assert.equal(byCoord.type, 'chat.deleted');
  assert.equal((await ask(a, { type: 'chat.react', message: msg.id, emoji: '👍' })).code, 'not_found');
  // a late joiner sees neither
  const d = await joined('cs-react', 'Late');
  assert.ok(!d.history.messages.some((m) => m.id === msg.id || m.id === own.id));
  for (const x of [a, b, c, d]) x.ws.close();
});

test('a picture uploaded in pieces reaches everyone and is served only to the room', async () => {
  const a = await joined('cs-pic', 'Amina');
  const b = await joined('cs-pic', 'Jan', 'mentor');
  const other = await joined('cs-pic-other', 'Stranger');
  const jpg = fixture('red_24x10.jpg');
  const done = await upload(a, jpg, 'image/jpeg', { piece: 50, caption: 'The bill' });
  assert.equal(done.type, 'chat.message', JSON.stringify(done));
  const m = done.message;
  assert.equal(m.text, 'The bill');
  assert.deepEqual([m.picture.mime, m.picture.width, m.picture.height, m.picture.size, m.picture.available],
    ['image/jpeg', 24, 10, jpg.length, true]);
  assert.match(m.picture.url, /^\/p\/cs-pic\/[A-Za-z0-9_-]{22}$/);
  const seen = await b.next('chat.message');
  assert.deepEqual(seen.message, m);

  const res = await get(`${m.picture.url}?access=${b.access}`);
  assert.equal(res.status, 200);
  assert.equal(res.headers['content-type'], 'image/jpeg');
  assert.match(res.headers['cache-control'], /no-store/);
  assert.match(res.headers['content-security-policy'], /default-src 'self'/);
  assert.equal(res.headers['x-content-type-options'], 'nosniff');
  assert.ok(res.body.equals(jpg), 'the bytes come back unchanged');
  // no token, a wrong token, another room's token, a guessed key: all look like nothing
  for (const q of ['', '?access=', `?access=${'A'.repeat(22)}`, `?access=${other.access}`]) {
    assert.equal((await get(`${m.picture.url}${q}`)).status, 404, q);
  }
  assert.equal((await get(`/p/cs-pic/${'B'.repeat(22)}?access=${a.access}`)).status, 404);
  assert.equal((await get(`/p/cs-pic-other/${m.picture.url.split('/')[3]}?access=${other.access}`)).status, 404);

  // a bigger picture, in full pieces of chunk_bytes
  const png = bigPng(100000);
  const big = await upload(a, png, 'image/png');
  assert.equal(big.type, 'chat.message', JSON.stringify(big));
  const got = await get(`${big.message.picture.url}?access=${a.access}`);
  assert.ok(got.body.equals(png));

  // a late joiner gets both in its history, with their URLs, and a token that works
  const late = await joined('cs-pic', 'Late');
  const urls = late.history.messages.map((x) => x.picture?.url);
  assert.ok(urls.includes(m.picture.url) && urls.includes(big.message.picture.url));
  assert.equal((await get(`${m.picture.url}?access=${late.access}`)).status, 200);

  // deleted: gone from memory; a leaver's token dies with them
  await ask(a, { type: 'chat.delete', message: m.id });
  assert.equal((await get(`${m.picture.url}?access=${a.access}`)).status, 404);
  const lateAccess = late.access;
  late.ws.close();
  await a.next((x) => x.type === 'left' && x.id === late.id);
  assert.equal((await get(`${big.message.picture.url}?access=${lateAccess}`)).status, 404);
  // the room closes: everything is gone
  const url = big.message.picture.url;
  const token = a.access;
  a.ws.close(); b.ws.close();
  await other.next(() => false, 300).catch(() => {}); // give the closes a moment to land
  assert.equal((await get(`${url}?access=${token}`)).status, 404);
  other.ws.close();
});

test('pictures that are not what they claim, too big or carry metadata are refused', async () => {
  const a = await joined('cs-badpic', 'Amina');
  const cases = [
    ['jpeg bytes declared png', fixture('jpeg_named.png'), 'image/png', 'bad_field', 'mime'],
    ['gif', Buffer.from('GIF89a....'), 'image/gif', 'bad_field', 'mime'],
    ['truncated png', fixture('truncated.png'), 'image/png', 'bad_field', 'data'],
    ['bytes after IEND', fixture('trailing.png'), 'image/png', 'bad_field', 'data'],
    ['Exif (GPS lives there)', fixture('exif.jpg'), 'image/jpeg', 'bad_field', 'data'],
    ['100000 pixels wide', fixture('huge_100000.png'), 'image/png', 'picture_too_big', 'data'],
  ];
  for (const [what, bytes, mime, code, field] of cases) {
    const r = await upload(a, bytes, mime);
    assert.deepEqual([r.type, r.code, r.field], ['error', code, field], what);
  }
  const tooBig = await ask(a, { type: 'chat.picture', mime: 'image/jpeg', size: 3 * 1024 * 1024 });
  assert.deepEqual([tooBig.code, tooBig.field], ['picture_too_big', 'size']);
  assert.deepEqual([(await ask(a, { type: 'chat.picture', mime: 'image/jpeg', size: 0 })).code], ['bad_field']);
  assert.equal((await ask(a, { type: 'chat.picture', size: 10 })).code, 'missing_field');

  // pieces: out of order drops the upload; past the size; bad base64url; unknown upload
  const jpg = fixture('red_24x10.jpg');
  let up = await ask(a, { type: 'chat.picture', mime: 'image/jpeg', size: jpg.length });
  let r = await ask(a, { type: 'chat.picture.chunk', upload: up.upload, offset: 10, data: jpg.subarray(0, 10).toString('base64url') });
  assert.deepEqual([r.code, r.field], ['bad_field', 'offset']);
  r = await ask(a, { type: 'chat.picture.chunk', upload: up.upload, offset: 0, data: jpg.toString('base64url') });
  assert.deepEqual([r.code, r.field], ['not_found', 'upload']);
  up = await ask(a, { type: 'chat.picture', mime: 'image/jpeg', size: 10 });
  r = await ask(a, { type: 'chat.picture.chunk', upload: up.upload, offset: 0, data: jpg.subarray(0, 20).toString('base64url') });
  assert.equal(r.code, 'bad_field');
  up = await ask(a, { type: 'chat.picture', mime: 'image/jpeg', size: jpg.length });
  r = await ask(a, { type: 'chat.picture.chunk', upload: up.upload, offset: 0, data: 'not base64!' });
  assert.deepEqual([r.code, r.field], ['bad_field', 'data']);
  r = await ask(a, { type: 'chat.picture.chunk', upload: up.upload, offset: 0, data: 'A'.repeat(49153) });
  assert.deepEqual([r.code, r.field], ['bad_field', 'data']);
  // the upload is still there after those refusals: finish it
  r = await ask(a, { type: 'chat.picture.chunk', upload: up.upload, offset: 0, data: jpg.toString('base64url') });
  assert.equal(r.type, 'chat.message');
  // nothing refused made it into the history
  const late = await joined('cs-badpic', 'Late');
  assert.equal(late.history.messages.length, 1);
  a.ws.close(); late.ws.close();
});

test('uploads: four at a time per room, and one idle for upload_idle_s is dropped', async () => {
  const people = [];
  for (let i = 0; i < 5; i++) people.push(await joined('cs-uploads', `P${i}`));
  const ups = [];
  for (let i = 0; i < 4; i++) ups.push(await ask(people[i], { type: 'chat.picture', mime: 'image/png', size: 101 }));
  assert.ok(ups.every((u) => u.type === 'chat.upload'));
  const fifth = await ask(people[4], { type: 'chat.picture', mime: 'image/png', size: 101 });
  assert.equal(fifth.code, 'limit_reached');
  // one leaves: its upload is dropped, so the fifth may begin
  people[0].ws.close();
  await people[4].next('left');
  assert.equal((await ask(people[4], { type: 'chat.picture', mime: 'image/png', size: 101 })).type, 'chat.upload');
  // the server's timer drops uploads idle for a second (config upload_idle_s = 1)
  await new Promise((r) => setTimeout(r, 1500));
  const png = fixture('red_24x10.png');
  const r = await ask(people[1], { type: 'chat.picture.chunk', upload: ups[1].upload, offset: 0, data: png.toString('base64url') });
  assert.deepEqual([r.code, r.field], ['not_found', 'upload']);
  for (const p of people) p.ws.close();
});

test('all rooms together hold at most chat.server_picture_bytes of pictures', async () => {
  // 6 MiB for the server (config): three uploads of 1.9 MiB in three rooms fit, a fourth
  // room is told to try later; when one ends, the fourth may begin.
  const size = 1900 * 1024;
  const people = [];
  for (let i = 0; i < 4; i++) people.push(await joined(`cs-pool-${i}`, `P${i}`));
  for (let i = 0; i < 3; i++) {
    assert.equal((await ask(people[i], { type: 'chat.picture', mime: 'image/jpeg', size })).type, 'chat.upload');
  }
  const refused = await ask(people[3], { type: 'chat.picture', mime: 'image/jpeg', size });
  assert.equal(refused.code, 'limit_reached');
  assert.match(refused.message, /try again later/);
  people[0].ws.close(); // the room goes, and its upload with it
  await people[0].waitClose();
  let ok = await ask(people[3], { type: 'chat.picture', mime: 'image/jpeg', size });
  for (let i = 0; i < 10 && ok.type !== 'chat.upload'; i++) { // the server may see the close a moment later
    await new Promise((r) => setTimeout(r, 100));
    ok = await ask(people[3], { type: 'chat.picture', mime: 'image/jpeg', size });
  }
  assert.equal(ok.type, 'chat.upload');
  for (const p of people) p.ws.close();
});

test('watch-together: load, play, pause, seek and rate reach everyone in order', async () => {
  const a = await joined('cs-sync', 'Amina');
  const b = await joined('cs-sync', 'Jan', 'mentor');
  assert.equal((await ask(a, { type: 'sync.play' })).field, 'source', 'nothing loaded yet');
  let s = await ask(a, { type: 'sync.load', source: 'media:River film.mp4' });
  assert.deepEqual([s.type, s.seq, s.source, s.playing, s.position, s.rate, s.cause, s.by],
    ['sync.state', 1, 'media:River film.mp4', false, 0, 1, 'load', a.id]);
  let theirs = await b.next('sync.state');
  assert.equal(theirs.ref, undefined);
  assert.equal(theirs.seq, 1);
  const before = (await ask(a, { type: 'time.ping', t1: 0 })).t3;
  s = await ask(b, { type: 'sync.play', seq: 1 });
  assert.deepEqual([s.seq, s.playing, s.cause, s.by], [2, true, 'play', b.id]);
  // the effective time is a little in the future: 100..1000 ms, 250 by default
  assert.ok(s.at - before >= 100 && s.at - before <= 1100, `at - now = ${s.at - before}`);
  await a.next((m) => m.type === 'sync.state' && m.seq === 2);
  // play while playing changes nothing: answered to the sender only, same seq
  s = await ask(b, { type: 'sync.play' });
  assert.equal(s.seq, 2);
  s = await ask(a, { type: 'sync.seek', position: 754.2 });
  assert.deepEqual([s.seq, s.playing, s.position, s.cause], [3, true, 754.2, 'seek']);
  s = await ask(a, { type: 'sync.rate', rate: 1.5 });
  assert.deepEqual([s.seq, s.rate, s.cause], [4, 1.5, 'rate']);
  s = await ask(a, { type: 'sync.pause', at: s.at + 100 });
  assert.deepEqual([s.seq, s.playing, s.cause], [5, false, 'pause']);
  for (const seq of [3, 4, 5]) assert.equal((await b.next('sync.state')).seq, seq);

  const bad = [
    [{ type: 'sync.seek', position: -1 }, 'bad_field', 'position'],
    [{ type: 'sync.seek', position: 86401 }, 'bad_field', 'position'],
    [{ type: 'sync.seek' }, 'missing_field', 'position'],
    [{ type: 'sync.rate', rate: 3 }, 'bad_field', 'rate'],
    [{ type: 'sync.rate', rate: '1' }, 'bad_field', 'rate'],
    [{ type: 'sync.load', source: 'media:../etc/passwd' }, 'bad_field', 'source'],
    [{ type: 'sync.load', source: 'media:.hidden.mp4' }, 'bad_field', 'source'],
    [{ type: 'sync.load', source: 'javascript:alert(1)' }, 'bad_field', 'source'],
    [{ type: 'sync.load', source: 'https://evil.example.net/film.mp4' }, 'forbidden', 'source'],
    [{ type: 'sync.load', source: `https://x@media.example.org/film.mp4` }, 'bad_field', 'source'],
    [{ type: 'sync.load' }, 'missing_field', 'source'],
    [{ type: 'sync.load', source: 'media:Not here.mp4' }, 'not_found', 'source'],
    [{ type: 'sync.load', source: 'media:link.mp4' }, 'not_found', 'source'], // a link out of the folder
    [{ type: 'sync.load', source: 'media:notes.txt' }, 'not_found', 'source'], // not served as a film
    [{ type: 'sync.play', seq: 999 }, 'bad_field', 'seq'],
    [{ type: 'sync.play', seq: -1 }, 'bad_field', 'seq'],
    [{ type: 'sync.play', at: 'soon' }, 'bad_field', 'at'],
    [{ type: 'sync.buffering' }, 'missing_field', 'waiting'],
    [{ type: 'sync.wait_all', enabled: 1 }, 'bad_field', 'enabled'],
  ];
  for (const [msg, code, field] of bad) {
    const r = await ask(a, msg);
    assert.deepEqual([r.type, r.code, r.field], ['error', code, field], JSON.stringify(msg));
  }
  // an allowed origin loads; a play based on the previous film is a conflict
  s = await ask(b, { type: 'sync.load', source: `${ORIGIN}/films/river.webm?x=1` });
  assert.deepEqual([s.seq, s.source, s.position, s.playing], [6, `${ORIGIN}/films/river.webm?x=1`, 0, false]);
  const stale = await ask(a, { type: 'sync.play', seq: 5 });
  assert.deepEqual([stale.code, stale.field], ['conflict', 'seq']);
  assert.equal((await ask(a, { type: 'sync.play', seq: 6 })).seq, 7);
  a.ws.close(); b.ws.close();
});

test('a coordinator can keep control; buffering is always allowed', async () => {
  const coord = await joined('cs-control', 'Ngozi', 'coordinator');
  const mentee = await joined('cs-control', 'Amina');
  assert.equal((await ask(mentee, { type: 'sync.control', coordinators_only: true })).code, 'forbidden');
  await ask(coord, { type: 'sync.load', source: 'media:small.webm' });
  const s = await ask(coord, { type: 'sync.control', coordinators_only: true });
  assert.deepEqual([s.coordinators_only, s.cause], [true, 'control']);
  for (const msg of [{ type: 'sync.play' }, { type: 'sync.pause' }, { type: 'sync.seek', position: 3 },
    { type: 'sync.rate', rate: 2 }, { type: 'sync.load', source: 'media:small.webm' },
    { type: 'sync.wait_all', enabled: true }]) {
    assert.equal((await ask(mentee, msg)).code, 'forbidden', msg.type);
  }
  const buf = await ask(mentee, { type: 'sync.buffering', waiting: true });
  assert.deepEqual([buf.type, buf.waiting], ['sync.state', [mentee.id]]);
  assert.equal((await ask(coord, { type: 'sync.play' })).playing, true);
  await ask(coord, { type: 'sync.control', coordinators_only: false });
  assert.equal((await ask(mentee, { type: 'sync.pause' })).playing, false);
  coord.ws.close(); mentee.ws.close();
});

test('wait for everyone: held while someone buffers, resumed when ready, or after max_wait_s', async () => {
  const a = await joined('cs-wait', 'Amina');
  const b = await joined('cs-wait', 'Jan', 'mentor');
  await ask(a, { type: 'sync.load', source: 'media:River film.mp4' });
  assert.equal((await ask(a, { type: 'sync.wait_all', enabled: true })).wait_for_all, true);
  await ask(a, { type: 'sync.play' });
  let s = await ask(b, { type: 'sync.buffering', waiting: true });
  assert.deepEqual([s.held, s.playing, s.cause, s.waiting], [true, false, 'hold', [b.id]]);
  assert.equal((await a.next((m) => m.type === 'sync.state' && m.cause === 'hold')).held, true);
  s = await ask(b, { type: 'sync.buffering', waiting: false });
  assert.deepEqual([s.held, s.playing, s.cause], [false, true, 'resume']);
  assert.equal((await a.next((m) => m.type === 'sync.state' && m.cause === 'resume')).by, b.id);
  // held again; nobody reports ready: the server's timer resumes after max_wait_s (1 s here)
  s = await ask(b, { type: 'sync.buffering', waiting: true });
  assert.equal(s.held, true);
  const resumed = await a.next((m) => m.type === 'sync.state' && m.cause === 'resume', 4000);
  assert.deepEqual([resumed.held, resumed.playing, resumed.by], [false, true, null]);
  // a waiting participant who leaves no longer holds anyone
  await ask(b, { type: 'sync.buffering', waiting: false });
  await ask(a, { type: 'sync.pause' });
  await ask(b, { type: 'sync.buffering', waiting: true });
  s = await ask(a, { type: 'sync.play' });
  assert.equal(s.held, true, 'play while someone waits holds the room');
  b.ws.close();
  // the hold ends with its last waiter: the room resumes (cause "resume", by the server)
  const after = await a.next((m) => m.type === 'sync.state' && m.waiting.length === 0 && m.seq > s.seq);
  assert.deepEqual([after.held, after.playing, after.cause, after.by], [false, true, 'resume', null]);
  a.ws.close();
});

test('a late joiner gets the projected state and the history; another room never notices', async () => {
  const a = await joined('cs-late', 'Amina');
  const quiet = await joined('cs-late-other', 'Someone');
  await ask(a, { type: 'chat.send', text: 'First' });
  await ask(a, { type: 'chat.send', text: 'Second' });
  await ask(a, { type: 'sync.load', source: 'media:River film.mp4' });
  await ask(a, { type: 'sync.seek', position: 10 });
  const play = await ask(a, { type: 'sync.play' });
  await a.next(() => false, 700).catch(() => {}); // let the film run past its effective time
  const b = await joined('cs-late', 'Jan', 'mentor');
  assert.deepEqual([b.state.seq, b.state.source, b.state.playing], [play.seq, 'media:River film.mp4', true]);
  // projected to the server's now: position 10 at play.at, advanced since
  const expect = 10 + (b.state.at - play.at) / 1000;
  assert.ok(b.state.at > play.at);
  assert.ok(Math.abs(b.state.position - expect) < 0.001, `${b.state.position} vs ${expect}`);
  assert.deepEqual(b.history.messages.map((m) => m.text), ['First', 'Second']);
  // the other room saw none of it and has its own fresh state
  const ping = await ask(quiet, { type: 'time.ping', t1: 1 });
  assert.equal(ping.type, 'time.pong');
  assert.ok(!quiet.queue.some((m) => m.type.startsWith('chat.') || m.type.startsWith('sync.')),
    JSON.stringify(quiet.queue));
  const fresh = await joined('cs-late-other', 'Other');
  assert.deepEqual([fresh.state.seq, fresh.state.source, fresh.history.messages], [0, null, []]);
  for (const c of [a, b, quiet, fresh]) c.ws.close();
});

test('films: the media folder with byte ranges, only for people in a room', async () => {
  const a = await joined('cs-media', 'Amina');
  const q = `room=cs-media&access=${a.access}`;
  const list = await get(`/media/?${q}`);
  assert.equal(list.status, 200);
  assert.equal(list.headers['content-type'], 'application/json');
  const names = JSON.parse(list.body).files.map((f) => f.name).sort();
  assert.deepEqual(names, ['River film.mp4', 'small.webm'], 'no hidden files, no other types, no links');
  const file = `/media/River%20film.mp4?${q}`;
  const whole = await get(file);
  assert.equal(whole.status, 200);
  assert.equal(whole.headers['content-type'], 'video/mp4');
  assert.equal(whole.headers['accept-ranges'], 'bytes');
  assert.equal(whole.headers['content-security-policy'].includes("default-src 'self'"), true);
  assert.ok(whole.body.equals(FILM));
  const part = await get(file, { Range: 'bytes=1000-1999' });
  assert.equal(part.status, 206);
  assert.equal(part.headers['content-range'], `bytes 1000-1999/${FILM.length}`);
  assert.ok(part.body.equals(FILM.subarray(1000, 2000)));
  const open = await get(file, { Range: 'bytes=99000-' });
  assert.equal(open.status, 206);
  assert.ok(open.body.equals(FILM.subarray(99000)));
  const suffix = await get(file, { Range: 'bytes=-10' });
  assert.equal(suffix.headers['content-range'], `bytes ${FILM.length - 10}-${FILM.length - 1}/${FILM.length}`);
  const past = await get(file, { Range: 'bytes=100000-' });
  assert.equal(past.status, 416);
  assert.equal(past.headers['content-range'], `bytes */${FILM.length}`);
  const multi = await get(file, { Range: 'bytes=0-1,5-6' });
  assert.equal(multi.status, 200, 'several ranges: the whole file');
  const head = await get(file, { Range: 'bytes=0-99' }, 'HEAD');
  assert.deepEqual([head.status, head.headers['content-length'], head.body.length], [206, '100', 0]);
  assert.equal((await get(`/media/small.webm?${q}`)).headers['content-type'], 'video/webm');
  for (const p of [`/media/River%20film.mp4`, `/media/River%20film.mp4?room=cs-media&access=${'x'.repeat(22)}`,
    `/media/?room=cs-media`, `/media/.hidden.mp4?${q}`, `/media/notes.txt?${q}`, `/media/link.mp4?${q}`,
    `/media/..%2fsecret.mp4?${q}`, `/media/%2e%2e/secret.mp4?${q}`, `/media/nothing.mp4?${q}`]) {
    const r = await get(p);
    assert.equal(r.status, 404, p);
    assert.match(r.headers['content-type'], /text\/html/, p);
  }
  // a client that goes away in the middle of a film does not disturb the server
  await new Promise((resolve) => {
    const req = https.get({ host: '127.0.0.1', port: srv.port, path: file, rejectUnauthorized: false },
      (res) => { res.once('data', () => { req.destroy(); resolve(); }); });
    req.on('error', resolve);
  });
  assert.equal((await get(file, { Range: 'bytes=0-0' })).status, 206);
  a.ws.close();
});

test('unknown paths get the 404 page with the security headers', async () => {
  const r = await get('/no/such/page');
  assert.equal(r.status, 404);
  assert.match(r.headers['content-type'], /text\/html/);
  assert.match(r.body.toString(), /notFound\.heading/);
  assert.equal(r.headers['x-frame-options'], 'DENY');
  assert.match(r.headers['content-security-policy'], new RegExp(`media-src 'self' blob: ${ORIGIN};`),
    'allowed film origins may play in the pages');
  assert.equal((await get('/p/nothing')).status, 404);
  assert.equal((await get('/media/x.mp4')).status, 404);
});
