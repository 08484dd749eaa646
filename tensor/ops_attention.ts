/**
 * Multi-head self-attention on a packed query-key-value projection, as one differentiable
 * primitive.
 *
 * A ViT layer projects its input three times (query, key, value). Done as one product against
 * the three weights stacked, the input is read once and the product has three times the
 * columns; the three [B·H, T, hd] head layouts are then copied straight out of the packed
 * result, and the backward writes their gradients straight back into one packed gradient, so
 * the layer input's gradient comes out of one product instead of the sum of three.
 *
 * @module
 */

import { contiguousStrides } from "./_dispatch.ts";
import type { MatmulShape } from "../kernels/matmul.ts";
import { gpu } from "./device.ts";
import {
  halfMatmuls,
  matmul,
  matmulVariantFor,
  ONE_GROUP,
  type OperandLayout,
  type OutputLayout,
  textureMatmul,
  type TextureOperand,
  texturesFit,
} from "./ops_matmul.ts";
import { softmax, softmaxPadded, softmaxPaddedBackward } from "./ops_nn.ts";
import { stridedCopy } from "./ops_reduce.ts";
import { permute } from "./ops_shape.ts";
import { isGradEnabled, noGrad, record, Tensor } from "./tensor.ts";

/**
 * Scaled dot-product self-attention over `heads` heads on `qkv` [B, T, 3·D], which holds the
 * queries, keys and values side by side (each D = heads · hd wide, heads side by side within
 * each): `softmax(scale · Q Kᵀ) V` per head, returned as [B, T, D] with the heads side by side,
 * as Hugging Face's `ViTSelfAttention` computes it from its three projections.
 *
 * @param qkv The packed projection [B, T, 3·D].
 * @param heads Number of heads (D must be a multiple of it).
 * @param scale Scale of the scores; by default `hd ** -0.5`.
 * @param onProbs Applied to the probabilities before they weight the values (dropout).
 * @returns The context [B, T, D].
 * @example
 * ```ts
 * import { selfAttention, Tensor } from "../mod.ts";
 * // One head of width 1, two tokens: each query attends to both keys.
 * const qkv = Tensor.from([0, 0, 1, 0, 0, 3], [1, 2, 3]);
 * console.log(await selfAttention(qkv, 1).toArray()); // Float32Array [2, 2]
 * ```
 */
export function selfAttention(
  qkv: Tensor,
  heads: number,
  scale?: number,
  onProbs?: (probs: Tensor) => Tensor,
): Tensor {
  const [b, t, d3] = qkv.shape;
  if (qkv.rank !== 3 || d3 % (3 * heads) !== 0) {
    throw new Error(
      `selfAttention: [${qkv.shape}] is not [B, T, 3·D] with D a multiple of ${heads}`,
    );
  }
  const d = d3 / 3;
  const hd = d / heads;
  const alpha = scale ?? hd ** -0.5;
  const grad = isGradEnabled() && qkv.requiresGrad;
  if (!onProbs && gpu().isCpu) {
    const texture = textureAttention(qkv, heads, alpha, grad);
    if (texture) return texture;
  }
  // Element (b, h, t, e) of part i (0 queries, 1 keys, 2 values) in the packed projection.
  const packedStrides = [t * d3, hd, d3, 1];
  const headShape = [b, heads, t, hd];
  const headStrides = contiguousStrides(headShape);
  const parts = [0, 1, 2].map((i) => {
    const part = Tensor.empty([b * heads, t, hd]);
    stridedCopy(qkv, part, headShape, packedStrides, i * d, headStrides, 0);
    // Leaves of an inner graph whose gradients the backward packs again.
    part.requiresGrad = grad;
    return part;
  });
  const [q, k, v] = parts;
  const attend = () => {
    const scores = softmax(matmul(q, k, { transB: true, alpha }));
    const probs = onProbs ? onProbs(scores) : scores;
    const context = matmul(probs, v).view(headShape);
    return permute(context, [0, 2, 1, 3]).view([b, t, d]);
  };
  if (!grad) return noGrad(attend);
  const inner = attend();
  const out = noGrad(() => inner.view(inner.shape));
  return record(out, [qkv], (g) => {
    inner.backward(g);
    const dqkv = Tensor.empty(qkv.shape);
    parts.forEach((part, i) => {
      const partGrad = part.grad ?? Tensor.zeros(part.shape);
      stridedCopy(partGrad, dqkv, headShape, headStrides, 0, packedStrides, i * d);
      partGrad.dispose();
      part.grad = null;
    });
    return [dqkv];
  }, "selfAttention");
}

/**
 * {@link selfAttention} with texture matmuls that read the heads straight out of the packed
 * projection (and out of the context's gradient) and store the context and the packed
 * gradient head by head: no copies into and out of the [B·H, T, hd] head layout, which cost
 * a ViT-Tiny train step on lavapipe 255 of 5176 ms. Batch entry z of every product is image
 * z % B of head z / B, so that each head's rows of tokens (256-byte aligned in ViT sizes) copy
 * into consecutive texture layers with one buffer-to-texture copy per head. Null where a
 * product would not run as a texture matmul.
 */
