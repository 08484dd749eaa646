/**
 * DINOv2's configuration: Hugging Face's Dinov2Config fields and defaults (ViT's encoder fields
 * with `mlp_ratio` instead of `intermediate_size`, layer scale, stochastic depth, the SwiGLU
 * switch and the mask token), validated.
 *
 * @module
 */

import { ConfigError } from "../../nn/config.ts";
import { type EncoderConfig, makeEncoderConfig } from "../../nn/encoder_config.ts";

/** The fields of Hugging Face's Dinov2Config that Tessera reads and writes. */
export interface Dinov2Config extends EncoderConfig {
  /** Width of the MLP as a multiple of `hidden_size`. */
  mlp_ratio: number;
  /** Initial value of the layer-scale factors (`layer_scale1.lambda1`, `layer_scale2.lambda1`). */
  layerscale_value: number;
  /** Stochastic-depth rate of each residual branch in training. */
  drop_path_rate: number;
  /** Whether the MLP is SwiGLU (`mlp.weights_in`, `mlp.weights_out`), as DINOv2-giant's. */
  use_swiglu_ffn: boolean;
  /** Whether the embeddings hold `mask_token` (used only with masked positions). */
  use_mask_token: boolean;
}

/**
 * HF's Dinov2Config defaults. `intermediate_size` is not one of HF's fields: Tessera derives it
 * from `mlp_ratio` (see {@link dinov2MlpWidth}); HF ignores it when it reads the file back.
 */
export const DINOV2_DEFAULTS: Readonly<Dinov2Config> = Object.freeze({
  hidden_size: 768,
  num_hidden_layers: 12,
  num_attention_heads: 12,
  intermediate_size: 3072,
  mlp_ratio: 4,
  hidden_act: "gelu",
  hidden_dropout_prob: 0.0,
  attention_probs_dropout_prob: 0.0,
  initializer_range: 0.02,
  layer_norm_eps: 1e-12,
  image_size: 224,
  patch_size: 16,
  num_channels: 3,
  qkv_bias: true,
  layerscale_value: 1.0,
  drop_path_rate: 0.0,
  use_swiglu_ffn: false,
  use_mask_token: true,
  id2label: { "0": "LABEL_0", "1": "LABEL_1" },
  label2id: { LABEL_0: 0, LABEL_1: 1 },
  model_type: "dinov2",
});

/**
 * The MLP's hidden width as HF computes it: `int(hidden_size * mlp_ratio)`, and for SwiGLU
 * `(int(h * 2 / 3) + 7) // 8 * 8` of that.
 *
 * @param config hidden_size, mlp_ratio and use_swiglu_ffn.
 * @returns fc1's output width, or the width of each SwiGLU half.
 * @example
 * ```ts
 * import { dinov2MlpWidth } from "./config.ts";
 * console.log(dinov2MlpWidth({ hidden_size: 1536, mlp_ratio: 4, use_swiglu_ffn: true })); // 4096
 * ```
 */
export function dinov2MlpWidth(
  config: Pick<Dinov2Config, "hidden_size" | "mlp_ratio" | "use_swiglu_ffn">,
): number {
  const hidden = Math.trunc(config.hidden_size * config.mlp_ratio);
  return config.use_swiglu_ffn ? Math.floor((Math.trunc(hidden * 2 / 3) + 7) / 8) * 8 : hidden;
}

/**
 * Builds a DINOv2 config from HF's defaults and the given fields, validated as ViT's plus the
 * DINOv2 fields.
 *
 * @param fields Overrides, in config.json's names; `num_labels` sets default labels.
 * @param file Where the fields came from, for error messages.
 * @returns The config.
 * @throws {ConfigError} When a field is missing, of the wrong type, or inconsistent, or when
 * model_type names another model.
 * @example
 * ```ts
 * import { makeDinov2Config } from "./config.ts";
 * const c = makeDinov2Config({ patch_size: 14, image_size: 518, num_labels: 10 });
 * console.log(c.model_type, c.intermediate_size); // dinov2 3072
 * ```
 */
export function makeDinov2Config(
  fields: Record<string, unknown> = {},
  file = "config",
): Dinov2Config {
  if (!fields || typeof fields !== "object" || Array.isArray(fields)) {
    throw new ConfigError(file, "is not a JSON object");
  }
  // The encoder's checks first (with a placeholder MLP width), then DINOv2's own fields.
  const config = makeEncoderConfig(DINOV2_DEFAULTS, [], { ...fields, intermediate_size: 1 }, file);
  for (const key of ["mlp_ratio", "layerscale_value", "drop_path_rate"] as const) {
    const v = config[key];
    if (typeof v !== "number" || !Number.isFinite(v) || (key !== "layerscale_value" && v < 0)) {
      throw new ConfigError(file, `${key} must be a non-negative number, got ${JSON.stringify(v)}`);
    }
  }
  if (config.drop_path_rate >= 1) throw new ConfigError(file, "drop_path_rate must be below 1");
  for (const key of ["use_swiglu_ffn", "use_mask_token"] as const) {
    if (typeof config[key] !== "boolean") {
      throw new ConfigError(
        file,
        `${key} must be true or false, got ${JSON.stringify(config[key])}`,
      );
    }
  }
  config.intermediate_size = dinov2MlpWidth(config);
  if (!(config.intermediate_size > 0)) {
    throw new ConfigError(file, `mlp_ratio ${config.mlp_ratio} leaves the MLP with no width`);
  }
  return config;
}
