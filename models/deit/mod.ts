/**
 * The DeiT family: its config, its modules and the descriptor that `models/families.ts` lists
 * for the Auto classes.
 *
 * @module
 */

import type { ModelFamily } from "../../nn/auto.ts";
import { makeDeiTConfig } from "./config.ts";
import { DeiTForImageClassification, DeiTForImageClassificationWithTeacher } from "./modeling.ts";

export { DEIT_DEFAULTS, type DeiTConfig, makeDeiTConfig } from "./config.ts";
export {
  DeiTEmbeddings,
  DeiTForImageClassification,
  DeiTForImageClassificationWithTeacher,
  DeiTModel,
  type DeiTWithTeacherOutput,
  initDeiTWeights,
} from "./modeling.ts";

/**
 * DeiT for the Auto classes: model_type "deit"; a checkpoint whose architectures name the
 * distilled class loads as it, otherwise as DeiTForImageClassification.
 */
export const DEIT_FAMILY: ModelFamily = {
  modelType: "deit",
  makeConfig: makeDeiTConfig,
  imageClassification: [DeiTForImageClassification, DeiTForImageClassificationWithTeacher],
};
