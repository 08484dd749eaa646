/**
 * A protocol-buffers writer for the wire format only (varints, length-delimited fields, fixed
 * 32-bit floats): what an ONNX file needs. Nested messages and large byte fields are kept as
 * parts and copied once, into the final buffer, so weights are not copied per level of nesting.
 *
 * @module
 */

/** Wire types of the protobuf encoding. */
const VARINT = 0;
const FIXED32 = 5;
const LENGTH_DELIMITED = 2;

const TWO_64 = 1n << 64n;

/**
 * Builds one protobuf message field by field, in the order written.
 *
 * @example
 * ```ts
 * import { ProtoWriter } from "./protobuf.ts";
 * const inner = new ProtoWriter().varint(1, 150);
 * const bytes = new ProtoWriter().string(2, "hi").message(3, inner).finish();
 * console.log(bytes); // Uint8Array [18, 2, 104, 105, 26, 3, 8, 150, 1]
 * ```
 */
export class ProtoWriter {
  readonly #parts: Uint8Array[] = [];
  #length = 0;

  /** Bytes written so far. */
  get length(): number {
    return this.#length;
  }

  /**
   * Writes a varint field (int32, int64, enum, bool). Negative values take ten bytes, as
   * protobuf encodes a negative int64 (and int32) in two's complement.
   *
   * @param field The field number.
   * @param value An integer (a bigint for values beyond 2^53).
   * @returns This writer.
   */
  varint(field: number, value: number | bigint): this {
    this.#tag(field, VARINT);
    this.#push(encodeVarint(value));
    return this;
  }

  /**
   * Writes integers as one packed repeated field.
   *
   * @param field The field number.
   * @param values The integers.
   * @returns This writer.
   */
  packedVarints(field: number, values: readonly (number | bigint)[]): this {
    const encoded = values.map(encodeVarint);
    const size = encoded.reduce((s, e) => s + e.length, 0);
    this.#tag(field, LENGTH_DELIMITED);
    this.#push(encodeVarint(size));
    for (const e of encoded) this.#push(e);
    return this;
  }

  /**
   * Writes a float field (fixed 32 bits, little-endian).
   *
   * @param field The field number.
   * @param value The number, rounded to f32.
   * @returns This writer.
   */
  float(field: number, value: number): this {
    this.#tag(field, FIXED32);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, value, true);
    this.#push(b);
    return this;
  }

  /**
   * Writes a UTF-8 string field.
   *
   * @param field The field number.
   * @param value The text.
   * @returns This writer.
   */
  string(field: number, value: string): this {
    return this.bytes(field, new TextEncoder().encode(value));
  }

  /**
   * Writes a bytes field. The bytes are not copied until {@link ProtoWriter.finish}, so they must
   * not change before then.
   *
   * @param field The field number.
   * @param value The bytes.
   * @returns This writer.
   */
  bytes(field: number, value: Uint8Array): this {
    this.#tag(field, LENGTH_DELIMITED);
    this.#push(encodeVarint(value.length));
    this.#push(value);
    return this;
  }

  /**
   * Writes a nested message field; the nested writer must not be written to afterwards.
   *
   * @param field The field number.
   * @param message The nested message.
   * @returns This writer.
   */
  message(field: number, message: ProtoWriter): this {
    this.#tag(field, LENGTH_DELIMITED);
    this.#push(encodeVarint(message.length));
    for (const part of message.#parts) this.#push(part);
    return this;
  }

  /**
   * The message's bytes, in one buffer.
   *
   * @returns The encoded message.
   */
  finish(): Uint8Array {
    const out = new Uint8Array(this.#length);
    let at = 0;
    for (const part of this.#parts) {
      out.set(part, at);
      at += part.length;
    }
    return out;
  }

  #tag(field: number, wire: number): void {
    this.#push(encodeVarint(field * 8 + wire));
  }

  #push(part: Uint8Array): void {
    this.#parts.push(part);
    this.#length += part.length;
  }
}

/**
 * The base-128 varint encoding of an integer; negatives as their 64-bit two's complement.
 *
 * @param value An integer in the int64 or uint64 range.
 * @returns Its bytes, one to ten.
 * @example
 * ```ts
 * import { encodeVarint } from "./protobuf.ts";
 * console.log(encodeVarint(300)); // Uint8Array [172, 2]
 * ```
 */
export function encodeVarint(value: number | bigint): Uint8Array {
  if (typeof value === "number" && !Number.isSafeInteger(value)) {
    throw new RangeError(`varint ${value} is not a safe integer`);
  }
  let v = BigInt(value);
  if (v < 0n) v += TWO_64;
  if (v < 0n || v >= TWO_64) throw new RangeError(`varint ${value} is outside 64 bits`);
  if (v < 128n) return Uint8Array.of(Number(v));
  const bytes: number[] = [];
  while (v >= 128n) {
    bytes.push(Number(v & 127n) | 128);
    v >>= 7n;
  }
  bytes.push(Number(v));
  return Uint8Array.from(bytes);
}
