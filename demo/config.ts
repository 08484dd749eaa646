/**
 * The bundled model's recipe constants: where its weights live and the small ViT architecture
 * that `deno task pretrain` and the bench start from.
 *
 * @module
 */

/** The pretrained model the default run fine-tunes. */
export const BUNDLED_MODEL_DIR = new URL("../models/vit-tiny-contours", import.meta.url).pathname;

/** The small ViT config that `deno task pretrain` and the bench start from. */
export const DEMO_CONFIG: Record<string, unknown> = {
  hidden_size: 128,
  num_hidden_layers: 4,
  num_attention_heads: 4,
  intermediate_size: 256,
  image_size: 96,
  patch_size: 12,
};
