/**
 * Transformers' image transforms on 8-bit RGB images, with its integer arithmetic: the size a
 * shortest-edge resize gives (`get_resize_output_image_size`, default_to_square false), the
 * center crop's offsets and zero padding (`center_crop`), and the resize-then-crop plan of each
 * processor class (ViTImageProcessor, BitImageProcessor, ConvNextImageProcessor). Pure and
 * portable, so that data-loading workers run it from the processor's config alone.
 *
 * @module
 */

import type { RgbImage } from "./image.ts";
import { type ImageProcessorConfig, ProcessorError } from "./pixels.ts";
import { RESAMPLE_CODES, resize } from "./resize.ts";

/**
 * The (height, width) that resizing the shortest edge to `size` gives, as Transformers'
 * `get_resize_output_image_size(image, size, default_to_square=False)` (torchvision's rule):
 * the long edge is `int(size * long / short)`, truncated.
 *
 * @param height Image height.
 * @param width Image width.
 * @param size The new shortest edge.
 * @returns [height, width].
 * @example
 * ```ts
 * import { shortestEdgeSize } from "./image_transforms.ts";
 * console.log(shortestEdgeSize(192, 256, 256)); // [256, 341]
 * ```
 */
export function shortestEdgeSize(height: number, width: number, size: number): [number, number] {
  const [short, long] = width <= height ? [width, height] : [height, width];
  const newLong = Math.trunc(size * long / short);
  return width <= height ? [newLong, size] : [size, newLong];
}

/** Where {@link centerCrop} takes its window, as Transformers' `center_crop` computes it. */
export interface CropBox {
  /** First row of the window, in the zero-padded image. */
  top: number;
  /** First column of the window, in the zero-padded image. */
  left: number;
  /** Zero rows added above the image (when the crop is taller than it). */
  topPad: number;
  /** Zero columns added left of the image (when the crop is wider than it). */
  leftPad: number;
}

/**
 * The window of a center crop: `top = (height - cropHeight) // 2` (floor division), likewise
 * `left`; when the crop does not fit, the image is first padded with zeros by
 * `ceil((new - old) / 2)` before it, as Transformers' `center_crop`.
 *
 * @param height Image height.
 * @param width Image width.
 * @param cropHeight Crop height.
 * @param cropWidth Crop width.
 * @returns The window and the padding.
 * @example
 * ```ts
 * import { centerCropBox } from "./image_transforms.ts";
 * console.log(centerCropBox(256, 341, 224, 224)); // { top: 16, left: 58, topPad: 0, leftPad: 0 }
 * ```
 */
export function centerCropBox(
  height: number,
  width: number,
  cropHeight: number,
  cropWidth: number,
): CropBox {
  let top = Math.floor((height - cropHeight) / 2);
  let left = Math.floor((width - cropWidth) / 2);
  if (top >= 0 && top + cropHeight <= height && left >= 0 && left + cropWidth <= width) {
    return { top, left, topPad: 0, leftPad: 0 };
  }
  const topPad = Math.ceil((Math.max(cropHeight, height) - height) / 2);
  const leftPad = Math.ceil((Math.max(cropWidth, width) - width) / 2);
  top += topPad;
  left += leftPad;
  return { top, left, topPad, leftPad };
}

/**
 * Crops the center `height`×`width` window, padding with zeros where the image is smaller, as
 * Transformers' `center_crop`.
 *
 * @param image The image.
 * @param height Crop height.
 * @param width Crop width.
 * @returns A new image of exactly that size (the image itself when it already has it).
 * @example
 * ```ts
 * import { centerCrop } from "./image_transforms.ts";
 * const img = { width: 3, height: 1, data: new Uint8Array([1, 1, 1, 2, 2, 2, 3, 3, 3]) };
 * console.log(centerCrop(img, 1, 1).data); // Uint8Array [2, 2, 2]
 * ```
 */
export function centerCrop(image: RgbImage, height: number, width: number): RgbImage {
  if (image.height === height && image.width === width) return image;
  const { top, left, topPad, leftPad } = centerCropBox(image.height, image.width, height, width);
  const out = new Uint8Array(height * width * 3);
  for (let y = 0; y < height; y++) {
    // Row of the source under this output row, in the unpadded image.
    const sy = top + y - topPad;
    if (sy < 0 || sy >= image.height) continue;
    for (let x = 0; x < width; x++) {
      const sx = left + x - leftPad;
      if (sx < 0 || sx >= image.width) continue;
      const s = (sy * image.width + sx) * 3;
      const o = (y * width + x) * 3;
      out[o] = image.data[s];
      out[o + 1] = image.data[s + 1];
      out[o + 2] = image.data[s + 2];
    }
  }
  return { width, height, data: out };
}

/** What a processor does to an image's size: an optional resize, then an optional crop. */
export interface ResizePlan {
  /** The resize's [height, width], or null for none. */
  resize: [number, number] | null;
  /** The crop's [height, width], or null for none. */
  crop: [number, number] | null;
}

function positive(v: unknown): v is number {
  return typeof v === "number" && Number.isInteger(v) && v > 0;
}

