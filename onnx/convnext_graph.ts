/**
 * The ONNX graph of ConvNextForImageClassification. States stay channels-last [B, H, W, C]
 * between blocks, as Tessera's model runs: the LayerNorms are then LayerNormalization over the
 * last axis and the 1×1 layers MatMuls, and only the convolutions (Conv wants [B, C, H, W]) sit
 * between two Transposes. The head is the mean over H and W, a LayerNorm and the classifier.
 *
 * @module
 */

import type { GraphBuilder } from "./graph_builder.ts";
import { int, ints } from "./graph_builder.ts";
import { emitActivation, emitLayerNorm, emitLinear, param, type Weights } from "./vit_blocks.ts";
import type { FamilyGraphInput } from "./vit_graph.ts";

/** Epsilon of every ConvNeXt LayerNorm but the final one (fixed in HF's code). */
const LAYER_EPS = 1e-6;
const TO_CHANNELS_FIRST = [0, 3, 1, 2];
const TO_CHANNELS_LAST = [0, 2, 3, 1];

/**
 * A Conv2d `prefix` on channels-last `x`, channels-last out.
 *
 * @param g The graph.
 * @param weights The parameters.
 * @param x [B, H, W, in], or [B, in, H, W] with `channelsFirst`.
 * @param prefix The layer's key prefix.
 * @param conv Stride, padding and groups (kernel from the weight's shape).
 * @param channelsFirst Whether `x` is [B, C, H, W] (the pixels).
 * @returns [B, H', W', out].
 */
function emitConv(
  g: GraphBuilder,
  weights: Weights,
  x: string,
  prefix: string,
  conv: { stride: number; pad: number; group: number },
  channelsFirst = false,
): string {
  const w = param(weights, `${prefix}.weight`);
  const b = param(weights, `${prefix}.bias`);
  const input = channelsFirst ? x : g.op("Transpose", [x], { perm: ints(TO_CHANNELS_FIRST) });
  const { stride, pad, group } = conv;
  const y = g.op("Conv", [
    input,
    g.weight(`${prefix}.weight`, w.shape, w.data),
    g.weight(`${prefix}.bias`, b.shape, b.data),
  ], {
    kernel_shape: ints(w.shape.slice(2)),
    strides: ints([stride, stride]),
    pads: ints([pad, pad, pad, pad]),
    group: int(group),
  });
  return g.op("Transpose", [y], { perm: ints(TO_CHANNELS_LAST) });
}

/** One block: `x + γ · pwconv2(act(pwconv1(norm(dwconv(x)))))` on [B, H, W, C]. */
function emitLayer(
  g: GraphBuilder,
  weights: Weights,
  x: string,
  prefix: string,
  act: string,
  opset: number,
): string {
  const channels = param(weights, `${prefix}.dwconv.weight`).shape[0];
  const dw = emitConv(g, weights, x, `${prefix}.dwconv`, { stride: 1, pad: 3, group: channels });
  const normed = emitLayerNorm(g, weights, dw, `${prefix}.layernorm`, LAYER_EPS);
  const mid = emitActivation(g, emitLinear(g, weights, normed, `${prefix}.pwconv1`), act, opset);
  let y = emitLinear(g, weights, mid, `${prefix}.pwconv2`);
  const gamma = weights.get(`${prefix}.layer_scale_parameter`);
  if (gamma) {
    y = g.op("Mul", [y, g.weight(`${prefix}.layer_scale_parameter`, gamma.shape, gamma.data)]);
  }
  return g.op("Add", [x, y]);
}

/**
 * Emits ConvNextForImageClassification's forward pass. Stages and blocks are found among the
 * parameters; widths, kernels and strides come from the weights' shapes.
 *
 * @param input Graph, parameters, input and hyperparameters.
 * @returns The logits' value name, [B, labels].
 */
export function emitConvNextGraph(input: FamilyGraphInput): string {
  const { g, weights, pixels, size, config, opset } = input;
  const base = "convnext.";
  const stem = `${base}embeddings.patch_embeddings`;
  const p = param(weights, `${stem}.weight`).shape[2];
  let h = emitConv(g, weights, pixels, stem, { stride: p, pad: 0, group: 1 }, true);
  h = emitLayerNorm(g, weights, h, `${base}embeddings.layernorm`, LAYER_EPS);
  let height = Math.floor(size.height / p);
  let width = Math.floor(size.width / p);
  let stages = 0;
  for (; weights.has(`${base}encoder.stages.${stages}.layers.0.dwconv.weight`); stages++) {
    const stage = `${base}encoder.stages.${stages}`;
    const down = `${stage}.downsampling_layer`;
    if (weights.has(`${down}.1.weight`)) {
      h = emitLayerNorm(g, weights, h, `${down}.0`, LAYER_EPS);
      h = emitConv(g, weights, h, `${down}.1`, { stride: 2, pad: 0, group: 1 });
      height = Math.floor(height / 2);
      width = Math.floor(width / 2);
    }
    for (let i = 0; weights.has(`${stage}.layers.${i}.dwconv.weight`); i++) {
      h = emitLayer(g, weights, h, `${stage}.layers.${i}`, config.hidden_act, opset);
    }
  }
  if (stages === 0) throw new Error(`cannot export to ONNX: no ${base}encoder.stages.0 layers`);
  if (height === 0 || width === 0) {
    throw new Error(
      `cannot export to ONNX: a ${size.height}×${size.width} input is too small for ConvNeXt`,
    );
  }
  // ReduceMean takes its axes as an input from opset 18, as an attribute before.
  const pooled = opset >= 18
    ? g.op("ReduceMean", [h, g.int64s([1, 2])], { keepdims: int(0) })
    : g.op("ReduceMean", [h], { axes: ints([1, 2]), keepdims: int(0) });
  const normed = emitLayerNorm(g, weights, pooled, `${base}layernorm`, config.layer_norm_eps);
  return emitLinear(g, weights, normed, "classifier");
}
