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

/**
 * How a one-thread-per-row kernel binds and reads its input rows: `array<vec4<f32>>` read at
 * `base + c` (`vec4`), or a texture array read with `rowTexel` (`texture`, whose params add
 * `height`).
 */
function rowInput(flavour: "vec4" | "texture") {
  const texture = flavour === "texture";
  return {
    binding: (name: string) =>
      [
        name,
        texture ? "texture_2d_array<f32>" : "array<vec4<f32>>",
        texture ? "texture" : "read",
      ] as const,
    read: (name: string) => texture ? `rowTexel(${name}, c, r)` : `${name}[base + c]`,
    params: texture ? TEXTURE_PARAMS : PARAMS,
  };
}

/** The forward with one thread per row, reading x as `flavour` says. */
function forwardOneThread(flavour: "vec4" | "texture"): Kernel {
  const { binding, read, params } = rowInput(flavour);
  return defineThreadRowKernel(
    "layernorm:forward",
    [
      binding("x"),
      ["w", "array<vec4<f32>>", "read"],
      ["b", "array<vec4<f32>>", "read"],
      ["y", "array<vec4<f32>>", "read_write"],
      ["stats", "array<f32>", "read_write"],
    ],
    params,
    `let n4 = params.cols / 4u;
  let base = r * n4;
  let n = f32(params.cols);
  var total = vec4<f32>(0.0);
  for (var c = 0u; c < n4; c++) { total += ${read("x")}; }
  let mean = dot(total, vec4<f32>(1.0)) / n;
  var sq = vec4<f32>(0.0);
  for (var c = 0u; c < n4; c++) { let d = ${read("x")} - mean; sq += d * d; }
  let rstd = inverseSqrt(dot(sq, vec4<f32>(1.0)) / n + params.eps);
  for (var c = 0u; c < n4; c++) { y[base + c] = (${read("x")} - mean) * rstd * w[c] + b[c]; }
  stats[2u * r] = mean;
  stats[2u * r + 1u] = rstd;`,
    flavour,
  );
}

/** The input gradient with one thread per row, reading x and g as `flavour` says. */
function backwardInputOneThread(flavour: "vec4" | "texture"): Kernel {
  const { binding, read, params } = rowInput(flavour);
  return defineThreadRowKernel(
    "layernorm:backward-input",
    [
      binding("x"),
      ["w", "array<vec4<f32>>", "read"],
      ["stats", "array<f32>", "read"],
      binding("g_"),
      ["dx", "array<vec4<f32>>", "read_write"],
    ],
    params,
    `let n4 = params.cols / 4u;
  let base = r * n4;
  let mean = stats[2u * r];
  let rstd = stats[2u * r + 1u];
  var accG = vec4<f32>(0.0);
  var accGX = vec4<f32>(0.0);
  for (var c = 0u; c < n4; c++) {
    let gw = ${read("g_")} * w[c];
    accG += gw;
    accGX += gw * (${read("x")} - mean) * rstd;
  }
  let n = f32(params.cols);
  let mG = dot(accG, vec4<f32>(1.0)) / n;
  let mGX = dot(accGX, vec4<f32>(1.0)) / n;
  for (var c = 0u; c < n4; c++) {
    let xhat = (${read("x")} - mean) * rstd;
    dx[base + c] = rstd * (${read("g_")} * w[c] - mG - xhat * mGX);
  }`,
    flavour,
  );
}

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
  vec4: forwardOneThread("vec4"),
  texture: forwardOneThread("texture"),
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
  vec4: backwardInputOneThread("vec4"),
  texture: backwardInputOneThread("texture"),
};

/**
 * The weight- and bias-gradient kernel over `f32` or `vec4<f32>` columns read from buffers, or
 * vec4 columns read from textures (`texture`, `height` rows to a layer).
 */
function backwardParamsKernel(input: "f32" | "vec4<f32>" | "texture"): Kernel {
  const texture = input === "texture";
  const type = texture ? "vec4<f32>" : input;
  const array = `array<${type}>`;
  const rows = texture
    ? ["x", "texture_2d_array<f32>", "texture"] as const
    : ["x", array, "read"] as const;
  const read = (name: string) => texture ? `rowTexel(${name}, c, r)` : `${name}[i]`;
  return defineKernel(
    `layernorm:backward-params${input === "f32" ? "" : texture ? ":texture" : ":vec4"}`,
    [
      rows,
      ["stats", "array<f32>", "read"],
      ["g_", rows[1], rows[2]],
      ["dw", array, "read_write"],
      ["db", array, "read_write"],
    ],
    [
      ["rows", "u32"],
      ["cols", "u32"],
      ["chunk", "u32"],
      ...(texture ? [["height", "u32"] as const] : []),
    ],
    `${texture ? TEXTURE_ROW_WGSL : ""}
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  let c = g.x;
  if (c >= params.cols) { return; }
  let r0 = g.y * params.chunk;
  var accW = ${type}(0.0);
  var accB = ${type}(0.0);
  for (var r = r0; r < min(params.rows, r0 + params.chunk); r++) {
    ${texture ? "let gr = rowTexel(g_, c, r);" : "let i = r * params.cols + c;"}
    let xhat = (${read("x")} - stats[2u * r]) * stats[2u * r + 1u];
    accW += ${texture ? "gr" : "g_[i]"} * xhat;
    accB += ${texture ? "gr" : "g_[i]"};
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
export const layerNormBackwardParamsTextureKernel: Kernel = backwardParamsKernel("texture");
