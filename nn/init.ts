/**
 * Seeded parameter initialisation as Hugging Face's `_init_weights` does it for ViT: normal
 * values truncated to [-2, 2] (torch's `trunc_normal_` bounds are absolute) with std
 * `initializer_range`, zero biases, unit LayerNorm weights.
 *
 * @module
 */

/** A seeded generator of uniform values in [0, 1) (mulberry32). */
export class Rng {
  #state: number;

  /**
   * Creates a generator.
   *
   * @param seed Any integer.
   */
  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** The next value in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** A standard normal value (Box–Muller). */
  normal(): number {
    let u = this.next();
    while (u === 0) u = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }

  /** The generator's state, to save and restore. */
  get state(): number {
    return this.#state;
  }

  set state(value: number) {
    this.#state = value >>> 0;
  }
}

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
