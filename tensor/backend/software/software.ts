/**
 * The backend for software adapters (Mesa's lavapipe and llvmpipe, Chrome's SwiftShader): CPU
 * cores running SIMD lanes. Products read their operands from textures (a texel fetch is one
 * gather for all lanes, where a storage load loops over them) with workgroups one vector
 * wide; row kernels read their rows from textures too; maps, copies, row kernels and the
 * optimizer take four elements per invocation; an NN product whose operands do not fit in
 * textures runs as NT on a transposed copy of B.
 *
 * @module
 */

import {
  type MatmulShape,
  type MatmulVariant,
  REGISTER_VARIANTS,
  smallTile,
  TEXTURE_VARIANTS,
  TEXTURENN_VARIANTS,
  TEXTURETN_VARIANTS,
  TILED_VARIANTS,
  variantName,
  VEC4_VARIANTS,
  vec4Eligible,
  VEC4TN_VARIANTS,
  vec4tnEligible,
} from "../../../kernels/matmul.ts";
import { contiguousStrides, Tensor } from "../../core/tensor.ts";
import type { BackendKind, MatmulCall, MatmulCheck } from "../../core/backend.ts";
import { WebGpuBackend } from "../webgpu/kernels.ts";
import { dispatchMatmul } from "../webgpu/dispatch_matmul.ts";
import type { AdapterProfile } from "../../core/profile.ts";
import { fusedAttention } from "./fused_attention.ts";
import { textureAttention } from "./texture_attention.ts";
import { texturesFitFamily } from "../webgpu/texture_matmul.ts";
import { f16EmulationOverride, matmulVariantFor, variantForced } from "../../core/tuning.ts";

/**
 * Below this many multiply-adds the smallest tile is used: big tiles compile slowly and gain
 * nothing.
 */
const SMALL_MATMUL = 1 << 20;

/**
 * Below this many multiply-adds a TN product (a weight gradient) takes its family's medium tile:
 * where Mesa's shader cache is cold, LLVM compiles the big TN tile several times longer than the
 * medium one, longer than the medium tile's slower products cost a small model's whole run.
 * ViT-Tiny's and larger models' weight gradients are above it.
 */
const MEDIUM_TN_MATMUL = 1 << 28;

/** Options of {@link SoftwareBackend}. */
export interface SoftwareOptions {
  /**
   * Read matmul operands from textures (default true). Off, products use the storage-buffer
   * register kernels: the fallback where the start-up check finds textures wrong.
   */
  readonly textures?: boolean;
  /**
   * Four elements per invocation in maps, copies, row kernels and the optimizer (default
   * true). Off, one element per invocation: the fallback where vector loads are wrong.
   */
  readonly vectorLoads?: boolean;
}

/** The backend for CPU adapters. */
export class SoftwareBackend extends WebGpuBackend {
  /** `software`. */
  readonly name: string = "software";
  /** Four elements per invocation where lengths allow. */
  readonly vectorLoads: boolean;
  /** One invocation per row: rows read from textures, else vec4 loads where those are on. */
  readonly rowFlavour: "texture" | "vec4" | "thread";
  /** Whether products read operands from textures. */
  readonly textures: boolean;
  /**
   * The variants the start-up check runs: the `texture` family's small tile (lane-wide) in the
   * NT layout, and the plainest storage tile, which runs every shape; the first-use check
   * (`tensor/first_use.ts`) runs the others.
   */
  readonly matmulChecks: readonly MatmulCheck[];
  readonly #laneWide = new Map<readonly MatmulVariant[], readonly MatmulVariant[]>();

