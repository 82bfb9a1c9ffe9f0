// Three Tandem nodes on one redis-server (started here, loopback, a password, no
// persistence): joins through any node end up on the room's node (`moved`), a once-only link
// used through one node is refused through another, a withdrawal made on one node holds on
// the others, and a killed node's rooms are claimed again by the next join elsewhere
// (docs/deploy.md "Several machines", docs/protocol.md "moved"). The browser call across
// nodes, with a node killed mid-call, is tests/e2e/cluster-call.test.mjs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import path from 'node:path';
import { mintInvite, TANDEM_BIN, SOURCE_DIR, testCertificate, inviteKeyPath, newLedgerPath } from '../lib/tandem.mjs';
import { client as wsClient, closeAllClients } from '../lib/wsclient.mjs';
import { startRedis, startNode, mediaPortBases } from '../lib/cluster.mjs';

let redis;
const nodes = [];
const PUBLIC_URL = 'https://calls.test.example';
const TTL_MS = 2000;

before(async () => {
  redis = await startRedis();
  const bases = mediaPortBases(3);
  for (const [i, name] of ['n1', 'n2', 'n3'].entries()) {
    nodes.push(await startNode({ redis, name, publicUrl: PUBLIC_URL, mediaPortBase: bases[i],
      heartbeatMs: 500, ttlMs: TTL_MS }));
  }
  // Every node has said it is alive once its first heartbeat went through.
  for (const n of nodes) await waitFor(() => /cluster: 3 live nodes/.test(n.stderr), 10000, `${n.name} sees 3 nodes`);
});

after(async () => {
  closeAllClients();
  for (const n of nodes) {
    const r = await n.stop();
    if (!n.killed) {
      assert.equal(r.code, 0, n.stderr.slice(-3000));
      assert.doesNotMatch(n.stderr, /AddressSanitizer|LeakSanitizer|runtime error:/, n.stderr.slice(-3000));
    }
  }
  await redis?.stop();
});

