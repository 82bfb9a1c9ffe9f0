// Static checks of the pages in web/, no browser and no server: what the Content-Security-
// Policy would block (inline scripts, event-handler attributes, style attributes), anything
// fetched from another origin, and translation keys missing from a language.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync, existsSync } from 'node:fs';
import path from 'node:path';

const SOURCE_DIR = process.env.TANDEM_SOURCE_DIR ||
  path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
const WEB = path.join(SOURCE_DIR, 'web');
const PLURAL_FORMS = new Set(['zero', 'one', 'two', 'few', 'many', 'other']);
// The only absolute URL a page may hold: an XML namespace name, which is never fetched.
const NAMESPACE = /xmlns(?::\w+)?="http:\/\/www\.w3\.org\/[^"]*"/g;

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else out.push(p);
  }
  return out;
}

const files = walk(WEB);
const byExt = (ext) => files.filter((f) => f.endsWith(ext));
const read = (f) => readFileSync(f, 'utf8');
const rel = (f) => path.relative(WEB, f);
const stripComments = (html) => html.replace(/<!--[\s\S]*?-->/g, '');
const tagsOf = (html) => stripComments(html).match(/<[a-zA-Z][^>]*>/g) || [];

const htmlFiles = byExt('.html');
const jsFiles = byExt('.mjs').concat(byExt('.js'));
const langFiles = byExt('.json').filter((f) => path.dirname(f) === path.join(WEB, 'i18n'));
const translations = Object.fromEntries(langFiles.map((f) => [path.basename(f, '.json'), JSON.parse(read(f))]));

test('the pages exist', () => {
  for (const f of ['index.html', 'room.html', 'css/app.css', 'js/i18n.mjs', 'i18n/en.json']) {
    assert.ok(existsSync(path.join(WEB, f)), `web/${f} is missing`);
  }
});

test('no inline script, no <style>, no on*= and no style= attribute in the HTML', () => {
  for (const f of htmlFiles) {
    const html = stripComments(read(f));
    for (const m of html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script\s*>/gi)) {
      assert.match(m[1], /\ssrc\s*=/i, `${rel(f)}: <script> without src`);
      assert.equal(m[2].trim(), '', `${rel(f)}: <script src> with an inline body`);
    }
    assert.doesNotMatch(html, /<style[\s>]/i, `${rel(f)}: <style> element (CSP style-src 'self')`);
    for (const tag of tagsOf(html)) {
      assert.doesNotMatch(tag, /\son[a-z]+\s*=/i, `${rel(f)}: event-handler attribute in ${tag}`);
      assert.doesNotMatch(tag, /\sstyle\s*=/i, `${rel(f)}: style attribute in ${tag}`);
      assert.doesNotMatch(tag, /javascript:/i, `${rel(f)}: javascript: URL in ${tag}`);
    }
  }
});

