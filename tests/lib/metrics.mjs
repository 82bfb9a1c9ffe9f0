// Helpers for tests of the metrics endpoint (docs/metrics.md): find its address in the
// server's log, scrape it over plain HTTP, parse the text format, and check that a scrape
// holds nothing but metric names, fixed label values and numbers.
import http from 'node:http';
import assert from 'node:assert/strict';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** A config file that turns the endpoint on at `listen` (removed when the process exits). */
export function metricsConfig(listen = '127.0.0.1:0') {
  const dir = mkdtempSync(path.join(tmpdir(), 'tandem-metrics-'));
  const file = path.join(dir, 'metrics.conf');
  writeFileSync(file, `[metrics]\nlisten = ${listen}\n`);
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  return file;
}

/** The endpoint's URL from the server's "metrics on ..." line (waits up to 5 s for it). */
export async function metricsUrl(server) {
  const deadline = Date.now() + 5000;
  for (;;) {
    const m = /metrics on (http:\/\/\S+\/metrics)/.exec(server.stderr);
    if (m) return m[1];
    if (Date.now() > deadline) throw new Error(`no "metrics on" line:\n${server.stderr.slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** GET (or another method) on url; resolves with { status, headers, text }. Bounded: 5 s. */
export function scrape(url, { method = 'GET' } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, agent: false, timeout: 5000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url} within 5 s`)));
    req.on('error', reject);
    req.end();
  });
}

/** Every sample as a Map from 'name{labels}' (labels as written) to its value. */
export function parseMetrics(text) {
  const out = new Map();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

// A line is a HELP or TYPE comment, or a sample whose label values are short words of
// [a-z0-9_.]: nothing a person typed, no address, no token can fit.
const LINE = /^(# (HELP|TYPE) [a-z_]+ .*|[a-z_]+(\{[a-z_]+="[a-z0-9_.]{1,32}"(,[a-z_]+="[a-z0-9_.]{1,32}")*\})? [0-9]+(\.[0-9]+)?)$/;

/** Asserts that the scrape has only well-formed lines, no IPv4 or IPv6 address, and none of
 *  the given strings (names, rooms, tokens, ids). */
export function assertPrivate(text, secrets) {
  const lines = text.split('\n').filter(Boolean);
  assert.ok(lines.length > 20, `a short scrape:\n${text}`);
  for (const line of lines) assert.match(line, LINE, `unexpected line: ${line}`);
  assert.doesNotMatch(text, /\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b/, 'an IPv4 address in the scrape');
  assert.doesNotMatch(text, /\b[0-9a-f]{0,4}:[0-9a-f]{0,4}:[0-9a-f:]*\b/i, 'an IPv6 address in the scrape');
  const lower = text.toLowerCase();
  for (const s of secrets.filter(Boolean)) {
    assert.equal(lower.includes(String(s).toLowerCase()), false, `"${s}" appears in the scrape`);
  }
}
