/**
 * BitImageProcessor, DINOv2's processor, as Transformers' image_processing_bit.py: resize (the
 * shortest edge to `size.shortest_edge`, aspect kept, or to {height, width}) with PIL's filter,
 * center crop to `crop_size`, rescale, normalise.
 *
 * @module
 */

import {
  BaseImageProcessor,
  mergeFields,
  parseSizeDict,
  readProcessorFields,
} from "./base_image_processor.ts";
import { type ImageProcessorConfig, ProcessorError } from "./pixels.ts";

/** HF's BitImageProcessor defaults (the processor's, not a checkpoint's: CLIP's mean and std). */
export const BIT_PROCESSOR_DEFAULTS: Readonly<ImageProcessorConfig> = Object.freeze({
  image_processor_type: "BitImageProcessor",
  do_resize: true,
  size: { shortest_edge: 224 },
  resample: 3,
  do_center_crop: true,
  crop_size: { height: 224, width: 224 },
  do_rescale: true,
  rescale_factor: 1 / 255,
  do_normalize: true,
  image_mean: [0.48145466, 0.4578275, 0.40821073],
  image_std: [0.26862954, 0.26130258, 0.27577711],
  do_convert_rgb: true,
});

/**
 * DINOv2's preprocessing, as facebook/dinov2-base's preprocessor_config.json sets it: shortest
 * edge 256, bicubic, center crop 224, ImageNet's mean and std.
 *
 * @example
 * ```ts
 * import { BitImageProcessor, DINOV2_PROCESSOR } from "./bit_processor.ts";
 * const processor = new BitImageProcessor(DINOV2_PROCESSOR);
 * console.log(processor.outputSize); // { height: 224, width: 224 }
 * ```
 */
export const DINOV2_PROCESSOR: Readonly<ImageProcessorConfig> = Object.freeze({
  ...BIT_PROCESSOR_DEFAULTS,
  size: { shortest_edge: 256 },
  image_mean: [0.485, 0.456, 0.406],
  image_std: [0.229, 0.224, 0.225],
});

/**
 * Shortest-edge (or fixed) resize, center crop, rescale and normalise, PIL-exact.
 *
 * @example
 * ```ts
 * import { BitImageProcessor } from "./bit_processor.ts";
 * const processor = new BitImageProcessor({ size: { shortest_edge: 4 }, crop_size: 2 });
 * const img = { width: 8, height: 4, data: new Uint8Array(96).fill(200) };
 * const { pixelValues } = await processor.preprocess(img);
 * console.log(pixelValues.shape); // [1, 3, 2, 2]
 * ```
 */
export class BitImageProcessor extends BaseImageProcessor {
  /** The name preprocessor_config.json's `image_processor_type` gives this class. */
  static readonly processorType: string = "BitImageProcessor";

  /**
   * Creates a processor.
   *
   * @param fields preprocessor_config.json's fields over HF's defaults (`size` may be an int,
   * read as the shortest edge; `crop_size` an int, read as a square).
   * @param source Where the fields came from, for errors.
   * @throws {ProcessorError} Naming the source when a field is wrong.
   */
  constructor(fields: Record<string, unknown> = {}, source = "image processor") {
    const config = mergeFields(BIT_PROCESSOR_DEFAULTS, fields, source);
    config.image_processor_type = BitImageProcessor.processorType;
    config.size = parseSizeDict(config.size, "size", false, source);
    const crop = parseSizeDict(config.crop_size, "crop_size", true, source);
    if (crop.height === undefined) {
      throw new ProcessorError(
        source,
        `crop_size must be {"height", "width"}, got ${JSON.stringify(config.crop_size)}`,
      );
    }
    config.crop_size = crop;
    super(config as ImageProcessorConfig, source);
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
  ): Promise<BitImageProcessor> {
    const { fields, path } = await readProcessorFields(dir, options);
    return new BitImageProcessor(fields, path);
  }
}
