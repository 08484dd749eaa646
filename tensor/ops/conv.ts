/**
 * Depthwise 2-D convolution on channels-last tensors, a kernel forward and kernel backward
 * (input, weight and bias gradients). ConvNeXt keeps its activations as [B, H, W, C], so its
 * LayerNorms and Linear layers act on the last axis without permutes.
 *
 * @module
 */

import type { DepthwiseConvShape } from "../../kernels/depthwise_conv.ts";
import { backend } from "../core/backend.ts";
import { record, Tensor } from "../core/tensor.ts";
import { assertF32 } from "./_dispatch.ts";

/**
 * Depthwise convolution, stride 1, zero padding `padding` on every side, as
 * `torch.nn.Conv2d(C, C, k, padding=p, groups=C)` applied to `x.permute(0, 3, 1, 2)`, with
 * the result in the input's channels-last layout. The output has the input's size, so the
 * filter must be `2 · padding + 1` square.
 *
 * @param x The input, [B, H, W, C].
 * @param weight The filters in PyTorch's layout, [C, 1, k, k].
 * @param bias One bias per channel, [C], or none.
 * @param padding Zero rows and columns on each side.
 * @returns The result, [B, H, W, C].
 * @example
 * ```ts
 * import { depthwiseConv2d, Tensor } from "../../mod.ts";
 * const x = Tensor.from(new Float32Array(9).fill(1), [1, 3, 3, 1]);
 * const w = Tensor.from(new Float32Array(9).fill(1), [1, 1, 3, 3]);
 * console.log(await depthwiseConv2d(x, w, undefined, 1).toArray()); // 4 6 4 6 9 6 4 6 4
 * ```
 */
export function depthwiseConv2d(
  x: Tensor,
  weight: Tensor,
  bias: Tensor | undefined,
  padding: number,
): Tensor {
  assertF32(x, "depthwiseConv2d");
  assertF32(weight, "depthwiseConv2d");
  if (x.rank !== 4) {
    throw new Error(`depthwiseConv2d: input must be [B, H, W, C], got [${x.shape}]`);
  }
  const [batch, height, width, channels] = x.shape;
  const k = 2 * padding + 1;
  const [wc, one, kh, kw] = weight.shape;
  if (weight.rank !== 4 || wc !== channels || one !== 1 || kh !== k || kw !== k) {
    throw new Error(
      `depthwiseConv2d: weight must be [${channels}, 1, ${k}, ${k}] for padding ${padding}, ` +
        `got [${weight.shape}]`,
    );
  }
  if (bias && bias.size !== channels) {
    throw new Error(`depthwiseConv2d: bias of ${bias.size} for ${channels} channels`);
  }
  const shape: DepthwiseConvShape = {
    batch,
    height,
    width,
    channels,
    kh,
    kw,
    padH: padding,
    padW: padding,
  };
  const b = bias ?? Tensor.zeros([channels]);
  const y = Tensor.empty(x.shape);
  if (y.size > 0) backend().depthwiseConv(x, weight, b, y, shape);
  if (!bias) b.dispose();
  const inputs = bias ? [x, weight, bias] : [x, weight];
  return record(y, inputs, (g) => {
    let dx: Tensor | null = null;
    if (x.requiresGrad) {
      dx = Tensor.empty(x.shape);
      backend().depthwiseConvBackwardInput(g, weight, dx, shape);
    }
    let dw: Tensor | null = null;
    if (weight.requiresGrad) {
      const sums = backend().depthwiseConvBackwardWeight(g, x, shape);
      dw = sums.view(weight.shape);
      sums.dispose();
    }
    let db: Tensor | null = null;
    if (bias?.requiresGrad) {
      const sums = backend().sum(g, [1, batch * height * width, channels], 1, [channels]);
      db = sums.view(bias.shape);
      sums.dispose();
    }
    return bias ? [dx, dw, db] : [dx, dw];
  }, "depthwiseConv2d");
}
