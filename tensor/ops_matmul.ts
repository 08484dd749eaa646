/**
 * Matmul and batched matmul with transpose flags, a scale and an optional fused bias, with the
 * kernel variant picked per adapter and, after {@link autotuneMatmul}, per shape.
 *
 * @module
 */

import {
  matmulGrid,
  matmulKernel,
  type MatmulShape,
  type MatmulVariant,
  REGISTER_VARIANTS,
  TEXTURE_VARIANTS,
  TEXTURENN_VARIANTS,
  TEXTURETN_VARIANTS,
  TILED_VARIANTS,
  VEC4_VARIANTS,
  vec4Eligible,
  VEC4TN_VARIANTS,
  vec4tnEligible,
} from "../kernels/matmul.ts";
import { elementwiseGrid } from "../kernels/elementwise.ts";
import { texturePackKernel } from "../kernels/texture_pack.ts";
import { assertF32, contiguousStrides, runMap } from "./_dispatch.ts";
import { gpu } from "./device.ts";
import { engine, type Storage } from "./engine.ts";
import type { CachedTexture, TextureSize } from "./texture_cache.ts";
import { stridedCopy, sum } from "./ops_reduce.ts";
import { record, sizeOf, Tensor } from "./tensor.ts";

/** Options of {@link matmul}. */
export interface MatmulOptions {
  /** `a` is stored as [..., K, M] and used transposed. */
  transA?: boolean;
  /** `b` is stored as [..., N, K] and used transposed (PyTorch's Linear weight layout). */
  transB?: boolean;
  /** Added to every row of the result; shape [N]. */
  bias?: Tensor;
  /** Scales the product (before the bias). */
  alpha?: number;
  /** Round the inputs to f16 (f32 accumulation); defaults to the {@link autocast} setting. */
  half?: boolean;
}

let autocastHalf = false;

/**
 * Runs `fn` with matmuls in half precision (f16 inputs, f32 accumulation), as
 * `torch.autocast(dtype=float16)` does for matmuls; softmax, layer norm and losses stay f32.
 * Backward matmuls use the precision their forward used.
 *
 * @param half Whether to use f16.
 * @param fn The work.
 * @returns What `fn` returns.
 */
export function autocast<T>(half: boolean, fn: () => T): T {
  const before = autocastHalf;
  autocastHalf = half;
  try {
    return fn();
  } finally {
    autocastHalf = before;
  }
}

/** Whether matmuls recorded now round their inputs to f16 ({@link autocast} on an f16 adapter). */
export function halfMatmuls(): boolean {
  return autocastHalf && gpu().hasF16;
}

/** Below this many multiply-adds the smallest register tile is used. */
const SMALL_MATMUL = 1 << 20;

const tuned = new Map<string, MatmulVariant>();
let forced: MatmulVariant | null = null;

function shapeKey(s: MatmulShape): string {
  return `${s.batch}:${s.m}:${s.k}:${s.n}:${s.transA}:${s.transB}`;
}

/** The variant used for a shape: the autotuned one if known, else the adapter's default. */
export function matmulVariantFor(s: MatmulShape): MatmulVariant {
  if (forced && runnable(forced, s)) return forced;
  const hit = tuned.get(shapeKey(s));
  if (hit) return hit;
  if (!gpu().isCpu) return gpuVariant(s);
  // Small products run on the small tile: the big ones take seconds to compile and gain nothing.
  const family = texturesFit(s) ? textureFamily(s) : cpuFamily(s);
  return s.batch * s.m * s.n * s.k < SMALL_MATMUL ? family[family.length - 1] : family[0];
}

/**
 * The tiled variant for a shape on a GPU, from the sweep of `deno task bench` on an H200
 * (TFLOP/s, the four tiles within 6 % of each other except where noted): 128×128 blocks (8×8
 * per invocation) for wide products (M = 3152, N = 3072: 12.0 against 9.2 for 64×64 blocks),
 * 128×64 blocks (8×4) where they still make at least two workgroups per multiprocessor, and
 * 64×64 blocks (4×4) for small products (a 768×768 weight gradient: 3.6, 8×8 3.1).
 */
