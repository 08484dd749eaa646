/**
 * A ConvNeXt model folder with no preprocessor_config.json through the CLI: `deno task predict`
 * and `train` build its default processor (ConvNextImageProcessor: shortest edge
 * image_size / crop_pct, bicubic, center crop), prediction equals the same model and processor
 * run in the test process, and training saves a ConvNeXt folder with that processor.
 *
 * @module
 */

import assert from "node:assert/strict";
import { makeBeans } from "../demo/make_beans.ts";
import { AutoImageProcessor } from "../data/auto_processor.ts";
import { ConvNextImageProcessor } from "../data/convnext_processor.ts";
import { loadImageFolder } from "../data/image_folder.ts";
import { readImage } from "../data/sample.ts";
import { cliCommand, removeOnUnload, testTempDir } from "../io/_test_util.ts";
import { makeConvNextConfig } from "../models/convnext/config.ts";
import { ConvNextForImageClassification } from "../models/convnext/modeling.ts";
import { init } from "../tensor/runtime.ts";
import { noGrad, scopeAsync } from "../tensor/tensor.ts";

await init();

const root = await testTempDir();
removeOnUnload(root);
const data = `${root}/beans`;
await makeBeans(data, { seed: 9, size: 40, splits: { train: 6, validation: 4 } });
const ds = await loadImageFolder(data);
const modelDir = `${root}/convnext`;
const model = new ConvNextForImageClassification(
  makeConvNextConfig({
    num_stages: 2,
    hidden_sizes: [8, 16],
    depths: [1, 1],
    image_size: 32,
    id2label: ds.train.labels.id2label(),
  }),
  17,
);
await model.savePretrained(modelDir);
model.eval();
const processor = AutoImageProcessor.defaultFor(model.config);

async function run(task: string, args: string[]): Promise<string> {
  const out = await cliCommand(task, args, root).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, `${task} failed: ${stderr}`);
  return new TextDecoder().decode(out.stdout);
}

Deno.test("deno task predict runs a ConvNeXt folder with its default processor", async () => {
  assert.ok(processor instanceof ConvNextImageProcessor);
  const paths = [0, 3].map((i) => ds.validation.row(i).image.path!);
  const out = JSON.parse(await run("predict", ["--model", modelDir, "--json", ...paths])) as {
    logits: number[];
  }[];
  for (const [i, path] of paths.entries()) {
    const image = await readImage({ path });
    const logits = await scopeAsync(async () => {
      const { pixelValues } = await processor.preprocess(image);
      assert.deepEqual(pixelValues.shape, [1, 3, 32, 32]);
      return [...await noGrad(() => model.forward(pixelValues).logits).toArray()];
    });
    out[i].logits.forEach((v, j) => assert.ok(Math.abs(v - logits[j]) < 1e-5, `logit ${j}`));
  }
});

Deno.test("deno task train fine-tunes a ConvNeXt folder and saves its processor", async () => {
  const out = `${root}/trained`;
  await run("train", [
    "--data",
    data,
    "--model",
    modelDir,
    "--output-dir",
    out,
    "--max-steps",
    "2",
    "--save-steps",
    "2",
    "--eval-steps",
    "2",
    "--per-device-train-batch-size",
    "3",
  ]);
  const config = JSON.parse(await Deno.readTextFile(`${out}/config.json`));
  assert.equal(config.model_type, "convnext");
  assert.deepEqual(config.architectures, ["ConvNextForImageClassification"]);
  const trained = await ConvNextForImageClassification.fromPretrained(out);
  const before = await model.convnext.encoder.stages.items[1].layers.items[0].dwconv.weight
    .toArray();
  const after = await trained.convnext.encoder.stages.items[1].layers.items[0].dwconv.weight
    .toArray();
  assert.ok(after.some((v, i) => v !== before[i]), "training changed the depthwise filters");
  trained.dispose();
  const saved = await AutoImageProcessor.fromPretrained(out);
  assert.ok(saved instanceof ConvNextImageProcessor);
  assert.deepEqual(saved.config, processor.config);
});
