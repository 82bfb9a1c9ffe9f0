// Quick exit: one press on the "Quick exit" button, or the Shift key three times within a
// second, and the page is gone: camera and microphone stop, the call is left, what this
// browser holds for Tandem is cleared (sessionStorage and localStorage), and the page the
// server names (pages.quick_exit_url), or else a neutral page in the page's language
// (/neutral.html in English, /neutral-<lang>.html otherwise), takes this page's place in the
// tab's history, so that Back does not bring the call back. For someone whose conversation
// must not be seen by a person walking in. What the browser still shows afterwards, and what
// a person can do about it: docs/privacy.md and /safety.html.
//
// Every page imports this module; a page with a call adds what must stop with
// onQuickExit(fn). The button is any element with data-quick-exit.

import { LANGUAGES, currentLanguage } from './i18n.mjs';
import { serverMode } from './mode.mjs';

const PRESSES = 3;
const WINDOW_MS = 1000;
const hooks = new Set();
let gone = false;
// Known before anyone presses: the exit itself must not wait for the network.
let configured = '';
serverMode().then((m) => {
  configured = m.quick_exit;
});

/** The neutral page in the language `tag` (English for a tag Tandem does not speak). */
export function neutralPage(tag) {
  return tag !== 'en' && LANGUAGES.some((l) => l.tag === tag) ? `/neutral-${tag}.html` : '/neutral.html';
}

/** fn runs (synchronously, errors ignored) before the page is replaced. */
export function onQuickExit(fn) {
  hooks.add(fn);
  return () => hooks.delete(fn);
}

export function quickExit() {
  if (gone) return;
  gone = true;
  for (const fn of hooks) {
    try {
      fn();
    } catch {
      // the exit must happen whatever a hook does
    }
  }
  for (const store of ['sessionStorage', 'localStorage']) {
    try {
      const s = window[store];
      for (let i = s.length - 1; i >= 0; i -= 1) {
        const key = s.key(i);
        if (key?.startsWith('tandem.')) s.removeItem(key);
      }
    } catch {
      // storage refused: nothing held there
    }
  }
  window.location.replace(configured || neutralPage(currentLanguage()));
}

// Shift pressed three times in a row within a second. A held key repeats (ignored), and any
// other key between the presses starts the count again, so typing capitals never triggers it.
let presses = [];
function onKeyDown(ev) {
  if (ev.key !== 'Shift') {
    presses = [];
    return;
  }
  if (ev.repeat) return;
  const now = ev.timeStamp || performance.now();
  presses = presses.filter((t) => now - t < WINDOW_MS);
  presses.push(now);
  if (presses.length >= PRESSES) {
    presses = [];
    quickExit();
  }
}

function install() {
  document.addEventListener('keydown', onKeyDown, true);
  for (const button of document.querySelectorAll('[data-quick-exit]')) {
    button.addEventListener('click', quickExit);
  }
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', install, { once: true });
else install();
