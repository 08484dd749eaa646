/**
 * DeiT in Hugging Face's structure and names (transformers' modeling_deit.py): ViT's encoder with
 * a second, distillation token after the CLS token. The patch embeddings, encoder layers, pooler
 * and CLS classifier are the shared ones in `nn/`, so the keys below `deit.` are ViT's keys below
 * `vit.`, plus `deit.embeddings.distillation_token`.
 *
 * @module
 */

import { ClsTokenClassifier } from "../../nn/classifier_head.ts";
import { numLabels } from "../../nn/config.ts";
import {
  EncoderModel,
  initViTWeights,
  PatchTokenEmbeddings,
  tokenRows,
} from "../../nn/encoder_model.ts";
import type { ImageClassifier, ImageClassifierOutput } from "../../nn/image_classifier.ts";
import { Linear } from "../../nn/layers.ts";
import type { Module } from "../../nn/module.ts";
import { PreTrainedModel } from "../../nn/pretrained.ts";
import { add, mul } from "../../tensor/ops.ts";
import type { Tensor } from "../../tensor/tensor.ts";
import { type DeiTConfig, makeDeiTConfig } from "./config.ts";

/**
 * CLS token, distillation token, patch embeddings and position embeddings.
 *
 * @example
 * ```ts
 * import { DeiTEmbeddings } from "./modeling.ts";
 * import { makeDeiTConfig } from "./config.ts";
 * const embed = new DeiTEmbeddings(makeDeiTConfig({ image_size: 32 }));
 * console.log(embed.positionEmbeddings.shape); // [1, 6, 768]
 * ```
 */
export class DeiTEmbeddings extends PatchTokenEmbeddings {
  /**
   * Creates the layer.
   *
   * @param config The model config.
   */
  constructor(config: DeiTConfig) {
    super(config, ["distillation_token"]);
  }

  /** [1, 1, hidden]. */
  get distillationToken(): Tensor {
    return this.extraTokens[0];
  }
}

/**
 * The bare DeiT: embeddings, ViT's encoder, final LayerNorm and an optional pooler.
 *
 * @example
 * ```ts
 * import { DeiTModel } from "./modeling.ts";
 * import { makeDeiTConfig } from "./config.ts";
 * const model = new DeiTModel(makeDeiTConfig(), false);
 * console.log(model.namedParameters("deit.")[1][0]); // deit.embeddings.distillation_token
 * ```
 */
export class DeiTModel extends EncoderModel<DeiTEmbeddings> {
  /** The model config. */
  declare readonly config: DeiTConfig;

  /**
   * Creates the model with zeroed weights; call {@link initDeiTWeights} or load a checkpoint.
   *
   * @param config The model config.
   * @param addPoolingLayer Whether to include the pooler.
   */
  constructor(config: DeiTConfig, addPoolingLayer = true) {
    super(config, new DeiTEmbeddings(config), addPoolingLayer);
  }
}

/**
 * Fills a model's parameters as Hugging Face's DeiT `_init_weights` does: as ViT's (truncated
 * normal Linear and patch weights, zero biases, unit LayerNorm weights), except that the CLS
 * token, distillation token and position embeddings start at zero.
 *
 * @param model The model.
 * @param seed Seed of the generator.
 * @param only If given, only parameters whose names pass this test are filled.
 * @example
 * ```ts
 * import { DeiTModel, initDeiTWeights } from "./modeling.ts";
 * import { makeDeiTConfig } from "./config.ts";
 * const model = new DeiTModel(makeDeiTConfig({ hidden_size: 32, num_hidden_layers: 1,
 *   num_attention_heads: 2, intermediate_size: 64, image_size: 32 }));
 * initDeiTWeights(model, 1);
 * ```
 */
export function initDeiTWeights(
  model: Module & { config: DeiTConfig },
  seed: number,
  only?: (name: string) => boolean,
): void {
  const isToken = (name: string) =>
    /embeddings\.(cls_token|distillation_token|position_embeddings)$/.test(name);
  initViTWeights(model, seed, (name) => !isToken(name) && (!only || only(name)));
  for (const [name, t] of model.namedParameters()) {
    if (isToken(name) && (!only || only(name))) t.assign(new Float32Array(t.size));
  }
}

/**
 * DeiT with a linear classifier on the final CLS state, as HF's DeiTForImageClassification; the
 * distillation token's state is not used. With labels, the loss is the mean cross-entropy of
 * the logits (HF's loss for integer labels and more than one class).
 *
 * @example
 * ```ts
 * import { DeiTForImageClassification } from "./modeling.ts";
 * import { makeDeiTConfig } from "./config.ts";
 * import { Tensor } from "../../tensor/tensor.ts";
 * const config = makeDeiTConfig({ hidden_size: 32, num_hidden_layers: 1, num_attention_heads: 2,
 *   intermediate_size: 64, image_size: 32, patch_size: 16, num_labels: 3 });
 * const model = new DeiTForImageClassification(config);
 * const { logits, loss } = model.forward(Tensor.zeros([2, 3, 32, 32]), [0, 2]);
 * console.log(logits.shape, loss?.shape); // [2, 3] []
 * ```
 */
export class DeiTForImageClassification extends ClsTokenClassifier<DeiTModel> {
  /** config.json's model_type. */
  static override readonly modelType: string = "deit";
  /** HF's base_model_prefix, with the dot. */
  static override readonly baseModelPrefix: string = "deit.";
  /** The class name in config.json's architectures. */
  static override readonly architecture: string = "DeiTForImageClassification";

