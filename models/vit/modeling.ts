/**
 * ViT in Hugging Face's structure and names (transformers' modeling_vit.py), so that every
 * parameter's dotted path is its key in a Transformers checkpoint
 * (`vit.encoder.layer.0.attention.attention.query.weight`). The embeddings, encoder, bare model
 * and classifier head are the shared ones in `nn/`; this file names them for ViT.
 *
 * @module
 */

import { ClsTokenClassifier } from "../../nn/classifier_head.ts";
import { EncoderModel, initViTWeights, PatchTokenEmbeddings } from "../../nn/encoder_model.ts";
import { makeViTConfig, type ViTConfig } from "./config.ts";

/**
 * CLS token, patch embeddings and position embeddings.
 *
 * @example
 * ```ts
 * import { ViTEmbeddings } from "./modeling.ts";
 * import { makeViTConfig } from "./config.ts";
 * const embed = new ViTEmbeddings(makeViTConfig({ image_size: 32 }));
 * console.log(embed.positionEmbeddings.shape); // [1, 5, 768]
 * ```
 */
export class ViTEmbeddings extends PatchTokenEmbeddings {
  /**
   * Creates the layer.
   *
   * @param config The model config.
   */
  constructor(config: ViTConfig) {
    super(config);
  }
}

/**
 * The bare ViT: embeddings, encoder, final LayerNorm and an optional pooler.
 *
 * @example
 * ```ts
 * import { ViTModel } from "./modeling.ts";
 * import { vitBase16 } from "./config.ts";
 * const model = new ViTModel(vitBase16(), false);
 * console.log(model.namedParameters("vit.")[0][0]); // vit.embeddings.cls_token
 * ```
 */
export class ViTModel extends EncoderModel<ViTEmbeddings> {
  /**
   * Creates the model with zeroed weights; call {@link initViTWeights} or load a checkpoint.
   *
   * @param config The model config.
   * @param addPoolingLayer Whether to include the pooler.
   */
  constructor(config: ViTConfig, addPoolingLayer = true) {
    super(config, new ViTEmbeddings(config), addPoolingLayer);
  }
}

/**
 * ViT with a linear classifier on the final CLS state, as HF's ViTForImageClassification.
 * `fromPretrained` (from {@link PreTrainedModel}) reads checkpoints whose keys carry the `vit.`
 * prefix or not (the in21k checkpoint has none, and its pooler is dropped).
 *
 * @example
 * ```ts
 * import { ViTForImageClassification } from "./modeling.ts";
 * import { makeViTConfig } from "./config.ts";
 * import { Tensor } from "../../tensor/tensor.ts";
 * const config = makeViTConfig({ hidden_size: 32, num_hidden_layers: 1, num_attention_heads: 2,
 *   intermediate_size: 64, image_size: 32, patch_size: 16, num_labels: 3 });
 * const model = new ViTForImageClassification(config);
 * const { logits, loss } = model.forward(Tensor.zeros([2, 3, 32, 32]), [0, 2]);
 * console.log(logits.shape, loss?.shape); // [2, 3] []
 * ```
 */
export class ViTForImageClassification extends ClsTokenClassifier<ViTModel> {
  /** config.json's model_type. */
  static override readonly modelType: string = "vit";
  /** HF's base_model_prefix, with the dot. */
  static override readonly baseModelPrefix: string = "vit.";
  /** The class name in config.json's architectures. */
  static override readonly architecture: string = "ViTForImageClassification";

  /**
   * Builds and validates a ViT config, as HF's ViTConfig.
   *
   * @param fields config.json's fields.
   * @param file Where they came from.
   * @returns The config.
   */
  static override makeConfig(fields: Record<string, unknown>, file: string): ViTConfig {
    return makeViTConfig(fields, file);
  }

  /** The model config. */
  declare readonly config: ViTConfig;

  /**
   * Creates the model and initialises it with HF's scheme.
   *
   * @param config The model config; its id2label sets the number of classes.
   * @param seed Seed of the initialiser.
   */
  constructor(config: ViTConfig, seed = 42) {
    super(config, "vit", new ViTModel(config, false));
    initViTWeights(this, seed);
  }

  /** The backbone (no pooler). */
  get vit(): ViTModel {
    return this.backbone;
  }
}
