/**
 * The configuration of a ViT-style encoder over image patches (ViT's fields, which DeiT reuses):
 * the fields and their validation, shared by the families whose encoder it is.
 *
 * @module
 */

import { ConfigError, type PretrainedConfig, resolveLabels } from "./config.ts";

/**
 * The fields of a ViT-style encoder over image patches, in Hugging Face's names: ViTConfig's,
 * which DeiTConfig repeats (DeiT's encoder is ViT's).
 */
export interface EncoderConfig extends PretrainedConfig {
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

/**
 * Builds a ViT-style encoder config: the family's defaults, then the fields, then checks of every
 * number, the activation, the shapes and the labels. Each family's `make…Config` calls it.
 *
 * @param defaults The family's defaults, whose model_type the fields must agree with.
 * @param moreIntegers The family's further positive-integer fields.
 * @param fields Overrides, in config.json's names; `num_labels` sets default labels.
 * @param file Where the fields came from, for error messages.
 * @returns The config.
 * @throws {ConfigError} When a field is missing, of the wrong type, or inconsistent, or when
 * model_type names another model.
 * @example
 * ```ts
 * import { makeEncoderConfig } from "./encoder_config.ts";
 * import { VIT_DEFAULTS } from "../mod.ts";
 * const c = makeEncoderConfig(VIT_DEFAULTS, [], { hidden_size: 192, num_attention_heads: 3 });
 * console.log(c.hidden_size / c.num_attention_heads); // 64
 * ```
 */
export function makeEncoderConfig<C extends EncoderConfig>(
  defaults: Readonly<C>,
  moreIntegers: readonly string[],
  fields: Record<string, unknown>,
  file = "config",
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
      `hidden_size ${config.hidden_size} is not a multiple of ` +
        `num_attention_heads ${config.num_attention_heads}`,
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