async function waitFor(pred, ms, what) {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Joins room through wsUrl with creds; follows no `moved`: resolves {c, m} with the first
 *  welcome, error or moved. */
async function join(wsUrl, room, creds, name = 'Someone', origin = null) {
  const c = await wsClient(wsUrl, origin ? { headers: { Origin: origin } } : {});
  c.send({ type: 'join', id: 7, room, name, role: 'mentee', ...creds });
  return { c, m: await c.next((x) => ['welcome', 'error', 'moved'].includes(x.type)) };
}

/** Joins as a page does: follows `moved` (at most 3 times). */
async function joinFollowing(wsUrl, room, creds, name) {
  let url = wsUrl;
  for (let hops = 0; hops < 4; hops++) {
    const r = await join(url, room, creds, name);
    if (r.m.type !== 'moved') return { ...r, url };
    assert.equal(r.m.ref, 7, 'moved answers the join');
    const closed = await r.c.waitClose();
    assert.equal(closed.code, 1000, 'the node closes after moved');
    url = r.m.url;
  }
  throw new Error('moved more than 3 times');
}

const nodeOf = (wsUrl) => nodes.find((n) => n.wsUrl === wsUrl);

test('joins through different nodes end up in one room, on its node', async () => {
  const tok = mintInvite({ room: 'cl-room', role: 'mentor' });
  const a = await joinFollowing(nodes[0].wsUrl, 'cl-room', { token: tok }, 'Ana');
  assert.equal(a.m.type, 'welcome', JSON.stringify(a.m));
  assert.equal(a.url, nodes[0].wsUrl, 'a free room is claimed by the node that was asked');
  assert.deepEqual([...a.m.nodes].sort(), nodes.map((n) => n.wsUrl).sort(), 'welcome lists the live nodes');

  const viaB = await join(nodes[1].wsUrl, 'cl-room', { token: tok }, 'Bo');
  assert.equal(viaB.m.type, 'moved', JSON.stringify(viaB.m));
  assert.equal(viaB.m.url, nodes[0].wsUrl, 'sent to the room\'s node');
  const b = await joinFollowing(viaB.m.url, 'cl-room', { token: tok }, 'Bo');
  assert.equal(b.m.type, 'welcome');
  assert.deepEqual(b.m.participants.map((p) => p.name), ['Ana'], 'one room, both people');
  assert.equal((await a.c.next('joined')).participant.name, 'Bo');

  // Pages of another node's origin may open the room node's WebSocket; strangers may not.
  const fromNode3 = await join(nodes[0].wsUrl, 'cl-other', { token: mintInvite({ room: 'cl-other', role: 'mentee' }) },
    'Cy', nodes[2].nodeUrl);
  assert.equal(fromNode3.m.type, 'welcome');
  fromNode3.c.ws.close();
  await assert.rejects(join(nodes[0].wsUrl, 'cl-other', {}, 'Eve', 'https://evil.example'));
  a.c.ws.close();
  b.c.ws.close();
});

test('a once-only link used through one node is refused through another', async () => {
  const once = mintInvite({ room: 'cl-once', role: 'mentee', uses: 1 });
  const first = await joinFollowing(nodes[0].wsUrl, 'cl-once', { token: once }, 'First');
  assert.equal(first.m.type, 'welcome');
  first.c.ws.close(); // the room closes: its directory entry goes, the use stays counted
  await first.c.waitClose();
  await new Promise((r) => setTimeout(r, 200));
  const second = await joinFollowing(nodes[1].wsUrl, 'cl-once', { token: once }, 'Second');
  assert.equal(second.m.type, 'error');
  assert.equal(second.m.code, 'invite_used', 'the use counted on n1 holds on n2');
  // The page's check before the form says so too, on any node; the pass still passes it.
  const chk = await wsClient(nodes[2].wsUrl);
  chk.send({ type: 'invite.check', id: 3, room: 'cl-once', token: once });
  assert.equal((await chk.next((x) => x.ref === 3)).code, 'invite_used');
  chk.send({ type: 'invite.check', id: 4, room: 'cl-once', pass: first.m.pass });
  const okPass = await chk.next((x) => x.ref === 4);
  assert.equal(okPass.type, 'invite.ok', JSON.stringify(okPass));
  assert.equal(okPass.role, 'mentee');
  chk.ws.close();
  // The person's own pass still brings them back, through any node.
  const back = await joinFollowing(nodes[2].wsUrl, 'cl-once', { pass: first.m.pass }, 'First');
  assert.equal(back.m.type, 'welcome', JSON.stringify(back.m));
  back.c.ws.close();
});

test('a link withdrawn on one node is refused by the others', async () => {
  const tok = mintInvite({ room: 'cl-rev', role: 'coordinator' });
  const coord = await joinFollowing(nodes[2].wsUrl, 'cl-rev', { token: tok }, 'Coord');
  assert.equal(coord.m.type, 'welcome');
  const guest = mintInvite({ room: 'cl-rev', role: 'mentee' });
  const g = await joinFollowing(nodes[0].wsUrl, 'cl-rev', { token: guest }, 'Guest');
  assert.equal(g.m.type, 'welcome');
  // The coordinator takes the guest out and withdraws the guest's link.
  coord.c.send({ type: 'mod.remove', id: 9, target: g.m.you.id, withdraw_link: true });
  await g.c.waitClose();
  coord.c.ws.close();
  await coord.c.waitClose();
  await new Promise((r) => setTimeout(r, 300)); // the room closed on n3; its entry went
  const again = await joinFollowing(nodes[1].wsUrl, 'cl-rev', { token: guest }, 'Guest');
  assert.equal(again.m.type, 'error');
  assert.equal(again.m.code, 'invite_revoked', JSON.stringify(again.m));
  const chk = await wsClient(nodes[0].wsUrl);
  chk.send({ type: 'invite.check', id: 5, room: 'cl-rev', token: guest });
  assert.equal((await chk.next((x) => x.ref === 5)).code, 'invite_revoked', 'withdrawn on n3, said by n1');
  chk.ws.close();
});

test('a killed node\'s room is claimed by the next join on another node', async () => {
  const tok = mintInvite({ room: 'cl-fail', role: 'mentee' });
  const victim = nodes[2];
  const a = await joinFollowing(victim.wsUrl, 'cl-fail', { token: tok }, 'A');
  assert.equal(a.m.type, 'welcome');
  const t0 = Date.now();
  victim.killed = true;
  await victim.kill();
  // Until its lease lapses, the room is still the dead node's: moved there (a page would
  // fail to reach it and try again). Afterwards the asking node takes it.
  let r;
  for (;;) {
    r = await join(nodes[0].wsUrl, 'cl-fail', { token: tok }, 'A');
    if (r.m.type !== 'moved') break;
    assert.equal(r.m.url, victim.wsUrl);
    assert.ok(Date.now() - t0 < TTL_MS + 3000, 'the lease lapses within ttl_ms and a heartbeat');
    await new Promise((res) => setTimeout(res, 100));
  }
  assert.equal(r.m.type, 'welcome', JSON.stringify(r.m));
  const took = Date.now() - t0;
  console.log(`# room claimed again ${took} ms after its node was killed (ttl_ms ${TTL_MS})`);
  assert.ok(took <= TTL_MS + 3000);
  // and the third node no longer lists the dead one
  await waitFor(() => /cluster: 2 live nodes/.test(nodes[0].stderr), TTL_MS + 3000, 'n1 forgets n3');
  r.c.ws.close();
});

test('a console link withdrawn through one node is refused by the others', async () => {
  const ledger = newLedgerPath();
  const mint = () => {
    const r = spawnSync(TANDEM_BIN, ['console-link', '--invite-key', inviteKeyPath(), '--invite-ledger', ledger,
      '--public-url', PUBLIC_URL], { encoding: 'utf8', timeout: 20000 });
    assert.equal(r.status, 0, r.stderr);
    return { token: r.stdout.trim().split('#c=')[1], id: /console link id (\S+)/.exec(r.stderr)[1] };
  };
  const mine = mint();
  const theirs = mint();
  const hello = async (node, token) => {
    const c = await wsClient(node.wsUrl);
    c.send({ type: 'console.hello', id: 1, token });
    return { c, m: await c.next((x) => x.ref === 1) };
  };
  const other = await hello(nodes[0], theirs.token);
  assert.equal(other.m.type, 'console.ready');
  const me = await hello(nodes[1], mine.token);
  assert.equal(me.m.type, 'console.ready');
  me.c.send({ type: 'console.link.revoke', id: 2, invite_id: theirs.id });
  assert.equal((await me.c.next((x) => x.ref === 2)).type, 'console.link.revoked');
  // n1 learns it from the withdrawals stream at its next heartbeat: the open console and
  // a new hello are refused there too.
  const t0 = Date.now();
  let again;
  for (;;) {
    again = await hello(nodes[0], theirs.token);
    if (again.m.type === 'error' || Date.now() - t0 > 5000) break;
    again.c.ws.close();
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(again.m.code, 'console_revoked', JSON.stringify(again.m));
  other.c.send({ type: 'console.links', id: 3 });
  assert.equal((await other.c.next((x) => x.ref === 3)).code, 'console_revoked');
  for (const x of [other, me, again]) x.c.ws.close();
});

test('--check-config reports the cluster and reaches Redis', () => {
  const { cert, key } = testCertificate();
  const out = execFileSync(TANDEM_BIN, ['--config', nodes[0].configFile, '--check-config',
    '--cert', cert, '--key', key, '--web-root', path.join(SOURCE_DIR, 'web'),
    '--invite-key', inviteKeyPath(), '--invite-ledger', newLedgerPath()], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  assert.match(out, /cluster: node n1/);
  assert.match(out, /cluster: Redis answers/);
});

test('without Redis, calls go on, held rooms take people in, other joins wait; then all comes back', async () => {
  const tok = mintInvite({ room: 'cl-outage', role: 'mentee' });
  const a = await joinFollowing(nodes[0].wsUrl, 'cl-outage', { token: tok }, 'A');
  assert.equal(a.m.type, 'welcome');
  assert.equal(a.url, nodes[0].wsUrl);
  const old = redis;
  const { port, password } = old;
  await old.kill();
  await waitFor(() => /cluster: lost Redis/.test(nodes[0].stderr), 5000, 'n1 notices');
  // The room n1 holds, while its lease holds: in, on n1's own ledger.
  const b = await join(nodes[0].wsUrl, 'cl-outage', { token: tok }, 'B');
  assert.equal(b.m.type, 'welcome', JSON.stringify(b.m));
  assert.equal((await a.c.next('joined')).participant.name, 'B', 'the room goes on');
  // A once-only link needs the shared count; a room n1 does not hold needs the directory.
  const once = await join(nodes[0].wsUrl, 'cl-outage', { token: mintInvite({ room: 'cl-outage', role: 'mentee', uses: 1 }) }, 'C');
  assert.equal(once.m.code, 'unavailable', JSON.stringify(once.m));
  const other = await join(nodes[1].wsUrl, 'cl-elsewhere', { token: mintInvite({ room: 'cl-elsewhere', role: 'mentee' }) }, 'D');
  assert.equal(other.m.code, 'unavailable', JSON.stringify(other.m));
  assert.equal(other.c.closed, null, 'the connection stays open (the page tries again)');
  // Redis comes back empty (no persistence): the heartbeats put n1's room back.
  await old.stop(); // (its folder)
  redis = await startRedis({ port, password });
  await waitFor(() => (nodes[0].stderr.match(/connected to Redis/g) || []).length >= 2, 10000, 'n1 reconnects');
  const t0 = Date.now();
  let r;
  for (;;) {
    r = await join(nodes[1].wsUrl, 'cl-outage', { token: tok }, 'E');
    if (r.m.type === 'moved' || Date.now() - t0 > 5000) break;
    r.c.ws.close();
    await new Promise((res) => setTimeout(res, 100));
  }
  assert.equal(r.m.type, 'moved', `the directory knows n1's room again: ${JSON.stringify(r.m)}`);
  assert.equal(r.m.url, nodes[0].wsUrl);
  for (const x of [a, b, once, other]) x.c.ws.close();
});
