#!/usr/bin/env python3
"""Generates the homework sample sheets in ../grader/samples/ (stdlib only).

Every sheet is 600x800 and follows the layout the grader expects
(fractions of page width W / height H):

  y 0.00-0.15              header: "HOMEWORK SHEET", "NAME:" + a line
  for k in 0, 1, 2:
    y 0.15+0.28k-0.20+0.28k  printed prompt "QUESTION k+1"
    y 0.20+0.28k-0.42+0.28k  answer box k, x 0.06-0.94, 3 px border

Handwriting is simulated with cursive-like loops (a trochoid along a wobbly
baseline) stamped with a soft round pen. The student's name is always
written on the header line; the grader must ignore it.

  blank.png          name only, all three boxes empty          (8-bit gray)
  partial.png        box 1 and box 3 answered, box 2 empty     (8-bit gray)
  complete.png       all three boxes answered                  (8-bit gray)
  complete-noisy.png all three answered, "photographed": gray paper, uneven
                     lighting, warm tint, sensor noise, dust, and the sheet
                     shifted a few pixels              (8-bit palette, 256 colours)

Output is deterministic (fixed seeds). Usage:
  python3 examples/homework/tools/make-samples.py [OUTDIR]
"""

import math
import os
import random
import struct
import sys
import zlib

W, H = 600, 800
HEADER = 0.15
FIRST_BOX_TOP = 0.20
BOX_HEIGHT = 0.22
PITCH = 0.28
LEFT, RIGHT = 0.06, 0.94

