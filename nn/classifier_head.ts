/**
 * The image-classification head that ViT and DeiT share, as Hugging Face's
 * `…ForImageClassification`: a linear `classifier` on the backbone's final CLS state and, with
 * labels, the mean cross-entropy. A family gives the backbone and its name (`vit`, `deit`),
 * which is the prefix of the backbone's checkpoint keys.
 *
 * @module
 */

import { crossEntropy } from "../tensor/ops.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { numLabels } from "./config.ts";
import { tokenRows } from "./encoder_model.ts";
import type {
  ImageClassifier,
  ImageClassifierConfig,
  ImageClassifierOutput,
} from "./image_classifier.ts";
import { Linear } from "./layers.ts";
import type { Module } from "./module.ts";
import { PreTrainedModel } from "./pretrained.ts";

/** A backbone whose final hidden states begin with the CLS token's. */
export interface ClsBackbone extends Module {
  /**
   * Runs the backbone.
   *
   * @param pixels [B, C, H, W] pixel values.
   * @param interpolatePosEncoding Accept other image sizes.
   * @returns [B, T, hidden] final hidden states, CLS first.
   */
  forward(pixels: Tensor, interpolatePosEncoding?: boolean): { lastHiddenState: Tensor };
}

/**
 * A backbone and a linear classifier on its final CLS state. Subclasses pass the backbone and
 * its name, then initialise the whole model with their family's scheme.
 *
 * @example
 * ```ts
 * import { ClsTokenClassifier } from "./classifier_head.ts";
 * import { ViTForImageClassification } from "../mod.ts";
 * console.log(ViTForImageClassification.prototype instanceof ClsTokenClassifier); // true
 * ```
 */
export abstract class ClsTokenClassifier<B extends ClsBackbone = ClsBackbone>
  extends PreTrainedModel
  implements ImageClassifier {
  /** The model config. */
  declare readonly config: ImageClassifierConfig & { hidden_size: number };
  /** hidden → numLabels, on the CLS token. */
  readonly classifier: Linear;
  /** The backbone, registered under the family's name. */
  protected readonly backbone: B;

  /**
   * Registers the backbone under `name`, then the classifier (the state-dict order).
   *
   * @param config The model config; its id2label sets the number of classes.
   * @param name The backbone's name, HF's base_model_prefix without the dot.
   * @param backbone The backbone, without a pooler.
   * @param inFeatures The classifier's input width: hidden_size, or what {@link pool} gives.
   */
  protected constructor(
    config: ImageClassifierConfig & { hidden_size: number },
    name: string,
    backbone: B,
    inFeatures: number = config.hidden_size,
  ) {
    super(config);
    this.backbone = this.registerModule(name, backbone);
    this.classifier = this.registerModule(
      "classifier",
      new Linear(inFeatures, numLabels(config)),
    );
  }

  /**
   * What the classifier reads of the final hidden states: the CLS token's (DINOv2 overrides it).
   *
   * @param lastHiddenState [B, T, hidden], CLS first.
   * @returns [B, inFeatures].
   */
  protected pool(lastHiddenState: Tensor): Tensor {
    return tokenRows(lastHiddenState, 0);
  }

  /** Number of classes. */
  get numLabels(): number {
    return this.classifier.outFeatures;
  }

  /**
   * Classifies [B, C, H, W] pixel values; with labels, also returns the mean cross-entropy.
   *
   * @param pixelValues Normalised pixels.
   * @param labels One class index per image.
   * @param options `interpolatePosEncoding` to accept other image sizes.
   * @returns Logits and, with labels, the loss.
   */
  forward(
    pixelValues: Tensor,
    labels?: number[] | Int32Array,
    options: { interpolatePosEncoding?: boolean } = {},
  ): ImageClassifierOutput {
    const { lastHiddenState } = this.backbone.forward(
      pixelValues,
      options.interpolatePosEncoding,
    );
    const logits = this.classifier.forward(this.pool(lastHiddenState));
    if (!labels) return { logits };
    return { logits, loss: crossEntropy(logits, labels) };
  }
}
