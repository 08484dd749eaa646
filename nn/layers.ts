/**
 * The basic layers: Linear (PyTorch's `[out, in]` weight layout), LayerNorm and Dropout.
 *
 * @module
 */

import { add, dropout, layerNorm, matmul } from "../tensor/ops.ts";
import { gpu } from "../tensor/device.ts";
import { Tensor } from "../tensor/tensor.ts";
import { Module } from "./module.ts";

/**
 * A branch added to a {@link Linear} layer's output, as PEFT's LoRA layer adds
 * `lora_B(lora_A(x))`.
 */
export interface LinearAdapter {
  /** The branch's output for the layer's input [..., in], shaped as the layer's output. */
  forward(x: Tensor): Tensor;
}

/**
 * `y = x · Wᵀ + b` with `W` of shape [out, in], as `torch.nn.Linear`. Weights start at zero;
 * the model's initialiser fills them.
 *
 * @example
 * ```ts
 * import { Linear } from "./layers.ts";
 * import { Tensor } from "../tensor/tensor.ts";
 * const fc = new Linear(3, 2);
 * console.log(fc.forward(Tensor.zeros([5, 3])).shape); // [5, 2]
 * ```
 */
export class Linear extends Module {
  /** A branch whose output is added to the layer's (LoRA's `B·A·x·scaling`), or null. */
  adapter: LinearAdapter | null = null;
  /** Weight, [out, in]. */
  readonly weight: Tensor;
  /** Bias, [out], or null. */
  readonly bias: Tensor | null;

  /**
   * Creates the layer.
   *
   * @param inFeatures Input width.
   * @param outFeatures Output width.
   * @param bias Whether to add a bias.
   */
  constructor(readonly inFeatures: number, readonly outFeatures: number, bias = true) {
    super();
    this.weight = this.registerParameter("weight", Tensor.zeros([outFeatures, inFeatures]));
    this.bias = bias ? this.registerParameter("bias", Tensor.zeros([outFeatures])) : null;
  }

  /** Applies the layer to [..., in] (and its adapter, if any). */
  forward(x: Tensor): Tensor {
    const y = matmul(x, this.weight, { transB: true, bias: this.bias ?? undefined });
    if (!this.adapter) return y;
    const delta = this.adapter.forward(x);
    const out = add(y, delta);
    y.dispose();
    delta.dispose();
    return out;
  }
}

/**
 * Layer normalisation over the last axis, as `torch.nn.LayerNorm`.
 *
 * @example
 * ```ts
 * import { LayerNorm } from "./layers.ts";
 * import { Tensor } from "../tensor/tensor.ts";
 * console.log(new LayerNorm(4).forward(Tensor.zeros([2, 4])).shape); // [2, 4]
 * ```
 */
export class LayerNorm extends Module {
  /** Scale, initialised to ones. */
  readonly weight: Tensor;
  /** Shift, initialised to zeros. */
  readonly bias: Tensor;

  /**
   * Creates the layer.
   *
   * @param size Width of the last axis.
   * @param eps Added to the variance.
   */
  constructor(readonly size: number, readonly eps = 1e-12) {
    super();
    this.weight = this.registerParameter(
      "weight",
      Tensor.from(new Float32Array(size).fill(1), [size]),
    );
    this.bias = this.registerParameter("bias", Tensor.zeros([size]));
  }

  /** Normalises [..., size]. */
  forward(x: Tensor): Tensor {
    return layerNorm(x, this.weight, this.bias, this.eps);
  }
}

/**
 * Seeds the dropout masks of every Dropout layer on the active runtime: each call draws a fresh
 * mask from this seed and a running call counter.
 *
 * @param seed The seed.
 * @param calls The counter to resume from (0 to start over).
 */
export function setDropoutSeed(seed: number, calls = 0): void {
  const state = gpu().dropout;
  state.seed = seed >>> 0;
  state.calls = calls;
}

/** The dropout seed and counter, to save in a checkpoint and restore with setDropoutSeed. */
export function dropoutState(): { seed: number; calls: number } {
  const { seed, calls } = gpu().dropout;
  return { seed, calls };
}

/**
 * Inverted dropout, active only in training mode and when `p > 0`.
 *
 * @example
 * ```ts
 * import { Dropout } from "./layers.ts";
 * import { Tensor } from "../tensor/tensor.ts";
 * const d = new Dropout(0.1).eval();
 * console.log(d.forward(Tensor.zeros([3])).shape); // [3]
 * ```
 */
export class Dropout extends Module {
  /**
   * Creates the layer.
   *
   * @param p Probability of zeroing an element.
   */
  constructor(readonly p: number) {
    super();
  }

  /** Applies dropout (a view of `x` when inactive). */
  forward(x: Tensor): Tensor {
    if (!this.training || this.p === 0) return x.view(x.shape);
    const state = gpu().dropout;
    state.calls++;
    return dropout(x, this.p, (Math.imul(state.seed, 0x9e3779b1) ^ state.calls) >>> 0);
  }
}
