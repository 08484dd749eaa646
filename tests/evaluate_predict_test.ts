/**
 * `deno task evaluate` and `deno task predict` on a saved model, against the same model run in
 * the test process: the loss, accuracy and confusion matrix, and each image's logits and top-k.
 *
 * @module
 */

import assert from "node:assert/strict";
import { makeBeans } from "../demo/make_beans.ts";
import { loadImageFolder } from "../data/image_folder.ts";
import { readImage } from "../data/sample.ts";
import { ViTImageProcessor } from "../data/processor.ts";
import { cliCommand, removeOnUnload, testTempDir } from "../io/_test_util.ts";
import { init } from "../tensor/runtime.ts";
import { noGrad, scopeAsync } from "../tensor/tensor.ts";
import { saveTinyModel, TINY_VIT } from "./_tiny_vit.ts";

await init();

const root = await testTempDir();
removeOnUnload(root);
const data = `${root}/beans`;
await makeBeans(data, { seed: 5, size: 40, splits: { train: 6, validation: 9 } });
const ds = await loadImageFolder(data);
const modelDir = `${root}/model`;
const processor = new ViTImageProcessor({ size: TINY_VIT.image_size });
const model = await saveTinyModel(modelDir, ds.train.labels.id2label(), 11);
model.eval();

/** The model's logits for one image file, computed here. */
async function logitsOf(path: string): Promise<number[]> {
  const image = await readImage({ path });
  return await scopeAsync(async () => {
    const { pixelValues } = await processor.preprocess(image);
    return [...await noGrad(() => model.forward(pixelValues).logits).toArray()];
  });
}

function softmax(logits: number[]): number[] {
  const top = Math.max(...logits);
  const e = logits.map((x) => Math.exp(x - top));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / sum);
}

async function run(task: string, args: string[]): Promise<unknown> {
  const out = await cliCommand(task, args, root).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, `${task} failed: ${stderr}`);
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

Deno.test("deno task evaluate gives a model's loss, accuracy and confusion matrix", async () => {
  const split = ds.validation;
  const confusion = [[0, 0, 0], [0, 0, 0], [0, 0, 0]];
  let loss = 0;
  for (let i = 0; i < split.length; i++) {
    const row = split.row(i);
    const logits = await logitsOf(row.image.path!);
    const p = softmax(logits);
    loss -= Math.log(p[row.labels]);
    confusion[row.labels][p.indexOf(Math.max(...p))]++;
  }
  loss /= split.length;
  const correct = confusion.reduce((n, r, i) => n + r[i], 0);
  const out = await run("evaluate", ["--model", modelDir, "--data", data, "--json"]) as Record<
    string,
    unknown
  >;
  assert.equal(out.validation_samples, 9);
  assert.ok(Math.abs((out.validation_loss as number) - loss) < 1e-4, `${out.validation_loss}`);
  assert.equal(out.validation_accuracy, correct / split.length);
  assert.deepEqual(out.validation_confusion_matrix, confusion);
});

Deno.test("deno task predict gives each image's logits and most probable classes", async () => {
  const paths = [0, 4].map((i) => ds.validation.row(i).image.path!);
  const out = await run("predict", ["--model", modelDir, "--top-k", "2", "--json", ...paths]) as {
    image: string;
    label: string;
    top_k: { label: string; score: number }[];
    logits: number[];
  }[];
  assert.equal(out.length, 2);
  const names = ds.train.labels.names;
  for (const [i, path] of paths.entries()) {
    const logits = await logitsOf(path);
    const p = softmax(logits);
    const order = [...p.keys()].sort((a, b) => p[b] - p[a]);
    assert.equal(out[i].image, path);
    out[i].logits.forEach((v, j) => assert.ok(Math.abs(v - logits[j]) < 1e-5, `logit ${j}`));
    assert.deepEqual(out[i].top_k.map((t) => t.label), order.slice(0, 2).map((j) => names[j]));
    out[i].top_k.forEach((t, j) => assert.ok(Math.abs(t.score - p[order[j]]) < 1e-5));
    assert.equal(out[i].label, names[order[0]]);
  }
});