  /**
   * Creates the backend.
   *
   * @param profile What the adapter can do.
   * @param options Which paths to use.
   */
  constructor(readonly profile: AdapterProfile, options: SoftwareOptions = {}) {
    super();
    this.textures = options.textures ?? true;
    this.vectorLoads = options.vectorLoads ?? true;
    this.rowFlavour = this.textures ? "texture" : this.vectorLoads ? "vec4" : "thread";
    // The texture family's small tile in the layout small products take it for (a driver that
    // gets textures wrong gets them wrong there, and the next candidate runs without them),
    // and the plainest storage tile, which runs every shape.
    const textures: [readonly MatmulVariant[], boolean, boolean][] = this.textures
      ? [[TEXTURE_VARIANTS, false, true]]
      : [];
    const plainest = smallTile(REGISTER_VARIANTS);
    this.matmulChecks = [
      ...textures.map(([family, transA, transB]) => {
        const variant = smallTile(this.#wide(family));
        return { name: `matmul ${variantName(variant)}`, variant, layouts: [[transA, transB]] };
      }),
      { name: `matmul ${variantName(plainest)}`, variant: plainest },
    ] as MatmulCheck[];
  }

  /** A texture family with workgroups one SIMD vector wide (a narrower one leaves lanes idle). */
  #wide(family: readonly MatmulVariant[]): readonly MatmulVariant[] {
    const lanes = this.profile.simdLanes;
    if (family.every((v) => v.workgroup === lanes)) return family;
    let wide = this.#laneWide.get(family);
    if (!wide) {
      wide = family.map((v) => ({ ...v, workgroup: lanes }));
      this.#laneWide.set(family, wide);
    }
    return wide;
  }

