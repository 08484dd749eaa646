/**
 * The WGSL kernels of every op but the products, behind the {@link Backend} door: maps,
 * broadcasts, reductions, strided copies, row gathers, softmax, layer norm, cross-entropy,
 * dropout and the AdamW update. {@link WebGpuBackend} records them on the active runtime's
 * engine; the software and GPU backends extend it with their product kernels and choices
 * (vector loads, row flavour). The ops above never pick a kernel.
 *
 * @module
 */

import { adamwKernel, adamwVec4Kernel, clipCoefficientKernel } from "../../../kernels/adamw.ts";
import { sumSquaresKernel } from "../../../kernels/adamw.ts";
import { crossEntropyBackwardKernel, crossEntropyKernel } from "../../../kernels/cross_entropy.ts";
import {
  gatherRowsKernel,
  mergeCopyDims,
  scatterAddRowsKernel,
  stridedCopyKernel,
} from "../../../kernels/copy.ts";
import {
  depthwiseConvBackwardInputKernel,
  depthwiseConvBackwardWeightKernel,
  depthwiseConvKernel,
  type DepthwiseConvShape,
} from "../../../kernels/depthwise_conv.ts";
import { dropoutKernel } from "../../../kernels/dropout.ts";
import {
  broadcastKernel,
  type BroadcastOp,
  elementwiseGrid,
  mapKernel,
  type MapOp,
  MAX_RANK,
} from "../../../kernels/elementwise.ts";
import {
  layerNormBackwardInputKernels,
  layerNormBackwardParamsKernel,
  layerNormBackwardParamsTextureKernel,
  layerNormBackwardParamsVec4Kernel,
  layerNormKernels,
} from "../../../kernels/layernorm.ts";
import type { MatmulShape, MatmulVariant } from "../../../kernels/matmul.ts";
import {
  maxBackwardKernel,
  maxKernel,
  reduceGrid,
  SUM_CHUNK,
  sumChunksKernel,
  sumKernel,
} from "../../../kernels/reduce.ts";
import { type RowFlavour, rowGrid } from "../../../kernels/rows.ts";
import { rowTexture, type RowTextureLayout, rowTextureLayout } from "./texture_rows.ts";
import { softmaxBackwardKernels, softmaxKernels } from "../../../kernels/softmax.ts";
import type { Storage } from "../../core/command_engine.ts";
import type { CachedTexture } from "../../core/texture_cache.ts";
import { gpu } from "../../core/context.ts";
import { engine } from "../../core/engine.ts";
import { sizeOf, Tensor } from "../../core/tensor.ts";
import type {
  AdamWUpdate,
  Backend,
  MatmulCall,
  MatmulCheck,
  ReduceSplit,
  RowKernel,
} from "../../core/backend.ts";
import type { AdapterProfile } from "../../core/profile.ts";

/**
 * Left-pads a list to {@link MAX_RANK} and splits it into two vec4u values.
 *
 * @param values Shape or strides, outermost first.
 * @param fill Value for the padding (1 for shapes, 0 for strides).
 * @returns Two groups of four.
 */
export function padRank(values: readonly number[], fill: number): [number[], number[]] {
  if (values.length > MAX_RANK) throw new Error(`rank ${values.length} exceeds ${MAX_RANK}`);
  const padded = [...new Array(MAX_RANK - values.length).fill(fill), ...values];
  return [padded.slice(0, 4), padded.slice(4)];
}

function contiguous(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i];
  }
  return strides;
}

function broadcastStrides(shape: readonly number[], out: readonly number[]): number[] {
  const strides = contiguous(shape);
  const offset = out.length - shape.length;
  return out.map((_, i) => {
    const j = i - offset;
    return j < 0 || shape[j] === 1 ? 0 : strides[j];
  });
}

/**
 * A backend on WebGPU with WGSL kernels: every non-product kernel family, with the choices its
 * subclass makes ({@link WebGpuBackend.vectorLoads}, {@link WebGpuBackend.rowFlavour}); the
 * subclass adds the products.
 */
