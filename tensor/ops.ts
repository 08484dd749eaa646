/**
 * Every differentiable primitive, gathered in one place, and the ops that `Tensor.backward()`
 * uses to add and accumulate gradients ({@link gradOps}, which `init()` wires into each runtime;
 * importing this module does nothing).
 *
 * @module
 */

import { addInto, runMap } from "./ops/_dispatch.ts";
import type { GradOps } from "./core/context.ts";
import type { Tensor } from "./core/tensor.ts";
import { add } from "./ops/elementwise.ts";

export {
  add,
  broadcastShapes,
  broadcastTo,
  div,
  exp,
  gelu,
  log,
  mul,
  neg,
  pow,
  relu,
  rsqrt,
  sqrt,
  sub,
  tanh,
} from "./ops/elementwise.ts";
export { expand, max, mean, type ReduceOptions, sum, sumTo } from "./ops/reduce.ts";
export {
  concat,
  concatParameters,
  gatherRows,
  permute,
  reshape,
  slice,
  transpose,
} from "./ops/shape.ts";
export { autocast, matmul, type MatmulOptions } from "./ops/matmul.ts";
export { crossEntropy, dropout, layerNorm, softmax } from "./ops/nn.ts";
export { selfAttention } from "./ops/attention.ts";
export { depthwiseConv2d } from "./ops/conv.ts";

/**
 * A tensor of `shape` filled with `value` (no gradient).
 *
 * @param shape Dimensions.
 * @param value Fill value.
 * @returns The tensor.
 */
export function full(shape: readonly number[], value: number): Tensor {
  return runMap("fill", [], shape, value);
}

/**
 * Adds `grad` into `target` in place (gradient accumulation).
 *
 * @param target Overwritten with `target + grad`.
 * @param grad Same shape as `target`.
 */
export function accumulate(target: Tensor, grad: Tensor): void {
  if (target.size !== grad.size) {
    throw new Error(`cannot accumulate [${grad.shape}] into [${target.shape}]`);
  }
  // A gradient still zero since zeroGrad() (its first contribution of the step) takes a copy.
  addInto(target, grad);
}

/** The ops `Tensor.backward()` needs: seeds, sums and in-place accumulation of gradients. */
export const gradOps: GradOps<Tensor> = {
  accumulate,
  add: (a, b) => add(a, b),
  ones: (shape) => full(shape, 1),
  clone: (t) => runMap("mulScalar", [t], t.shape, 1),
};
