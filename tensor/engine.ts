/**
 * The active runtime's engine and the validation switch (in `core/engine.ts`), at their old
 * path.
 *
 * @module
 */

export * from "./core/engine.ts";
