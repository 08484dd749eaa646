/**
 * `deno task train` with `--peft lora`, `--gradient-checkpointing` and `--freeze-backbone`: the
 * trainable-parameter line, the adapter folder and checkpoints in PEFT's files, and `predict`
 * loading the adapter folder as a model.
 *
 * @module
 */

import assert from "node:assert/strict";
import { makeBeans } from "../demo/make_beans.ts";
import { loadImageFolder } from "../data/image_folder.ts";
import { readImage } from "../data/sample.ts";
import { ViTImageProcessor } from "../data/processor.ts";
import { cliCommand, removeOnUnload, testTempDir } from "../io/_test_util.ts";
import { AutoModelForImageClassification } from "../models/auto.ts";
import { parseSafetensors } from "../nn/safetensors.ts";
import { init } from "../tensor/runtime.ts";
import { noGrad, scopeAsync } from "../tensor/tensor.ts";
import { saveTinyModel, TINY_VIT } from "./_tiny_vit.ts";

await init();

const root = await testTempDir();
removeOnUnload(root);
const data = `${root}/beans`;
await makeBeans(data, { seed: 5, size: 40, splits: { train: 8, validation: 4 } });
const ds = await loadImageFolder(data);
const baseDir = `${root}/base`;
const base = await saveTinyModel(baseDir, ds.train.labels.id2label(), 3);
const processor = new ViTImageProcessor({ size: TINY_VIT.image_size });
const image = ds.validation.row(0).image.path!;

async function train(out: string, ...extra: string[]): Promise<string> {
  const r = await cliCommand("train", [
    "--data",
    data,
    "--model",
    baseDir,
    "--output-dir",
    out,
    "--max-steps",
    "2",
    "--save-steps",
    "1",
    "--eval-steps",
    "1",
    ...extra,
  ], root).output();
  const stdout = new TextDecoder().decode(r.stdout);
  assert.equal(r.code, 0, `train failed: ${new TextDecoder().decode(r.stderr)}`);
  return stdout;
}

async function logitsOf(model: { forward(x: any): { logits: any }; eval(): unknown }) {
  model.eval();
  const img = await readImage({ path: image });
  return await scopeAsync(async () => {
    const { pixelValues } = await processor.preprocess(img);
    return [...await noGrad(() => model.forward(pixelValues).logits).toArray()];
  });
}

const comma = (n: number) => n.toLocaleString("en-US");

