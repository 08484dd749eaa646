/**
 * TensorBoard event files written directly: TFRecord framing (length, masked CRC32C of the
 * length, data, masked CRC32C of the data) around hand-encoded `Event` protocol buffers with
 * scalar summaries. A reader for tests checks every CRC.
 *
 * @module
 */

import { type FileSystem, fileSystem, processId } from "../io/files.ts";

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    table[i] = c >>> 0;
  }
  return table;
})();

/** CRC-32C (Castagnoli) of bytes. */
export function crc32c(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const b of bytes) crc = CRC_TABLE[(crc ^ b) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** TFRecord's masked CRC: rotate right by 15 and add a constant. */
export function maskedCrc32c(bytes: Uint8Array): number {
  const crc = crc32c(bytes);
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

class ProtoWriter {
  readonly bytes: number[] = [];
  varint(v: number | bigint): void {
    let x = BigInt.asUintN(64, BigInt(v));
    while (x >= 0x80n) {
      this.bytes.push(Number(x & 0x7fn) | 0x80);
      x >>= 7n;
    }
    this.bytes.push(Number(x));
  }
  tag(field: number, wire: number): void {
    this.varint((field << 3) | wire);
  }
  double(field: number, v: number): void {
    this.tag(field, 1);
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, v, true);
    this.bytes.push(...b);
  }
  float(field: number, v: number): void {
    this.tag(field, 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.bytes.push(...b);
  }
  int64(field: number, v: number): void {
    this.tag(field, 0);
    this.varint(v);
  }
  bytesField(field: number, data: Uint8Array | number[]): void {
    this.tag(field, 2);
    this.varint(data.length);
    this.bytes.push(...data);
  }
  string(field: number, s: string): void {
    this.bytesField(field, new TextEncoder().encode(s));
  }
}

/** One Event: `file_version`, or scalar summaries at a step. */
export function encodeEvent(
  wallTime: number,
  step: number,
  content: { fileVersion: string } | { scalars: Record<string, number> },
): Uint8Array {
  const w = new ProtoWriter();
  w.double(1, wallTime);
  w.int64(2, step);
  if ("fileVersion" in content) w.string(3, content.fileVersion);
  else {
    const summary = new ProtoWriter();
    for (const [tag, value] of Object.entries(content.scalars)) {
      const v = new ProtoWriter();
      v.string(1, tag);
      v.float(2, value);
      summary.bytesField(1, v.bytes);
    }
    w.bytesField(5, summary.bytes);
  }
  return new Uint8Array(w.bytes);
}

/** Frames data as one TFRecord. */
export function tfRecord(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + 4 + data.length + 4);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(data.length), true);
  view.setUint32(8, maskedCrc32c(out.subarray(0, 8)), true);
  out.set(data, 12);
  view.setUint32(12 + data.length, maskedCrc32c(data), true);
  return out;
}

/** A scalar read back from an event file. */
export interface ScalarEvent {
  /** Step. */
  step: number;
  /** Tag, such as "train/loss". */
  tag: string;
  /** Value. */
  value: number;
  /** Seconds since the epoch. */
  wallTime: number;
}

function readVarint(b: Uint8Array, at: number): [bigint, number] {
  let x = 0n;
  let shift = 0n;
  for (;;) {
    const byte = b[at++];
    if (byte === undefined) throw new Error("truncated varint");
    x |= BigInt(byte & 0x7f) << shift;
    if (!(byte & 0x80)) return [x, at];
    shift += 7n;
  }
}

function readFields(b: Uint8Array): [number, number, Uint8Array | bigint | number][] {
  const out: [number, number, Uint8Array | bigint | number][] = [];
  let at = 0;
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  while (at < b.length) {
    const [key, next] = readVarint(b, at);
    at = next;
    const field = Number(key >> 3n);
    const wire = Number(key & 7n);
    if (wire === 0) {
      const [v, n] = readVarint(b, at);
      at = n;
      out.push([field, wire, v]);
    } else if (wire === 1) {
      out.push([field, wire, view.getFloat64(at, true)]);
      at += 8;
    } else if (wire === 5) {
      out.push([field, wire, view.getFloat32(at, true)]);
      at += 4;
    } else if (wire === 2) {
      const [len, n] = readVarint(b, at);
      at = n;
      out.push([field, wire, b.subarray(at, at + Number(len))]);
      at += Number(len);
    } else throw new Error(`unsupported wire type ${wire}`);
  }
  return out;
}

