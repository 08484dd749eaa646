/**
 * The Deno entry's start-up: {@link init} starts the runtime, as the portable `init` does, and
 * makes Hub ids load into Python's cache, as Transformers' `from_pretrained` does, unless a
 * resolver of the caller's own is installed. Importing it does nothing.
 *
 * @module
 */

import { hasSourceResolver } from "../io/sources.ts";
import { init as startRuntime, type InitOptions, type Runtime } from "../tensor/runtime.ts";
import { installDenoHub } from "./deno.ts";

/**
 * Starts the runtime (once; later calls return the same one) and installs the Hub resolver
 * when none is installed, so that `fromPretrained("org/name")` and `loadDataset("org/name")`
 * download into the Hub's cache when no local folder has that name.
 *
 * @param options Adapter preference.
 * @returns The runtime.
 * @throws {NoGpuAdapterError|ConformanceError} When no adapter or no backend works on it.
 * @example
 * ```ts ignore
 * import { init, ViTForImageClassification } from "@tessera/vit";
 * await init();
 * const model = await ViTForImageClassification.fromPretrained("google/vit-base-patch16-224");
 * ```
 */
export function init(options: InitOptions = {}): Promise<Runtime> {
  if (!hasSourceResolver()) installDenoHub();
  return startRuntime(options);
}
