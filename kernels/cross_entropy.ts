/**
 * Cross-entropy from logits: per-row log-sum-exp and loss (rows labelled -100 are ignored, as
 * in PyTorch), and the fused gradient `(softmax - onehot) * g / count`.
 *
 * @module
 */

import { defineKernel, type Kernel, LINEAR_INDEX } from "./kernel.ts";

const PARAMS = [["rows", "u32"], ["cols", "u32"], ["scale", "f32"]] as const;

/** `loss[r] = lse(x[r]) - x[r, label[r]]`, 0 for ignored rows; also saves `lse[r]`. */
export const crossEntropyKernel: Kernel = defineKernel(
  "cross-entropy:forward",
  [
    ["x", "array<f32>", "read"],
    ["labels", "array<i32>", "read"],
    ["loss", "array<f32>", "read_write"],
    ["lse", "array<f32>", "read_write"],
  ],
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
  for (var c = 0u; c < params.cols; c++) { total += exp(x[base + c] - m); }
  let l = m + log(total);
  lse[r] = l;
  let label = labels[r];
  loss[r] = select(l - x[base + u32(max(label, 0))], 0.0, label < 0);
}
`,
);

/** `dx[r, c] = (exp(x - lse) - [c == label]) * g[0] * scale`, 0 for ignored rows. */
export const crossEntropyBackwardKernel: Kernel = defineKernel(
  "cross-entropy:backward",
  [
    ["x", "array<f32>", "read"],
    ["labels", "array<i32>", "read"],
    ["lse", "array<f32>", "read"],
    ["g_", "array<f32>", "read"],
    ["dx", "array<f32>", "read_write"],
  ],
  PARAMS,
  `${LINEAR_INDEX}
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let i = linearIndex(g, nw);
  if (i >= params.rows * params.cols) { return; }
  let r = i / params.cols;
  let c = i % params.cols;
  let label = labels[r];
  let p = exp(x[i] - lse[r]);
  let onehot = select(0.0, 1.0, i32(c) == label);
  dx[i] = select((p - onehot) * g_[0] * params.scale, 0.0, label < 0);
}
`,
);
