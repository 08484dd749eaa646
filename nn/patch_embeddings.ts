/**
 * The patch projection of ViT-style models: a Conv2d whose kernel and stride are the patch size,
 * done as a reshape and a matmul, under Hugging Face's names (`patch_embeddings.projection`).
 *
 * @module
 */

import { matmul, permute } from "../tensor/ops.ts";
import { Tensor } from "../tensor/tensor.ts";
import { Module } from "./module.ts";

/** The config fields the patch projection reads (HF's names). */
export interface PatchConfig {
  /** Width of the token embeddings. */
  hidden_size: number;
  /** Input channels. */
  num_channels: number;
  /** Patch height and width. */
  patch_size: number;
}

/**
 * The patch projection, stride equal to the patch size, done as a reshape and a matmul.
 *
 * @example
 * ```ts
 * import { ViTPatchEmbeddings } from "./patch_embeddings.ts";
 * import { Tensor } from "../tensor/tensor.ts";
 * const embed = new ViTPatchEmbeddings({ hidden_size: 8, num_channels: 3, patch_size: 4 });
 * console.log(embed.forward(Tensor.zeros([2, 3, 8, 12])).shape); // [2, 6, 8]
 * ```
 */
export class ViTPatchEmbeddings extends Module {
  /** The projection, holding Conv2d's weight [hidden, channels, p, p] and bias. */
  readonly projection: PatchProjection;

  /**
   * Creates the layer.
   *
   * @param config The model config.
   */
  constructor(readonly config: PatchConfig) {
    super();
    this.projection = this.registerModule("projection", new PatchProjection(config));
  }

  /**
   * [B, C, H, W] pixels → [B, (H/p)(W/p), hidden] patch embeddings.
   *
   * @param pixels Pixel values; H and W must be multiples of the patch size.
   * @returns The embeddings, row by row of patches.
   * @throws {Error} When the channels or the image size do not fit.
   */
  forward(pixels: Tensor): Tensor {
    const [b, c, h, w] = pixels.shape;
    const p = this.config.patch_size;
    if (c !== this.config.num_channels) {
      throw new Error(
        `pixel values have ${c} channels, the model expects ${this.config.num_channels}`,
      );
    }
    if (h % p !== 0 || w % p !== 0) {
      throw new Error(`image size ${h}×${w} is not a multiple of the patch size ${p}`);
    }
    const nh = h / p;
    const nw = w / p;
    const patches = permute(pixels.view([b, c, nh, p, nw, p]), [0, 2, 4, 1, 3, 5]).view([
      b * nh * nw,
      c * p * p,
    ]);
    const weight = this.projection.weight.view([this.config.hidden_size, c * p * p]);
    return matmul(patches, weight, { transB: true, bias: this.projection.bias }).view([
      b,
      nh * nw,
      this.config.hidden_size,
    ]);
  }
}

/** Holds the Conv2d parameters under the names `weight` and `bias`. */
export class PatchProjection extends Module {
  /** [hidden, channels, patch, patch]. */
  readonly weight: Tensor;
  /** [hidden]. */
  readonly bias: Tensor;

  /**
   * Creates the parameters.
   *
   * @param config The model config.
   */
  constructor(config: PatchConfig) {
    super();
    const p = config.patch_size;
    this.weight = this.registerParameter(
      "weight",
      Tensor.zeros([config.hidden_size, config.num_channels, p, p]),
    );
    this.bias = this.registerParameter("bias", Tensor.zeros([config.hidden_size]));
  }
}