Deno.test("deno task train --peft lora writes PEFT's adapter; predict loads it", async () => {
  const out = `${root}/lora`;
  const stdout = await train(
    out,
    "--peft",
    "lora",
    "--lora-r",
    "4",
    "--lora-alpha",
    "8",
    "--lora-dropout",
    "0.1",
    "--gradient-checkpointing",
  );
  const d = TINY_VIT.hidden_size;
  const lora = 2 * (4 * d + d * 4);
  const head = 3 * d + 3;
  const all = base.numParameters() + lora + head;
  assert.ok(
    stdout.includes(
      `trainable params: ${comma(lora + head)} || all params: ${comma(all)} || trainable%: ${
        (100 * (lora + head) / all).toFixed(4)
      }`,
    ),
    stdout,
  );
  const config = JSON.parse(await Deno.readTextFile(`${out}/adapter_config.json`));
  assert.equal(config.peft_type, "LORA");
  assert.equal(config.r, 4);
  assert.equal(config.lora_alpha, 8);
  assert.equal(config.lora_dropout, 0.1);
  assert.deepEqual(config.target_modules, ["query", "value"]);
  assert.deepEqual(config.modules_to_save, ["classifier"]);
  assert.equal(config.base_model_name_or_path, baseDir);
  const keys = (dir: string) =>
    Deno.readFile(`${dir}/adapter_model.safetensors`).then((b) =>
      [...parseSafetensors(b).tensors.keys()].sort()
    );
  const expected = [
    "base_model.model.classifier.bias",
    "base_model.model.classifier.weight",
    ...["query", "value"].flatMap((m) =>
      ["A", "B"].map((x) =>
        `base_model.model.vit.encoder.layer.0.attention.attention.${m}.lora_${x}.weight`
      )
    ),
  ].sort();
  assert.deepEqual(await keys(out), expected);
  // Checkpoints hold the adapter and its six tensors' moments, not the model.
  for (const step of [1, 2]) {
    const ckpt = `${out}/checkpoint-${step}`;
    assert.deepEqual(await keys(ckpt), expected);
    assert.ok(!(await exists(`${ckpt}/model.safetensors`)));
    const opt = parseSafetensors(await Deno.readFile(`${ckpt}/optimizer.safetensors`));
    assert.equal(opt.tensors.size, 2 * 6);
  }
  assert.ok(!(await exists(`${out}/model.safetensors`)));

  const r = await cliCommand("predict", ["--model", out, "--json", image], root).output();
  assert.equal(r.code, 0, new TextDecoder().decode(r.stderr));
  const [predicted] = JSON.parse(new TextDecoder().decode(r.stdout));
  const adapted = await AutoModelForImageClassification.fromPretrained(out, { log: () => {} });
  const here = await logitsOf(adapted);
  predicted.logits.forEach((v: number, i: number) => assert.ok(Math.abs(v - here[i]) < 1e-5));
  assert.deepEqual(Object.values(adapted.config.id2label), ds.train.labels.names);
  // The trained head differs from the base's.
  const before = await logitsOf(base);
  assert.ok(before.some((v, i) => Math.abs(v - here[i]) > 1e-4));
  adapted.dispose();
});

Deno.test("a resumed LoRA run ends with the uninterrupted run's adapter", async () => {
  // Runs after the test above, which left ${root}/lora with checkpoint-1 and the final adapter.
  const resumed = `${root}/lora-resumed`;
  await Deno.mkdir(`${resumed}/checkpoint-1`, { recursive: true });
  for await (const e of Deno.readDir(`${root}/lora/checkpoint-1`)) {
    await Deno.copyFile(`${root}/lora/checkpoint-1/${e.name}`, `${resumed}/checkpoint-1/${e.name}`);
  }
  await train(
    resumed,
    "--peft",
    "lora",
    "--lora-r",
    "4",
    "--lora-alpha",
    "8",
    "--lora-dropout",
    "0.1",
    "--gradient-checkpointing",
    "--resume-from-checkpoint",
    `${resumed}/checkpoint-1`,
  );
  const read = async (dir: string) =>
    parseSafetensors(await Deno.readFile(`${dir}/checkpoint-2/adapter_model.safetensors`)).tensors;
  const a = await read(`${root}/lora`);
  const b = await read(resumed);
  for (const [k, e] of a) assert.deepEqual(b.get(k)!.data, e.data, k);
});

Deno.test("deno task train --freeze-backbone changes only the head", async () => {
  const out = `${root}/probe`;
  const stdout = await train(out, "--freeze-backbone");
  const head = 3 * TINY_VIT.hidden_size + 3;
  assert.match(stdout, new RegExp(`trainable params: ${head} \\|\\| all params: `));
  const saved = parseSafetensors(await Deno.readFile(`${out}/model.safetensors`)).tensors;
  for (const [name, t] of base.namedParameters()) {
    const values = await t.toArray();
    const same = saved.get(name)!.data.every((v, i) => v === values[i]);
    assert.equal(same, !name.startsWith("classifier."), name);
  }
});

Deno.test("deno task train rejects --peft lora with --freeze-backbone in one line", async () => {
  const r = await cliCommand("train", [
    "--data",
    data,
    "--model",
    baseDir,
    "--output-dir",
    `${root}/both`,
    "--peft",
    "lora",
    "--freeze-backbone",
  ], root).output();
  assert.equal(r.code, 2);
  assert.match(new TextDecoder().decode(r.stderr), /--peft lora and --freeze-backbone exclude/);
});

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}
