/**
 * The graphs of DeiT's classifiers: DeiT embeddings (CLS and distillation tokens), the shared
 * ViT encoder, and either DeiTForImageClassification's classifier on the CLS state or
 * DeiTForImageClassificationWithTeacher's mean of its CLS and distillation heads.
 *
 * @module
 */

import { emitEmbeddings, emitEncoder, emitLinear, emitToken } from "./vit_blocks.ts";
import type { FamilyGraphInput } from "./vit_graph.ts";

/**
 * Emits a DeiT classifier's forward pass; the head is chosen by the parameters present
 * (`cls_classifier` and `distillation_classifier`, or `classifier`).
 *
 * @param input Graph, parameters, input and hyperparameters.
 * @returns The logits' value name, [B, labels].
 * @example
 * ```ts ignore
 * import { emitDeiTGraph } from "./deit_graph.ts";
 * const logits = emitDeiTGraph({ g, weights, pixels: "pixel_values", size, config, opset: 17 });
 * ```
 */
export function emitDeiTGraph(input: FamilyGraphInput): string {
  const { g, weights, pixels, size, config, opset } = input;
  const tokens = ["cls_token", "distillation_token"];
  const x = emitEmbeddings(g, weights, pixels, "deit.", tokens, size, config);
  const hidden = emitEncoder(g, weights, x, "deit.", config, opset);
  if (!weights.has("cls_classifier.weight")) {
    return emitLinear(g, weights, emitToken(g, hidden, 0), "classifier");
  }
  const cls = emitLinear(g, weights, emitToken(g, hidden, 0), "cls_classifier");
  const distillation = emitLinear(g, weights, emitToken(g, hidden, 1), "distillation_classifier");
  return g.op("Mul", [g.op("Add", [cls, distillation]), g.scalar(0.5)]);
}
