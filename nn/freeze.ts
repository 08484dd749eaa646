/**
 * A frozen backbone (a linear probe): only the task head trains, and the backbone stays in
 * evaluation mode through `train()`, so its dropout is off and no gradient reaches it.
 *
 * @module
 */

import type { Module } from "./module.ts";

/**
 * Freezes every parameter that `isHead` rejects and locks the modules holding only them in
 * evaluation mode. Frozen parameters get no gradient buffer and no optimiser state.
 *
 * @param model The model (changed in place).
 * @param isHead Whether a parameter belongs to the head (for a PreTrainedModel class, its
 * static `isHead`).
 * @returns How many parameter elements stay trainable.
 * @throws {Error} When no parameter is a head parameter.
 * @example
 * ```ts
 * import { freezeBackbone } from "./freeze.ts";
 * import { makeViTConfig, ViTForImageClassification } from "../mod.ts";
 * const model = new ViTForImageClassification(makeViTConfig({ hidden_size: 32,
 *   num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 64, image_size: 32,
 *   num_labels: 3 }));
 * console.log(freezeBackbone(model, ViTForImageClassification.isHead)); // 99
 * ```
 */
export function freezeBackbone(model: Module, isHead: (name: string) => boolean): number {
  let trainable = 0;
  for (const [name, t] of model.namedParameters()) {
    t.requiresGrad = isHead(name);
    if (t.requiresGrad) trainable += t.size;
  }
  if (trainable === 0) throw new Error("freezeBackbone: the model has no head parameters");
  for (const [name, m] of model.namedModules()) {
    if (name === "") continue;
    if (m.namedParameters(`${name}.`).every(([n]) => !isHead(n))) {
      m.evalLocked = true;
      m.training = false;
    }
  }
  return trainable;
}
