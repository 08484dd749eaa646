/**
 * The bare ViT-style model that ViT and DeiT share, in Hugging Face's structure and names: token
 * and patch embeddings with learned positions, the encoder, the final LayerNorm and an optional
 * pooler, and Hugging Face's ViT initialisation. A family names its embeddings' extra tokens
 * (DeiT's distillation token) and its backbone's prefix (`vit.`, `deit.`).
 *
 * @module
 */

import { add, concat, expand, gatherRows } from "../tensor/ops.ts";
import { Tensor } from "../tensor/tensor.ts";
import { type EncoderLayer, ViTEncoder, ViTPooler } from "./encoder.ts";
import type { EncoderConfig } from "./encoder_config.ts";
import { Rng, truncNormal } from "./init.ts";
import { Dropout, LayerNorm } from "./layers.ts";
import { Module } from "./module.ts";
import { ViTPatchEmbeddings } from "./patch_embeddings.ts";
import { interpolatePositions } from "./position_grid.ts";

/**
 * The CLS token, any further learned tokens after it, the patch embeddings and the position
 * embeddings, whose patch grid is resized for other image sizes.
 *
 * @example
 * ```ts
 * import { PatchTokenEmbeddings } from "./encoder_model.ts";
 * import { makeViTConfig } from "../mod.ts";
 * import { Tensor } from "../tensor/tensor.ts";
 * const config = makeViTConfig({ hidden_size: 8, num_attention_heads: 2, image_size: 16,
 *   patch_size: 4 });
 * const embed = new PatchTokenEmbeddings(config, ["distillation_token"]);
 * console.log(embed.forward(Tensor.zeros([1, 3, 16, 16])).shape); // [1, 18, 8]
 * ```
 */
export class PatchTokenEmbeddings extends Module {
  /** [1, 1, hidden]. */
  readonly clsToken: Tensor;
  /** The learned tokens after CLS, each [1, 1, hidden], in the order of their names. */
  readonly extraTokens: readonly Tensor[];
  /** DINOv2's `mask_token` [1, hidden], which replaces masked patches in pretraining, or null. */
  readonly maskToken: Tensor | null;
  /** [1, tokens + patches, hidden]. */
  readonly positionEmbeddings: Tensor;
  /** The patch projection. */
  readonly patchEmbeddings: ViTPatchEmbeddings;
  /** Dropout after adding positions. */
  readonly dropout: Dropout;

  /**
   * Creates the layer.
   *
   * @param config The model config.
   * @param extraTokens Parameter names of learned tokens after CLS (DeiT's
   * "distillation_token").
   * @param options `maskToken` registers DINOv2's `mask_token` after the tokens, where its
   * checkpoints have it; forward passes without masked positions leave it unused.
   */
  constructor(
    readonly config: EncoderConfig,
    extraTokens: readonly string[] = [],
    options: { maskToken?: boolean } = {},
  ) {
    super();
    const d = config.hidden_size;
    const patches = (config.image_size / config.patch_size) ** 2;
    this.clsToken = this.registerParameter("cls_token", Tensor.zeros([1, 1, d]));
    this.extraTokens = extraTokens.map((name) =>
      this.registerParameter(name, Tensor.zeros([1, 1, d]))
    );
    this.maskToken = options.maskToken
      ? this.registerParameter("mask_token", Tensor.zeros([1, d]))
      : null;
    this.positionEmbeddings = this.registerParameter(
      "position_embeddings",
      Tensor.zeros([1, this.leadingTokens + patches, d]),
    );
    this.patchEmbeddings = this.registerModule("patch_embeddings", new ViTPatchEmbeddings(config));
    this.dropout = this.registerModule("dropout", new Dropout(config.hidden_dropout_prob));
  }

  /** Token rows before the patch grid: CLS and the extra tokens. */
  get leadingTokens(): number {
    return 1 + this.extraTokens.length;
  }

  /**
   * Position embeddings resized bicubically (torch's `interpolate`, align_corners false) to a
   * grid of `gh`×`gw` patches.
   *
   * @param gh Grid height in patches.
   * @param gw Grid width in patches.
   * @returns [1, tokens + gh·gw, hidden].
   */
  interpolatePosEncoding(gh: number, gw: number): Tensor {
    return interpolatePositions(this.positionEmbeddings, this.leadingTokens, gh, gw);
  }

  /**
   * [B, C, H, W] → [B, tokens + patches, hidden]: CLS, the extra tokens, then the patches.
   *
   * @param pixels Pixel values.
   * @param interpolatePosEncoding Resize the position grid to other image sizes.
   * @returns The embeddings.
   * @throws {Error} When the image size differs from the config's without
   * `interpolatePosEncoding`.
   */
  forward(pixels: Tensor, interpolatePosEncoding = false): Tensor {
    const [b, , h, w] = pixels.shape;
    const size = this.config.image_size;
    const sameSize = h === size && w === size;
    if (!interpolatePosEncoding && !sameSize) {
      throw new Error(
        `input image size (${h}*${w}) doesn't match model (${size}*${size}); ` +
          "resize the images or pass interpolatePosEncoding",
      );
    }
    const patches = this.patchEmbeddings.forward(pixels);
    const d = this.config.hidden_size;
    const tokens = concat([
      expand(this.clsToken, [b, 1, d]),
      ...this.extraTokens.map((t) => expand(t, [b, 1, d])),
      patches,
    ], 1);
    const p = this.config.patch_size;
    // HF keeps the learned grid when the image has the config's size.
    const positions = sameSize
      ? this.positionEmbeddings
      : this.interpolatePosEncoding(h / p, w / p);
    return this.dropout.forward(add(tokens, positions));
  }
}

