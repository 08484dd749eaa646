/**
 * The backend for hardware GPUs: workgroup-tiled matmuls that stage blocks of A and B in
 * workgroup memory, one element per invocation elsewhere, a workgroup per row for softmax and
 * layer norm. Attention is composed from the primitives.
 *
 * @module
 */

import {
  type MatmulShape,
  type MatmulVariant,
  REGISTER_VARIANTS,
  TILED_VARIANTS,
  variantName,
  VEC4_VARIANTS,
  vec4Eligible,
  VEC4TN_VARIANTS,
  vec4tnEligible,
} from "../../../kernels/matmul.ts";
import type { BackendKind, MatmulCall, MatmulCheck } from "../../core/backend.ts";
import { WebGpuBackend } from "../webgpu/kernels.ts";
import { dispatchMatmul } from "../webgpu/dispatch_matmul.ts";
import type { AdapterProfile } from "../../core/profile.ts";
import { texturesFitFamily } from "../webgpu/texture_matmul.ts";
import { matmulVariantFor } from "../../core/tuning.ts";

/** The backend for hardware adapters. */
export class GpuBackend extends WebGpuBackend {
  /** `gpu`. */
  readonly name: string = "gpu";
  /** One element per invocation: GPUs coalesce neighbouring invocations' loads. */
  readonly vectorLoads = false;
  /** A workgroup per row. */
  readonly rowFlavour = "group" as const;
  /** Every tiled variant. */
  readonly matmulChecks: readonly MatmulCheck[] = TILED_VARIANTS.map((variant) => ({
    name: `matmul ${variantName(variant)}`,
    variant,
  }));

  /**
   * Creates the backend.
   *
   * @param profile What the adapter can do.
   */
  constructor(readonly profile: AdapterProfile) {
    super();
  }

  /**
   * The tiled variant for a shape, from a sweep on an H200 (`docs/performance.md`): 128×128
   * blocks for wide products, 128×64 where they still make two workgroups per multiprocessor,
   * 64×64 for small products.
   */
  variantFor(s: MatmulShape): MatmulVariant {
    const [t4x4, t8x8, , t8x4] = TILED_VARIANTS;
    if (s.m >= 1024 && s.n >= 2048) return t8x8;
    const blocks = s.batch * Math.ceil(s.m / 128) * Math.ceil(s.n / 64);
    return blocks >= 264 ? t8x4 : t4x4;
  }

  /** Whether a variant can run a shape on this backend. */
  canRun(v: MatmulVariant, s: MatmulShape): boolean {
    // Texture variants run here only when a test forces them.
    if (v.family === "texturetn") return s.transA && !s.transB && texturesFitFamily(v.family, s);
    if (v.family === "texturenn") return !s.transA && !s.transB && texturesFitFamily(v.family, s);
    if (v.family === "texture") return texturesFitFamily(v.family, s);
    if (v.family === "vec4") return vec4Eligible(s);
    if (v.family === "vec4tn") return vec4tnEligible(s);
    return true;
  }

  /** The variants worth timing for a shape. */
  candidates(s: MatmulShape): MatmulVariant[] {
    const vec4 = vec4Eligible(s) ? VEC4_VARIANTS : vec4tnEligible(s) ? VEC4TN_VARIANTS : [];
    return [...TILED_VARIANTS, ...vec4, REGISTER_VARIANTS[0]];
  }

  /** GPUs run every layout as it comes. */
  runsAsNT(_s: MatmulShape): boolean {
    return false;
  }

  /** Records one product with the variant in force. */
  matmul(call: MatmulCall): void {
    const variant = matmulVariantFor(call.shape);
    dispatchMatmul({ ...call, variant });
  }

  /** Separate products: the tiled kernel has no column sums. */
  linearGrads(): null {
    return null;
  }

  /** Composed from the primitives. */
  selfAttention(): null {
    return null;
  }
}

/** The GPU kind: the tiled kernels, on hardware adapters. */
export const gpuBackends: BackendKind = {
  name: "gpu",
  candidates: (profile) => profile.software ? [] : [new GpuBackend(profile)],
};