test('nothing is loaded from another origin', () => {
  for (const f of [...htmlFiles, ...jsFiles, ...byExt('.css'), ...byExt('.svg')]) {
    const text = read(f).replace(NAMESPACE, '');
    assert.doesNotMatch(text, /\bhttps?:\/\//i, `${rel(f)}: absolute http(s) URL`);
    assert.doesNotMatch(text, /(?:src|href|action)\s*=\s*["']?\/\//i, `${rel(f)}: protocol-relative URL`);
    assert.doesNotMatch(text, /url\(\s*["']?\/\//i, `${rel(f)}: protocol-relative url()`);
  }
});

test('every file an HTML page refers to exists', () => {
  for (const f of htmlFiles) {
    for (const tag of tagsOf(read(f))) {
      const m = /\s(?:src|href)\s*=\s*"(\/[^"]*)"/.exec(tag);
      if (!m || m[1] === '/') continue;
      assert.ok(existsSync(path.join(WEB, m[1])), `${rel(f)}: ${m[1]} does not exist in web/`);
    }
  }
});

test('the scripts build no HTML from text and run no strings as code', () => {
  for (const f of jsFiles) {
    const js = read(f);
    for (const bad of [/\.innerHTML\b/, /\.outerHTML\s*=/, /insertAdjacentHTML/, /document\.write/,
      /\beval\s*\(/, /new\s+Function\s*\(/, /setAttribute\(\s*['"]style['"]/]) {
      assert.doesNotMatch(js, bad, `${rel(f)}: ${bad}`);
    }
  }
});

test('every translation file has the keys, forms and placeholders of en.json', () => {
  const en = translations.en;
  assert.ok(en, 'web/i18n/en.json is missing');
  const placeholders = (v) => new Set(
    [...(typeof v === 'string' ? [v] : Object.values(v))].flatMap((s) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1])));
  for (const [lang, dict] of Object.entries(translations)) {
    assert.deepEqual(Object.keys(dict).sort(), Object.keys(en).sort(), `${lang}.json: keys differ from en.json`);
    for (const [key, v] of Object.entries(dict)) {
      if (typeof v === 'object') {
        assert.ok(v !== null && typeof v.other === 'string', `${lang}.json ${key}: a plural needs "other"`);
        for (const form of Object.keys(v)) assert.ok(PLURAL_FORMS.has(form), `${lang}.json ${key}: form ${form}`);
      } else {
        assert.equal(typeof v, 'string', `${lang}.json ${key}: not text`);
      }
      assert.ok(String(typeof v === 'string' ? v : v.other).trim(), `${lang}.json ${key}: empty`);
      assert.deepEqual([...placeholders(v)].sort(), [...placeholders(en[key])].sort(),
        `${lang}.json ${key}: placeholders differ from en.json`);
    }
  }
});

test('the language picker offers exactly the translation files', () => {
  const src = read(path.join(WEB, 'js', 'i18n.mjs'));
  const tags = [...src.matchAll(/\btag:\s*'([a-z-]+)'/g)].map((m) => m[1]).sort();
  assert.deepEqual(tags, Object.keys(translations).sort());
  for (const need of ['en', 'nl', 'fr', 'ar', 'es']) assert.ok(tags.includes(need), `no ${need}`);
});

/** Keys the pages use: data-i18n, data-i18n-attr, t('...') and key-shaped string literals. */
function usedKeys() {
  const namespaces = new Set(Object.keys(translations.en).map((k) => k.split('.')[0]));
  const used = new Map(); // key -> file
  for (const f of htmlFiles) {
    const html = stripComments(read(f));
    for (const m of html.matchAll(/\sdata-i18n="([^"]+)"/g)) used.set(m[1], rel(f));
    for (const m of html.matchAll(/\sdata-i18n-attr="([^"]+)"/g)) {
      for (const pair of m[1].split(';')) used.set(pair.split(':')[1].trim(), rel(f));
    }
  }
  for (const f of jsFiles) {
    const js = read(f);
    for (const m of js.matchAll(/\bt\(\s*['"`]([^'"`]+)['"`]/g)) used.set(m[1], rel(f));
    for (const m of js.matchAll(/['"]([a-z][A-Za-z]*\.[A-Za-z0-9_.]+)['"]/g)) {
      // a protocol message type (`case 'room.state':`) is not a translation key
      if (/\bcase\s*$/.test(js.slice(Math.max(0, m.index - 8), m.index))) continue;
      if (namespaces.has(m[1].split('.')[0])) used.set(m[1], rel(f));
    }
  }
  return used;
}

test('every key the pages use exists in every language, and every key is used', () => {
  const used = usedKeys();
  assert.ok(used.size > 20, `only ${used.size} keys found: is the scan broken?`);
  for (const [key, where] of used) {
    assert.doesNotMatch(key, /\$\{/, `${where}: built key ${key} cannot be checked`);
    for (const [lang, dict] of Object.entries(translations)) {
      assert.ok(Object.hasOwn(dict, key), `${where} uses "${key}", missing in ${lang}.json`);
    }
  }
  for (const key of Object.keys(translations.en)) assert.ok(used.has(key), `en.json: "${key}" is never used`);
});

test('the English text written in the HTML is the text of en.json', () => {
  const decode = (s) => s.replace(/&amp;/g, '&').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"');
  for (const f of htmlFiles) {
    const html = stripComments(read(f));
    for (const m of html.matchAll(/<(\w+)\b[^>]*\sdata-i18n="([^"]+)"[^>]*>([^<]*)<\/\1>/g)) {
      assert.equal(decode(m[3]).replace(/\s+/g, ' ').trim(), translations.en[m[2]], `${rel(f)}: ${m[2]}`);
    }
  }
});
