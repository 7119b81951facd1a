'use strict';
// Grades a homework sheet from its grayscale luminance.
//
// Sheet layout (fractions of the page width W and height H; see README.md and
// tools/make-samples.py, which draws exactly this):
//
//   y 0.00-0.15  header: title, "NAME:" line            (ignored)
//   for k = 0, 1, 2:
//     y 0.15+0.28k - 0.20+0.28k   printed question prompt (ignored)
//     y 0.20+0.28k - 0.42+0.28k   answer box k, x 0.06-0.94, drawn with a border
//
// Only the interior of each answer box is graded, inset by 2.5% of the page
// size on every side so the printed border (and a few pixels of misalignment
// in a photo) never counts as an answer.
//
// Ink detection: adaptive threshold against the local page background. The
// page is cut into 32x32 tiles; a tile's background is the 90th percentile of
// its luminance (paper is the brightest thing on a sheet, and a tile is mostly
// paper even where someone wrote); each tile then takes the maximum of its
// 3x3 tile neighbourhood so a tile full of ink still sees paper. A pixel is
// ink when it is darker than INK_RATIO (60%) of its local background. This
// copes with photos: gray paper, uneven lighting, sensor noise. Isolated ink
// pixels (no inked 8-neighbour) are dropped as speckle.
//
// Text lines: horizontal projection profile of the region's ink mask (see
// countTextLines): bands of inked rows, each split again at 25% of its own
// peak so touching ascenders/descenders do not merge two lines.
//
// A region is answered when its ink coverage is at least MIN_COVERAGE (0.3%)
// and it has at least one text line. Verdict: no answered region -> "blank",
// all answered -> "complete", otherwise "partial".

const SHEET = Object.freeze({
  regions: 3,
  firstBoxTop: 0.20, // top of box 0
  boxHeight: 0.22,
  pitch: 0.28, // distance between the tops of consecutive boxes
  left: 0.06,
  right: 0.94,
  inset: 0.025,
});

const TILE = 32;
const BACKGROUND_PERCENTILE = 0.9;
const INK_RATIO = 0.6;
const MIN_COVERAGE = 0.003;
const LINE_GAP = 3;
const MIN_LINE_HEIGHT = 5;
const SPLIT_RATIO = 0.25;

/** Rectangles (pixel coordinates, end-exclusive) of the graded answer areas. */
function answerRegions(width, height, sheet = SHEET) {
  const regions = [];
  const dx = Math.round(sheet.inset * width);
  const dy = Math.round(sheet.inset * height);
  for (let k = 0; k < sheet.regions; k++) {
    const top = (sheet.firstBoxTop + sheet.pitch * k) * height;
    const x0 = Math.round(sheet.left * width) + dx;
    const x1 = Math.round(sheet.right * width) - dx;
    const y0 = Math.round(top) + dy;
    const y1 = Math.round(top + sheet.boxHeight * height) - dy;
    regions.push({
      index: k,
      x0: clamp(x0, 0, width),
      x1: clamp(Math.max(x0, x1), 0, width),
      y0: clamp(y0, 0, height),
      y1: clamp(Math.max(y0, y1), 0, height),
    });
  }
  return regions;
}

function clamp(v, lo, hi) {
  return v < lo ? lo : v > hi ? hi : v;
}

/** Per-tile background luminance (see header comment). */
function backgroundTiles(gray, width, height) {
  const tx = Math.ceil(width / TILE);
  const ty = Math.ceil(height / TILE);
  const raw = new Uint8Array(tx * ty);
  const hist = new Uint32Array(256);
  for (let j = 0; j < ty; j++) {
    for (let i = 0; i < tx; i++) {
      hist.fill(0);
      const x0 = i * TILE, x1 = Math.min(width, x0 + TILE);
      const y0 = j * TILE, y1 = Math.min(height, y0 + TILE);
      for (let y = y0; y < y1; y++) {
        const row = y * width;
        for (let x = x0; x < x1; x++) hist[gray[row + x]]++;
      }
      const n = (x1 - x0) * (y1 - y0);
      const target = Math.ceil(n * BACKGROUND_PERCENTILE);
      let acc = 0, v = 0;
      for (; v < 255; v++) {
        acc += hist[v];
        if (acc >= target) break;
      }
      raw[j * tx + i] = v;
    }
  }
  const bg = new Uint8Array(tx * ty);
  for (let j = 0; j < ty; j++) {
    for (let i = 0; i < tx; i++) {
      let m = 0;
      for (let b = Math.max(0, j - 1); b <= Math.min(ty - 1, j + 1); b++) {
        for (let a = Math.max(0, i - 1); a <= Math.min(tx - 1, i + 1); a++) {
          if (raw[b * tx + a] > m) m = raw[b * tx + a];
        }
      }
      bg[j * tx + i] = m;
    }
  }
  return { bg, tx };
}

