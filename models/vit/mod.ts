/**
 * The ViT family: its config, its modules and the descriptor that `models/families.ts` lists for
 * the Auto classes. The encoder blocks and patch embeddings it is built from are exported with
 * it, under ViT's names, as Transformers' modeling_vit.py has them.
 *
 * @module
 */

import type { ModelFamily } from "../../nn/auto.ts";
import { makeViTConfig } from "./config.ts";
import { ViTForImageClassification } from "./modeling.ts";

export { makeViTConfig, VIT_DEFAULTS, vitBase16, type ViTConfig, vitTiny16 } from "./config.ts";
export { ViTEmbeddings, ViTForImageClassification, ViTModel } from "./modeling.ts";
export {
  ViTAttention,
  ViTEncoder,
  ViTIntermediate,
  ViTLayer,
  ViTOutput,
  ViTPooler,
  ViTSelfAttention,
  ViTSelfOutput,
} from "../../nn/encoder.ts";
export { initViTWeights, type ViTModelOutput } from "../../nn/encoder_model.ts";
export { PatchProjection, ViTPatchEmbeddings } from "../../nn/patch_embeddings.ts";

/** ViT for the Auto classes: model_type "vit", one image-classification class. */
export const VIT_FAMILY: ModelFamily = {
  modelType: "vit",
  makeConfig: makeViTConfig,
  imageClassification: [ViTForImageClassification],
};
