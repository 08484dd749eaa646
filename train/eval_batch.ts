/**
 * The batch that evaluation and prediction run at: the largest that keeps one forward pass's
 * activations within a memory budget and its largest tensor (the attention scores) within
 * WebGPU's binding limit, and never smaller than the batch asked for. Evaluation computes each
 * image on its own, so the batch changes only how many images share a dispatch, not the results
 * (up to the kernels' rounding for a different row count).
 *
 * @module
 */

/** The config fields the estimate reads (HF's names); others fall back to the requested batch. */
export interface EvalBatchConfig {
  /** Input height and width. */
  image_size?: number;
  /** Patch side (ViT, DeiT). */
  patch_size?: number;
  /** Width of the token vectors. */
  hidden_size?: number;
  /** Width of the MLP's hidden layer. */
  intermediate_size?: number;
  /** Attention heads. */
  num_attention_heads?: number;
  /** Transformer layers. */
  num_hidden_layers?: number;
}

/** Options of {@link evalBatchSize}. */
export interface EvalBatchOptions {
  /** Bytes the activations of one evaluation batch may take (256 MiB by default). */
  budgetBytes?: number;
  /** The adapter's largest storage binding (128 MiB, WebGPU's default limit, by default). */
  maxBindingBytes?: number;
  /** The largest batch chosen (256 by default). */
  maxBatch?: number;
}

/**
 * Picks the evaluation batch for a model.
 *
 * @param config The model's config.
 * @param requested The batch asked for (`perDeviceEvalBatchSize`): the least chosen.
 * @param options The memory budget, binding limit and cap.
 * @returns The batch size, at least `requested`.
 * @example
 * ```ts
 * import { evalBatchSize } from "./eval_batch.ts";
 * const tiny = {
 *   image_size: 120, patch_size: 12, hidden_size: 128, intermediate_size: 256,
 *   num_attention_heads: 4, num_hidden_layers: 4,
 * };
 * console.log(evalBatchSize(tiny, 8) > 8); // true
 * ```
 */
export function evalBatchSize(
  config: EvalBatchConfig,
  requested: number,
  options: EvalBatchOptions = {},
): number {
  const { image_size, patch_size, hidden_size, intermediate_size } = config;
  const heads = config.num_attention_heads;
  const layers = config.num_hidden_layers;
  if (!image_size || !patch_size || !hidden_size || !intermediate_size || !heads || !layers) {
    return requested;
  }
  const budget = options.budgetBytes ?? 256 * 2 ** 20;
  const binding = options.maxBindingBytes ?? 128 * 2 ** 20;
  const cap = options.maxBatch ?? 256;
  const tokens = (image_size / patch_size) ** 2 + 2;
  // Per image and layer: scores and probabilities, about ten token-by-hidden tensors and two
  // token-by-intermediate ones, in f32; all layers' stay alive until the batch's scope ends.
  const scores = heads * tokens * tokens * 4;
  const perLayer = 2 * scores + tokens * (10 * hidden_size + 2 * intermediate_size) * 4;
  const input = 2 * 3 * image_size * image_size * 4;
  const perImage = layers * perLayer + input;
  const fit = Math.min(Math.floor(budget / perImage), Math.floor(binding / scores), cap);
  return Math.max(requested, fit);
}
