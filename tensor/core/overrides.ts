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
 * Vets the backend's choices: `tensor/first_use.ts`'s check, which `init()` installs, runs each
 * variant the start-up check left out on known values just before its first product, and
 * fails the next read if it computed wrong.
 */
export interface VariantGate {
  /**
   * The variant to run a product with.
   *
   * @param backend The runtime's backend.
   * @param v The backend's choice.
   * @param s The shape.
   * @returns `v`, or a checked variant where `v` has failed its check.
   */
  pick(backend: Backend, v: MatmulVariant, s: MatmulShape): MatmulVariant;

  /**
   * Whether attention may take the backend's fused path: false once its check has failed. The
   * first call records the check.
   *
   * @param backend The runtime's backend.
   * @returns Whether it may.
   */
  fusedAttention(backend: Backend): boolean;

  /**
   * Waits for the checks recorded so far and throws, in one line, once any has failed: the
   * runtime's values since that variant's first product are not to be trusted.
   *
   * @returns When every check so far has passed.
   */
  verify(): Promise<void>;
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
