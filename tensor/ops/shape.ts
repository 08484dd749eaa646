/**
 * Shape and indexing primitives: reshape (a view), permute/transpose, slice, concat (and its view
 * over parameters that lie back to back) and a gather of rows, each with its backward.
 *
 * @module
 */

import { addInto, contiguousStrides, normAxis } from "./_dispatch.ts";
import { backend } from "../core/backend.ts";
import { stridedCopy } from "./reduce.ts";
import { record, Tensor } from "../core/tensor.ts";
import type { Storage } from "../core/command_engine.ts";

/**
 * A view of `x` with a new shape, sharing its memory. One dimension may be -1.
 *
 * @example
 * ```ts
 * import { reshape, Tensor } from "../../mod.ts";
 * console.log(reshape(Tensor.from([1, 2, 3, 4, 5, 6], [2, 3]), [3, -1]).shape); // [3, 2]
 * ```
 */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  return x.view(shape);
}

/**
 * Reorders dimensions: output dimension `i` is input dimension `axes[i]` (a contiguous copy).
 *
 * @example
 * ```ts
 * import { permute, Tensor } from "../../mod.ts";
 * const y = permute(Tensor.from([1, 2, 3, 4, 5, 6], [2, 3]), [1, 0]);
 * console.log(await y.toArray()); // Float32Array [1, 4, 2, 5, 3, 6]
 * ```
 */
export function permute(x: Tensor, axes: readonly number[]): Tensor {
  if (axes.length !== x.rank || new Set(axes.map((a) => normAxis(a, x.rank))).size !== x.rank) {
    throw new Error(`permute: [${axes}] is not a permutation of ${x.rank} axes`);
  }
  const norm = axes.map((a) => normAxis(a, x.rank));
  const shape = norm.map((a) => x.shape[a]);
  const inStrides = contiguousStrides(x.shape);
  const out = Tensor.empty(shape);
  stridedCopy(x, out, shape, norm.map((a) => inStrides[a]), 0, contiguousStrides(shape), 0);
  const inverse = new Array<number>(norm.length);
  norm.forEach((a, i) => (inverse[a] = i));
  return record(out, [x], (g) => [permute(g, inverse)], "permute");
}

/** Swaps two dimensions (a contiguous copy). */
export function transpose(x: Tensor, dim0: number, dim1: number): Tensor {
  const axes = x.shape.map((_, i) => i);
  const a = normAxis(dim0, x.rank);
  const b = normAxis(dim1, x.rank);
  [axes[a], axes[b]] = [axes[b], axes[a]];
  return permute(x, axes);
}

/**
 * Elements `start` (inclusive) to `end` (exclusive) along `axis`, as a contiguous copy.
 *
 * @example
 * ```ts
 * import { slice, Tensor } from "../../mod.ts";
 * console.log(await slice(Tensor.from([1, 2, 3, 4], [2, 2]), 1, 1, 2).toArray()); // [2, 4]
 * ```
 */
export function slice(x: Tensor, axis: number, start: number, end: number): Tensor {
  const a = normAxis(axis, x.rank);
  if (start < 0 || end > x.shape[a] || start > end) {
    throw new Error(`slice: [${start}, ${end}) is out of range for axis of ${x.shape[a]}`);
  }
  const shape = x.shape.map((d, i) => (i === a ? end - start : d));
  const strides = contiguousStrides(x.shape);
  const out = Tensor.empty(shape);
  stridedCopy(x, out, shape, strides, start * strides[a], contiguousStrides(shape), 0);
  return record(out, [x], (g) => {
    const dx = Tensor.zeros(x.shape);
    stridedCopy(g, dx, shape, contiguousStrides(shape), 0, strides, start * strides[a]);
    return [dx];
  }, "slice");
}

/**
 * Joins tensors along `axis`; all other dimensions must agree.
 *
 * @example
 * ```ts
 * import { concat, Tensor } from "../../mod.ts";
 * const y = concat([Tensor.from([1], [1, 1]), Tensor.from([2, 3], [1, 2])], 1);
 * console.log(await y.toArray()); // Float32Array [1, 2, 3]
 * ```
 */
export function concat(xs: readonly Tensor[], axis: number): Tensor {
  if (xs.length === 0) throw new Error("concat: no tensors");
  const a = normAxis(axis, xs[0].rank);
  for (const x of xs) {
    if (x.rank !== xs[0].rank || x.shape.some((d, i) => i !== a && d !== xs[0].shape[i])) {
      throw new Error(`concat: shapes [${xs[0].shape}] and [${x.shape}] differ off axis ${a}`);
    }
  }
  const shape = xs[0].shape.map((d, i) => (i === a ? xs.reduce((s, x) => s + x.shape[a], 0) : d));
  const outStrides = contiguousStrides(shape);
  const out = Tensor.empty(shape);
  const starts: number[] = [];
  let offset = 0;
  for (const x of xs) {
    starts.push(offset);
    stridedCopy(x, out, x.shape, contiguousStrides(x.shape), 0, outStrides, offset * outStrides[a]);
    offset += x.shape[a];
  }
  return record(out, [...xs], (g) => splitGrad(g, xs, a, starts), "concat");
}

