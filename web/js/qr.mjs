// A small QR code encoder (ISO/IEC 18004): byte mode, error correction level M, versions 1
// to 10 (up to 213 bytes: enough for a Tandem link). Drawn in the page, so that a link handed
// over in person needs no outside service. encodeQr gives the module matrix; drawQr paints
// it on a canvas with the quiet zone around it.

/* Error correction M: per version, [ec codewords per block, [blocks, data codewords]...]. */
const BLOCKS_M = [
  null,
  [10, [1, 16]],
  [16, [1, 28]],
  [26, [1, 44]],
  [18, [2, 32]],
  [24, [2, 43]],
  [16, [4, 27]],
  [18, [4, 31]],
  [22, [2, 38], [2, 39]],
  [22, [3, 36], [2, 37]],
  [26, [4, 43], [1, 44]],
];
const ALIGN = [null, [], [6, 18], [6, 22], [6, 26], [6, 30], [6, 34], [6, 22, 38], [6, 24, 42],
  [6, 26, 46], [6, 28, 50]];
export const MAX_VERSION = 10;

/* ---- GF(256) with the polynomial x^8 + x^4 + x^3 + x^2 + 1, and Reed-Solomon ---- */
const EXP = new Uint8Array(512);
const LOG = new Uint8Array(256);
{
  let x = 1;
  for (let i = 0; i < 255; i++) {
    EXP[i] = x;
    LOG[x] = i;
    x <<= 1;
    if (x & 0x100) x ^= 0x11d;
  }
  for (let i = 255; i < 512; i++) EXP[i] = EXP[i - 255];
}
const mul = (a, b) => (a && b ? EXP[LOG[a] + LOG[b]] : 0);

/** The generator polynomial of degree n (coefficients, highest first, leading 1 left out). */
function generator(n) {
  let g = [1];
  for (let i = 0; i < n; i++) {
    const next = new Array(g.length + 1).fill(0);
    for (let j = 0; j < g.length; j++) {
      next[j] ^= g[j];
      next[j + 1] ^= mul(g[j], EXP[i]);
    }
    g = next;
  }
  return g.slice(1);
}

/** The n error correction codewords of data. */
export function reedSolomon(data, n) {
  const g = generator(n);
  const rem = new Array(n).fill(0);
  for (const d of data) {
    const factor = d ^ rem.shift();
    rem.push(0);
    for (let i = 0; i < n; i++) rem[i] ^= mul(g[i], factor);
  }
  return rem;
}

function dataCapacity(version) {
  const [, ...groups] = BLOCKS_M[version];
  return groups.reduce((sum, [blocks, len]) => sum + blocks * len, 0);
}

/** The smallest version whose byte mode holds n bytes, or 0. */
export function versionFor(n) {
  for (let v = 1; v <= MAX_VERSION; v++) {
    const countBits = v < 10 ? 8 : 16;
    if (4 + countBits + 8 * n <= 8 * dataCapacity(v)) return v;
  }
  return 0;
}

/** Mode, count, bytes, terminator and padding, split into blocks with their error
 *  correction, interleaved: the codeword sequence of the symbol. */
function codewords(bytes, version) {
  const cap = dataCapacity(version);
  const bits = [];
  const put = (value, n) => {
    for (let i = n - 1; i >= 0; i--) bits.push((value >>> i) & 1);
  };
  put(0b0100, 4);
  put(bytes.length, version < 10 ? 8 : 16);
  for (const b of bytes) put(b, 8);
  put(0, Math.min(4, cap * 8 - bits.length));
  while (bits.length % 8) bits.push(0);
  const data = [];
  for (let i = 0; i < bits.length; i += 8) data.push(bits.slice(i, i + 8).reduce((a, b) => (a << 1) | b, 0));
  for (let pad = 0xec; data.length < cap; pad ^= 0xec ^ 0x11) data.push(pad);
  const [ecLen, ...groups] = BLOCKS_M[version];
  const blocks = [];
  let at = 0;
  for (const [count, len] of groups) {
    for (let i = 0; i < count; i++) {
      const d = data.slice(at, at + len);
      at += len;
      blocks.push({ d, e: reedSolomon(d, ecLen) });
    }
  }
  const out = [];
  const longest = Math.max(...blocks.map((b) => b.d.length));
  for (let i = 0; i < longest; i++) for (const b of blocks) if (i < b.d.length) out.push(b.d[i]);
  for (let i = 0; i < ecLen; i++) for (const b of blocks) out.push(b.e[i]);
  return out;
}

