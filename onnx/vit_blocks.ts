/**
 * The ViT-style pieces every family's graph is made of, emitted from a model's named
 * parameters (Hugging Face's keys): patch embeddings with leading tokens and positions, the
 * pre-LN encoder layers, the final norm and linear heads on one token.
 *
 * @module
 */

import { bicubicMatrix } from "../nn/interpolate.ts";
import { float, type GraphBuilder, int, ints } from "./graph_builder.ts";

/** A parameter's shape and f32 values, read back from the model. */
export interface HostTensor {
  /** Its shape. */
  readonly shape: readonly number[];
  /** Its elements, row-major. */
  readonly data: Float32Array;
}

/** A model's parameters by their Hugging Face names. */
export type Weights = ReadonlyMap<string, HostTensor>;

/** The encoder hyperparameters a graph needs (a ViT or DeiT config has them all). */
export interface EncoderConfig {
  /** Width of the token states. */
  readonly hidden_size: number;
  /** Attention heads per layer. */
  readonly num_attention_heads: number;
  /** LayerNorm epsilon. */
  readonly layer_norm_eps: number;
  /** "gelu" (erf form) or "relu". */
  readonly hidden_act: string;
  /** Side of a square patch, in pixels. */
  readonly patch_size: number;
}

/**
 * A parameter by name, or an error that names it.
 *
 * @param weights The parameters.
 * @param name Its Hugging Face key.
 * @returns The tensor.
 * @example
 * ```ts
 * import { param } from "./vit_blocks.ts";
 * const w = new Map([["a", { shape: [1], data: Float32Array.of(2) }]]);
 * console.log(param(w, "a").data[0]); // 2
 * ```
 */
export function param(weights: Weights, name: string): HostTensor {
  const t = weights.get(name);
  if (!t) throw new Error(`cannot export to ONNX: the model has no parameter ${name}`);
  return t;
}

/**
 * `x · Wᵀ + b` for a PyTorch Linear `prefix` ([out, in] weight, stored transposed for MatMul).
 *
 * @param g The graph.
 * @param weights The parameters.
 * @param x Input value [..., in].
 * @param prefix The layer's key prefix, e.g. `classifier`.
 * @returns Output value [..., out].
 * @example
 * ```ts
 * import { GraphBuilder } from "./graph_builder.ts";
 * import { emitLinear } from "./vit_blocks.ts";
 * const w = new Map([["fc.weight", { shape: [2, 3], data: new Float32Array(6) }]]);
 * console.log(emitLinear(new GraphBuilder(), w, "x", "fc")); // "MatMul_0"
 * ```
 */
export function emitLinear(g: GraphBuilder, weights: Weights, x: string, prefix: string): string {
  const w = param(weights, `${prefix}.weight`);
  const [out, inp] = w.shape;
  const wt = new Float32Array(out * inp);
  for (let o = 0; o < out; o++) {
    for (let i = 0; i < inp; i++) wt[i * out + o] = w.data[o * inp + i];
  }
  const y = g.op("MatMul", [x, g.weight(`${prefix}.weight.T`, [inp, out], wt)]);
  const b = weights.get(`${prefix}.bias`);
  return b ? g.op("Add", [y, g.weight(`${prefix}.bias`, b.shape, b.data)]) : y;
}

/**
 * LayerNormalization (opset 17) over the last axis with the layer's weight and bias.
 *
 * @param g The graph.
 * @param weights The parameters.
 * @param x Input value.
 * @param prefix The layer's key prefix.
 * @param eps Epsilon.
 * @returns Output value.
 * @example
 * ```ts
 * import { GraphBuilder } from "./graph_builder.ts";
 * import { emitLayerNorm } from "./vit_blocks.ts";
 * const one = { shape: [2], data: new Float32Array(2) };
 * const w = new Map([["ln.weight", one], ["ln.bias", one]]);
 * console.log(emitLayerNorm(new GraphBuilder(), w, "x", "ln", 1e-12)); // "LayerNormalization_0"
 * ```
 */
