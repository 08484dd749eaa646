/**
 * Stochastic depth (`drop_path`), shared by the families that use it (DINOv2, ConvNeXt).
 *
 * @module
 */

import { mul } from "../tensor/ops.ts";
import { Tensor } from "../tensor/tensor.ts";
import { Dropout } from "./layers.ts";
import { Module } from "./module.ts";

/**
 * Stochastic depth: in training, each sample's branch is dropped with probability `p` and the
 * kept ones scaled by 1 / (1 - p), as Transformers' `drop_path`; the identity otherwise.
 */
export class DropPath extends Module {
  readonly #mask: Dropout;

  /**
   * Creates the layer.
   *
   * @param p The drop probability.
   */
  constructor(readonly p: number) {
    super();
    // Dropout of a [B, 1, …] tensor of ones is the per-sample mask with drop_path's scaling.
    this.#mask = new Dropout(p);
  }

  /** Drops whole samples of [B, ...] in training. */
  forward(x: Tensor): Tensor {
    if (!this.training || this.p === 0) return x;
    this.#mask.training = true;
    const ones = Tensor.from(new Float32Array(x.shape[0]).fill(1), [
      x.shape[0],
      ...x.shape.slice(1).map(() => 1),
    ]);
    return mul(x, this.#mask.forward(ones));
  }
}
