/**
 * Row kernels (softmax, layer norm: a reduction along each row, then a pass that uses it) in
 * three flavours for CPU and GPU adapters; `thread` and `group` come from one body:
 *
 * - `thread`: one invocation per row, for CPU adapters. Each invocation walks its row
 *   sequentially; rows are many (37824 attention rows at ViT-B batch 16) and short.
 * - `vec4`: `thread` with the row read as vec4s, for CPU adapters. On lavapipe a load whose
 *   address differs between the SIMD lanes is a loop over the lanes, one per load whatever its
 *   width, so four columns per load do a quarter of those loops. Its bodies are written
 *   separately ({@link defineThreadRowKernel}).
 * - `texture`: `vec4` with the rows read through rgba32float textures, for software adapters
 *   whose rows copy into textures (256-byte rows). A texel fetch is one gather for all lanes,
 *   where even a vec4 storage load loops over them; the copy into the texture costs less than
 *   the loads it saves, and a row kernel reads its rows two or three times.
 * - `group`: one workgroup of {@link ROW_GROUP} invocations per row, for GPUs. Invocations
 *   stride across the row, so neighbours read neighbouring addresses, and reductions meet in
 *   workgroup memory; one invocation per row would read with a stride of a whole row. On
 *   lavapipe it is the other way round: the group flavour is several times slower than `thread`,
 *   because its barriers are expensive there (figures in docs/performance.md).
 *
 * @module
 */

import {
  type BindingAccess,
  defineKernel,
  type Kernel,
  LINEAR_INDEX,
  type ParamField,
} from "./kernel.ts";

/**
 * Which invocations share a row: one alone (`thread`), one alone reading four columns per load
 * (`vec4`) or texel (`texture`), or a whole workgroup (`group`).
 */
export type RowFlavour = "thread" | "vec4" | "group" | "texture";

/** Invocations per row in the `group` flavour. */
export const ROW_GROUP = 128;

/** What a row-kernel body may use besides `r` (the row) and `params.cols`. */
export interface RowCode {
  /** `for` header visiting this invocation's columns as `c`. */
  readonly forCols: string;
  /** The sum of `expr` over the row's invocations (every invocation gets it). */
  sum(expr: string): string;
  /** The maximum of `expr` over the row's invocations. */
  max(expr: string): string;
  /** A condition true for exactly one invocation of the row (for per-row stores). */
  readonly first: string;
}

const GROUP_HELPERS = `
var<workgroup> red: array<f32, ${ROW_GROUP}>;

fn groupSum(t: u32, v: f32) -> f32 {
  red[t] = v;
  workgroupBarrier();
  for (var s = ${ROW_GROUP / 2}u; s > 0u; s >>= 1u) {
    if (t < s) { red[t] += red[t + s]; }
    workgroupBarrier();
  }
  let total = red[0];
  workgroupBarrier();
  return total;
}

fn groupMax(t: u32, v: f32) -> f32 {
  red[t] = v;
  workgroupBarrier();
  for (var s = ${ROW_GROUP / 2}u; s > 0u; s >>= 1u) {
    if (t < s) { red[t] = max(red[t], red[t + s]); }
    workgroupBarrier();
  }
  let best = red[0];
  workgroupBarrier();
  return best;
}
`;

/**
 * Both flavours of a row kernel. `params` must start with `rows` and `cols`.
 *
 * @param key Cache key prefix.
 * @param bindings Storage bindings, as for {@link defineKernel}.
 * @param params Uniform fields, `rows` and `cols` first.
 * @param body The per-row WGSL, given the flavour's loop header and reductions.
 * @returns The kernel of each flavour.
 * @example
 * ```ts
 * import { defineRowKernels } from "./rows.ts";
 * const rowSum = defineRowKernels(
 *   "row-sum",
 *   [["x", "array<f32>", "read"], ["y", "array<f32>", "read_write"]],
 *   [["rows", "u32"], ["cols", "u32"]],
 *   (k) => `var acc = 0.0;
 *   ${k.forCols} { acc += x[r * params.cols + c]; }
 *   let total = ${k.sum("acc")};
 *   if (${k.first}) { y[r] = total; }`,
 * );
 * console.log(rowSum.group.code.includes("groupSum"));
 * ```
 */
