// Runs a test file inside a private network namespace of its own, so that WebRTC media
// between the server and the browsers stays on addresses nobody else can reach
// (/work/shared/notes/browser-testing.md). Needs root (CI runs as root) and `unshare`/`ip`.
//
// Layout inside: lo up, a veth pair sfu0/sfu1 (not veth*: Debian's libnice ignores such
// names), 198.18.0.1/24 and 198.18.0.2/24 (the benchmarking range), and a default route to
// 198.18.0.254, which nobody owns (Firefox gathers nothing without a default route).
//
// Usage in a test file:
//   if (!insideNetns()) {
//     test('... in a private network namespace', () => runInNetns(import.meta.url));
//   } else { setupNetns(); ...the real tests... }
import { spawn, execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const SERVER_ADDR = '198.18.0.1';
export const PEER_ADDR = '198.18.0.2';
const GATEWAY = '198.18.0.254';
const ENV_FLAG = 'TANDEM_NETNS';

export function insideNetns() {
  return process.env[ENV_FLAG] === '1';
}

function ip(...args) {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Brings up the namespace's interfaces (idempotent: a second call finds sfu0 there). */
export function setupNetns() {
  if (!insideNetns()) throw new Error('setupNetns() outside the private namespace');
  let have = false;
  try {
    execFileSync('ip', ['link', 'show', 'sfu0'], { stdio: 'ignore' });
    have = true;
  } catch { /* not yet */ }
  if (have) return;
  // IPv4 only: an IPv6 link-local address would appear a moment after the link comes up
  // (after duplicate address detection), and a browser that sees an address change during
  // a navigation aborts it with net::ERR_NETWORK_CHANGED.
  for (const conf of ['all', 'default']) {
    try {
      writeFileSync(`/proc/sys/net/ipv6/conf/${conf}/disable_ipv6`, '1');
    } catch { /* a kernel without IPv6 */ }
  }
  ip('link', 'set', 'lo', 'up');
  ip('link', 'add', 'sfu0', 'type', 'veth', 'peer', 'name', 'sfu1');
  ip('addr', 'add', `${SERVER_ADDR}/24`, 'dev', 'sfu0');
  ip('addr', 'add', `${PEER_ADDR}/24`, 'dev', 'sfu1');
  ip('link', 'set', 'sfu0', 'up');
  ip('link', 'set', 'sfu1', 'up');
  ip('route', 'add', 'default', 'via', GATEWAY);
  // The veth carrier comes up asynchronously; browsers started before it settled could
  // also see a network change. Bounded: 200 looks at most, 10 ms apart.
  const shared = new Int32Array(new SharedArrayBuffer(4));
  for (let i = 0; i < 200; i++) {
    // (/sys shows the host's interfaces here: sysfs is not remounted in the namespace)
    const up = ['sfu0', 'sfu1'].every((n) => / state UP /.test(execFileSync('ip', ['-o', 'link', 'show', n], { encoding: 'utf8' })));
    if (up) return;
    Atomics.wait(shared, 0, 0, 10);
  }
  throw new Error('the namespace\'s veth pair did not come up within 2 s');
}

/**
 * Re-runs the test file (its import.meta.url) with `node --test` under `unshare -n`, its
 * output copied to our stderr, and resolves when it passed; rejects with the tail of its
 * output otherwise. `timeoutMs` bounds the whole run (the child is killed by PID).
 */
export function runInNetns(metaUrl, { timeoutMs = 540000 } = {}) {
  const file = fileURLToPath(metaUrl);
  const env = { ...process.env, [ENV_FLAG]: '1' };
  delete env.NODE_TEST_CONTEXT; // the child is a test runner of its own, not our subprocess
  return new Promise((resolve, reject) => {
    // A process group of its own, so that a time-out stops the runner, its test process and
    // whatever browsers and servers those started, not only the runner.
    const child = spawn('unshare', ['-n', '--', process.execPath, '--test',
      '--test-reporter=spec', file], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let out = '';
    const take = (d) => {
      out += d;
      process.stderr.write(d);
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    const killGroup = () => {
      try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ }
    };
    const timer = setTimeout(killGroup, timeoutMs);
    process.once('exit', killGroup); // our own runner gave up on us
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot run unshare (root and util-linux needed): ${err.message}`));
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      killGroup(); // leftovers of a test that did not clean up
      if (code === 0) resolve(out);
      else reject(new Error(`tests in the namespace failed (${code ?? signal}):\n${out.slice(-6000)}`));
    });
  });
}

/** Inside the namespace: polices what arrives at UDP port `port` to `kbit` kbit/s with
 *  nftables, as a mobile operator's or a shelter's router does (what passes the rate after a
 *  quarter second's burst is dropped), in table `table` (replaced if it exists). */
export function policePort(table, port, kbit) {
  unpolice(table);
  const bytes = Math.round((kbit * 1000) / 8);
  execFileSync('nft', ['-f', '-'], {
    input: `table inet ${table} {\n  chain rx {\n    type filter hook input priority 0; policy accept;\n`
      + `    udp dport ${port} limit rate over ${bytes} bytes/second burst ${Math.round(bytes / 4)} bytes counter drop\n  }\n}\n`,
    stdio: ['pipe', 'ignore', 'pipe'],
  });
}

/** Removes the nftables table `table` of policePort, if there is one. */
export function unpolice(table) {
  try { execFileSync('nft', ['delete', 'table', 'inet', table], { stdio: 'ignore' }); } catch { /* none */ }
}