export function emitLayerNorm(
  g: GraphBuilder,
  weights: Weights,
  x: string,
  prefix: string,
  eps: number,
): string {
  const w = param(weights, `${prefix}.weight`);
  const b = param(weights, `${prefix}.bias`);
  return g.op("LayerNormalization", [
    x,
    g.weight(`${prefix}.weight`, w.shape, w.data),
    g.weight(`${prefix}.bias`, b.shape, b.data),
  ], { axis: int(-1), epsilon: float(eps) });
}

/**
 * The MLP activation: exact GELU as `0.5·x·(1 + erf(x/√2))` below opset 20 (which has no Gelu
 * op), the Gelu op from 20, or Relu.
 *
 * @param g The graph.
 * @param x Input value.
 * @param act "gelu" or "relu".
 * @param opset The target opset.
 * @returns Output value.
 * @example
 * ```ts
 * import { GraphBuilder } from "./graph_builder.ts";
 * import { emitActivation } from "./vit_blocks.ts";
 * const g = new GraphBuilder();
 * emitActivation(g, "x", "gelu", 17);
 * console.log(g.nodes.map((n) => n.opType)); // ["Div", "Erf", "Add", "Mul", "Mul"]
 * ```
 */
export function emitActivation(g: GraphBuilder, x: string, act: string, opset: number): string {
  if (act === "relu") return g.op("Relu", [x]);
  if (act !== "gelu") throw new Error(`cannot export to ONNX: hidden_act ${act} is not supported`);
  if (opset >= 20) return g.op("Gelu", [x]);
  const erf = g.op("Erf", [g.op("Div", [x, g.scalar(Math.SQRT2)])]);
  return g.op("Mul", [g.op("Mul", [x, g.op("Add", [erf, g.scalar(1)])]), g.scalar(0.5)]);
}

/**
 * Multi-head self-attention of one layer: q, k, v projections, `softmax(QKᵀ/√d)V` per head,
 * heads side by side. Shapes keep the batch and token axes dynamic (Reshape's 0 copies them).
 *
 * @param g The graph.
 * @param weights The parameters.
 * @param x Normalised states [B, T, D].
 * @param prefix `….attention.attention`.
 * @param config Width and heads.
 * @returns Context [B, T, D] (before the output projection).
 */
export function emitSelfAttention(
  g: GraphBuilder,
  weights: Weights,
  x: string,
  prefix: string,
  config: EncoderConfig,
): string {
  const d = config.hidden_size;
  const heads = config.num_attention_heads;
  const hd = d / heads;
  const split = g.int64s([0, 0, heads, hd]);
  const headsOf = (name: string, perm: number[]) =>
    g.op("Transpose", [g.op("Reshape", [emitLinear(g, weights, x, `${prefix}.${name}`), split])], {
      perm: ints(perm),
    });
  const q = headsOf("query", [0, 2, 1, 3]);
  const kT = headsOf("key", [0, 2, 3, 1]);
  const v = headsOf("value", [0, 2, 1, 3]);
  const scores = g.op("Mul", [g.op("MatMul", [q, kT]), g.scalar(hd ** -0.5)]);
  const probs = g.op("Softmax", [scores], { axis: int(-1) });
  const context = g.op("Transpose", [g.op("MatMul", [probs, v])], { perm: ints([0, 2, 1, 3]) });
  return g.op("Reshape", [context, g.int64s([0, 0, d])]);
}

/**
 * One pre-LN encoder layer, `h = x + attn(ln(x))`, `h + mlp(ln(h))`, with Hugging Face's ViT
 * key names under `prefix` (`vit.encoder.layer.3`).
 *
 * @param g The graph.
 * @param weights The parameters.
 * @param x States [B, T, D].
 * @param prefix The layer's key prefix.
 * @param config The hyperparameters.
 * @param opset The target opset.
 * @returns States [B, T, D].
 */
