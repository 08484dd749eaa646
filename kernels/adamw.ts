/**
 * AdamW over a flat arena of parameters: one dispatch updates every parameter that shares the
 * arena, with decoupled weight decay and an optional global-norm clip whose coefficient is read
 * from a GPU buffer, so clipping needs no readback.
 *
 * @module
 */

import { defineKernel, type Kernel, LINEAR_INDEX } from "./kernel.ts";

/** The AdamW kernel over elements of `type` (`f32`, or `vec4<f32>` with `n` counting vec4s). */
function adamw(type: "f32" | "vec4<f32>"): Kernel {
  const array = `array<${type}>`;
  return defineKernel(
    type === "f32" ? "adamw" : "adamw:vec4",
    [
      ["p", array, "read_write"],
      ["grad", array, "read"],
      ["m", array, "read_write"],
      ["v", array, "read_write"],
      ["clip", "array<f32>", "read"],
    ],
    [
      ["n", "u32"],
      ["lr", "f32"],
      ["beta1", "f32"],
      ["beta2", "f32"],
      ["eps", "f32"],
      ["weightDecay", "f32"],
      ["biasCorrection1", "f32"],
      ["biasCorrection2", "f32"],
    ],
    `${LINEAR_INDEX}
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let i = linearIndex(gid, nw);
  if (i >= params.n) { return; }
  let g = grad[i] * clip[0];
  var w = p[i] * (1.0 - params.lr * params.weightDecay);
  let m1 = params.beta1 * m[i] + (1.0 - params.beta1) * g;
  let v1 = params.beta2 * v[i] + (1.0 - params.beta2) * g * g;
  m[i] = m1;
  v[i] = v1;
  let denom = sqrt(v1 / params.biasCorrection2) + params.eps;
  p[i] = w - params.lr * (m1 / params.biasCorrection1) / denom;
}
`,
  );
}

/**
 * One AdamW step (PyTorch's formulation):
 * `p -= lr * wd * p; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g²;
 *  p -= lr * (m / bc1) / (sqrt(v / bc2) + eps)`, with `g` scaled by `clip[0]`.
 */
export const adamwKernel: Kernel = adamw("f32");

/**
 * {@link adamwKernel} four parameters per invocation, for arena chunks of a multiple of four
 * (`n` counts vec4s): on lavapipe each of its seven loads and stores is a loop over the SIMD
 * lanes whatever its width.
 */
export const adamwVec4Kernel: Kernel = adamw("vec4<f32>");

/** Partial sums of squares: `out[w] = sum of x[i]^2` over the w-th block of `block` elements. */
export const sumSquaresKernel: Kernel = defineKernel(
  "adamw:sum-squares",
  [["x", "array<f32>", "read"], ["out", "array<f32>", "read_write"]],
  [["n", "u32"], ["block", "u32"], ["outOffset", "u32"]],
  `
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  let w = g.x;
  let start = w * params.block;
  if (start >= params.n) { return; }
  let end = min(start + params.block, params.n);
  var acc = 0.0;
  for (var i = start; i < end; i++) { acc += x[i] * x[i]; }
  out[params.outOffset + w] = acc;
}
`,
);

/**
 * Clip coefficient from partial sums of the (loss-scaled) gradients: with
 * `norm = sqrt(sum) * invScale`, `clip[0] = min(1, maxNorm / (norm + 1e-6)) * invScale` (the
 * unscale of mixed precision folded in), and `clip[1] = norm` (HF's `grad_norm`).
 */
export const clipCoefficientKernel: Kernel = defineKernel(
  "adamw:clip-coefficient",
  [["partials", "array<f32>", "read"], ["clip", "array<f32>", "read_write"]],
  [["count", "u32"], ["maxNorm", "f32"], ["invScale", "f32"]],
  `
@compute @workgroup_size(1)
fn main() {
  var total = 0.0;
  for (var i = 0u; i < params.count; i++) { total += partials[i]; }
  let norm = sqrt(total) * params.invScale;
  let coef = select(1.0, min(1.0, params.maxNorm / (norm + 1e-6)), params.maxNorm > 0.0);
  clip[0] = coef * params.invScale;
  clip[1] = norm;
}
`,
);
