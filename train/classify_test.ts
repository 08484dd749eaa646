import assert from "node:assert/strict";
import { decodeImage, ImageDecodeError } from "../data/image.ts";
import { useFileSystem } from "../io/files.ts";
import { Rng } from "../tensor/rng.ts";
import { init } from "../tensor/runtime.ts";
import { noGrad } from "../tensor/tensor.ts";
import { classifyImage, softmaxRow } from "./classify.ts";
import { loadModelFolder } from "./model_folder.ts";
import { memoryWithStripes, stripePng } from "./_test_util.ts";

await init();

Deno.test("softmaxRow() is exp(x - max) normalised, stable for large logits", () => {
  const p = softmaxRow([1, 2, 3]);
  const e = [Math.exp(-2), Math.exp(-1), 1];
  const s = e[0] + e[1] + e[2];
  assert.deepEqual(p, e.map((v) => v / s));
  assert.deepEqual(softmaxRow([1000, 1000]), [0.5, 0.5]);
});

Deno.test(
  "classifyImage() ranks the model's own logits for a file and " +
    "puts training mode back",
  async () => {
    await memoryWithStripes();
    try {
      const { model, processor } = await loadModelFolder("model");
      const bytes = stripePng(1, new Rng(9));
      const { pixelValues } = await processor.preprocess(decodeImage(bytes));
      model.eval();
      const expected = [...await noGrad(() => model.forward(pixelValues).logits).toArray()];
      pixelValues.dispose();
      model.train();

      const result = await classifyImage(model, processor, bytes, { topK: 5, name: "v.png" });
      assert.equal(model.training, true, "training mode restored");
      assert.deepEqual(result.logits, expected);
      const probs = softmaxRow(expected);
      const best = probs.indexOf(Math.max(...probs));
      assert.equal(result.label, ["horizontal", "vertical"][best]);
      assert.equal(result.score, probs[best]);
      assert.equal(result.topK.length, 2, "top k is at most the number of classes");
      assert.ok(result.topK[0].score >= result.topK[1].score);
      const decoded = await classifyImage(model, processor, decodeImage(bytes), { topK: 1 });
      assert.deepEqual(decoded.logits, expected, "a decoded image gives the same");
      assert.equal(decoded.topK.length, 1);
      await assert.rejects(
        classifyImage(model, processor, new Uint8Array([1, 2, 3]), { name: "notes.txt" }),
        (e) => e instanceof ImageDecodeError && e.message.startsWith("notes.txt"),
      );
      model.dispose();
    } finally {
      useFileSystem(null);
    }
  },
);
