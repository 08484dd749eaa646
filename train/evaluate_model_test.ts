import assert from "node:assert/strict";
import { loadImageFolder } from "../data/image_folder.ts";
import { ClassLabel, Dataset } from "../data/dataset.ts";
import { useFileSystem } from "../io/files.ts";
import { init } from "../tensor/runtime.ts";
import { ArgumentError, makeTrainingArguments } from "./args.ts";
import { alignLabels, evaluateModel } from "./evaluate_model.ts";
import { loadModelFolder } from "./model_folder.ts";
import { Trainer } from "./trainer.ts";
import { memoryWithStripes } from "./_test_util.ts";

await init();

Deno.test(
  "evaluateModel() gives the Trainer's metrics under the " +
    "split's prefix, with the matrix and count",
  async () => {
    await memoryWithStripes();
    try {
      const { model, processor } = await loadModelFolder("model");
      const ds = await loadImageFolder("data");
      const out = await evaluateModel(model, processor, ds.validation, { split: "test" });
      const reference = await new Trainer({
        model,
        processor,
        args: makeTrainingArguments({ reportTo: "none", outputDir: "eval" }),
        evalDataset: ds.validation,
        log: () => {},
      }).evaluate(undefined, "test");
      assert.equal(out.test_accuracy, reference.metrics.test_accuracy);
      assert.equal(out.test_loss, reference.metrics.test_loss);
      assert.deepEqual(out.test_confusion_matrix, reference.confusionMatrix);
      assert.equal(out.test_samples, ds.validation.length);
      assert.ok(!("epoch" in out), "no epoch outside training");
      model.dispose();
    } finally {
      useFileSystem(null);
    }
  },
);

Deno.test("evaluateModel() matches a dataset's classes to the model's by name", async () => {
  await memoryWithStripes();
  try {
    const { model, processor } = await loadModelFolder("model");
    const ds = await loadImageFolder("data");
    const straight = await evaluateModel(model, processor, ds.validation);
    // The same rows, with the class order reversed in the dataset.
    const names = ds.validation.labels.names;
    const reversed = new Dataset(
      Array.from({ length: ds.validation.length }, (_, i) => {
        const r = ds.validation.row(i);
        return { ...r, labels: 1 - r.labels };
      }),
      new ClassLabel([names[1], names[0]]),
    );
    assert.equal(alignLabels(ds.validation, model, "data"), ds.validation, "same order: as is");
    const swapped = await evaluateModel(model, processor, reversed);
    assert.equal(swapped.eval_accuracy, straight.eval_accuracy);
    assert.deepEqual(swapped.eval_confusion_matrix, straight.eval_confusion_matrix);
    const unknown = new Dataset([ds.validation.row(0)], new ClassLabel(["diagonal"]));
    assert.throws(
      () => alignLabels(unknown, model, "data/extra"),
      (e) =>
        e instanceof ArgumentError &&
        e.message === "data/extra has classes the model does not know: diagonal " +
            "(model classes: horizontal, vertical)",
    );
    model.dispose();
  } finally {
    useFileSystem(null);
  }
});
