/**
 * The blog's `show_examples`: a grid with one row per class, each image resized to a cell and
 * labelled with its class name.
 *
 * @module
 */

import { drawText, textWidth } from "./font.ts";
import type { RgbImage } from "./image.ts";
import { resize } from "./resize.ts";

/**
 * Lays out rows of images as one picture.
 *
 * @param rows One entry per class: its name and its example images.
 * @param cell Width and height of each cell.
 * @returns The grid.
 * @example
 * ```ts
 * import { makeGrid } from "./grid.ts";
 * const img = { width: 2, height: 2, data: new Uint8Array(12).fill(90) };
 * const grid = makeGrid([{ label: "healthy", images: [img, img] }], 64);
 * console.log(grid.width, grid.height); // 128 64
 * ```
 */
export function makeGrid(rows: { label: string; images: RgbImage[] }[], cell = 200): RgbImage {
  const columns = Math.max(1, ...rows.map((r) => r.images.length));
  const width = columns * cell;
  const height = rows.length * cell;
  const out: RgbImage = { width, height, data: new Uint8Array(width * height * 3) };
  rows.forEach((row, r) => {
    const fit = Math.floor((cell - 8) / textWidth(row.label, 1));
    const scale = Math.max(1, Math.min(Math.round(cell / 120), fit));
    row.images.forEach((img, c) => {
      const tile = resize(img, cell, cell, "bilinear");
      for (let y = 0; y < cell; y++) {
        const from = y * cell * 3;
        out.data.set(
          tile.data.subarray(from, from + cell * 3),
          ((r * cell + y) * width + c * cell) * 3,
        );
      }
      drawText(out, row.label, c * cell + 4, r * cell + 4, [255, 255, 255], scale);
    });
  });
  return out;
}
