/**
 * Packs a matmul operand from a storage buffer into an rgba32float texture array, one row of
 * the operand per texture row and four consecutive k per texel, zero past K, optionally rounded
 * to f16. Any layout packs the same way: element (z, r, k) of the operand is read at
 * `z·batchStride + r·rowStride + k·kStride`, so a transposed operand is just other
 * strides. Layers may also come in groups: layer z reads from `offset + (z / group)·groupStride
 * + (z % group)·batchStride` on (the heads of a packed attention projection: z = b·H + h). The
 * texture matmul family (`kernels/matmul.ts`) then reads only texels.
 *
 * @module
 */

import { ROUND_F16_WGSL } from "./f16_round.ts";
import {
  defineKernel,
  ELEMENTWISE_WORKGROUP,
  type Kernel,
  LINEAR_INDEX,
  type ParamField,
} from "./kernel.ts";

const kernels = new Map<string, Kernel>();

const PARAMS: readonly ParamField[] = [
  ["rows", "u32"],
  ["k", "u32"],
  ["k4", "u32"],
  ["batchStride", "u32"],
  ["rowStride", "u32"],
  ["kStride", "u32"],
  ["offset", "u32"],
  ["group", "u32"],
  ["groupStride", "u32"],
];

/**
 * The packing kernel: one invocation per texel of a layer, `g.z` the layer. Texels are visited
 * along k first when the source is contiguous in k (`kStride == 1`), else along rows, so that
 * neighbouring invocations read neighbouring addresses.
 *
 * With `vec4`, `src` is bound as `array<vec4<f32>>` and each texel is one load: for sources
 * contiguous in k whose rows hold whole vec4s (K a multiple of 4, or rows zero-padded to one)
 * and whose strides and offset are multiples of 4. On lavapipe a load whose address differs
 * between SIMD lanes is a loop over the lanes, so this does a quarter of the load loops (the
 * texel's store stays one loop).
 *
 * @param options `half`: round each value to f16 (IEEE round to nearest even, computed in f32);
 *   `vec4`: read each texel as one vec4 (conditions above; `kStride` must be 1).
 * @returns The kernel: bindings `src` (storage) and `dst` (storage texture array).
 * @example
 * ```ts
 * import { texturePackKernel } from "./texture_pack.ts";
 * console.log(texturePackKernel({ half: false }).key); // texture-pack
 * ```
 */
export function texturePackKernel(
  { half, vec4 = false }: { half: boolean; vec4?: boolean },
): Kernel {
  const key = `texture-pack${half ? ":f16" : ""}${vec4 ? ":vec4" : ""}`;
  let kernel = kernels.get(key);
  if (kernel) return kernel;
  const round = (value: string) => half ? `roundF16_(${value})` : value;
  const read = (k: string) =>
    round(`select(0.0, src[base + min(${k}, params.k - 1u) * params.kStride], ${k} < params.k)`);
  // Where the texel is: along k first (vec4, or a source contiguous in k), else along rows.
  const position = vec4
    ? "let x = i % params.k4;\n  let r = i / params.k4;"
    : `var x = i % params.k4;
  var r = i / params.k4;
  if (params.kStride != 1u) {
    r = i % params.rows;
    x = i / params.rows;
  }`;
  const texel = vec4
    ? `let v = src[base / 4u + x];
  let texel = vec4<f32>(${["x", "y", "z", "w"].map((c) => round(`v.${c}`)).join(", ")});`
    : `let k = 4u * x;
  let texel = vec4<f32>(${read("k")}, ${read("k + 1u")}, ${read("k + 2u")}, ${read("k + 3u")});`;
  kernel = defineKernel(
    key,
    [
      ["src", vec4 ? "array<vec4<f32>>" : "array<f32>", "read"],
      ["dst", "texture_storage_2d_array<rgba32float, write>", "storage_texture"],
    ],
    PARAMS,
    `${half ? ROUND_F16_WGSL : ""}${LINEAR_INDEX}
@compute @workgroup_size(${ELEMENTWISE_WORKGROUP})
fn main(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let i = linearIndex(g, nw);
  if (i >= params.rows * params.k4) { return; }
  ${position}
  let base = params.offset + (g.z / params.group) * params.groupStride +
    (g.z % params.group) * params.batchStride + r * params.rowStride;
  ${texel}
  textureStore(dst, vec2<u32>(x, r), g.z, texel);
}
`,
  );
  kernels.set(key, kernel);
  return kernel;
}
