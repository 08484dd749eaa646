/**
 * Reads and writes the safetensors format in memory (no file I/O here, so it runs in a
 * browser). The parser trusts nothing: the header length is bounded by the file size, every
 * offset is checked, and dtype, shape and byte count must agree. Every error names the file.
 *
 * @module
 */

import { f16BitsToF32, f32ToF16Bits } from "../tensor/f16.ts";

/** Element types Tessera reads. F32, F16 and BF16 are converted to f32 on load. */
export type SafetensorsDType = "F32" | "F16" | "BF16";

/** One tensor of a safetensors file, decoded to f32. */
export interface SafetensorsEntry {
  /** Stored element type. */
  dtype: SafetensorsDType;
  /** Dimensions. */
  shape: number[];
  /** Values converted to f32. */
  data: Float32Array;
}

/** A parsed file: tensors by name, in file order, and the string metadata. */
export interface SafetensorsFile {
  /** Tensors by name. */
  tensors: Map<string, SafetensorsEntry>;
  /** The `__metadata__` object, if any. */
  metadata: Record<string, string>;
}

/** A safetensors problem, with the file it was found in. */
export class SafetensorsError extends Error {
  /**
   * Creates the error; its message is `file: problem`.
   *
   * @param file The file (or a description of the source).
   * @param problem What is wrong.
   */
  constructor(readonly file: string, problem: string) {
    super(`${file}: ${problem}`);
    this.name = "SafetensorsError";
  }
}

const BYTES: Record<SafetensorsDType, number> = { F32: 4, F16: 2, BF16: 2 };

/** Largest header accepted (the reference implementation's limit). */
const MAX_HEADER = 100_000_000;

function decode(dtype: SafetensorsDType, bytes: Uint8Array, count: number): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(count);
  if (dtype === "F32") {
    for (let i = 0; i < count; i++) out[i] = view.getFloat32(4 * i, true);
  } else if (dtype === "F16") {
    for (let i = 0; i < count; i++) out[i] = f16BitsToF32(view.getUint16(2 * i, true));
  } else {
    const word = new Uint32Array(1);
    const f = new Float32Array(word.buffer);
    for (let i = 0; i < count; i++) {
      word[0] = view.getUint16(2 * i, true) << 16;
      out[i] = f[0];
    }
  }
  return out;
}

/**
 * Parses a safetensors file.
 *
 * @param bytes The whole file.
 * @param file Its name, for error messages.
 * @returns The tensors and metadata.
 * @throws {SafetensorsError} On any malformation, naming the file and the problem.
 * @example
 * ```ts
 * import { parseSafetensors, serializeSafetensors } from "./safetensors.ts";
 * const bytes = serializeSafetensors([["w", { shape: [2], data: new Float32Array([1, 2]) }]]);
 * console.log(parseSafetensors(bytes, "w.safetensors").tensors.get("w")?.data); // [1, 2]
 * ```
 */