function gpuVariant(s: MatmulShape): MatmulVariant {
  const [t4x4, t8x8, , t8x4] = TILED_VARIANTS;
  if (s.m >= 1024 && s.n >= 2048) return t8x8;
  const blocks = s.batch * Math.ceil(s.m / 128) * Math.ceil(s.n / 64);
  return blocks >= 264 ? t8x4 : t4x4;
}

/** Whether a variant can run a shape (the vec4 and texture families cannot run every shape). */
function runnable(v: MatmulVariant, s: MatmulShape): boolean {
  if (v.family === "texture") return texturesFit(s);
  if (v.family === "texturetn") return texturesFit(s) && s.transA && !s.transB;
  if (v.family === "texturenn") return texturesFit(s) && !s.transA && !s.transB;
  return !v.family.startsWith("vec4") || cpuFamily(s).includes(v);
}

const laneWideFamilies = new Map<readonly MatmulVariant[], readonly MatmulVariant[]>();

/**
 * A texture family with workgroups one SIMD vector wide (`GpuContext.simdLanes`). At 512 bits
 * the 32×32 tile with 16-wide workgroups ran M = 3152, K = 768, N = 768 at 57–69 GFLOP/s
 * against 42–54 at 256 bits with 8-wide ones, in the same hours; 8-wide workgroups at 512 bits
 * left half of each vector idle (48 against 38 GFLOP/s in one process).
 */
function laneWide(family: readonly MatmulVariant[]): readonly MatmulVariant[] {
  const lanes = gpu().simdLanes;
  if (family.every((v) => v.workgroup === lanes)) return family;
  let wide = laneWideFamilies.get(family);
  if (!wide) {
    wide = family.map((v) => ({ ...v, workgroup: lanes }));
    laneWideFamilies.set(family, wide);
  }
  return wide;
}

/**
 * The texture family for a shape, lane-wide: `texturetn` for TN and `texturenn` for NN (both
 * read B as stored, rows of K, so neither transposes it), `texture` for the rest.
 */
function textureFamily(s: MatmulShape): readonly MatmulVariant[] {
  return laneWide(
    s.transA && !s.transB
      ? TEXTURETN_VARIANTS
      : !s.transA && !s.transB
      ? TEXTURENN_VARIANTS
      : TEXTURE_VARIANTS,
  );
}

/**
 * How a texture variant reads each operand: the texture's size and the source strides of
 * element (z, row, c), where texture rows are `row` and each texel holds four consecutive c.
 * `texture` wants op(A) by rows of M and op(B)ᵀ by rows of N, with c = k; `texturetn` wants
 * both as stored, rows of K, with c = m for A and c = n for B.
 */
export interface OperandLayout {
  /** The texture's size: texels of four c, rows, and one layer per batch entry. */
  size: TextureSize;
  /** Length of the texel dimension c. */
  length: number;
  /**
   * Element (z, row, c) is read at `offset + (z / group)·groupStride + (z % group)·batch +
   * row·row + c·k`; without `group`, at `z·batch + row·row + c·k`.
   */
  strides: {
    batch: number;
    row: number;
    k: number;
    offset?: number;
    group?: number;
    groupStride?: number;
  };
  /**
   * The source holds zeros after each row's `length` values up to the next multiple of 4, so a
   * copy may fill the last texel from it.
   */
  zeroPadded?: boolean;
}

/**
 * Where a texture matmul stores C: element (z, i, j) at `offset + (z / group)·groupStride +
 * (z % group)·batch + i·row + j`.
 */
export interface OutputLayout {
  /** First element. */
  offset: number;
  /** Batch entries per group (2^32 − 1 for one group). */
  group: number;
  /** Distance between groups. */
  groupStride: number;
  /** Distance between batch entries of a group. */
  batch: number;
  /** Distance between rows. */
  row: number;
  /**
   * Each row owns the columns from N up to the next multiple of 4 (padding it may overwrite),
   * so that an N that is not a multiple of 4 can still be stored four columns at a time.
   */
  padded?: boolean;
}

/** No grouping: one group holds every batch entry. */
export const ONE_GROUP = 0xffffffff;

