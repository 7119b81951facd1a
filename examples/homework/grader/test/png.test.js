'use strict';
// Decoder tests: tiny PNGs are built here with zlib and an independent
// CRC-32 (../../tools/png-writer.js), then decoded and compared pixel by pixel.

const test = require('node:test');
const assert = require('node:assert/strict');
const zlib = require('node:zlib');
const { decodePng, crc32, InvalidImage } = require('../png');
const { encodePng, rawImageData, chunk, crc32: writerCrc32 } = require('../../tools/png-writer');

// Deterministic pseudo-random numbers (no flaky tests).
function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 0x100000000;
  };
}

function randomSamples(width, height, channels, max, seed) {
  const r = rng(seed);
  return Array.from({ length: height }, () => Array.from({ length: width * channels }, () => Math.floor(r() * (max + 1))));
}

// Reference conversions, written independently of png.js.
const lum = (r, g, b) => Math.floor((r * 299 + g * 587 + b * 114 + 500) / 1000);
const overWhite = (v, a) => Math.floor((v * a + 255 * (255 - a)) / 255 + 0.5);

function expectInvalid(buf, pattern) {
  assert.throws(
    () => decodePng(buf),
    (err) => {
      assert.ok(err instanceof InvalidImage, `expected InvalidImage, got ${err && err.name}: ${err && err.message}`);
      assert.equal(err.name, 'InvalidImage');
      assert.match(err.message, pattern);
      return true;
    },
  );
}

test('crc32 matches the standard check value and zlib', () => {
  assert.equal(crc32(Buffer.from('123456789')), 0xcbf43926);
  assert.equal(writerCrc32(Buffer.from('123456789')), 0xcbf43926);
  const data = Buffer.from('IEND');
  assert.equal(crc32(data), 0xae426082); // the CRC every PNG ends with
  if (zlib.crc32) assert.equal(crc32(Buffer.from('homework')), zlib.crc32(Buffer.from('homework')));
});

test('grayscale 8-bit decodes to the same values', () => {
  const samples = randomSamples(7, 5, 1, 255, 1);
  const img = decodePng(encodePng({ width: 7, height: 5, colorType: 0, bitDepth: 8, samples }));
  assert.equal(img.width, 7);
  assert.equal(img.height, 5);
  assert.deepEqual(Array.from(img.gray), samples.flat());
});

for (const depth of [1, 2, 4]) {
  test(`grayscale ${depth}-bit (width not a multiple of 8) scales to 0..255`, () => {
    const max = (1 << depth) - 1;
    const width = 13;
    const samples = randomSamples(width, 4, 1, max, 10 + depth);
    samples[0][0] = 0;
    samples[0][1] = max;
    const img = decodePng(encodePng({ width, height: 4, colorType: 0, bitDepth: depth, samples }));
    assert.deepEqual(Array.from(img.gray), samples.flat().map((v) => Math.round((v * 255) / max)));
    assert.equal(img.gray[0], 0);
    assert.equal(img.gray[1], 255);
  });
}

test('grayscale 16-bit keeps the high byte', () => {
  const samples = [[0x0000, 0x12ff, 0x8001, 0xffff], [0x7f80, 0x00ff, 0xff00, 0x4242]];
  const img = decodePng(encodePng({ width: 4, height: 2, colorType: 0, bitDepth: 16, samples }));
  assert.deepEqual(Array.from(img.gray), [0x00, 0x12, 0x80, 0xff, 0x7f, 0x00, 0xff, 0x42]);
});

test('grayscale tRNS colour key becomes white paper (full 16-bit comparison)', () => {
  const samples = [[0x1000, 0x10ff, 0x2000]];
  const img = decodePng(encodePng({ width: 3, height: 1, colorType: 0, bitDepth: 16, samples, trns: [0x10, 0x00] }));
  assert.deepEqual(Array.from(img.gray), [255, 0x10, 0x20]);
  const img8 = decodePng(encodePng({ width: 3, height: 1, colorType: 0, bitDepth: 8, samples: [[5, 6, 7]], trns: [0, 6] }));
  assert.deepEqual(Array.from(img8.gray), [5, 255, 7]);
});

