// The test library's own promise: a server started by startTandem() (tests/lib/tandem.mjs)
// does not outlive the test process, whatever ends it. Each case runs a small test process
// that starts a server and then ends without stopping it, the ways a real run ends: set-up code
// calling process.exit() (as playwright-core does on a Node.js it does not support), an
// uncaught exception, SIGTERM and SIGINT from a runner or a terminal. The server must be gone
// within a few seconds after.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const LIB = pathToFileURL(path.join(path.dirname(new URL(import.meta.url).pathname), '..', 'lib', 'tandem.mjs')).href;
const WAIT_MS = 50000; // above startTandem's own bound (45 s on a loaded machine)

const ENDINGS = {
  'process.exit() in set-up': 'process.exit(1);',
  'an uncaught exception': "setTimeout(() => { throw new Error('set-up failed'); }, 0);",
  SIGTERM: "process.kill(process.pid, 'SIGTERM');",
  SIGINT: "process.kill(process.pid, 'SIGINT');",
};

/** Whether pid still runs (a zombie waiting for its new parent to reap it does not). */
function alive(pid) {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

for (const [how, ending] of Object.entries(ENDINGS)) {
  test(`the server goes with its test process: ${how}`, { timeout: 90000 }, async () => {
    const script = `import { startTandem } from ${JSON.stringify(LIB)};
const srv = await startTandem();
console.log('pid ' + srv.pid);
${ending}
setInterval(() => {}, 1000); // otherwise alive until something ends it`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    const exited = new Promise((resolve) => child.on('exit', resolve));
    let pid = 0;
    try {
      await Promise.race([exited, sleep(WAIT_MS)]);
      pid = Number(/pid (\d+)/.exec(out)?.[1]);
      assert.ok(pid > 0, `no server was started:\n${out}`);
      const end = Date.now() + 5000;
      while (alive(pid) && Date.now() < end) await sleep(50);
      assert.equal(alive(pid), false, `server ${pid} outlived its test process (${how})`);
    } finally {
      try { process.kill(child.pid, 'SIGKILL'); } catch { /* ended */ }
      if (pid && alive(pid)) process.kill(pid, 'SIGKILL');
    }
  });
}
