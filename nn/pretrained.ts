/**
 * `PreTrainedModel`, the base of the model classes, owns what Transformers' class of that name
 * does once for every model: `fromPretrained` (config.json with label overrides,
 * model.safetensors with or without the base-model prefix, a fresh head when the labels change,
 * and Transformers' load messages) and `savePretrained`. The core works on bytes and parsed
 * objects, so that it runs in a browser; a folder path goes through the file layer in `io/`.
 *
 * @module
 */

import { joinPath, readBytes, readJson, writeAtomic } from "../io/files.ts";
import { resolveSource } from "../io/sources.ts";
import { loadParameters, loadWarnings } from "./checkpoint.ts";
import { ConfigError, configToJson, type PretrainedConfig } from "./config.ts";
import { Module } from "./module.ts";
import { serializeSafetensors } from "./safetensors.ts";
import { parseWeights, readTorchWeights } from "./torch_bin.ts";

/**
 * A checkpoint in memory: the contents of a model folder's config.json and model.safetensors
 * (from a browser's file picker, a fetch, or {@link PreTrainedModel.toPretrainedFiles}).
 */
export interface PretrainedFiles {
  /** config.json, parsed or as its text or bytes. */
  config: Record<string, unknown> | string | Uint8Array;
  /** model.safetensors, or the bytes of a pytorch_model.bin. */
  weights: Uint8Array;
  /** Where the files came from (a folder or URL); messages and errors name files under it. */
  source?: string;
}

/** Options of {@link PreTrainedModel.fromPretrained}. */
export interface FromPretrainedOptions {
  /** Number of classes; a head of another size is initialised fresh. */
  numLabels?: number;
  /** Class names by index (keys "0", "1", …); implies numLabels. */
  id2label?: Record<string, string>;
  /** Class indices by name; derived from id2label when omitted. */
  label2id?: Record<string, number>;
  /** Seed for freshly initialised parameters. */
  seed?: number;
  /** Where loading warnings go (stderr by default, as Transformers' logger). */
  log?: (message: string) => void;
  /** Branch, tag or commit when the source is a Hub id ("main" by default). */
  revision?: string;
}

/** Options of {@link PreTrainedModel.savePretrained}. */
export interface SavePretrainedOptions {
  /** Weight type of model.safetensors: F32 (default) or F16. */
  dtype?: "F32" | "F16";
  /** Parameter values already read back, by name (skips one readback per parameter). */
  values?: ReadonlyMap<string, Float32Array>;
}

/**
 * A concrete model class: its constructor and what {@link PreTrainedModel.fromPretrained} needs
 * to know about it (HF's `config_class`, `base_model_prefix` and class name).
 */
export interface PreTrainedModelClass<M extends PreTrainedModel = PreTrainedModel> {
  /** Builds the model, initialised from `seed`. */
  new (config: any, seed?: number): M;
  /** The config.json `model_type` the class reads ("vit"). */
  readonly modelType: string;
  /** Prefix of the backbone's keys ("vit."), which checkpoints may carry or not. */
  readonly baseModelPrefix: string;
  /** The name written to config.json's `architectures` ("ViTForImageClassification"). */
  readonly architecture: string;
  /** Builds and validates the class's config from config.json's fields. */
  makeConfig(fields: Record<string, unknown>, file: string): PretrainedConfig;
  /** Whether a parameter belongs to the task head (fresh when the checkpoint's shape differs). */
  isHead(name: string): boolean;
}

/**
 * A config.json's fields from its text, its bytes or an already parsed value.
 *
 * @param config The text, bytes or value.
 * @param file Its name, for errors.
 * @returns The fields.
 * @throws {ConfigError} Naming the file when it is not JSON or not an object.
 */
export function parseConfigFields(config: unknown, file: string): Record<string, unknown> {
  let value = config;
  if (typeof value === "string" || value instanceof Uint8Array) {
    const text = typeof value === "string" ? value : new TextDecoder().decode(value);
    try {
      value = JSON.parse(text);
    } catch (error) {
      throw new ConfigError(file, `invalid JSON (${(error as Error).message})`);
    }
  }
  if (!value || typeof value !== "object" || Array.isArray(value)) {
    throw new ConfigError(file, "is not a JSON object");
  }
  return value as Record<string, unknown>;
}