/** The slices of `g` along `axis` that belong to a concat's parts (null where none needs one). */
function splitGrad(
  g: Tensor,
  xs: readonly Tensor[],
  axis: number,
  starts: number[],
): (Tensor | null)[] {
  return xs.map((x, i) =>
    x.requiresGrad ? slice(g, axis, starts[i], starts[i] + x.shape[axis]) : null
  );
}

/**
 * The storage spanning `ts` when they lie back to back in one buffer, in order, each exactly its
 * elements long; null otherwise.
 */
function backToBack(ts: readonly (Tensor | null)[]): Storage | null {
  const first = ts[0]?.storage;
  if (!first) return null;
  let end = first.byteOffset;
  for (const t of ts) {
    const s = t?.storage;
    if (!t || !s || s.buffer !== first.buffer || s.byteOffset !== end) return null;
    if (t.dtype !== "f32" || s.byteLength !== t.size * 4) return null;
    end += s.byteLength;
  }
  return { buffer: first.buffer, byteOffset: first.byteOffset, byteLength: end - first.byteOffset };
}

/**
 * {@link concat} along axis 0 of parameters (leaves the caller keeps alive), without copying
 * where they lie back to back in one buffer, as an optimizer's arena packs them: the result is a
 * view of their memory, and its backward adds the gradient into their `.grad`s at once where
 * those lie back to back too. Attention stacks its query, key and value weights this way every
 * step; the copies and the per-parameter slices of the gradient each cost a dispatch.
 * Elsewhere (parameters not packed, or not in order) it is {@link concat}.
 *
 * @param params Parameters of equal shape past axis 0.
 * @returns `[Σ rows, …]`, the parameters one after another.
 * @example
 * ```ts
 * import { AdamW, concatParameters, Tensor } from "../../mod.ts";
 * const q = Tensor.from([1, 2], [1, 2], { requiresGrad: true });
 * const k = Tensor.from([3, 4], [1, 2], { requiresGrad: true });
 * new AdamW([q, k]); // one arena; 256-byte slots, so these two are not back to back: a copy
 * console.log(await concatParameters([q, k]).toArray()); // Float32Array [1, 2, 3, 4]
 * ```
 */
export function concatParameters(params: readonly Tensor[]): Tensor {
  const span = backToBack(params);
  const tail = params[0].shape.slice(1);
  if (!span || params.some((p) => !p.isLeaf || p.shape.slice(1).join() !== tail.join())) {
    return concat(params, 0);
  }
  const starts = params.map((_, i) => params.slice(0, i).reduce((sum, p) => sum + p.shape[0], 0));
  const rows = starts.at(-1)! + params.at(-1)!.shape[0];
  const out = Tensor.fromStorage(span, [rows, ...tail]);
  return record(out, [...params], (g) => {
    const grads = backToBack(params.map((p) => p.grad));
    if (!grads || !params.every((p) => p.requiresGrad)) return splitGrad(g, params, 0, starts);
    const target = Tensor.fromStorage(grads, [g.size]);
    addInto(target, g);
    target.dispose();
    return params.map(() => null);
  }, "concatParameters");
}

/**
 * Rows `indices` of a 2-D tensor: `out[j] = x[indices[j]]`. Its backward adds each row's
 * gradient back to the row it came from.
 *
 * @example
 * ```ts
 * import { gatherRows, Tensor } from "../../mod.ts";
 * const y = gatherRows(Tensor.from([1, 2, 3, 4, 5, 6], [3, 2]), [2, 0]);
 * console.log(await y.toArray()); // Float32Array [5, 6, 1, 2]
 * ```
 */
export function gatherRows(x: Tensor, indices: readonly number[]): Tensor {
  if (x.rank !== 2) throw new Error(`gatherRows: expects a 2-D tensor, got [${x.shape}]`);
  const [rows, cols] = x.shape;
  for (const i of indices) {
    if (!Number.isInteger(i) || i < 0 || i >= rows) {
      throw new Error(`gatherRows: index ${i} is out of range for ${rows} rows`);
    }
  }
  const index = Tensor.fromBits(Uint32Array.from(indices), [indices.length]);
  const out = Tensor.empty([indices.length, cols]);
  backend().gatherRows(x, index, out, indices.length, cols);
  const result = record(out, [x], (g) => {
    const dx = Tensor.zeros(x.shape);
    backend().scatterAddRows(g, index, dx, indices.length);
    index.dispose();
    return [dx];
  }, "gatherRows");
  if (!result.requiresGrad) index.dispose();
  return result;
}
