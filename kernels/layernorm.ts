/**
 * LayerNorm over the last axis: a fused forward that also saves each row's mean and reciprocal
 * standard deviation and a fused input-gradient kernel, both row kernels
 * ({@link defineRowKernels}), and a per-column kernel for the weight and bias gradients. The
 * `vec4` and `texture` flavours and {@link layerNormBackwardParamsVec4Kernel} need rows of a
 * multiple of four columns; the `texture` flavour reads x (and the output's gradient) from
 * textures.
 *
 * @module
 */

import { defineKernel, type Kernel } from "./kernel.ts";
import {
  defineRowKernels,
  defineThreadRowKernel,
  type RowFlavour,
  TEXTURE_ROW_WGSL,
} from "./rows.ts";

const PARAMS = [["rows", "u32"], ["cols", "u32"], ["eps", "f32"]] as const;
/** The `texture` flavour's: rows lie `height` to a texture layer. */
const TEXTURE_PARAMS = [...PARAMS, ["height", "u32"]] as const;

const forward = defineRowKernels(
  "layernorm:forward",
  [
    ["x", "array<f32>", "read"],
    ["w", "array<f32>", "read"],
    ["b", "array<f32>", "read"],
    ["y", "array<f32>", "read_write"],
    ["stats", "array<f32>", "read_write"],
  ],
  PARAMS,
  (k) =>
    `let base = r * params.cols;
  let n = f32(params.cols);
  var total = 0.0;
  ${k.forCols} { total += x[base + c]; }
  let mean = ${k.sum("total")} / n;
  var sq = 0.0;
  ${k.forCols} { let d = x[base + c] - mean; sq += d * d; }
  let rstd = inverseSqrt(${k.sum("sq")} / n + params.eps);
  ${k.forCols} { y[base + c] = (x[base + c] - mean) * rstd * w[c] + b[c]; }
  if (${k.first}) {
    stats[2u * r] = mean;
    stats[2u * r + 1u] = rstd;
  }`,
);

/** `y = (x - mean) * rstd * w + b`, saving `mean` and `rstd` per row (two-pass variance). */
export const layerNormKernels: Record<RowFlavour, Kernel> = {
  ...forward,
  vec4: defineThreadRowKernel(
    "layernorm:forward",
    [
      ["x", "array<vec4<f32>>", "read"],
      ["w", "array<vec4<f32>>", "read"],
      ["b", "array<vec4<f32>>", "read"],
      ["y", "array<vec4<f32>>", "read_write"],
      ["stats", "array<f32>", "read_write"],
    ],
    PARAMS,
    `let n4 = params.cols / 4u;
  let base = r * n4;
  let n = f32(params.cols);
  var total = vec4<f32>(0.0);
  for (var c = 0u; c < n4; c++) { total += x[base + c]; }
  let mean = dot(total, vec4<f32>(1.0)) / n;
  var sq = vec4<f32>(0.0);
  for (var c = 0u; c < n4; c++) { let d = x[base + c] - mean; sq += d * d; }
  let rstd = inverseSqrt(dot(sq, vec4<f32>(1.0)) / n + params.eps);
  for (var c = 0u; c < n4; c++) { y[base + c] = (x[base + c] - mean) * rstd * w[c] + b[c]; }
  stats[2u * r] = mean;
  stats[2u * r + 1u] = rstd;`,
  ),
  texture: defineThreadRowKernel(
    "layernorm:forward",
    [
      ["x", "texture_2d_array<f32>", "texture"],
      ["w", "array<vec4<f32>>", "read"],
      ["b", "array<vec4<f32>>", "read"],
      ["y", "array<vec4<f32>>", "read_write"],
      ["stats", "array<f32>", "read_write"],
    ],
    TEXTURE_PARAMS,
    `let n4 = params.cols / 4u;
  let base = r * n4;
  let n = f32(params.cols);
  var total = vec4<f32>(0.0);
  for (var c = 0u; c < n4; c++) { total += rowTexel(x, c, r); }
  let mean = dot(total, vec4<f32>(1.0)) / n;
  var sq = vec4<f32>(0.0);
  for (var c = 0u; c < n4; c++) { let d = rowTexel(x, c, r) - mean; sq += d * d; }
  let rstd = inverseSqrt(dot(sq, vec4<f32>(1.0)) / n + params.eps);
  for (var c = 0u; c < n4; c++) { y[base + c] = (rowTexel(x, c, r) - mean) * rstd * w[c] + b[c]; }
  stats[2u * r] = mean;
  stats[2u * r + 1u] = rstd;`,
    "texture",
  ),
};

