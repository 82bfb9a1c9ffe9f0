// Runs holdIdle (idleflood.mjs) in a worker thread, so the attack's own event loop does not
// delay the probes being timed. Messages: {stop: true} from the parent; {stats} back.
import { parentPort, workerData } from 'node:worker_threads';
import { holdIdle } from './idleflood.mjs';

const flood = holdIdle(workerData);
const report = setInterval(() => parentPort.postMessage({ stats: flood.stats, live: flood.live }), 100);
parentPort.on('message', (m) => {
  if (!m.stop) return;
  clearInterval(report);
  flood.stop();
  parentPort.postMessage({ stopped: true, stats: flood.stats });
  parentPort.close();
});
