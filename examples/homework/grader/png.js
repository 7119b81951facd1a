'use strict';
// A small, strict PNG decoder (Node built-ins only) that turns an image into
// 8-bit grayscale luminance, which is all the grader needs.
//
// Supported: colour types 0 (gray), 2 (RGB), 3 (palette), 4 (gray+alpha),
// 6 (RGBA); bit depth 8 for all of them, 1/2/4 for gray and palette, 16 for
// gray/RGB/gray+alpha/RGBA (the high byte of each sample is used). PLTE, tRNS
// (optional transparency), all five scanline filters (None, Sub, Up, Average,
// Paeth), IDAT chunks concatenated and inflated with zlib. Every chunk's CRC is
// checked. Adam7 interlaced images are rejected.
//
// Transparent pixels are composited over white paper, and luminance is
// ITU-R BT.601: Y = 0.299 R + 0.587 G + 0.114 B.

const zlib = require('node:zlib');

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

// Sanity limits so a hostile header cannot make us allocate gigabytes.
const MAX_DIMENSION = 16384;
const MAX_PIXELS = 24 * 1024 * 1024;

/** Thrown for anything that is not a well-formed PNG we can decode. */
class InvalidImage extends Error {
  constructor(message) {
    super(message);
    this.name = 'InvalidImage';
  }
}

