/**
 * Explicit start-up: {@link init} requests the WebGPU adapter and device once, reads what the
 * adapter can do, picks the backend for it and returns the runtime every tensor operation
 * uses. Importing the library does nothing on its own.
 *
 * @module
 */

import { widenSoftwareSimd } from "./simd.ts";
import { chooseBackend, type ConformanceReport } from "./conformance.ts";
import { backendCandidates } from "./backend/registry.ts";
import { activeRuntime, installContext, Runtime, startOnce } from "./core/context.ts";
import { requestDevice } from "./device.ts";
import { FirstUseCheck } from "./first_use.ts";
import { gradOps } from "./ops.ts";

export { Runtime } from "./core/context.ts";
export { backendCandidates } from "./backend/registry.ts";

/** Options of {@link init} and {@link createRuntime}. */
export interface InitOptions {
  /** Ask for a low-power or high-performance adapter (default high-performance). */
  powerPreference?: GPUPowerPreference;
}

/**
 * Starts a runtime: requests a device, wires the autograd ops, and picks the backend with the
 * start-up check, which runs with the new runtime active.
 */
async function start(options: InitOptions): Promise<Runtime> {
  // Mesa's software drivers read their vector width once, when the first adapter is requested.
  widenSoftwareSimd();
  const device = await requestDevice(options.powerPreference);
  // Release the device when the process or page goes, rather than in exit-time teardown, where
  // Mesa's drivers under wgpu were seen to abort now and then after all the work was done.
  globalThis.addEventListener?.("unload", () => device.device.destroy());
  const runtime = new Runtime(device);
  runtime.wireGradOps(gradOps);
  const { backend, reports } = await chooseBackend(backendCandidates(device.profile), runtime);
  runtime.useBackend(backend);
  runtime.reports = reports;
  // The variants the start-up check left out are checked when products first choose them.
  runtime.tuning.gate = new FirstUseCheck(runtime);
  return runtime;
}

/**
 * What the start-up check of the active runtime found: one report per backend tried, the
 * chosen one last.
 *
 * @returns The reports (empty before {@link init} has finished).
 * @example
 * ```ts
 * import { init, startupChecks } from "./runtime.ts";
 * await init();
 * console.log(startupChecks().at(-1)?.families.every((f) => f.ok)); // true
 * ```
 */
export function startupChecks(): readonly ConformanceReport[] {
  return activeRuntime()?.reports ?? [];
}

/**
 * Starts Tessera: requests the adapter and device and picks the backend. Call it once before
 * the first tensor operation; later calls return the same runtime. Where no adapter exists it
 * rejects with `NoGpuAdapterError`, whose one line names the driver to install, and the first
 * tensor operation throws the same error.
 *
 * @param options Adapter preferences (read by the first call only).
 * @returns The runtime.
 * @example
 * ```ts
 * import { init } from "./runtime.ts";
 * const rt = await init();
 * console.log(rt.backend.name, rt.profile.f16);
 * ```
 */
export function init(options: InitOptions = {}): Promise<Runtime> {
  return startOnce(() =>
    start(options).then((runtime) => {
      installContext(runtime);
      return runtime;
    }, (error) => {
      installContext({ error });
      throw error;
    })
  );
}

/**
 * Starts another runtime on a device of its own, which shares nothing with the default one
 * ({@link init}'s): its own engine, buffer pool, texture cache, tuning, dropout seed and
 * start-up reports. It does not become active; run work on it with `runtime.run(fn)`.
 *
 * @param options Adapter preferences.
 * @returns The runtime.
 * @example
 * ```ts
 * import { createRuntime } from "./runtime.ts";
 * import { Tensor } from "./core/tensor.ts";
 * const rt = await createRuntime();
 * const t = rt.run(() => Tensor.from([1, 2, 3], [3]));
 * console.log(await t.toArray()); // Float32Array [1, 2, 3]
 * ```
 */
export function createRuntime(options: InitOptions = {}): Promise<Runtime> {
  return start(options);
}
