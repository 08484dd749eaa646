/**
 * ViTImageProcessor: resize with PIL's filter, rescale by 1/255, normalise with mean and std,
 * and lay out as [N, 3, H, W], as Hugging Face's ViTImageProcessor does. Reads and writes
 * `preprocessor_config.json` with HF's field names.
 *
 * @module
 */

import { joinPath, readJson, writeAtomic } from "../io/files.ts";
import { resolveSource } from "../io/sources.ts";
import { Tensor } from "../tensor/tensor.ts";
import type { RgbImage } from "./image.ts";
import type { ImageProcessor } from "./image_processor.ts";
import { type ImageProcessorConfig, ProcessorError, toPixelValues } from "./pixels.ts";
import { type Resample, RESAMPLE_CODES } from "./resize.ts";

export { type ImageProcessorConfig, ProcessorError };

/** HF's ViTImageProcessor defaults, which match google/vit-base-patch16-224-in21k. */
export const VIT_PROCESSOR_DEFAULTS: Readonly<ImageProcessorConfig> = Object.freeze({
  do_resize: true,
  size: { height: 224, width: 224 },
  resample: 2,
  do_rescale: true,
  rescale_factor: 1 / 255,
  do_normalize: true,
  image_mean: [0.5, 0.5, 0.5],
  image_std: [0.5, 0.5, 0.5],
});

function parseConfig(raw: unknown, source: string): ImageProcessorConfig {
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) {
    throw new ProcessorError(source, "is not a JSON object");
  }
  const fields = raw as Record<string, unknown>;
  const config = {
    ...structuredClone(VIT_PROCESSOR_DEFAULTS),
    ...structuredClone(fields),
  } as ImageProcessorConfig;
  const size = fields.size ?? VIT_PROCESSOR_DEFAULTS.size;
  if (typeof size === "number") config.size = { height: size, width: size };
  else if (size && typeof size === "object") {
    const s = size as Record<string, number>;
    const height = s.height ?? s.shortest_edge;
    const width = s.width ?? s.shortest_edge;
    config.size = { height, width };
  }
  const { height, width } = config.size as { height: number; width: number };
  for (const [name, v] of [["size.height", height], ["size.width", width]] as const) {
    if (!Number.isInteger(v) || v <= 0) {
      throw new ProcessorError(
        source,
        `${name} must be a positive integer, got ${JSON.stringify(v)}`,
      );
    }
  }
  if (!(config.resample in RESAMPLE_CODES)) {
    throw new ProcessorError(
      source,
      `resample ${
        JSON.stringify(config.resample)
      } is not supported (0 nearest, 2 bilinear, 3 bicubic)`,
    );
  }
  for (const key of ["image_mean", "image_std"] as const) {
    const v = config[key];
    if (!Array.isArray(v) || v.length !== 3 || v.some((x) => typeof x !== "number")) {
      throw new ProcessorError(source, `${key} must be three numbers, got ${JSON.stringify(v)}`);
    }
  }
  if (config.image_std.some((x) => x === 0)) {
    throw new ProcessorError(source, "image_std has a zero");
  }
  if (typeof config.rescale_factor !== "number" || !Number.isFinite(config.rescale_factor)) {
    throw new ProcessorError(source, `rescale_factor must be a number`);
  }
  for (const key of ["do_resize", "do_rescale", "do_normalize"] as const) {
    if (typeof config[key] !== "boolean") {
      throw new ProcessorError(
        source,
        `${key} must be true or false, got ${JSON.stringify(config[key])}`,
      );
    }
  }
  return config;
}

/**
 * The image processor of the blog: PIL-exact resize, rescale and normalise.
 *
 * @example
 * ```ts
 * import { ViTImageProcessor } from "./processor.ts";
 * const processor = new ViTImageProcessor({ size: { height: 2, width: 2 } });
 * const img = { width: 1, height: 1, data: new Uint8Array([255, 0, 128]) };
 * const { pixelValues } = await processor.preprocess([img]);
 * console.log(pixelValues.shape); // [1, 3, 2, 2]
 * ```
 */
export class ViTImageProcessor implements ImageProcessor {
  /** The name preprocessor_config.json's `image_processor_type` gives this class. */
  static readonly processorType: string = "ViTImageProcessor";
  /** The configuration, in HF's names. */
  readonly config: ImageProcessorConfig;

  /**
   * Creates a processor.
   *
   * @param fields Overrides of HF's defaults (config.json names; `size` may be an int).
   * @param source Where the fields came from, for errors.
   */
  constructor(fields: Record<string, unknown> = {}, source = "image processor") {
    this.config = parseConfig(fields, source);
  }

  /**
   * Reads `dir/preprocessor_config.json`.
   *
   * @param dir The model folder, or a Hub id when no folder has that name.
   * @param options The Hub revision ("main" by default).
   * @returns The processor.
   * @throws {FileError|ProcessorError} Naming the file.
   */
  static async fromPretrained(
    dir: string,
    options: { revision?: string } = {},
  ): Promise<ViTImageProcessor> {
    dir = await resolveSource(dir, "processor", options);
    const path = joinPath(dir, "preprocessor_config.json");
    return new ViTImageProcessor(await readJson(path) as Record<string, unknown>, path);
  }

  /** Writes `dir/preprocessor_config.json` atomically. */
  async savePretrained(dir: string): Promise<void> {
    const out = { ...this.config, image_processor_type: ViTImageProcessor.processorType };
    await writeAtomic(
      joinPath(dir, "preprocessor_config.json"),
      JSON.stringify(out, null, 2) + "\n",
    );
  }

  /** The output height and width (the input's when resizing is off). */
  get outputSize(): { height: number; width: number } {
    const { height, width } = this.config.size as { height: number; width: number };
    return { height, width };
  }

  /** The PIL filter of `resample`. */
  get resampleFilter(): Resample {
    return RESAMPLE_CODES[this.config.resample];
  }

  /**
   * One image as [3, H, W] floats (no GPU), for data-loading workers.
   *
   * @param image The image.
   * @param name The image's name, for errors.
   * @returns Channel-first values.
   * @throws {ProcessorError} When resizing is off and the image has another size.
   */
  processToArray(image: RgbImage, name = "image"): Float32Array {
    return toPixelValues(image, this.config, name);
  }

  /**
   * Preprocesses a batch as the processor's `__call__(images, return_tensors="pt")`.
   *
   * @param images One image or several.
   * @returns `pixelValues` of shape [N, 3, H, W].
   */
  preprocess(images: RgbImage | RgbImage[]): Promise<{ pixelValues: Tensor }> {
    const list = Array.isArray(images) ? images : [images];
    const { height, width } = this.outputSize;
    const out = new Float32Array(list.length * 3 * height * width);
    list.forEach((img, i) =>
      out.set(this.processToArray(img, `image ${i}`), i * 3 * height * width)
    );
    return Promise.resolve({ pixelValues: Tensor.from(out, [list.length, 3, height, width]) });
  }
}
