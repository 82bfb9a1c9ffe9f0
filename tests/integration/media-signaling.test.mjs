// The media messages of docs/protocol.md without browsers: real WebSocket clients send
// captured browser SDPs (tests/data/sdp) and check what the server answers and offers: field
// validation, the pub answer (ICE-lite, passive DTLS, our candidates, no transport-cc), sub
// offers naming the publisher in msid, recycling to inactive when a publisher leaves, stale
// answers ignored, media.state broadcast. No media flows (nobody does ICE checks).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { startTandem, SOURCE_DIR, freeUdpPort } from '../lib/tandem.mjs';
import { client as wsClient, closeAllClients } from '../lib/wsclient.mjs';

let srv;
let mediaPort;
const client = () => wsClient(srv.wsUrl);
const sdpFile = (name) => readFileSync(`${SOURCE_DIR}/tests/data/sdp/${name}`, 'utf8');

/** A UDP port free right now on 127.0.0.1, for the one media worker. */

before(async () => {
  mediaPort = await freeUdpPort();
  srv = await startTandem({
    args: ['--media-address', '127.0.0.1', '--media-port-base', String(mediaPort),
      '--media-workers', '1'],
  });
});

after(async () => {
  closeAllClients();
  const r = await srv.stop();
  assert.equal(r.code, 0, `server exit ${JSON.stringify(r)}\n${srv.stderr}`);
  assert.doesNotMatch(srv.stderr, /ERROR: (AddressSanitizer|LeakSanitizer)|runtime error/);
});

async function joined(room, name) {
  const c = await client();
  c.send({ type: 'join', id: 1, room, name, role: 'mentee' });
  c.welcome = await c.next('welcome');
  return c;
}

/** The browser's answer to a server sub offer, written the way a browser would. */
function answerFor(offer) {
  const out = [];
  let inMedia = false;
  for (const line of offer.split('\r\n')) {
    if (!line) continue;
    if (/^a=(ice-lite|candidate|end-of-candidates|msid|ssrc|ssrc-group|ice-ufrag|ice-pwd|fingerprint)/.test(line)) continue;
    if (line.startsWith('m=')) {
      if (!inMedia) {
        out.push('a=ice-ufrag:brws', 'a=ice-pwd:browserpasswordbrowserpw',
          'a=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF');
      }
      inMedia = true;
    }
    out.push(line.replace('a=sendonly', 'a=recvonly').replace('a=setup:actpass', 'a=setup:active'));
  }
  return `${out.join('\r\n')}\r\n`;
}

test('media messages are validated before anything acts on them', async () => {
  const a = await joined('media-room-v', 'Amina');
  const cases = [
    [{ type: 'offer', id: 10, pc: 'sub', sdp: 'v=0' }, 'bad_field', 'pc'],
    [{ type: 'offer', id: 11, pc: 'pub' }, 'missing_field', 'sdp'],
    [{ type: 'offer', id: 13, pc: 'pub', sdp: 'v=0\r\nnonsense\r\n' }, 'bad_field', 'sdp'],
    [{ type: 'answer', id: 14, pc: 'pub', sdp: 'v=0', rev: 1 }, 'bad_field', 'pc'],
    [{ type: 'answer', id: 15, pc: 'sub', sdp: 'v=0' }, 'missing_field', 'rev'],
    [{ type: 'answer', id: 16, pc: 'sub', sdp: 'v=0', rev: 'one' }, 'bad_field', 'rev'],
    [{ type: 'answer', id: 17, pc: 'sub', sdp: 'v=0', rev: 0 }, 'bad_field', 'rev'],
    [{ type: 'candidate', id: 18, pc: 'pub', candidate: { candidate: 5 } }, 'bad_field', 'candidate'],
    [{ type: 'candidate', id: 19, pc: 'pub', candidate: { candidate: 'x'.repeat(513) } }, 'bad_field', 'candidate'],
    [{ type: 'candidate', id: 20, pc: 'pub', candidate: { candidate: '', sdpMLineIndex: 99 } }, 'bad_field', 'candidate'],
    [{ type: 'candidate', id: 21, pc: 'xyz', candidate: null }, 'bad_field', 'pc'],
    [{ type: 'media.state', id: 22, video: true }, 'missing_field', 'audio'],
    [{ type: 'media.state', id: 23, audio: 1, video: true }, 'bad_field', 'audio'],
    [{ type: 'media.receive', id: 24 }, 'missing_field', 'video'],
    [{ type: 'media.receive', id: 25, video: 'no' }, 'bad_field', 'video'],
    [{ type: 'media.receive', id: 26, video: null }, 'bad_field', 'video'],
  ];
  for (const [msg, code, field] of cases) {
    a.send(msg);
    const e = await a.next((m) => m.type === 'error' && m.ref === msg.id, 10000);
    assert.equal(e.code, code, `${JSON.stringify(msg).slice(0, 80)}: ${JSON.stringify(e)}`);
    assert.equal(e.field, field);
  }
  // Well-formed candidates are taken without a reply (an ICE-lite server needs none).
  a.send({ type: 'candidate', id: 30, pc: 'sub', candidate: null });
  a.send({ type: 'candidate', id: 31, pc: 'pub', candidate: { candidate: 'candidate:1 1 udp 1 198.18.0.2 5000 typ host', sdpMid: '0', sdpMLineIndex: 0 } });
  // The data saver, off and on again: no reply, nothing for the others.
  a.send({ type: 'media.receive', id: 33, video: false });
  a.send({ type: 'media.receive', id: 34, video: true });
  a.send({ type: 'ping', id: 32 });
  assert.equal((await a.next('pong')).ref, 32);
  assert.equal(a.queue.filter((m) => m.type === 'error').length, 0, JSON.stringify(a.queue));
  a.ws.close();
});

