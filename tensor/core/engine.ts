/**
 * The active runtime's engine ({@link engine}) and the validation switch; the engine itself is
 * in `command_engine.ts`, and each runtime owns one.
 *
 * @module
 */

import { gpu, setDefaultValidation } from "./context.ts";
import type { Engine } from "./command_engine.ts";

export { type Binding, Engine, type Storage } from "./command_engine.ts";

/**
 * Turns validation mode ({@link Engine.validate}) on or off for the active runtime's engine and
 * for the runtimes still to be started; a test preload calls it before any test file starts
 * Tessera.
 *
 * @param on Whether dispatches check their bindings.
 * @example
 * ```ts
 * import { setValidation } from "./engine.ts";
 * setValidation(true);
 * ```
 */
export function setValidation(on: boolean): void {
  setDefaultValidation(on);
}

/**
 * Returns the active runtime's engine.
 *
 * @returns The engine.
 * @example
 * ```ts
 * import { init } from "../runtime.ts";
 * import { engine } from "./engine.ts";
 * await init();
 * console.log(engine().pool.stats.created);
 * ```
 */
export function engine(): Engine {
  return gpu().engine;
}
