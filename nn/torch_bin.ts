/**
 * Reads `pytorch_model.bin`, the zip that `torch.save` writes (`<archive>/data.pkl` with the
 * structure, `<archive>/data/<key>` with each storage's bytes), without running code: the pickle
 * goes through the restricted unpickler of `torch_pickle.ts`. Views are materialised (storage
 * offset and strides honoured), storages shared between tensors are read once, and fp16, bf16,
 * fp64 and integer tensors come back in their own type or converted to f32 for loading.
 * Sharded checkpoints (`pytorch_model.bin.index.json`) are merged. No file I/O except in
 * {@link readTorchWeights}, which goes through `io/`.
 *
 * @module
 */

import { inflateSync } from "fflate";
import { exists, FileError, joinPath, readBytes, readJson } from "../io/files.ts";
import { f16BitsToF32 } from "../tensor/f16.ts";
import { parseSafetensors, type SafetensorsEntry, serializeSafetensors } from "./safetensors.ts";
import {
  isTorchTensorRef,
  type TorchDType,
  TorchPickleError,
  type TorchTensorRef,
  unpickleTorch,
} from "./torch_pickle.ts";

/** One tensor of a torch checkpoint, in its stored type and laid out contiguously. */
export interface TorchTensor {
  /** Element type (F16 and BF16 are kept as their raw 16-bit patterns). */
  dtype: TorchDType;
  /** Dimensions. */
  shape: number[];
  /** The values, row-major. */
  data:
    | Float64Array
    | Float32Array
    | Uint16Array
    | BigInt64Array
    | Int32Array
    | Int16Array
    | Int8Array
    | Uint8Array;
}

/** Bytes per element of each storage type. */
const _BYTES: Record<TorchDType, number> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

/** Largest tensor materialised (2 GiB); far above any vision model's largest weight. */
const _MAX_TENSOR_BYTES = 2 ** 31;

/** A zip entry: where its bytes are and how they are stored. */
interface _ZipEntry {
  name: string;
  method: number;
  compressedSize: number;
  size: number;
  localOffset: number;
}

/**
 * The entries of a zip file by name, from its central directory (zip64 included, as torch
 * writes for large checkpoints).
 */
