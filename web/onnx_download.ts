/**
 * The page's download gains the ONNX export: `onnx/model.onnx` beside the trained model, and
 * config.json marked for transformers.js' f32 file, so the downloaded folder loads in
 * `pipeline("image-classification", folder)` as well as in Tessera and Transformers.
 *
 * @module
 */

import type { ImageProcessor } from "../data/image_processor.ts";
import { configToJson, type PretrainedConfig } from "../nn/config.ts";
import type { ImageClassifier, PreTrainedImageClassifier } from "../nn/image_classifier.ts";
import { exportOnnx } from "../onnx/export.ts";

/** A file of the output folder, by its path inside it. */
export interface OutputFile {
  /** Path inside the folder. */
  name: string;
  /** Contents. */
  data: Uint8Array;
}

/**
 * The output folder's files with the model's ONNX export added. config.json keeps its fields
 * (its torch_dtype describes model.safetensors) and gains `transformers.js_config`; a folder
 * without one gets the export's config.json and preprocessor_config.json.
 *
 * @param files The output folder's files.
 * @param model The trained model.
 * @param processor Its image processor (its size is the graph's input size).
 * @returns The files plus `onnx/model.onnx`.
 * @example
 * ```ts ignore
 * const out = await withOnnxExport(files, session.model, session.processor);
 * ```
 */
export async function withOnnxExport(
  files: OutputFile[],
  model: ImageClassifier,
  processor: ImageProcessor,
): Promise<OutputFile[]> {
  const exported = await exportOnnx(model as PreTrainedImageClassifier, {
    processor: processor.config,
  });
  const out = files.filter((f) => !f.name.startsWith("onnx/"));
  for (const name of ["config.json", "preprocessor_config.json"]) {
    if (!out.some((f) => f.name === name)) out.push({ name, data: exported.files[name] });
  }
  const config = out.find((f) => f.name === "config.json")!;
  const fields = JSON.parse(new TextDecoder().decode(config.data)) as PretrainedConfig;
  const exportedFields = JSON.parse(new TextDecoder().decode(exported.files["config.json"]));
  fields["transformers.js_config"] = exportedFields["transformers.js_config"];
  config.data = new TextEncoder().encode(configToJson(fields));
  out.push({ name: "onnx/model.onnx", data: exported.files["onnx/model.onnx"] });
  return out;
}
