/**
 * The exported graphs run in onnxruntime-node (CPU) and give Tessera's logits on the same
 * pixels: ViT, DeiT and DeiT with its distillation head at two sizes each, a model exported at
 * another size than its config (position embeddings resized), opset 20's Gelu, and the bundled
 * model. Every parameter is random, biases and norms included. Tolerance: |diff| <= 2e-5 +
 * 1e-5·|logit| (f32 on both sides; the largest difference seen is printed per case).
 */
import { outputSizeOf } from "../data/image_transforms.ts";
import assert from "node:assert/strict";
import "../io/deno_fs.ts";
import { AutoModelForImageClassification } from "../models/auto.ts";
import { makeDeiTConfig } from "../models/deit/config.ts";
import { makeViTConfig } from "../models/vit/config.ts";
import {
  DeiTForImageClassification,
  DeiTForImageClassificationWithTeacher,
} from "../models/deit/modeling.ts";
import type { PreTrainedImageClassifier } from "../nn/image_classifier.ts";
import { ViTForImageClassification } from "../models/vit/modeling.ts";
import { assertClose } from "../tensor/_test_util.ts";
import { init } from "../tensor/runtime.ts";
import { exportOnnx, type ExportOnnxOptions } from "./export.ts";
import {
  onnxLogits,
  randomizeParameters,
  randomPixels,
  tesseraLogits,
  worstDifference,
} from "./_test_util.ts";

await init();

const TOLERANCE = { atol: 2e-5, rtol: 1e-5 };
const LABELS = { "0": "a", "1": "b", "2": "c", "3": "d", "4": "e" };

/** One layer, 32 px, patch 16 (tests/_tiny_vit.ts' shape) with gelu. */
const SMALL = {
  hidden_size: 24,
  num_hidden_layers: 1,
  num_attention_heads: 2,
  intermediate_size: 32,
  image_size: 32,
  patch_size: 16,
  id2label: LABELS,
};
/** Three layers, 48 px, patch 8 (a 6×6 grid), four heads, no qkv bias, relu. */
const LARGER = {
  hidden_size: 64,
  num_hidden_layers: 3,
  num_attention_heads: 4,
  intermediate_size: 96,
  image_size: 48,
  patch_size: 8,
  qkv_bias: false,
  hidden_act: "relu",
  layer_norm_eps: 1e-6,
  id2label: LABELS,
};

/** Exports, runs both, checks the logits, and returns the worst difference. */
async function compare(
  model: PreTrainedImageClassifier,
  label: string,
  options: ExportOnnxOptions & { interpolate?: boolean } = {},
): Promise<void> {
  const { files } = await exportOnnx(model, options);
  const size = options.processor ? outputSizeOf(options.processor) : {
    height: model.config.image_size,
    width: model.config.image_size,
  };
  const shape = [3, 3, size.height, size.width];
  const pixels = randomPixels(shape.reduce((a, b) => a * b), 7);
  const expected = await tesseraLogits(model, pixels, shape, options.interpolate);
  const actual = await onnxLogits(files["onnx/model.onnx"], pixels, shape);
  assert.deepEqual(actual.dims, [3, model.numLabels]);
  assertClose(actual.data, expected, TOLERANCE, label);
  const worst = worstDifference(actual.data, expected);
  console.log(
    `${label}: worst |diff| ${worst.abs.toExponential(2)}, relative ` +
      `${worst.rel.toExponential(2)}`,
  );
  model.dispose();
}

Deno.test("exportOnnx() ViT gives Tessera's logits in onnxruntime at two sizes", async () => {
  for (const [name, fields] of [["small", SMALL], ["larger", LARGER]] as const) {
    const model = new ViTForImageClassification(makeViTConfig(fields));
    randomizeParameters(model, 1);
    await compare(model, `vit ${name}`);
  }
});

Deno.test("exportOnnx() DeiT gives Tessera's logits in onnxruntime at two sizes", async () => {
  for (const [name, fields] of [["small", SMALL], ["larger", LARGER]] as const) {
    const model = new DeiTForImageClassification(makeDeiTConfig(fields));
    randomizeParameters(model, 2);
    await compare(model, `deit ${name}`);
  }
});

