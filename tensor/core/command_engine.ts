/**
 * The engine class: records kernel dispatches into one command encoder and submits them only
 * when results are needed, so that a whole training step costs few submits and one readback.
 *
 * Uniform parameters of all dispatches of a submit live in one ring buffer bound with dynamic
 * offsets, and bind groups are cached by the buffers they bind, so a steady step creates no new
 * GPU objects.
 *
 * @module
 */

import {
  type BindingAccess,
  type Kernel,
  packParams,
  paramsByteSize,
  type ParamValues,
} from "../../kernels/kernel.ts";
import { BindingAliasingError, findAliasing } from "./aliasing.ts";
import type { AdapterProfile } from "./profile.ts";
import { BufferPool } from "./pool.ts";
import { KernelProfiler, type KernelTime } from "./profiler.ts";
import { TEXTURE_BUDGET_BYTES, TEXTURE_GROWTH_BYTES, TextureCache } from "./texture_cache.ts";
import { ZeroedRanges } from "./zeroed_ranges.ts";

/** A region of a GPU buffer that backs a tensor. */
export interface Storage {
  /** The buffer. */
  buffer: GPUBuffer;
  /** Start of the region in bytes. */
  byteOffset: number;
  /** Length of the region in bytes (a multiple of 4). */
  byteLength: number;
}

/** What a dispatch binds: a storage region, or a texture view for texture bindings. */
export type Binding = Storage | GPUTextureView;

function isStorage(b: Binding): b is Storage {
  return "buffer" in b;
}

function layoutEntry(access: BindingAccess, binding: number): GPUBindGroupLayoutEntry {
  const visibility = GPUShaderStage.COMPUTE;
  if (access === "texture") {
    return {
      binding,
      visibility,
      texture: { sampleType: "unfilterable-float", viewDimension: "2d-array" },
    };
  }
  if (access === "storage_texture") {
    return {
      binding,
      visibility,
      storageTexture: { access: "write-only", format: "rgba32float", viewDimension: "2d-array" },
    };
  }
  return {
    binding,
    visibility,
    buffer: { type: access === "read" ? "read-only-storage" : "storage" },
  };
}

interface CompiledKernel {
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
  paramsSize: number;
  id: number;
}

const UNIFORM_RING_BYTES = 1 << 20;
const BIND_GROUP_CACHE_LIMIT = 20000;

/**
 * Records dispatches into one pending command encoder, with cached pipelines, cached bind
 * groups and a uniform ring buffer. Each runtime owns one (`engine()` in `engine.ts` returns
 * the active runtime's).
 */
export class Engine {
  /** The device. */
  readonly device: GPUDevice;
  /** Pool of storage buffers that back tensors. */
  readonly pool: BufferPool;
  /** Pool of staging buffers for readbacks. */
  readonly readPool: BufferPool;
  /** Scratch textures for matmul operands on CPU adapters. */
  readonly textures: TextureCache;
  readonly #kernels = new Map<string, CompiledKernel>();
  readonly #zeroed = new ZeroedRanges<GPUBuffer>();
  readonly #bindGroups = new Map<string, GPUBindGroup>();
  readonly #resourceIds = new WeakMap<GPUBuffer | GPUTextureView, number>();
  #nextResourceId = 1;
  readonly #uniformRing: GPUBuffer;
  readonly #uniformBytes = new ArrayBuffer(UNIFORM_RING_BYTES);
  readonly #uniformView = new DataView(this.#uniformBytes);
  readonly #uniformAlign: number;
  #uniformUsed = 0;
  readonly #errors: string[] = [];
  #encoder: GPUCommandEncoder | null = null;
  #pass: GPUComputePassEncoder | null = null;
  #profiler: KernelProfiler | null = null;
  /** Dispatches recorded since the engine was made, for benchmarks. */
  dispatches = 0;
  /** Submits since the engine was made. */
  submits = 0;
  /**
   * Validation mode: every dispatch checks its bindings against WebGPU's aliasing rules and
   * throws a {@link BindingAliasingError} naming the kernel and the two bindings, because
   * Deno's wgpu runs such dispatches while browsers reject them. Off by default;
   * `setValidation()` (the test suite's preload calls it) turns it on.
   */
  validate: boolean;
  readonly #timestamps: boolean;

