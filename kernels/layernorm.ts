/**
 * LayerNorm over the last axis: a fused forward that also saves each row's mean and reciprocal
 * standard deviation, a fused input-gradient kernel per row, and a per-column kernel for the
 * weight and bias gradients.
 *
 * @module
 */

import { defineKernel, type Kernel, LINEAR_INDEX } from "./kernel.ts";

const PARAMS = [["rows", "u32"], ["cols", "u32"], ["eps", "f32"]] as const;

/** `y = (x - mean) * rstd * w + b`, saving `mean` and `rstd` per row (two-pass variance). */
export const layerNormKernel: Kernel = defineKernel(
  "layernorm:forward",
  [
    ["x", "array<f32>", "read"],
    ["w", "array<f32>", "read"],
    ["b", "array<f32>", "read"],
    ["y", "array<f32>", "read_write"],
    ["stats", "array<f32>", "read_write"],
  ],
  PARAMS,
  `${LINEAR_INDEX}
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let r = linearIndex(g, nw);
  if (r >= params.rows) { return; }
  let base = r * params.cols;
  let n = f32(params.cols);
  var total = 0.0;
  for (var c = 0u; c < params.cols; c++) { total += x[base + c]; }
  let mean = total / n;
  var sq = 0.0;
  for (var c = 0u; c < params.cols; c++) { let d = x[base + c] - mean; sq += d * d; }
  let rstd = inverseSqrt(sq / n + params.eps);
  for (var c = 0u; c < params.cols; c++) {
    y[base + c] = (x[base + c] - mean) * rstd * w[c] + b[c];
  }
  stats[2u * r] = mean;
  stats[2u * r + 1u] = rstd;
}
`,
);

/** `dx = rstd * (gw - mean(gw) - xhat * mean(gw * xhat))` with `gw = g * w`, per row. */
export const layerNormBackwardInputKernel: Kernel = defineKernel(
  "layernorm:backward-input",
  [
    ["x", "array<f32>", "read"],
    ["w", "array<f32>", "read"],
    ["stats", "array<f32>", "read"],
    ["g_", "array<f32>", "read"],
    ["dx", "array<f32>", "read_write"],
  ],
  PARAMS,
  `${LINEAR_INDEX}
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let r = linearIndex(g, nw);
  if (r >= params.rows) { return; }
  let base = r * params.cols;
  let mean = stats[2u * r];
  let rstd = stats[2u * r + 1u];
  var sumG = 0.0;
  var sumGX = 0.0;
  for (var c = 0u; c < params.cols; c++) {
    let gw = g_[base + c] * w[c];
    sumG += gw;
    sumGX += gw * (x[base + c] - mean) * rstd;
  }
  let n = f32(params.cols);
  let mG = sumG / n;
  let mGX = sumGX / n;
  for (var c = 0u; c < params.cols; c++) {
    let xhat = (x[base + c] - mean) * rstd;
    dx[base + c] = rstd * (g_[base + c] * w[c] - mG - xhat * mGX);
  }
}
`,
);

/** `dw[c] = sum_r g * xhat`, `db[c] = sum_r g`, one thread per column. */
export const layerNormBackwardParamsKernel: Kernel = defineKernel(
  "layernorm:backward-params",
  [
    ["x", "array<f32>", "read"],
    ["stats", "array<f32>", "read"],
    ["g_", "array<f32>", "read"],
    ["dw", "array<f32>", "read_write"],
    ["db", "array<f32>", "read_write"],
  ],
  PARAMS,
  `
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  let c = g.x;
  if (c >= params.cols) { return; }
  var accW = 0.0;
  var accB = 0.0;
  for (var r = 0u; r < params.rows; r++) {
    let i = r * params.cols + c;
    let xhat = (x[i] - stats[2u * r]) * stats[2u * r + 1u];
    accW += g_[i] * xhat;
    accB += g_[i];
  }
  dw[c] = accW;
  db[c] = accB;
}
`,
);
