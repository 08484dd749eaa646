/**
 * Test helpers: a seeded RNG and an llm.c-style closeness check that reports the largest
 * difference.
 *
 * @module
 */

import { Rng } from "./core/rng.ts";

/** Tolerances of a comparison: |a - e| <= atol + rtol · |e| element-wise. */
export interface Tolerance {
  /** Absolute tolerance. */
  atol: number;
  /** Relative tolerance. */
  rtol: number;
}

/** A deterministic uniform generator in [0, 1). */
export function rng(seed: number): () => number {
  const r = new Rng(seed);
  return () => r.next();
}

/** `n` uniform values in [lo, hi). */
export function uniform(random: () => number, n: number, lo = -1, hi = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * random();
  return out;
}

/**
 * Throws unless every element is within tolerance; the message gives the worst element.
 *
 * @param actual Values under test.
 * @param expected Reference values.
 * @param tol Tolerances.
 * @param label What is compared, for the message.
 */
export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tol: Tolerance,
  label: string,
): void {
  if (actual.length !== expected.length) {
    throw new Error(`${label}: length ${actual.length} != expected ${expected.length}`);
  }
  let worst = -1;
  let worstExcess = 0;
  let maxDiff = 0;
  for (let i = 0; i < actual.length; i++) {
    const diff = Math.abs(actual[i] - expected[i]);
    const allowed = tol.atol + tol.rtol * Math.abs(expected[i]);
    if (!(diff <= allowed) && (worst < 0 || diff - allowed > worstExcess || Number.isNaN(diff))) {
      worst = i;
      worstExcess = diff - allowed;
    }
    if (diff > maxDiff) maxDiff = diff;
  }
  if (worst >= 0) {
    throw new Error(
      `${label}: NOT OK at [${worst}]: got ${actual[worst]}, expected ${expected[worst]} ` +
        `(max |diff| ${maxDiff.toExponential(2)}, atol ${tol.atol}, rtol ${tol.rtol})`,
    );
  }
}
