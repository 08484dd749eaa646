/**
 * Explicit start-up: {@link init} requests the WebGPU adapter and device once, reads what the
 * adapter can do, picks the backend for it and returns the runtime every tensor operation
 * uses. Importing the library does nothing on its own.
 *
 * @module
 */

import { widenSoftwareSimd } from "../io/simd.ts";
import type { Backend } from "./backend/backend.ts";
import { GpuBackend } from "./backend/gpu.ts";
import { chooseBackend, type ConformanceReport } from "./backend/conformance.ts";
import type { AdapterProfile } from "./backend/profile.ts";
import { SoftwareBackend } from "./backend/software.ts";
import { type GpuContext, installContext, requestDevice } from "./device.ts";

/** What {@link init} returns: the adapter, the device, their profile and the backend. */
export type Runtime = GpuContext;

/** Options of {@link init}. */
export interface InitOptions {
  /** Ask for a low-power or high-performance adapter (default high-performance). */
  powerPreference?: GPUPowerPreference;
}

let starting: Promise<Runtime> | null = null;

/**
 * The backends to try on an adapter, fastest first: on software adapters texture operands and
 * vector loads, then storage-buffer operands, then one element per invocation; on GPUs the
 * tiled kernels.
 *
 * @param profile What the adapter can do.
 * @returns The candidates, for the start-up check to pick from.
 */
export function backendCandidates(profile: AdapterProfile): Backend[] {
  if (!profile.software) return [new GpuBackend(profile)];
  return [
    new SoftwareBackend(profile),
    new SoftwareBackend(profile, { textures: false }),
    new SoftwareBackend(profile, { textures: false, vectorLoads: false }),
  ];
}

async function start(options: InitOptions): Promise<Runtime> {
  // Mesa's software drivers read their vector width once, when the first adapter is requested.
  widenSoftwareSimd();
  const device = await requestDevice(options.powerPreference);
  // Release the device when the process or page goes, rather than in exit-time teardown, where
  // Mesa's drivers under wgpu were seen to abort now and then after all the work was done.
  globalThis.addEventListener?.("unload", () => device.device.destroy());
  let runtime: Runtime | null = null;
  const install = (backend: Backend) => {
    runtime = { ...device, backend };
    installContext(runtime);
  };
  const { backend, reports } = await chooseBackend(backendCandidates(device.profile), install);
  install(backend);
  lastReports = reports;
  return runtime!;
}

let lastReports: ConformanceReport[] = [];

/**
 * What the start-up check found: one report per backend tried, the chosen one last.
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
  return lastReports;
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
  starting ??= start(options).catch((error) => {
    installContext({ error });
    throw error;
  });
  return starting;
}
