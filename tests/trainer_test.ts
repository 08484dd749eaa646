/**
 * End-to-end tests of the Trainer and the train CLI on a small generated dataset and a tiny
 * ViT: learning, Hugging Face's output layout, TensorBoard records, and an exact resume after
 * SIGKILL.
 */
import assert from "node:assert/strict";
import { makeBeans } from "../demo/make_beans.ts";
import { loadImageFolder } from "../data/image_folder.ts";
import { ViTImageProcessor } from "../data/processor.ts";
import { makeViTConfig } from "../models/vit/config.ts";
import { ViTForImageClassification } from "../models/vit/modeling.ts";
import { makeTrainingArguments } from "../train/args.ts";
import { Trainer } from "../train/trainer.ts";
import { readEventFile } from "../train/tensorboard.ts";
import { cliCommand, removeOnUnload, testTempDir } from "../io/_test_util.ts";
import { encodePng } from "../data/png.ts";
import { Rng } from "../tensor/rng.ts";
import { gpu } from "../tensor/device.ts";
import { init } from "../tensor/runtime.ts";

await init();

const TINY = {
  hidden_size: 48,
  num_hidden_layers: 2,
  num_attention_heads: 3,
  intermediate_size: 96,
  image_size: 48,
  patch_size: 8,
};

const root = await testTempDir();
const data = `${root}/beans`;
await makeBeans(data, { seed: 5, size: 64, splits: { train: 120, validation: 48 } });

/**
 * An easy three-class ImageFolder (stripes: horizontal, vertical, diagonal, in random colours
 * and phases), so that the learning test checks the Trainer rather than the dataset's
 * difficulty.
 */
async function writeStripes(dir: string, perClass: Record<string, number>): Promise<void> {
  const rng = new Rng(11);
  for (const [split, n] of Object.entries(perClass)) {
    for (const [label, name] of ["horizontal", "vertical", "diagonal"].entries()) {
      await Deno.mkdir(`${dir}/${split}/${name}`, { recursive: true });
      for (let i = 0; i < n; i++) {
        const size = 48;
        const data = new Uint8Array(size * size * 3);
        const period = 6 + Math.floor(rng.next() * 8);
        const phase = rng.next() * period;
        const a = [0, 1, 2].map(() => rng.next() * 255);
        const b = [0, 1, 2].map(() => rng.next() * 255);
        for (let y = 0; y < size; y++) {
          for (let x = 0; x < size; x++) {
            const t = label === 0 ? y : label === 1 ? x : x + y;
            const on = ((t + phase) % period) < period / 2;
            for (let c = 0; c < 3; c++) {
              const v = (on ? a[c] : b[c]) + (rng.next() - 0.5) * 40;
              data[(y * size + x) * 3 + c] = Math.max(0, Math.min(255, v));
            }
          }
        }
        await Deno.writeFile(
          `${dir}/${split}/${name}/${i}.png`,
          encodePng({ width: size, height: size, data }),
        );
      }
    }
  }
}
const stripes = `${root}/stripes`;
await writeStripes(stripes, { train: 40, validation: 16 });

async function tinyTrainer(
  outputDir: string,
  extra: Record<string, unknown> = {},
  dir = data,
  initialLossScale?: number,
) {
  const ds = await loadImageFolder(dir);
  const config = makeViTConfig({ ...TINY, id2label: ds.train.labels.id2label() });
  const model = new ViTForImageClassification(config, 1);
  const args = makeTrainingArguments({
    outputDir,
    perDeviceTrainBatchSize: 12,
    learningRate: 2e-3,
    numTrainEpochs: 4,
    evalStrategy: "steps",
    evalSteps: 10,
    saveSteps: 10,
    loggingSteps: 5,
    saveTotalLimit: 2,
    loadBestModelAtEnd: true,
    metricForBestModel: "accuracy",
    dataloaderNumWorkers: 1,
    ...extra,
  });
  const logs: string[] = [];
  const trainer = new Trainer({
    model,
    args,
    processor: new ViTImageProcessor({ size: 48 }),
    trainDataset: ds.train,
    evalDataset: ds.validation,
    log: (l) => logs.push(l),
    initialLossScale,
    fp16OnSoftware: true,
  });
  return { trainer, logs };
}

