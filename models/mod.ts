/**
 * The model families and the Auto classes over them: each family's folder exports its config,
 * modules and registry descriptor; `families.ts` lists the descriptors; `auto.ts` builds the
 * registry from that list.
 *
 * @module
 */

export * from "./vit/mod.ts";
export * from "./deit/mod.ts";
export * from "./dinov2/mod.ts";
export * from "./convnext/mod.ts";
export { AutoConfig, AutoModelForImageClassification, MODEL_REGISTRY } from "./auto.ts";
export { MODEL_FAMILIES } from "./families.ts";
