/**
 * The exported DINOv2 graph runs in onnxruntime-node (CPU) and gives Tessera's logits: the MLP
 * and the SwiGLU variant, at the config's size and at another size (positions resized), with
 * every parameter random. Tolerance as export_test.ts: |diff| <= 2e-5 + 1e-5·|logit|.
 */
import assert from "node:assert/strict";
import "../io/deno_fs.ts";
import { BitImageProcessor } from "../data/bit_processor.ts";
import { makeDinov2Config } from "../models/dinov2/config.ts";
import { Dinov2ForImageClassification } from "../models/dinov2/modeling.ts";
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

const BASE = {
  hidden_size: 40,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  image_size: 28,
  patch_size: 14,
  layer_norm_eps: 1e-6,
  id2label: { "0": "a", "1": "b", "2": "c" },
};

Deno.test("exportOnnx() DINOv2 gives Tessera's logits, MLP and SwiGLU, at two sizes", async () => {
  for (const swiglu of [false, true]) {
    for (const crop of [28, 42]) {
      const model = new Dinov2ForImageClassification(
        makeDinov2Config({ ...BASE, use_swiglu_ffn: swiglu, qkv_bias: !swiglu }),
      );
      randomizeParameters(model, swiglu ? 11 : 12);
      const processor = new BitImageProcessor({ size: crop, crop_size: crop });
      const { files, ops } = await exportOnnx(model, { processor: processor.config });
      assert.equal(ops.Sigmoid ?? 0, swiglu ? 2 : 0);
      const preprocessor = JSON.parse(new TextDecoder().decode(files["preprocessor_config.json"]));
      assert.equal(preprocessor.image_processor_type, "BitImageProcessor");
      const shape = [2, 3, crop, crop];
      const pixels = randomPixels(shape.reduce((a, b) => a * b), 9);
      const expected = await tesseraLogits(model, pixels, shape);
      const actual = await onnxLogits(files["onnx/model.onnx"], pixels, shape);
      assert.deepEqual(actual.dims, [2, 3]);
      const label = `dinov2 ${swiglu ? "swiglu" : "mlp"} at ${crop}`;
      assertClose(actual.data, expected, { atol: 2e-5, rtol: 1e-5 }, label);
      const worst = worstDifference(actual.data, expected);
      console.log(`${label}: worst |diff| ${worst.abs.toExponential(2)}`);
      model.dispose();
    }
  }
});
