// Translations. Every visible string lives in /i18n/<lang>.json: a flat object of
// "namespace.key": "text" pairs, where a text may be {"one": ..., "other": ...} for counts
// (categories of Intl.PluralRules) and may hold {placeholders}.
// Elements opt in with data-i18n="key" (sets textContent) and
// data-i18n-attr="aria-label:key;title:key" (sets attributes).

/** The languages Tandem speaks, by their own names (a name of a language is not translated). */
export const LANGUAGES = [
  { tag: 'en', name: 'English', dir: 'ltr' },
  { tag: 'nl', name: 'Nederlands', dir: 'ltr' },
  { tag: 'fr', name: 'Français', dir: 'ltr' },
  { tag: 'es', name: 'Español', dir: 'ltr' },
  { tag: 'sq', name: 'Shqip', dir: 'ltr' },
  { tag: 'ro', name: 'Română', dir: 'ltr' },
  { tag: 'vi', name: 'Tiếng Việt', dir: 'ltr' },
  { tag: 'ti', name: 'ትግርኛ', dir: 'ltr' },
  { tag: 'ar', name: 'العربية', dir: 'rtl' },
  { tag: 'fa', name: 'فارسی', dir: 'rtl' },
];

const FALLBACK = 'en';
// sessionStorage: the choice follows the person from page to page in this tab and is gone
// when the tab closes. The room page may also keep it in localStorage, but only when the
// person asked to be remembered on this device.
const SESSION_KEY = 'tandem.lang';
export const REMEMBERED_LANG_KEY = 'tandem.remembered.lang';

let current = FALLBACK;
let strings = {};
let fallbackStrings = {};
let plural = new Intl.PluralRules(FALLBACK);
let numbers = new Intl.NumberFormat(FALLBACK);
const listeners = new Set();
const cache = new Map();
let switches = 0; // a quicker second choice of language wins over a slow first one
// The browser's first language when Tandem does not speak it and nobody chose one in this
// tab: the page then says which languages exist (mountLanguagePicker).
let unspokenWish = null;
// The English written in the HTML, kept for the case where no translation file arrives.
const htmlText = new Map();

/** localStorage or sessionStorage, or null where the browser refuses storage. */
export function storage(kind) {
  try {
    const s = window[kind];
    s.getItem('x');
    return s;
  } catch {
    return null;
  }
}

/** True when Tandem speaks the language of the BCP 47 tag (or of its primary subtag). */
function spoken(tag) {
  return LANGUAGES.some((l) => l.tag === tag.toLowerCase().split('-')[0]);
}

/** The first supported language among the wishes (BCP 47 tags), else English. */
export function pickLanguage(wishes) {
  for (const wish of wishes) {
    if (typeof wish !== 'string' || !wish) continue;
    const tag = wish.toLowerCase();
    const exact = LANGUAGES.find((l) => l.tag === tag);
    if (exact) return exact.tag;
    const primary = LANGUAGES.find((l) => l.tag === tag.split('-')[0]);
    if (primary) return primary.tag;
  }
  return FALLBACK;
}

async function load(tag) {
  if (!cache.has(tag)) {
    const p = fetch(`/i18n/${tag}.json`, { credentials: 'same-origin' }).then((res) => {
      if (!res.ok) throw new Error(`i18n ${tag}: HTTP ${res.status}`);
      return res.json();
    });
    cache.set(tag, p);
    p.catch(() => cache.delete(tag)); // a weak connection may succeed next time
  }
  return cache.get(tag);
}

export function currentLanguage() {
  return current;
}

export function languageDir(tag = current) {
  return (LANGUAGES.find((l) => l.tag === tag) || LANGUAGES[0]).dir;
}

/** Chooses the language (saved choice, then the browser's wishes) and translates the page. */
export async function initI18n() {
  for (const el of document.querySelectorAll('[data-i18n]')) {
    htmlText.set(el.dataset.i18n, el.textContent.trim());
  }
  const saved = storage('sessionStorage')?.getItem(SESSION_KEY) ||
    storage('localStorage')?.getItem(REMEMBERED_LANG_KEY);
  const browser = [...(navigator.languages || []), navigator.language].filter((w) => typeof w === 'string' && w);
  if (!saved && browser.length && !spoken(browser[0])) unspokenWish = browser[0];
  await setLanguage(pickLanguage([saved, ...browser]), { save: false });
}