export function parseSafetensors(bytes: Uint8Array, file = "<memory>"): SafetensorsFile {
  if (bytes.byteLength < 8) {
    throw new SafetensorsError(file, `truncated: ${bytes.byteLength} bytes, no header length`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getBigUint64(0, true);
  if (headerLength > BigInt(bytes.byteLength - 8)) {
    throw new SafetensorsError(
      file,
      `header length ${headerLength} exceeds the ${bytes.byteLength - 8} bytes after it ` +
        "(truncated or not a safetensors file)",
    );
  }
  if (headerLength > BigInt(MAX_HEADER)) {
    throw new SafetensorsError(file, `header length ${headerLength} exceeds ${MAX_HEADER}`);
  }
  const n = Number(headerLength);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + n)));
  } catch (error) {
    throw new SafetensorsError(file, `header is not valid JSON (${(error as Error).message})`);
  }
  if (!header || typeof header !== "object" || Array.isArray(header)) {
    throw new SafetensorsError(file, "header is not a JSON object");
  }
  const data = bytes.subarray(8 + n);
  const tensors = new Map<string, SafetensorsEntry>();
  let metadata: Record<string, string> = {};
  const ranges: [number, number, string][] = [];
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (!raw || typeof raw !== "object" || Array.isArray(raw)) {
        throw new SafetensorsError(file, "__metadata__ is not an object");
      }
      metadata = Object.fromEntries(
        Object.entries(raw as Record<string, unknown>).map(([k, v]) => [k, String(v)]),
      );
      continue;
    }
    const info = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (!info || typeof info !== "object") {
      throw new SafetensorsError(file, `tensor '${name}': entry is not an object`);
    }
    const dtype = info.dtype;
    if (typeof dtype !== "string" || !(dtype in BYTES)) {
      throw new SafetensorsError(
        file,
        `tensor '${name}': unsupported dtype ${JSON.stringify(dtype)} (F32, F16 and BF16 are read)`,
      );
    }
    const shape = info.shape;
    if (
      !Array.isArray(shape) ||
      shape.some((d) => typeof d !== "number" || !Number.isSafeInteger(d) || d < 0)
    ) {
      throw new SafetensorsError(
        file,
        `tensor '${name}': shape ${JSON.stringify(shape)} is invalid`,
      );
    }
    const offsets = info.data_offsets;
    if (
      !Array.isArray(offsets) || offsets.length !== 2 ||
      offsets.some((o) => typeof o !== "number" || !Number.isSafeInteger(o) || o < 0)
    ) {
      throw new SafetensorsError(
        file,
        `tensor '${name}': data_offsets ${JSON.stringify(offsets)} are invalid`,
      );
    }
    const [begin, end] = offsets as [number, number];
    if (begin > end || end > data.byteLength) {
      throw new SafetensorsError(
        file,
        `tensor '${name}': data_offsets [${begin}, ${end}] lie outside the ` +
          `${data.byteLength} data bytes`,
      );
    }
    let count = 1;
    for (const d of shape as number[]) {
      count *= d;
      if (count > Number.MAX_SAFE_INTEGER / 8) {
        throw new SafetensorsError(file, `tensor '${name}': shape [${shape}] is too large`);
      }
    }
    const expected = count * BYTES[dtype as SafetensorsDType];
    if (end - begin !== expected) {
      throw new SafetensorsError(
        file,
        `tensor '${name}': ${dtype} [${shape}] needs ${expected} bytes, data_offsets give ${
          end - begin
        }`,
      );
    }
    ranges.push([begin, end, name]);
    tensors.set(name, {
      dtype: dtype as SafetensorsDType,
      shape: [...(shape as number[])],
      data: decode(dtype as SafetensorsDType, data.subarray(begin, end), count),
    });
  }
  ranges.sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < ranges.length; i++) {
    if (ranges[i][0] < ranges[i - 1][1]) {
      throw new SafetensorsError(
        file,
        `tensors '${ranges[i - 1][2]}' and '${ranges[i][2]}' overlap`,
      );
    }
  }
  return { tensors, metadata };
}

/** A tensor to write. */
export interface SafetensorsInput {
  /** Dimensions. */
  shape: readonly number[];
  /** Values. */
  data: Float32Array;
}

/**
 * Serialises tensors as safetensors, in the given order, with `{"format":"pt"}` metadata.
 *
 * @param entries Name and tensor pairs.
 * @param options `dtype` F32 (default) or F16, and extra metadata.
 * @returns The file's bytes.
 * @example
 * ```ts
 * import { serializeSafetensors } from "./safetensors.ts";
 * const bytes = serializeSafetensors([["b", { shape: [1], data: new Float32Array([0]) }]]);
 * console.log(bytes.byteLength > 8); // true
 * ```
 */
export function serializeSafetensors(
  entries: readonly (readonly [string, SafetensorsInput])[],
  options: { dtype?: "F32" | "F16"; metadata?: Record<string, string> } = {},
): Uint8Array {
  const dtype = options.dtype ?? "F32";
  const width = BYTES[dtype];
  const header: Record<string, unknown> = {
    __metadata__: { format: "pt", ...options.metadata },
  };
  let offset = 0;
  for (const [name, t] of entries) {
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length) {
      throw new Error(
        `serializeSafetensors: '${name}' has ${t.data.length} values for [${t.shape}]`,
      );
    }
    header[name] = { dtype, shape: [...t.shape], data_offsets: [offset, offset + count * width] };
    offset += count * width;
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - ((json.length + 8) % 8)) % 8);
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.byteLength + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerBytes.byteLength), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.byteLength;
  for (const [, t] of entries) {
    for (let i = 0; i < t.data.length; i++) {
      if (dtype === "F32") view.setFloat32(at + 4 * i, t.data[i], true);
      else view.setUint16(at + 2 * i, f32ToF16Bits(t.data[i]), true);
    }
    at += t.data.length * width;
  }
  return out;
}
