// Browsers for media tests, started by us so that each one can be stopped by its PID:
// Debian's Chromium with a DevTools port that playwright-core connects to, and Firefox ESR
// through puppeteer-core over WebDriver BiDi (/work/shared/notes/browser-testing.md); and a
// virtual X screen (Xvfb) for a Firefox that shares a screen.
import { spawn } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { reapOnExit } from './reaper.mjs';

export const CHROMIUM_ARGS = ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic',
  '--no-first-run', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
  '--disable-features=WebRtcHideLocalIpsWithMdns', '--autoplay-policy=no-user-gesture-required',
  '--ignore-certificate-errors', '--no-default-browser-check', '--password-store=basic'];

/** Kills pid (SIGTERM, then SIGKILL after graceMs); resolves when it is gone. */
export function killPid(child, graceMs = 5000) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => { try { process.kill(child.pid, 'SIGKILL'); } catch { /* gone */ } }, graceMs);
    child.once('exit', () => { clearTimeout(t); resolve(); });
    try { process.kill(child.pid, 'SIGTERM'); } catch { clearTimeout(t); resolve(); }
  });
}

/** Starts Chromium (args: more command-line flags); resolves with { pid, page, close() }. */
export async function launchChromium(label, { timeoutMs = 60000, uid = null, args = [] } = {}) {
  const { chromium } = await import('playwright-core');
  const dir = mkdtempSync(path.join(tmpdir(), `tandem-call-${label}-`));
  // uid: the browser runs as that user (a firewall rule can then match its packets alone:
  // tests/e2e/call-turn.test.mjs); its profile folder becomes that user's.
  const as = {};
  if (uid !== null) {
    chownSync(dir, uid, uid);
    Object.assign(as, { uid, gid: uid, env: { ...process.env, HOME: dir } });
  }
  const child = spawn('/usr/bin/chromium', [...CHROMIUM_ARGS, ...args, '--remote-debugging-port=0',
    '--remote-debugging-address=127.0.0.1', `--user-data-dir=${dir}`, 'about:blank'],
  { stdio: ['ignore', 'ignore', 'pipe'], ...as });
  reapOnExit(child); // a browser the test could not close is killed when the test process ends
  let err = '';
  const endpoint = await new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      killPid(child, 1000); // a half-started browser must not keep the test process alive
      reject(new Error(`${label}: Chromium did not start within ${timeoutMs} ms:\n${err}`));
    }, timeoutMs);
    child.stderr.on('data', (d) => {
      err += d;
      const m = /DevTools listening on (ws:\/\/\S+)/.exec(err);
      if (m) { clearTimeout(t); resolve(m[1]); }
    });
    child.on('exit', (code) => { clearTimeout(t); reject(new Error(`${label}: Chromium exited (${code}):\n${err}`)); });
  });
  let browser;
  try {
    browser = await chromium.connectOverCDP(endpoint, { timeout: timeoutMs });
  } catch (e) {
    await killPid(child, 1000);
    throw e;
  }
  const context = browser.contexts()[0];
  const page = context.pages()[0] || await context.newPage();
  page.setDefaultTimeout(timeoutMs);
  return {
    label, pid: child.pid, page, browserName: 'chromium',
    async close() {
      try { await Promise.race([browser.close(), new Promise((r) => setTimeout(r, 5000))]); } catch { /* killed below */ }
      await killPid(child);
      try { rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 }); } catch { /* a helper process still writing */ }
    },
  };
}

export const FIREFOX_PREFS = {
  'media.navigator.streams.fake': true,
  'media.navigator.permission.disabled': true,
  'media.peerconnection.ice.obfuscate_host_addresses': false,
  'media.autoplay.default': 0,
  'media.autoplay.blocking_policy': 0,
  'media.gmp-gmpopenh264.enabled': false,
  'media.gmp-manager.url': '',
  'app.update.enabled': false,
  'app.update.auto': false,
  'browser.safebrowsing.malware.enabled': false,
  'browser.safebrowsing.phishing.enabled': false,
  'browser.safebrowsing.downloads.enabled': false,
  'browser.safebrowsing.blockedURIs.enabled': false,
  'network.captive-portal-service.enabled': false,
  'network.connectivity-service.enabled': false,
  'datareporting.healthreport.uploadEnabled': false,
  'datareporting.policy.dataSubmissionEnabled': false,
  'toolkit.telemetry.enabled': false,
  'toolkit.telemetry.unified': false,
  'browser.newtabpage.enabled': false,
  'browser.startup.homepage_override.mstone': 'ignore',
  'extensions.update.enabled': false,
  'extensions.getAddons.cache.enabled': false,
  'services.settings.server': 'http://127.0.0.1:9/',
  'network.dns.disablePrefetch': true,
  'network.prefetch-next': false,
};

/**
 * Starts Xvfb on a free display (Debian package xvfb); resolves with { display, pid, close() }.
 * Firefox captures a screen only from a real display: headless it finds none
 * (getDisplayMedia: NotFoundError), and its fake devices are a camera and a microphone only.
 * On an X display it shares the whole screen ("Primary Monitor") without asking, given
 * media.navigator.permission.disabled.
 */
export async function startXvfb({ width = 1280, height = 800, timeoutMs = 20000 } = {}) {
  // -displayfd: Xvfb picks a free display number and writes it to our pipe once it listens
  const child = spawn('Xvfb', ['-displayfd', '1', '-screen', '0', `${width}x${height}x24`, '-nolisten', 'tcp'],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  reapOnExit(child);
  let out = '';
  let err = '';
  child.stderr.on('data', (d) => { err += d; });
  const display = await new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      killPid(child, 1000);
      reject(new Error(`Xvfb gave no display within ${timeoutMs} ms:\n${err.slice(-2000)}`));
    }, timeoutMs);
    child.stdout.on('data', (d) => {
      out += d;
      const m = /^(\d+)\n/.exec(out);
      if (m) { clearTimeout(t); resolve(`:${m[1]}`); }
    });
    child.on('error', (e) => {
      clearTimeout(t);
      reject(new Error(`cannot start Xvfb (Debian package xvfb: scripts/install-deps.sh test): ${e.message}`));
    });
    child.on('exit', (code) => { clearTimeout(t); reject(new Error(`Xvfb exited (${code}):\n${err.slice(-2000)}`)); });
  });
  return { display, pid: child.pid, close: () => killPid(child) };
}

/** Starts Firefox ESR, headless or on an X display (display: ':N', from startXvfb);
 *  resolves with { pid, page, close() } (page: puppeteer's). */
export async function launchFirefox(label, { timeoutMs = 60000, display = null } = {}) {
  const puppeteer = (await import('puppeteer-core')).default;
  const browser = await puppeteer.launch({
    browser: 'firefox', protocol: 'webDriverBiDi', executablePath: '/usr/bin/firefox-esr',
    headless: !display, acceptInsecureCerts: true, extraPrefsFirefox: FIREFOX_PREFS, timeout: timeoutMs,
    ...(display ? { env: { ...process.env, DISPLAY: display } } : {}),
  });
  const proc = browser.process();
  if (proc) reapOnExit(proc);
  const page = (await browser.pages())[0] || await browser.newPage();
  page.setDefaultTimeout(timeoutMs);
  return {
    label, pid: proc?.pid, page, browserName: 'firefox',
    async close() {
      try { await Promise.race([browser.close(), new Promise((r) => setTimeout(r, 8000))]); } catch { /* killed below */ }
      if (proc) await killPid(proc);
    },
  };
}
