/**
 * Reductions (sum, mean, max over an axis or all), `sumTo` for broadcasting backwards, and
 * `expand`, which broadcasts by copying.
 *
 * @module
 */

import { elementwiseGrid } from "../kernels/elementwise.ts";
import { mergeCopyDims, stridedCopyKernel } from "../kernels/copy.ts";
import {
  maxBackwardKernel,
  maxKernel,
  reduceGrid,
  SUM_CHUNK,
  sumChunksKernel,
  sumKernel,
} from "../kernels/reduce.ts";
import { assertF32, contiguousStrides, normAxis, padRank, runMap } from "./_dispatch.ts";
import { backend } from "./backend/backend.ts";
import { engine } from "./engine.ts";
import { record, sizeOf, Tensor } from "./tensor.ts";

/** Options of the reductions. */
export interface ReduceOptions {
  /** Keep the reduced axis with length 1. */
  keepDim?: boolean;
}

function splitAxis(shape: readonly number[], axis: number): [number, number, number] {
  return [sizeOf(shape.slice(0, axis)), shape[axis], sizeOf(shape.slice(axis + 1))];
}

function reducedShape(shape: readonly number[], axis: number, keepDim: boolean): number[] {
  return keepDim ? shape.map((d, i) => (i === axis ? 1 : d)) : shape.filter((_, i) => i !== axis);
}

function sumAxis(x: Tensor, axis: number, scale: number, outShape: readonly number[]): Tensor {
  const [outer, len, inner] = splitAxis(x.shape, axis);
  if (len >= 4 * SUM_CHUNK && outer * inner < 1 << 16) {
    // Few outputs over a long axis (a bias gradient, a sum over everything): first sum chunks
    // of SUM_CHUNK rows, then the chunk sums, so that the work spreads over many invocations.
    const chunks = Math.ceil(len / SUM_CHUNK);
    const partial = Tensor.empty([outer, chunks, inner]);
    engine().dispatch(
      sumChunksKernel,
      [x.storage, partial.storage],
      { outer, axis: len, inner, chunk: SUM_CHUNK, chunks },
      reduceGrid(outer * chunks, inner),
    );
    const out = sumAxis(partial, 1, scale, outShape);
    partial.dispose();
    return out;
  }
  const out = Tensor.empty(outShape);
  if (out.size === 0) return out;
  engine().dispatch(
    sumKernel,
    [x.storage, out.storage],
    { outer, axis: len, inner, scale },
    reduceGrid(outer, inner),
  );
  return out;
}

/**
 * Sum over `axis`, or over all elements when `axis` is undefined.
 *
 * @example
 * ```ts
 * import { sum, Tensor } from "../mod.ts";
 * console.log(await sum(Tensor.from([1, 2, 3, 4], [2, 2]), 0).toArray()); // Float32Array [4, 6]
 * ```
 */
export function sum(x: Tensor, axis?: number, options: ReduceOptions = {}): Tensor {
  return reduceSum(x, axis, options, 1);
}

/** Mean over `axis`, or over all elements when `axis` is undefined. */
export function mean(x: Tensor, axis?: number, options: ReduceOptions = {}): Tensor {
  const count = axis === undefined ? x.size : x.shape[normAxis(axis, x.rank)];
  return reduceSum(x, axis, options, 1 / count);
}

function reduceSum(
  x: Tensor,
  axis: number | undefined,
  options: ReduceOptions,
  scale: number,
): Tensor {
  assertF32(x, "sum");
  if (axis === undefined) {
    const flat = x.view([1, x.size]);
    const out = sumAxis(flat, 1, scale, options.keepDim ? x.shape.map(() => 1) : []);
    flat.dispose();
    return record(out, [x], (g) => [scaled(expand(g, x.shape), scale)], "sum");
  }
  const a = normAxis(axis, x.rank);
  const out = sumAxis(x, a, scale, reducedShape(x.shape, a, options.keepDim ?? false));
  return record(out, [x], (g) => {
    const kept = g.view(reducedShape(x.shape, a, true));
    const grad = scaled(expand(kept, x.shape), scale);
    kept.dispose();
    return [grad];
  }, "sum");
}

function scaled(t: Tensor, scale: number): Tensor {
  if (scale === 1) return t;
  const out = runMap("mulScalar", [t], t.shape, scale);
  t.dispose();
  return out;
}

/**
 * Maximum over `axis`; the gradient flows to the first maximal element, as in `torch.max(dim)`.
 *
 * @example
 * ```ts
 * import { max, Tensor } from "../mod.ts";
 * console.log(await max(Tensor.from([1, 5, 3, 2], [2, 2]), 1).toArray()); // Float32Array [5, 3]
 * ```
 */
