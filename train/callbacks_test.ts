/**
 * Trainer callbacks, and training whose files all live in a MemoryFileSystem as on a web page:
 * the dataset is read from memory, checkpoints and TensorBoard events are written there, a
 * callback stops the run, and a resume from the in-memory checkpoint ends with the weights of an
 * uninterrupted run.
 *
 * @module
 */

import assert from "node:assert/strict";
import { encodePng } from "../data/png.ts";
import { loadImageFolder } from "../data/image_folder.ts";
import { ViTImageProcessor } from "../data/processor.ts";
import { type MemoryFile, MemoryFileSystem } from "../io/memory_fs.ts";
import { useFileSystem } from "../io/files.ts";
import { makeViTConfig } from "../models/vit/config.ts";
import { ViTForImageClassification } from "../models/vit/modeling.ts";
import { Rng } from "../tensor/rng.ts";
import { init } from "../tensor/runtime.ts";
import { makeTrainingArguments } from "./args.ts";
import type { TrainerCallback } from "./callbacks.ts";
import { readEventFile } from "./tensorboard.ts";
import { type ProgressInfo, Trainer } from "./trainer.ts";

await init();

const SIZE = 16;

/** Two classes of 16×16 PNGs, horizontal or vertical stripes, under `data/{split}/{class}`. */
function stripeFiles(perClass: Record<string, number>): MemoryFile[] {
  const rng = new Rng(3);
  const files: MemoryFile[] = [];
  for (const [split, n] of Object.entries(perClass)) {
    for (const [label, name] of ["horizontal", "vertical"].entries()) {
      for (let i = 0; i < n; i++) {
        const data = new Uint8Array(SIZE * SIZE * 3);
        const period = 4 + Math.floor(rng.next() * 4);
        for (let y = 0; y < SIZE; y++) {
          for (let x = 0; x < SIZE; x++) {
            const on = ((label === 0 ? y : x) % period) < period / 2;
            data.fill(on ? 220 : 30 + rng.next() * 40, (y * SIZE + x) * 3, (y * SIZE + x) * 3 + 3);
          }
        }
        files.push({
          path: `data/${split}/${name}/${i}.png`,
          data: encodePng({ width: SIZE, height: SIZE, data }),
        });
      }
    }
  }
  return files;
}

const memory = MemoryFileSystem.fromFiles(stripeFiles({ train: 8, validation: 3 }));

async function tinyTrainer(
  outputDir: string,
  callbacks: TrainerCallback[],
  extra: Record<string, unknown> = {},
): Promise<Trainer> {
  const ds = await loadImageFolder("data");
  const config = makeViTConfig({
    hidden_size: 24,
    num_hidden_layers: 1,
    num_attention_heads: 2,
    intermediate_size: 48,
    image_size: SIZE,
    patch_size: 8,
    id2label: ds.train.labels.id2label(),
  });
  return new Trainer({
    model: new ViTForImageClassification(config, 1),
    processor: new ViTImageProcessor({ size: SIZE }),
    trainDataset: ds.train,
    evalDataset: ds.validation,
    args: makeTrainingArguments({
      outputDir,
      perDeviceTrainBatchSize: 4,
      learningRate: 1e-3,
      maxSteps: 6,
      evalStrategy: "steps",
      evalSteps: 3,
      saveSteps: 2,
      loggingSteps: 1,
      reportTo: "tensorboard",
      // Workers decode bytes read on this thread, where the MemoryFileSystem is.
      dataloaderNumWorkers: 1,
      ...extra,
    }),
    log: () => {},
    hostname: "page",
    callbacks,
  });
}

