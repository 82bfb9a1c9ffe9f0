// The suite's last ctest (a fixture clean-up that runs after every test that starts a
// server): no `tandem` of this build may still run. Usage: node leftovers.mjs TANDEM_BIN
// A server still shutting down gets a few seconds; whatever remains is listed, killed by its
// PID, and the check fails, so that a test which leaves its server behind is noticed.
import { readdirSync, readFileSync, readlinkSync, realpathSync } from 'node:fs';

const GRACE_MS = 5000;
const bin = realpathSync(process.argv[2]);

/** [{pid, cmd}] of processes running `bin`, directly or under a wrapper (valgrind). */
function ours() {
  const found = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    let exe = '';
    let argv = [];
    try {
      argv = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').filter(Boolean);
      exe = readlinkSync(`/proc/${name}/exe`);
    } catch {
      // gone, or not ours to read
    }
    if (exe === bin || exe === `${bin} (deleted)` || argv.includes(bin)) {
      found.push({ pid: Number(name), cmd: argv.join(' ').slice(0, 200) });
    }
  }
  return found;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let left = ours();
for (const end = Date.now() + GRACE_MS; left.length && Date.now() < end; left = ours()) await sleep(100);
if (left.length === 0) {
  console.log(`no ${bin} left running`);
  process.exit(0);
}
for (const p of left) {
  console.error(`left running by a test: pid ${p.pid}: ${p.cmd}`);
  try {
    process.kill(p.pid, 'SIGKILL');
  } catch {
    // ended meanwhile
  }
}
process.exit(1);
