/**
 * Turning one dataset row into pixel values: read (when it is a path), decode, augment,
 * process. Runs in data-loading workers and, with no workers, on the main thread; it touches
 * no GPU.
 *
 * @module
 */

import { readBytes } from "../io/files.ts";
import { augment, type AugmentOptions, sampleSeed } from "./augment.ts";
import type { ImageRef } from "./dataset.ts";
import { decodeImage, type RgbImage } from "./image.ts";
import { type ImageProcessorConfig, toPixelValues } from "./pixels.ts";

/** Everything needed to prepare one sample. */
export interface SampleJob {
  /** The image. */
  image: ImageRef;
  /** Processor configuration. */
  config: ImageProcessorConfig;
  /** Augmentations, or null. */
  augment: AugmentOptions | null;
  /** Run seed, epoch and index, for the augmentation's generator. */
  seed: number;
  /** Epoch. */
  epoch: number;
  /** Index in the dataset. */
  index: number;
  /** Largest accepted image. */
  maxPixels?: number;
}

/** Reads the image of a row. */
export async function readImage(ref: ImageRef, maxPixels?: number): Promise<RgbImage> {
  const bytes = ref.bytes ?? await readBytes(ref.path);
  return decodeImage(bytes, { name: ref.path, maxPixels });
}

/**
 * Prepares one sample: [3, H, W] pixel values.
 *
 * @param job What to prepare.
 * @returns The values.
 */
export async function prepareSample(job: SampleJob): Promise<Float32Array> {
  let image = await readImage(job.image, job.maxPixels);
  if (job.augment) image = augment(image, sampleSeed(job.seed, job.epoch, job.index), job.augment);
  return toPixelValues(image, job.config, job.image.path);
}
