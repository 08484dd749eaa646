/**
 * JPEG decoding through jpeg-js, with a marker scan first so that oversized and truncated files
 * are refused before any pixel is decoded: baseline, progressive, any chroma subsampling,
 * grayscale, and CMYK/YCCK with Adobe's marker. Encoding lives in `jpeg_encode.ts`.
 *
 * @module
 */

import jpeg from "jpeg-js";
import { checkPixelLimit, ImageDecodeError, type RgbImage } from "./image.ts";

/** What the marker scan found. */
export interface JpegInfo {
  /** Width from the frame header. */
  width: number;
  /** Height from the frame header. */
  height: number;
  /** Colour components: 1 gray, 3 YCbCr/RGB, 4 CMYK/YCCK. */
  components: number;
  /** Progressive (SOF2) rather than sequential. */
  progressive: boolean;
  /** Horizontal and vertical sampling factors of each component. */
  sampling: [number, number][];
  /** Whether an Adobe APP14 marker is present. */
  adobe: boolean;
  /** Adobe's colour transform code (0 none, 1 YCbCr, 2 YCCK), when the marker is present. */
  adobeTransform: number;
}

/**
 * Walks the marker segments up to the first scan, reading the frame header, and checks that
 * the file ends with an end-of-image marker.
 *
 * @param bytes The file.
 * @param name The source, for errors.
 * @returns Size, components and coding.
 * @throws {ImageDecodeError} When markers are malformed or the file is truncated.
 */
export function scanJpeg(bytes: Uint8Array, name: string): JpegInfo {
  let info: JpegInfo | null = null;
  let adobeSeen = false;
  let adobeTransform = 0;
  let at = 2;
  let sawScan = false;
  while (at + 4 <= bytes.length) {
    if (bytes[at] !== 0xff) {
      throw new ImageDecodeError(name, `corrupt JPEG (no marker at byte ${at})`);
    }
    const marker = bytes[at + 1];
    if (marker === 0xff) {
      at++;
      continue;
    }
    if (marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      at += 2;
      continue;
    }
    const length = (bytes[at + 2] << 8) | bytes[at + 3];
    if (length < 2 || at + 2 + length > bytes.length) {
      throw new ImageDecodeError(name, "truncated JPEG (ended inside a header segment)");
    }
    const isFrame = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 &&
      marker !== 0xcc;
    if (isFrame) {
      if (length < 8) throw new ImageDecodeError(name, "corrupt JPEG (short frame header)");
      if (![0xc0, 0xc1, 0xc2].includes(marker)) {
        throw new ImageDecodeError(
          name,
          `unsupported JPEG coding (SOF${marker - 0xc0}: lossless or arithmetic)`,
        );
      }
      const components = bytes[at + 9];
      if (length < 8 + 3 * components) {
        throw new ImageDecodeError(name, "corrupt JPEG (short frame header)");
      }
      const sampling: [number, number][] = [];
      for (let c = 0; c < components; c++) {
        const hv = bytes[at + 11 + 3 * c];
        sampling.push([hv >> 4, hv & 15]);
      }
      info = {
        height: (bytes[at + 5] << 8) | bytes[at + 6],
        width: (bytes[at + 7] << 8) | bytes[at + 8],
        components,
        progressive: marker === 0xc2,
        sampling,
        adobe: false,
        adobeTransform: 0,
      };
    }
    if (marker === 0xee && length >= 14) {
      const tag = String.fromCharCode(...bytes.subarray(at + 4, at + 9));
      if (tag === "Adobe") {
        adobeSeen = true;
        adobeTransform = bytes[at + 15];
      }
    }
    if (marker === 0xda) {
      sawScan = true;
      break;
    }
    at += 2 + length;
  }
  if (!info) throw new ImageDecodeError(name, "corrupt JPEG (no frame header before the data)");
  info.adobe = adobeSeen;
  info.adobeTransform = adobeTransform;
  if (!sawScan) throw new ImageDecodeError(name, "truncated JPEG (no scan data)");
  let end = bytes.length;
  while (end > 2 && bytes[end - 1] === 0x00) end--;
  if (!(bytes[end - 2] === 0xff && bytes[end - 1] === 0xd9)) {
    // Some writers append junk after EOI; accept an EOI near the end.
    const tail = bytes.subarray(Math.max(0, end - 4096), end);
    let found = false;
    for (let i = tail.length - 2; i >= 0; i--) {
      if (tail[i] === 0xff && tail[i + 1] === 0xd9) {
        found = true;
        break;
      }
    }
    if (!found) throw new ImageDecodeError(name, "truncated JPEG (ended inside scan)");
  }
  return info;
}

/**
 * Decodes a JPEG to RGB.
 *
 * @param bytes The file.
 * @param name The source, for errors.
 * @param maxPixels Largest accepted width × height.
 * @returns The image.
 * @throws {ImageDecodeError} On a malformed, truncated or oversized file.
 */
