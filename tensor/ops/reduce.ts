/**
 * Reductions (sum, mean, max over an axis or all), `sumTo` for broadcasting backwards, and
 * `expand`, which broadcasts by copying.
 *
 * @module
 */

import { assertF32, contiguousStrides, normAxis, runMap } from "./_dispatch.ts";
import { backend } from "../core/backend.ts";
import { record, sizeOf, Tensor } from "../core/tensor.ts";

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
  return backend().sum(x, splitAxis(x.shape, axis), scale, outShape);
}

/**
 * Sum over `axis`, or over all elements when `axis` is undefined.
 *
 * @example
 * ```ts
 * import { sum, Tensor } from "../../mod.ts";
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
 * import { max, Tensor } from "../../mod.ts";
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
  const split = [outer, len, inner] as const;
  backend().max(x, out, arg, split);
  const result = record(out, [x], (g) => {
    const dx = Tensor.empty(x.shape);
    backend().maxBackward(g, arg, dx, split);
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
  backend().stridedCopy(src, dst, shape, srcStrides, srcOffset, dstStrides, dstOffset);
}
