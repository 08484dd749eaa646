/**
 * The exported ConvNeXt graph runs in onnxruntime-node (CPU) and gives Tessera's logits: two
 * and three stages, without and with layer scale, at sizes that are and are not multiples of the
 * total stride, with every parameter random. Tolerance as export_test.ts:
 * |diff| <= 2e-5 + 1e-5·|logit|.
 */
import assert from "node:assert/strict";
import "../io/deno_fs.ts";
import { ConvNextImageProcessor } from "../data/convnext_processor.ts";
import { makeConvNextConfig } from "../models/convnext/config.ts";
import { ConvNextForImageClassification } from "../models/convnext/modeling.ts";
import { assertClose } from "../tensor/_test_util.ts";
import { init } from "../tensor/runtime.ts";
import { exportOnnx } from "./export.ts";
import {
  onnxLogits,
  randomizeParameters,
  randomPixels,
  tesseraLogits,
  worstDifference,
} from "./_test_util.ts";

await init();

const LABELS = { "0": "a", "1": "b", "2": "c" };

async function compare(
  model: ConvNextForImageClassification,
  crop: number,
  opset: number,
  label: string,
): Promise<Record<string, number>> {
  const processor = new ConvNextImageProcessor({ size: { shortest_edge: crop } });
  const { files, ops } = await exportOnnx(model, { processor: processor.config, opset });
  const preprocessor = JSON.parse(new TextDecoder().decode(files["preprocessor_config.json"]));
  assert.equal(preprocessor.image_processor_type, "ConvNextImageProcessor");
  const shape = [2, 3, crop, crop];
  const pixels = randomPixels(shape.reduce((a, b) => a * b), 5);
  const expected = await tesseraLogits(model, pixels, shape);
  const actual = await onnxLogits(files["onnx/model.onnx"], pixels, shape);
  assert.deepEqual(actual.dims, [2, 3]);
  assertClose(actual.data, expected, { atol: 2e-5, rtol: 1e-5 }, label);
  const worst = worstDifference(actual.data, expected);
  console.log(
    `${label}: worst |diff| ${worst.abs.toExponential(2)}, relative ${worst.rel.toExponential(2)}`,
  );
  return ops;
}

Deno.test("exportOnnx() ConvNeXt, 2 stages, no layer scale, matches Tessera", async () => {
  const model = new ConvNextForImageClassification(makeConvNextConfig({
    num_stages: 2,
    depths: [1, 1],
    hidden_sizes: [8, 16],
    image_size: 32,
    layer_scale_init_value: 0,
    id2label: LABELS,
  }));
  randomizeParameters(model, 21);
  // 36 is no multiple of the total stride 8: the convolutions drop the last rows and columns.
  for (const crop of [32, 36]) {
    const ops = await compare(model, crop, 17, `convnext [1, 1] at ${crop}`);
    // Stem, one downsampling, two depthwise convolutions.
    assert.equal(ops.Conv, 4);
    assert.equal(ops.Erf, 2);
    assert.equal(ops.ReduceMean, 1);
    // Only GELU's two products: no layer scale.
    assert.equal(ops.Mul, 4);
  }
  model.dispose();
});

Deno.test("exportOnnx() ConvNeXt, 3 stages, layer scale, matches Tessera", async () => {
  const model = new ConvNextForImageClassification(makeConvNextConfig({
    num_stages: 3,
    depths: [1, 1, 2],
    hidden_sizes: [8, 16, 24],
    image_size: 64,
    layer_scale_init_value: 1e-6,
    id2label: LABELS,
  }));
  randomizeParameters(model, 22);
  // Opset 18 takes ReduceMean's axes as an input; opset 20 has the Gelu op.
  for (const opset of [18, 20]) {
    const ops = await compare(model, 64, opset, `convnext [1, 1, 2] at 64, opset ${opset}`);
    assert.equal(ops.Conv, 7);
    assert.equal(ops.Gelu ?? 0, opset >= 20 ? 4 : 0);
    // Four layer scales, and GELU's two products per block below opset 20.
    assert.equal(ops.Mul, opset >= 20 ? 4 : 12);
  }
  model.dispose();
});