test('RGB 8-bit converts to BT.601 luminance', () => {
  const samples = [[255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255, 0, 0, 0, 12, 200, 99]];
  const img = decodePng(encodePng({ width: 6, height: 1, colorType: 2, bitDepth: 8, samples }));
  assert.deepEqual(Array.from(img.gray), [76, 150, 29, 255, 0, lum(12, 200, 99)]);
});

test('RGB 16-bit uses the high byte of each channel; tRNS key is white', () => {
  const samples = [[0xff00, 0x00ff, 0x0000, 0x1234, 0x5678, 0x9abc, 0x0101, 0x0202, 0x0303]];
  const img = decodePng(encodePng({ width: 3, height: 1, colorType: 2, bitDepth: 16, samples, trns: [0x01, 0x01, 0x02, 0x02, 0x03, 0x03] }));
  assert.deepEqual(Array.from(img.gray), [lum(0xff, 0, 0), lum(0x12, 0x56, 0x9a), 255]);
});

test('RGB 8-bit tRNS colour key is white', () => {
  const samples = [[10, 20, 30, 10, 20, 31]];
  const img = decodePng(encodePng({ width: 2, height: 1, colorType: 2, bitDepth: 8, samples, trns: [0, 10, 0, 20, 0, 30] }));
  assert.deepEqual(Array.from(img.gray), [255, lum(10, 20, 31)]);
});

for (const depth of [1, 2, 4, 8]) {
  test(`palette ${depth}-bit maps indices through PLTE`, () => {
    const entries = 1 << depth;
    const palette = Array.from({ length: Math.min(entries, 256) }, (_, i) => [(i * 37) & 255, (i * 91 + 7) & 255, (i * 13 + 200) & 255]);
    const width = 11;
    const samples = randomSamples(width, 3, 1, palette.length - 1, 20 + depth);
    const img = decodePng(encodePng({ width, height: 3, colorType: 3, bitDepth: depth, samples, palette }));
    assert.deepEqual(Array.from(img.gray), samples.flat().map((i) => lum(...palette[i])));
  });
}

test('palette tRNS alpha is composited over white', () => {
  const palette = [[0, 0, 0], [0, 0, 0], [0, 0, 0], [100, 100, 100]];
  const samples = [[0, 1, 2, 3]];
  // entry 0 transparent, 1 half transparent, 2 opaque, 3 has no tRNS entry (opaque)
  const img = decodePng(encodePng({ width: 4, height: 1, colorType: 3, bitDepth: 2, samples, palette, trns: [0, 128, 255] }));
  assert.deepEqual(Array.from(img.gray), [255, overWhite(0, 128), 0, 100]);
});

test('palette index beyond PLTE is rejected', () => {
  const png = encodePng({ width: 2, height: 1, colorType: 3, bitDepth: 8, samples: [[0, 5]], palette: [[1, 2, 3], [4, 5, 6]] });
  expectInvalid(png, /palette index 5 out of range/);
});

test('palette image without PLTE is rejected', () => {
  expectInvalid(encodePng({ width: 1, height: 1, colorType: 3, bitDepth: 8, samples: [[0]] }), /without a PLTE/);
});

test('grayscale+alpha 8-bit and 16-bit composite over white', () => {
  const img = decodePng(encodePng({ width: 3, height: 1, colorType: 4, bitDepth: 8, samples: [[0, 255, 0, 0, 40, 128]] }));
  assert.deepEqual(Array.from(img.gray), [0, 255, overWhite(40, 128)]);
  const img16 = decodePng(encodePng({ width: 2, height: 1, colorType: 4, bitDepth: 16, samples: [[0x1000, 0xffff, 0x2000, 0x80ff]] }));
  assert.deepEqual(Array.from(img16.gray), [0x10, overWhite(0x20, 0x80)]);
});

test('RGBA 8-bit and 16-bit composite over white', () => {
  const img = decodePng(encodePng({ width: 2, height: 1, colorType: 6, bitDepth: 8, samples: [[255, 0, 0, 255, 0, 0, 255, 64]] }));
  assert.deepEqual(Array.from(img.gray), [76, overWhite(29, 64)]);
  const img16 = decodePng(encodePng({ width: 1, height: 1, colorType: 6, bitDepth: 16, samples: [[0x0000, 0xff00, 0x0000, 0x00ff]] }));
  assert.deepEqual(Array.from(img16.gray), [255]); // alpha high byte 0: fully transparent
});