/** Output of a bare model's forward pass ({@link EncoderModel.forward}), as HF's. */
export interface ViTModelOutput {
  /** Final hidden states after the last LayerNorm, [B, T, hidden]. */
  lastHiddenState: Tensor;
  /** Pooled CLS state, when the model has a pooler. */
  poolerOutput?: Tensor;
}

/**
 * The bare model: embeddings, encoder, final LayerNorm and an optional pooler (dense + tanh on
 * the CLS token), as HF's ViTModel and DeiTModel.
 *
 * @example
 * ```ts
 * import { EncoderModel, PatchTokenEmbeddings } from "./encoder_model.ts";
 * import { makeViTConfig } from "../mod.ts";
 * import { Tensor } from "../tensor/tensor.ts";
 * const config = makeViTConfig({ hidden_size: 8, num_hidden_layers: 1, num_attention_heads: 2,
 *   intermediate_size: 16, image_size: 16, patch_size: 4 });
 * const model = new EncoderModel(config, new PatchTokenEmbeddings(config));
 * console.log(model.forward(Tensor.zeros([1, 3, 16, 16])).lastHiddenState.shape); // [1, 17, 8]
 * ```
 */
export class EncoderModel<E extends PatchTokenEmbeddings = PatchTokenEmbeddings> extends Module {
  /** Embeddings. */
  readonly embeddings: E;
  /** Encoder. */
  readonly encoder: ViTEncoder<EncoderLayer>;
  /** Final norm. */
  readonly layernorm: LayerNorm;
  /** Pooler, or null. */
  readonly pooler: ViTPooler | null;

  /**
   * Creates the model with zeroed weights; call {@link initViTWeights} or load a checkpoint.
   *
   * @param config The model config.
   * @param embeddings The family's embeddings.
   * @param addPoolingLayer Whether to include the pooler.
   * @param encoder The family's layer stack (ViT's layers by default; DINOv2 passes its own).
   */
  constructor(
    readonly config: EncoderConfig,
    embeddings: E,
    addPoolingLayer = true,
    encoder: ViTEncoder<EncoderLayer> = new ViTEncoder(config),
  ) {
    super();
    this.embeddings = this.registerModule("embeddings", embeddings);
    this.encoder = this.registerModule("encoder", encoder);
    this.layernorm = this.registerModule(
      "layernorm",
      new LayerNorm(config.hidden_size, config.layer_norm_eps),
    );
    this.pooler = addPoolingLayer ? this.registerModule("pooler", new ViTPooler(config)) : null;
  }

  /**
   * Runs the model on [B, C, H, W] pixel values.
   *
   * @param pixels Pixel values.
   * @param interpolatePosEncoding Resize the position grid to other image sizes.
   * @returns The final hidden states and, with a pooler, the pooled CLS state.
   */
  forward(pixels: Tensor, interpolatePosEncoding = false): ViTModelOutput {
    const h = this.encoder.forward(this.embeddings.forward(pixels, interpolatePosEncoding));
    const lastHiddenState = this.layernorm.forward(h);
    if (!this.pooler) return { lastHiddenState };
    return {
      lastHiddenState,
      poolerOutput: this.pooler.forward(tokenRows(lastHiddenState, 0)),
    };
  }
}

/**
 * One token's state of each sequence, `hidden[:, index, :]`: rows index, T + index, … of
 * [B·T, hidden].
 *
 * @param hidden [B, T, hidden] states.
 * @param index The token (0 for CLS).
 * @returns [B, hidden].
 * @example
 * ```ts
 * import { tokenRows } from "./encoder_model.ts";
 * import { Tensor } from "../tensor/tensor.ts";
 * console.log(tokenRows(Tensor.zeros([2, 5, 8]), 1).shape); // [2, 8]
 * ```
 */
export function tokenRows(hidden: Tensor, index: number): Tensor {
  const [b, t, d] = hidden.shape;
  return gatherRows(hidden.view([b * t, d]), Array.from({ length: b }, (_, i) => i * t + index));
}

/**
 * Fills a model's parameters as Hugging Face's ViT `_init_weights` does: Linear and the patch
 * projection from a normal truncated to ±2 with std `initializer_range`, zero biases, unit
 * LayerNorm weights, and the CLS token and position embeddings from the same truncated normal.
 *
 * @param model The model.
 * @param seed Seed of the generator.
 * @param only If given, only parameters whose names pass this test are filled.
 * @example
 * ```ts
 * import { initViTWeights } from "./encoder_model.ts";
 * import { makeViTConfig, ViTModel } from "../mod.ts";
 * const model = new ViTModel(makeViTConfig({ hidden_size: 32, num_hidden_layers: 1,
 *   num_attention_heads: 2, intermediate_size: 64, image_size: 32 }));
 * initViTWeights(model, 1);
 * ```
 */
export function initViTWeights(
  model: Module & { config: EncoderConfig },
  seed: number,
  only?: (name: string) => boolean,
): void {
  const rng = new Rng(seed);
  const std = model.config.initializer_range;
  for (const [name, t] of model.namedParameters()) {
    if (only && !only(name)) continue;
    const isNorm = /layernorm(_before|_after)?\.weight$/.test(name);
    if (isNorm) t.assign(new Float32Array(t.size).fill(1));
    else if (name.endsWith(".bias")) t.assign(new Float32Array(t.size));
    else t.assign(truncNormal(rng, t.size, std));
  }
}
