// server.public_url (--public-url): the base of every printed and page-made link.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TANDEM_BIN, startTandem, mintInvite, inviteKeyPath, newLedgerPath } from '../lib/tandem.mjs';
import { client as wsClient, closeAllClients } from '../lib/wsclient.mjs';

const ledger = newLedgerPath();
function invite(args) {
  return spawnSync(TANDEM_BIN, ['invite', '--room', 'url-room', '--role', 'mentee',
    '--invite-key', inviteKeyPath(), '--invite-ledger', ledger, ...args], { encoding: 'utf8', timeout: 20000 });
}

test('tandem invite prints links on the public address, from the flag or the config file', () => {
  const flag = invite(['--public-url', 'https://calls.example.org/']);
  assert.equal(flag.status, 0, flag.stderr);
  assert.match(flag.stdout, /^https:\/\/calls\.example\.org\/r\/url-room#t=[\w-]+\.[\w-]{43}\n$/);

  const dir = mkdtempSync(path.join(tmpdir(), 'tandem-url-'));
  try {
    const conf = path.join(dir, 'tandem.conf');
    writeFileSync(conf, '[server]\npublic_url = https://tandem.ngo.example:8443\n');
    const file = invite(['--config', conf]);
    assert.equal(file.status, 0, file.stderr);
    assert.match(file.stdout, /^https:\/\/tandem\.ngo\.example:8443\/r\/url-room#t=/);
    const both = invite(['--config', conf, '--public-url', 'https://other.example']);
    assert.match(both.stdout, /^https:\/\/other\.example\/r\/url-room#t=/, 'the flag wins');
    writeFileSync(conf, '[server]\npublic_url = http://tandem.ngo.example\n');
    const badFile = invite(['--config', conf]);
    assert.equal(badFile.status, 2);
    assert.match(badFile.stderr, /server\.public_url: expected https:\/\/host/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.match(invite([]).stdout, /^https:\/\/localhost:8443\/r\/url-room#t=/, 'the default');
  for (const bad of ['http://x.example', 'https://x.example/sub', 'https://x.example?q', 'https://x.example#t']) {
    const r = invite(['--public-url', bad]);
    assert.equal(r.status, 2, bad);
    assert.match(r.stderr, /server\.public_url/, bad);
    assert.equal(r.stdout, '', 'no link on a bad address');
  }
});

test('the server makes page links on the public address, and refuses a bad one', async () => {
  const srv = await startTandem({ openRooms: false, args: ['--public-url', 'https://calls.example.org'] });
  try {
    assert.match(srv.stderr, /links are made for https:\/\/calls\.example\.org/);
    const c = await wsClient(srv.wsUrl);
    c.send({ type: 'join', id: 1, room: 'url-room', name: 'Coord', role: 'coordinator',
      token: mintInvite({ room: 'url-room', role: 'coordinator' }) });
    await c.next('welcome');
    c.send({ type: 'invite.create', id: 2, role: 'mentee', uses: 1 });
    const inv = await c.next('invite');
    assert.equal(inv.url, `https://calls.example.org/r/url-room#t=${inv.token}`);
  } finally {
    closeAllClients();
    assert.equal((await srv.stop()).code, 0, srv.stderr);
  }
  await assert.rejects(startTandem({ args: ['--public-url', 'https://calls.example.org/x'] }),
    /--public-url: server\.public_url: expected https:\/\/host/);
});