export abstract class WebGpuBackend implements Backend {
  /** A label for reports. */
  abstract readonly name: string;
  /** What the adapter can do. */
  abstract readonly profile: AdapterProfile;
  /**
   * Maps, copies, row kernels and the optimizer update take four elements per invocation where
   * lengths allow (a vector load costs a software adapter what one float does).
   */
  abstract readonly vectorLoads: boolean;
  /** How softmax and layer norm spread rows over invocations. */
  abstract readonly rowFlavour: RowFlavour;
  /** The product variants the start-up check runs, by name. */
  abstract readonly matmulChecks: readonly MatmulCheck[];
  /** The variant a product of this shape runs with. */
  abstract variantFor(s: MatmulShape): MatmulVariant;
  /** Whether a variant can run a shape. */
  abstract canRun(v: MatmulVariant, s: MatmulShape): boolean;
  /** The variants worth timing for a shape. */
  abstract candidates(s: MatmulShape): MatmulVariant[];
  /** Whether an NN product runs as NT on a transposed copy of B. */
  abstract runsAsNT(s: MatmulShape): boolean;
  /** Records one product. */
  abstract matmul(call: MatmulCall): void;
  /** A Linear layer's weight and bias gradients from one product, or null. */
  abstract linearGrads(
    g: Tensor,
    x: Tensor,
    alpha: number,
    half: boolean,
  ): [Tensor, Tensor] | null;
  /** Self-attention on a packed projection as one fused path, or null. */
  abstract selfAttention(
    qkv: Tensor,
    heads: number,
    alpha: number,
    grad: boolean,
    half: boolean,
  ): Tensor | null;