const MASKS = [
  (r, c) => (r + c) % 2 === 0,
  (r) => r % 2 === 0,
  (r, c) => c % 3 === 0,
  (r, c) => (r + c) % 3 === 0,
  (r, c) => (Math.floor(r / 2) + Math.floor(c / 3)) % 2 === 0,
  (r, c) => ((r * c) % 2) + ((r * c) % 3) === 0,
  (r, c) => (((r * c) % 2) + ((r * c) % 3)) % 2 === 0,
  (r, c) => (((r + c) % 2) + ((r * c) % 3)) % 2 === 0,
];

/** A BCH remainder: value (already shifted) modulo poly of the given degree. */
function bch(value, poly, degree) {
  let v = value;
  for (let i = 31 - Math.clz32(v); i >= degree; i--) if ((v >>> i) & 1) v ^= poly << (i - degree);
  return v;
}

class Symbol {
  constructor(version) {
    this.version = version;
    this.size = 17 + 4 * version;
    this.dark = Array.from({ length: this.size }, () => new Array(this.size).fill(false));
    this.fixed = Array.from({ length: this.size }, () => new Array(this.size).fill(false));
  }

  set(r, c, dark) {
    this.dark[r][c] = dark;
    this.fixed[r][c] = true;
  }

  finder(r0, c0) {
    for (let dr = -1; dr <= 7; dr++) {
      for (let dc = -1; dc <= 7; dc++) {
        const r = r0 + dr;
        const c = c0 + dc;
        if (r < 0 || c < 0 || r >= this.size || c >= this.size) continue;
        const ring = Math.max(Math.abs(dr - 3), Math.abs(dc - 3));
        this.set(r, c, ring !== 2 && ring !== 4); // 4: the light separator
      }
    }
  }

  functionPatterns() {
    const n = this.size;
    this.finder(0, 0);
    this.finder(0, n - 7);
    this.finder(n - 7, 0);
    for (let i = 8; i < n - 8; i++) {
      this.set(6, i, i % 2 === 0);
      this.set(i, 6, i % 2 === 0);
    }
    const pos = ALIGN[this.version];
    const last = pos.length - 1;
    for (const [i, r] of pos.entries()) {
      for (const [j, c] of pos.entries()) {
        if ((i === 0 && (j === 0 || j === last)) || (i === last && j === 0)) continue; // finders
        for (let dr = -2; dr <= 2; dr++) {
          for (let dc = -2; dc <= 2; dc++) this.set(r + dr, c + dc, Math.max(Math.abs(dr), Math.abs(dc)) !== 1);
        }
      }
    }
    this.format(0); // reserves the format areas (written again with the chosen mask)
    if (this.version >= 7) {
      const bits = (this.version << 12) | bch(this.version << 12, 0x1f25, 12);
      for (let i = 0; i < 18; i++) {
        const dark = ((bits >>> i) & 1) === 1;
        const a = n - 11 + (i % 3);
        const b = Math.floor(i / 3);
        this.set(a, b, dark);
        this.set(b, a, dark);
      }
    }
  }

  /** Format information for level M (bits 00) and mask, both copies, and the dark module. */
  format(mask) {
    const n = this.size;
    const data = (0b00 << 3) | mask;
    const bits = ((data << 10) | bch(data << 10, 0x537, 10)) ^ 0x5412;
    const bit = (i) => ((bits >>> i) & 1) === 1;
    for (let i = 0; i <= 5; i++) this.set(i, 8, bit(i));
    this.set(7, 8, bit(6));
    this.set(8, 8, bit(7));
    this.set(8, 7, bit(8));
    for (let i = 9; i < 15; i++) this.set(8, 14 - i, bit(i));
    for (let i = 0; i < 8; i++) this.set(8, n - 1 - i, bit(i));
    for (let i = 8; i < 15; i++) this.set(n - 15 + i, 8, bit(i));
    this.set(n - 8, 8, true);
  }

