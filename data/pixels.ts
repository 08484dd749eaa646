/**
 * The processor's arithmetic on one image, with no GPU and no I/O, so that data-loading
 * workers can run it: resize with PIL's filter, rescale, normalise, channels first.
 *
 * @module
 */

import type { RgbImage } from "./image.ts";
import { outputSizeOf, transformImage } from "./image_transforms.ts";

/** The fields of `preprocessor_config.json` that Tessera uses, in HF's names. */
export interface ImageProcessorConfig {
  /** Resize to `size` first. */
  do_resize: boolean;
  /**
   * Target size, as HF's size dicts: {height, width}, or {shortest_edge} (Bit, ConvNeXt). HF
   * also accepts an int, which each class reads as its own default shape of dict.
   */
  size: SizeDict;
  /** PIL filter code: 0 nearest, 2 bilinear, 3 bicubic. */
  resample: number;
  /** Multiply by `rescale_factor`. */
  do_rescale: boolean;
  /** Usually 1/255. */
  rescale_factor: number;
  /** Subtract mean, divide by std. */
  do_normalize: boolean;
  /** Per-channel means. */
  image_mean: number[];
  /** Per-channel standard deviations. */
  image_std: number[];
  /** Crop to `crop_size` after resizing (BitImageProcessor). */
  do_center_crop?: boolean;
  /** The center crop's size (BitImageProcessor). */
  crop_size?: { height: number; width: number };
  /** ConvNextImageProcessor below 384: the crop's share of the resized shortest edge. */
  crop_pct?: number;
  /** Convert to RGB first (decoded images always are RGB here). */
  do_convert_rgb?: boolean;
  /** The class, which decides how size and crop apply (ViTImageProcessor when absent). */
  image_processor_type?: string;
  /** Other fields of the file, kept on save. */
  [extra: string]: unknown;
}

/** An image size as Hugging Face's size dicts hold it: {height, width} or {shortest_edge}. */
export interface SizeDict {
  /** Output height. */
  height?: number;
  /** Output width. */
  width?: number;
  /** Output shortest edge; the other edge keeps the aspect ratio. */
  shortest_edge?: number;
}

/** A preprocessor_config.json problem or an unusable image, naming its source. */
export class ProcessorError extends Error {
  /**
   * Creates the error; its message is `source: problem`.
   *
   * @param source The file or image.
   * @param problem What is wrong.
   */
  constructor(readonly source: string, problem: string) {
    super(`${source}: ${problem}`);
    this.name = "ProcessorError";
  }
}

/**
 * One image as [3, H, W] floats: `(pixel * rescale_factor - mean) / std` in f32, after the
 * processor's PIL-exact resize and center crop (see `image_transforms.ts`).
 *
 * @param image The image.
 * @param config The processor configuration.
 * @param name The image's name, for errors.
 * @returns Channel-first values.
 * @throws {ProcessorError} When the output would not have the processor's fixed size (resizing
 * off and the image of another size).
 * @example
 * ```ts
 * import { toPixelValues } from "./pixels.ts";
 * const config = { do_resize: false, size: { height: 1, width: 1 }, resample: 2, do_rescale: true,
 *   rescale_factor: 1 / 255, do_normalize: true, image_mean: [0.5, 0.5, 0.5],
 *   image_std: [0.5, 0.5, 0.5] };
 * console.log(toPixelValues({ width: 1, height: 1, data: new Uint8Array([255, 0, 51]) }, config));
 * // Float32Array [1, -1, -0.6]
 * ```
 */
export function toPixelValues(
  image: RgbImage,
  config: ImageProcessorConfig,
  name = "image",
): Float32Array {
  const { height, width } = outputSizeOf(config, name);
  const img = transformImage(image, config);
  if (img.width !== width || img.height !== height) {
    throw new ProcessorError(
      name,
      `image is ${image.width}×${image.height} but resizing is off and the model expects ` +
        `${width}×${height}`,
    );
  }
  const plane = width * height;
  const out = new Float32Array(3 * plane);
  const scale = config.do_rescale ? config.rescale_factor : 1;
  const mean = config.do_normalize ? config.image_mean : [0, 0, 0];
  const std = config.do_normalize ? config.image_std : [1, 1, 1];
  for (let c = 0; c < 3; c++) {
    const m = Math.fround(mean[c]);
    const s = Math.fround(std[c]);
    for (let i = 0; i < plane; i++) {
      out[c * plane + i] = Math.fround(Math.fround(img.data[3 * i + c] * scale) - m) / s;
    }
  }
  return out;
}
