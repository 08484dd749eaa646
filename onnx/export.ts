/**
 * `exportOnnx(model)`: a fine-tuned image classifier as the files transformers.js loads with
 * `pipeline("image-classification", folder)`: `onnx/model.onnx` (input `pixel_values`
 * [batch, 3, H, W] f32 with a dynamic batch, output `logits` [batch, labels]), `config.json` and
 * `preprocessor_config.json`. Portable: it returns bytes and touches no file system.
 *
 * @module
 */

import { configToJson } from "../nn/config.ts";
import type { PreTrainedImageClassifier } from "../nn/image_classifier.ts";
import type { ImageProcessorConfig } from "../data/pixels.ts";
import { outputSizeOf } from "../data/image_transforms.ts";
import { AutoImageProcessor } from "../data/auto_processor.ts";
import { emitConvNextGraph } from "./convnext_graph.ts";
import { emitDeiTGraph } from "./deit_graph.ts";
import { emitDinov2Graph } from "./dinov2_graph.ts";
import { GraphBuilder } from "./graph_builder.ts";
import { DataType, encodeModel } from "./onnx_proto.ts";
import type { EncoderConfig, HostTensor } from "./vit_blocks.ts";
import { emitViTGraph, type FamilyGraphInput } from "./vit_graph.ts";

/** The graph emitter of each model_type the registry knows. */
const FAMILIES: Record<string, (input: FamilyGraphInput) => string> = {
  vit: emitViTGraph,
  deit: emitDeiTGraph,
  dinov2: emitDinov2Graph,
  convnext: emitConvNextGraph,
};

/** The ONNX IR version each supported opset comes with (onnx/helper.py's VERSION_TABLE). */
const IR_VERSIONS: Record<number, number> = { 17: 8, 18: 8, 19: 9, 20: 9, 21: 10 };

/** Options of {@link exportOnnx}. */
export interface ExportOnnxOptions {
  /** The ai.onnx opset, 17 to 21 (17, the default, has LayerNormalization; 20 adds Gelu). */
  opset?: number;
  /**
   * The image processor's config, written as preprocessor_config.json; its size is the graph's
   * input height and width. By default, the family's default processor at the model's image
   * size.
   */
  processor?: ImageProcessorConfig;
  /**
   * How the weights are stored: "f32" (the default) or "f16", each weight followed by a Cast to
   * f32 so the graph computes in f32. f16 halves the file and loses nothing for a model loaded
   * from an f16 checkpoint, whose values all are f16 (a resized position grid is rounded).
   */
  weights?: "f32" | "f16";
}

/** The exported files and a summary of the graph. */
export interface OnnxExport {
  /** File contents by path relative to the output folder. */
  files: Record<string, Uint8Array>;
  /** How many nodes of each op type the graph has. */
  ops: Record<string, number>;
  /** The opset written. */
  opset: number;
}

/**
 * Exports an image classifier (ViT, DeiT, DeiT with its distillation head, DINOv2, ConvNeXt) to
 * ONNX with the weights as initializers (f32, or f16 cast to f32 in the graph). Position
 * embeddings are used as stored, resized bicubically when the processor's size gives another
 * patch grid (as the model's forward with `interpolatePosEncoding`).
 *
 * @param model The model (its parameters are read back from the device).
 * @param options Opset, image processor config, weight type.
 * @returns The files to write and the graph's op counts.
 * @throws {Error} For a model type or activation that has no exporter.
 * @example
 * ```ts
 * import { exportOnnx } from "./export.ts";
 * import { ViTForImageClassification } from "../models/vit/modeling.ts";
 * import { makeViTConfig } from "../models/vit/config.ts";
 * import { init } from "../tensor/runtime.ts";
 * await init();
 * const model = new ViTForImageClassification(makeViTConfig({ hidden_size: 32,
 *   num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 64, image_size: 32 }));
 * const { files } = await exportOnnx(model);
 * console.log(Object.keys(files));
 * // ["onnx/model.onnx", "config.json", "preprocessor_config.json"]
 * ```
 */
export async function exportOnnx(
  model: PreTrainedImageClassifier,
  options: ExportOnnxOptions = {},
): Promise<OnnxExport> {
  const opset = options.opset ?? 17;
  if (!(opset in IR_VERSIONS)) {
    throw new Error(`cannot export to ONNX opset ${opset}: use 17 to 21`);
  }
  const config = model.config;
  const emit = FAMILIES[config.model_type];
  if (!emit) {
    throw new Error(
      `cannot export model_type ${JSON.stringify(config.model_type)} to ONNX (known: ` +
        `${Object.keys(FAMILIES).join(", ")})`,
    );
  }
  // Without one, the family's default processor (ConvNeXt's and DINOv2's crop, ViT's resize).
  const processor: ImageProcessorConfig = options.processor ??
    AutoImageProcessor.defaultFor(config).config;
  const size = outputSizeOf(processor);
  const channels = config.num_channels;

  const weights = new Map<string, HostTensor>();
  for (const [name, t] of model.namedParameters()) {
    weights.set(name, { shape: t.shape, data: await t.toArray() });
  }
  const weightType = options.weights ?? "f32";
  if (weightType !== "f32" && weightType !== "f16") {
    throw new Error(`cannot export to ONNX with ${weightType} weights: use f32 or f16`);
  }
  const g = new GraphBuilder(weightType === "f16");
  const logits = emit({
    g,
    weights,
    pixels: "pixel_values",
    size,
    config: config as unknown as EncoderConfig,
    opset,
  });
  g.op("Identity", [logits], undefined, "logits");

  const graph = g.build(`tessera_${config.model_type}`, [
    {
      name: "pixel_values",
      elemType: DataType.FLOAT,
      shape: ["batch_size", channels, size.height, size.width],
    },
  ], [{ name: "logits", elemType: DataType.FLOAT, shape: ["batch_size", model.numLabels] }]);
  const onnx = encodeModel({
    irVersion: IR_VERSIONS[opset],
    opset,
    producerName: "tessera",
    producerVersion: "0.1.0",
    graph,
  });
  const ops: Record<string, number> = {};
  for (const n of graph.nodes) ops[n.opType] = (ops[n.opType] ?? 0) + 1;

  const encoder = new TextEncoder();
  const configJson = configToJson({
    ...config,
    architectures: [model.architecture],
    torch_dtype: "float32",
    // transformers.js picks model.onnx (not model_quantized.onnx) in every runtime with this.
    "transformers.js_config": { dtype: "fp32" },
  });
  const processorJson = JSON.stringify(
    { ...processor, image_processor_type: processor.image_processor_type ?? "ViTImageProcessor" },
    null,
    2,
  ) + "\n";
  return {
    files: {
      "onnx/model.onnx": onnx,
      "config.json": encoder.encode(configJson),
      "preprocessor_config.json": encoder.encode(processorJson),
    },
    ops,
    opset,
  };
}