// Each filter on formats with different filter units (bpp): 1 byte (gray 8),
// 3 bytes (RGB 8), 8 bytes (RGBA 16) and sub-byte pixels (gray 1-bit, bpp 1).
const FILTER_FORMATS = [
  { name: 'gray8', colorType: 0, bitDepth: 8, channels: 1 },
  { name: 'rgb8', colorType: 2, bitDepth: 8, channels: 3 },
  { name: 'rgba16', colorType: 6, bitDepth: 16, channels: 4 },
  { name: 'gray1', colorType: 0, bitDepth: 1, channels: 1 },
];
const FILTER_NAMES = ['None', 'Sub', 'Up', 'Average', 'Paeth'];

for (let filter = 0; filter < 5; filter++) {
  test(`filter ${filter} (${FILTER_NAMES[filter]}) round-trips`, () => {
    // Full-range noise, plus few-valued data where Paeth's tie-breaking
    // (a before b before c) decides the result.
    const cases = FILTER_FORMATS.flatMap((f) => [{ ...f, few: false }, { ...f, few: true }]);
    for (const f of cases) {
      const width = 9, height = 6;
      const max = (1 << f.bitDepth) - 1;
      let samples = randomSamples(width, height, f.channels, f.few ? 3 : max, 100 + filter);
      if (f.few) samples = samples.map((row) => row.map((v) => Math.round((v * max) / 3)));
      const opts = { width, height, colorType: f.colorType, bitDepth: f.bitDepth, samples, filter };
      // The stream really uses this filter on every row ...
      const raw = rawImageData(opts);
      const stride = raw.length / height;
      for (let y = 0; y < height; y++) assert.equal(raw[y * stride], filter);
      // ... and decoding reproduces the same image as the unfiltered version.
      const expected = decodePng(encodePng({ ...opts, filter: 0 })).gray;
      const got = decodePng(encodePng(opts)).gray;
      assert.deepEqual(Array.from(got), Array.from(expected), `${f.name} with filter ${filter}`);
      if (f.colorType === 0 && f.bitDepth === 8) assert.deepEqual(Array.from(got), samples.flat());
    }
  });
}

test('mixed filters per row and IDAT split over several chunks', () => {
  const samples = randomSamples(10, 10, 3, 255, 7);
  const opts = { width: 10, height: 10, colorType: 2, bitDepth: 8, samples };
  const expected = samples.flat().reduce((acc, v, i, all) => (i % 3 === 0 ? acc.concat(lum(all[i], all[i + 1], all[i + 2])) : acc), []);
  const img = decodePng(encodePng({ ...opts, filter: 'cycle', idatParts: 4 }));
  assert.deepEqual(Array.from(img.gray), expected);
});

test('unknown filter type is rejected', () => {
  const raw = rawImageData({ width: 2, height: 2, colorType: 0, bitDepth: 8, samples: [[1, 2], [3, 4]] });
  raw[3] = 5; // second row's filter byte
  const png = encodePng({ width: 2, height: 2, colorType: 0, bitDepth: 8, compressed: zlib.deflateSync(raw) });
  expectInvalid(png, /unknown filter type 5 on scanline 1/);
});

test('ancillary chunks are skipped, unknown critical chunks rejected', () => {
  const base = { width: 2, height: 1, colorType: 0, bitDepth: 8, samples: [[9, 8]] };
  const ok = decodePng(encodePng({ ...base, extraChunks: [{ type: 'tEXt', data: Buffer.from('Comment\0hi') }] }));
  assert.deepEqual(Array.from(ok.gray), [9, 8]);
  expectInvalid(encodePng({ ...base, extraChunks: [{ type: 'ABCD', data: Buffer.from('x') }] }), /unknown critical chunk ABCD/);
});

