/**
 * The ONNX messages an exported model uses (ModelProto, GraphProto, NodeProto, TensorProto,
 * ValueInfoProto, AttributeProto), as plain objects and their encoders, with the field numbers
 * of onnx/onnx.proto.
 *
 * @module
 */

import { ProtoWriter } from "./protobuf.ts";

/** TensorProto.DataType values used here. */
export const DataType = { FLOAT: 1, INT64: 7, FLOAT16: 10 } as const;

/** A node attribute: an int, a list of ints, or a float. */
export type Attribute =
  | { readonly type: "int"; readonly value: number }
  | { readonly type: "ints"; readonly value: readonly number[] }
  | { readonly type: "float"; readonly value: number };

/** One operator application. */
export interface NodeProto {
  /** The operator, in the default (ai.onnx) domain. */
  readonly opType: string;
  /** Input value names ("" for an omitted optional input). */
  readonly inputs: readonly string[];
  /** Output value names. */
  readonly outputs: readonly string[];
  /** A unique node name. */
  readonly name: string;
  /** Attributes by name. */
  readonly attributes?: Readonly<Record<string, Attribute>>;
}

/** A constant tensor stored in the graph, little-endian raw data. */
export interface TensorProto {
  /** Its value name. */
  readonly name: string;
  /** Its shape ([] for a scalar). */
  readonly dims: readonly number[];
  /** A {@link DataType} value. */
  readonly dataType: number;
  /** The elements, little-endian, row-major. */
  readonly raw: Uint8Array;
}

/** A graph input or output: name, element type and shape (a string names a dynamic axis). */
export interface ValueInfoProto {
  /** The value name. */
  readonly name: string;
  /** A {@link DataType} value. */
  readonly elemType: number;
  /** Dimensions: sizes, or names of dynamic axes. */
  readonly shape: readonly (number | string)[];
}

/** A computation graph. */
export interface GraphProto {
  /** Its name. */
  readonly name: string;
  /** Nodes in topological order. */
  readonly nodes: readonly NodeProto[];
  /** Constant tensors. */
  readonly initializers: readonly TensorProto[];
  /** Graph inputs. */
  readonly inputs: readonly ValueInfoProto[];
  /** Graph outputs. */
  readonly outputs: readonly ValueInfoProto[];
}

/** A model file. */
export interface ModelProto {
  /** The IR version of the file format. */
  readonly irVersion: number;
  /** The ai.onnx opset version. */
  readonly opset: number;
  /** The producer's name. */
  readonly producerName: string;
  /** The producer's version. */
  readonly producerVersion: string;
  /** The graph. */
  readonly graph: GraphProto;
}

/**
 * Encodes a model as an ONNX file.
 *
 * @param model The model.
 * @returns The bytes of `model.onnx`.
 * @example
 * ```ts
 * import { DataType, encodeModel } from "./onnx_proto.ts";
 * const x = { name: "x", elemType: DataType.FLOAT, shape: ["batch", 2] };
 * const y = { ...x, name: "y" };
 * const bytes = encodeModel({
 *   irVersion: 8, opset: 17, producerName: "tessera", producerVersion: "0",
 *   graph: { name: "g", nodes: [{ opType: "Relu", inputs: ["x"], outputs: ["y"], name: "relu" }],
 *     initializers: [], inputs: [x], outputs: [y] },
 * });
 * console.log(bytes.length > 0); // true
 * ```
 */
export function encodeModel(model: ModelProto): Uint8Array {
  const opset = new ProtoWriter().string(1, "").varint(2, model.opset);
  return new ProtoWriter()
    .varint(1, model.irVersion)
    .string(2, model.producerName)
    .string(3, model.producerVersion)
    .message(7, encodeGraph(model.graph))
    .message(8, opset)
    .finish();
}

/** GraphProto: node 1, name 2, initializer 5, input 11, output 12. */
function encodeGraph(graph: GraphProto): ProtoWriter {
  const w = new ProtoWriter();
  for (const node of graph.nodes) w.message(1, encodeNode(node));
  w.string(2, graph.name);
  for (const t of graph.initializers) w.message(5, encodeTensor(t));
  for (const v of graph.inputs) w.message(11, encodeValueInfo(v));
  for (const v of graph.outputs) w.message(12, encodeValueInfo(v));
  return w;
}

/** NodeProto: input 1, output 2, name 3, op_type 4, attribute 5. */
function encodeNode(node: NodeProto): ProtoWriter {
  const w = new ProtoWriter();
  for (const i of node.inputs) w.string(1, i);
  for (const o of node.outputs) w.string(2, o);
  w.string(3, node.name).string(4, node.opType);
  for (const [name, a] of Object.entries(node.attributes ?? {})) {
    w.message(5, encodeAttribute(name, a));
  }
  return w;
}

/** AttributeProto: name 1, f 2, i 3, ints 8, type 20 (FLOAT 1, INT 2, INTS 7). */
function encodeAttribute(name: string, a: Attribute): ProtoWriter {
  const w = new ProtoWriter().string(1, name);
  if (a.type === "float") return w.float(2, a.value).varint(20, 1);
  if (a.type === "int") return w.varint(3, a.value).varint(20, 2);
  // Repeated ints unpacked, as onnx's own serializer writes them (proto2 default).
  for (const v of a.value) w.varint(8, v);
  return w.varint(20, 7);
}

/** TensorProto: dims 1, data_type 2, name 8, raw_data 9. */
function encodeTensor(t: TensorProto): ProtoWriter {
  const w = new ProtoWriter();
  for (const d of t.dims) w.varint(1, d);
  return w.varint(2, t.dataType).string(8, t.name).bytes(9, t.raw);
}

/**
 * ValueInfoProto: name 1, type 2 → TypeProto.tensor_type 1 → elem_type 1, shape 2 →
 * TensorShapeProto.dim 1 → dim_value 1 | dim_param 2.
 */
function encodeValueInfo(v: ValueInfoProto): ProtoWriter {
  const shape = new ProtoWriter();
  for (const d of v.shape) {
    const dim = new ProtoWriter();
    if (typeof d === "string") dim.string(2, d);
    else dim.varint(1, d);
    shape.message(1, dim);
  }
  const tensorType = new ProtoWriter().varint(1, v.elemType).message(2, shape);
  const type = new ProtoWriter().message(1, tensorType);
  return new ProtoWriter().string(1, v.name).message(2, type);
}
