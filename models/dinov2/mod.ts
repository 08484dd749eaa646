/**
 * The DINOv2 family: its config, its modules and the descriptor that `models/families.ts` lists
 * for the Auto classes.
 *
 * @module
 */

import type { ModelFamily } from "../../nn/auto.ts";
import { makeDinov2Config } from "./config.ts";
import { Dinov2ForImageClassification } from "./modeling.ts";

export { DINOV2_DEFAULTS, type Dinov2Config, dinov2MlpWidth, makeDinov2Config } from "./config.ts";
export {
  Dinov2Embeddings,
  Dinov2ForImageClassification,
  Dinov2Layer,
  Dinov2LayerScale,
  Dinov2MLP,
  Dinov2Model,
  Dinov2SwiGLUFFN,
  initDinov2Weights,
  silu,
} from "./modeling.ts";

export type { EncoderLayer } from "../../nn/encoder.ts";

/** DINOv2 for the Auto classes: model_type "dinov2", one image-classification class. */
export const DINOV2_FAMILY: ModelFamily = {
  modelType: "dinov2",
  makeConfig: makeDinov2Config,
  imageClassification: [Dinov2ForImageClassification],
};
/** `drop_path`, shared with the other families (`Dinov2DropPath` before). */
export { DropPath as Dinov2DropPath } from "../../nn/drop_path.ts";
