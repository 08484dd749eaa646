/**
 * Softmax over the last axis, forward and backward, as row kernels ({@link defineRowKernels}):
 * one invocation per row on CPU adapters (reading vec4s, rows starting anywhere), one workgroup
 * per row on GPUs.
 *
 * @module
 */

import type { Kernel } from "./kernel.ts";
import { defineRowKernels, defineThreadRowKernel, type RowFlavour } from "./rows.ts";

/** `stride`: distance between rows (the `vec4` flavour; the others need `stride == cols`). */
const PARAMS = [["rows", "u32"], ["cols", "u32"], ["stride", "u32"]] as const;

/** Where row `r` starts and ends, and the vec4s that overlap it (`vec4` flavour). */
const VEC4_ROW_SPAN = `let base = r * params.stride;
  let end = base + params.cols;
  let span = rowVec4s(base, end);`;

/**
 * The stores of the `vec4` flavour: `value(x)` of each element of the row into `y4` (full
 * vec4s) and `y` (the partial vec4s at the ends), reading the row's vec4s from `read(q)`; in
 * rows padded past `cols` (`stride > cols`), zeros up to the next multiple of 4.
 */
function vec4RowStores(read: (q: string) => string, value: (x: string) => string): string {
  return `let qa = (base + 3u) / 4u;
  let qb = max(end / 4u, qa);
  for (var c = base; c < min(4u * qa, end); c++) {
    let v = ${read("c / 4u")}[c % 4u];
    y[c] = ${value("v")};
  }
  for (var q = qa; q < qb; q++) {
    let v = ${read("q")};
    y4[q] = ${value("v")};
  }
  for (var c = max(4u * qb, base); c < end; c++) {
    let v = ${read("c / 4u")}[c % 4u];
    y[c] = ${value("v")};
  }
  for (var c = end; c < base + params.stride && c % 4u != 0u; c++) { y[c] = 0.0; }`;
}

const forward = defineRowKernels(
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

/**
 * `y[r, :] = softmax(x[r, :])`, computed in f32 with the row maximum subtracted. The `vec4`
 * flavour reads the row twice: once for a running maximum and sum per vec4 lane (the sum
 * rescaled when the maximum grows), once to store `exp(x - max) / sum`.
 */
export const softmaxKernels: Record<RowFlavour, Kernel> = {
  ...forward,
  vec4: defineThreadRowKernel(
    "softmax:forward",
    [
      ["x", "array<vec4<f32>>", "read"],
      ["y4", "array<vec4<f32>>", "read_write"],
      ["y", "array<f32>", "read_write"],
    ],
    PARAMS,
    `${VEC4_ROW_SPAN}
  var m4 = vec4<f32>(-3.402823e38);
  var s4 = vec4<f32>(0.0);
  for (var q = span.x; q < span.y; q++) {
    let inside = inRow(q, base, end);
    let v = select(vec4<f32>(-3.402823e38), x[q], inside);
    let grown = max(m4, v);
    s4 = s4 * exp(m4 - grown) + select(vec4<f32>(0.0), exp(v - grown), inside);
    m4 = grown;
  }
  let m = max(max(m4.x, m4.y), max(m4.z, m4.w));
  let inv = 1.0 / dot(s4, exp(m4 - vec4<f32>(m)));
  ${vec4RowStores((q) => `x[${q}]`, (v) => `exp(${v} - m) * inv`)}`,
  ),
};

const backward = defineRowKernels(
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

/** `dx[r, :] = y * (g - sum(g * y))` from the forward output `y`. */
export const softmaxBackwardKernels: Record<RowFlavour, Kernel> = {
  ...backward,
  vec4: defineThreadRowKernel(
    "softmax:backward",
    [
      ["yf", "array<vec4<f32>>", "read"],
      ["g_", "array<vec4<f32>>", "read"],
      ["y4", "array<vec4<f32>>", "read_write"],
      ["y", "array<f32>", "read_write"],
    ],
    PARAMS,
    `${VEC4_ROW_SPAN}
  var acc = vec4<f32>(0.0);
  for (var q = span.x; q < span.y; q++) {
    acc += select(vec4<f32>(0.0), yf[q] * g_[q], inRow(q, base, end));
  }
  let total = acc.x + acc.y + acc.z + acc.w;
  ${vec4RowStores((q) => `(yf[${q}] * (g_[${q}] - vec4<f32>(total)))`, (v) => v)}`,
  ),
};
