/**
 * Painting helpers shared by the generated datasets (the beans stand-in and the fractal
 * scenes): colours from hue, saturation and lightness, and smooth value-noise textures. No I/O.
 *
 * @module
 */

import type { Rng } from "../tensor/rng.ts";

/**
 * Smooth value noise: random values on a coarse grid of `cells`×`cells`, interpolated with a
 * smoothstep, sampled at `size`×`size`. Values lie in [0, 1).
 *
 * @param rng The random source.
 * @param size Output width and height.
 * @param cells Grid cells across.
 * @returns `size * size` values, row-major.
 * @example
 * ```ts
 * import { valueNoise } from "./paint.ts";
 * import { Rng } from "../tensor/rng.ts";
 * console.log(valueNoise(new Rng(1), 8, 2).length); // 64
 * ```
 */
export function valueNoise(rng: Rng, size: number, cells: number): Float32Array {
  const g = cells + 2;
  const grid = Float32Array.from({ length: g * g }, () => rng.next());
  const out = new Float32Array(size * size);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const fx = (x / size) * cells;
      const fy = (y / size) * cells;
      const ix = Math.floor(fx);
      const iy = Math.floor(fy);
      const tx = fx - ix;
      const ty = fy - iy;
      const sx = tx * tx * (3 - 2 * tx);
      const sy = ty * ty * (3 - 2 * ty);
      const a = grid[iy * g + ix] * (1 - sx) + grid[iy * g + ix + 1] * sx;
      const b = grid[(iy + 1) * g + ix] * (1 - sx) + grid[(iy + 1) * g + ix + 1] * sx;
      out[y * size + x] = a * (1 - sy) + b * sy;
    }
  }
  return out;
}

/**
 * An RGB colour (0–255, unrounded) from a hue in degrees (any value; it wraps) and a saturation
 * and lightness in [0, 1].
 *
 * @param h Hue in degrees.
 * @param s Saturation.
 * @param l Lightness.
 * @returns Red, green and blue.
 * @example
 * ```ts
 * import { hsl } from "./paint.ts";
 * console.log(hsl(120, 1, 0.5)); // [0, 255, 0]
 * ```
 */
export function hsl(h: number, s: number, l: number): [number, number, number] {
  // ((h % 360) + 360) % 360 without the two remainders (a library call each) for the usual
  // h in [0, 360): h % 360 is h, and (h + 360) % 360 is (h + 360) - 360 exactly, unless the
  // sum rounds up to 720, where this gives 360 for 0, the same colour below.
  const hue = h >= 0 && h < 360 ? (h + 360) - 360 : ((h % 360) + 360) % 360;
  const a = s * Math.min(l, 1 - l);
  const t = hue / 30;
  return [hslChannel(0, t, l, a) * 255, hslChannel(8, t, l, a) * 255, hslChannel(4, t, l, a) * 255];
}

/** One channel of {@link hsl}: `n + t` lies in [0, 20], so `% 12` is one exact subtraction. */
function hslChannel(n: number, t: number, l: number, a: number): number {
  const x = n + t;
  const k = x < 12 ? x : x - 12;
  return l - a * Math.max(-1, Math.min(k - 3, 9 - k, 1));
}

/**
 * A square RGB background between two random colours, shaded by coarse and fine value noise: the
 * ground the pretraining scenes (fractals, contours) draw their marks on.
 *
 * @param rng The generator (two colours, then two noise fields are drawn from it).
 * @param size Side in pixels.
 * @returns `size`×`size` RGB bytes.
 * @example
 * ```ts
 * import { Rng } from "../tensor/rng.ts";
 * import { texturedBackground } from "./paint.ts";
 * console.log(texturedBackground(new Rng(1), 8).length); // 192
 * ```
 */
export function texturedBackground(rng: Rng, size: number): Uint8Array {
  const colour = () => [0, 1, 2].map(() => 20 + rng.next() * 215);
  const c0 = colour();
  const c1 = colour();
  const coarse = valueNoise(rng, size, 2 + Math.floor(rng.next() * 6));
  const fine = valueNoise(rng, size, 8 + Math.floor(rng.next() * 16));
  const data = new Uint8Array(size * size * 3);
  for (let i = 0; i < size * size; i++) {
    const t = 0.75 * coarse[i] + 0.25 * fine[i];
    for (let c = 0; c < 3; c++) data[i * 3 + c] = c0[c] + (c1[c] - c0[c]) * t;
  }
  return data;
}
