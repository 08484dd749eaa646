/**
 * A 5×7 bitmap font (lower-case letters, digits and a little punctuation; upper case is drawn
 * as lower case), drawn with a 1-pixel shadow so labels read on any background.
 *
 * @module
 */

import type { RgbImage } from "./image.ts";

// Each glyph: 7 rows, 5 bits each (MSB left).
const GLYPHS: Record<string, number[]> = {
  a: [0, 0, 14, 1, 15, 17, 15],
  b: [16, 16, 22, 25, 17, 17, 30],
  c: [0, 0, 14, 16, 16, 17, 14],
  d: [1, 1, 13, 19, 17, 17, 15],
  e: [0, 0, 14, 17, 31, 16, 14],
  f: [6, 9, 8, 28, 8, 8, 8],
  g: [0, 15, 17, 17, 15, 1, 14],
  h: [16, 16, 22, 25, 17, 17, 17],
  i: [4, 0, 12, 4, 4, 4, 14],
  j: [2, 0, 6, 2, 2, 18, 12],
  k: [16, 16, 18, 20, 24, 20, 18],
  l: [12, 4, 4, 4, 4, 4, 14],
  m: [0, 0, 26, 21, 21, 17, 17],
  n: [0, 0, 22, 25, 17, 17, 17],
  o: [0, 0, 14, 17, 17, 17, 14],
  p: [0, 0, 30, 17, 30, 16, 16],
  q: [0, 0, 13, 19, 15, 1, 1],
  r: [0, 0, 22, 25, 16, 16, 16],
  s: [0, 0, 14, 16, 14, 1, 30],
  t: [8, 8, 28, 8, 8, 9, 6],
  u: [0, 0, 17, 17, 17, 19, 13],
  v: [0, 0, 17, 17, 17, 10, 4],
  w: [0, 0, 17, 17, 21, 21, 10],
  x: [0, 0, 17, 10, 4, 10, 17],
  y: [0, 0, 17, 17, 15, 1, 14],
  z: [0, 0, 31, 2, 4, 8, 31],
  "0": [14, 17, 19, 21, 25, 17, 14],
  "1": [4, 12, 4, 4, 4, 4, 14],
  "2": [14, 17, 1, 2, 4, 8, 31],
  "3": [31, 2, 4, 2, 1, 17, 14],
  "4": [2, 6, 10, 18, 31, 2, 2],
  "5": [31, 16, 30, 1, 1, 17, 14],
  "6": [6, 8, 16, 30, 17, 17, 14],
  "7": [31, 1, 2, 4, 8, 8, 8],
  "8": [14, 17, 17, 14, 17, 17, 14],
  "9": [14, 17, 17, 15, 1, 2, 12],
  "_": [0, 0, 0, 0, 0, 0, 31],
  "-": [0, 0, 0, 31, 0, 0, 0],
  ".": [0, 0, 0, 0, 0, 12, 12],
  ":": [0, 12, 12, 0, 12, 12, 0],
  "%": [24, 25, 2, 4, 8, 19, 3],
  " ": [0, 0, 0, 0, 0, 0, 0],
  "?": [14, 17, 1, 2, 4, 0, 4],
  "/": [1, 1, 2, 4, 8, 16, 16],
  "(": [2, 4, 8, 8, 8, 4, 2],
  ")": [8, 4, 2, 2, 2, 4, 8],
  ",": [0, 0, 0, 0, 12, 4, 8],
};

/** Width in pixels of `text` drawn at `scale`. */
export function textWidth(text: string, scale = 2): number {
  return text.length * 6 * scale;
}

/**
 * Draws `text` onto `image` with its top-left corner at (x, y), in `color`, with a dark shadow.
 *
 * @param image Drawn on in place.
 * @param text The text (unknown characters draw as '?').
 * @param x Left edge.
 * @param y Top edge.
 * @param color RGB.
 * @param scale Pixel size of one font dot.
 * @example
 * ```ts
 * import { drawText } from "./font.ts";
 * const img = { width: 40, height: 10, data: new Uint8Array(1200) };
 * drawText(img, "hi", 1, 1, [255, 255, 255], 1);
 * ```
 */
export function drawText(
  image: RgbImage,
  text: string,
  x: number,
  y: number,
  color: [number, number, number],
  scale = 2,
): void {
  const plot = (px: number, py: number, c: [number, number, number]) => {
    if (px < 0 || py < 0 || px >= image.width || py >= image.height) return;
    const i = (py * image.width + px) * 3;
    image.data[i] = c[0];
    image.data[i + 1] = c[1];
    image.data[i + 2] = c[2];
  };
  for (const [shadow, c] of [[1, [0, 0, 0]], [0, color]] as const) {
    [...text.toLowerCase()].forEach((ch, k) => {
      const rows = GLYPHS[ch] ?? GLYPHS["?"];
      rows.forEach((bits, row) => {
        for (let col = 0; col < 5; col++) {
          if (!(bits & (16 >> col))) continue;
          for (let dy = 0; dy < scale; dy++) {
            for (let dx = 0; dx < scale; dx++) {
              plot(
                x + (k * 6 + col) * scale + dx + shadow,
                y + row * scale + dy + shadow,
                c as [number, number, number],
              );
            }
          }
        }
      });
    });
  }
}
