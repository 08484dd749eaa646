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
import { defineKernel, ELEMENTWISE_WORKGROUP, type Kernel, LINEAR_INDEX } from "./kernel.ts";

const kernels = new Map<boolean, Kernel>();

/**
 * The packing kernel: one invocation per texel of a layer, `g.z` the layer. Texels are visited
 * along k first when the source is contiguous in k (`kStride == 1`), else along rows, so that
 * neighbouring invocations read neighbouring addresses.
 *
 * @param half Round each value to f16 (IEEE round to nearest even, computed in f32).
 * @returns The kernel: bindings `src` (storage) and `dst` (storage texture array).
 * @example
 * ```ts
 * import { texturePackKernel } from "./texture_pack.ts";
 * console.log(texturePackKernel(false).key); // texture-pack
 * ```
 */
export function texturePackKernel(half: boolean): Kernel {
  let kernel = kernels.get(half);
  if (kernel) return kernel;
  const read = (k: string) => {
    const value =
      `select(0.0, src[base + min(${k}, params.k - 1u) * params.kStride], ${k} < params.k)`;
    return half ? `roundF16_(${value})` : value;
  };
  kernel = defineKernel(
    `texture-pack${half ? ":f16" : ""}`,
    [
      ["src", "array<f32>", "read"],
      ["dst", "texture_storage_2d_array<rgba32float, write>", "storage_texture"],
    ],
    [
      ["rows", "u32"],
      ["k", "u32"],
      ["k4", "u32"],
      ["batchStride", "u32"],
      ["rowStride", "u32"],
      ["kStride", "u32"],
      ["offset", "u32"],
      ["group", "u32"],
      ["groupStride", "u32"],
    ],
    `${half ? ROUND_F16_WGSL : ""}${LINEAR_INDEX}
@compute @workgroup_size(${ELEMENTWISE_WORKGROUP})
fn main(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let i = linearIndex(g, nw);
  if (i >= params.rows * params.k4) { return; }
  var x = i % params.k4;
  var r = i / params.k4;
  if (params.kStride != 1u) {
    r = i % params.rows;
    x = i / params.rows;
  }
  let k = 4u * x;
  let base = params.offset + (g.z / params.group) * params.groupStride +
    (g.z % params.group) * params.batchStride + r * params.rowStride;
  let texel = vec4<f32>(${read("k")}, ${read("k + 1u")}, ${read("k + 2u")}, ${read("k + 3u")});
  textureStore(dst, vec2<u32>(x, r), g.z, texel);
}
`,
  );
  kernels.set(half, kernel);
  return kernel;
}
