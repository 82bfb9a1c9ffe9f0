// The room page maps every received track to a participant by the msid stream id of the
// server's sub offer (docs/protocol.md "Media"): web/js/session.mjs sendingSections() against
// the server offers captured in tests/data/sdp (written by the server's SDP writer and
// accepted by Chromium and Firefox). No browser, no server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { sendingSections } from '../../web/js/session.mjs';

const SOURCE_DIR = process.env.TANDEM_SOURCE_DIR ||
  path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
const sdp = (name) => readFileSync(path.join(SOURCE_DIR, 'tests', 'data', 'sdp', name), 'utf8');
const plain = (map) => Object.fromEntries([...map].map(([mid, v]) => [mid, `${v.kind} ${v.stream}`]));

test('a first offer: the sending m-sections and their owners; our own recvonly ones left out', () => {
  for (const browser of ['chromium', 'firefox']) {
    const got = plain(sendingSections(sdp(`${browser}-av-server-offer1.sdp`)));
    assert.equal(Object.keys(got).length, 2, `${browser}: ${JSON.stringify(got)}`);
    const owners = new Set(Object.values(got).map((v) => v.split(' ')[1]));
    assert.equal(owners.size, 1, `${browser}: one person's audio and video: ${JSON.stringify(got)}`);
    assert.deepEqual(Object.values(got).map((v) => v.split(' ')[0]).sort(), ['audio', 'video']);
  }
});

test('someone left: recycled m-sections (inactive, no msid) belong to nobody', () => {
  for (const browser of ['chromium', 'firefox']) {
    assert.deepEqual(plain(sendingSections(sdp(`${browser}-av-server-offer2.sdp`))), {}, browser);
  }
});

test('the recycled m-sections go to the next person, new ones to a third', () => {
  assert.deepEqual(plain(sendingSections(sdp('chromium-av-server-offer3.sdp'))), {
    2: 'audio stream-bob', 3: 'video stream-bob', 4: 'audio stream-carol', 5: 'video stream-carol',
  });
});

test('rejected (port 0), "-" stream ids and a=ssrc msid without a=msid', () => {
  const text = ['v=0', 'm=audio 0 UDP/TLS/RTP/SAVPF 111', 'a=mid:0', 'a=sendonly', 'a=msid:gone t1',
    'm=video 9 UDP/TLS/RTP/SAVPF 96', 'a=mid:1', 'a=sendonly', 'a=msid:- t2',
    'm=video 9 UDP/TLS/RTP/SAVPF 96', 'a=mid:2', 'a=sendrecv', 'a=ssrc:1 msid:dora t3', ''].join('\r\n');
  assert.deepEqual(plain(sendingSections(text)), { 2: 'video dora' });
});
