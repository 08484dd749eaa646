/**
 * The backend layer, the only door from the ops to the kernels: everything an op leaves to the
 * adapter. The ops in `tensor/ops_*.ts` check shapes, record autograd and make one call here per
 * kernel; a backend owns its kernels and its choices (texture operands or storage tiles, vector
 * loads, row flavours, fused paths) and reads what the adapter can do from its
 * {@link AdapterProfile}, never from the adapter's name. Its product variants are data
 * ({@link Backend.matmulChecks}, {@link Backend.candidates}), named, for the start-up check and
 * the autotuner to iterate over.
 *
 * @module
 */

import type { DepthwiseConvShape } from "../../kernels/depthwise_conv.ts";
import type { BroadcastOp, MapOp } from "../../kernels/elementwise.ts";
import type { MatmulShape, MatmulVariant } from "../../kernels/matmul.ts";
import type { RowFlavour } from "../../kernels/rows.ts";
import type { Storage } from "./command_engine.ts";
import { gpu } from "./context.ts";
import type { Tensor } from "./tensor.ts";
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

/** A reduction's view of its input: the sizes before, along and after the reduced axis. */
export type ReduceSplit = readonly [outer: number, axis: number, inner: number];

/** The row kernels whose flavour the backend chooses. */
export type RowKernel = "softmax" | "softmax padded" | "layer norm";

/** A product variant the start-up check runs, under the name its report gives. */
export interface MatmulCheck {
  /** For example `matmul texture 8x16`. */
  readonly name: string;
  /** The variant. */
  readonly variant: MatmulVariant;
  /** The layouts checked, as [transA, transB] (default NN, NT and TN). */
  readonly layouts?: readonly (readonly [boolean, boolean])[];
}

/** One AdamW update of a parameter chunk (values, gradients and moments of one arena buffer). */
export interface AdamWUpdate {
  /** The parameters. */
  readonly values: Storage;
  /** Their gradients. */
  readonly grads: Storage;
  /** First moments. */
  readonly m: Storage;
  /** Second moments. */
  readonly v: Storage;
  /** `[coefficient, norm]` of gradient clipping. */
  readonly clip: Tensor;
  /** Parameters in the chunk. */
  readonly length: number;
  /** The step's hyper-parameters. */
  readonly hyper: {
    readonly lr: number;
    readonly beta1: number;
    readonly beta2: number;
    readonly eps: number;
    readonly weightDecay: number;
    readonly biasCorrection1: number;
    readonly biasCorrection2: number;
  };
}

/**
 * A kind of backend, as `registry.ts` lists it: a label and the backends it offers an adapter,
 * fastest first, for the start-up check to pick from (none where the adapter is not its kind).
 */
export interface BackendKind {
  /** A label, such as `software`. */
  readonly name: string;
  /**
   * The candidates for an adapter.
   *
   * @param profile What the adapter can do.
   * @returns The candidates, fastest first; empty where this kind does not serve the adapter.
   */
  candidates(profile: AdapterProfile): Backend[];
}

/**
 * A backend: the kernels and choices for one kind of adapter. Backends are open: a name is a
 * label for reports, never switched on.
 */
