/**
 * The model families Tessera builds, one line each: the list the Auto classes' registry is made
 * from. A new family adds its folder and its line here.
 *
 * @module
 */

import type { ModelFamily } from "../nn/auto.ts";
import { CONVNEXT_FAMILY } from "./convnext/mod.ts";
import { DEIT_FAMILY } from "./deit/mod.ts";
import { DINOV2_FAMILY } from "./dinov2/mod.ts";
import { VIT_FAMILY } from "./vit/mod.ts";

/** Every family, in the order error messages list their model types. */
export const MODEL_FAMILIES: readonly ModelFamily[] = [
  VIT_FAMILY,
  DEIT_FAMILY,
  DINOV2_FAMILY,
  CONVNEXT_FAMILY,
];
