/**
 * Depthwise 2-D convolution (one filter per channel, stride 1, zero padding) on channels-last
 * tensors [B, H, W, C], as ConvNeXt's 7×7 `dwconv`: the forward, the input gradient (the same
 * sum with the filter flipped) and the weight gradient's per-image partial sums. One output
 * element per invocation; adjacent invocations take adjacent channels, so loads are contiguous.
 *
 * @module
 */

import { defineKernel, type Kernel, LINEAR_INDEX } from "./kernel.ts";

/**
 * The shared Params struct: batch, height, width, channels, the filter's height and width, the
 * padding of top and left (the output has the input's size: `pad = (k - 1) / 2`) and the rows
 * that one weight-gradient invocation sums (the forward kernels ignore it).
 */
const PARAMS = [
  ["batch", "u32"],
  ["height", "u32"],
  ["width", "u32"],
  ["channels", "u32"],
  ["kh", "u32"],
  ["kw", "u32"],
  ["padH", "i32"],
  ["padW", "i32"],
  ["chunkRows", "u32"],
] as const;

/** The geometry of one depthwise convolution, the kernels' Params. */
export interface DepthwiseConvShape {
  /** Images. */
  readonly batch: number;
  /** Rows of the input and the output. */
  readonly height: number;
  /** Columns of the input and the output. */
  readonly width: number;
  /** Channels, one filter each. */
  readonly channels: number;
  /** Filter rows. */
  readonly kh: number;
  /** Filter columns. */
  readonly kw: number;
  /** Zero rows above the image. */
  readonly padH: number;
  /** Zero columns left of the image. */
  readonly padW: number;
}

/** Splits a channels-last linear index into (b, y, x, c). */
const COORDS = `
fn coords(i: u32) -> vec4<u32> {
  let c = i % params.channels;
  let p = i / params.channels;
  let x = p % params.width;
  let q = p / params.width;
  return vec4<u32>(q / params.height, q % params.height, x, c);
}
`;

/**
 * `out[b, y, x, c] = bias[c] + Σ_ij w[c, i, j] · x[b, y + i - padH, x + j - padW, c]`, zero
 * outside the image; `w` in PyTorch's [C, 1, kh, kw] layout.
 */
export const depthwiseConvKernel: Kernel = defineKernel(
  "depthwise-conv:forward",
  [
    ["x", "array<f32>", "read"],
    ["w", "array<f32>", "read"],
    ["bias", "array<f32>", "read"],
    ["out", "array<f32>", "read_write"],
  ],
  PARAMS,
  `${LINEAR_INDEX}${COORDS}
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let i = linearIndex(g, nw);
  if (i >= params.batch * params.height * params.width * params.channels) { return; }
  let p = coords(i);
  let c = p.w;
  var acc = bias[c];
  for (var ki = 0u; ki < params.kh; ki++) {
    let y = i32(p.y) + i32(ki) - params.padH;
    if (y < 0 || y >= i32(params.height)) { continue; }
    for (var kj = 0u; kj < params.kw; kj++) {
      let xx = i32(p.z) + i32(kj) - params.padW;
      if (xx < 0 || xx >= i32(params.width)) { continue; }
      let src = ((p.x * params.height + u32(y)) * params.width + u32(xx)) * params.channels + c;
      acc += w[(c * params.kh + ki) * params.kw + kj] * x[src];
    }
  }
  out[i] = acc;
}
`,
);

/**
 * The input gradient: `dx[b, y, x, c] = Σ_ij w[c, i, j] · g[b, y - i + padH, x - j + padW, c]`
 * over the output positions inside the image.
 */
export const depthwiseConvBackwardInputKernel: Kernel = defineKernel(
  "depthwise-conv:backward-input",
  [
    ["g_", "array<f32>", "read"],
    ["w", "array<f32>", "read"],
    ["dx", "array<f32>", "read_write"],
  ],
  PARAMS,
  `${LINEAR_INDEX}${COORDS}
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let i = linearIndex(g, nw);
  if (i >= params.batch * params.height * params.width * params.channels) { return; }
  let p = coords(i);
  let c = p.w;
  var acc = 0.0;
  for (var ki = 0u; ki < params.kh; ki++) {
    let y = i32(p.y) - i32(ki) + params.padH;
    if (y < 0 || y >= i32(params.height)) { continue; }
    for (var kj = 0u; kj < params.kw; kj++) {
      let xx = i32(p.z) - i32(kj) + params.padW;
      if (xx < 0 || xx >= i32(params.width)) { continue; }
      let src = ((p.x * params.height + u32(y)) * params.width + u32(xx)) * params.channels + c;
      acc += w[(c * params.kh + ki) * params.kw + kj] * g_[src];
    }
  }
  dx[i] = acc;
}
`,
);

/**
 * The weight gradient's partial sums: `dw[b, r, c, i, j] = Σ g[b, y, x, c] · x[b, y + i - padH,
 * x + j - padW, c]` over the rows y of chunk r (`chunkRows` rows each), one invocation per
 * (b, r, c, i, j), c fastest; the caller sums over (b, r). Chunks keep each invocation short and
 * its f32 sum small, however large the image.
 */
export const depthwiseConvBackwardWeightKernel: Kernel = defineKernel(
  "depthwise-conv:backward-weight",
  [
    ["g_", "array<f32>", "read"],
    ["x", "array<f32>", "read"],
    ["dw", "array<f32>", "read_write"],
  ],
  PARAMS,
  `${LINEAR_INDEX}
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let i = linearIndex(g, nw);
  let taps = params.kh * params.kw;
  let chunks = (params.height + params.chunkRows - 1u) / params.chunkRows;
  if (i >= params.batch * chunks * taps * params.channels) { return; }
  let c = i % params.channels;
  let t = (i / params.channels) % taps;
  let part = i / (params.channels * taps);
  let b = part / chunks;
  let r = part % chunks;
  let ki = i32(t / params.kw) - params.padH;
  let kj = i32(t % params.kw) - params.padW;
  // Output rows of this chunk and columns whose tap (ki, kj) lands inside the image.
  let y0 = max(u32(max(0, -ki)), r * params.chunkRows);
  let y1 = min(
    u32(max(0, min(i32(params.height), i32(params.height) - ki))),
    (r + 1u) * params.chunkRows,
  );
  let x0 = u32(max(0, -kj));
  let x1 = u32(max(0, min(i32(params.width), i32(params.width) - kj)));
  var acc = 0.0;
  for (var y = y0; y < y1; y++) {
    let row = (b * params.height + y) * params.width;
    let srow = (b * params.height + u32(i32(y) + ki)) * params.width;
    for (var xx = x0; xx < x1; xx++) {
      acc += g_[(row + xx) * params.channels + c] *
        x[(srow + u32(i32(xx) + kj)) * params.channels + c];
    }
  }
  dw[(part * params.channels + c) * taps + t] = acc;
}
`,
);
