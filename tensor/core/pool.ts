/**
 * A size-bucketed pool of GPU buffers, so that a steady training step allocates nothing new.
 *
 * @module
 */

/** Counters that tests and benchmarks read to check that memory stays flat. */
export interface PoolStats {
  /** Buffers ever created by the pool. */
  created: number;
  /** Bytes of all buffers the pool owns (free or in use). */
  bytes: number;
  /** Buffers currently handed out. */
  inUse: number;
  /** Bytes currently handed out. */
  bytesInUse: number;
  /** Highest `bytesInUse` seen since the last {@link BufferPool.resetPeak}. */
  peakBytesInUse: number;
}

/**
 * Where the fine size classes begin: from 1 MiB on, a rounding of a third of a buffer costs
 * megabytes per tensor (a ViT-B weight of 2.25 MiB took 3 MiB), so classes get denser there.
 */
export const FINE_BUCKETS_FROM = 2 ** 20;

/**
 * Rounds a request up to its bucket. Below {@link FINE_BUCKETS_FROM}: 256 bytes, then sizes of
 * the form 2^k or 3·2^(k-1), which wastes at most a third of a small buffer and keeps the
 * number of buckets small. From there on: sixteen classes per octave (multiples of 2^(k-5)
 * between 2^(k-1) and 2^k), which wastes at most a sixteenth, because large buffers (weights,
 * activations) dominate a step's memory and there are few distinct large sizes to reuse.
 *
 * @param bytes Requested size.
 * @returns The bucket size in bytes.
 * @example
 * ```ts
 * import { bucketSize } from "./pool.ts";
 * console.log(bucketSize(3000)); // 3072
 * console.log(bucketSize(768 * 768 * 4)); // 2359296, exact
 * ```
 */
export function bucketSize(bytes: number): number {
  if (bytes <= 256) return 256;
  const pow = 2 ** Math.ceil(Math.log2(bytes));
  if (bytes >= FINE_BUCKETS_FROM) {
    const step = pow / 32;
    return Math.ceil(bytes / step) * step;
  }
  const threeQuarter = (pow / 4) * 3;
  return threeQuarter >= bytes ? threeQuarter : pow;
}

/** A pool of GPU buffers of one usage, keyed by bucket size. */
export class BufferPool {
  readonly #device: GPUDevice;
  readonly #usage: number;
  readonly #free = new Map<number, GPUBuffer[]>();
  readonly #sizes = new WeakMap<GPUBuffer, number>();
  /** Live counters of this pool. */
  readonly stats: PoolStats = { created: 0, bytes: 0, inUse: 0, bytesInUse: 0, peakBytesInUse: 0 };

  /**
   * Creates an empty pool.
   *
   * @param device The device that owns the buffers.
   * @param usage GPUBufferUsage flags of every buffer in this pool.
   */
  constructor(device: GPUDevice, usage: number) {
    this.#device = device;
    this.#usage = usage;
  }

  /** Hands out a buffer of at least `bytes` bytes, reusing a free one of the same bucket. */
  acquire(bytes: number): GPUBuffer {
    const size = bucketSize(bytes);
    const list = this.#free.get(size);
    let buffer = list?.pop();
    if (!buffer) {
      buffer = this.#device.createBuffer({ size, usage: this.#usage });
      this.#sizes.set(buffer, size);
      this.stats.created++;
      this.stats.bytes += size;
    }
    this.stats.inUse++;
    this.stats.bytesInUse += size;
    if (this.stats.bytesInUse > this.stats.peakBytesInUse) {
      this.stats.peakBytesInUse = this.stats.bytesInUse;
    }
    return buffer;
  }

  /** Returns a buffer to the pool for reuse. */
  release(buffer: GPUBuffer): void {
    const size = this.#sizes.get(buffer);
    if (size === undefined) throw new Error("buffer does not belong to this pool");
    let list = this.#free.get(size);
    if (!list) this.#free.set(size, list = []);
    list.push(buffer);
    this.stats.inUse--;
    this.stats.bytesInUse -= size;
  }

  /** Starts a new peak measurement from the current use. */
  resetPeak(): void {
    this.stats.peakBytesInUse = this.stats.bytesInUse;
  }

  /** Destroys every free buffer, giving their memory back to the driver. */
  trim(): void {
    for (const list of this.#free.values()) {
      for (const buffer of list) {
        this.stats.bytes -= this.#sizes.get(buffer) ?? 0;
        buffer.destroy();
      }
    }
    this.#free.clear();
  }
}
