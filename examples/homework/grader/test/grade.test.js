'use strict';
// Grading tests: the committed sample sheets, and synthetic pages drawn here.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { decodePng } = require('../png');
const { grade, answerRegions, inkMask, countTextLines, SHEET } = require('../grade');
const { gradePng } = require('../index');

const SAMPLES = path.join(__dirname, '..', 'samples');

test('sample sheets grade as their names say', () => {
  const expected = {
    'blank.png': { verdict: 'blank', answered: [false, false, false] },
    'partial.png': { verdict: 'partial', answered: [true, false, true] },
    'complete.png': { verdict: 'complete', answered: [true, true, true] },
    'complete-noisy.png': { verdict: 'complete', answered: [true, true, true] },
  };
  for (const [name, want] of Object.entries(expected)) {
    const r = gradePng(fs.readFileSync(path.join(SAMPLES, name)));
    assert.equal(r.verdict, want.verdict, name);
    assert.deepEqual(r.regions.map((g) => g.answered), want.answered, name);
    assert.equal(r.answeredRegions, want.answered.filter(Boolean).length, name);
    assert.equal(r.totalRegions, 3);
    assert.equal(r.width, 600);
    assert.equal(r.height, 800);
    assert.ok(r.decodeMs >= 0 && r.gradeMs >= 0);
    for (const g of r.regions) {
      if (g.answered) {
        assert.ok(g.inkCoverage > 0.01 && g.textLines >= 1, `${name} region ${g.index}: ${JSON.stringify(g)}`);
      } else {
        assert.equal(g.inkCoverage, 0, `${name} region ${g.index} should be clean`);
        assert.equal(g.textLines, 0);
      }
    }
  }
});

test('text lines per box match what make-samples.py writes', () => {
  const lines = (name) => gradePng(fs.readFileSync(path.join(SAMPLES, name))).regions.map((g) => g.textLines);
  assert.deepEqual(lines('complete.png'), [3, 2, 3]);
  assert.deepEqual(lines('partial.png'), [3, 0, 1]);
  assert.deepEqual(lines('complete-noisy.png'), [2, 3, 2]);
});

test('printed header and borders count as page ink but never as answers', () => {
  const r = gradePng(fs.readFileSync(path.join(SAMPLES, 'blank.png')));
  assert.ok(r.inkCoverage > 0.01, `the blank sheet still has printed ink (${r.inkCoverage})`);
  assert.equal(r.verdict, 'blank');
});

// ---- synthetic pages -------------------------------------------------------

function page(width, height, paper = 255) {
  return { width, height, gray: new Uint8Array(width * height).fill(paper) };
}

function fill(img, x0, y0, x1, y1, v) {
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) img.gray[y * img.width + x] = v;
}

/** Writes `lines` bars of "text" (dashes 2 px apart) inside region k. */
function scribble(img, k, lines) {
  const r = answerRegions(img.width, img.height)[k];
  for (let i = 0; i < lines; i++) {
    const y = r.y0 + 10 + i * 30;
    for (let x = r.x0 + 10; x < r.x1 - 40; x += 6) fill(img, x, y, x + 3, y + 12, 30);
  }
}

test('answer regions follow the documented layout and stay inside the boxes', () => {
  const regions = answerRegions(600, 800);
  assert.equal(regions.length, 3);
  regions.forEach((r, k) => {
    const boxTop = (SHEET.firstBoxTop + SHEET.pitch * k) * 800;
    const boxBottom = boxTop + SHEET.boxHeight * 800;
    assert.ok(r.y0 > boxTop && r.y1 < boxBottom, `region ${k} within its box`);
    assert.ok(r.x0 > SHEET.left * 600 && r.x1 < SHEET.right * 600);
    assert.ok(r.x1 - r.x0 > 400 && r.y1 - r.y0 > 100);
    if (k > 0) assert.ok(r.y0 > regions[k - 1].y1, 'regions do not overlap');
  });
});

test('verdicts on synthetic pages: blank, partial, complete', () => {
  const blank = page(600, 800);
  fill(blank, 20, 20, 580, 60, 0); // a big printed header: ignored
  assert.equal(grade(blank).verdict, 'blank');

  const partial = page(600, 800);
  scribble(partial, 1, 2);
  const p = grade(partial);
  assert.equal(p.verdict, 'partial');
  assert.deepEqual(p.regions.map((g) => g.answered), [false, true, false]);
  assert.equal(p.regions[1].textLines, 2);

  const complete = page(600, 800);
  for (let k = 0; k < 3; k++) scribble(complete, k, k + 1);
  const c = grade(complete);
  assert.equal(c.verdict, 'complete');
  assert.deepEqual(c.regions.map((g) => g.textLines), [1, 2, 3]);
});

