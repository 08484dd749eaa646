/**
 * `deno task export --model DIR|ID [--revision REV] [--out DIR] [--opset 17] [--weights f32|f16]`:
 * writes a saved model (or a Hub model id, at a revision) as the folder transformers.js loads
 * with `pipeline("image-classification", folder)`: onnx/model.onnx, config.json and
 * preprocessor_config.json.
 *
 * @module
 */

import { AutoImageProcessor } from "../data/auto_processor.ts";
import { exists, joinPath, writeAtomic } from "../io/files.ts";
import { AutoModelForImageClassification } from "../models/auto.ts";
import { exportOnnx } from "../onnx/export.ts";
import { loraState, mergeAndUnload } from "../nn/lora.ts";
import { init } from "../tensor/runtime.ts";
import { MODEL_REVISION_FLAG, resolveHubArg } from "./_hub.ts";
import { defineCli, runCli } from "./_run.ts";

/** The task: flags and what it does. */
export const EXPORT_CLI = defineCli({
  name: "export",
  usage: `usage: deno task export --model DIR|ID [--revision REV] [--out DIR] [--opset 17]

Exports a saved model (config.json, model.safetensors, preprocessor_config.json) to ONNX,
laid out for transformers.js: OUT/onnx/model.onnx, OUT/config.json and
OUT/preprocessor_config.json. The graph's input is pixel_values [batch, 3, H, W] at the
processor's size; its output is logits.`,
  flags: {
    model: {
      type: "string",
      required: true,
      value: "DIR|ID",
      help: "the model folder, or a Hub model id",
    },
    revision: MODEL_REVISION_FLAG,
    out: {
      type: "string",
      value: "DIR",
      help: "the output folder (default: DIR-onnx, or NAME-onnx for an id ORG/NAME)",
    },
    opset: {
      type: "number",
      integer: true,
      min: 17,
      max: 21,
      default: 17,
      value: "N",
      help: "ONNX opset, 17 to 21 (20 and up use the Gelu op)",
    },
    weights: {
      type: "string",
      choices: ["f32", "f16"],
      default: "f32",
      value: "f32|f16",
      help: "weight storage; f16 halves the file (exact for an f16 checkpoint)",
    },
  },
  init,
  main: async ({ values }) => {
    const given = values.model.replace(/\/+$/, "");
    // A Hub id becomes its cached snapshot folder (a separate, network-only step).
    const dir = (await resolveHubArg(given, "model", values.revision))!;
    const out = values.out ?? `${dir === given ? given : given.split("/").pop()}-onnx`;
    const model = await AutoModelForImageClassification.fromPretrained(dir, {
      log: (m) => console.warn(m),
    });
    // An adapter folder exports as its merged model: the graph has no LoRA branch.
    if (loraState(model)) await mergeAndUnload(model);
    const processor = await exists(joinPath(dir, "preprocessor_config.json"))
      ? await AutoImageProcessor.fromPretrained(dir)
      : AutoImageProcessor.defaultFor(model.config);
    const { files, ops, opset } = await exportOnnx(model, {
      opset: values.opset,
      processor: processor.config,
      weights: values.weights as "f32" | "f16",
    });
    for (const [name, bytes] of Object.entries(files)) {
      await writeAtomic(joinPath(out, name), bytes);
      console.log(`${joinPath(out, name)} (${(bytes.length / 1e6).toFixed(2)} MB)`);
    }
    const list = Object.entries(ops).map(([op, n]) => `${op} ×${n}`).join(", ");
    console.log(`opset ${opset}: ${list}`);
  },
});

if (import.meta.main) await runCli(EXPORT_CLI);
