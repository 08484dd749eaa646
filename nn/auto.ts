/**
 * The mechanism behind the Auto classes, as Transformers': a registry of model families, each
 * described by config.json's `model_type`, its config builder and its image-classification
 * classes; `model_type` picks the family, and `architectures` picks among several classes of
 * one family (DeiT's two heads). No family is named here: `models/` builds the registry from its
 * list of families.
 *
 * @module
 */

import { joinPath, readJson } from "../io/files.ts";
import { resolveSource } from "../io/sources.ts";
import { ConfigError, type PretrainedConfig } from "./config.ts";
import type { PreTrainedImageClassifier } from "./image_classifier.ts";
import {
  type FromPretrainedOptions,
  loadPretrained,
  parseConfigFields,
  type PretrainedFiles,
  type PreTrainedModelClass,
} from "./pretrained.ts";

/** Builds and validates the config of one model type from config.json's fields. */
export type ConfigBuilder = (fields: Record<string, unknown>, file: string) => PretrainedConfig;

/** A class that AutoModelForImageClassification can build. */
export type ImageClassifierClass = PreTrainedModelClass<PreTrainedImageClassifier>;

/** One model family as the Auto classes see it. */
export interface ModelFamily {
  /** config.json's model_type ("vit"). */
  readonly modelType: string;
  /** Builds and validates the family's config. */
  readonly makeConfig: ConfigBuilder;
  /** Its image-classification classes; the first is the default (HF's rule). */
  readonly imageClassification: readonly ImageClassifierClass[];
}

/**
 * Model families by model_type, and what the Auto classes do with them: build a config, pick a
 * class, load a checkpoint or build a fresh model.
 *
 * @example
 * ```ts
 * import { ModelRegistry } from "./auto.ts";
 * import { makeViTConfig, ViTForImageClassification } from "../mod.ts";
 * const registry = new ModelRegistry([
 *   {
 *     modelType: "vit",
 *     makeConfig: makeViTConfig,
 *     imageClassification: [ViTForImageClassification],
 *   },
 * ]);
 * console.log(registry.modelTypes); // ["vit"]
 * ```
 */
export class ModelRegistry {
  readonly #configs = new Map<string, ConfigBuilder>();
  readonly #classes = new Map<string, ImageClassifierClass[]>();

  /**
   * Creates the registry.
   *
   * @param families The families, in the order error messages list them.
   */
  constructor(families: Iterable<ModelFamily> = []) {
    for (const family of families) this.add(family);
  }

  /**
   * Adds a family, or replaces the one of its model_type.
   *
   * @param family The family.
   */
  add(family: ModelFamily): void {
    this.#configs.set(family.modelType, family.makeConfig);
    this.#classes.set(family.modelType, [...family.imageClassification]);
  }

  /**
   * Adds or replaces the config builder of a model type, as Transformers'
   * `AutoConfig.register`.
   *
   * @param modelType config.json's model_type.
   * @param build The config builder.
   */
  registerConfig(modelType: string, build: ConfigBuilder): void {
    this.#configs.set(modelType, build);
  }

  /**
   * Adds or replaces the image-classification classes of a model type, as Transformers'
   * `AutoModelForImageClassification.register`; the first is the default.
   *
   * @param modelType config.json's model_type.
   * @param classes The classes.
   */
  registerImageClassification(modelType: string, classes: readonly ImageClassifierClass[]): void {
    this.#classes.set(modelType, [...classes]);
  }

  /** The model types that have a config builder. */
  get modelTypes(): string[] {
    return [...this.#configs.keys()];
  }

  /**
   * Builds the config of the fields' model_type, as Transformers' `AutoConfig.for_model`.
   *
   * @param fields config.json's fields.
   * @param file Where they came from, for errors.
   * @returns The validated config.
   * @throws {ConfigError} Naming the file when model_type is missing or unknown, or a field is
   * wrong.
   */
  makeConfig(fields: Record<string, unknown>, file = "config"): PretrainedConfig {
    const checked = parseConfigFields(fields, file);
    return this.#configs.get(modelTypeOf(checked, file, this.#configs))!(checked, file);
  }

  /**
   * The image-classification class that config.json's fields call for.
   *
   * @param fields config.json's fields.
   * @param file Where they came from, for errors.
   * @returns The model class.
   * @throws {ConfigError} Naming the file when model_type is missing or unknown.
   */
  imageClassifierClass(fields: Record<string, unknown>, file = "config"): ImageClassifierClass {
    const classes = this.#classes.get(modelTypeOf(fields, file, this.#classes))!;
    const architectures = Array.isArray(fields.architectures) ? fields.architectures : [];
    for (const name of architectures) {
      const found = classes.find((c) => c.architecture === name);
      if (found) return found;
    }
    return classes[0];
  }

  /**
   * Loads a checkpoint into the image-classification class its config.json calls for.
   *
   * @param source A model folder, or its files in memory.
   * @param options Labels for a new head, seed, logger.
   * @returns The model, in training mode.
   * @throws {FileError|ConfigError|SafetensorsError|CheckpointError} Naming the file at fault.
   */
  async loadImageClassifier(
    source: string | PretrainedFiles,
    options: FromPretrainedOptions = {},
  ): Promise<PreTrainedImageClassifier> {
    // A Hub id with no local folder of that name becomes its cached snapshot (hub/).
    if (typeof source === "string") {
      source = await resolveSource(source, "model", { revision: options.revision });
    }
    const { fields, file } = await configFields(source);
    const cls = this.imageClassifierClass(fields, file);
    // A folder's config.json is read again by the class: it is small, and the path keeps
    // the class's own handling of a missing model.safetensors.
    return await loadPretrained(
      cls,
      typeof source === "string" ? source : { ...source, config: fields },
      options,
    );
  }
}

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

/**
 * config.json's fields and the file name for messages, from a folder or files in memory.
 *
 * @param source A model folder, or its files.
 * @returns The fields and config.json's name.
 * @throws {FileError|ConfigError} Naming config.json.
 * @example
 * ```ts ignore
 * import { configFields } from "./auto.ts";
 * const { fields } = await configFields("models/vit-tiny-contours");
 * console.log(fields.model_type); // vit
 * ```
 */
export async function configFields(
  source: string | PretrainedFiles,
): Promise<{ fields: Record<string, unknown>; file: string }> {
  if (typeof source === "string") source = await resolveSource(source, "model");
  const where = typeof source === "string" ? source : source.source;
  const file = where === undefined ? "config.json" : joinPath(where, "config.json");
  const raw = typeof source === "string" ? await readJson(file) : source.config;
  return { fields: parseConfigFields(raw, file), file };
}
