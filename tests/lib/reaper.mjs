// Every process a test starts (servers, browsers) is stopped by the test itself; this is the
// safety net for the paths where that code never runs: a set-up that throws half way, an
// assertion between start and stop, a test process ended by Ctrl-C or by its runner. Each
// tracked child still alive when this process exits is killed by its PID (SIGKILL: an exit
// hook cannot wait). The suite's last ctest (tests/lib/leftovers.mjs) checks that it worked.
const live = new Set();
let installed = false;

function killAll() {
  for (const child of live) {
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  live.clear();
}

function install() {
  installed = true;
  process.on('exit', killAll);
  // A signal ends node without its 'exit' event: kill ours, then let the signal do what it
  // would have done (unless someone else, e.g. the test runner, also listens and decides).
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(sig, function onSignal() {
      killAll();
      if (process.listenerCount(sig) === 1) {
        process.removeListener(sig, onSignal);
        process.kill(process.pid, sig);
      }
    });
  }
}

/** Kills `child` (a ChildProcess) when this process ends, unless it ended before. */
export function reapOnExit(child) {
  if (!installed) install();
  if (child.exitCode !== null || child.signalCode !== null || !child.pid) return child;
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}
