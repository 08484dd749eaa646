/**
 * Strided copy and row gather: the kernels behind permute, slice, concat and the CLS-token
 * gather. The copy walks `shape` and maps each coordinate through source and destination
 * strides, so one kernel serves every layout change.
 *
 * @module
 */

import { defineKernel, type Kernel, LINEAR_INDEX } from "./kernel.ts";

/** `dst[dstOffset + coord·dstStrides] = src[srcOffset + coord·srcStrides]` over `shape`. */
export const stridedCopyKernel: Kernel = defineKernel(
  "copy:strided",
  [["src", "array<f32>", "read"], ["dst", "array<f32>", "read_write"]],
  [
    ["n", "u32"],
    ["srcOffset", "u32"],
    ["dstOffset", "u32"],
    ["shape0", "vec4u"],
    ["shape1", "vec4u"],
    ["srcStrides0", "vec4u"],
    ["srcStrides1", "vec4u"],
    ["dstStrides0", "vec4u"],
    ["dstStrides1", "vec4u"],
  ],
  `${LINEAR_INDEX}
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let i = linearIndex(g, nw);
  if (i >= params.n) { return; }
  let shape = array<u32, 8>(params.shape0.x, params.shape0.y, params.shape0.z, params.shape0.w,
    params.shape1.x, params.shape1.y, params.shape1.z, params.shape1.w);
  let ss = array<u32, 8>(params.srcStrides0.x, params.srcStrides0.y, params.srcStrides0.z,
    params.srcStrides0.w, params.srcStrides1.x, params.srcStrides1.y, params.srcStrides1.z,
    params.srcStrides1.w);
  let ds = array<u32, 8>(params.dstStrides0.x, params.dstStrides0.y, params.dstStrides0.z,
    params.dstStrides0.w, params.dstStrides1.x, params.dstStrides1.y, params.dstStrides1.z,
    params.dstStrides1.w);
  var rem = i;
  var si = params.srcOffset;
  var di = params.dstOffset;
  for (var d = 7; d >= 0; d--) {
    let coord = rem % shape[d];
    rem = rem / shape[d];
    si += coord * ss[d];
    di += coord * ds[d];
  }
  dst[di] = src[si];
}
`,
);

/** `out[j, :] = x[index[j], :]` for rows of length `cols`. */
export const gatherRowsKernel: Kernel = defineKernel(
  "copy:gather-rows",
  [["x", "array<f32>", "read"], ["index", "array<u32>", "read"], [
    "out",
    "array<f32>",
    "read_write",
  ]],
  [["rows", "u32"], ["cols", "u32"]],
  `${LINEAR_INDEX}
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let i = linearIndex(g, nw);
  if (i >= params.rows * params.cols) { return; }
  let j = i / params.cols;
  out[i] = x[index[j] * params.cols + i % params.cols];
}
`,
);

/**
 * Backward of the gather: `dx[r, :] = sum over j with index[j] == r of g[j, :]`. Each thread
 * owns one element of `dx` and scans the (short) index list, so no atomics are needed.
 */
export const scatterAddRowsKernel: Kernel = defineKernel(
  "copy:scatter-add-rows",
  [["g_", "array<f32>", "read"], ["index", "array<u32>", "read"], [
    "dx",
    "array<f32>",
    "read_write",
  ]],
  [["rows", "u32"], ["cols", "u32"], ["count", "u32"]],
  `${LINEAR_INDEX}
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let i = linearIndex(g, nw);
  if (i >= params.rows * params.cols) { return; }
  let r = i / params.cols;
  let c = i % params.cols;
  var acc = 0.0;
  for (var j = 0u; j < params.count; j++) {
    if (index[j] == r) { acc += g_[j * params.cols + c]; }
  }
  dx[i] = acc;
}
`,
);
