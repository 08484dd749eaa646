/**
 * Images in memory and decoding from bytes: JPEG through jpeg-js and PNG through fast-png,
 * converted to 8-bit RGB as PIL's `Image.convert("RGB")` does (alpha dropped, not blended).
 * No file I/O here.
 *
 * @module
 */

import { decodeJpeg, scanJpeg } from "./jpeg.ts";
import { decodePng, pngHeader } from "./png.ts";

/** An 8-bit RGB image, rows top to bottom, pixels interleaved R, G, B. */
export interface RgbImage {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** `width * height * 3` bytes. */
  data: Uint8Array;
}

/** PIL's `Image.MAX_IMAGE_PIXELS`: larger images are refused as decompression bombs. */
export const MAX_IMAGE_PIXELS = 89_478_485;

/** Options of {@link decodeImage}. */
export interface DecodeOptions {
  /** Largest accepted width × height (PIL's limit by default). */
  maxPixels?: number;
  /** Name of the source, for error messages. */
  name?: string;
}

/** An image that cannot be decoded; the message says which and why. */
export class ImageDecodeError extends Error {
  /**
   * Creates the error; its message is `name: problem`.
   *
   * @param source The image's name or path.
   * @param problem What is wrong.
   */
  constructor(readonly source: string, readonly problem: string) {
    super(`${source}: ${problem}`);
    this.name = "ImageDecodeError";
  }
}

/** The formats {@link decodeImage} recognises by their signature. */
export type ImageFormat = "jpeg" | "png";

/** Detects the format from the first bytes, or null. */
export function sniffFormat(bytes: Uint8Array): ImageFormat | null {
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) {
    return "jpeg";
  }
  const png = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (bytes.length >= 8 && png.every((b, i) => bytes[i] === b)) return "png";
  return null;
}

/**
 * Decodes a JPEG or PNG file to RGB.
 *
 * @param bytes The file's bytes.
 * @param options Pixel limit and a name for errors.
 * @returns The image.
 * @throws {ImageDecodeError} For empty, truncated, corrupt, unknown or oversized files.
 * @example
 * ```ts
 * import { decodeImage } from "./image.ts";
 * import { encodePng } from "./png.ts";
 * const png = encodePng({ width: 1, height: 1, data: new Uint8Array([255, 0, 0]) });
 * console.log(decodeImage(png).data); // Uint8Array [255, 0, 0]
 * ```
 */
export function decodeImage(bytes: Uint8Array, options: DecodeOptions = {}): RgbImage {
  const name = options.name ?? "image";
  const maxPixels = options.maxPixels ?? MAX_IMAGE_PIXELS;
  if (bytes.byteLength === 0) throw new ImageDecodeError(name, "empty file");
  const format = sniffFormat(bytes);
  if (!format) {
    throw new ImageDecodeError(name, "not a JPEG or PNG file (unrecognised signature)");
  }
  return format === "jpeg" ? decodeJpeg(bytes, name, maxPixels) : decodePng(bytes, name, maxPixels);
}

/**
 * Checks a file without decoding its pixels: signature, header, pixel limit, and (JPEG) the
 * end-of-image marker or (PNG) the IEND chunk, which catches empty, non-image, truncated and
 * oversized files cheaply. Corruption inside compressed data is only found by decoding.
 *
 * @param bytes The file.
 * @param options Pixel limit and a name for errors.
 * @returns Width, height and format.
 * @throws {ImageDecodeError} Naming the problem.
 */
export function validateImage(
  bytes: Uint8Array,
  options: DecodeOptions = {},
): { width: number; height: number; format: ImageFormat } {
  const name = options.name ?? "image";
  if (bytes.byteLength === 0) throw new ImageDecodeError(name, "empty file");
  const format = sniffFormat(bytes);
  if (!format) throw new ImageDecodeError(name, "not a JPEG or PNG file (unrecognised signature)");
  const maxPixels = options.maxPixels ?? MAX_IMAGE_PIXELS;
  if (format === "jpeg") {
    const info = scanJpeg(bytes, name);
    checkPixelLimit(name, info.width, info.height, maxPixels);
    return { width: info.width, height: info.height, format };
  }
  const { width, height } = pngHeader(bytes, name);
  checkPixelLimit(name, width, height, maxPixels);
  const iend = [0x49, 0x45, 0x4e, 0x44];
  let found = false;
  for (let i = bytes.length - 8; i >= Math.max(8, bytes.length - 64) && !found; i--) {
    found = iend.every((b, k) => bytes[i + k] === b);
  }
  if (!found) throw new ImageDecodeError(name, "truncated PNG (no IEND chunk)");
  return { width, height, format };
}

/**
 * Throws when `width × height` exceeds the limit, as PIL's DecompressionBombError does.
 *
 * @param name The image, for the message.
 * @param width Declared width.
 * @param height Declared height.
 * @param maxPixels The limit.
 */
export function checkPixelLimit(name: string, width: number, height: number, maxPixels: number) {
  if (width * height > maxPixels) {
    throw new ImageDecodeError(
      name,
      `image of ${width}×${height} = ${width * height} pixels exceeds the limit of ${maxPixels} ` +
        "(possible decompression bomb)",
    );
  }
  if (width <= 0 || height <= 0) {
    throw new ImageDecodeError(name, `invalid size ${width}×${height}`);
  }
}
