/**
 * Records one matmul dispatch of a chosen variant, texture or storage family alike.
 *
 * @module
 */

import {
  matmulGrid,
  matmulKernel,
  type MatmulPrecision,
  type MatmulVariant,
} from "../../../kernels/matmul.ts";
import { engine } from "../../core/engine.ts";
import type { Storage } from "../../core/command_engine.ts";
import { Tensor } from "../../core/tensor.ts";
import { ONE_GROUP, operandLayouts, textureMatmul } from "./texture_matmul.ts";
import { f16EmulationOverride, noteMatmulVariant } from "../../core/tuning.ts";
import { backend, type MatmulCall } from "../../core/backend.ts";

/** One dispatch: a product (as a backend receives it) with the variant chosen for it. */
export interface MatmulDispatch extends Omit<MatmulCall, "half"> {
  /** The kernel variant. */
  readonly variant: MatmulVariant;
  /** Round the operands to f16 (default false). */
  readonly half?: boolean;
  /** Receives A's column sums (`texturetn` only). */
  readonly sums?: Tensor;
}

/**
 * How a storage kernel rounds: f32, or f16 through the shader's conversion where the start-up
 * probe trusts it (or a test forces it), else f16 emulated in f32 arithmetic.
 */
function precisionOf(half: boolean): MatmulPrecision {
  if (!half) return "f32";
  const emulate = f16EmulationOverride() ?? !backend().profile.f16RoundsToNearest;
  return emulate ? "f16-emulated" : "f16";
}

/** The most products one dispatch takes (the grid's z), a multiple of 64. */
const MAX_BATCH = 65472;

/** `count` floats of a region from float `start`. */
function region(st: Storage, start: number, count: number): Storage {
  return { buffer: st.buffer, byteOffset: st.byteOffset + 4 * start, byteLength: 4 * count };
}

/**
 * Records `out = alpha · op(a) · op(b) + bias` with one variant.
 *
 * @param d The dispatch.
 */
export function dispatchMatmul(d: MatmulDispatch): void {
  const { variant, shape: s, a, b, out, alpha, bias, half = false, sums } = d;
  noteMatmulVariant(variant);
  if (variant.family.startsWith("texture")) {
    const [la, lb] = operandLayouts(variant.family, s);
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
  if (s.batch > MAX_BATCH) {
    // The batch is the grid's z, at most 65535: record it in chunks of whole regions, each
    // starting on a multiple of 64 products so that every binding offset is 256-byte aligned.
    for (let start = 0; start < s.batch; start += MAX_BATCH) {
      const count = Math.min(MAX_BATCH, s.batch - start);
      const part = (t: Tensor, per: number): Tensor =>
        Tensor.fromStorage(region(t.storage, start * per, count * per), [count * per], t.dtype);
      dispatchMatmul({
        ...d,
        shape: { ...s, batch: count },
        a: part(a, s.m * s.k),
        b: part(b, s.k * s.n),
        out: part(out, s.m * s.n),
      });
    }
    return;
  }
  const { groups, tilesN } = matmulGrid(variant, s);
  const storages = [a.storage, b.storage];
  if (bias) storages.push(bias.storage);
  storages.push(out.storage);
  const kernel = matmulKernel({
    variant,
    transA: s.transA,
    transB: s.transB,
    bias: !!bias,
    precision: precisionOf(half),
  });
  engine().dispatch(kernel, storages, {
    m: s.m,
    n: s.n,
    k: s.k,
    strideA: s.m * s.k,
    strideB: s.k * s.n,
    strideC: s.m * s.n,
    alpha,
    tilesN,
  }, groups);
}
