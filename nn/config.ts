/**
 * Model configs with Hugging Face's `config.json` field names (snake_case), defaults, presets and
 * validation for each model type Tessera builds (`vit`, `deit`). No file I/O: the caller passes
 * the parsed fields and the file they came from, which every error names.
 *
 * @module
 */

/** The fields every config.json has, as HF's PretrainedConfig. */
export interface PretrainedConfig {
  /** Which model family the file describes ("vit", "deit"). */
  model_type: string;
  /** Class names by index (JSON keys are strings, as HF writes them). */
  id2label: Record<string, string>;
  /** Class indices by name. */
  label2id: Record<string, number>;
  /** Model classes this checkpoint was saved from. */
  architectures?: string[];
  /** Other fields of the file, kept so that saving does not lose them. */
  [extra: string]: unknown;
}

/** The fields of Hugging Face's ViTConfig that Tessera reads and writes. */
export interface ViTConfig extends PretrainedConfig {
  /** Width of the token embeddings. */
  hidden_size: number;
  /** Number of encoder layers. */
  num_hidden_layers: number;
  /** Attention heads per layer. */
  num_attention_heads: number;
  /** Width of the MLP. */
  intermediate_size: number;
  /** MLP activation: "gelu" (exact erf form) or "relu". */
  hidden_act: string;
  /** Dropout after embeddings, attention output and MLP. */
  hidden_dropout_prob: number;
  /** Dropout on attention probabilities. */
  attention_probs_dropout_prob: number;
  /** Std of the truncated-normal initialiser. */
  initializer_range: number;
  /** LayerNorm epsilon. */
  layer_norm_eps: number;
  /** Input height and width. */
  image_size: number;
  /** Patch height and width. */
  patch_size: number;
  /** Input channels. */
  num_channels: number;
  /** Whether q, k and v have biases. */
  qkv_bias: boolean;
}

/** HF's DeiTConfig: ViT's fields (the encoder is ViT's) and the masked-image decoder's stride. */
export interface DeiTConfig extends ViTConfig {
  /** Upsampling factor of DeiTForMaskedImageModeling's decoder (kept for round trips). */
  encoder_stride: number;
}

/** A config.json problem, naming the file. */
export class ConfigError extends Error {
  /**
   * Creates the error; its message is `file: problem`.
   *
   * @param file The config file.
   * @param problem What is wrong.
   */
  constructor(readonly file: string, problem: string) {
    super(`${file}: ${problem}`);
    this.name = "ConfigError";
  }
}

/** HF's ViTConfig defaults (ViT-Base/16 at 224 px). */
export const VIT_DEFAULTS: Readonly<ViTConfig> = Object.freeze({
  hidden_size: 768,
  num_hidden_layers: 12,
  num_attention_heads: 12,
  intermediate_size: 3072,
  hidden_act: "gelu",
  hidden_dropout_prob: 0.0,
  attention_probs_dropout_prob: 0.0,
  initializer_range: 0.02,
  layer_norm_eps: 1e-12,
  image_size: 224,
  patch_size: 16,
  num_channels: 3,
  qkv_bias: true,
  id2label: { "0": "LABEL_0", "1": "LABEL_1" },
  label2id: { LABEL_0: 0, LABEL_1: 1 },
  model_type: "vit",
});

/** HF's DeiTConfig defaults (DeiT-Base/16 at 224 px, as facebook/deit-base-distilled-patch16-224). */
export const DEIT_DEFAULTS: Readonly<DeiTConfig> = Object.freeze({
  ...VIT_DEFAULTS,
  encoder_stride: 16,
  model_type: "deit",
});

const INTEGER_FIELDS = [
  "hidden_size",
  "num_hidden_layers",
  "num_attention_heads",
  "intermediate_size",
  "image_size",
  "patch_size",
  "num_channels",
] as const;
const NUMBER_FIELDS = [
  "hidden_dropout_prob",
  "attention_probs_dropout_prob",
  "initializer_range",
  "layer_norm_eps",
] as const;

/** Labels "LABEL_0" … for `n` classes, as HF makes them. */
function defaultLabels(n: number): Record<string, string> {
  return Object.fromEntries(Array.from({ length: n }, (_, i) => [String(i), `LABEL_${i}`]));
}

/**
 * Builds a ViT config from HF's defaults and the given fields, validated.
 *
 * @param fields Overrides, in config.json's names; `num_labels` sets default labels.
 * @param file Where the fields came from, for error messages.
 * @returns The config.
 * @throws {ConfigError} When a field is missing, of the wrong type, or inconsistent, or when
 * model_type names another model.
 * @example
 * ```ts
 * import { makeViTConfig } from "./config.ts";
 * const c = makeViTConfig({ hidden_size: 192, num_attention_heads: 3, num_labels: 3 });
 * console.log(c.id2label); // { "0": "LABEL_0", "1": "LABEL_1", "2": "LABEL_2" }
 * ```
 */
export function makeViTConfig(fields: Record<string, unknown> = {}, file = "config"): ViTConfig {
  return makeEncoderConfig(VIT_DEFAULTS, [], fields, file);
}

/**
 * Builds a DeiT config from HF's defaults and the given fields, validated as ViT's (DeiT's
 * encoder is ViT's) plus `encoder_stride`.
 *
 * @param fields Overrides, in config.json's names; `num_labels` sets default labels.
 * @param file Where the fields came from, for error messages.
 * @returns The config.
 * @throws {ConfigError} When a field is missing, of the wrong type, or inconsistent, or when
 * model_type names another model.
 * @example
 * ```ts
 * import { makeDeiTConfig } from "./config.ts";
 * const c = makeDeiTConfig({ hidden_size: 192, num_attention_heads: 3, num_labels: 10 });
 * console.log(c.model_type, c.encoder_stride); // deit 16
 * ```
 */