// ---- CRC-32 (ISO 3309 / ITU-T V.42, as used by PNG and zlib) --------------
const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function crc32(buf, start = 0, end = buf.length) {
  let c = 0xffffffff;
  for (let i = start; i < end; i++) c = CRC_TABLE[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

// colour type -> { channels, allowed bit depths, name }
const COLOR_TYPES = {
  0: { channels: 1, depths: [1, 2, 4, 8, 16], name: 'grayscale' },
  2: { channels: 3, depths: [8, 16], name: 'RGB' },
  3: { channels: 1, depths: [1, 2, 4, 8], name: 'palette' },
  4: { channels: 2, depths: [8, 16], name: 'grayscale+alpha' },
  6: { channels: 4, depths: [8, 16], name: 'RGBA' },
};

/** Splits a PNG file into its chunks, verifying signature, lengths and CRCs. */
function readChunks(buf) {
  if (!Buffer.isBuffer(buf)) buf = Buffer.from(buf);
  if (buf.length < SIGNATURE.length || !buf.subarray(0, 8).equals(SIGNATURE)) {
    throw new InvalidImage('not a PNG file (bad signature)');
  }
  const chunks = [];
  let pos = 8;
  for (;;) {
    if (pos + 8 > buf.length) {
      throw new InvalidImage(`truncated PNG: file ends at byte ${buf.length} before the IEND chunk`);
    }
    const length = buf.readUInt32BE(pos);
    const type = buf.toString('latin1', pos + 4, pos + 8);
    if (!/^[A-Za-z]{4}$/.test(type)) {
      throw new InvalidImage(`corrupt PNG: invalid chunk type at byte ${pos + 4}`);
    }
    if (length > 0x7fffffff) throw new InvalidImage(`corrupt PNG: chunk ${type} has an invalid length`);
    const dataStart = pos + 8;
    const dataEnd = dataStart + length;
    if (dataEnd + 4 > buf.length) {
      throw new InvalidImage(`truncated PNG: chunk ${type} at byte ${pos} needs ${length} data bytes + CRC but the file ends at byte ${buf.length}`);
    }
    const stored = buf.readUInt32BE(dataEnd);
    const actual = crc32(buf, pos + 4, dataEnd);
    if (stored !== actual) {
      throw new InvalidImage(`corrupt PNG: CRC mismatch in chunk ${type} at byte ${pos} (stored 0x${stored.toString(16).padStart(8, '0')}, computed 0x${actual.toString(16).padStart(8, '0')})`);
    }
    chunks.push({ type, data: buf.subarray(dataStart, dataEnd), offset: pos });
    pos = dataEnd + 4;
    if (type === 'IEND') break;
  }
  return chunks;
}

function parseHeader(data) {
  if (data.length !== 13) throw new InvalidImage(`corrupt PNG: IHDR must be 13 bytes (got ${data.length})`);
  const h = {
    width: data.readUInt32BE(0),
    height: data.readUInt32BE(4),
    bitDepth: data[8],
    colorType: data[9],
    compression: data[10],
    filter: data[11],
    interlace: data[12],
  };
  if (h.width === 0 || h.height === 0) throw new InvalidImage('invalid PNG: width and height must be non-zero');
  if (h.width > MAX_DIMENSION || h.height > MAX_DIMENSION || h.width * h.height > MAX_PIXELS) {
    throw new InvalidImage(`image too large: ${h.width}x${h.height} (limit ${MAX_DIMENSION} per side, ${MAX_PIXELS} pixels)`);
  }
  const ct = COLOR_TYPES[h.colorType];
  if (!ct) throw new InvalidImage(`invalid PNG: unknown colour type ${h.colorType}`);
  if (!ct.depths.includes(h.bitDepth)) {
    throw new InvalidImage(`invalid PNG: bit depth ${h.bitDepth} is not allowed for colour type ${h.colorType} (${ct.name})`);
  }
  if (h.compression !== 0) throw new InvalidImage(`invalid PNG: unknown compression method ${h.compression}`);
  if (h.filter !== 0) throw new InvalidImage(`invalid PNG: unknown filter method ${h.filter}`);
  if (h.interlace === 1) {
    throw new InvalidImage('unsupported PNG: Adam7 interlaced images are not supported; re-save the image without interlacing');
  }
  if (h.interlace !== 0) throw new InvalidImage(`invalid PNG: unknown interlace method ${h.interlace}`);
  h.channels = ct.channels;
  h.bitsPerPixel = ct.channels * h.bitDepth;
  h.bytesPerPixel = Math.max(1, h.bitsPerPixel >> 3); // filter unit ("bpp" in the spec)
  h.stride = Math.ceil((h.width * h.bitsPerPixel) / 8); // bytes per scanline, without the filter byte
  return h;
}

function paeth(a, b, c) {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  if (pa <= pb && pa <= pc) return a;
  if (pb <= pc) return b;
  return c;
}

/**
 * Reverses the per-scanline filters in place-ish: returns a buffer of
 * height*stride unfiltered bytes.
 */
function unfilter(raw, h) {
  const { height, stride, bytesPerPixel: bpp } = h;
  const out = Buffer.alloc(height * stride);
  let prev = null; // previous unfiltered row (null = row of zeros)
  for (let y = 0; y < height; y++) {
    const inStart = y * (stride + 1);
    const filter = raw[inStart];
    const line = raw.subarray(inStart + 1, inStart + 1 + stride);
    const cur = out.subarray(y * stride, (y + 1) * stride);
    switch (filter) {
      case 0: // None
        line.copy(cur);
        break;
      case 1: // Sub
        for (let i = 0; i < stride; i++) {
          const left = i >= bpp ? cur[i - bpp] : 0;
          cur[i] = (line[i] + left) & 0xff;
        }
        break;
      case 2: // Up
        for (let i = 0; i < stride; i++) cur[i] = (line[i] + (prev ? prev[i] : 0)) & 0xff;
        break;
      case 3: // Average
        for (let i = 0; i < stride; i++) {
          const left = i >= bpp ? cur[i - bpp] : 0;
          const up = prev ? prev[i] : 0;
          cur[i] = (line[i] + ((left + up) >> 1)) & 0xff;
        }
        break;
      case 4: // Paeth
        for (let i = 0; i < stride; i++) {
          const left = i >= bpp ? cur[i - bpp] : 0;
          const up = prev ? prev[i] : 0;
          const upLeft = prev && i >= bpp ? prev[i - bpp] : 0;
          cur[i] = (line[i] + paeth(left, up, upLeft)) & 0xff;
        }
        break;
      default:
        throw new InvalidImage(`corrupt PNG: unknown filter type ${filter} on scanline ${y}`);
    }
    prev = cur;
  }
  return out;
}

// Rec. 601 luma in fixed point; inputs 0..255.
function luma(r, g, b) {
  return (r * 299 + g * 587 + b * 114 + 500) / 1000 | 0;
}

// Composite value v (0..255) with alpha a (0..255) over white.
function overWhite(v, a) {
  return ((v * a + 255 * (255 - a)) / 255 + 0.5) | 0;
}

/**
 * Converts unfiltered scanlines to one luminance byte per pixel.
 * Sub-byte samples are scaled to 0..255 (v * 255 / (2^depth - 1)); 16-bit
 * samples keep their high byte (tRNS is compared on the full 16-bit value).
 */
function toLuminance(data, h, palette, trns) {
  const { width, height, stride, bitDepth, colorType } = h;
  const gray = new Uint8Array(width * height);
  const maxSample = (1 << bitDepth) - 1;

  // Palette -> luminance lookup (with tRNS alpha, composited over white).
  let paletteLum = null;
  if (colorType === 3) {
    paletteLum = new Uint8Array(256);
    const entries = palette.length / 3;
    for (let i = 0; i < entries; i++) {
      const y = luma(palette[3 * i], palette[3 * i + 1], palette[3 * i + 2]);
      const a = trns && i < trns.length ? trns[i] : 255;
      paletteLum[i] = overWhite(y, a);
    }
  }

  for (let y = 0; y < height; y++) {
    const row = y * stride;
    const o = y * width;
    if (bitDepth < 8) {
      // Gray or palette, 1/2/4 bits, packed MSB first.
      const perByte = 8 / bitDepth;
      const transparentGray = colorType === 0 && trns ? trns.readUInt16BE(0) : -1;
      for (let x = 0; x < width; x++) {
        const byte = data[row + ((x / perByte) | 0)];
        const shift = 8 - bitDepth * ((x % perByte) + 1);
        const v = (byte >> shift) & maxSample;
        if (colorType === 3) {
          if (v * 3 >= palette.length) {
            throw new InvalidImage(`corrupt PNG: palette index ${v} out of range (palette has ${palette.length / 3} entries)`);
          }
          gray[o + x] = paletteLum[v];
        } else {
          gray[o + x] = v === transparentGray ? 255 : Math.round((v * 255) / maxSample);
        }
      }
      continue;
    }

    const bytesPerSample = bitDepth >> 3; // 1 or 2
    const pixelBytes = h.channels * bytesPerSample;
    for (let x = 0; x < width; x++) {
      const p = row + x * pixelBytes;
      switch (colorType) {
        case 0: {
          if (trns) {
            const full = bytesPerSample === 2 ? data.readUInt16BE(p) : data[p];
            if (full === trns.readUInt16BE(0)) { gray[o + x] = 255; break; }
          }
          gray[o + x] = data[p];
          break;
        }
        case 2: {
          const s = bytesPerSample;
          if (trns) {
            const r16 = s === 2 ? data.readUInt16BE(p) : data[p];
            const g16 = s === 2 ? data.readUInt16BE(p + 2) : data[p + 1];
            const b16 = s === 2 ? data.readUInt16BE(p + 4) : data[p + 2];
            if (r16 === trns.readUInt16BE(0) && g16 === trns.readUInt16BE(2) && b16 === trns.readUInt16BE(4)) {
              gray[o + x] = 255;
              break;
            }
          }
          gray[o + x] = luma(data[p], data[p + s], data[p + 2 * s]);
          break;
        }
        case 3: {
          const v = data[p];
          if (v * 3 >= palette.length) {
            throw new InvalidImage(`corrupt PNG: palette index ${v} out of range (palette has ${palette.length / 3} entries)`);
          }
          gray[o + x] = paletteLum[v];
          break;
        }
        case 4: {
          const s = bytesPerSample;
          gray[o + x] = overWhite(data[p], data[p + s]);
          break;
        }
        case 6: {
          const s = bytesPerSample;
          gray[o + x] = overWhite(luma(data[p], data[p + s], data[p + 2 * s]), data[p + 3 * s]);
          break;
        }
      }
    }
  }
  return gray;
}

/**
 * Decodes a PNG (Buffer/Uint8Array) into
 * { width, height, bitDepth, colorType, gray: Uint8Array(width*height) }.
 * Throws InvalidImage for anything malformed or unsupported.
 */
function decodePng(input) {
  const chunks = readChunks(input);
  if (chunks[0].type !== 'IHDR') throw new InvalidImage('invalid PNG: the first chunk must be IHDR');
  const h = parseHeader(chunks[0].data);

  let palette = null;
  let trns = null;
  const idat = [];
  let sawIdat = false;
  let idatEnded = false;
  for (const chunk of chunks.slice(1)) {
    switch (chunk.type) {
      case 'IHDR':
        throw new InvalidImage('invalid PNG: more than one IHDR chunk');
      case 'PLTE':
        if (sawIdat) throw new InvalidImage('invalid PNG: PLTE after IDAT');
        if (chunk.data.length === 0 || chunk.data.length % 3 !== 0 || chunk.data.length > 768) {
          throw new InvalidImage(`invalid PNG: PLTE length ${chunk.data.length} is not a multiple of 3 between 3 and 768`);
        }
        palette = chunk.data;
        break;
      case 'tRNS':
        if (h.colorType === 0 && chunk.data.length !== 2) throw new InvalidImage('invalid PNG: tRNS for grayscale must be 2 bytes');
        if (h.colorType === 2 && chunk.data.length !== 6) throw new InvalidImage('invalid PNG: tRNS for RGB must be 6 bytes');
        if (h.colorType === 4 || h.colorType === 6) throw new InvalidImage('invalid PNG: tRNS is not allowed with an alpha channel');
        trns = chunk.data;
        break;
      case 'IDAT':
        if (idatEnded) throw new InvalidImage('invalid PNG: IDAT chunks must be consecutive');
        sawIdat = true;
        idat.push(chunk.data);
        break;
      case 'IEND':
        break;
      default: {
        // Unknown ancillary chunks (lowercase first letter) are skipped;
        // unknown critical chunks mean we cannot render the image correctly.
        const critical = (chunk.type.charCodeAt(0) & 0x20) === 0;
        if (critical) throw new InvalidImage(`unsupported PNG: unknown critical chunk ${chunk.type}`);
      }
    }
    if (chunk.type !== 'IDAT' && sawIdat) idatEnded = true;
  }
  if (h.colorType === 3 && !palette) throw new InvalidImage('invalid PNG: palette image without a PLTE chunk');
  if (!sawIdat) throw new InvalidImage('invalid PNG: no IDAT chunk (no image data)');

  const expected = h.height * (h.stride + 1);
  let raw;
  try {
    raw = zlib.inflateSync(Buffer.concat(idat), { maxOutputLength: expected + 1 });
  } catch (err) {
    if (err && err.code === 'ERR_BUFFER_TOO_LARGE') {
      throw new InvalidImage(`corrupt PNG: image data inflates to more than the ${expected} bytes a ${h.width}x${h.height} image needs`);
    }
    const detail = err && err.message ? err.message : String(err);
    if (/unexpected end/i.test(detail)) {
      throw new InvalidImage(`truncated PNG: compressed image data ends early (${detail})`);
    }
    throw new InvalidImage(`corrupt PNG: image data does not inflate (${detail})`);
  }
  if (raw.length < expected) {
    throw new InvalidImage(`truncated PNG: image data has ${raw.length} bytes, a ${h.width}x${h.height} image needs ${expected}`);
  }

  const data = unfilter(raw, h);
  const gray = toLuminance(data, h, palette, trns);
  return { width: h.width, height: h.height, bitDepth: h.bitDepth, colorType: h.colorType, gray };
}

module.exports = { decodePng, readChunks, crc32, paeth, InvalidImage, SIGNATURE };
