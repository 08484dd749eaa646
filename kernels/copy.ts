/**
 * Strided copy and row gather: the kernels behind permute, slice, concat and the CLS-token
 * gather. The copy walks `shape` and maps each coordinate through source and destination
 * strides, so one kernel serves every layout change.
 *
 * @module
 */

import { defineKernel, type Kernel, LINEAR_INDEX } from "./kernel.ts";

const COPY_PARAMS = [
  ["n", "u32"],
  ["srcOffset", "u32"],
  ["dstOffset", "u32"],
  ["shape0", "vec4u"],
  ["shape1", "vec4u"],
  ["srcStrides0", "vec4u"],
  ["srcStrides1", "vec4u"],
  ["dstStrides0", "vec4u"],
  ["dstStrides1", "vec4u"],
] as const;

const copyKernels = new Map<string, Kernel>();

/**
 * `dst[dstOffset + coord·dstStrides] = src[srcOffset + coord·srcStrides]` over `shape`, for a
 * shape of `rank` dimensions stored last in the 8-entry parameter vectors. Each rank has its own
 * unrolled kernel: a loop over all 8 dimensions with run-time indices into local arrays made the
 * strided copies a large share of a train step on lavapipe (figures in docs/performance.md).
 *
 * With `run` > 1 each invocation copies `run` consecutive elements of the innermost dimension,
 * which must then be contiguous in both layouts, with `params.shape` giving its length in runs:
 * the coordinate arithmetic is shared by the run.
 *
 * With `vec4`, `src` and `dst` are bound as `array<vec4<f32>>` and offsets, strides and the
 * innermost length count vec4s: for copies whose innermost dimension is contiguous in both
 * layouts and whose offsets and other strides are multiples of 4. On lavapipe a load or store
 * costs one loop over the SIMD lanes whatever its width, so a vec4 moves four floats for the
 * price of one.
 *
 * @param layout `rank`: dimensions, 1 to 8 (callers merge dimensions that are contiguous in
 *   both); `run`: elements per invocation along the innermost dimension; `vec4`: elements are
 *   vec4s.
 * @returns The kernel.
 */
export function stridedCopyKernel(
  { rank, run = 1, vec4 = false }: { rank: number; run?: number; vec4?: boolean },
): Kernel {
  const cacheKey = `${rank}:${run}${vec4 ? ":vec4" : ""}`;
  let kernel = copyKernels.get(cacheKey);
  if (kernel) return kernel;
  if (!Number.isInteger(rank) || rank < 1 || rank > 8) throw new Error(`copy rank ${rank}`);
  const field = (d: number) => `${d < 4 ? 0 : 1}.${"xyzw"[d % 4]}`;
  const steps: string[] = [];
  for (let d = 7; d > 8 - rank; d--) {
    const f = field(d);
    // The innermost dimension counts runs: its element stride is 1 in both layouts.
    const [ss, ds] = d === 7 && run > 1
      ? [`${run}u`, `${run}u`]
      : [`params.srcStrides${f}`, `params.dstStrides${f}`];
    steps.push(
      `{ let c = rem % params.shape${f}; rem = rem / params.shape${f}; ` +
        `si += c * ${ss}; di += c * ${ds}; }`,
    );
  }
  const f0 = field(8 - rank);
  const [ss0, ds0] = rank === 1 && run > 1
    ? [`${run}u`, `${run}u`]
    : [`params.srcStrides${f0}`, `params.dstStrides${f0}`];
  steps.push(`si += rem * ${ss0};`, `di += rem * ${ds0};`);
  const copies = Array.from({ length: run }, (_, j) => `dst[di + ${j}u] = src[si + ${j}u];`);
  const type = vec4 ? "array<vec4<f32>>" : "array<f32>";
  kernel = defineKernel(
    `copy:strided:${rank}${run > 1 ? `:run${run}` : ""}${vec4 ? ":vec4" : ""}`,
    [["src", type, "read"], ["dst", type, "read_write"]],
    COPY_PARAMS,
    `${LINEAR_INDEX}
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let i = linearIndex(g, nw);
  if (i >= params.n) { return; }
  var rem = i;
  var si = params.srcOffset;
  var di = params.dstOffset;
  ${steps.join("\n  ")}
  ${copies.join("\n  ")}
}
`,
  );
  copyKernels.set(cacheKey, kernel);
  return kernel;
}

/**
 * The same copy over fewer dimensions: drops dimensions of size 1 and merges a dimension into
 * the next when both source and destination step through them contiguously (a permute of
 * [B, S, H, D] to [B, H, S, D] keeps D whole, a slice keeps its rows whole).
 *
 * @param shape The copy's shape.
 * @param srcStrides Source strides per dimension.
 * @param dstStrides Destination strides per dimension.
 * @returns The merged shape and strides (at least one dimension).
 * @example
 * ```ts
 * import { mergeCopyDims } from "./copy.ts";
 * // A contiguous [2, 3, 4] copy is one run of 24.
 * console.log(mergeCopyDims([2, 3, 4], [12, 4, 1], [12, 4, 1])); // { shape: [24], ... }
 * ```
 */
export function mergeCopyDims(
  shape: readonly number[],
  srcStrides: readonly number[],
  dstStrides: readonly number[],
): { shape: number[]; srcStrides: number[]; dstStrides: number[] } {
  const out = { shape: [] as number[], srcStrides: [] as number[], dstStrides: [] as number[] };
  for (let d = 0; d < shape.length; d++) {
    if (shape[d] === 1) continue;
    const last = out.shape.length - 1;
    if (
      last >= 0 && out.srcStrides[last] === srcStrides[d] * shape[d] &&
      out.dstStrides[last] === dstStrides[d] * shape[d]
    ) {
      out.shape[last] *= shape[d];
      out.srcStrides[last] = srcStrides[d];
      out.dstStrides[last] = dstStrides[d];
    } else {
      out.shape.push(shape[d]);
      out.srcStrides.push(srcStrides[d]);
      out.dstStrides.push(dstStrides[d]);
    }
  }
  if (out.shape.length === 0) return { shape: [1], srcStrides: [0], dstStrides: [0] };
  return out;
}

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
 * Backward of the gather: `dx[index[j], :] += g[j, :]` for every j. One thread per (j, column):
 * the first j of each distinct index adds the sum of all rows gathered from that index, so no
 * two threads write one element and no atomics are needed. Only gathered rows are visited (the
 * caller zero-fills `dx`): one thread per element of `dx` scanning the index list cost a
 * storage load per thread and entry.
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
  if (i >= params.count * params.cols) { return; }
  let j = i / params.cols;
  let c = i % params.cols;
  let r = index[j];
  for (var e = 0u; e < j; e++) {
    if (index[e] == r) { return; }
  }
  var acc = 0.0;
  for (var e = j; e < params.count; e++) {
    if (index[e] == r) { acc += g_[e * params.cols + c]; }
  }
  dx[r * params.cols + c] += acc;
}
`,
);
