/**
 * Requests a WebGPU adapter and a device with the adapter's own maxima when a runtime starts
 * (`init()` in `runtime.ts`), never at import, and reads what the adapter can do. The runtime
 * object that holds the device is in `context.ts`.
 *
 * @module
 */

import { type AdapterProfile, describeInfo, isSoftware, simdLanesOf } from "./core/profile.ts";
import { type Device, NoGpuAdapterError } from "./core/context.ts";
import { f16BitsToF32, f32ToF16Bits } from "./core/f16.ts";

export {
  describeAdapter,
  type Device,
  gpu,
  type GpuContext,
  installContext,
  NoGpuAdapterError,
  NotStartedError,
} from "./core/context.ts";

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

/**
 * Writes a one-layer rgba32float texture and reads it back through a 2-D array view in a
 * compute shader: wgpu's GL backend makes a one-layer texture a plain 2-D texture, which an
 * array binding then does not see.
 *
 * @param device The device.
 * @returns Whether the texel read back is the one written.
 */
export async function probeSingleLayerTextures(device: GPUDevice): Promise<boolean> {
  const texel = new Float32Array([1.5, -2, 3.25, 7]);
  const texture = device.createTexture({
    size: [3, 5, 1],
    format: "rgba32float",
    usage: GPUTextureUsage.TEXTURE_BINDING | GPUTextureUsage.COPY_DST,
  });
  const out = device.createBuffer({
    size: 16,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC,
  });
  const read = device.createBuffer({
    size: 16,
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
  });
  try {
    device.queue.writeTexture({ texture, origin: [2, 4, 0] }, texel, { bytesPerRow: 16 }, [
      1,
      1,
      1,
    ]);
    const code = `@group(0) @binding(0) var t: texture_2d_array<f32>;
@group(0) @binding(1) var<storage, read_write> y: vec4<f32>;
@compute @workgroup_size(1)
fn main() { y = textureLoad(t, vec2<u32>(2u, 4u), 0u, 0); }`;
    const pipeline = device.createComputePipeline({
      layout: "auto",
      compute: { module: device.createShaderModule({ code }), entryPoint: "main" },
    });
    const bindGroup = device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: [
        { binding: 0, resource: texture.createView({ dimension: "2d-array" }) },
        { binding: 1, resource: { buffer: out } },
      ],
    });
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(1);
    pass.end();
    encoder.copyBufferToBuffer(out, 0, read, 0, 16);
    device.queue.submit([encoder.finish()]);
    await read.mapAsync(GPUMapMode.READ);
    const got = new Float32Array(read.getMappedRange().slice(0));
    read.unmap();
    return got.every((v, i) => v === texel[i]);
  } catch {
    return false;
  } finally {
    texture.destroy();
    out.destroy();
    read.destroy();
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
 * Requests the adapter and a device with the adapter's own maxima and its f16 and timestamp
 * features, and reads the adapter's profile.
 *
 * @param powerPreference Which adapter to prefer where there are several.
 * @returns The adapter, the device and the profile.
 * @throws {NoGpuAdapterError} When WebGPU is missing or offers no adapter.
 */
export async function requestDevice(
  powerPreference: GPUPowerPreference = "high-performance",
): Promise<Device> {
  const gpu = (globalThis.navigator as Navigator | undefined)?.gpu;
  if (!gpu) throw new NoGpuAdapterError("navigator.gpu is missing");
  let adapter: GPUAdapter | null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference });
  } catch (error) {
    throw new NoGpuAdapterError(error instanceof Error ? error.message : String(error));
  }
  if (!adapter) throw new NoGpuAdapterError();
  const requiredLimits: Record<string, number> = {};
  for (const name of LIMIT_NAMES) {
    const value = (adapter.limits as unknown as Record<string, number>)[name];
    if (typeof value === "number") requiredLimits[name] = value;
  }
  const f16 = adapter.features.has("shader-f16");
  const timestamps = adapter.features.has("timestamp-query");
  const device = await adapter.requestDevice({
    requiredLimits,
    requiredFeatures: [
      ...(f16 ? ["shader-f16" as const] : []),
      ...(timestamps ? ["timestamp-query" as const] : []),
    ],
  });
  const info = describeInfo(adapter.info, adapter);
  const software = isSoftware(info);
  const profile: AdapterProfile = {
    software,
    simdLanes: software ? simdLanesOf(info.description) : 8,
    f16,
    f16RoundsToNearest: f16 && await probeF16Rounding(device),
    singleLayerTextures: await probeSingleLayerTextures(device),
    subgroups: adapter.features.has("subgroups" as GPUFeatureName),
    timestamps,
    maxStorageBufferBindingSize: device.limits.maxStorageBufferBindingSize,
    info,
  };
  return { adapter, device, profile };
}
