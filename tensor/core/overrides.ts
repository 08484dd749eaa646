/**
 * One runtime's overrides of its backend's choices, as data: the autotuner's per-shape table and
 * the forced variant, f16 rounding and row flavour that tests use to reach each kernel on one
 * adapter. Each runtime owns one ({@link Tuning}); `tuning.ts` reads and sets the active one's.
 *
 * @module
 */

import type { MatmulShape, MatmulVariant } from "../../kernels/matmul.ts";
import type { RowFlavour } from "../../kernels/rows.ts";
import type { Backend } from "./backend.ts";

function shapeKey(s: MatmulShape): string {
  return `${s.batch}:${s.m}:${s.k}:${s.n}:${s.transA}:${s.transB}`;
}

/**
 * Vets the backend's choice of variant before a product uses it: `tensor/first_use.ts`'s check,
 * which `init()` installs, returns the variant once it has computed right on this adapter and a
 * checked one until then.
 */
export interface VariantGate {
  /**
   * The variant to run a product with.
   *
   * @param backend The runtime's backend.
   * @param v The backend's choice.
   * @param s The shape.
   * @returns `v` once it is checked, else a variant that is.
   */
  pick(backend: Backend, v: MatmulVariant, s: MatmulShape): MatmulVariant;

  /**
   * Whether the backend's fused attention has passed its check (starting it the first time);
   * until it has, attention is composed from checked products.
   *
   * @param backend The runtime's backend.
   * @returns True once it has passed.
   */
  fusedAttention(backend: Backend): boolean;
}

/** The overrides and the autotuned table of one runtime. */
export class Tuning {
  /** The variant forced on every matmul it can run, or null. */
  forcedVariant: MatmulVariant | null = null;
  /** Forced f16 rounding: true to emulate, false for the shader's conversion, null when not. */
  forcedEmulation: boolean | null = null;
  /** The forced row-kernel flavour, or null for the backend's. */
  forcedRows: RowFlavour | null = null;
  /** The variant of the most recent matmul dispatch. */
  lastVariant: MatmulVariant | null = null;
  /** The first-use check of the backend's choices, or null (choices are used unchecked). */
  gate: VariantGate | null = null;
  readonly #tuned = new Map<string, MatmulVariant>();

  /**
   * The variant a matmul of this shape runs with: the forced one where it can run the shape,
   * else the autotuned one (checked by the autotuner), else the backend's choice as the gate
   * passes it.
   *
   * @param backend The runtime's backend.
   * @param s The shape.
   * @returns The variant.
   */
  variantFor(backend: Backend, s: MatmulShape): MatmulVariant {
    if (this.forcedVariant && backend.canRun(this.forcedVariant, s)) return this.forcedVariant;
    const tuned = this.#tuned.get(shapeKey(s));
    if (tuned) return tuned;
    const chosen = backend.variantFor(s);
    return this.gate ? this.gate.pick(backend, chosen, s) : chosen;
  }

  /**
   * Remembers the fastest variant for a shape (the autotuner's result).
   *
   * @param s The shape.
   * @param v The variant.
   */
  remember(s: MatmulShape, v: MatmulVariant): void {
    this.#tuned.set(shapeKey(s), v);
  }

  /** How many shapes the autotuner has remembered. */
  get tunedShapes(): number {
    return this.#tuned.size;
  }
}
