/**
 * `deno task make-beans [--out DIR] [--seed N] [--size PX]`: writes the generated beans-like
 * dataset as an ImageFolder of JPEGs with the real dataset's split sizes and class names. The
 * folder appears whole or not at all (it is built beside the target, then renamed).
 *
 * @module
 */

import { ArgumentError } from "../train/args.ts";
import { encodeJpeg } from "../data/jpeg.ts";
import {
  BEANS_CLASSES,
  BEANS_SPLITS,
  beanSeed,
  classCounts,
  renderBeanLeaf,
} from "./synthetic_beans.ts";
import { exists, joinPath } from "../io/files.ts";

/** Where the default run keeps the generated dataset. */
export const DEFAULT_BEANS_DIR = ".cache/beans-synthetic";

/** Options of {@link makeBeans}. */
export interface MakeBeansOptions {
  /** Seed of the whole dataset. */
  seed?: number;
  /** Image width and height. */
  size?: number;
  /** Images per split (the real dataset's sizes by default). */
  splits?: Record<string, number>;
  /** JPEG quality. */
  quality?: number;
  /** Progress messages. */
  log?: (message: string) => void;
  /**
   * Worker threads that render and encode (0: the calling thread). By default one per core, up
   * to 8, when there are at least 64 images: rendering is CPU-bound and splits evenly.
   */
  workers?: number;
}

/** One image of the dataset, as a worker receives it. */
export interface BeanJob {
  /** Position in the job list, echoed back by the worker. */
  id: number;
  /** Class index. */
  label: number;
  /** The image's own seed ({@link beanSeed}). */
  seed: number;
  /** Width and height. */
  size: number;
  /** JPEG quality. */
  quality: number;
}

/**
 * Renders and encodes one image: the same bytes on any thread.
 *
 * @param job The image.
 * @returns The JPEG file's bytes.
 */
export function makeBeanJpeg(job: BeanJob): Uint8Array {
  return encodeJpeg(renderBeanLeaf(job.label, job.seed, job.size), job.quality);
}

/**
 * Makes the JPEGs of `jobs` on `workers` worker threads (or this one, with 0) and hands each to
 * `write` as it arrives, in any order.
 */
async function makeAll(
  jobs: BeanJob[],
  workers: number,
  write: (job: BeanJob, bytes: Uint8Array) => Promise<void>,
): Promise<void> {
  if (workers <= 0) {
    for (const job of jobs) await write(job, makeBeanJpeg(job));
    return;
  }
  const url = new URL("./make_beans_worker.ts", import.meta.url).href;
  const pool = Array.from({ length: workers }, () => new Worker(url, { type: "module" }));
  try {
    // Each worker takes the next job when it sends one back, so that all stay busy.
    let next = 0;
    await Promise.all(pool.map((worker) =>
      new Promise<void>((resolve, reject) => {
        const feed = () => {
          if (next < jobs.length) worker.postMessage(jobs[next++]);
          else resolve();
        };
        worker.onmessage = (event: MessageEvent) => {
          const { id, bytes, error } = event.data;
          if (error !== undefined) return reject(new Error(`image ${id}: ${error}`));
          write(jobs[id], bytes).then(feed, reject);
        };
        worker.onerror = (event) => {
          event.preventDefault();
          reject(new Error(event.message));
        };
        feed();
      })
    ));
  } finally {
    for (const worker of pool) worker.terminate();
  }
}

/**
 * Writes the dataset to `dir`, which must not exist yet.
 *
 * @param dir Target folder.
 * @param options Seed, size, split sizes.
 * @returns The number of images written.
 */
export async function makeBeans(dir: string, options: MakeBeansOptions = {}): Promise<number> {
  const seed = options.seed ?? 0;
  const size = options.size ?? 160;
  const splits = options.splits ?? BEANS_SPLITS;
  if (await exists(dir)) {
    throw new ArgumentError(`${dir} already exists; remove it or pick another --out`);
  }
  const temp = `${dir}.partial-${Deno.pid}`;
  await Deno.remove(temp, { recursive: true }).catch(() => {});
  const jobs: BeanJob[] = [];
  const paths: string[] = [];
  const splitOf: string[] = [];
  const totals = new Map<string, number>(Object.entries(splits));
  const left = new Map(totals);
  try {
    for (const [split, total] of Object.entries(splits)) {
      const counts = classCounts(total);
      for (const [label, name] of BEANS_CLASSES.entries()) {
        const folder = joinPath(temp, split, name);
        await Deno.mkdir(folder, { recursive: true });
        for (let i = 0; i < counts[label]; i++) {
          const seedOf = beanSeed(seed, split, label, i);
          jobs.push({ id: jobs.length, label, seed: seedOf, size, quality: options.quality ?? 90 });
          paths.push(joinPath(folder, `${name}_${split}.${i}.jpg`));
          splitOf.push(split);
        }
      }
    }
    const workers = options.workers ??
      (jobs.length >= 64 ? Math.min(8, navigator.hardwareConcurrency || 1) : 0);
    await makeAll(jobs, workers, async (job, bytes) => {
      await Deno.writeFile(paths[job.id], bytes);
      const split = splitOf[job.id];
      left.set(split, left.get(split)! - 1);
      if (left.get(split) === 0) options.log?.(`  ${split}: ${totals.get(split)} images`);
    });
    await Deno.rename(temp, dir);
  } catch (error) {
    await Deno.remove(temp, { recursive: true }).catch(() => {});
    throw error;
  }
  return jobs.length;
}
