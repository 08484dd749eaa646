/**
 * The Auto classes, as Transformers': config.json's `model_type` picks the config builder and
 * the image-classification class, and `architectures` picks among several classes of one type
 * (DeiT's two heads). New model types join with `register`.
 *
 * @module
 */

import { joinPath, readJson } from "../io/files.ts";
import { resolveSource } from "../io/sources.ts";
import { ConfigError, makeDeiTConfig, makeViTConfig, type PretrainedConfig } from "./config.ts";
import { DeiTForImageClassification, DeiTForImageClassificationWithTeacher } from "./deit.ts";
import type { PreTrainedImageClassifier } from "./image_classifier.ts";
import {
  type FromPretrainedOptions,
  loadPretrained,
  parseConfigFields,
  type PretrainedFiles,
  type PreTrainedModelClass,
} from "./pretrained.ts";
import { ViTForImageClassification } from "./vit.ts";

/** Builds and validates the config of one model type from config.json's fields. */
export type ConfigBuilder = (fields: Record<string, unknown>, file: string) => PretrainedConfig;

/** A class that AutoModelForImageClassification can build. */
export type ImageClassifierClass = PreTrainedModelClass<PreTrainedImageClassifier>;

const CONFIG_MAPPING = new Map<string, ConfigBuilder>([
  ["vit", makeViTConfig],
  ["deit", makeDeiTConfig],
]);

// The first class of a type is the default; `architectures` may name another (HF's rule).
const IMAGE_CLASSIFICATION_MAPPING = new Map<string, ImageClassifierClass[]>([
  ["vit", [ViTForImageClassification]],
  ["deit", [DeiTForImageClassification, DeiTForImageClassificationWithTeacher]],
]);

/** The model_type of config.json's fields, checked against `known`. */
function modelTypeOf(
  fields: Record<string, unknown>,
  file: string,
  known: ReadonlyMap<string, unknown>,
): string {
  const names = [...known.keys()].map((k) => JSON.stringify(k)).join(", ");
  const type = fields.model_type;
  if (type === undefined) {
    throw new ConfigError(file, `has no model_type; Tessera knows ${names}`);
  }
  if (typeof type !== "string" || !known.has(type)) {
    throw new ConfigError(file, `model_type ${JSON.stringify(type)} is not one of ${names}`);
  }
  return type;
}

/** config.json's fields and the file name for messages, from a folder or files in memory. */
async function configFields(
  source: string | PretrainedFiles,
): Promise<{ fields: Record<string, unknown>; file: string }> {
  if (typeof source === "string") source = await resolveSource(source, "model");
  const where = typeof source === "string" ? source : source.source;
  const file = where === undefined ? "config.json" : joinPath(where, "config.json");
  const raw = typeof source === "string" ? await readJson(file) : source.config;
  return { fields: parseConfigFields(raw, file), file };
}

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
    const checked = parseConfigFields(fields, file);
    return CONFIG_MAPPING.get(modelTypeOf(checked, file, CONFIG_MAPPING))!(checked, file);
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
    return AutoConfig.fromDict(fields, file);
  }

  /**
   * Adds a model type, as Transformers' `AutoConfig.register`.
   *
   * @param modelType config.json's model_type.
   * @param build The config builder.
   */
  static register(modelType: string, build: ConfigBuilder): void {
    CONFIG_MAPPING.set(modelType, build);
  }

  /** The model types that have a config builder. */
  static get modelTypes(): string[] {
    return [...CONFIG_MAPPING.keys()];
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
    const classes = IMAGE_CLASSIFICATION_MAPPING.get(
      modelTypeOf(fields, file, IMAGE_CLASSIFICATION_MAPPING),
    )!;
    const architectures = Array.isArray(fields.architectures) ? fields.architectures : [];
    for (const name of architectures) {
      const found = classes.find((c) => c.architecture === name);
      if (found) return found;
    }
    return classes[0];
  }

  /**
   * Loads a checkpoint into the class its config.json calls for (see
   * {@link PreTrainedModel.fromPretrained} for labels, heads and messages).
   *
   * @param source A model folder, or its files in memory.
   * @param options Labels for a new head, seed, logger.
   * @returns The model, in training mode.
   * @throws {FileError|ConfigError|SafetensorsError|CheckpointError} Naming the file at fault.
   */
  static async fromPretrained(
    source: string | PretrainedFiles,
    options: FromPretrainedOptions = {},
  ): Promise<PreTrainedImageClassifier> {
    // A Hub id with no local folder of that name becomes its cached snapshot (hub/).
    if (typeof source === "string") {
      source = await resolveSource(source, "model", { revision: options.revision });
    }
    const { fields, file } = await configFields(source);
    const cls = AutoModelForImageClassification.classFor(fields, file);
    // A folder's config.json is read again by the class: it is small, and the path keeps
    // the class's own handling of a missing model.safetensors.
    return await loadPretrained(
      cls,
      typeof source === "string" ? source : { ...source, config: fields },
      options,
    );
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
    const cls = AutoModelForImageClassification.classFor(config, "config");
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
    IMAGE_CLASSIFICATION_MAPPING.set(modelType, [...classes]);
  }
}
