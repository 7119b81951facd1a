'use strict';
// A minimal PNG encoder for the grader's unit tests (Node built-ins only).
// Independent of grader/png.js on purpose: its own CRC-32, its own filters,
// so a bug in the decoder cannot cancel out a bug in the encoder.
//
//   encodePng({ width, height, colorType, bitDepth, samples, filter, palette,
//               trns, idatParts, interlace, extraChunks })
//
// samples: array of row arrays; each row holds width*channels sample values
// (0..2^bitDepth-1), or palette indices for colour type 3.
// filter: 0..4 for every row, an array (one per row), or 'cycle' (y % 5).

const zlib = require('node:zlib');

const CHANNELS = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

let table = null;
function crc32(buf) {
  if (!table) {
    table = [];
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? (0xedb88320 ^ (c >>> 1)) >>> 0 : c >>> 1;
      table.push(c >>> 0);
    }
  }
  let c = 0xffffffff;
  for (const b of buf) c = (table[(c ^ b) & 0xff] ^ (c >>> 8)) >>> 0;
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type, data = Buffer.alloc(0)) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

/** Packs one row of samples into bytes (MSB first for sub-byte depths). */
function packRow(values, bitDepth) {
  if (bitDepth === 8) return Buffer.from(values);
  if (bitDepth === 16) {
    const out = Buffer.alloc(values.length * 2);
    values.forEach((v, i) => out.writeUInt16BE(v, i * 2));
    return out;
  }
  const out = Buffer.alloc(Math.ceil((values.length * bitDepth) / 8));
  values.forEach((v, i) => {
    const bit = i * bitDepth;
    out[bit >> 3] |= v << (8 - bitDepth - (bit & 7));
  });
  return out;
}

function paeth(a, b, c) {
  const p = a + b - c;
  const pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

function filterRow(type, row, prev, bpp) {
  const out = Buffer.alloc(row.length);
  for (let i = 0; i < row.length; i++) {
    const a = i >= bpp ? row[i - bpp] : 0;
    const b = prev[i];
    const c = i >= bpp ? prev[i - bpp] : 0;
    const pred = [0, a, b, (a + b) >> 1, paeth(a, b, c)][type];
    out[i] = (row[i] - pred) & 0xff;
  }
  return out;
}

/** Raw (filtered, uncompressed) image data: filter byte + row bytes per row. */
function rawImageData({ width, height, colorType, bitDepth, samples, filter = 0 }) {
  const bitsPerPixel = CHANNELS[colorType] * bitDepth;
  const bpp = Math.max(1, bitsPerPixel >> 3);
  const stride = Math.ceil((width * bitsPerPixel) / 8);
  const parts = [];
  let prev = Buffer.alloc(stride);
  for (let y = 0; y < height; y++) {
    const row = packRow(samples[y], bitDepth);
    if (row.length !== stride) throw new Error(`row ${y}: ${row.length} bytes, expected ${stride}`);
    const type = filter === 'cycle' ? y % 5 : Array.isArray(filter) ? filter[y] : filter;
    parts.push(Buffer.from([type]), filterRow(type, row, prev, bpp));
    prev = row;
  }
  return Buffer.concat(parts);
}

function ihdr(width, height, bitDepth, colorType, interlace = 0) {
  const d = Buffer.alloc(13);
  d.writeUInt32BE(width, 0);
  d.writeUInt32BE(height, 4);
  d[8] = bitDepth;
  d[9] = colorType;
  d[10] = 0;
  d[11] = 0;
  d[12] = interlace;
  return d;
}

function encodePng(opts) {
  const { width, height, colorType, bitDepth, palette, trns, idatParts = 1, interlace = 0, extraChunks = [] } = opts;
  const compressed = opts.compressed || zlib.deflateSync(rawImageData(opts));
  const chunks = [Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr(width, height, bitDepth, colorType, interlace))];
  for (const c of extraChunks) chunks.push(chunk(c.type, c.data));
  if (palette) chunks.push(chunk('PLTE', Buffer.from(palette.flat())));
  if (trns) chunks.push(chunk('tRNS', Buffer.from(trns)));
  const size = Math.ceil(compressed.length / idatParts);
  for (let i = 0; i < idatParts; i++) chunks.push(chunk('IDAT', compressed.subarray(i * size, (i + 1) * size)));
  chunks.push(chunk('IEND'));
  return Buffer.concat(chunks);
}

module.exports = { encodePng, rawImageData, packRow, chunk, crc32, CHANNELS };