function textureAttention(qkv: Tensor, heads: number, alpha: number, grad: boolean): Tensor | null {
  const [b, t, d3] = qkv.shape;
  const d = d3 / 3;
  const hd = d / heads;
  const batch = b * heads;
  const shape = (m: number, k: number, n: number, transA: boolean, transB: boolean) =>
    ({ batch, m, k, n, transA, transB }) as MatmulShape;
  const scores = shape(t, hd, t, false, true);
  const context = shape(t, t, hd, false, false);
  const backward = [shape(t, t, hd, true, false), shape(t, hd, t, false, true)];
  const products = [scores, context, ...backward];
  const variants = products.map((s) => matmulVariantFor(s));
  if (
    !products.every((s) => texturesFit(s)) ||
    !variants.every((v) => v.family.startsWith("texture"))
  ) {
    return null;
  }
  const half = halfMatmuls();
  // Operands read from a [B, T, width] tensor at column `offset`, head by head: by rows of
  // tokens with c along the head's width, or (transposed) by rows of the width with c = token.
  const byTokens = (width: number, offset: number): OperandLayout => ({
    size: { width: Math.ceil(hd / 4), height: t, layers: batch },
    length: hd,
    strides: { batch: t * width, row: width, k: 1, offset, group: b, groupStride: hd },
  });
  const byWidth = (offset: number): OperandLayout => ({
    size: { width: Math.ceil(t / 4), height: hd, layers: batch },
    length: t,
    strides: { batch: t * d3, row: 1, k: d3, offset, group: b, groupStride: hd },
  });
  const into = (width: number, offset: number): OutputLayout => ({
    offset,
    group: b,
    groupStride: hd,
    batch: t * width,
    row: width,
  });
  // Scores and probabilities in rows of `padded` (a multiple of 64): 256-byte rows copy into
  // textures, and vec4 stores may fill the columns past T, which the softmax zeroes.
  const padded = Math.ceil(t / 64) * 64;
  const square: OutputLayout = {
    offset: 0,
    group: ONE_GROUP,
    groupStride: 0,
    batch: t * padded,
    row: padded,
    padded: true,
  };
  // Read by rows of queries with c = key (NN), and as stored (TN): the same texels.
  const scoresLayout: OperandLayout = {
    size: { width: Math.ceil(t / 4), height: t, layers: batch },
    length: t,
    strides: { batch: t * padded, row: padded, k: 1 },
    zeroPadded: true,
  };
  const qkvAs = (layout: OperandLayout) => ({ storage: qkv.storage, layout });
  // B of the NN products (P V, dS K): as stored for texturenn, transposed for texture.
  const nnB = (offset: number) =>
    qkvAs(variants[1].family === "texturenn" ? byTokens(d3, offset) : byWidth(offset));
  const tensorAs = (x: Tensor, layout: OperandLayout) => ({ storage: x.storage, layout });
  const run = (
    i: number,
    a: TextureOperand,
    b: TextureOperand,
    out: Tensor,
    c: OutputLayout,
    scale = 1,
  ) => textureMatmul(variants[i], products[i], a, b, out.storage, c, scale, half);
  // Forward: scores = α Q Kᵀ, probabilities, context = P V straight into [B, T, D].
  const logits = Tensor.empty([batch, t, padded]);
  run(0, qkvAs(byTokens(d3, 0)), qkvAs(byTokens(d3, d)), logits, square, alpha);
  const probs = softmaxPadded(logits, batch * t, t, padded);
  logits.dispose();
  const out = Tensor.empty([b, t, d]);
  run(1, tensorAs(probs, scoresLayout), nnB(2 * d), out, into(d, 0));
  if (!grad) {
    probs.dispose();
    return out;
  }
  return record(out, [qkv], (g) => {
    const dqkv = Tensor.empty(qkv.shape);
    const dContext = tensorAs(g, byTokens(d, 0));
    // dP = dC Vᵀ; dV = Pᵀ dC; dS = softmax′(dP); dQ = α dS K; dK = α dSᵀ Q.
    const dProbs = Tensor.empty([batch, t, padded]);
    run(3, dContext, qkvAs(byTokens(d3, 2 * d)), dProbs, square);
    run(2, tensorAs(probs, scoresLayout), dContext, dqkv, into(d3, 2 * d));
    const dScores = softmaxPaddedBackward(probs, dProbs, batch * t, t, padded);
    dProbs.dispose();
    run(1, tensorAs(dScores, scoresLayout), nnB(d), dqkv, into(d3, 0), alpha);
    run(2, tensorAs(dScores, scoresLayout), qkvAs(byTokens(d3, 0)), dqkv, into(d3, d), alpha);
    dScores.dispose();
    probs.dispose();
    return [dqkv];
  }, "selfAttention");
}