export function max(x: Tensor, axis: number, options: ReduceOptions = {}): Tensor {
  assertF32(x, "max");
  const a = normAxis(axis, x.rank);
  const [outer, len, inner] = splitAxis(x.shape, a);
  // torch raises too: an empty axis has no maximum.
  if (len === 0) throw new Error(`max: cannot reduce over axis ${a} of length 0 in [${x.shape}]`);
  const out = Tensor.empty(reducedShape(x.shape, a, options.keepDim ?? false));
  const arg = Tensor.empty(out.shape);
  engine().dispatch(
    maxKernel,
    [x.storage, out.storage, arg.storage],
    { outer, axis: len, inner, scale: 1 },
    reduceGrid(outer, inner),
  );
  const result = record(out, [x], (g) => {
    const dx = Tensor.empty(x.shape);
    engine().dispatch(
      maxBackwardKernel,
      [g.storage, arg.storage, dx.storage],
      { outer, axis: len, inner, scale: 1 },
      reduceGrid(outer, inner),
    );
    arg.dispose();
    return [dx];
  }, "max");
  if (!result.requiresGrad) arg.dispose();
  return result;
}

/**
 * Sums `x` over the axes along which `shape` broadcasts to `x.shape` (the backward of
 * broadcasting). Always returns a new tensor object, a view when nothing is summed.
 *
 * @param x The broadcast gradient.
 * @param shape The shape to reduce to.
 * @returns A tensor of `shape`.
 */
export function sumTo(x: Tensor, shape: readonly number[]): Tensor {
  const offset = x.rank - shape.length;
  let current = x.view(x.shape);
  for (let i = 0; i < x.rank; i++) {
    const target = i < offset ? 1 : shape[i - offset];
    if (target === 1 && x.shape[i] !== 1) {
      const next = sumAxis(current, i, 1, current.shape.map((d, j) => (j === i ? 1 : d)));
      current.dispose();
      current = next;
    }
  }
  const out = current.view(shape);
  current.dispose();
  return out;
}

/**
 * Broadcasts `x` to `shape` by copying with zero strides. Its backward is {@link sumTo}.
 *
 * @param x Input whose shape broadcasts to `shape`.
 * @param shape Target shape.
 * @returns A new contiguous tensor.
 */
export function expand(x: Tensor, shape: readonly number[]): Tensor {
  const offset = shape.length - x.rank;
  const base = contiguousStrides(x.shape);
  const srcStrides = shape.map((d, i) => {
    const j = i - offset;
    if (j < 0) return 0;
    if (x.shape[j] !== d && x.shape[j] !== 1) {
      throw new Error(`cannot expand [${x.shape}] to [${shape}]`);
    }
    return x.shape[j] === 1 ? 0 : base[j];
  });
  const out = Tensor.empty(shape);
  stridedCopy(x, out, shape, srcStrides, 0, contiguousStrides(shape), 0);
  return record(out, [x], (g) => [sumTo(g, x.shape)], "expand");
}

/**
 * Records a strided copy: for every coordinate of `shape`, `dst[dstOffset + coord·dstStrides]
 * = src[srcOffset + coord·srcStrides]`.
 */
export function stridedCopy(
  src: Tensor,
  dst: Tensor,
  shape: readonly number[],
  srcStrides: readonly number[],
  srcOffset: number,
  dstStrides: readonly number[],
  dstOffset: number,
): void {
  const n = sizeOf(shape);
  if (n === 0) return;
  const merged = mergeCopyDims(shape, srcStrides, dstStrides);
  const r = merged.shape.length;
  // Runs of 4 along an innermost dimension that is contiguous in both layouts.
  let run = merged.srcStrides[r - 1] === 1 && merged.dstStrides[r - 1] === 1 &&
      merged.shape[r - 1] % 4 === 0
    ? 4
    : 1;
  merged.shape[r - 1] /= run;
  // Runs of 4 that start on multiples of 4 in both layouts move as vec4s where the backend
  // takes vector loads.
  const vec4 = run === 4 && backend().vectorLoads && srcOffset % 4 === 0 && dstOffset % 4 === 0 &&
    merged.srcStrides.every((st, d) => d === r - 1 || st % 4 === 0) &&
    merged.dstStrides.every((st, d) => d === r - 1 || st % 4 === 0);
  let scale = 1;
  if (vec4) {
    scale = 4;
    run = 1;
    for (let d = 0; d < r - 1; d++) {
      merged.srcStrides[d] /= 4;
      merged.dstStrides[d] /= 4;
    }
  }
  const [shape0, shape1] = padRank(merged.shape, 1);
  const [srcStrides0, srcStrides1] = padRank(merged.srcStrides, 0);
  const [dstStrides0, dstStrides1] = padRank(merged.dstStrides, 0);
  const count = n / (run * scale);
  engine().dispatch(
    stridedCopyKernel({ rank: r, run, vec4 }),
    [src.storage, dst.storage],
    {
      n: count,
      srcOffset: srcOffset / scale,
      dstOffset: dstOffset / scale,
      shape0,
      shape1,
      srcStrides0,
      srcStrides1,
      dstStrides0,
      dstStrides1,
    },
    elementwiseGrid(count),
  );
}