export function defineRowKernels(
  key: string,
  bindings: readonly (readonly [string, string, "read" | "read_write"])[],
  params: readonly ParamField[],
  body: (k: RowCode) => string,
): Record<"thread" | "group", Kernel> {
  const thread = body({
    forCols: "for (var c = 0u; c < params.cols; c++)",
    sum: (e) => `(${e})`,
    max: (e) => `(${e})`,
    first: "true",
  });
  const group = body({
    forCols: `for (var c = t; c < params.cols; c += ${ROW_GROUP}u)`,
    sum: (e) => `groupSum(t, ${e})`,
    max: (e) => `groupMax(t, ${e})`,
    first: "t == 0u",
  });
  return {
    thread: defineThreadRowKernel(key, bindings, params, thread, "thread"),
    group: defineKernel(
      `${key}:group`,
      bindings,
      params,
      `${GROUP_HELPERS}
@compute @workgroup_size(${ROW_GROUP})
fn main(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) nw: vec3<u32>,
  @builtin(local_invocation_index) t: u32,
) {
  let r = wg.x + wg.y * nw.x;
  if (r >= params.rows) { return; }
  ${group}
}
`,
    ),
  };
}

/**
 * A row kernel with one invocation per row (the `thread`, `vec4` and `texture` flavours), whose
 * `body` sees its row as `r`. The `vec4` bodies bind their rows as `array<vec4<f32>>`; where a
 * row need not start on a multiple of four, {@link VEC4_ROW_WGSL} helps with the ends. The
 * `texture` bodies bind their input rows as `texture_2d_array<f32>` and read them with
 * {@link TEXTURE_ROW_WGSL}'s `rowTexel` (their params end with `height`).
 *
 * @param key Cache key prefix.
 * @param bindings Storage bindings, as for {@link defineKernel}.
 * @param params Uniform fields, `rows` first.
 * @param body The per-row WGSL.
 * @param flavour The flavour, for the key.
 * @returns The kernel.
 * @example
 * ```ts
 * import { defineThreadRowKernel } from "./rows.ts";
 * const rowSum = defineThreadRowKernel(
 *   "row-sum4",
 *   [["x", "array<vec4<f32>>", "read"], ["y", "array<f32>", "read_write"]],
 *   [["rows", "u32"], ["cols", "u32"]],
 *   `var acc = vec4<f32>(0.0);
 *   for (var q = 0u; q < params.cols / 4u; q++) { acc += x[r * params.cols / 4u + q]; }
 *   y[r] = dot(acc, vec4<f32>(1.0));`,
 * );
 * console.log(rowSum.key); // row-sum4:vec4
 * ```
 */
export function defineThreadRowKernel(
  key: string,
  bindings: readonly (readonly [string, string, BindingAccess])[],
  params: readonly ParamField[],
  body: string,
  flavour: "thread" | "vec4" | "texture" = "vec4",
): Kernel {
  const helpers = flavour === "vec4"
    ? VEC4_ROW_WGSL
    : flavour === "texture"
    ? TEXTURE_ROW_WGSL
    : "";
  return defineKernel(
    `${key}:${flavour}`,
    bindings,
    params,
    `${LINEAR_INDEX}${helpers}
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let r = linearIndex(g, nw);
  if (r >= params.rows) { return; }
  ${body}
}
`,
  );
}

/**
 * WGSL helpers for rows that start anywhere (element `base` to `end`, exclusive) read through
 * an `array<vec4<f32>>`: `rowVec4s` gives the vec4s that overlap the row, `inRow` masks the
 * lanes of vec4 `q` that lie in it. Stores go to full vec4s from `(base + 3) / 4` to `end / 4`
 * and element by element at the two ends, so that no invocation writes into a neighbour's row.
 */
export const VEC4_ROW_WGSL = `
fn rowVec4s(base: u32, end: u32) -> vec2<u32> { return vec2<u32>(base / 4u, (end + 3u) / 4u); }
fn inRow(q: u32, base: u32, end: u32) -> vec4<bool> {
  let i = vec4<u32>(4u * q) + vec4<u32>(0u, 1u, 2u, 3u);
  return (i >= vec4<u32>(base)) & (i < vec4<u32>(end));
}
`;

/**
 * WGSL helper of the `texture` flavour: `rowTexel(t, q, r)` is texel `q` (columns 4q to 4q + 3)
 * of row `r`, where rows lie `params.height` to a layer.
 */
export const TEXTURE_ROW_WGSL = `
fn rowTexel(t: texture_2d_array<f32>, q: u32, r: u32) -> vec4<f32> {
  return textureLoad(t, vec2<u32>(q, r % params.height), r / params.height, 0);
}
`;

/**
 * Workgroups for `rows` rows in a flavour, folded into two dimensions past the 65535 limit.
 *
 * @param rows Number of rows.
 * @param flavour The kernel flavour.
 * @returns Workgroups in x and y.
 */
export function rowGrid(rows: number, flavour: RowFlavour): [number, number] {
  const groups = flavour === "group" ? rows : Math.ceil(rows / 256);
  if (groups <= 65535) return [groups, 1];
  return [65535, Math.ceil(groups / 65535)];
}
