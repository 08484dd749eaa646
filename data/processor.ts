/**
 * ViTImageProcessor: resize with PIL's filter, rescale by 1/255, normalise with mean and std,
 * and lay out as [N, 3, H, W], as Hugging Face's ViTImageProcessor does. Reads and writes
 * `preprocessor_config.json` with HF's field names.
 *
 * @module
 */

import { BaseImageProcessor, mergeFields, readProcessorFields } from "./base_image_processor.ts";
import { type ImageProcessorConfig, ProcessorError } from "./pixels.ts";

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

function parseConfig(fields: unknown, source: string): ImageProcessorConfig {
  const config = mergeFields(VIT_PROCESSOR_DEFAULTS, fields, source);
  config.image_processor_type = ViTImageProcessor.processorType;
  // ViT resizes to a fixed size: an int or a lone shortest_edge reads as a square.
  const size = config.size;
  if (typeof size === "number") config.size = { height: size, width: size };
  else if (size && typeof size === "object" && !Array.isArray(size)) {
    const s = size as Record<string, number>;
    config.size = { height: s.height ?? s.shortest_edge, width: s.width ?? s.shortest_edge };
  }
  const { height, width } = config.size as { height: unknown; width: unknown };
  for (const [name, v] of [["size.height", height], ["size.width", width]] as const) {
    if (!Number.isInteger(v) || (v as number) <= 0) {
      throw new ProcessorError(
        source,
        `${name} must be a positive integer, got ${JSON.stringify(v)}`,
      );
    }
  }
  for (const key of ["do_resize", "do_rescale", "do_normalize"] as const) {
    if (typeof config[key] !== "boolean") {
      throw new ProcessorError(
        source,
        `${key} must be true or false, got ${JSON.stringify(config[key])}`,
      );
    }
  }
  return config as ImageProcessorConfig;
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
export class ViTImageProcessor extends BaseImageProcessor {
  /** The name preprocessor_config.json's `image_processor_type` gives this class. */
  static readonly processorType: string = "ViTImageProcessor";

  /**
   * Creates a processor.
   *
   * @param fields Overrides of HF's defaults (config.json names; `size` may be an int).
   * @param source Where the fields came from, for errors.
   * @throws {ProcessorError} Naming the source when a field is wrong.
   */
  constructor(fields: Record<string, unknown> = {}, source = "image processor") {
    super(parseConfig(fields, source), source);
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
    const { fields, path } = await readProcessorFields(dir, options);
    return new ViTImageProcessor(fields, path);
  }
}
