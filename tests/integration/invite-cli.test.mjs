// The shell can do what the pages do: `tandem invite --list` shows the valid links of the
// ledger (made by `tandem invite` or by a coordinator's page), `tandem invite --revoke ID`
// withdraws one, and a running server refuses it within seconds, with the person pass of
// whoever used it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { TANDEM_BIN, startTandem, mintInvite, inviteKeyPath, newLedgerPath } from '../lib/tandem.mjs';
import { client as wsClient, closeAllClients } from '../lib/wsclient.mjs';

function cli(args) {
  return spawnSync(TANDEM_BIN, ['invite', '--invite-key', inviteKeyPath(), ...args],
    { encoding: 'utf8', timeout: 20000 });
}

/** The --list rows as {id, role, used, expires, state}. */
function list(ledger) {
  const r = cli(['--list', '--invite-ledger', ledger]);
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim().split('\n').slice(1).map((line) => {
    const [id, role, used, , , , state] = line.split(/\s+/);
    return { id, role, used, state };
  });
}

async function join(srv, room, creds) {
  const c = await wsClient(srv.wsUrl);
  c.send({ type: 'join', id: 1, room, name: 'Someone', role: 'mentee', ...creds });
  return { c, m: await c.next((x) => x.type === 'welcome' || x.type === 'error') };
}

test('tandem invite --list and --revoke, with a running server', async () => {
  const ledger = newLedgerPath();
  const srv = await startTandem({ openRooms: false, args: ['--invite-ledger', ledger] });
  try {
    const made = cli(['--room', 'cli-room', '--role', 'mentee', '--uses', '1', '--invite-ledger', ledger]);
    assert.equal(made.status, 0, made.stderr);
    const token = made.stdout.trim().split('#t=')[1];
    const id = /invite id (\S+)/.exec(made.stderr)[1];
    assert.deepEqual(list(ledger).find((l) => l.id === id), { id, role: 'mentee', used: '0/1', state: 'valid' });

    // A link made on the page is listed too.
    const coord = await join(srv, 'cli-room', { token: mintInvite({ room: 'cli-room', role: 'coordinator' }) });
    coord.c.send({ type: 'invite.create', id: 2, role: 'mentor', expires_s: 3600 });
    const inv = await coord.c.next('invite');
    assert.deepEqual(list(ledger).find((l) => l.id === inv.invite_id),
      { id: inv.invite_id, role: 'mentor', used: '0/-', state: 'valid' });

    const mentee = await join(srv, 'cli-room', { token });
    assert.equal(mentee.m.type, 'welcome', 'the server took the link the shell made');
    assert.equal(list(ledger).find((l) => l.id === id).used, '1/1');
    mentee.c.ws.terminate();

    const gone = cli(['--revoke', id, '--invite-ledger', ledger]);
    assert.equal(gone.status, 0, gone.stderr);
    assert.equal(list(ledger).find((l) => l.id === id).state, 'withdrawn');
    // The server reads the ledger every 2 s: ask until it refuses (bounded).
    let answer = null;
    for (let i = 0; i < 50; i++) {
      const x = await join(srv, 'cli-room', { pass: mentee.m.pass });
      answer = x.m;
      x.c.ws.close();
      if (answer.type === 'error') break;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(answer.code, 'invite_revoked', 'the person who used it is out too');

    for (const bad of ['nope', 'A'.repeat(22) + 'x', '']) {
      const r = cli(['--revoke', bad, '--invite-ledger', ledger]);
      assert.equal(r.status, 2, bad);
      assert.match(r.stderr, /--revoke: the invite id/);
    }
    const text = readFileSync(ledger, 'utf8');
    assert.doesNotMatch(text, /cli-room|Someone/, 'no room and no name in the ledger');
  } finally {
    closeAllClients();
    assert.equal((await srv.stop()).code, 0, srv.stderr);
  }
});