test('pub answers, sub offers with msid = publisher, recycling, stale answers', async () => {
  const a = await joined('media-room-1', 'Amina');
  const b = await joined('media-room-1', 'Jan');
  const aId = a.welcome.you.id;
  const bId = b.welcome.you.id;

  a.send({ type: 'offer', id: 2, pc: 'pub', sdp: sdpFile('chromium-offer-av.sdp') });
  const ans = await a.next((m) => m.type === 'answer', 10000);
  assert.equal(ans.pc, 'pub');
  assert.equal(ans.ref, 2);
  assert.match(ans.sdp, /\r\na=ice-lite\r\n/);
  assert.match(ans.sdp, /\r\na=setup:passive\r\n/);
  assert.match(ans.sdp, /\r\na=fingerprint:sha-256 ([0-9A-F]{2}:){31}[0-9A-F]{2}\r\n/);
  assert.match(ans.sdp, new RegExp(`a=candidate:\\S+ 1 udp \\d+ 127\\.0\\.0\\.1 ${mediaPort} typ host`));
  assert.match(ans.sdp, /a=end-of-candidates/);
  assert.match(ans.sdp, /a=recvonly/);
  assert.doesNotMatch(ans.sdp, /transport-cc|transport-wide-cc/);
  assert.match(ans.sdp, /a=rtcp-fb:96 goog-remb/);

  // Amina has nothing to receive yet: no sub offer. Jan publishes (Firefox's offer).
  b.send({ type: 'offer', id: 2, pc: 'pub', sdp: sdpFile('firefox-offer-av.sdp') });
  assert.equal((await b.next((m) => m.type === 'answer', 10000)).ref, 2);
  const offA = await a.next((m) => m.type === 'offer', 10000);
  const offB = await b.next((m) => m.type === 'offer', 10000);
  for (const [off, other] of [[offA, bId], [offB, aId]]) {
    assert.equal(off.pc, 'sub');
    assert.equal(off.rev, 1);
    assert.equal((off.sdp.match(/\r\nm=/g) || []).length, 2);
    assert.equal((off.sdp.match(/a=sendonly/g) || []).length, 2);
    assert.equal((off.sdp.match(new RegExp(`a=msid:${other} `, 'g')) || []).length, 2);
    assert.match(off.sdp, /a=setup:actpass/);
    assert.match(off.sdp, /a=mid:0\r\n[\s\S]*a=mid:1\r\n/);
  }

  a.send({ type: 'answer', id: 3, pc: 'sub', sdp: answerFor(offA.sdp), rev: 1 });
  b.send({ type: 'answer', id: 3, pc: 'sub', sdp: answerFor(offB.sdp), rev: 1 });
  // Jan leaves: Amina's two m-sections go inactive in rev 2, without msid or SSRC.
  b.send({ type: 'leave' });
  await a.next('left');
  const off2 = await a.next((m) => m.type === 'offer', 10000);
  assert.equal(off2.rev, 2);
  assert.equal((off2.sdp.match(/a=inactive/g) || []).length, 2);
  assert.doesNotMatch(off2.sdp, /a=msid:|a=ssrc:/);
  // A stale answer is ignored without a reply; the right one is taken.
  a.send({ type: 'answer', id: 4, pc: 'sub', sdp: answerFor(offA.sdp), rev: 1 });
  a.send({ type: 'answer', id: 5, pc: 'sub', sdp: answerFor(off2.sdp), rev: 2 });

  // Ngozi publishes: Amina's inactive m-sections (mids 0 and 1) carry her tracks (rev 3).
  const c = await joined('media-room-1', 'Ngozi');
  c.send({ type: 'offer', id: 2, pc: 'pub', sdp: sdpFile('chromium-offer-av.sdp') });
  const off3 = await a.next((m) => m.type === 'offer', 10000);
  assert.equal(off3.rev, 3);
  assert.equal((off3.sdp.match(/\r\nm=/g) || []).length, 2, 'recycled, not appended');
  assert.equal((off3.sdp.match(new RegExp(`a=msid:${c.welcome.you.id} `, 'g')) || []).length, 2);
  a.send({ type: 'ping', id: 6 });
  await a.next('pong');
  assert.equal(a.queue.filter((m) => m.type === 'error').length, 0, JSON.stringify(a.queue));
  a.ws.close();
  c.ws.close();
});

