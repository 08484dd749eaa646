/**
 * The backend layer: everything an op leaves to the adapter. The ops in `tensor/ops_*.ts` check
 * shapes, record autograd and make one call here per primitive; a backend owns its kernels and
 * its choices (texture operands or storage tiles, vector loads, fused paths) and reads what the
 * adapter can do from its {@link AdapterProfile}, never from the adapter's name.
 *
 * @module
 */

import type { MatmulShape, MatmulVariant } from "../../kernels/matmul.ts";
import type { RowFlavour } from "../../kernels/rows.ts";
import { gpu } from "../context.ts";
import type { Tensor } from "../tensor.ts";
import type { AdapterProfile } from "./profile.ts";

/** One product for a backend to record: `out = alpha · op(a) · op(b) + bias`. */
export interface MatmulCall {
  /** Batch, M, K, N and the transposes. */
  readonly shape: MatmulShape;
  /** A, [batch, M, K] or [batch, K, M] (or one matrix shared by the batch). */
  readonly a: Tensor;
  /** B, [batch, K, N] or [batch, N, K]. */
  readonly b: Tensor;
  /** C, [batch, M, N], written whole. */
  readonly out: Tensor;
  /** Scale of the product. */
  readonly alpha: number;
  /** Added to every row of C; [N]. */
  readonly bias?: Tensor;
  /** Round the operands to f16 (f32 accumulation). */
  readonly half: boolean;
}

/** A backend: the kernels and choices for one kind of adapter. */
export interface Backend {
  /** `software` for CPU adapters, `gpu` for hardware ones. */
  readonly name: "software" | "gpu";
  /** What the adapter can do. */
  readonly profile: AdapterProfile;
  /**
   * Maps, copies, row kernels and the optimizer update take four elements per invocation where
   * lengths allow (a vector load costs a software adapter what one float does).
   */
  readonly vectorLoads: boolean;
  /** How softmax and layer norm spread rows over invocations. */
  readonly rowFlavour: RowFlavour;
  /**
   * The variant this backend runs a shape with, before any override.
   *
   * @param s The shape.
   * @returns The variant.
   */
  variantFor(s: MatmulShape): MatmulVariant;
  /**
   * Whether a variant can run a shape on this backend.
   *
   * @param v The variant.
   * @param s The shape.
   * @returns True where its kernel handles the layout and its operands fit.
   */
  canRun(v: MatmulVariant, s: MatmulShape): boolean;
  /**
   * The variants worth timing for a shape.
   *
   * @param s The shape.
   * @returns Candidates for the autotuner.
   */
  candidates(s: MatmulShape): MatmulVariant[];
  /**
   * Whether an NN product runs as NT on a transposed copy of B.
   *
   * @param s The shape.
   * @returns True where {@link Backend.matmul} rewrites it.
   */
  runsAsNT(s: MatmulShape): boolean;
  /**
   * Records one product.
   *
   * @param call The operands, the output and the epilogue.
   */
  matmul(call: MatmulCall): void;
  /**
   * A Linear layer's weight gradient `alpha · gᵀ·x` and bias gradient (g's column sums) from
   * one product, where the backend has one.
   *
   * @param g The output gradient [rows, out].
   * @param x The layer input [rows, in].
   * @param alpha Scale of the weight gradient.
   * @param half Round the operands to f16.
   * @returns The two gradients, or null to compute them separately.
   */
  linearGrads(g: Tensor, x: Tensor, alpha: number, half: boolean): [Tensor, Tensor] | null;
  /**
   * Self-attention on a packed projection as one fused path, where the backend has one.
   *
   * @param qkv The packed projection [B, T, 3·D].
   * @param heads Number of heads.
   * @param alpha Scale of the scores.
   * @param grad Record the backward.
   * @param half Round the products' operands to f16.
   * @returns The context [B, T, D], or null to compose it from primitives.
   */
  selfAttention(
    qkv: Tensor,
    heads: number,
    alpha: number,
    grad: boolean,
    half: boolean,
  ): Tensor | null;
}

/**
 * The started runtime's backend.
 *
 * @returns The backend.
 * @example
 * ```ts
 * import { init } from "../runtime.ts";
 * import { backend } from "./backend.ts";
 * await init();
 * console.log(backend().name);
 * ```
 */
export function backend(): Backend {
  return gpu().backend;
}
