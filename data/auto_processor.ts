/**
 * AutoImageProcessor, as Transformers': reads `preprocessor_config.json` and builds the class it
 * names. The processor classes Tessera has are listed here, one line each.
 *
 * @module
 */

import { readProcessorFields } from "./base_image_processor.ts";
import {
  type ImageProcessor,
  type ImageProcessorClass,
  ImageProcessorRegistry,
} from "./image_processor.ts";
import { BitImageProcessor, DINOV2_PROCESSOR } from "./bit_processor.ts";
import { ConvNextImageProcessor } from "./convnext_processor.ts";
import { ViTImageProcessor } from "./processor.ts";

/** The processor classes; the first is the default for a file that names none. */
export const IMAGE_PROCESSOR_CLASSES: readonly ImageProcessorClass[] = [
  ViTImageProcessor,
  BitImageProcessor,
  ConvNextImageProcessor,
];

/**
 * preprocessor_config.json's fields for a model folder that has none, by model_type (the
 * processor its family's checkpoints ship with); ViTImageProcessor at the model's image size
 * for the others.
 */
export const DEFAULT_PROCESSOR_FIELDS: Readonly<
  Record<string, (config: { image_size: number }) => Record<string, unknown>>
> = {
  dinov2: () => ({ ...DINOV2_PROCESSOR }),
  // facebook/convnext-tiny-224's: shortest edge to size / crop_pct, bicubic, center crop.
  convnext: (config) => ({
    image_processor_type: "ConvNextImageProcessor",
    size: { shortest_edge: config.image_size },
    crop_pct: 224 / 256,
    resample: 3,
    image_mean: [0.485, 0.456, 0.406],
    image_std: [0.229, 0.224, 0.225],
  }),
};

/** The registry AutoImageProcessor reads: {@link IMAGE_PROCESSOR_CLASSES}. */
export const IMAGE_PROCESSORS: ImageProcessorRegistry = new ImageProcessorRegistry(
  IMAGE_PROCESSOR_CLASSES,
);

/**
 * Builds the image processor a model folder's preprocessor_config.json names
 * (`image_processor_type`, else `feature_extractor_type`; ViTImageProcessor when it names none).
 *
 * @example
 * ```ts
 * import { AutoImageProcessor } from "./auto_processor.ts";
 * const processor = AutoImageProcessor.fromConfig({
 *   image_processor_type: "ViTImageProcessor",
 *   size: { height: 32, width: 32 },
 * });
 * console.log(processor.outputSize); // { height: 32, width: 32 }
 * ```
 */
export class AutoImageProcessor {
  /**
   * Reads `dir/preprocessor_config.json` and builds the processor it names.
   *
   * @param dir The model folder, or a Hub id when no folder has that name.
   * @param options The Hub revision ("main" by default).
   * @returns The processor.
   * @throws {FileError|ProcessorError} Naming the file.
   */
  static async fromPretrained(
    dir: string,
    options: { revision?: string } = {},
  ): Promise<ImageProcessor> {
    const { fields, path } = await readProcessorFields(dir, options);
    return IMAGE_PROCESSORS.fromConfig(fields, path);
  }

  /**
   * Builds the processor that preprocessor_config.json's fields name.
   *
   * @param fields The parsed file.
   * @param source Where it came from, for errors.
   * @returns The processor.
   * @throws {ProcessorError} Naming the source when the class is unknown or a field is wrong.
   */
  static fromConfig(fields: Record<string, unknown>, source = "image processor"): ImageProcessor {
    return IMAGE_PROCESSORS.fromConfig(fields, source);
  }

  /**
   * The processor a model gets when its folder has no preprocessor_config.json: its family's
   * (DINOv2's BitImageProcessor), else ViTImageProcessor at the model's image size.
   *
   * @param config The model's config.
   * @returns The processor.
   */
  static defaultFor(config: { model_type: string; image_size: number }): ImageProcessor {
    const fields = DEFAULT_PROCESSOR_FIELDS[config.model_type]?.(config) ??
      { image_processor_type: "ViTImageProcessor", size: config.image_size };
    return IMAGE_PROCESSORS.fromConfig(fields, `${config.model_type}'s default processor`);
  }

  /**
   * Adds a processor class, as Transformers' `AutoImageProcessor.register`.
   *
   * @param cls The class, named by its `processorType`.
   */
  static register(cls: ImageProcessorClass): void {
    IMAGE_PROCESSORS.register(cls);
  }
}