Deno.test("a tiny ViT learns a generated dataset: loss falls, accuracy beats chance", async () => {
  const out = `${root}/learn`;
  // ViTs from scratch sit on a plateau for ~50 steps before the loss drops.
  const { trainer } = await tinyTrainer(
    out,
    { numTrainEpochs: 15, evalSteps: 50, saveSteps: 50 },
    stripes,
  );
  const { metrics: before } = await trainer.evaluate();
  const result = await trainer.train();
  const { metrics: after, confusionMatrix } = await trainer.evaluate();
  trainer.close();
  const losses = trainer.state.log_history.filter((e) => "loss" in e).map((e) => e.loss);
  console.log(
    `loss ${losses[0]} → ${losses.at(-1)}; accuracy ${before.eval_accuracy.toFixed(3)} → ` +
      `${after.eval_accuracy.toFixed(3)} in ${result.globalStep} steps`,
  );
  assert.equal(result.globalStep, 150);
  assert.ok(losses.at(-1)! < losses[0] / 2, `loss falls: ${losses[0]} → ${losses.at(-1)}`);
  assert.ok(after.eval_accuracy >= 0.7, `accuracy ${after.eval_accuracy} beats chance (1/3)`);
  assert.equal(confusionMatrix.length, 3);
  assert.equal(confusionMatrix.flat().reduce((a, b) => a + b, 0), 48, "one count per image");
  const diagonal = confusionMatrix.reduce((n, row, i) => n + row[i], 0);
  assert.equal(diagonal / 48, after.eval_accuracy, "its diagonal is the accuracy");
});

Deno.test("fp16 training skips overflowing steps, lowers the loss scale, and learns like f32", {
  ignore: !gpu().profile.f16,
}, async () => {
  const run = async (fp16: boolean) => {
    const { trainer, logs } = await tinyTrainer(
      `${root}/fp16-${fp16}`,
      { numTrainEpochs: 15, evalSteps: 50, saveSteps: 50, fp16 },
      stripes,
      2 ** 24,
    );
    await trainer.train();
    const { metrics } = await trainer.evaluate();
    trainer.close();
    const losses = trainer.state.log_history.filter((e) => "loss" in e).map((e) => e.loss);
    return { logs, metrics, last: losses.at(-1)! };
  };
  const half = await run(true);
  const full = await run(false);
  const overflows = half.logs.filter((l) => /Gradient overflow/.test(l));
  console.log(
    `fp16: ${overflows.length} overflow steps, loss ${half.last}, ` +
      `accuracy ${half.metrics.eval_accuracy}; ` +
      `f32: loss ${full.last}, accuracy ${full.metrics.eval_accuracy}`,
  );
  assert.ok(overflows.length >= 1 && overflows.length < 20, `${overflows.length} overflow steps`);
  assert.match(overflows[0], /reducing the loss scale to 8388608/);
  assert.equal(full.logs.filter((l) => /Gradient overflow/.test(l)).length, 0);
  assert.ok(half.metrics.eval_accuracy >= 0.7, `fp16 accuracy ${half.metrics.eval_accuracy}`);
  assert.ok(Math.abs(half.last - full.last) < 0.25, `fp16 loss ${half.last} vs f32 ${full.last}`);
});

