/**
 * What the Trainer, checkpoints, evaluation and prediction need of an image processor, and the
 * registry that picks a processor class from `preprocessor_config.json`, as Transformers'
 * AutoImageProcessor: by `image_processor_type`, else by `feature_extractor_type` (whose
 * "FeatureExtractor" reads as "ImageProcessor", as Transformers maps the old names). No class
 * is named here: `auto_processor.ts` builds the registry from its list.
 *
 * @module
 */

import type { Tensor } from "../tensor/tensor.ts";
import type { RgbImage } from "./image.ts";
import { type ImageProcessorConfig, ProcessorError } from "./pixels.ts";
import type { Resample } from "./resize.ts";

/** An image processor: preprocessing in Hugging Face's names, and its file. */
export interface ImageProcessor {
  /** The configuration, in HF's names, which data-loading workers apply. */
  readonly config: ImageProcessorConfig;
  /** The output height and width. */
  readonly outputSize: { height: number; width: number };
  /** The PIL filter of `resample`. */
  readonly resampleFilter: Resample;
  /**
   * One image as [3, H, W] floats (no GPU), for data-loading workers.
   *
   * @param image The image.
   * @param name The image's name, for errors.
   * @returns Channel-first values.
   */
  processToArray(image: RgbImage, name?: string): Float32Array;
  /**
   * Preprocesses a batch as the processor's `__call__(images, return_tensors="pt")`.
   *
   * @param images One image or several.
   * @returns `pixelValues` of shape [N, 3, H, W].
   */
  preprocess(images: RgbImage | RgbImage[]): Promise<{ pixelValues: Tensor }>;
  /**
   * Writes `dir/preprocessor_config.json`, naming the class in `image_processor_type`.
   *
   * @param dir The model folder.
   */
  savePretrained(dir: string): Promise<void>;
}

/** A processor class: built from preprocessor_config.json's fields, and named by them. */
export interface ImageProcessorClass {
  /**
   * Builds the processor.
   *
   * @param fields preprocessor_config.json's fields.
   * @param source Where they came from, for errors.
   */
  new (fields?: Record<string, unknown>, source?: string): ImageProcessor;
  /** The class name, as preprocessor_config.json's `image_processor_type` writes it. */
  readonly processorType: string;
}

/**
 * Processor classes by `image_processor_type`; the first is the default for a file that names
 * none.
 *
 * @example
 * ```ts
 * import { ImageProcessorRegistry } from "./image_processor.ts";
 * import { ViTImageProcessor } from "./processor.ts";
 * const registry = new ImageProcessorRegistry([ViTImageProcessor]);
 * console.log(registry.classFor({ image_processor_type: "ViTImageProcessor" }).processorType);
 * // ViTImageProcessor
 * ```
 */
export class ImageProcessorRegistry {
  readonly #classes = new Map<string, ImageProcessorClass>();

  /**
   * Creates the registry.
   *
   * @param classes The classes; the first is the default.
   */
  constructor(classes: Iterable<ImageProcessorClass> = []) {
    for (const cls of classes) this.register(cls);
  }

  /**
   * Adds a class, or replaces the one of its name.
   *
   * @param cls The class.
   */
  register(cls: ImageProcessorClass): void {
    this.#classes.set(cls.processorType, cls);
  }

  /** The registered class names, the default first. */
  get processorTypes(): string[] {
    return [...this.#classes.keys()];
  }

  /**
   * The class that preprocessor_config.json's fields name.
   *
   * @param fields The fields.
   * @param source Where they came from, for errors.
   * @returns The class: by `image_processor_type`, else `feature_extractor_type`, else the
   * default.
   * @throws {ProcessorError} Naming the file when the named class is unknown, or none is
   * registered.
   */
  classFor(fields: Record<string, unknown>, source = "image processor"): ImageProcessorClass {
    const names = this.processorTypes;
    const known = names.map((n) => JSON.stringify(n)).join(", ");
    const [key, named] = fields.image_processor_type !== undefined
      ? ["image_processor_type", fields.image_processor_type]
      : ["feature_extractor_type", fields.feature_extractor_type];
    if (named === undefined) {
      if (names.length === 0) throw new ProcessorError(source, "no image processor is registered");
      return this.#classes.get(names[0])!;
    }
    const type = typeof named === "string"
      ? named.replace("FeatureExtractor", "ImageProcessor")
      : "";
    const cls = this.#classes.get(type);
    if (!cls) {
      throw new ProcessorError(
        source,
        `${key} ${JSON.stringify(named)} is not one of ${known}`,
      );
    }
    return cls;
  }

  /**
   * Builds the processor that preprocessor_config.json's fields name, from them.
   *
   * @param fields The fields.
   * @param source Where they came from, for errors.
   * @returns The processor.
   * @throws {ProcessorError} Naming the file when the class is unknown or a field is wrong.
   */
  fromConfig(fields: Record<string, unknown>, source = "image processor"): ImageProcessor {
    if (!fields || typeof fields !== "object" || Array.isArray(fields)) {
      throw new ProcessorError(source, "is not a JSON object");
    }
    return new (this.classFor(fields, source))(fields, source);
  }
}
