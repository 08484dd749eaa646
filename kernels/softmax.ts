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
/** The `texture` flavour's: rows lie `height` to a texture layer. */
const TEXTURE_PARAMS = [...PARAMS, ["height", "u32"]] as const;

/**
 * The `texture` flavour's row walk: texels `q` of row `r` (texel q holds columns 4q to 4q + 3),
 * `inside` masking the columns past `cols`; stores go to whole vec4s of a `stride` that is a
 * multiple of 4, zeros past `cols`.
 */
const TEXTURE_ROW_SPAN = `let texels = (params.cols + 3u) / 4u;
  let out = r * params.stride / 4u;`;
const TEXTURE_INSIDE = "(vec4<u32>(4u * q) + vec4<u32>(0u, 1u, 2u, 3u)) < vec4<u32>(params.cols)";

/** Where row `r` starts and ends, and the vec4s that overlap it (`vec4` flavour). */
const VEC4_ROW_SPAN = `let base = r * params.stride;
  let end = base + params.cols;
  let span = rowVec4s(base, end);`;

/**
 * The stores of the `vec4` flavour into its one output binding `y`: `value(v)` of each vec4
 * `v = read(q)` of the row. A kernel may not bind its output twice (WebGPU forbids overlapping
 * writable bindings), so the output's element type follows the row alignment:
 *
 * - `aligned` (`stride` a multiple of 4, so every row starts on a vec4): `y` is an array of
 *   vec4s and each of the row's vec4s is stored whole, lanes past `cols` zeroed (they lie in the
 *   row's own padding);
 * - otherwise neighbouring rows share a vec4, so `y` is an array of floats, stored lane by lane
 *   inside the row, then zeros up to the next multiple of 4 where the row is padded.
 */
function vec4RowStores(
  aligned: boolean,
  read: (q: string) => string,
  value: (v: string) => string,
): string {
  if (aligned) {
    return `for (var q = span.x; q < span.y; q++) {
    y[q] = select(vec4<f32>(0.0), ${value(read("q"))}, inRow(q, base, end));
  }`;
  }
  return `for (var q = span.x; q < span.y; q++) {
    let v = ${value(read("q"))};
    let inside = inRow(q, base, end);
    for (var j = 0u; j < 4u; j++) {
      if (inside[j]) { y[4u * q + j] = v[j]; }
    }
  }
  for (var c = end; c < base + params.stride && c % 4u != 0u; c++) { y[c] = 0.0; }`;
}

/** The output binding of a `vec4` kernel (see {@link vec4RowStores}). */
function vec4Output(aligned: boolean): readonly [string, string, "read_write"] {
  return ["y", aligned ? "array<vec4<f32>>" : "array<f32>", "read_write"];
}

/**
 * Row kernels of every flavour, plus the `vec4` flavour for rows that need not start on a
 * multiple of four (`vec4Unaligned`).
 */
export type SoftmaxKernels = Record<RowFlavour | "vec4Unaligned", Kernel>;

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
export const softmaxKernels: SoftmaxKernels = {
  ...forward,
  vec4: softmaxVec4(true),
  vec4Unaligned: softmaxVec4(false),
  texture: defineThreadRowKernel(
    "softmax:forward",
    [["x", "texture_2d_array<f32>", "texture"], ["y", "array<vec4<f32>>", "read_write"]],
    TEXTURE_PARAMS,
    `${TEXTURE_ROW_SPAN}
  var m4 = vec4<f32>(-3.402823e38);
  var s4 = vec4<f32>(0.0);
  for (var q = 0u; q < texels; q++) {
    let inside = ${TEXTURE_INSIDE};
    let v = select(vec4<f32>(-3.402823e38), rowTexel(x, q, r), inside);
    let grown = max(m4, v);
    s4 = s4 * exp(m4 - grown) + select(vec4<f32>(0.0), exp(v - grown), inside);
    m4 = grown;
  }
  let m = max(max(m4.x, m4.y), max(m4.z, m4.w));
  let inv = 1.0 / dot(s4, exp(m4 - vec4<f32>(m)));
  for (var q = 0u; q < texels; q++) {
    let inside = ${TEXTURE_INSIDE};
    y[out + q] = select(vec4<f32>(0.0), exp(rowTexel(x, q, r) - vec4<f32>(m)) * inv, inside);
  }`,
    "texture",
  ),
};

function softmaxVec4(aligned: boolean): Kernel {
  return defineThreadRowKernel(
    aligned ? "softmax:forward" : "softmax:forward-unaligned",
    [["x", "array<vec4<f32>>", "read"], vec4Output(aligned)],
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
  ${vec4RowStores(aligned, (q) => `x[${q}]`, (v) => `exp(${v} - vec4<f32>(m)) * inv`)}`,
  );
}

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
export const softmaxBackwardKernels: SoftmaxKernels = {
  ...backward,
  vec4: softmaxBackwardVec4(true),
  vec4Unaligned: softmaxBackwardVec4(false),
  texture: defineThreadRowKernel(
    "softmax:backward",
    [
      ["yf", "texture_2d_array<f32>", "texture"],
      ["g_", "texture_2d_array<f32>", "texture"],
      ["dx", "array<vec4<f32>>", "read_write"],
    ],
    TEXTURE_PARAMS,
    `${TEXTURE_ROW_SPAN}
  var acc = vec4<f32>(0.0);
  for (var q = 0u; q < texels; q++) {
    acc += select(vec4<f32>(0.0), rowTexel(yf, q, r) * rowTexel(g_, q, r), ${TEXTURE_INSIDE});
  }
  let total = acc.x + acc.y + acc.z + acc.w;
  for (var q = 0u; q < texels; q++) {
    let d = rowTexel(yf, q, r) * (rowTexel(g_, q, r) - vec4<f32>(total));
    dx[out + q] = select(vec4<f32>(0.0), d, ${TEXTURE_INSIDE});
  }`,
    "texture",
  ),
};

function softmaxBackwardVec4(aligned: boolean): Kernel {
  return defineThreadRowKernel(
    aligned ? "softmax:backward" : "softmax:backward-unaligned",
    [["yf", "array<vec4<f32>>", "read"], ["g_", "array<vec4<f32>>", "read"], vec4Output(aligned)],
    PARAMS,
    `${VEC4_ROW_SPAN}
  var acc = vec4<f32>(0.0);
  for (var q = span.x; q < span.y; q++) {
    acc += select(vec4<f32>(0.0), yf[q] * g_[q], inRow(q, base, end));
  }
  let total = acc.x + acc.y + acc.z + acc.w;
  ${vec4RowStores(aligned, (q) => `(yf[${q}] * (g_[${q}] - vec4<f32>(total)))`, (v) => v)}`,
  );
}