test('a different DTLS certificate on pub starts the media session afresh', async () => {
  const a = await joined('media-room-2', 'Amina');
  const b = await joined('media-room-2', 'Jan');
  a.send({ type: 'offer', id: 2, pc: 'pub', sdp: sdpFile('chromium-offer-av.sdp') });
  await a.next('answer', 10000);
  b.send({ type: 'offer', id: 2, pc: 'pub', sdp: sdpFile('chromium-offer-audio.sdp') });
  await b.next('answer', 10000);
  const first = await b.next('offer', 10000);
  assert.equal(first.rev, 1);
  // Amina's page makes a new RTCPeerConnection (new certificate): Jan first loses her tracks,
  // then gets them again.
  a.send({ type: 'offer', id: 3, pc: 'pub', sdp: sdpFile('firefox-offer-av.sdp') });
  assert.equal((await a.next('answer', 10000)).ref, 3);
  b.send({ type: 'answer', id: 3, pc: 'sub', sdp: answerFor(first.sdp), rev: 1 });
  const again = await b.next((m) => m.type === 'offer' && m.sdp.includes('a=sendonly'), 10000);
  assert.ok(again.rev > 1);
  a.ws.close();
  b.ws.close();
});

// Regression (issue 3, call-page flake): a page that restarts (new certificate) while the
// others' sub connections are settled made the server offer to them in the middle of
// answering, in the same scratch space, and the page got an answer to somebody else's sub
// offer ("different number of m-lines").
test('a restarted page gets the answer to its own offer while the others are re-offered', async () => {
  const a = await joined('media-room-5', 'Amina');
  const b = await joined('media-room-5', 'Jan');
  const c = await joined('media-room-5', 'Ngozi');
  const fence = async (x) => { x.send({ type: 'ping', id: 99 }); await x.next('pong', 10000); };
  const answerNext = async (x, rev) => {
    const off = await x.next((m) => m.type === 'offer' && m.rev === rev, 10000);
    x.send({ type: 'answer', id: 10 + rev, pc: 'sub', sdp: answerFor(off.sdp), rev });
    await fence(x);
    return off;
  };
  a.send({ type: 'offer', id: 2, pc: 'pub', sdp: sdpFile('chromium-offer-av.sdp') });
  await a.next('answer', 10000);
  b.send({ type: 'offer', id: 2, pc: 'pub', sdp: sdpFile('firefox-offer-av.sdp') });
  await b.next('answer', 10000);
  await answerNext(a, 1);
  await answerNext(b, 1);
  c.send({ type: 'offer', id: 2, pc: 'pub', sdp: sdpFile('firefox-offer-audio.sdp') });
  await c.next('answer', 10000);
  await answerNext(a, 2);
  const bSub = await answerNext(b, 2);
  const cSub = await answerNext(c, 1);
  assert.equal((bSub.sdp.match(/\r\nm=/g) || []).length, 3);
  assert.equal((cSub.sdp.match(/\r\nm=/g) || []).length, 4);

  // Amina's page starts again with a new certificate and audio only.
  const offer = sdpFile('chromium-offer-audio.sdp');
  a.send({ type: 'offer', id: 3, pc: 'pub', sdp: offer });
  const ans = await a.next((m) => m.type === 'answer' && m.ref === 3, 10000);
  const mids = (sdp) => [...sdp.matchAll(/\r\na=mid:(\S+)/g)].map((m) => m[1]);
  assert.deepEqual(mids(ans.sdp), mids(offer), 'the answer mirrors the offer');
  assert.equal((ans.sdp.match(/\r\nm=/g) || []).length, 1);
  assert.match(ans.sdp, /\r\nm=audio /);
  assert.match(ans.sdp, /a=recvonly/);
  assert.doesNotMatch(ans.sdp, /a=msid:|a=sendonly/);
  // Jan and Ngozi lose Amina's video and keep receiving her (new) audio.
  const bNext = await b.next((m) => m.type === 'offer' && m.rev > 2, 10000);
  assert.equal((bNext.sdp.match(/\r\nm=/g) || []).length, 3, 'recycled, not appended');
  assert.equal(a.queue.filter((m) => m.type === 'error').length, 0, JSON.stringify(a.queue));
  for (const x of [a, b, c]) x.ws.close();
});

