/**
 * The matmul autotuner: times each candidate variant of the backend on a shape and remembers
 * the fastest for later products of that shape.
 *
 * @module
 */

import { type MatmulShape, type MatmulVariant, variantName } from "../../kernels/matmul.ts";
import { gpu } from "../core/context.ts";
import { Tensor } from "../core/tensor.ts";
import { backend } from "../core/backend.ts";
import { dispatchMatmul } from "./webgpu/dispatch_matmul.ts";

/**
 * The variants worth timing for a shape on this backend.
 *
 * @param s The shape.
 * @returns The candidates, best-known first.
 */
export function matmulCandidates(s: MatmulShape): MatmulVariant[] {
  return backend().candidates(s);
}

/**
 * Times every candidate variant on a shape and remembers the fastest for later matmuls of that
 * shape. Each candidate runs `reps` times between two GPU syncs, then once on known values that
 * are checked against f64; only a candidate that passes is remembered.
 *
 * @param s The shape to tune.
 * @param reps Repetitions per candidate.
 * @returns The chosen variant, and each candidate's GFLOP/s and checked error, by name.
 * @example
 * ```ts
 * import { init } from "../runtime.ts";
 * import { autotuneMatmul } from "./autotune.ts";
 * await init();
 * const shape = { batch: 1, m: 64, k: 64, n: 64, transA: false, transB: true };
 * const { best } = await autotuneMatmul(shape, 1);
 * console.log(best.family);
 * ```
 */
export async function autotuneMatmul(
  s: MatmulShape,
  reps = 3,
): Promise<{ best: MatmulVariant; results: TunedVariant[] }> {
  // The active runtime's, captured: the awaits below may see another one active.
  const rt = gpu();
  const a = rt.run(() => Tensor.zeros([s.batch * s.m * s.k]));
  const b = rt.run(() => Tensor.zeros([s.batch * s.k * s.n]));
  const out = rt.run(() => Tensor.empty([s.batch * s.m * s.n]));
  const timed: { name: string; variant: MatmulVariant; gflops: number }[] = [];
  try {
    for (const variant of rt.run(() => matmulCandidates(s))) {
      const run = () => rt.run(() => dispatchMatmul({ variant, shape: s, a, b, out, alpha: 1 }));
      run(); // compile and warm up
      await rt.engine.sync();
      const t0 = performance.now();
      for (let i = 0; i < reps; i++) run();
      await rt.engine.sync();
      const seconds = (performance.now() - t0) / 1000 / reps;
      timed.push({
        name: variantName(variant),
        variant,
        gflops: (2 * s.batch * s.m * s.n * s.k) / seconds / 1e9,
      });
    }
  } finally {
    a.dispose();
    b.dispose();
    out.dispose();
  }
  // Timed on zeros, each candidate's output is checked on known values before one is cached:
  // a variant that computes wrong numbers on this adapter is never remembered.
  const results: TunedVariant[] = [];
  for (const t of timed) results.push({ ...t, error: await checkVariant(t.variant, s) });
  const ok = results.filter((r) => r.error <= 1);
  if (ok.length === 0) {
    const names = results.map((r) => r.name).join(", ");
    throw new Error(`autotuneMatmul: no candidate computes the product right (${names})`);
  }
  const best = ok.reduce((x, y) => (y.gflops > x.gflops ? y : x)).variant;
  rt.tuning.remember(s, best);
  return { best, results };
}

/** One timed and checked candidate of {@link autotuneMatmul}. */
export interface TunedVariant {
  /** The variant's name. */
  name: string;
  /** The variant. */
  variant: MatmulVariant;
  /** Its speed on the shape. */
  gflops: number;
  /**
   * Its worst error on known values over the f64 product, in units of the tolerance
   * (`1e-4 + 1e-3 · |want| · √(k / 64)`): at most 1 passes.
   */
  error: number;
}

/** Known values in [-1, 1): the same on every run. */
function known(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let x = seed >>> 0;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    out[i] = (x >>> 8) / 2 ** 23 - 1;
  }
  return out;
}

/**
 * Runs one variant on known values and compares rows of the first and last product (the first,
 * middle and last row, every column, so that both tile edges show) with f64.
 *
 * @param v The variant.
 * @param s The shape.
 * @returns The worst error in units of the tolerance.
 */
export async function checkVariant(v: MatmulVariant, s: MatmulShape): Promise<number> {
  const rt = gpu();
  const av = known(s.batch * s.m * s.k, 11);
  const bv = known(s.batch * s.k * s.n, 12);
  const a = rt.run(() => Tensor.from(av, [av.length]));
  const b = rt.run(() => Tensor.from(bv, [bv.length]));
  const out = rt.run(() => Tensor.empty([s.batch * s.m * s.n]));
  let got: Float32Array;
  try {
    rt.run(() => dispatchMatmul({ variant: v, shape: s, a, b, out, alpha: 1 }));
    got = await out.toArray();
  } catch {
    return Infinity;
  } finally {
    a.dispose();
    b.dispose();
    out.dispose();
  }
  const rtol = 1e-3 * Math.sqrt(Math.max(1, s.k / 64));
  let worst = 0;
  for (const p of new Set([0, s.batch - 1])) {
    for (const i of new Set([0, s.m >> 1, s.m - 1])) {
      for (let j = 0; j < s.n; j++) {
        let want = 0;
        for (let q = 0; q < s.k; q++) {
          const x = s.transA ? av[p * s.m * s.k + q * s.m + i] : av[p * s.m * s.k + i * s.k + q];
          const y = s.transB ? bv[p * s.k * s.n + j * s.k + q] : bv[p * s.k * s.n + q * s.n + j];
          want += x * y;
        }
        const e = Math.abs(got[p * s.m * s.n + i * s.n + j] - want) /
          (1e-4 + rtol * Math.abs(want));
        if (!(e <= worst)) worst = Number.isNaN(e) ? Infinity : e;
      }
    }
  }
  return worst;
}