function _zipEntries(bytes: Uint8Array, file: string): Map<string, _ZipEntry> {
  const fail = (problem: string): never => {
    throw new TorchPickleError(file, problem);
  };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let eocd = -1;
  for (let i = bytes.length - 22; i >= Math.max(0, bytes.length - 22 - 0xffff); i--) {
    if (view.getUint32(i, true) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) fail("not a zip file (no end of central directory); truncated?");
  let count = view.getUint16(eocd + 10, true);
  let cdOffset = view.getUint32(eocd + 16, true);
  if (count === 0xffff || cdOffset === 0xffffffff) {
    const locator = eocd - 20;
    if (locator < 0 || view.getUint32(locator, true) !== 0x07064b50) {
      fail("zip64 sizes without a zip64 locator");
    }
    const record = Number(view.getBigUint64(locator + 8, true));
    if (record + 56 > bytes.length || view.getUint32(record, true) !== 0x06064b50) {
      fail("zip64 end of central directory is missing");
    }
    count = Number(view.getBigUint64(record + 32, true));
    cdOffset = Number(view.getBigUint64(record + 48, true));
  }
  const entries = new Map<string, _ZipEntry>();
  let at = cdOffset;
  for (let n = 0; n < count; n++) {
    if (at + 46 > bytes.length || view.getUint32(at, true) !== 0x02014b50) {
      fail(`zip central directory is corrupt at byte ${at}`);
    }
    const nameLength = view.getUint16(at + 28, true);
    const extraLength = view.getUint16(at + 30, true);
    const commentLength = view.getUint16(at + 32, true);
    if (at + 46 + nameLength + extraLength > bytes.length) fail("zip central directory is cut");
    const entry: _ZipEntry = {
      name: new TextDecoder().decode(bytes.subarray(at + 46, at + 46 + nameLength)),
      method: view.getUint16(at + 10, true),
      compressedSize: view.getUint32(at + 20, true),
      size: view.getUint32(at + 24, true),
      localOffset: view.getUint32(at + 42, true),
    };
    // The zip64 extra field holds, in order, whichever of these were 0xffffffff.
    for (let x = at + 46 + nameLength; x + 4 <= at + 46 + nameLength + extraLength;) {
      const id = view.getUint16(x, true);
      const length = view.getUint16(x + 2, true);
      if (id === 0x0001) {
        let y = x + 4;
        for (const field of ["size", "compressedSize", "localOffset"] as const) {
          if (entry[field] === 0xffffffff && y + 8 <= x + 4 + length) {
            entry[field] = Number(view.getBigUint64(y, true));
            y += 8;
          }
        }
      }
      x += 4 + length;
    }
    entries.set(entry.name, entry);
    at += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}

/** The bytes of a zip entry: a view into the file when stored, inflated when deflated. */
function _zipRead(bytes: Uint8Array, entry: _ZipEntry, file: string): Uint8Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const at = entry.localOffset;
  if (at + 30 > bytes.length || view.getUint32(at, true) !== 0x04034b50) {
    throw new TorchPickleError(file, `zip entry ${entry.name} has no local header`);
  }
  const start = at + 30 + view.getUint16(at + 26, true) + view.getUint16(at + 28, true);
  if (start + entry.compressedSize > bytes.length) {
    throw new TorchPickleError(file, `zip entry ${entry.name} runs past the end of the file`);
  }
  const data = bytes.subarray(start, start + entry.compressedSize);
  if (entry.method === 0) return data;
  if (entry.method === 8) {
    const out = inflateSync(data, { out: new Uint8Array(entry.size) });
    if (out.length !== entry.size) {
      throw new TorchPickleError(file, `zip entry ${entry.name} inflates to the wrong size`);
    }
    return out;
  }
  throw new TorchPickleError(
    file,
    `zip entry ${entry.name} uses compression method ${entry.method}`,
  );
}

/** Whether bytes start like a zip file (`PK\x03\x04`), as every torch.save file since 1.6. */
export function isZip(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 3 &&
    bytes[3] === 4;
}

/** A tensor's elements, contiguous, copied out of its storage's bytes. */
function _materialise(
  ref: TorchTensorRef,
  storage: Uint8Array,
  bigEndian: boolean,
  name: string,
  file: string,
): TorchTensor {
  const { dtype, numel } = ref.storage;
  const size = _BYTES[dtype];
  if (storage.length !== numel * size) {
    throw new TorchPickleError(
      file,
      `storage data/${ref.storage.key} holds ${storage.length} bytes, not ${numel} × ${size}`,
    );
  }
  const count = ref.shape.reduce((a, b) => a * b, 1);
  let last = ref.offset;
  for (let d = 0; d < ref.shape.length; d++) last += (ref.shape[d] - 1) * ref.stride[d];
  if (count > 0 && last >= numel) {
    throw new TorchPickleError(
      file,
      `tensor '${name}' views element ${last} of a storage of ${numel} (size [${ref.shape}], ` +
        `stride [${ref.stride}], offset ${ref.offset})`,
    );
  }
  // An expanded view (stride 0) is tiny on disk but not once materialised: bound it.
  if (count * size > _MAX_TENSOR_BYTES) {
    throw new TorchPickleError(
      file,
      `tensor '${name}' would take ${
        count * size
      } bytes once materialised (size [${ref.shape}]); ` +
        `Tessera loads tensors of at most ${_MAX_TENSOR_BYTES} bytes`,
    );
  }
  // Element indices of the view, row-major; a contiguous view is one run.
  const out = new Uint8Array(count * size);
  const contiguous = ref.shape.every((_, d) =>
    ref.shape[d] === 1 || ref.stride[d] === ref.shape.slice(d + 1).reduce((a, b) => a * b, 1)
  );
  if (contiguous) {
    out.set(storage.subarray(ref.offset * size, (ref.offset + count) * size));
  } else {
    const index = new Array(ref.shape.length).fill(0);
    let src = ref.offset;
    for (let i = 0; i < count; i++) {
      out.set(storage.subarray(src * size, src * size + size), i * size);
      for (let d = ref.shape.length - 1; d >= 0; d--) {
        src += ref.stride[d];
        if (++index[d] < ref.shape[d]) break;
        src -= ref.stride[d] * ref.shape[d];
        index[d] = 0;
      }
    }
  }
  if (bigEndian && size > 1) {
    for (let i = 0; i < out.length; i += size) out.subarray(i, i + size).reverse();
  }
  const buffer = out.buffer;
  const data = dtype === "F64"
    ? new Float64Array(buffer)
    : dtype === "F32"
    ? new Float32Array(buffer)
    : dtype === "F16" || dtype === "BF16"
    ? new Uint16Array(buffer)
    : dtype === "I64"
    ? new BigInt64Array(buffer)
    : dtype === "I32"
    ? new Int32Array(buffer)
    : dtype === "I16"
    ? new Int16Array(buffer)
    : dtype === "I8"
    ? new Int8Array(buffer)
    : out;
  return { dtype, shape: [...ref.shape], data };
}

/**
 * Parses a `torch.save` zip holding a state dict (`pytorch_model.bin`) without running code.
 *
 * @param bytes The whole file.
 * @param file Its name, for errors.
 * @returns The tensors by name, in file order.
 * @throws {TorchPickleError} When the file is not such a zip, or its pickle asks for anything
 * but tensors in a dict (naming the refused global), or a view runs outside its storage.
 * @example
 * ```ts ignore
 * import { parseTorchBin } from "./torch_bin.ts";
 * const tensors = parseTorchBin(await Deno.readFile("pytorch_model.bin"), "pytorch_model.bin");
 * console.log(tensors.get("classifier.weight")?.shape);
 * ```
 */
export function parseTorchBin(bytes: Uint8Array, file: string): Map<string, TorchTensor> {
  if (!isZip(bytes)) {
    throw new TorchPickleError(
      file,
      "not a zip file: a checkpoint saved by torch < 1.6 (legacy format), which Tessera does " +
        "not read; re-save it with a recent torch or as model.safetensors",
    );
  }
  const entries = _zipEntries(bytes, file);
  const pkl = [...entries.keys()].find((n) => /^[^/]+\/data\.pkl$/.test(n));
  if (!pkl) throw new TorchPickleError(file, "zip has no <archive>/data.pkl: not torch.save's");
  const archive = pkl.slice(0, -"data.pkl".length);
  const order = entries.get(`${archive}byteorder`);
  const bigEndian = order !== undefined &&
    new TextDecoder().decode(_zipRead(bytes, order, file)).trim() === "big";
  const root = unpickleTorch(_zipRead(bytes, entries.get(pkl)!, file), file);
  if (!(root instanceof Map)) {
    throw new TorchPickleError(file, "data.pkl holds no dict of tensors (not a state dict)");
  }
  const storages = new Map<string, Uint8Array>();
  const out = new Map<string, TorchTensor>();
  for (const [key, value] of root) {
    const name = String(key);
    if (!isTorchTensorRef(value)) {
      throw new TorchPickleError(file, `'${name}' is not a tensor (not a plain state dict)`);
    }
    let storage = storages.get(value.storage.key);
    if (!storage) {
      const entry = entries.get(`${archive}data/${value.storage.key}`);
      if (!entry) {
        throw new TorchPickleError(
          file,
          `storage data/${value.storage.key} of '${name}' is missing`,
        );
      }
      storage = _zipRead(bytes, entry, file);
      storages.set(value.storage.key, storage);
    }
    out.set(name, _materialise(value, storage, bigEndian, name, file));
  }
  return out;
}

/**
 * A tensor's values as f32, as the model's parameters hold them: fp16 and bf16 widen exactly,
 * fp64 and integers round to the nearest f32.
 *
 * @param tensor A tensor from {@link parseTorchBin}.
 * @returns Its values.
 * @example
 * ```ts
 * import { torchTensorToF32 } from "./torch_bin.ts";
 * const t = { dtype: "BF16" as const, shape: [1], data: new Uint16Array([0x3f80]) };
 * console.log(torchTensorToF32(t)); // Float32Array [ 1 ]
 * ```
 */
export function torchTensorToF32(tensor: TorchTensor): Float32Array {
  const { dtype, data } = tensor;
  if (dtype === "F32") return data as Float32Array;
  const out = new Float32Array(data.length);
  if (dtype === "F16") {
    for (let i = 0; i < data.length; i++) out[i] = f16BitsToF32((data as Uint16Array)[i]);
  } else if (dtype === "BF16") {
    new Uint32Array(out.buffer).set(Uint32Array.from(data as Uint16Array, (b) => b << 16));
  } else if (dtype === "I64") {
    for (let i = 0; i < data.length; i++) out[i] = Number((data as BigInt64Array)[i]);
  } else {
    out.set(data as ArrayLike<number>);
  }
  return out;
}

/** Safetensors' name of a stored type, for the loader (fp64 and integers load as f32 values). */
function _entryDType(dtype: TorchDType): SafetensorsEntry["dtype"] {
  return dtype === "F16" || dtype === "BF16" ? dtype : "F32";
}

/**
 * A checkpoint's tensors in the loader's form (values as f32), from either format: a
 * `torch.save` zip (`pytorch_model.bin`, recognised by its zip signature) or safetensors.
 *
 * @param bytes The file.
 * @param file Its name, for errors.
 * @returns The tensors by name.
 * @throws {TorchPickleError|SafetensorsError} Naming the file when it is malformed or refused.
 * @example
 * ```ts
 * import { parseWeights } from "./torch_bin.ts";
 * import { serializeSafetensors } from "./safetensors.ts";
 * const bytes = serializeSafetensors([["w", { shape: [1], data: new Float32Array([2]) }]]);
 * console.log(parseWeights(bytes, "model.safetensors").get("w")?.data); // Float32Array [ 2 ]
 * ```
 */
export function parseWeights(bytes: Uint8Array, file: string): Map<string, SafetensorsEntry> {
  if (!isZip(bytes)) return parseSafetensors(bytes, file).tensors;
  const out = new Map<string, SafetensorsEntry>();
  for (const [name, t] of parseTorchBin(bytes, file)) {
    out.set(name, { dtype: _entryDType(t.dtype), shape: t.shape, data: torchTensorToF32(t) });
  }
  return out;
}

/**
 * A model folder's torch weights when it has no model.safetensors: `pytorch_model.bin` as it
 * is, or the shards named by `pytorch_model.bin.index.json` merged into one safetensors file.
 *
 * @param dir The model folder.
 * @returns The bytes (for {@link parseWeights}) and the file they stand for, or null when the
 * folder has neither file.
 * @throws {FileError|TorchPickleError} Naming the index or shard that cannot be read.
 * @example
 * ```ts ignore
 * import { readTorchWeights } from "./torch_bin.ts";
 * const found = await readTorchWeights("models/vit-from-torch");
 * console.log(found?.file);
 * ```
 */
export async function readTorchWeights(
  dir: string,
): Promise<{ bytes: Uint8Array; file: string } | null> {
  const single = joinPath(dir, "pytorch_model.bin");
  if (await exists(single)) return { bytes: await readBytes(single), file: single };
  const index = joinPath(dir, "pytorch_model.bin.index.json");
  if (!(await exists(index))) return null;
  const map = (await readJson(index) as { weight_map?: unknown }).weight_map;
  if (!map || typeof map !== "object" || Array.isArray(map)) {
    throw new FileError(index, "has no weight_map object");
  }
  const shards = new Set<string>();
  for (const [key, shard] of Object.entries(map)) {
    if (typeof shard !== "string" || !/^[^/\\]+\.bin$/.test(shard) || shard.startsWith("..")) {
      throw new FileError(index, `weight_map['${key}'] is not a .bin file in the folder`);
    }
    shards.add(shard);
  }
  const merged: [string, { shape: number[]; data: Float32Array }][] = [];
  for (const shard of shards) {
    const path = joinPath(dir, shard);
    for (const [name, entry] of parseWeights(await readBytes(path), path)) {
      if ((map as Record<string, string>)[name] !== shard) {
        throw new FileError(index, `'${name}' is in ${shard}, but the index does not put it there`);
      }
      merged.push([name, entry]);
    }
  }
  const found = new Set(merged.map(([n]) => n));
  const missing = Object.keys(map).filter((k) => !found.has(k));
  if (missing.length > 0) {
    throw new FileError(index, `names ${missing.length} tensor(s) its shards lack: ${missing[0]}…`);
  }
  return { bytes: serializeSafetensors(merged), file: index };
}
