/**
 * A baseline JPEG encoder (4:4:4, the standard Huffman tables, IJG quantisation tables scaled by
 * quality) that writes the same bytes as jpeg-js 0.4.4's `encode`, whose encoder rebuilds 65535
 * small arrays per call: for the generated datasets' small images that set-up took most of the
 * time. Here the tables are built once per quality and the block loop works in typed arrays.
 *
 * The arithmetic follows jpeg-js step for step (its fixed-point RGB to YCbCr tables, the float
 * AAN forward DCT of IJG's jfdctflt.c with its constants, and its rounding), since a generated
 * dataset's bytes, and so every training result on it, must not change with the encoder.
 *
 * @module
 */

import type { RgbImage } from "./image.ts";

/** Zigzag position of each coefficient in natural (row-major) order. */
// deno-fmt-ignore
const ZIGZAG = Uint8Array.of(
  0, 1, 5, 6, 14, 15, 27, 28,
  2, 4, 7, 13, 16, 26, 29, 42,
  3, 8, 12, 17, 25, 30, 41, 43,
  9, 11, 18, 24, 31, 40, 44, 53,
  10, 19, 23, 32, 39, 45, 52, 54,
  20, 22, 33, 38, 46, 51, 55, 60,
  21, 34, 37, 47, 50, 56, 59, 61,
  35, 36, 48, 49, 57, 58, 62, 63,
);

/** ITU T.81 Annex K's example quantisation tables, natural order. */
// deno-fmt-ignore
const LUMA_Q = [
  16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55,
  14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
  18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
  49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
];
// deno-fmt-ignore
const CHROMA_Q = [
  17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99,
  24, 26, 56, 99, 99, 99, 99, 99, 47, 66, 99, 99, 99, 99, 99, 99,
  ...new Array(32).fill(99),
];

/** Annex K's Huffman tables: code counts by length 1–16, then the symbols. */
const DC_LUMA_COUNTS = [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0];
const DC_CHROMA_COUNTS = [0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0];
const DC_SYMBOLS = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
const AC_LUMA_COUNTS = [0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7d];
// deno-fmt-ignore
const AC_LUMA_SYMBOLS = [
  0x01, 0x02, 0x03, 0x00, 0x04, 0x11, 0x05, 0x12, 0x21, 0x31, 0x41, 0x06, 0x13, 0x51, 0x61, 0x07,
  0x22, 0x71, 0x14, 0x32, 0x81, 0x91, 0xa1, 0x08, 0x23, 0x42, 0xb1, 0xc1, 0x15, 0x52, 0xd1, 0xf0,
  0x24, 0x33, 0x62, 0x72, 0x82, 0x09, 0x0a, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x25, 0x26, 0x27, 0x28,
  0x29, 0x2a, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49,
  0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69,
  0x6a, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89,
  0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7,
  0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3, 0xc4, 0xc5,
  0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda, 0xe1, 0xe2,
  0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8,
  0xf9, 0xfa,
];
const AC_CHROMA_COUNTS = [0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 0x77];
// deno-fmt-ignore
const AC_CHROMA_SYMBOLS = [
  0x00, 0x01, 0x02, 0x03, 0x11, 0x04, 0x05, 0x21, 0x31, 0x06, 0x12, 0x41, 0x51, 0x07, 0x61, 0x71,
  0x13, 0x22, 0x32, 0x81, 0x08, 0x14, 0x42, 0x91, 0xa1, 0xb1, 0xc1, 0x09, 0x23, 0x33, 0x52, 0xf0,
  0x15, 0x62, 0x72, 0xd1, 0x0a, 0x16, 0x24, 0x34, 0xe1, 0x25, 0xf1, 0x17, 0x18, 0x19, 0x1a, 0x26,
  0x27, 0x28, 0x29, 0x2a, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48,
  0x49, 0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68,
  0x69, 0x6a, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87,
  0x88, 0x89, 0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0xa2, 0xa3, 0xa4, 0xa5,
  0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3,
  0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda,
  0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8,
  0xf9, 0xfa,
];

/** A Huffman table as the encoder uses it: code and length by symbol. */
interface HuffmanCodes {
  code: Uint16Array;
  length: Uint8Array;
}