test('a single speck or a few stray pixels are noise, not an answer', () => {
  const img = page(600, 800);
  const r = answerRegions(600, 800)[0];
  // isolated pixels (dropped as speckle) and one tiny dot (below MIN_COVERAGE)
  for (let i = 0; i < 50; i++) img.gray[(r.y0 + 3 + (i % 7) * 17) * 600 + r.x0 + 5 + i * 9] = 0;
  fill(img, r.x0 + 100, r.y0 + 50, r.x0 + 104, r.y0 + 54, 0);
  const g = grade(img);
  assert.equal(g.verdict, 'blank');
  assert.equal(g.regions[0].answered, false);
});

test('adaptive threshold: gray, unevenly lit paper is not ink, faint pencil on it is', () => {
  const img = page(600, 800);
  for (let y = 0; y < 800; y++) for (let x = 0; x < 600; x++) img.gray[y * 600 + x] = 220 - Math.floor((x + y) / 12); // 220 .. 104
  assert.equal(grade(img).verdict, 'blank', 'a lighting gradient alone is blank');
  // pencil at 45% of the local paper brightness in the darkest box
  const r = answerRegions(600, 800)[2];
  for (let y = r.y0 + 20; y < r.y0 + 32; y++) {
    for (let x = r.x0 + 10; x < r.x1 - 10; x += 5) {
      for (let dx = 0; dx < 3; dx++) img.gray[y * 600 + x + dx] = Math.floor(img.gray[y * 600 + x + dx] * 0.45);
    }
  }
  const g = grade(img);
  assert.equal(g.regions[2].answered, true);
  assert.equal(g.regions[2].textLines, 1);
  assert.equal(g.verdict, 'partial');
});

test('a filled area larger than a background tile is ink all the way through', () => {
  const img = page(600, 800);
  const r = answerRegions(600, 800)[1];
  fill(img, r.x0 + 20, r.y0 + 10, r.x0 + 120, r.y0 + 110, 20); // 100x100 px, 3x3 tiles and more
  const g = grade(img).regions[1];
  const expected = (100 * 100) / ((r.x1 - r.x0) * (r.y1 - r.y0));
  assert.ok(Math.abs(g.inkCoverage - expected) < 0.001, `coverage ${g.inkCoverage}, expected ${expected}`);
});

test('projection profile splits lines whose ascenders touch', () => {
  const width = 200, height = 80;
  const mask = new Uint8Array(width * height);
  const set = (x0, y0, x1, y1) => { for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) mask[y * width + x] = 1; };
  set(10, 10, 190, 22); // line 1 body
  set(10, 40, 190, 52); // line 2 body
  set(50, 22, 53, 40); // one thin ascender joining them
  assert.equal(countTextLines(mask, width, { x0: 0, y0: 0, x1: width, y1: height }), 2);
  set(10, 60, 190, 72);
  assert.equal(countTextLines(mask, width, { x0: 0, y0: 0, x1: width, y1: height }), 3);
  assert.equal(countTextLines(new Uint8Array(width * height), width, { x0: 0, y0: 0, x1: width, y1: height }), 0);
});

test('ink mask drops isolated pixels', () => {
  const img = page(64, 64);
  img.gray[10 * 64 + 10] = 0; // isolated
  img.gray[30 * 64 + 30] = 0; img.gray[30 * 64 + 31] = 0; // a pair survives
  const mask = inkMask(img.gray, 64, 64);
  assert.equal(mask[10 * 64 + 10], 0);
  assert.equal(mask[30 * 64 + 30], 1);
  assert.equal(mask.reduce((a, b) => a + b, 0), 2);
});

test('tiny images still grade (degenerate regions) without throwing', () => {
  const img = decodePng(require('../../tools/png-writer').encodePng({ width: 3, height: 2, colorType: 0, bitDepth: 8, samples: [[0, 0, 0], [0, 0, 0]] }));
  const r = grade(img);
  assert.equal(r.totalRegions, 3);
  assert.equal(r.verdict, 'blank');
});