/**
 * The layouts in which a texture variant reads contiguous operands of a shape.
 *
 * @param family `texture`, `texturetn` or `texturenn`.
 * @param s The shape.
 * @param batchedA A has one matrix per batch entry (else one shared by all).
 * @param batchedB B has one matrix per batch entry.
 * @returns The layouts of A and B.
 */
export function operandLayouts(
  family: MatmulVariant["family"],
  s: MatmulShape,
  batchedA = true,
  batchedB = true,
): [OperandLayout, OperandLayout] {
  const layersA = batchedA ? s.batch : 1;
  const layersB = batchedB ? s.batch : 1;
  const mk = s.m * s.k;
  const kn = s.k * s.n;
  const width = Math.ceil(s.k / 4);
  // B as stored, rows of K with c = n (texturetn, texturenn), or as op(B)ᵀ with c = k.
  const b: OperandLayout = family === "texture"
    ? {
      size: { width, height: s.n, layers: layersB },
      length: s.k,
      strides: { batch: kn, row: s.transB ? s.k : 1, k: s.transB ? 1 : s.n },
    }
    : {
      size: { width: Math.ceil(s.n / 4), height: s.k, layers: layersB },
      length: s.n,
      strides: { batch: kn, row: s.n, k: 1 },
    };
  // A as stored, rows of K with c = m (texturetn), or as op(A) with c = k.
  const a: OperandLayout = family === "texturetn"
    ? {
      size: { width: Math.ceil(s.m / 4), height: s.k, layers: layersA },
      length: s.m,
      strides: { batch: mk, row: s.m, k: 1 },
    }
    : {
      size: { width, height: s.m, layers: layersA },
      length: s.k,
      strides: { batch: mk, row: s.transA ? 1 : s.k, k: s.transA ? s.m : 1 },
    };
  return [a, b];
}

/** Whether both operands of a shape fit in textures on this adapter. */
export function texturesFit(s: MatmulShape): boolean {
  const family = textureFamily(s)[0].family;
  return operandLayouts(family, s).every((o) => engine().textures.fits(o.size));
}

/** The storage-kernel CPU variants that can run a shape, best-known first, small tile last. */
function cpuFamily(s: MatmulShape): readonly MatmulVariant[] {
  if (vec4Eligible(s)) return VEC4_VARIANTS;
  if (vec4tnEligible(s)) return VEC4TN_VARIANTS;
  return REGISTER_VARIANTS;
}

/** The variants worth timing for a shape on this adapter. */
export function matmulCandidates(s: MatmulShape): MatmulVariant[] {
  const family = cpuFamily(s);
  const vec4 = family === REGISTER_VARIANTS ? [] : [...family];
  const textures = !texturesFit(s)
    ? []
    : !s.transA && !s.transB
    ? [...textureFamily(s), ...laneWide(TEXTURE_VARIANTS)]
    : textureFamily(s);
  return gpu().isCpu
    ? [...textures, ...vec4, ...REGISTER_VARIANTS, TILED_VARIANTS[0]]
    : [...TILED_VARIANTS, ...vec4, REGISTER_VARIANTS[0]];
}

/**
 * Forces one variant for every matmul (tests and benchmarks), or restores automatic choice.
 *
 * @param variant The variant, or null for automatic.
 */
export function forceMatmulVariant(variant: MatmulVariant | null): void {
  forced = variant;
}

let emulation: boolean | null = null;

/**
 * Makes half-precision matmuls round in f32 arithmetic (true), through the shader's `f16`
 * conversion (false), or, with null, whichever this device's start-up probe trusts
 * (`GpuContext.f16RoundsToNearest`). For tests that check both paths on one adapter.
 *
 * @param emulate The choice, or null for automatic.
 */
export function forceF16Emulation(emulate: boolean | null): void {
  emulation = emulate;
}

/**
 * The texture holding one operand, packed as its layout says: element (z, r, c) is read at
 * `z·batch + r·row + c·k` of `src` (the layout's strides). A texture that already holds it
 * (packed for an earlier matmul, its source not written since) is reused; else one is taken
 * from the cache, never `except` (the other operand's), and filled. Where the operand's rows
 * already hold consecutive c (rows a multiple of 256 bytes, layers back to back) and no rounding
 * is needed, a buffer-to-texture copy fills it: on lavapipe 0.6 ms for a 3152 × 192 operand
 * against 1.4 ms for the packing kernel.
 */
