/**
 * Self-attention on a packed projection with texture matmuls, for software adapters.
 *
 * @module
 */

import type { MatmulShape } from "../../../kernels/matmul.ts";
import { record, Tensor } from "../../core/tensor.ts";
import {
  ONE_GROUP,
  type OperandLayout,
  type OutputLayout,
  textureMatmul,
  type TextureOperand,
  texturesFitFamily,
} from "../webgpu/texture_matmul.ts";
import { matmulVariantFor } from "../../core/tuning.ts";
import type { Backend } from "../../core/backend.ts";

/**
 * Self-attention (`selfAttention` in `tensor/ops_attention.ts`) with texture matmuls that read
 * the heads straight out of the packed projection (and out of the context's gradient) and store
 * the context and the packed gradient head by head: no copies into and out of the [B·H, T, hd]
 * head layout. Batch entry z of every product is image z % B of head z / B, so that each head's
 * rows of tokens (256-byte aligned in ViT sizes) copy
 * into consecutive texture layers with one buffer-to-texture copy per head. Null where a
 * product would not run as a texture matmul.
 */
export function textureAttention(
  backend: Backend,
  qkv: Tensor,
  heads: number,
  alpha: number,
  grad: boolean,
  half: boolean,
): Tensor | null {
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
    !products.every((s) => texturesFitFamily(matmulVariantFor(s).family, s)) ||
    !variants.every((v) => v.family.startsWith("texture"))
  ) {
    return null;
  }
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
  // Each form of a big tile compiles for seconds on a software adapter (and for many more
  // where the driver's shader cache is cold), so the products take the forms that Linear
  // layers compile anyway: NT with a bias (of zeros), TN with column sums (read by no one).
  const run = (
    i: number,
    a: TextureOperand,
    b: TextureOperand,
    out: Tensor,
    c: OutputLayout,
    scale = 1,
  ) => {
    const v = variants[i];
    const bias = v.family === "texture" ? Tensor.zeros([padded]) : null;
    const sums = v.family === "texturetn" ? Tensor.empty([batch * t]) : null;
    textureMatmul(v, products[i], a, b, out.storage, c, scale, half, bias?.storage, sums?.storage);
    bias?.dispose();
    sums?.dispose();
  };
  // Forward: scores = α Q Kᵀ, probabilities, context = P V straight into [B, T, D].
  const logits = Tensor.empty([batch, t, padded]);
  run(0, qkvAs(byTokens(d3, 0)), qkvAs(byTokens(d3, d)), logits, square, alpha);
  // Softmax over the padded rows (vec4 or texture row kernels): zeros from each row's end on.
  const paddedSoftmax = (inputs: Tensor[], backward: boolean): Tensor => {
    const y = Tensor.empty(inputs[0].shape);
    const flavour = backend.rowFlavourFor("softmax padded", true);
    backend.softmax(inputs, y, backward, flavour, batch * t, t, padded);
    return y;
  };
  const probs = paddedSoftmax([logits], false);
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
    const dScores = paddedSoftmax([probs, dProbs], true);
    dProbs.dispose();
    run(1, tensorAs(dScores, scoresLayout), nnB(d), dqkv, into(d3, 0), alpha);
    run(2, tensorAs(dScores, scoresLayout), qkvAs(byTokens(d3, 0)), dqkv, into(d3, d), alpha);
    dScores.dispose();
    probs.dispose();
    return [dqkv];
  }, "selfAttention");
}
