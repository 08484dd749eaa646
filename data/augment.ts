/**
 * Training augmentation, off by default as in the blog: torchvision's RandomResizedCrop
 * (area 8–100 %, aspect 3/4–4/3, ten tries then a centre crop) and a horizontal flip, both
 * drawn from a per-sample seed so that workers and resumed runs see the same crops.
 *
 * @module
 */

import { Rng } from "../tensor/rng.ts";
import type { RgbImage } from "./image.ts";

/** Which augmentations to apply. */
export interface AugmentOptions {
  /** RandomResizedCrop's area range (fractions of the image). */
  scale?: [number, number];
  /** RandomResizedCrop's aspect-ratio range. */
  ratio?: [number, number];
  /** Whether to crop at all. */
  randomResizedCrop?: boolean;
  /** Probability of a horizontal flip. */
  flipProbability?: number;
}

/** Crops `image` to the rectangle at (left, top) of size w × h. */
export function crop(image: RgbImage, left: number, top: number, w: number, h: number): RgbImage {
  const out = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    const from = ((top + y) * image.width + left) * 3;
    out.set(image.data.subarray(from, from + w * 3), y * w * 3);
  }
  return { width: w, height: h, data: out };
}

/** Mirrors `image` left to right. */
export function flipHorizontal(image: RgbImage): RgbImage {
  const { width, height, data } = image;
  const out = new Uint8Array(data.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const s = (y * width + x) * 3;
      const d = (y * width + (width - 1 - x)) * 3;
      out[d] = data[s];
      out[d + 1] = data[s + 1];
      out[d + 2] = data[s + 2];
    }
  }
  return { width, height, data: out };
}

/** The crop rectangle torchvision's RandomResizedCrop would pick with this generator. */
export function randomResizedCropBox(
  width: number,
  height: number,
  rng: Rng,
  scale: [number, number] = [0.08, 1],
  ratio: [number, number] = [3 / 4, 4 / 3],
): { left: number; top: number; w: number; h: number } {
  const area = width * height;
  const [lr0, lr1] = [Math.log(ratio[0]), Math.log(ratio[1])];
  for (let attempt = 0; attempt < 10; attempt++) {
    const target = area * (scale[0] + (scale[1] - scale[0]) * rng.next());
    const aspect = Math.exp(lr0 + (lr1 - lr0) * rng.next());
    const w = Math.round(Math.sqrt(target * aspect));
    const h = Math.round(Math.sqrt(target / aspect));
    if (w > 0 && h > 0 && w <= width && h <= height) {
      const top = Math.floor(rng.next() * (height - h + 1));
      const left = Math.floor(rng.next() * (width - w + 1));
      return { left, top, w, h };
    }
  }
  const inRatio = width / height;
  let w = width;
  let h = height;
  if (inRatio < ratio[0]) h = Math.round(w / ratio[0]);
  else if (inRatio > ratio[1]) w = Math.round(h * ratio[1]);
  return { left: Math.floor((width - w) / 2), top: Math.floor((height - h) / 2), w, h };
}

/**
 * Applies the augmentations with a generator seeded by `seed`.
 *
 * @param image The decoded image.
 * @param seed Per-sample seed (mix the run seed, epoch and index).
 * @param options Which augmentations.
 * @returns The augmented image (the processor resizes it afterwards).
 * @example
 * ```ts
 * import { augment } from "./augment.ts";
 * const img = { width: 4, height: 4, data: new Uint8Array(48) };
 * console.log(augment(img, 1, { flipProbability: 1 }).width); // 4
 * ```
 */
export function augment(image: RgbImage, seed: number, options: AugmentOptions): RgbImage {
  const rng = new Rng(seed);
  let out = image;
  if (options.randomResizedCrop ?? true) {
    const box = randomResizedCropBox(image.width, image.height, rng, options.scale, options.ratio);
    out = crop(out, box.left, box.top, box.w, box.h);
  }
  if (rng.next() < (options.flipProbability ?? 0.5)) out = flipHorizontal(out);
  return out;
}

/**
 * Mixes a run seed, an epoch and a sample index into one 32-bit seed. The seed is mixed before
 * the epoch joins it, so that no run's epoch meets another run's.
 */
export function sampleSeed(seed: number, epoch: number, index: number): number {
  let h = Math.imul((seed ^ 0x9e3779b9) >>> 0, 0x27d4eb2f) >>> 0;
  h = (h ^ (h >>> 15)) >>> 0;
  h = Math.imul(h ^ epoch, 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ index, 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}
