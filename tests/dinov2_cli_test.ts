/**
 * A DINOv2 model folder through the CLI: `deno task train`, `evaluate` and `predict` read its
 * model_type and its BitImageProcessor (shortest edge 36, bicubic, center crop 28) from the
 * folder, with nothing of ViT's processor assumed: evaluation and prediction equal the same
 * model and processor run in the test process, and training saves the folder's processor. A
 * DINOv2 folder without preprocessor_config.json trains with DINOv2's default processor.
 *
 * @module
 */

import assert from "node:assert/strict";
import { makeBeans } from "../demo/make_beans.ts";
import { AutoImageProcessor } from "../data/auto_processor.ts";
import { BitImageProcessor, DINOV2_PROCESSOR } from "../data/bit_processor.ts";
import { loadImageFolder } from "../data/image_folder.ts";
import { readImage } from "../data/sample.ts";
import { cliCommand, removeOnUnload, testTempDir } from "../io/_test_util.ts";
import { makeDinov2Config } from "../models/dinov2/config.ts";
import { Dinov2ForImageClassification } from "../models/dinov2/modeling.ts";
import { init } from "../tensor/runtime.ts";
import { noGrad, scopeAsync } from "../tensor/tensor.ts";

await init();

const root = await testTempDir();
removeOnUnload(root);
const data = `${root}/beans`;
await makeBeans(data, { seed: 8, size: 40, splits: { train: 6, validation: 6 } });
const ds = await loadImageFolder(data);
const modelDir = `${root}/dino`;
const processor = new BitImageProcessor({
  ...DINOV2_PROCESSOR,
  size: { shortest_edge: 36 },
  crop_size: { height: 28, width: 28 },
});
const model = new Dinov2ForImageClassification(
  makeDinov2Config({
    hidden_size: 24,
    num_hidden_layers: 1,
    num_attention_heads: 2,
    patch_size: 14,
    // Trained at 42: the 28 px crops run on a resized position grid.
    image_size: 42,
    use_swiglu_ffn: true,
    id2label: ds.train.labels.id2label(),
  }),
  13,
);
await model.savePretrained(modelDir);
await processor.savePretrained(modelDir);
model.eval();

async function run(task: string, args: string[]): Promise<string> {
  const out = await cliCommand(task, args, root).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, `${task} failed: ${stderr}`);
  return new TextDecoder().decode(out.stdout);
}

Deno.test("deno task predict runs a DINOv2 folder with its BitImageProcessor", async () => {
  const paths = [0, 3].map((i) => ds.validation.row(i).image.path!);
  const out = JSON.parse(await run("predict", ["--model", modelDir, "--json", ...paths])) as {
    logits: number[];
  }[];
  for (const [i, path] of paths.entries()) {
    const image = await readImage({ path });
    const logits = await scopeAsync(async () => {
      const { pixelValues } = await processor.preprocess(image);
      assert.deepEqual(pixelValues.shape, [1, 3, 28, 28]);
      return [...await noGrad(() => model.forward(pixelValues).logits).toArray()];
    });
    out[i].logits.forEach((v, j) => assert.ok(Math.abs(v - logits[j]) < 1e-5, `logit ${j}`));
  }
});

Deno.test("deno task evaluate, train read a DINOv2 processor, and train saves it", async () => {
  const evaluated = JSON.parse(
    await run("evaluate", ["--model", modelDir, "--data", data, "--json"]),
  ) as Record<string, number>;
  let loss = 0;
  for (let i = 0; i < ds.validation.length; i++) {
    const row = ds.validation.row(i);
    const image = await readImage({ path: row.image.path! });
    const logits = await scopeAsync(async () => {
      const { pixelValues } = await processor.preprocess(image);
      return [...await noGrad(() => model.forward(pixelValues).logits).toArray()];
    });
    const top = Math.max(...logits);
    const logSum = Math.log(logits.reduce((s, x) => s + Math.exp(x - top), 0)) + top;
    loss += logSum - logits[row.labels];
  }
  loss /= ds.validation.length;
  assert.ok(Math.abs(evaluated.validation_loss - loss) < 1e-4, `${evaluated.validation_loss}`);

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
  assert.equal(config.model_type, "dinov2");
  const saved = await AutoImageProcessor.fromPretrained(out);
  assert.ok(saved instanceof BitImageProcessor);
  assert.deepEqual(saved.config, processor.config);
});

Deno.test("deno task train saves DINOv2's default processor if the folder has none", async () => {
  const bare = `${root}/dino_bare`;
  const fresh = new Dinov2ForImageClassification(
    makeDinov2Config({
      hidden_size: 16,
      num_hidden_layers: 1,
      num_attention_heads: 2,
      patch_size: 14,
      image_size: 28,
    }),
    5,
  );
  await fresh.savePretrained(bare);
  fresh.dispose();
  const out = `${root}/bare_out`;
  await run("train", [
    "--data",
    data,
    "--model",
    bare,
    "--output-dir",
    out,
    "--max-steps",
    "1",
    "--per-device-train-batch-size",
    "2",
  ]);
  const config = JSON.parse(await Deno.readTextFile(`${out}/config.json`));
  assert.equal(config.model_type, "dinov2");
  assert.deepEqual(config.architectures, ["Dinov2ForImageClassification"]);
  const saved = await AutoImageProcessor.fromPretrained(out);
  assert.ok(saved instanceof BitImageProcessor);
  assert.deepEqual(saved.outputSize, { height: 224, width: 224 });
});
