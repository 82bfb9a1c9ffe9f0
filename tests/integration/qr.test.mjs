// web/js/qr.mjs, checked in node: the byte capacities of level M for versions 1-10 are the
// standard's, and every symbol it makes (each version, each mask, the longest text that
// fits) reads back with an independent decoder (jsQR) as the text it was made from.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import jsQR from 'jsqr';
import { encodeQr, versionFor, reedSolomon } from '../../web/js/qr.mjs';

/** The matrix as an RGBA image: `scale` pixels a module, four modules of quiet zone. */
function image({ size, modules }, scale = 4) {
  const side = (size + 8) * scale;
  const px = new Uint8ClampedArray(side * side * 4).fill(255);
  for (let r = 0; r < size; r++) {
    for (let c = 0; c < size; c++) {
      if (!modules[r][c]) continue;
      for (let y = 0; y < scale; y++) {
        for (let x = 0; x < scale; x++) {
          const o = (((r + 4) * scale + y) * side + (c + 4) * scale + x) * 4;
          px[o] = px[o + 1] = px[o + 2] = 0;
        }
      }
    }
  }
  return { px, side };
}

function decode(sym) {
  const { px, side } = image(sym);
  return jsQR(px, side, side, { inversionAttempts: 'dontInvert' });
}

const CAPACITY_M = [14, 26, 42, 62, 84, 106, 122, 152, 180, 213]; // bytes, versions 1..10

test('level M byte capacities, versions 1 to 10', () => {
  CAPACITY_M.forEach((cap, i) => {
    assert.equal(versionFor(cap), i + 1, `${cap} bytes`);
    assert.equal(versionFor(cap + 1), i === 9 ? 0 : i + 2, `${cap + 1} bytes`);
  });
  assert.throws(() => encodeQr('x'.repeat(214)), RangeError);
});

test('Reed-Solomon: the known codewords of the standard\'s example (1-M "01234567")', () => {
  // ISO/IEC 18004 Annex I: the 16 data codewords of "01234567" in version 1-M and their 10
  // error correction codewords.
  const data = [0x10, 0x20, 0x0c, 0x56, 0x61, 0x80, 0xec, 0x11, 0xec, 0x11, 0xec, 0x11, 0xec, 0x11, 0xec, 0x11];
  assert.deepEqual(reedSolomon(data, 10), [0xa5, 0x24, 0xd4, 0xc1, 0xed, 0x36, 0xc7, 0x87, 0x2c, 0x55]);
});

test('every version and every mask decodes to the text', () => {
  const link = 'https://tandem.example:8443/r/k3Jd9s-aQ2xY7_pLm0nB4w#t=';
  for (const cap of CAPACITY_M) {
    for (const len of [cap, Math.max(1, cap - 5)]) {
      let text = link;
      while (text.length < len) text += 'AbC-_09xYz'[text.length % 10];
      text = text.slice(0, len);
      const sym = encodeQr(text);
      assert.equal(sym.size, 17 + 4 * versionFor(len));
      const got = decode(sym);
      assert.ok(got, `version ${sym.version} (${len} bytes, mask ${sym.mask}) did not decode`);
      assert.equal(got.data, text);
      assert.equal(got.version, sym.version);
    }
  }
  for (const text of ['https://x.example/r/abc#t=123', 'Tandem ✓ é ش'.repeat(5), 'x'.repeat(200)]) {
    for (let mask = 0; mask < 8; mask++) {
      const sym = encodeQr(text, { mask });
      assert.equal(sym.mask, mask);
      assert.equal(decode(sym)?.data, text, `mask ${mask}, version ${sym.version}`);
    }
  }
});
