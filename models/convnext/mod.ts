/**
 * The ConvNeXt family: its config, its modules and the descriptor that `models/families.ts`
 * lists for the Auto classes.
 *
 * @module
 */

import type { ModelFamily } from "../../nn/auto.ts";
import { makeConvNextConfig } from "./config.ts";
import { ConvNextForImageClassification } from "./modeling.ts";

export { CONVNEXT_DEFAULTS, type ConvNextConfig, makeConvNextConfig } from "./config.ts";
export {
  ConvNextDepthwiseConv,
  ConvNextEmbeddings,
  ConvNextEncoder,
  ConvNextForImageClassification,
  ConvNextLayer,
  ConvNextModel,
  type ConvNextModelOutput,
  ConvNextPatchConv,
  ConvNextStage,
  initConvNextWeights,
} from "./modeling.ts";

/** ConvNeXt for the Auto classes: model_type "convnext", one image-classification class. */
export const CONVNEXT_FAMILY: ModelFamily = {
  modelType: "convnext",
  makeConfig: makeConvNextConfig,
  imageClassification: [ConvNextForImageClassification],
};
/** `drop_path`, shared with the other families (`ConvNextDropPath` before). */
export { DropPath as ConvNextDropPath } from "../../nn/drop_path.ts";