/** Switches the page to `tag` (one of LANGUAGES), then tells every listener. */
export async function setLanguage(tag, { save = true } = {}) {
  const lang = LANGUAGES.find((l) => l.tag === tag) || LANGUAGES[0];
  const mine = ++switches;
  const [main, fallback] = await Promise.all([
    load(lang.tag).catch(() => null),
    lang.tag === FALLBACK ? null : load(FALLBACK).catch(() => null),
  ]);
  if (mine !== switches) return current;
  if (!main) {
    // A weak connection: a language the person picked stays as it was (the picker goes
    // back); at start, English. If even English did not come, the English written in
    // the HTML stays.
    if (save) {
      for (const fn of listeners) fn(current);
      return current;
    }
    if (lang.tag !== FALLBACK) return setLanguage(FALLBACK, { save: false });
    for (const fn of listeners) fn(current);
    return current;
  }
  strings = main;
  fallbackStrings = fallback || {};
  current = lang.tag;
  plural = new Intl.PluralRules(current);
  numbers = new Intl.NumberFormat(current);
  const html = document.documentElement;
  html.lang = current;
  html.dir = lang.dir;
  if (save) {
    storage('sessionStorage')?.setItem(SESSION_KEY, current);
    const local = storage('localStorage');
    if (local?.getItem(REMEMBERED_LANG_KEY)) local.setItem(REMEMBERED_LANG_KEY, current);
  }
  applyTranslations(document);
  for (const fn of listeners) fn(current);
  return current;
}

/** Calls fn(tag) after every change of language. */
export function onLanguageChange(fn) {
  listeners.add(fn);
}

/** Wraps text from people (names) in Unicode isolates, so that an Arabic name inside an
 *  English sentence (or the reverse) keeps the sentence in order (UAX #9, FSI..PDI). */
export function isolate(text) {
  return `\u2068${text}\u2069`;
}

export function formatNumber(n) {
  return numbers.format(n);
}

/** The text for `key`, with {placeholders} filled from params; params.count picks the
 *  plural form. Falls back to English, then to the key itself. */
export function t(key, params = {}) {
  let text = Object.hasOwn(strings, key) ? strings[key] : fallbackStrings[key];
  if (text === undefined) text = htmlText.get(key) ?? key;
  if (typeof text === 'object' && text !== null) {
    const form = typeof params.count === 'number' ? plural.select(params.count) : 'other';
    text = text[form] ?? text.other;
  }
  return String(text).replace(/\{(\w+)\}/g, (whole, name) => {
    if (!Object.hasOwn(params, name)) return whole;
    const v = params[name];
    return typeof v === 'number' ? formatNumber(v) : String(v);
  });
}

/** Translates every element under root that carries data-i18n or data-i18n-attr. */
export function applyTranslations(root) {
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-attr]')) {
    for (const pair of el.dataset.i18nAttr.split(';')) {
      const [attr, key] = pair.split(':').map((s) => s.trim());
      if (attr && key) el.setAttribute(attr, t(key));
    }
  }
}

/** A button that names a language in itself. */
function languageButton(l) {
  const b = document.createElement('button');
  b.type = 'button';
  b.className = 'button';
  b.lang = l.tag;
  b.dir = l.dir;
  b.textContent = l.name;
  return b;
}

/** When the browser's language is not one of Tandem's: a notice under the page's head that
 *  names every language in itself, one button each. A choice (or closing the notice) is kept
 *  for the tab, so that the next page does not ask again. */
function mountLanguageNotice(header, select) {
  if (!unspokenWish || !header || document.getElementById('lang-notice')) return;
  const notice = document.createElement('section');
  notice.id = 'lang-notice';
  notice.className = 'lang-notice';
  notice.setAttribute('aria-labelledby', 'lang-notice-text');
  const text = document.createElement('p');
  text.id = 'lang-notice-text';
  text.dataset.i18n = 'lang.missing';
  text.textContent = t('lang.missing');
  const list = document.createElement('ul');
  list.className = 'lang-choices';
  list.setAttribute('role', 'list');
  const close = document.createElement('button');
  close.type = 'button';
  close.className = 'button close-panel';
  close.dataset.i18nAttr = 'aria-label:lang.close;title:lang.close';
  close.setAttribute('aria-label', t('lang.close'));
  close.title = t('lang.close');
  close.textContent = '\u00d7';
  const done = async (tag) => {
    unspokenWish = null;
    notice.remove();
    select.focus(); // the focus stays near where it was, on the language picker
    await setLanguage(tag);
  };
  for (const l of LANGUAGES) {
    const li = document.createElement('li');
    const b = languageButton(l);
    b.addEventListener('click', () => done(l.tag));
    li.append(b);
    list.append(li);
  }
  close.addEventListener('click', () => done(current));
  notice.append(close, text, list);
  header.after(notice);
}

/** Fills a <select> with the languages and switches language when it changes; where the
 *  browser's language is not one of them, says so and offers them all. */
export function mountLanguagePicker(select) {
  mountLanguageNotice(select.closest('header'), select);
  select.replaceChildren(...LANGUAGES.map((l) => {
    const option = document.createElement('option');
    option.value = l.tag;
    option.lang = l.tag;
    option.dir = l.dir;
    option.textContent = l.name;
    return option;
  }));
  select.value = current;
  select.addEventListener('change', () => {
    unspokenWish = null;
    document.getElementById('lang-notice')?.remove();
    setLanguage(select.value);
  });
  onLanguageChange((tag) => {
    select.value = tag;
  });
}