/** The canonical codes of a table given by its counts per length (T.81 Annex C). */
function huffmanCodes(counts: number[], symbols: number[]): HuffmanCodes {
  const code = new Uint16Array(256);
  const length = new Uint8Array(256);
  let next = 0;
  let k = 0;
  for (let bits = 1; bits <= 16; bits++) {
    for (let i = 0; i < counts[bits - 1]; i++, k++, next++) {
      code[symbols[k]] = next;
      length[symbols[k]] = bits;
    }
    next <<= 1;
  }
  return { code, length };
}

const DC_LUMA = huffmanCodes(DC_LUMA_COUNTS, DC_SYMBOLS);
const DC_CHROMA = huffmanCodes(DC_CHROMA_COUNTS, DC_SYMBOLS);
const AC_LUMA = huffmanCodes(AC_LUMA_COUNTS, AC_LUMA_SYMBOLS);
const AC_CHROMA = huffmanCodes(AC_CHROMA_COUNTS, AC_CHROMA_SYMBOLS);

/** Quantisation tables of one quality: DQT's bytes (zigzag order) and the DCT's divisors. */
interface QuantTables {
  lumaZigzag: Uint8Array;
  chromaZigzag: Uint8Array;
  /** 1 / (q · AAN scale of row · AAN scale of column · 8), natural order. */
  lumaScale: Float64Array;
  chromaScale: Float64Array;
}

/** The AAN DCT's output scale of each frequency, cos(kπ/16)·√2 for k > 0. */
const AAN_SCALE = [
  1.0,
  1.387039845,
  1.306562965,
  1.175875602,
  1.0,
  0.785694958,
  0.5411961,
  0.275899379,
];

const quantCache = new Map<number, QuantTables>();

/** IJG's quality scaling of the example tables, as jpeg-js applies it. */
function quantTables(quality: number): QuantTables {
  const cached = quantCache.get(quality);
  if (cached) return cached;
  const factor = quality < 50 ? Math.floor(5000 / quality) : Math.floor(200 - quality * 2);
  const scaled = (base: number[]) => {
    const zigzag = new Uint8Array(64);
    for (let i = 0; i < 64; i++) {
      zigzag[ZIGZAG[i]] = Math.min(255, Math.max(1, Math.floor((base[i] * factor + 50) / 100)));
    }
    const scale = new Float64Array(64);
    for (let row = 0, k = 0; row < 8; row++) {
      for (let col = 0; col < 8; col++, k++) {
        scale[k] = 1.0 / (zigzag[ZIGZAG[k]] * AAN_SCALE[row] * AAN_SCALE[col] * 8.0);
      }
    }
    return [zigzag, scale] as const;
  };
  const [lumaZigzag, lumaScale] = scaled(LUMA_Q);
  const [chromaZigzag, chromaScale] = scaled(CHROMA_Q);
  const tables = { lumaZigzag, chromaZigzag, lumaScale, chromaScale };
  quantCache.set(quality, tables);
  return tables;
}

/** Fixed-point BT.601 coefficients scaled by 2^16, with the rounding and offset terms. */
const Y_R = 19595, Y_G = 38470, Y_B = 7471, Y_ROUND = 0x8000;
const CB_R = -11059, CB_G = -21709, CB_B = 32768, C_ROUND = 0x807fff;
const CR_G = -27439, CR_B = -5329;

/** An MSB-first bit writer with 0xFF byte stuffing into a growing byte array. */
class BitWriter {
  bytes: Uint8Array;
  length = 0;
  #byte = 0;
  #free = 8;

  constructor(capacity: number) {
    this.bytes = new Uint8Array(capacity);
  }

  byte(value: number): void {
    if (this.length === this.bytes.length) {
      const grown = new Uint8Array(this.bytes.length * 2);
      grown.set(this.bytes);
      this.bytes = grown;
    }
    this.bytes[this.length++] = value;
  }

  word(value: number): void {
    this.byte((value >> 8) & 0xff);
    this.byte(value & 0xff);
  }

