// Limits that need a server of their own: connections per source address.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTandem } from '../lib/tandem.mjs';
import { client as wsClient, closeAllClients } from '../lib/wsclient.mjs';

let srv;
before(async () => {
  srv = await startTandem({
    args: ['--config', new URL('./data/per-address.conf', import.meta.url).pathname],
  });
});
after(async () => {
  closeAllClients();
  const r = await srv.stop();
  assert.equal(r.code, 0, srv.stderr);
  // The server names its own listening address once; no client address ever appears.
  const rest = srv.stderr.replace(/listening on https:\/\/\S+/, '');
  assert.doesNotMatch(rest, /127\.0\.0\.1/, 'no client address in the log at the default level');
});

test('one address gets at most max_connections_per_address connections', async () => {
  const held = [];
  for (let i = 0; i < 3; i++) held.push(await wsClient(srv.wsUrl));
  const extra = await wsClient(srv.wsUrl);
  assert.equal((await extra.next('error')).code, 'too_many_connections');
  assert.equal((await extra.waitClose()).code, 1008);
  // the ones already in are not disturbed
  held[0].send({ type: 'ping', id: 'still' });
  assert.equal((await held[0].next('pong')).ref, 'still');
  // a freed slot can be taken again
  held[1].ws.close();
  await held[1].waitClose();
  const again = await wsClient(srv.wsUrl);
  again.send({ type: 'ping', id: 'again' });
  const m = await again.next((x) => x.type === 'pong' || x.type === 'error');
  assert.equal(m.type, 'pong');
  for (const c of [held[0], held[2], again]) c.ws.close();
});
