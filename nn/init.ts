/**
 * Seeded parameter initialisation as Hugging Face's `_init_weights` does it for ViT: normal
 * values truncated to [-2, 2] (torch's `trunc_normal_` bounds are absolute) with std
 * `initializer_range`, zero biases, unit LayerNorm weights.
 *
 * @module
 */

import { Rng } from "../tensor/rng.ts";

export { Rng };

/**
 * `n` values from a normal of std `std`, redrawn until inside [lo, hi].
 *
 * @param rng The generator.
 * @param n How many.
 * @param std Standard deviation.
 * @param lo Lower bound.
 * @param hi Upper bound.
 * @returns The values.
 * @example
 * ```ts
 * import { Rng, truncNormal } from "./init.ts";
 * console.log(truncNormal(new Rng(1), 3, 0.02).length); // 3
 * ```
 */
export function truncNormal(rng: Rng, n: number, std: number, lo = -2, hi = 2): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let v = rng.normal() * std;
    while (v < lo || v > hi) v = rng.normal() * std;
    out[i] = v;
  }
  return out;
}
