/**
 * Texture matmuls: each operand is packed (or copied) into an rgba32float texture array in the
 * layout its variant reads, reused while its source buffer is unwritten, and the product is
 * stored into C in any layout. Software adapters run their products this way: a texel fetch is
 * one branch-free gather for all SIMD lanes, where a storage load loops over the lanes.
 *
 * @module
 */

import {
  matmulGrid,
  matmulKernel,
  type MatmulShape,
  type MatmulVariant,
} from "../../../kernels/matmul.ts";
import { elementwiseGrid } from "../../../kernels/elementwise.ts";
import { texturePackKernel } from "../../../kernels/texture_pack.ts";
import { engine, type Storage } from "../../core/engine.ts";
import type { CachedTexture } from "../../core/texture_cache.ts";
import type { TextureSize } from "../../core/texture_cache.ts";

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

/**
 * Whether both operands of a shape fit in textures of a family on this device.
 *
 * @param family `texture`, `texturetn` or `texturenn`.
 * @param s The shape.
 * @returns True when the texture cache can hold both.
 */
export function texturesFitFamily(family: MatmulVariant["family"], s: MatmulShape): boolean {
  return operandLayouts(family, s).every((o) => engine().textures.fits(o.size));
}

/**
 * The texture holding one operand, packed as its layout says: element (z, r, c) is read at
 * `z·batch + r·row + c·k` of `src` (the layout's strides). A texture that already holds it
 * (packed for an earlier matmul, its source not written since) is reused; else one is taken
 * from the cache, never `except` (the other operand's), and filled. Where the operand's rows
 * already hold consecutive c (rows a multiple of 256 bytes, layers back to back) and no rounding
 * is needed, a buffer-to-texture copy fills it, which costs less than the packing kernel.
 *
 * @param src The operand's region.
 * @param layout Where element (z, row, c) lies in it, and the texture's size.
 * @param half Round to f16 as it is packed.
 * @param except A texture not to take (another operand of the same dispatch).
 * @returns The cached texture holding it.
 */
export function packOperand(
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
  engine().dispatch(texturePackKernel({ half, vec4 }), [src, entry.view], {
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
  const { groups, tilesN, tilesPerBatch, batchChunk } = matmulGrid(variant, s);
  const views = [texA.view, texB.view];
  const bindings = bias ? [...views, bias, out] : [...views, out];
  if (sums) bindings.push(sums);
  // vec4 stores where rows of C hold whole vec4s; texturetn gained nothing from them, so it
  // keeps one compiled form.
  const store4 = variant.family !== "texturetn" && variant.tn % 4 === 0 &&
    (s.n % 4 === 0 || !!c.padded) &&
    [c.offset, c.batch, c.groupStride, c.row].every((x) => x % 4 === 0);
  const kernel = matmulKernel({
    variant,
    transA: s.transA,
    transB: s.transB,
    bias: !!bias,
    precision: "f32",
    store4,
    sums: !!sums,
  });
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
    batch: s.batch,
    tilesPerBatch,
    batchChunk,
  }, groups);
}