/** The label overrides of `options` applied to a copy of config.json's fields, as HF does. */
function withLabelOptions(
  fields: Record<string, unknown>,
  options: FromPretrainedOptions,
): Record<string, unknown> {
  const out = { ...fields };
  if (options.id2label) {
    out.id2label = options.id2label;
    if (options.label2id) out.label2id = options.label2id;
    else delete out.label2id;
  } else if (options.numLabels !== undefined) {
    const current = out.id2label && typeof out.id2label === "object"
      ? Object.keys(out.id2label).length
      : 2;
    if (current !== options.numLabels) {
      delete out.id2label;
      delete out.label2id;
      out.num_labels = options.numLabels;
    }
  }
  return out;
}

/** Reads `dir/model.safetensors`, or else the folder's pytorch_model.bin (see torch_bin.ts). */
async function readWeights(dir: string): Promise<{ bytes: Uint8Array; file: string }> {
  const weightsPath = joinPath(dir, "model.safetensors");
  try {
    return { bytes: await readBytes(weightsPath), file: weightsPath };
  } catch (error) {
    const torch = await readTorchWeights(dir);
    if (torch) return torch;
    throw error;
  }
}

/**
 * Reads a model folder's config.json and model.safetensors into memory.
 *
 * @param dir The folder.
 * @returns The files, with `source` set to the folder.
 * @throws {FileError} Naming the file that cannot be read or is not JSON.
 * @example
 * ```ts ignore
 * import { readPretrainedFiles } from "./pretrained.ts";
 * const files = await readPretrainedFiles("models/vit-tiny-contours");
 * console.log(files.weights.byteLength > 0);
 * ```
 */
export async function readPretrainedFiles(dir: string): Promise<PretrainedFiles> {
  const config = await readJson(joinPath(dir, "config.json")) as Record<string, unknown>;
  return { config, weights: (await readWeights(dir)).bytes, source: dir };
}

/**
 * Loads a checkpoint into a model class: what {@link PreTrainedModel.fromPretrained} does, for
 * code that holds the class in a variable (the Auto classes).
 *
 * @param cls The model class.
 * @param source A model folder, or its files in memory.
 * @param options Labels for a new head, seed, logger.
 * @returns The model, in training mode.
 * @throws {FileError|ConfigError|SafetensorsError|CheckpointError} Naming the file at fault.
 * @example
 * ```ts ignore
 * import { loadPretrained } from "./pretrained.ts";
 * import { ViTForImageClassification } from "../mod.ts";
 * const model = await loadPretrained(ViTForImageClassification, "models/vit-tiny-contours");
 * ```
 */
export async function loadPretrained<M extends PreTrainedModel>(
  cls: PreTrainedModelClass<M>,
  source: string | PretrainedFiles,
  options: FromPretrainedOptions = {},
): Promise<M> {
  // A Hub id with no local folder of that name becomes its cached snapshot (hub/).
  if (typeof source === "string") {
    source = await resolveSource(source, "model", { revision: options.revision });
  }
  const where = typeof source === "string" ? source : source.source;
  const configFile = where === undefined ? "config.json" : joinPath(where, "config.json");
  const weightsFile = where === undefined
    ? "model.safetensors"
    : joinPath(where, "model.safetensors");
  // The config is checked before the weights are read, so a wrong config costs no big read.
  const fields = typeof source === "string"
    ? parseConfigFields(await readJson(configFile), configFile)
    : parseConfigFields(source.config, configFile);
  const config = cls.makeConfig(withLabelOptions(fields, options), configFile);
  const weights = typeof source === "string"
    ? await readWeights(source)
    : { bytes: source.weights, file: weightsFile };
  const tensors = parseWeights(weights.bytes, weights.file);
  const model = new cls(config, options.seed ?? 42);
  try {
    const report = loadParameters(model.namedParameters(), tensors, weights.file, {
      prefix: cls.baseModelPrefix,
      reinitializable: (name) => cls.isHead(name),
    });
    const log = options.log ?? ((m: string) => console.warn(m));
    for (const m of loadWarnings(report, cls.architecture, where ?? "the given files")) log(m);
  } catch (error) {
    model.dispose();
    throw error;
  }
  return model;
}

