#!/usr/bin/env node
// The call graph between source files, read from the object files with nm: file A calls
// file B when A uses (U) a symbol B defines (T). Prints each file's callees and every cycle
// (strongly connected component of more than one file); exits 1 when there is one.
//   node scripts/callgraph.mjs <build-dir> [glob-ish filter, default: media|sfu|signal]
// ctest runs it on the media, SFU and media-signaling files (docs/architecture.md "Layers").
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

const [build, filterArg] = process.argv.slice(2);
if (!build) {
  console.error('usage: callgraph.mjs <build-dir> [regexp over file names]');
  process.exit(2);
}
const filter = new RegExp(filterArg || '^io/(media[^/]*|signal_media)\.c$|^sfu/');

const label = (p) => p.replace(/^.*\/server\//, '').replace(/\.c\.o$/, '.c');

function objects(dir, out = []) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = statSync(p);
    if (st.isDirectory()) objects(p, out);
    else if (name.endsWith('.c.o') && /\/server\/(io|sfu)\//.test(p) &&
             existsSync(join(root, 'server', label(p)))) out.push(p); // not a stale object
  }
  return out;
}

const files = objects(join(build, 'CMakeFiles'));
const defs = new Map(); // symbol -> file
const uses = new Map(); // file -> Set(symbol)
for (const obj of files) {
  const f = label(obj);
  const out = execFileSync('nm', ['--defined-only', '-g', obj], { encoding: 'utf8' });
  for (const line of out.split('\n')) {
    const m = line.match(/ [TDBR] (\S+)$/);
    if (m) defs.set(m[1], f);
  }
  const und = execFileSync('nm', ['-u', obj], { encoding: 'utf8' });
  uses.set(f, new Set(und.split('\n').map((l) => l.trim().split(/\s+/).pop()).filter(Boolean)));
}
const graph = new Map();
for (const [f, syms] of uses) {
  if (!filter.test(f)) continue;
  const to = new Set();
  for (const s of syms) {
    const g = defs.get(s);
    if (g && g !== f && filter.test(g)) to.add(g);
  }
  graph.set(f, to);
}

// Tarjan's strongly connected components.
let index = 0;
const idx = new Map(), low = new Map(), stack = [], on = new Set(), sccs = [];
function visit(v) {
  idx.set(v, index); low.set(v, index); index++;
  stack.push(v); on.add(v);
  for (const w of graph.get(v) || []) {
    if (!idx.has(w)) { visit(w); low.set(v, Math.min(low.get(v), low.get(w))); }
    else if (on.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)));
  }
  if (low.get(v) === idx.get(v)) {
    const c = [];
    let w;
    do { w = stack.pop(); on.delete(w); c.push(w); } while (w !== v);
    if (c.length > 1) sccs.push(c.sort());
  }
}
for (const v of [...graph.keys()].sort()) if (!idx.has(v)) visit(v);

for (const v of [...graph.keys()].sort())
  console.log(`${v} -> ${[...graph.get(v)].sort().join(', ') || '(nothing of these files)'}`);
if (sccs.length === 0) {
  console.log(`no cycle among ${graph.size} files`);
} else {
  for (const c of sccs) console.log(`CYCLE of ${c.length} files: ${c.join(' ')}`);
  process.exit(1);
}