  /**
   * Builds and validates a DeiT config, as HF's DeiTConfig.
   *
   * @param fields config.json's fields.
   * @param file Where they came from.
   * @returns The config.
   */
  static override makeConfig(fields: Record<string, unknown>, file: string): DeiTConfig {
    return makeDeiTConfig(fields, file);
  }

  /** The model config. */
  declare readonly config: DeiTConfig;

  /**
   * Creates the model and initialises it with HF's scheme.
   *
   * @param config The model config; its id2label sets the number of classes.
   * @param seed Seed of the initialiser.
   */
  constructor(config: DeiTConfig, seed = 42) {
    super(config, "deit", new DeiTModel(config, false));
    initDeiTWeights(this, seed);
  }

  /** The backbone (no pooler). */
  get deit(): DeiTModel {
    return this.backbone;
  }
}

/** Output of {@link DeiTForImageClassificationWithTeacher.forward}, as HF's. */
export interface DeiTWithTeacherOutput extends ImageClassifierOutput {
  /** The CLS head's scores, [B, numLabels]. */
  clsLogits: Tensor;
  /** The distillation head's scores, [B, numLabels]. */
  distillationLogits: Tensor;
}

/**
 * DeiT with two heads, as HF's DeiTForImageClassificationWithTeacher (the distilled checkpoints,
 * e.g. facebook/deit-base-distilled-patch16-224): one on the CLS state and one on the
 * distillation token's state; the logits are their mean. As in Transformers it is for
 * inference only: it computes no loss, and `forward` refuses labels rather than return none,
 * so a Trainer fails at once with the reason. Fine-tune such a checkpoint with
 * {@link DeiTForImageClassification}, which loads its backbone and starts a fresh head.
 *
 * @example
 * ```ts
 * import { DeiTForImageClassificationWithTeacher } from "./modeling.ts";
 * import { makeDeiTConfig } from "./config.ts";
 * import { Tensor } from "../../tensor/tensor.ts";
 * const config = makeDeiTConfig({ hidden_size: 32, num_hidden_layers: 1, num_attention_heads: 2,
 *   intermediate_size: 64, image_size: 32, patch_size: 16, num_labels: 3 });
 * const model = new DeiTForImageClassificationWithTeacher(config).eval();
 * const { logits, clsLogits } = model.forward(Tensor.zeros([2, 3, 32, 32]));
 * console.log(logits.shape, clsLogits.shape); // [2, 3] [2, 3]
 * ```
 */
export class DeiTForImageClassificationWithTeacher extends PreTrainedModel
  implements ImageClassifier {
  /** config.json's model_type. */
  static override readonly modelType: string = "deit";
  /** HF's base_model_prefix, with the dot. */
  static override readonly baseModelPrefix: string = "deit.";
  /** The class name in config.json's architectures. */
  static override readonly architecture: string = "DeiTForImageClassificationWithTeacher";

  /**
   * Builds and validates a DeiT config, as HF's DeiTConfig.
   *
   * @param fields config.json's fields.
   * @param file Where they came from.
   * @returns The config.
   */
  static override makeConfig(fields: Record<string, unknown>, file: string): DeiTConfig {
    return makeDeiTConfig(fields, file);
  }

  /**
   * Both classifiers are heads that a new set of labels replaces.
   *
   * @param name A parameter name.
   * @returns Whether it is a classifier's.
   */
  static override isHead(name: string): boolean {
    return name.startsWith("cls_classifier.") || name.startsWith("distillation_classifier.");
  }

  /** The model config. */
  declare readonly config: DeiTConfig;
  /** The backbone (no pooler). */
  readonly deit: DeiTModel;
  /** hidden → numLabels, on the CLS token. */
  readonly clsClassifier: Linear;
  /** hidden → numLabels, on the distillation token. */
  readonly distillationClassifier: Linear;

  /**
   * Creates the model and initialises it with HF's scheme.
   *
   * @param config The model config; its id2label sets the number of classes.
   * @param seed Seed of the initialiser.
   */
  constructor(config: DeiTConfig, seed = 42) {
    super(config);
    this.deit = this.registerModule("deit", new DeiTModel(config, false));
    const labels = numLabels(config);
    const d = config.hidden_size;
    this.clsClassifier = this.registerModule("cls_classifier", new Linear(d, labels));
    this.distillationClassifier = this.registerModule(
      "distillation_classifier",
      new Linear(d, labels),
    );
    initDeiTWeights(this, seed);
  }

  /** Number of classes. */
  get numLabels(): number {
    return this.clsClassifier.outFeatures;
  }

  /**
   * Classifies [B, C, H, W] pixel values with the mean of both heads.
   *
   * @param pixelValues Normalised pixels.
   * @param labels Must be absent: the model computes no loss (as in Transformers).
   * @param options `interpolatePosEncoding` to accept other image sizes.
   * @returns The mean logits and each head's.
   * @throws {Error} When labels are given.
   */
  forward(
    pixelValues: Tensor,
    labels?: number[] | Int32Array,
    options: { interpolatePosEncoding?: boolean } = {},
  ): DeiTWithTeacherOutput {
    if (labels) {
      throw new Error(
        "DeiTForImageClassificationWithTeacher computes no loss (it is for inference only, as " +
          "in Transformers); fine-tune the checkpoint with DeiTForImageClassification",
      );
    }
    const { lastHiddenState } = this.deit.forward(pixelValues, options.interpolatePosEncoding);
    const clsLogits = this.clsClassifier.forward(tokenRows(lastHiddenState, 0));
    const distillationLogits = this.distillationClassifier.forward(tokenRows(lastHiddenState, 1));
    const logits = mul(add(clsLogits, distillationLogits), 0.5);
    return { logits, clsLogits, distillationLogits };
  }
}
