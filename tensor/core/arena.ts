/**
 * Parameter arenas: many tensors packed into a few large buffers, so that optimiser updates,
 * gradient zeroing and norm computations take one dispatch per buffer instead of one per
 * parameter. Each buffer stays within the device's storage-binding limit.
 *
 * @module
 */

import type { Storage } from "./command_engine.ts";
import { gpu, type Runtime } from "./context.ts";
import { keep, Tensor } from "./tensor.ts";

/** One buffer of an arena and the element range it holds. */
export interface ArenaChunk {
  /** The buffer. */
  readonly buffer: GPUBuffer;
  /** Elements in use, including alignment padding between slots. */
  readonly length: number;
}

/** Where one tensor lives in an arena. */
export interface ArenaSlot {
  /** Index of the chunk. */
  readonly chunk: number;
  /** Element offset in the chunk. */
  readonly offset: number;
  /** Element count. */
  readonly size: number;
}

/** A layout of tensors over a few buffers, with 256-byte aligned slots. */
export class Arena {
  /** The buffers. */
  readonly chunks: ArenaChunk[];
  /** One slot per tensor, in the order given. */
  readonly slots: ArenaSlot[];

  readonly #runtime: Runtime;

  private constructor(chunks: ArenaChunk[], slots: ArenaSlot[], runtime: Runtime) {
    this.#runtime = runtime;
    this.chunks = chunks;
    this.slots = slots;
  }

  /**
   * Lays out tensors of the given sizes and allocates zeroed buffers for them.
   *
   * @param sizes Element counts.
   * @param maxChunkBytes Upper bound of one buffer (defaults to the device's binding limit).
   * @returns The arena.
   */
  static allocate(sizes: readonly number[], maxChunkBytes?: number): Arena {
    const runtime = gpu();
    const device = runtime.device;
    const limit = Math.min(
      maxChunkBytes ?? device.limits.maxStorageBufferBindingSize,
      device.limits.maxStorageBufferBindingSize,
      device.limits.maxBufferSize,
    );
    const align = Math.max(256, device.limits.minStorageBufferOffsetAlignment) / 4;
    const lengths: number[] = [];
    const slots: ArenaSlot[] = [];
    let current = 0;
    for (const size of sizes) {
      if (size * 4 > limit) {
        throw new Error(`a tensor of ${size} elements exceeds the binding limit`);
      }
      let offset = Math.ceil(current / align) * align;
      if ((offset + size) * 4 > limit && current > 0) {
        lengths.push(current);
        current = 0;
        offset = 0;
      }
      slots.push({ chunk: lengths.length, offset, size });
      current = offset + Math.max(size, 1);
    }
    lengths.push(current);
    const chunks = lengths.map((length) => ({
      buffer: device.createBuffer({
        size: Math.max(256, Math.ceil(length / 64) * 256),
        usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
      }),
      length: Math.ceil(length / 64) * 64,
    }));
    return new Arena(chunks, slots, runtime);
  }

  /** The storage region of slot `i`. */
  region(i: number): Storage {
    const slot = this.slots[i];
    return {
      buffer: this.chunks[slot.chunk].buffer,
      byteOffset: slot.offset * 4,
      byteLength: Math.max(4, slot.size * 4),
    };
  }

  /** The whole of chunk `c` as a storage region. */
  chunkStorage(c: number): Storage {
    return { buffer: this.chunks[c].buffer, byteOffset: 0, byteLength: this.chunks[c].length * 4 };
  }

  /**
   * Reads every slot back with one readback per chunk.
   *
   * @returns One array per slot, in slot order.
   */
  async readAll(): Promise<Float32Array[]> {
    const chunks = await Promise.all(
      this.chunks.map(async (_, c) =>
        new Float32Array(await this.#runtime.engine.read(this.chunkStorage(c)))
      ),
    );
    await this.#runtime.tuning.gate?.verify();
    return this.slots.map((s) => chunks[s.chunk].slice(s.offset, s.offset + s.size));
  }

  /**
   * Writes every slot (one upload per chunk).
   *
   * @param values One array per slot, in slot order.
   */
  writeAll(values: readonly Float32Array[]): void {
    if (values.length !== this.slots.length) {
      throw new Error(`writeAll: ${values.length} arrays for ${this.slots.length} slots`);
    }
    this.chunks.forEach((chunk, c) => {
      const data = new Float32Array(chunk.length);
      this.slots.forEach((s, i) => {
        if (s.chunk !== c) return;
        if (values[i].length !== s.size) {
          throw new Error(`writeAll: slot ${i} needs ${s.size} values`);
        }
        data.set(values[i], s.offset);
      });
      this.#runtime.engine.write(this.chunkStorage(c), data);
    });
  }

  /** Records zero-filling of every chunk. */
  zero(): void {
    for (let c = 0; c < this.chunks.length; c++) this.#runtime.engine.clear(this.chunkStorage(c));
  }

  /** Frees the buffers. Tensors that live in the arena must not be used afterwards. */
  destroy(): void {
    for (const chunk of this.chunks) chunk.buffer.destroy();
  }
}

/**
 * Packs parameters into a new arena, moving each one's data there, and gives each a zeroed
 * `.grad` in a second arena of the same layout. Backward then accumulates into those grads in
 * place.
 *
 * @param params The parameters (they keep their identity; only their memory moves).
 * @param maxChunkBytes Largest arena buffer (defaults to the device's binding limit).
 * @returns The parameter arena and the gradient arena.
 * @example
 * ```ts
 * import { packParameters, Tensor } from "../../mod.ts";
 * const w = Tensor.from([1, 2], [2], { requiresGrad: true });
 * const { grads } = packParameters([w]);
 * console.log(grads.chunks.length, w.grad?.shape); // 1 [2]
 * ```
 */
export function packParameters(
  params: readonly Tensor[],
  maxChunkBytes?: number,
): { values: Arena; grads: Arena } {
  const sizes = params.map((p) => p.size);
  const values = Arena.allocate(sizes, maxChunkBytes);
  const grads = Arena.allocate(sizes, maxChunkBytes);
  grads.zero();
  params.forEach((p, i) => {
    if (p.dtype !== "f32") throw new Error("packParameters: parameters must be f32");
    p._adopt(values.region(i));
    p.grad?.dispose();
    p.grad = keep(Tensor.fromStorage(grads.region(i), p.shape));
  });
  return { values, grads };
}