/** Ink mask (1 = ink) after the adaptive threshold and speckle removal. */
function inkMask(gray, width, height) {
  const { bg, tx } = backgroundTiles(gray, width, height);
  const mask = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    const tileRow = ((y / TILE) | 0) * tx;
    for (let x = 0; x < width; x++) {
      const limit = bg[tileRow + ((x / TILE) | 0)] * INK_RATIO;
      if (gray[row + x] < limit) mask[row + x] = 1;
    }
  }
  // Drop isolated pixels (dust, sensor noise).
  const clean = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      if (!mask[i]) continue;
      let neighbour = false;
      for (let dy = -1; dy <= 1 && !neighbour; dy++) {
        const yy = y + dy;
        if (yy < 0 || yy >= height) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const xx = x + dx;
          if ((dx || dy) && xx >= 0 && xx < width && mask[yy * width + xx]) { neighbour = true; break; }
        }
      }
      if (neighbour) clean[i] = 1;
    }
  }
  return clean;
}

/**
 * Counts text lines in a region with a horizontal projection profile: the
 * number of ink pixels in each row. Two passes:
 *  1. bands: runs of rows with at least max(3, 0.5% of the width) ink pixels,
 *     gaps of up to LINE_GAP rows bridged;
 *  2. inside each band, rows with at least SPLIT_RATIO (25%) of that band's
 *     peak count, so lines whose ascenders and descenders touch still split
 *     at the thin rows between their bodies.
 * A (sub-)band at least MIN_LINE_HEIGHT rows tall is a text line.
 */
function countTextLines(mask, width, r) {
  const w = r.x1 - r.x0;
  if (w <= 0 || r.y1 <= r.y0) return 0;
  const profile = new Uint32Array(r.y1 - r.y0);
  for (let y = r.y0; y < r.y1; y++) {
    let count = 0;
    const row = y * width;
    for (let x = r.x0; x < r.x1; x++) count += mask[row + x];
    profile[y - r.y0] = count;
  }
  const minRowInk = Math.max(3, Math.ceil(w * 0.005));
  let lines = 0;
  for (const [start, end] of bands(profile, 0, profile.length, minRowInk)) {
    let peak = 0;
    for (let i = start; i < end; i++) if (profile[i] > peak) peak = profile[i];
    const threshold = Math.max(minRowInk, Math.ceil(peak * SPLIT_RATIO));
    lines += bands(profile, start, end, threshold).length;
  }
  return lines;
}

/** [start, end) row ranges of profile[from..to) at or above threshold, at least MIN_LINE_HEIGHT tall. */
function bands(profile, from, to, threshold) {
  const out = [];
  let start = -1;
  let last = -1;
  const close = () => {
    if (start >= 0 && last - start + 1 >= MIN_LINE_HEIGHT) out.push([start, last + 1]);
    start = -1;
  };
  for (let i = from; i < to; i++) {
    if (profile[i] < threshold) continue;
    if (start >= 0 && i - last > LINE_GAP + 1) close();
    if (start < 0) start = i;
    last = i;
  }
  close();
  return out;
}

function round4(v) {
  return Math.round(v * 10000) / 10000;
}

/**
 * Grades an image { width, height, gray }.
 * Returns { verdict, inkCoverage, regions: [{index, inkCoverage, answered, textLines}],
 *           answeredRegions, totalRegions, width, height }.
 */
function grade(image) {
  const { width, height, gray } = image;
  const mask = inkMask(gray, width, height);
  let total = 0;
  for (let i = 0; i < mask.length; i++) total += mask[i];

  const regions = answerRegions(width, height).map((r) => {
    let ink = 0;
    for (let y = r.y0; y < r.y1; y++) {
      const row = y * width;
      for (let x = r.x0; x < r.x1; x++) ink += mask[row + x];
    }
    const area = (r.x1 - r.x0) * (r.y1 - r.y0);
    const coverage = area > 0 ? ink / area : 0;
    const textLines = countTextLines(mask, width, r);
    return {
      index: r.index,
      inkCoverage: round4(coverage),
      answered: coverage >= MIN_COVERAGE && textLines >= 1,
      textLines,
    };
  });
  const answeredRegions = regions.filter((r) => r.answered).length;
  const verdict = answeredRegions === 0 ? 'blank' : answeredRegions === regions.length ? 'complete' : 'partial';
  return {
    verdict,
    inkCoverage: round4(total / (width * height)),
    regions,
    answeredRegions,
    totalRegions: regions.length,
    width,
    height,
  };
}

module.exports = { grade, answerRegions, inkMask, countTextLines, SHEET, MIN_COVERAGE, INK_RATIO };
