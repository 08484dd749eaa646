/**
 * Softmax over the last axis, forward and backward, one thread per row (rows are short in ViT,
 * 197 for attention, and there are many of them).
 *
 * @module
 */

import { defineKernel, type Kernel, LINEAR_INDEX } from "./kernel.ts";

const PARAMS = [["rows", "u32"], ["cols", "u32"]] as const;

/** `y[r, :] = softmax(x[r, :])`, computed in f32 with the row maximum subtracted. */
export const softmaxKernel: Kernel = defineKernel(
  "softmax:forward",
  [["x", "array<f32>", "read"], ["y", "array<f32>", "read_write"]],
  PARAMS,
  `${LINEAR_INDEX}
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let r = linearIndex(g, nw);
  if (r >= params.rows) { return; }
  let base = r * params.cols;
  var m = x[base];
  for (var c = 1u; c < params.cols; c++) { m = max(m, x[base + c]); }
  var total = 0.0;
  for (var c = 0u; c < params.cols; c++) {
    let e = exp(x[base + c] - m);
    y[base + c] = e;
    total += e;
  }
  let inv = 1.0 / total;
  for (var c = 0u; c < params.cols; c++) { y[base + c] *= inv; }
}
`,
);

/** `dx[r, :] = y * (g - sum(g * y))` from the forward output `y`. */
export const softmaxBackwardKernel: Kernel = defineKernel(
  "softmax:backward",
  [["y", "array<f32>", "read"], ["g_", "array<f32>", "read"], [
    "dx",
    "array<f32>",
    "read_write",
  ]],
  PARAMS,
  `${LINEAR_INDEX}
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let r = linearIndex(g, nw);
  if (r >= params.rows) { return; }
  let base = r * params.cols;
  var dot = 0.0;
  for (var c = 0u; c < params.cols; c++) { dot += y[base + c] * g_[base + c]; }
  for (var c = 0u; c < params.cols; c++) {
    dx[base + c] = y[base + c] * (g_[base + c] - dot);
  }
}
`,
);
