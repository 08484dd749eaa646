/**
 * The Tensor and its tape (in `core/tensor.ts`), at the path the library has always had.
 *
 * @module
 */

export * from "./core/tensor.ts";