export function emitEncoderLayer(
  g: GraphBuilder,
  weights: Weights,
  x: string,
  prefix: string,
  config: EncoderConfig,
  opset: number,
): string {
  const eps = config.layer_norm_eps;
  const normed = emitLayerNorm(g, weights, x, `${prefix}.layernorm_before`, eps);
  const context = emitSelfAttention(g, weights, normed, `${prefix}.attention.attention`, config);
  const attn = emitLinear(g, weights, context, `${prefix}.attention.output.dense`);
  const h = g.op("Add", [attn, x]);
  const normed2 = emitLayerNorm(g, weights, h, `${prefix}.layernorm_after`, eps);
  const mid = emitActivation(
    g,
    emitLinear(g, weights, normed2, `${prefix}.intermediate.dense`),
    config.hidden_act,
    opset,
  );
  return g.op("Add", [emitLinear(g, weights, mid, `${prefix}.output.dense`), h]);
}

/**
 * Every encoder layer found among the parameters (`${base}encoder.layer.N.`, N from 0 up), in
 * order, then the final LayerNorm.
 *
 * @param g The graph.
 * @param weights The parameters.
 * @param x Embeddings [B, T, D].
 * @param base The backbone's prefix with its dot (`vit.`, `deit.`).
 * @param config The hyperparameters.
 * @param opset The target opset.
 * @returns Normalised last hidden states [B, T, D].
 */
export function emitEncoder(
  g: GraphBuilder,
  weights: Weights,
  x: string,
  base: string,
  config: EncoderConfig,
  opset: number,
): string {
  let h = x;
  let layers = 0;
  while (weights.has(`${base}encoder.layer.${layers}.layernorm_before.weight`)) {
    h = emitEncoderLayer(g, weights, h, `${base}encoder.layer.${layers}`, config, opset);
    layers++;
  }
  if (layers === 0) throw new Error(`cannot export to ONNX: no ${base}encoder.layer.0 parameters`);
  return emitLayerNorm(g, weights, h, `${base}layernorm`, config.layer_norm_eps);
}

/**
 * Embeddings: the Conv2d patch projection (kernel = stride = patch), the leading tokens (CLS,
 * and DeiT's distillation token) broadcast over the batch, and the position embeddings as
 * stored, resized bicubically on the host when the export's grid differs from the stored one
 * (as the model's own forward with `interpolatePosEncoding` does).
 *
 * @param g The graph.
 * @param weights The parameters.
 * @param pixels Input [B, C, H, W].
 * @param base The backbone's prefix with its dot.
 * @param tokens Leading token parameter names under `${base}embeddings.`, in order.
 * @param size The exported input's height and width.
 * @param config The hyperparameters.
 * @returns Embeddings [B, tokens + patches, D].
 */
export function emitEmbeddings(
  g: GraphBuilder,
  weights: Weights,
  pixels: string,
  base: string,
  tokens: readonly string[],
  size: { height: number; width: number },
  config: EncoderConfig,
): string {
  const prefix = `${base}embeddings`;
  const p = config.patch_size;
  const d = config.hidden_size;
  if (size.height % p !== 0 || size.width % p !== 0) {
    throw new Error(
      `cannot export to ONNX: image size ${size.height}×${size.width} is not a multiple of the ` +
        `patch size ${p}`,
    );
  }
  const proj = `${prefix}.patch_embeddings.projection`;
  const w = param(weights, `${proj}.weight`);
  const b = param(weights, `${proj}.bias`);
  const conv = g.op("Conv", [
    pixels,
    g.weight(`${proj}.weight`, w.shape, w.data),
    g.weight(`${proj}.bias`, b.shape, b.data),
  ], { kernel_shape: ints([p, p]), strides: ints([p, p]) });
  const patches = g.op("Transpose", [g.op("Reshape", [conv, g.int64s([0, d, -1])])], {
    perm: ints([0, 2, 1]),
  });

  const lead = new Float32Array(tokens.length * d);
  tokens.forEach((t, i) => lead.set(param(weights, `${prefix}.${t}`).data, i * d));
  const leadName = g.weight(`${prefix}.leading_tokens`, [1, tokens.length, d], lead);
  const batch = g.op("Shape", [pixels], { start: int(0), end: int(1) });
  const leadShape = g.op("Concat", [batch, g.int64s([tokens.length, d])], { axis: int(0) });
  const leading = g.op("Expand", [leadName, leadShape]);
  const sequence = g.op("Concat", [leading, patches], { axis: int(1) });

  const stored = param(weights, `${prefix}.position_embeddings`);
  const positions = resizePositions(stored, tokens.length, size.height / p, size.width / p);
  const posName = g.weight(`${prefix}.position_embeddings`, positions.shape, positions.data);
  return g.op("Add", [sequence, posName]);
}

