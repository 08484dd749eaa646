/**
 * Softmax over the last axis, forward and backward, as row kernels ({@link defineRowKernels}):
 * one invocation per row on CPU adapters, one workgroup per row on GPUs.
 *
 * @module
 */

import type { Kernel } from "./kernel.ts";
import { defineRowKernels, type RowFlavour } from "./rows.ts";

const PARAMS = [["rows", "u32"], ["cols", "u32"]] as const;

/** `y[r, :] = softmax(x[r, :])`, computed in f32 with the row maximum subtracted. */
export const softmaxKernels: Record<RowFlavour, Kernel> = defineRowKernels(
  "softmax:forward",
  [["x", "array<f32>", "read"], ["y", "array<f32>", "read_write"]],
  PARAMS,
  (k) =>
    `let base = r * params.cols;
  var m = -3.402823e38;
  ${k.forCols} { m = max(m, x[base + c]); }
  m = ${k.max("m")};
  var total = 0.0;
  ${k.forCols} {
    let e = exp(x[base + c] - m);
    y[base + c] = e;
    total += e;
  }
  let inv = 1.0 / ${k.sum("total")};
  ${k.forCols} { y[base + c] *= inv; }`,
);

/** `dx[r, :] = y * (g - sum(g * y))` from the forward output `y`. */
export const softmaxBackwardKernels: Record<RowFlavour, Kernel> = defineRowKernels(
  "softmax:backward",
  [["y", "array<f32>", "read"], ["g_", "array<f32>", "read"], ["dx", "array<f32>", "read_write"]],
  PARAMS,
  (k) =>
    `let base = r * params.cols;
  var acc = 0.0;
  ${k.forCols} { acc += y[base + c] * g_[base + c]; }
  let dot = ${k.sum("acc")};
  ${k.forCols} { dx[base + c] = y[base + c] * (g_[base + c] - dot); }`,
);