export interface Backend {
  /** A label, such as `software` or `gpu`. */
  readonly name: string;
  /** What the adapter can do. */
  readonly profile: AdapterProfile;
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
   * The product variants the start-up check runs, by name: the small tiles that small products
   * take and a tile that runs every shape, the fallback of a variant whose first-use check
   * (`tensor/first_use.ts`) fails.
   */
  readonly matmulChecks: readonly MatmulCheck[];
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
  /**
   * Records an elementwise map over `n` elements (inputs, then the output unless in place).
   *
   * @param op The expression.
   * @param tensors The inputs and the output (the target first when in place).
   * @param n Elements.
   * @param s The scalar operand.
   * @param inPlace Whether the first tensor is overwritten.
   */
  map(op: MapOp, tensors: readonly Tensor[], n: number, s: number, inPlace: boolean): void;
  /**
   * Records a broadcasting binary op into `out`, whose shape is the broadcast shape.
   *
   * @param op The operation.
   * @param a Left operand.
   * @param b Right operand.
   * @param out The result.
   */
  broadcast(op: BroadcastOp, a: Tensor, b: Tensor, out: Tensor): void;
  /**
   * Sums over the middle of `split` into a new tensor of `outShape`, times `scale`.
   *
   * @param x The input.
   * @param split Sizes before, along and after the axis.
   * @param scale Factor applied to the sums.
   * @param outShape The result's shape.
   * @returns The sums.
   */
  sum(x: Tensor, split: ReduceSplit, scale: number, outShape: readonly number[]): Tensor;
  /**
   * Maximum and its index over the middle of `split`.
   *
   * @param x The input.
   * @param out The maxima.
   * @param arg Their indices.
   * @param split Sizes before, along and after the axis.
   */
  max(x: Tensor, out: Tensor, arg: Tensor, split: ReduceSplit): void;
  /**
   * The gradient of {@link Backend.max}: `g` to each maximal element, zeros elsewhere.
   *
   * @param g The output gradient.
   * @param arg The indices of the maxima.
   * @param dx The input gradient, written whole.
   * @param split Sizes before, along and after the axis.
   */
  maxBackward(g: Tensor, arg: Tensor, dx: Tensor, split: ReduceSplit): void;
  /**
   * Copies `dst[dstOffset + coord·dstStrides] = src[srcOffset + coord·srcStrides]` for every
   * coordinate of `shape`.
   *
   * @param src The source.
   * @param dst The destination.
   * @param shape The coordinates.
   * @param srcStrides Source strides.
   * @param srcOffset Source offset in elements.
   * @param dstStrides Destination strides.
   * @param dstOffset Destination offset in elements.
   */
  stridedCopy(
    src: Tensor,
    dst: Tensor,
    shape: readonly number[],
    srcStrides: readonly number[],
    srcOffset: number,
    dstStrides: readonly number[],
    dstOffset: number,
  ): void;
  /**
   * `out[j] = x[index[j]]` over rows of `cols`.
   *
   * @param x The rows.
   * @param index Row indices (u32 bits).
   * @param out The gathered rows.
   * @param count Number of indices.
   * @param cols Values per row.
   */
  gatherRows(x: Tensor, index: Tensor, out: Tensor, count: number, cols: number): void;
  /**
   * The gradient of {@link Backend.gatherRows}: each row of `g` added to the row it came from.
   *
   * @param g The gathered rows' gradient.
   * @param index Row indices.
   * @param dx The input gradient [rows, cols]: the gathered rows are added into it (zero-fill
   *   it first for the plain gradient).
   * @param count Number of indices.
   */
  scatterAddRows(g: Tensor, index: Tensor, dx: Tensor, count: number): void;
  /**
   * The flavour a row kernel runs with (this backend's, or a test's override).
   *
   * @param kernel The kernel.
   * @param vec4Rows Whether the rows allow the vec4 flavour.
   * @returns The flavour.
   */
  rowFlavourFor(kernel: RowKernel, vec4Rows: boolean): RowFlavour;
  /**
   * Softmax rows of `cols` values `stride` apart (forward: input `x`; backward: output `y` and
   * its gradient) into `out`, laid out as the first input.
   *
   * @param inputs `[x]` or `[y, g]`.
   * @param out The result.
   * @param backward Which direction.
   * @param flavour From {@link Backend.rowFlavourFor}.
   * @param rows Rows.
   * @param cols Values per row.
   * @param stride Distance between rows.
   */
  softmax(
    inputs: readonly Tensor[],
    out: Tensor,
    backward: boolean,
    flavour: RowFlavour,
    rows: number,
    cols: number,
    stride: number,
  ): void;
  /**
   * Layer norm of rows into `y`, with each row's mean and inverse deviation into `stats`.
   *
   * @param x Rows [rows, cols].
   * @param weight [cols].
   * @param bias [cols].
   * @param y The result.
   * @param stats [rows, 2].
   * @param flavour From {@link Backend.rowFlavourFor}.
   * @param eps Variance epsilon.
   */
  layerNorm(
    x: Tensor,
    weight: Tensor,
    bias: Tensor,
    y: Tensor,
    stats: Tensor,
    flavour: RowFlavour,
    eps: number,
  ): void;
  /**
   * The input gradient of {@link Backend.layerNorm}.
   *
   * @param x Rows.
   * @param weight [cols].
   * @param stats The forward's statistics.
   * @param g The output gradient.
   * @param dx The input gradient.
   * @param flavour The forward's flavour.
   * @param eps Variance epsilon.
   */
  layerNormBackwardInput(
    x: Tensor,
    weight: Tensor,
    stats: Tensor,
    g: Tensor,
    dx: Tensor,
    flavour: RowFlavour,
    eps: number,
  ): void;
  /**
   * The weight and bias gradients of {@link Backend.layerNorm}.
   *
   * @param x Rows.
   * @param stats The forward's statistics.
   * @param g The output gradient.
   * @param cols Values per row.
   * @returns `[dWeight, dBias]`, each [cols].
   */
  layerNormBackwardParams(x: Tensor, stats: Tensor, g: Tensor, cols: number): [Tensor, Tensor];
  /**
   * Per-row cross-entropy of logits [rows, cols] and labels, with each row's log-sum-exp.
   *
   * @param logits [rows, cols].
   * @param labels i32 bits; -100 ignores a row.
   * @param perRow [rows] losses.
   * @param lse [rows] log-sum-exps.
   */
  crossEntropy(logits: Tensor, labels: Tensor, perRow: Tensor, lse: Tensor): void;
  /**
   * The logits' gradient of {@link Backend.crossEntropy}, times `scale`.
   *
   * @param logits [rows, cols].
   * @param labels i32 bits.
   * @param lse The forward's log-sum-exps.
   * @param g The loss gradient (one element).
   * @param dx [rows, cols].
   * @param scale Factor (one over the counted rows).
   */
  crossEntropyBackward(
    logits: Tensor,
    labels: Tensor,
    lse: Tensor,
    g: Tensor,
    dx: Tensor,
    scale: number,
  ): void;
  /**
   * Depthwise convolution of channels-last `x` [B, H, W, C] with `weight` [C, 1, kh, kw] plus
   * `bias` [C] into `out` (same shape as `x`), stride 1, zero padding.
   *
   * @param x The input.
   * @param weight One filter per channel.
   * @param bias One bias per channel.
   * @param out The result.
   * @param shape The geometry.
   */
  depthwiseConv(
    x: Tensor,
    weight: Tensor,
    bias: Tensor,
    out: Tensor,
    shape: DepthwiseConvShape,
  ): void;
  /**
   * The input gradient of {@link Backend.depthwiseConv}.
   *
   * @param g The output gradient.
   * @param weight The filters.
   * @param dx The input gradient, written whole.
   * @param shape The geometry.
   */
  depthwiseConvBackwardInput(
    g: Tensor,
    weight: Tensor,
    dx: Tensor,
    shape: DepthwiseConvShape,
  ): void;
  /**
   * The weight gradient of {@link Backend.depthwiseConv}.
   *
   * @param g The output gradient.
   * @param x The forward's input.
   * @param shape The geometry.
   * @returns The gradient, [C, kh · kw].
   */
  depthwiseConvBackwardWeight(g: Tensor, x: Tensor, shape: DepthwiseConvShape): Tensor;
  /**
   * Inverted dropout of `input` into `out` with a mask hashed from `seed` and the index.
   *
   * @param input The input.
   * @param out The result.
   * @param seed The mask's seed.
   * @param p Drop probability, in (0, 1).
   */
  dropout(input: Tensor, out: Tensor, seed: number, p: number): void;
  /**
   * Partial sums of squares of `n` values, one per `block`, into `partials` from `offset` on.
   *
   * @param src The values.
   * @param n Their count.
   * @param block Values per partial sum.
   * @param partials The partial sums.
   * @param offset First partial written.
   */
  sumSquares(src: Storage, n: number, block: number, partials: Tensor, offset: number): void;
  /**
   * The clipping coefficient and norm from `count` partial sums of squares, into `clip`.
   *
   * @param partials The partial sums.
   * @param clip `[coefficient, norm]`.
   * @param count Partial sums to add.
   * @param maxNorm Largest norm (0: no clipping).
   * @param invScale One over the loss scale.
   */
  clipCoefficient(
    partials: Tensor,
    clip: Tensor,
    count: number,
    maxNorm: number,
    invScale: number,
  ): void;
  /**
   * One AdamW update of a parameter chunk.
   *
   * @param update The chunk, its moments and the step's hyper-parameters.
   */
  adamw(update: AdamWUpdate): void;
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
