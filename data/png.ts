/**
 * PNG decoding and encoding through fast-png, converted to RGB as PIL's `convert("RGB")`:
 * gray replicated, alpha dropped (not blended), palettes expanded, 16-bit samples reduced to
 * their high byte (as PIL reads 16-bit RGB), interlaced images de-interlaced.
 *
 * @module
 */

import { decode, encode } from "fast-png";
import { checkPixelLimit, ImageDecodeError, type RgbImage } from "./image.ts";

/** Width and height from the IHDR chunk. */
export function pngHeader(bytes: Uint8Array, name: string): { width: number; height: number } {
  if (bytes.length < 33) throw new ImageDecodeError(name, "truncated PNG (no complete header)");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const type = String.fromCharCode(...bytes.subarray(12, 16));
  if (type !== "IHDR") throw new ImageDecodeError(name, "corrupt PNG (first chunk is not IHDR)");
  return { width: view.getUint32(16), height: view.getUint32(20) };
}

/**
 * Decodes a PNG to RGB.
 *
 * @param bytes The file.
 * @param name The source, for errors.
 * @param maxPixels Largest accepted width × height.
 * @returns The image.
 * @throws {ImageDecodeError} On a malformed, truncated or oversized file.
 */
export function decodePng(bytes: Uint8Array, name: string, maxPixels: number): RgbImage {
  const header = pngHeader(bytes, name);
  checkPixelLimit(name, header.width, header.height, maxPixels);
  let png: ReturnType<typeof decode>;
  try {
    png = decode(bytes, { checkCrc: true });
  } catch (error) {
    const message = (error as Error).message;
    const truncated = /end of|out of bounds|offset|unexpected end|IEND/i.test(message);
    throw new ImageDecodeError(name, `${truncated ? "truncated" : "corrupt"} PNG (${message})`);
  }
  const { width, height, channels, depth } = png;
  const pixels = width * height;
  const src = png.data;
  const expected = pixels * channels;
  if (src.length < expected) throw new ImageDecodeError(name, "truncated PNG (missing image data)");
  const out = new Uint8Array(pixels * 3);
  const shift = depth === 16 ? 8 : 0;
  if (png.palette) {
    const palette = png.palette;
    for (let i = 0; i < pixels; i++) {
      const entry = palette[src[i]];
      if (!entry) throw new ImageDecodeError(name, `corrupt PNG (palette index ${src[i]} missing)`);
      out[3 * i] = entry[0];
      out[3 * i + 1] = entry[1];
      out[3 * i + 2] = entry[2];
    }
  } else if (channels === 1 && depth === 16) {
    // PIL opens 16-bit gray as mode "I" and convert("RGB") clips it to 255.
    for (let i = 0; i < pixels; i++) {
      out[3 * i] = out[3 * i + 1] = out[3 * i + 2] = Math.min(src[i], 255);
    }
  } else if (channels === 1 || channels === 2) {
    const scale = depth < 8 ? 255 / (2 ** depth - 1) : 1;
    for (let i = 0; i < pixels; i++) {
      const v = depth < 8 ? Math.round(src[i * channels] * scale) : src[i * channels] >> shift;
      out[3 * i] = out[3 * i + 1] = out[3 * i + 2] = v;
    }
  } else {
    for (let i = 0; i < pixels; i++) {
      out[3 * i] = src[i * channels] >> shift;
      out[3 * i + 1] = src[i * channels + 1] >> shift;
      out[3 * i + 2] = src[i * channels + 2] >> shift;
    }
  }
  return { width, height, data: out };
}

/**
 * Encodes an RGB image as an 8-bit PNG.
 *
 * @param image The image.
 * @returns The file's bytes.
 */
export function encodePng(image: RgbImage): Uint8Array {
  return encode({
    width: image.width,
    height: image.height,
    data: image.data,
    channels: 3,
    depth: 8,
  });
}
