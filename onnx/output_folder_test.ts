/** An output folder with its ONNX export added (the page's download). */
import assert from "node:assert/strict";
import { ViTImageProcessor } from "../data/processor.ts";
import { makeViTConfig } from "../models/vit/config.ts";
import { ViTForImageClassification } from "../models/vit/modeling.ts";
import { onnxLogits, randomizeParameters, tesseraLogits } from "./_test_util.ts";
import { assertClose } from "../tensor/_test_util.ts";
import { init } from "../tensor/runtime.ts";
import { withOnnxExport } from "./output_folder.ts";

await init();

Deno.test("withOnnxExport() adds onnx/model.onnx, a transformers.js config.json", async () => {
  const model = new ViTForImageClassification(makeViTConfig({
    hidden_size: 24,
    num_hidden_layers: 1,
    num_attention_heads: 2,
    intermediate_size: 32,
    image_size: 32,
    patch_size: 16,
    id2label: { "0": "a", "1": "b" },
  }));
  randomizeParameters(model, 9);
  const { config, weights } = await model.toPretrainedFiles({ dtype: "F16" });
  const before = [
    { name: "config.json", data: new TextEncoder().encode(config) },
    { name: "model.safetensors", data: weights },
    { name: "trainer_state.json", data: new TextEncoder().encode("{}") },
  ];
  const out = await withOnnxExport(before, model, new ViTImageProcessor({ size: 32 }));
  assert.deepEqual(out.map((f) => f.name), [
    "config.json",
    "model.safetensors",
    "trainer_state.json",
    "preprocessor_config.json",
    "onnx/model.onnx",
  ]);
  const fields = JSON.parse(new TextDecoder().decode(out[0].data));
  assert.deepEqual(fields, {
    ...JSON.parse(config),
    "transformers.js_config": { dtype: "fp32" },
  });
  assert.equal(fields.torch_dtype, "float16");
  const processor = JSON.parse(new TextDecoder().decode(out[3].data));
  assert.deepEqual(processor.size, { height: 32, width: 32 });
  const pixels = new Float32Array(2 * 3 * 32 * 32).map((_, i) => Math.sin(i));
  const shape = [2, 3, 32, 32];
  const { data } = await onnxLogits(out[4].data, pixels, shape);
  assertClose(
    data,
    await tesseraLogits(model, pixels, shape),
    { atol: 2e-5, rtol: 1e-5 },
    "logits",
  );
  model.dispose();
});
