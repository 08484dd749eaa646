/**
 * ViT's configuration: Hugging Face's ViTConfig fields and defaults, validation, and the
 * ViT-Base and ViT-Tiny presets.
 *
 * @module
 */

import { type EncoderConfig, makeEncoderConfig } from "../../nn/encoder_config.ts";

/** The fields of Hugging Face's ViTConfig that Tessera reads and writes. */
export type ViTConfig = EncoderConfig;

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
 * ViT-Base/16 at 224 px, the architecture of google/vit-base-patch16-224-in21k.
 *
 * @param fields Overrides, in config.json's names.
 * @returns The config.
 * @example
 * ```ts
 * import { vitBase16 } from "./config.ts";
 * console.log(vitBase16({ num_labels: 3 }).hidden_size); // 768
 * ```
 */
export function vitBase16(fields: Record<string, unknown> = {}): ViTConfig {
  return makeViTConfig(fields, "ViT-Base/16 preset");
}

/**
 * ViT-Tiny/16 at 224 px (hidden 192, 12 layers, 3 heads, MLP 768).
 *
 * @param fields Overrides, in config.json's names.
 * @returns The config.
 * @example
 * ```ts
 * import { vitTiny16 } from "./config.ts";
 * console.log(vitTiny16().hidden_size); // 192
 * ```
 */
export function vitTiny16(fields: Record<string, unknown> = {}): ViTConfig {
  return makeViTConfig({
    hidden_size: 192,
    num_attention_heads: 3,
    intermediate_size: 768,
    ...fields,
  }, "ViT-Tiny/16 preset");
}
