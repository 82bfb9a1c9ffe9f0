// End to end: a person on a network that lets through nothing but TCP to port 443 (no UDP at
// all, no other TCP port: some shelters, libraries, hotels and mobile carriers) still gets a
// working call, through coturn (Debian's TURN server) over TLS on port 443 (docs/turn.md).
// And without TURN, the same person's page says plainly that the network blocks the call.
//
// Inside a private network namespace (tests/lib/netns.mjs): Tandem serves its pages on
// 198.18.0.1:443, coturn listens for TURN over TLS on a second address, 198.18.0.3:443 (the
// "second address" way of docs/turn.md). The restricted person's Chromium runs as the user
// nobody and an nftables rule drops that user's packets except TCP to port 443 (and the
// DevTools connection on loopback); the other person's Chromium is unrestricted.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync, chmodSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { insideNetns, runInNetns, setupNetns, SERVER_ADDR } from '../lib/netns.mjs';
import { startTandem, stopCleanly } from '../lib/tandem.mjs';
import { launchChromium, killPid } from '../lib/browsers.mjs';
import { reapOnExit } from '../lib/reaper.mjs';

const TURN_ADDR = '198.18.0.3';
const NOBODY = 65534;
const MEDIA_WAIT_MS = 45000;
const UI_WAIT_MS = 30000;
const BLOCKED_WAIT_MS = 90000; // the page's connect watchdog is 25 s; then it says why

