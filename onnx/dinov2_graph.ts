/**
 * The ONNX graph of Dinov2ForImageClassification: ViT's patch embeddings, attention and
 * LayerNorms with DINOv2's layer (`norm1`, layer scale, `norm2`, an MLP or SwiGLU, layer scale)
 * and its head on `concat(CLS, mean of the patch tokens)`. The position grid is resized on the
 * host to the exported size, as the model's forward does for any size.
 *
 * @module
 */

import { int } from "./graph_builder.ts";
import type { GraphBuilder } from "./graph_builder.ts";
import {
  emitActivation,
  emitEmbeddings,
  emitLayerNorm,
  emitLinear,
  emitSelfAttention,
  emitToken,
  param,
  type Weights,
} from "./vit_blocks.ts";
import type { FamilyGraphInput } from "./vit_graph.ts";

function emitLayerScale(g: GraphBuilder, weights: Weights, x: string, prefix: string): string {
  const lambda = param(weights, `${prefix}.lambda1`);
  return g.op("Mul", [x, g.weight(`${prefix}.lambda1`, lambda.shape, lambda.data)]);
}

/** `x[..., start:end]` on the last axis. */
function lastAxisSlice(g: GraphBuilder, x: string, start: number, end: number): string {
  return g.op("Slice", [x, g.int64s([start]), g.int64s([end]), g.int64s([-1])]);
}

function emitMlp(
  g: GraphBuilder,
  weights: Weights,
  x: string,
  prefix: string,
  act: string,
  opset: number,
): string {
  if (!weights.has(`${prefix}.weights_in.weight`)) {
    const h = emitActivation(g, emitLinear(g, weights, x, `${prefix}.fc1`), act, opset);
    return emitLinear(g, weights, h, `${prefix}.fc2`);
  }
  // SwiGLU: silu(first half) · second half, silu as x · Sigmoid(x).
  const h = emitLinear(g, weights, x, `${prefix}.weights_in`);
  const width = param(weights, `${prefix}.weights_out.weight`).shape[1];
  const gate = lastAxisSlice(g, h, 0, width);
  const value = lastAxisSlice(g, h, width, 2 * width);
  const silu = g.op("Mul", [gate, g.op("Sigmoid", [gate])]);
  return emitLinear(g, weights, g.op("Mul", [silu, value]), `${prefix}.weights_out`);
}

/**
 * Emits the graph and returns the logits' value name.
 *
 * @param input The graph, parameters, input and hyperparameters.
 * @returns The logits [B, labels].
 */
export function emitDinov2Graph(input: FamilyGraphInput): string {
  const { g, weights, pixels, size, config, opset } = input;
  const base = "dinov2.";
  const eps = config.layer_norm_eps;
  let h = emitEmbeddings(g, weights, pixels, base, ["cls_token"], size, config);
  let n = 0;
  for (; weights.has(`${base}encoder.layer.${n}.norm1.weight`); n++) {
    const prefix = `${base}encoder.layer.${n}`;
    const normed = emitLayerNorm(g, weights, h, `${prefix}.norm1`, eps);
    const context = emitSelfAttention(g, weights, normed, `${prefix}.attention.attention`, config);
    const attn = emitLinear(g, weights, context, `${prefix}.attention.output.dense`);
    const x = g.op("Add", [emitLayerScale(g, weights, attn, `${prefix}.layer_scale1`), h]);
    const normed2 = emitLayerNorm(g, weights, x, `${prefix}.norm2`, eps);
    const mlp = emitMlp(g, weights, normed2, `${prefix}.mlp`, config.hidden_act, opset);
    h = g.op("Add", [emitLayerScale(g, weights, mlp, `${prefix}.layer_scale2`), x]);
  }
  if (n === 0) throw new Error(`cannot export to ONNX: no ${base}encoder.layer.0 parameters`);
  const hidden = emitLayerNorm(g, weights, h, `${base}layernorm`, eps);
  const patches = (size.height / config.patch_size) * (size.width / config.patch_size);
  const tokens = g.op("Slice", [hidden, g.int64s([1]), g.int64s([1 + patches]), g.int64s([1])]);
  const sum = g.op("ReduceSum", [tokens, g.int64s([1])], { keepdims: int(0) });
  const mean = g.op("Div", [sum, g.scalar(patches)]);
  const pooled = g.op("Concat", [emitToken(g, hidden, 0), mean], { axis: int(1) });
  return emitLinear(g, weights, pooled, "classifier");
}
