/**
 * Row kernels (softmax, layer norm: a reduction along each row, then a pass that uses it) in two
 * flavours that suit opposite hardware, from one body:
 *
 * - `thread`: one invocation per row, for CPU adapters. Each invocation walks its row
 *   sequentially; rows are many (37824 attention rows at ViT-B batch 16) and short.
 * - `group`: one workgroup of {@link ROW_GROUP} invocations per row, for GPUs. Invocations
 *   stride across the row, so neighbours read neighbouring addresses, and reductions meet in
 *   workgroup memory. One invocation per row there reads with a stride of a whole row and ran
 *   layer norm at 4 GB/s on an H200. The other way round, on lavapipe the group flavour ran
 *   softmax at 0.27 GB/s against 1.1 GB/s for `thread` (its barriers are expensive there).
 *
 * @module
 */

import { defineKernel, type Kernel, LINEAR_INDEX, type ParamField } from "./kernel.ts";

/** Which invocations share a row: one alone, or a whole workgroup. */
export type RowFlavour = "thread" | "group";

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
): Record<RowFlavour, Kernel> {
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
    thread: defineKernel(
      `${key}:thread`,
      bindings,
      params,
      `${LINEAR_INDEX}
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let r = linearIndex(g, nw);
  if (r >= params.rows) { return; }
  ${thread}
}
`,
    ),
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
 * Workgroups for `rows` rows in a flavour, folded into two dimensions past the 65535 limit.
 *
 * @param rows Number of rows.
 * @param flavour The kernel flavour.
 * @returns Workgroups in x and y.
 */
export function rowGrid(rows: number, flavour: RowFlavour): [number, number] {
  const groups = flavour === "thread" ? Math.ceil(rows / 256) : rows;
  if (groups <= 65535) return [groups, 1];
  return [65535, Math.ceil(groups / 65535)];
}
