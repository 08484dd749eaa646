/**
 * Whether `fp16` training runs in half precision on an adapter. Transformers' Trainer refuses
 * `--fp16` on a CPU; a software adapter is one, and there f16 only costs: its operands are
 * rounded and held as f32, so each half-precision product adds a rounding pass and saves
 * neither time nor memory. There `fp16` trains in f32 and says so, as on an adapter without
 * `shader-f16`.
 *
 * @module
 */

import type { AdapterProfile } from "../tensor/core/profile.ts";

/** What {@link halfPrecision} decided: whether autocast is on, and the line that says why. */
export interface HalfPrecisionPlan {
  /** Matmuls round their operands to f16 and the loss is scaled. */
  readonly half: boolean;
  /** One line for the log; empty when `fp16` was not asked for. */
  readonly note: string;
}

/**
 * Decides how `fp16` runs on an adapter.
 *
 * @param fp16 `TrainingArguments.fp16`.
 * @param profile The adapter.
 * @param onSoftware Keep f16 rounding on a software adapter (tests that check fp16's numbers on
 *   a CPU); off by default.
 * @returns The plan.
 * @example
 * ```ts
 * import { halfPrecision } from "./half_precision.ts";
 * const lavapipe = { software: true, f16: true, info: { description: "llvmpipe" } };
 * console.log(halfPrecision(true, lavapipe).half); // false
 * console.log(halfPrecision(true, { ...lavapipe, software: false }).half); // true
 * ```
 */
export function halfPrecision(
  fp16: boolean,
  profile: Pick<AdapterProfile, "software" | "f16"> & {
    readonly info: { readonly description: string };
  },
  onSoftware = false,
): HalfPrecisionPlan {
  if (!fp16) return { half: false, note: "" };
  if (!profile.f16) {
    return { half: false, note: "fp16: this adapter has no shader-f16; training in f32 instead" };
  }
  if (profile.software && !onSoftware) {
    const name = profile.info.description || "this adapter";
    return {
      half: false,
      note: `fp16: ${name} is a software adapter (a CPU), where f16 saves no time; training ` +
        "in f32 instead, as Transformers' Trainer does not run fp16 on a CPU",
    };
  }
  return {
    half: true,
    note: "fp16: f16 matmuls with f32 accumulation and master weights, dynamic loss scaling",
  };
}