test('a corrupted byte is caught by the chunk CRC', () => {
  const png = encodePng({ width: 4, height: 4, colorType: 0, bitDepth: 8, samples: randomSamples(4, 4, 1, 255, 3) });
  // Flip one bit inside the IDAT data (IHDR: 8 + 25 bytes; IDAT data starts 8 bytes later).
  const idatData = 8 + 25 + 8;
  assert.equal(png.toString('latin1', idatData - 4, idatData), 'IDAT');
  const bad = Buffer.from(png);
  bad[idatData + 2] ^= 0x01;
  expectInvalid(bad, /CRC mismatch in chunk IDAT/);
  // Same for the header.
  const badHeader = Buffer.from(png);
  badHeader[8 + 8 + 3] ^= 0x40; // width
  expectInvalid(badHeader, /CRC mismatch in chunk IHDR/);
  // The untouched file still decodes.
  assert.equal(decodePng(png).width, 4);
});

test('truncated files are rejected wherever they are cut', () => {
  const png = encodePng({ width: 16, height: 16, colorType: 0, bitDepth: 8, samples: randomSamples(16, 16, 1, 255, 4) });
  for (const cut of [8, 12, 20, 33, 40, png.length - 20, png.length - 12, png.length - 1]) {
    expectInvalid(png.subarray(0, cut), /truncated/);
  }
});

test('image data shorter than the header promises is rejected as truncated', () => {
  // Valid chunks and CRCs, but the zlib stream holds only 1 of 2 rows.
  const oneRow = rawImageData({ width: 3, height: 1, colorType: 0, bitDepth: 8, samples: [[1, 2, 3]] });
  expectInvalid(encodePng({ width: 3, height: 2, colorType: 0, bitDepth: 8, compressed: zlib.deflateSync(oneRow) }), /truncated PNG: image data has 4 bytes.*needs 8/);
  // A zlib stream cut short (CRC recomputed, so only zlib notices).
  const full = zlib.deflateSync(rawImageData({ width: 64, height: 64, colorType: 0, bitDepth: 8, samples: randomSamples(64, 64, 1, 255, 5) }));
  expectInvalid(encodePng({ width: 64, height: 64, colorType: 0, bitDepth: 8, compressed: full.subarray(0, full.length >> 1) }), /truncated PNG/);
});

test('garbage in the zlib stream is reported as corrupt', () => {
  expectInvalid(encodePng({ width: 2, height: 2, colorType: 0, bitDepth: 8, compressed: Buffer.from('definitely not zlib') }), /corrupt PNG: image data does not inflate/);
});

test('not a PNG at all', () => {
  expectInvalid(Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0x10, 0x4a, 0x46, 0x49, 0x46]), /not a PNG file/);
  expectInvalid(Buffer.from('hello world, this is text'), /not a PNG file/);
  expectInvalid(Buffer.alloc(0), /not a PNG file/);
});

test('Adam7 interlaced images are rejected with a clear message', () => {
  const png = encodePng({ width: 2, height: 2, colorType: 0, bitDepth: 8, samples: [[1, 2], [3, 4]], interlace: 1 });
  expectInvalid(png, /Adam7 interlaced images are not supported/);
});

test('invalid header combinations are rejected', () => {
  const header = (w, h, depth, type) => {
    const png = encodePng({ width: 1, height: 1, colorType: 0, bitDepth: 8, samples: [[0]] });
    const ihdr = Buffer.alloc(13);
    ihdr.writeUInt32BE(w, 0);
    ihdr.writeUInt32BE(h, 4);
    ihdr[8] = depth;
    ihdr[9] = type;
    return Buffer.concat([png.subarray(0, 8), chunk('IHDR', ihdr), png.subarray(8 + 25)]);
  };
  expectInvalid(header(1, 1, 4, 2), /bit depth 4 is not allowed for colour type 2/);
  expectInvalid(header(1, 1, 16, 3), /bit depth 16 is not allowed for colour type 3/);
  expectInvalid(header(1, 1, 8, 5), /unknown colour type 5/);
  expectInvalid(header(0, 1, 8, 0), /non-zero/);
  expectInvalid(header(100000, 100000, 8, 0), /image too large/);
});

test('first chunk must be IHDR and IDAT is required', () => {
  const sig = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  expectInvalid(Buffer.concat([sig, chunk('IEND')]), /first chunk must be IHDR/);
  const png = encodePng({ width: 1, height: 1, colorType: 0, bitDepth: 8, samples: [[0]] });
  expectInvalid(Buffer.concat([png.subarray(0, 8 + 25), chunk('IEND')]), /no IDAT/);
});