/**
 * Position embeddings [1, leading + g², D] with the patch grid resized bicubically to gh×gw
 * (torch's `interpolate`, align_corners false), computed on the host; unchanged when the grid
 * already is g×g.
 *
 * @param positions The stored embeddings.
 * @param leading Rows before the grid.
 * @param gh Target grid height.
 * @param gw Target grid width.
 * @returns [1, leading + gh·gw, D].
 * @example
 * ```ts
 * import { resizePositions } from "./vit_blocks.ts";
 * const p = resizePositions({ shape: [1, 5, 2], data: new Float32Array(10) }, 1, 3, 3);
 * console.log(p.shape); // [1, 10, 2]
 * ```
 */
export function resizePositions(
  positions: HostTensor,
  leading: number,
  gh: number,
  gw: number,
): HostTensor {
  const [, rows, d] = positions.shape;
  const g = Math.round(Math.sqrt(rows - leading));
  if (g * g !== rows - leading) {
    throw new Error(
      `cannot export to ONNX: ${rows - leading} position embeddings are no square grid`,
    );
  }
  if (gh === g && gw === g) return positions;
  const src = positions.data;
  const mh = bicubicMatrix(g, gh);
  const mw = bicubicMatrix(g, gw);
  const out = new Float32Array((leading + gh * gw) * d);
  out.set(src.subarray(0, leading * d));
  // Rows first ([gh, g, d]), then columns, as the model's interpolatePositions.
  const tmp = new Float32Array(gh * g * d);
  for (let i = 0; i < gh; i++) {
    for (let k = 0; k < g; k++) {
      const m = mh[i * g + k];
      if (m === 0) continue;
      for (let j = 0; j < g; j++) {
        const from = (leading + k * g + j) * d;
        const to = (i * g + j) * d;
        for (let c = 0; c < d; c++) tmp[to + c] += m * src[from + c];
      }
    }
  }
  for (let i = 0; i < gh; i++) {
    for (let j = 0; j < gw; j++) {
      const to = (leading + i * gw + j) * d;
      for (let k = 0; k < g; k++) {
        const m = mw[j * g + k];
        if (m === 0) continue;
        const from = (i * g + k) * d;
        for (let c = 0; c < d; c++) out[to + c] += m * tmp[from + c];
      }
    }
  }
  return { shape: [1, leading + gh * gw, d], data: out };
}

/**
 * One token's state of each sequence, `hidden[:, index, :]`.
 *
 * @param g The graph.
 * @param hidden States [B, T, D].
 * @param index The token.
 * @returns [B, D].
 * @example
 * ```ts
 * import { GraphBuilder } from "./graph_builder.ts";
 * import { emitToken } from "./vit_blocks.ts";
 * console.log(emitToken(new GraphBuilder(), "h", 0)); // "Gather_1"
 * ```
 */
export function emitToken(g: GraphBuilder, hidden: string, index: number): string {
  return g.op("Gather", [hidden, g.int64s([index], true)], { axis: int(1) });
}