export function makeDeiTConfig(fields: Record<string, unknown> = {}, file = "config"): DeiTConfig {
  return makeEncoderConfig(DEIT_DEFAULTS, ["encoder_stride"], fields, file);
}

/**
 * The validation shared by the ViT-encoder configs: defaults, then the fields, then checks of
 * every number, the activation, the shapes and the labels.
 */
function makeEncoderConfig<C extends ViTConfig>(
  defaults: Readonly<C>,
  moreIntegers: readonly string[],
  fields: Record<string, unknown>,
  file: string,
): C {
  if (!fields || typeof fields !== "object" || Array.isArray(fields)) {
    throw new ConfigError(file, "is not a JSON object");
  }
  const modelType = defaults.model_type;
  if (fields.model_type !== undefined && fields.model_type !== modelType) {
    throw new ConfigError(
      file,
      `model_type is ${JSON.stringify(fields.model_type)}, not "${modelType}" ` +
        "(AutoModelForImageClassification picks the model class from model_type)",
    );
  }
  const config = { ...structuredClone(defaults), ...structuredClone(fields) } as C;
  delete (config as Record<string, unknown>).num_labels;
  config.model_type = modelType;
  for (const key of [...INTEGER_FIELDS, ...moreIntegers]) {
    const v = config[key];
    if (!Number.isInteger(v) || (v as number) <= 0) {
      throw new ConfigError(file, `${key} must be a positive integer, got ${JSON.stringify(v)}`);
    }
  }
  for (const key of NUMBER_FIELDS) {
    const v = config[key];
    if (typeof v !== "number" || !Number.isFinite(v) || v < 0) {
      throw new ConfigError(file, `${key} must be a non-negative number, got ${JSON.stringify(v)}`);
    }
  }
  if (config.hidden_dropout_prob >= 1 || config.attention_probs_dropout_prob >= 1) {
    throw new ConfigError(file, "dropout probabilities must be below 1");
  }
  if (typeof config.qkv_bias !== "boolean") {
    throw new ConfigError(
      file,
      `qkv_bias must be true or false, got ${JSON.stringify(config.qkv_bias)}`,
    );
  }
  if (config.hidden_act !== "gelu" && config.hidden_act !== "relu") {
    throw new ConfigError(
      file,
      `hidden_act ${JSON.stringify(config.hidden_act)} is not supported (use "gelu" or "relu")`,
    );
  }
  if (config.hidden_size % config.num_attention_heads !== 0) {
    throw new ConfigError(
      file,
      `hidden_size ${config.hidden_size} is not a multiple of num_attention_heads ${config.num_attention_heads}`,
    );
  }
  if (config.image_size % config.patch_size !== 0) {
    throw new ConfigError(
      file,
      `image_size ${config.image_size} is not a multiple of patch_size ${config.patch_size}`,
    );
  }
  resolveLabels(config, fields, file);
  return config;
}

/** Fills id2label and label2id from `num_labels` or each other, as HF's PretrainedConfig. */
function resolveLabels(
  config: PretrainedConfig,
  fields: Record<string, unknown>,
  file: string,
): void {
  const numLabels = fields.num_labels;
  if (fields.id2label === undefined) {
    if (numLabels !== undefined && (!Number.isInteger(numLabels) || (numLabels as number) < 1)) {
      throw new ConfigError(
        file,
        `num_labels must be a positive integer, got ${JSON.stringify(numLabels)}`,
      );
    }
    config.id2label = defaultLabels((numLabels as number | undefined) ?? 2);
  }
  const id2label = config.id2label;
  if (!id2label || typeof id2label !== "object") {
    throw new ConfigError(file, "id2label is not an object");
  }
  const ids = Object.keys(id2label).map(Number).sort((a, b) => a - b);
  if (ids.some((id, i) => id !== i) || ids.length === 0) {
    throw new ConfigError(
      file,
      `id2label keys must be 0..n-1, got ${Object.keys(id2label).join(", ")}`,
    );
  }
  if (numLabels !== undefined && numLabels !== ids.length) {
    throw new ConfigError(
      file,
      `num_labels ${numLabels} disagrees with ${ids.length} entries of id2label`,
    );
  }
  if (fields.label2id === undefined || fields.id2label === undefined) {
    config.label2id = Object.fromEntries(Object.entries(id2label).map(([i, l]) => [l, Number(i)]));
  }
}

/** Number of classes of a config. */
export function numLabels(config: PretrainedConfig): number {
  return Object.keys(config.id2label).length;
}

/** Serialises a config as HF writes config.json (sorted keys, 2-space indent). */
export function configToJson(config: PretrainedConfig): string {
  const sorted = Object.fromEntries(
    Object.entries(config).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  );
  return JSON.stringify(sorted, null, 2) + "\n";
}

/** ViT-Base/16 at 224 px, the architecture of google/vit-base-patch16-224-in21k. */
export function vitBase16(fields: Record<string, unknown> = {}): ViTConfig {
  return makeViTConfig(fields, "ViT-Base/16 preset");
}

/** ViT-Tiny/16 at 224 px (hidden 192, 12 layers, 3 heads, MLP 768). */
export function vitTiny16(fields: Record<string, unknown> = {}): ViTConfig {
  return makeViTConfig({
    hidden_size: 192,
    num_attention_heads: 3,
    intermediate_size: 768,
    ...fields,
  }, "ViT-Tiny/16 preset");
}
