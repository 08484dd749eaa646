/**
 * The graph of ViTForImageClassification: ViT embeddings (CLS token), the encoder, and the
 * linear classifier on the final CLS state.
 *
 * @module
 */

import type { GraphBuilder } from "./graph_builder.ts";
import {
  emitEmbeddings,
  emitEncoder,
  emitLinear,
  emitToken,
  type EncoderConfig,
  type Weights,
} from "./vit_blocks.ts";

/** What a family's emitter is given. */
export interface FamilyGraphInput {
  /** The graph to add to. */
  readonly g: GraphBuilder;
  /** The model's parameters by Hugging Face name. */
  readonly weights: Weights;
  /** The pixel input's value name, [B, C, H, W]. */
  readonly pixels: string;
  /** The exported input height and width. */
  readonly size: { height: number; width: number };
  /** The model's hyperparameters. */
  readonly config: EncoderConfig;
  /** Target opset. */
  readonly opset: number;
}

/**
 * Emits ViTForImageClassification's forward pass.
 *
 * @param input Graph, parameters, input and hyperparameters.
 * @returns The logits' value name, [B, labels].
 * @example
 * ```ts ignore
 * import { emitViTGraph } from "./vit_graph.ts";
 * const logits = emitViTGraph({ g, weights, pixels: "pixel_values", size, config, opset: 17 });
 * ```
 */
export function emitViTGraph(input: FamilyGraphInput): string {
  const { g, weights, pixels, size, config, opset } = input;
  const x = emitEmbeddings(g, weights, pixels, "vit.", ["cls_token"], size, config);
  const hidden = emitEncoder(g, weights, x, "vit.", config, opset);
  return emitLinear(g, weights, emitToken(g, hidden, 0), "classifier");
}
