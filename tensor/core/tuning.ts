/**
 * The active runtime's overrides of its backend's choices ({@link Tuning} in `overrides.ts`):
 * the autotuner's per-shape table, and the forced variant, f16 rounding and row flavour that
 * tests use to reach each kernel on one adapter. Each runtime has its own.
 *
 * @module
 */

import type { MatmulShape, MatmulVariant } from "../../kernels/matmul.ts";
import type { RowFlavour } from "../../kernels/rows.ts";
import { gpu } from "./context.ts";
import type { Tuning } from "./overrides.ts";

export { Tuning } from "./overrides.ts";

function tuning(): Tuning {
  return gpu().tuning;
}

/**
 * The variant a matmul of this shape runs with on the active runtime: the forced one where it
 * can run the shape, else the autotuned one, else the backend's choice.
 *
 * @param s The shape.
 * @returns The variant.
 * @example
 * ```ts
 * import { init } from "../runtime.ts";
 * import { matmulVariantFor } from "./tuning.ts";
 * await init();
 * const s = { batch: 1, m: 64, k: 64, n: 64, transA: false, transB: true };
 * console.log(matmulVariantFor(s).family);
 * ```
 */
export function matmulVariantFor(s: MatmulShape): MatmulVariant {
  const rt = gpu();
  return rt.tuning.variantFor(rt.backend, s);
}

/**
 * Forces one variant for every matmul it can run (tests and benchmarks), or restores the
 * automatic choice with null. Shapes it cannot run keep the automatic choice; a test reads
 * {@link lastMatmulVariant} to see which one ran.
 *
 * @param variant The variant, or null for automatic.
 */
export function forceMatmulVariant(variant: MatmulVariant | null): void {
  tuning().forcedVariant = variant;
}

/**
 * Whether a variant is forced (the backends then skip rewrites that would bypass it).
 *
 * @returns Whether one is.
 */
export function variantForced(): boolean {
  return tuning().forcedVariant !== null;
}

/**
 * Notes the variant of a matmul dispatch, for {@link lastMatmulVariant}.
 *
 * @param v The variant dispatched.
 */
export function noteMatmulVariant(v: MatmulVariant): void {
  tuning().lastVariant = v;
}

/**
 * The variant of the most recent matmul dispatch, so that a test can check that a forced
 * variant really ran.
 *
 * @returns The variant, or null before the first matmul.
 */
export function lastMatmulVariant(): MatmulVariant | null {
  return tuning().lastVariant;
}

/**
 * Makes half-precision matmuls round in f32 arithmetic (true), through the shader's `f16`
 * conversion (false), or, with null, whichever this device's start-up probe trusts. For tests
 * that check both paths on one adapter.
 *
 * @param emulate The choice, or null for automatic.
 */
export function forceF16Emulation(emulate: boolean | null): void {
  tuning().forcedEmulation = emulate;
}

/**
 * The forced f16 rounding: true to emulate, false for the shader's conversion, null when not
 * forced.
 *
 * @returns The override.
 */
export function f16EmulationOverride(): boolean | null {
  return tuning().forcedEmulation;
}

/**
 * Forces the flavour of the softmax and layer-norm row kernels (tests check each on one
 * adapter), or restores the backend's choice with null.
 *
 * @param flavour `thread` (one invocation per row), `vec4`, `group` (a workgroup per row), or
 *   null.
 */
export function forceRowFlavour(flavour: RowFlavour | null): void {
  tuning().forcedRows = flavour;
}

/**
 * Remembers the fastest variant for a shape (the autotuner's result).
 *
 * @param s The shape.
 * @param v The variant.
 */
export function rememberTuned(s: MatmulShape, v: MatmulVariant): void {
  tuning().remember(s, v);
}

/**
 * Whether the active runtime may run its backend's fused attention: false once its first-use
 * check (`tensor/first_use.ts`) has failed.
 *
 * @returns Whether it may.
 */
export function fusedAttentionChecked(): boolean {
  const rt = gpu();
  return rt.tuning.gate?.fusedAttention(rt.backend) ?? true;
}