function packOperand(
  src: Storage,
  { size, length: k, strides, zeroPadded = false }: OperandLayout,
  half: boolean,
  except?: CachedTexture,
): CachedTexture {
  const { offset = 0, group = ONE_GROUP, groupStride = 0 } = strides;
  const content = {
    buffer: src.buffer,
    start: src.byteOffset,
    end: src.byteOffset + src.byteLength,
    key: `${size.width}x${size.height}x${size.layers}:${k}:` +
      `${strides.batch},${strides.row},${strides.k},${offset},${group},${groupStride}:${half}` +
      `${zeroPadded ? ":padded" : ""}`,
  };
  const cache = engine().textures;
  const held = cache.find(size, content);
  if (held) return held;
  const entry = cache.take(size, content, except);
  // Rows that already hold consecutive c, 256 bytes apart, the layers of a group a whole
  // number of rows apart: one buffer-to-texture copy per group.
  const rowBytes = strides.row * 4;
  const rowsPerLayer = size.layers === 1 ? size.height : strides.batch / strides.row;
  const groups = Math.ceil(size.layers / Math.min(group, size.layers));
  const first = (i: number) => src.byteOffset + 4 * (offset + i * groupStride);
  if (
    !half && strides.k === 1 && (k % 4 === 0 || zeroPadded) && rowBytes % 256 === 0 &&
    Number.isInteger(rowsPerLayer) && rowsPerLayer >= size.height &&
    [...Array(groups).keys()].every((i) => first(i) % 16 === 0)
  ) {
    const perGroup = Math.min(group, size.layers);
    for (let i = 0; i < groups; i++) {
      const layers = Math.min(perGroup, size.layers - i * perGroup);
      engine().copyToTexture(
        {
          buffer: src.buffer,
          byteOffset: first(i),
          byteLength: src.byteLength - (first(i) - src.byteOffset),
        },
        entry.texture,
        [size.width, size.height, layers],
        rowBytes,
        rowsPerLayer,
        i * perGroup,
      );
    }
    return entry;
  }
  // One vec4 load per texel where rows hold whole vec4s of consecutive c.
  const vec4 = strides.k === 1 && (k % 4 === 0 || zeroPadded) && src.byteLength % 16 === 0 &&
    [strides.row, strides.batch, offset, groupStride].every((x) => x % 4 === 0);
  engine().dispatch(texturePackKernel(half, vec4), [src, entry.view], {
    rows: size.height,
    k,
    k4: size.width,
    batchStride: strides.batch,
    rowStride: strides.row,
    kStride: strides.k,
    offset,
    group,
    groupStride,
  }, [...elementwiseGrid(size.width * size.height), size.layers]);
  return entry;
}

/** A texture matmul's operand: where it is and how to read it. */
export interface TextureOperand {
  /** The region read. */
  storage: Storage;
  /** How element (z, row, c) is found in it. */
  layout: OperandLayout;
}

/**
 * Records a texture matmul (`texture` or `texturetn` variant) on operands in any layout: packs
 * A and B as their layouts say (rounded to f16 with `half`, or reused from an earlier pack)
 * and stores `alpha · op(A) op(B) + bias` into `out` as `c` says.
 *
 * @param variant A texture variant.
 * @param s The product's shape.
 * @param a A and how to read it.
 * @param b B and how to read it.
 * @param out C's storage.
 * @param c Where C's elements go.
 * @param alpha Scale of the product.
 * @param half Round the operands to f16.
 * @param bias Added to each row (contiguous C only).
 * @param sums Receives A's column sums (`texturetn` only; see `matmulKernel`).
 */