  /**
   * The row flavour in force (this backend's, or a test's override); `vec4` falls back to
   * `thread` where the kernel cannot take it (`vec4Rows`).
   */
  #rows(vec4Rows: boolean): RowFlavour {
    const f = gpu().tuning.forcedRows ?? this.rowFlavour;
    return (f === "vec4" || f === "texture") && !vec4Rows ? "thread" : f;
  }

  /** Records an elementwise map over `n` elements (see {@link Backend.map}). */
  map(op: MapOp, tensors: readonly Tensor[], n: number, s: number, inPlace: boolean): void {
    if (n === 0) return;
    const vec4 = this.vectorLoads && n % 4 === 0;
    const count = vec4 ? n / 4 : n;
    engine().dispatch(
      mapKernel(op, { inPlace, vec4 }),
      tensors.map((t) => t.storage),
      { n: count, s },
      elementwiseGrid(count),
    );
  }

  /** Records a broadcasting binary op into `out`. */
  broadcast(op: BroadcastOp, a: Tensor, b: Tensor, out: Tensor): void {
    const n = out.size;
    if (n === 0) return;
    const shape = out.shape;
    const [outShape0, outShape1] = padRank(shape, 1);
    const [aStrides0, aStrides1] = padRank(broadcastStrides(a.shape, shape), 0);
    const [bStrides0, bStrides1] = padRank(broadcastStrides(b.shape, shape), 0);
    // Four elements per invocation where both operands hold the whole last dimension.
    const last = shape[shape.length - 1];
    const whole = (t: Tensor) => t.shape.length > 0 && t.shape[t.shape.length - 1] === last;
    const vec4 = this.vectorLoads && last % 4 === 0 && whole(a) && whole(b);
    const count = vec4 ? n / 4 : n;
    engine().dispatch(
      broadcastKernel(op, vec4),
      [a.storage, b.storage, out.storage],
      { n: count, outShape0, outShape1, aStrides0, aStrides1, bStrides0, bStrides1 },
      elementwiseGrid(count),
    );
  }

  /** Sums over the middle of `split`, in two passes for few outputs over a long axis. */
  sum(x: Tensor, split: ReduceSplit, scale: number, outShape: readonly number[]): Tensor {
    const [outer, len, inner] = split;
    if (len >= 4 * SUM_CHUNK && outer * inner < 1 << 16) {
      // Few outputs over a long axis (a bias gradient, a sum over everything): first sum
      // chunks of SUM_CHUNK rows, then the chunk sums, so that the work spreads over many
      // invocations.
      const chunks = Math.ceil(len / SUM_CHUNK);
      const partial = Tensor.empty([outer, chunks, inner]);
      engine().dispatch(
        sumChunksKernel,
        [x.storage, partial.storage],
        { outer, axis: len, inner, chunk: SUM_CHUNK, chunks },
        reduceGrid(outer * chunks, inner),
      );
      const out = this.sum(partial, [outer, chunks, inner], scale, outShape);
      partial.dispose();
      return out;
    }
    const out = Tensor.empty(outShape);
    if (out.size === 0) return out;
    engine().dispatch(
      sumKernel,
      [x.storage, out.storage],
      { outer, axis: len, inner, scale },
      reduceGrid(outer, inner),
    );
    return out;
  }

  /** Maximum and its index over the middle of `split`. */
  max(x: Tensor, out: Tensor, arg: Tensor, split: ReduceSplit): void {
    const [outer, len, inner] = split;
    engine().dispatch(
      maxKernel,
      [x.storage, out.storage, arg.storage],
      { outer, axis: len, inner, scale: 1 },
      reduceGrid(outer, inner),
    );
  }

  /** The gradient of {@link WebGpuBackend.max}. */
  maxBackward(g: Tensor, arg: Tensor, dx: Tensor, split: ReduceSplit): void {
    const [outer, len, inner] = split;
    engine().dispatch(
      maxBackwardKernel,
      [g.storage, arg.storage, dx.storage],
      { outer, axis: len, inner, scale: 1 },
      reduceGrid(outer, inner),
    );
  }

  /** A strided copy, in runs of four (vec4s where vector loads are on) where layouts allow. */
  stridedCopy(
    src: Tensor,
    dst: Tensor,
    shape: readonly number[],
    srcStrides: readonly number[],
    srcOffset: number,
    dstStrides: readonly number[],
    dstOffset: number,
  ): void {
    const n = sizeOf(shape);
    if (n === 0) return;
    const merged = mergeCopyDims(shape, srcStrides, dstStrides);
    const r = merged.shape.length;
    // Runs of 4 along an innermost dimension that is contiguous in both layouts.
    let run = merged.srcStrides[r - 1] === 1 && merged.dstStrides[r - 1] === 1 &&
        merged.shape[r - 1] % 4 === 0
      ? 4
      : 1;
    merged.shape[r - 1] /= run;
    // Runs of 4 that start on multiples of 4 in both layouts move as vec4s where the backend
    // takes vector loads.
    const vec4 = run === 4 && this.vectorLoads && srcOffset % 4 === 0 && dstOffset % 4 === 0 &&
      merged.srcStrides.every((st, d) => d === r - 1 || st % 4 === 0) &&
      merged.dstStrides.every((st, d) => d === r - 1 || st % 4 === 0);
    let scale = 1;
    if (vec4) {
      scale = 4;
      run = 1;
      for (let d = 0; d < r - 1; d++) {
        merged.srcStrides[d] /= 4;
        merged.dstStrides[d] /= 4;
      }
    }
    const [shape0, shape1] = padRank(merged.shape, 1);
    const [srcStrides0, srcStrides1] = padRank(merged.srcStrides, 0);
    const [dstStrides0, dstStrides1] = padRank(merged.dstStrides, 0);
    const count = n / (run * scale);
    engine().dispatch(
      stridedCopyKernel({ rank: r, run, vec4 }),
      [src.storage, dst.storage],
      {
        n: count,
        srcOffset: srcOffset / scale,
        dstOffset: dstOffset / scale,
        shape0,
        shape1,
        srcStrides0,
        srcStrides1,
        dstStrides0,
        dstStrides1,
      },
      elementwiseGrid(count),
    );
  }

  /** Rows `index` of `x` into `out`. */
  gatherRows(x: Tensor, index: Tensor, out: Tensor, count: number, cols: number): void {
    engine().dispatch(
      gatherRowsKernel,
      [x.storage, index.storage, out.storage],
      { rows: count, cols },
      elementwiseGrid(count * cols),
    );
  }

  /** Each row of `g` added to the row it came from. */
  scatterAddRows(g: Tensor, index: Tensor, dx: Tensor, count: number): void {
    const [rows, cols] = dx.shape;
    engine().dispatch(
      scatterAddRowsKernel,
      [g.storage, index.storage, dx.storage],
      { rows, cols, count },
      elementwiseGrid(count * cols),
    );
  }

  /** The flavour a row kernel runs with (this backend's, or a test's override). */
  rowFlavourFor(kernel: RowKernel, vec4Rows: boolean): RowFlavour {
    if (kernel !== "softmax padded") return this.#rows(vec4Rows);
    // Padded rows need a vec4 layout: textures where they are in force, else vec4.
    return this.#rows(true) === "texture" ? "texture" : "vec4";
  }

  /** Softmax rows, forward or backward (see {@link Backend.softmax}). */
  softmax(
    inputs: readonly Tensor[],
    out: Tensor,
    backward: boolean,
    flavour: RowFlavour,
    rows: number,
    cols: number,
    stride: number,
  ): void {
    if (rows === 0) return;
    const kernels = backward ? softmaxBackwardKernels : softmaxKernels;
    if (flavour === "texture") {
      const at = rowTextureLayout(inputs[0].storage, rows, stride);
      if (at && inputs.every((t) => t.storage.byteOffset % 16 === 0)) {
        const views = textureViews(inputs.map((t) => t.storage), at);
        engine().dispatch(
          kernels.texture,
          [...views, out.storage],
          { rows, cols, stride, height: at.height },
          rowGrid(rows, flavour),
        );
        return;
      }
      flavour = "vec4";
    }
    // The vec4 flavour stores whole vec4s where every row starts on one, and floats where rows
    // share vec4s.
    const kernel = flavour === "vec4" && stride % 4 !== 0
      ? kernels.vec4Unaligned
      : kernels[flavour];
    engine().dispatch(
      kernel,
      [...inputs.map((t) => t.storage), out.storage],
      { rows, cols, stride },
      rowGrid(rows, flavour),
    );
  }

  /** Layer norm of rows, with their statistics. */
  layerNorm(
    x: Tensor,
    weight: Tensor,
    bias: Tensor,
    y: Tensor,
    stats: Tensor,
    flavour: RowFlavour,
    eps: number,
  ): void {
    const cols = weight.size;
    const rows = stats.shape[0];
    const at = flavour === "texture" ? rowTextureLayout(x.storage, rows, cols) : null;
    if (at) {
      const [xt] = textureViews([x.storage], at);
      engine().dispatch(
        layerNormKernels.texture,
        [xt, weight.storage, bias.storage, y.storage, stats.storage],
        { rows, cols, eps, height: at.height },
        rowGrid(rows, flavour),
      );
      return;
    }
    const f = flavour === "texture" ? "vec4" : flavour;
    engine().dispatch(
      layerNormKernels[f],
      [x.storage, weight.storage, bias.storage, y.storage, stats.storage],
      { rows, cols, eps },
      rowGrid(rows, f),
    );
  }

  /** The input gradient of layer norm. */
  layerNormBackwardInput(
    x: Tensor,
    weight: Tensor,
    stats: Tensor,
    g: Tensor,
    dx: Tensor,
    flavour: RowFlavour,
    eps: number,
  ): void {
    const cols = weight.size;
    const rows = stats.shape[0];
    const at = flavour === "texture" ? rowTextureLayout(x.storage, rows, cols) : null;
    if (at && g.storage.byteOffset % 16 === 0) {
      const [xt, gt] = textureViews([x.storage, g.storage], at);
      engine().dispatch(
        layerNormBackwardInputKernels.texture,
        [xt, weight.storage, stats.storage, gt, dx.storage],
        { rows, cols, eps, height: at.height },
        rowGrid(rows, flavour),
      );
      return;
    }
    const f = flavour === "texture" ? "vec4" : flavour;
    engine().dispatch(
      layerNormBackwardInputKernels[f],
      [x.storage, weight.storage, stats.storage, g.storage, dx.storage],
      { rows, cols, eps },
      rowGrid(rows, f),
    );
  }

  /** The weight and bias gradients of layer norm, chunk sums added up. */
  layerNormBackwardParams(x: Tensor, stats: Tensor, g: Tensor, cols: number): [Tensor, Tensor] {
    const rows = stats.shape[0];
    // Chunks of SUM_CHUNK rows, so that thousands of rows spread over many invocations; the
    // chunk sums are added up after.
    const chunks = Math.max(1, Math.ceil(rows / SUM_CHUNK));
    const pw = Tensor.empty([chunks, cols]);
    const pb = Tensor.empty([chunks, cols]);
    // Four columns per thread where the backend takes vector loads, read from the input
    // gradient's textures where rows are read from textures.
    const cpu4 = cols % 4 === 0 && this.vectorLoads;
    const threads = cpu4 ? cols / 4 : cols;
    const at = cols % 4 === 0 && this.#rows(true) === "texture" &&
        g.storage.byteOffset % 16 === 0
      ? rowTextureLayout(x.storage, rows, cols)
      : null;
    if (at) {
      const [xt, gt] = textureViews([x.storage, g.storage], at);
      engine().dispatch(
        layerNormBackwardParamsTextureKernel,
        [xt, stats.storage, gt, pw.storage, pb.storage],
        { rows, cols: cols / 4, chunk: SUM_CHUNK, height: at.height },
        [Math.ceil(cols / 4 / 64), chunks],
      );
    } else {
      engine().dispatch(
        cpu4 ? layerNormBackwardParamsVec4Kernel : layerNormBackwardParamsKernel,
        [x.storage, stats.storage, g.storage, pw.storage, pb.storage],
        { rows, cols: threads, chunk: SUM_CHUNK },
        [Math.ceil(threads / 64), chunks],
      );
    }
    // One chunk (up to SUM_CHUNK rows) is the sum already.
    if (chunks === 1) {
      const sums: [Tensor, Tensor] = [pw.view([cols]), pb.view([cols])];
      pw.dispose();
      pb.dispose();
      return sums;
    }
    const sums: [Tensor, Tensor] = [
      this.sum(pw, [1, chunks, cols], 1, [cols]),
      this.sum(pb, [1, chunks, cols], 1, [cols]),
    ];
    pw.dispose();
    pb.dispose();
    return sums;
  }

  /** Per-row cross-entropy with each row's log-sum-exp. */
  crossEntropy(logits: Tensor, labels: Tensor, perRow: Tensor, lse: Tensor): void {
    const [rows, cols] = logits.shape;
    engine().dispatch(
      crossEntropyKernel,
      [logits.storage, labels.storage, perRow.storage, lse.storage],
      { rows, cols, scale: 1 },
      elementwiseGrid(rows),
    );
  }

  /** The logits' gradient of cross-entropy. */
  crossEntropyBackward(
    logits: Tensor,
    labels: Tensor,
    lse: Tensor,
    g: Tensor,
    dx: Tensor,
    scale: number,
  ): void {
    const [rows, cols] = logits.shape;
    engine().dispatch(
      crossEntropyBackwardKernel,
      [logits.storage, labels.storage, lse.storage, g.storage, dx.storage],
      { rows, cols, scale },
      elementwiseGrid(rows * cols),
    );
  }

  /** Depthwise convolution of a channels-last tensor, one output per invocation. */
  depthwiseConv(
    x: Tensor,
    weight: Tensor,
    bias: Tensor,
    out: Tensor,
    shape: DepthwiseConvShape,
  ): void {
    engine().dispatch(
      depthwiseConvKernel,
      [x.storage, weight.storage, bias.storage, out.storage],
      { ...shape, chunkRows: 1 },
      elementwiseGrid(x.size),
    );
  }

  /** The input gradient of a depthwise convolution (the flipped filter over `g`). */
  depthwiseConvBackwardInput(
    g: Tensor,
    weight: Tensor,
    dx: Tensor,
    shape: DepthwiseConvShape,
  ): void {
    engine().dispatch(
      depthwiseConvBackwardInputKernel,
      [g.storage, weight.storage, dx.storage],
      { ...shape, chunkRows: 1 },
      elementwiseGrid(g.size),
    );
  }

  /**
   * The weight gradient of a depthwise convolution: partial sums over chunks of about a
   * thousand positions of each image, then their sum.
   */
  depthwiseConvBackwardWeight(g: Tensor, x: Tensor, shape: DepthwiseConvShape): Tensor {
    const taps = shape.kh * shape.kw;
    const chunkRows = Math.max(1, Math.floor(1024 / shape.width));
    const parts = shape.batch * Math.ceil(shape.height / chunkRows);
    const partial = Tensor.empty([parts, shape.channels, taps]);
    engine().dispatch(
      depthwiseConvBackwardWeightKernel,
      [g.storage, x.storage, partial.storage],
      { ...shape, chunkRows },
      elementwiseGrid(partial.size),
    );
    const dw = this.sum(partial, [1, parts, shape.channels * taps], 1, [shape.channels, taps]);
    partial.dispose();
    return dw;
  }

  /** Inverted dropout with a hashed mask. */
  dropout(input: Tensor, out: Tensor, seed: number, p: number): void {
    const params = {
      n: input.size,
      seed: seed >>> 0,
      threshold: Math.min(0xffffffff, Math.round(p * 2 ** 32)),
      scale: 1 / (1 - p),
    };
    engine().dispatch(
      dropoutKernel,
      [input.storage, out.storage],
      params,
      elementwiseGrid(input.size),
    );
  }

  /** Partial sums of squares of a region. */
  sumSquares(src: Storage, n: number, block: number, partials: Tensor, offset: number): void {
    const blocks = Math.ceil(n / block);
    engine().dispatch(
      sumSquaresKernel,
      [src, partials.storage],
      { n, block, outOffset: offset },
      [Math.ceil(blocks / 64)],
    );
  }

  /** The clipping coefficient and norm from partial sums of squares. */
  clipCoefficient(
    partials: Tensor,
    clip: Tensor,
    count: number,
    maxNorm: number,
    invScale: number,
  ): void {
    engine().dispatch(
      clipCoefficientKernel,
      [partials.storage, clip.storage],
      { count, maxNorm, invScale },
      [1],
    );
  }

  /** One AdamW update of a parameter chunk. */
  adamw(update: AdamWUpdate): void {
    const { length } = update;
    // Four parameters per invocation where the backend takes vector loads and the chunk allows.
    const vec4 = this.vectorLoads && length % 4 === 0;
    const n = vec4 ? length / 4 : length;
    engine().dispatch(
      vec4 ? adamwVec4Kernel : adamwKernel,
      [update.values, update.grads, update.m, update.v, update.clip.storage],
      { n, ...update.hyper },
      elementwiseGrid(n),
    );
  }
}

/**
 * The texture views of a row kernel's inputs, each copied in as `at` says (or reused), no two
 * in one texture.
 */
function textureViews(inputs: readonly Storage[], at: RowTextureLayout): GPUTextureView[] {
  const taken: CachedTexture[] = [];
  for (const src of inputs) taken.push(rowTexture(src, at, taken[0]));
  return taken.map((t) => t.view);
}