Deno.test("the output folder, trainer_state.json and TensorBoard events match HF's", async () => {
  const out = `${root}/layout`;
  const { trainer } = await tinyTrainer(out, { maxSteps: 30 });
  const result = await trainer.train();
  await trainer.saveModel();
  await trainer.saveMetrics("train", result.metrics);
  await trainer.saveState();
  trainer.close();
  const entries = [...Deno.readDirSync(out)].map((e) => e.name).sort();
  for (
    const f of [
      "config.json",
      "model.safetensors",
      "preprocessor_config.json",
      "trainer_state.json",
      "train_results.json",
      "all_results.json",
      "runs",
    ]
  ) assert.ok(entries.includes(f), `${f} in ${entries}`);
  const checkpoints = entries.filter((e) => e.startsWith("checkpoint-"));
  const state = JSON.parse(await Deno.readTextFile(`${out}/trainer_state.json`));
  assert.ok(checkpoints.length <= 2, `save_total_limit 2 keeps ${checkpoints}`);
  assert.ok(
    checkpoints.includes(state.best_model_checkpoint.split("/").pop()),
    "the best checkpoint survives rotation",
  );
  for (
    const f of [
      "config.json",
      "model.safetensors",
      "optimizer.safetensors",
      "scheduler.json",
      "rng_state.json",
      "trainer_state.json",
      "preprocessor_config.json",
    ]
  ) assert.ok(Deno.statSync(`${out}/${checkpoints[0]}/${f}`).isFile, f);
  for (
    const field of [
      "best_metric",
      "best_model_checkpoint",
      "global_step",
      "max_steps",
      "num_train_epochs",
      "total_flos",
      "log_history",
      "logging_steps",
      "eval_steps",
      "save_steps",
      "train_batch_size",
    ]
  ) assert.ok(field in state, field);
  assert.equal(state.global_step, 30);
  const logs = state.log_history;
  assert.deepEqual(Object.keys(logs[0]).sort(), [
    "epoch",
    "grad_norm",
    "learning_rate",
    "loss",
    "step",
  ]);
  assert.ok(logs.some((e: Record<string, number>) => "eval_accuracy" in e && "eval_loss" in e));
  assert.ok("train_runtime" in logs.at(-1) && "train_loss" in logs.at(-1));
  const params = new ViTForImageClassification(makeViTConfig({ ...TINY, num_labels: 3 }))
    .numParameters();
  assert.equal(state.total_flos, 6 * params * 3 * 48 * 48 * 12 * 30);
  const run = [...Deno.readDirSync(`${out}/runs`)][0].name;
  const file = [...Deno.readDirSync(`${out}/runs/${run}`)][0].name;
  assert.match(file, /^events\.out\.tfevents\.\d+\..+\.\d+\.0$/);
  const events = readEventFile(await Deno.readFile(`${out}/runs/${run}/${file}`));
  assert.equal(events.fileVersion, "brain.Event:2");
  const tags = new Set(events.scalars.map((s) => s.tag));
  for (
    const tag of [
      "train/loss",
      "train/learning_rate",
      "train/grad_norm",
      "eval/accuracy",
      "eval/loss",
    ]
  ) {
    assert.ok(tags.has(tag), `${tag} in ${[...tags]}`);
  }
  const firstLoss = events.scalars.find((s) => s.tag === "train/loss")!;
  assert.equal(firstLoss.step, 5);
  assert.ok(Math.abs(firstLoss.value - logs[0].loss) < 1e-4);
});

function trainCli(out: string, extra: string[] = []): Deno.ChildProcess {
  return cliCommand("train", [
    "--data",
    data,
    "--model",
    `${root}/tiny_model`,
    "--output-dir",
    out,
    "--per-device-train-batch-size",
    "12",
    "--max-steps",
    "24",
    "--save-steps",
    "4",
    "--eval-steps",
    "4",
    "--logging-steps",
    "2",
    "--learning-rate",
    "1e-3",
    "--load-best-model-at-end",
    "false",
    "--report-to",
    "none",
    "--dataloader-num-workers",
    "1",
    ...extra,
  ], root).spawn();
}

Deno.test("a run SIGKILLed and resumed ends with an uninterrupted run's weights", async () => {
  // A freshly initialised model folder, as `--config` made before it went away.
  const id2label = (await loadImageFolder(data)).train.labels.id2label();
  await new ViTForImageClassification(makeViTConfig({ ...TINY, id2label }), 42)
    .savePretrained(`${root}/tiny_model`);
  await new ViTImageProcessor({ size: TINY.image_size }).savePretrained(`${root}/tiny_model`);
  const full = await trainCli(`${root}/full`).output();
  assert.equal(full.code, 0, new TextDecoder().decode(full.stderr));
  const killed = `${root}/killed`;
  const child = await trainCli(killed);
  for (let i = 0; i < 600; i++) {
    await new Promise((r) => setTimeout(r, 100));
    if (
      await Deno.stat(`${killed}/checkpoint-8/trainer_state.json`).then(() => true, () => false)
    ) break;
  }
  child.kill("SIGKILL");
  const status = await child.status;
  await child.stdout.cancel();
  await child.stderr.cancel();
  assert.notEqual(status.code, 0, "the first run was killed");
  assert.ok(!(await Deno.stat(`${killed}/model.safetensors`).then(() => true, () => false)));
  const resumed = await trainCli(killed, ["--resume-from-checkpoint"]).output();
  const text = new TextDecoder().decode(resumed.stdout);
  assert.equal(resumed.code, 0, new TextDecoder().decode(resumed.stderr));
  assert.match(text, /resuming from .*checkpoint-\d+ at step \d+/);
  const a = await Deno.readFile(`${root}/full/model.safetensors`);
  const b = await Deno.readFile(`${killed}/model.safetensors`);
  assert.ok(a.length === b.length && a.every((v, i) => v === b[i]), "weights are bit-identical");
});

removeOnUnload(root);
