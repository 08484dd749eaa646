/**
 * ConvNextImageProcessor, as Transformers' image_processing_convnext.py: below 384 px the
 * shortest edge is resized to `int(shortest_edge / crop_pct)` and the center
 * `shortest_edge`² cropped; from 384 px the image is warped to a square, uncropped. Then
 * rescale and normalise.
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

/** HF's ConvNextImageProcessor defaults (bilinear, ImageNet's "standard" 0.5 mean and std). */
export const CONVNEXT_PROCESSOR_DEFAULTS: Readonly<ImageProcessorConfig> = Object.freeze({
  image_processor_type: "ConvNextImageProcessor",
  do_resize: true,
  size: { shortest_edge: 384 },
  crop_pct: 224 / 256,
  resample: 2,
  do_rescale: true,
  rescale_factor: 1 / 255,
  do_normalize: true,
  image_mean: [0.5, 0.5, 0.5],
  image_std: [0.5, 0.5, 0.5],
});

/**
 * ConvNeXt's resize with `crop_pct`, rescale and normalise, PIL-exact.
 *
 * @example
 * ```ts
 * import { ConvNextImageProcessor } from "./convnext_processor.ts";
 * const processor = new ConvNextImageProcessor({ size: { shortest_edge: 224 } });
 * console.log(processor.outputSize); // { height: 224, width: 224 }
 * ```
 */
export class ConvNextImageProcessor extends BaseImageProcessor {
  /** The name preprocessor_config.json's `image_processor_type` gives this class. */
  static readonly processorType: string = "ConvNextImageProcessor";

  /**
   * Creates a processor.
   *
   * @param fields preprocessor_config.json's fields over HF's defaults (`size` may be an int,
   * read as the shortest edge).
   * @param source Where the fields came from, for errors.
   * @throws {ProcessorError} Naming the source when a field is wrong.
   */
  constructor(fields: Record<string, unknown> = {}, source = "image processor") {
    const config = mergeFields(CONVNEXT_PROCESSOR_DEFAULTS, fields, source);
    config.image_processor_type = ConvNextImageProcessor.processorType;
    const size = parseSizeDict(config.size, "size", false, source);
    if (size.shortest_edge === undefined) {
      throw new ProcessorError(
        source,
        `size must hold "shortest_edge" for ConvNextImageProcessor, got ${
          JSON.stringify(config.size)
        }`,
      );
    }
    config.size = size;
    const pct = config.crop_pct;
    if (typeof pct !== "number" || !(pct > 0) || !Number.isFinite(pct)) {
      throw new ProcessorError(source, `crop_pct must be a positive number, got ${pct}`);
    }
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
  ): Promise<ConvNextImageProcessor> {
    const { fields, path } = await readProcessorFields(dir, options);
    return new ConvNextImageProcessor(fields, path);
  }
}
