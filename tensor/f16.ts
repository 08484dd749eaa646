/**
 * The host f16 conversions (in `core/f16.ts`), at their old path.
 *
 * @module
 */

export * from "./core/f16.ts";