  /** The codewords in the two-column zigzag from the bottom right, skipping column 6. */
  place(cw) {
    const n = this.size;
    let i = 0;
    for (let right = n - 1; right >= 1; right -= 2) {
      if (right === 6) right = 5;
      for (let k = 0; k < n; k++) {
        const upward = ((right + 1) & 2) === 0;
        const r = upward ? n - 1 - k : k;
        for (let j = 0; j < 2; j++) {
          const c = right - j;
          if (this.fixed[r][c]) continue;
          this.dark[r][c] = i < cw.length * 8 && ((cw[i >>> 3] >>> (7 - (i & 7))) & 1) === 1;
          i++;
        }
      }
    }
  }

  applyMask(mask) {
    const f = MASKS[mask];
    for (let r = 0; r < this.size; r++) {
      for (let c = 0; c < this.size; c++) if (!this.fixed[r][c] && f(r, c)) this.dark[r][c] = !this.dark[r][c];
    }
  }

  /** The penalty score of the standard's four rules (lower reads better). */
  penalty() {
    const n = this.size;
    const m = this.dark;
    let score = 0;
    const lines = [];
    for (let r = 0; r < n; r++) lines.push(m[r]);
    for (let c = 0; c < n; c++) lines.push(m.map((row) => row[c]));
    const finderLike = [true, false, true, true, true, false, true];
    for (const line of lines) {
      let run = 1;
      for (let i = 1; i <= n; i++) {
        if (i < n && line[i] === line[i - 1]) {
          run++;
        } else {
          if (run >= 5) score += 3 + (run - 5);
          run = 1;
        }
      }
      for (let i = 0; i + 7 <= n; i++) {
        if (!finderLike.every((v, k) => line[i + k] === v)) continue;
        const lightBefore = [1, 2, 3, 4].every((k) => i - k < 0 || !line[i - k]);
        const lightAfter = [0, 1, 2, 3].every((k) => i + 7 + k >= n || !line[i + 7 + k]);
        if (lightBefore || lightAfter) score += 40;
      }
    }
    let darkCount = 0;
    for (let r = 0; r < n; r++) {
      for (let c = 0; c < n; c++) {
        if (m[r][c]) darkCount++;
        if (r + 1 < n && c + 1 < n && m[r][c] === m[r][c + 1] && m[r][c] === m[r + 1][c] &&
            m[r][c] === m[r + 1][c + 1]) score += 3;
      }
    }
    score += 10 * Math.floor(Math.abs(darkCount * 20 - n * n * 10) / (n * n));
    return score;
  }
}

/** The module matrix (rows of booleans, true = dark) of text as UTF-8 in byte mode, level M.
 *  mask: 0..7 to force one (tests), else the one with the lowest penalty. Throws RangeError
 *  when the text does not fit in version 10. */
export function encodeQr(text, { mask = -1 } = {}) {
  const bytes = new TextEncoder().encode(text);
  const version = versionFor(bytes.length);
  if (!version) throw new RangeError(`too long for a QR code of version ${MAX_VERSION}: ${bytes.length} bytes`);
  const cw = codewords(bytes, version);
  const build = (k) => {
    const s = new Symbol(version);
    s.functionPatterns();
    s.place(cw);
    s.applyMask(k);
    s.format(k);
    return s;
  };
  let best = null;
  for (let k = 0; k < 8; k++) {
    if (mask >= 0 && k !== mask) continue;
    const s = build(k);
    const p = s.penalty();
    if (!best || p < best.p) best = { s, p, k };
  }
  return { version, mask: best.k, size: best.s.size, modules: best.s.dark };
}

/** Paints text's QR code on canvas: dark on white, four light modules of quiet zone. */
export function drawQr(canvas, text) {
  const { size, modules } = encodeQr(text);
  const quiet = 4;
  const scale = Math.max(1, Math.floor(canvas.width / (size + 2 * quiet)));
  const side = scale * (size + 2 * quiet);
  canvas.width = side;
  canvas.height = side;
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, side, side);
  ctx.fillStyle = '#000';
  for (let r = 0; r < size; r++) {
    for (let c = 0; c < size; c++) if (modules[r][c]) ctx.fillRect((c + quiet) * scale, (r + quiet) * scale, scale, scale);
  }
}
