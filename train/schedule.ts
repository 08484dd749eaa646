/**
 * Learning-rate schedules as Transformers' `get_scheduler` builds them: a linear warmup, then
 * linear decay to zero, a half cosine, or a constant.
 *
 * @module
 */

import type { SchedulerType } from "./args.ts";

/**
 * The learning rate at optimiser step `step` (0-based: the rate used by the step that moves the
 * counter from `step` to `step + 1`).
 *
 * @param type The schedule.
 * @param baseLr The peak rate.
 * @param step Steps already taken.
 * @param warmup Warmup steps.
 * @param total Total steps.
 * @returns The rate.
 * @example
 * ```ts
 * import { learningRateAt } from "./schedule.ts";
 * console.log(learningRateAt("linear", 1e-3, 5, 0, 10)); // 0.0005
 * ```
 */
export function learningRateAt(
  type: SchedulerType,
  baseLr: number,
  step: number,
  warmup: number,
  total: number,
): number {
  if (type === "constant") return baseLr;
  if (step < warmup) return baseLr * (step / Math.max(1, warmup));
  if (type === "constant_with_warmup") return baseLr;
  const progress = (step - warmup) / Math.max(1, total - warmup);
  if (type === "linear") return baseLr * Math.max(0, (total - step) / Math.max(1, total - warmup));
  return baseLr * Math.max(0, 0.5 * (1 + Math.cos(Math.PI * progress)));
}

/** Warmup steps from the arguments, as `TrainingArguments.get_warmup_steps`. */
export function warmupSteps(warmupSteps: number, warmupRatio: number, total: number): number {
  return warmupSteps > 0 ? warmupSteps : Math.ceil(total * warmupRatio);
}
