/**
 * Reductions over one axis of a tensor viewed as [outer, axis, inner]: sum and max (with the
 * index of the first maximum, for max's backward), plus the scatter that max's backward needs.
 *
 * @module
 */

import { defineKernel, type Kernel } from "./kernel.ts";

const PARAMS = [["outer", "u32"], ["axis", "u32"], ["inner", "u32"], ["scale", "f32"]] as const;

/** `out[o, i] = scale * sum_r x[o, r, i]`, one thread per output. */
export const sumKernel: Kernel = defineKernel(
  "reduce:sum",
  [["x", "array<f32>", "read"], ["out", "array<f32>", "read_write"]],
  PARAMS,
  `
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  let o = g.y + g.z * 65535u;
  let i = g.x;
  if (i >= params.inner || o >= params.outer) { return; }
  var base = o * params.axis * params.inner + i;
  var acc = 0.0;
  for (var r = 0u; r < params.axis; r++) {
    acc += x[base];
    base += params.inner;
  }
  out[o * params.inner + i] = acc * params.scale;
}
`,
);

/** `out[o, i] = max_r x[o, r, i]` and `arg[o, i]` the first r that attains it. */
export const maxKernel: Kernel = defineKernel(
  "reduce:max",
  [["x", "array<f32>", "read"], ["out", "array<f32>", "read_write"], [
    "arg",
    "array<u32>",
    "read_write",
  ]],
  PARAMS,
  `
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  let o = g.y + g.z * 65535u;
  let i = g.x;
  if (i >= params.inner || o >= params.outer) { return; }
  let base = o * params.axis * params.inner + i;
  var best = x[base];
  var bestR = 0u;
  for (var r = 1u; r < params.axis; r++) {
    let v = x[base + r * params.inner];
    if (v > best) { best = v; bestR = r; }
  }
  out[o * params.inner + i] = best;
  arg[o * params.inner + i] = bestR;
}
`,
);

/** Backward of max: `dx[o, r, i] = r == arg[o, i] ? g[o, i] : 0`. */
export const maxBackwardKernel: Kernel = defineKernel(
  "reduce:max-backward",
  [["g_", "array<f32>", "read"], ["arg", "array<u32>", "read"], [
    "dx",
    "array<f32>",
    "read_write",
  ]],
  PARAMS,
  `
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  let o = g.y + g.z * 65535u;
  let i = g.x;
  if (i >= params.inner || o >= params.outer) { return; }
  let j = o * params.inner + i;
  let hit = arg[j];
  for (var r = 0u; r < params.axis; r++) {
    dx[(o * params.axis + r) * params.inner + i] = select(0.0, g_[j], r == hit);
  }
}
`,
);

/**
 * Workgroups of the reduce kernels: x covers `inner` in groups of 64, y and z cover `outer`
 * (z only when `outer` exceeds the 65535 limit of one dimension).
 *
 * @param outer Product of the dimensions before the axis.
 * @param inner Product of the dimensions after the axis.
 * @returns Workgroups in x, y and z.
 */
export function reduceGrid(outer: number, inner: number): [number, number, number] {
  return [Math.ceil(inner / 64), Math.min(outer, 65535), Math.ceil(outer / 65535)];
}

/** Rows of the reduced axis that one invocation of {@link sumChunksKernel} adds up. */
export const SUM_CHUNK = 64;

/**
 * `out[o, ch, i] = sum of x[o, r, i]` for r in chunk `ch` (rows `ch·chunk` up to the next
 * chunk), one thread per output: the first pass of a long sum, split so that a column sum over
 * thousands of rows occupies thousands of invocations instead of one per column.
 */
export const sumChunksKernel: Kernel = defineKernel(
  "reduce:sum-chunks",
  [["x", "array<f32>", "read"], ["out", "array<f32>", "read_write"]],
  [["outer", "u32"], ["axis", "u32"], ["inner", "u32"], ["chunk", "u32"], ["chunks", "u32"]],
  `
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  let oc = g.y + g.z * 65535u;
  let i = g.x;
  if (i >= params.inner || oc >= params.outer * params.chunks) { return; }
  let o = oc / params.chunks;
  let r0 = (oc % params.chunks) * params.chunk;
  let r1 = min(params.axis, r0 + params.chunk);
  var base = (o * params.axis + r0) * params.inner + i;
  var acc = 0.0;
  for (var r = r0; r < r1; r++) {
    acc += x[base];
    base += params.inner;
  }
  out[oc * params.inner + i] = acc;
}
`,
);
