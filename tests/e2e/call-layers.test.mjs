// End to end: the picture layer each person gets follows the size of the tile it is shown in
// (issue 15; web/js/adapt.mjs LayoutReporter, server/sfu/alloc.c tile_max_layer,
// docs/protocol.md "media.layout"). Three Debian Chromium pages on the real room page, with
// the server, in a private network namespace: Amina sends her camera as three simulcast
// layers (a quarter, half and all of its height); Jan on a laptop and Ngozi on a 360 px phone
// watch her. For each of them the test reads the height of Amina's tile on the screen (in
// device pixels) and the height of the frames their browser decodes from her (getStats
// inbound-rtp frameHeight), and checks that the server sends the layer the tile asks for: up
// to 180 px the quarter, up to 360 px the half (a thumbnail never the top layer), above that
// the full picture. The line is free, so only the tile limits the layer.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { insideNetns, runInNetns, setupNetns, SERVER_ADDR } from '../lib/netns.mjs';
import { startTandem } from '../lib/tandem.mjs';
import { joinRoomPage } from '../lib/roompage.mjs';

const MEDIA_WAIT_MS = 60000; // bound on every wait for media (a busy test machine is slow)
const UI_WAIT_MS = 30000;
const ROOM = 'call-layers-room';
const PHONE = { width: 360, height: 640 };
const LAPTOP = { width: 1280, height: 800 };

if (!insideNetns()) {
  test('each person gets the picture layer their tile needs (in a private network namespace)',
    { timeout: 400000 }, async () => {
      await runInNetns(import.meta.url, { timeoutMs: 380000 });
    });
} else {
  let server = null;
  const people = [];
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  before(async () => {
    setupNetns();
    server = await startTandem({ listen: SERVER_ADDR, args: ['--media-address', SERVER_ADDR] });
  }, { timeout: 60000 });

  after(async () => {
    await Promise.all(people.map((p) => p.browser.close().catch(() => {})));
    if (server) await server.stop();
  }, { timeout: 60000 });

  async function join(label, viewport) {
    const person = await joinRoomPage(server.url, ROOM, label, { viewport, uiWaitMs: UI_WAIT_MS });
    people.push(person);
    return person;
  }

  /** In the page: the tile of person `from` (its height on screen in device pixels) and the
   *  frames decoded from them (height, count). */
  function viewOf(from) {
    const hook = window.tandemCall;
    const li = document.querySelector(`#participants .tile[data-participant-id="${from}"]`);
    const video = li?.querySelector('video');
    const tile = video ? Math.round(video.getBoundingClientRect().height * devicePixelRatio) : 0;
    const owners = hook.trackOwners();
    if (!hook.sub) return Promise.resolve({ tile, height: 0, frames: 0 });
    return hook.sub.getStats().then((st) => {
      let out = { tile, height: 0, frames: 0 };
      st.forEach((s) => {
        if (s.type === 'inbound-rtp' && s.kind === 'video' && owners[s.trackIdentifier] === from) {
          out = { tile, height: s.frameHeight || 0, frames: s.framesDecoded || 0 };
        }
      });
      return out;
    });
  }

  /** In the page: the heights this page sends its camera at, by rid (simulcast layers). */
  function sentLayers() {
    const pub = window.tandemCall.pub;
    if (!pub) return Promise.resolve({});
    return pub.getStats().then((st) => {
      const out = {};
      st.forEach((s) => {
        if (s.type === 'outbound-rtp' && s.kind === 'video' && s.rid) out[s.rid] = s.frameHeight || 0;
      });
      return out;
    });
  }

  /** The layer the server should send for a tile this tall (alloc.c tile_max_layer, three
   *  layers): 0 up to 180 px, 1 up to 360 px, else 2. */
  const layerFor = (tile) => (tile <= 180 ? 0 : tile <= 360 ? 1 : 2);

  const logs = () => people.map((q) => `${q.label} (${q.id}): ${q.log.slice(-8).join(' | ')}`).join('\n');

  test('a laptop and a phone each get the layer their tile of Amina needs', { timeout: 300000 }, async (t) => {
    const amina = await join('Amina', LAPTOP);
    const jan = await join('Jan', LAPTOP);
    const ngozi = await join('Ngozi', PHONE);

    // Amina sends simulcast once her browser's estimate has grown (a free line). Her top
    // layer comes only when someone's tile needs it (the server's REMB to her covers what
    // her viewers take), so it may be missing: its height is then twice the middle one's.
    let layers = {};
    for (const end = Date.now() + MEDIA_WAIT_MS; Date.now() < end; await sleep(500)) {
      layers = await amina.page.evaluate(sentLayers);
      if (layers.q > 0 && layers.h > 0) break;
    }
    t.diagnostic(`Amina sends layers of ${layers.q}, ${layers.h} and ${layers.f || 0} px`);
    assert.ok(layers.q > 0 && layers.h > layers.q, `Amina does not send simulcast: ${JSON.stringify(layers)}\n${logs()}`);
    const heights = [layers.q, layers.h, layers.f || 2 * layers.h];

    const seen = [];
    for (const viewer of [jan, ngozi]) {
      // The tile's size reaches the server (media.layout, after a short delay) and the
      // server switches at the next keyframe: wait, bounded, for the layer the tile needs.
      let v = null;
      let want = -1;
      for (const end = Date.now() + MEDIA_WAIT_MS; Date.now() < end; await sleep(500)) {
        v = await viewer.page.evaluate(viewOf, amina.id);
        want = layerFor(v.tile);
        if (v.frames > 0 && Math.abs(v.height - heights[want]) <= 2) break;
      }
      t.diagnostic(`${viewer.label}: Amina's tile is ${v.tile} px high, she arrives at ${v.height} px ` +
        `(layer ${heights.indexOf(v.height)}; wanted ${want}), ${v.frames} frames`);
      assert.ok(v.frames > 0, `${viewer.label} decodes nothing from Amina\n${logs()}`);
      assert.ok(Math.abs(v.height - heights[want]) <= 2,
        `${viewer.label}: a ${v.tile} px tile gets ${v.height} px frames, not layer ${want} (${heights[want]} px)\n${logs()}`);
      // and it keeps decoding at that layer
      const f0 = v.frames;
      let v2 = v;
      for (const end = Date.now() + 10000; Date.now() < end && v2.frames < f0 + 30; await sleep(500)) {
        v2 = await viewer.page.evaluate(viewOf, amina.id);
      }
      assert.ok(v2.frames >= f0 + 30, `${viewer.label}: Amina's pictures stopped\n${logs()}`);
      seen.push({ label: viewer.label, tile: v.tile, height: v.height, want });
    }
    // The phone's small tile must not get more than the laptop's big one.
    assert.ok(seen[1].tile <= seen[0].tile && seen[1].height <= seen[0].height,
      `the phone gets more than the laptop: ${JSON.stringify(seen)}`);
    for (const p of people) assert.deepEqual(p.errors, [], `${p.label}: errors on the page`);
  });
}
