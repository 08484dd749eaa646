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
import { backend } from "../core/backend.ts";
import { fusedAttentionChecked } from "../core/tuning.ts";
import { halfMatmuls, matmul } from "./matmul.ts";
import { softmax } from "./nn.ts";
import { stridedCopy } from "./reduce.ts";
import { permute } from "./shape.ts";
import { isGradEnabled, noGrad, record, Tensor } from "../core/tensor.ts";

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
 * import { selfAttention, Tensor } from "../../mod.ts";
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
  // The backend's fused path, where it has one (it cannot apply dropout to the probabilities)
  // and it has not failed its first-use check.
  const fused = onProbs || !fusedAttentionChecked()
    ? null
    : backend().selfAttention(qkv, heads, alpha, grad, halfMatmuls());
  if (fused) return fused;
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
