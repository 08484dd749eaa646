/**
 * The contract of an image classifier, which the Trainer, checkpoints, evaluation and prediction
 * take instead of one model class: Hugging Face's `ImageClassifierOutput` and the members of a
 * `PreTrainedModel` for image classification that they use.
 *
 * @module
 */

import type { Tensor } from "../tensor/tensor.ts";
import type { PretrainedConfig } from "./config.ts";
import type { PreTrainedModel, SavePretrainedOptions } from "./pretrained.ts";

/** The config fields every image classifier has (HF's names). */
export interface ImageClassifierConfig extends PretrainedConfig {
  /** Input height and width. */
  image_size: number;
  /** Input channels. */
  num_channels: number;
}

/** Output of an image classifier's forward pass, as HF's ImageClassifierOutput. */
export interface ImageClassifierOutput {
  /** [B, numLabels] class scores. */
  logits: Tensor;
  /** Mean cross-entropy, when labels were given. */
  loss?: Tensor;
}

/**
 * What training, evaluation, checkpoints and prediction need of a model: a forward pass that
 * gives logits and, with labels, the loss; the config with its labels and input size; the
 * parameters under their Hugging Face names; training mode; and saving.
 *
 * @example
 * ```ts
 * import type { ImageClassifier } from "./image_classifier.ts";
 * import { makeViTConfig, ViTForImageClassification } from "../mod.ts";
 * const model: ImageClassifier = new ViTForImageClassification(makeViTConfig({
 *   hidden_size: 32, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 64,
 *   image_size: 32, num_labels: 3,
 * }));
 * console.log(model.numLabels, model.config.image_size); // 3 32
 * ```
 */
export interface ImageClassifier {
  /** The config: labels, input size and the architecture's fields. */
  readonly config: ImageClassifierConfig;
  /** Number of classes. */
  readonly numLabels: number;
  /** Training mode (dropout active). */
  training: boolean;
  /**
   * Classifies [B, C, H, W] pixel values.
   *
   * @param pixelValues Normalised pixels.
   * @param labels One class index per image; the output then has the loss.
   * @returns Logits and, with labels, the loss.
   */
  forward(pixelValues: Tensor, labels?: number[] | Int32Array): ImageClassifierOutput;
  /** Every parameter with its Hugging Face name, in state-dict order. */
  namedParameters(): Array<[string, Tensor]>;
  /** Every parameter, in state-dict order. */
  parameters(): Tensor[];
  /** Number of parameter elements. */
  numParameters(): number;
  /** Sets training mode (or evaluation mode with `false`). */
  train(mode?: boolean): this;
  /** Sets evaluation mode. */
  eval(): this;
  /** Writes config.json and model.safetensors to a folder, as HF's save_pretrained. */
  savePretrained(dir: string, options?: SavePretrainedOptions): Promise<void>;
  /** Frees every parameter and its gradient. */
  dispose(): void;
}

/** A pretrained model that is an image classifier: what AutoModelForImageClassification builds. */
export type PreTrainedImageClassifier = PreTrainedModel & ImageClassifier;
