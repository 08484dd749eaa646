/**
 * Small helpers that the op files share: dispatching a map kernel over a tensor and building
 * padded shape/stride parameter lists.
 *
 * @module
 */

import { elementwiseGrid, mapKernel, type MapOp, MAX_RANK } from "../kernels/elementwise.ts";
import { backend } from "./backend/backend.ts";
import { engine } from "./engine.ts";
import { Tensor } from "./tensor.ts";

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
  if (n === 0) return;
  const vec4 = backend().vectorLoads && n % 4 === 0;
  const count = vec4 ? n / 4 : n;
  engine().dispatch(
    mapKernel(op, { inPlace, vec4 }),
    tensors.map((t) => t.storage),
    { n: count, s },
    elementwiseGrid(count),
  );
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

/** Contiguous row-major strides of a shape. */
export function contiguousStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i];
  }
  return strides;
}

/**
 * Left-pads a list to {@link MAX_RANK} and splits it into two vec4u values.
 *
 * @param values Shape or strides, outermost first.
 * @param fill Value for the padding (1 for shapes, 0 for strides).
 * @returns Two groups of four.
 */
export function padRank(values: readonly number[], fill: number): [number[], number[]] {
  if (values.length > MAX_RANK) throw new Error(`rank ${values.length} exceeds ${MAX_RANK}`);
  const padded = [...new Array(MAX_RANK - values.length).fill(fill), ...values];
  return [padded.slice(0, 4), padded.slice(4)];
}

/** Normalises a possibly negative axis. */
export function normAxis(axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new Error(`axis ${axis} is out of range for rank ${rank}`);
  return a;
}
