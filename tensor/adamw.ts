/**
 * AdamW (in `ops/adamw.ts`), at its old path.
 *
 * @module
 */

export * from "./ops/adamw.ts";
