/**
 * Dropout with a counter-based RNG: the keep mask is a hash of (seed, element index), so the
 * backward pass regenerates it instead of storing it.
 *
 * @module
 */

import { defineKernel, type Kernel, LINEAR_INDEX } from "./kernel.ts";

/**
 * WGSL of the mask hash (PCG-style permutation of index and seed); tests check the mask by its
 * statistics (keep rate, scale), not by a copy of the hash.
 */
export const DROPOUT_HASH = `
fn hash_(v: u32) -> u32 {
  var s = v * 747796405u + 2891336453u;
  let w = ((s >> ((s >> 28u) + 4u)) ^ s) * 277803737u;
  return (w >> 22u) ^ w;
}
`;

/** `out[i] = keep(i) ? x[i] / (1 - p) : 0`, keep when hash(i ^ hash(seed)) >= p * 2^32. */
export const dropoutKernel: Kernel = defineKernel(
  "dropout",
  [["x", "array<f32>", "read"], ["out", "array<f32>", "read_write"]],
  [["n", "u32"], ["seed", "u32"], ["threshold", "u32"], ["scale", "f32"]],
  `${LINEAR_INDEX}${DROPOUT_HASH}
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let i = linearIndex(g, nw);
  if (i >= params.n) { return; }
  let h = hash_(i ^ hash_(params.seed));
  out[i] = select(0.0, x[i] * params.scale, h >= params.threshold);
}
`,
);