test('media.state goes to the others', async () => {
  const a = await joined('media-room-3', 'Amina');
  const b = await joined('media-room-3', 'Jan');
  a.send({ type: 'media.state', audio: false, video: true });
  const s = await b.next('media.state');
  assert.deepEqual(s, { type: 'media.state', id: a.welcome.you.id, audio: false, video: true });
  a.ws.close();
  b.ws.close();
});

test('media.receive_only: sub offers without a pub connection, publishing later, refusals', async () => {
  // Refused before a join; the error carries the request's id.
  const early = await client();
  early.send({ type: 'media.receive_only', id: 3 });
  const ne = await early.next((m) => m.type === 'error' && m.ref === 3, 10000);
  assert.equal(ne.code, 'not_joined');
  early.ws.close();

  const w = await joined('media-room-ro', 'Watcher');
  const p = await joined('media-room-ro', 'Publisher');
  const wId = w.welcome.you.id;
  const pId = p.welcome.you.id;
  // Nobody publishes yet: no offer. Asked twice (a second pair on the page): no error, and
  // still one offer, rev 1, once someone publishes.
  w.send({ type: 'media.receive_only', id: 4 });
  w.send({ type: 'media.receive_only', id: 5, extra: 'ignored' });
  w.send({ type: 'ping', id: 50 }); // both requests are with the worker before the offer below
  assert.equal((await w.next('pong')).ref, 50);
  p.send({ type: 'offer', id: 2, pc: 'pub', sdp: sdpFile('chromium-offer-av.sdp') });
  assert.equal((await p.next((m) => m.type === 'answer', 10000)).ref, 2);
  const off1 = await w.next((m) => m.type === 'offer', 10000);
  assert.equal(off1.pc, 'sub');
  assert.equal(off1.rev, 1);
  assert.equal((off1.sdp.match(new RegExp(`a=msid:${pId} `, 'g')) || []).length, 2);
  // The server chose the payload types (the watcher told it none).
  assert.match(off1.sdp, /a=rtpmap:111 opus\/48000\/2/);
  assert.match(off1.sdp, /a=rtpmap:96 VP8\/90000/);
  w.send({ type: 'answer', id: 6, pc: 'sub', sdp: answerFor(off1.sdp), rev: 1 });

  // The watcher starts publishing (Firefox's offer: other payload type numbers).
  w.send({ type: 'offer', id: 7, pc: 'pub', sdp: sdpFile('firefox-offer-av.sdp') });
  const ans = await w.next((m) => m.type === 'answer', 10000);
  assert.equal(ans.ref, 7);
  assert.match(ans.sdp, /a=recvonly/);
  const offP = await p.next((m) => m.type === 'offer', 10000);
  assert.equal((offP.sdp.match(new RegExp(`a=msid:${wId} `, 'g')) || []).length, 2);
  // The watcher's sub connection keeps its numbers: the publisher leaves, its m-sections go
  // inactive in rev 2 with the same payload types.
  p.send({ type: 'leave' });
  await w.next('left');
  const off2 = await w.next((m) => m.type === 'offer', 10000);
  assert.equal(off2.rev, 2);
  assert.match(off2.sdp, /a=rtpmap:111 opus\/48000\/2/);
  assert.doesNotMatch(off2.sdp, /a=rtpmap:109 /);
  assert.doesNotMatch(off2.sdp, /a=msid:/);
  assert.equal(w.queue.filter((m) => m.type === 'error').length, 0, JSON.stringify(w.queue));
  w.ws.close();
});