/**
 * The resize and crop that a processor's config applies to an image of the given size, by
 * `image_processor_type`:
 * - ConvNextImageProcessor: below 384, the shortest edge to `int(shortest_edge / crop_pct)` and
 *   a center crop of `shortest_edge`; from 384, a square warp without crop.
 * - BitImageProcessor: `size` as {shortest_edge} (aspect kept) or {height, width}, then the
 *   center crop of `crop_size` when `do_center_crop`.
 * - ViTImageProcessor (or none named): `size` {height, width}.
 *
 * @param config The processor config.
 * @param height Image height.
 * @param width Image width.
 * @returns The plan.
 * @example
 * ```ts
 * import { resizePlan } from "./image_transforms.ts";
 * const plan = resizePlan({
 *   image_processor_type: "ConvNextImageProcessor", do_resize: true, size: { shortest_edge: 224 },
 *   crop_pct: 0.875, resample: 3, do_rescale: true, rescale_factor: 1 / 255,
 *   do_normalize: true, image_mean: [0.5, 0.5, 0.5], image_std: [0.5, 0.5, 0.5],
 * }, 192, 256);
 * console.log(plan); // { resize: [256, 341], crop: [224, 224] }
 * ```
 */
export function resizePlan(
  config: ImageProcessorConfig,
  height: number,
  width: number,
): ResizePlan {
  const { size } = config;
  if (config.image_processor_type === "ConvNextImageProcessor") {
    if (!config.do_resize) return { resize: null, crop: null };
    const edge = size.shortest_edge!;
    if (edge >= 384) return { resize: [edge, edge], crop: null };
    const resized = shortestEdgeSize(height, width, Math.trunc(edge / (config.crop_pct ?? 0.875)));
    return { resize: resized, crop: [edge, edge] };
  }
  let resized: [number, number] | null = null;
  if (config.do_resize) {
    resized = positive(size.shortest_edge) && !positive(size.height)
      ? shortestEdgeSize(height, width, size.shortest_edge)
      : [size.height!, size.width!];
  }
  const crop = config.image_processor_type === "BitImageProcessor" && config.do_center_crop &&
      config.crop_size
    ? [config.crop_size.height, config.crop_size.width] as [number, number]
    : null;
  return { resize: resized, crop };
}

/**
 * The fixed [height, width] of every image the processor outputs, which batching needs.
 *
 * @param config The processor config.
 * @param source Where it came from, for errors.
 * @returns The output height and width.
 * @throws {ProcessorError} When the output size depends on the image (a shortest-edge resize or
 * no resize, without a crop).
 * @example
 * ```ts
 * import { outputSizeOf } from "./image_transforms.ts";
 * console.log(outputSizeOf({ do_resize: true, size: { height: 32, width: 24 }, resample: 2,
 *   do_rescale: true, rescale_factor: 1 / 255, do_normalize: false, image_mean: [0, 0, 0],
 *   image_std: [1, 1, 1] })); // { height: 32, width: 24 }
 * ```
 */
export function outputSizeOf(
  config: ImageProcessorConfig,
  source = "image processor",
): { height: number; width: number } {
  const { size } = config;
  const fail = () =>
    new ProcessorError(
      source,
      "gives images of different sizes (a shortest_edge resize, or none, without a center " +
        "crop), which cannot be batched: set do_center_crop with crop_size, or size " +
        "{height, width}",
    );
  if (config.image_processor_type === "ConvNextImageProcessor") {
    if (!config.do_resize) throw fail();
    return { height: size.shortest_edge!, width: size.shortest_edge! };
  }
  const crop = resizePlan(config, 1, 1).crop;
  if (crop) return { height: crop[0], width: crop[1] };
  if (positive(size.height) && positive(size.width)) {
    return { height: size.height, width: size.width };
  }
  throw fail();
}

/**
 * Resizes (with PIL's filter of `resample`) and crops an image as the processor does.
 *
 * @param image The image.
 * @param config The processor config.
 * @returns The image at the processor's output size.
 * @example
 * ```ts
 * import { transformImage } from "./image_transforms.ts";
 * const img = { width: 4, height: 2, data: new Uint8Array(24).fill(9) };
 * const out = transformImage(img, { image_processor_type: "BitImageProcessor", do_resize: true,
 *   size: { shortest_edge: 4 }, do_center_crop: true, crop_size: { height: 3, width: 3 },
 *   resample: 3, do_rescale: true, rescale_factor: 1 / 255, do_normalize: false,
 *   image_mean: [0, 0, 0], image_std: [1, 1, 1] });
 * console.log(out.width, out.height); // 3 3
 * ```
 */
export function transformImage(image: RgbImage, config: ImageProcessorConfig): RgbImage {
  const plan = resizePlan(config, image.height, image.width);
  let out = image;
  if (plan.resize) {
    out = resize(out, plan.resize[1], plan.resize[0], RESAMPLE_CODES[config.resample]);
  }
  if (plan.crop) out = centerCrop(out, plan.crop[0], plan.crop[1]);
  return out;
}