export function textureMatmul(
  variant: MatmulVariant,
  s: MatmulShape,
  a: TextureOperand,
  b: TextureOperand,
  out: Storage,
  c: OutputLayout,
  alpha: number,
  half: boolean,
  bias?: Storage,
  sums?: Storage,
): void {
  const texA = packOperand(a.storage, a.layout, half);
  const texB = packOperand(b.storage, b.layout, half, texA);
  const { groups, tilesN } = matmulGrid(variant, s);
  const views = [texA.view, texB.view];
  const bindings = bias ? [...views, bias, out] : [...views, out];
  if (sums) bindings.push(sums);
  // vec4 stores where rows of C hold whole vec4s; texturetn gained nothing from them (a
  // 192 × 3152 × 192 weight gradient: 8.2–8.9 ms either way), so it keeps one compiled form.
  const store4 = variant.family !== "texturetn" && variant.tn % 4 === 0 &&
    (s.n % 4 === 0 || !!c.padded) &&
    [c.offset, c.batch, c.groupStride, c.row].every((x) => x % 4 === 0);
  const kernel = matmulKernel(variant, s.transA, s.transB, !!bias, false, false, store4, !!sums);
  engine().dispatch(kernel, bindings, {
    m: s.m,
    n: s.n,
    steps: Math.ceil(s.k / 4),
    k: s.k,
    strideC: c.batch,
    alpha,
    tilesN,
    layerStepA: a.layout.size.layers > 1 ? 1 : 0,
    layerStepB: b.layout.size.layers > 1 ? 1 : 0,
    offsetC: c.offset,
    groupC: c.group,
    groupStrideC: c.groupStride,
    rowStrideC: c.row,
    storeN4: Math.ceil(s.n / 4),
  }, groups);
}

/** Records one matmul dispatch of `variant` into `out`. */
export function dispatchMatmul(
  variant: MatmulVariant,
  s: MatmulShape,
  a: Tensor,
  b: Tensor,
  out: Tensor,
  alpha: number,
  bias?: Tensor,
  batchedA = true,
  batchedB = true,
  half = false,
  sums?: Tensor,
): void {
  if (variant.family.startsWith("texture")) {
    const [la, lb] = operandLayouts(variant.family, s, batchedA, batchedB);
    textureMatmul(
      variant,
      s,
      { storage: a.storage, layout: la },
      { storage: b.storage, layout: lb },
      out.storage,
      { offset: 0, group: ONE_GROUP, groupStride: 0, batch: s.m * s.n, row: s.n },
      alpha,
      half,
      bias?.storage,
      sums?.storage,
    );
    return;
  }
  if (sums) throw new Error(`matmul: ${variant.family} has no column sums`);
  const { groups, tilesN } = matmulGrid(variant, s);
  const storages = [a.storage, b.storage];
  if (bias) storages.push(bias.storage);
  storages.push(out.storage);
  engine().dispatch(
    matmulKernel(
      variant,
      s.transA,
      s.transB,
      !!bias,
      half,
      half && (emulation ?? !gpu().f16RoundsToNearest),
    ),
    storages,
    {
      m: s.m,
      n: s.n,
      k: s.k,
      strideA: batchedA ? s.m * s.k : 0,
      strideB: batchedB ? s.k * s.n : 0,
      strideC: s.m * s.n,
      alpha,
      tilesN,
    },
    groups,
  );
}

/**
 * Whether an NN product runs faster as NT on a transposed copy of B: on CPU adapters the vec4
 * NT kernel reaches about 28 GFLOP/s where the NN register kernel reaches 14–22, and copying B
 * costs 1/M of the product. This is a Linear layer's input gradient (B is the [out, in]
 * weight). Only for products whose operands do not fit in textures (the texture family runs
 * every layout at the same speed), and not when a variant is forced, so that tests reach the
 * kernel they ask for.
 */
export function runsAsNT(s: MatmulShape): boolean {
  return gpu().isCpu && !forced && !texturesFit(s) && !s.transA && !s.transB && s.k % 4 === 0 &&
    s.m >= 64 && s.batch * s.m * s.n * s.k >= SMALL_MATMUL;
}

/**
 * A Linear layer's weight gradient `alpha · gᵀ·x` and bias gradient (g's column sums) from one
 * `texturetn` product, which sums g's columns as it reads them: in a ViT-Tiny step the
 * separate sums took about 130 ms of GPU time. Null where the product would not run as
 * `texturetn` (GPUs, operands too big for textures, a forced variant).
 */