const backwardInput = defineRowKernels(
  "layernorm:backward-input",
  [
    ["x", "array<f32>", "read"],
    ["w", "array<f32>", "read"],
    ["stats", "array<f32>", "read"],
    ["g_", "array<f32>", "read"],
    ["dx", "array<f32>", "read_write"],
  ],
  PARAMS,
  (k) =>
    `let base = r * params.cols;
  let mean = stats[2u * r];
  let rstd = stats[2u * r + 1u];
  var accG = 0.0;
  var accGX = 0.0;
  ${k.forCols} {
    let gw = g_[base + c] * w[c];
    accG += gw;
    accGX += gw * (x[base + c] - mean) * rstd;
  }
  let n = f32(params.cols);
  let mG = ${k.sum("accG")} / n;
  let mGX = ${k.sum("accGX")} / n;
  ${k.forCols} {
    let xhat = (x[base + c] - mean) * rstd;
    dx[base + c] = rstd * (g_[base + c] * w[c] - mG - xhat * mGX);
  }`,
);

/** `dx = rstd * (gw - mean(gw) - xhat * mean(gw * xhat))` with `gw = g * w`, per row. */
export const layerNormBackwardInputKernels: Record<RowFlavour, Kernel> = {
  ...backwardInput,
  vec4: defineThreadRowKernel(
    "layernorm:backward-input",
    [
      ["x", "array<vec4<f32>>", "read"],
      ["w", "array<vec4<f32>>", "read"],
      ["stats", "array<f32>", "read"],
      ["g_", "array<vec4<f32>>", "read"],
      ["dx", "array<vec4<f32>>", "read_write"],
    ],
    PARAMS,
    `let n4 = params.cols / 4u;
  let base = r * n4;
  let mean = stats[2u * r];
  let rstd = stats[2u * r + 1u];
  var accG = vec4<f32>(0.0);
  var accGX = vec4<f32>(0.0);
  for (var c = 0u; c < n4; c++) {
    let gw = g_[base + c] * w[c];
    accG += gw;
    accGX += gw * (x[base + c] - mean) * rstd;
  }
  let n = f32(params.cols);
  let mG = dot(accG, vec4<f32>(1.0)) / n;
  let mGX = dot(accGX, vec4<f32>(1.0)) / n;
  for (var c = 0u; c < n4; c++) {
    let xhat = (x[base + c] - mean) * rstd;
    dx[base + c] = rstd * (g_[base + c] * w[c] - mG - xhat * mGX);
  }`,
  ),
  texture: defineThreadRowKernel(
    "layernorm:backward-input",
    [
      ["x", "texture_2d_array<f32>", "texture"],
      ["w", "array<vec4<f32>>", "read"],
      ["stats", "array<f32>", "read"],
      ["g_", "texture_2d_array<f32>", "texture"],
      ["dx", "array<vec4<f32>>", "read_write"],
    ],
    TEXTURE_PARAMS,
    `let n4 = params.cols / 4u;
  let base = r * n4;
  let mean = stats[2u * r];
  let rstd = stats[2u * r + 1u];
  var accG = vec4<f32>(0.0);
  var accGX = vec4<f32>(0.0);
  for (var c = 0u; c < n4; c++) {
    let gw = rowTexel(g_, c, r) * w[c];
    accG += gw;
    accGX += gw * (rowTexel(x, c, r) - mean) * rstd;
  }
  let n = f32(params.cols);
  let mG = dot(accG, vec4<f32>(1.0)) / n;
  let mGX = dot(accGX, vec4<f32>(1.0)) / n;
  for (var c = 0u; c < n4; c++) {
    let xhat = (rowTexel(x, c, r) - mean) * rstd;
    dx[base + c] = rstd * (rowTexel(g_, c, r) * w[c] - mG - xhat * mGX);
  }`,
    "texture",
  ),
};

