/**
 * DeiT's configuration: Hugging Face's DeiTConfig, which has ViT's encoder fields and the
 * masked-image decoder's stride.
 *
 * @module
 */

import { type EncoderConfig, makeEncoderConfig } from "../../nn/encoder_config.ts";

/** HF's DeiTConfig: ViT's encoder fields and the masked-image decoder's stride. */
export interface DeiTConfig extends EncoderConfig {
  /** Upsampling factor of DeiTForMaskedImageModeling's decoder (kept for round trips). */
  encoder_stride: number;
}

/**
 * HF's DeiTConfig defaults (DeiT-Base/16 at 224 px, as facebook/deit-base-distilled-patch16-224).
 */
export const DEIT_DEFAULTS: Readonly<DeiTConfig> = Object.freeze({
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
  model_type: "deit",
  encoder_stride: 16,
});

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