function linearGrads(g: Tensor, x: Tensor, alpha: number, half: boolean): [Tensor, Tensor] | null {
  const [rows, n] = g.shape;
  const k = x.shape[1];
  const s: MatmulShape = { batch: 1, m: n, k: rows, n: k, transA: true, transB: false };
  const variant = matmulVariantFor(s);
  if (rows === 0 || n === 0 || k === 0 || variant.family !== "texturetn") return null;
  const dw = Tensor.empty([n, k]);
  const db = Tensor.empty([n]);
  dispatchMatmul(variant, s, g, x, dw, alpha, undefined, true, true, half, db);
  return [dw, db];
}

/** A contiguous copy of `b` [..., K, N] as [..., N, K], outside autograd. */
function transposedCopy(b: Tensor): Tensor {
  const r = b.rank;
  const shape = [...b.shape.slice(0, -2), b.shape[r - 1], b.shape[r - 2]];
  const strides = contiguousStrides(b.shape);
  [strides[r - 2], strides[r - 1]] = [strides[r - 1], strides[r - 2]];
  const out = Tensor.empty(shape);
  stridedCopy(b, out, shape, strides, 0, contiguousStrides(shape), 0);
  return out;
}

/**
 * Times every candidate variant on a shape and remembers the fastest for later matmuls of that
 * shape. Each candidate runs `reps` times between two GPU syncs.
 *
 * @param s The shape to tune.
 * @param reps Repetitions per candidate.
 * @returns The chosen variant and the GFLOP/s of each candidate.
 */
export async function autotuneMatmul(
  s: MatmulShape,
  reps = 3,
): Promise<{ best: MatmulVariant; results: { variant: MatmulVariant; gflops: number }[] }> {
  const candidates = matmulCandidates(s);
  const a = Tensor.zeros([s.batch * s.m * s.k]);
  const b = Tensor.zeros([s.batch * s.k * s.n]);
  const out = Tensor.empty([s.batch * s.m * s.n]);
  const results: { variant: MatmulVariant; gflops: number }[] = [];
  try {
    for (const variant of candidates) {
      dispatchMatmul(variant, s, a, b, out, 1); // compile and warm up
      await engine().sync();
      const t0 = performance.now();
      for (let i = 0; i < reps; i++) dispatchMatmul(variant, s, a, b, out, 1);
      await engine().sync();
      const seconds = (performance.now() - t0) / 1000 / reps;
      results.push({ variant, gflops: (2 * s.batch * s.m * s.n * s.k) / seconds / 1e9 });
    }
  } finally {
    a.dispose();
    b.dispose();
    out.dispose();
  }
  const best = results.reduce((x, y) => (y.gflops > x.gflops ? y : x)).variant;
  tuned.set(shapeKey(s), best);
  return { best, results };
}

/**
 * `alpha · op(a) · op(b) + bias`. `a` is [..., M, K] (or [..., K, M] with `transA`), `b` is
 * [K, N] or batched [..., K, N] with the same batch dimensions (or transposed with `transB`).
 * A 2-D `b` with a batched `a` folds the batch into M, as a Linear layer does.
 *
 * @example
 * ```ts
 * import { matmul, Tensor } from "../mod.ts";
 * const a = Tensor.from([1, 2, 3, 4], [2, 2]);
 * const w = Tensor.from([1, 0, 0, 1, 1, 1], [3, 2]); // [out, in], as in PyTorch
 * console.log(await matmul(a, w, { transB: true }).toArray()); // [1, 2, 3, 3, 4, 7]
 * ```
 */
