/**
 * Per-kernel GPU time from timestamp queries: while a {@link KernelProfiler} is attached to the
 * engine, every dispatch runs in its own compute pass whose start and end the GPU stamps, and
 * the stamps are added up per kernel key. Needs the adapter's `timestamp-query` feature. The
 * extra passes cost a little, so profile to see where time goes, and time without it.
 *
 * @module
 */

/** GPU time spent in one kernel. */
export interface KernelTime {
  /** The kernel's key (family, variant, layout). */
  key: string;
  /** Dispatches. */
  count: number;
  /** Total milliseconds between the start and end stamps of its passes. */
  ms: number;
}

/** Query pairs per query set: WebGPU allows 4096 queries in one set. */
const SLOTS = 2048;

/**
 * Collects timestamp pairs around dispatches. The engine makes one for
 * `engine().profileStart()`; use that rather than this class directly.
 *
 * @example
 * ```ts
 * import { engine, exp, gpu, Tensor } from "../../mod.ts";
 * if (gpu().profile.timestamps) {
 *   engine().profileStart();
 *   exp(Tensor.from([1, 2, 3], [3])).dispose();
 *   for (const k of await engine().profileEnd()) console.log(k.key, k.count, k.ms);
 * }
 * ```
 */
export class KernelProfiler {
  readonly #device: GPUDevice;
  readonly #querySet: GPUQuerySet;
  readonly #resolve: GPUBuffer;
  #keys: string[] = [];
  readonly #pending: Promise<[string[], BigInt64Array]>[] = [];

  /**
   * Creates a profiler on a device created with `timestamp-query`.
   *
   * @param device The device.
   */
  constructor(device: GPUDevice) {
    this.#device = device;
    this.#querySet = device.createQuerySet({ type: "timestamp", count: 2 * SLOTS });
    this.#resolve = device.createBuffer({
      size: 2 * SLOTS * 8,
      usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
    });
  }

  /** True when every slot of the current submission is taken (the engine then flushes). */
  get full(): boolean {
    return this.#keys.length >= SLOTS;
  }

  /**
   * Takes the next slot for a dispatch of `key`.
   *
   * @param key The kernel's key.
   * @returns The pass's timestamp writes.
   */
  slot(key: string): GPUComputePassTimestampWrites {
    const i = this.#keys.length;
    this.#keys.push(key);
    return {
      querySet: this.#querySet,
      beginningOfPassWriteIndex: 2 * i,
      endOfPassWriteIndex: 2 * i + 1,
    };
  }

  /**
   * Records, at the end of a submission's commands, the copy of its stamps to a readable
   * buffer, and frees the slots for the next submission.
   *
   * @param encoder The submission's encoder, before `finish()`.
   */
  resolve(encoder: GPUCommandEncoder): void {
    const n = this.#keys.length;
    if (n === 0) return;
    const bytes = 2 * n * 8;
    const staging = this.#device.createBuffer({
      size: bytes,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    encoder.resolveQuerySet(this.#querySet, 0, 2 * n, this.#resolve, 0);
    encoder.copyBufferToBuffer(this.#resolve, 0, staging, 0, bytes);
    const keys = this.#keys;
    this.#keys = [];
    // Mapped once the submission that holds the copy has run.
    this.#pending.push(
      Promise.resolve().then(async () => {
        await staging.mapAsync(GPUMapMode.READ);
        const stamps = new BigInt64Array(staging.getMappedRange().slice(0));
        staging.destroy();
        return [keys, stamps] as [string[], BigInt64Array];
      }),
    );
  }

  /**
   * Waits for the stamps of every resolved submission and sums them per kernel.
   *
   * @returns Kernels by total time, longest first.
   */
  async collect(): Promise<KernelTime[]> {
    const totals = new Map<string, KernelTime>();
    for (const [keys, stamps] of await Promise.all(this.#pending.splice(0))) {
      keys.forEach((key, i) => {
        const t = totals.get(key) ?? { key, count: 0, ms: 0 };
        t.count++;
        t.ms += Number(stamps[2 * i + 1] - stamps[2 * i]) / 1e6;
        totals.set(key, t);
      });
    }
    return [...totals.values()].sort((a, b) => b.ms - a.ms);
  }

  /** Frees the query set. */
  destroy(): void {
    this.#querySet.destroy();
    this.#resolve.destroy();
  }
}
