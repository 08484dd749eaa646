/**
 * Builds an ONNX graph node by node: unique value names, initializers from host arrays, and
 * small int64 and float constants.
 *
 * @module
 */

import {
  type Attribute,
  DataType,
  type GraphProto,
  type NodeProto,
  type TensorProto,
  type ValueInfoProto,
} from "./onnx_proto.ts";
import { toF16Bits } from "../tensor/f16.ts";

/**
 * An int attribute.
 *
 * @param value The integer.
 * @returns The attribute.
 * @example
 * ```ts
 * import { int } from "./graph_builder.ts";
 * console.log(int(-1)); // { type: "int", value: -1 }
 * ```
 */
export function int(value: number): Attribute {
  return { type: "int", value };
}

/**
 * An ints attribute.
 *
 * @param value The integers.
 * @returns The attribute.
 * @example
 * ```ts
 * import { ints } from "./graph_builder.ts";
 * console.log(ints([16, 16]).type); // "ints"
 * ```
 */
export function ints(value: readonly number[]): Attribute {
  return { type: "ints", value };
}

/**
 * A float attribute.
 *
 * @param value The number (stored as f32).
 * @returns The attribute.
 * @example
 * ```ts
 * import { float } from "./graph_builder.ts";
 * console.log(float(1e-12).type); // "float"
 * ```
 */
export function float(value: number): Attribute {
  return { type: "float", value };
}

/**
 * Accumulates nodes and initializers; each op call returns its output's value name.
 *
 * @example
 * ```ts
 * import { GraphBuilder } from "./graph_builder.ts";
 * const g = new GraphBuilder();
 * const w = g.initializer("w", [2, 2], new Float32Array([1, 0, 0, 1]));
 * const y = g.op("MatMul", ["x", w]);
 * console.log(g.nodes.length, y); // 1 "MatMul_0"
 * ```
 */
export class GraphBuilder {
  /** Nodes in the order added (topological, as each uses earlier values). */
  readonly nodes: NodeProto[] = [];
  /** Initializers in the order added. */
  readonly initializers: TensorProto[] = [];
  readonly #names = new Set<string>();
  #count = 0;

  /**
   * Creates an empty graph.
   *
   * @param halfWeights Store {@link GraphBuilder.weight}s as f16, each followed by a Cast to
   *   f32 (the file is half the size; runtimes fold the casts when they load it).
   */
  constructor(readonly halfWeights = false) {}

  /**
   * Adds a node with one output.
   *
   * @param opType The operator.
   * @param inputs Its input value names.
   * @param attributes Its attributes.
   * @param output The output's name (a fresh one when omitted).
   * @returns The output's name.
   */
  op(
    opType: string,
    inputs: readonly string[],
    attributes?: Record<string, Attribute>,
    output?: string,
  ): string {
    const name = `${opType}_${this.#count++}`;
    const out = this.#claim(output ?? name);
    this.nodes.push({ opType, inputs, outputs: [out], name, attributes });
    return out;
  }

  /**
   * Adds an f32 initializer.
   *
   * @param name Its name (must be unique).
   * @param dims Its shape.
   * @param data Its elements, row-major.
   * @returns The name.
   */
  initializer(name: string, dims: readonly number[], data: Float32Array): string {
    const size = dims.reduce((a, b) => a * b, 1);
    if (size !== data.length) {
      throw new Error(
        `initializer ${name}: shape [${dims}] needs ${size} values, got ${data.length}`,
      );
    }
    this.initializers.push({
      name: this.#claim(name),
      dims,
      dataType: DataType.FLOAT,
      raw: littleEndianBytes(data),
    });
    return name;
  }

  /**
   * Adds a model weight: an f32 initializer, or with `halfWeights` an f16 initializer and a Cast
   * to f32 (values rounded to nearest even).
   *
   * @param name Its name (must be unique).
   * @param dims Its shape.
   * @param data Its elements, row-major.
   * @returns The name of its f32 value.
   */
  weight(name: string, dims: readonly number[], data: Float32Array): string {
    if (!this.halfWeights) return this.initializer(name, dims, data);
    const size = dims.reduce((a, b) => a * b, 1);
    if (size !== data.length) {
      throw new Error(
        `initializer ${name}: shape [${dims}] needs ${size} values, got ${data.length}`,
      );
    }
    this.initializers.push({
      name: this.#claim(name),
      dims,
      dataType: DataType.FLOAT16,
      raw: littleEndianBytes(toF16Bits(data)),
    });
    return this.op("Cast", [name], { to: int(DataType.FLOAT) }, `${name}.f32`);
  }

  /**
   * Adds an int64 vector constant (shapes, axes, indices) as an initializer.
   *
   * @param values The integers.
   * @param scalar Store as a 0-d tensor (one value).
   * @returns Its name.
   */
  int64s(values: readonly number[], scalar = false): string {
    const data = new BigInt64Array(values.map((v) => BigInt(v)));
    const name = this.#claim(`const_i64_${this.#count++}`);
    this.initializers.push({
      name,
      dims: scalar ? [] : [values.length],
      dataType: DataType.INT64,
      raw: littleEndianBytes(data),
    });
    return name;
  }

  /**
   * Adds an f32 scalar constant as an initializer.
   *
   * @param value The number.
   * @returns Its name.
   */
  scalar(value: number): string {
    return this.initializer(`const_f32_${this.#count++}`, [], Float32Array.of(value));
  }

  /**
   * The finished graph.
   *
   * @param name Its name.
   * @param inputs Graph inputs.
   * @param outputs Graph outputs.
   * @returns The graph message.
   */
  build(name: string, inputs: ValueInfoProto[], outputs: ValueInfoProto[]): GraphProto {
    return { name, nodes: this.nodes, initializers: this.initializers, inputs, outputs };
  }

  #claim(name: string): string {
    if (this.#names.has(name)) throw new Error(`ONNX value name ${name} is used twice`);
    this.#names.add(name);
    return name;
  }
}

const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

/** The array's bytes in little-endian order (ONNX raw_data), swapped on a big-endian host. */
function littleEndianBytes(data: Float32Array | BigInt64Array | Uint16Array): Uint8Array {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (LITTLE_ENDIAN) return bytes;
  const out = new Uint8Array(bytes.length);
  const n = data.BYTES_PER_ELEMENT;
  for (let i = 0; i < bytes.length; i += n) {
    for (let j = 0; j < n; j++) out[i + j] = bytes[i + n - 1 - j];
  }
  return out;
}
