/**
 * Resizing exactly as PIL's `Image.resize` does for 8-bit RGB: separable convolution,
 * horizontal pass then vertical, with the filter's support widened by the scale on downscale
 * (which antialiases), fixed-point coefficients of 22 fractional bits, and rounding back to
 * uint8 after each pass. NEAREST samples pixel centres, as PIL's affine transform does.
 *
 * @module
 */

import type { RgbImage } from "./image.ts";

/** PIL's resampling filters (values as `PIL.Image.Resampling`). */
export type Resample = "nearest" | "bilinear" | "bicubic";

/** PIL's numeric codes of the filters, as preprocessor_config.json stores them. */
export const RESAMPLE_CODES: Record<number, Resample> = {
  0: "nearest",
  2: "bilinear",
  3: "bicubic",
};

const PRECISION_BITS = 32 - 8 - 2;

interface Filter {
  support: number;
  weight: (x: number) => number;
}

const FILTERS: Record<"bilinear" | "bicubic", Filter> = {
  bilinear: {
    support: 1,
    weight: (x) => {
      const a = Math.abs(x);
      return a < 1 ? 1 - a : 0;
    },
  },
  bicubic: {
    support: 2,
    weight: (x) => {
      const a = Math.abs(x);
      const A = -0.5;
      if (a < 1) return ((A + 2) * a - (A + 3)) * a * a + 1;
      if (a < 2) return (((a - 5) * a + 8) * a - 4) * A;
      return 0;
    },
  },
};

interface Coefficients {
  ksize: number;
  bounds: Int32Array;
  weights: Int32Array;
}

/** PIL's precompute_coeffs followed by normalize_coeffs_8bpc. */
function coefficients(inSize: number, outSize: number, filter: Filter): Coefficients {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = filter.support * filterScale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const weights = new Int32Array(outSize * ksize);
  const k = new Float64Array(ksize);
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const ss = 1 / filterScale;
    // C's (int) cast truncates toward zero.
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    let total = 0;
    for (let x = 0; x < xmax; x++) {
      const w = filter.weight((x + xmin - center + 0.5) * ss);
      k[x] = w;
      total += w;
    }
    for (let x = 0; x < ksize; x++) {
      const w = x < xmax ? (total !== 0 ? k[x] / total : k[x]) : 0;
      weights[xx * ksize + x] = w < 0
        ? Math.trunc(-0.5 + w * (1 << PRECISION_BITS))
        : Math.trunc(0.5 + w * (1 << PRECISION_BITS));
    }
    bounds[2 * xx] = xmin;
    bounds[2 * xx + 1] = xmax;
  }
  return { ksize, bounds, weights };
}

function clip8(v: number): number {
  const s = v >> PRECISION_BITS;
  return s < 0 ? 0 : s > 255 ? 255 : s;
}

function horizontal(src: RgbImage, width: number, rowFirst: number, rows: number, c: Coefficients) {
  const out = new Uint8Array(width * rows * 3);
  const half = 1 << (PRECISION_BITS - 1);
  for (let y = 0; y < rows; y++) {
    const rowBase = (y + rowFirst) * src.width * 3;
    for (let xx = 0; xx < width; xx++) {
      const xmin = c.bounds[2 * xx];
      const xmax = c.bounds[2 * xx + 1];
      const kb = xx * c.ksize;
      let r = half;
      let g = half;
      let b = half;
      for (let x = 0; x < xmax; x++) {
        const w = c.weights[kb + x];
        const p = rowBase + (x + xmin) * 3;
        r += src.data[p] * w;
        g += src.data[p + 1] * w;
        b += src.data[p + 2] * w;
      }
      const o = (y * width + xx) * 3;
      out[o] = clip8(r);
      out[o + 1] = clip8(g);
      out[o + 2] = clip8(b);
    }
  }
  return { width, height: rows, data: out };
}

function vertical(src: RgbImage, height: number, c: Coefficients): RgbImage {
  const width = src.width;
  const out = new Uint8Array(width * height * 3);
  const half = 1 << (PRECISION_BITS - 1);
  for (let yy = 0; yy < height; yy++) {
    const ymin = c.bounds[2 * yy];
    const ymax = c.bounds[2 * yy + 1];
    const kb = yy * c.ksize;
    for (let x = 0; x < width; x++) {
      let r = half;
      let g = half;
      let b = half;
      for (let y = 0; y < ymax; y++) {
        const w = c.weights[kb + y];
        const p = ((y + ymin) * width + x) * 3;
        r += src.data[p] * w;
        g += src.data[p + 1] * w;
        b += src.data[p + 2] * w;
      }
      const o = (yy * width + x) * 3;
      out[o] = clip8(r);
      out[o + 1] = clip8(g);
      out[o + 2] = clip8(b);
    }
  }
  return { width, height, data: out };
}

/**
 * PIL's NEAREST: `ImagingScaleAffine`, which walks source coordinates from each pixel centre
 * by repeated double additions and truncates them.
 */
function nearest(src: RgbImage, width: number, height: number): RgbImage {
  const out = new Uint8Array(width * height * 3);
  const sx = src.width / width;
  const sy = src.height / height;
  const xin = new Int32Array(width);
  let xo = sx * 0.5;
  for (let x = 0; x < width; x++) {
    xin[x] = Math.min(src.width - 1, Math.trunc(xo));
    xo += sx;
  }
  let yo = sy * 0.5;
  for (let y = 0; y < height; y++) {
    const yin = Math.min(src.height - 1, Math.trunc(yo));
    yo += sy;
    for (let x = 0; x < width; x++) {
      const p = (yin * src.width + xin[x]) * 3;
      const o = (y * width + x) * 3;
      out[o] = src.data[p];
      out[o + 1] = src.data[p + 1];
      out[o + 2] = src.data[p + 2];
    }
  }
  return { width, height, data: out };
}

/**
 * Resizes like `PIL.Image.resize((width, height), resample)`.
 *
 * @param image The source.
 * @param width Target width.
 * @param height Target height.
 * @param resample The filter (PIL's default for ViT processors is bilinear).
 * @returns A new image (the source itself when the size is unchanged).
 * @example
 * ```ts
 * import { resize } from "./resize.ts";
 * const img = { width: 2, height: 1, data: new Uint8Array([0, 0, 0, 255, 255, 255]) };
 * console.log(resize(img, 1, 1, "bilinear").data); // Uint8Array [128, 128, 128]
 * ```
 */
export function resize(
  image: RgbImage,
  width: number,
  height: number,
  resample: Resample = "bilinear",
): RgbImage {
  if (!(width > 0 && height > 0 && Number.isInteger(width) && Number.isInteger(height))) {
    throw new Error(`resize: invalid target size ${width}×${height}`);
  }
  if (image.width === width && image.height === height) return image;
  if (resample === "nearest") return nearest(image, width, height);
  const filter = FILTERS[resample];
  const needH = width !== image.width;
  const needV = height !== image.height;
  const ch = coefficients(image.width, width, filter);
  const cv = coefficients(image.height, height, filter);
  let current = image;
  if (needH) {
    // Only the source rows the vertical pass reads.
    const first = needV ? cv.bounds[0] : 0;
    const last = needV ? cv.bounds[2 * height - 2] + cv.bounds[2 * height - 1] : image.height;
    if (needV) { for (let i = 0; i < height; i++) cv.bounds[2 * i] -= first; }
    current = horizontal(image, width, first, last - first, ch);
  }
  if (needV) current = vertical(current, height, cv);
  return current;
}
