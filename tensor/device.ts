/**
 * The one WebGPU device of the process, requested with the adapter's own maxima.
 *
 * The device is acquired once, at import time, so that every tensor operation can stay
 * synchronous. When no adapter exists the failure is remembered and thrown, with the driver to
 * install, by the first operation that needs the GPU.
 *
 * @module
 */

/** What Tessera knows about the GPU it runs on. */
export interface GpuContext {
  /** The adapter the device was requested from. */
  readonly adapter: GPUAdapter;
  /** The device every kernel runs on. */
  readonly device: GPUDevice;
  /** True for software adapters (Mesa lavapipe or llvmpipe), which favour register tiling. */
  readonly isCpu: boolean;
  /** True when the device was created with `shader-f16`. */
  readonly hasF16: boolean;
}

/** Thrown when WebGPU has no adapter; its message names the driver to install. */
export class NoGpuAdapterError extends Error {
  /**
   * Creates the error.
   *
   * @param detail What the WebGPU runtime said, if anything.
   */
  constructor(detail = "") {
    super(
      "no WebGPU adapter found" + (detail ? ` (${detail})` : "") +
        ". On Linux without a GPU install Mesa's software Vulkan driver: " +
        "`apt-get install mesa-vulkan-drivers`; elsewhere, install your GPU's Vulkan, Metal or " +
        "D3D12 driver.",
    );
    this.name = "NoGpuAdapterError";
  }
}

const LIMIT_NAMES = [
  "maxStorageBufferBindingSize",
  "maxBufferSize",
  "maxComputeWorkgroupStorageSize",
  "maxComputeInvocationsPerWorkgroup",
  "maxComputeWorkgroupSizeX",
  "maxComputeWorkgroupSizeY",
  "maxComputeWorkgroupSizeZ",
  "maxComputeWorkgroupsPerDimension",
  "maxStorageBuffersPerShaderStage",
  "maxDynamicUniformBuffersPerPipelineLayout",
] as const;

function isSoftwareAdapter(info: GPUAdapterInfo): boolean {
  const text = `${info.vendor} ${info.architecture} ${info.device} ${info.description}`
    .toLowerCase();
  return /llvmpipe|lavapipe|swiftshader|softpipe|warp|software/.test(text) ||
    info.vendor === "65541";
}

async function acquire(): Promise<GpuContext> {
  const gpu = (globalThis.navigator as Navigator | undefined)?.gpu;
  if (!gpu) throw new NoGpuAdapterError("navigator.gpu is missing");
  const adapter = await gpu.requestAdapter({ powerPreference: "high-performance" });
  if (!adapter) throw new NoGpuAdapterError();
  const requiredLimits: Record<string, number> = {};
  for (const name of LIMIT_NAMES) {
    const value = (adapter.limits as unknown as Record<string, number>)[name];
    if (typeof value === "number") requiredLimits[name] = value;
  }
  const hasF16 = adapter.features.has("shader-f16");
  const device = await adapter.requestDevice({
    requiredLimits,
    requiredFeatures: hasF16 ? ["shader-f16"] : [],
  });
  return { adapter, device, isCpu: isSoftwareAdapter(adapter.info), hasF16 };
}

let context: GpuContext | null = null;
let failure: unknown = null;
try {
  context = await acquire();
} catch (error) {
  failure = error;
}

/**
 * Returns the process's GPU context, or throws {@link NoGpuAdapterError} when there is none.
 *
 * @returns The adapter, the device and what they support.
 * @example
 * ```ts
 * import { gpu } from "./device.ts";
 * console.log(gpu().device.limits.maxStorageBufferBindingSize);
 * ```
 */
export function gpu(): GpuContext {
  if (context) return context;
  if (failure instanceof NoGpuAdapterError) throw failure;
  throw new NoGpuAdapterError(failure instanceof Error ? failure.message : String(failure));
}

/**
 * Describes the adapter in one line: vendor, description, backend and whether it is software.
 *
 * @returns For example `vendor 0x10005, llvmpipe (LLVM 15.0.6, 256 bits), Vulkan, software`.
 * @example
 * ```ts
 * import { describeAdapter } from "./device.ts";
 * console.log(describeAdapter());
 * ```
 */
export function describeAdapter(): string {
  const { adapter, isCpu, hasF16 } = gpu();
  const info = adapter.info;
  const vendorId = Number(info.vendor);
  const vendor = Number.isFinite(vendorId) && info.vendor !== ""
    ? `0x${vendorId.toString(16)}`
    : info.vendor || "unknown";
  // wgpu reports Mesa's Vulkan vendor id 0x10005 for lavapipe; llvmpipe over GL reports a name.
  const backend = vendorId === 0x10005 || /vulkan|lavapipe/i.test(info.description)
    ? "Vulkan"
    : /opengl|llvmpipe/i.test(info.description)
    ? "GL"
    : "native";
  const parts = [
    `vendor ${vendor}`,
    info.description || info.device || "unknown device",
    info.architecture || null,
    backend,
    isCpu ? "software" : "hardware",
    hasF16 ? "shader-f16" : "no f16",
  ].filter((part) => part);
  return parts.join(", ");
}