/** The weight- and bias-gradient kernel over `T` (`f32` or `vec4<f32>`) columns. */
function backwardParamsKernel(type: "f32" | "vec4<f32>"): Kernel {
  const array = `array<${type}>`;
  return defineKernel(
    `layernorm:backward-params${type === "f32" ? "" : ":vec4"}`,
    [
      ["x", array, "read"],
      ["stats", "array<f32>", "read"],
      ["g_", array, "read"],
      ["dw", array, "read_write"],
      ["db", array, "read_write"],
    ],
    [["rows", "u32"], ["cols", "u32"], ["chunk", "u32"]],
    `
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  let c = g.x;
  if (c >= params.cols) { return; }
  let r0 = g.y * params.chunk;
  var accW = ${type}(0.0);
  var accB = ${type}(0.0);
  for (var r = r0; r < min(params.rows, r0 + params.chunk); r++) {
    let i = r * params.cols + c;
    let xhat = (x[i] - stats[2u * r]) * stats[2u * r + 1u];
    accW += g_[i] * xhat;
    accB += g_[i];
  }
  dw[g.y * params.cols + c] = accW;
  db[g.y * params.cols + c] = accB;
}
`,
  );
}

/**
 * `dw[ch, c] = sum_r g * xhat`, `db[ch, c] = sum_r g` over the rows of chunk `ch` (`chunk` rows
 * from `ch · chunk`), one thread per column and chunk; the chunks are summed afterwards.
 */
export const layerNormBackwardParamsKernel: Kernel = backwardParamsKernel("f32");

/**
 * {@link layerNormBackwardParamsKernel} four columns per thread, for rows of a multiple of four
 * columns (`cols` counts vec4s here).
 */
export const layerNormBackwardParamsVec4Kernel: Kernel = backwardParamsKernel("vec4<f32>");

/**
 * {@link layerNormBackwardParamsVec4Kernel} reading x and the output's gradient from textures
 * (the `texture` row flavour's, which the input gradient has just filled): `height` rows to a
 * layer, `cols` counting vec4s.
 */
export const layerNormBackwardParamsTextureKernel: Kernel = defineKernel(
  "layernorm:backward-params:texture",
  [
    ["x", "texture_2d_array<f32>", "texture"],
    ["stats", "array<f32>", "read"],
    ["g_", "texture_2d_array<f32>", "texture"],
    ["dw", "array<vec4<f32>>", "read_write"],
    ["db", "array<vec4<f32>>", "read_write"],
  ],
  [["rows", "u32"], ["cols", "u32"], ["chunk", "u32"], ["height", "u32"]],
  `${TEXTURE_ROW_WGSL}
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  let c = g.x;
  if (c >= params.cols) { return; }
  let r0 = g.y * params.chunk;
  var accW = vec4<f32>(0.0);
  var accB = vec4<f32>(0.0);
  for (var r = r0; r < min(params.rows, r0 + params.chunk); r++) {
    let gr = rowTexel(g_, c, r);
    let xhat = (rowTexel(x, c, r) - stats[2u * r]) * stats[2u * r + 1u];
    accW += gr * xhat;
    accB += gr;
  }
  dw[g.y * params.cols + c] = accW;
  db[g.y * params.cols + c] = accB;
}
`,
);
