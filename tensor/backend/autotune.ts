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
 * shape. Each candidate runs `reps` times between two GPU syncs.
 *
 * @param s The shape to tune.
 * @param reps Repetitions per candidate.
 * @returns The chosen variant and the GFLOP/s of each candidate, by name.
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
): Promise<
  { best: MatmulVariant; results: { name: string; variant: MatmulVariant; gflops: number }[] }
> {
  // The active runtime's, captured: the awaits below may see another one active.
  const rt = gpu();
  const a = rt.run(() => Tensor.zeros([s.batch * s.m * s.k]));
  const b = rt.run(() => Tensor.zeros([s.batch * s.k * s.n]));
  const out = rt.run(() => Tensor.empty([s.batch * s.m * s.n]));
  const results: { name: string; variant: MatmulVariant; gflops: number }[] = [];
  try {
    for (const variant of rt.run(() => matmulCandidates(s))) {
      const run = () => rt.run(() => dispatchMatmul({ variant, shape: s, a, b, out, alpha: 1 }));
      run(); // compile and warm up
      await rt.engine.sync();
      const t0 = performance.now();
      for (let i = 0; i < reps; i++) run();
      await rt.engine.sync();
      const seconds = (performance.now() - t0) / 1000 / reps;
      results.push({
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
  const best = results.reduce((x, y) => (y.gflops > x.gflops ? y : x)).variant;
  rt.tuning.remember(s, best);
  return { best, results };
}