export function matmul(a: Tensor, b: Tensor, options: MatmulOptions = {}): Tensor {
  assertF32(a, "matmul");
  assertF32(b, "matmul");
  const transA = options.transA ?? false;
  const transB = options.transB ?? false;
  const alpha = options.alpha ?? 1;
  const bias = options.bias;
  const half = options.half === undefined ? halfMatmuls() : options.half && gpu().hasF16;
  if (a.rank < 2 || b.rank < 2) throw new Error("matmul: operands need at least 2 dimensions");
  const bBatch = b.shape.slice(0, -2);
  let aBatch = a.shape.slice(0, -2);
  let [aRows, aCols] = a.shape.slice(-2);
  if (bBatch.length === 0 && aBatch.length > 0 && !transA) {
    aRows *= sizeOf(aBatch);
    aBatch = [];
  }
  if (
    bBatch.length > 0 && (bBatch.length !== aBatch.length || bBatch.some((d, i) => d !== aBatch[i]))
  ) {
    throw new Error(`matmul: batch dimensions of [${a.shape}] and [${b.shape}] differ`);
  }
  if (bBatch.length === 0 && aBatch.length > 0) {
    throw new Error("matmul: a transposed batched `a` needs a batched `b`");
  }
  const m = transA ? aCols : aRows;
  const k = transA ? aRows : aCols;
  const [bRows, bCols] = b.shape.slice(-2);
  const kB = transB ? bCols : bRows;
  const n = transB ? bRows : bCols;
  if (k !== kB) {
    throw new Error(
      `matmul: inner dimensions differ: [${a.shape}]${transA ? "ᵀ" : ""} · [${b.shape}]${
        transB ? "ᵀ" : ""
      }`,
    );
  }
  if (bias && (bias.rank !== 1 || bias.shape[0] !== n)) {
    throw new Error(`matmul: bias [${bias.shape}] does not match ${n} columns`);
  }
  const batch = sizeOf(bBatch);
  const s: MatmulShape = { batch, m, k, n, transA, transB };
  const outShape = bBatch.length > 0
    ? [...bBatch, m, n]
    : a.rank > 2 && !transA
    ? [...a.shape.slice(0, -1), n]
    : [m, n];
  const out = Tensor.empty(outShape);
  if (out.size > 0) {
    if (k === 0) engine().clear(out.storage);
    else {
      // On CPU adapters half precision rounds each operand once, up front, and runs the f32
      // kernel: the same values as rounding every load in the inner loop (IEEE rounding either
      // way; the start-up probe checks the shader's), without its cost (a demo fp16 step took
      // 35 % longer than f32 that way). Not when a test forces a rounding path.
      const variant = matmulVariantFor(s);
      const preround = half && gpu().isCpu && emulation === null &&
        !variant.family.startsWith("texture");
      const a2 = preround ? runMap("roundF16", [a], a.shape) : a;
      let b2 = preround ? runMap("roundF16", [b], b.shape) : b;
      const kernelHalf = half && !preround;
      if (runsAsNT(s)) {
        const bt = transposedCopy(b2);
        if (b2 !== b) b2.dispose();
        b2 = bt;
        const nt = { ...s, transB: true };
        dispatchMatmul(matmulVariantFor(nt), nt, a2, b2, out, alpha, bias, true, true, kernelHalf);
      } else {
        dispatchMatmul(variant, s, a2, b2, out, alpha, bias, true, true, kernelHalf);
      }
      if (a2 !== a) a2.dispose();
      if (b2 !== b) b2.dispose();
    }
  }
  const inputs = bias ? [a, b, bias] : [a, b];
  return record(out, inputs, (g) => {
    const g2 = bBatch.length > 0 ? g : g.view([m, n]);
    const a2 = bBatch.length > 0 || a.rank === 2 ? a : a.view([m, k]);
    let da: Tensor | null = null;
    let db: Tensor | null = null;
    if (a.requiresGrad) {
      da = transA
        ? matmul(b, g2, { transA: transB, transB: true, alpha, half })
        : matmul(g2, b, { transB: !transB, alpha, half });
      if (da.rank !== a.rank) {
        const v = da.view(a.shape);
        da.dispose();
        da = v;
      }
    }
    let dbias: Tensor | null = null;
    // A Linear layer's weight and bias gradients from one product where it runs as texturetn.
    const fused = b.requiresGrad && bias?.requiresGrad && transB && !transA &&
        bBatch.length === 0
      ? linearGrads(g2, a2, alpha, half)
      : null;
    if (fused) [db, dbias] = fused;
    else if (b.requiresGrad) {
      db = transB
        ? matmul(g2, a2, { transA: true, transB: transA, alpha, half })
        : matmul(a2, g2, { transA: !transA, alpha, half });
    }
    if (bias?.requiresGrad && !dbias) {
      const rows = g.view([-1, n]);
      dbias = sum(rows, 0);
      rows.dispose();
    }
    if (g2 !== g) g2.dispose();
    if (a2 !== a) a2.dispose();
    return bias ? [da, db, dbias] : [da, db];
  }, "matmul");
}
