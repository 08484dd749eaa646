/**
 * The one WebGPU device of the process, requested with the adapter's own maxima.
 *
 * The device is acquired once, at import time, so that every tensor operation can stay
 * synchronous. When no adapter exists the failure is remembered and thrown, with the driver to
 * install, by the first operation that needs the GPU.
 *
 * @module
 */

import { f16BitsToF32, f32ToF16Bits } from "./f16.ts";

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
  /**
   * True when the shader conversion `f16(x)` rounds to nearest even and overflows to infinity,
   * as IEEE and PyTorch do, checked on this device at start ({@link probeF16Rounding}). NVIDIA's
   * Vulkan driver was seen to round some values otherwise and to saturate at 65504, which hides
   * the overflow that mixed precision's loss scaling must see; kernels then round in f32
   * arithmetic instead.
   */
  readonly f16RoundsToNearest: boolean;
  /** True when the device was created with `timestamp-query` (for the kernel profiler). */
  readonly hasTimestamps: boolean;
  /**
   * Invocations per SIMD vector on a software adapter: llvmpipe's description says
   * `256 bits` (8) by default, `512 bits` (16) under `LP_NATIVE_VECTOR_WIDTH=512`. CPU matmul
   * workgroups are this wide. 8 when the description does not say, and on hardware adapters.
   */
  readonly simdLanes: number;
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

/**
 * The f32 lanes of a software adapter's vectors, from a description such as
 * `llvmpipe (LLVM 15.0.6, 512 bits)`; 8 when it names no width.
 *
 * @param description The adapter's description.
 * @returns The lanes per vector.
 * @example
 * ```ts
 * import { simdLanesOf } from "./device.ts";
 * console.log(simdLanesOf("llvmpipe (LLVM 15.0.6, 512 bits)")); // 16
 * ```
 */
export function simdLanesOf(description: string): number {
  const bits = Number(description.match(/(\d+) bits/)?.[1]);
  return bits >= 128 && bits <= 1024 && bits % 32 === 0 ? bits / 32 : 8;
}

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
  const hasTimestamps = adapter.features.has("timestamp-query");
  const device = await adapter.requestDevice({
    requiredLimits,
    requiredFeatures: [
      ...(hasF16 ? ["shader-f16" as const] : []),
      ...(hasTimestamps ? ["timestamp-query" as const] : []),
    ],
  });
  const f16RoundsToNearest = hasF16 && await probeF16Rounding(device);
  const isCpu = isSoftwareAdapter(adapter.info);
  return {
    adapter,
    device,
    isCpu,
    hasF16,
    f16RoundsToNearest,
    hasTimestamps,
    simdLanes: isCpu ? simdLanesOf(adapter.info.description) : 8,
  };
}

/** Inputs whose f16 rounding tells nearest-even from truncation and saturation. */
const F16_PROBE_INPUTS = [
  1 + 2 ** -11, // a tie: to 1 (even)
  1 + 3 * 2 ** -11, // a tie: up to 1 + 2^-9 (even)
  1 + 2 ** -11 + 2 ** -20, // just past a tie: up
  -(1 + 2 ** -11 + 2 ** -20),
  0.1,
  -0.3,
  3 * 2 ** -25, // a subnormal tie: up to 2^-23
  1e-8, // under half the smallest subnormal: 0
  65519, // to 65504
  65520, // a tie past 65504: infinity
  -70000, // -infinity
  1e30,
];

/**
 * Runs `f32(f16(x))`, scalar and vec4, on the device for {@link F16_PROBE_INPUTS} and says
 * whether every result is the IEEE nearest-even rounding with overflow to infinity.
 *
 * @param device A device created with `shader-f16`.
 * @returns Whether the shader conversion can be trusted.
 */
export async function probeF16Rounding(device: GPUDevice): Promise<boolean> {
  const n = F16_PROBE_INPUTS.length;
  const code = `enable f16;
@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> y: array<vec4<f32>>;
@compute @workgroup_size(1)
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  let v = x[g.x];
  y[2u * g.x] = vec4<f32>(vec4<f16>(v));
  y[2u * g.x + 1u] = vec4<f32>(f32(f16(v.x)), f32(f16(v.y)), f32(f16(v.z)), f32(f16(v.w)));
}`;
  const input = new Float32Array(Math.ceil(n / 4) * 4);
  input.set(F16_PROBE_INPUTS);
  const usage = GPUBufferUsage;
  const xs = device.createBuffer({ size: input.byteLength, usage: usage.STORAGE | usage.COPY_DST });
  const ys = device.createBuffer({
    size: input.byteLength * 2,
    usage: usage.STORAGE | usage.COPY_SRC,
  });
  const read = device.createBuffer({
    size: input.byteLength * 2,
    usage: usage.MAP_READ | usage.COPY_DST,
  });
  try {
    device.queue.writeBuffer(xs, 0, input);
    const pipeline = device.createComputePipeline({
      layout: "auto",
      compute: { module: device.createShaderModule({ code }), entryPoint: "main" },
    });
    const bindGroup = device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: [{ binding: 0, resource: { buffer: xs } }, { binding: 1, resource: { buffer: ys } }],
    });
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(input.length / 4);
    pass.end();
    encoder.copyBufferToBuffer(ys, 0, read, 0, input.byteLength * 2);
    device.queue.submit([encoder.finish()]);
    await read.mapAsync(GPUMapMode.READ);
    const out = new Float32Array(read.getMappedRange().slice(0));
    read.unmap();
    return F16_PROBE_INPUTS.every((v, i) => {
      const expected = f16BitsToF32(f32ToF16Bits(v));
      const q = i >> 2;
      return out[8 * q + (i & 3)] === expected && out[8 * q + 4 + (i & 3)] === expected;
    });
  } catch {
    return false;
  } finally {
    xs.destroy();
    ys.destroy();
    read.destroy();
  }
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
  const { adapter, isCpu, hasF16, f16RoundsToNearest } = gpu();
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
    hasF16 ? `shader-f16${f16RoundsToNearest ? "" : " (f16 rounding emulated)"}` : "no f16",
  ].filter((part) => part);
  return parts.join(", ");
}
