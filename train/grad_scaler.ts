/**
 * Dynamic loss scaling for fp16 training, with the state machine of `torch.cuda.amp.GradScaler`:
 * the loss is multiplied by the scale before backward; gradients are divided by it again before
 * the update; a step whose gradients overflowed is skipped and the scale backs off; after
 * `growthInterval` clean steps in a row the scale grows.
 *
 * @module
 */

import type { AdamW } from "../tensor/adamw.ts";
import { mul } from "../tensor/ops.ts";
import type { Tensor } from "../tensor/tensor.ts";

/** Options of {@link GradScaler}, with torch's names and defaults. */
export interface GradScalerOptions {
  /** The first scale (2^16). */
  initScale?: number;
  /** Factor of the scale after `growthInterval` clean steps (2). */
  growthFactor?: number;
  /** Factor of the scale after an overflow (0.5). */
  backoffFactor?: number;
  /** Clean steps in a row before the scale grows (2000). */
  growthInterval?: number;
  /** When false, every method passes through and the scale stays put (true). */
  enabled?: boolean;
}

/** What a checkpoint keeps of a {@link GradScaler}. */
export interface GradScalerState {
  /** The current scale. */
  scale: number;
  /** Clean steps since the scale last changed. */
  growthTracker: number;
}

/**
 * Dynamic loss scaling as `torch.cuda.amp.GradScaler`. Tessera fuses the unscale into the
 * gradient-norm kernel of {@link AdamW.clipGradNorm}, and the trainer reads the norm back with
 * the loss, so the inf check reaches {@link GradScaler.step} and {@link GradScaler.update} as an
 * argument instead of living on the device.
 *
 * @example
 * ```ts
 * import { GradScaler } from "./grad_scaler.ts";
 * const scaler = new GradScaler({ growthInterval: 2 });
 * scaler.update(false);
 * scaler.update(false);
 * console.log(scaler.getScale()); // 131072
 * scaler.update(true);
 * console.log(scaler.getScale()); // 65536
 * ```
 */
export class GradScaler {
  readonly #enabled: boolean;
  readonly #growthFactor: number;
  readonly #backoffFactor: number;
  readonly #growthInterval: number;
  #scale: number;
  #growthTracker = 0;

  /**
   * Creates the scaler.
   *
   * @param options Initial scale, growth and backoff factors, growth interval, enabled.
   */
  constructor(options: GradScalerOptions = {}) {
    this.#enabled = options.enabled ?? true;
    this.#scale = options.initScale ?? 2 ** 16;
    this.#growthFactor = options.growthFactor ?? 2;
    this.#backoffFactor = options.backoffFactor ?? 0.5;
    this.#growthInterval = options.growthInterval ?? 2000;
    if (!(this.#scale > 0)) throw new RangeError(`initScale must be positive, got ${this.#scale}`);
    if (!(this.#growthFactor > 1)) {
      throw new RangeError(`growthFactor must be above 1, got ${this.#growthFactor}`);
    }
    if (!(this.#backoffFactor > 0 && this.#backoffFactor < 1)) {
      throw new RangeError(`backoffFactor must be in (0, 1), got ${this.#backoffFactor}`);
    }
    if (!Number.isInteger(this.#growthInterval) || this.#growthInterval < 1) {
      throw new RangeError(
        `growthInterval must be a positive integer, got ${this.#growthInterval}`,
      );
    }
  }

  /** Whether scaling is on (torch's `is_enabled`). */
  get enabled(): boolean {
    return this.#enabled;
  }

  /**
   * The current scale, or 1 when disabled (torch's `get_scale`).
   *
   * @returns The factor the loss is multiplied by.
   */
  getScale(): number {
    return this.#enabled ? this.#scale : 1;
  }

  /**
   * Multiplies the loss by the scale, so that small f16 gradients do not flush to zero
   * (torch's `scale`).
   *
   * @param loss The loss to call `backward()` on.
   * @returns The scaled loss, or `loss` itself when disabled.
   */
  scaleLoss(loss: Tensor): Tensor {
    return this.#enabled ? mul(loss, this.#scale) : loss;
  }

  /**
   * Divides the gradients by the scale and clips their global norm in one pass
   * (torch's `unscale_` followed by `clip_grad_norm_`).
   *
   * @param optimizer The optimiser whose gradients are scaled.
   * @param maxNorm The largest allowed norm (0: unscale only).
   * @returns `[coefficient, norm]` of the unscaled gradients, to read back with the loss.
   */
  unscaleAndClip(optimizer: AdamW, maxNorm: number): Tensor {
    return optimizer.clipGradNorm(maxNorm, this.getScale());
  }

  /**
   * Steps the optimiser unless the gradients held an inf or a NaN (torch's `step`).
   *
   * @param optimizer The optimiser.
   * @param foundInf Whether the loss or the gradient norm was non-finite.
   * @returns Whether the optimiser stepped.
   */
  step(optimizer: AdamW, foundInf: boolean): boolean {
    if (foundInf) return false;
    optimizer.step();
    return true;
  }

  /**
   * Backs the scale off after an overflow, or grows it after `growthInterval` clean steps in a
   * row (torch's `update`, `_amp_update_scale_`). Does nothing when disabled.
   *
   * @param foundInf Whether this step's gradients overflowed.
   */
  update(foundInf: boolean): void {
    if (!this.#enabled) return;
    if (foundInf) {
      this.#scale *= this.#backoffFactor;
      this.#growthTracker = 0;
    } else if (++this.#growthTracker === this.#growthInterval) {
      this.#scale *= this.#growthFactor;
      this.#growthTracker = 0;
    }
  }

  /**
   * The scale and the clean-step count, for a checkpoint. Unlike torch's `state_dict`, a
   * disabled scaler reports them too, so that an f32 run's rng_state.json keeps its shape.
   *
   * @returns A copy of the state.
   */
  state(): GradScalerState {
    return { scale: this.#scale, growthTracker: this.#growthTracker };
  }

  /**
   * Restores a state from {@link GradScaler.state} (torch's `load_state_dict`).
   *
   * @param state The saved scale and clean-step count.
   */
  loadState(state: GradScalerState): void {
    this.#scale = state.scale;
    this.#growthTracker = state.growthTracker;
  }
}
