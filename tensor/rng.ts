/**
 * The seeded generator (in `core/rng.ts`), at its old path.
 *
 * @module
 */

export * from "./core/rng.ts";
