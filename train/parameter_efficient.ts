/**
 * Training a fraction of a model, as the CLI's `--peft lora`, `--freeze-backbone` and
 * `--gradient-checkpointing` ask: LoRA in PEFT's format, a linear probe, and recomputed
 * encoder activations. One place, so that the CLI and the page set a model up alike.
 *
 * @module
 */

import { freezeBackbone } from "../nn/freeze.ts";
import { enableGradientCheckpointing } from "../nn/gradient_checkpointing.ts";
import { applyLora, trainableParametersLine } from "../nn/lora.ts";
import type { Module } from "../nn/module.ts";
import type { PreTrainedModel } from "../nn/pretrained.ts";

/** How much of the model trains. */
export interface ParameterEfficientOptions {
  /** "lora" for LoRA, or null to train every weight (or only the head with freezeBackbone). */
  peft: "lora" | null;
  /** LoRA rank. */
  loraR: number;
  /** LoRA alpha (the update is scaled by alpha / r). */
  loraAlpha: number;
  /** Dropout on LoRA's input. */
  loraDropout: number;
  /** Modules LoRA adapts (PEFT's target_modules). */
  loraTargetModules: string[];
  /** Modules trained whole with LoRA (PEFT's modules_to_save). */
  modulesToSave: string[];
  /** Train only the head, the backbone frozen and in evaluation mode. */
  freezeBackbone: boolean;
  /** Recompute each encoder layer's activations in the backward pass. */
  gradientCheckpointing: boolean;
  /** The base model's folder, written to adapter_config.json. */
  baseModelNameOrPath?: string | null;
  /** Seed of LoRA's initialisation. */
  seed?: number;
}

/**
 * Applies the options to a model and returns PEFT's trainable-parameter line.
 *
 * @param model A pretrained model (changed in place).
 * @param options What trains.
 * @returns `trainable params: N || all params: M || trainable%: P`.
 * @throws {Error} When LoRA and a frozen backbone are both asked for, or no module matches.
 * @example
 * ```ts ignore
 * import { prepareParameterEfficient } from "./parameter_efficient.ts";
 * console.log(prepareParameterEfficient(model, { peft: "lora", loraR: 16, loraAlpha: 16,
 *   loraDropout: 0.1, loraTargetModules: ["query", "value"], modulesToSave: ["classifier"],
 *   freezeBackbone: false, gradientCheckpointing: true }));
 * ```
 */
export function prepareParameterEfficient(
  model: PreTrainedModel,
  options: ParameterEfficientOptions,
): string {
  if (options.peft === "lora" && options.freezeBackbone) {
    throw new Error("--peft lora and --freeze-backbone exclude each other");
  }
  if (options.peft === "lora") {
    applyLora(model, {
      r: options.loraR,
      loraAlpha: options.loraAlpha,
      loraDropout: options.loraDropout,
      targetModules: options.loraTargetModules,
      modulesToSave: options.modulesToSave,
      baseModelNameOrPath: options.baseModelNameOrPath ?? null,
      seed: options.seed,
    });
  } else if (options.freezeBackbone) {
    const cls = model.constructor as typeof PreTrainedModel;
    freezeBackbone(model, (name) => cls.isHead(name));
  }
  if (options.gradientCheckpointing && enableGradientCheckpointing(model as Module) === 0) {
    throw new Error(`${model.architecture} has no encoder that supports gradient checkpointing`);
  }
  return trainableParametersLine(model);
}