if (!insideNetns()) {
  test('a call from a network open only to TCP 443, through coturn over TLS (in a private network namespace)',
    { timeout: 420000 }, async () => {
      await runInNetns(import.meta.url, { timeoutMs: 400000 });
    });
} else {
  let dir = null;
  let server = null;
  let coturn = null;
  const browsers = [];
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  function nft(script) {
    execFileSync('nft', ['-f', '-'], { input: script, stdio: ['pipe', 'ignore', 'pipe'] });
  }

  /** Resolves when something accepts TCP connections on addr:port (bounded). */
  async function listening(addr, port, ms = 15000) {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      const ok = await new Promise((resolve) => {
        const s = net.connect({ host: addr, port }, () => { s.destroy(); resolve(true); });
        s.on('error', () => resolve(false));
      });
      if (ok) return;
      await sleep(100);
    }
    throw new Error(`nothing listens on ${addr}:${port} after ${ms} ms`);
  }

  before(async () => {
    setupNetns();
    execFileSync('ip', ['addr', 'add', `${TURN_ADDR}/24`, 'dev', 'sfu0']);
    dir = mkdtempSync(path.join(tmpdir(), 'tandem-turn-'));
    // coturn's TLS certificate: self-signed, for its address.
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256',
      '-nodes', '-days', '2', '-subj', '/CN=turn.test', '-addext', `subjectAltName=IP:${TURN_ADDR}`,
      '-keyout', path.join(dir, 'turn-key.pem'), '-out', path.join(dir, 'turn-cert.pem')], { stdio: 'ignore' });
    const secret = execFileSync('openssl', ['rand', '-hex', '32'], { encoding: 'utf8' }).trim();
    writeFileSync(path.join(dir, 'turn.secret'), `${secret}\n`);
    chmodSync(path.join(dir, 'turn.secret'), 0o600);
    // The configuration docs/turn.md recommends, with this namespace's addresses: TLS only,
    // on 443, relaying only to the Tandem server (every private and loopback range denied, the
    // server's own address allowed), no peer addresses in the log, quotas.
    writeFileSync(path.join(dir, 'turnserver.conf'), [
      `listening-ip=${TURN_ADDR}`, `relay-ip=${TURN_ADDR}`, 'tls-listening-port=443',
      'listening-port=3478', 'no-udp', 'no-tcp', 'no-dtls',
      `cert=${path.join(dir, 'turn-cert.pem')}`, `pkey=${path.join(dir, 'turn-key.pem')}`,
      'use-auth-secret', `static-auth-secret=${secret}`, 'realm=tandem.test', 'fingerprint',
      'no-cli', 'no-multicast-peers', 'no-software-attribute',
      'denied-peer-ip=0.0.0.0-0.255.255.255', 'denied-peer-ip=10.0.0.0-10.255.255.255',
      'denied-peer-ip=100.64.0.0-100.127.255.255', 'denied-peer-ip=127.0.0.0-127.255.255.255',
      'denied-peer-ip=169.254.0.0-169.254.255.255', 'denied-peer-ip=172.16.0.0-172.31.255.255',
      'denied-peer-ip=192.168.0.0-192.168.255.255', 'denied-peer-ip=198.18.0.0-198.19.255.255',
      `allowed-peer-ip=${SERVER_ADDR}`,
      'user-quota=12', 'total-quota=1200', 'max-bps=3000000', 'stale-nonce=600',
      'min-port=49152', 'max-port=49252', 'no-stdout-log', `log-file=${path.join(dir, 'turn.log')}`,
      `pidfile=${path.join(dir, 'turn.pid')}`, `userdb=${path.join(dir, 'turndb')}`, '',
    ].join('\n'));
    coturn = spawn('turnserver', ['-c', path.join(dir, 'turnserver.conf')], { stdio: ['ignore', 'pipe', 'pipe'] });
    reapOnExit(coturn);
    coturn.stdout.on('data', () => {});
    coturn.stderr.on('data', () => {});
    await listening(TURN_ADDR, 443);
    // Only TCP to port 443 for the restricted user (loopback stays: the DevTools connection).
    nft(`table inet tdmturn {
      chain out {
        type filter hook output priority 0; policy accept;
        meta skuid ${NOBODY} ip daddr 127.0.0.0/8 accept
        meta skuid ${NOBODY} meta l4proto udp drop
        meta skuid ${NOBODY} tcp dport != 443 drop
      }
    }\n`);
  }, { timeout: 60000 });

  after(async () => {
    await Promise.all(browsers.splice(0).map((b) => b.close().catch(() => {})));
    if (server) await server.stop();
    if (coturn) await killPid(coturn);
    try { execFileSync('nft', ['delete', 'table', 'inet', 'tdmturn'], { stdio: 'ignore' }); } catch { /* gone */ }
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, { timeout: 60000 });

  async function startServer(withTurn) {
    const args = ['--port', '443', '--media-address', SERVER_ADDR];
    if (withTurn) {
      const conf = path.join(dir, 'tandem.conf');
      writeFileSync(conf, `[turn]\nurls = turns:${TURN_ADDR}:443?transport=tcp\n` +
        `secret_file = ${path.join(dir, 'turn.secret')}\nttl_s = 3600\n`);
      args.push('--config', conf);
    }
    return startTandem({ listen: SERVER_ADDR, args });
  }

  /** Opens the room page and joins through its form. */
  async function join(label, room, { restricted = false } = {}) {
    const browser = await launchChromium(label, restricted ? { uid: NOBODY } : {});
    browsers.push(browser);
    const { page } = browser;
    const errors = [];
    page.on('pageerror', (err) => errors.push(err.message));
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.goto(`${server.url}/r/${room}`);
    await page.locator('#name').fill(label);
    await page.locator('#join-button').click();
    await page.locator('#room:not([hidden])').waitFor({ timeout: UI_WAIT_MS });
    const id = await page.$eval('#participants .tile[data-self="true"]', (li) => li.dataset.participantId);
    return { label, browser, page, id, errors };
  }

  /** In the page: frames decoded from each other person, and the selected candidate pairs. */
  function pageState() {
    const hook = window.tandemCall;
    return (async () => {
      const out = { status: hook.status, frames: {}, pairs: {} };
      for (const [label, pc] of [['pub', hook.pub], ['sub', hook.sub]]) {
        if (!pc) continue;
        const r = await pc.getStats();
        let pairId = null;
        r.forEach((s) => {
          if (s.type === 'transport' && s.selectedCandidatePairId) pairId = s.selectedCandidatePairId;
          if (label === 'sub' && s.type === 'inbound-rtp' && s.kind === 'video') {
            out.frames[s.trackIdentifier || s.id] = s.framesDecoded || 0;
          }
        });
        const pair = pairId && r.get(pairId);
        const local = pair && r.get(pair.localCandidateId);
        const remote = pair && r.get(pair.remoteCandidateId);
        out.pairs[label] = local ? {
          local: local.candidateType, relayProtocol: local.relayProtocol ?? null,
          protocol: local.protocol, remote: remote?.candidateType ?? null,
        } : null;
      }
      out.decoded = Object.values(out.frames).reduce((a, b) => a + b, 0);
      return out;
    })();
  }

  async function waitFrames(p, what) {
    const deadline = Date.now() + MEDIA_WAIT_MS;
    let s;
    do {
      s = await p.page.evaluate(pageState);
      if (s.decoded > 0) return s;
      await sleep(300);
    } while (Date.now() < deadline);
    assert.fail(`${p.label}: no frames decoded from ${what}: ${JSON.stringify(s)}\n${server.stderr.slice(-2000)}`);
  }

  test('through coturn over TLS on 443, both people decode each other\'s video', { timeout: 200000 }, async (t) => {
    server = await startServer(true);
    const restricted = await join('amina', 'turn-room', { restricted: true });
    const open = await join('jan', 'turn-room');
    const a = await waitFrames(restricted, 'jan');
    const b = await waitFrames(open, 'amina');
    await sleep(1500);
    const a2 = await restricted.page.evaluate(pageState);
    const b2 = await open.page.evaluate(pageState);
    assert.ok(a2.decoded > a.decoded && b2.decoded > b.decoded, 'video keeps coming both ways');
    for (const pc of ['pub', 'sub']) {
      assert.equal(a2.pairs[pc]?.local, 'relay', `amina's ${pc} goes through the relay: ${JSON.stringify(a2.pairs)}`);
      assert.equal(a2.pairs[pc]?.relayProtocol, 'tls', `amina's ${pc} reaches the relay over TLS`);
    }
    assert.notEqual(b2.pairs.pub?.local, 'relay', 'jan, on an open network, connects directly');
    assert.deepEqual(restricted.errors, []);
    t.diagnostic(`amina (TCP 443 only): pairs ${JSON.stringify(a2.pairs)}, ${a2.decoded} frames decoded from jan`);
    t.diagnostic(`jan (open network): pairs ${JSON.stringify(b2.pairs)}, ${b2.decoded} frames decoded from amina`);
    await Promise.all(browsers.splice(0).map((br) => br.close()));
    // coturn's log (written as it stops) names no client or peer address (docs/turn.md).
    await killPid(coturn);
    coturn = null;
    const turnLog = execFileSync('sh', ['-c', `cat "${dir}"/turn*.log`], { encoding: 'utf8' });
    t.diagnostic(`coturn log: ${turnLog.split('\n').length} lines, sessions: ${(turnLog.match(/session \d+: .*closed/g) || []).length}`);
    assert.ok(!turnLog.includes('198.18.0.2'), `coturn logged the person's address:\n${turnLog.slice(-3000)}`);
    const s = server;
    server = null;
    await stopCleanly(t, s);
  });

  test('without TURN, the page says plainly that the network blocks the call', { timeout: 200000 }, async (t) => {
    server = await startServer(false);
    const restricted = await join('amina', 'blocked-room', { restricted: true });
    const text = restricted.page.locator('#call-text');
    const deadline = Date.now() + BLOCKED_WAIT_MS;
    let shown = '';
    while (Date.now() < deadline) {
      shown = (await text.textContent()) || '';
      if (/block/i.test(shown)) break;
      await sleep(500);
    }
    assert.match(shown, /This network seems to block video calls/);
    assert.match(shown, /mobile data/);
    t.diagnostic(`the page says: "${shown}"`);
    await Promise.all(browsers.splice(0).map((br) => br.close()));
    const s = server;
    server = null;
    await stopCleanly(t, s);
  });
}