export function decodeJpeg(bytes: Uint8Array, name: string, maxPixels: number): RgbImage {
  const info = scanJpeg(bytes, name);
  checkPixelLimit(name, info.width, info.height, maxPixels);
  if (![1, 3, 4].includes(info.components)) {
    throw new ImageDecodeError(name, `unsupported JPEG with ${info.components} components`);
  }
  // YCbCr images are converted here rather than by jpeg-js, with libjpeg's fancy chroma
  // upsampling and integer colour tables, which is what PIL's decoder does.
  // With an Adobe marker jpeg-js applies the transform its code names; it cannot be turned off.
  const ycc = info.components === 3 && !info.adobe;
  const rgbAsIs = info.components === 3 && info.adobe && info.adobeTransform === 0;
  let decoded: { width: number; height: number; data: Uint8Array };
  try {
    decoded = jpeg.decode(bytes, {
      useTArray: true,
      formatAsRGBA: false,
      tolerantDecoding: false,
      colorTransform: ycc || rgbAsIs ? false : undefined,
      maxResolutionInMP: Math.max(1, Math.ceil(maxPixels / 1e6)),
      maxMemoryUsageInMB: 2048,
    });
  } catch (error) {
    throw new ImageDecodeError(name, `corrupt JPEG (${(error as Error).message})`);
  }
  if (decoded.width !== info.width || decoded.height !== info.height) {
    throw new ImageDecodeError(name, "corrupt JPEG (decoded size differs from its header)");
  }
  const data = ycc ? yccToRgb(decoded.data, info) : decoded.data;
  return { width: decoded.width, height: decoded.height, data };
}

/**
 * Rebuilds each chroma plane from jpeg-js's replicated output, upsamples it as libjpeg's
 * `h2v1_fancy_upsample` and `h2v2_fancy_upsample` do (triangle filter, libjpeg's rounding
 * biases), and converts with libjpeg's fixed-point YCbCr tables.
 */
function yccToRgb(planar: Uint8Array, info: JpegInfo): Uint8Array {
  const { width: w, height: h } = info;
  const hmax = Math.max(...info.sampling.map((s) => s[0]));
  const vmax = Math.max(...info.sampling.map((s) => s[1]));
  const full: Uint8Array[] = [0, 1, 2].map((c) => {
    const [hc, vc] = info.sampling[c];
    const sx = hmax / hc;
    const sy = vmax / vc;
    const plane = new Uint8Array(w * h);
    for (let i = 0; i < w * h; i++) plane[i] = planar[3 * i + c];
    if (sx === 1 && sy === 1) return plane;
    const cw = Math.ceil(w / sx);
    const chh = Math.ceil(h / sy);
    const small = new Uint8Array(cw * chh);
    for (let y = 0; y < chh; y++) {
      for (let x = 0; x < cw; x++) small[y * cw + x] = plane[y * sy * w + x * sx];
    }
    return upsample(small, cw, chh, sx, sy, w, h) ?? plane;
  });
  const out = new Uint8Array(w * h * 3);
  const [Y, Cb, Cr] = full;
  for (let i = 0; i < w * h; i++) {
    const y = Y[i];
    const cb = Cb[i];
    const cr = Cr[i];
    out[3 * i] = clamp(y + CR_R[cr]);
    out[3 * i + 1] = clamp(y + ((CB_G[cb] + CR_G[cr]) >> 16));
    out[3 * i + 2] = clamp(y + CB_B[cb]);
  }
  return out;
}

function clamp(v: number): number {
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

const FIX = (x: number) => Math.trunc(x * 65536 + 0.5);
const CR_R = new Int32Array(256);
const CB_B = new Int32Array(256);
const CR_G = new Int32Array(256);
const CB_G = new Int32Array(256);
for (let i = 0; i < 256; i++) {
  const x = i - 128;
  CR_R[i] = (FIX(1.402) * x + 32768) >> 16;
  CB_B[i] = (FIX(1.772) * x + 32768) >> 16;
  CR_G[i] = -FIX(0.71414) * x;
  CB_G[i] = -FIX(0.34414) * x + 32768;
}

/** libjpeg's fancy upsampling for 2×1 and 2×2 (else null: the caller keeps replication). */
function upsample(
  src: Uint8Array,
  cw: number,
  ch: number,
  sx: number,
  sy: number,
  w: number,
  h: number,
): Uint8Array | null {
  if (sx !== 2 || (sy !== 1 && sy !== 2) || cw < 2) return null;
  const wide = cw * 2;
  const out = new Uint8Array(w * h);
  const row = new Uint8Array(wide);
  if (sy === 1) {
    for (let y = 0; y < h; y++) {
      const base = y * cw;
      row[0] = src[base];
      row[1] = (src[base] * 3 + src[base + 1] + 2) >> 2;
      for (let i = 1; i < cw - 1; i++) {
        const v = src[base + i] * 3;
        row[2 * i] = (v + src[base + i - 1] + 1) >> 2;
        row[2 * i + 1] = (v + src[base + i + 1] + 2) >> 2;
      }
      const l = cw - 1;
      row[2 * l] = (src[base + l] * 3 + src[base + l - 1] + 1) >> 2;
      row[2 * l + 1] = src[base + l];
      out.set(row.subarray(0, w), y * w);
    }
    return out;
  }
  const sums = new Int32Array(cw);
  for (let y = 0; y < h; y++) {
    const cy = y >> 1;
    // The nearer neighbour row: above for even output rows, below for odd ones (edges repeat).
    const ny = y % 2 === 0 ? Math.max(cy - 1, 0) : Math.min(cy + 1, ch - 1);
    for (let i = 0; i < cw; i++) sums[i] = src[cy * cw + i] * 3 + src[ny * cw + i];
    row[0] = (sums[0] * 4 + 8) >> 4;
    row[1] = (sums[0] * 3 + sums[1] + 7) >> 4;
    for (let i = 1; i < cw - 1; i++) {
      row[2 * i] = (sums[i] * 3 + sums[i - 1] + 8) >> 4;
      row[2 * i + 1] = (sums[i] * 3 + sums[i + 1] + 7) >> 4;
    }
    const l = cw - 1;
    row[2 * l] = (sums[l] * 3 + sums[l - 1] + 8) >> 4;
    row[2 * l + 1] = (sums[l] * 4 + 7) >> 4;
    out.set(row.subarray(0, w), y * w);
  }
  return out;
}

export { encodeJpeg } from "./jpeg_encode.ts";
