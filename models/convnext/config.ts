/**
 * ConvNeXt's configuration: Hugging Face's ConvNextConfig fields and defaults (stages of
 * widths `hidden_sizes` and depths `depths`, the patchify stem's `patch_size`, layer scale and
 * stochastic depth), validated.
 *
 * @module
 */

import { ConfigError, resolveLabels } from "../../nn/config.ts";
import type { ImageClassifierConfig } from "../../nn/image_classifier.ts";

/** The fields of Hugging Face's ConvNextConfig that Tessera reads and writes. */
export interface ConvNextConfig extends ImageClassifierConfig {
  /** Side of the stem's non-overlapping patches (its kernel and stride). */
  patch_size: number;
  /** Number of stages. */
  num_stages: number;
  /** Channels of each stage. */
  hidden_sizes: number[];
  /** Layers of each stage. */
  depths: number[];
  /** The MLP's activation. */
  hidden_act: string;
  /** Std of the normal the weights start from. */
  initializer_range: number;
  /** Epsilon of the final LayerNorm (the others use 1e-6, as HF's code). */
  layer_norm_eps: number;
  /** Initial layer-scale factor; 0 or less means no `layer_scale_parameter`. */
  layer_scale_init_value: number;
  /** Stochastic-depth rate of the last layer (linear from 0 over all layers). */
  drop_path_rate: number;
}

/** HF's ConvNextConfig defaults (ConvNeXt-Tiny). */
export const CONVNEXT_DEFAULTS: Readonly<ConvNextConfig> = Object.freeze({
  num_channels: 3,
  patch_size: 4,
  num_stages: 4,
  hidden_sizes: [96, 192, 384, 768],
  depths: [3, 3, 9, 3],
  hidden_act: "gelu",
  initializer_range: 0.02,
  layer_norm_eps: 1e-12,
  layer_scale_init_value: 1e-6,
  drop_path_rate: 0.0,
  image_size: 224,
  id2label: { "0": "LABEL_0", "1": "LABEL_1" },
  label2id: { LABEL_0: 0, LABEL_1: 1 },
  model_type: "convnext",
});

function positiveInteger(v: unknown): boolean {
  return Number.isInteger(v) && (v as number) > 0;
}

/**
 * Builds a ConvNeXt config from HF's defaults and the given fields, validated.
 *
 * @param fields Overrides, in config.json's names; `num_labels` sets default labels.
 * @param file Where the fields came from, for error messages.
 * @returns The config.
 * @throws {ConfigError} When a field is missing, of the wrong type, or inconsistent, or when
 * model_type names another model.
 * @example
 * ```ts
 * import { makeConvNextConfig } from "./config.ts";
 * const c = makeConvNextConfig({ hidden_sizes: [8, 16], depths: [1, 1], num_stages: 2 });
 * console.log(c.model_type, c.hidden_sizes); // convnext [8, 16]
 * ```
 */
export function makeConvNextConfig(
  fields: Record<string, unknown> = {},
  file = "config",
): ConvNextConfig {
  if (!fields || typeof fields !== "object" || Array.isArray(fields)) {
    throw new ConfigError(file, "is not a JSON object");
  }
  if (fields.model_type !== undefined && fields.model_type !== "convnext") {
    throw new ConfigError(
      file,
      `model_type is ${JSON.stringify(fields.model_type)}, not "convnext" ` +
        "(AutoModelForImageClassification picks the model class from model_type)",
    );
  }
  const config = {
    ...structuredClone(CONVNEXT_DEFAULTS),
    ...structuredClone(fields),
  } as ConvNextConfig;
  delete (config as Record<string, unknown>).num_labels;
  config.model_type = "convnext";
  for (const key of ["num_channels", "patch_size", "num_stages", "image_size"] as const) {
    if (!positiveInteger(config[key])) {
      throw new ConfigError(
        file,
        `${key} must be a positive integer, got ${JSON.stringify(config[key])}`,
      );
    }
  }
  for (const key of ["hidden_sizes", "depths"] as const) {
    const list = config[key];
    if (
      !Array.isArray(list) || list.length !== config.num_stages ||
      !list.every((v) => positiveInteger(v) || (key === "depths" && v === 0))
    ) {
      throw new ConfigError(
        file,
        `${key} must be ${config.num_stages} (num_stages) positive integers, got ` +
          JSON.stringify(list),
      );
    }
  }
  for (const key of ["initializer_range", "layer_norm_eps", "drop_path_rate"] as const) {
    const v = config[key];
    if (typeof v !== "number" || !Number.isFinite(v) || v < 0) {
      throw new ConfigError(file, `${key} must be a non-negative number, got ${JSON.stringify(v)}`);
    }
  }
  if (config.drop_path_rate >= 1) throw new ConfigError(file, "drop_path_rate must be below 1");
  const scale = config.layer_scale_init_value;
  if (typeof scale !== "number" || !Number.isFinite(scale)) {
    throw new ConfigError(
      file,
      `layer_scale_init_value must be a number, got ${JSON.stringify(scale)}`,
    );
  }
  if (config.hidden_act !== "gelu" && config.hidden_act !== "relu") {
    throw new ConfigError(
      file,
      `hidden_act ${JSON.stringify(config.hidden_act)} is not supported (use "gelu" or "relu")`,
    );
  }
  resolveLabels(config, fields, file);
  return config;
}
