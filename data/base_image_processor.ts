/**
 * What the image processor classes share: reading preprocessor_config.json's fields over the
 * class's defaults and checking the ones every class uses (resample, rescale, normalise, the
 * flags), and the processor itself (one image to floats, a batch to a tensor, saving).
 * BitImageProcessor and ConvNextImageProcessor are built on it.
 *
 * @module
 */

import { joinPath, readJson, writeAtomic } from "../io/files.ts";
import { resolveSource } from "../io/sources.ts";
import { Tensor } from "../tensor/tensor.ts";
import type { RgbImage } from "./image.ts";
import type { ImageProcessor } from "./image_processor.ts";
import { outputSizeOf } from "./image_transforms.ts";
import { type ImageProcessorConfig, ProcessorError, toPixelValues } from "./pixels.ts";
import { type Resample, RESAMPLE_CODES } from "./resize.ts";

/**
 * A size field as Transformers' `get_size_dict`: an int becomes {shortest_edge} (when
 * `defaultToSquare` is false) or {height, width}; a dict must hold `shortest_edge` or both
 * `height` and `width`, positive integers.
 *
 * @param value The field's value.
 * @param key Its name, for errors.
 * @param defaultToSquare How an int reads.
 * @param source Where it came from, for errors.
 * @returns The size dict.
 * @throws {ProcessorError} Naming the field when it is neither.
 * @example
 * ```ts
 * import { parseSizeDict } from "./base_image_processor.ts";
 * console.log(parseSizeDict(256, "size", false)); // { shortest_edge: 256 }
 * ```
 */
export function parseSizeDict(
  value: unknown,
  key: string,
  defaultToSquare: boolean,
  source = "image processor",
): { height?: number; width?: number; shortest_edge?: number } {
  const ok = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v) && v > 0;
  if (ok(value)) {
    return defaultToSquare ? { height: value, width: value } : { shortest_edge: value };
  }
  if (value && typeof value === "object" && !Array.isArray(value)) {
    const s = value as Record<string, unknown>;
    if (ok(s.height) && ok(s.width)) return { height: s.height, width: s.width };
    if (ok(s.shortest_edge) && s.height === undefined && s.width === undefined) {
      return { shortest_edge: s.shortest_edge };
    }
  }
  throw new ProcessorError(
    source,
    `${key} must be {"height", "width"} or {"shortest_edge"} of positive integers, got ` +
      JSON.stringify(value),
  );
}

/**
 * The fields' checks that every class shares: resample, rescale_factor, the flags, and the
 * means and standard deviations (a single number reads as the same for the three channels).
 *
 * @param config The merged config, checked and normalised in place.
 * @param source Where it came from, for errors.
 * @throws {ProcessorError} Naming the file and the field.
 * @example
 * ```ts
 * import { checkCommonFields } from "./base_image_processor.ts";
 * const c = { do_resize: true, size: { height: 2, width: 2 }, resample: 3, do_rescale: true,
 *   rescale_factor: 1 / 255, do_normalize: true, image_mean: 0.5, image_std: [1, 1, 1] };
 * checkCommonFields(c as never);
 * console.log(c.image_mean); // [0.5, 0.5, 0.5]
 * ```
 */
export function checkCommonFields(config: ImageProcessorConfig, source = "image processor"): void {
  if (!(config.resample in RESAMPLE_CODES)) {
    throw new ProcessorError(
      source,
      `resample ${
        JSON.stringify(config.resample)
      } is not supported (0 nearest, 2 bilinear, 3 bicubic)`,
    );
  }
  for (const key of ["image_mean", "image_std"] as const) {
    const v = config[key] as unknown;
    if (typeof v === "number") config[key] = [v, v, v];
    else if (!Array.isArray(v) || v.length !== 3 || v.some((x) => typeof x !== "number")) {
      throw new ProcessorError(source, `${key} must be three numbers, got ${JSON.stringify(v)}`);
    }
  }
  if (config.image_std.some((x) => x === 0)) {
    throw new ProcessorError(source, "image_std has a zero");
  }
  if (typeof config.rescale_factor !== "number" || !Number.isFinite(config.rescale_factor)) {
    throw new ProcessorError(source, `rescale_factor must be a number`);
  }
  const flags = ["do_resize", "do_rescale", "do_normalize", "do_center_crop", "do_convert_rgb"];
  for (const key of flags) {
    const v = config[key];
    if (v !== undefined && typeof v !== "boolean") {
      throw new ProcessorError(source, `${key} must be true or false, got ${JSON.stringify(v)}`);
    }
  }
}

/**
 * A processor whose class decides its defaults and how `size` and the crop apply; the
 * arithmetic is {@link toPixelValues}'s, which data-loading workers run from `config` alone.
 */
export abstract class BaseImageProcessor implements ImageProcessor {
  /** The configuration, in HF's names, with `image_processor_type` naming the class. */
  readonly config: ImageProcessorConfig;
  /** The output height and width. */
  readonly outputSize: { height: number; width: number };

  /**
   * Checks the config and fixes the output size.
   *
   * @param config The class's parsed config (with `image_processor_type`).
   * @param source Where it came from, for errors.
   * @throws {ProcessorError} When a field is wrong or the output size is not fixed.
   */
  protected constructor(config: ImageProcessorConfig, source: string) {
    checkCommonFields(config, source);
    this.config = config;
    this.outputSize = outputSizeOf(config, source);
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

  /**
   * Writes `dir/preprocessor_config.json` atomically.
   *
   * @param dir The model folder.
   */
  async savePretrained(dir: string): Promise<void> {
    await writeAtomic(
      joinPath(dir, "preprocessor_config.json"),
      JSON.stringify(this.config, null, 2) + "\n",
    );
  }
}

/**
 * The fields over the class's defaults, as an object, or a one-line error.
 *
 * @param defaults The class's defaults.
 * @param fields preprocessor_config.json's fields.
 * @param source Where they came from, for errors.
 * @returns A fresh merged copy.
 * @throws {ProcessorError} When the fields are not a JSON object.
 */
export function mergeFields(
  defaults: Readonly<Record<string, unknown>>,
  fields: unknown,
  source: string,
): Record<string, unknown> {
  if (!fields || typeof fields !== "object" || Array.isArray(fields)) {
    throw new ProcessorError(source, "is not a JSON object");
  }
  const merged = { ...structuredClone(defaults) } as Record<string, unknown>;
  // A null field means the default, as HF's `x if x is not None else default`.
  for (const [k, v] of Object.entries(structuredClone(fields))) {
    if (v !== null) merged[k] = v;
  }
  return merged;
}

/**
 * Reads `preprocessor_config.json` from a model folder, or from the Hub when no folder has that
 * name, as every class's `fromPretrained` does.
 *
 * @param dir The model folder, or a Hub id.
 * @param options The Hub revision ("main" by default).
 * @returns The file's fields and its path, for errors.
 * @throws {FileError} Naming the file when it is missing or not JSON.
 * @example
 * ```ts ignore
 * import { readProcessorFields } from "./base_image_processor.ts";
 * const { fields, path } = await readProcessorFields("models/vit-tiny-contours");
 * console.log(path, fields.image_mean);
 * ```
 */
export async function readProcessorFields(
  dir: string,
  options: { revision?: string } = {},
): Promise<{ fields: Record<string, unknown>; path: string }> {
  dir = await resolveSource(dir, "processor", options);
  const path = joinPath(dir, "preprocessor_config.json");
  return { fields: await readJson(path) as Record<string, unknown>, path };
}
