/**
 * The DataLoader: batches with a seeded per-epoch shuffle and an optional drop-last, decoded
 * and resized in Web Workers in parallel with a bounded prefetch window, collated to
 * `{ pixelValues, labels }`. Its memory is bounded by the window, not by the dataset, plus an
 * optional cache of prepared samples (`cacheBytes`) that later epochs and evaluations reuse.
 *
 * @module
 */

import { readBytes } from "../io/files.ts";
import { Rng } from "../tensor/rng.ts";
import { Tensor } from "../tensor/tensor.ts";
import type { AugmentOptions } from "./augment.ts";
import type { Dataset, ImageExample } from "./dataset.ts";
import { outputSizeOf } from "./image_transforms.ts";
import type { ImageProcessorConfig } from "./pixels.ts";
import { prepareSample, type SampleJob } from "./sample.ts";

/** Named spans for profiling (train/phase_timer.ts's PhaseTimer is one). */
export interface LoaderPhases {
  /** Opens a span of `phase`. */
  begin(phase: string): Promise<void>;
  /** Closes the innermost open span. */
  end(): Promise<void>;
}

/** Options of {@link DataLoader}. */
export interface DataLoaderOptions {
  /** Rows per batch. */
  batchSize: number;
  /** Reshuffle every epoch (training) or keep the dataset's order (evaluation). */
  shuffle?: boolean;
  /** Seed of the shuffle and of augmentation. */
  seed?: number;
  /** Drop a last, smaller batch. */
  dropLast?: boolean;
  /**
   * Worker threads (0 prepares samples on the calling thread). Outside Deno (a browser bundle,
   * which has no worker module beside it) samples are prepared on the calling thread, with one
   * warning when workers were asked for.
   */
  numWorkers?: number;
  /** Batches prepared ahead of the one being consumed. */
  prefetch?: number;
  /** Training augmentation, or null (the default, as in the blog). */
  augment?: AugmentOptions | null;
  /** Skip undecodable images with a warning (default) or stop. */
  onBadImage?: "skip" | "error";
  /** Where warnings go (stderr by default). */
  log?: (message: string) => void;
  /**
   * Keep prepared samples up to this many bytes and reuse them in later epochs (0, the default,
   * keeps none). Without augmentation a sample is the same every epoch, so this skips decoding
   * and resizing it again; with augmentation nothing is cached.
   */
  cacheBytes?: number;
  /** Receives the time spent waiting for samples and copying batches to the GPU (profiling). */
  phases?: LoaderPhases;
}

/** One collated batch. */
export interface Batch {
  /** [B, 3, H, W] pixel values on the GPU. */
  pixelValues: Tensor;
  /** Class indices. */
  labels: number[];
  /** Dataset indices of the rows. */
  indices: number[];
}

interface Pending {
  resolve: (data: Float32Array) => void;
  reject: (error: Error) => void;
}

/** Errors that make one sample unusable but say nothing about the others. */
const SKIPPABLE = new Set(["ImageDecodeError", "FileError"]);

/** A sample that could not be prepared. */
export class SampleError extends Error {
  /**
   * Creates the error.
   *
   * @param message What went wrong, naming the image.
   * @param kind The original error's class name.
   */
  constructor(message: string, readonly kind = "Error") {
    super(message);
    this.name = "SampleError";
  }

  /** Whether the bad-image policy may skip it (a bad file, not a broken loader). */
  get skippable(): boolean {
    return SKIPPABLE.has(this.kind);
  }
}

/** Whether the worker module sits beside this file, as it does when Deno runs the sources. */
const WORKERS_AVAILABLE = "Deno" in globalThis;

class WorkerPool {
  readonly #workers: Worker[];
  readonly #pending = new Map<number, Pending>();
  #next = 0;
  #id = 0;

  constructor(count: number) {
    this.#workers = Array.from({ length: count }, () => {
      const w = new Worker(new URL("./loader_worker.ts", import.meta.url).href, { type: "module" });
      w.onmessage = (event: MessageEvent) => {
        const { id, data, error, name } = event.data;
        const p = this.#pending.get(id);
        if (!p) return;
        this.#pending.delete(id);
        if (error !== undefined) p.reject(new SampleError(error, name));
        else p.resolve(data);
      };
      w.onerror = (event) => {
        event.preventDefault();
        for (const p of this.#pending.values()) p.reject(new SampleError(event.message));
        this.#pending.clear();
      };
      return w;
    });
  }

  run(job: SampleJob): Promise<Float32Array> {
    const id = this.#id++;
    const worker = this.#workers[this.#next++ % this.#workers.length];
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      worker.postMessage({ id, job });
    });
  }

  close(): void {
    for (const w of this.#workers) w.terminate();
  }
}

/**
 * Iterates a dataset in batches.
 *
 * @example
 * ```ts ignore
 * import { DataLoader } from "./loader.ts";
 * const loader = new DataLoader(ds.train, processor.config, { batchSize: 16, shuffle: true });
 * for await (const batch of loader.batches(0)) { … batch.pixelValues.dispose(); }
 * loader.close();
 * ```
 */