/**
 * The base of the model classes, as Transformers' `PreTrainedModel`: a module with a config
 * that loads from and saves to Hugging Face's folder layout. Subclasses set the static
 * `modelType`, `baseModelPrefix`, `architecture`, `makeConfig` and `isHead`.
 *
 * @example
 * ```ts
 * import { makeViTConfig, ViTForImageClassification } from "../mod.ts";
 * const model = new ViTForImageClassification(makeViTConfig({ hidden_size: 32,
 *   num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 64, image_size: 32 }));
 * const files = await model.toPretrainedFiles();
 * const copy = await ViTForImageClassification.fromPretrained(files, { numLabels: 5 });
 * console.log(copy.numLabels); // 5 (and a message that the head is newly initialised)
 * ```
 */
export abstract class PreTrainedModel extends Module {
  /** The config.json `model_type` the class reads. */
  static readonly modelType: string = "";
  /** Prefix of the backbone's keys, which checkpoints may carry or not. */
  static readonly baseModelPrefix: string = "";
  /** The class name written to config.json's `architectures`. */
  static readonly architecture: string = "PreTrainedModel";

  /**
   * Builds and validates the class's config.
   *
   * @param _fields config.json's fields.
   * @param file Where they came from.
   * @returns The config.
   */
  static makeConfig(_fields: Record<string, unknown>, file: string): PretrainedConfig {
    throw new ConfigError(file, `${this.architecture} does not define its config`);
  }

  /**
   * Whether a parameter belongs to the task head, which is initialised fresh when the
   * checkpoint's shape differs (new labels): Transformers' `classifier` by default.
   *
   * @param name The parameter's name.
   * @returns True for head parameters.
   */
  static isHead(name: string): boolean {
    return name.startsWith("classifier.");
  }

  /**
   * Keeps the config.
   *
   * @param config The model config.
   */
  constructor(readonly config: PretrainedConfig) {
    super();
  }

  /**
   * Loads a checkpoint as Transformers' `from_pretrained` does: config.json (with `numLabels`
   * or `id2label` overriding its labels), then model.safetensors, whose keys may carry the
   * base-model prefix or not. A head that is missing or of another size is initialised fresh,
   * and the messages Transformers prints about unused and newly initialised keys go to `log`.
   *
   * @param source A model folder, or its files in memory.
   * @param options Labels for a new head, seed, logger.
   * @returns The model, in training mode.
   * @throws {FileError|ConfigError|SafetensorsError|CheckpointError} Naming the file at fault.
   */
  static fromPretrained<M extends PreTrainedModel>(
    this: PreTrainedModelClass<M>,
    source: string | PretrainedFiles,
    options: FromPretrainedOptions = {},
  ): Promise<M> {
    return loadPretrained(this, source, options);
  }

  /** The class name written to config.json's `architectures`. */
  get architecture(): string {
    return (this.constructor as typeof PreTrainedModel).architecture;
  }

  /**
   * The model as Hugging Face's files: config.json's text (architectures, labels, torch_dtype)
   * and model.safetensors' bytes, under HF's names.
   *
   * @param options Weight type, values already read back.
   * @returns The two files, loadable by {@link PreTrainedModel.fromPretrained}.
   */
  async toPretrainedFiles(
    options: SavePretrainedOptions = {},
  ): Promise<{ config: string; weights: Uint8Array }> {
    const entries: [string, { shape: readonly number[]; data: Float32Array }][] = [];
    for (const [name, t] of this.namedParameters()) {
      entries.push([name, {
        shape: t.shape,
        data: options.values?.get(name) ?? await t.toArray(),
      }]);
    }
    const weights = serializeSafetensors(entries, { dtype: options.dtype ?? "F32" });
    const config = configToJson({
      ...this.config,
      architectures: [this.architecture],
      torch_dtype: options.dtype === "F16" ? "float16" : "float32",
    });
    return { config, weights };
  }

  /**
   * Writes `dir/config.json` and `dir/model.safetensors`, each atomically, loadable by
   * Transformers' `from_pretrained`.
   *
   * @param dir The folder (created if needed).
   * @param options Weight type, values already read back.
   */
  async savePretrained(dir: string, options: SavePretrainedOptions = {}): Promise<void> {
    const { config, weights } = await this.toPretrainedFiles(options);
    await writeAtomic(joinPath(dir, "model.safetensors"), weights);
    await writeAtomic(joinPath(dir, "config.json"), config);
  }
}
