/**
 * Matmul and batched matmul with transpose flags, a scale and an optional fused bias: shape
 * checks and autograd here, the product itself in the runtime's backend.
 *
 * @module
 */

import type { MatmulShape } from "../../kernels/matmul.ts";
import { assertF32 } from "./_dispatch.ts";
import { backend } from "../core/backend.ts";
import { gpu } from "../core/context.ts";
import { sum } from "./reduce.ts";
import { record, sizeOf, Tensor } from "../core/tensor.ts";

/** Options of {@link matmul}. */
export interface MatmulOptions {
  /** `a` is stored as [..., K, M] and used transposed. */
  transA?: boolean;
  /** `b` is stored as [..., N, K] and used transposed (PyTorch's Linear weight layout). */
  transB?: boolean;
  /** Added to every row of the result; shape [N]. */
  bias?: Tensor;
  /** Scales the product (before the bias). */
  alpha?: number;
  /** Round the inputs to f16 (f32 accumulation); defaults to the {@link autocast} setting. */
  half?: boolean;
}

/**
 * Runs `fn` with the active runtime's matmuls in half precision (f16 inputs, f32
 * accumulation), as `torch.autocast(dtype=float16)` does for matmuls; softmax, layer norm and
 * losses stay f32. Backward matmuls use the precision their forward used.
 *
 * @param half Whether to use f16.
 * @param fn The work.
 * @returns What `fn` returns.
 */
export function autocast<T>(half: boolean, fn: () => T): T {
  const rt = gpu();
  const before = rt.autocastHalf;
  rt.autocastHalf = half;
  try {
    return fn();
  } finally {
    rt.autocastHalf = before;
  }
}

/** Whether matmuls recorded now round their inputs to f16 ({@link autocast} on an f16 adapter). */
export function halfMatmuls(): boolean {
  const rt = gpu();
  return rt.autocastHalf && rt.profile.f16;
}

/**
 * `alpha · op(a) · op(b) + bias`. `a` is [..., M, K] (or [..., K, M] with `transA`), `b` is
 * [K, N] or batched [..., K, N] with the same batch dimensions (or transposed with `transB`).
 * A 2-D `b` with a batched `a` folds the batch into M, as a Linear layer does.
 *
 * @example
 * ```ts
 * import { matmul, Tensor } from "../../mod.ts";
 * const a = Tensor.from([1, 2, 3, 4], [2, 2]);
 * const w = Tensor.from([1, 0, 0, 1, 1, 1], [3, 2]); // [out, in], as in PyTorch
 * console.log(await matmul(a, w, { transB: true }).toArray()); // [1, 2, 3, 3, 4, 7]
 * ```
 */
export function matmul(a: Tensor, b: Tensor, options: MatmulOptions = {}): Tensor {
  assertF32(a, "matmul");
  assertF32(b, "matmul");
  const transA = options.transA ?? false;
  const transB = options.transB ?? false;
  const alpha = options.alpha ?? 1;
  const bias = options.bias;
  const half = options.half === undefined ? halfMatmuls() : options.half && backend().profile.f16;
  if (a.rank < 2 || b.rank < 2) throw new Error("matmul: operands need at least 2 dimensions");
  const bBatch = b.shape.slice(0, -2);
  let aBatch = a.shape.slice(0, -2);
  let [aRows, aCols] = a.shape.slice(-2);
  if (bBatch.length === 0 && aBatch.length > 0 && !transA) {
    aRows *= sizeOf(aBatch);
    aBatch = [];
  }
  if (
    bBatch.length > 0 && (bBatch.length !== aBatch.length || bBatch.some((d, i) => d !== aBatch[i]))
  ) {
    throw new Error(`matmul: batch dimensions of [${a.shape}] and [${b.shape}] differ`);
  }
  if (bBatch.length === 0 && aBatch.length > 0) {
    throw new Error("matmul: a transposed batched `a` needs a batched `b`");
  }
  const m = transA ? aCols : aRows;
  const k = transA ? aRows : aCols;
  const [bRows, bCols] = b.shape.slice(-2);
  const kB = transB ? bCols : bRows;
  const n = transB ? bRows : bCols;
  if (k !== kB) {
    throw new Error(
      `matmul: inner dimensions differ: [${a.shape}]${transA ? "ᵀ" : ""} · [${b.shape}]${
        transB ? "ᵀ" : ""
      }`,
    );
  }
  if (bias && (bias.rank !== 1 || bias.shape[0] !== n)) {
    throw new Error(`matmul: bias [${bias.shape}] does not match ${n} columns`);
  }
  const batch = sizeOf(bBatch);
  const s: MatmulShape = { batch, m, k, n, transA, transB };
  const outShape = bBatch.length > 0
    ? [...bBatch, m, n]
    : a.rank > 2 && !transA
    ? [...a.shape.slice(0, -1), n]
    : [m, n];
  // An empty inner dimension sums nothing: zeros.
  const out = k === 0 ? Tensor.zeros(outShape) : Tensor.empty(outShape);
  if (out.size > 0 && k > 0) backend().matmul({ shape: s, a, b, out, alpha, bias, half });
  const inputs = bias ? [a, b, bias] : [a, b];
  return record(out, inputs, (g) => {
    const g2 = bBatch.length > 0 ? g : g.view([m, n]);
    const a2 = bBatch.length > 0 || a.rank === 2 ? a : a.view([m, k]);
    let da: Tensor | null = null;
    let db: Tensor | null = null;
    if (a.requiresGrad) {
      da = transA
        ? matmul(b, g2, { transA: transB, transB: true, alpha, half })
        : matmul(g2, b, { transB: !transB, alpha, half });
      if (da.rank !== a.rank) {
        const v = da.view(a.shape);
        da.dispose();
        da = v;
      }
    }
    let dbias: Tensor | null = null;
    // A Linear layer's weight and bias gradients from one product where it runs as texturetn.
    const fused = b.requiresGrad && bias?.requiresGrad && transB && !transA &&
        bBatch.length === 0
      ? backend().linearGrads(g2, a2, alpha, half)
      : null;
    if (fused) [db, dbias] = fused;
    else if (b.requiresGrad) {
      db = transB
        ? matmul(g2, a2, { transA: true, transB: transA, alpha, half })
        : matmul(a2, g2, { transA: !transA, alpha, half });
    }
    if (bias?.requiresGrad && !dbias) {
      const rows = g.view([-1, n]);
      dbias = sum(rows, 0);
      rows.dispose();
    }
    if (g2 !== g) g2.dispose();
    if (a2 !== a) a2.dispose();
    return bias ? [da, db, dbias] : [da, db];
  }, "matmul");
}
