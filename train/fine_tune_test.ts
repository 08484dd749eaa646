import assert from "node:assert/strict";
import { loadImageFolder } from "../data/image_folder.ts";
import { useFileSystem } from "../io/files.ts";
import { init } from "../tensor/runtime.ts";
import { ArgumentError, makeTrainingArguments, type TrainingArguments } from "./args.ts";
import { fineTune } from "./fine_tune.ts";
import { classNames } from "./model_folder.ts";
import { memoryWithStripes } from "./_test_util.ts";

await init();

function args(outputDir: string, extra: Partial<TrainingArguments> = {}): TrainingArguments {
  return makeTrainingArguments({
    outputDir,
    perDeviceTrainBatchSize: 4,
    learningRate: 1e-3,
    maxSteps: 6,
    evalStrategy: "steps",
    evalSteps: 3,
    saveSteps: 3,
    loggingSteps: 1,
    reportTo: "none",
    dataloaderNumWorkers: 0,
    ...extra,
  });
}

const decode = (bytes: Uint8Array) => JSON.parse(new TextDecoder().decode(bytes));

Deno.test(
  "fineTune() trains a model folder with a new head and leaves " +
    "Transformers' files",
  async () => {
    // The saved model's classes differ from the data's: its head is replaced.
    const fs = await memoryWithStripes({ "0": "a", "1": "b", "2": "c" });
    try {
      const ds = await loadImageFolder("data");
      const lines: string[] = [];
      const result = await fineTune({
        model: "model",
        args: args("run"),
        trainDataset: ds.train,
        evalDataset: ds.validation,
        log: (line) => lines.push(line),
      });
      assert.equal(result.stopped, false);
      assert.equal(result.state.global_step, 6);
      assert.deepEqual(classNames(result.model), ["horizontal", "vertical"]);
      assert.ok(lines.some((l) => /^model: model \(0\.\d\dM parameters\)$/.test(l)), lines[0]);
      assert.ok(
        lines.includes("***** train metrics *****") && lines.includes("***** eval metrics *****"),
      );
      const top = fs.filesUnder("run").map((f) => f.path.slice(4)).filter((p) => !p.includes("/"));
      for (
        const name of [
          "config.json",
          "model.safetensors",
          "preprocessor_config.json",
          "training_args.json",
          "train_results.json",
          "eval_results.json",
          "all_results.json",
          "trainer_state.json",
          "training_curves.png",
          "eval_curves.png",
          "confusion_matrix.png",
        ]
      ) assert.ok(top.includes(name), `${name} in ${top}`);
      assert.deepEqual(result.plots.sort(), [
        "confusion_matrix.png",
        "eval_curves.png",
        "training_curves.png",
      ]);
      const evalResults = decode(await fs.readFile("run/eval_results.json"));
      assert.equal(evalResults.eval_accuracy, result.evalMetrics!.eval_accuracy);
      const matrix = result.confusionMatrix!;
      assert.equal(matrix.flat().reduce((a, b) => a + b, 0), ds.validation.length);
      const trainingArgs = decode(await fs.readFile("run/training_args.json"));
      assert.equal(trainingArgs.eval_strategy, "steps");
      assert.equal(trainingArgs.per_device_train_batch_size, 4);
      assert.ok(!("evalStrategy" in trainingArgs));
      assert.deepEqual(fs.filesUnder("run/checkpoint-6").length > 0, true);
      result.model.dispose();
    } finally {
      useFileSystem(null);
    }
  },
);

Deno.test(
  "fineTune() refuses an output folder with checkpoints unless " +
    "told to resume or overwrite",
  async () => {
    const fs = await memoryWithStripes();
    try {
      const ds = await loadImageFolder("data");
      await fs.writeFile("run/checkpoint-3/trainer_state.json", new TextEncoder().encode("{}"));
      await assert.rejects(
        fineTune({
          model: "model",
          args: args("run"),
          trainDataset: ds.train,
          evalDataset: ds.validation,
        }),
        (e) =>
          e instanceof ArgumentError &&
          /^run already has checkpoints \(checkpoint-3\)/.test(e.message),
      );
      await assert.rejects(
        fineTune({ model: "model", args: args("out"), trainDataset: ds.train }),
        (e) =>
          e instanceof ArgumentError &&
          /eval-strategy steps needs an evaluation dataset/.test(e.message),
      );
    } finally {
      useFileSystem(null);
    }
  },
);

Deno.test(
  "fineTune() stops on its signal with a checkpoint, and " +
    "resumes the same model to an uninterrupted run's weights",
  async () => {
    const fs = await memoryWithStripes();
    try {
      const ds = await loadImageFolder("data");
      const common = { trainDataset: ds.train, evalDataset: ds.validation, log: () => {} };
      const full = await fineTune({ ...common, model: "model", args: args("full"), plots: false });
      full.model.dispose();

      const stop = new AbortController();
      const first = await fineTune({
        ...common,
        model: "model",
        args: args("run"),
        signal: stop.signal,
        callbacks: [{ onStepEnd: (_a, state) => void (state.global_step === 4 && stop.abort()) }],
      });
      assert.equal(first.stopped, true);
      assert.equal(first.state.global_step, 4);
      assert.equal(first.evalMetrics, null);
      assert.ok(fs.filesUnder("run/checkpoint-4").length > 0, "the stop saved a checkpoint");
      assert.equal(fs.filesUnder("run").some((f) => f.path === "run/model.safetensors"), false);

      const resumed = await fineTune({
        ...common,
        model: first,
        args: args("run", { resumeFromCheckpoint: true }),
        plots: false,
      });
      assert.equal(resumed.stopped, false);
      assert.equal(resumed.state.global_step, 6);
      const a = await fs.readFile("full/model.safetensors");
      const b = await fs.readFile("run/model.safetensors");
      assert.ok(a.length === b.length && a.every((v, i) => v === b[i]), "bit-identical weights");
      resumed.model.dispose();
    } finally {
      useFileSystem(null);
    }
  },
);