  /**
   * The texture family for a shape, lane-wide: `texturetn` for TN and `texturenn` for NN (both
   * read B as stored, rows of K, so neither transposes it), `texture` for the rest.
   */
  #textureFamily(s: MatmulShape): readonly MatmulVariant[] {
    return this.#wide(
      s.transA && !s.transB
        ? TEXTURETN_VARIANTS
        : !s.transA && !s.transB
        ? TEXTURENN_VARIANTS
        : TEXTURE_VARIANTS,
    );
  }

  /**
   * Whether a shape's operands go to textures: textures are on and both operands fit.
   *
   * @param s The shape.
   * @returns True where the texture families run it.
   */
  texturesFit(s: MatmulShape): boolean {
    return this.textures && texturesFitFamily(this.#textureFamily(s)[0].family, s);
  }

  /** The storage-kernel variants that can run a shape, best-known first, small tile last. */
  #storageFamily(s: MatmulShape): readonly MatmulVariant[] {
    if (vec4Eligible(s)) return VEC4_VARIANTS;
    if (vec4tnEligible(s)) return VEC4TN_VARIANTS;
    return REGISTER_VARIANTS;
  }

  /** The texture family where operands fit, else a storage one; small products: the small tile. */
  variantFor(s: MatmulShape): MatmulVariant {
    const family = this.texturesFit(s) ? this.#textureFamily(s) : this.#storageFamily(s);
    const macs = s.batch * s.m * s.n * s.k;
    if (macs < SMALL_MATMUL) return family[family.length - 1];
    return family[0].family === "texturetn" && macs < MEDIUM_TN_MATMUL ? family[1] : family[0];
  }

  /** Whether a variant can run a shape on this backend. */
  canRun(v: MatmulVariant, s: MatmulShape): boolean {
    if (v.family === "texture") return this.texturesFit(s);
    if (v.family === "texturetn") return this.texturesFit(s) && s.transA && !s.transB;
    if (v.family === "texturenn") return this.texturesFit(s) && !s.transA && !s.transB;
    return !v.family.startsWith("vec4") || this.#storageFamily(s).includes(v);
  }

  /** The variants worth timing for a shape. */
  candidates(s: MatmulShape): MatmulVariant[] {
    const family = this.#storageFamily(s);
    const vec4 = family === REGISTER_VARIANTS ? [] : [...family];
    const textures = !this.texturesFit(s)
      ? []
      : !s.transA && !s.transB
      ? [...this.#textureFamily(s), ...this.#wide(TEXTURE_VARIANTS)]
      : [...this.#textureFamily(s)];
    return [...textures, ...vec4, ...REGISTER_VARIANTS, TILED_VARIANTS[0]];
  }

  /**
   * Whether an NN product runs as NT on a transposed copy of B: the vec4 NT kernel beats the
   * NN register kernel by more than the copy costs (1/M of the product). Only for products
   * whose operands do not fit in textures (those run every layout alike), and not while a
   * variant is forced, so that tests reach the kernel they ask for.
   *
   * @param s The shape.
   * @returns True where {@link matmul} rewrites the product.
   */
  runsAsNT(s: MatmulShape): boolean {
    return !variantForced() && !this.texturesFit(s) && !s.transA && !s.transB &&
      s.k % 4 === 0 && s.m >= 64 && s.batch * s.m * s.n * s.k >= SMALL_MATMUL;
  }

  /** Records one product, operands rounded to f16 up front and NN as NT where that pays. */
  matmul(call: MatmulCall): void {
    const { shape: s, a, b, out, alpha, bias, half } = call;
    const variant = matmulVariantFor(s);
    // Half precision rounds each operand once, up front, and runs the f32 kernel: the same
    // values as rounding every load in the inner loop, without its cost. Texture operands are
    // rounded as they are packed; a test that forces a rounding path gets the kernel's.
    const preround = half && f16EmulationOverride() === null &&
      !variant.family.startsWith("texture");
    const a2 = preround ? this.#roundedF16(a) : a;
    let b2 = preround ? this.#roundedF16(b) : b;
    const kernelHalf = half && !preround;
    if (this.runsAsNT(s)) {
      const bt = this.#transposedCopy(b2);
      if (b2 !== b) b2.dispose();
      b2 = bt;
      const nt = { ...s, transB: true };
      const v = matmulVariantFor(nt);
      dispatchMatmul({ variant: v, shape: nt, a: a2, b: b2, out, alpha, bias, half: kernelHalf });
    } else {
      dispatchMatmul({ variant, shape: s, a: a2, b: b2, out, alpha, bias, half: kernelHalf });
    }
    if (a2 !== a) a2.dispose();
    if (b2 !== b) b2.dispose();
  }

  /**
   * A Linear layer's weight and bias gradients from one `texturetn` product, which sums g's
   * columns as it reads them; null where the product would not run as `texturetn`.
   */
  linearGrads(g: Tensor, x: Tensor, alpha: number, half: boolean): [Tensor, Tensor] | null {
    const [rows, n] = g.shape;
    const k = x.shape[1];
    const s: MatmulShape = { batch: 1, m: n, k: rows, n: k, transA: true, transB: false };
    const variant = matmulVariantFor(s);
    if (rows === 0 || n === 0 || k === 0 || variant.family !== "texturetn") return null;
    const dw = Tensor.empty([n, k]);
    const db = Tensor.empty([n]);
    dispatchMatmul({ variant, shape: s, a: g, b: x, out: dw, alpha, half, sums: db });
    return [dw, db];
  }

  /**
   * Fused attention kernels where the head fits them, else attention by texture products; null
   * where neither runs (no textures).
   */
  selfAttention(
    qkv: Tensor,
    heads: number,
    alpha: number,
    grad: boolean,
    half = false,
  ): Tensor | null {
    const fused = this.textures
      ? fusedAttention(qkv, heads, alpha, grad, half, this.profile.simdLanes)
      : null;
    return fused ?? textureAttention(this, qkv, heads, alpha, grad, half);
  }

  /** `t` rounded to f16 and back, outside autograd. */
  #roundedF16(t: Tensor): Tensor {
    const out = Tensor.empty(t.shape);
    this.map("roundF16", [t, out], t.size, 0, false);
    return out;
  }

  /** A contiguous copy of `b` [..., K, N] as [..., N, K], outside autograd. */
  #transposedCopy(b: Tensor): Tensor {
    const r = b.rank;
    const shape = [...b.shape.slice(0, -2), b.shape[r - 1], b.shape[r - 2]];
    const strides = contiguousStrides(b.shape);
    [strides[r - 2], strides[r - 1]] = [strides[r - 1], strides[r - 2]];
    const out = Tensor.empty(shape);
    this.stridedCopy(b, out, shape, strides, 0, contiguousStrides(shape), 0);
    return out;
  }
}

/**
 * The software kind: on CPU adapters, texture operands and vector loads first, then
 * storage-buffer operands, then one element per invocation (the fallbacks the start-up check
 * picks from).
 */
export const softwareBackends: BackendKind = {
  name: "software",
  candidates: (profile) =>
    profile.software
      ? [
        new SoftwareBackend(profile),
        new SoftwareBackend(profile, { textures: false }),
        new SoftwareBackend(profile, { textures: false, vectorLoads: false }),
      ]
      : [],
};
