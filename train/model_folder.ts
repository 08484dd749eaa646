/**
 * A Hugging Face model folder as the train, evaluate and predict sequences read it:
 * `config.json`, `model.safetensors` and `preprocessor_config.json`, as Transformers'
 * `from_pretrained` of a model and of its image processor.
 *
 * @module
 */

import { AutoImageProcessor } from "../data/auto_processor.ts";
import type { ImageProcessor } from "../data/image_processor.ts";
import { exists, joinPath } from "../io/files.ts";
import { AutoModelForImageClassification } from "../models/auto.ts";
import type { ImageClassifier } from "../nn/image_classifier.ts";
import type { FromPretrainedOptions } from "../nn/pretrained.ts";

/** A model folder, loaded. */
export interface ModelFolder {
  /** The model, in training mode. */
  model: ImageClassifier;
  /** Its image processor. */
  processor: ImageProcessor;
}

/**
 * Loads a model and its processor from a folder: config.json's model_type picks the class
 * (ViT, DeiT, DINOv2), and preprocessor_config.json's image_processor_type the processor. A
 * folder without preprocessor_config.json (a bare checkpoint) gets its family's default
 * processor (ViT's at the model's image size, DINOv2's BitImageProcessor).
 *
 * @param dir The folder.
 * @param options New labels (the head is re-initialised when they differ), seed, logger.
 * @returns The model and the processor.
 * @throws {FileError|ConfigError|SafetensorsError|CheckpointError|ProcessorError} Naming the file.
 * @example
 * ```ts ignore
 * import { init, loadModelFolder } from "@tessera/vit";
 * await init();
 * const { model, processor } = await loadModelFolder("models/vit-tiny-contours");
 * console.log(model.config.image_size === processor.outputSize.height); // true
 * ```
 */
export async function loadModelFolder(
  dir: string,
  options: FromPretrainedOptions = {},
): Promise<ModelFolder> {
  const model = await AutoModelForImageClassification.fromPretrained(dir, options);
  const processor = await exists(joinPath(dir, "preprocessor_config.json"))
    ? await AutoImageProcessor.fromPretrained(dir)
    : AutoImageProcessor.defaultFor(model.config);
  return { model, processor };
}

/**
 * The model's class names in label order (id2label sorted by index).
 *
 * @param model The model.
 * @returns One name per output.
 * @example
 * ```ts ignore
 * import { classNames, init, loadModelFolder } from "@tessera/vit";
 * await init();
 * const { model } = await loadModelFolder("vit-base-beans-demo");
 * console.log(classNames(model)); // ["angular_leaf_spot", "bean_rust", "healthy"]
 * ```
 */
export function classNames(model: ImageClassifier): string[] {
  const id2label = model.config.id2label;
  return Object.keys(id2label).sort((a, b) => Number(a) - Number(b)).map((k) => id2label[k]);
}