Deno.test(
  "a run in a MemoryFileSystem stops through a callback and " +
    "resumes to an uninterrupted run's weights",
  async () => {
    useFileSystem(memory);
    try {
      const full = await tinyTrainer("full", []);
      await full.train();
      await full.saveModel();
      full.close();

      const calls: string[] = [];
      const progress: ProgressInfo[] = [];
      const logs: Record<string, number>[] = [];
      const evaluations: { metrics: Record<string, number>; matrix: number[][] }[] = [];
      const saves: string[] = [];
      const stopAtThree: TrainerCallback = {
        onTrainBegin: (_args, state) => void calls.push(`begin ${state.global_step}`),
        onStepEnd(_args, state, control, p) {
          progress.push(p);
          if (state.global_step === 3) control.shouldTrainingStop = true;
        },
        onLog: (_args, _state, _control, entry) => void logs.push(entry),
        onEvaluate: (_args, _state, _control, metrics, matrix) =>
          void evaluations.push({ metrics, matrix }),
        onSave: (_args, _state, _control, dir) => void saves.push(dir),
        onTrainEnd: (_args, state) => void calls.push(`end ${state.global_step}`),
      };
      const stopped = await tinyTrainer("run", [stopAtThree]);
      await stopped.train();
      stopped.close();

      assert.deepEqual(calls, ["begin 0", "end 3"]);
      assert.deepEqual(progress.map((p) => `${p.step}/${p.maxSteps}`), ["1/6", "2/6", "3/6"]);
      for (const p of progress) {
        assert.ok(p.samplesPerSecond > 0 && Number.isFinite(p.secondsLeft), JSON.stringify(p));
        assert.ok(Number.isFinite(p.loss) && p.learningRate > 0);
      }
      assert.deepEqual(logs.filter((e) => "loss" in e).map((e) => e.step), [1, 2, 3]);
      assert.equal(evaluations.length, 1, "one evaluation, at step 3");
      const [{ metrics, matrix }] = evaluations;
      assert.ok(metrics.eval_accuracy >= 0 && metrics.eval_accuracy <= 1);
      assert.ok(logs.some((e) => e.eval_loss === metrics.eval_loss), "the metrics were logged too");
      assert.equal(matrix.length, 2);
      assert.equal(matrix.flat().reduce((a, b) => a + b), 6, "every validation image counted");
      assert.deepEqual(saves, ["run/checkpoint-2", "run/checkpoint-3"], "the stop saves");

      const written = memory.filesUnder("run").map((f) => f.path);
      for (
        const name of [
          "config.json",
          "model.safetensors",
          "optimizer.safetensors",
          "preprocessor_config.json",
          "rng_state.json",
          "scheduler.json",
          "trainer_state.json",
          "training_args.json",
        ]
      ) assert.ok(written.includes(`run/checkpoint-3/${name}`), `${name} in ${written}`);
      assert.ok(!written.some((p) => /tmp|old-/.test(p)), `no temporaries: ${written}`);
      const events = written.filter((p) => p.includes("/runs/") && p.includes("tfevents"));
      assert.equal(events.length, 1, `one event file: ${written}`);
      const { scalars } = readEventFile(await memory.readFile(events[0]));
      assert.deepEqual(scalars.filter((s) => s.tag === "train/loss").map((s) => s.step), [1, 2, 3]);

      const resumed = await tinyTrainer("run", [], { resumeFromCheckpoint: true });
      await resumed.train();
      await resumed.saveModel();
      resumed.close();
      assert.equal(resumed.state.global_step, 6);
      const a = await memory.readFile("full/model.safetensors");
      const b = await memory.readFile("run/model.safetensors");
      assert.ok(
        a.length === b.length && a.every((v, i) => v === b[i]),
        "weights are bit-identical",
      );
    } finally {
      useFileSystem(null);
    }
  },
);

Deno.test(
  "callbacks may ask for a save or an evaluation that the " +
    "strategies would not make",
  async () => {
    const fs = MemoryFileSystem.fromFiles(memory.filesUnder("data"));
    useFileSystem(fs);
    try {
      let evaluations = 0;
      const trainer = await tinyTrainer("forced", [{
        onStepEnd(_args, state, control) {
          control.shouldSave = state.global_step === 1;
          control.shouldEvaluate = state.global_step === 1;
        },
        onEvaluate: () => void evaluations++,
      }], { maxSteps: 2, saveStrategy: "no", evalStrategy: "no", reportTo: "none" });
      await trainer.train();
      trainer.close();
      assert.equal(evaluations, 1);
      assert.deepEqual((await fs.readDir("forced")).map((e) => e.name), ["checkpoint-1"]);
    } finally {
      useFileSystem(null);
    }
  },
);