/**
 * Reads every record of an event file, verifying both CRCs of each, and returns the scalars
 * and the file version.
 *
 * @param bytes The file.
 * @returns The version string and the scalars in order.
 * @throws When a CRC does not match or a record is truncated.
 */
export function readEventFile(bytes: Uint8Array): { fileVersion: string; scalars: ScalarEvent[] } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  let fileVersion = "";
  const scalars: ScalarEvent[] = [];
  while (at < bytes.length) {
    if (at + 12 > bytes.length) throw new Error("truncated record header");
    const len = Number(view.getBigUint64(at, true));
    if (view.getUint32(at + 8, true) !== maskedCrc32c(bytes.subarray(at, at + 8))) {
      throw new Error(`bad length CRC at byte ${at}`);
    }
    const data = bytes.subarray(at + 12, at + 12 + len);
    if (data.length !== len || at + 16 + len > bytes.length) throw new Error("truncated record");
    if (view.getUint32(at + 12 + len, true) !== maskedCrc32c(data)) {
      throw new Error(`bad data CRC at byte ${at}`);
    }
    at += 16 + len;
    let wallTime = 0;
    let step = 0;
    for (const [field, , value] of readFields(data)) {
      if (field === 1) wallTime = value as number;
      else if (field === 2) step = Number(value);
      else if (field === 3) fileVersion = new TextDecoder().decode(value as Uint8Array);
      else if (field === 5) {
        for (const [vf, , v] of readFields(value as Uint8Array)) {
          if (vf !== 1) continue;
          let tag = "";
          let scalar = NaN;
          for (const [f, , x] of readFields(v as Uint8Array)) {
            if (f === 1) tag = new TextDecoder().decode(x as Uint8Array);
            if (f === 2) scalar = x as number;
          }
          scalars.push({ step, tag, value: scalar, wallTime });
        }
      }
    }
  }
  return { fileVersion, scalars };
}

/**
 * Appends scalar events to a TensorBoard event file, as `SummaryWriter.add_scalar` does.
 *
 * @example
 * ```ts ignore
 * import { EventWriter } from "./tensorboard.ts";
 * const w = await EventWriter.create("runs/x");
 * await w.scalars(10, { "train/loss": 0.5 });
 * w.close();
 * ```
 */
export class EventWriter {
  readonly #fs: FileSystem;
  /** The event file's path. */
  readonly path: string;

  private constructor(fs: FileSystem, path: string) {
    this.#fs = fs;
    this.path = path;
  }

  /**
   * Creates `dir/events.out.tfevents.<time>.<host>.<pid>.0` in the file system in use and
   * writes the version record.
   *
   * @param dir The run folder.
   * @param host Host name for the file name.
   * @returns The writer.
   */
  static async create(dir: string, host = "localhost"): Promise<EventWriter> {
    const fs = fileSystem();
    await fs.mkdir(dir);
    const now = Date.now() / 1000;
    const path = `${dir}/events.out.tfevents.${Math.floor(now)}.${host}.${processId()}.0`;
    const w = new EventWriter(fs, path);
    await w.#write(encodeEvent(now, 0, { fileVersion: "brain.Event:2" }));
    return w;
  }

  // Each record is appended (and, on a disk, synced) at once, so a reader sees whole records.
  async #write(event: Uint8Array): Promise<void> {
    await this.#fs.appendFile(this.path, tfRecord(event));
  }

  /** Writes one event with scalar values at `step`. */
  async scalars(step: number, values: Record<string, number>): Promise<void> {
    const finite = Object.fromEntries(
      Object.entries(values).filter(([, v]) => typeof v === "number"),
    );
    if (Object.keys(finite).length === 0) return;
    await this.#write(encodeEvent(Date.now() / 1000, step, { scalars: finite }));
  }

  /** Kept for callers that flush: every record is already written when its call returns. */
  flush(): Promise<void> {
    return Promise.resolve();
  }

  /** Ends the writer (nothing stays open between records). */
  close(): void {}
}
