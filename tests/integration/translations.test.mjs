// The languages of the pages, checked without a browser: every language has every key of
// en.json and no other, no empty text, the same {placeholders}, the plural forms its grammar
// needs, text in its own script; every page's <noscript> speaks every language; the quick
// exit has a neutral page in every language.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import path from 'node:path';

const SOURCE_DIR = process.env.TANDEM_SOURCE_DIR ||
  path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
const WEB = path.join(SOURCE_DIR, 'web');
const read = (f) => readFileSync(path.join(WEB, f), 'utf8');

// The languages Tandem must speak (issue 13: the languages of the mentees).
const REQUIRED = ['en', 'fr', 'nl', 'es', 'ar', 'ti', 'sq', 'ro', 'vi', 'fa'];
const RTL = new Set(['ar', 'fa']);
// Letters a text in this language must hold (a text of digits, names and placeholders only
// is let through by the check below).
const SCRIPT = {
  ar: /[\u0600-\u06FF]/,
  fa: /[\u0600-\u06FF]/,
  ti: /[\u1200-\u137F]/,
};

const LANGUAGE_SRC = read('js/i18n.mjs');
const pickerTags = [...LANGUAGE_SRC.matchAll(/\{\s*tag:\s*'([a-z-]+)',\s*name:\s*'([^']+)',\s*dir:\s*'(ltr|rtl)'\s*\}/g)]
  .map((m) => ({ tag: m[1], name: m[2], dir: m[3] }));
const files = readdirSync(path.join(WEB, 'i18n')).filter((f) => f.endsWith('.json')).sort();
const dicts = Object.fromEntries(files.map((f) => [path.basename(f, '.json'), JSON.parse(read(`i18n/${f}`))]));
const en = dicts.en;

const texts = (v) => (typeof v === 'string' ? [v] : Object.values(v));
const placeholders = (v) => [...new Set(texts(v).flatMap((s) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1])))].sort();

/** The plural categories a language uses for the whole numbers 0 to 1000 (the counts a page
 *  shows): each needs its own form. */
function neededForms(lang) {
  const rules = new Intl.PluralRules(lang);
  const forms = new Set();
  for (let n = 0; n <= 1000; n++) forms.add(rules.select(n));
  return forms;
}

test('the picker offers every required language, each named in itself, and only those with a file', () => {
  assert.deepEqual(pickerTags.map((l) => l.tag).sort(), Object.keys(dicts).sort());
  for (const tag of REQUIRED) assert.ok(dicts[tag], `web/i18n/${tag}.json is missing`);
  for (const { tag, name, dir } of pickerTags) {
    assert.equal(dir, RTL.has(tag) ? 'rtl' : 'ltr', `${tag}: direction`);
    const own = new Intl.DisplayNames([tag], { type: 'language' }).of(tag);
    assert.equal(name.toLocaleLowerCase(tag), own.toLocaleLowerCase(tag), `${tag}: the picker names it "${name}", itself "${own}"`);
  }
});

test('every language has exactly the keys of en.json', () => {
  const want = Object.keys(en);
  for (const [lang, dict] of Object.entries(dicts)) {
    const missing = want.filter((k) => !Object.hasOwn(dict, k));
    const extra = Object.keys(dict).filter((k) => !Object.hasOwn(en, k));
    assert.deepEqual(missing, [], `${lang}.json lacks keys that en.json has`);
    assert.deepEqual(extra, [], `${lang}.json has keys that en.json does not`);
  }
});

test('no empty text, the same placeholders as English, and the plural forms of each language', () => {
  for (const [lang, dict] of Object.entries(dicts)) {
    const forms = neededForms(lang);
    for (const [key, v] of Object.entries(dict)) {
      const where = `${lang}.json "${key}"`;
      // One sentence that fits every number ("people here: {count}") may stand for the forms.
      assert.ok(typeof v !== 'object' || typeof en[key] === 'object', `${where}: plural forms for an English text`);
      assert.ok(typeof v === 'string' || (v !== null && typeof v === 'object'), `${where}: neither text nor plural`);
      for (const s of texts(v)) {
        assert.equal(typeof s, 'string', `${where}: a form is not text`);
        assert.ok(s.trim(), `${where}: empty`);
        assert.doesNotMatch(s, /\{\s*\}|\{\{|\}\}/, `${where}: broken placeholder`);
      }
      assert.deepEqual(placeholders(v), placeholders(en[key]), `${where}: placeholders differ from en.json`);
      if (typeof v === 'object') {
        for (const form of forms) assert.ok(typeof v[form] === 'string', `${where}: no "${form}" form`);
        for (const form of Object.keys(v)) {
          assert.ok(form === 'other' || forms.has(form), `${where}: "${form}" is not a plural form of ${lang}`);
        }
        // A form may leave the number out ("Only you are here"), never another placeholder.
        const others = placeholders(en[key]).filter((p) => p !== 'count');
        for (const s of texts(v)) {
          const has = placeholders(s);
          assert.deepEqual(has.filter((p) => p !== 'count'), others, `${where}: a form lacks or adds a placeholder`);
        }
      }
    }
  }
});

