/**
 * The Auto classes, as Transformers': config.json's `model_type` picks the config builder and
 * the image-classification class, and `architectures` picks among several classes of one type
 * (DeiT's two heads). They read {@link MODEL_REGISTRY}, made from the list of families; new
 * model types join with `register`.
 *
 * @module
 */

import {
  type ConfigBuilder,
  configFields,
  type ImageClassifierClass,
  ModelRegistry,
} from "../nn/auto.ts";
import type { PretrainedConfig } from "../nn/config.ts";
import type { PreTrainedImageClassifier } from "../nn/image_classifier.ts";
import type { FromPretrainedOptions, PretrainedFiles } from "../nn/pretrained.ts";
import { isAdapterFolder, loadLoraModel } from "../nn/lora.ts";
import { MODEL_FAMILIES } from "./families.ts";

/** The registry the Auto classes read: every family of {@link MODEL_FAMILIES}. */
export const MODEL_REGISTRY: ModelRegistry = new ModelRegistry(MODEL_FAMILIES);

/**
 * Builds any known model type's config from config.json, as Transformers' AutoConfig.
 *
 * @example
 * ```ts
 * import { AutoConfig } from "./auto.ts";
 * const config = AutoConfig.fromDict({ model_type: "deit", hidden_size: 192,
 *   num_attention_heads: 3 });
 * console.log(config.model_type, config.encoder_stride); // deit 16
 * ```
 */
export class AutoConfig {
  /**
   * Builds the config of the fields' model_type.
   *
   * @param fields config.json's fields.
   * @param file Where they came from, for errors.
   * @returns The validated config.
   * @throws {ConfigError} Naming the file when model_type is missing or unknown, or a field is
   * wrong.
   */
  static fromDict(fields: Record<string, unknown>, file = "config"): PretrainedConfig {
    return MODEL_REGISTRY.makeConfig(fields, file);
  }

  /**
   * Reads config.json from a model folder, or takes it from files in memory, and builds its
   * config.
   *
   * @param source A model folder, or its files.
   * @returns The validated config.
   * @throws {FileError|ConfigError} Naming config.json.
   */
  static async fromPretrained(source: string | PretrainedFiles): Promise<PretrainedConfig> {
    const { fields, file } = await configFields(source);
    return MODEL_REGISTRY.makeConfig(fields, file);
  }

  /**
   * Adds a model type, as Transformers' `AutoConfig.register`.
   *
   * @param modelType config.json's model_type.
   * @param build The config builder.
   */
  static register(modelType: string, build: ConfigBuilder): void {
    MODEL_REGISTRY.registerConfig(modelType, build);
  }

  /** The model types that have a config builder. */
  static get modelTypes(): string[] {
    return MODEL_REGISTRY.modelTypes;
  }
}

/**
 * Loads any known image classifier from a checkpoint, as Transformers'
 * AutoModelForImageClassification: config.json's model_type picks the family ("vit", "deit")
 * and its architectures the class (a DeiT saved as DeiTForImageClassificationWithTeacher loads
 * as that class; otherwise DeiTForImageClassification).
 *
 * @example
 * ```ts ignore
 * import { AutoModelForImageClassification } from "./auto.ts";
 * const model = await AutoModelForImageClassification.fromPretrained("models/vit-tiny-contours", {
 *   id2label: { "0": "cat", "1": "dog" },
 * });
 * console.log(model.architecture, model.numLabels); // ViTForImageClassification 2
 * ```
 */
export class AutoModelForImageClassification {
  /**
   * The class that config.json's fields call for.
   *
   * @param fields config.json's fields.
   * @param file Where they came from, for errors.
   * @returns The model class.
   * @throws {ConfigError} Naming the file when model_type is missing or unknown.
   */
  static classFor(fields: Record<string, unknown>, file = "config"): ImageClassifierClass {
    return MODEL_REGISTRY.imageClassifierClass(fields, file);
  }

  /**
   * Loads a checkpoint into the class its config.json calls for (see
   * {@link PreTrainedModel.fromPretrained} for labels, heads and messages). A PEFT adapter
   * folder (adapter_config.json) loads its base_model_name_or_path and applies the adapter, as
   * PEFT's AutoPeftModel classes do.
   *
   * @param source A model folder or adapter folder, or a model's files in memory.
   * @param options Labels for a new head, seed, logger.
   * @returns The model, in training mode.
   * @throws {FileError|ConfigError|SafetensorsError|CheckpointError} Naming the file at fault.
   */
  static async fromPretrained(
    source: string | PretrainedFiles,
    options: FromPretrainedOptions = {},
  ): Promise<PreTrainedImageClassifier> {
    if (typeof source === "string" && await isAdapterFolder(source)) {
      return await loadLoraModel(
        source,
        (base, o) => MODEL_REGISTRY.loadImageClassifier(base, o),
        options,
      );
    }
    return await MODEL_REGISTRY.loadImageClassifier(source, options);
  }

  /**
   * Builds a freshly initialised model from a config, as Transformers' `from_config`.
   *
   * @param config A config of a known model type.
   * @param seed Seed of the initialiser.
   * @returns The model.
   * @throws {ConfigError} When model_type is unknown.
   */
  static fromConfig(config: PretrainedConfig, seed = 42): PreTrainedImageClassifier {
    const cls = MODEL_REGISTRY.imageClassifierClass(config, "config");
    return new cls(cls.makeConfig(config, "config"), seed);
  }

  /**
   * Adds the image-classification classes of a model type, as Transformers'
   * `AutoModelForImageClassification.register`; the first is the default.
   *
   * @param modelType config.json's model_type.
   * @param classes The classes.
   */
  static register(modelType: string, classes: ImageClassifierClass[]): void {
    MODEL_REGISTRY.registerImageClassification(modelType, classes);
  }
}