FONT = {
    "A": [".###.", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"],
    "E": ["#####", "#....", "#....", "####.", "#....", "#....", "#####"],
    "H": ["#...#", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"],
    "I": [".###.", "..#..", "..#..", "..#..", "..#..", "..#..", ".###."],
    "K": ["#...#", "#..#.", "#.#..", "##...", "#.#..", "#..#.", "#...#"],
    "M": ["#...#", "##.##", "#.#.#", "#.#.#", "#...#", "#...#", "#...#"],
    "N": ["#...#", "##..#", "#.#.#", "#..##", "#...#", "#...#", "#...#"],
    "O": [".###.", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."],
    "Q": [".###.", "#...#", "#...#", "#...#", "#.#.#", "#..#.", ".##.#"],
    "R": ["####.", "#...#", "#...#", "####.", "#.#..", "#..#.", "#...#"],
    "S": [".####", "#....", "#....", ".###.", "....#", "....#", "####."],
    "T": ["#####", "..#..", "..#..", "..#..", "..#..", "..#..", "..#.."],
    "U": ["#...#", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."],
    "W": ["#...#", "#...#", "#...#", "#.#.#", "#.#.#", "##.##", "#...#"],
    "1": ["..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###."],
    "2": [".###.", "#...#", "....#", "...#.", "..#..", ".#...", "#####"],
    "3": ["####.", "....#", "....#", ".###.", "....#", "....#", "####."],
    ":": [".....", "..#..", "..#..", ".....", "..#..", "..#..", "....."],
    " ": ["....."] * 7,
}


class Canvas:
    """8-bit grayscale canvas; 255 = white paper."""

    def __init__(self, w, h, value=255):
        self.w, self.h = w, h
        self.px = bytearray([value]) * (w * h)

    def darken(self, x, y, v):
        if 0 <= x < self.w and 0 <= y < self.h:
            i = y * self.w + x
            if v < self.px[i]:
                self.px[i] = v

    def rect(self, x0, y0, x1, y1, v):
        for y in range(max(0, y0), min(self.h, y1)):
            for x in range(max(0, x0), min(self.w, x1)):
                self.darken(x, y, v)

    def frame(self, x0, y0, x1, y1, t, v):
        self.rect(x0, y0, x1, y0 + t, v)
        self.rect(x0, y1 - t, x1, y1, v)
        self.rect(x0, y0, x0 + t, y1, v)
        self.rect(x1 - t, y0, x1, y1, v)

    def text(self, x, y, s, scale, v):
        for ch in s:
            glyph = FONT[ch]
            for gy, row in enumerate(glyph):
                for gx, cell in enumerate(row):
                    if cell == "#":
                        self.rect(x + gx * scale, y + gy * scale, x + (gx + 1) * scale, y + (gy + 1) * scale, v)
            x += 6 * scale

    def pen(self, cx, cy, radius, ink):
        """Soft round pen tip: full ink inside radius, fading over 1 px."""
        r1 = radius + 1.0
        for y in range(int(math.floor(cy - r1)), int(math.ceil(cy + r1)) + 1):
            for x in range(int(math.floor(cx - r1)), int(math.ceil(cx + r1)) + 1):
                d = math.hypot(x - cx, y - cy)
                if d <= radius:
                    self.darken(x, y, ink)
                elif d < r1:
                    self.darken(x, y, int(ink + (255 - ink) * (d - radius)))

    def stroke(self, points, radius, ink):
        for (x0, y0), (x1, y1) in zip(points, points[1:]):
            steps = max(1, int(math.hypot(x1 - x0, y1 - y0) / 0.6))
            for s in range(steps):
                t = s / steps
                self.pen(x0 + (x1 - x0) * t, y0 + (y1 - y0) * t, radius, ink)
        if points:
            self.pen(points[-1][0], points[-1][1], radius, ink)


def handwriting(canvas, x0, x1, baseline, rng, ink, radius=1.4):
    """Writes one line of cursive-like scribble from x0 to about x1."""
    x = x0
    end = x1 - rng.uniform(0, (x1 - x0) * 0.35)
    slant = rng.uniform(0.15, 0.35)
    drift = rng.uniform(-0.02, 0.02)
    while x < end - 30:
        word_letters = rng.randint(2, 7)
        points = []
        for _ in range(word_letters):
            w = rng.uniform(7, 12)
            kind = rng.random()
            base = baseline + drift * (x - x0)
            if kind < 0.25:
                # an "o": an ellipse drawn counter-clockwise from its top, then
                # a short connector to the next letter
                h = rng.uniform(9, 13)
                cx, cy = x + w / 2, base - h / 2
                for i in range(21):
                    th = math.pi / 2 + 2 * math.pi * i / 20
                    yy = cy - (h / 2) * math.sin(th)
                    points.append((cx + (w / 2) * math.cos(th) + slant * (base - yy), yy))
                points.append((x + w + 2 + slant * h * 0.6, base - h * 0.6))
                x += w + 2
            else:
                # a cursive loop ("e", "l") or, when tall, an ascender
                h = rng.uniform(10, 15) if kind < 0.8 else rng.uniform(19, 24)
                descender = kind > 0.93
                a = w * rng.uniform(0.22, 0.32)  # > w / (2 pi) draws a loop
                for i in range(17):
                    t = i / 16
                    yy = base - h * (1 - math.cos(2 * math.pi * t)) / 2
                    if descender and t > 0.5:
                        yy += 8 * math.sin(math.pi * (t - 0.5) * 2)
                    xx = x + w * t - a * math.sin(2 * math.pi * t) + slant * (base - yy)
                    points.append((xx, yy))
                x += w
            if x > end:
                break
        canvas.stroke(points, radius, ink)
        x += rng.uniform(10, 18)


def box_rect(k, w=W, h=H):
    top = (FIRST_BOX_TOP + PITCH * k) * h
    return round(LEFT * w), round(top), round(RIGHT * w), round(top + BOX_HEIGHT * h)


def draw_sheet(answers, seed, ink=40, print_ink=20):
    """answers[k] = number of handwritten lines in box k (0 = left empty)."""
    rng = random.Random(seed)
    c = Canvas(W, H)
    c.text(round(LEFT * W), 28, "HOMEWORK SHEET", 3, print_ink)
    c.text(round(LEFT * W), 82, "NAME:", 2, print_ink)
    c.rect(round(LEFT * W) + 66, 96, round(0.6 * W), 98, print_ink)
    handwriting(c, round(LEFT * W) + 74, round(0.58 * W), 93, rng, ink)
    for k in range(3):
        x0, y0, x1, y1 = box_rect(k)
        c.text(x0, round((HEADER + PITCH * k) * H) + 12, "QUESTION %d:" % (k + 1), 2, print_ink)
        c.frame(x0, y0, x1, y1, 3, print_ink)
        for line in range(answers[k]):
            baseline = y0 + 44 + 40 * line + rng.uniform(-3, 3)
            handwriting(c, x0 + 26 + rng.uniform(0, 8), x1 - 24, baseline, rng, ink)
    return c


def photograph(sheet, seed, shift=(5, -4)):
    """Turns a clean sheet into a "photo": gray paper, lighting that falls off
    towards the bottom right plus a vignette, blotchy sensor noise (8x8 blocks,
    JPEG-like), dust, a small offset, and a warm tint.

    Returned as (palette indices, palette): the photo is stored as a 256-colour
    palette PNG, as a quantiser such as pngquant would save it; that keeps the
    file small and exercises the decoder's palette path on a real image."""
    rng = random.Random(seed)
    sx, sy = shift
    bw = 8
    bx, by = (W + bw - 1) // bw, (H + bw - 1) // bw
    blotch = [rng.gauss(0, 3.0) for _ in range(bx * by)]
    out = bytearray(W * H)
    for y in range(H):
        for x in range(W):
            ox, oy = x - sx, y - sy
            paper = sheet.px[oy * W + ox] if 0 <= ox < W and 0 <= oy < H else 255
            cx, cy = (x // bw * bw + bw / 2) / W, (y // bw * bw + bw / 2) / H
            light = 0.88 - 0.13 * cx - 0.18 * cy - 0.18 * ((cx - 0.45) ** 2 + (cy - 0.4) ** 2)
            v = paper * light + blotch[(y // bw) * bx + x // bw]
            out[y * W + x] = max(0, min(255, int(v)))
    for _ in range(400):  # dust: single dark pixels
        i = rng.randrange(W * H)
        out[i] //= 3
    palette = bytearray()
    for v in range(256):  # warm indoor light
        palette += bytes((min(255, int(v * 1.04 + 6)), min(255, v + 2), int(v * 0.86)))
    return out, bytes(palette)


# ---- PNG writer ---------------------------------------------------------------

def _paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    if pb <= pc:
        return b
    return c


def _filter_row(ftype, row, prev, bpp):
    out = bytearray(len(row))
    for i, v in enumerate(row):
        a = row[i - bpp] if i >= bpp else 0
        b = prev[i]
        c = prev[i - bpp] if i >= bpp else 0
        if ftype == 0:
            p = 0
        elif ftype == 1:
            p = a
        elif ftype == 2:
            p = b
        elif ftype == 3:
            p = (a + b) >> 1
        else:
            p = _paeth(a, b, c)
        out[i] = (v - p) & 0xFF
    return out


def write_png(path, w, h, pixels, color_type, palette=None):
    """8-bit colour type 0 (gray), 2 (RGB) or 3 (palette); adaptive per-row
    filter (minimum sum of absolute differences, libpng's heuristic). The
    palette here is ordered by brightness, so filtering helps it too."""
    bpp = 3 if color_type == 2 else 1
    stride = w * bpp
    raw = bytearray()
    prev = bytearray(stride)
    for y in range(h):
        row = pixels[y * stride:(y + 1) * stride]
        best = None
        for ftype in range(5):
            f = _filter_row(ftype, row, prev, bpp)
            score = sum(v if v < 128 else 256 - v for v in f)
            if best is None or score < best[0]:
                best = (score, ftype, f)
        raw.append(best[1])
        raw += best[2]
        prev = row

    def chunk(ctype, data):
        body = ctype + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", w, h, 8, color_type, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
    if color_type == 3:
        png += chunk(b"PLTE", palette)
    png += chunk(b"IDAT", zlib.compress(bytes(raw), 9)) + chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(png)
    return len(png)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "grader", "samples")
    os.makedirs(outdir, exist_ok=True)
    sheets = {
        "blank.png": ([0, 0, 0], 11),
        "partial.png": ([3, 0, 1], 12),
        "complete.png": ([3, 2, 3], 13),
    }
    for name, (answers, seed) in sheets.items():
        c = draw_sheet(answers, seed)
        size = write_png(os.path.join(outdir, name), W, H, c.px, 0)
        print("%-20s %6d bytes  answers per box %s" % (name, size, answers))
    noisy = draw_sheet([2, 3, 2], 14, ink=70)
    indices, palette = photograph(noisy, 15)
    size = write_png(os.path.join(outdir, "complete-noisy.png"), W, H, indices, 3, palette)
    print("%-20s %6d bytes  answers per box %s (photographed)" % ("complete-noisy.png", size, [2, 3, 2]))


if __name__ == "__main__":
    main()