test('each language is written in its own script, and Farsi with Persian letters', () => {
  const bare = (s) => s.replace(/\{\w+\}/g, '').replace(/Tandem|JavaScript|WhatsApp|Zoom|Chrome|Firefox|Safari|JPEG|PNG|WebP|QR|https:\/\/|tandem-rooms\.json|relay/g, '');
  for (const [lang, re] of Object.entries(SCRIPT)) {
    for (const [key, v] of Object.entries(dicts[lang])) {
      for (const s of texts(v)) {
        if (!/\p{L}/u.test(bare(s))) continue; // only names, numbers and placeholders
        assert.match(s, re, `${lang}.json "${key}" is not in the script of ${lang}: ${s}`);
      }
    }
  }
  // Persian keyboards write ی and ک; the Arabic ي and ك look alike but break search and sorting.
  for (const [key, v] of Object.entries(dicts.fa)) {
    for (const s of texts(v)) assert.doesNotMatch(s, /[\u064A\u0643]/, `fa.json "${key}": Arabic ي or ك`);
  }
});

// Texts that are rightly the same in English and another language.
const SAME_IN_MANY = new Set(['devices.cameraN', 'plan.minutes']); // "{n} min" is the usual short form in many

test('a language is not English in disguise', () => {
  for (const [lang, dict] of Object.entries(dicts)) {
    if (lang === 'en') continue;
    const same = Object.keys(en).filter((k) => typeof en[k] === 'string' && dict[k] === en[k] &&
      en[k].split(/\s+/).length > 1 && !SAME_IN_MANY.has(k));
    assert.deepEqual(same, [], `${lang}.json keeps English sentences`);
  }
});

/** The <p> elements of the <noscript> of html: [{lang, dir, text}]. */
function noscriptParagraphs(html) {
  const m = /<noscript>([\s\S]*?)<\/noscript>/.exec(html);
  if (!m) return null;
  const decode = (s) => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
  return [...m[1].matchAll(/<p\s+lang="([a-z-]+)"\s+dir="(ltr|rtl)"[^>]*>([^<]*)<\/p>/g)]
    .map((p) => ({ lang: p[1], dir: p[2], text: decode(p[3]).trim() }));
}

test('every <noscript> says its sentence in every language', () => {
  const pages = readdirSync(WEB).filter((f) => f.endsWith('.html'));
  let seen = 0;
  for (const f of pages) {
    const ps = noscriptParagraphs(read(f));
    if (!ps) continue;
    seen += 1;
    assert.deepEqual(ps.map((p) => p.lang).sort(), Object.keys(dicts).sort(), `${f}: languages of <noscript>`);
    for (const p of ps) {
      assert.equal(p.text, dicts[p.lang]['app.noscript'], `${f}: <noscript> in ${p.lang}`);
      assert.equal(p.dir, RTL.has(p.lang) ? 'rtl' : 'ltr', `${f}: <noscript> direction of ${p.lang}`);
    }
  }
  assert.ok(seen >= 3, `only ${seen} pages have a <noscript>`);
  for (const f of ['index.html', 'room.html', 'console.html']) assert.ok(noscriptParagraphs(read(f)), `${f}: no <noscript>`);
});

test('the quick exit has a neutral page in every language, with the same recipe', () => {
  const shape = (html) => ['<h1', '<h2', '<p', '<li'].map((tag) => html.split(tag).length - 1);
  const english = read('neutral.html');
  for (const tag of Object.keys(dicts)) {
    const f = tag === 'en' ? 'neutral.html' : `neutral-${tag}.html`;
    assert.ok(existsSync(path.join(WEB, f)), `web/${f} is missing`);
    const html = read(f);
    assert.match(html, new RegExp(`<html lang="${tag}"(?: dir="${RTL.has(tag) ? 'rtl' : 'ltr'}")?>`), `${f}: lang and dir`);
    if (RTL.has(tag)) assert.match(html, /dir="rtl"/, `${f}: right to left`);
    assert.deepEqual(shape(html), shape(english), `${f}: not the same recipe as neutral.html`);
    assert.doesNotMatch(html, /tandem|<script|data-quick-exit/i, `${f}: must not look like Tandem`);
    if (SCRIPT[tag]) assert.match(html.replace(/<head>[\s\S]*?<\/head>/, '').replace(/<title>.*<\/title>/, ''), SCRIPT[tag], `${f}: script`);
  }
  const qe = read('js/quickexit.mjs');
  assert.match(qe, /`\/neutral-\$\{tag\}\.html`/, 'quickexit.mjs goes to the neutral page of the language');
});
