// What this server tells every page about itself (GET /mode.json, docs/architecture.md):
// {"rooms": "open" | "closed", "quick_exit": "" | address}. Fetched once per page.

let pending = null;

/** The server's mode; {rooms: 'closed', quick_exit: ''} when it cannot be read. */
export function serverMode() {
  pending ??= fetch('/mode.json', { credentials: 'same-origin', cache: 'no-store' })
    .then((res) => (res.ok ? res.json() : {}))
    .catch(() => ({}))
    .then((m) => ({
      rooms: m?.rooms === 'open' ? 'open' : 'closed',
      quick_exit: typeof m?.quick_exit === 'string' ? m.quick_exit : '',
    }));
  return pending;
}