  bits(value: number, count: number): void {
    for (let b = count - 1; b >= 0; b--) {
      this.#byte = (this.#byte << 1) | ((value >> b) & 1);
      if (--this.#free === 0) {
        this.byte(this.#byte);
        if (this.#byte === 0xff) this.byte(0);
        this.#byte = 0;
        this.#free = 8;
      }
    }
  }

  /**
   * Pads the last byte with ones. Like jpeg-js, a writer already on a byte boundary writes a
   * whole byte of ones (stuffed), which decoders skip as fill.
   */
  pad(): void {
    this.bits((1 << this.#free) - 1, this.#free);
  }
}

/** Bits needed for |v| (T.81's SSSS category), v an integer. */
function category(v: number): number {
  return 32 - Math.clz32(v < 0 ? -v : v);
}

/**
 * Forward DCT (AAN, IJG's jfdctflt.c) of an 8×8 block in place, then quantisation into `out`
 * (natural order) with jpeg-js's rounding, half away from zero.
 */
function forwardDct(d: Float64Array, scale: Float64Array, out: Int32Array): void {
  for (let pass = 0; pass < 2; pass++) {
    // Rows first, then columns: the same butterfly on elements `step` apart.
    const step = pass === 0 ? 1 : 8;
    const next = pass === 0 ? 8 : 1;
    for (let line = 0, o = 0; line < 8; line++, o += next) {
      const d0 = d[o], d1 = d[o + step], d2 = d[o + 2 * step], d3 = d[o + 3 * step];
      const d4 = d[o + 4 * step], d5 = d[o + 5 * step], d6 = d[o + 6 * step];
      const d7 = d[o + 7 * step];
      const tmp0 = d0 + d7, tmp7 = d0 - d7, tmp1 = d1 + d6, tmp6 = d1 - d6;
      const tmp2 = d2 + d5, tmp5 = d2 - d5, tmp3 = d3 + d4, tmp4 = d3 - d4;
      // Even part.
      const tmp10 = tmp0 + tmp3, tmp13 = tmp0 - tmp3, tmp11 = tmp1 + tmp2, tmp12 = tmp1 - tmp2;
      d[o] = tmp10 + tmp11;
      d[o + 4 * step] = tmp10 - tmp11;
      const z1 = (tmp12 + tmp13) * 0.707106781;
      d[o + 2 * step] = tmp13 + z1;
      d[o + 6 * step] = tmp13 - z1;
      // Odd part.
      const odd10 = tmp4 + tmp5, odd11 = tmp5 + tmp6, odd12 = tmp6 + tmp7;
      const z5 = (odd10 - odd12) * 0.382683433;
      const z2 = 0.5411961 * odd10 + z5;
      const z4 = 1.306562965 * odd12 + z5;
      const z3 = odd11 * 0.707106781;
      const z11 = tmp7 + z3, z13 = tmp7 - z3;
      d[o + 5 * step] = z13 + z2;
      d[o + 3 * step] = z13 - z2;
      d[o + step] = z11 + z4;
      d[o + 7 * step] = z11 - z4;
    }
  }
  for (let i = 0; i < 64; i++) {
    const v = d[i] * scale[i];
    out[i] = v > 0.0 ? (v + 0.5) | 0 : (v - 0.5) | 0;
  }
}

/** One component's block: DCT, quantisation, Huffman coding. Returns the new DC predictor. */
function encodeBlock(
  w: BitWriter,
  block: Float64Array,
  scale: Float64Array,
  previousDc: number,
  dc: HuffmanCodes,
  ac: HuffmanCodes,
  natural: Int32Array,
  zigzag: Int32Array,
): number {
  forwardDct(block, scale, natural);
  for (let i = 0; i < 64; i++) zigzag[ZIGZAG[i]] = natural[i];
  const diff = zigzag[0] - previousDc;
  const dcCat = category(diff);
  w.bits(dc.code[dcCat], dc.length[dcCat]);
  if (dcCat > 0) w.bits(diff > 0 ? diff : diff + (1 << dcCat) - 1, dcCat);
  let last = 63;
  while (last > 0 && zigzag[last] === 0) last--;
  let run = 0;
  for (let i = 1; i <= last; i++) {
    const v = zigzag[i];
    if (v === 0) {
      run++;
      continue;
    }
    for (; run >= 16; run -= 16) w.bits(ac.code[0xf0], ac.length[0xf0]);
    const cat = category(v);
    const symbol = (run << 4) + cat;
    w.bits(ac.code[symbol], ac.length[symbol]);
    w.bits(v > 0 ? v : v + (1 << cat) - 1, cat);
    run = 0;
  }
  if (last !== 63) w.bits(ac.code[0], ac.length[0]);
  return zigzag[0];
}

/** Writes the markers before the scan: SOI, JFIF APP0, DQT, SOF0, DHT, SOS. */
function writeHeaders(w: BitWriter, width: number, height: number, q: QuantTables): void {
  w.word(0xffd8);
  // JFIF 1.1, no units, 1:1 density, no thumbnail.
  w.word(0xffe0);
  w.word(16);
  for (const b of [0x4a, 0x46, 0x49, 0x46, 0, 1, 1, 0, 0, 1, 0, 1, 0, 0]) w.byte(b);
  w.word(0xffdb);
  w.word(132);
  w.byte(0);
  for (const b of q.lumaZigzag) w.byte(b);
  w.byte(1);
  for (const b of q.chromaZigzag) w.byte(b);
  // Three components, 1×1 sampling: Y on table 0, Cb and Cr on table 1.
  w.word(0xffc0);
  w.word(17);
  w.byte(8);
  w.word(height);
  w.word(width);
  for (const b of [3, 1, 0x11, 0, 2, 0x11, 1, 3, 0x11, 1]) w.byte(b);
  w.word(0xffc4);
  w.word(0x01a2);
  const tables: [number, number[], number[]][] = [
    [0x00, DC_LUMA_COUNTS, DC_SYMBOLS],
    [0x10, AC_LUMA_COUNTS, AC_LUMA_SYMBOLS],
    [0x01, DC_CHROMA_COUNTS, DC_SYMBOLS],
    [0x11, AC_CHROMA_COUNTS, AC_CHROMA_SYMBOLS],
  ];
  for (const [id, counts, symbols] of tables) {
    w.byte(id);
    for (const c of counts) w.byte(c);
    for (const s of symbols) w.byte(s);
  }
  w.word(0xffda);
  w.word(12);
  for (const b of [3, 1, 0, 2, 0x11, 3, 0x11, 0, 0x3f, 0]) w.byte(b);
}

/**
 * Encodes RGB as a baseline JPEG with 4:4:4 sampling, byte for byte as jpeg-js 0.4.4 does.
 * Partial blocks at the right and bottom edges repeat the last column and row.
 *
 * @param image The image (RGB bytes, row-major).
 * @param quality 1–100 (clamped; 0 means 50), IJG's scale.
 * @returns The file's bytes.
 * @example
 * ```ts
 * import { encodeJpeg } from "./jpeg_encode.ts";
 * const image = { width: 2, height: 2, data: new Uint8Array(12).fill(128) };
 * const bytes = encodeJpeg(image, 90);
 * console.log(bytes[0].toString(16), bytes[1].toString(16)); // ff d8
 * ```
 */
export function encodeJpeg(image: RgbImage, quality = 90): Uint8Array {
  const { width, height, data } = image;
  // jpeg-js reads a quality of 0 (or none) as 50 and clamps the rest to 1–100.
  const q = quantTables(!quality ? 50 : Math.min(100, Math.max(1, quality)));
  const w = new BitWriter(1024 + width * height);
  writeHeaders(w, width, height, q);
  const y = new Float64Array(64), cb = new Float64Array(64), cr = new Float64Array(64);
  const natural = new Int32Array(64), zigzag = new Int32Array(64);
  let dcY = 0, dcCb = 0, dcCr = 0;
  for (let by = 0; by < height; by += 8) {
    for (let bx = 0; bx < width; bx += 8) {
      for (let pos = 0; pos < 64; pos++) {
        const row = Math.min(by + (pos >> 3), height - 1);
        const col = Math.min(bx + (pos & 7), width - 1);
        const p = (row * width + col) * 3;
        const r = data[p], g = data[p + 1], b = data[p + 2];
        y[pos] = ((Y_R * r + Y_G * g + (Y_B * b + Y_ROUND)) >> 16) - 128;
        cb[pos] = ((CB_R * r + CB_G * g + (CB_B * b + C_ROUND)) >> 16) - 128;
        cr[pos] = ((CB_B * r + C_ROUND + CR_G * g + CR_B * b) >> 16) - 128;
      }
      dcY = encodeBlock(w, y, q.lumaScale, dcY, DC_LUMA, AC_LUMA, natural, zigzag);
      dcCb = encodeBlock(w, cb, q.chromaScale, dcCb, DC_CHROMA, AC_CHROMA, natural, zigzag);
      dcCr = encodeBlock(w, cr, q.chromaScale, dcCr, DC_CHROMA, AC_CHROMA, natural, zigzag);
    }
  }
  w.pad();
  w.word(0xffd9);
  return w.bytes.slice(0, w.length);
}