  /**
   * Creates an engine on a device (each runtime makes its own).
   *
   * @param device The device to record for.
   * @param profile What the adapter can do (one-layer textures, timestamps).
   * @param validate Whether dispatches start in validation mode.
   */
  constructor(
    device: GPUDevice,
    profile: Pick<AdapterProfile, "singleLayerTextures" | "timestamps">,
    validate = false,
  ) {
    this.device = device;
    this.#timestamps = profile.timestamps;
    this.validate = validate;
    const singleLayerTextures = profile.singleLayerTextures;
    this.pool = new BufferPool(
      device,
      GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
    );
    this.readPool = new BufferPool(device, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
    this.textures = new TextureCache(device, {
      singleLayer: singleLayerTextures,
      budgetBytes: TEXTURE_BUDGET_BYTES,
      growBytes: TEXTURE_GROWTH_BYTES,
      beforeDestroy: () => this.flush(),
    });
    this.#uniformRing = device.createBuffer({
      size: UNIFORM_RING_BYTES,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    });
    this.#uniformAlign = device.limits.minUniformBufferOffsetAlignment;
    device.addEventListener("uncapturederror", (event) => {
      this.#errors.push((event as GPUUncapturedErrorEvent).error.message);
    });
  }

  /** Throws the validation errors WebGPU reported since the last check, if any. */
  #raiseErrors(): void {
    if (this.#errors.length === 0) return;
    const messages = this.#errors.splice(0);
    throw new Error(`WebGPU reported ${messages.length} error(s): ${messages.join("; ")}`);
  }

  #compile(kernel: Kernel): CompiledKernel {
    let compiled = this.#kernels.get(kernel.key);
    if (compiled) return compiled;
    const entries = kernel.bindings.map(layoutEntry);
    const paramsSize = kernel.params.length > 0 ? paramsByteSize(kernel.params) : 0;
    if (paramsSize > 0) {
      entries.push({
        binding: kernel.bindings.length,
        visibility: GPUShaderStage.COMPUTE,
        buffer: { type: "uniform", hasDynamicOffset: true, minBindingSize: paramsSize },
      });
    }
    const layout = this.device.createBindGroupLayout({ entries });
    const module = this.device.createShaderModule({ code: kernel.code, label: kernel.key });
    const pipeline = this.device.createComputePipeline({
      label: kernel.key,
      layout: this.device.createPipelineLayout({ bindGroupLayouts: [layout] }),
      compute: { module, entryPoint: "main" },
    });
    compiled = { pipeline, layout, paramsSize, id: this.#kernels.size };
    this.#kernels.set(kernel.key, compiled);
    return compiled;
  }

  #resourceId(resource: GPUBuffer | GPUTextureView): number {
    let id = this.#resourceIds.get(resource);
    if (id === undefined) this.#resourceIds.set(resource, id = this.#nextResourceId++);
    return id;
  }

  #bindGroup(compiled: CompiledKernel, storages: readonly Binding[]): GPUBindGroup {
    let key = `${compiled.id}`;
    for (const s of storages) {
      key += isStorage(s)
        ? `|${this.#resourceId(s.buffer)}:${s.byteOffset}:${s.byteLength}`
        : `|t${this.#resourceId(s)}`;
    }
    let group = this.#bindGroups.get(key);
    if (group) return group;
    const entries: GPUBindGroupEntry[] = storages.map((s, binding) => ({
      binding,
      resource: isStorage(s) ? { buffer: s.buffer, offset: s.byteOffset, size: s.byteLength } : s,
    }));
    if (compiled.paramsSize > 0) {
      entries.push({
        binding: storages.length,
        resource: { buffer: this.#uniformRing, offset: 0, size: compiled.paramsSize },
      });
    }
    group = this.device.createBindGroup({ layout: compiled.layout, entries });
    if (this.#bindGroups.size >= BIND_GROUP_CACHE_LIMIT) this.#bindGroups.clear();
    this.#bindGroups.set(key, group);
    return group;
  }

  /**
   * Records one dispatch of `kernel` over `workgroups`, binding `storages` (storage regions,
   * or texture views for its texture bindings) in order and the parameters `values` as its
   * uniform struct.
   */
  dispatch(
    kernel: Kernel,
    storages: readonly Binding[],
    values: ParamValues,
    workgroups: readonly [number, number?, number?],
  ): void {
    if (storages.length !== kernel.bindings.length) {
      throw new Error(`kernel ${kernel.key} takes ${kernel.bindings.length} buffers`);
    }
    if (this.validate) {
      const conflict = findAliasing(kernel.bindings, storages);
      if (conflict) throw new BindingAliasingError(kernel.key, conflict);
    }
    const compiled = this.#compile(kernel);
    for (const [i, access] of kernel.bindings.entries()) {
      const s = storages[i];
      if (access === "read_write" && isStorage(s)) this.#written(s);
    }
    let offset = 0;
    if (compiled.paramsSize > 0) {
      if (this.#uniformUsed + compiled.paramsSize > UNIFORM_RING_BYTES) this.flush();
      offset = this.#uniformUsed;
      packParams(kernel.params, values, this.#uniformView, offset);
      this.#uniformUsed = Math.ceil((offset + compiled.paramsSize) / this.#uniformAlign) *
        this.#uniformAlign;
    }
    const profiler = this.#profiler;
    if (profiler) {
      // Its own pass, stamped at both ends.
      this.#endPass();
      this.#pass = this.#commandEncoder().beginComputePass({
        timestampWrites: profiler.slot(kernel.key),
      });
    }
    const pass = this.#computePass();
    pass.setPipeline(compiled.pipeline);
    pass.setBindGroup(0, this.#bindGroup(compiled, storages), compiled.paramsSize ? [offset] : []);
    const [x, y = 1, z = 1] = workgroups;
    if (x > 0 && y > 0 && z > 0) pass.dispatchWorkgroups(x, y, z);
    this.dispatches++;
    if (profiler) {
      this.#endPass();
      if (profiler.full) this.flush();
    }
  }

  /**
   * Starts timing every dispatch on the GPU (needs `timestamp-query`, see
   * {@link GpuContext.hasTimestamps}); {@link Engine.profileEnd} returns the times per kernel.
   */
  profileStart(): void {
    if (!this.#timestamps) throw new Error("this adapter has no timestamp-query feature");
    this.flush();
    this.#profiler ??= new KernelProfiler(this.device);
  }

  /**
   * Stops timing and returns the GPU time of each kernel since {@link Engine.profileStart}.
   *
   * @returns Kernels by total time, longest first.
   */
  async profileEnd(): Promise<KernelTime[]> {
    const profiler = this.#profiler;
    if (!profiler) return [];
    this.flush();
    this.#profiler = null;
    const times = await profiler.collect();
    profiler.destroy();
    return times;
  }

  #commandEncoder(): GPUCommandEncoder {
    if (!this.#encoder) this.#encoder = this.device.createCommandEncoder();
    return this.#encoder;
  }

  #computePass(): GPUComputePassEncoder {
    if (!this.#pass) this.#pass = this.#commandEncoder().beginComputePass();
    return this.#pass;
  }

  #endPass(): void {
    this.#pass?.end();
    this.#pass = null;
  }

  /** Tells the texture cache that `bytes` of a storage region are being written (stale packs). */
  #written(s: Storage, bytes = s.byteLength): void {
    this.textures.invalidate(s.buffer, s.byteOffset, s.byteOffset + bytes);
    this.#zeroed.written(s.buffer, s.byteOffset, s.byteOffset + bytes);
  }

  /**
   * Whether the first `bytes` of a region hold zeros by the commands recorded so far: it was
   * cleared by {@link Engine.clear} and nothing has written it since.
   *
   * @param s The region.
   * @param bytes How much of it (default all).
   * @returns True when it is known to be zero.
   */
  isZero(s: Storage, bytes = s.byteLength): boolean {
    return this.#zeroed.isZero(s.buffer, s.byteOffset, s.byteOffset + bytes);
  }

  /** Records a buffer-to-buffer copy in order with the dispatches around it. */
  copy(src: Storage, dst: Storage, byteLength: number): void {
    this.#written(dst, byteLength);
    this.#endPass();
    this.#commandEncoder().copyBufferToBuffer(
      src.buffer,
      src.byteOffset,
      dst.buffer,
      dst.byteOffset,
      byteLength,
    );
  }

  /**
   * Records a copy of a storage region into the top-left corner of a texture's layers from
   * `firstLayer` on, in order with the dispatches around it: `size` texels by rows by layers,
   * `bytesPerRow` apart (a multiple of 256) and `rowsPerImage` rows per layer.
   */
  copyToTexture(
    src: Storage,
    texture: GPUTexture,
    size: [number, number, number],
    bytesPerRow: number,
    rowsPerImage: number,
    firstLayer = 0,
  ): void {
    this.#endPass();
    this.#commandEncoder().copyBufferToTexture(
      { buffer: src.buffer, offset: src.byteOffset, bytesPerRow, rowsPerImage },
      { texture, origin: [0, 0, firstLayer] },
      size,
    );
  }

  /** Records zero-filling of a storage region. */
  clear(dst: Storage): void {
    this.#written(dst);
    this.#zeroed.cleared(dst.buffer, dst.byteOffset, dst.byteOffset + dst.byteLength);
    this.#endPass();
    this.#commandEncoder().clearBuffer(dst.buffer, dst.byteOffset, dst.byteLength);
  }

  /** True when commands are recorded but not yet submitted. */
  get pending(): boolean {
    return this.#encoder !== null;
  }

  /** Submits everything recorded so far. */
  flush(): void {
    if (!this.#encoder) return;
    this.#endPass();
    this.#profiler?.resolve(this.#encoder);
    if (this.#uniformUsed > 0) {
      this.device.queue.writeBuffer(this.#uniformRing, 0, this.#uniformBytes, 0, this.#uniformUsed);
    }
    this.device.queue.submit([this.#encoder.finish()]);
    this.#encoder = null;
    this.#uniformUsed = 0;
    this.submits++;
  }

  /**
   * Writes host data into a storage region. Pending commands are submitted first, because a
   * queue write would otherwise land before them and could clobber a buffer they still use.
   */
  write(dst: Storage, data: ArrayBufferView): void {
    this.flush();
    this.#written(dst, data.byteLength);
    this.device.queue.writeBuffer(
      dst.buffer,
      dst.byteOffset,
      data.buffer as ArrayBuffer,
      data.byteOffset,
      data.byteLength,
    );
  }

  /** Copies a storage region back to the host, submitting what is pending. */
  async read(src: Storage, byteLength = src.byteLength): Promise<ArrayBuffer> {
    const staging = this.readPool.acquire(byteLength);
    this.copy(src, { buffer: staging, byteOffset: 0, byteLength }, byteLength);
    this.flush();
    try {
      await staging.mapAsync(GPUMapMode.READ, 0, Math.ceil(byteLength / 4) * 4);
      const bytes = staging.getMappedRange(0, Math.ceil(byteLength / 4) * 4).slice(0, byteLength);
      staging.unmap();
      this.#raiseErrors();
      return bytes;
    } finally {
      this.readPool.release(staging);
    }
  }

  /** Waits until the GPU has finished all submitted work. */
  async sync(): Promise<void> {
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
    this.#raiseErrors();
  }

  /**
   * Frees every pooled buffer that is not in use, the scratch textures, and the bind groups
   * that referred to them.
   */
  trim(): void {
    this.flush();
    this.#bindGroups.clear();
    this.pool.trim();
    this.readPool.trim();
    this.textures.trim();
  }
}