Deno.test("exportOnnx() DeiT with teacher averages its two heads as Tessera does", async () => {
  for (const [name, fields] of [["small", SMALL], ["larger", LARGER]] as const) {
    const model = new DeiTForImageClassificationWithTeacher(makeDeiTConfig(fields));
    randomizeParameters(model, 3);
    await compare(model, `deit-with-teacher ${name}`);
  }
});

Deno.test("exportOnnx() at a processor size unlike the config's resizes positions", async () => {
  const processor = {
    do_resize: true,
    size: { height: 64, width: 40 },
    resample: 2,
    do_rescale: true,
    rescale_factor: 1 / 255,
    do_normalize: true,
    image_mean: [0.5, 0.5, 0.5],
    image_std: [0.5, 0.5, 0.5],
  };
  const vit = new ViTForImageClassification(makeViTConfig(LARGER));
  randomizeParameters(vit, 4);
  await compare(vit, "vit larger at 64×40", { processor, interpolate: true });
  const deit = new DeiTForImageClassificationWithTeacher(makeDeiTConfig(LARGER));
  randomizeParameters(deit, 5);
  await compare(deit, "deit-with-teacher larger at 64×40", { processor, interpolate: true });
});

Deno.test("exportOnnx() at opset 20 uses the Gelu op and gives the same logits", async () => {
  const model = new ViTForImageClassification(makeViTConfig(SMALL));
  randomizeParameters(model, 6);
  const { ops } = await exportOnnx(model, { opset: 20 });
  assert.deepEqual(ops.Gelu, 1);
  assert.deepEqual(ops.Erf, undefined);
  await compare(model, "vit small opset 20", { opset: 20 });
});

Deno.test("exportOnnx() of the bundled model gives its logits in onnxruntime", async () => {
  const dir = new URL("../models/vit-tiny-contours", import.meta.url).pathname;
  const model = await AutoModelForImageClassification.fromPretrained(dir);
  await compare(model, "vit-tiny-contours (120 px, 4 layers)");
});

Deno.test("exportOnnx() with f16 halves the file and is exact for an f16 checkpoint", async () => {
  const dir = new URL("../models/vit-tiny-contours", import.meta.url).pathname;
  const model = await AutoModelForImageClassification.fromPretrained(dir);
  const f32 = (await exportOnnx(model)).files["onnx/model.onnx"].length;
  const { files, ops } = await exportOnnx(model, { weights: "f16" });
  const f16 = files["onnx/model.onnx"].length;
  assert.ok(f16 < 0.52 * f32, `f16 file ${f16} bytes against f32 ${f32}`);
  assert.equal(ops.Cast, model.namedParameters().length);
  await compare(model, "vit-tiny-contours, f16 weights", { weights: "f16" });
});

Deno.test("exportOnnx() writes transformers.js' folder layout and a readable config", async () => {
  const model = new DeiTForImageClassificationWithTeacher(makeDeiTConfig(SMALL));
  const { files, ops, opset } = await exportOnnx(model);
  assert.deepEqual(Object.keys(files).sort(), [
    "config.json",
    "onnx/model.onnx",
    "preprocessor_config.json",
  ]);
  const config = JSON.parse(new TextDecoder().decode(files["config.json"]));
  assert.deepEqual(config.model_type, "deit");
  assert.deepEqual(config.id2label, LABELS);
  assert.deepEqual(config["transformers.js_config"], { dtype: "fp32" });
  const processor = JSON.parse(new TextDecoder().decode(files["preprocessor_config.json"]));
  assert.deepEqual(processor.size, { height: 32, width: 32 });
  assert.deepEqual(opset, 17);
  assert.deepEqual(ops.LayerNormalization, 3);
  assert.ok(ops.Erf === 1 && ops.Softmax === 1 && ops.Conv === 1);
  model.dispose();
});

Deno.test("exportOnnx() rejects an opset it does not write and an unknown model type", async () => {
  const model = new ViTForImageClassification(makeViTConfig(SMALL));
  let message = "";
  try {
    await exportOnnx(model, { opset: 13 });
  } catch (e) {
    message = (e as Error).message;
  }
  assert.deepEqual(message, "cannot export to ONNX opset 13: use 17 to 21");
  (model.config as { model_type: string }).model_type = "beit";
  try {
    await exportOnnx(model);
  } catch (e) {
    message = (e as Error).message;
  }
  assert.deepEqual(
    message,
    'cannot export model_type "beit" to ONNX (known: vit, deit, dinov2, convnext)',
  );
  model.dispose();
});
