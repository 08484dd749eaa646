/**
 * Test helpers of the ONNX exporter: models with every parameter random (so a wrong bias,
 * norm or head shows), Tessera's logits, and onnxruntime-node's logits on the same pixels.
 *
 * @module
 */

// deno-lint-ignore no-import-prefix -- dev-only: `deno task` installs deno.json's imports
import * as ort from "npm:onnxruntime-node@1.30.0";
import type { PreTrainedImageClassifier } from "../nn/image_classifier.ts";
import { Rng } from "../nn/init.ts";
import { noGrad, Tensor } from "../tensor/tensor.ts";

/**
 * Fills every parameter with seeded noise: norms' weights near 1, everything else with std
 * 0.2, biases included.
 *
 * @param model The model.
 * @param seed Seed of the noise.
 */
export function randomizeParameters(model: PreTrainedImageClassifier, seed: number): void {
  const rng = new Rng(seed);
  for (const [name, t] of model.namedParameters()) {
    const values = new Float32Array(t.size);
    const isNormWeight = /(layernorm|layernorm_before|layernorm_after)\.weight$/.test(name);
    for (let i = 0; i < values.length; i++) {
      const u = rng.next() * 2 - 1;
      values[i] = isNormWeight ? 1 + 0.3 * u : 0.35 * u;
    }
    t.assign(values);
  }
}

/**
 * Seeded pixels in [-1, 1), as the normalised output of ViT's processor.
 *
 * @param n Number of values.
 * @param seed The seed.
 * @returns The values.
 */
export function randomPixels(n: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n }, () => rng.next() * 2 - 1);
}

/**
 * Tessera's logits on [B, C, H, W] pixels, in evaluation mode.
 *
 * @param model The model.
 * @param pixels The pixels.
 * @param shape Their shape.
 * @param interpolatePosEncoding Resize the position embeddings to the input's grid.
 * @returns [B·labels] logits.
 */
export async function tesseraLogits(
  model: PreTrainedImageClassifier,
  pixels: Float32Array,
  shape: number[],
  interpolatePosEncoding = false,
): Promise<Float32Array> {
  model.eval();
  const forward = model.forward as (
    x: Tensor,
    labels?: number[],
    options?: { interpolatePosEncoding?: boolean },
  ) => { logits: Tensor };
  const x = Tensor.from(pixels, shape);
  const logits = noGrad(() => forward.call(model, x, undefined, { interpolatePosEncoding }).logits);
  const out = await logits.toArray();
  logits.dispose();
  x.dispose();
  return out;
}

/**
 * onnxruntime-node's (CPU) logits of an exported model.
 *
 * @param onnx The model.onnx bytes.
 * @param pixels The pixels.
 * @param shape Their shape.
 * @returns The `logits` output's values and shape.
 */
export async function onnxLogits(
  onnx: Uint8Array,
  pixels: Float32Array,
  shape: number[],
): Promise<{ data: Float32Array; dims: readonly number[] }> {
  const session = await ort.InferenceSession.create(onnx);
  try {
    const out = await session.run({ pixel_values: new ort.Tensor("float32", pixels, shape) });
    return { data: out.logits.data as Float32Array, dims: out.logits.dims };
  } finally {
    await session.release();
  }
}

/**
 * The largest |a - b| and the largest |a - b| / max(|b|) (relative to the reference's scale).
 *
 * @param a Values under test.
 * @param b Reference values.
 * @returns Both differences.
 */
export function worstDifference(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
): { abs: number; rel: number } {
  let abs = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    abs = Math.max(abs, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return { abs, rel: abs / scale };
}
