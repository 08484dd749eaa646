/**
 * The product op (in `ops/matmul.ts`), at its old path.
 *
 * @module
 */

export * from "./ops/matmul.ts";