export class DataLoader {
  readonly #dataset: Dataset<ImageExample>;
  readonly #config: ImageProcessorConfig;
  readonly #cache = new Map<number, Float32Array>();
  #cachedBytes = 0;
  readonly #options: Required<Omit<DataLoaderOptions, "augment" | "log" | "phases">> & {
    augment: AugmentOptions | null;
    log: (m: string) => void;
    phases?: LoaderPhases;
  };
  #pool: WorkerPool | null = null;

  /**
   * Creates a loader; workers start on first use.
   *
   * @param dataset Rows with an image and a label.
   * @param config The image processor's configuration.
   * @param options Batching, shuffling, workers.
   */
  constructor(
    dataset: Dataset<ImageExample>,
    config: ImageProcessorConfig,
    options: DataLoaderOptions,
  ) {
    if (!Number.isInteger(options.batchSize) || options.batchSize < 1) {
      throw new Error(`batch size must be a positive integer, got ${options.batchSize}`);
    }
    this.#dataset = dataset;
    this.#config = config;
    this.#options = {
      batchSize: options.batchSize,
      shuffle: options.shuffle ?? false,
      seed: options.seed ?? 42,
      dropLast: options.dropLast ?? false,
      numWorkers: WORKERS_AVAILABLE
        ? options.numWorkers ?? Math.min(2, navigator.hardwareConcurrency ?? 2)
        : 0,
      prefetch: options.prefetch ?? 2,
      augment: options.augment ?? null,
      onBadImage: options.onBadImage ?? "skip",
      log: options.log ?? ((m: string) => console.warn(m)),
      phases: options.phases,
      cacheBytes: options.augment ? 0 : options.cacheBytes ?? 0,
    };
    // Said by each loader that asks (no process-wide flag: importing or using the module keeps no
    // state between loaders).
    if (!WORKERS_AVAILABLE && (options.numWorkers ?? 0) > 0) {
      this.#options.log(
        `numWorkers ${options.numWorkers}: worker threads need Deno, so samples are prepared on ` +
          "this thread (set dataloaderNumWorkers / numWorkers to 0 to silence this)",
      );
    }
  }

  /** Number of rows. */
  get length(): number {
    return this.#dataset.length;
  }

  /** Batches per epoch. */
  get numBatches(): number {
    const n = this.#dataset.length / this.#options.batchSize;
    return this.#options.dropLast ? Math.floor(n) : Math.ceil(n);
  }

  /** The row order of an epoch: a seeded permutation when shuffling, else 0..N-1. */
  order(epoch: number): Uint32Array {
    const order = Uint32Array.from({ length: this.#dataset.length }, (_, i) => i);
    if (!this.#options.shuffle) return order;
    const rng = new Rng((this.#options.seed * 1000003 + epoch) >>> 0);
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(rng.next() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    return order;
  }

  async #prepare(index: number, epoch: number): Promise<Float32Array> {
    const cached = this.#cache.get(index);
    if (cached) return cached;
    const data = await this.#prepareAnew(index, epoch);
    if (this.#cachedBytes + data.byteLength <= this.#options.cacheBytes) {
      this.#cache.set(index, data);
      this.#cachedBytes += data.byteLength;
    }
    return data;
  }

  async #prepareAnew(index: number, epoch: number): Promise<Float32Array> {
    const row = this.#dataset.row(index);
    const job: SampleJob = {
      image: row.image,
      config: this.#config,
      augment: this.#options.augment,
      seed: this.#options.seed,
      epoch,
      index,
    };
    if (this.#options.numWorkers === 0) return await prepareSample(job);
    // Files are read here: the file system in use (a page's MemoryFileSystem) is not the
    // workers'; they only decode.
    if (!job.image.bytes) job.image = { ...job.image, bytes: await readBytes(job.image.path) };
    this.#pool ??= new WorkerPool(this.#options.numWorkers);
    return await this.#pool.run(job);
  }

  /**
   * The batches of one epoch, from `startBatch` on (to resume mid-epoch).
   *
   * @param epoch The epoch (selects the shuffle).
   * @param startBatch The first batch to yield.
   * @returns Collated batches; dispose each `pixelValues` when done.
   */
  async *batches(epoch: number, startBatch = 0): AsyncGenerator<Batch> {
    const order = this.order(epoch);
    const { batchSize, prefetch } = this.#options;
    const total = this.numBatches;
    const { height, width } = outputSizeOf(this.#config);
    const per = 3 * height * width;
    const queue: { indices: number[]; samples: Promise<Float32Array | Error>[] }[] = [];
    const enqueue = (b: number) => {
      const indices = Array.from(order.subarray(b * batchSize, (b + 1) * batchSize));
      const samples = indices.map((i) =>
        this.#prepare(i, epoch).catch((error: Error) =>
          error instanceof SampleError ? error : new SampleError(error.message, error.name)
        )
      );
      queue.push({ indices, samples });
    };
    let next = startBatch;
    while (next < total && queue.length <= prefetch) enqueue(next++);
    while (queue.length > 0) {
      const { indices, samples } = queue.shift()!;
      if (next < total) enqueue(next++);
      const phases = this.#options.phases;
      await phases?.begin("decode+resize");
      const results = await Promise.all(samples);
      await phases?.end();
      const kept: number[] = [];
      const failed: string[] = [];
      for (const [k, r] of results.entries()) {
        if (!(r instanceof SampleError)) kept.push(k);
        else if (!r.skippable || this.#options.onBadImage === "error") throw r;
        else failed.push(r.message);
      }
      if (failed.length > 0) {
        this.#options.log(
          `skipped ${failed.length} image(s) that failed to load:\n  ${failed.join("\n  ")}`,
        );
      }
      if (kept.length === 0) continue;
      const data = new Float32Array(kept.length * per);
      kept.forEach((k, j) => data.set(results[k] as Float32Array, j * per));
      await phases?.begin("host-to-GPU copies");
      const pixelValues = Tensor.from(data, [kept.length, 3, height, width]);
      await phases?.end();
      yield {
        pixelValues,
        labels: kept.map((k) => this.#dataset.row(indices[k]).labels),
        indices: kept.map((k) => indices[k]),
      };
    }
  }

  /** Stops the workers. */
  close(): void {
    this.#pool?.close();
    this.#pool = null;
  }
}
