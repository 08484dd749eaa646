/**
 * Test helper: the one-layer, 32 px ViT that the CLI tests save, load, train and evaluate.
 *
 * @module
 */

import { ViTImageProcessor } from "../data/processor.ts";
import { makeViTConfig } from "../models/vit/config.ts";
import { ViTForImageClassification } from "../models/vit/modeling.ts";

/** Its config fields, without labels. */
export const TINY_VIT = {
  hidden_size: 24,
  num_hidden_layers: 1,
  num_attention_heads: 2,
  intermediate_size: 32,
  image_size: 32,
  patch_size: 16,
} as const;

/**
 * Saves a randomly initialised tiny ViT and its image processor as a model folder.
 *
 * @param dir The folder.
 * @param id2label Its labels.
 * @param seed Initialisation seed (the model's default when omitted).
 * @returns The model that was saved.
 */
export async function saveTinyModel(
  dir: string,
  id2label: Record<string, string>,
  seed?: number,
): Promise<ViTForImageClassification> {
  const model = new ViTForImageClassification(makeViTConfig({ ...TINY_VIT, id2label }), seed);
  await model.savePretrained(dir);
  await new ViTImageProcessor({ size: TINY_VIT.image_size }).savePretrained(dir);
  return model;
}
