/**
 * Small helpers that the op files share: a map kernel over tensors (through the backend),
 * f32 checks and axes.
 *
 * @module
 */

import type { MapOp } from "../../kernels/elementwise.ts";
import { backend } from "../core/backend.ts";
import { Tensor } from "../core/tensor.ts";

export { contiguousStrides } from "../core/tensor.ts";

/** Throws unless `t` is an f32 tensor (the compute kernels are f32). */
export function assertF32(t: Tensor, op: string): void {
  if (t.dtype !== "f32") throw new Error(`${op}: expects f32 tensors, got ${t.dtype}`);
}

/**
 * Runs a map kernel: `out[i] = expr(inputs[0][i], inputs[1][i], …, s)`.
 *
 * @param op The expression.
 * @param inputs Same-size inputs (none for `fill`).
 * @param shape Output shape.
 * @param s The scalar operand.
 * @returns A new tensor.
 */
export function runMap(op: MapOp, inputs: Tensor[], shape: readonly number[], s = 0): Tensor {
  for (const t of inputs) assertF32(t, op);
  const out = Tensor.empty(shape);
  dispatchMap(op, false, [...inputs, out], out.size, s);
  return out;
}

/**
 * Dispatches a map over `n` elements of `tensors` (inputs, then the output unless in place),
 * four elements per invocation where the backend takes vector loads and `n` allows.
 */
function dispatchMap(op: MapOp, inPlace: boolean, tensors: Tensor[], n: number, s: number): void {
  backend().map(op, tensors, n, s, inPlace);
}

/**
 * Runs a map kernel in place on `target`: `target[i] = expr(target[i], others…, s)`.
 *
 * @param op The expression.
 * @param target Overwritten with the result.
 * @param others Remaining same-size inputs.
 * @param s The scalar operand.
 */
export function runMapInPlace(op: MapOp, target: Tensor, others: Tensor[], s = 0): void {
  dispatchMap(op, true, [target, ...others], target.size, s);
}

/**
 * Adds `grad` into `target` in place, or copies it where `target` is still zero since the
 * engine cleared it (a parameter's first gradient of a step): cheaper than an add kernel,
 * which reads both. The values are the same; a copy keeps a -0 or a subnormal that the add
 * would have made +0 or, on adapters that flush subnormals, zero. WebGPU copies only between
 * two buffers.
 *
 * @param target Overwritten with `target + grad`; the same size as `grad`.
 * @param grad The contribution.
 */
export function addInto(target: Tensor, grad: Tensor): void {
  const bytes = target.size * 4;
  const e = target.runtime.engine;
  const f32 = target.dtype === "f32" && grad.dtype === "f32";
  const apart = target.storage.buffer !== grad.storage.buffer;
  // A copy, unlike a kernel's binding, is not clamped to the regions: both must hold it.
  const fits = target.storage.byteLength >= bytes && grad.storage.byteLength >= bytes;
  if (f32 && apart && fits && bytes > 0 && e.isZero(target.storage, bytes)) {
    e.copy(grad.storage, target.storage, bytes);
    return;
  }
  runMapInPlace("add", target, [grad]);
}

/** Normalises a possibly negative axis. */
export function normAxis(axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new Error(`axis ${axis} is out of range for rank ${rank}`);
  return a;
}
